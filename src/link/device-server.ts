/**
 * Serve any Device over the link: the handler that turns requests into Device calls
 * (the firmware simulator serves the WASM emulator with it; tests serve fakes).
 *
 * Parameters and states arrive in frame-sized pieces; the pieces are staged here and
 * handed to the Device in one writeParams / writeState call before the next request
 * of any other kind, so a Device never sees half a tensor. The service applies the
 * Device contract itself (src/device/contract.ts: the request checks and the
 * pending-chunk rule), before the Device sees the request, so even a lax Device
 * answers on the wire as the contract says, and a refused request leaves the device
 * state unchanged, as the protocol promises. Refusals keep their code on the wire.
 *
 * A Device's eligibility traces (readState().eligibility, with a learner trace) are the
 * tensors TRACE_W, TRACE_R, TRACE_BIAS: int32 codes of the trace formats (device/config.ts
 * traceCodeFormats), staged and handed over with the states.
 */

import { PendingChunk, checkRun } from '../device/contract.js';
import type { ChipFormats, Device, DeviceConfig, Params, RecurrentState } from '../device/types.js';
import { copyParams, copyState } from '../device/types.js';
import { ConfigError } from '../format/fixed.js';
import { DEFAULT_MAX_FRAME_BYTES } from './frame.js';
import { ROUNDING_CONVERTER, configFromWire, configToWire, hasTraces, tensorShape, type CodeConverter, type TraceTensorName } from './codes.js';
import { traceCodeFormats, type TraceCodeFormats } from '../device/config.js';
import * as pb from './messages.js';
import { RpcError, RpcServer, type Handler, type ServerOptions } from './server.js';

export interface DeviceServerOptions extends ServerOptions {
  firmwareName?: string;
  firmwareVersion?: string;
  deviceId?: string;
  bootCounter?: number;
  ramBytes?: number;
  noiseSource?: pb.NoiseSource;
  /** Format bit range the device accepts. Default 2..16. */
  minBits?: number;
  maxBits?: number;
  /**
   * Codes <-> Device values. Default ROUNDING_CONVERTER (any Device); serve a
   * bit-exact device with EXACT_CONVERTER to turn an off-grid value into an INTERNAL
   * error instead of a silent rounding.
   */
  converter?: CodeConverter;
  /** Announce and take Request.preload / Run.preloaded (default true; false: a device without it). */
  preload?: boolean;
  /** Announce Limits.bias and take Topology.bias (default true: every Device of this repository holds biases); false for a served Device without them (then refused). */
  bias?: boolean;
  /**
   * Announce Limits.traces and take Configure.learner with a trace and the trace tensors
   * (default true: every Device of this repository keeps eligibility traces); false for
   * a served Device without them (then a learner with a trace is refused).
   */
  traces?: boolean;
}

/** Whether a tensor name (codes.ts tensorShape) is a parameter (else a state or a trace). */
function isParam(name: string): name is 'w' | 'r' | 'v' | 'b' | 'c' {
  return name === 'w' || name === 'r' || name === 'v' || name === 'b' || name === 'c';
}

/** The array of state tensor `name` (clean, noisy or a trace: zeros if the Device gave none) in `s`. */
function stateArray(s: RecurrentState, name: string, t: DeviceConfig['topology']): Float64Array {
  if (name === 'clean' || name === 'noisy') return s[name];
  const key = (name as TraceTensorName).slice('eligibility.'.length) as 'w' | 'r' | 'b';
  const e = (s.eligibility ??= { w: new Float64Array(t.hidden * t.inputs), r: new Float64Array(t.hidden * t.hidden) });
  return (e[key] ??= new Float64Array(t.hidden));
}

/** Handler state for one Device: configuration, staged writes, the chunk awaiting its reward. */
export class DeviceService {
  private config: (DeviceConfig & { formats: ChipFormats }) | undefined;
  /** The trace tensors' code formats of the configuration (undefined: no learner trace). */
  private traces: TraceCodeFormats | undefined;
  private stagedParams: Params | undefined;
  private stagedState: RecurrentState | undefined;
  private readonly pending = new PendingChunk();
  /** Step sizes of the last Reward applied since Configure (Reward.same_rates reuses them). */
  private lastRates: { w: number; r: number; v: number } | undefined;
  private replyLimit: number;
  /** The last tensor read, while only ReadParams requests follow. */
  private readCache?: { tensor: pb.Tensor; all: Float64Array };
  private readonly conv: CodeConverter;
  /** Request.preload: the Run staged for the next Run with `preloaded`, and the session that staged it. */
  private preloaded: { run: pb.Run; session: number } | undefined;

  constructor(
    readonly device: Device,
    private readonly opts: DeviceServerOptions = {},
  ) {
    this.replyLimit = opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.conv = opts.converter ?? ROUNDING_CONVERTER;
  }

  /** The Handler for an RpcServer. */
  readonly handle: Handler = async (body, ctx): Promise<pb.ResponseBody> => {
    this.replyLimit = ctx.replyLimit;
    if (body.case !== 'readParams') this.readCache = undefined;
    // Staged pieces go to the Device before any request that could observe them;
    // Configure discards them.
    if (body.case !== 'writeParams' && body.case !== 'hello' && body.case !== 'configure' && body.case !== 'readConfig') await this.flush();
    switch (body.case) {
      case 'hello':
        return { case: 'hello', value: await this.hello() };
      case 'configure':
        await this.configure(body.value);
        return { case: 'configure', value: {} };
      case 'writeParams':
        await this.write(body.value);
        return { case: 'writeParams', value: {} };
      case 'readParams':
        return { case: 'readParams', value: await this.read(body.value) };
      case 'run':
        return { case: 'run', value: await this.run(body.value, ctx.session) };
      case 'preload':
        this.preload(body.value, ctx.session);
        return { case: 'preload', value: {} };
      case 'reward':
        await this.reward(body.value);
        return { case: 'reward', value: {} };
      case 'resetState':
        this.configured('reset_state');
        await this.device.resetState();
        return { case: 'resetState', value: {} };
      case 'readConfig':
        return { case: 'readConfig', value: { config: configToWire(this.configured('read_config')) } };
      case 'stats': {
        const s = await this.device.stats();
        return { case: 'stats', value: { steps: s.steps, updates: s.updates, runCalls: s.runCalls, rewardCalls: s.rewardCalls } };
      }
    }
  };

  private async hello(): Promise<pb.HelloReply> {
    const info = await this.device.info();
    const o = this.opts;
    return {
      protocolVersion: pb.PROTOCOL_VERSION,
      firmwareName: o.firmwareName ?? `anpt-${info.kind}`,
      firmwareVersion: o.firmwareVersion ?? '0.1.0',
      deviceId: o.deviceId ?? info.name.slice(0, 32),
      bootCounter: o.bootCounter ?? 1,
      sessionId: 0, // filled in by the server, which holds the sessions
      sessionLeaseMs: 0,
      limits: {
        maxInputs: info.maxInputs,
        maxHidden: info.maxHidden,
        maxOutputs: info.maxOutputs,
        maxBatch: info.maxBatch,
        maxChunkSteps: info.maxChunkSteps,
        minBits: o.minBits ?? 2,
        maxBits: o.maxBits ?? 16,
        roundingModes: [pb.Rounding.NEAREST, pb.Rounding.FLOOR, pb.Rounding.STOCHASTIC],
        overflowModes: [pb.Overflow.SAT, pb.Overflow.WRAP],
        activations: [pb.Activation.TANH, pb.Activation.HARDTANH, pb.Activation.LINEAR],
        ramBytes: o.ramBytes ?? 0,
        maxFrameBytes: 0, // filled in by the server
        plasticityOnDevice: true,
        noiseSource: o.noiseSource ?? pb.NoiseSource.COUNTER_PRNG,
        minFrameBytes: 0, // filled in by the server
        maxInFlight: 0, // filled in by the server (its replay cache)
        preload: o.preload !== false, // the server keeps it only with max_in_flight >= 2
        bias: o.bias !== false,
        traces: o.traces !== false,
      },
    };
  }

  private configured(what: string): DeviceConfig & { formats: ChipFormats } {
    if (!this.config) throw new RpcError(pb.ErrorCode.NOT_CONFIGURED, `${what} before configure; send Configure first`, what);
    return this.config;
  }

  private async configure(msg: pb.Configure): Promise<void> {
    this.lastRates = undefined;
    const cfg = configFromWire(msg);
    if (cfg.topology.bias && this.opts.bias === false)
      throw new ConfigError('configure.topology.bias', 'true, but this device has no biases (Limits.bias is false); configure bias false');
    if (hasTraces(cfg) && this.opts.traces === false)
      throw new ConfigError('configure.learner.trace', `${cfg.learner!.trace}, but this device has no eligibility traces (Limits.traces is false); configure TRACE_NONE`);
    const fit = pb.maxChunkStepsForFrame(this.replyLimit, cfg.topology, cfg.formats, false);
    if (cfg.maxChunkSteps > fit) {
      throw new RpcError(
        pb.ErrorCode.TOO_LARGE,
        `max_chunk_steps ${cfg.maxChunkSteps} does not fit a ${this.replyLimit}-byte frame for this topology; at most ${fit}`,
        'configure.max_chunk_steps',
      );
    }
    // A Device checks the whole configuration before it changes anything, so a refused
    // Configure leaves the board as it was: its configuration, staged pieces, weights,
    // states and pending chunk (protocol: an answered error changes nothing).
    await this.device.configure(cfg);
    this.config = cfg;
    this.traces = traceCodeFormats(cfg);
    this.stagedParams = undefined;
    this.stagedState = undefined;
    this.preloaded = undefined;
    this.pending.clear();
  }

  private shape(tensor: pb.Tensor, field: string) {
    const cfg = this.configured(field.split('.')[0]);
    const s = tensorShape(tensor, cfg.topology, cfg.formats, this.traces);
    if (!s) {
      const is = 'is not W, R, V, STATE_CLEAN, STATE_NOISY (or, configured with biases, BIAS_HIDDEN, BIAS_OUTPUT; with a learner trace, TRACE_W, TRACE_R; with both, TRACE_BIAS)';
      throw new RpcError(pb.ErrorCode.BAD_REQUEST, `tensor ${tensor} ${is}`, `${field}.tensor`);
    }
    return s;
  }

  private async write(m: pb.WriteParams): Promise<void> {
    const s = this.shape(m.tensor, 'write_params');
    if (m.offset + m.codes.length > s.length) {
      throw new RpcError(pb.ErrorCode.BAD_REQUEST, `codes [${m.offset}, ${m.offset + m.codes.length}) exceed tensor ${s.name} of ${s.length}`, 'write_params.offset');
    }
    const values = this.conv.toValues(m.codes, s.format);
    if (isParam(s.name)) {
      this.stagedParams ??= copyParams(await this.device.readParams());
      this.stagedParams[s.name]!.set(values, m.offset);
    } else {
      this.stagedState ??= copyState(await this.device.readState());
      stateArray(this.stagedState, s.name, this.config!.topology).set(values, m.offset);
    }
  }

  /** Hand staged writes to the Device. */
  private async flush(): Promise<void> {
    if (this.stagedParams) {
      const p = this.stagedParams;
      this.stagedParams = undefined;
      await this.device.writeParams(p);
    }
    if (this.stagedState) {
      const st = this.stagedState;
      this.stagedState = undefined;
      await this.device.writeState(st);
    }
  }

  private async read(m: pb.ReadParams): Promise<pb.ReadParamsReply> {
    const s = this.shape(m.tensor, 'read_params');
    if (m.offset > s.length) throw new RpcError(pb.ErrorCode.BAD_REQUEST, `offset ${m.offset} is past tensor ${s.name} of ${s.length}`, 'read_params.offset');
    const n = Math.min(m.count, s.length - m.offset, pb.maxCodesPerFrame(this.replyLimit, s.format));
    // A tensor read in pieces is read from the device once: any other request clears the cache.
    if (this.readCache?.tensor !== m.tensor) {
      const all = isParam(s.name)
        ? (await this.device.readParams())[s.name]!
        : stateArray(await this.device.readState(), s.name, this.config!.topology);
      this.readCache = { tensor: m.tensor, all };
    }
    const all = this.readCache.all;
    const codes = this.conv.toCodes(all.subarray(m.offset, m.offset + n), s.format, `read_params.${s.name}`);
    return { tensor: m.tensor, offset: m.offset, total: s.length, codes };
  }

  /** A Run's checks, in the contract's order; its inputs as Device values. */
  private checkedRun(m: pb.Run) {
    const cfg = this.configured('run');
    const { topology: t, formats: f } = cfg;
    const req = { steps: m.steps, t0: m.t0, inputs: this.conv.toValues(m.inputs, f.input), noisy: m.noisy, hiddenTrace: m.hiddenTrace };
    checkRun(req, cfg); // a preload is refused as its Run would be (same codes, fields run.*)
    const replyBytes = pb.runReplyBytes(m.steps, t, f, m.hiddenTrace);
    if (replyBytes > this.replyLimit) {
      throw new RpcError(pb.ErrorCode.TOO_LARGE, `reply could need ${replyBytes} bytes, frame limit ${this.replyLimit}; run fewer steps with hidden_trace`, 'run.hidden_trace');
    }
    return req;
  }

  /** Request.preload: check it as a Run, keep it for the next Run with `preloaded`; nothing runs, the pending chunk stays. */
  private preload(m: pb.Run, session: number): void {
    if (this.opts.preload === false) throw new RpcError(pb.ErrorCode.BAD_REQUEST, 'this device does not take preload (Limits.preload is false); send the inputs in the Run', 'preload');
    if (m.preloaded) throw new RpcError(pb.ErrorCode.BAD_REQUEST, 'a preload cannot itself be preloaded; send its inputs', 'preload.preloaded');
    this.checkedRun(m);
    this.preloaded = { run: { ...m, inputs: Int32Array.from(m.inputs) }, session };
  }

  /** Run.preloaded: the staged Run, if this session staged one with the same steps, t0, noisy and hidden_trace. */
  private staged(m: pb.Run, session: number): pb.Run {
    const p = this.preloaded;
    if (this.opts.preload === false) throw new RpcError(pb.ErrorCode.BAD_REQUEST, 'this device does not take preload (Limits.preload is false); send the inputs in the Run', 'run.preloaded');
    if (!p || p.session !== session) throw new RpcError(pb.ErrorCode.BAD_REQUEST, 'no preloaded run in this session; send the inputs in the Run', 'run.preloaded');
    const r = p.run;
    if (m.inputs.length > 0 || r.steps !== m.steps || r.t0 !== m.t0 || r.noisy !== m.noisy || r.hiddenTrace !== m.hiddenTrace)
      throw new RpcError(pb.ErrorCode.BAD_REQUEST, `the preloaded run is ${r.steps} steps at t0 ${r.t0}, noisy ${r.noisy}; this one differs: send its inputs`, 'run.preloaded');
    return r;
  }

  private async run(msg: pb.Run, session: number): Promise<pb.RunReply> {
    const m = msg.preloaded ? this.staged(msg, session) : msg;
    const { formats: f } = this.configured('run');
    const req = this.checkedRun(m);
    const res = await this.device.run(req);
    this.pending.ran(req);
    if (msg.preloaded) this.preloaded = undefined; // used once
    return {
      t0: m.t0,
      steps: m.steps,
      clean: this.conv.toCodes(res.clean, f.output, 'run.clean'),
      noisy: this.conv.toCodes(res.noisy, f.output, 'run.noisy'),
      hidden: res.hidden ? this.conv.toCodes(res.hidden, f.activity, 'run.hidden') : new Int32Array(0),
    };
  }

  private async reward(m: pb.Reward): Promise<void> {
    this.configured('reward');
    if (m.sameRates && !this.lastRates) throw new RpcError(pb.ErrorCode.BAD_REQUEST, 'no Reward since Configure whose step sizes could be reused; send lr_w, lr_r, lr_v', 'reward.same_rates');
    const lr = m.sameRates ? this.lastRates! : { w: m.lrW, r: m.lrR, v: m.lrV };
    // delta_loss_f32 (explicit, lossy) in place of delta_loss: both at once is as wrong a length as any
    const f32 = m.deltaLossF32 ?? [];
    const deltaLoss = f32.length === 0 ? m.deltaLoss : m.deltaLoss.length === 0 ? Float64Array.from(f32) : new Float64Array(m.deltaLoss.length + f32.length);
    const req = { t0: m.t0, deltaLoss, lr };
    this.pending.check(req);
    await this.device.reward(req);
    this.pending.rewarded();
    this.lastRates = { ...lr };
  }
}


/** An RpcServer answering requests with `device`. Serve a transport with `server.serve(t)`. */
export function createDeviceServer(device: Device, opts: DeviceServerOptions = {}): { server: RpcServer; service: DeviceService } {
  const service = new DeviceService(device, opts);
  const server = new RpcServer(service.handle, opts);
  return { server, service };
}

/**
 * A Device on the far side of a link (serial port or TCP): the host end of the
 * hardware-in-the-loop bridge. The trainer uses it like the in-process emulator.
 *
 * - open() sends Hello at once (an active handshake) and fails with a message that
 *   says what to check if no anpt device answers;
 * - values are sent as codes of the configured formats (toQ: round to nearest, then
 *   saturate or wrap) and come back exact, so results match the emulator bit for bit;
 * - parameters and states travel in frame-sized pieces; a run is one request;
 * - calls are serialised (one in flight), which is what lets the device keep a
 *   one-entry replay cache and still answer every retry.
 */

import type {
  ChipFormats,
  Device,
  DeviceConfig,
  DeviceInfo,
  DeviceStats,
  Params,
  RecurrentState,
  RewardRequest,
  RunRequest,
  RunResult,
} from '../device/types.js';
import { ConfigError } from '../format/fixed.js';
import { codesToValues, configToWire, tensorShape, valuesToCodes } from './codes.js';
import * as pb from './messages.js';
import { RpcClient, errorName, type CallResult, type RpcOptions } from './rpc.js';
import { LinkError, openTransport, type ByteTransport } from './transport.js';

export interface SerialDeviceOptions extends RpcOptions {
  /** Reported by info(). Default from the URL scheme, else 'serial'. */
  kind?: 'serial' | 'tcp';
  /** Wait for the Hello reply, ms. Default 2000. */
  helloTimeoutMs?: number;
  /** Sent in Hello for the device's logs. */
  hostName?: string;
  /** TCP connect timeout, ms. */
  connectTimeoutMs?: number;
}

export class SerialDevice implements Device {
  private config: (DeviceConfig & { formats: ChipFormats }) | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  /** Frame limit both ends accept, bytes. */
  readonly frameLimit: number;

  private constructor(
    readonly rpc: RpcClient,
    readonly hello: pb.HelloReply,
    private readonly kind: 'serial' | 'tcp',
  ) {
    const deviceLimit = hello.limits?.maxFrameBytes || rpc.maxFrameBytes;
    this.frameLimit = Math.min(rpc.maxFrameBytes, deviceLimit);
  }

  /** Open a link URL (tcp://..., serial://...) and handshake. Throws LinkError. */
  static async open(url: string, opts: SerialDeviceOptions = {}): Promise<SerialDevice> {
    const transport = await openTransport(url, { connectTimeoutMs: opts.connectTimeoutMs });
    const kind = opts.kind ?? (url.trim().toLowerCase().startsWith('tcp:') ? 'tcp' : 'serial');
    return SerialDevice.connect(transport, { ...opts, kind });
  }

  /** Handshake over an open transport. Throws LinkError (and closes the transport) on failure. */
  static async connect(transport: ByteTransport, opts: SerialDeviceOptions = {}): Promise<SerialDevice> {
    const rpc = new RpcClient(transport, opts);
    const helloTimeoutMs = opts.helloTimeoutMs ?? 2000;
    const res = await rpc.call(
      'hello',
      { protocolVersion: pb.PROTOCOL_VERSION, maxFrameBytes: rpc.maxFrameBytes, hostName: opts.hostName ?? 'anpt-host' },
      { timeoutMs: helloTimeoutMs, retries: opts.retries ?? 2 },
    );
    if (res.status !== 'OK') {
      await rpc.close().catch(() => undefined);
      if (res.status === 'DEADLINE_EXCEEDED') {
        const baud = transport.bytesPerSecond ? ` at ${transport.bytesPerSecond * 10} baud` : '';
        throw new LinkError(
          res.status,
          `${transport.name}: no reply to Hello within ${helloTimeoutMs} ms${baud}; check the baud rate and that the board runs anpt firmware`,
        );
      }
      if (res.status === 'DEVICE_ERROR' && res.error.code === pb.ErrorCode.UNSUPPORTED_VERSION) {
        throw new LinkError('UNSUPPORTED_VERSION', `${transport.name}: ${res.error.message}; use a host and firmware of the same protocol version`);
      }
      throw new LinkError(res.status, res.detail);
    }
    return new SerialDevice(rpc, res.value, opts.kind ?? 'serial');
  }

  /** One call, in order after the previous ones. */
  private serial<T>(f: () => Promise<T>): Promise<T> {
    const run = this.queue.then(f);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Unwrap a call result or throw: CONFIG_OUT_OF_RANGE as ConfigError, the rest as LinkError. */
  private unwrap<T>(r: CallResult<T>): T {
    if (r.status === 'OK') return r.value;
    if (r.status === 'DEVICE_ERROR') {
      const e = r.error;
      if (e.code === pb.ErrorCode.CONFIG_OUT_OF_RANGE) throw new ConfigError(e.field || 'config', e.message);
      if (e.code === pb.ErrorCode.NOT_CONFIGURED && this.config) {
        throw new LinkError('NOT_CONFIGURED', `${this.rpc.name}: the device lost its configuration (rebooted?); configure it again and rewrite the parameters`);
      }
      throw new LinkError(errorName(e.code), r.detail);
    }
    throw new LinkError(r.status, r.detail);
  }

  private async call<C extends pb.CallCase>(c: C, value: pb.Calls[C][0]): Promise<pb.Calls[C][1]> {
    return this.unwrap(await this.rpc.call(c, value));
  }

  private formats(what: string): DeviceConfig & { formats: ChipFormats } {
    if (!this.config) throw new LinkError('NOT_CONFIGURED', `${what} before configure(); configure the device first`);
    return this.config;
  }

  async info(): Promise<DeviceInfo> {
    const h = this.hello;
    const l = h.limits;
    return {
      kind: this.kind,
      name: `${h.firmwareName} ${h.firmwareVersion} (${h.deviceId}) at ${this.rpc.name}`,
      fixedPoint: true,
      maxInputs: l?.maxInputs ?? 0,
      maxHidden: l?.maxHidden ?? 0,
      maxOutputs: l?.maxOutputs ?? 0,
      maxBatch: l?.maxBatch ?? 0,
      maxChunkSteps: l?.maxChunkSteps ?? 0,
    };
  }

  configure(config: DeviceConfig): Promise<void> {
    return this.serial(async () => {
      const wire = configToWire(config); // requires formats
      const formats = config.formats as ChipFormats;
      const fit = pb.maxChunkStepsForFrame(this.frameLimit, config.topology, formats, false);
      if (config.maxChunkSteps > fit) {
        throw new ConfigError(
          'maxChunkSteps',
          `${config.maxChunkSteps} steps of batch ${config.topology.batch} do not fit one ${this.frameLimit}-byte frame of ${this.rpc.name}; use maxChunkSteps <= ${fit}`,
        );
      }
      this.config = undefined;
      await this.call('configure', wire);
      this.config = { ...config, formats };
    });
  }

  private async writeTensor(tensor: pb.Tensor, values: Float64Array, field: string): Promise<void> {
    const cfg = this.formats(`write ${field}`);
    const s = tensorShape(tensor, cfg.topology, cfg.formats)!;
    if (values.length !== s.length) throw new ConfigError(field, `has ${values.length} values, expected ${s.length} for this topology`);
    const codes = valuesToCodes(values, s.format, field);
    const per = pb.maxCodesPerFrame(this.frameLimit, s.format);
    for (let offset = 0; offset < codes.length; offset += per) {
      await this.call('writeParams', { tensor, offset, codes: codes.subarray(offset, offset + per) });
    }
  }

  private async readTensor(tensor: pb.Tensor, field: string): Promise<Float64Array> {
    const cfg = this.formats(`read ${field}`);
    const s = tensorShape(tensor, cfg.topology, cfg.formats)!;
    const out = new Float64Array(s.length);
    const per = pb.maxCodesPerFrame(this.frameLimit, s.format);
    let offset = 0;
    while (offset < s.length) {
      const r = await this.call('readParams', { tensor, offset, count: Math.min(per, s.length - offset) });
      if (r.total !== s.length || r.offset !== offset || r.codes.length === 0 || offset + r.codes.length > s.length) {
        throw new LinkError('DATA_LOSS', `${this.rpc.name}: read of ${field} at ${offset} returned ${r.codes.length} of ${r.total} codes at ${r.offset}; expected a tensor of ${s.length}`);
      }
      out.set(codesToValues(r.codes, s.format), offset);
      offset += r.codes.length;
    }
    return out;
  }

  writeParams(params: Params): Promise<void> {
    return this.serial(async () => {
      await this.writeTensor(pb.Tensor.W, params.w, 'params.w');
      await this.writeTensor(pb.Tensor.R, params.r, 'params.r');
      await this.writeTensor(pb.Tensor.V, params.v, 'params.v');
    });
  }

  readParams(): Promise<Params> {
    return this.serial(async () => ({
      w: await this.readTensor(pb.Tensor.W, 'params.w'),
      r: await this.readTensor(pb.Tensor.R, 'params.r'),
      v: await this.readTensor(pb.Tensor.V, 'params.v'),
    }));
  }

  readState(): Promise<RecurrentState> {
    return this.serial(async () => ({
      clean: await this.readTensor(pb.Tensor.STATE_CLEAN, 'state.clean'),
      noisy: await this.readTensor(pb.Tensor.STATE_NOISY, 'state.noisy'),
    }));
  }

  writeState(state: RecurrentState): Promise<void> {
    return this.serial(async () => {
      await this.writeTensor(pb.Tensor.STATE_CLEAN, state.clean, 'state.clean');
      await this.writeTensor(pb.Tensor.STATE_NOISY, state.noisy, 'state.noisy');
    });
  }

  run(req: RunRequest): Promise<RunResult> {
    return this.serial(async () => {
      const { topology: t, formats: f } = this.formats('run');
      const want = req.steps * t.batch * t.inputs;
      if (req.inputs.length !== want) throw new ConfigError('inputs', `has ${req.inputs.length} values, expected steps*batch*inputs = ${want}`);
      const r = await this.call('run', {
        steps: req.steps,
        t0: req.t0 >>> 0,
        inputs: valuesToCodes(req.inputs, f.input, 'inputs'),
        noisy: req.noisy,
        hiddenTrace: req.hiddenTrace ?? false,
      });
      const out: RunResult = { clean: codesToValues(r.clean, f.output), noisy: codesToValues(r.noisy, f.output) };
      if (req.hiddenTrace) out.hidden = codesToValues(r.hidden, f.activity);
      return out;
    });
  }

  reward(req: RewardRequest): Promise<void> {
    return this.serial(async () => {
      await this.call('reward', { t0: req.t0 >>> 0, deltaLoss: req.deltaLoss, lrW: req.lr.w, lrR: req.lr.r, lrV: req.lr.v });
    });
  }

  resetState(): Promise<void> {
    return this.serial(async () => {
      await this.call('resetState', {});
    });
  }

  stats(): Promise<DeviceStats> {
    return this.serial(async () => {
      const s = await this.call('stats', {});
      const link: Record<string, number> = { ...this.rpc.stats() };
      if (s.link) for (const [k, v] of Object.entries(s.link)) link[`device.${k}`] = v;
      return { steps: s.steps, updates: s.updates, runCalls: s.runCalls, rewardCalls: s.rewardCalls, link };
    });
  }

  close(): Promise<void> {
    return this.serial(() => this.rpc.close());
  }
}

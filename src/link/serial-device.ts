/**
 * A Device on the far side of a link (serial port or TCP): the host end of the
 * hardware-in-the-loop bridge. The trainer uses it like the in-process emulator.
 *
 * - open() sends Hello at once (an active handshake) and fails with a message that
 *   says what to check if no anpt device answers;
 * - values are sent as codes of the configured formats, quantised as the emulator
 *   quantises what it is given (round to nearest even, saturate: codes.ts deviceCodes)
 *   and come back exact, so results match the emulator bit for bit;
 * - the limits the device announced are checked before a Configure is sent;
 * - parameters and states travel in frame-sized pieces; a run is one request;
 * - calls are serialised; on a device that announces max_in_flight >= 2 they are
 *   pipelined (docs/protocol.md section 3, Pipelining): reward() checks the request
 *   against the contract here (the pending chunk is known to this host), resolves at
 *   once and sends the Reward back to back with the next call (Reward(k), Run(k+1));
 *   a clean run goes out as a window of pieces in flight. Request.after_back keeps the
 *   order exact: a lost request makes those after it refused, never applied. A failure
 *   of a deferred Reward is thrown by the call it was sent with (before that call was
 *   applied);
 * - handshake() says Hello again: a changed session id or boot counter means the device
 *   rebooted and lost its configuration (resilient-device.ts recovers from that);
 * - sessions (protocol 2): Hello opens this host's session (BUSY if another host holds
 *   the board, unless `takeOver`); every request carries its id. A NO_SESSION refusal
 *   (the lease ran out, or the board rebooted) makes it say Hello again: with the same
 *   boot counter the call is made again (a refused call changed nothing), after a
 *   reboot it fails NO_SESSION, since the configuration is gone.
 */

import type { Topology,
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
import { validateConfig } from '../device/config.js';
import { PendingChunk, checkParams, checkRewardT0, checkRun, checkState } from '../device/contract.js';
import { ConfigError, codeRange, formatName, type FixedFormat } from '../format/fixed.js';
import { codesToValues, configFromWire, configToWire, deviceCodes, hasTraces, tensorShape } from './codes.js';
import { traceCodeFormats } from '../device/config.js';
import { configFieldFromWire } from './field-names.js';
import * as pb from './messages.js';
import { RpcClient, type BatchItem, type CallResult, type RpcOptions } from './rpc.js';
import { openTransport } from './open-transport.js';
import { LinkError, type ByteTransport } from './transport.js';

export interface SerialDeviceOptions extends RpcOptions {
  /** Reported by info(). Default from the URL scheme, else 'serial'. */
  kind?: 'serial' | 'tcp';
  /** Wait for the Hello reply, ms. Default 2000. */
  helloTimeoutMs?: number;
  /** Sent in Hello for the device's logs. */
  hostName?: string;
  /** TCP connect timeout, ms. */
  connectTimeoutMs?: number;
  /**
   * Largest payload of one parameter or state piece, bytes (default: the frame limit).
   * On a noisy line a smaller piece is likelier to arrive intact: at 1 % corrupted
   * bytes a 16 KiB frame essentially never does, a 64-byte one half the time.
   */
  maxPieceBytes?: number;
  /**
   * Take the board from the host that holds it (Hello.take_over). Without it, opening
   * a board another host holds fails with a LinkError BUSY naming that host.
   */
  takeOver?: boolean;
  /** This host's Hello.host_nonce (never 0). Default one random value per process, so a reconnecting host resumes its own session. */
  hostNonce?: number;
  /** Pipeline calls when the device supports it (Limits.max_in_flight >= 2). Default true; false = one call in flight. */
  pipeline?: boolean;
  /** Send Reward.same_rates instead of step sizes the device already has (pipelining devices). Default true; the same bits either way. */
  compactRewards?: boolean;
  /**
   * runAhead(): send the next chunk's inputs ahead (Request.preload) when the device
   * announces Limits.preload, so they cross the line while this chunk's reply comes
   * back. Default true; the same bits either way (docs/protocol.md, Preloading).
   */
  preload?: boolean;
  /**
   * Send each reward dL rounded to float32 (Reward.delta_loss_f32: 4 bytes instead of 8).
   * Lossy, so off by default: the board then learns from other numbers than the
   * in-process emulator would (the same as an emulator given Math.fround(dL)). No
   * lossless encoding of real dL values is smaller than the 8-byte double (bench/link.ts).
   */
  rewardFloat32?: boolean;
}

/** Most pipelined requests whose replies carry data (clean run pieces) in flight at once. */
export const PIPELINE_WINDOW = 4;
/** A clean run is cut into a window of pieces only down to this many steps each. */
const MIN_WINDOW_PIECE_STEPS = 32;
/**
 * runAhead() preloads the next chunk only when its inputs are at least this many codes
 * (about 150 bytes of 16-bit codes): the Preload's own header and framing (~26 bytes)
 * and its Ack (14, waited for after the reply) eat most of what a shorter one takes
 * off the critical path, and they count against the wire limit.
 */
export const PRELOAD_MIN_CODES = 64;
/** A clean run's first calls on a new configuration are this long, then double while the line stays clean. */
const CLEAN_RUN_START_STEPS = 16;

/** Attempts answered damaged (RpcClient.damage) after which a parameter piece is sent again smaller. */
const SHRINK_AFTER_TROUBLES = 2;

/** Hello.host_nonce of this process (see SerialDeviceOptions.hostNonce). */
export const HOST_NONCE: number = 1 + Math.floor(Math.random() * (2 ** 32 - 1));


/** Did the device reboot between two HelloReplies (new session id or boot counter)? */
export function isNewSession(before: pb.HelloReply, after: pb.HelloReply): boolean {
  return before.sessionId !== after.sessionId || before.bootCounter !== after.bootCounter;
}

export class SerialDevice implements Device {
  private config: (DeviceConfig & { formats: ChipFormats }) | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private helloReply: pb.HelloReply;
  /** Frame limit both ends accept, bytes. */
  readonly frameLimit: number;
  /** Payload limit of one parameter or state piece, bytes (the most; pieces shrink on a damaged line). */
  private readonly pieceBytes: number;
  /** Adaptive piece size: halved when a piece came back damaged, doubled again after clean ones (a lost frame does not shrink it). */
  private readonly piece: AdaptiveSize;
  /** Adaptive steps per call of a clean run (its reply shrinks with it). */
  /** Steps per clean-run call: slow start from CLEAN_RUN_START_STEPS, then halved on damage. */
  private readonly cleanRun = new AdaptiveSize(1, 1, CLEAN_RUN_START_STEPS);
  /** Pipelining: the chunk awaiting its reward as this host made it (the device's rule, mirrored). */
  private readonly pendingChunk = new PendingChunk();
  /** Pipelining: a Reward accepted by reward() and not yet sent (it goes with the next call). */
  private deferred: pb.Reward | undefined;
  /** Step sizes of the last Reward applied since Configure (Reward.same_rates), if known. */
  private lastRates: { w: number; r: number; v: number } | undefined;
  /** Request.preload: the Run the device holds for the next Run with `preloaded`, as far as this host knows. */
  private staged: pb.Run | undefined;
  /** Runs answered that went as their header only (Run.preloaded): stats().link.preloadedRuns. */
  private preloadedRuns = 0;

  private constructor(
    readonly rpc: RpcClient,
    hello: pb.HelloReply,
    private readonly kind: 'serial' | 'tcp',
    private readonly opts: SerialDeviceOptions,
  ) {
    this.helloReply = hello;
    const deviceLimit = hello.limits?.maxFrameBytes || rpc.maxFrameBytes;
    this.frameLimit = Math.min(rpc.maxFrameBytes, deviceLimit);
    this.pieceBytes = Math.min(this.frameLimit, Math.max(64, opts.maxPieceBytes ?? this.frameLimit));
    this.piece = new AdaptiveSize(64, this.pieceBytes);
  }


  /** The most steps one run chunk may have on this link for a topology and formats (a Run and its reply fit one frame). */
  chunkLimit(topology: Topology, formats: ChipFormats, hiddenTrace = false): number {
    const deviceMax = this.helloReply.limits?.maxChunkSteps || Infinity;
    return Math.min(deviceMax, pb.maxChunkStepsForFrame(this.frameLimit, topology, formats, hiddenTrace));
  }

  /** Whether runAhead() preloads: a pipelining device that announced Limits.preload, and not turned off. */
  get preloads(): boolean {
    return this.window >= 2 && this.helloReply.limits?.preload === true && this.opts.preload !== false;
  }

  /** Requests in flight at once on this link: 1, or the device's max_in_flight when pipelining. */
  get window(): number {
    const w = this.helloReply.limits?.maxInFlight ?? 0;
    return this.opts.pipeline === false || w < 2 ? 1 : Math.min(w, PIPELINE_WINDOW);
  }

  /** This host's Hello.host_nonce on this link. */
  get hostNonce(): number {
    return (this.opts.hostNonce ?? HOST_NONCE) >>> 0 || 1;
  }

  /** The device's last HelloReply (identity, boot counter, session, limits). */
  get hello(): pb.HelloReply {
    return this.helloReply;
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
    try {
      return new SerialDevice(rpc, await sayHello(rpc, transport, opts), opts.kind ?? 'serial', opts);
    } catch (e) {
      await rpc.close().catch(() => undefined);
      throw e;
    }
  }

  /**
   * Say Hello again over the open link and return the reply. If the device rebooted
   * (isNewSession), it has lost its configuration: configure() must be called again
   * before anything else. Throws LinkError like open().
   */
  handshake(): Promise<pb.HelloReply> {
    return this.serial(() => this.rehello());
  }

  /** Hello again (inside a serial() call). A new boot counter forgets the configuration. */
  private async rehello(): Promise<pb.HelloReply> {
    const h = await sayHello(this.rpc, { name: this.rpc.name, bytesPerSecond: this.rpc.bytesPerSecond }, this.opts);
    if (h.bootCounter !== this.helloReply.bootCounter) this.forgetBoard();
    if (h.sessionId !== this.helloReply.sessionId) this.staged = undefined; // a preload belongs to the session that sent it
    this.helloReply = h;
    return h;
  }

  /**
   * Take `config` as the configuration the device already has (sent by an earlier host
   * session), without sending Configure: for reading or writing the parameters of a
   * configured board. A wrong guess shows up as a tensor of the wrong size.
   */
  assumeConfig(config: DeviceConfig): void {
    configToWire(config); // requires formats
    this.config = { ...config, formats: config.formats as ChipFormats };
  }

  /**
   * The configuration in force on the device (ReadConfig), as the last Configure of any
   * host set it; also adopted as this host's (like assumeConfig). Throws LinkError
   * NOT_CONFIGURED if the device holds none.
   */
  readConfig(): Promise<DeviceConfig> {
    return this.serial(async () => {
      const r = await this.call('readConfig', {});
      if (!r.config) throw new LinkError('DATA_LOSS', `${this.rpc.name}: ReadConfig reply holds no configuration`);
      const cfg = configFromWire(r.config);
      this.config = cfg;
      return cfg;
    });
  }

  /** The board lost its state (rebooted) or is configured afresh: nothing of it is known here. */
  private forgetBoard(): void {
    this.config = undefined;
    this.pendingChunk.clear();
    this.deferred = undefined;
    this.lastRates = undefined;
    this.staged = undefined;
  }

  /** One call, in order after the previous ones; a deferred Reward goes first (alone) unless `f` takes it along. */
  private serial<T>(f: () => Promise<T>, takesDeferred = false): Promise<T> {
    const run = this.queue.then(async () => {
      if (!takesDeferred) await this.flushReward();
      return f();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Send the deferred Reward on its own (before a call it cannot be pipelined with). */
  private async flushReward(): Promise<void> {
    const reward = this.deferred;
    if (!reward) return;
    this.deferred = undefined;
    await this.call('reward', reward);
    this.applied(reward);
  }

  /** A Reward was applied: its step sizes are the ones Reward.same_rates reuses. */
  private applied(reward: pb.Reward): void {
    if (!reward.sameRates) this.lastRates = { w: reward.lrW, r: reward.lrR, v: reward.lrV };
  }

  /** Unwrap a call result or throw: CONFIG_OUT_OF_RANGE as ConfigError, the rest as LinkError. */
  private unwrap<T>(r: CallResult<T>): T {
    if (r.status === 'OK') return r.value;
    if (r.status === 'DEVICE_ERROR') {
      const e = r.error;
      if (e.code === pb.ErrorCode.CONFIG_OUT_OF_RANGE) {
        const field = configFieldFromWire(e.field || 'config');
        const msg = e.message.startsWith(`${e.field}: `) ? e.message.slice(e.field.length + 2) : e.message;
        throw new ConfigError(field, `${msg} (device at ${this.rpc.name})`);
      }
      if (e.code === pb.ErrorCode.BUSY) {
        throw new LinkError('BUSY', `${this.rpc.name}: the board was taken by another host: ${busyText(e)}; this host lost it and stopped (take it back with --take-over, API: takeOver)`);
      }
      if (e.code === pb.ErrorCode.NOT_CONFIGURED && this.config) {
        throw new LinkError('NOT_CONFIGURED', `${this.rpc.name}: the device lost its configuration (rebooted?); configure it again and rewrite the parameters`);
      }
      throw new LinkError(pb.errorName(e.code), r.detail);
    }
    throw new LinkError(r.status, r.detail);
  }

  /**
   * One piece of a parameter or state transfer: `make(size)` builds the call for the
   * current size; after a few attempts without a good reply the size halves and the
   * smaller piece is sent instead. Safe because pieces are idempotent (a write at an
   * offset, a read); a run is not, so runs adapt between calls only (cleanRun).
   */
  private async piecewise<T>(size: AdaptiveSize, make: (size: number) => Promise<CallResult<T>>): Promise<T> {
    for (;;) {
      const before = this.rpc.damage;
      const r = await make(size.value);
      const gaveUp = r.status === 'DEADLINE_EXCEEDED' && r.shrink === true;
      size.after(gaveUp || this.rpc.damage > before);
      if (!gaveUp) return this.unwrap(r);
    }
  }

  private async call<C extends pb.CallCase>(c: C, value: pb.Calls[C][0], replyBytes?: number, check?: (r: pb.Calls[C][1]) => string | undefined): Promise<pb.Calls[C][1]> {
    return this.unwrap(await this.callResult(c, value, replyBytes, false, check));
  }

  /** A call as a result (NO_SESSION handled); with `canShrink` it gives up early (status 'shrunk') on a troubled line. */
  private async callResult<C extends pb.CallCase>(
    c: C, value: pb.Calls[C][0], replyBytes?: number, canShrink = false, check?: (r: pb.Calls[C][1]) => string | undefined,
  ): Promise<CallResult<pb.Calls[C][1]>> {
    const before = this.rpc.damage;
    const opts = { replyBytes, maxTroubles: canShrink ? SHRINK_AFTER_TROUBLES : undefined, check: check as ((v: never) => string | undefined) | undefined };
    const r = await this.rpc.call(c, value, opts);
    this.cleanRun.after(this.rpc.damage > before); // how the line does decides how long the next clean run's reply may be
    if (r.status !== 'DEVICE_ERROR' || r.error.code !== pb.ErrorCode.NO_SESSION) return r;
    // No session: the lease ran out (say Hello and call again: the refusal changed
    // nothing) or the board rebooted (its configuration is gone).
    const boot = this.helloReply.bootCounter;
    const h = await this.rehello();
    if (h.bootCounter !== boot) {
      throw new LinkError('NO_SESSION', `${this.rpc.name}: the device rebooted (boot ${boot} -> ${h.bootCounter}) and lost its configuration; configure it again and rewrite the parameters`);
    }
    return this.rpc.call(c, value, opts);
  }

  private formats(what: string): DeviceConfig & { formats: ChipFormats } {
    if (!this.config) throw new LinkError('NOT_CONFIGURED', `${what} before configure(); configure the device first`);
    return this.config;
  }

  async info(): Promise<DeviceInfo> {
    const h = this.helloReply;
    const l = h.limits;
    return {
      kind: this.kind,
      name: `${h.firmwareName} ${h.firmwareVersion} (${h.deviceId}) at ${this.rpc.name}`,
      fixedPoint: true,
      maxInputs: l?.maxInputs ?? 0,
      maxHidden: l?.maxHidden ?? 0,
      maxOutputs: l?.maxOutputs ?? 0,
      maxBatch: l?.maxBatch ?? 0,
      // once configured, the chunk limit is the configured one (as on the emulator)
      maxChunkSteps: this.config?.maxChunkSteps ?? l?.maxChunkSteps ?? 0,
    };
  }

  configure(config: DeviceConfig): Promise<void> {
    return this.serial(async () => {
      const l = this.helloReply.limits;
      if (config.topology?.bias === true && !l?.bias)
        throw new ConfigError('topology.bias', `true, but the device at ${this.rpc.name} does not announce biases (Limits.bias); use bias false, or a firmware with biases`);
      if (hasTraces(config) && !l?.traces)
        throw new ConfigError('learner.trace', `"${config.learner!.trace}", but the device at ${this.rpc.name} does not announce eligibility traces (Limits.traces); use trace none, or a firmware with traces`);
      const wire = configToWire(config); // requires formats
      const formats = config.formats as ChipFormats;
      if (l) {
        // the limits the device announced: refuse here, with the device's numbers
        try {
          validateConfig(config, { maxInputs: l.maxInputs, maxHidden: l.maxHidden, maxOutputs: l.maxOutputs, maxBatch: l.maxBatch, maxChunkSteps: l.maxChunkSteps });
        } catch (e) {
          if (e instanceof ConfigError) throw new ConfigError(e.field, `${e.detail} on the device at ${this.rpc.name} (its limit)`);
          throw e;
        }
      }
      const fit = pb.maxChunkStepsForFrame(this.frameLimit, config.topology, formats, false);
      if (config.maxChunkSteps > fit) {
        throw new ConfigError(
          'maxChunkSteps',
          `${config.maxChunkSteps} steps of batch ${config.topology.batch} do not fit one ${this.frameLimit}-byte frame of ${this.rpc.name}; use maxChunkSteps <= ${fit}`,
        );
      }
      this.forgetBoard();
      await this.call('configure', wire);
      this.config = { ...config, formats };
      this.cleanRun.reset(config.maxChunkSteps);
    });
  }

  /** A tensor of the configuration (traces: int32 codes of the trace formats). */
  private shape(tensor: pb.Tensor, what: string) {
    const cfg = this.formats(what);
    return tensorShape(tensor, cfg.topology, cfg.formats, traceCodeFormats(cfg))!; // tensors of this configuration only; lengths checked by the contract
  }

  private async writeTensor(tensor: pb.Tensor, values: Float64Array, field: string): Promise<void> {
    const s = this.shape(tensor, `write ${field}`);
    const codes = deviceCodes(values, s.format, field, true);
    for (let offset = 0; offset < codes.length; ) {
      let sent = 0;
      await this.piecewise(this.piece, (bytes) => {
        sent = Math.min(codes.length - offset, pb.maxCodesPerFrame(bytes, s.format));
        return this.callResult('writeParams', { tensor, offset, codes: codes.subarray(offset, offset + sent) }, undefined, bytes > this.piece.min);
      });
      offset += sent;
    }
  }

  private async readTensor(tensor: pb.Tensor, field: string): Promise<Float64Array> {
    const s = this.shape(tensor, `read ${field}`);
    const out = new Float64Array(s.length);
    let offset = 0;
    while (offset < s.length) {
      const r = await this.piecewise(this.piece, (bytes) => {
        const count = Math.min(pb.maxCodesPerFrame(bytes, s.format), s.length - offset);
        const check = (r: pb.ReadParamsReply) =>
          r.tensor !== tensor || r.total !== s.length || r.offset !== offset || r.codes.length === 0 || r.codes.length > count
            ? `read of ${field} at ${offset} (${count} codes) answered with ${r.codes.length} of ${r.total} codes at ${r.offset}; expected a tensor of ${s.length}`
            : codesOutside(r.codes, s.format, field);
        return this.callResult('readParams', { tensor, offset, count }, pb.ENVELOPE_BYTES + count * pb.codeBytes(s.format), bytes > this.piece.min, check);
      });
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
      checkParams(params, this.formats('writeParams').topology); // all of it before the first piece goes out
      await this.writeTensor(pb.Tensor.W, params.w, 'params.w');
      await this.writeTensor(pb.Tensor.R, params.r, 'params.r');
      await this.writeTensor(pb.Tensor.V, params.v, 'params.v');
      if (params.b) await this.writeTensor(pb.Tensor.BIAS_HIDDEN, params.b, 'params.b'); // checkParams: present exactly with bias
      if (params.c) await this.writeTensor(pb.Tensor.BIAS_OUTPUT, params.c, 'params.c');
    });
  }

  readParams(): Promise<Params> {
    return this.serial(async () => {
      const p: Params = {
        w: await this.readTensor(pb.Tensor.W, 'params.w'),
        r: await this.readTensor(pb.Tensor.R, 'params.r'),
        v: await this.readTensor(pb.Tensor.V, 'params.v'),
      };
      if (this.formats('readParams').topology.bias) {
        p.b = await this.readTensor(pb.Tensor.BIAS_HIDDEN, 'params.b');
        p.c = await this.readTensor(pb.Tensor.BIAS_OUTPUT, 'params.c');
      }
      return p;
    });
  }

  /** The states, and with a learner trace the eligibility traces (tensors TRACE_W, TRACE_R and, with biases, TRACE_BIAS). */
  readState(): Promise<RecurrentState> {
    return this.serial(async () => {
      const s: RecurrentState = {
        clean: await this.readTensor(pb.Tensor.STATE_CLEAN, 'state.clean'),
        noisy: await this.readTensor(pb.Tensor.STATE_NOISY, 'state.noisy'),
      };
      const cfg = this.formats('readState');
      if (hasTraces(cfg)) {
        s.eligibility = { w: await this.readTensor(pb.Tensor.TRACE_W, 'state.eligibility.w'), r: await this.readTensor(pb.Tensor.TRACE_R, 'state.eligibility.r') };
        if (cfg.topology.bias) s.eligibility.b = await this.readTensor(pb.Tensor.TRACE_BIAS, 'state.eligibility.b');
      }
      return s;
    });
  }

  /** The states and, with a learner trace, the traces (absent: zero, so zeros are written). */
  writeState(state: RecurrentState): Promise<void> {
    return this.serial(async () => {
      const cfg = this.formats('writeState');
      const t = cfg.topology;
      checkState(state, t, hasTraces(cfg)); // all of it before the first piece goes out
      await this.writeTensor(pb.Tensor.STATE_CLEAN, state.clean, 'state.clean');
      await this.writeTensor(pb.Tensor.STATE_NOISY, state.noisy, 'state.noisy');
      if (!hasTraces(cfg)) return;
      const e = state.eligibility;
      await this.writeTensor(pb.Tensor.TRACE_W, e?.w ?? new Float64Array(t.hidden * t.inputs), 'state.eligibility.w');
      await this.writeTensor(pb.Tensor.TRACE_R, e?.r ?? new Float64Array(t.hidden * t.hidden), 'state.eligibility.r');
      if (t.bias) await this.writeTensor(pb.Tensor.TRACE_BIAS, e?.b ?? new Float64Array(t.hidden), 'state.eligibility.b');
    });
  }

  /**
   * A clean run goes out in calls of at most cleanRun steps (shorter replies on a
   * troubled line; the same outputs, since a clean run only carries the state on); a
   * noisy run is one call (its chunk is the learning rule's).
   */
  run(req: RunRequest): Promise<RunResult> {
    if (req.noisy || !this.config || !splittable(req, this.config.maxChunkSteps)) return this.runCalls([req]).then((r) => r[0]);
    if (this.window < 2) return runInPieces(req, () => this.cleanRun.value, (piece) => this.runCalls([piece]).then((r) => r[0]));
    // pipelined: a window of pieces in flight, each of at most cleanRun steps (and not
    // under MIN_WINDOW_PIECE_STEPS: a short run goes whole), so the next piece's inputs
    // flow to the device while the last one's outputs flow back
    return runInPieces(req, () => this.cleanRun.value * this.window, async (span) => {
      const pieces: RunRequest[] = [];
      const I = span.inputs.length / span.steps;
      // never over cleanRun (it shrinks on a damaged line), nor cut under MIN_WINDOW_PIECE_STEPS for the window's sake
      const k = Math.max(1, Math.min(this.cleanRun.value, Math.max(Math.ceil(span.steps / this.window), Math.min(span.steps, MIN_WINDOW_PIECE_STEPS))));
      for (let s = 0; s < span.steps; s += k) {
        const n = Math.min(k, span.steps - s);
        pieces.push(n === span.steps ? span : { ...span, steps: n, t0: (span.t0 + s) >>> 0, inputs: span.inputs.subarray(s * I, (s + n) * I) });
      }
      return joinRuns(await this.runCalls(pieces), span.hiddenTrace ?? false);
    });
  }

  /**
   * run(req), telling the device that `next` comes after it (the trainer's next chunk):
   * on a device that takes preloads its inputs go out right behind `req`
   * (Request.preload), crossing the line while req's reply comes back, and the next
   * run() or runAhead() of exactly `next` sends only its header (Run.preloaded). The
   * same results and bits as run(req) then run(next); anything else in between is fine
   * (a preload only stages inputs; nothing runs before its Run).
   */
  runAhead(req: RunRequest, next: RunRequest): Promise<RunResult> {
    const ahead = this.preloads && req.noisy && next.inputs.length >= PRELOAD_MIN_CODES;
    if (!ahead) return this.run(req);
    return this.runCalls([req], next).then((r) => r[0]);
  }

  /** Runs as consecutive calls (pipelined when the device supports it), with a deferred Reward sent first; `next` is preloaded after them. */
  private runCalls(reqs: RunRequest[], next?: RunRequest): Promise<RunResult[]> {
    return this.serial(async () => {
      const cfg = this.formats('run');
      const { topology: t, formats: f } = cfg;
      const calls = reqs.map((req) => {
        checkRun(req, cfg); // here too: the wire cannot carry a bad t0 or a NaN input
        const hiddenTrace = req.hiddenTrace ?? false;
        const n = req.steps * t.batch * t.outputs;
        const check = (r: pb.RunReply) => {
          // the reply echoes t0 and steps: a reply filed under another run's id is caught
          if (r.t0 !== req.t0 || r.steps !== req.steps) return `run of ${req.steps} steps at t0 ${req.t0} answered for ${r.steps} steps at t0 ${r.t0}`;
          const want = { clean: n, noisy: req.noisy ? n : 0, hidden: hiddenTrace ? req.steps * t.batch * t.hidden : 0 };
          for (const key of ['clean', 'noisy', 'hidden'] as const)
            if (r[key].length !== want[key]) return `run of ${req.steps} steps answered with ${r[key].length} ${key} codes, expected ${want[key]}`;
          return codesOutside(r.clean, f.output, 'run.clean') ?? codesOutside(r.noisy, f.output, 'run.noisy') ?? codesOutside(r.hidden, f.activity, 'run.hidden');
        };
        const value: pb.Run = { steps: req.steps, t0: req.t0, inputs: deviceCodes(req.inputs, f.input, 'run.inputs', false), noisy: req.noisy, hiddenTrace, preloaded: false };
        return { c: 'run' as const, value, opts: { replyBytes: pb.runReplyBytes(req.steps, t, f, hiddenTrace), check: check as (v: never) => string | undefined } };
      });
      let ahead: pb.Run | undefined;
      if (next) {
        checkRun(next, cfg); // a preload is refused as its Run would be: check it here as well
        ahead = { steps: next.steps, t0: next.t0, inputs: deviceCodes(next.inputs, f.input, 'run.inputs', false), noisy: next.noisy, hiddenTrace: next.hiddenTrace ?? false, preloaded: false };
      }
      const replies = this.window < 2 ? await this.sequential(calls) : await this.pipelined(calls, ahead);
      return replies.map((r, i) => {
        const req = reqs[i];
        this.pendingChunk.ran(req);
        const out: RunResult = { clean: codesToValues(r.clean, f.output), noisy: codesToValues(r.noisy, f.output) };
        if (req.hiddenTrace) out.hidden = codesToValues(r.hidden, f.activity);
        return out;
      });
    }, true);
  }

  /** Run calls one at a time (a deferred Reward first). */
  private async sequential(calls: RunCall[]): Promise<pb.RunReply[]> {
    await this.flushReward();
    const out: pb.RunReply[] = [];
    for (const x of calls) out.push(await this.call('run', x.value, x.opts.replyBytes, x.opts.check as (r: pb.RunReply) => string | undefined));
    return out;
  }

  /**
   * Run calls back to back behind the deferred Reward (RpcClient.callMany), and the
   * preload of `ahead` after them. A run whose inputs the device holds from the last
   * preload goes as its header only (Run.preloaded). NO_SESSION as in callResult: the
   * lease ran out (Hello, and the same calls again: refusals changed nothing; a new
   * session has no preload, so the inputs go in full) or the board rebooted (thrown;
   * the deferred Reward is lost with the board's state, resilient-device.ts replays it).
   * A preload that fails (refused, or its fate unknown) is only forgotten: the next run
   * sends its inputs.
   */
  private async pipelined(calls: RunCall[], ahead?: pb.Run): Promise<pb.RunReply[]> {
    const out: pb.RunReply[] = [];
    for (let again = 0; ; again++) {
      const reward = this.deferred;
      const rest = calls.slice(out.length).map((x, i) => (i === 0 && sameRun(this.staged, x.value) ? { ...x, value: { ...x.value, inputs: new Int32Array(0), preloaded: true } } : x));
      const items: BatchItem[] = [
        ...(reward ? [{ c: 'reward' as const, value: reward, ackOnly: true }] : []),
        ...rest,
        ...(ahead ? [{ c: 'preload' as const, value: ahead, ackOnly: true }] : []),
      ];
      const before = this.rpc.damage;
      const results = await this.rpc.callMany(items);
      this.cleanRun.after(this.rpc.damage > before);
      const off = reward ? 1 : 0;
      if (reward && results[0]?.status === 'OK') {
        this.deferred = undefined;
        this.applied(reward);
      }
      const had = out.length;
      for (let i = off; i < off + rest.length && results[i]?.status === 'OK'; i++) out.push((results[i] as { value: pb.RunReply }).value);
      if (out.length > had && rest[0].value.preloaded) {
        this.staged = undefined; // used once
        this.preloadedRuns++;
      }
      if (out.length === calls.length) {
        // the preload's Ack (or a later answer) says the device holds it; anything else: it may not
        this.staged = ahead && results[items.length - 1]?.status === 'OK' ? ahead : undefined;
        return out;
      }
      this.staged = undefined;
      const failed = results.find((r) => r !== undefined && r.status !== 'OK')!;
      // the device holds no such preload after all (it refused the header, changing nothing): send the inputs
      if (again === 0 && failed.status === 'DEVICE_ERROR' && failed.error.field === 'run.preloaded') continue;
      if (again === 0 && failed.status === 'DEVICE_ERROR' && failed.error.code === pb.ErrorCode.NO_SESSION) {
        const boot = this.helloReply.bootCounter;
        const h = await this.rehello();
        if (h.bootCounter === boot) continue;
        throw new LinkError('NO_SESSION', `${this.rpc.name}: the device rebooted (boot ${boot} -> ${h.bootCounter}) and lost its configuration; configure it again and rewrite the parameters`);
      }
      if (reward && this.deferred === reward) this.deferred = undefined; // refused: thrown below (nothing of this call was applied)
      return this.unwrap(failed as CallResult<never>);
    }
  }

  reward(req: RewardRequest): Promise<void> {
    return this.serial(async () => {
      this.formats('reward');
      checkRewardT0(req); // the rest of the reward checks need the pending chunk: the device makes them
      // rewardFloat32 (asked for explicitly): dL rounded to float32, sent as delta_loss_f32
      const f32 = this.opts.rewardFloat32 === true;
      const dl = f32 ? Float64Array.from(req.deltaLoss, (x) => Math.fround(x)) : Float64Array.from(req.deltaLoss);
      const losses = f32 ? { deltaLoss: new Float64Array(0), deltaLossF32: Array.from(dl) } : { deltaLoss: dl, deltaLossF32: [] };
      const value: pb.Reward = { t0: req.t0, ...losses, lrW: req.lr.w, lrR: req.lr.r, lrV: req.lr.v, sameRates: false };
      if (this.window < 2) {
        await this.call('reward', value);
        return;
      }
      // pipelined: the pending chunk is this host's own, so the device's checks are made
      // here (same codes, same order, on the values the device gets) and the Reward goes
      // with the next call
      this.pendingChunk.check({ ...req, deltaLoss: dl });
      const last = this.lastRates;
      const same = this.opts.compactRewards !== false && last !== undefined && Object.is(last.w, req.lr.w) && Object.is(last.r, req.lr.r) && Object.is(last.v, req.lr.v);
      this.deferred = same ? { ...value, lrW: 0, lrR: 0, lrV: 0, sameRates: true } : value;
      this.pendingChunk.rewarded();
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
      const link: Record<string, number> = { ...this.rpc.stats(), preloadedRuns: this.preloadedRuns };
      if (s.link) for (const [k, v] of Object.entries(s.link)) link[`device.${k}`] = v;
      return { steps: s.steps, updates: s.updates, runCalls: s.runCalls, rewardCalls: s.rewardCalls, link };
    });
  }

  /** Close the link; a deferred Reward is sent first (a failure to send it is thrown after the link is closed). */
  close(): Promise<void> {
    return this.serial(async () => {
      try {
        await this.flushReward();
      } finally {
        await this.rpc.close();
      }
    }, true);
  }
}

/** A message if a code lies outside its format's range (a reply no true device sends), else undefined. */
function codesOutside(codes: ArrayLike<number>, format: FixedFormat, field: string): string | undefined {
  const { min, max } = codeRange(format);
  for (let i = 0; i < codes.length; i++)
    if (!(codes[i] >= min && codes[i] <= max)) return `${field}[${i}] = ${codes[i]} is not a code of ${formatName(format)} (${min}..${max})`;
  return undefined;
}

/** Consecutive runs' results as one. */
function joinRuns(parts: RunResult[], hidden: boolean): RunResult {
  if (parts.length === 1) return parts[0];
  const cat = (key: 'clean' | 'noisy' | 'hidden') => {
    const arrays = parts.map((p) => p[key] ?? new Float64Array(0));
    const out = new Float64Array(arrays.reduce((n, a) => n + a.length, 0));
    let at = 0;
    for (const a of arrays) {
      out.set(a, at);
      at += a.length;
    }
    return out;
  };
  const out: RunResult = { clean: cat('clean'), noisy: cat('noisy') };
  if (hidden) out.hidden = cat('hidden');
  return out;
}

/** Can a run be cut into shorter ones (within the chunk limit, inputs a whole number per step)? Else it goes whole, to be refused. */
export function splittable(req: RunRequest, maxChunkSteps: number): boolean {
  return Number.isInteger(req.steps) && req.steps >= 1 && req.steps <= maxChunkSteps && req.inputs.length % req.steps === 0;
}

/**
 * A run as consecutive shorter runs of at most `limit()` steps (asked before each):
 * the same outputs for a clean run, which only carries the state on.
 */
export async function runInPieces(req: RunRequest, limit: () => number, runOne: (piece: RunRequest) => Promise<RunResult | undefined>): Promise<RunResult> {
  const I = req.inputs.length / req.steps;
  const parts: RunResult[] = [];
  for (let s = 0; s < req.steps; ) {
    const k = Math.min(Math.max(1, limit()), req.steps - s);
    const part = await runOne(k === req.steps ? req : { ...req, steps: k, t0: (req.t0 + s) >>> 0, inputs: req.inputs.subarray(s * I, (s + k) * I) });
    if (!part) continue; // not run: cut it again at the (smaller) limit
    if (k === req.steps) return part;
    parts.push(part);
    s += k;
  }
  return joinRuns(parts, req.hiddenTrace ?? false);
}

/**
 * A size that halves (down to `min`) after a transfer that needed retries and doubles
 * (up to `max`) after CLEAN_TO_GROW transfers in a row that did not: smaller frames
 * survive a noisy line, larger ones cost less framing on a clean one. With `start`, it
 * begins there and doubles after every clean transfer until the first troubled one (a
 * slow start, as TCP's window): a run must not bet its first, unknowable line on the
 * largest frame, since a reply can only be asked for again, never cut smaller.
 */
export class AdaptiveSize {
  static readonly CLEAN_TO_GROW = 16;
  private clean = 0;
  private slow: boolean;
  value: number;
  constructor(
    readonly min: number,
    public max: number,
    readonly start?: number,
  ) {
    this.value = start === undefined ? max : Math.max(min, Math.min(max, start));
    this.slow = start !== undefined;
  }

  after(troubled: boolean): void {
    if (troubled) {
      this.value = Math.max(this.min, Math.floor(this.value / 2));
      this.clean = 0;
      this.slow = false;
    } else if ((this.slow || ++this.clean >= AdaptiveSize.CLEAN_TO_GROW) && this.value < this.max) {
      this.value = Math.min(this.max, this.value * 2);
      this.clean = 0;
    }
  }

  /** A new ceiling (e.g. a new configuration), starting there (or at `start`, slowly). */
  reset(max: number): void {
    this.max = Math.max(this.min, max);
    this.value = this.start === undefined ? this.max : Math.max(this.min, Math.min(this.max, this.start));
    this.slow = this.start !== undefined;
    this.clean = 0;
  }
}

/** The longest prefix of `s` that is at most `maxBytes` bytes of UTF-8 (whole characters). */
function truncateUtf8(s: string, maxBytes: number): string {
  let out = '';
  let bytes = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch, 'utf8');
    if (bytes + n > maxBytes) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/** Hello -> HelloReply, or a LinkError that says what to check. */
async function sayHello(rpc: RpcClient, link: { name: string; bytesPerSecond?: number }, opts: SerialDeviceOptions): Promise<pb.HelloReply> {
  const helloMs = opts.helloTimeoutMs ?? 2000;
  const res = await rpc.call(
    'hello',
    {
      protocolVersion: pb.PROTOCOL_VERSION,
      maxFrameBytes: rpc.maxFrameBytes,
      // Hello.host_name is at most 32 bytes (proto/anpt.proto): a board with fixed buffers
      // cannot decode a longer one and stays silent
      hostName: truncateUtf8(opts.hostName ?? 'anpt-host', 32),
      hostNonce: (opts.hostNonce ?? HOST_NONCE) >>> 0 || 1,
      takeOver: opts.takeOver ?? false,
    },
    // a fixed timeout per attempt (no round trip measured yet) for a budget of three of
    // them; damaged replies are asked again at once within it
    { timeoutMs: helloMs, retries: opts.retries, budgetMs: 3 * helloMs },
  );
  if (res.status === 'OK') {
    rpc.session = res.value.sessionId;
    if (res.value.protocolVersion !== pb.PROTOCOL_VERSION) {
      throw new LinkError(
        'UNSUPPORTED_VERSION',
        `${link.name}: the device speaks protocol ${res.value.protocolVersion}, this host ${pb.PROTOCOL_VERSION}; update the firmware or use a matching anpt version`,
      );
    }
    return res.value;
  }
  if (res.status === 'DEADLINE_EXCEEDED' && rpc.echoes > 0) {
    throw new LinkError('TIMEOUT', `${link.name}: no board answered: the port echoes what it is sent (${rpc.echoes} of this host's own frames came back); check the cable and the port (a loopback or an echo server is not a board)`);
  }
  if (res.status === 'DEADLINE_EXCEEDED') {
    const heard = res.bytesReceived > 0 ? ` (${res.bytesReceived} bytes arrived, not one valid frame)` : '';
    const serial = link.bytesPerSecond !== undefined;
    throw new LinkError(
      res.status,
      serial
        ? `${link.name}: no valid reply to Hello within ${res.waitedMs} ms at ${link.bytesPerSecond! * 10} baud${heard}; check the baud rate and that the board runs anpt firmware`
        : `${link.name}: no valid reply to Hello within ${res.waitedMs} ms${heard}; check that the device or bridge there runs anpt firmware and is not stalled`,
    );
  }
  if (res.status === 'DEVICE_ERROR' && res.error.code === pb.ErrorCode.BUSY) {
    throw new LinkError('BUSY', `${link.name}: ${busyText(res.error)}; wait for it to finish, or take the board on purpose with --take-over (API: the takeOver option)`);
  }
  if (res.status === 'DEVICE_ERROR' && res.error.code === pb.ErrorCode.UNSUPPORTED_VERSION) {
    throw new LinkError('UNSUPPORTED_VERSION', `${link.name}: ${res.error.message}; update the firmware or use a matching anpt version`);
  }
  throw new LinkError(res.status, res.detail);
}

/** "the board is held by HOST (for N s)" from a BUSY error. */
function busyText(e: pb.WireError): string {
  const held = e.heldMs ?? 0;
  const since = new Date(Date.now() - held).toISOString().replace(/\.\d+Z$/, 'Z');
  return `the board is held by ${e.holder || 'another host'} since ${since} (for ${Math.round(held / 1000)} s)`;
}

/** One run call of a window. */
type RunCall = { c: 'run'; value: pb.Run; opts: { replyBytes: number; check: (v: never) => string | undefined } };

/** Whether the device's staged preload is exactly `run` (steps, t0, noisy, hidden trace and input codes). */
function sameRun(staged: pb.Run | undefined, run: pb.Run): boolean {
  if (!staged || staged.steps !== run.steps || staged.t0 !== run.t0 || staged.noisy !== run.noisy || staged.hiddenTrace !== run.hiddenTrace) return false;
  if (staged.inputs.length !== run.inputs.length) return false;
  for (let i = 0; i < run.inputs.length; i++) if (staged.inputs[i] !== run.inputs[i]) return false;
  return true;
}

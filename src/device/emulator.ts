/**
 * EmulatorDevice: the bit-exact fixed-point chip (assembly/, compiled to WASM) behind
 * the Device interface. Values cross the interface in real units; inside, everything
 * is integer codes (docs/kernel.md).
 */
import { ConfigError, saturatingQuantiser } from '../format/fixed.js';
import type { FixedFormat } from '../format/fixed.js';
import { ACTIVATION_CODE, packFormat, validateChipFormats, validateConfig } from './config.js';
import { PendingChunk, checkParams, checkRun, checkState } from './contract.js';
import { DeviceError } from './errors.js';
import { instantiateKernel, KERNEL_MAX_MEMORY_BYTES } from './wasm.js';
import type { KernelExports, KernelFlavour } from './wasm.js';
import type {
  ChipFormats, Device, DeviceConfig, DeviceInfo, DeviceStats, Params, RecurrentState, RewardRequest, RunRequest, RunResult,
} from './types.js';

const T_W = 0, T_R = 1, T_V = 2, T_STATE_CLEAN = 3, T_STATE_NOISY = 4;

/** Limits of the emulator (memory is checked separately from the layout). */
export const EMULATOR_LIMITS = {
  maxInputs: 4096,
  maxHidden: 4096,
  maxOutputs: 4096,
  maxBatch: 256,
  maxChunkSteps: 65536,
};

const STATUS: Record<number, string> = {
  [-1]: 'the device is not configured; call configure() first',
  [-2]: 'the kernel could not grow its memory',
  [-3]: 'steps out of range for this chunk',
  [-4]: 'no noisy chunk is waiting for a reward; run({noisy: true}) first, and reward each chunk once',
  [-5]: 'the reward is for a different chunk (t0 does not match the last noisy run)',
};

/**
 * Bytes of kernel memory a configuration needs (assembly/layout.ts), in binary64 so
 * that a huge request is measured instead of overflowing the kernel's 32-bit sizes.
 */
export function layoutEstimate(I: number, H: number, O: number, B: number, K: number): number {
  const pad = (n: number) => Math.ceil(n / 8) * 8;
  const Ip = pad(I), Hp = pad(H);
  const int16 = H * Ip + H * Hp + O * Hp + K * B * Ip + (K + 4) * B * Hp + K * B * (I + 2 * O + H) + Math.max(H * I, H * H, O * H, B * H) + B * Math.max(Hp, O);
  const int32 = K * B * (H + O) + 2 * B * H + 2 * H;
  const scratch = Math.ceil(B / 2) * (4 * Math.max(Ip, Hp) + 16) + 4 * B;
  return 2 * int16 + 4 * int32 + 8 * K + scratch + 16 * 32 + 8192;
}

export interface EmulatorOptions {
  /** 'simd' (default) or 'scalar': the same bits, the scalar build is the reference. */
  flavour?: KernelFlavour;
}

export class EmulatorDevice implements Device {
  private readonly k: KernelExports;
  private cfg?: DeviceConfig;
  private fmt?: ChipFormats;
  private ready?: { cfg: DeviceConfig; fmt: ChipFormats };
  private quantiseInput?: (x: number) => number;
  private ptr = { inputs: 0, outClean: 0, outNoisy: 0, hidden: 0, rewards: 0, staging: 0 };
  private view?: { i16: Int16Array; f64: Float64Array };
  private runCalls = 0;
  private rewardCalls = 0;
  /** The contract's pending chunk (the kernel keeps its own guard too). */
  private readonly pending = new PendingChunk();

  constructor(opts: EmulatorOptions = {}) {
    this.k = instantiateKernel(opts.flavour ?? 'simd');
    this.flavour = opts.flavour ?? 'simd';
  }

  readonly flavour: KernelFlavour;

  async info(): Promise<DeviceInfo> {
    // once configured, the chunk limit is the configured one (the trace buffers' size)
    const maxChunkSteps = this.cfg?.maxChunkSteps ?? EMULATOR_LIMITS.maxChunkSteps;
    return { kind: 'emulator', name: `anpt-emulator (${this.flavour})`, fixedPoint: true, ...EMULATOR_LIMITS, maxChunkSteps };
  }

  async configure(config: DeviceConfig): Promise<void> {
    validateConfig(config, EMULATOR_LIMITS);
    const f = validateChipFormats(config);
    const t = config.topology;
    const bytes = layoutEstimate(t.inputs, t.hidden, t.outputs, t.batch, config.maxChunkSteps);
    const budget = KERNEL_MAX_MEMORY_BYTES - 1024 * 1024;
    if (bytes > budget)
      throw new ConfigError('topology', `needs ${(bytes / 2 ** 20).toFixed(0)} MiB of emulator memory (hidden ${t.hidden}, batch ${t.batch}, maxChunkSteps ${config.maxChunkSteps}); the limit is ${(budget / 2 ** 20).toFixed(0)} MiB: lower hidden, batch or maxChunkSteps`);
    const m = config.mismatch;
    const status = this.k.configure(
      t.inputs, t.hidden, t.outputs, t.batch, config.maxChunkSteps, ACTIVATION_CODE[t.activation],
      packFormat(f.input), packFormat(f.weight), packFormat(f.pre), packFormat(f.activity), packFormat(f.output),
      config.seed >>> 0, 0,
      config.noise.hiddenSigma * 2 ** f.pre.frac, config.noise.outputSigma * 2 ** f.output.frac,
      m?.gainSpread ?? 0, (m?.offsetSpread ?? 0) * 2 ** f.pre.frac, (m?.seed ?? 0) >>> 0,
    );
    this.check(status, 'configure');
    this.pending.clear();
    this.cfg = structuredClone(config);
    this.fmt = f;
    this.ready = { cfg: this.cfg, fmt: f };
    this.quantiseInput = saturatingQuantiser(f.input);
    this.ptr = {
      inputs: this.k.ptrInputs(), outClean: this.k.ptrOutClean(), outNoisy: this.k.ptrOutNoisy(),
      hidden: this.k.ptrHidden(), rewards: this.k.ptrRewards(), staging: this.k.ptrStaging(),
    };
  }

  async writeParams(p: Params): Promise<void> {
    const { cfg, fmt } = this.need();
    const t = cfg.topology;
    checkParams(p, t);
    this.writeTensor(T_W, p.w, t.hidden * t.inputs, fmt.weight, 'params.w');
    this.writeTensor(T_R, p.r, t.hidden * t.hidden, fmt.weight, 'params.r');
    this.writeTensor(T_V, p.v, t.outputs * t.hidden, fmt.weight, 'params.v');
  }

  async readParams(): Promise<Params> {
    const { cfg, fmt } = this.need();
    const t = cfg.topology;
    return {
      w: this.readTensor(T_W, t.hidden * t.inputs, fmt.weight),
      r: this.readTensor(T_R, t.hidden * t.hidden, fmt.weight),
      v: this.readTensor(T_V, t.outputs * t.hidden, fmt.weight),
    };
  }

  async readState(): Promise<RecurrentState> {
    const { cfg, fmt } = this.need();
    const n = cfg.topology.batch * cfg.topology.hidden;
    return { clean: this.readTensor(T_STATE_CLEAN, n, fmt.activity), noisy: this.readTensor(T_STATE_NOISY, n, fmt.activity) };
  }

  async writeState(s: RecurrentState): Promise<void> {
    const { cfg, fmt } = this.need();
    checkState(s, cfg.topology);
    const n = cfg.topology.batch * cfg.topology.hidden;
    this.writeTensor(T_STATE_CLEAN, s.clean, n, fmt.activity, 'state.clean');
    this.writeTensor(T_STATE_NOISY, s.noisy, n, fmt.activity, 'state.noisy');
  }

  async run(req: RunRequest): Promise<RunResult> {
    const { cfg, fmt } = this.need();
    const { inputs: I, batch: B, outputs: O, hidden: H } = cfg.topology;
    checkRun(req, cfg);
    const K = req.steps;
    const n = K * B * I;
    const inputs = req.inputs;
    const v = this.views();
    const quantise = this.quantiseInput!;
    const base = this.ptr.inputs >> 1;
    for (let i = 0; i < n; i++) v.i16[base + i] = quantise(inputs[i]);
    const status = this.k.run(K, req.t0 >>> 0, req.noisy ? 1 : 0, req.hiddenTrace ? 1 : 0);
    if (status !== 0) this.check(status, 'run');
    this.pending.ran(req);
    this.runCalls++;
    const no = K * B * O;
    const outScale = 2 ** -fmt.output.frac;
    return {
      clean: this.decode(this.ptr.outClean, no, outScale),
      noisy: req.noisy ? this.decode(this.ptr.outNoisy, no, outScale) : new Float64Array(0),
      hidden: req.hiddenTrace ? this.decode(this.ptr.hidden, K * B * H, 2 ** -fmt.activity.frac) : undefined,
    };
  }

  async reward(req: RewardRequest): Promise<void> {
    this.need();
    const K = this.pending.check(req).steps;
    const dL = req.deltaLoss;
    const lr = req.lr;
    this.views().f64.set(dL, this.ptr.rewards >> 3);
    const status = this.k.reward(K, req.t0 >>> 0, lr.w, lr.r, lr.v);
    if (status !== 0) this.check(status, 'reward');
    this.pending.rewarded();
    this.rewardCalls++;
  }

  /** Views over the kernel memory, made again only when the memory has grown. */
  private views(): { i16: Int16Array; f64: Float64Array } {
    const buf = this.k.memory.buffer;
    if (!this.view || this.view.i16.buffer !== buf) this.view = { i16: new Int16Array(buf), f64: new Float64Array(buf) };
    return this.view;
  }

  private decode(ptr: number, n: number, scale: number): Float64Array {
    const src = this.views().i16;
    const base = ptr >> 1;
    const dst = new Float64Array(n);
    for (let i = 0; i < n; i++) dst[i] = src[base + i] * scale;
    return dst;
  }

  async resetState(): Promise<void> {
    this.need();
    this.check(this.k.resetState(), 'resetState');
  }

  async stats(): Promise<DeviceStats> {
    return { steps: this.k.steps(), updates: this.k.updates(), runCalls: this.runCalls, rewardCalls: this.rewardCalls };
  }

  async close(): Promise<void> {}

  private need(): { cfg: DeviceConfig; fmt: ChipFormats } {
    if (!this.ready) throw new DeviceError('NOT_CONFIGURED', STATUS[-1]);
    return this.ready; // made once at configure: no allocation per call
  }

  private check(status: number, call: string): void {
    if (status === 0) return;
    const code = status === -4 || status === -5 ? 'NO_PENDING_CHUNK' : status === -1 ? 'NOT_CONFIGURED' : 'INTERNAL';
    throw new DeviceError(code, `${call}: ${STATUS[status] ?? `kernel status ${status}`}`);
  }

  private writeTensor(t: number, values: Float64Array, n: number, f: FixedFormat, field: string): void {
    if (!values || values.length !== n) throw new DeviceError('BAD_REQUEST', `${field}: length ${values?.length}, expected ${n}`);
    for (let i = 0; i < n; i++)
      if (!Number.isFinite(values[i])) throw new DeviceError('BAD_INPUT', `${field}[${i}] is ${values[i]}; parameters must be finite — nothing was written`);
    const quantise = saturatingQuantiser(f);
    const codes = this.views().i16;
    const base = this.ptr.staging >> 1;
    for (let i = 0; i < n; i++) codes[base + i] = quantise(values[i]);
    this.check(this.k.loadTensor(t), 'writeParams');
  }

  private readTensor(t: number, n: number, f: FixedFormat): Float64Array {
    this.check(this.k.storeTensor(t), 'readParams');
    return this.decode(this.ptr.staging, n, 2 ** -f.frac);
  }
}

/**
 * EmulatorDevice: the bit-exact fixed-point chip (assembly/, compiled to WASM) behind
 * the Device interface. Values cross the interface in real units; inside, everything
 * is integer codes (docs/kernel.md).
 */
import os from 'node:os';
import { ConfigError, saturatingQuantiser } from '../format/fixed.js';
import type { FixedFormat } from '../format/fixed.js';
import { ACTIVATION_CODE, TRACE_CODE, packFormat, traceCodeFormats, validateChipFormats, validateConfig, type TraceCodeFormats } from './config.js';
import { PendingChunk, checkParams, checkRun, checkState } from './contract.js';
import { DeviceError } from './errors.js';
import { instantiateKernel, kernelLayoutBytes, kernelMemoryBase, KERNEL_MAX_MEMORY_BYTES } from './wasm.js';
import { startKernelThreads } from './kernel-threads.js';
import { ResultSlab } from './result-slab.js';
import type { KernelThreads, KernelThreadsFaults } from './kernel-threads.js';
import { MAX_BATCH, MAX_CHUNK_STEPS, MAX_HIDDEN, MAX_INPUTS, MAX_OUTPUTS } from '../../assembly/limits.js';
import type { KernelExports, KernelFlavour } from './wasm.js';
import type {
  ChipFormats, Device, DeviceConfig, DeviceInfo, DeviceStats, Params, RecurrentState, RewardRequest, RunRequest, RunResult, TraceKind,
} from './types.js';

/** Limits of the emulator, the kernel's own (assembly/limits.ts; memory is checked separately from the layout). */
export const EMULATOR_LIMITS = {
  maxInputs: MAX_INPUTS,
  maxHidden: MAX_HIDDEN,
  maxOutputs: MAX_OUTPUTS,
  maxBatch: MAX_BATCH,
  maxChunkSteps: MAX_CHUNK_STEPS,
};

/** What each kernel status means (the codes are the kernel's exports, assembly/chip.ts). */
function statusMessages(k: KernelExports): Record<number, string> {
  return {
    [k.ERR_NOT_CONFIGURED.value]: NOT_CONFIGURED,
    [k.ERR_MEMORY.value]: 'the kernel could not grow its memory',
    [k.ERR_STEPS.value]: 'steps out of range for this chunk',
    [k.ERR_NO_CHUNK.value]: 'no noisy chunk is waiting for a reward; run({noisy: true}) first, and reward each chunk once',
    [k.ERR_T0.value]: 'the reward is for a different chunk (t0 does not match the last noisy run)',
    [k.ERR_SIZE.value]: 'a size is beyond the kernel limits (assembly/limits.ts)',
    [k.ERR_TENSOR.value]: 'unknown tensor id',
    [k.ERR_THREAD.value]: 'a kernel worker thread stopped; the chip state is lost: close this device and configure a new one',
  };
}

const NOT_CONFIGURED = 'the device is not configured; call configure() first';

/**
 * Bytes of the kernel's buffers for a configuration, from the kernel's own layout
 * (assembly/layout.ts), measured in 64 bits so that a huge request is measured instead
 * of wrapping; Infinity beyond the kernel's size limits.
 */
export function layoutEstimate(I: number, H: number, O: number, B: number, K: number, bias = false, trace: TraceKind = 'none'): number {
  return kernelLayoutBytes(I, H, O, B, K, bias, TRACE_CODE[trace]);
}

/**
 * The largest chunk of at most `want` steps whose buffers fit the emulator's memory
 * (the trace buffers grow with K x B x H), or 0 when not even one step fits. Callers
 * size evaluation chunks with it instead of a fixed step count.
 */
export function emulatorChunkFit(I: number, H: number, O: number, B: number, want: number): number {
  const budget = KERNEL_MAX_MEMORY_BYTES - 1024 * 1024;
  const fits = (K: number) => kernelLayoutBytes(I, H, O, B, K) + kernelMemoryBase() <= budget;
  if (fits(want)) return want;
  let lo = 0, hi = want; // fits(lo) or lo = 0; !fits(hi)
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * threads 'auto' takes two cores from this hidden x batch on (bench/cores.ts measures
 * where a second thread starts to pay): at H x B = 1000-4000 two threads won up to 1.69x
 * at load 1.2 but lost (0.19-0.54x) at load 4.2 on the shared development machine, when
 * both threads shared one core and every meeting became a context switch (README), so
 * auto starts above them.
 */
export const AUTO_THREADS_MIN_HB = 8000;

/** Threads option of the emulator: 1, 2 (the same bits), or 'auto' (2 when a run is large enough to gain and 2 cores exist). */
export type EmulatorThreads = 1 | 2 | 'auto';

/** The thread count `threads` gives a chip of hidden x batch = hb on this machine. */
export function emulatorThreadsFor(threads: EmulatorThreads, hb: number, flavour: KernelFlavour = 'simd'): number {
  if (threads !== 'auto') return threads;
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return flavour === 'simd' && cores >= 2 && hb >= AUTO_THREADS_MIN_HB ? 2 : 1;
}

/** Refuse a threads value that is not 1, 2 or 'auto' (one line: which option, which value, what to do). */
export function checkEmulatorThreads(v: unknown, option = 'threads'): EmulatorThreads {
  if (v === 1 || v === 2 || v === 'auto') return v;
  throw new ConfigError(option, `${JSON.stringify(v)} is not a thread count; use 1, 2 or 'auto' (2 when hidden x batch >= ${AUTO_THREADS_MIN_HB} and 2 cores exist)`);
}

export interface EmulatorOptions {
  /** 'simd' (default) or 'scalar': the same bits, the scalar build is the reference. */
  flavour?: KernelFlavour;
  /** Skip update rows that cannot change (default true): the same bits, less work; off for benchmarks at equal work. */
  rowSkip?: boolean;
  /**
   * Cores for one chip (default 1): 2 splits every step's neurons and every update's
   * rows over two threads with the same bits (src/device/kernel-threads.ts); 'auto'
   * decides at each configure from hidden x batch (AUTO_THREADS_MIN_HB) and the cores.
   */
  threads?: EmulatorThreads;
  /** Tests only: make a kernel worker thread fail (src/device/kernel-threads.ts). */
  threadFaults?: KernelThreadsFaults;
}

/** Workers of a device that was dropped without close() are stopped when it is collected. */
const dropped = new FinalizationRegistry<KernelThreads>((t) => void t.stop());

export class EmulatorDevice implements Device {
  private k: KernelExports;
  private kernelThreads?: KernelThreads;
  private readonly threadsOpt: EmulatorThreads;
  private readonly rowSkip: boolean;
  private readonly threadFaults?: KernelThreadsFaults;
  private readonly status: Record<number, string>;
  private readonly tensor: { w: number; r: number; v: number; clean: number; noisy: number; b: number; c: number; ew: number; er: number; eb: number };
  /** The trace code formats (E_W, E_R, e_b) of the configured learner; undefined without a trace. */
  private traceFormat?: TraceCodeFormats;
  private cfg?: DeviceConfig;
  private fmt?: ChipFormats;
  private ready?: { cfg: DeviceConfig; fmt: ChipFormats };
  private quantiseInput?: (x: number) => number;
  private ptr = { inputs: 0, outClean: 0, outNoisy: 0, hidden: 0, rewards: 0, staging: 0 };
  private view?: { i16: Int16Array; f64: Float64Array };
  private runCalls = 0;
  private rewardCalls = 0;
  /** Where run results are cut from (result-slab.ts: a small typed array of its own costs a microsecond). */
  private readonly slab = new ResultSlab();
  /** The contract's pending chunk (the kernel keeps its own guard too). */
  private readonly pending = new PendingChunk();

  constructor(opts: EmulatorOptions = {}) {
    this.flavour = opts.flavour ?? 'simd';
    if (this.flavour === 'threads') throw new ConfigError('flavour', "'threads' is the build behind the threads option; use flavour 'simd' with threads: 2");
    this.threadsOpt = checkEmulatorThreads(opts.threads ?? 1);
    if (this.threadsOpt === 2 && this.flavour !== 'simd') throw new ConfigError('threads', `2 needs the simd flavour (the threads build is SIMD); use threads: 1 with flavour '${this.flavour}'`);
    this.rowSkip = opts.rowSkip !== false;
    this.threadFaults = opts.threadFaults;
    const k = (this.k = this.threadsOpt === 2 ? this.startThreads(2).k : this.singleKernel());
    this.status = statusMessages(k);
    this.tensor = { w: k.T_W.value, r: k.T_R.value, v: k.T_V.value, clean: k.T_STATE_CLEAN.value, noisy: k.T_STATE_NOISY.value, b: k.T_BIAS_HIDDEN.value, c: k.T_BIAS_OUTPUT.value, ew: k.T_TRACE_W.value, er: k.T_TRACE_R.value, eb: k.T_TRACE_B.value };
  }

  readonly flavour: KernelFlavour;

  /** Threads the configured chip runs on (1 before configure unless threads: 2). */
  get threads(): number {
    return this.kernelThreads?.count ?? 1;
  }

  private singleKernel(): KernelExports {
    const k = instantiateKernel(this.flavour);
    if (!this.rowSkip) k.setRowSkip(false);
    return k;
  }

  private startThreads(count: number): KernelThreads {
    const t = (this.kernelThreads = startKernelThreads(count, this.rowSkip, this.threadFaults));
    dropped.register(this, t, t);
    return t;
  }

  /**
   * The kernel for a configuration with hidden x batch = hb: the current one, or a new
   * single-thread or threaded one (the previous chip stays until the new one is configured).
   */
  private kernelFor(hb: number): { k: KernelExports; threads?: KernelThreads } {
    const want = emulatorThreadsFor(this.threadsOpt, hb, this.flavour);
    if (want === this.threads) return { k: this.k, threads: this.kernelThreads };
    if (want === 1) return { k: this.singleKernel() };
    const t = startKernelThreads(want, this.rowSkip, this.threadFaults);
    return { k: t.k, threads: t };
  }

  /** Make `next` the device's kernel, stopping the workers of the one it replaces. */
  private async adopt(next: { k: KernelExports; threads?: KernelThreads }): Promise<void> {
    if (next.k === this.k) return;
    const old = this.kernelThreads;
    if (old) {
      dropped.unregister(old);
      await old.stop();
    }
    this.k = next.k;
    this.kernelThreads = next.threads;
    if (next.threads) dropped.register(this, next.threads, next.threads);
    this.view = undefined;
  }

  /**
   * Update rows visited and skipped (row skipping) since the last call, and of the
   * visited those by threads other than the first (0 on one thread); resets the counts.
   */
  takeRowSkipCounts(): { rows: number; skipped: number; otherThreads: number } {
    const c = { rows: this.k.rowSkipCounts(false), skipped: this.k.rowSkipCounts(true), otherThreads: this.k.rowsByOtherThreads() };
    this.k.resetRowSkipCounts();
    return c;
  }

    async info(): Promise<DeviceInfo> {
    // once configured, the chunk limit is the configured one (the trace buffers' size)
    const maxChunkSteps = this.cfg?.maxChunkSteps ?? EMULATOR_LIMITS.maxChunkSteps;
    const on = this.threads > 1 ? `, ${this.threads} threads` : '';
    return { kind: 'emulator', name: `anpt-emulator (${this.flavour}${on})`, fixedPoint: true, ...EMULATOR_LIMITS, maxChunkSteps };
  }

  async configure(config: DeviceConfig): Promise<void> {
    validateConfig(config, EMULATOR_LIMITS);
    const f = validateChipFormats(config);
    const t = config.topology;
    const elig = TRACE_CODE[config.learner?.trace ?? 'none'];
    const decay = elig === 0 ? 0 : config.learner!.decay;
    const next = this.kernelFor(t.hidden * t.batch);
    const refuse = async (e: Error): Promise<never> => {
      if (next.threads && next.threads !== this.kernelThreads) await next.threads.stop();
      throw e;
    };
    const bytes = next.k.layoutBytes(t.inputs, t.hidden, t.outputs, t.batch, config.maxChunkSteps, t.bias ? 1 : 0, elig) + next.k.memoryBase();
    const budget = KERNEL_MAX_MEMORY_BYTES - 1024 * 1024;
    if (bytes > budget)
      await refuse(new ConfigError('topology', `needs ${(bytes / 2 ** 20).toFixed(0)} MiB of emulator memory (hidden ${t.hidden}, batch ${t.batch}, maxChunkSteps ${config.maxChunkSteps}); the limit is ${(budget / 2 ** 20).toFixed(0)} MiB: lower hidden, batch or maxChunkSteps`));
    await next.threads?.ready;
    const m = config.mismatch;
    const status = next.k.configure(
      t.inputs, t.hidden, t.outputs, t.batch, config.maxChunkSteps, ACTIVATION_CODE[t.activation],
      packFormat(f.input), packFormat(f.weight), packFormat(f.pre), packFormat(f.activity), packFormat(f.output),
      config.seed >>> 0, 0,
      config.noise.hiddenSigma * 2 ** f.pre.frac, config.noise.outputSigma * 2 ** f.output.frac,
      m?.gainSpread ?? 0, (m?.offsetSpread ?? 0) * 2 ** f.pre.frac, (m?.seed ?? 0) >>> 0, t.bias ? 1 : 0,
      elig, decay,
    );
    if (status !== 0 && next.k !== this.k) await refuse(new DeviceError('INTERNAL', `configure: ${this.status[status] ?? `kernel status ${status}`}`));
    this.check(status, 'configure');
    await this.adopt(next);
    this.pending.clear();
    this.cfg = structuredClone(config);
    this.fmt = f;
    this.ready = { cfg: this.cfg, fmt: f };
    this.traceFormat = traceCodeFormats({ ...config, formats: f });
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
    this.writeTensor(this.tensor.w, p.w, t.hidden * t.inputs, fmt.weight, 'params.w');
    this.writeTensor(this.tensor.r, p.r, t.hidden * t.hidden, fmt.weight, 'params.r');
    this.writeTensor(this.tensor.v, p.v, t.outputs * t.hidden, fmt.weight, 'params.v');
    if (t.bias) {
      this.writeTensor(this.tensor.b, p.b!, t.hidden, fmt.pre, 'params.b');
      this.writeTensor(this.tensor.c, p.c!, t.outputs, fmt.output, 'params.c');
    }
  }

  async readParams(): Promise<Params> {
    const { cfg, fmt } = this.need();
    const t = cfg.topology;
    const p: Params = {
      w: this.readTensor(this.tensor.w, t.hidden * t.inputs, fmt.weight),
      r: this.readTensor(this.tensor.r, t.hidden * t.hidden, fmt.weight),
      v: this.readTensor(this.tensor.v, t.outputs * t.hidden, fmt.weight),
    };
    if (t.bias) {
      p.b = this.readTensor(this.tensor.b, t.hidden, fmt.pre);
      p.c = this.readTensor(this.tensor.c, t.outputs, fmt.output);
    }
    return p;
  }

  async readState(): Promise<RecurrentState> {
    const { cfg, fmt } = this.need();
    const t = cfg.topology, n = t.batch * t.hidden;
    const s: RecurrentState = { clean: this.readTensor(this.tensor.clean, n, fmt.activity), noisy: this.readTensor(this.tensor.noisy, n, fmt.activity) };
    const u = this.traceFormat;
    if (u) {
      s.eligibility = { w: this.readTrace(this.tensor.ew, t.hidden * t.inputs, u.w), r: this.readTrace(this.tensor.er, t.hidden * t.hidden, u.r) };
      if (t.bias) s.eligibility.b = this.readTrace(this.tensor.eb, t.hidden, u.b);
    }
    return s;
  }

  async writeState(s: RecurrentState): Promise<void> {
    const { cfg, fmt } = this.need();
    const u = this.traceFormat;
    checkState(s, cfg.topology, u !== undefined);
    const t = cfg.topology, n = t.batch * t.hidden;
    this.writeTensor(this.tensor.clean, s.clean, n, fmt.activity, 'state.clean');
    this.writeTensor(this.tensor.noisy, s.noisy, n, fmt.activity, 'state.noisy');
    if (u) {
      // a state written without traces zeroes them (as the float model does)
      const e = s.eligibility;
      this.writeTrace(this.tensor.ew, e?.w, t.hidden * t.inputs, u.w);
      this.writeTrace(this.tensor.er, e?.r, t.hidden * t.hidden, u.r);
      if (t.bias) this.writeTrace(this.tensor.eb, e?.b, t.hidden, u.b);
    }
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
    // the kernel's memory grows only in configure: the views taken above still hold
    const codes = v.i16;
    return {
      clean: this.decode(codes, this.ptr.outClean, no, outScale),
      noisy: req.noisy ? this.decode(codes, this.ptr.outNoisy, no, outScale) : new Float64Array(0),
      hidden: req.hiddenTrace ? this.decode(codes, this.ptr.hidden, K * B * H, 2 ** -fmt.activity.frac) : undefined,
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

  /** n codes from ptr in real units (a fresh array; src: views().i16). */
  private decode(src: Int16Array, ptr: number, n: number, scale: number): Float64Array {
    const base = ptr >> 1;
    const dst = this.slab.take(n);
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

  /** Stops the device's kernel threads, if any; the chip stays usable on one thread (same bits). */
  async close(): Promise<void> {
    const t = this.kernelThreads;
    if (!t) return;
    dropped.unregister(t);
    this.kernelThreads = undefined;
    await t.stop();
  }

  private need(): { cfg: DeviceConfig; fmt: ChipFormats } {
    if (!this.ready) throw new DeviceError('NOT_CONFIGURED', NOT_CONFIGURED);
    return this.ready; // made once at configure: no allocation per call
  }

  private check(status: number, call: string): void {
    if (status === 0) return;
    const k = this.k;
    if (status === k.ERR_THREAD.value) {
      const why = this.kernelThreads?.failure();
      throw new DeviceError('INTERNAL', `${call}: ${why ?? 'a kernel worker thread stopped'}; the chip state is lost: close this device and configure a new one`);
    }
    const code = status === k.ERR_NO_CHUNK.value || status === k.ERR_T0.value ? 'NO_PENDING_CHUNK' : status === k.ERR_NOT_CONFIGURED.value ? 'NOT_CONFIGURED' : 'INTERNAL';
    throw new DeviceError(code, `${call}: ${this.status[status] ?? `kernel status ${status}`}`);
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

  /** Trace t (n int32 codes of format f) in real units. */
  private readTrace(t: number, n: number, f: FixedFormat): Float64Array {
    this.check(this.k.storeTensor(t), 'readState');
    const codes = new Int32Array(this.k.memory.buffer, this.ptr.staging, n);
    const out = new Float64Array(n), unit = 2 ** -f.frac;
    for (let i = 0; i < n; i++) out[i] = codes[i] * unit;
    return out;
  }

  /** Trace t from real values (checked finite by checkState; absent: zero), quantised to format f as every tensor is. */
  private writeTrace(t: number, values: Float64Array | undefined, n: number, f: FixedFormat): void {
    const codes = new Int32Array(this.k.memory.buffer, this.ptr.staging, n);
    const quantise = saturatingQuantiser(f);
    for (let i = 0; i < n; i++) codes[i] = values ? quantise(values[i]) : 0;
    this.check(this.k.loadTensor(t), 'writeState');
  }

  private readTensor(t: number, n: number, f: FixedFormat): Float64Array {
    this.check(this.k.storeTensor(t), 'readParams');
    return this.decode(this.views().i16, this.ptr.staging, n, 2 ** -f.frac);
  }
}

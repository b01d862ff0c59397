/**
 * FloatDevice: the reference RNN (rnn.ts) behind the Device interface, with the
 * semantics of docs/kernel.md in binary64 instead of integer codes:
 *
 * - a clean and a noisy copy run in lockstep on the same inputs; the noisy copy adds
 *   N(0, sigma^2) noise (real units) to its hidden pre-activations and outputs. The
 *   noise of neuron n of sequence b at absolute step t is the kernel's draw
 *   gauss(sigma, key(seed, 1, b, t), n) (hidden n = 0..H-1, outputs H..H+O-1):
 *   an Irwin-Hall(4) approximation of the normal law, bounded at ±3.46 sigma. It is a
 *   pure function of (seed, b, t), so a replayed chunk draws the same noise, and a
 *   fixed-point device with the same seed draws the same noise up to LSB rounding.
 * - run(K) freezes the weights and keeps traces (inputs, clean states, da = ã - a,
 *   dy = ỹ - y); reward(dL) then applies, for each step k in order,
 *     dW = -lrW sqrt(N) dL_k (da_k / ||da_k||^2) u_k^T / B
 *     dR = -lrR sqrt(N) dL_k (da_k / ||da_k||^2) r̂_{k-1}^T / B
 *     dV = -lrV sqrt(N) dL_k (dy_k / ||dy_k||^2) r̂_k^T / B
 *   with the norms over the whole B x H (or B x O) block, N = I + H + O, presynaptic
 *   terms from the clean copy, and a layer skipped when its norm is 0.
 * - mismatch (per-neuron gain and offset of the hidden pre-activation, drawn from the
 *   mismatch seed as in the kernel) is applied to both copies. No quantisation, no
 *   overflow, no accumulator wrap: those are what the fixed-point devices add.
 * - a clean-only run (noisy: false) leaves the noisy copy's state untouched and
 *   cancels any pending reward, as the emulator does.
 *
 * Optional hidden decorrelation (method.md): with `decorrelationRate` > 0, reward()
 * also applies D <- D - rate * offdiag(mean_b r̂ r̂^T) D per step, from the clean r̂.
 * D is not part of Params (a chip has no D); read it with readDecorrelation().
 *
 * Eligibility traces (config.learner, types.ts TraceKind): with trace 'activity' or
 * 'innovation' the update of step k is
 *     e_W <- decay e_W + (c_k / ||c_k||^2) u_k^T,  e_R <- decay e_R + (c_k / ||c_k||^2) r̂_{k-1}^T
 *     dW = -lrW sqrt(N) dL_k e_W / B,  dR = -lrR sqrt(N) dL_k e_R / B
 *     dV as above with d_k in place of dy_k
 * (the sums over the B sequences, the norm over the B x H block), where c_k = da_k for
 * 'activity', and for 'innovation' the recovered noise c_k = da_k - R (r̂̃_{k-1} - r̂_{k-1})
 * and d_k = dy_k - V (r̂̃_k - r̂_k), formed in run() with the R and V the chunk ran
 * with. The traces persist across chunks and reward calls (online and chunked give the
 * same update), are zeroed by resetState and configure, and are part of readState /
 * writeState (a state written without them zeroes them). Cost: e_W, e_R (H(I+H)
 * values); per step one more H x H product per sequence (innovation) and one H(I+H)
 * pass over the trace. Per-neuron gain mismatch is not divided out of c_k (a chip
 * does not know its gains): the trace then carries a small bias.
 *
 * Biases (topology.bias): b (H) and c (O) are weights on a constant input 1, so
 *     db = -lrW sqrt(N) dL_k sum_b (da_k / ||da_k||^2) / B,   dc = -lrV sqrt(N) dL_k sum_b (dy_k / ||dy_k||^2) / B
 * (with a trace: e_b <- decay e_b + sum_b c_k / ||c_k||^2, db = -lrW sqrt(N) dL_k e_b / B;
 * c has no trace, as V). Both engines have them (the WASM kernel adds b and c as the last
 * terms of their sums, as rnn.ts does: the same bits).
 *
 * Engines (FloatDeviceOptions.engine, docs/float-model.md): 'wasm' (default) runs run()
 * and reward() in WebAssembly SIMD (float-wasm.ts, assembly/float/) with the same bits
 * as 'js', the loops below and in rnn.ts; the weights, states and traces are then views
 * of the module's memory.
 *
 * Subclasses (the NP and WP baselines in src/learn/) replace the perturbation
 * (drawNoise, noisyParams) and the update (update); the forward pass and the
 * chunk bookkeeping stay here.
 */
import { validateConfig } from '../device/config.js';
import { PendingChunk, checkParams, checkRun, checkState, requireConfigured } from '../device/contract.js';
import type {
  Device, DeviceConfig, DeviceInfo, DeviceStats, EligibilityTraces, LearnerConfig, LearningRates, Params, RecurrentState, RewardRequest, RunRequest, RunResult,
} from '../device/types.js';
import { ConfigError } from '../format/fixed.js';
import { gauss, key, STREAM_GAIN, STREAM_NOISE, STREAM_OFFSET } from './rng.js';
import {
  addBatchOuter, allocStep, neuronCount, stepInto,
  type RnnParams, type RnnShape, type StepBuffers, type StepPerturbation,
} from './rnn.js';
import { FloatKernel, type KernelRun } from './float-wasm.js';
import { checkFloatThreads, floatThreadsFor, startFloatThreads, type FloatThreadPool, type FloatThreads, type FloatThreadsFaults } from './float-threads.js';

/** Limits of the float model (it has no memory budget beyond the host's). */
export const FLOAT_LIMITS = {
  maxInputs: 4096,
  maxHidden: 4096,
  maxOutputs: 4096,
  maxBatch: 4096,
  maxChunkSteps: 1 << 20,
};

export interface FloatDeviceOptions {
  /** Step size of the hidden decorrelation D (per step); 0 or absent disables D. */
  decorrelationRate?: number;
  /** Shown in info().name. */
  name?: string;
  /**
   * 'wasm' (default): run and reward in WebAssembly (float-wasm.ts), the same bits as
   * 'js', the TypeScript loops of rnn.ts. A device with decorrelation, or whose
   * subclass replaces the perturbation (drawNoise, noisyParams), runs 'js'; a subclass
   * that replaces update (NP) runs its update in TypeScript on the same buffers.
   * The environment variable ANPT_FLOAT_ENGINE=js selects 'js' where this is absent.
   */
  engine?: FloatEngine;
  /**
   * Threads of the 'wasm' engine (float-threads.ts): 1, 2 (rows split between two
   * threads, the same bits) or 'auto' (default: 2 when hidden x batch >= 1000, 2 cores
   * are free, on the main thread of a process that is not niced; floatThreadsFor).
   */
  threads?: FloatThreads;
  /** Tests only: make a worker thread fail (float-threads.ts). */
  threadFaults?: FloatThreadsFaults;
}

export type FloatEngine = 'wasm' | 'js';

/** Workers of a device dropped without close() are stopped when it is collected. */
const dropped = new FinalizationRegistry<FloatThreadPool>((p) => void p.stop());

/** Bytes of the step-sized buffers a WASM float model starts with (clean chunks longer than that run in pieces). */
const KERNEL_START_BYTES = 8 << 20;

/** Traces of the last noisy chunk, grown on demand to the largest K asked for. */
interface ChunkTrace {
  capacity: number;
  /** u, K x B x I. */
  inputs: Float64Array;
  /** Clean states r̂_{-1}..r̂_{K-1}, (K+1) x B x H. */
  states: Float64Array;
  /** ã - a, K x B x H (innovation trace: the recovered noise ã - a - R (r̂̃ - r̂)_{k-1}). */
  da: Float64Array;
  /** ỹ - y, K x B x O (innovation trace: ỹ - y - V (r̂̃ - r̂)_k). */
  dy: Float64Array;
}

/** The float64 reference device; see the file comment. */
export class FloatDevice implements Device {
  protected cfg?: DeviceConfig;
  protected shape!: RnnShape;
  protected batch = 0;
  protected params!: RnnParams;
  protected clean!: Float64Array;
  protected noisyState!: Float64Array;
  protected trace!: ChunkTrace;
  /** The noisy chunk waiting for its reward (src/device/contract.ts). */
  protected readonly pending = new PendingChunk();
  private mismatch: StepPerturbation = {};
  private bufClean!: StepBuffers;
  private bufNoisy!: StepBuffers;
  private hiddenNoise!: Float64Array;
  private outputNoise!: Float64Array;
  private readonly decorrelationRate: number;
  private readonly name: string;
  /** The engine asked for; kernel is set when it is 'wasm' and this device can use it. */
  readonly engine: FloatEngine;
  private kernel?: FloatKernel;
  private readonly threadsOpt: FloatThreads;
  private readonly threadFaults?: FloatThreadsFaults;
  /** The threads build's instance and workers while the kernel runs on more than one thread. */
  private pool?: FloatThreadPool;
  /** The kernel's staging buffers (taken again when its memory grows). */
  private kv?: { inputs: Float64Array; outClean: Float64Array; outNoisy: Float64Array; hidden: Float64Array; dl: Float64Array };
  /** The kernel's run arguments of this configuration (made once; steps, t0, noisy and hidden set per call). */
  private kernelRun?: KernelRun;
  private counters = { steps: 0, updates: 0, runCalls: 0, rewardCalls: 0 };
  /** B ones: the constant presynaptic input of the biases. */
  protected ones = new Float64Array(0);
  /** The configured trace (plain ANP-T: trace 'none') and its state when on. */
  protected learner: LearnerConfig = { trace: 'none', decay: 0 };
  protected eligibility?: EligibilityTraces;

  constructor(opts: FloatDeviceOptions = {}) {
    const rate = opts.decorrelationRate ?? 0;
    if (!Number.isFinite(rate) || rate < 0) throw new ConfigError('decorrelationRate', `${rate} is out of range; allowed finite values >= 0 (0 disables D)`);
    this.decorrelationRate = rate;
    this.name = opts.name ?? 'anpt-float (binary64 reference)';
    const engine = opts.engine ?? (process.env.ANPT_FLOAT_ENGINE === 'js' ? 'js' : 'wasm');
    if (engine !== 'wasm' && engine !== 'js') throw new ConfigError('engine', `"${String(engine)}" is not an engine; use wasm or js`);
    this.engine = engine;
    this.threadsOpt = checkFloatThreads(opts.threads ?? 'auto');
    this.threadFaults = opts.threadFaults;
  }

  /** Threads the configured model runs on (1 on the 'js' engine). */
  get threads(): number {
    return this.kernel ? this.pool?.count ?? 1 : 1;
  }

  /** The pool for `count` threads: the current one, a new one (the old stopped), or none for 1. */
  private async poolFor(count: number): Promise<FloatThreadPool | undefined> {
    if (this.pool && this.pool.count === count && this.pool.failure() === undefined) return this.pool;
    const old = this.pool;
    this.pool = undefined;
    if (old) {
      dropped.unregister(old);
      await old.stop();
    }
    if (count < 2) return undefined;
    const p = startFloatThreads(count, this.threadFaults);
    try {
      await p.ready;
    } catch (e) {
      await p.stop();
      throw e;
    }
    dropped.register(this, p, p);
    return (this.pool = p);
  }

  /** The engine this configuration runs on: 'wasm', or 'js' (asked for, or not available to this device; see FloatDeviceOptions.engine). */
  activeEngine(): FloatEngine {
    return this.kernel ? 'wasm' : 'js';
  }

  /** Kind 'float', fixedPoint false, FLOAT_LIMITS (maxChunkSteps is the configured one once configured). */
  async info(): Promise<DeviceInfo> {
    return { kind: 'float', name: this.name, fixedPoint: false, ...FLOAT_LIMITS, maxChunkSteps: this.cfg?.maxChunkSteps ?? FLOAT_LIMITS.maxChunkSteps };
  }

  /** Validate (ConfigError naming the field) and apply; zeroes weights and state, D = identity. */
  async configure(config: DeviceConfig): Promise<void> {
    validateConfig(config, FLOAT_LIMITS);
    const t = config.topology;
    const shape: RnnShape = { inputs: t.inputs, hidden: t.hidden, outputs: t.outputs, activation: t.activation };
    const H = t.hidden, B = t.batch;
    this.cfg = structuredClone(config);
    this.shape = shape;
    this.batch = B;
    this.params = { w: new Float64Array(H * t.inputs), r: new Float64Array(H * H), v: new Float64Array(t.outputs * H) };
    if (t.bias) {
      this.params.b = new Float64Array(H);
      this.params.c = new Float64Array(t.outputs);
    }
    this.ones = new Float64Array(B).fill(1);
    if (this.decorrelationRate > 0) {
      this.params.d = new Float64Array(H * H);
      for (let i = 0; i < H; i++) this.params.d[i * H + i] = 1;
    }
    this.clean = new Float64Array(B * H);
    this.noisyState = new Float64Array(B * H);
    this.bufClean = allocStep(shape, B);
    this.bufNoisy = allocStep(shape, B);
    this.hiddenNoise = new Float64Array(B * H);
    this.outputNoise = new Float64Array(B * t.outputs);
    this.trace = { capacity: 0, inputs: new Float64Array(0), states: new Float64Array(0), da: new Float64Array(0), dy: new Float64Array(0) };
    this.pending.clear();
    this.mismatch = {};
    const m = config.mismatch;
    if (m && (m.gainSpread > 0 || m.offsetSpread > 0)) {
      const kg = key(m.seed, STREAM_GAIN, 0, 0), ko = key(m.seed, STREAM_OFFSET, 0, 0);
      const gain = new Float64Array(H), offset = new Float64Array(H);
      for (let i = 0; i < H; i++) {
        gain[i] = 1 + gauss(m.gainSpread, kg, i);
        offset[i] = gauss(m.offsetSpread, ko, i);
      }
      this.mismatch = { gain, offset };
    }
    this.counters = { steps: 0, updates: 0, runCalls: 0, rewardCalls: 0 };
    this.learner = config.learner ? { ...config.learner } : { trace: 'none', decay: 0 };
    this.eligibility = this.learner.trace === 'none' ? undefined : { w: new Float64Array(H * t.inputs), r: new Float64Array(H * H) };
    if (this.eligibility && t.bias) this.eligibility.b = new Float64Array(H);
    this.kernel = undefined;
    this.kernelRun = undefined;
    const own = FloatDevice.prototype;
    if (this.engine === 'wasm' && !this.params.d && this.drawNoise === own.drawNoise && this.noisyParams === own.noisyParams) {
      const perStep = 8 * B * (t.inputs + 3 * t.outputs + 4 * H) + 8;
      const start = Math.max(1, Math.min(config.maxChunkSteps, Math.floor(KERNEL_START_BYTES / perStep)));
      const pool = await this.poolFor(floatThreadsFor(this.threadsOpt, H * B));
      this.kernel = new FloatKernel(t.inputs, H, t.outputs, B, start, pool, t.bias === true);
      const { gain, offset } = this.mismatch;
      this.bindKernel();
      if (gain && offset) {
        this.kernel.view('gain').set(gain);
        this.kernel.view('offset').set(offset);
      }
    }
  }

  /** Take the weights, states, traces and mismatch from the kernel's memory (after it was made or grew). */
  private bindKernel(): void {
    const k = this.kernel!;
    this.params = { w: k.view('w'), r: k.view('r'), v: k.view('v') };
    if (k.bias) {
      this.params.b = k.view('b');
      this.params.c = k.view('c');
    }
    this.clean = k.view('clean');
    this.noisyState = k.view('noisy');
    if (this.eligibility) {
      this.eligibility = { w: k.view('ew'), r: k.view('er') };
      if (k.bias) this.eligibility.b = k.view('eb');
    }
    if (this.mismatch.gain) this.mismatch = { gain: k.view('gain'), offset: k.view('offset') };
    this.trace = { capacity: k.capacity, inputs: k.view('inputs'), states: k.view('states'), da: k.view('da'), dy: k.view('dy') };
    this.kv = { inputs: this.trace.inputs, outClean: k.view('outClean'), outNoisy: k.view('outNoisy'), hidden: k.view('hidden'), dl: k.view('dl') };
  }

  /** Write W, R, V (real units, exact: no quantisation). Nothing is written if any is bad. */
  async writeParams(p: Params): Promise<void> {
    this.kernel?.sync('writeParams'); // the threads' last reward is done
    checkParams(p, this.need().topology);
    this.params.w.set(p.w);
    this.params.r.set(p.r);
    this.params.v.set(p.v);
    if (p.b) this.params.b!.set(p.b);
    if (p.c) this.params.c!.set(p.c);
  }

  /** Copies of W, R, V. */
  async readParams(): Promise<Params> {
    this.kernel?.sync('readParams'); // the threads' last reward is done
    this.need();
    const out: Params = { w: this.params.w.slice(), r: this.params.r.slice(), v: this.params.v.slice() };
    if (this.params.b) out.b = this.params.b.slice();
    if (this.params.c) out.c = this.params.c.slice();
    return out;
  }

  /** A copy of D (H x H), or undefined when decorrelation is off. */
  readDecorrelation(): Float64Array | undefined {
    this.need();
    return this.params.d?.slice();
  }

  /** Copies of both copies' recurrent states r̂ (B x H each), and the eligibility traces when the learner has them. */
  async readState(): Promise<RecurrentState> {
    this.kernel?.sync('readState'); // the threads' last reward is done
    this.need();
    const s: RecurrentState = { clean: this.clean.slice(), noisy: this.noisyState.slice() };
    if (this.eligibility) {
      s.eligibility = { w: this.eligibility.w.slice(), r: this.eligibility.r.slice() };
      if (this.eligibility.b) s.eligibility.b = this.eligibility.b.slice();
    }
    return s;
  }

  /** Set both copies' recurrent states r̂ (B x H each, real units) and the traces (zero when absent). */
  async writeState(s: RecurrentState): Promise<void> {
    this.kernel?.sync('writeState'); // the threads' last reward is done
    checkState(s, this.need().topology, this.eligibility !== undefined);
    this.clean.set(s.clean);
    this.noisyState.set(s.noisy);
    this.kernel?.statesWritten();
    if (this.eligibility) {
      this.eligibility.w.set(s.eligibility?.w ?? new Float64Array(this.eligibility.w.length));
      this.eligibility.r.set(s.eligibility?.r ?? new Float64Array(this.eligibility.r.length));
      this.eligibility.b?.set(s.eligibility?.b ?? new Float64Array(this.eligibility.b.length));
    }
  }

  /** Run K steps with frozen weights (inputs K x B x I, real units); see the file comment. */
  async run(req: RunRequest): Promise<RunResult> {
    const cfg = this.need();
    const { inputs: I, hidden: H, outputs: O } = this.shape;
    checkRun(req, cfg);
    if (this.kernel) return this.runKernel(req);
    const B = this.batch, K = req.steps;
    const noisy = req.noisy;
    if (noisy) this.ensureTrace(K);
    const tr = this.trace, bh = B * H, bo = B * O;
    const cleanOut = new Float64Array(K * bo);
    const noisyOut = noisy ? new Float64Array(K * bo) : new Float64Array(0);
    const hidden = req.hiddenTrace ? new Float64Array(K * bh) : undefined;
    const c = this.bufClean, n = this.bufNoisy;
    if (noisy) {
      tr.inputs.set(req.inputs);
      tr.states.set(this.clean, 0);
    }
    const noisyPert: StepPerturbation = { ...this.mismatch, hiddenNoise: this.hiddenNoise, outputNoise: this.outputNoise };
    for (let k = 0; k < K; k++) {
      const t = (req.t0 + k) >>> 0;
      stepInto(this.shape, this.params, B, req.inputs, k * B * I, this.clean, c, this.mismatch);
      if (noisy) {
        this.drawNoise(t, this.hiddenNoise, this.outputNoise);
        stepInto(this.shape, this.noisyParams(t), B, req.inputs, k * B * I, this.noisyState, n, noisyPert);
        for (let q = 0; q < bh; q++) tr.da[k * bh + q] = n.a[q] - c.a[q];
        for (let q = 0; q < bo; q++) tr.dy[k * bo + q] = n.y[q] - c.y[q];
        if (this.learner.trace === 'innovation') this.recoverNoise(k, n.state, c.state);
        tr.states.set(c.state, (k + 1) * bh);
        this.noisyState.set(n.state);
        noisyOut.set(n.y, k * bo);
      }
      this.clean.set(c.state);
      cleanOut.set(c.y, k * bo);
      hidden?.set(c.state, k * bh);
    }
    this.pending.ran(req);
    this.counters.steps += K;
    this.counters.runCalls++;
    return { clean: cleanOut, noisy: noisyOut, hidden };
  }

  /** run() on the kernel: the same chunk in WASM (a clean chunk longer than the kernel's capacity in pieces). */
  private runKernel(req: RunRequest): RunResult {
    const cfg = this.need(), kernel = this.kernel!;
    const { inputs: I, hidden: H, outputs: O } = this.shape;
    const B = this.batch, K = req.steps, bo = B * O, bh = B * H;
    kernel.sync('run'); // the threads' last reward read the inputs this run overwrites
    if (req.noisy) this.ensureTrace(K);
    const { inputs, outClean, hidden: hiddenView, outNoisy } = this.kv!;
    const run = this.kernelRun ??= {
      steps: 0, t0: 0, noisy: false, activation: this.shape.activation, mismatch: this.mismatch.gain !== undefined, hidden: false,
      trace: this.learner.trace, seed: cfg.seed, hiddenSigma: cfg.noise.hiddenSigma, outputSigma: cfg.noise.outputSigma,
    };
    run.noisy = req.noisy;
    run.hidden = req.hiddenTrace === true;
    let cleanOut: Float64Array, hidden: Float64Array | undefined;
    if (K <= kernel.capacity) { // one piece (every noisy chunk): copies of the kernel's buffers
      inputs.set(req.inputs);
      run.steps = K; run.t0 = req.t0 >>> 0;
      kernel.run(run);
      cleanOut = outClean.slice(0, K * bo);
      hidden = run.hidden ? hiddenView.slice(0, K * bh) : undefined;
    } else {
      cleanOut = new Float64Array(K * bo);
      hidden = run.hidden ? new Float64Array(K * bh) : undefined;
      for (let s = 0; s < K; s += kernel.capacity) {
        const k = Math.min(kernel.capacity, K - s);
        inputs.set(req.inputs.subarray(s * B * I, (s + k) * B * I));
        run.steps = k; run.t0 = (req.t0 + s) >>> 0;
        kernel.run(run);
        cleanOut.set(outClean.subarray(0, k * bo), s * bo);
        if (hidden) hidden.set(hiddenView.subarray(0, k * bh), s * bh);
      }
    }
    const noisyOut = req.noisy ? outNoisy.slice(0, K * bo) : new Float64Array(0);
    this.pending.ran(req);
    this.counters.steps += K;
    this.counters.runCalls++;
    return { clean: cleanOut, noisy: noisyOut, hidden };
  }

  /** Apply the update of each step of the last noisy chunk, in order; each chunk is rewarded once. */
  async reward(req: RewardRequest): Promise<void> {
    this.need();
    const p = this.pending.check(req);
    // on two threads the last thread may still be writing the chunk's last states after run
    // returned: the kernel's reward and a subclass's rule on the host (NP, WP, per-sequence dL) read them
    this.kernel?.sync('reward');
    if (this.kernel && this.update === FloatDevice.prototype.update) {
      const dl = this.kv!.dl;
      if (p.steps === 1) dl[0] = req.deltaLoss[0];
      else dl.set(req.deltaLoss.subarray(0, p.steps));
      this.kernel.reward(p.steps, req.lr, Math.sqrt(neuronCount(this.shape)), this.learner.trace, this.learner.decay);
      this.pending.rewarded();
      this.counters.updates += p.steps;
      this.counters.rewardCalls++;
      return;
    }
    for (let k = 0; k < p.steps; k++) {
      this.update(k, (p.t0 + k) >>> 0, req.deltaLoss[k], req.lr);
      if (this.params.d) this.decorrelate(k);
    }
    this.pending.rewarded();
    this.counters.updates += p.steps;
    this.counters.rewardCalls++;
  }

  /** Zero both copies' recurrent states. */
  async resetState(): Promise<void> {
    this.kernel?.sync('resetState'); // the threads' last reward is done
    this.need();
    this.clean.fill(0);
    this.noisyState.fill(0);
    this.kernel?.statesWritten();
    this.eligibility?.w.fill(0);
    this.eligibility?.r.fill(0);
    this.eligibility?.b?.fill(0);
  }

  /** Steps run, updates applied (steps rewarded), run and reward calls since configure. */
  async stats(): Promise<DeviceStats> {
    return { ...this.counters };
  }

  /** Stop the worker threads, if any (the device can be configured again). */
  async close(): Promise<void> {
    await this.poolFor(1);
  }

  /**
   * The noise of the noisy copy at absolute step t: hidden (B x H) and output (B x O),
   * real units. Default: node noise, the kernel's draw scaled by the configured sigmas.
   */
  protected drawNoise(t: number, hidden: Float64Array, output: Float64Array): void {
    const cfg = this.cfg!;
    const { hidden: H, outputs: O } = this.shape;
    const sh = cfg.noise.hiddenSigma, so = cfg.noise.outputSigma;
    for (let b = 0; b < this.batch; b++) {
      const kn = key(cfg.seed, STREAM_NOISE, b, t);
      for (let i = 0; i < H; i++) hidden[b * H + i] = sh === 0 ? 0 : gauss(sh, kn, i);
      for (let o = 0; o < O; o++) output[b * O + o] = so === 0 ? 0 : gauss(so, kn, H + o);
    }
  }

  /** The weights the noisy copy uses at step t. Default: the same as the clean copy. */
  protected noisyParams(_t: number): RnnParams {
    return this.params;
  }

  /** The ANP-T update of step k (absolute step t) of the pending chunk; the kernel's update (assembly/update.ts). */
  protected update(k: number, _t: number, dL: number, lr: LearningRates): void {
    const { inputs: I, hidden: H, outputs: O } = this.shape;
    const B = this.batch, bh = B * H, bo = B * O, tr = this.trace;
    const sqrtN = Math.sqrt(neuronCount(this.shape));
    let sh = 0, so = 0;
    for (let q = 0; q < bh; q++) sh += tr.da[k * bh + q] ** 2;
    for (let q = 0; q < bo; q++) so += tr.dy[k * bo + q] ** 2;
    const e = this.eligibility;
    if (e) {
      const lam = this.learner.decay;
      for (let q = 0; q < e.w.length; q++) e.w[q] *= lam;
      for (let q = 0; q < e.r.length; q++) e.r[q] *= lam;
      if (e.b) for (let q = 0; q < H; q++) e.b[q] *= lam;
      if (sh > 0) {
        addBatchOuter(e.w, H, I, 1 / sh, B, tr.da, k * bh, tr.inputs, k * B * I);
        addBatchOuter(e.r, H, H, 1 / sh, B, tr.da, k * bh, tr.states, k * bh);
        if (e.b) addBatchOuter(e.b, H, 1, 1 / sh, B, tr.da, k * bh, this.ones, 0);
      }
      const cw = (-lr.w * sqrtN * dL) / B, cr = (-lr.r * sqrtN * dL) / B;
      if (cw !== 0) for (let q = 0; q < e.w.length; q++) this.params.w[q] += cw * e.w[q];
      if (cr !== 0) for (let q = 0; q < e.r.length; q++) this.params.r[q] += cr * e.r[q];
      if (cw !== 0 && e.b) for (let q = 0; q < H; q++) this.params.b![q] += cw * e.b[q];
    } else if (sh > 0) {
      addBatchOuter(this.params.w, H, I, (-lr.w * sqrtN * dL) / (B * sh), B, tr.da, k * bh, tr.inputs, k * B * I);
      addBatchOuter(this.params.r, H, H, (-lr.r * sqrtN * dL) / (B * sh), B, tr.da, k * bh, tr.states, k * bh);
      if (this.params.b) addBatchOuter(this.params.b, H, 1, (-lr.w * sqrtN * dL) / (B * sh), B, tr.da, k * bh, this.ones, 0);
    }
    if (so > 0) {
      addBatchOuter(this.params.v, O, H, (-lr.v * sqrtN * dL) / (B * so), B, tr.dy, k * bo, tr.states, (k + 1) * bh);
      if (this.params.c) addBatchOuter(this.params.c, O, 1, (-lr.v * sqrtN * dL) / (B * so), B, tr.dy, k * bo, this.ones, 0);
    }
  }

  /**
   * The innovation trace's credit signals of step k, in place of da and dy: the noise
   * recovered from activities, da - R (r̂̃ - r̂)_{k-1} and dy - V (r̂̃ - r̂)_k (the
   * chunk's frozen R and V; both state copies from the trace and the step just run).
   */
  private recoverNoise(k: number, noisyNow: Float64Array, cleanNow: Float64Array): void {
    const { hidden: H, outputs: O } = this.shape;
    const B = this.batch, bh = B * H, bo = B * O, tr = this.trace;
    const { r: R, v: V } = this.params;
    const dPrev = new Float64Array(H);
    for (let b = 0; b < B; b++) {
      const so = b * H;
      for (let j = 0; j < H; j++) dPrev[j] = this.noisyState[so + j] - tr.states[k * bh + so + j];
      for (let i = 0; i < H; i++) {
        let s = 0;
        for (let j = 0; j < H; j++) s += R[i * H + j] * dPrev[j];
        tr.da[k * bh + so + i] -= s;
      }
      for (let o = 0; o < O; o++) {
        let s = 0;
        for (let j = 0; j < H; j++) s += V[o * H + j] * (noisyNow[so + j] - cleanNow[so + j]);
        tr.dy[k * bo + b * O + o] -= s;
      }
    }
  }

  /** D <- D - rate * (M D - diag(M) D), M = mean_b r̂_b r̂_b^T of step k, in O(B H^2). */
  private decorrelate(k: number): void {
    const d = this.params.d!, H = this.shape.hidden, B = this.batch;
    const s = this.trace.states, off = (k + 1) * B * H;
    const rate = this.decorrelationRate / B;
    const z = new Float64Array(H);
    const upd = new Float64Array(H * H);
    for (let b = 0; b < B; b++) {
      const rb = off + b * H;
      z.fill(0); // z = D^T r̂_b
      for (let i = 0; i < H; i++) {
        const ri = s[rb + i];
        if (ri === 0) continue;
        for (let j = 0; j < H; j++) z[j] += d[i * H + j] * ri;
      }
      for (let i = 0; i < H; i++) {
        const ri = s[rb + i];
        for (let j = 0; j < H; j++) upd[i * H + j] += ri * (z[j] - ri * d[i * H + j]);
      }
    }
    for (let q = 0; q < H * H; q++) d[q] -= rate * upd[q];
  }

  protected need(): DeviceConfig {
    return requireConfigured(this.cfg);
  }

  private ensureTrace(K: number): void {
    if (this.trace.capacity >= K) return;
    if (this.kernel) {
      this.kernel.ensure(K);
      this.bindKernel();
      return;
    }
    const { inputs: I, hidden: H, outputs: O } = this.shape;
    const B = this.batch;
    this.trace = {
      capacity: K,
      inputs: new Float64Array(K * B * I),
      states: new Float64Array((K + 1) * B * H),
      da: new Float64Array(K * B * H),
      dy: new Float64Array(K * B * O),
    };
  }
}

/**
 * Exact backpropagation through time on the float model (rnn.ts): the BP baseline.
 *
 * Loss: MSE over all steps, sequences and outputs of a segment, (1 / (K B O)) sum (y - y*)^2.
 * Window k: the gradient of each loss term flows back through at most the steps of
 * its own window of k steps (windows aligned at the start of the segment; the state
 * entering a window is treated as a constant). window 'full' (or k >= K) is exact
 * BPTT over the segment; k = 1 never crosses a time step, which is the reference
 * code's "BPTT" (it detaches the recurrent state every step).
 *
 * Training (trainBptt) is truncated BPTT with k-step windows, TBPTT(k, k): run a
 * window, backpropagate within it, update, carry the state on. With k = 1 that is one
 * update per step like the reference's online BP; with 'full' it is one update per
 * pass over the set. Optimisers: plain SGD or Adam (Kingma & Ba, bias-corrected).
 * The decorrelation D, when present in the parameters, is a constant here.
 */
import type { LearningRates, Params } from '../device/types.js';
import { ConfigError } from '../format/fixed.js';
import { setMse, type SequenceSet, type Task } from '../tasks/types.js';
import { actSlope, addBatchOuter, cloneParams, runSequence, validateParams, validateShape, type RnnParams, type RnnShape } from '../model/rnn.js';
import type { EpochRecord, TrainProgress } from './anpt.js';
import { validateSet, type Evaluation } from './evaluate.js';
import { scaleRates, scheduleFactor, validateRates, validateSchedule, type Schedule } from './schedule.js';

export interface GradientOptions {
  /** Steps per gradient window, or 'full' (default). */
  window?: number | 'full';
  /** r̂ entering the segment, B x H (default zeros). */
  initialState?: Float64Array;
  /** Offsets of the segment in inputs (values) and targets (values). Default 0. */
  inputOffset?: number;
  targetOffset?: number;
}

export interface GradientResult {
  /** MSE of the segment (target units squared). */
  loss: number;
  /** d loss / d W, R, V (same layout as Params). */
  grad: Params;
  /** Clean outputs of the segment, K x B x O. */
  outputs: Float64Array;
  /** r̂ at the end of the segment, B x H. */
  finalState: Float64Array;
}

/**
 * Loss and its (window-truncated) gradient over `steps` steps of B sequences.
 * inputs and targets are time-major (T x B x I, T x B x O) from the given offsets.
 */
export function lossAndGradient(
  shape: RnnShape, params: RnnParams, batch: number,
  inputs: Float64Array, targets: Float64Array, steps: number, opts: GradientOptions = {},
): GradientResult {
  const { inputs: I, hidden: H, outputs: O, activation } = shape;
  const B = batch, bh = B * H, bo = B * O;
  const win = opts.window === undefined || opts.window === 'full' ? steps : opts.window;
  if (!Number.isInteger(win) || win < 1) throw new ConfigError('window', `${String(opts.window)} is out of range; allowed integers >= 1 or 'full'`);
  const inOff = opts.inputOffset ?? 0, tgOff = opts.targetOffset ?? 0;
  if (inOff + steps * B * I > inputs.length || tgOff + steps * bo > targets.length)
    throw new ConfigError('steps', `${steps} steps of batch ${B} from offsets ${inOff}/${tgOff} run past the inputs (${inputs.length}) or targets (${targets.length})`);
  const fwd = runSequence(shape, params, B, inputs, inOff, steps, opts.initialState, true);
  const pre = fwd.pre!, states = fwd.states!, y = fwd.outputs;
  const grad: Params = { w: new Float64Array(H * I), r: new Float64Array(H * H), v: new Float64Array(O * H) };
  if (params.b) grad.b = new Float64Array(H);
  if (params.c) grad.c = new Float64Array(O);
  const ones = new Float64Array(B).fill(1); // the biases' constant input
  const scale = 2 / (steps * bo);
  let loss = 0;
  const gy = new Float64Array(bo);
  const gs = new Float64Array(bh); // d loss / d r̂_t
  const gr = new Float64Array(bh); // d loss / d r_t
  const ga = new Float64Array(bh); // d loss / d a_t
  const carry = new Float64Array(bh); // R^T g_a from step t+1
  const { v, r: rec, d } = params;
  for (let t = steps - 1; t >= 0; t--) {
    if ((t + 1) % win === 0) carry.fill(0); // step t+1 starts a new window
    for (let q = 0; q < bo; q++) {
      const e = y[t * bo + q] - targets[tgOff + t * bo + q];
      loss += e * e;
      gy[q] = scale * e;
    }
    for (let b = 0; b < B; b++)
      for (let j = 0; j < H; j++) {
        let s = carry[b * H + j];
        for (let o = 0; o < O; o++) s += v[o * H + j] * gy[b * O + o];
        gs[b * H + j] = s;
      }
    addBatchOuter(grad.v, O, H, 1, B, gy, 0, states, (t + 1) * bh);
    if (grad.c) addBatchOuter(grad.c, O, 1, 1, B, gy, 0, ones, 0);
    if (d) {
      for (let b = 0; b < B; b++)
        for (let j = 0; j < H; j++) {
          let s = 0;
          for (let i = 0; i < H; i++) s += d[i * H + j] * gs[b * H + i];
          gr[b * H + j] = s;
        }
    } else gr.set(gs);
    for (let q = 0; q < bh; q++) ga[q] = gr[q] * actSlope(activation, pre[t * bh + q]);
    addBatchOuter(grad.w, H, I, 1, B, ga, 0, inputs, inOff + t * B * I);
    addBatchOuter(grad.r, H, H, 1, B, ga, 0, states, t * bh);
    if (grad.b) addBatchOuter(grad.b, H, 1, 1, B, ga, 0, ones, 0);
    carry.fill(0);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < H; i++) {
        const g = ga[b * H + i];
        if (g === 0) continue;
        for (let j = 0; j < H; j++) carry[b * H + j] += rec[i * H + j] * g;
      }
  }
  return { loss: loss / (steps * bo), grad, outputs: y, finalState: fwd.finalState };
}

export type Optimizer =
  | { kind: 'sgd' }
  /** Defaults beta1 0.9, beta2 0.999, epsilon 1e-8. */
  | { kind: 'adam'; beta1?: number; beta2?: number; epsilon?: number };

export interface BpttOptions {
  epochs: number;
  /** Step size, one for all layers or per layer. */
  lr: number | LearningRates;
  /** Steps per window (k >= 1) or 'full' (one window per pass). */
  window: number | 'full';
  /** Default SGD. */
  optimizer?: Optimizer;
  schedule?: Schedule;
  /** Scale each window's gradient down to this global L2 norm if above it. */
  gradientClip?: number;
  /** Evaluated after every epoch. */
  test?: SequenceSet;
  metrics?: Task['metrics'];
  onProgress?: (p: TrainProgress) => void;
}

export interface BpttResult {
  epochs: EpochRecord[];
  /** The trained parameters (the input is not changed). */
  params: RnnParams;
}

const LAYERS = ['w', 'r', 'v', 'b', 'c'] as const;
/** The rate of each tensor: a bias learns at its layer's rate (b with W, c with V). */
const RATE = { w: 'w', r: 'r', v: 'v', b: 'w', c: 'v' } as const;

/** The tensors of p that exist (b and c only with biases). */
function present(p: Params): { L: (typeof LAYERS)[number]; x: Float64Array }[] {
  return LAYERS.flatMap((L) => (p[L] ? [{ L, x: p[L] }] : []));
}

/** An SGD or Adam step on W, R, V in place, with per-layer rates (a rate of 0 leaves a layer as it is). */
export class ParamsOptimizer {
  private m?: Params;
  private s?: Params;
  private t = 0;

  constructor(private readonly o: Optimizer) {}

  step(p: Params, g: Params, lr: LearningRates): void {
    if (this.o.kind === 'sgd') {
      for (const { L, x } of present(p)) for (let k = 0; k < x.length; k++) x[k] -= lr[RATE[L]] * g[L]![k];
      return;
    }
    const { beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8 } = this.o;
    const zeros = (): Params => {
      const z: Params = { w: new Float64Array(p.w.length), r: new Float64Array(p.r.length), v: new Float64Array(p.v.length) };
      for (const { L, x } of present(p)) z[L] = new Float64Array(x.length);
      return z;
    };
    this.m ??= zeros();
    this.s ??= zeros();
    this.t++;
    const c1 = 1 - beta1 ** this.t, c2 = 1 - beta2 ** this.t;
    for (const { L, x } of present(p)) {
      const m = this.m[L]!, s = this.s[L]!, gl = g[L]!, rate = lr[RATE[L]];
      for (let k = 0; k < x.length; k++) {
        m[k] = beta1 * m[k] + (1 - beta1) * gl[k];
        s[k] = beta2 * s[k] + (1 - beta2) * gl[k] * gl[k];
        x[k] -= (rate * (m[k] / c1)) / (Math.sqrt(s[k] / c2) + epsilon);
      }
    }
  }
}

/** Global L2 norm of a gradient. */
function gradNorm(g: Params): number {
  let s = 0;
  for (const { x: a } of present(g)) for (const x of a) s += x * x;
  return Math.sqrt(s);
}

/** MSE (and the task's metrics) of the float model on a whole set, clean, from a zero state. */
export function evaluateFloat(shape: RnnShape, params: RnnParams, set: SequenceSet, metrics?: Task['metrics']): Evaluation {
  const run = runSequence(shape, params, set.batch, set.inputs, 0, set.steps);
  return { mse: setMse(run.outputs, set), outputs: run.outputs, metrics: metrics?.(run.outputs, set) };
}

/** Train the float model with TBPTT(k, k) (see the file comment). */
export function trainBptt(shape: RnnShape, initial: RnnParams, train: SequenceSet, options: BpttOptions): BpttResult {
  validateShape(shape);
  validateParams(shape, initial);
  validateSet(train, 'train');
  if (options.test) validateSet(options.test, 'test');
  if (train.inputSize !== shape.inputs || train.outputSize !== shape.outputs)
    throw new ConfigError('train', `sizes ${train.inputSize} in / ${train.outputSize} out do not match the network (${shape.inputs} in / ${shape.outputs} out)`);
  if (!Number.isInteger(options.epochs) || options.epochs < 1) throw new ConfigError('epochs', `${options.epochs} is out of range; allowed integers >= 1`);
  const lr: LearningRates = typeof options.lr === 'number' ? { w: options.lr, r: options.lr, v: options.lr } : options.lr;
  validateRates(lr);
  if (options.schedule) validateSchedule(options.schedule);
  const { steps: T, batch: B, inputSize: I, outputSize: O } = train;
  const win = options.window === 'full' ? T : options.window;
  if (!Number.isInteger(win) || win < 1) throw new ConfigError('window', `${String(options.window)} is out of range; allowed integers >= 1 or 'full'`);
  const schedule = options.schedule ?? { kind: 'constant' };
  const opt = new ParamsOptimizer(options.optimizer ?? { kind: 'sgd' });
  const p = cloneParams(initial);
  const totalSteps = options.epochs * T;
  const records: EpochRecord[] = [];
  let stepsDone = 0;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    const started = performance.now();
    let state: Float64Array = new Float64Array(B * shape.hidden);
    let lossSum = 0;
    let lrFactor = 1;
    for (let s = 0; s < T; s += win) {
      const k = Math.min(win, T - s);
      const g = lossAndGradient(shape, p, B, train.inputs, train.targets, k, { initialState: state, inputOffset: s * B * I, targetOffset: s * B * O });
      lossSum += g.loss * k;
      if (options.gradientClip !== undefined) {
        const n = gradNorm(g.grad);
        if (n > options.gradientClip) for (const { x } of present(g.grad)) for (let q = 0; q < x.length; q++) x[q] *= options.gradientClip / n;
      }
      lrFactor = scheduleFactor(schedule, stepsDone, totalSteps);
      opt.step(p, g.grad, scaleRates(lr, lrFactor));
      state = g.finalState;
      stepsDone += k;
      options.onProgress?.({ phase: 'chunk', epoch, epochs: options.epochs, stepInEpoch: s + k, stepsPerEpoch: T, stepsDone, totalSteps, trainMse: lossSum / (s + k), lrFactor });
    }
    const rec: EpochRecord = { epoch, trainMse: lossSum / T, lrFactor, rescales: 0, seconds: 0 };
    if (options.test) {
      const ev = evaluateFloat(shape, p, options.test, options.metrics);
      rec.testMse = ev.mse;
      rec.metrics = ev.metrics;
    }
    rec.seconds = (performance.now() - started) / 1000;
    records.push(rec);
    options.onProgress?.({ phase: 'epoch', epoch, epochs: options.epochs, stepInEpoch: T, stepsPerEpoch: T, stepsDone, totalSteps, trainMse: rec.trainMse, testMse: rec.testMse, lrFactor });
  }
  return { epochs: records, params: p };
}

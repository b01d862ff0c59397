/**
 * Mackey-Glass chaotic time series, as in the paper's reference code.
 *
 *   dx/dt = 0.2 x(t - tau) / (1 + x(t - tau)^10) - 0.1 x(t),   tau = 17
 *
 * integrated by forward Euler with 10 sub-steps of dt = 0.1 per sample (one sample per
 * time unit). The history x(t) for t in [-tau, 0) is 1.2 plus independent uniform jitter
 * in [-0.1, 0.1) per sub-step; x(0) = 1.2. The first 100 samples are discarded
 * (washout), the rest squashed by tanh(x - 1) and de-meaned per sequence.
 */
import { TaskError, checkInteger, checkSeed } from './errors.js';
import { createRng, testSeed, type Rng } from './rng.js';
import type { SequenceSet, Task } from './types.js';

export const MG_TAU = 17;
export const MG_SUBSTEPS_PER_SAMPLE = 10;
export const MG_WASHOUT_SAMPLES = 100;

export interface MackeyGlassOptions {
  /** Steps per sequence T (samples), default 5000. */
  steps?: number;
  /** Sequences per split B, default 10. */
  batch?: number;
  /**
   * 'recall' (default, the paper's reference variant): input at step t is s(t+horizon),
   * target is s(t), i.e. recall the value `horizon` samples back.
   * 'forecast' (the usual benchmark): input s(t), target s(t+horizon).
   */
  mode?: 'recall' | 'forecast';
  /** Shift between input and target in samples, default 15. */
  horizon?: number;
  /** Integer seed (modulo 2^32), default 42. Train and test use disjoint streams of it. */
  seed?: number;
}

/**
 * `length` samples of one Mackey-Glass series after washout, squashed by tanh(x - 1)
 * and de-meaned over those `length` samples. Draws 170 history values from `rng`.
 */
export function mackeyGlassSeries(length: number, rng: Rng): Float64Array {
  const delay = MG_TAU * MG_SUBSTEPS_PER_SAMPLE;
  const dt = 1 / MG_SUBSTEPS_PER_SAMPLE;
  // Ring buffer of the last `delay` sub-step values; history[at] is x(t - tau).
  const history = new Float64Array(delay);
  for (let k = 0; k < delay; k++) history[k] = 1.2 + rng.uniform(-0.1, 0.1);
  let at = 0;
  let x = 1.2;
  const series = new Float64Array(length);
  let sum = 0;
  for (let n = 0; n < MG_WASHOUT_SAMPLES + length; n++) {
    for (let k = 0; k < MG_SUBSTEPS_PER_SAMPLE; k++) {
      const xTau = history[at];
      history[at] = x;
      at = at + 1 === delay ? 0 : at + 1;
      const xTau2 = xTau * xTau;
      const xTau10 = xTau2 * xTau2 * xTau2 * xTau2 * xTau2;
      x += dt * ((0.2 * xTau) / (1 + xTau10) - 0.1 * x);
    }
    if (n >= MG_WASHOUT_SAMPLES) {
      const s = Math.tanh(x - 1);
      series[n - MG_WASHOUT_SAMPLES] = s;
      sum += s;
    }
  }
  const mean = sum / length;
  for (let t = 0; t < length; t++) series[t] -= mean;
  return series;
}

function mackeyGlassSet(steps: number, batch: number, mode: 'recall' | 'forecast', horizon: number, seed: number): SequenceSet {
  const rng = createRng(seed);
  const inputs = new Float64Array(steps * batch);
  const targets = new Float64Array(steps * batch);
  // Input and target offsets into the series s of length steps + horizon.
  const [inShift, targetShift] = mode === 'recall' ? [horizon, 0] : [0, horizon];
  for (let b = 0; b < batch; b++) {
    const s = mackeyGlassSeries(steps + horizon, rng);
    for (let t = 0; t < steps; t++) {
      inputs[t * batch + b] = s[t + inShift];
      targets[t * batch + b] = s[t + targetShift];
    }
  }
  return { steps, batch, inputSize: 1, outputSize: 1, inputs, targets };
}

/**
 * The Mackey-Glass task: one input, one output, B sequences of T steps per split, each
 * from its own random initial history. Named "mackey-glass/<mode>-<horizon>".
 */
export function mackeyGlassTask(opts: MackeyGlassOptions = {}): Task {
  const steps = checkInteger('mackey-glass steps', opts.steps ?? 5000, 1);
  const batch = checkInteger('mackey-glass batch', opts.batch ?? 10, 1);
  const horizon = checkInteger('mackey-glass horizon', opts.horizon ?? 15, 0);
  const seed = checkSeed('mackey-glass seed', opts.seed ?? 42);
  const mode = opts.mode ?? 'recall';
  if (mode !== 'recall' && mode !== 'forecast') {
    throw new TaskError('BAD_OPTION', `mackey-glass mode must be 'recall' or 'forecast', got '${String(mode)}'`);
  }
  return {
    name: `mackey-glass/${mode}-${horizon}`,
    inputSize: 1,
    outputSize: 1,
    train: mackeyGlassSet(steps, batch, mode, horizon, seed),
    test: mackeyGlassSet(steps, batch, mode, horizon, testSeed(seed)),
  };
}

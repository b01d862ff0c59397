/**
 * The reservoir baseline: keep the device's random W and R, fit only the readout V
 * by ridge regression on the clean hidden states, and write it back. Works through
 * the Device interface, so a chip's own (quantised, mismatched) states are used.
 *
 * Ridge with the penalty per sample: V minimises (1/n) ||X V^T - Y||^2 + lambda ||V||^2
 * over the n = steps x batch rows, i.e. (X^T X + n lambda I) V^T = X^T Y, solved by
 * Cholesky. lambda is picked from a grid by the MSE on a held-out tail of the train
 * steps, then V is refitted on all train steps with that lambda. No intercept (the
 * model has no biases).
 */
import type { Device } from '../device/types.js';
import { ConfigError } from '../format/fixed.js';
import type { SequenceSet } from '../tasks/types.js';
import { evaluate, validateSet } from './evaluate.js';

export interface RidgeOptions {
  /** Candidate lambdas (> 0, per-sample units). Default 1e-8, 1e-7, ..., 1e0. */
  lambdas?: number[];
  /** Fraction of the train steps (the tail) held out to choose lambda, 0..0.9. Default 0.2. */
  validationFraction?: number;
  /** Steps at the start of every sequence left out of the fit (transient from the zero state). Default 0. */
  washoutSteps?: number;
}

export interface RidgeResult {
  /** The fitted readout, O x H, as written to the device. */
  v: Float64Array;
  lambda: number;
  /** Validation MSE of each lambda on the held-out tail. */
  table: { lambda: number; validationMse: number }[];
  /** MSE on the whole train set (after washout) with the refitted V, before the device quantises it. */
  trainMse: number;
}

const DEFAULT_LAMBDAS = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1];

/**
 * Solve A X = B in place for symmetric positive definite A (n x n, row-major) and
 * B (n x m) by Cholesky; returns X (n x m). Throws when A is not positive definite.
 */
export function choleskySolve(a: Float64Array, n: number, rhs: Float64Array, m: number): Float64Array {
  const l = a.slice();
  for (let j = 0; j < n; j++) {
    let d = l[j * n + j];
    for (let k = 0; k < j; k++) d -= l[j * n + k] ** 2;
    if (!(d > 0)) throw new ConfigError('matrix', `not positive definite at column ${j}; for ridge regression use a larger lambda`);
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = l[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = s / ljj;
    }
  }
  const x = rhs.slice();
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < n; i++) { // L z = b
      let s = x[i * m + c];
      for (let k = 0; k < i; k++) s -= l[i * n + k] * x[k * m + c];
      x[i * m + c] = s / l[i * n + i];
    }
    for (let i = n - 1; i >= 0; i--) { // L^T x = z
      let s = x[i * m + c];
      for (let k = i + 1; k < n; k++) s -= l[k * n + i] * x[k * m + c];
      x[i * m + c] = s / l[i * n + i];
    }
  }
  return x;
}

/** Gram X^T X (H x H), X^T Y (H x O) and the row count over steps [from, to) of every sequence. */
function normalEquations(hidden: Float64Array, set: SequenceSet, H: number, from: number, to: number) {
  const { batch: B, outputSize: O } = set;
  const gram = new Float64Array(H * H), xty = new Float64Array(H * O);
  for (let t = from; t < to; t++)
    for (let b = 0; b < B; b++) {
      const xo = (t * B + b) * H, yo = (t * B + b) * O;
      for (let i = 0; i < H; i++) {
        const xi = hidden[xo + i];
        if (xi === 0) continue;
        for (let j = i; j < H; j++) gram[i * H + j] += xi * hidden[xo + j];
        for (let o = 0; o < O; o++) xty[i * O + o] += xi * set.targets[yo + o];
      }
    }
  for (let i = 0; i < H; i++) for (let j = 0; j < i; j++) gram[i * H + j] = gram[j * H + i];
  return { gram, xty, rows: Math.max(0, to - from) * B };
}

/** V (O x H) from the normal equations with penalty lambda per sample. */
function ridge(eq: { gram: Float64Array; xty: Float64Array; rows: number }, H: number, O: number, lambda: number): Float64Array {
  const a = eq.gram.slice();
  for (let i = 0; i < H; i++) a[i * H + i] += eq.rows * lambda;
  const vt = choleskySolve(a, H, eq.xty, O); // H x O
  const v = new Float64Array(O * H);
  for (let i = 0; i < H; i++) for (let o = 0; o < O; o++) v[o * H + i] = vt[i * O + o];
  return v;
}

/** MSE of readout V on steps [from, to). */
function readoutMse(hidden: Float64Array, set: SequenceSet, H: number, v: Float64Array, from: number, to: number): number {
  const { batch: B, outputSize: O } = set;
  let s = 0;
  for (let t = from; t < to; t++)
    for (let b = 0; b < B; b++)
      for (let o = 0; o < O; o++) {
        let y = 0;
        const xo = (t * B + b) * H;
        for (let j = 0; j < H; j++) y += v[o * H + j] * hidden[xo + j];
        s += (y - set.targets[(t * B + b) * O + o]) ** 2;
      }
  return s / (Math.max(1, to - from) * B * O);
}

/**
 * Fit the readout of a configured device with weights written: run `train` through
 * the clean copy, choose lambda on the held-out tail, refit on all steps, write V
 * (keeping W and R). Evaluate on a test set afterwards with evaluate().
 */
export async function fitRidgeReadout(device: Device, train: SequenceSet, opts: RidgeOptions = {}): Promise<RidgeResult> {
  validateSet(train, 'train');
  const lambdas = opts.lambdas ?? DEFAULT_LAMBDAS;
  if (lambdas.length === 0 || lambdas.some((l) => !(l > 0) || !Number.isFinite(l)))
    throw new ConfigError('lambdas', `[${lambdas.join(', ')}] must be a non-empty list of finite values > 0`);
  const frac = opts.validationFraction ?? 0.2;
  if (!(frac > 0 && frac <= 0.9)) throw new ConfigError('validationFraction', `${frac} is out of range; allowed (0, 0.9]`);
  const washout = opts.washoutSteps ?? 0;
  const T = train.steps, O = train.outputSize;
  const split = Math.floor(washout + (T - washout) * (1 - frac));
  if (!Number.isInteger(washout) || washout < 0 || split <= washout || split >= T)
    throw new ConfigError('washoutSteps', `${washout} leaves no fit or validation steps out of ${T}; allowed 0..${Math.max(0, T - 3)} with enough steps on both sides`);
  const ev = await evaluate(device, train, { hidden: true });
  const hidden = ev.hidden;
  if (!hidden) throw new ConfigError('device', 'the device returned no hidden trace; it must support run({hiddenTrace: true})');
  const H = hidden.length / (T * train.batch);
  const fit = normalEquations(hidden, train, H, washout, split);
  const held = normalEquations(hidden, train, H, split, T);
  const p = await device.readParams();
  // On a fixed-point device a readout is scored as the device holds it (quantised and
  // saturated to its weight format): a tiny lambda can fit weights far outside the
  // chip's range, which the float score would not see.
  const fixedPoint = (await device.info()).fixedPoint;
  const asHeld = async (v: Float64Array): Promise<Float64Array> => {
    if (!fixedPoint) return v;
    await device.writeParams({ w: p.w, r: p.r, v });
    return (await device.readParams()).v;
  };
  const table: { lambda: number; validationMse: number }[] = [];
  for (const lambda of lambdas) table.push({ lambda, validationMse: readoutMse(hidden, train, H, await asHeld(ridge(fit, H, O, lambda)), split, T) });
  const best = table.reduce((a, b) => (b.validationMse < a.validationMse ? b : a));
  const all = { gram: fit.gram.map((x, k) => x + held.gram[k]), xty: fit.xty.map((x, k) => x + held.xty[k]), rows: fit.rows + held.rows };
  const v = await asHeld(ridge(all, H, O, best.lambda));
  await device.writeParams({ w: p.w, r: p.r, v });
  return { v, lambda: best.lambda, table, trainMse: readoutMse(hidden, train, H, v, washout, T) };
}

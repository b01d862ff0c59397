/**
 * The reservoir baseline: keep the device's random W and R, fit only the readout V
 * by ridge regression on the clean hidden states, and write it back. Works through
 * the Device interface, so a chip's own (quantised, mismatched) states are used.
 *
 * Ridge with the penalty per sample: V minimises (1/n) ||X V^T - Y||^2 + lambda ||V||^2
 * over the n = steps x batch rows, i.e. (X^T X + n lambda I) V^T = X^T Y, solved by
 * Cholesky. lambda is picked from a grid by the MSE on a held-out tail of the train
 * steps, then V is refitted on all train steps with that lambda. On a device with
 * biases (topology.bias: readParams has c) the fit has an intercept, the output bias
 * c: a constant 1 column in X, not penalised; without biases no intercept.
 *
 * tuneReservoir is the fair baseline: it also chooses the spectral radius of R and the
 * gain of W on that held-out tail (never the test set), as every learner's lr is
 * chosen on validation.
 */
import type { Device, Params } from '../device/types.js';
import { ConfigError } from '../format/fixed.js';
import type { SequenceSet } from '../tasks/types.js';
import { spectralRadius } from '../linalg/spectral.js';
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
  /** The fitted intercept (output bias c, O), on a device with biases. */
  c?: Float64Array;
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

/**
 * Gram X^T X, X^T Y and the row count over steps [from, to) of every sequence; X is
 * the hidden trace (n = H columns), with `intercept` a further constant 1 column (n = H + 1).
 */
function normalEquations(hidden: Float64Array, set: SequenceSet, H: number, from: number, to: number, intercept: boolean): Normal {
  const { batch: B, outputSize: O } = set;
  const n = intercept ? H + 1 : H;
  const gram = new Float64Array(n * n), xty = new Float64Array(n * O);
  for (let t = from; t < to; t++)
    for (let b = 0; b < B; b++) {
      const xo = (t * B + b) * H, yo = (t * B + b) * O;
      for (let i = 0; i < H; i++) {
        const xi = hidden[xo + i];
        if (xi === 0) continue;
        for (let j = i; j < H; j++) gram[i * n + j] += xi * hidden[xo + j];
        if (intercept) gram[i * n + H] += xi;
        for (let o = 0; o < O; o++) xty[i * O + o] += xi * set.targets[yo + o];
      }
      if (intercept) {
        gram[H * n + H] += 1;
        for (let o = 0; o < O; o++) xty[H * O + o] += set.targets[yo + o];
      }
    }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) gram[i * n + j] = gram[j * n + i];
  return { gram, xty, rows: Math.max(0, to - from) * B, n };
}

/** V (O x H), and with an intercept c (O), from the normal equations with penalty lambda per sample (the intercept not penalised). */
function ridge(eq: Normal, H: number, O: number, lambda: number): Readout {
  const a = eq.gram.slice(), n = eq.n;
  for (let i = 0; i < H; i++) a[i * n + i] += eq.rows * lambda;
  const vt = choleskySolve(a, n, eq.xty, O); // n x O
  const v = new Float64Array(O * H);
  for (let i = 0; i < H; i++) for (let o = 0; o < O; o++) v[o * H + i] = vt[i * O + o];
  return n > H ? { v, c: vt.slice(H * O, (H + 1) * O) } : { v };
}

/** MSE of a readout on steps [from, to). */
function readoutMse(hidden: Float64Array, set: SequenceSet, H: number, { v, c }: Readout, from: number, to: number): number {
  const { batch: B, outputSize: O } = set;
  let s = 0;
  for (let t = from; t < to; t++)
    for (let b = 0; b < B; b++)
      for (let o = 0; o < O; o++) {
        let y = 0;
        const xo = (t * B + b) * H;
        for (let j = 0; j < H; j++) y += v[o * H + j] * hidden[xo + j];
        if (c) y += c[o];
        s += (y - set.targets[(t * B + b) * O + o]) ** 2;
      }
  return s / (Math.max(1, to - from) * B * O);
}

interface Normal { gram: Float64Array; xty: Float64Array; rows: number; n: number }

/** A readout: V (O x H) and, on a device with biases, the intercept c (O). */
interface Readout { v: Float64Array; c?: Float64Array }

/** The ridge fit of one hidden trace: lambda chosen on the tail, V refitted on all steps (not yet written). */
interface TraceFit extends Readout { lambda: number; table: { lambda: number; validationMse: number }[]; validationMse: number; trainMse: number }

interface Checked { lambdas: number[]; washout: number; split: number }

function checkRidge(train: SequenceSet, opts: RidgeOptions): Checked {
  validateSet(train, 'train');
  const lambdas = opts.lambdas ?? DEFAULT_LAMBDAS;
  if (lambdas.length === 0 || lambdas.some((l) => !(l > 0) || !Number.isFinite(l)))
    throw new ConfigError('lambdas', `[${lambdas.join(', ')}] must be a non-empty list of finite values > 0`);
  const frac = opts.validationFraction ?? 0.2;
  if (!(frac > 0 && frac <= 0.9)) throw new ConfigError('validationFraction', `${frac} is out of range; allowed (0, 0.9]`);
  const washout = opts.washoutSteps ?? 0;
  const T = train.steps;
  const split = Math.floor(washout + (T - washout) * (1 - frac));
  if (!Number.isInteger(washout) || washout < 0 || split <= washout || split >= T)
    throw new ConfigError('washoutSteps', `${washout} leaves no fit or validation steps out of ${T}; allowed 0..${Math.max(0, T - 3)} with enough steps on both sides`);
  return { lambdas, washout, split };
}

/**
 * Run `train` through the device's clean copy with the weights it holds and fit V on
 * the hidden trace: lambda by the tail's MSE, then V refitted on all steps. `asHeld`
 * maps a readout to what the device would hold (quantised on a chip).
 */
async function fitTrace(device: Device, train: SequenceSet, c: Checked, intercept: boolean, asHeld: (r: Readout) => Promise<Readout>): Promise<TraceFit> {
  const T = train.steps, O = train.outputSize;
  const ev = await evaluate(device, train, { hidden: true });
  const hidden = ev.hidden;
  if (!hidden) throw new ConfigError('device', 'the device returned no hidden trace; it must support run({hiddenTrace: true})');
  const H = hidden.length / (T * train.batch);
  const fit = normalEquations(hidden, train, H, c.washout, c.split, intercept);
  const held = normalEquations(hidden, train, H, c.split, T, intercept);
  const table: { lambda: number; validationMse: number }[] = [];
  for (const lambda of c.lambdas) table.push({ lambda, validationMse: readoutMse(hidden, train, H, await asHeld(ridge(fit, H, O, lambda)), c.split, T) });
  const best = table.reduce((a, b) => (b.validationMse < a.validationMse ? b : a));
  const all: Normal = { gram: fit.gram.map((x, k) => x + held.gram[k]), xty: fit.xty.map((x, k) => x + held.xty[k]), rows: fit.rows + held.rows, n: fit.n };
  const r = await asHeld(ridge(all, H, O, best.lambda));
  return { ...r, lambda: best.lambda, table, validationMse: best.validationMse, trainMse: readoutMse(hidden, train, H, r, c.washout, T) };
}

/**
 * The readout as the device holds it: on a fixed-point device a readout is scored
 * quantised and saturated to its weight format (a tiny lambda can fit weights far
 * outside the chip's range, which the float score would not see).
 */
async function heldReadout(device: Device, p: Params): Promise<(r: Readout) => Promise<Readout>> {
  const fixedPoint = (await device.info()).fixedPoint;
  return async (r) => {
    if (!fixedPoint) return r;
    await device.writeParams(withReadout(p, r));
    const q = await device.readParams();
    return q.c ? { v: q.v, c: q.c } : { v: q.v };
  };
}

/** p with the readout V (and c, when the readout has one) replaced. */
function withReadout(p: Params, r: Readout): Params {
  return r.c ? { ...p, v: r.v, c: r.c } : { ...p, v: r.v };
}

/**
 * Fit the readout of a configured device with weights written: run `train` through
 * the clean copy, choose lambda on the held-out tail, refit on all steps, write V
 * (keeping W and R). Evaluate on a test set afterwards with evaluate().
 */
export async function fitRidgeReadout(device: Device, train: SequenceSet, opts: RidgeOptions = {}): Promise<RidgeResult> {
  const c = checkRidge(train, opts);
  const p = await device.readParams();
  const f = await fitTrace(device, train, c, p.c !== undefined, await heldReadout(device, p));
  await device.writeParams(withReadout(p, f));
  return { v: f.v, ...(f.c ? { c: f.c } : {}), lambda: f.lambda, table: f.table, trainMse: f.trainMse };
}

export interface ReservoirOptions extends RidgeOptions {
  /**
   * Candidate spectral radii of R: the device's R is rescaled to each (R's direction is
   * kept). Empty: keep R as it is. Default DEFAULT_RADII.
   */
  radii?: number[];
  /** Candidate gains multiplying the device's W (1 = as it is). Default DEFAULT_GAINS. */
  gains?: number[];
}

export interface ReservoirResult extends RidgeResult {
  /** Chosen spectral radius of R (undefined when R was kept) and input gain. */
  radius?: number;
  gain: number;
  /** Spectral radius of the device's R before tuning. */
  initialRadius: number;
  /** Validation MSE (on the held-out tail, at the best lambda) of every (radius, gain) tried. */
  grid: { radius?: number; gain: number; lambda: number; validationMse: number }[];
}

/**
 * Spectral radii tried by default: from strongly fading memory to the edge of chaos
 * and past it (a random tanh network with rho a little above 1 is often still stable).
 */
export const DEFAULT_RADII = [0.1, 0.3, 0.6, 0.9, 1.0, 1.2];
/** Input gains tried by default (x the Xavier W): small gains keep tanh near-linear, larger ones saturate it. */
export const DEFAULT_GAINS = [0.1, 0.3, 1, 3, 10];

/**
 * The tuned reservoir baseline: for every (spectral radius of R, gain of W) on the
 * grid, run the train set through the device with those weights and fit the ridge
 * readout, scored on the held-out tail of the train steps (the validation split;
 * the test set is never seen). The best (radius, gain, lambda) by that score wins;
 * V is refitted on all train steps and written with the chosen W and R. One pass over
 * the train set per grid point.
 */
export async function tuneReservoir(device: Device, train: SequenceSet, opts: ReservoirOptions = {}): Promise<ReservoirResult> {
  const c = checkRidge(train, opts);
  const radii = opts.radii ?? DEFAULT_RADII, gains = opts.gains ?? DEFAULT_GAINS;
  for (const [field, xs] of [['radii', radii], ['gains', gains]] as const)
    if (xs.some((x) => !(x > 0) || !Number.isFinite(x))) throw new ConfigError(field, `[${xs.join(', ')}] must be finite values > 0`);
  if (gains.length === 0) throw new ConfigError('gains', '[] must list at least one gain (1 keeps W as it is)');
  const p0 = await device.readParams();
  const H = Math.round(Math.sqrt(p0.r.length));
  const rho0 = spectralRadius(p0.r, H);
  const grid: ReservoirResult['grid'] = [];
  let best: { fit: TraceFit; radius?: number; gain: number; held: Params } | undefined;
  for (const radius of radii.length ? radii : [undefined])
    for (const gain of gains) {
      const w = p0.w.map((x) => x * gain);
      const r = radius === undefined || !(rho0 > 0) ? p0.r : p0.r.map((x) => (x * radius) / rho0);
      await device.writeParams({ ...p0, w, r });
      const held = await device.readParams(); // what the device holds (quantised on a chip)
      const fit = await fitTrace(device, train, c, p0.c !== undefined, await heldReadout(device, held));
      grid.push({ radius, gain, lambda: fit.lambda, validationMse: fit.validationMse });
      if (!best || fit.validationMse < best.fit.validationMse) best = { fit, radius, gain, held };
    }
  const b = best!;
  await device.writeParams(withReadout(b.held, b.fit));
  return { v: b.fit.v, ...(b.fit.c ? { c: b.fit.c } : {}), lambda: b.fit.lambda, table: b.fit.table, trainMse: b.fit.trainMse, radius: b.radius, gain: b.gain, initialRadius: rho0, grid };
}

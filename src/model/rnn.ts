/**
 * The float64 reference RNN of method.md, as pure step functions over flat arrays
 * (Norse style: `step(params, state, input) -> output, new state`).
 *
 *   a_t = W u_t + R r̂_{t-1} + b  hidden pre-activation, H per sequence
 *   r_t = act(a_t)                tanh, hardtanh (clamp to ±1) or linear
 *   r̂_t = D r_t                   optional hidden decorrelation (identity when absent)
 *   y_t = V r̂_t + c               linear output, O per sequence
 *
 * The biases b (H) and c (O) are optional (topology.bias): absent, nothing is added
 * and the bits are those of the network without biases.
 *
 * The recurrent state is r̂ (what R and V see). All arrays are row-major; batches of B
 * sequences are laid out [b][i]. Every quantity is in real units (no scaling).
 * The fixed-point kernel (docs/kernel.md) computes the same quantities in integer codes.
 */
import type { Activation, Params } from '../device/types.js';
import { ConfigError } from '../format/fixed.js';
import { key, unitNormal, STREAM_INIT } from './rng.js';

export const ACTIVATIONS: readonly Activation[] = ['tanh', 'hardtanh', 'linear'];

/** Layer sizes [I, H, O] and the hidden nonlinearity (the output is always linear). */
export interface RnnShape {
  inputs: number;
  hidden: number;
  outputs: number;
  activation: Activation;
}

/** W (H x I), R (H x H), V (O x H), optional biases b (H), c (O) and an optional hidden decorrelation D (H x H). */
export interface RnnParams extends Params {
  /** Hidden decorrelation D1, H x H; absent means identity. Not trained by gradients. */
  d?: Float64Array;
}

/** Everything one step computes for B sequences; reused between steps to avoid allocation. */
export interface StepBuffers {
  /** Hidden pre-activations a (after mismatch and noise, if any), B x H. */
  a: Float64Array;
  /** Hidden activity r = act(a), B x H. */
  r: Float64Array;
  /** New recurrent state r̂ = D r, B x H. */
  state: Float64Array;
  /** Outputs y = V r̂ (+ output noise), B x O. */
  y: Float64Array;
}

/** What distinguishes a physical or noisy copy from the ideal network; all optional. */
export interface StepPerturbation {
  /** Per-neuron gain g (H): a <- g a + o, before the noise (kernel.md mismatch). */
  gain?: Float64Array;
  /** Per-neuron offset o (H), real units. */
  offset?: Float64Array;
  /** Added to the hidden pre-activations, B x H, real units. */
  hiddenNoise?: Float64Array;
  /** Added to the outputs, B x O, real units. */
  outputNoise?: Float64Array;
}

/** The neuron count N = I + H + O of the ANP-T rule's sqrt(N) factor. */
export function neuronCount(shape: RnnShape): number {
  return shape.inputs + shape.hidden + shape.outputs;
}

/** act(a) for one pre-activation (real units); the kernel's act (assembly/activation.ts). */
export function act(kind: Activation, a: number): number {
  if (kind === 'tanh') return Math.tanh(a);
  if (kind === 'hardtanh') return a > 1 ? 1 : a < -1 ? -1 : a;
  return a;
}

/** d act / d a at a pre-activation (hardtanh: 1 inside (-1, 1), else 0). */
export function actSlope(kind: Activation, a: number): number {
  if (kind === 'tanh') {
    const t = Math.tanh(a);
    return 1 - t * t;
  }
  if (kind === 'hardtanh') return a > -1 && a < 1 ? 1 : 0;
  return 1;
}

/** Check sizes (integers >= 1) and the activation; throws ConfigError naming the field. */
export function validateShape(shape: RnnShape, field = 'shape'): void {
  for (const k of ['inputs', 'hidden', 'outputs'] as const) {
    const n = shape?.[k];
    if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${field}.${k}`, `${String(n)} is out of range; allowed integers >= 1`);
  }
  if (!ACTIVATIONS.includes(shape.activation))
    throw new ConfigError(`${field}.activation`, `"${String(shape.activation)}" is not an activation; use ${ACTIVATIONS.join(', ')}`);
}

/** Check that W, R, V (and D if present) have the shape's sizes and finite entries. */
export function validateParams(shape: RnnShape, p: RnnParams, field = 'params'): void {
  const { inputs: I, hidden: H, outputs: O } = shape;
  const want: [keyof RnnParams, number, string][] = [['w', H * I, 'H x I'], ['r', H * H, 'H x H'], ['v', O * H, 'O x H']];
  if (p.d) want.push(['d', H * H, 'H x H']);
  if (p.b || p.c) want.push(['b', H, 'H'], ['c', O, 'O']);
  for (const [name, n, dims] of want) {
    const m = p[name];
    if (!(m instanceof Float64Array) || m.length !== n)
      throw new ConfigError(`${field}.${name}`, `length ${m?.length ?? 'missing'}, expected ${dims} = ${n} (a Float64Array)`);
    for (let k = 0; k < n; k++)
      if (!Number.isFinite(m[k])) throw new ConfigError(`${field}.${name}[${k}]`, `is ${m[k]}; parameters must be finite`);
  }
}

/** Buffers for one step of B sequences. */
export function allocStep(shape: RnnShape, batch: number): StepBuffers {
  const bh = batch * shape.hidden;
  return { a: new Float64Array(bh), r: new Float64Array(bh), state: new Float64Array(bh), y: new Float64Array(batch * shape.outputs) };
}

/** A deep copy of parameters. */
export function cloneParams<P extends RnnParams>(p: P): P {
  const out: RnnParams = { w: p.w.slice(), r: p.r.slice(), v: p.v.slice() };
  if (p.d) out.d = p.d.slice();
  if (p.b) out.b = p.b.slice();
  if (p.c) out.c = p.c.slice();
  return out as P;
}

/**
 * Hidden pre-activations a = W u + R r̂ (+ b) of B sequences into `a` (B x H), then each
 * neuron's mismatch a <- g a + o when given. `input` holds B x I values from
 * `inputOffset`; `state` is r̂_{t-1} (B x H). The kernel's hiddenPre (assembly/step.ts).
 */
export function hiddenPre(
  shape: RnnShape, params: RnnParams, batch: number,
  input: Float64Array, inputOffset: number, state: Float64Array, a: Float64Array, perturbation?: StepPerturbation,
): void {
  const { inputs: I, hidden: H } = shape;
  const { w, r: rec, b: bias } = params;
  const gain = perturbation?.gain, offset = perturbation?.offset;
  for (let b = 0; b < batch; b++) {
    const uo = inputOffset + b * I, so = b * H;
    for (let i = 0; i < H; i++) {
      let s = 0;
      const wo = i * I, ro = i * H;
      for (let j = 0; j < I; j++) s += w[wo + j] * input[uo + j];
      for (let j = 0; j < H; j++) s += rec[ro + j] * state[so + j];
      if (bias) s += bias[i];
      if (gain) s *= gain[i];
      if (offset) s += offset[i];
      a[so + i] = s;
    }
  }
}

/** a <- a + xi: the noisy copy's hidden noise (B x H, real units). The kernel's noise. */
export function noise(a: Float64Array, xi: Float64Array): void {
  for (let n = 0; n < a.length; n++) a[n] += xi[n];
}

/** r = act(a) for every pre-activation. The kernel's activate. */
export function activate(activation: Activation, a: Float64Array, r: Float64Array): void {
  for (let n = 0; n < a.length; n++) r[n] = act(activation, a[n]);
}

/** The new state r̂ = D r (B x H), or r itself when there is no D. */
export function decorrelate(shape: RnnShape, d: Float64Array | undefined, batch: number, r: Float64Array, st: Float64Array): void {
  const H = shape.hidden;
  if (d) {
    for (let b = 0; b < batch; b++)
      for (let i = 0; i < H; i++) {
        let s = 0;
        for (let j = 0; j < H; j++) s += d[i * H + j] * r[b * H + j];
        st[b * H + i] = s;
      }
  } else if (st !== r) {
    st.set(r);
  }
}

/** Outputs y = V r̂ (+ c) + zeta (B x O; zeta the output noise, when given). The kernel's outputs. */
export function outputs(shape: RnnShape, params: RnnParams, batch: number, state: Float64Array, y: Float64Array, zeta?: Float64Array): void {
  const { hidden: H, outputs: O } = shape;
  const { v, c } = params;
  for (let b = 0; b < batch; b++)
    for (let o = 0; o < O; o++) {
      let s = zeta ? zeta[b * O + o] : 0;
      for (let j = 0; j < H; j++) s += v[o * H + j] * state[b * H + j];
      y[b * O + o] = c ? s + c[o] : s;
    }
}

/**
 * One step of B sequences into `out` (no allocation): hiddenPre, noise, activate,
 * decorrelate, outputs. `input` holds B x I values from `inputOffset`; `state` is
 * r̂_{t-1} (B x H) and may be the same array as out.state.
 */
export function stepInto(
  shape: RnnShape, params: RnnParams, batch: number,
  input: Float64Array, inputOffset: number, state: Float64Array,
  out: StepBuffers, perturbation?: StepPerturbation,
): void {
  // All of a is formed before the state is overwritten, so state may alias out.state.
  hiddenPre(shape, params, batch, input, inputOffset, state, out.a, perturbation);
  if (perturbation?.hiddenNoise) noise(out.a, perturbation.hiddenNoise);
  activate(shape.activation, out.a, out.r);
  decorrelate(shape, params.d, batch, out.r, out.state);
  outputs(shape, params, batch, out.state, out.y, perturbation?.outputNoise);
}

/**
 * One step of B sequences (pure; allocates the result): given r̂_{t-1} (B x H) and
 * u_t (B x I), returns a_t, r_t, the new state r̂_t and y_t.
 */
export function step(
  shape: RnnShape, params: RnnParams, batch: number, input: Float64Array, state: Float64Array, perturbation?: StepPerturbation,
): StepBuffers {
  const out = allocStep(shape, batch);
  stepInto(shape, params, batch, input, 0, state, out, perturbation);
  return out;
}

/** Traces of a run over T steps, each T x B x (H or O), time-major like a SequenceSet. */
export interface SequenceTrace {
  /** Outputs y, T x B x O. */
  outputs: Float64Array;
  /** Pre-activations a, T x B x H (only when traces were asked for). */
  pre?: Float64Array;
  /** States r̂_0..r̂_T, (T+1) x B x H, the first being the initial state (only with traces). */
  states?: Float64Array;
  /** r̂_T, B x H. */
  finalState: Float64Array;
}

/**
 * Run the clean network over `steps` steps of B sequences (inputs T x B x I from
 * `inputOffset`), from `initialState` (B x H; zeros when absent). With `keepTraces`
 * also returns the pre-activations and every state (for backpropagation).
 */
export function runSequence(
  shape: RnnShape, params: RnnParams, batch: number, inputs: Float64Array, inputOffset: number, steps: number,
  initialState?: Float64Array, keepTraces = false,
): SequenceTrace {
  const { inputs: I, hidden: H, outputs: O } = shape;
  const bh = batch * H;
  const buf = allocStep(shape, batch);
  if (initialState) buf.state.set(initialState);
  const outputs = new Float64Array(steps * batch * O);
  const pre = keepTraces ? new Float64Array(steps * bh) : undefined;
  const states = keepTraces ? new Float64Array((steps + 1) * bh) : undefined;
  states?.set(buf.state, 0);
  for (let t = 0; t < steps; t++) {
    stepInto(shape, params, batch, inputs, inputOffset + t * batch * I, buf.state, buf);
    outputs.set(buf.y, t * batch * O);
    pre?.set(buf.a, t * bh);
    states?.set(buf.state, (t + 1) * bh);
  }
  return { outputs, pre, states, finalState: buf.state };
}

/**
 * mat (rows x cols, row-major) += coef * sum_b delta_b pre_b^T, with delta B x rows
 * from `deltaOffset` and pre B x cols from `preOffset`. The outer-product update shared
 * by every learning rule and by backpropagation.
 */
export function addBatchOuter(
  mat: Float64Array, rows: number, cols: number, coef: number, batch: number,
  delta: Float64Array, deltaOffset: number, pre: Float64Array, preOffset: number,
): void {
  if (coef === 0) return;
  for (let b = 0; b < batch; b++) {
    const po = preOffset + b * cols;
    for (let i = 0; i < rows; i++) {
      const e = coef * delta[deltaOffset + b * rows + i];
      if (e === 0) continue;
      const mo = i * cols;
      for (let j = 0; j < cols; j++) mat[mo + j] += e * pre[po + j];
    }
  }
}

/**
 * Xavier-normal (Glorot) initialisation of W, R, V as in the reference (PyTorch
 * `xavier_normal_`): entries N(0, 2 / (fan_in + fan_out)), from a counter-based
 * stream of `seed` (uint32), so the same seed gives the same weights everywhere.
 */
export function xavierNormal(shape: RnnShape, seed: number): Params {
  validateShape(shape);
  const { inputs: I, hidden: H, outputs: O } = shape;
  const draw = (rows: number, cols: number, matrix: number): Float64Array => {
    const k = key(seed >>> 0, STREAM_INIT, matrix, 0);
    const std = Math.sqrt(2 / (rows + cols));
    const m = new Float64Array(rows * cols);
    for (let q = 0; q < m.length; q++) m[q] = std * unitNormal(k, q);
    return m;
  };
  return { w: draw(H, I, 0), r: draw(H, H, 1), v: draw(O, H, 2) };
}

/** Parameters with zero biases b (H) and c (O) added (a copy; W, R, V shared): the start of a network with topology.bias. */
export function withZeroBiases<P extends Params>(p: P, hidden: number, outputs: number): P {
  return { ...p, b: new Float64Array(hidden), c: new Float64Array(outputs) };
}

/** The initial weights of a network: Xavier from `seed`, with zero biases when it has them (`anpt train` and `anpt sweep` alike). */
export function initialParams(shape: RnnShape, seed: number, bias = false): Params {
  const p = xavierNormal(shape, seed);
  return bias ? withZeroBiases(p, shape.hidden, shape.outputs) : p;
}


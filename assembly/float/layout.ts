// Where each buffer of the float model lives in linear memory: the one description of
// the layout (the host asks for sizes and addresses, ptr and layout). Buffers that
// persist (weights, states, traces) come first, so a larger step capacity (the
// trace of a longer noisy chunk) only adds memory after them and moves nothing.

export const B_W = 0; // H x I
export const B_R = 1; // H x H
export const B_V = 2; // O x H
export const B_CLEAN = 3; // B x H, r̂ of the clean copy
export const B_NOISY = 4; // B x H
export const B_EW = 5; // H x I, eligibility trace of W
export const B_ER = 6; // H x H
export const B_GAIN = 7; // H
export const B_OFFSET = 8; // H
export const B_BH = 9; // H, hidden bias b (topology.bias; held whether or not a run uses it)
export const B_BO = 10; // O, output bias c
export const B_EB = 11; // H, eligibility trace of b
export const B_UT = 12; // THREADS x I x S   inputs of a step, transposed (S = 2B sequences: clean then noisy), one copy per thread
export const B_ST = 13; // H x S  states entering the step, transposed
export const B_AT = 14; // H x S  pre-activations
export const B_RT = 15; // H x S  new states
export const B_YT = 16; // O x S  outputs
export const B_DT = 17; // H x S  state differences (innovation trace)
export const B_ZT = 18; // H x S  their products with R or V
export const B_SCRATCH = 19; // 2 x max(H, O) x B  update coefficients (two layouts)
export const B_INPUTS = 20; // K x B x I (the trace's inputs)
export const B_OUT_CLEAN = 21; // K x B x O
export const B_OUT_NOISY = 22; // K x B x O
export const B_HIDDEN = 23; // K x B x H
export const B_STATES = 24; // (K+1) x B x H  clean r̂ before and after each step
export const B_DA = 25; // K x B x H  ã - a (or the recovered noise)
export const B_DY = 26; // K x B x O
export const B_DL = 27; // K  rewards
export const B_TANH = 28; // 5 x H x S  tanh's intermediate values
export const B_KEYS = 29; // THREADS x B  noise keys of a step (u64), one copy per thread
export const B_NORM = 30; // K  ||da_k||^2 of the last noisy chunk (formed in run, read by reward)
const COUNT = 31;

/** Most threads of the threads build (src/model/float-threads.ts starts 1 or 2): the per-thread buffers. */
export const THREADS = 2;

export let I = 0;
export let H = 0;
export let O = 0;
export let B = 0;
export let K = 0;
/** Whether the network has biases (b into the hidden pre-activations, c into the outputs; B_BH, B_BO, B_EB). */
export let BIAS = false;
/** Sequences of a noisy step (2B) and of a clean one (B rounded up to even). */
export let S2 = 0;
export let SC = 0;

const base = memory.data(COUNT * 8, 16);

// @ts-ignore: decorator
@inline
export function at(id: i32): usize {
  return load<usize>(base + (<usize>id << 3));
}

/** Values (f64) of buffer q. */
function size(q: i32): f64 {
  const i = <f64>I, h = <f64>H, o = <f64>O, b = <f64>B, k = <f64>K, s = <f64>S2;
  switch (q) {
    case B_W: case B_EW: return h * i;
    case B_R: case B_ER: return h * h;
    case B_V: return o * h;
    case B_CLEAN: case B_NOISY: return b * h;
    case B_GAIN: case B_OFFSET: case B_BH: case B_EB: return h;
    case B_BO: return o;
    case B_UT: return THREADS * i * s;
    case B_ST: case B_AT: case B_RT: case B_DT: case B_ZT: return h * s;
    case B_YT: return o * s;
    case B_SCRATCH: return 2 * (h > o ? h : o) * b;
    case B_INPUTS: return k * b * i;
    case B_OUT_CLEAN: case B_OUT_NOISY: case B_DY: return k * b * o;
    case B_HIDDEN: case B_DA: return k * b * h;
    case B_STATES: return (k + 1) * b * h;
    case B_TANH: return 5 * h * s;
    case B_KEYS: return THREADS * b;
    default: return k; // B_DL, B_NORM
  }
}

/**
 * The states the last run left in the transposed layout (step.ts): which layout, 2 S + 1
 * after a noisy run of S lanes and 2 S after a clean one (with B = 1 both have 2 lanes;
 * 0: none held, the next run transposes B_CLEAN and B_NOISY in), and whether they are
 * in B_RT rather than B_ST. Valid while the host has not written the
 * states (forget).
 */
export let held: usize = 0;
export let heldInRt = false;

export function hold(key: usize, inRt: bool): void {
  held = key;
  heldInRt = inRt;
}

/** The host wrote B_CLEAN or B_NOISY: the next run takes them from there. */
export function forget(): void {
  held = 0;
}

/** The sizes of a configuration (this instance's globals; the threads build's workers take them from thread 0's layout). */
export function dims(i: i32, h: i32, o: i32, b: i32, k: i32, bias: bool): void {
  I = i; H = h; O = o; B = b; K = k; BIAS = bias;
  held = 0;
  S2 = 2 * b;
  SC = b + (b & 1);
}

/** Compute the layout of a configuration (bias: the network has biases); returns the bytes of memory it needs. */
export function layout(i: i32, h: i32, o: i32, b: i32, k: i32, bias: bool): f64 {
  dims(i, h, o, b, k, bias);
  let p = <f64>((__heap_base + 15) & ~15);
  for (let q = 0; q < COUNT; q++) {
    store<usize>(base + (<usize>q << 3), <usize>p);
    p += Math.ceil(size(q) / 2) * 16;
  }
  return p;
}

/** Address of buffer id (after layout). */
export function ptr(id: i32): usize {
  return at(id);
}

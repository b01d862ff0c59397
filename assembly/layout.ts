// Where each buffer lives in linear memory: the one description of the layout (the
// host asks the kernel for sizes and addresses, chip.ts ptr* and layoutBytes). Rows
// are padded to 8 int16 lanes so the SIMD path reads whole v128s; padding lanes hold
// zeros and never change results.

import { MAX_THREADS } from './threads';

/** Largest second trace bank (bytes) the threads build lays out. */
const BANK_LIMIT: u64 = 1 << 20;

// @ts-ignore: decorator
@inline
export function pad8(n: i32): i32 {
  return (n + 7) & ~7;
}

// @ts-ignore: decorator
@inline
function align16(n: u64): u64 {
  return (n + 15) & ~(<u64>15);
}

@unmanaged
export class Layout {
  I: i32 = 0;
  H: i32 = 0;
  O: i32 = 0;
  B: i32 = 0;
  K: i32 = 0;
  Ip: i32 = 0;
  Hp: i32 = 0;
  // int16 buffers
  w: usize = 0; // H x Ip
  r: usize = 0; // H x Hp
  v: usize = 0; // O x Hp
  xs: usize = 0; // K x B x Ip      inputs of each step (trace)
  state: usize = 0; // B x Hp       clean activity carried between chunks
  rs: usize = 0; // (K+1) x B x Hp  clean activity before/after each step of the chunk (trace)
  rn: usize = 0; // 2 x B x Hp      noisy activity, ping-pong; rn[0] is the state
  inputs: usize = 0; // K x B x I   staging for run inputs
  outClean: usize = 0; // K x B x O
  outNoisy: usize = 0; // K x B x O
  hidden: usize = 0; // K x B x H
  staging: usize = 0; // max tensor, int16, for parameter IO
  // int32 buffers
  da: usize = 0; // K x B x H
  dy: usize = 0; // K x B x O
  pre: usize = 0; // 2 x B x H      pre-activation codes of both copies, current step
  gain: usize = 0; // H
  offset: usize = 0; // H
  mant: usize = 0; // B x max(Hp, O) mantissas of one layer's update (int16)
  scratch: usize = 0; // interleaved presynaptic pairs + mantissa pairs of the SIMD update
  scratchBytes: usize = 0; // one scratch region; the threads build has three per thread (threads.ts, chip.ts)
  // the second trace bank of the threads build (chip.ts run): 0 when not laid out
  xs2: usize = 0; // K x B x Ip
  rs2: usize = 0; // (K+1) x B x Hp
  sums: usize = 0; // 2 banks x K x MAX_THREADS x 4 i64: each thread's sums of squares and maxima of da, dy
  // f64 buffers
  rewards: usize = 0; // K
  // bias registers (int16), laid out after everything else and only with biases (0 without)
  bb: usize = 0; // H      hidden bias b, pre-activation codes
  bc: usize = 0; // O      output bias c, output codes
  // eligibility traces (int32), after the biases and only with a learner trace (0 without)
  ew: usize = 0; // H x Ip  trace of W
  er: usize = 0; // H x Hp  trace of R
  eb: usize = 0; // H       trace of b (with biases)
  corr: usize = 0; // B x H recurrent correction of the step (innovation trace)
  end: usize = 0;

  /**
   * Compute offsets from `base`; returns the end address. Sizes are added in 64 bits,
   * so a layout beyond the 32-bit address space is measured, not wrapped (the caller
   * refuses it before using the offsets). Allocates nothing.
   */
  plan(base: usize, I: i32, H: i32, O: i32, B: i32, K: i32, bias: bool, elig: i32 = 0): u64 {
    this.I = I;
    this.H = H;
    this.O = O;
    this.B = B;
    this.K = K;
    const Ip = pad8(I);
    const Hp = pad8(H);
    this.Ip = Ip;
    this.Hp = Hp;
    const i = <u64>I, h = <u64>H, o = <u64>O, b = <u64>B, k = <u64>K, ip = <u64>Ip, hp = <u64>Hp;
    let p = align16(<u64>base);
    this.w = <usize>p; p = align16(p + h * ip * 2);
    this.r = <usize>p; p = align16(p + h * hp * 2);
    this.v = <usize>p; p = align16(p + o * hp * 2);
    this.xs = <usize>p; p = align16(p + k * b * ip * 2);
    this.state = <usize>p; p = align16(p + b * hp * 2);
    this.rs = <usize>p; p = align16(p + (k + 1) * b * hp * 2);
    this.rn = <usize>p; p = align16(p + 2 * b * hp * 2);
    this.inputs = <usize>p; p = align16(p + k * b * i * 2);
    this.outClean = <usize>p; p = align16(p + k * b * o * 2);
    this.outNoisy = <usize>p; p = align16(p + k * b * o * 2);
    this.hidden = <usize>p; p = align16(p + k * b * h * 2);
    let big = h * i;
    if (h * h > big) big = h * h;
    if (o * h > big) big = o * h;
    if (b * h > big) big = b * h;
    // int16 tensors, or the int32 traces of a chip with a learner trace
    this.staging = <usize>p; p = align16(p + big * (elig != 0 ? 4 : 2));
    this.da = <usize>p; p = align16(p + k * b * h * 4);
    this.dy = <usize>p; p = align16(p + k * b * o * 4);
    this.pre = <usize>p; p = align16(p + 2 * b * h * 4);
    this.gain = <usize>p; p = align16(p + h * 4);
    this.offset = <usize>p; p = align16(p + h * 4);
    const mrow = hp > o ? hp : o;
    this.mant = <usize>p; p = align16(p + b * mrow * 2);
    const P = (b + 1) >> 1;
    const maxStride = ip > hp ? ip : hp;
    const scratchBytes = align16(P * 2 * maxStride * 2 + P * 16 + b * 4);
    // the threads build: per thread three (W, R, V: the dynamic split prepares each once per step, chip.ts)
    this.scratch = <usize>p; p += scratchBytes * <u64>(ASC_FEATURE_THREADS ? 3 * MAX_THREADS : 1);
    this.scratchBytes = <usize>scratchBytes;
    // a second bank of the traces an update reads (inputs, clean activity) and the
    // per-thread sums, so that a run can overlap the update of the chunk before
    // (threads build, chips whose bank is small: at large K that overlap gains nothing)
    const bankBytes = k * b * ip * 2 + (k + 1) * b * hp * 2 + 2 * k * <u64>MAX_THREADS * 32 + 48;
    this.xs2 = 0; this.rs2 = 0; this.sums = 0;
    if (ASC_FEATURE_THREADS && bankBytes <= BANK_LIMIT) {
      this.xs2 = <usize>p; p = align16(p + k * b * ip * 2);
      this.rs2 = <usize>p; p = align16(p + (k + 1) * b * hp * 2);
      this.sums = <usize>p; p = align16(p + 2 * k * <u64>MAX_THREADS * 32);
    }
    this.rewards = <usize>p; p = align16(p + k * 8);
    this.bb = 0; this.bc = 0;
    if (bias) {
      this.bb = <usize>p; p = align16(p + h * 2);
      this.bc = <usize>p; p = align16(p + o * 2);
    }
    this.ew = 0; this.er = 0; this.eb = 0; this.corr = 0;
    if (elig != 0) {
      this.ew = <usize>p; p = align16(p + h * ip * 4);
      this.er = <usize>p; p = align16(p + h * hp * 4);
      if (bias) { this.eb = <usize>p; p = align16(p + h * 4); }
      if (elig == 2) { this.corr = <usize>p; p = align16(p + b * h * 4); }
    }
    this.end = <usize>p;
    return p;
  }
}

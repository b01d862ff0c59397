// The O(H^2) part of the ANP-T update, a batch outer product added to a weight matrix:
// w_ij = ovf(w_ij + sat16(rshift(sum_b m_bi * pre_bj, s))) (the float model's addBatchOuter).
// Mantissas m (int16, |m| < 2^14) come from plasticity.ts; see docs/kernel.md.
import { Fmt, RND_FLOOR, RND_NEAREST, RND_STOCHASTIC, ovf, rshift } from './fixed';
import { lowbias32 } from './rng';

/**
 * Row skipping (same bits either way; off for benchmarks at equal work) and its
 * counters: rows of a layer update visited, and of those skipped as unable to change.
 * The scalar build visits every row.
 */
let rowSkip = true;
/** The scratch already holds the interleaved presynaptic pairs and maxima (prepareBatchOuter): addBatchOuter's current call skips making them. */
let prepared = false;
let rowsTotal: u64 = 0;
let rowsSkipped: u64 = 0;
export function setRowSkip(on: bool): void { rowSkip = on; }
/** This thread's counts (chip.ts rowSkipCounts adds the other threads'). */
export function ownRowCounts(skipped: bool): u64 {
  return skipped ? rowsSkipped : rowsTotal;
}
/** This thread's counts since the last call (the other threads hand them to thread 0, threads.ts). */
export function takeOwnRowCounts(skipped: bool): u64 {
  const n = skipped ? rowsSkipped : rowsTotal;
  if (skipped) rowsSkipped = 0;
  else rowsTotal = 0;
  return n;
}

/**
 * Update `rows` weight rows of `rowStride` int16 (the first `cols` real).
 * mant: rows x B int16 (neuron-major); pre: B x preStride int16. row0: the matrix row
 * of wt's first row (the stochastic rounding bits are keyed by the matrix row).
 */
export function addBatchOuter(
  wt: usize, rows: i32, cols: i32, rowStride: i32,
  mant: usize, B: i32,
  pre: usize, preStride: i32,
  s: i32, f: Fmt, rndKey: u32, scratch: usize, row0: i32 = 0, ready: bool = false,
): void {
  if (rows <= 0) return;
  prepared = ready;
  if (ASC_FEATURE_SIMD) {
    applySimd(wt, rows, cols, rowStride, mant, B, pre, preStride, s, f, rndKey, scratch, row0);
  } else {
    applyScalar(wt, rows, cols, rowStride, mant, B, pre, preStride, s, f, rndKey, row0);
  }
}

function applyScalar(
  wt: usize, rows: i32, cols: i32, rowStride: i32,
  mant: usize, B: i32, pre: usize, preStride: i32,
  s: i32, f: Fmt, rndKey: u32, row0: i32,
): void {
  const stoch = f.rounding == RND_STOCHASTIC;
  rowsTotal += <u64>rows;
  for (let i = 0; i < rows; i++) {
    const row = wt + ((<usize>i * rowStride) << 1);
    const mrow = mant + ((<usize>i * B) << 1);
    for (let j = 0; j < cols; j++) {
      let p: i32 = 0;
      for (let b = 0; b < B; b++) {
        p += <i32>load<i16>(mrow + (<usize>b << 1)) * <i32>load<i16>(pre + ((<usize>b * preStride + j) << 1));
      }
      const rnd: u32 = stoch ? lowbias32(rndKey ^ <u32>((row0 + i) * cols + j)) : 0;
      let d = rshift(<i64>p, s, f.rounding, rnd);
      d = d > 32767 ? 32767 : d < -32768 ? -32768 : d; // the step's change is saturated to int16
      const o = row + (<usize>j << 1);
      store<i16>(o, <i16>ovf(<i64>load<i16>(o) + d, f));
    }
  }
}

function applySimd(
  wt: usize, rows: i32, cols: i32, rowStride: i32,
  mant: usize, B: i32, pre: usize, preStride: i32,
  s: i32, f: Fmt, rndKey: u32, scratch: usize, row0: i32,
): void {
  // One specialised loop per (rounding, overflow, B = 1 or not): the branches fold away
  // after inlining.
  const wrap = f.wrap;
  const mode = s == 0 ? -1 : f.rounding;
  if (mode == RND_NEAREST) {
    if (wrap) rowsBatch(wt, rows, cols, rowStride, mant, B, pre, preStride, s, f, rndKey, scratch, RND_NEAREST, true, row0);
    else rowsBatch(wt, rows, cols, rowStride, mant, B, pre, preStride, s, f, rndKey, scratch, RND_NEAREST, false, row0);
  } else if (mode == RND_FLOOR) {
    if (wrap) rowsBatch(wt, rows, cols, rowStride, mant, B, pre, preStride, s, f, rndKey, scratch, RND_FLOOR, true, row0);
    else rowsBatch(wt, rows, cols, rowStride, mant, B, pre, preStride, s, f, rndKey, scratch, RND_FLOOR, false, row0);
  } else if (mode == RND_STOCHASTIC) {
    if (wrap) rowsBatch(wt, rows, cols, rowStride, mant, B, pre, preStride, s, f, rndKey, scratch, RND_STOCHASTIC, true, row0);
    else rowsBatch(wt, rows, cols, rowStride, mant, B, pre, preStride, s, f, rndKey, scratch, RND_STOCHASTIC, false, row0);
  } else {
    if (wrap) rowsBatch(wt, rows, cols, rowStride, mant, B, pre, preStride, 0, f, rndKey, scratch, -1, true, row0);
    else rowsBatch(wt, rows, cols, rowStride, mant, B, pre, preStride, 0, f, rndKey, scratch, -1, false, row0);
  }
}

/** rowsSimd with B = 1 as a constant (its branches fold away), or any B. */
// @ts-ignore: decorator
@inline
function rowsBatch(
  wt: usize, rows: i32, cols: i32, rowStride: i32,
  mant: usize, B: i32, pre: usize, preStride: i32,
  s: i32, f: Fmt, rndKey: u32, scratch: usize, mode: i32, wrap: bool, row0: i32,
): void {
  if (B == 1) rowsSimd(wt, rows, cols, rowStride, mant, 1, pre, preStride, s, f, rndKey, scratch, mode, wrap, row0);
  else rowsSimd(wt, rows, cols, rowStride, mant, B, pre, preStride, s, f, rndKey, scratch, mode, wrap, row0);
}

// @ts-ignore: decorator
@inline
function rowsSimd(
  wt: usize, rows: i32, cols: i32, rowStride: i32,
  mant: usize, B: i32, pre: usize, preStride: i32,
  s: i32, f: Fmt, rndKey: u32, scratch: usize, mode: i32, wrap: bool, row0: i32,
): void {
  const halfV = i32x4.splat(s > 0 ? (1 << (s - 1)) - 1 : 0);
  const bitS = i32x4.splat(s > 0 && s < 31 ? 1 << s : 0);
  const mask = i32x4.splat((1 << s) - 1);
  const narrow16 = f.bits < 16;
  const lo = i16x8.splat(<i16>f.min);
  const hi = i16x8.splat(<i16>f.max);
  const wrapSh = 16 - f.bits;
  const lane = i32x4(0, 1, 2, 3);
  const four = i32x4.splat(4);
  const k1 = i32x4.splat(0x7FEB352D);
  const k2 = i32x4.splat(<i32>0x846CA68B);
  const keyV = i32x4.splat(<i32>rndKey);
  // B >= 2: sequences in pairs, interleaved, so one i32x4.dot_i16x8_s does two
  // multiply-adds per lane (exact: |m x| < 2^29 and the sum over b fits in int32).
  const P = (B + 1) >> 1;
  if (B >= 2 && !prepared) interleave(pre, preStride, B, rowStride, scratch);
  const mpv = scratch + ((<usize>P * 2 * rowStride) << 1);
  // A row whose every change is zero is skipped (same bits, less work): |p_ij| <=
  // bound_i = sum_b |m_bi| * max_j |pre_bj|, and nearest rounding sends |p| <= 2^(s-1)
  // to 0; floor and stochastic send p = 0 to 0.
  // xmax_b = max_j |pre_bj| <= 32768 as uint16 lanes, so the bound takes 8 sequences per
  // instruction: |m| < 2^14, each product < 2^29, and the sum is formed in int64
  const xmax = mpv + (<usize>P << 4);
  if (rowSkip && !prepared) presynapticMax(pre, preStride, B, rowStride, xmax);
  const zeroBelow: i64 = mode == RND_NEAREST ? (<i64>1 << <i64>(s - 1)) : 0;
  const skip = rowSkip;
  rowsTotal += <u64>rows;
  for (let i = 0; i < rows; i++) {
    const row = wt + ((<usize>i * rowStride) << 1);
    const mrow = mant + ((<usize>i * B) << 1);
    if (skip) {
      let acc = i64x2.splat(0);
      let b = 0;
      for (; b + 7 < B; b += 8) {
        const m = i16x8.abs(v128.load(mrow + (<usize>b << 1)));
        const x = v128.load(xmax + (<usize>b << 1));
        const p = i32x4.add(i32x4.extmul_low_i16x8_u(m, x), i32x4.extmul_high_i16x8_u(m, x));
        acc = i64x2.add(acc, i64x2.add(i64x2.extend_low_i32x4_u(p), i64x2.extend_high_i32x4_u(p)));
      }
      let bound: i64 = i64x2.extract_lane(acc, 0) + i64x2.extract_lane(acc, 1);
      for (; b < B; b++) {
        const m = <i32>load<i16>(mrow + (<usize>b << 1));
        bound += <i64>(m < 0 ? -m : m) * <i64>load<u16>(xmax + (<usize>b << 1));
      }
      if (bound <= zeroBelow) {
        rowsSkipped++;
        continue;
      }
    }
    const m0 = i16x8.splat(load<i16>(mrow));
    if (B >= 2) {
      for (let q = 0; q < P; q++) {
        const lo16 = <i32>load<u16>(mrow + (<usize>(2 * q) << 1));
        const hi16 = 2 * q + 1 < B ? <i32>load<i16>(mrow + (<usize>(2 * q + 1) << 1)) : 0;
        v128.store(mpv + (<usize>q << 4), i32x4.splat((hi16 << 16) | lo16));
      }
    }
    let j = 0;
    // B = 1: 16 weights per iteration (two independent blocks of 8)
    if (B == 1) for (; j + 15 < rowStride; j += 16) {
      block8(row, j, row0 + i, cols, rowStride, m0, B, P, mpv, pre, scratch, s, mode, wrap, narrow16, wrapSh, lo, hi, halfV, bitS, mask, lane, four, k1, k2, keyV);
      block8(row, j + 8, row0 + i, cols, rowStride, m0, B, P, mpv, pre, scratch, s, mode, wrap, narrow16, wrapSh, lo, hi, halfV, bitS, mask, lane, four, k1, k2, keyV);
    }
    for (; j < rowStride; j += 8)
      block8(row, j, row0 + i, cols, rowStride, m0, B, P, mpv, pre, scratch, s, mode, wrap, narrow16, wrapSh, lo, hi, halfV, bitS, mask, lane, four, k1, k2, keyV);
  }
}

/** Weights j .. j + 7 of (matrix) row i: the changes p, rounded and saturated, added (rowsSimd's loop body). */
// @ts-ignore: decorator
@inline
function block8(
  row: usize, j: i32, i: i32, cols: i32, rowStride: i32, m0: v128, B: i32, P: i32, mpv: usize, pre: usize, scratch: usize,
  s: i32, mode: i32, wrap: bool, narrow16: bool, wrapSh: i32, lo: v128, hi: v128,
  halfV: v128, bitS: v128, mask: v128, lane: v128, four: v128, k1: v128, k2: v128, keyV: v128,
): void {
    let pl: v128, ph: v128;
    if (B == 1) {
      const x0 = v128.load(pre + (<usize>j << 1));
      pl = i32x4.extmul_low_i16x8_s(m0, x0);
      ph = i32x4.extmul_high_i16x8_s(m0, x0);
    } else {
      pl = i32x4.splat(0);
      ph = i32x4.splat(0);
      for (let q = 0; q < P; q++) {
        const mp = v128.load(mpv + (<usize>q << 4));
        const src = scratch + ((<usize>(q * 2 * rowStride + 2 * j)) << 1);
        pl = i32x4.add(pl, i32x4.dot_i16x8_s(mp, v128.load(src)));
        ph = i32x4.add(ph, i32x4.dot_i16x8_s(mp, v128.load(src + 16)));
      }
    }
    if (mode == RND_FLOOR) {
      pl = i32x4.shr_s(pl, s);
      ph = i32x4.shr_s(ph, s);
    } else if (mode == RND_STOCHASTIC) {
      // lowbias32(key ^ (i*cols + j + lane)); padding lanes have p = 0 and stay 0.
      const base = i32x4.add(i32x4.splat(i * cols + j), lane);
      pl = i32x4.shr_s(i32x4.add(pl, v128.and(hash4(v128.xor(keyV, base), k1, k2), mask)), s);
      ph = i32x4.shr_s(i32x4.add(ph, v128.and(hash4(v128.xor(keyV, i32x4.add(base, four)), k1, k2), mask)), s);
    } else if (mode == RND_NEAREST) {
      // (p + 2^(s-1) - 1 + bit s of p) >> s, the bit as a compare mask (-1 where set):
      // one shift by the variable s per vector instead of two
      pl = i32x4.shr_s(i32x4.sub(i32x4.add(pl, halfV), i32x4.eq(v128.and(pl, bitS), bitS)), s);
      ph = i32x4.shr_s(i32x4.sub(i32x4.add(ph, halfV), i32x4.eq(v128.and(ph, bitS), bitS)), s);
    }
    // the step's change, saturated to int16 (narrow saturates), then added
    const d = i16x8.narrow_i32x4_s(pl, ph);
    v128.store(row + (<usize>j << 1), addWeights(v128.load(row + (<usize>j << 1)), d, wrap, narrow16, wrapSh, lo, hi));
}

/** ovf(w + d, f) of 8 int16 lanes: wrap at f.bits (sh = 16 - f.bits), or saturate to [lo, hi] (also trace.ts's). */
// @ts-ignore: decorator
@inline
export function addWeights(w: v128, d: v128, wrap: bool, narrow16: bool, sh: i32, lo: v128, hi: v128): v128 {
  if (wrap) return narrow16 ? i16x8.shr_s(i16x8.shl(i16x8.add(w, d), sh), sh) : i16x8.add(w, d);
  return narrow16 ? i16x8.min_s(i16x8.max_s(i16x8.add_sat_s(w, d), lo), hi) : i16x8.add_sat_s(w, d);
}

/** xmax_b = max_j |pre_bj| (rowsSimd's bound on a row's changes), B uint16. */
function presynapticMax(pre: usize, preStride: i32, B: i32, rowStride: i32, xmax: usize): void {
  for (let b = 0; b < B; b++) store<u16>(xmax + (<usize>b << 1), <u16>maxAbs16(pre + ((<usize>b * preStride) << 1), rowStride));
}

/**
 * What rowsSimd makes of the presynaptic rows before its first row (the interleaved
 * pairs, the maxima of row skipping), into scratch once, for several addBatchOuter
 * calls over blocks of rows of the same matrix and step (ready = true): the dynamic
 * split of chip.ts updates a matrix block by block.
 */
export function prepareBatchOuter(pre: usize, preStride: i32, B: i32, rowStride: i32, scratch: usize): void {
  if (!ASC_FEATURE_SIMD) return;
  const P = (B + 1) >> 1;
  if (B >= 2) interleave(pre, preStride, B, rowStride, scratch);
  if (rowSkip) presynapticMax(pre, preStride, B, rowStride, scratch + ((<usize>P * 2 * rowStride) << 1) + (<usize>P << 4));
}

/** max_j |x_j| over n int16 lanes (n a multiple of 8; padding lanes are 0). */
function maxAbs16(x: usize, n: i32): i32 {
  if (ASC_FEATURE_SIMD) {
    // abs(-32768) wraps to 0x8000, which is right when read unsigned: max_u
    let m = i16x8.splat(0);
    for (let j = 0; j < n; j += 8) m = i16x8.max_u(m, i16x8.abs(v128.load(x + (<usize>j << 1))));
    m = i16x8.max_u(m, i8x16.shuffle(m, m, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
    m = i16x8.max_u(m, i8x16.shuffle(m, m, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3));
    m = i16x8.max_u(m, i8x16.shuffle(m, m, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1));
    return <i32>i16x8.extract_lane_u(m, 0);
  } else {
    let m: i32 = 0;
    for (let j = 0; j < n; j++) {
      let v = <i32>load<i16>(x + (<usize>j << 1));
      if (v < 0) v = -v;
      if (v > m) m = v;
    }
    return m;
  }
}

/** scratch[q][2j + e] = pre[2q + e][j] (zero for the missing partner of an odd B). */
function interleave(pre: usize, preStride: i32, B: i32, cols: i32, scratch: usize): void {
  const P = (B + 1) >> 1;
  for (let q = 0; q < P; q++) {
    const a = pre + ((<usize>(2 * q) * preStride) << 1);
    const hasB = 2 * q + 1 < B;
    const b = pre + ((<usize>(2 * q + 1) * preStride) << 1);
    const dst = scratch + ((<usize>q * 2 * cols) << 1);
    for (let j = 0; j < cols; j += 8) {
      const va = v128.load(a + (<usize>j << 1));
      const vb = hasB ? v128.load(b + (<usize>j << 1)) : i32x4.splat(0);
      v128.store(dst + (<usize>(2 * j) << 1), i16x8.shuffle(va, vb, 0, 8, 1, 9, 2, 10, 3, 11));
      v128.store(dst + (<usize>(2 * j + 8) << 1), i16x8.shuffle(va, vb, 4, 12, 5, 13, 6, 14, 7, 15));
    }
  }
}

/** lowbias32 lane by lane (rng.ts); k1, k2: its two constants splatted (also trace.ts's). */
// @ts-ignore: decorator
@inline
export function hash4(x: v128, k1: v128, k2: v128): v128 {
  x = v128.xor(x, i32x4.shr_u(x, 16));
  x = i32x4.mul(x, k1);
  x = v128.xor(x, i32x4.shr_u(x, 15));
  x = i32x4.mul(x, k2);
  return v128.xor(x, i32x4.shr_u(x, 16));
}

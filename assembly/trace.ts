// Eligibility traces on the chip (docs/kernel.md, "Eligibility traces"), the float
// model's traced update (src/model/float-device.ts update) in integer codes: int32
// traces E of the normalised updates, decayed by a Q16 factor, and the weights moved
// along them with one block-floating factor per layer and step.
import { Chip } from './context';
import { Fmt, RND_FLOOR, RND_NEAREST, RND_STOCHASTIC, ovf, rshift } from './fixed';
import { lowbias32 } from './rng';
import { pow2 } from './plasticity';
import { addWeights, hash4, prepareBatchOuter } from './batch-outer';

export const TRACE_NONE: i32 = 0;
export const TRACE_ACTIVITY: i32 = 1;
export const TRACE_INNOVATION: i32 = 2;

const I32_MAX: i64 = 2147483647;
const I32_MIN: i64 = -2147483648;

/** floor(log2 |x|) from the binary64 exponent field (-1023 for 0 and subnormals). */
// @ts-ignore: decorator
@inline
function exponentOf(x: f64): i32 {
  return <i32>((reinterpret<u64>(x) >> 52) & 0x7ff) - 1023;
}

// @ts-ignore: decorator
@inline
export function sat32(x: i64): i64 {
  return x > I32_MAX ? I32_MAX : x < I32_MIN ? I32_MIN : x;
}

/** At configure: the trace kind, the decay's Q16 code and the scale exponents T_W, T_R, T_b (src/format/trace.ts). */
export function configureTraces(c: Chip, elig: i32, decay: f64, sigmaHiddenLsb: f64): void {
  c.elig = elig;
  let q = nearest<f64>(decay * 65536.0);
  q = q < 0.0 ? 0.0 : q > 65535.0 ? 65535.0 : q;
  c.decayQ = <i64>q;
  const sigma = sigmaHiddenLsb > 1.0 ? sigmaHiddenLsb : 1.0;
  const e = exponentOf(<f64>c.L.H * sigma * <f64>(<i64>65536 - c.decayQ));
  c.tW = clampT(e + 11 - c.fIn.bits);
  c.tR = clampT(e + 11 - c.fAct.bits);
  c.tB = clampT(e + 10);
}

function clampT(t: i32): i32 {
  return t < 0 ? 0 : t > 48 ? 48 : t;
}

/** The apply step's factor mu of f (applyShift's result with it); 0 when skipped. */
let applyMu: i64 = 0;

/**
 * sf for the factor f of "w += rshift(mu * E, sf)", mu into applyMu; -1 when the layer
 * does not move. sf <= 30, as the plain update's shift: stochastic rounding draws 32
 * random bits, so a larger shift would round down (floor) instead of without bias;
 * a tiny f then keeps fewer bits in mu (at 8-bit weights about 8).
 */
function applyShift(f: f64): i32 {
  applyMu = 0;
  if (!(f != 0.0) || !isFinite(f)) return -1;
  const ef = exponentOf(Math.abs(f));
  if (ef == -1023) return -1; // subnormal: far below one LSB
  const sf = ef > 14 ? 0 : ef < -16 ? 30 : 14 - ef;
  let m = nearest<f64>(f * pow2(sf));
  m = m > 2147483647.0 ? 2147483647.0 : m < -2147483647.0 ? -2147483647.0 : m;
  if (m == 0.0) return -1;
  applyMu = <i64>m;
  return sf;
}

/** One weight (or bias): w = ovf(w + sat16(rshift(mu * e, sf, mode, rnd)), f); mode: the weights' rounding. */
// @ts-ignore: decorator
@inline
function moveWeight(p: usize, e: i64, mu: i64, sf: i32, mode: i32, f: Fmt, rnd: u32): void {
  let d = rshift(mu * e, sf, mode, rnd);
  d = d > 32767 ? 32767 : d < -32768 ? -32768 : d;
  store<i16>(p, <i16>ovf(<i64>load<i16>(p) + d, f));
}

/**
 * Rows [i0, i1) of one traced matrix: E_ij = sat32(rshift(E_ij lq, 16) + q_ij) with
 * q_ij = rshift(sum_b m_bi pre_bj, s) (q = 0 when s < 0: no new term), then
 * w_ij += rshift(mu E_ij, sf) with the weights' rounding (no move when sf < 0).
 * E: rows of eStride int32; w: rows of wStride int16; mant: L.mant (neuron-major, B per row).
 * The SIMD build takes 8 entries at a time (traceSimd), the same bits, with pre's rows
 * interleaved in pairs into scratch (batch-outer.ts prepareBatchOuter; ready: already there).
 */
export function traceRows(
  c: Chip, E: usize, w: usize, stride: i32, cols: i32, pre: usize, preStride: i32,
  s: i32, f: f64, rndKey: u32, i0: i32, i1: i32, scratch: usize, ready: bool,
): void {
  const B = c.L.B, mant = c.L.mant, lq = c.decayQ, fW = c.fW;
  const sf = applyShift(f), mu = applyMu;
  if (ASC_FEATURE_SIMD) {
    // one specialised loop per apply rounding (-1: none, sf = 0) and overflow
    const mode = sf == 0 ? -1 : fW.rounding;
    if (fW.wrap) {
      if (mode == RND_NEAREST) traceSimd(c, E, w, stride, cols, pre, preStride, s, sf, mu, rndKey, i0, i1, scratch, ready, RND_NEAREST, true);
      else if (mode == RND_FLOOR) traceSimd(c, E, w, stride, cols, pre, preStride, s, sf, mu, rndKey, i0, i1, scratch, ready, RND_FLOOR, true);
      else if (mode == RND_STOCHASTIC) traceSimd(c, E, w, stride, cols, pre, preStride, s, sf, mu, rndKey, i0, i1, scratch, ready, RND_STOCHASTIC, true);
      else traceSimd(c, E, w, stride, cols, pre, preStride, s, sf, mu, rndKey, i0, i1, scratch, ready, -1, true);
    } else {
      if (mode == RND_NEAREST) traceSimd(c, E, w, stride, cols, pre, preStride, s, sf, mu, rndKey, i0, i1, scratch, ready, RND_NEAREST, false);
      else if (mode == RND_FLOOR) traceSimd(c, E, w, stride, cols, pre, preStride, s, sf, mu, rndKey, i0, i1, scratch, ready, RND_FLOOR, false);
      else if (mode == RND_STOCHASTIC) traceSimd(c, E, w, stride, cols, pre, preStride, s, sf, mu, rndKey, i0, i1, scratch, ready, RND_STOCHASTIC, false);
      else traceSimd(c, E, w, stride, cols, pre, preStride, s, sf, mu, rndKey, i0, i1, scratch, ready, -1, false);
    }
    return;
  }
  const stoch = fW.rounding == RND_STOCHASTIC;
  for (let i = i0; i < i1; i++) {
    const eRow = E + ((<usize>i * stride) << 2);
    const wRow = w + ((<usize>i * stride) << 1);
    const mRow = mant + ((<usize>i * B) << 1);
    for (let j = 0; j < cols; j++) {
      let q: i64 = 0;
      if (s >= 0) {
        let p: i32 = 0;
        for (let b = 0; b < B; b++) p += <i32>load<i16>(mRow + (<usize>b << 1)) * <i32>load<i16>(pre + ((<usize>b * preStride + j) << 1));
        q = rshift(<i64>p, s, RND_NEAREST, 0);
      }
      const ep = eRow + (<usize>j << 2);
      const e = sat32(rshift(<i64>load<i32>(ep) * lq, 16, RND_NEAREST, 0) + q);
      store<i32>(ep, <i32>e);
      if (sf >= 0) moveWeight(wRow + (<usize>j << 1), e, mu, sf, fW.rounding, fW, stoch ? lowbias32(rndKey ^ <u32>(i * cols + j)) : 0);
    }
  }
}

/**
 * traceRows in the SIMD build: entries j .. j + 7 of a row at a time, up to the padded
 * stride (padding: pre 0, so q 0, E stays 0 and moves no weight in every rounding).
 * p in i32x4 lanes (exact: |m| < 2^M, B 2^M 2^15 <= 2^29), pairs of b by
 * i32x4.dot_i16x8_s; E lq and mu E in i64x2 lanes, clamped before the final shift so
 * that the low 32 bits of a logical shift are the result. mode: the apply's rounding
 * (-1: sf = 0, no rounding), a constant after inlining, as wrap.
 */
// @ts-ignore: decorator
@inline
function traceSimd(
  c: Chip, E: usize, w: usize, stride: i32, cols: i32, pre: usize, preStride: i32,
  s: i32, sf: i32, mu: i64, rndKey: u32, i0: i32, i1: i32, scratch: usize, ready: bool, mode: i32, wrap: bool,
): void {
  const B = c.L.B, mant = c.L.mant, fW = c.fW;
  const term = s >= 0, move = sf >= 0;
  // scratch[q][2j + e] = pre[2q + e][j], a zero partner for an odd B
  if (term && B >= 2 && !ready) prepareBatchOuter(pre, preStride, B, stride, scratch);
  const pairs = B >> 1, pairBytes = <usize>stride << 2;
  // q: (p + 2^(s-1) - 1 + bit s of p) >> s, the bit as a compare mask (-1 where set)
  const halfQ = i32x4.splat(s > 0 ? (1 << (s - 1)) - 1 : 0);
  const bitQ = i32x4.splat(s > 0 ? 1 << s : 0);
  const lqV = i32x4.splat(<i32>c.decayQ);
  const muV = i32x4.splat(<i32>mu);
  // the apply's rounding offset and bit sf; the clamp [-2^(15+sf), 2^(15+sf) - 1] is sat16 before the shift
  const sfs = move ? sf : 0;
  const halfA = i64x2.splat(sfs > 0 ? (<i64>1 << <i64>(sfs - 1)) - 1 : 0);
  const bitA = i64x2.splat(<i64>1 << <i64>sfs);
  const maskA = i32x4.splat(<i32>((<u32>1 << <u32>sfs) - 1));
  const hiA = i64x2.splat((<i64>1 << <i64>(15 + sfs)) - 1);
  const loA = i64x2.splat(-(<i64>1 << <i64>(15 + sfs)));
  const lo = i16x8.splat(<i16>fW.min), hi = i16x8.splat(<i16>fW.max);
  const narrow16 = fW.bits < 16, wrapSh = 16 - fW.bits;
  const keyV = i32x4.splat(<i32>rndKey), k1 = i32x4.splat(0x7FEB352D), k2 = i32x4.splat(<i32>0x846CA68B);
  for (let i = i0; i < i1; i++) {
    const eRow = E + ((<usize>i * stride) << 2);
    const wRow = w + ((<usize>i * stride) << 1);
    const mRow = mant + ((<usize>i * B) << 1);
    for (let j = 0; j < stride; j += 8) {
      const ep = eRow + (<usize>j << 2);
      let e0 = decay(v128.load(ep), lqV), e1 = decay(v128.load(ep, 16), lqV);
      if (term) {
        let pl = i32x4.splat(0), ph = i32x4.splat(0);
        if (B == 1) {
          const m = v128.load16_splat(mRow);
          const xa = v128.load(pre + (<usize>j << 1));
          pl = i32x4.extmul_low_i16x8_s(m, xa);
          ph = i32x4.extmul_high_i16x8_s(m, xa);
        } else {
          let src = scratch + (<usize>j << 2);
          for (let q = 0; q < pairs; q++, src += pairBytes) {
            const mp = v128.load32_splat(mRow + (<usize>q << 2)); // (m_2q, m_2q+1) in every lane
            pl = i32x4.add(pl, i32x4.dot_i16x8_s(mp, v128.load(src)));
            ph = i32x4.add(ph, i32x4.dot_i16x8_s(mp, v128.load(src, 16)));
          }
          if (B & 1) {
            const mp = i32x4.splat(<i32>load<u16>(mRow + (<usize>(B - 1) << 1))); // (m_B-1, 0)
            pl = i32x4.add(pl, i32x4.dot_i16x8_s(mp, v128.load(src)));
            ph = i32x4.add(ph, i32x4.dot_i16x8_s(mp, v128.load(src, 16)));
          }
        }
        if (s > 0) {
          pl = i32x4.shr_s(i32x4.sub(i32x4.add(pl, halfQ), i32x4.eq(v128.and(pl, bitQ), bitQ)), s);
          ph = i32x4.shr_s(i32x4.sub(i32x4.add(ph, halfQ), i32x4.eq(v128.and(ph, bitQ), bitQ)), s);
        }
        e0 = addSat32(e0, pl);
        e1 = addSat32(e1, ph);
      }
      v128.store(ep, e0);
      v128.store(ep, e1, 16);
      if (!move) continue;
      // the weights' changes, 2 x 4 lanes of i32 in [-32768, 32767]
      let r0 = i32x4.splat(0), r1 = i32x4.splat(0);
      if (mode == RND_STOCHASTIC) {
        // lowbias32(key ^ (i*cols + j + lane)) & (2^sf - 1)
        const base = i32x4.add(i32x4.splat(i * cols + j), i32x4(0, 1, 2, 3));
        r0 = v128.and(hash4(v128.xor(keyV, base), k1, k2), maskA);
        r1 = v128.and(hash4(v128.xor(keyV, i32x4.add(base, i32x4.splat(4))), k1, k2), maskA);
      }
      const d0 = low32(
        change(i64x2.extmul_low_i32x4_s(e0, muV), i64x2.extend_low_i32x4_u(r0), sfs, mode, halfA, bitA, loA, hiA),
        change(i64x2.extmul_high_i32x4_s(e0, muV), i64x2.extend_high_i32x4_u(r0), sfs, mode, halfA, bitA, loA, hiA));
      const d1 = low32(
        change(i64x2.extmul_low_i32x4_s(e1, muV), i64x2.extend_low_i32x4_u(r1), sfs, mode, halfA, bitA, loA, hiA),
        change(i64x2.extmul_high_i32x4_s(e1, muV), i64x2.extend_high_i32x4_u(r1), sfs, mode, halfA, bitA, loA, hiA));
      const d = i16x8.narrow_i32x4_s(d0, d1); // exact: the lanes are in int16 already
      const wp = wRow + (<usize>j << 1);
      v128.store(wp, addWeights(v128.load(wp), d, wrap, narrow16, wrapSh, lo, hi));
    }
  }
}

/** rshift(E lq, 16, nearest) of 4 int32 lanes (fits int32: lq < 2^16): bits 16..47 of E lq + 2^15 - 1 + bit 16. */
// @ts-ignore: decorator
@inline
function decay(e: v128, lqV: v128): v128 {
  const half = i64x2.splat(0x7fff), one = i64x2.splat(1);
  let a = i64x2.extmul_low_i32x4_s(e, lqV), b = i64x2.extmul_high_i32x4_s(e, lqV);
  a = i64x2.add(i64x2.add(a, half), v128.and(i64x2.shr_u(a, 16), one));
  b = i64x2.add(i64x2.add(b, half), v128.and(i64x2.shr_u(b, 16), one));
  return i8x16.shuffle(a, b, 2, 3, 4, 5, 10, 11, 12, 13, 18, 19, 20, 21, 26, 27, 28, 29);
}

/** sat32(a + b) of 4 int32 lanes: where a and b have one sign and the wrapped sum the other, the bound of a's sign. */
// @ts-ignore: decorator
@inline
function addSat32(a: v128, b: v128): v128 {
  const sum = i32x4.add(a, b);
  const over = i32x4.shr_s(v128.and(v128.xor(sum, a), v128.xor(sum, b)), 31);
  return v128.bitselect(v128.xor(i32x4.shr_s(a, 31), i32x4.splat(0x7fffffff)), sum, over);
}

/**
 * sat16(rshift(x, sf, mode, rnd)) of 2 int64 lanes, in the low 32 bits of each: the
 * rounding's offset added, clamped to [-2^(15+sf), 2^(15+sf) - 1], shifted.
 */
// @ts-ignore: decorator
@inline
function change(x: v128, rnd: v128, sf: i32, mode: i32, half: v128, bit: v128, lo: v128, hi: v128): v128 {
  if (mode == RND_NEAREST) x = i64x2.sub(i64x2.add(x, half), i64x2.eq(v128.and(x, bit), bit));
  else if (mode == RND_STOCHASTIC) x = i64x2.add(x, rnd);
  x = v128.bitselect(hi, x, i64x2.gt_s(x, hi));
  x = v128.bitselect(lo, x, i64x2.lt_s(x, lo));
  return mode < 0 ? x : i64x2.shr_u(x, sf);
}

/** The low 32 bits of the 2 + 2 int64 lanes of a and b, as 4 int32 lanes. */
// @ts-ignore: decorator
@inline
function low32(a: v128, b: v128): v128 {
  return i32x4.shuffle(a, b, 0, 2, 4, 6);
}

/**
 * Neurons [i0, i1) of the hidden bias's trace: q_i = nearest(clamp(g sum_b delta_bi,
 * +-2^31)) (0 when g is 0: S = 0), E_i as traceRows', b_i moved in the pre format.
 */
export function traceBias(c: Chip, delta: usize, g: f64, f: f64, rndKey: u32, i0: i32, i1: i32): void {
  const L = c.L, B = L.B, H = L.H, lq = c.decayQ, fW = c.fW;
  const sf = applyShift(f), mu = applyMu;
  const stoch = fW.rounding == RND_STOCHASTIC;
  for (let i = i0; i < i1; i++) {
    let q: i64 = 0;
    if (g != 0.0) {
      let sum: i64 = 0;
      for (let b = 0; b < B; b++) sum += <i64>load<i32>(delta + ((<usize>b * H + i) << 2));
      let x = g * <f64>sum;
      x = x > 2147483648.0 ? 2147483648.0 : x < -2147483648.0 ? -2147483648.0 : x;
      q = <i64>nearest<f64>(x);
    }
    const ep = L.eb + (<usize>i << 2);
    const e = sat32(rshift(<i64>load<i32>(ep) * lq, 16, RND_NEAREST, 0) + q);
    store<i32>(ep, <i32>e);
    if (sf >= 0) moveWeight(L.bb + (<usize>i << 1), e, mu, sf, fW.rounding, c.fPre, stoch ? lowbias32(rndKey ^ <u32>i) : 0);
  }
}

/**
 * The innovation trace's hidden credit signal of step k, in place of da: da - corr,
 * corr being the step's recurrent correction hiddenPre left in L.corr (neurons [i0, i1)).
 */
export function recoverNoise(c: Chip, k: i32, i0: i32, i1: i32): void {
  const L = c.L, B = L.B, H = L.H;
  const end = i1 < H ? i1 : H;
  for (let b = 0; b < B; b++) {
    const da = L.da + ((<usize>(k * B + b) * H) << 2);
    const corr = L.corr + ((<usize>b * H) << 2);
    for (let i = i0; i < end; i++) {
      const o = <usize>i << 2;
      store<i32>(da + o, <i32>sat32(<i64>load<i32>(da + o) - <i64>load<i32>(corr + o)));
    }
  }
}

// Eligibility traces on the chip (docs/kernel.md, "Eligibility traces"), the float
// model's traced update (src/model/float-device.ts update) in integer codes: int32
// traces E of the normalised updates, decayed by a Q16 factor, and the weights moved
// along them with one block-floating factor per layer and step.
import { Chip } from './context';
import { Fmt, RND_NEAREST, RND_STOCHASTIC, ovf, rshift } from './fixed';
import { lowbias32 } from './rng';
import { pow2 } from './plasticity';

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
 */
export function traceRows(
  c: Chip, E: usize, w: usize, stride: i32, cols: i32, pre: usize, preStride: i32,
  s: i32, f: f64, rndKey: u32, i0: i32, i1: i32,
): void {
  const B = c.L.B, mant = c.L.mant, lq = c.decayQ, fW = c.fW;
  const sf = applyShift(f), mu = applyMu;
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

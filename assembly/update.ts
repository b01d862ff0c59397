// The ANP-T update of one step of the pending chunk (docs/kernel.md, "The ANP-T
// update"), as the float model's update (src/model/float-device.ts): per layer, the
// factor c in binary64, block-floating mantissas of c * delta, then the batch outer
// product added to the weights (batch-outer.ts).
import { Chip } from './context';
import { Fmt, RND_STOCHASTIC, ovf, rshift } from './fixed';
import { key, lowbias32, STREAM_UPD_W, STREAM_UPD_R, STREAM_UPD_V, STREAM_UPD_B, STREAM_UPD_C } from './rng';
import { addBatchOuter, prepareBatchOuter } from './batch-outer';
import { fillMantissas, mantissaShift, maxAbs32, pow2, sumSquares } from './plasticity';
import { traceBias, traceRows } from './trace';

/** Key of the update's stochastic rounding bits (not drawn for other roundings). */
// @ts-ignore: decorator
@inline
function updateKey(c: Chip, stream: u64, t: u32): u32 {
  return c.fW.rounding == RND_STOCHASTIC ? <u32>key(c.seed, stream, <u64>t, 0) : 0;
}

/**
 * Apply the update of step k of the pending chunk (absolute step t) with reward dL
 * and step sizes lrW, lrR, lrV, from the traces run() left in c.L. Only rows [i0, i1)
 * of W and R and [o0, o1) of V, with scratch at `scratch` (one thread's share in the
 * threads build, threads.ts): the factors and shifts are global, each row's change is
 * its own. xs, rs: the trace bank of the chunk (default c.L's first); sums: the chunk's
 * sum of squares and max |.| of da and dy (4 i64) when the caller has them (threads).
 * ready: scratch holds three regions (W, R, V) that prepareUpdate made for this step.
 */
export function update(
  c: Chip, k: i32, t: u32, dL: f64, lrW: f64, lrR: f64, lrV: f64,
  i0: i32 = 0, i1: i32 = 0x7fffffff, o0: i32 = 0, o1: i32 = 0x7fffffff, scratch: usize = 0,
  xs: usize = 0, rs: usize = 0, sums: usize = 0, ready: bool = false,
): void {
  const L = c.L, fW = c.fW, B = L.B, H = L.H, O = L.O, Ip = L.Ip, Hp = L.Hp, M = c.mantBits;
  const h1 = i1 < H ? i1 : H, v1 = o1 < O ? o1 : O;
  const scr = scratch != 0 ? scratch : L.scratch;
  const scrR = ready ? scr + L.scratchBytes : scr, scrV = ready ? scr + 2 * L.scratchBytes : scr;
  const mW = L.mant + ((<usize>i0 * B) << 1), mV = L.mant + ((<usize>o0 * B) << 1);
  const stepBytes = <usize>B * Hp * 2;
  const fB = <f64>B;
  const da = L.da + ((<usize>k * B * H) << 2);
  const dy = L.dy + ((<usize>k * B * O) << 2);
  const Sh = <f64>(sums != 0 ? load<i64>(sums) : sumSquares(da, B * H));
  const So = <f64>(sums != 0 ? load<i64>(sums, 16) : sumSquares(dy, B * O));
  const x = (xs != 0 ? xs : L.xs) + (<usize>k * B * Ip << 1);
  const rPrev = (rs != 0 ? rs : L.rs) + (<usize>k * stepBytes);
  const r = rPrev + stepBytes;
  const maxDa = Sh > 0.0 ? (sums != 0 ? <i32>load<i64>(sums, 8) : maxAbs32(da, B * H)) : 0;
  if (c.elig != 0) {
    tracedUpdate(c, t, dL, lrW, lrR, Sh, maxDa, da, x, rPrev, i0, h1, scr, scrR, ready);
  } else if (Sh > 0.0) {
    const cW = (-lrW * c.sqrtN * dL * pow2(c.fPre.frac + fW.frac - c.fIn.frac)) / (fB * Sh);
    const sW = mantissaShift(cW, maxDa, M);
    if (sW >= 0) {
      fillMantissas(cW, sW, da, H, B, M, L.mant, i0, h1);
      addBatchOuter(L.w + ((<usize>i0 * Ip) << 1), h1 - i0, L.I, Ip, mW, B, x, Ip, sW, fW, updateKey(c, STREAM_UPD_W, t), scr, i0, ready);
    }
    const cR = (-lrR * c.sqrtN * dL * pow2(c.fPre.frac + fW.frac - c.fAct.frac)) / (fB * Sh);
    const sR = mantissaShift(cR, maxDa, M);
    if (sR >= 0) {
      // equal lrW and lrR give cR = cW * 2^k exactly, hence the same mantissas: reuse them
      if (!(sW >= 0 && cR * pow2(sR) == cW * pow2(sW))) fillMantissas(cR, sR, da, H, B, M, L.mant, i0, h1);
      addBatchOuter(L.r + ((<usize>i0 * Hp) << 1), h1 - i0, H, Hp, mW, B, rPrev, Hp, sR, fW, updateKey(c, STREAM_UPD_R, t), scrR, i0, ready);
    }
    if (L.bb != 0) {
      const cB = (-lrW * c.sqrtN * dL * pow2(2 * c.fPre.frac)) / (fB * Sh);
      updateBias(L.bb, cB, da, H, B, i0, h1, fW.rounding, updateKey(c, STREAM_UPD_B, t), c.fPre);
    }
  }
  if (So > 0.0) {
    const cV = (-lrV * c.sqrtN * dL * pow2(c.fOut.frac + fW.frac - c.fAct.frac)) / (fB * So);
    const sV = mantissaShift(cV, sums != 0 ? <i32>load<i64>(sums, 24) : maxAbs32(dy, B * O), M);
    if (sV >= 0) {
      fillMantissas(cV, sV, dy, O, B, M, L.mant, o0, v1);
      addBatchOuter(L.v + ((<usize>o0 * Hp) << 1), v1 - o0, H, Hp, mV, B, r, Hp, sV, fW, updateKey(c, STREAM_UPD_V, t), scrV, o0, ready);
    }
    if (L.bc != 0) {
      const cC = (-lrV * c.sqrtN * dL * pow2(2 * c.fOut.frac)) / (fB * So);
      updateBias(L.bc, cC, dy, O, B, o0, v1, fW.rounding, updateKey(c, STREAM_UPD_C, t), c.fOut);
    }
  }
}

/**
 * The W, R and b part of a step's update with an eligibility trace (docs/kernel.md,
 * "Eligibility traces"), rows [i0, i1): each trace takes the step's normalised term
 * (block floating point of 2^T / Sh times the credit signal da, none when Sh is 0),
 * decays, and moves its weights by -lr sqrtN dL / B times the trace. scrW, scrR: W's and
 * R's scratch regions (update's; ready: prepareUpdate filled them for this step).
 */
function tracedUpdate(
  c: Chip, t: u32, dL: f64, lrW: f64, lrR: f64, Sh: f64, maxDa: i32, da: usize, x: usize, rPrev: usize, i0: i32, i1: i32,
  scrW: usize, scrR: usize, ready: bool,
): void {
  const L = c.L, B = L.B, M = c.mantBits, fB = <f64>B;
  const gW = Sh > 0.0 ? pow2(c.tW) / Sh : 0.0;
  const sW = Sh > 0.0 ? mantissaShift(gW, maxDa, M) : -1;
  if (sW >= 0) fillMantissas(gW, sW, da, L.H, B, M, L.mant, i0, i1);
  const fW = (-lrW * c.sqrtN * dL * pow2(c.fPre.frac + c.fW.frac - c.fIn.frac - c.tW)) / fB;
  traceRows(c, L.ew, L.w, L.Ip, L.I, x, L.Ip, sW, fW, updateKey(c, STREAM_UPD_W, t), i0, i1, scrW, ready);
  const gR = Sh > 0.0 ? pow2(c.tR) / Sh : 0.0;
  const sR = Sh > 0.0 ? mantissaShift(gR, maxDa, M) : -1;
  // gR = gW * 2^k exactly, so the same mantissas unless a shift was clamped: reuse them
  if (sR >= 0 && !(sW >= 0 && gR * pow2(sR) == gW * pow2(sW))) fillMantissas(gR, sR, da, L.H, B, M, L.mant, i0, i1);
  const fR = (-lrR * c.sqrtN * dL * pow2(c.fPre.frac + c.fW.frac - c.fAct.frac - c.tR)) / fB;
  traceRows(c, L.er, L.r, L.Hp, L.H, rPrev, L.Hp, sR, fR, updateKey(c, STREAM_UPD_R, t), i0, i1, scrR, ready);
  if (L.eb != 0) {
    const gB = Sh > 0.0 ? pow2(c.tB) / Sh : 0.0;
    const fBias = (-lrW * c.sqrtN * dL * pow2(2 * c.fPre.frac - c.tB)) / fB;
    traceBias(c, da, gB, fBias, updateKey(c, STREAM_UPD_B, t), i0, i1);
  }
}

/** Largest |change| of a bias code per step before rounding (keeps the 2^16-scaled value in i64). */
const BIAS_STEP_LIMIT: f64 = 1099511627776.0; // 2^40

/**
 * Bias registers [n0, n1) of `bias` (int16 codes of format f) += round(coef x sum_b delta[b][n]),
 * delta B x n int32 (da or dy of the step): the update of a weight on a constant input 1
 * (docs/kernel.md, "Biases"). The change is taken to 16 fraction bits (floor), then
 * rounded with the weights' mode (rshift; stochastic bits lowbias32(key ^ n)), and
 * added with the format's overflow.
 */
function updateBias(bias: usize, coef: f64, delta: usize, n: i32, B: i32, n0: i32, n1: i32, mode: i32, k: u32, f: Fmt): void {
  for (let i = n0; i < n1; i++) {
    let s: i64 = 0;
    for (let b = 0; b < B; b++) s += <i64>load<i32>(delta + ((<usize>b * n + i) << 2));
    let x = coef * <f64>s;
    x = x > BIAS_STEP_LIMIT ? BIAS_STEP_LIMIT : x < -BIAS_STEP_LIMIT ? -BIAS_STEP_LIMIT : x;
    const m = <i64>Math.floor(x * 65536.0);
    const rnd: u32 = mode == RND_STOCHASTIC ? lowbias32(k ^ <u32>i) : 0;
    const p = bias + (<usize>i << 1);
    store<i16>(p, <i16>ovf(<i64>load<i16>(p) + rshift(m, 16, mode, rnd), f));
  }
}

/**
 * The presynaptic part of step k's update (interleaved pairs, maxima) for W, R and V
 * into the three scratch regions from `scratch` (L.scratchBytes each), so that update
 * (ready = true) can then run over any blocks of rows without making it again.
 */
export function prepareUpdate(c: Chip, k: i32, xs: usize, rs: usize, scratch: usize): void {
  const L = c.L, B = L.B, Ip = L.Ip, Hp = L.Hp;
  const rPrev = rs + (<usize>k * B * Hp << 1);
  prepareBatchOuter(xs + (<usize>k * B * Ip << 1), Ip, B, Ip, scratch);
  prepareBatchOuter(rPrev, Hp, B, Hp, scratch + L.scratchBytes);
  prepareBatchOuter(rPrev + (<usize>B * Hp << 1), Hp, B, Hp, scratch + 2 * L.scratchBytes);
}

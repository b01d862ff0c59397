// One step of both copies for every sequence (docs/kernel.md, "One step"), in the
// order and with the names of the float model's step (src/model/rnn.ts):
//   hiddenPre  a = requant(W x + R r), then the bias ovf(a + b), then the mismatch; ã the same from r~
//   noise      ã = ovf(ã + noise), da = ã - a
//   activate   r = act(a), r~ = act(ã)
//   outputs    y = ovf(requant(V r) + c), ỹ = ovf(ovf(requant(V r~) + c) + noise), dy = ỹ - y
// (the biases b, c only on a chip configured with them)
// Each takes the chip context (context.ts) and the step's buffers; the tensors are
// in c.L (layout.ts). The neuron range [i0, i1) (outputs: [o0, o1)) is one thread's
// share in the threads build (threads.ts); by default every neuron.
import { Chip } from './context';
import { ovf, rshift, requant, RND_STOCHASTIC, RND_NEAREST } from './fixed';
import { key, lowbias32, gauss, mix64, STREAM_NOISE, STREAM_PRE, STREAM_ACT, STREAM_OUT } from './rng';
import { act, ACT_TANH } from './activation';
import { TANH_TABLE } from './tanh-table';
import { dot, dot2, dot2Second } from './dot';
import { hiddenRows4 } from './hidden';
import { MAX_BATCH } from './limits';
import { MAX_THREADS, threadId } from './threads';
import { TRACE_INNOVATION, sat32 } from './trace';

// Stochastic pre-activation rounding keys of one step, one per sequence (drawn once per
// step, not per neuron), one set per thread. configure refuses B > MAX_BATCH, so the
// unchecked index fits.
const preKeys = new StaticArray<u32>(ASC_FEATURE_THREADS ? MAX_BATCH * MAX_THREADS : MAX_BATCH);

/** "Every neuron": the default end of a neuron range. */
export const MAX_I: i32 = 0x7fffffff;

/** The input x of step k: the run's inputs (K x B x I) copied into the padded trace (xs: its bank, default c.L.xs). */
export function loadInputs(c: Chip, k: i32, xs: usize = 0): usize {
  const L = c.L, B = L.B, I = L.I, Ip = L.Ip;
  const x = (xs != 0 ? xs : L.xs) + (<usize>k * B * Ip << 1);
  for (let b = 0; b < B; b++) {
    memory.copy(x + (<usize>b * Ip << 1), L.inputs + ((<usize>(k * B + b) * I) << 1), <usize>I << 1);
  }
  return x;
}

/**
 * Pre-activation codes of both copies at step t into c.L.pre (clean: B x H int32,
 * then noisy: B x H): a = requant(acc, wF + F, pre), then the neuron's mismatch.
 * x: the inputs (B x Ip); r, rn: the clean and noisy activity of the step before.
 */
export function hiddenPre(c: Chip, t: u32, x: usize, r: usize, rn: usize, noisy: bool, i0: i32 = 0, i1: i32 = MAX_I): void {
  const L = c.L, fPre = c.fPre, B = L.B, H = L.H, Ip = L.Ip, Hp = L.Hp;
  const end = i1 < H ? i1 : H;
  const kb = ASC_FEATURE_THREADS ? threadId * MAX_BATCH : 0;
  const F = c.fIn.frac > c.fAct.frac ? c.fIn.frac : c.fAct.frac;
  const shX = F - c.fIn.frac;
  const shR = F - c.fAct.frac;
  const accFrac = c.fW.frac + F;
  const stoch = fPre.rounding == RND_STOCHASTIC;
  const mismatchOn = c.mismatch;
  const preClean = L.pre;
  const preNoisy = L.pre + (<usize>B * H << 2);
  if (stoch) for (let b = 0; b < B; b++) unchecked(preKeys[kb + b] = <u32>key(c.seed, STREAM_PRE, <u64>b, <u64>t));
  let done = i0;
  // the innovation trace needs both recurrent sums of each row: the one-row loop below makes them
  const corr = noisy && c.elig == TRACE_INNOVATION ? L.corr : 0;
  if (ASC_FEATURE_SIMD) {
    if (!mismatchOn && !stoch && accFrac - fPre.frac >= 1 && corr == 0)
      done = hiddenRows4(L.w, L.r, Ip, Hp, H, B, x, r, rn, noisy, shX, shR, accFrac - fPre.frac, fPre, preClean, preNoisy, i0, end);
  }
  const bb = L.bb;
  // the rows the SIMD path made (no mismatch there): their bias, as the loop below adds it
  if (bb != 0 && done > i0) {
    for (let b = 0; b < B; b++)
      for (let i = i0; i < done; i++) {
        const bi = <i64>load<i16>(bb + (<usize>i << 1));
        const idx = (<usize>b * H + i) << 2;
        store<i32>(preClean + idx, <i32>ovf(<i64>load<i32>(preClean + idx) + bi, fPre));
        if (noisy) store<i32>(preNoisy + idx, <i32>ovf(<i64>load<i32>(preNoisy + idx) + bi, fPre));
      }
  }
  for (let i = done; i < end; i++) {
    const wRow = L.w + (<usize>i * Ip << 1);
    const rRow = L.r + (<usize>i * Hp << 1);
    for (let b = 0; b < B; b++) {
      const ax = dot(wRow, x + (<usize>b * Ip << 1), Ip) << shX;
      let rc: i32, rnb: i32;
      if (noisy) {
        rc = dot2(rRow, r + (<usize>b * Hp << 1), rn + (<usize>b * Hp << 1), Hp);
        rnb = dot2Second;
      } else {
        rc = dot(rRow, r + (<usize>b * Hp << 1), Hp);
        rnb = 0;
      }
      const idx = (<usize>b * H + i) << 2;
      const rnd: u32 = stoch ? lowbias32(unchecked(preKeys[kb + b]) ^ <u32>i) : 0;
      const bi: i64 = bb != 0 ? <i64>load<i16>(bb + (<usize>i << 1)) : 0;
      // the innovation trace's correction: the recurrent sums' difference in pre LSBs (recoverNoise)
      if (corr != 0) store<i32>(corr + idx, <i32>sat32(rshift(<i64>(rnb << shR) - <i64>(rc << shR), accFrac - fPre.frac, RND_NEAREST, 0)));
      let a = requant(<i64>(ax + (rc << shR)), accFrac, fPre, rnd);
      if (bb != 0) a = ovf(a + bi, fPre);
      if (mismatchOn) a = mismatch(c, a, i);
      store<i32>(preClean + idx, <i32>a);
      if (noisy) {
        let an = requant(<i64>(ax + (rnb << shR)), accFrac, fPre, rnd);
        if (bb != 0) an = ovf(an + bi, fPre);
        if (mismatchOn) an = mismatch(c, an, i);
        store<i32>(preNoisy + idx, <i32>an);
      }
    }
  }
}

/** a = ovf(rshift(a * g_i, 14, nearest) + o_i, pre): neuron i's gain and offset. */
// @ts-ignore: decorator
@inline
function mismatch(c: Chip, a: i64, i: i32): i64 {
  const g = <i64>load<i32>(c.L.gain + (<usize>i << 2));
  const off = <i64>load<i32>(c.L.offset + (<usize>i << 2));
  return ovf(rshift(a * g, 14, RND_NEAREST, 0) + off, c.fPre);
}

/**
 * The noisy copy's hidden noise at step t: ã = ovf(ã + noise_i, pre), and the measured
 * perturbation da = ã - a into the trace of step k.
 */
export function noise(c: Chip, k: i32, t: u32, i0: i32 = 0, i1: i32 = MAX_I): void {
  const L = c.L, fPre = c.fPre, B = L.B, H = L.H, scale = c.scaleHidden;
  const end = i1 < H ? i1 : H;
  const sat = !fPre.wrap, lo = fPre.min, hi = fPre.max;
  // four neurons per iteration when the sums stay in int32: |pre| < 2^29 and
  // |noise| <= 131070 * scale / 2^32 < 2^16
  const wide = ASC_FEATURE_SIMD && sat && fPre.bits <= 30 && scale >= 0 && scale <= 0x7fffffff;
  for (let b = 0; b < B; b++) {
    const kn = key(c.seed, STREAM_NOISE, <u64>b, <u64>t);
    const pc = L.pre + (<usize>b * H << 2);
    const pn = pc + (<usize>B * H << 2);
    const da = L.da + ((<usize>(k * B + b) * H) << 2);
    let i = i0;
    if (wide) i = noise4(kn, scale, pc, pn, da, i0, end, <i32>lo, <i32>hi);
    // saturation with the range in locals (the stores could alias fPre for the compiler)
    if (sat) for (; i < end; i++) {
      let an = <i64>load<i32>(pn + (<usize>i << 2)) + gauss(scale, kn, <u64>i);
      an = an < lo ? lo : an > hi ? hi : an;
      store<i32>(pn + (<usize>i << 2), <i32>an);
      store<i32>(da + (<usize>i << 2), <i32>an - load<i32>(pc + (<usize>i << 2)));
    } else for (; i < end; i++) {
      const an = ovf(<i64>load<i32>(pn + (<usize>i << 2)) + gauss(scale, kn, <u64>i), fPre);
      store<i32>(pn + (<usize>i << 2), <i32>an);
      store<i32>(da + (<usize>i << 2), <i32>an - load<i32>(pc + (<usize>i << 2)));
    }
  }
}

/**
 * noise()'s saturating loop over neurons [i0, i0 + ((n - i0) & ~3)), four per
 * iteration; returns the end. mix64 stays scalar (a 64-bit multiply has no SIMD instruction), the rest of
 * gaussBits is lane by lane: the four 16-bit fields summed by pairwise adds, then
 * (z * scale + 2^31) >> 32 as the high half of an exact 64-bit product (0 <= scale < 2^31).
 */
// @ts-ignore: decorator
@inline
function noise4(kn: u64, scale: i64, pc: usize, pn: usize, da: usize, i0: i32, n: i32, lo: i32, hi: i32): i32 {
  const n4 = i0 + ((n - i0) & ~3);
  const scaleV = i32x4.splat(<i32>scale), bias = i64x2.splat(0x80000000), centre = i32x4.splat(131070);
  const loV = i32x4.splat(lo), hiV = i32x4.splat(hi);
  for (let i = i0; i < n4; i += 4) {
    const h01 = i64x2.replace_lane(i64x2.splat(<i64>mix64(kn ^ <u64>i)), 1, <i64>mix64(kn ^ <u64>(i + 1)));
    const h23 = i64x2.replace_lane(i64x2.splat(<i64>mix64(kn ^ <u64>(i + 2))), 1, <i64>mix64(kn ^ <u64>(i + 3)));
    const p01 = i32x4.extadd_pairwise_i16x8_u(h01), p23 = i32x4.extadd_pairwise_i16x8_u(h23);
    const z = i32x4.sub(i32x4.add(i32x4.shuffle(p01, p23, 0, 2, 4, 6), i32x4.shuffle(p01, p23, 1, 3, 5, 7)), centre);
    const lo64 = i64x2.add(i64x2.extmul_low_i32x4_s(z, scaleV), bias);
    const hi64 = i64x2.add(i64x2.extmul_high_i32x4_s(z, scaleV), bias);
    const g = i32x4.shuffle(lo64, hi64, 1, 3, 5, 7);
    const o = <usize>i << 2;
    const an = i32x4.min_s(i32x4.max_s(i32x4.add(v128.load(pn + o), g), loV), hiV);
    v128.store(pn + o, an);
    v128.store(da + o, i32x4.sub(an, v128.load(pc + o)));
  }
  return n4;
}

// act(tanh) of every pre-activation code of the configured formats, for the fast path
// below: TANH_CODES[a - pre.min] = tanhNearestSat(a, ...). Filled at configure from the
// same function, so a lookup gives the same bits as the arithmetic (one load per
// neuron instead of two table reads and an interpolation). 2^16 entries cover every
// pre format of up to 16 bits; static memory below the heap (not in the layout).
const TANH_CODES: usize = memory.data(65536 * 2, 16);

/**
 * At configure: c.tanhCodes = the code table's address biased by pre.min (so that
 * c.tanhCodes + 2a is the entry of code a) when the fast tanh applies, else 0.
 */
export function prepareActivation(c: Chip): void {
  const fPre = c.fPre, fAct = c.fAct;
  const fast = c.act == ACT_TANH && fAct.rounding == RND_NEAREST && !fAct.wrap && fAct.signed && !fPre.wrap
    && fPre.frac <= 16 && fAct.frac <= 15 && fAct.frac >= 1 && fPre.bits <= 16;
  c.tanhCodes = 0;
  if (!fast) return;
  const shZ = 16 - fPre.frac, shOut = 15 - fAct.frac, max = <i32>fAct.max;
  const lo = <i32>fPre.min, hi = <i32>fPre.max;
  for (let a = lo; a <= hi; a++) store<i16>(TANH_CODES + (<usize>(a - lo) << 1), <i16>tanhNearestSat(a, shZ, shOut, max));
  c.tanhCodes = TANH_CODES - (<usize>lo << 1);
}

/**
 * Activity of both copies at step t from c.L.pre: r = act(a) into r (B x Hp int16),
 * and r~ = act(ã) into rn when noisy. Both copies use the same rounding bits.
 */
export function activate(c: Chip, t: u32, r: usize, rn: usize, noisy: bool, i0: i32 = 0, i1: i32 = MAX_I): void {
  const L = c.L, fPre = c.fPre, fAct = c.fAct, B = L.B, H = L.H, Hp = L.Hp, kind = c.act;
  const end = i1 < H ? i1 : H;
  const preClean = L.pre;
  const preNoisy = L.pre + (<usize>B * H << 2);
  const stoch = fAct.rounding == RND_STOCHASTIC;
  const codes = c.tanhCodes;
  for (let b = 0; b < B; b++) {
    const rb = r + (<usize>b * Hp << 1);
    const rnb = rn + (<usize>b * Hp << 1);
    const pc = preClean + (<usize>b * H << 2);
    const pn = preNoisy + (<usize>b * H << 2);
    if (codes != 0) {
      // the common case (tanh, nearest, saturating signed activity): one lookup per code
      const o4 = <usize>i0 << 2, o2 = <usize>i0 << 1;
      lookupRow(codes, pc + o4, rb + o2, end - i0);
      if (noisy) lookupRow(codes, pn + o4, rnb + o2, end - i0);
      continue;
    }
    const kAct = stoch ? <u32>key(c.seed, STREAM_ACT, <u64>b, <u64>t) : 0;
    for (let i = i0; i < end; i++) {
      const rnd: u32 = stoch ? lowbias32(kAct ^ <u32>i) : 0;
      store<i16>(rb + (<usize>i << 1), <i16>act(kind, <i64>load<i32>(pc + (<usize>i << 2)), fPre.frac, fAct, rnd));
      if (noisy) store<i16>(rnb + (<usize>i << 1), <i16>act(kind, <i64>load<i32>(pn + (<usize>i << 2)), fPre.frac, fAct, rnd));
    }
  }
}

/** out[i] = table entry of code pre[i] over n codes (int32 in, int16 out); codes: prepareActivation's biased address. */
// @ts-ignore: decorator
@inline
function lookupRow(codes: usize, pre: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const p = pre + (<usize>i << 2), o = out + (<usize>i << 1);
    const y0 = load<i16>(codes + (<usize>load<i32>(p) << 1));
    const y1 = load<i16>(codes + (<usize>load<i32>(p, 4) << 1));
    const y2 = load<i16>(codes + (<usize>load<i32>(p, 8) << 1));
    const y3 = load<i16>(codes + (<usize>load<i32>(p, 12) << 1));
    store<i16>(o, y0);
    store<i16>(o, y1, 2);
    store<i16>(o, y2, 4);
    store<i16>(o, y3, 6);
  }
  for (; i < n; i++) store<i16>(out + (<usize>i << 1), load<i16>(codes + (<usize>load<i32>(pre + (<usize>i << 2)) << 1)));
}

/**
 * act(tanh) for nearest rounding and a saturating signed activity format, in
 * 32-bit arithmetic (docs/kernel.md; the general path is activation.ts, same bits).
 */
// @ts-ignore: decorator
@inline
export function tanhNearestSat(a: i32, shZ: i32, shOut: i32, max: i32): i32 {
  const neg = a < 0;
  const z: u32 = <u32>(neg ? -a : a) << shZ;
  const k = z >> 10;
  let y: i32;
  if (k >= 512) {
    y = <i32>unchecked(TANH_TABLE[512]);
  } else {
    const t0 = <i32>unchecked(TANH_TABLE[k]);
    y = t0 + (((<i32>unchecked(TANH_TABLE[k + 1]) - t0) * <i32>(z & 1023) + 512) >> 10);
  }
  if (shOut > 0) y = (y + (1 << (shOut - 1)) - 1 + ((y >> shOut) & 1)) >> shOut;
  if (y > max) y = max;
  return neg ? -y : y;
}

/**
 * Outputs of both copies at step t (trace index k): y = requant(V r, wF + aF, output)
 * into c.L.outClean; when noisy ỹ = ovf(requant(V r~) + noise_{H+o}, output) into
 * c.L.outNoisy and dy = ỹ - y. Both copies use the same rounding bits.
 */
export function outputs(c: Chip, k: i32, t: u32, r: usize, rn: usize, noisy: bool, o0: i32 = 0, o1: i32 = MAX_I): void {
  const L = c.L, fOut = c.fOut, B = L.B, H = L.H, O = L.O, Hp = L.Hp;
  const end = o1 < O ? o1 : O;
  if (o0 >= end) return;
  const yFrac = c.fW.frac + c.fAct.frac;
  const stoch = fOut.rounding == RND_STOCHASTIC;
  const scale = c.scaleOutput;
  const innovation = noisy && c.elig == TRACE_INNOVATION;
  for (let b = 0; b < B; b++) {
    const kOut = stoch ? <u32>key(c.seed, STREAM_OUT, <u64>b, <u64>t) : 0;
    const kn = noisy ? key(c.seed, STREAM_NOISE, <u64>b, <u64>t) : 0;
    const rb = r + (<usize>b * Hp << 1);
    const rnb = rn + (<usize>b * Hp << 1);
    for (let o = o0; o < end; o++) {
      const vRow = L.v + (<usize>o * Hp << 1);
      const rnd: u32 = stoch ? lowbias32(kOut ^ <u32>o) : 0;
      const oi = (<usize>(k * B + b) * O + o);
      let yc: i32, yn: i32;
      if (noisy) {
        yc = dot2(vRow, rb, rnb, Hp);
        yn = dot2Second;
      } else {
        yc = dot(vRow, rb, Hp);
        yn = 0;
      }
      const co: i64 = L.bc != 0 ? <i64>load<i16>(L.bc + (<usize>o << 1)) : 0;
      let y = requant(<i64>yc, yFrac, fOut, rnd);
      if (L.bc != 0) y = ovf(y + co, fOut);
      store<i16>(L.outClean + (oi << 1), <i16>y);
      if (noisy) {
        let yb = requant(<i64>yn, yFrac, fOut, rnd);
        if (L.bc != 0) yb = ovf(yb + co, fOut);
        const ynq = ovf(yb + gauss(scale, kn, <u64>(H + o)), fOut);
        store<i16>(L.outNoisy + (oi << 1), <i16>ynq);
        // innovation: the noise recovered, dy - (V r~ - V r) in output LSBs
        const dyo = innovation ? sat32(ynq - y - rshift(<i64>yn - <i64>yc, yFrac - fOut.frac, RND_NEAREST, 0)) : ynq - y;
        store<i32>(L.dy + (oi << 2), <i32>dyo);
      }
    }
  }
}

/** The clean activity r of step k (B x Hp) into the hidden trace (K x B x H). */
export function traceHidden(c: Chip, k: i32, r: usize, i0: i32 = 0, i1: i32 = MAX_I): void {
  const L = c.L, B = L.B, H = L.H, Hp = L.Hp;
  const end = i1 < H ? i1 : H;
  if (i0 >= end) return;
  for (let b = 0; b < B; b++) {
    memory.copy(L.hidden + ((<usize>(k * B + b) * H + i0) << 1), r + ((<usize>b * Hp + i0) << 1), <usize>(end - i0) << 1);
  }
}

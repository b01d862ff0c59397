// One step of both copies for every sequence (docs/kernel.md, "One step"), in the
// order and with the names of the float model's step (src/model/rnn.ts):
//   hiddenPre  a = requant(W x + R r), then the mismatch; ã the same from r~
//   noise      ã = ovf(ã + noise), da = ã - a
//   activate   r = act(a), r~ = act(ã)
//   outputs    y = requant(V r), ỹ = ovf(requant(V r~) + noise), dy = ỹ - y
// Each takes the chip context (context.ts) and the step's buffers; the tensors are
// in c.L (layout.ts). The neuron range [i0, i1) (outputs: [o0, o1)) is one thread's
// share in the threads build (threads.ts); by default every neuron.
import { Chip } from './context';
import { ovf, rshift, requant, RND_STOCHASTIC, RND_NEAREST } from './fixed';
import { key, lowbias32, gauss, STREAM_NOISE, STREAM_PRE, STREAM_ACT, STREAM_OUT } from './rng';
import { act, ACT_TANH } from './activation';
import { TANH_TABLE } from './tanh-table';
import { dot, dot2, dot2Second } from './dot';
import { hiddenRows4 } from './hidden';
import { MAX_BATCH } from './limits';
import { MAX_THREADS, threadId } from './threads';

// Stochastic pre-activation rounding keys of one step, one per sequence (drawn once per
// step, not per neuron), one set per thread. configure refuses B > MAX_BATCH, so the
// unchecked index fits.
const preKeys = new StaticArray<u32>(ASC_FEATURE_THREADS ? MAX_BATCH * MAX_THREADS : MAX_BATCH);

/** "Every neuron": the default end of a neuron range. */
export const MAX_I: i32 = 0x7fffffff;

/** The input x of step k: the run's inputs (K x B x I) copied into the padded trace. */
export function loadInputs(c: Chip, k: i32): usize {
  const L = c.L, B = L.B, I = L.I, Ip = L.Ip;
  const x = L.xs + (<usize>k * B * Ip << 1);
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
  if (ASC_FEATURE_SIMD) {
    if (!mismatchOn && !stoch && accFrac - fPre.frac >= 1)
      done = hiddenRows4(L.w, L.r, Ip, Hp, H, B, x, r, rn, noisy, shX, shR, accFrac - fPre.frac, fPre, preClean, preNoisy, i0, end);
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
      let a = requant(<i64>(ax + (rc << shR)), accFrac, fPre, rnd);
      if (mismatchOn) a = mismatch(c, a, i);
      store<i32>(preClean + idx, <i32>a);
      if (noisy) {
        let an = requant(<i64>(ax + (rnb << shR)), accFrac, fPre, rnd);
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
  for (let b = 0; b < B; b++) {
    const kn = key(c.seed, STREAM_NOISE, <u64>b, <u64>t);
    const pc = L.pre + (<usize>b * H << 2);
    const pn = pc + (<usize>B * H << 2);
    const da = L.da + ((<usize>(k * B + b) * H) << 2);
    // saturation with the range in locals (the stores could alias fPre for the compiler)
    if (sat) for (let i = i0; i < end; i++) {
      let an = <i64>load<i32>(pn + (<usize>i << 2)) + gauss(scale, kn, <u64>i);
      an = an < lo ? lo : an > hi ? hi : an;
      store<i32>(pn + (<usize>i << 2), <i32>an);
      store<i32>(da + (<usize>i << 2), <i32>an - load<i32>(pc + (<usize>i << 2)));
    } else for (let i = i0; i < end; i++) {
      const an = ovf(<i64>load<i32>(pn + (<usize>i << 2)) + gauss(scale, kn, <u64>i), fPre);
      store<i32>(pn + (<usize>i << 2), <i32>an);
      store<i32>(da + (<usize>i << 2), <i32>an - load<i32>(pc + (<usize>i << 2)));
    }
  }
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
  const fastTanh = kind == ACT_TANH && fAct.rounding == RND_NEAREST && !fAct.wrap && fAct.signed && !fPre.wrap
    && fPre.frac <= 16 && fAct.frac <= 15 && fAct.frac >= 1;
  for (let b = 0; b < B; b++) {
    const rb = r + (<usize>b * Hp << 1);
    const rnb = rn + (<usize>b * Hp << 1);
    const pc = preClean + (<usize>b * H << 2);
    const pn = preNoisy + (<usize>b * H << 2);
    if (fastTanh) {
      // the common case in a tight loop: tanh, nearest, saturating signed activity
      const shZ = 16 - fPre.frac, shOut = 15 - fAct.frac, max = <i32>fAct.max;
      const o4 = <usize>i0 << 2, o2 = <usize>i0 << 1;
      tanhRow(pc + o4, rb + o2, end - i0, shZ, shOut, max);
      if (noisy) tanhRow(pn + o4, rnb + o2, end - i0, shZ, shOut, max);
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

/** tanhNearestSat over n pre-activation codes (int32) into n activity codes (int16). */
// @ts-ignore: decorator
@inline
function tanhRow(pre: usize, out: usize, n: i32, shZ: i32, shOut: i32, max: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    // eight neurons per iteration (tanhNearestSat's operations lane by lane; only the
    // table reads are scalar: WASM has no gather)
    const tbl = changetype<usize>(TANH_TABLE);
    const c512 = i32x4.splat(512), m1023 = i32x4.splat(1023), zero = i32x4.splat(0), one = i32x4.splat(1);
    const halfM1 = i32x4.splat(shOut > 0 ? (1 << (shOut - 1)) - 1 : 0), maxV = i32x4.splat(max);
    for (; i + 7 < n; i += 8) {
      const lo = tanh4(v128.load(pre + (<usize>i << 2)), tbl, shZ, shOut, c512, m1023, zero, one, halfM1, maxV);
      const hi = tanh4(v128.load(pre + (<usize>(i + 4) << 2)), tbl, shZ, shOut, c512, m1023, zero, one, halfM1, maxV);
      v128.store(out + (<usize>i << 1), i16x8.narrow_i32x4_s(lo, hi)); // |y| <= max <= 32767: no saturation
    }
  }
  for (; i < n; i++) {
    store<i16>(out + (<usize>i << 1), <i16>tanhNearestSat(load<i32>(pre + (<usize>i << 2)), shZ, shOut, max));
  }
}

/** tanhNearestSat on four lanes; k >= 512 reads T[512] twice with weight 0. */
// @ts-ignore: decorator
@inline
function tanh4(a: v128, tbl: usize, shZ: i32, shOut: i32, c512: v128, m1023: v128, zero: v128, one: v128, halfM1: v128, maxV: v128): v128 {
  const neg = i32x4.lt_s(a, zero);
  const z = i32x4.shl(i32x4.abs(a), shZ);
  const k = i32x4.shr_u(z, 10);
  const big = i32x4.ge_u(k, c512);
  const k0 = v128.bitselect(c512, k, big);
  const k1 = v128.bitselect(c512, i32x4.add(k, one), big);
  const fr = v128.andnot(v128.and(z, m1023), big);
  let t0 = i32x4.splat(<i32>load<i16>(tbl + (<usize>i32x4.extract_lane(k0, 0) << 1)));
  t0 = i32x4.replace_lane(t0, 1, <i32>load<i16>(tbl + (<usize>i32x4.extract_lane(k0, 1) << 1)));
  t0 = i32x4.replace_lane(t0, 2, <i32>load<i16>(tbl + (<usize>i32x4.extract_lane(k0, 2) << 1)));
  t0 = i32x4.replace_lane(t0, 3, <i32>load<i16>(tbl + (<usize>i32x4.extract_lane(k0, 3) << 1)));
  let t1 = i32x4.splat(<i32>load<i16>(tbl + (<usize>i32x4.extract_lane(k1, 0) << 1)));
  t1 = i32x4.replace_lane(t1, 1, <i32>load<i16>(tbl + (<usize>i32x4.extract_lane(k1, 1) << 1)));
  t1 = i32x4.replace_lane(t1, 2, <i32>load<i16>(tbl + (<usize>i32x4.extract_lane(k1, 2) << 1)));
  t1 = i32x4.replace_lane(t1, 3, <i32>load<i16>(tbl + (<usize>i32x4.extract_lane(k1, 3) << 1)));
  let y = i32x4.add(t0, i32x4.shr_s(i32x4.add(i32x4.mul(i32x4.sub(t1, t0), fr), c512), 10));
  if (shOut > 0) y = i32x4.shr_s(i32x4.add(i32x4.add(y, halfM1), v128.and(i32x4.shr_s(y, shOut), one)), shOut);
  y = i32x4.min_s(y, maxV);
  return v128.bitselect(i32x4.neg(y), y, neg);
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
      const y = requant(<i64>yc, yFrac, fOut, rnd);
      store<i16>(L.outClean + (oi << 1), <i16>y);
      if (noisy) {
        const ynq = ovf(requant(<i64>yn, yFrac, fOut, rnd) + gauss(scale, kn, <u64>(H + o)), fOut);
        store<i16>(L.outNoisy + (oi << 1), <i16>ynq);
        store<i32>(L.dy + (oi << 2), <i32>(ynq - y));
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

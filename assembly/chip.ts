// The chip: configuration, one chunk of K steps for B sequences (clean and noisy
// copies in lockstep), and the on-chip ANP-T update. Numerics: docs/kernel.md.
import { Fmt, unpackFmt, ovf, rshift, requant, RND_STOCHASTIC, RND_NEAREST } from './fixed';
import { key, mix64, lowbias32, gauss, gaussScale, STREAM_NOISE, STREAM_PRE, STREAM_ACT, STREAM_OUT, STREAM_GAIN, STREAM_OFFSET, STREAM_UPD_W, STREAM_UPD_R, STREAM_UPD_V } from './rng';
import { activate, ACT_TANH } from './activation';
import { TANH_TABLE } from './tanh-table';
import { Layout } from './layout';
import { dot, dot2, dot2Second } from './dot';
import { applyUpdate } from './update';
import { hiddenRows4 } from './hidden';
import { fillMantissas, mantissaBits, mantissaShift, maxAbs32, pow2, sumSquares } from './plasticity';

// Status codes returned to the host (src/device/emulator.ts maps them to messages).
export const OK: i32 = 0;
export const ERR_NOT_CONFIGURED: i32 = -1;
export const ERR_MEMORY: i32 = -2;
export const ERR_STEPS: i32 = -3;
export const ERR_NO_CHUNK: i32 = -4;
export const ERR_T0: i32 = -5;

// The few objects below are the only runtime allocations (made once at start-up, by
// the stub runtime just above __heap_base); buffers start at BASE, clear of them.
// Nothing is allocated after start-up, so nothing can grow into the buffers.
const L = new Layout();
const PROBE = new Layout();
const BASE: usize = (__heap_base + 8192 + 15) & ~(<usize>15);
// Stochastic pre-activation rounding keys of one step, one per sequence (drawn once per
// step, not per neuron); 256 = EMULATOR_LIMITS.maxBatch in src/device/emulator.ts.
const preKeys = new StaticArray<u32>(256);
const fIn = new Fmt();
const fW = new Fmt();
const fPre = new Fmt();
const fAct = new Fmt();
const fOut = new Fmt();
let actKind: i32 = 0;
let seed: u64 = 0;
let scaleHidden: i64 = 0;
let scaleOutput: i64 = 0;
let mismatchOn: bool = false;
let configured: bool = false;
let sqrtN: f64 = 0;
let mantBits: i32 = 14;
// The last noisy chunk, waiting for its reward.
let pendingSteps: i32 = 0;
let pendingT0: u32 = 0;
// Counters
let stepCount: u64 = 0;
let updateCount: u64 = 0;

/** Bytes of linear memory needed for a configuration (the host checks limits first). */
export function layoutBytes(I: i32, H: i32, O: i32, B: i32, K: i32): f64 {
  return <f64>PROBE.plan(BASE, I, H, O, B, K);
}

export function configure(
  I: i32, H: i32, O: i32, B: i32, K: i32, act: i32,
  fmtIn: i32, fmtW: i32, fmtPre: i32, fmtAct: i32, fmtOut: i32,
  seedLo: u32, seedHi: u32,
  sigmaHiddenLsb: f64, sigmaOutputLsb: f64,
  gainSpread: f64, offsetSpreadLsb: f64, mismatchSeed: u32,
): i32 {
  configured = false;
  const end = L.plan(BASE, I, H, O, B, K);
  const needPages = <i32>((end + 0xffff) >> 16);
  const have = memory.size();
  if (needPages > have && memory.grow(needPages - have) < 0) return ERR_MEMORY;
  memory.fill(L.w, 0, end - L.w);
  unpackFmt(fmtIn, fIn);
  unpackFmt(fmtW, fW);
  unpackFmt(fmtPre, fPre);
  unpackFmt(fmtAct, fAct);
  unpackFmt(fmtOut, fOut);
  actKind = act;
  seed = (<u64>seedHi << 32) | <u64>seedLo;
  scaleHidden = gaussScale(sigmaHiddenLsb);
  scaleOutput = gaussScale(sigmaOutputLsb);
  sqrtN = Math.sqrt(<f64>(I + H + O));
  mantBits = mantissaBits(B);
  mismatchOn = gainSpread > 0.0 || offsetSpreadLsb > 0.0;
  const gScale = gaussScale(gainSpread * 16384.0);
  const oScale = gaussScale(offsetSpreadLsb);
  const kg = key(<u64>mismatchSeed, STREAM_GAIN, 0, 0);
  const ko = key(<u64>mismatchSeed, STREAM_OFFSET, 0, 0);
  for (let i = 0; i < H; i++) {
    store<i32>(L.gain + (<usize>i << 2), <i32>(16384 + gauss(gScale, mix64(kg ^ <u64>i))));
    store<i32>(L.offset + (<usize>i << 2), <i32>gauss(oScale, mix64(ko ^ <u64>i)));
  }
  pendingSteps = 0;
  stepCount = 0;
  updateCount = 0;
  configured = true;
  return OK;
}

// ---- buffers the host reads and writes ----
export function ptrInputs(): usize { return L.inputs; }
export function ptrOutClean(): usize { return L.outClean; }
export function ptrOutNoisy(): usize { return L.outNoisy; }
export function ptrHidden(): usize { return L.hidden; }
export function ptrStaging(): usize { return L.staging; }
export function ptrRewards(): usize { return L.rewards; }
export function steps(): f64 { return <f64>stepCount; }
export function updates(): f64 { return <f64>updateCount; }

// Tensor ids for parameter IO through the staging buffer.
export const T_W: i32 = 0;
export const T_R: i32 = 1;
export const T_V: i32 = 2;
export const T_STATE_CLEAN: i32 = 3;
export const T_STATE_NOISY: i32 = 4;

// Shape of a tensor: base address, rows, cols, row stride (globals: no allocation).
let tBase: usize = 0;
let tRows: i32 = 0;
let tCols: i32 = 0;
let tStride: i32 = 0;

function tensorShape(t: i32): void {
  if (t == T_W) { tBase = L.w; tRows = L.H; tCols = L.I; tStride = L.Ip; }
  else if (t == T_R) { tBase = L.r; tRows = L.H; tCols = L.H; tStride = L.Hp; }
  else if (t == T_V) { tBase = L.v; tRows = L.O; tCols = L.H; tStride = L.Hp; }
  else if (t == T_STATE_CLEAN) { tBase = L.state; tRows = L.B; tCols = L.H; tStride = L.Hp; }
  else { tBase = L.rn; tRows = L.B; tCols = L.H; tStride = L.Hp; }
}

/** Copy staging (rows x cols, unpadded) into tensor t; values are clamped by the host. */
export function loadTensor(t: i32): i32 {
  if (!configured) return ERR_NOT_CONFIGURED;
  tensorShape(t);
  for (let i = 0; i < tRows; i++) {
    memory.copy(tBase + ((<usize>i * tStride) << 1), L.staging + ((<usize>i * tCols) << 1), <usize>tCols << 1);
  }
  return OK;
}

/** Copy tensor t into staging (rows x cols, unpadded). */
export function storeTensor(t: i32): i32 {
  if (!configured) return ERR_NOT_CONFIGURED;
  tensorShape(t);
  for (let i = 0; i < tRows; i++) {
    memory.copy(L.staging + ((<usize>i * tCols) << 1), tBase + ((<usize>i * tStride) << 1), <usize>tCols << 1);
  }
  return OK;
}

/** Zero the recurrent state of both copies. */
export function resetState(): i32 {
  if (!configured) return ERR_NOT_CONFIGURED;
  memory.fill(L.state, 0, <usize>L.B * L.Hp * 2);
  memory.fill(L.rn, 0, <usize>L.B * L.Hp * 2);
  return OK;
}

/**
 * Run K steps from the inputs buffer (K x B x I codes). noisy: advance the noisy copy
 * and keep traces for reward(). trace: write the clean hidden activity.
 */
export function run(K: i32, t0: u32, noisy: bool, trace: bool): i32 {
  if (!configured) return ERR_NOT_CONFIGURED;
  if (K < 1 || K > L.K) return ERR_STEPS;
  const B = L.B, H = L.H, O = L.O, I = L.I, Ip = L.Ip, Hp = L.Hp;
  const F = fIn.frac > fAct.frac ? fIn.frac : fAct.frac;
  const shX = F - fIn.frac;
  const shR = F - fAct.frac;
  const accFrac = fW.frac + F;
  const yFrac = fW.frac + fAct.frac;
  const stochPre = fPre.rounding == RND_STOCHASTIC;
  const stochAct = fAct.rounding == RND_STOCHASTIC;
  const stochOut = fOut.rounding == RND_STOCHASTIC;
  const stepBytes = <usize>B * Hp * 2;
  const fastPre = !mismatchOn && !stochPre;
  const fastTanh = actKind == ACT_TANH && fAct.rounding == RND_NEAREST && !fAct.wrap && fAct.signed && !fPre.wrap
    && fPre.frac <= 16 && fAct.frac <= 15 && fAct.frac >= 1;
  const tanhShZ = 16 - fPre.frac;
  const tanhShOut = 15 - fAct.frac;
  const actMax = <i32>fAct.max;
  const preMin = fPre.min;
  const preMax = fPre.max;
  const preClean = L.pre;
  const preNoisy = L.pre + (<usize>B * H << 2);
  let rnCur = L.rn;
  let rnNext = L.rn + stepBytes;
  memory.copy(L.rs, L.state, stepBytes);
  for (let k = 0; k < K; k++) {
    const t: u32 = t0 + <u32>k;
    const xk = L.xs + (<usize>k * B * Ip << 1);
    const rPrev = L.rs + (<usize>k * stepBytes);
    const rNext = rPrev + stepBytes;
    // inputs into the padded trace
    for (let b = 0; b < B; b++) {
      memory.copy(xk + (<usize>b * Ip << 1), L.inputs + ((<usize>(k * B + b) * I) << 1), <usize>I << 1);
    }
    // hidden pre-activations of both copies
    if (stochPre) for (let b = 0; b < B; b++) unchecked(preKeys[b] = <u32>key(seed, STREAM_PRE, <u64>b, <u64>t));
    let done = 0;
    if (ASC_FEATURE_SIMD) {
      if (fastPre && accFrac - fPre.frac >= 1)
        done = hiddenRows4(L.w, L.r, Ip, Hp, H, B, xk, rPrev, rnCur, noisy, shX, shR, accFrac - fPre.frac, fPre, preClean, preNoisy);
    }
    for (let i = done; i < H; i++) {
      const wRow = L.w + (<usize>i * Ip << 1);
      const rRow = L.r + (<usize>i * Hp << 1);
      for (let b = 0; b < B; b++) {
        const ax = dot(wRow, xk + (<usize>b * Ip << 1), Ip) << shX;
        let rc: i32, rn: i32;
        if (noisy) {
          rc = dot2(rRow, rPrev + (<usize>b * Hp << 1), rnCur + (<usize>b * Hp << 1), Hp);
          rn = dot2Second;
        } else {
          rc = dot(rRow, rPrev + (<usize>b * Hp << 1), Hp);
          rn = 0;
        }
        const idx = (<usize>b * H + i) << 2;
        const rnd: u32 = stochPre ? lowbias32(unchecked(preKeys[b]) ^ <u32>i) : 0;
        store<i32>(preClean + idx, <i32>hiddenPre(ax + (rc << shR), accFrac, rnd, i));
        if (noisy) store<i32>(preNoisy + idx, <i32>hiddenPre(ax + (rn << shR), accFrac, rnd, i));
      }
    }
    // noise, activation, measured perturbation
    for (let b = 0; b < B; b++) {
      const kn = noisy ? key(seed, STREAM_NOISE, <u64>b, <u64>t) : 0;
      const kAct = stochAct ? <u32>key(seed, STREAM_ACT, <u64>b, <u64>t) : 0;
      if (fastTanh) {
        // the common case in a tight loop: tanh, nearest, saturating signed activity
        const rc = rNext + (<usize>b * Hp << 1);
        const rn = rnNext + (<usize>b * Hp << 1);
        const da = L.da + ((<usize>(k * B + b) * H) << 2);
        const pc = preClean + (<usize>b * H << 2);
        const pn = preNoisy + (<usize>b * H << 2);
        for (let i = 0; i < H; i++) {
          const a = load<i32>(pc + (<usize>i << 2));
          store<i16>(rc + (<usize>i << 1), <i16>tanhNearestSat(a, tanhShZ, tanhShOut, actMax));
          if (noisy) {
            let an = <i64>load<i32>(pn + (<usize>i << 2)) + gauss(scaleHidden, mix64(kn ^ <u64>i));
            an = an < preMin ? preMin : an > preMax ? preMax : an;
            store<i16>(rn + (<usize>i << 1), <i16>tanhNearestSat(<i32>an, tanhShZ, tanhShOut, actMax));
            store<i32>(da + (<usize>i << 2), <i32>an - a);
          }
        }
      } else for (let i = 0; i < H; i++) {
        const idx = (<usize>b * H + i) << 2;
        const a = <i64>load<i32>(preClean + idx);
        const rnd: u32 = stochAct ? lowbias32(kAct ^ <u32>i) : 0;
        store<i16>(rNext + ((<usize>b * Hp + i) << 1), <i16>activate(actKind, a, fPre.frac, fAct, rnd));
        if (noisy) {
          const an = ovf(<i64>load<i32>(preNoisy + idx) + gauss(scaleHidden, mix64(kn ^ <u64>i)), fPre);
          store<i16>(rnNext + ((<usize>b * Hp + i) << 1), <i16>activate(actKind, an, fPre.frac, fAct, rnd));
          store<i32>(L.da + ((<usize>(k * B + b) * H + i) << 2), <i32>(an - a));
        }
      }
      if (trace) memory.copy(L.hidden + ((<usize>(k * B + b) * H) << 1), rNext + (<usize>b * Hp << 1), <usize>H << 1);
    }
    // outputs
    for (let b = 0; b < B; b++) {
      const kOut = stochOut ? <u32>key(seed, STREAM_OUT, <u64>b, <u64>t) : 0;
      const kn = noisy ? key(seed, STREAM_NOISE, <u64>b, <u64>t) : 0;
      const rc = rNext + (<usize>b * Hp << 1);
      const rn = rnNext + (<usize>b * Hp << 1);
      for (let o = 0; o < O; o++) {
        const vRow = L.v + (<usize>o * Hp << 1);
        const rnd: u32 = stochOut ? lowbias32(kOut ^ <u32>o) : 0;
        const oi = (<usize>(k * B + b) * O + o);
        let yc: i32, yn: i32;
        if (noisy) {
          yc = dot2(vRow, rc, rn, Hp);
          yn = dot2Second;
        } else {
          yc = dot(vRow, rc, Hp);
          yn = 0;
        }
        const y = requant(<i64>yc, yFrac, fOut, rnd);
        store<i16>(L.outClean + (oi << 1), <i16>y);
        if (noisy) {
          const ynq = ovf(requant(<i64>yn, yFrac, fOut, rnd) + gauss(scaleOutput, mix64(kn ^ <u64>(H + o))), fOut);
          store<i16>(L.outNoisy + (oi << 1), <i16>ynq);
          store<i32>(L.dy + (oi << 2), <i32>(ynq - y));
        }
      }
    }
    if (noisy) {
      const tmp = rnCur;
      rnCur = rnNext;
      rnNext = tmp;
    }
  }
  // the state for the next chunk
  memory.copy(L.state, L.rs + (<usize>K * stepBytes), stepBytes);
  if (noisy && rnCur != L.rn) memory.copy(L.rn, rnCur, stepBytes);
  stepCount += <u64>K;
  if (noisy) {
    pendingSteps = K;
    pendingT0 = t0;
  } else {
    pendingSteps = 0;
  }
  return OK;
}

/**
 * activate(tanh) for nearest rounding and a saturating signed activity format, in
 * 32-bit arithmetic (docs/kernel.md; the general path is activation.ts, same bits).
 */
// @ts-ignore: decorator
@inline
function tanhNearestSat(a: i32, shZ: i32, shOut: i32, max: i32): i32 {
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

/** Key of the update's stochastic rounding bits (not drawn for other roundings). */
// @ts-ignore: decorator
@inline
function updKey(stream: u64, t: u32): u32 {
  return fW.rounding == RND_STOCHASTIC ? <u32>key(seed, stream, <u64>t, 0) : 0;
}

/** requant the accumulator to the pre-activation format, then the neuron's mismatch. */
// @ts-ignore: decorator
@inline
function hiddenPre(acc: i32, accFrac: i32, rnd: u32, i: i32): i64 {
  let a = requant(<i64>acc, accFrac, fPre, rnd);
  if (mismatchOn) {
    const g = <i64>load<i32>(L.gain + (<usize>i << 2));
    const off = <i64>load<i32>(L.offset + (<usize>i << 2));
    a = ovf(rshift(a * g, 14, RND_NEAREST, 0) + off, fPre);
  }
  return a;
}

/**
 * Apply the ANP-T update for each step of the pending chunk, in order, with the
 * rewards dL (K f64 in the rewards buffer) and step sizes lrW, lrR, lrV.
 */
export function reward(K: i32, t0: u32, lrW: f64, lrR: f64, lrV: f64): i32 {
  if (!configured) return ERR_NOT_CONFIGURED;
  if (pendingSteps == 0) return ERR_NO_CHUNK;
  if (K != pendingSteps) return ERR_STEPS;
  if (t0 != pendingT0) return ERR_T0;
  const B = L.B, H = L.H, O = L.O, Ip = L.Ip, Hp = L.Hp;
  const stepBytes = <usize>B * Hp * 2;
  const fB = <f64>B;
  for (let k = 0; k < K; k++) {
    const t: u32 = t0 + <u32>k;
    const dL = load<f64>(L.rewards + (<usize>k << 3));
    const da = L.da + ((<usize>k * B * H) << 2);
    const dy = L.dy + ((<usize>k * B * O) << 2);
    const Sh = <f64>sumSquares(da, B * H);
    const So = <f64>sumSquares(dy, B * O);
    const xk = L.xs + (<usize>k * B * Ip << 1);
    const rPrev = L.rs + (<usize>k * stepBytes);
    const rNow = rPrev + stepBytes;
    if (Sh > 0.0) {
      const maxDa = maxAbs32(da, B * H);
      const cW = (-lrW * sqrtN * dL * pow2(fPre.frac + fW.frac - fIn.frac)) / (fB * Sh);
      const sW = mantissaShift(cW, maxDa, mantBits);
      if (sW >= 0) {
        fillMantissas(cW, sW, da, H, B, mantBits, L.mant);
        applyUpdate(L.w, H, L.I, Ip, L.mant, B, xk, Ip, sW, fW, updKey(STREAM_UPD_W, t), L.scratch);
      }
      const cR = (-lrR * sqrtN * dL * pow2(fPre.frac + fW.frac - fAct.frac)) / (fB * Sh);
      const sR = mantissaShift(cR, maxDa, mantBits);
      if (sR >= 0) {
        // equal lrW and lrR give cR = cW * 2^k exactly, hence the same mantissas: reuse them
        if (!(sW >= 0 && cR * pow2(sR) == cW * pow2(sW))) fillMantissas(cR, sR, da, H, B, mantBits, L.mant);
        applyUpdate(L.r, H, H, Hp, L.mant, B, rPrev, Hp, sR, fW, updKey(STREAM_UPD_R, t), L.scratch);
      }
    }
    if (So > 0.0) {
      const cV = (-lrV * sqrtN * dL * pow2(fOut.frac + fW.frac - fAct.frac)) / (fB * So);
      const sV = mantissaShift(cV, maxAbs32(dy, B * O), mantBits);
      if (sV >= 0) fillMantissas(cV, sV, dy, O, B, mantBits, L.mant);
      if (sV >= 0) applyUpdate(L.v, O, H, Hp, L.mant, B, rNow, Hp, sV, fW, updKey(STREAM_UPD_V, t), L.scratch);
    }
    updateCount++;
  }
  pendingSteps = 0;
  return OK;
}

// Exported for the test that the tight tanh loop equals the general activation.
export function testTanhFast(a: i32, pF: i32, aF: i32, actBits: i32): i32 {
  return tanhNearestSat(a, 16 - pF, 15 - aF, (1 << (actBits - 1)) - 1);
}

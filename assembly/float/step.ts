// A chunk of steps of the float model (src/model/float-device.ts run and reward) on
// the buffers of layout.ts. Both copies run as one batch of S = 2B sequences (clean
// 0..B-1, noisy B..2B-1) through the transposed products of matvec.ts; a clean-only
// chunk runs B sequences (rounded up to even; the padding lane holds zeros and is
// never read back). Every value is formed by the same IEEE operations in the same
// order as the TypeScript reference, so the results are the same bits.

import { at, dims, hold, held, heldInRt, I, H, O, B, K as layoutK, BIAS, S2, SC, THREADS, B_BH, B_BO, B_EB, B_W, B_R, B_V, B_CLEAN, B_NOISY, B_EW, B_ER, B_GAIN, B_OFFSET, B_UT, B_ST, B_AT, B_RT, B_YT, B_DT, B_ZT, B_SCRATCH, B_INPUTS, B_OUT_CLEAN, B_OUT_NOISY, B_HIDDEN, B_STATES, B_DA, B_DY, B_DL, B_TANH, B_KEYS, B_NORM } from './layout';
import { matvecT } from './matvec';
import { outerUpdate } from './outer';
import { key, gauss, gaussKeys2 } from './noise';
import { tanhArray } from './tanh';
import {
  threadId, threadCount, rangeStart, outputStart, barrier, settle, post, threadsFailed, awaitCommand, commandDone, tailDelay,
  commandCode, argK, argT0, argFlags, argUpdateK, argUpdateT0, argLr, CMD_RUN, CMD_REWARD, CMD_QUIT,
} from '../threads';

/** The command that hands the other threads a new layout's sizes (CMD_RUN, CMD_REWARD, CMD_QUIT: ../threads.ts). */
const CMD_LAYOUT: i32 = 4;

export const ACT_TANH = 0;
export const ACT_HARDTANH = 1;
export const ACT_LINEAR = 2;
export const TRACE_NONE = 0;
export const TRACE_ACTIVITY = 1;
export const TRACE_INNOVATION = 2;
const STREAM_NOISE: u32 = 1;

// @ts-ignore: decorator
@inline
function f(p: usize, n: usize): f64 {
  return load<f64>(p + (n << 3));
}

// @ts-ignore: decorator
@inline
function setf(p: usize, n: usize, v: f64): void {
  store<f64>(p + (n << 3), v);
}

function zero(p: usize, n: usize): void {
  memory.fill(p, 0, n << 3);
}

/** x[0]^2 + x[1]^2 + ... + x[n-1]^2, added in that order (FloatDevice.update's norms). */
function sumSquares(x: usize, n: usize): f64 {
  let s: f64 = 0;
  for (let q: usize = 0; q < n; q++) { const v = f(x, q); s += v * v; }
  return s;
}

/** r = act(a) over n values (n even); scratch: 5 n values. */
function activate(kind: i32, a: usize, r: usize, n: usize, scratch: usize): void {
  const end = a + (n << 3);
  if (kind == ACT_TANH) {
    tanhArray(a, r, <i32>n, scratch);
  } else if (kind == ACT_HARDTANH) {
    const one = f64x2.splat(1.0), minus = f64x2.splat(-1.0);
    while (a < end) {
      const x = v128.load(a);
      v128.store(r, v128.bitselect(minus, v128.bitselect(one, x, f64x2.gt(x, one)), f64x2.lt(x, minus)));
      a += 16; r += 16;
    }
  } else {
    memory.copy(r, a, n << 3);
  }
}

/**
 * dst[b][i] = src[i][lane0 + b] (minus src[i][b] when diff), b < B, i0 <= i < i1 (i0
 * even): a transposed block (rows of S lanes) back to the natural B x H layout, two by
 * two (2 x 2 blocks swapped with shuffles; a difference is the same IEEE subtraction
 * in either form).
 */
function untranspose(src: usize, S: usize, lane0: usize, dst: usize, diff: bool, i0: usize = 0, i1: usize = <usize>H): void {
  const nB = <usize>B, nH = <usize>H, B2 = nB & ~1, H2 = i1 & ~1, row = S << 3;
  for (let i: usize = i0; i < H2; i += 2) {
    const s0 = src + i * row, s1 = s0 + row;
    for (let b: usize = 0; b < B2; b += 2) {
      let x0 = v128.load(s0 + ((lane0 + b) << 3)), x1 = v128.load(s1 + ((lane0 + b) << 3));
      if (diff) {
        x0 = f64x2.sub(x0, v128.load(s0 + (b << 3)));
        x1 = f64x2.sub(x1, v128.load(s1 + (b << 3)));
      }
      const d = dst + ((b * nH + i) << 3);
      v128.store(d, i64x2.shuffle(x0, x1, 0, 2));
      v128.store(d + (nH << 3), i64x2.shuffle(x0, x1, 1, 3));
    }
  }
  for (let b: usize = 0; b < nB; b++)
    for (let i: usize = b < B2 ? (H2 > i0 ? H2 : i0) : i0; i < i1; i++) {
      const x = f(src, i * S + lane0 + b);
      setf(dst, b * nH + i, diff ? x - f(src, i * S + b) : x);
    }
}

/**
 * dst[i][lane0 + b] = src[b][i], b < B, i < H: the natural B x H layout into a transposed
 * block (rows of S lanes), two by two (the inverse of untranspose).
 */
function transposeIn(src: usize, dst: usize, S: usize, lane0: usize): void {
  const nB = <usize>B, nH = <usize>H, B2 = nB & ~1, H2 = nH & ~1, row = S << 3;
  for (let b: usize = 0; b < B2; b += 2) {
    const s0 = src + ((b * nH) << 3), s1 = s0 + (nH << 3);
    for (let i: usize = 0; i < H2; i += 2) {
      const x0 = v128.load(s0 + (i << 3)), x1 = v128.load(s1 + (i << 3));
      const d = dst + ((i * S + lane0 + b) << 3);
      v128.store(d, i64x2.shuffle(x0, x1, 0, 2));
      v128.store(d + row, i64x2.shuffle(x0, x1, 1, 3));
    }
  }
  for (let b: usize = 0; b < nB; b++)
    for (let i: usize = b < B2 ? H2 : 0; i < nH; i++) setf(dst, i * S + lane0 + b, f(src, b * nH + i));
}

/** x[i][s] += bias[i] for rows i0..i1-1 of a transposed block (rows of S lanes). */
function addBias(x: usize, bias: usize, i0: usize, i1: usize, S: usize): void {
  for (let i = i0; i < i1; i++) {
    const c = f(bias, i);
    for (let s: usize = 0; s < S; s++) setf(x, i * S + s, f(x, i * S + s) + c);
  }
}

/**
 * The bias update of rows 0..n-1 (rnn.ts addBatchOuter with one column of ones: e pre = e):
 * plain, bias[i] += e[b][i] for b in order, e[b][i] = coef delta[b][i], zeros skipped;
 * with a trace el (decayed by decay, summed into when summed, then bias += cw el when
 * cw != 0). delta rows are ds values apart.
 */
function biasUpdate(bias: usize, n: usize, coef: f64, delta: usize, ds: usize, el: usize, decay: f64, cw: f64, summed: bool): void {
  const nB = <usize>B, trace = el != 0, acc = trace ? el : bias;
  for (let i: usize = 0; i < n; i++) {
    let a = f(acc, i);
    if (trace) a *= decay;
    if (summed && coef != 0)
      for (let b: usize = 0; b < nB; b++) {
        const e = coef * f(delta, b * ds + i);
        if (e != 0) a += e;
      }
    setf(acc, i, a);
    if (trace && cw != 0) setf(bias, i, f(bias, i) + cw * a);
  }
}

/** Status of run and reward: done, or (threads build) a worker thread failed and the model's state is lost. */
export const OK = 0;
export const ERR_THREAD = -1;

/** The inputs of step k (K x B x I) into ut (this thread's copy), for both copies when noisy. */
function inputsOf(k: usize, S: usize, noisy: bool, ut: usize): void {
  const nB = <usize>B, nI = <usize>I, inputs = at(B_INPUTS);
  for (let b: usize = 0; b < nB; b++)
    for (let j: usize = 0; j < nI; j++) {
      const u = f(inputs, (k * nB + b) * nI + j);
      setf(ut, j * S + b, u);
      if (noisy) setf(ut, j * S + nB + b, u);
    }
}

/**
 * The noisy copy's node noise of step t (FloatDevice.drawNoise): aT[i][B + b] +=
 * gauss(sigmaH, key_b, i) for this thread's rows i0..i1-1, and on thread 0 the output
 * noise yt[o][B + b] = gauss(sigmaO, key_b, H + o), key_b = key(seed, 1, b, t). A
 * neuron's B noisy lanes are side by side in aT, so two sequences' draws (two keys)
 * are added per v128 (the same division and adds as one at a time).
 */
function addNoise(t: u32, seed: u32, sigmaH: f64, sigmaO: f64, aT: usize, yt: usize, i0: usize, i1: usize, S: usize, first: bool): void {
  const nB = <usize>B, nH = <usize>H, nO = <usize>O, B2 = nB & ~1;
  const keys = at(B_KEYS) + ((<usize>threadId * nB) << 3);
  for (let b: usize = 0; b < nB; b++) store<u64>(keys + (b << 3), key(seed, STREAM_NOISE, <u32>b, t));
  for (let i = i0; i < i1; i++) {
    const row = aT + ((i * S + nB) << 3);
    if (sigmaH == 0) {
      for (let b: usize = 0; b < nB; b++) setf(row, b, f(row, b) + 0);
      continue;
    }
    const sv = f64x2.splat(sigmaH);
    for (let b: usize = 0; b < B2; b += 2) {
      const g = gaussKeys2(sv, load<u64>(keys + (b << 3)), load<u64>(keys + (b << 3), 8), <u32>i);
      v128.store(row + (b << 3), f64x2.add(v128.load(row + (b << 3)), g));
    }
    if (B2 < nB) setf(row, B2, f(row, B2) + gauss(sigmaH, load<u64>(keys + (B2 << 3)), <u32>i));
  }
  if (first)
    for (let o: usize = 0; o < nO; o++)
      for (let b: usize = 0; b < nB; b++) setf(yt, o * S + nB + b, sigmaO == 0 ? 0 : gauss(sigmaO, load<u64>(keys + (b << 3)), <u32>(nH + o)));
}

/**
 * Run K steps from absolute step t0 (inputs in B_INPUTS, K x B x I). noisy: both copies,
 * noise drawn from (seed, sigmas) as FloatDevice.drawNoise, trace written for reward;
 * else the clean copy only. mismatch: apply gain and offset. hidden: write the clean
 * states to B_HIDDEN. trace: TRACE_* (innovation recovers the noise into B_DA, B_DY).
 * Thread 0 of the threads build hands each other thread its rows (runSteps); OK or ERR_THREAD.
 */
export function run(K: i32, t0: u32, noisy: bool, act: i32, mismatch: bool, hidden: bool, trace: i32, seed: u32, sigmaH: f64, sigmaO: f64): i32 {
  if (!settle()) return ERR_THREAD;
  const S: usize = noisy ? S2 : SC;
  const nB = <usize>B, nH = <usize>H, nI = <usize>I;
  const bh = nB * nH;
  const clean = at(B_CLEAN), noisyState = at(B_NOISY);
  let st = at(B_ST);
  if (!noisy && S > nB) zero(at(B_UT), <usize>THREADS * nI * S); // the padding lane (B odd) has zero inputs (every thread's copy)
  const layoutKey: usize = 2 * S + (noisy ? 1 : 0);
  let swap = false;
  if (held == layoutKey) { // the states the last run left, in this layout (online training: one step per call)
    swap = heldInRt;
  } else {
    if (!noisy && S > nB) zero(st, nH * S); // (a held padding lane is not zero; lanes never mix)
    transposeIn(clean, st, S, 0);
    if (noisy) transposeIn(noisyState, st, S, nB);
  }
  const flags = (noisy ? 1 : 0) | (mismatch ? 2 : 0) | (hidden ? 4 : 0) | (act << 3) | (trace << 5) | (swap ? 128 : 0);
  post(CMD_RUN, K, t0, flags, <i32>seed, 0, sigmaH, sigmaO, 0);
  if (noisy) memory.copy(at(B_STATES), clean, bh << 3); // after the post: no other thread reads B_CLEAN or writes r̂_{-1} in a run
  const inRt = runSteps(K, t0, flags, seed, sigmaH, sigmaO);
  if (threadsFailed()) return ERR_THREAD;
  hold(layoutKey, inRt);
  return OK;
}

/**
 * This thread's part of run's K steps (flags as run packs them): the pre-activations,
 * noise, activity and noise trace (da) of its rows (rangeStart, blocks of 8), then,
 * after all threads met, thread 0 alone the outputs and clean states of the step and
 * the last thread the noisy states, the trace's states and the norm of da, while the
 * others go on to the next step (their writes touch no buffer another thread still
 * reads: the inputs are per thread, the new states go to the other buffer). The innovation trace
 * reads the step's entering states after the meeting, so it meets again. Every value
 * is the one-thread arithmetic. Returns whether the states end in B_RT.
 */
export function runSteps(K: i32, t0: u32, flags: i32, seed: u32, sigmaH: f64, sigmaO: f64): bool {
  const noisy = (flags & 1) != 0, mismatch = (flags & 2) != 0, hidden = (flags & 4) != 0;
  const act = (flags >> 3) & 3, trace = (flags >> 5) & 3;
  const S: usize = noisy ? S2 : SC, P = <i32>(S >> 1);
  const nB = <usize>B, nH = <usize>H, nO = <usize>O;
  const bh = nB * nH, bo = nB * nO;
  let st = at(B_ST), rt = at(B_RT);
  if ((flags & 128) != 0) { st = at(B_RT); rt = at(B_ST); }
  const ut = at(B_UT) + ((<usize>threadId * <usize>I * S) << 3), aT = at(B_AT), yt = at(B_YT);
  const clean = at(B_CLEAN), noisyState = at(B_NOISY);
  const states = at(B_STATES), da = at(B_DA), dy = at(B_DY);
  const w = at(B_W), r = at(B_R), v = at(B_V), gain = at(B_GAIN), offset = at(B_OFFSET), biasH = at(B_BH);
  const i0 = <usize>rangeStart(H, threadId), i1 = <usize>rangeStart(H, threadId + 1);
  const first = threadId == 0, rowBytes = S << 3;
  const tailThread = threadId == (threadCount > 1 ? threadCount - 1 : 0);
  const tanhScratch = at(B_TANH) + 5 * i0 * rowBytes;
  for (let k: usize = 0; k < <usize>K; k++) {
    const t = t0 + <u32>k;
    inputsOf(k, S, noisy, ut);
    if (first) zero(yt, nO * S);
    if (i1 > i0) matvecT(<i32>(i1 - i0), w + i0 * (<usize>I << 3), I, ut, r + i0 * (nH << 3), H, st, P, aT + i0 * rowBytes, true);
    if (BIAS) addBias(aT, biasH, i0, i1, S); // W u + R r̂ + b, the reference's order
    if (mismatch)
      for (let i = i0; i < i1; i++) {
        const g = f(gain, i), o = f(offset, i);
        for (let s: usize = 0; s < S; s++) setf(aT, i * S + s, f(aT, i * S + s) * g + o);
      }
    if (noisy && (i1 > i0 || first)) addNoise(t, seed, sigmaH, sigmaO, aT, yt, i0, i1, S, first);
    if (i1 > i0) activate(act, aT + i0 * rowBytes, rt + i0 * rowBytes, (i1 - i0) * S, tanhScratch);
    if (noisy) untranspose(aT, S, nB, da + ((k * bh) << 3), true, i0, i1);
    barrier(); // every row of rt and da is done
    // The noisy copy's states, the trace's clean states and ||da_k||^2 (a sum of
    // B x H squares in order: 1000 dependent adds, ~1.3 us at H = 100, B = 10) on the
    // last thread, off thread 0's path: thread 0 returns the outputs to the host while
    // they are formed, and its next call waits for them (settle). The innovation trace
    // changes da after this meeting: thread 0 forms that norm below.
    if (noisy && tailThread) {
      if (k + 1 == <usize>K) tailDelay(); // tests only: the writes a host call after run must sync for
      untranspose(rt, S, nB, noisyState, false);
      untranspose(rt, S, 0, states + (((k + 1) * bh) << 3), false); // r̂_k of the trace (the clean states)
      if (trace != TRACE_INNOVATION) setf(at(B_NORM), k, sumSquares(da + ((k * bh) << 3), bh));
    }
    if (first) {
      if (threadsFailed()) return false;
      matvecT(O, 0, 0, 0, v, H, rt, P, yt, false);
      if (BIAS) addBias(yt, at(B_BO), 0, nO, S); // (noise +) V r̂, then + c
      if (noisy) {
        const dak = da + ((k * bh) << 3), dyk = dy + ((k * bo) << 3);
        for (let b: usize = 0; b < nB; b++)
          for (let o: usize = 0; o < nO; o++) setf(dyk, b * nO + o, f(yt, o * S + nB + b) - f(yt, o * S + b));
        if (trace == TRACE_INNOVATION) {
          recoverNoise(r, v, st, rt, S, dak, dyk);
          setf(at(B_NORM), k, sumSquares(dak, bh));
        }
        const on = at(B_OUT_NOISY) + ((k * bo) << 3);
        for (let b: usize = 0; b < nB; b++)
          for (let o: usize = 0; o < nO; o++) setf(on, b * nO + o, f(yt, o * S + nB + b));
      }
      const oc = at(B_OUT_CLEAN) + ((k * bo) << 3);
      const hk = at(B_HIDDEN) + ((k * bh) << 3);
      if (noisy || hidden || k + 1 == <usize>K) untranspose(rt, S, 0, clean, false); // a clean chunk's states are read only at its end
      if (hidden) memory.copy(hk, clean, bh << 3);
      for (let b: usize = 0; b < nB; b++)
        for (let o: usize = 0; o < nO; o++) setf(oc, b * nO + o, f(yt, o * S + b));
    }
    if (trace == TRACE_INNOVATION) barrier(); // recoverNoise read st, which the next step writes
    const tmp = st; st = rt; rt = tmp;
  }
  return st == at(B_RT);
}

/**
 * The innovation trace's credit signals (FloatDevice.recoverNoise): da -= R (r̂̃ - r̂)_{k-1},
 * dy -= V (r̂̃ - r̂)_k, the differences from the states entering (st) and leaving (rt) the step.
 */
function recoverNoise(r: usize, v: usize, st: usize, rt: usize, S: usize, dak: usize, dyk: usize): void {
  const nB = <usize>B, nH = <usize>H, nO = <usize>O, Sc = <usize>SC, P = <i32>(Sc >> 1);
  const dt = at(B_DT), zt = at(B_ZT);
  for (let pass = 0; pass < 2; pass++) {
    const from = pass == 0 ? st : rt;
    zero(dt, nH * Sc);
    for (let j: usize = 0; j < nH; j++)
      for (let b: usize = 0; b < nB; b++) setf(dt, j * Sc + b, f(from, j * S + nB + b) - f(from, j * S + b));
    const rows = pass == 0 ? H : O;
    matvecT(rows, 0, 0, 0, pass == 0 ? r : v, H, dt, P, zt, true);
    const out = pass == 0 ? dak : dyk, n = <usize>rows;
    for (let b: usize = 0; b < nB; b++)
      for (let i: usize = 0; i < n; i++) setf(out, b * n + i, f(out, b * n + i) - f(zt, i * Sc + b));
  }
}

/** Reward's two f64 arguments beyond the three slots of a posted command (threads build). */
const REWARD_ARGS = memory.data(16, 16);

/**
 * The ANP-T updates of the K steps of the last noisy chunk, in order (FloatDevice.update),
 * rewards dL in B_DL. trace: TRACE_* with decay; sqrtN = sqrt(I + H + O). Thread 0 of
 * the threads build hands each other thread its rows (rewardRows) and returns while
 * they may still update theirs (the next call, or sync, waits); OK or ERR_THREAD.
 */
export function reward(K: i32, lrW: f64, lrR: f64, lrV: f64, sqrtN: f64, trace: i32, decay: f64): i32 {
  if (!settle()) return ERR_THREAD;
  store<f64>(REWARD_ARGS, sqrtN);
  store<f64>(REWARD_ARGS + 8, decay);
  post(CMD_REWARD, K, 0, trace, 0, 0, lrW, lrR, lrV);
  rewardRows(K, lrW, lrR, lrV, sqrtN, trace, decay);
  return OK; // the other threads finish their rows while the host goes on (sync)
}

/** Thread 0: the last command is done on every thread (the host calls it before it reads or writes a buffer); OK or ERR_THREAD. */
export function sync(): i32 {
  return settle() ? OK : ERR_THREAD;
}

/**
 * This thread's rows of reward's updates: rows rangeStart of W and R, outputs
 * outputStart of V, all K steps in order (a row's update reads no other row, so the
 * threads meet only at the end). Scratch: 2 B values per row, at the rows' own place.
 */
export function rewardRows(K: i32, lrW: f64, lrR: f64, lrV: f64, sqrtN: f64, trace: i32, decay: f64): void {
  const nB = <usize>B, nH = <usize>H, nI = <usize>I, nO = <usize>O;
  const bh = nB * nH, bo = nB * nO, Bf = <f64>B;
  const i0 = <usize>rangeStart(H, threadId), i1 = <usize>rangeStart(H, threadId + 1);
  const o0 = <usize>outputStart(H, O, threadId), o1 = <usize>outputStart(H, O, threadId + 1);
  const n = <i32>(i1 - i0), no = <i32>(o1 - o0);
  const w = at(B_W) + ((i0 * nI) << 3), r = at(B_R) + ((i0 * nH) << 3), v = at(B_V) + ((o0 * nH) << 3);
  const ew = at(B_EW) + ((i0 * nI) << 3), er = at(B_ER) + ((i0 * nH) << 3);
  const bh0 = at(B_BH) + (i0 << 3), eb0 = at(B_EB) + (i0 << 3), bo0 = at(B_BO) + (o0 << 3);
  const inputs = at(B_INPUTS), states = at(B_STATES), da = at(B_DA), dy = at(B_DY), dls = at(B_DL), norms = at(B_NORM);
  const scratch = at(B_SCRATCH) + ((2 * i0 * nB) << 3), scratchV = at(B_SCRATCH) + ((2 * o0 * nB) << 3);
  for (let k: usize = 0; k < <usize>K; k++) {
    const dL = f(dls, k);
    const dak = da + ((k * bh) << 3), dyk = dy + ((k * bo) << 3);
    const uk = inputs + ((k * nB * nI) << 3), sPrev = states + ((k * bh) << 3), sNow = states + (((k + 1) * bh) << 3);
    const sh = f(norms, k), so = sumSquares(dyk, bo); // sh formed in run (runSteps)
    const dRows = dak + (i0 << 3);
    if (n > 0) {
      if (trace != TRACE_NONE) {
        const cw = (-lrW * sqrtN * dL) / Bf, cr = (-lrR * sqrtN * dL) / Bf;
        outerUpdate(ew, n, I, 1 / sh, B, dRows, uk, scratch, true, decay, cw, w, sh > 0, H);
        outerUpdate(er, n, H, 1 / sh, B, dRows, sPrev, scratch, true, decay, cr, r, sh > 0, H);
        if (BIAS) biasUpdate(bh0, n, 1 / sh, dRows, nH, eb0, decay, cw, sh > 0);
      } else if (sh > 0) {
        outerUpdate(w, n, I, (-lrW * sqrtN * dL) / (Bf * sh), B, dRows, uk, scratch, false, 0, 0, 0, true, H);
        outerUpdate(r, n, H, (-lrR * sqrtN * dL) / (Bf * sh), B, dRows, sPrev, scratch, false, 0, 0, 0, true, H);
        if (BIAS) biasUpdate(bh0, n, (-lrW * sqrtN * dL) / (Bf * sh), dRows, nH, 0, 0, 0, true);
      }
    }
    if (so > 0 && no > 0) {
      outerUpdate(v, no, H, (-lrV * sqrtN * dL) / (Bf * so), B, dyk + (o0 << 3), sNow, scratchV, false, 0, 0, 0, true, O);
      if (BIAS) biasUpdate(bo0, no, (-lrV * sqrtN * dL) / (Bf * so), dyk + (o0 << 3), nO, 0, 0, 0, true);
    }
  }
}

/** The other threads: wait for thread 0's next command and do this thread's part; false on quit. */
export function serveNext(): bool {
  if (!ASC_FEATURE_THREADS || threadId == 0) return false;
  served = awaitCommand(served);
  switch (commandCode()) {
    case CMD_QUIT: return false;
    case CMD_LAYOUT: dims(argK(), <i32>argT0(), argFlags(), argUpdateK(), <i32>argUpdateT0(), argLr(0) != 0); break;
    case CMD_RUN: runSteps(argK(), argT0(), argFlags(), <u32>argUpdateK(), argLr(0), argLr(1)); break;
    case CMD_REWARD: rewardRows(argK(), argLr(0), argLr(1), argLr(2), load<f64>(REWARD_ARGS), argFlags(), load<f64>(REWARD_ARGS + 8)); break;
  }
  commandDone(served, 0, 0);
  return true;
}

/** The last command a worker served (per instance). */
let served: i32 = 0;

/** Thread 0: the sizes of a new layout (layout.ts) go to the other threads too; false when a worker failed. */
export function shareLayout(): bool {
  if (!settle()) return false;
  post(CMD_LAYOUT, I, <u32>H, O, B, <u32>layoutK, BIAS ? 1 : 0, 0, 0);
  return true;
}

/** Thread 0: let the other threads' serveNext() return false. */
export function stopThreads(): void {
  if (settle()) post(CMD_QUIT, 0, 0, 0, 0, 0, 0, 0, 0);
}

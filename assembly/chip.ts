// The chip's interface to the host: configuration, parameter IO, one chunk of K steps
// for B sequences (clean and noisy copies in lockstep: step.ts) and the on-chip ANP-T
// update of the last noisy chunk (update.ts). Numerics: docs/kernel.md.
import { unpackFmt } from './fixed';
import { key, gauss, gaussScale, STREAM_GAIN, STREAM_OFFSET } from './rng';
import { Chip } from './context';
import { Layout } from './layout';
import { mantissaBits } from './plasticity';
import { loadInputs, hiddenPre, noise, activate, outputs, traceHidden, tanhNearestSat, prepareActivation } from './step';
import { update, prepareUpdate } from './update';
import { configureTraces, recoverNoise, TRACE_INNOVATION, TRACE_NONE } from './trace';
import { MAX_INPUTS, MAX_HIDDEN, MAX_OUTPUTS, MAX_BATCH, MAX_CHUNK_STEPS } from './limits';
import { ownRowCounts, takeOwnRowCounts } from './batch-outer';
import { maxAbs32, sumSquares } from './plasticity';
import {
  MAX_THREADS, threadId, threadCount, rangeStart, outputStart, barrier, post, awaitCommand, commandCode, argK, argT0,
  argFlags, argUpdateK, argUpdateT0, argLr, commandDone, progress, settle, threadsFailed, otherRows, resetOtherRows,
  dynamicSplit, openRows, claimRows, claimEnd, rowsDone, awaitRows,
  CMD_RUN, CMD_REWARD, CMD_QUIT,
} from './threads';

// Status codes returned to the host (src/device/emulator.ts reads them from these exports).
export const OK: i32 = 0;
export const ERR_NOT_CONFIGURED: i32 = -1;
export const ERR_MEMORY: i32 = -2;
export const ERR_STEPS: i32 = -3;
export const ERR_NO_CHUNK: i32 = -4;
export const ERR_T0: i32 = -5;
export const ERR_SIZE: i32 = -6;
export const ERR_TENSOR: i32 = -7;
/** A worker thread of the threads build failed (threads.ts DEAD); the chip's state is lost. */
export const ERR_THREAD: i32 = -8;

// The few objects below are the only runtime allocations (made once at start-up, by
// the stub runtime just above __heap_base); buffers start at BASE, clear of them.
// Nothing is allocated after start-up, so nothing can grow into the buffers.
const chip = new Chip();
const PROBE = new Layout();
const BASE: usize = (__heap_base + 8192 + 15) & ~(<usize>15);
/** The wasm32 address space: a layout ending beyond it cannot be configured. */
const ADDRESS_SPACE: u64 = <u64>1 << 32;

/** 1 when every size is within the kernel's limits (limits.ts). */
function sizesFit(I: i32, H: i32, O: i32, B: i32, K: i32): bool {
  return I >= 1 && I <= MAX_INPUTS && H >= 1 && H <= MAX_HIDDEN && O >= 1 && O <= MAX_OUTPUTS
    && B >= 1 && B <= MAX_BATCH && K >= 1 && K <= MAX_CHUNK_STEPS;
}

/**
 * Bytes of the buffers a configuration lays out (layout.ts), measured in 64 bits;
 * -1 if a size is beyond the limits. The kernel's memory also holds BASE bytes below
 * the buffers (memoryBase()).
 */
export function layoutBytes(I: i32, H: i32, O: i32, B: i32, K: i32, bias: i32, elig: i32): f64 {
  if (!sizesFit(I, H, O, B, K)) return -1;
  return <f64>(PROBE.plan(BASE, I, H, O, B, K, bias != 0, elig) - <u64>BASE);
}

/** Address of the first buffer: the kernel's own data (tables, objects, stack) lies below. */
export function memoryBase(): f64 {
  return <f64>BASE;
}

/**
 * Lay out the buffers and set the formats, seeds and mismatch; zeroes weights and
 * state. Refused (ERR_SIZE, ERR_MEMORY) before anything changes: a refused
 * configuration leaves the previous one in place.
 */
export function configure(
  I: i32, H: i32, O: i32, B: i32, K: i32, act: i32,
  fmtIn: i32, fmtW: i32, fmtPre: i32, fmtAct: i32, fmtOut: i32,
  seedLo: u32, seedHi: u32,
  sigmaHiddenLsb: f64, sigmaOutputLsb: f64,
  gainSpread: f64, offsetSpreadLsb: f64, mismatchSeed: u32, bias: i32,
  elig: i32, decay: f64,
): i32 {
  if (!sizesFit(I, H, O, B, K)) return ERR_SIZE;
  if (elig < TRACE_NONE || elig > TRACE_INNOVATION || !(decay >= 0.0 && decay < 1.0)) return ERR_SIZE;
  if (!sync()) return ERR_THREAD;
  const end = PROBE.plan(BASE, I, H, O, B, K, bias != 0, elig);
  if (end > ADDRESS_SPACE) return ERR_MEMORY;
  const needPages = <i32>((end + 0xffff) >> 16);
  const have = memory.size();
  if (needPages > have && memory.grow(needPages - have) < 0) return ERR_MEMORY;
  const c = chip, L = c.L;
  L.plan(BASE, I, H, O, B, K, bias != 0, elig);
  memory.fill(L.w, 0, L.end - L.w);
  unpackFmt(fmtIn, c.fIn);
  unpackFmt(fmtW, c.fW);
  unpackFmt(fmtPre, c.fPre);
  unpackFmt(fmtAct, c.fAct);
  unpackFmt(fmtOut, c.fOut);
  c.act = act;
  prepareActivation(c);
  c.seed = (<u64>seedHi << 32) | <u64>seedLo;
  c.scaleHidden = gaussScale(sigmaHiddenLsb);
  c.scaleOutput = gaussScale(sigmaOutputLsb);
  c.sqrtN = Math.sqrt(<f64>(I + H + O));
  c.mantBits = mantissaBits(B);
  c.mismatch = gainSpread > 0.0 || offsetSpreadLsb > 0.0;
  c.bias = bias != 0;
  configureTraces(c, elig, decay, sigmaHiddenLsb);
  const gScale = gaussScale(gainSpread * 16384.0);
  const oScale = gaussScale(offsetSpreadLsb);
  const kg = key(<u64>mismatchSeed, STREAM_GAIN, 0, 0);
  const ko = key(<u64>mismatchSeed, STREAM_OFFSET, 0, 0);
  for (let i = 0; i < H; i++) {
    store<i32>(L.gain + (<usize>i << 2), <i32>(16384 + gauss(gScale, kg, <u64>i)));
    store<i32>(L.offset + (<usize>i << 2), <i32>gauss(oScale, ko, <u64>i));
  }
  c.pendingSteps = 0;
  c.bank = 0;
  c.stepCount = 0;
  c.updateCount = 0;
  c.configured = true;
  return OK;
}

// ---- buffers the host reads and writes ----
export function ptrInputs(): usize { return chip.L.inputs; }
export function ptrOutClean(): usize { return chip.L.outClean; }
export function ptrOutNoisy(): usize { return chip.L.outNoisy; }
export function ptrHidden(): usize { return chip.L.hidden; }
export function ptrStaging(): usize { return chip.L.staging; }
export function ptrRewards(): usize { return chip.L.rewards; }
export function steps(): f64 { return <f64>chip.stepCount; }
export function updates(): f64 { return <f64>chip.updateCount; }

// Tensor ids for parameter IO through the staging buffer.
export const T_W: i32 = 0;
export const T_R: i32 = 1;
export const T_V: i32 = 2;
export const T_STATE_CLEAN: i32 = 3;
export const T_STATE_NOISY: i32 = 4;
/** The bias registers b (1 x H) and c (1 x O); ERR_TENSOR on a chip configured without biases. */
export const T_BIAS_HIDDEN: i32 = 5;
export const T_BIAS_OUTPUT: i32 = 6;
/** The eligibility traces E_W (H x I), E_R (H x H), e_b (1 x H), int32; ERR_TENSOR on a chip without that trace. */
export const T_TRACE_W: i32 = 7;
export const T_TRACE_R: i32 = 8;
export const T_TRACE_B: i32 = 9;

/** A tensor's place: base address, rows, cols, row stride (elements), element size log2 (1: int16, 2: int32). */
@unmanaged
class Tensor {
  base: usize = 0;
  rows: i32 = 0;
  cols: i32 = 0;
  stride: i32 = 0;
  shift: i32 = 1;
}
const tensor = new Tensor();

/** Where tensor t lives, into `tensor`; false for an unknown id. */
function tensorShape(L: Layout, t: i32): bool {
  tensor.shift = t >= T_TRACE_W ? 2 : 1;
  if (t == T_W) { tensor.base = L.w; tensor.rows = L.H; tensor.cols = L.I; tensor.stride = L.Ip; }
  else if (t == T_R) { tensor.base = L.r; tensor.rows = L.H; tensor.cols = L.H; tensor.stride = L.Hp; }
  else if (t == T_V) { tensor.base = L.v; tensor.rows = L.O; tensor.cols = L.H; tensor.stride = L.Hp; }
  else if (t == T_STATE_CLEAN) { tensor.base = L.state; tensor.rows = L.B; tensor.cols = L.H; tensor.stride = L.Hp; }
  else if (t == T_STATE_NOISY) { tensor.base = L.rn; tensor.rows = L.B; tensor.cols = L.H; tensor.stride = L.Hp; }
  else if (t == T_BIAS_HIDDEN && L.bb != 0) { tensor.base = L.bb; tensor.rows = 1; tensor.cols = L.H; tensor.stride = L.H; }
  else if (t == T_BIAS_OUTPUT && L.bc != 0) { tensor.base = L.bc; tensor.rows = 1; tensor.cols = L.O; tensor.stride = L.O; }
  else if (t == T_TRACE_W && L.ew != 0) { tensor.base = L.ew; tensor.rows = L.H; tensor.cols = L.I; tensor.stride = L.Ip; }
  else if (t == T_TRACE_R && L.er != 0) { tensor.base = L.er; tensor.rows = L.H; tensor.cols = L.H; tensor.stride = L.Hp; }
  else if (t == T_TRACE_B && L.eb != 0) { tensor.base = L.eb; tensor.rows = 1; tensor.cols = L.H; tensor.stride = L.H; }
  else return false;
  return true;
}

/** Copy between staging (rows x cols, unpadded) and tensor t (padded rows), either way. */
function copyTensor(t: i32, intoTensor: bool): i32 {
  if (!chip.configured) return ERR_NOT_CONFIGURED;
  if (!sync()) return ERR_THREAD;
  const L = chip.L;
  if (!tensorShape(L, t)) return ERR_TENSOR;
  const sh = <usize>tensor.shift;
  const rowBytes = <usize>tensor.cols << sh;
  for (let i = 0; i < tensor.rows; i++) {
    const padded = tensor.base + ((<usize>i * tensor.stride) << sh);
    const packed = L.staging + ((<usize>i * tensor.cols) << sh);
    if (intoTensor) memory.copy(padded, packed, rowBytes);
    else memory.copy(packed, padded, rowBytes);
  }
  return OK;
}

/** Copy staging into tensor t; values are clamped by the host. */
export function loadTensor(t: i32): i32 {
  return copyTensor(t, true);
}

/** Copy tensor t into staging. */
export function storeTensor(t: i32): i32 {
  return copyTensor(t, false);
}

/** Zero the recurrent state of both copies and the eligibility traces. */
export function resetState(): i32 {
  if (!chip.configured) return ERR_NOT_CONFIGURED;
  if (!sync()) return ERR_THREAD;
  const L = chip.L;
  memory.fill(L.state, 0, <usize>L.B * L.Hp * 2);
  memory.fill(L.rn, 0, <usize>L.B * L.Hp * 2);
  if (L.ew != 0) {
    memory.fill(L.ew, 0, <usize>L.H * L.Ip * 4);
    memory.fill(L.er, 0, <usize>L.H * L.Hp * 4);
    if (L.eb != 0) memory.fill(L.eb, 0, <usize>L.H * 4);
  }
  return OK;
}

/** The bank's trace of the inputs and of the clean activity (layout.ts: bank 1 is xs2, rs2). */
// @ts-ignore: decorator
@inline
function bankXs(L: Layout, bank: i32): usize { return bank != 0 ? L.xs2 : L.xs; }
// @ts-ignore: decorator
@inline
function bankRs(L: Layout, bank: i32): usize { return bank != 0 ? L.rs2 : L.rs; }

/**
 * Run K steps from the inputs buffer (K x B x I codes). noisy: advance the noisy copy
 * and keep traces for reward(). trace: write the clean hidden activity.
 * With a second trace bank (threads build) a run applies the update that reward()
 * deferred to it, each thread its own rows, then runs the steps into the other bank:
 * each thread's rows are updated before it reads them, and the update reads only the
 * old bank, so the two overlap with no meeting between them (docs/kernel.md).
 */
export function run(K: i32, t0: u32, noisy: bool, trace: bool): i32 {
  const c = chip, L = c.L;
  if (!c.configured) return ERR_NOT_CONFIGURED;
  if (K < 1 || K > L.K) return ERR_STEPS;
  if (!settle()) return ERR_THREAD;
  const stepBytes = <usize>L.B * L.Hp * 2;
  const uK = c.deferSteps, old = c.bank;
  const bank = L.rs2 != 0 ? old ^ 1 : 0;
  c.deferSteps = 0;
  const rs = bankRs(L, bank), xs = bankXs(L, bank);
  memory.copy(rs, L.state, stepBytes);
  for (let k = 0; k < K; k++) loadInputs(c, k, xs);
  // online (one step, at most one deferred update) on a large chip: rows split dynamically
  const dyn = K == 1 && uK <= 1 && L.sums != 0 && dynamicSplit(L.H, L.B);
  if (dyn) {
    memory.fill(sumsOf(L, bank, 0, 0), 0, 32 * MAX_THREADS); // every thread adds its blocks' sums
    openRows();
  }
  post(CMD_RUN, K, t0, (noisy ? 1 : 0) | (trace ? 2 : 0) | (uK > 0 ? 4 : 0) | (bank << 3) | (old << 4) | (dyn ? 32 : 0), uK, c.deferT0, c.deferLrW, c.deferLrR, c.deferLrV);
  if (dyn) {
    runDynamic(c, t0, noisy, trace, bank, uK, c.deferT0, c.deferLrW, c.deferLrR, c.deferLrV, old);
    // every row is done (the hidden trace too) and thread 0 wrote every output
    if (!awaitRows(L.H)) return ERR_THREAD;
    outputs(c, 0, t0, rs + stepBytes, L.rn + stepBytes, noisy, 0, L.O);
    if (noisy) partialSums(L.dy, L.O, L.O, L.B, sumsOf(L, bank, 0, 0) + 16);
  } else {
    if (uK > 0) rewardSteps(c, uK, c.deferT0, c.deferLrW, c.deferLrR, c.deferLrV, old);
    runSteps(c, K, t0, noisy, trace, bank);
  }
  // the host reads the outputs and the hidden trace when run returns: wait for the
  // others unless thread 0 wrote all of them
  if (dyn || (!trace && outputStart(L.H, L.O, 1) >= L.O) ? threadsFailed() : !settle()) return ERR_THREAD;
  // the state for the next chunk (the noisy copy ends in rn[1] after an odd K)
  memory.copy(L.state, rs + (<usize>K * stepBytes), stepBytes);
  if (noisy && (K & 1)) memory.copy(L.rn, L.rn + stepBytes, stepBytes);
  c.bank = bank;
  c.stepCount += <u64>K;
  c.pendingSteps = noisy ? K : 0;
  c.pendingT0 = t0;
  return OK;
}

/**
 * The K steps of a chunk for this thread's neurons and outputs (all of them in one
 * thread) into trace bank `bank`; the threads meet after each step's activity, which
 * every neuron reads next. With a second bank each thread also keeps its share of the
 * sums the update needs (sumsOf), so that the update needs nobody else's da and dy.
 */
function runSteps(c: Chip, K: i32, t0: u32, noisy: bool, trace: bool, bank: i32): void {
  const L = c.L, H = L.H, O = L.O, B = L.B, id = threadId;
  const i0 = rangeStart(H, id), i1 = rangeStart(H, id + 1);
  const o0 = outputStart(H, O, id), o1 = outputStart(H, O, id + 1);
  const stepBytes = <usize>B * L.Hp * 2;
  const rs = bankRs(L, bank), xs = bankXs(L, bank);
  const partial = noisy && threadCount > 1 && L.sums != 0;
  // clean activity: rs[k] before step k, rs[k + 1] after; noisy: ping-pong in rn
  let rn = L.rn;
  let rnNext = L.rn + stepBytes;
  for (let k = 0; k < K; k++) {
    const t: u32 = t0 + <u32>k;
    const r = rs + (<usize>k * stepBytes);
    const rNext = r + stepBytes;
    hiddenPre(c, t, xs + (<usize>k * B * L.Ip << 1), r, rn, noisy, i0, i1);
    if (noisy) noise(c, k, t, i0, i1);
    if (noisy && c.elig == TRACE_INNOVATION) recoverNoise(c, k, i0, i1);
    activate(c, t, rNext, rnNext, noisy, i0, i1);
    if (trace) traceHidden(c, k, rNext, i0, i1);
    if (partial) partialSums(L.da + ((<usize>k * B * H + i0) << 2), H, i1 - i0, B, sumsOf(L, bank, k, id));
    barrier();
    outputs(c, k, t, rNext, rnNext, noisy, o0, o1);
    if (partial) partialSums(L.dy + ((<usize>k * B * O + o0) << 2), O, o1 - o0, B, sumsOf(L, bank, k, id) + 16);
    if (noisy) {
      const tmp = rn;
      rn = rnNext;
      rnNext = tmp;
    }
  }
}

/**
 * One online step (K = 1) with its deferred update (uK = 1, from trace bank `old`) on
 * this thread: blocks of rows claimed until none is left (claimRows), each updated
 * (W, R, and V's rows of the same index: the update's mantissa rows are shared by
 * index) and then run, so a row is in cache for the forward pass right after its
 * update. Every row sees the one-thread arithmetic, whoever claims it: the same bits
 * for any split. The outputs follow on thread 0 once every row is done (run).
 */
function runDynamic(c: Chip, t0: u32, noisy: bool, trace: bool, bank: i32, uK: i32, uT0: u32, lrW: f64, lrR: f64, lrV: f64, old: i32): void {
  const L = c.L, H = L.H, O = L.O, B = L.B, id = threadId;
  const stepBytes = <usize>B * L.Hp * 2;
  const rs = bankRs(L, bank), xs = bankXs(L, bank);
  const rNext = rs + stepBytes, rnNext = L.rn + stepBytes;
  const sums = sumsOf(L, bank, 0, id);
  const scratch = L.scratch + <usize>id * 3 * L.scratchBytes;
  const total = TOTALS + (<usize>id << 6);
  const dL = uK > 0 ? load<f64>(L.rewards) : 0.0;
  let prepared = false;
  for (let i0 = claimRows(H); i0 >= 0; i0 = claimRows(H)) {
    const i1 = claimEnd;
    if (uK > 0) {
      if (!prepared) {
        prepareUpdate(c, 0, bankXs(L, old), bankRs(L, old), scratch);
        sumTotals(L, old, 0, total);
        prepared = true;
      }
      // V's rows i0 .. i1 (those beyond H with the last block)
      const o0 = i0 < O ? i0 : O, o1 = i1 == H ? O : i1 < O ? i1 : O;
      update(c, 0, uT0, dL, lrW, lrR, lrV, i0, i1, o0, o1, scratch, bankXs(L, old), bankRs(L, old), total, true);
    }
    hiddenPre(c, t0, xs, rs, L.rn, noisy, i0, i1);
    if (noisy) noise(c, 0, t0, i0, i1);
    if (noisy && c.elig == TRACE_INNOVATION) recoverNoise(c, 0, i0, i1);
    activate(c, t0, rNext, rnNext, noisy, i0, i1);
    if (trace) traceHidden(c, 0, rNext, i0, i1);
    if (noisy) addPartialSums(L.da + (<usize>i0 << 2), H, i1 - i0, B, sums);
    rowsDone(i1 - i0);
  }
}

/** Thread id's sums of step k of bank `bank`: sum of squares and max |.| of its da, then of its dy (4 i64). */
// @ts-ignore: decorator
@inline
function sumsOf(L: Layout, bank: i32, k: i32, id: i32): usize {
  return L.sums + ((<usize>((bank * L.K + k) * MAX_THREADS + id)) << 5);
}

/** Sum of squares and max |.| (plasticity.ts: exact, in any order) of n columns of B rows of `stride` int32, into p (2 i64). */
function partialSums(first: usize, stride: i32, n: i32, B: i32, p: usize): void {
  let s: i64 = 0;
  let m: i32 = 0;
  if (n > 0) {
    for (let b = 0; b < B; b++) {
      const row = first + ((<usize>b * stride) << 2);
      s += sumSquares(row, n);
      const a = maxAbs32(row, n);
      if (a > m) m = a;
    }
  }
  store<i64>(p, s);
  store<i64>(p, <i64>m, 8);
}

/** partialSums added to what p holds (the sum added, the max kept): a dynamic run's blocks. */
function addPartialSums(first: usize, stride: i32, n: i32, B: i32, p: usize): void {
  let s: i64 = 0;
  let m: i32 = 0;
  for (let b = 0; b < B; b++) {
    const row = first + ((<usize>b * stride) << 2);
    s += sumSquares(row, n);
    const a = maxAbs32(row, n);
    if (a > m) m = a;
  }
  store<i64>(p, load<i64>(p) + s);
  if (<i64>m > load<i64>(p, 8)) store<i64>(p, <i64>m, 8);
}

/** Per thread: the totals of every thread's sums of one step (rewardSteps); a cache line each. */
const TOTALS = memory.data(64 * MAX_THREADS, 64);

/** The totals of every thread's sums of step k of bank `bank` (exact integers: any order) into total (4 i64). */
function sumTotals(L: Layout, bank: i32, k: i32, total: usize): void {
  let sa: i64 = 0, ma: i64 = 0, sy: i64 = 0, my: i64 = 0;
  for (let j = 0; j < threadCount; j++) {
    const p = sumsOf(L, bank, k, j);
    sa += load<i64>(p);
    sy += load<i64>(p, 16);
    const a = load<i64>(p, 8), y = load<i64>(p, 24);
    if (a > ma) ma = a;
    if (y > my) my = y;
  }
  store<i64>(total, sa);
  store<i64>(total, ma, 8);
  store<i64>(total, sy, 16);
  store<i64>(total, my, 24);
}

/**
 * Apply the ANP-T update for each step of the pending chunk, in order, with the
 * rewards dL (K f64 in the rewards buffer) and step sizes lrW, lrR, lrV. The next run
 * sees the new weights: in one thread and without a second trace bank the update is
 * applied here; with one (threads build) it is recorded and the next run applies it
 * on every thread before its steps, and every other export first (sync).
 */
export function reward(K: i32, t0: u32, lrW: f64, lrR: f64, lrV: f64): i32 {
  const c = chip, L = c.L;
  if (!c.configured) return ERR_NOT_CONFIGURED;
  if (c.pendingSteps == 0) return ERR_NO_CHUNK;
  if (K != c.pendingSteps) return ERR_STEPS;
  if (t0 != c.pendingT0) return ERR_T0;
  if (threadCount > 1 && L.rs2 != 0) {
    if (threadsFailed()) return ERR_THREAD;
    c.deferSteps = K;
    c.deferT0 = t0;
    c.deferLrW = lrW;
    c.deferLrR = lrR;
    c.deferLrV = lrV;
  } else {
    if (!settle()) return ERR_THREAD;
    post(CMD_REWARD, 0, 0, c.bank << 3, K, t0, lrW, lrR, lrV);
    rewardSteps(c, K, t0, lrW, lrR, lrV, c.bank);
    if (threadsFailed()) return ERR_THREAD;
  }
  c.updateCount += <u64>K;
  c.pendingSteps = 0;
  return OK;
}

/**
 * Thread 0: the last command done on every thread and a deferred update applied
 * (what every export that reads or writes the chip needs first); false when a worker failed.
 */
function sync(): bool {
  if (!settle()) return false;
  const c = chip;
  const K = c.deferSteps;
  if (K > 0) {
    c.deferSteps = 0;
    post(CMD_REWARD, 0, 0, c.bank << 3, K, c.deferT0, c.deferLrW, c.deferLrR, c.deferLrV);
    rewardSteps(c, K, c.deferT0, c.deferLrW, c.deferLrR, c.deferLrV, c.bank);
    return settle();
  }
  return true;
}

/** The K updates of the chunk in trace bank `bank` for this thread's rows (each row's updates stay in step order). */
function rewardSteps(c: Chip, K: i32, t0: u32, lrW: f64, lrR: f64, lrV: f64, bank: i32): void {
  const L = c.L, H = L.H, O = L.O, id = threadId;
  const i0 = rangeStart(H, id), i1 = rangeStart(H, id + 1);
  const o0 = outputStart(H, O, id), o1 = outputStart(H, O, id + 1);
  const scratch = L.scratch + <usize>id * 3 * L.scratchBytes;
  const xs = bankXs(L, bank), rs = bankRs(L, bank);
  // with a second bank a run may overwrite da and dy of other threads' neurons while
  // this thread updates: the sums come from the per-thread sums of the run (exact integers)
  const total = threadCount > 1 && L.sums != 0 ? TOTALS + (<usize>id << 6) : 0;
  for (let k = 0; k < K; k++) {
    if (total != 0) sumTotals(L, bank, k, total);
    update(c, k, t0 + <u32>k, load<f64>(L.rewards + (<usize>k << 3)), lrW, lrR, lrV, i0, i1, o0, o1, scratch, xs, rs, total);
    progress();
  }
}

/** Threads 1..: the command after sequence number `served` (the last one served). */
let served = 0;

/**
 * Threads 1.. of the threads build: wait for thread 0's next command (post in
 * threads.ts), do this thread's share, say done; false when told to stop. The worker's
 * host code calls it in a loop (kernel-threads.ts). False at once in the other builds.
 */
export function serveNext(): bool {
  if (!ASC_FEATURE_THREADS || threadId == 0) return false;
  const seq = awaitCommand(served);
  served = seq;
  const cmd = commandCode();
  if (cmd == CMD_QUIT) return false;
  const c = chip, f = argFlags();
  if (cmd == CMD_RUN && (f & 32)) {
    runDynamic(c, argT0(), (f & 1) != 0, (f & 2) != 0, (f >> 3) & 1, (f & 4) ? argUpdateK() : 0, argUpdateT0(), argLr(0), argLr(1), argLr(2), (f >> 4) & 1);
  } else if (cmd == CMD_RUN) {
    if (f & 4) rewardSteps(c, argUpdateK(), argUpdateT0(), argLr(0), argLr(1), argLr(2), (f >> 4) & 1);
    runSteps(c, argK(), argT0(), (f & 1) != 0, (f & 2) != 0, (f >> 3) & 1);
  } else if (cmd == CMD_REWARD) {
    rewardSteps(c, argUpdateK(), argUpdateT0(), argLr(0), argLr(1), argLr(2), (f >> 3) & 1);
  }
  commandDone(seq, takeOwnRowCounts(false), takeOwnRowCounts(true));
  return true;
}

/** Thread 0: let the other threads' serveNext() return false (a deferred update is applied first). */
export function stopThreads(): void {
  if (sync()) post(CMD_QUIT, 0, 0, 0, 0, 0, 0, 0, 0);
}

/** Update rows visited (false) or skipped (true) by every thread since resetRowSkipCounts (batch-outer.ts). */
export function rowSkipCounts(skipped: bool): f64 {
  sync();
  return <f64>(ownRowCounts(skipped) + otherRows(skipped));
}

export function resetRowSkipCounts(): void {
  sync();
  takeOwnRowCounts(false);
  takeOwnRowCounts(true);
  resetOtherRows();
}

/** Update rows visited by threads other than 0 since resetRowSkipCounts (they are in rowSkipCounts too). */
export function rowsByOtherThreads(): f64 {
  sync();
  return <f64>otherRows(false);
}

// Exported for the test that the tight tanh loop equals the general activation.
export function testTanhFast(a: i32, pF: i32, aF: i32, actBits: i32): i32 {
  return tanhNearestSat(a, 16 - pF, 15 - aF, (1 << (actBits - 1)) - 1);
}

// The chip's interface to the host: configuration, parameter IO, one chunk of K steps
// for B sequences (clean and noisy copies in lockstep: step.ts) and the on-chip ANP-T
// update of the last noisy chunk (update.ts). Numerics: docs/kernel.md.
import { unpackFmt } from './fixed';
import { key, gauss, gaussScale, STREAM_GAIN, STREAM_OFFSET } from './rng';
import { Chip } from './context';
import { Layout } from './layout';
import { mantissaBits } from './plasticity';
import { loadInputs, hiddenPre, noise, activate, outputs, traceHidden, tanhNearestSat, prepareActivation } from './step';
import { update } from './update';
import { MAX_INPUTS, MAX_HIDDEN, MAX_OUTPUTS, MAX_BATCH, MAX_CHUNK_STEPS } from './limits';
import { takeOwnRowCounts } from './batch-outer';
import {
  threadId, threadCount, rangeStart, outputStart, barrier, post, awaitCommand, commandCode, argK, argT0, argFlags, argLr,
  addOtherRows, finish, settle, CMD_RUN, CMD_REWARD, CMD_QUIT,
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
export function layoutBytes(I: i32, H: i32, O: i32, B: i32, K: i32): f64 {
  if (!sizesFit(I, H, O, B, K)) return -1;
  return <f64>(PROBE.plan(BASE, I, H, O, B, K) - <u64>BASE);
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
  gainSpread: f64, offsetSpreadLsb: f64, mismatchSeed: u32,
): i32 {
  if (!sizesFit(I, H, O, B, K)) return ERR_SIZE;
  settle();
  const end = PROBE.plan(BASE, I, H, O, B, K);
  if (end > ADDRESS_SPACE) return ERR_MEMORY;
  const needPages = <i32>((end + 0xffff) >> 16);
  const have = memory.size();
  if (needPages > have && memory.grow(needPages - have) < 0) return ERR_MEMORY;
  const c = chip, L = c.L;
  L.plan(BASE, I, H, O, B, K);
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
  const gScale = gaussScale(gainSpread * 16384.0);
  const oScale = gaussScale(offsetSpreadLsb);
  const kg = key(<u64>mismatchSeed, STREAM_GAIN, 0, 0);
  const ko = key(<u64>mismatchSeed, STREAM_OFFSET, 0, 0);
  for (let i = 0; i < H; i++) {
    store<i32>(L.gain + (<usize>i << 2), <i32>(16384 + gauss(gScale, kg, <u64>i)));
    store<i32>(L.offset + (<usize>i << 2), <i32>gauss(oScale, ko, <u64>i));
  }
  c.pendingSteps = 0;
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

/** A tensor's place: base address, rows, cols, row stride (int16 elements). */
@unmanaged
class Tensor {
  base: usize = 0;
  rows: i32 = 0;
  cols: i32 = 0;
  stride: i32 = 0;
}
const tensor = new Tensor();

/** Where tensor t lives, into `tensor`; false for an unknown id. */
function tensorShape(L: Layout, t: i32): bool {
  if (t == T_W) { tensor.base = L.w; tensor.rows = L.H; tensor.cols = L.I; tensor.stride = L.Ip; }
  else if (t == T_R) { tensor.base = L.r; tensor.rows = L.H; tensor.cols = L.H; tensor.stride = L.Hp; }
  else if (t == T_V) { tensor.base = L.v; tensor.rows = L.O; tensor.cols = L.H; tensor.stride = L.Hp; }
  else if (t == T_STATE_CLEAN) { tensor.base = L.state; tensor.rows = L.B; tensor.cols = L.H; tensor.stride = L.Hp; }
  else if (t == T_STATE_NOISY) { tensor.base = L.rn; tensor.rows = L.B; tensor.cols = L.H; tensor.stride = L.Hp; }
  else return false;
  return true;
}

/** Copy between staging (rows x cols, unpadded) and tensor t (padded rows), either way. */
function copyTensor(t: i32, intoTensor: bool): i32 {
  if (!chip.configured) return ERR_NOT_CONFIGURED;
  settle();
  const L = chip.L;
  if (!tensorShape(L, t)) return ERR_TENSOR;
  const rowBytes = <usize>tensor.cols << 1;
  for (let i = 0; i < tensor.rows; i++) {
    const padded = tensor.base + ((<usize>i * tensor.stride) << 1);
    const packed = L.staging + ((<usize>i * tensor.cols) << 1);
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

/** Zero the recurrent state of both copies. */
export function resetState(): i32 {
  if (!chip.configured) return ERR_NOT_CONFIGURED;
  settle();
  const L = chip.L;
  memory.fill(L.state, 0, <usize>L.B * L.Hp * 2);
  memory.fill(L.rn, 0, <usize>L.B * L.Hp * 2);
  return OK;
}

/**
 * Run K steps from the inputs buffer (K x B x I codes). noisy: advance the noisy copy
 * and keep traces for reward(). trace: write the clean hidden activity.
 */
export function run(K: i32, t0: u32, noisy: bool, trace: bool): i32 {
  const c = chip, L = c.L;
  if (!c.configured) return ERR_NOT_CONFIGURED;
  if (K < 1 || K > L.K) return ERR_STEPS;
  settle();
  const stepBytes = <usize>L.B * L.Hp * 2;
  memory.copy(L.rs, L.state, stepBytes);
  for (let k = 0; k < K; k++) loadInputs(c, k);
  post(CMD_RUN, K, t0, (noisy ? 1 : 0) | (trace ? 2 : 0), 0, 0, 0);
  runSteps(c, K, t0, noisy, trace);
  // the state for the next chunk (the noisy copy ends in rn[1] after an odd K)
  memory.copy(L.state, L.rs + (<usize>K * stepBytes), stepBytes);
  if (noisy && (K & 1)) memory.copy(L.rn, L.rn + stepBytes, stepBytes);
  c.stepCount += <u64>K;
  c.pendingSteps = noisy ? K : 0;
  c.pendingT0 = t0;
  return OK;
}

/**
 * The K steps of a chunk for this thread's neurons and outputs (all of them in one
 * thread); the threads meet after each step's activity, which every neuron reads next.
 */
function runSteps(c: Chip, K: i32, t0: u32, noisy: bool, trace: bool): void {
  const L = c.L, H = L.H, O = L.O, id = threadId;
  const i0 = rangeStart(H, id), i1 = rangeStart(H, id + 1);
  const o0 = outputStart(H, O, id), o1 = outputStart(H, O, id + 1);
  const stepBytes = <usize>L.B * L.Hp * 2;
  // clean activity: rs[k] before step k, rs[k + 1] after; noisy: ping-pong in rn
  let rn = L.rn;
  let rnNext = L.rn + stepBytes;
  for (let k = 0; k < K; k++) {
    const t: u32 = t0 + <u32>k;
    const r = L.rs + (<usize>k * stepBytes);
    const rNext = r + stepBytes;
    hiddenPre(c, t, L.xs + (<usize>k * L.B * L.Ip << 1), r, rn, noisy, i0, i1);
    if (noisy) noise(c, k, t, i0, i1);
    activate(c, t, rNext, rnNext, noisy, i0, i1);
    if (trace) traceHidden(c, k, rNext, i0, i1);
    barrier();
    outputs(c, k, t, rNext, rnNext, noisy, o0, o1);
    if (noisy) {
      const tmp = rn;
      rn = rnNext;
      rnNext = tmp;
    }
  }
  // the host reads the outputs and the hidden trace when run returns: wait for the
  // others unless thread 0 wrote all of them
  join(!trace && outputStart(H, O, 1) >= O);
}

/**
 * The end of a command: the other threads hand over their row counts, then all meet;
 * thread 0 may leave the meeting to its next call (lazy, threads.ts finish).
 */
function join(lazy: bool): void {
  if (threadCount < 2) return;
  if (threadId == 0) {
    finish(lazy);
    return;
  }
  addOtherRows(takeOwnRowCounts(false), takeOwnRowCounts(true));
  barrier();
}

/**
 * Apply the ANP-T update for each step of the pending chunk, in order, with the
 * rewards dL (K f64 in the rewards buffer) and step sizes lrW, lrR, lrV. The update
 * is applied here, at once: the next run sees the new weights.
 */
export function reward(K: i32, t0: u32, lrW: f64, lrR: f64, lrV: f64): i32 {
  const c = chip, L = c.L;
  if (!c.configured) return ERR_NOT_CONFIGURED;
  if (c.pendingSteps == 0) return ERR_NO_CHUNK;
  if (K != c.pendingSteps) return ERR_STEPS;
  if (t0 != c.pendingT0) return ERR_T0;
  settle();
  post(CMD_REWARD, K, t0, 0, lrW, lrR, lrV);
  rewardSteps(c, K, t0, lrW, lrR, lrV);
  c.updateCount += <u64>K;
  c.pendingSteps = 0;
  return OK;
}

/** The K updates for this thread's rows (each row's updates stay in step order). */
function rewardSteps(c: Chip, K: i32, t0: u32, lrW: f64, lrR: f64, lrV: f64): void {
  const L = c.L, H = L.H, O = L.O, id = threadId;
  const i0 = rangeStart(H, id), i1 = rangeStart(H, id + 1);
  const o0 = outputStart(H, O, id), o1 = outputStart(H, O, id + 1);
  const scratch = L.scratch + <usize>id * L.scratchBytes;
  for (let k = 0; k < K; k++) {
    update(c, k, t0 + <u32>k, load<f64>(L.rewards + (<usize>k << 3)), lrW, lrR, lrV, i0, i1, o0, o1, scratch);
  }
  join(true);
}

/**
 * Threads 1.. of the threads build: do thread 0's commands (post in threads.ts) for
 * this thread's share until told to stop. Returns at once in the other builds.
 */
export function serve(): void {
  if (!ASC_FEATURE_THREADS || threadId == 0) return;
  let seen = 0;
  while (true) {
    seen = awaitCommand(seen);
    const cmd = commandCode();
    if (cmd == CMD_QUIT) return;
    const c = chip;
    if (cmd == CMD_RUN) runSteps(c, argK(), argT0(), (argFlags() & 1) != 0, (argFlags() & 2) != 0);
    else if (cmd == CMD_REWARD) rewardSteps(c, argK(), argT0(), argLr(0), argLr(1), argLr(2));
  }
}

/** Thread 0: let the other threads' serve() return. */
export function stopThreads(): void {
  settle();
  post(CMD_QUIT, 0, 0, 0, 0, 0, 0);
}

// Exported for the test that the tight tanh loop equals the general activation.
export function testTanhFast(a: i32, pF: i32, aF: i32, actBits: i32): i32 {
  return tanhNearestSat(a, 16 - pF, 15 - aF, (1 << (actBits - 1)) - 1);
}

// Several instances of the kernel over one shared memory (the threads build,
// build/anpt-threads.wasm; src/device/kernel-threads.ts starts them): every instance
// owns a contiguous block of neurons, the rows of W, R and V it computes and updates,
// so each weight and activity value sees exactly the one-thread arithmetic. Thread 0 is
// the host's instance; it posts each run and reward to the others (post), which wait in
// serve (chip.ts), and every thread meets the others at barrier(). In the single-thread
// builds threadCount stays 1 and none of this runs.

/** Most threads a chip can be split over (sizes the per-thread scratch of layout.ts). */
export const MAX_THREADS = 4;

/** This instance's thread id and the number of threads (per instance: WASM globals). */
export let threadId: i32 = 0;
export let threadCount: i32 = 1;

/** Set by the host once per instance, before configure. */
export function setThread(id: i32, count: i32): void {
  threadId = id;
  threadCount = count;
}

// The shared control words (static data: the same address in every instance).
const CTRL = memory.data(128, 16);
const BAR_COUNT: usize = CTRL; // threads arrived at the barrier
const BAR_GEN: usize = CTRL + 4; // barrier generation
const SEQ: usize = CTRL + 8; // command sequence number
const CMD: usize = CTRL + 12; // command code
const ARG_K: usize = CTRL + 16;
const ARG_T0: usize = CTRL + 20;
const ARG_FLAGS: usize = CTRL + 24;
const ARG_LR: usize = CTRL + 32; // three f64
const ROWS: usize = CTRL + 64; // the other threads' update rows visited, skipped (two u64)

export const CMD_RUN: i32 = 1;
export const CMD_REWARD: i32 = 2;
export const CMD_QUIT: i32 = 3;

/**
 * Spins before a thread sleeps in atomic.wait: an online step's phases are a fraction
 * of a millisecond apart, and waking a sleeping thread costs tens of microseconds.
 */
const SPINS = 20000;

/** First neuron of thread `id` when n neurons are split in blocks of 8 (SIMD rows stay whole). */
export function rangeStart(n: i32, id: i32): i32 {
  if (id <= 0) return 0;
  if (id >= threadCount) return n;
  const blocks = (n + 7) >> 3;
  const s = ((blocks * id) / threadCount) << 3;
  return s < n ? s : n;
}

/**
 * First output of thread `id`: output o belongs to the thread owning neuron o (so the
 * update's mantissa rows of V, which share their addresses with those of W and R, stay
 * within each thread's own rows); outputs beyond H go to the last thread.
 */
export function outputStart(H: i32, O: i32, id: i32): i32 {
  if (id >= threadCount) return O;
  const s = rangeStart(H, id);
  return s < O ? s : O;
}

/** Every thread waits here until all have arrived (sense by generation count). */
export function barrier(): void {
  if (ASC_FEATURE_THREADS) {
    if (threadCount < 2) return;
    const gen = atomic.load<i32>(BAR_GEN);
    if (atomic.add<i32>(BAR_COUNT, 1) == threadCount - 1) {
      atomic.store<i32>(BAR_COUNT, 0);
      atomic.add<i32>(BAR_GEN, 1);
      atomic.notify(BAR_GEN, threadCount);
      return;
    }
    waitWhile(BAR_GEN, gen);
  }
}

/**
 * Thread 0 may leave a command's final barrier to its next entry point (settle): the
 * host's work between two calls then overlaps the other threads' tail of the command.
 */
let lagging = false;

/** Thread 0 at the end of a command: meet the others now, or (lazy) at the next settle(). */
export function finish(lazy: bool): void {
  if (threadCount < 2) return;
  if (lazy) lagging = true;
  else barrier();
}

/** Thread 0, first thing in every export that reads or writes the chip: the last command is done everywhere. */
export function settle(): void {
  if (lagging) {
    lagging = false;
    barrier();
  }
}

/** Spin, then sleep, while the word at p holds v. */
function waitWhile(p: usize, v: i32): void {
  if (ASC_FEATURE_THREADS) {
    let spins = 0;
    while (atomic.load<i32>(p) == v) {
      if (++spins > SPINS) atomic.wait<i32>(p, v, -1);
    }
  }
}

/** Thread 0: hand a command to the other threads (they read the arguments below). */
export function post(cmd: i32, K: i32, t0: u32, flags: i32, lrW: f64, lrR: f64, lrV: f64): void {
  if (ASC_FEATURE_THREADS) {
    if (threadCount < 2) return;
    store<i32>(CMD, cmd);
    store<i32>(ARG_K, K);
    store<u32>(ARG_T0, t0);
    store<i32>(ARG_FLAGS, flags);
    store<f64>(ARG_LR, lrW);
    store<f64>(ARG_LR + 8, lrR);
    store<f64>(ARG_LR + 16, lrV);
    atomic.add<i32>(SEQ, 1); // publishes the arguments (sequentially consistent)
    atomic.notify(SEQ, threadCount);
  }
}

/** The other threads: wait for the command after sequence number `seen`; returns its number. */
export function awaitCommand(seen: i32): i32 {
  waitWhile(SEQ, seen);
  return ASC_FEATURE_THREADS ? atomic.load<i32>(SEQ) : seen;
}

export function commandCode(): i32 { return load<i32>(CMD); }
export function argK(): i32 { return load<i32>(ARG_K); }
export function argT0(): u32 { return load<u32>(ARG_T0); }
export function argFlags(): i32 { return load<i32>(ARG_FLAGS); }
export function argLr(i: i32): f64 { return load<f64>(ARG_LR + (<usize>i << 3)); }

/** A thread's update-row counts (batch-outer.ts) go to the shared totals. */
export function addOtherRows(total: u64, skipped: u64): void {
  if (ASC_FEATURE_THREADS) {
    atomic.add<u64>(ROWS, total);
    atomic.add<u64>(ROWS + 8, skipped);
  }
}

export function otherRows(skipped: bool): u64 {
  return load<u64>(ROWS + (skipped ? 8 : 0));
}

/** Update rows visited by threads other than 0 since resetRowSkipCounts (they are in rowSkipCounts too). */
export function rowsByOtherThreads(): f64 {
  settle();
  return <f64>otherRows(false);
}

export function resetOtherRows(): void {
  store<u64>(ROWS, 0);
  store<u64>(ROWS + 8, 0);
}

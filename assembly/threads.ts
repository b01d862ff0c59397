// Several instances of the kernel over one shared memory (the threads build,
// build/anpt-threads.wasm; src/device/kernel-threads.ts starts them): every instance
// owns a contiguous block of neurons, the rows of W, R and V it computes and updates,
// so each weight and activity value sees exactly the one-thread arithmetic. Thread 0 is
// the host's instance; it posts each command to the others (post), which wait in serve
// (chip.ts) and say when they are done (commandDone); every thread meets the others at
// barrier() inside a run. Thread 0 never waits unboundedly: its waits sleep in slices
// and give up when a worker has failed (the DEAD word, set by the worker's host code or
// by thread 0 itself after STALL_SLICES slices without any progress of the workers).
// In the single-thread builds threadCount stays 1 and none of this runs.

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
const ARG_UK: usize = CTRL + 28; // the deferred update's steps (chip.ts run)
const ARG_LR: usize = CTRL + 32; // three f64
const ARG_UT0: usize = CTRL + 56; // the deferred update's first step
const DEAD: usize = CTRL + 60; // 0, or why a worker is gone (DEAD_*)
const ROWS: usize = CTRL + 64; // the other threads' update rows visited, skipped (two u64)
const PROGRESS: usize = CTRL + 80; // bumped by the workers at every meeting and command end
const SLEEPERS: usize = CTRL + 84; // threads inside atomic.wait (a wake-up is only sent when > 0)
const DONE: usize = CTRL + 96; // per thread: the last command it finished (MAX_THREADS i32)

// The dynamic split's words (chip.ts runDynamic), each on its own cache line: both threads write them.
const CLAIMS = memory.data(128, 64);
const NEXT_ROW: usize = CLAIMS; // first row nobody has claimed yet
const ROWS_DONE: usize = CLAIMS + 64; // rows finished

/** Smallest block of rows a thread claims (a multiple of 8: SIMD rows stay whole). */
const MIN_BLOCK: i32 = 16;

/**
 * The dynamic split applies from this hidden x batch on (setDynamicMinWork): below it
 * a step takes a few microseconds, and the fixed split (rangeStart) says exactly which
 * thread did which row. At H = 1000, B = 10 online, load 0.85-0.9, it gave 1.85x one
 * thread (median of 8 alternated rounds) against the fixed split's 1.42x (docs/kernel.md).
 */
let dynamicMinWork: i32 = 4096;

/** Tests: the hidden x batch from which online runs split their rows dynamically. */
export function setDynamicMinWork(hb: i32): void {
  dynamicMinWork = hb;
}
export function dynamicSplit(H: i32, B: i32): bool {
  return threadCount > 1 && H * B >= dynamicMinWork;
}

export const CMD_RUN: i32 = 1;
export const CMD_REWARD: i32 = 2;
export const CMD_QUIT: i32 = 3;

/** DEAD: a worker threw (its host code sets it), exited (thread 0's host), or made no progress. */
export const DEAD_CRASH: i32 = 1;
export const DEAD_EXIT: i32 = 2;
export const DEAD_STALL: i32 = 3;

/**
 * Spins before a thread sleeps in atomic.wait: an online step's meetings are tens of
 * microseconds apart (the host's work between two calls), and waking a sleeping thread
 * costs tens of microseconds on a virtual machine; SPINS_MAX atomic loads are about
 * 100 us here (~1 ns each). On a loaded machine a spinning thread only keeps its core
 * from the thread it waits for, so each thread adapts (spinLimit): of every WINDOW
 * waits the first PROBES spin up to SPINS_MAX, and when half of those still had to
 * sleep the rest of the window spins only SPINS_MIN.
 */
const SPINS_MAX = 100000;
const SPINS_MIN = 1000;
const WINDOW = 64;
const PROBES = 8;
let waits = 0;
let probeSleeps = 0;

/** The spin limit of this thread's next wait (see SPINS_MAX). */
// @ts-ignore: decorator
@inline
function spinLimit(): i32 {
  return waits < PROBES || probeSleeps * 2 < PROBES ? SPINS_MAX : SPINS_MIN;
}

/** Count a finished wait: a probe that slept counts against spinning. */
// @ts-ignore: decorator
@inline
function countWait(slept: bool): void {
  if (waits < PROBES && slept) probeSleeps++;
  if (++waits == WINDOW) {
    waits = 0;
    probeSleeps = 0;
  }
}

/** Thread 0 sleeps in slices of this many ns, checking DEAD and the workers' progress. */
const SLICE_NS: i64 = 10_000_000;

/** Slices without any progress of the workers after which thread 0 gives up (setStallLimit). */
let stallSlices: i32 = 6000;

/** Thread 0: give up a wait after `ms` ms without progress of the workers (default 60 s). */
export function setStallLimit(ms: i32): void {
  stallSlices = ms / <i32>(SLICE_NS / 1_000_000);
  if (stallSlices < 1) stallSlices = 1;
}

/**
 * Tests only (setTailDelay): a worker sleeps this long before the writes it makes after
 * a chunk's last meeting, so a host call that reads them without sync() reads them
 * stale on every run, not only on a loaded machine (test/float-threads.test.ts).
 */
let tailDelayNs: i64 = 0;
const NEVER_SET = memory.data(4, 4); // stays 0: tailDelay's wait always runs to its timeout

/** Tests: the worker sleeps `ms` ms in tailDelay (0, the default: not at all). */
export function setTailDelay(ms: i32): void {
  tailDelayNs = <i64>ms * 1_000_000;
}

/** A worker's test-only sleep before its writes after a chunk's last meeting (setTailDelay); inline: a load and a branch in the step loop. */
// @ts-ignore: decorator
@inline
export function tailDelay(): void {
  if (ASC_FEATURE_THREADS && tailDelayNs > 0 && threadId != 0) atomic.wait<i32>(NEVER_SET, 0, tailDelayNs);
}

/** Thread 0 after a failed wait: every later meeting returns at once, every command fails (chip.ts ERR_THREAD). */
let failed = false;

/** Thread 0: a worker failed (the chip's state is lost). */
export function threadsFailed(): bool {
  return failed;
}

/** Why the workers stopped (DEAD_*), 0 while they work; its address for the host's code. */
export function threadFailure(): i32 {
  return ASC_FEATURE_THREADS ? atomic.load<i32>(DEAD) : 0;
}
export function deadAddress(): usize {
  return DEAD;
}

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

/** Wake the threads waiting on p, if any sleeps (atomic.notify is a runtime call; a spinning thread needs none). */
// @ts-ignore: decorator
@inline
function wake(p: usize): void {
  if (ASC_FEATURE_THREADS) {
    if (atomic.load<i32>(SLEEPERS) > 0) atomic.notify(p, MAX_THREADS);
  }
}

/**
 * Wait while the word at p equals v (equal) or differs from v (!equal): spin, then
 * sleep. The sleeper count goes up before the last look at p, so a waker that misses it
 * has already stored (sequentially consistent atomics). Thread 0 sleeps in slices and
 * returns false when a worker has failed; the workers wait for thread 0 as long as it takes.
 */
function waitFor(p: usize, v: i32, equal: bool): bool {
  if (ASC_FEATURE_THREADS) {
    let spins = 0, idle = 0;
    let seen = atomic.load<i32>(PROGRESS);
    const limit = spinLimit();
    while (true) {
      const now = atomic.load<i32>(p);
      if ((now == v) != equal) {
        countWait(spins > limit);
        return true;
      }
      if (++spins <= limit) continue;
      if (threadId != 0) {
        atomic.add<i32>(SLEEPERS, 1);
        atomic.wait<i32>(p, now, -1);
        atomic.sub<i32>(SLEEPERS, 1);
        continue;
      }
      if (atomic.load<i32>(DEAD) != 0) return false;
      atomic.add<i32>(SLEEPERS, 1);
      atomic.wait<i32>(p, now, SLICE_NS);
      atomic.sub<i32>(SLEEPERS, 1);
      const progress = atomic.load<i32>(PROGRESS);
      if (progress != seen) {
        seen = progress;
        idle = 0;
      } else if (++idle >= stallSlices) {
        atomic.store<i32>(DEAD, DEAD_STALL);
        return false;
      }
    }
  }
  return true;
}

/** Every thread waits here until all have arrived (sense by generation count). */
export function barrier(): void {
  if (ASC_FEATURE_THREADS) {
    if (threadCount < 2 || failed) return;
    const gen = atomic.load<i32>(BAR_GEN);
    if (threadId != 0) atomic.add<i32>(PROGRESS, 1);
    if (atomic.add<i32>(BAR_COUNT, 1) == threadCount - 1) {
      atomic.store<i32>(BAR_COUNT, 0);
      atomic.add<i32>(BAR_GEN, 1);
      wake(BAR_GEN);
      return;
    }
    if (!waitFor(BAR_GEN, gen, true)) failed = true;
  }
}

/**
 * Thread 0, first thing in every export that reads or writes the chip: the last
 * command is done everywhere (the workers leave it without meeting thread 0, so the
 * host's work between two calls overlaps their tail). False when a worker failed.
 */
export function settle(): bool {
  if (ASC_FEATURE_THREADS) {
    if (threadCount < 2) return true;
    if (failed) return false;
    const seq = atomic.load<i32>(SEQ);
    for (let id = 1; id < threadCount; id++) {
      if (!waitFor(DONE + (<usize>id << 2), seq, false)) {
        failed = true;
        return false;
      }
    }
  }
  return true;
}

/** Thread 0, before posting a dynamic run: no row claimed, none done. */
export function openRows(): void {
  if (ASC_FEATURE_THREADS) {
    atomic.store<i32>(NEXT_ROW, 0);
    atomic.store<i32>(ROWS_DONE, 0);
  }
}

/** The end of the block the last claimRows returned (per instance). */
export let claimEnd: i32 = 0;

/**
 * Claim the next block of rows of n: its first row (its end in claimEnd), or -1 when
 * all are claimed. Guided: a quarter (two threads) of what is left, at least MIN_BLOCK,
 * so the first claims are large and the last ones, where the threads meet, small.
 */
export function claimRows(n: i32): i32 {
  if (ASC_FEATURE_THREADS) {
    while (true) {
      const cur = atomic.load<i32>(NEXT_ROW);
      if (cur >= n) return -1;
      let size = ((n - cur) / (threadCount << 1) + 7) & ~7;
      if (size < MIN_BLOCK) size = MIN_BLOCK;
      const end = cur + size < n ? cur + size : n;
      if (atomic.cmpxchg<i32>(NEXT_ROW, cur, end) == cur) {
        claimEnd = end;
        return cur;
      }
    }
  }
  claimEnd = n;
  return 0;
}

/** A block of n rows is finished (its stores come before this atomic add). */
export function rowsDone(n: i32): void {
  if (ASC_FEATURE_THREADS) {
    atomic.add<i32>(ROWS_DONE, n);
    if (threadId != 0) atomic.add<i32>(PROGRESS, 1);
    wake(ROWS_DONE);
  }
}

/** Thread 0: wait until all n rows are done; false when a worker failed (holding a block). */
export function awaitRows(n: i32): bool {
  if (ASC_FEATURE_THREADS) {
    if (failed) return false;
    if (!waitFor(ROWS_DONE, n, false)) {
      failed = true;
      return false;
    }
  }
  return true;
}

/** Thread 0 (settled): hand a command to the other threads (they read the arguments below). */
export function post(cmd: i32, K: i32, t0: u32, flags: i32, uK: i32, uT0: u32, lrW: f64, lrR: f64, lrV: f64): void {
  if (ASC_FEATURE_THREADS) {
    if (threadCount < 2 || failed) return;
    store<i32>(CMD, cmd);
    store<i32>(ARG_K, K);
    store<u32>(ARG_T0, t0);
    store<i32>(ARG_FLAGS, flags);
    store<i32>(ARG_UK, uK);
    store<u32>(ARG_UT0, uT0);
    store<f64>(ARG_LR, lrW);
    store<f64>(ARG_LR + 8, lrR);
    store<f64>(ARG_LR + 16, lrV);
    atomic.add<i32>(SEQ, 1); // publishes the arguments (sequentially consistent)
    wake(SEQ);
  }
}

/** The other threads: wait for the command after sequence number `seen`; returns its number. */
export function awaitCommand(seen: i32): i32 {
  waitFor(SEQ, seen, true);
  return ASC_FEATURE_THREADS ? atomic.load<i32>(SEQ) : seen;
}

/** The other threads, after command `seq`: hand over the row counts, then say done. */
export function commandDone(seq: i32, total: u64, skipped: u64): void {
  if (ASC_FEATURE_THREADS) {
    atomic.add<u64>(ROWS, total);
    atomic.add<u64>(ROWS + 8, skipped);
    atomic.add<i32>(PROGRESS, 1);
    const p = DONE + (<usize>threadId << 2);
    atomic.store<i32>(p, seq);
    wake(p);
  }
}

/** The other threads: one more unit of work done (a long command between meetings). */
export function progress(): void {
  if (ASC_FEATURE_THREADS) {
    if (threadId != 0) atomic.add<i32>(PROGRESS, 1);
  }
}

export function commandCode(): i32 { return load<i32>(CMD); }
export function argK(): i32 { return load<i32>(ARG_K); }
export function argT0(): u32 { return load<u32>(ARG_T0); }
export function argFlags(): i32 { return load<i32>(ARG_FLAGS); }
export function argUpdateK(): i32 { return load<i32>(ARG_UK); }
export function argUpdateT0(): u32 { return load<u32>(ARG_UT0); }
export function argLr(i: i32): f64 { return load<f64>(ARG_LR + (<usize>i << 3)); }

export function otherRows(skipped: bool): u64 {
  return load<u64>(ROWS + (skipped ? 8 : 0));
}

export function resetOtherRows(): void {
  store<u64>(ROWS, 0);
  store<u64>(ROWS + 8, 0);
}

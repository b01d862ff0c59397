/**
 * The float model on several threads (issue 14): the threads build of assembly/float/
 * (build/anpt-float-threads.wasm) instantiated once here, as thread 0, and once in
 * each worker (the pool of src/device/kernel-threads.ts), all over one shared
 * WebAssembly.Memory. Thread 0 is the device's FloatKernel; its run and reward hand
 * every thread a block of rows (blocks of 8: assembly/float/step.ts runSteps and
 * rewardRows), so each value is computed by exactly the one-thread arithmetic: the
 * same bits for any thread count. A worker that fails makes the next call throw
 * (the DEAD word of assembly/threads.ts: thread 0 never waits for a dead worker).
 */
import os from 'node:os';
import { isMainThread } from 'node:worker_threads';
import { ConfigError } from '../format/fixed.js';
import { sharedMemory, startWorkerPool, type WorkerFault, type WorkerPool } from '../device/kernel-threads.js';
import { packagePath } from '../package-root.js';
import { floatModule, type FloatExports, type SharedFloatInstance } from './float-wasm.js';

/** Threads option of the float model: 1, 2 (the same bits), or 'auto'. */
export type FloatThreads = 1 | 2 | 'auto';

/**
 * 'auto' takes two threads from this hidden x batch on (MG ANP-T, H = 100, B = 10, is
 * 1000): below it a step's rows take a few microseconds and the two meetings per step
 * cost as much as they save.
 */
export const FLOAT_AUTO_THREADS_MIN_HB = 1000;

/** The float model's largest memory (its 4 GiB limit, assembly/float/asconfig.json). */
const FLOAT_MAX_MEMORY_BYTES = 65536 * 65536;

/**
 * Test hooks: a worker that fails after `after` commands; thread 0's give-up time without
 * progress; a worker that sleeps tailDelayMs before the writes it makes after a noisy
 * chunk's last meeting (assembly/threads.ts tailDelay: a host read that skips sync() sees them stale).
 */
export interface FloatThreadsFaults {
  fault?: WorkerFault;
  stallMs?: number;
  tailDelayMs?: number;
}

interface ThreadsExports extends FloatExports {
  setThread(id: number, count: number): void;
  setStallLimit(ms: number): void;
  deadAddress(): number;
  threadFailure(): number;
  stopThreads(): void;
}

/** Thread 0's instance and the pool of its workers. */
export interface FloatThreadPool extends WorkerPool, SharedFloatInstance {}

/** Refuse a threads value that is not 1, 2 or 'auto' (which option, which value, what to do). */
export function checkFloatThreads(v: unknown, option = 'threads'): FloatThreads {
  if (v === 1 || v === 2 || v === 'auto') return v;
  throw new ConfigError(option, `${JSON.stringify(v)} is not a thread count; use 1, 2 or 'auto' (2 when hidden x batch >= ${FLOAT_AUTO_THREADS_MIN_HB}, 2 cores are free of other work and the process is not niced)`);
}

/**
 * The thread count `threads` gives a float model of hidden x batch = hb: 'auto' is 2
 * when hb >= FLOAT_AUTO_THREADS_MIN_HB, the machine has 2 cores or more, this is the
 * main thread (a sweep's workers already share the cores), the process is not niced
 * (a background job) and the 1-minute load of the other processes leaves a core free
 * (below cores - 0.5): on a busy core every meeting of the threads becomes a context
 * switch. The load average counts this process's own threads too (a benchmark that
 * just ran on 2 threads reads ~2 on an idle machine), so its own CPU use over about
 * the last minute is taken off first (ownLoad).
 */
export function floatThreadsFor(threads: FloatThreads, hb: number): number {
  if (threads !== 'auto') return threads;
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  if (hb < FLOAT_AUTO_THREADS_MIN_HB || cores < 2 || !isMainThread) return 1;
  if (os.getPriority() > 0) return 1;
  return Math.max(0, os.loadavg()[0] - ownLoad()) < cores - 0.5 ? 2 : 1;
}

/** [ms, process CPU seconds] at the ownLoad calls of the last minute. */
const cpuSamples: [number, number][] = [];

/**
 * This process's share of os.loadavg()[0], from its CPU use c (cores) since its oldest
 * call of the last minute, or since it started when that is later: the kernel's
 * 1-minute average decays as exp(-t / 60 s), so w seconds of use since the start count
 * c (1 - exp(-w / 60)) (a process 3 s old that ran 2 threads adds ~0.1), an older
 * process c (its use before the window taken as the same). A rough estimate.
 */
function ownLoad(): number {
  const now = performance.now(), u = process.cpuUsage(), cpu = (u.user + u.system) / 1e6;
  while (cpuSamples.length > 0 && now - cpuSamples[0][0] > 60_000) cpuSamples.shift();
  const young = process.uptime() <= 60 || cpuSamples.length === 0;
  const [t0, c0] = young ? [now - process.uptime() * 1000, 0] : cpuSamples[0];
  cpuSamples.push([now, cpu]);
  const w = (now - t0) / 1000;
  if (w <= 0) return 0;
  return ((cpu - c0) / w) * (young ? 1 - Math.exp(-w / 60) : 1);
}

/** Thread 0's instance of the threads build plus count - 1 workers (await ready before the first layout). */
export function startFloatThreads(count: number, faults: FloatThreadsFaults = {}): FloatThreadPool {
  if (count !== 1 && count !== 2) throw new ConfigError('threads', `${count} is not a thread count of the float model; use 1 or 2 (assembly/float/layout.ts THREADS)`);
  const module = floatModule(packagePath('build', 'anpt-float-threads.wasm'));
  const memory = sharedMemory(FLOAT_MAX_MEMORY_BYTES);
  const abort = () => { throw new Error('anpt float model abort in thread 0'); };
  const ex = new WebAssembly.Instance(module, { env: { memory, abort } }).exports as unknown as ThreadsExports;
  ex.setThread(0, count);
  if (faults.stallMs !== undefined) ex.setStallLimit(faults.stallMs);
  const init: [string, ...number[]][] = faults.tailDelayMs ? [['setTailDelay', faults.tailDelayMs]] : [];
  const pool = startWorkerPool({ module, memory, k: ex, count, init, label: 'float model', fault: faults.fault });
  return { ...pool, ex, memory };
}

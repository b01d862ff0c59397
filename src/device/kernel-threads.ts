/**
 * One chip on several threads (issue 14): the threads build of the kernel
 * (build/anpt-threads.wasm) instantiated once here, as thread 0, and once in each
 * worker thread, all over one shared WebAssembly.Memory. Thread 0 is the device's own
 * kernel: the host calls it as usual, and its run and reward hand each thread a block
 * of neurons (assembly/threads.ts), so every weight and activity value is computed by
 * exactly the one-thread arithmetic: the same bits for any thread count.
 *
 * A worker that fails cannot leave the host blocked: the kernel's thread 0 waits in
 * slices and gives up when the shared DEAD word says a worker is gone (set by the
 * worker's own code when it throws, by the exit handler here, or by thread 0 after a
 * minute without progress); the call then returns ERR_THREAD and failure() says why.
 * The worker pool is generic (startWorkerPool): the float model's threads build
 * (src/model/float-threads.ts) uses it too.
 */
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { instantiateKernel, kernelModule, KERNEL_MAX_MEMORY_BYTES } from './wasm.js';
import type { KernelExports } from './wasm.js';

/**
 * The worker's whole program, run with eval (a file would need a .ts twin under
 * tsx/vitest): instantiate the module over the shared memory, set its thread, make
 * the init calls, say ready, then serve until thread 0 posts quit. On an exception it
 * marks the DEAD word (so thread 0 stops waiting for it) and sends the error text
 * before it dies; so it does when it exits without being told to. `fault` (tests only)
 * throws, exits or hangs after that many commands.
 */
const WORKER_CODE = `
const { parentPort, workerData: d } = require('node:worker_threads');
let k, quit = false;
const markDead = (code) => { if (k) Atomics.compareExchange(new Int32Array(d.memory.buffer), k.deadAddress() >> 2, 0, code); };
process.on('exit', (code) => { if (!quit) { d.port.postMessage('thread ' + d.id + ' exited (code ' + code + ')'); markDead(2); } });
try {
  const abort = () => { throw new Error('anpt ' + d.label + ' abort in thread ' + d.id); };
  k = new WebAssembly.Instance(d.module, { env: { memory: d.memory, abort } }).exports;
  k.setThread(d.id, d.count);
  for (const [name, ...args] of d.init) k[name](...args);
  parentPort.postMessage('ready');
  let n = 0;
  while (k.serveNext()) {
    if (d.fault && ++n === d.fault.after) {
      if (d.fault.kind === 'hang') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      if (d.fault.kind === 'exit') process.exit(7);
      throw new Error('injected fault after ' + n + ' commands');
    }
  }
  quit = true;
} catch (e) {
  quit = true;
  d.port.postMessage('thread ' + d.id + ': ' + (e && e.message ? e.message : String(e)));
  markDead(1);
  throw e;
}
`;

/**
 * Initial pages of the shared memory: at least the module's static data (tables, the
 * control words; 3 pages today), which an imported memory must already hold. The
 * buffers grow it at configure.
 */
const STATIC_PAGES = 64;

/** A worker that throws, exits or hangs after `after` commands (tests only). */
export interface WorkerFault {
  after: number;
  kind: 'throw' | 'exit' | 'hang';
}

/** Test hooks: a worker that throws or hangs after `after` commands; thread 0's give-up time without progress. */
export interface KernelThreadsFaults {
  fault?: WorkerFault;
  stallMs?: number;
  /** The hidden x batch from which online runs split their rows dynamically (every thread's kernel; default assembly/threads.ts). */
  dynamicMinWork?: number;
}

/** What the pool needs of a threads build's instance (assembly/threads.ts and the module's serveNext, stopThreads). */
export interface PoolExports {
  setThread(id: number, count: number): void;
  deadAddress(): number;
  threadFailure(): number;
  stopThreads(): void;
}

/** The workers of one threads-build instance (thread 0, the host's). */
export interface WorkerPool {
  readonly count: number;
  /** Resolves once every worker has instantiated its module (configure must wait for it). */
  readonly ready: Promise<void>;
  /** Why the workers are gone (after a call reported a failed thread), or undefined while they work. */
  failure(): string | undefined;
  /** Stop the workers; the module then runs on thread 0 alone (same bits). After a failure: terminate them. */
  stop(): Promise<void>;
}

export interface PoolOptions {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  /** Thread 0's instance (its setThread already called). */
  k: PoolExports;
  count: number;
  /** Exports every worker calls after setThread: [name, ...numbers]. */
  init?: [string, ...number[]][];
  /** Names the module in messages: 'kernel' (the chip's) or 'float model'. */
  label: string;
  fault?: WorkerFault;
}

/** A shared memory for a threads build: `maxBytes` at most. */
export function sharedMemory(maxBytes: number): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: STATIC_PAGES, maximum: maxBytes / 65536, shared: true });
}

const DEAD_TEXT: Record<number, string> = { 1: 'it threw', 2: 'it exited', 3: 'it made no progress within the stall limit, 60 s by default' };

/** count - 1 workers serving the module over the shared memory of thread 0's instance k. */
export function startWorkerPool(o: PoolOptions): WorkerPool {
  const { module, memory, k, count, label } = o;
  const workers: Worker[] = [];
  const ports: MessagePort[] = [];
  const notes: string[] = [];
  const exited: Promise<void>[] = [];
  const started: Promise<void>[] = [];
  let stopping = false;
  const markDead = (code: number) => {
    const words = new Int32Array(memory.buffer);
    Atomics.compareExchange(words, k.deadAddress() >> 2, 0, code);
  };
  // The workers instantiate after thread 0, before the first configure (ready): an
  // instance's start-up writes the module's static objects, the same bytes at the same
  // addresses in every instance, so it must not overlap a configured model.
  for (let id = 1; id < count; id++) {
    const { port1, port2 } = new MessageChannel();
    port1.unref();
    ports.push(port1);
    const w = new Worker(WORKER_CODE, { eval: true, workerData: { module, memory, id, count, label, init: o.init ?? [], fault: o.fault, port: port2 }, transferList: [port2] });
    workers.push(w);
    exited.push(new Promise((resolve) => w.once('exit', () => resolve())));
    w.on('error', (e) => notes.push(`thread ${id}: ${e.message}`));
    w.once('exit', (code) => {
      if (stopping) return;
      notes.push(`thread ${id} exited (code ${code})`);
      markDead(2);
    });
    started.push(new Promise((resolve, reject) => {
      w.once('message', () => {
        w.unref(); // once ready: a device that is never closed does not keep the process alive
        resolve();
      });
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`anpt ${label} thread ${id} exited (code ${code}) before it was ready`)));
    }));
  }
  const ready = Promise.all(started).then(() => undefined);
  ready.catch(() => {}); // a worker that fails is reported by configure (which awaits ready), not as unhandled
  const failure = (): string | undefined => {
    const dead = k.threadFailure();
    if (dead === 0) return undefined;
    for (const p of ports) for (let m = receiveMessageOnPort(p); m; m = receiveMessageOnPort(p)) notes.push(String(m.message));
    const seen = [...new Set(notes)];
    return `a ${label} worker thread stopped (${DEAD_TEXT[dead] ?? `code ${dead}`}${seen.length ? `: ${seen.join('; ')}` : ''})`;
  };
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= ready.catch(() => {}).then(async () => {
      stopping = true;
      if (k.threadFailure() === 0) k.stopThreads(); // the module finishes its last command first, then posts quit
      if (k.threadFailure() !== 0) {
        await Promise.all(workers.map((w) => w.terminate()));
      } else {
        k.setThread(0, 1);
        for (const w of workers) w.ref(); // wait for the exits
      }
      await Promise.all(exited);
      for (const p of ports) p.close();
    });
    return stopped;
  };
  return { count, ready, failure, stop };
}

export interface KernelThreads extends WorkerPool {
  /** Thread 0's kernel: the device calls it as a single-thread kernel. */
  readonly k: KernelExports;
}

/** Thread 0's kernel plus count - 1 workers over one shared memory. */
export function startKernelThreads(count: number, rowSkip: boolean, faults: KernelThreadsFaults = {}): KernelThreads {
  const memory = sharedMemory(KERNEL_MAX_MEMORY_BYTES);
  const k = instantiateKernel('threads', memory);
  k.setThread(0, count);
  if (!rowSkip) k.setRowSkip(false);
  if (faults.stallMs !== undefined) k.setStallLimit(faults.stallMs);
  if (faults.dynamicMinWork !== undefined) k.setDynamicMinWork(faults.dynamicMinWork);
  const init: [string, ...number[]][] = [];
  if (!rowSkip) init.push(['setRowSkip', 0]);
  if (faults.dynamicMinWork !== undefined) init.push(['setDynamicMinWork', faults.dynamicMinWork]);
  const pool = startWorkerPool({ module: kernelModule('threads'), memory, k, count, init, label: 'kernel', fault: faults.fault });
  return { k, ...pool };
}

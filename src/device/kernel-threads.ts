/**
 * One chip on several threads (issue 14): the threads build of the kernel
 * (build/anpt-threads.wasm) instantiated once here, as thread 0, and once in each
 * worker thread, all over one shared WebAssembly.Memory. Thread 0 is the device's own
 * kernel: the host calls it as usual, and its run and reward hand each thread a block
 * of neurons (assembly/threads.ts), so every weight and activity value is computed by
 * exactly the one-thread arithmetic: the same bits for any thread count.
 */
import { Worker } from 'node:worker_threads';
import { instantiateKernel, kernelModule, KERNEL_MAX_MEMORY_BYTES } from './wasm.js';
import type { KernelExports } from './wasm.js';

/**
 * The worker's whole program, run with eval (a file would need a .ts twin under
 * tsx/vitest): instantiate the module over the shared memory, say ready, then serve
 * until thread 0 posts quit. It holds no state of its own beyond the kernel's globals.
 */
const WORKER_CODE = `
const { parentPort, workerData: d } = require('node:worker_threads');
const abort = () => { throw new Error('anpt kernel abort in thread ' + d.id); };
const k = new WebAssembly.Instance(d.module, { env: { memory: d.memory, abort } }).exports;
k.setThread(d.id, d.count);
if (!d.rowSkip) k.setRowSkip(0);
parentPort.postMessage('ready');
k.serve();
`;

/**
 * Initial pages of the shared memory: at least the module's static data (tables, the
 * control words; 3 pages today), which an imported memory must already hold. The
 * buffers grow it at configure.
 */
const STATIC_PAGES = 64;

export interface KernelThreads {
  /** Thread 0's kernel: the device calls it as a single-thread kernel. */
  readonly k: KernelExports;
  readonly count: number;
  /** Resolves once every worker has instantiated its kernel (configure must wait for it). */
  readonly ready: Promise<void>;
  /** Stop the workers; the kernel then runs on thread 0 alone (same bits). */
  stop(): Promise<void>;
}

/** Thread 0's kernel plus count - 1 workers over one shared memory. */
export function startKernelThreads(count: number, rowSkip: boolean): KernelThreads {
  const memory = new WebAssembly.Memory({ initial: STATIC_PAGES, maximum: KERNEL_MAX_MEMORY_BYTES / 65536, shared: true });
  const k = instantiateKernel('threads', memory);
  k.setThread(0, count);
  if (!rowSkip) k.setRowSkip(false);
  const module = kernelModule('threads');
  const workers: Worker[] = [];
  const exited: Promise<void>[] = [];
  const started: Promise<void>[] = [];
  // The workers instantiate after thread 0, before the first configure (ready): an
  // instance's start-up writes the kernel's static objects, the same bytes at the same
  // addresses in every instance, so it must not overlap a configured chip.
  for (let id = 1; id < count; id++) {
    const w = new Worker(WORKER_CODE, { eval: true, workerData: { module, memory, id, count, rowSkip } });
    workers.push(w);
    exited.push(new Promise((resolve) => w.once('exit', () => resolve())));
    started.push(new Promise((resolve, reject) => {
      w.once('message', () => {
        w.unref(); // once ready: a device that is never closed does not keep the process alive
        resolve();
      });
      w.once('error', reject);
      w.once('exit', (code) => reject(new Error(`anpt kernel thread ${id} exited (code ${code}) before it was ready`)));
    }));
  }
  const ready = Promise.all(started).then(() => undefined);
  ready.catch(() => {}); // a worker that fails is reported by configure (which awaits ready), not as unhandled
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= ready.catch(() => {}).then(async () => {
      k.stopThreads();
      k.setThread(0, 1);
      for (const w of workers) w.ref(); // wait for the exits
      await Promise.all(exited);
    });
    return stopped;
  };
  return { k, count, ready, stop };
}

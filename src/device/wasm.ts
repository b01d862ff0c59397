/**
 * Loads the chip kernel (build/anpt-simd.wasm or build/anpt-scalar.wasm, made by
 * `npm run build:wasm`) with @assemblyscript/loader. Both builds come from the same
 * source and give the same bits; the scalar one exists to prove that.
 */
import { existsSync, readFileSync } from 'node:fs';
import { instantiateSync } from '@assemblyscript/loader';
import { packagePath } from '../package-root.js';
import { DeviceError } from './errors.js';

/** An exported constant of the kernel (a WebAssembly global). */
interface KernelConst {
  readonly value: number;
}

export interface KernelExports {
  memory: WebAssembly.Memory;
  /** Bytes of the buffers of a configuration (assembly/layout.ts; bias 1: with the bias registers; elig: the trace kind, 0 none), -1 beyond the limits. */
  layoutBytes(I: number, H: number, O: number, B: number, K: number, bias: number, elig: number): number;
  /** Address of the first buffer (the kernel's own data lies below). */
  memoryBase(): number;
  OK: KernelConst;
  ERR_NOT_CONFIGURED: KernelConst;
  ERR_MEMORY: KernelConst;
  ERR_STEPS: KernelConst;
  ERR_NO_CHUNK: KernelConst;
  ERR_T0: KernelConst;
  ERR_SIZE: KernelConst;
  ERR_TENSOR: KernelConst;
  ERR_THREAD: KernelConst;
  T_W: KernelConst;
  T_R: KernelConst;
  T_V: KernelConst;
  T_STATE_CLEAN: KernelConst;
  T_STATE_NOISY: KernelConst;
  T_BIAS_HIDDEN: KernelConst;
  T_BIAS_OUTPUT: KernelConst;
  T_TRACE_W: KernelConst;
  T_TRACE_R: KernelConst;
  T_TRACE_B: KernelConst;
  configure(
    I: number, H: number, O: number, B: number, K: number, act: number,
    fmtIn: number, fmtW: number, fmtPre: number, fmtAct: number, fmtOut: number,
    seedLo: number, seedHi: number, sigmaHiddenLsb: number, sigmaOutputLsb: number,
    gainSpread: number, offsetSpreadLsb: number, mismatchSeed: number, bias: number,
    elig: number, decay: number,
  ): number;
  ptrInputs(): number;
  ptrOutClean(): number;
  ptrOutNoisy(): number;
  ptrHidden(): number;
  ptrStaging(): number;
  ptrRewards(): number;
  steps(): number;
  updates(): number;
  loadTensor(t: number): number;
  storeTensor(t: number): number;
  resetState(): number;
  run(K: number, t0: number, noisy: number, trace: number): number;
  reward(K: number, t0: number, lrW: number, lrR: number, lrV: number): number;
  testOvf(x: bigint, word: number): bigint;
  testRshift(x: bigint, s: number, mode: number, rnd: number): bigint;
  testMix64(z: bigint): bigint;
  testKey(seed: bigint, stream: bigint, a: bigint, b: bigint): bigint;
  testLowbias32(x: number): number;
  testGauss(sigmaLsb: number, h: bigint): bigint;
  testActivate(kind: number, a: bigint, pF: number, actWord: number, rnd: number): bigint;
  testTanhFast(a: number, pF: number, aF: number, actBits: number): number;
  /** Row skipping of the update on (default) or off: the same bits (assembly/batch-outer.ts). */
  setRowSkip(on: boolean): void;
  /** Update rows visited (false) or skipped (true) since resetRowSkipCounts. */
  rowSkipCounts(skipped: boolean): number;
  resetRowSkipCounts(): void;
  /** This instance's thread id and the thread count (the threads build; assembly/threads.ts). */
  setThread(id: number, count: number): void;
  /** Update rows visited by threads other than 0 since resetRowSkipCounts (included in rowSkipCounts). */
  rowsByOtherThreads(): number;
  /** Threads 1..: serve thread 0's next command; false once told to stop (the threads build). */
  serveNext(): boolean;
  /** Thread 0: end the other threads' serveNext() loops (a deferred update is applied first). */
  stopThreads(): void;
  /** Thread 0: give up a wait after this many ms without progress of the workers (default 60 s). */
  setStallLimit(ms: number): void;
  /** Tests: online runs split their rows dynamically from this hidden x batch on (assembly/threads.ts; default 4096). */
  setDynamicMinWork(hb: number): void;
  /** Why the workers stopped (assembly/threads.ts DEAD_*), 0 while they work. */
  threadFailure(): number;
  /** Address of the shared DEAD word (the worker's host code sets it when it throws). */
  deadAddress(): number;
}

/** simd and scalar: the single-thread builds; threads: the SIMD build over a shared memory (kernel-threads.ts). */
export type KernelFlavour = 'simd' | 'scalar' | 'threads';

/** Largest linear memory the kernel may use, bytes (asconfig.json maximumMemory: 16384 pages). */
export const KERNEL_MAX_MEMORY_BYTES = 16384 * 65536;

const moduleCache = new Map<KernelFlavour, WebAssembly.Module>();

function wasmPath(flavour: KernelFlavour): string {
  const p = packagePath('build', `anpt-${flavour}.wasm`);
  if (!existsSync(p)) throw new DeviceError('INTERNAL', `${p} not found; run "npm run build:wasm" in the anpt folder`);
  return p;
}

/** The compiled kernel of a build (compiled once per process). */
export function kernelModule(flavour: KernelFlavour): WebAssembly.Module {
  let mod = moduleCache.get(flavour);
  if (!mod) {
    mod = new WebAssembly.Module(readFileSync(wasmPath(flavour)));
    moduleCache.set(flavour, mod);
  }
  return mod;
}

/**
 * A fresh kernel instance: its own memory (one per device), or for the threads build
 * the shared `memory` that the device's other threads use too.
 */
export function instantiateKernel(flavour: KernelFlavour = 'simd', memory?: WebAssembly.Memory): KernelExports {
  const inst = instantiateSync(kernelModule(flavour), memory ? { env: { memory } } : {});
  return inst.exports as unknown as KernelExports;
}

let probe: KernelExports | undefined;

/**
 * Bytes of the kernel's buffers for a configuration, as the kernel lays them out
 * (assembly/layout.ts: the one description of the layout), asked of one shared kernel
 * instance. Infinity beyond the kernel's size limits (assembly/limits.ts).
 */
export function kernelLayoutBytes(I: number, H: number, O: number, B: number, K: number, bias = false, elig = 0): number {
  probe ??= instantiateKernel('simd');
  const bytes = probe.layoutBytes(I, H, O, B, K, bias ? 1 : 0, elig);
  return bytes < 0 ? Infinity : bytes;
}

/** Address of the kernel's first buffer (its own data lies below), asked of the shared instance. */
export function kernelMemoryBase(): number {
  probe ??= instantiateKernel('simd');
  return probe.memoryBase();
}

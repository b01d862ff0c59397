/**
 * The float model's step and update in WASM (build/anpt-float.wasm, from
 * assembly/float/): binary64 with the same bits as the TypeScript loops of rnn.ts and
 * float-device.ts. Every sum keeps its order; the SIMD lanes are different sums (two
 * sequences in the forward pass, two columns in the update), multiply and add stay
 * separate (no fused multiply-add), and tanh is a port of the fdlibm tanh that V8's
 * Math.tanh is. test/float-wasm.test.ts checks the equality bit for bit.
 *
 * One FloatKernel per device: its own memory, laid out by the module (layout.ts), or
 * with threads (float-threads.ts) the shared memory of the threads build;
 * views of its buffers are Float64Arrays the device uses as its weights, states and
 * traces. Growing the memory (a longer noisy chunk) detaches the old views: the owner
 * takes new ones from view().
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Activation } from '../device/types.js';
import { DeviceError } from '../device/errors.js';
import { packagePath } from '../package-root.js';

/** Buffer ids of assembly/float/layout.ts. */
export const FloatBuffer = {
  w: 'B_W', r: 'B_R', v: 'B_V', clean: 'B_CLEAN', noisy: 'B_NOISY', ew: 'B_EW', er: 'B_ER', gain: 'B_GAIN', offset: 'B_OFFSET', b: 'B_BH', c: 'B_BO', eb: 'B_EB',
  inputs: 'B_INPUTS', outClean: 'B_OUT_CLEAN', outNoisy: 'B_OUT_NOISY', hidden: 'B_HIDDEN', states: 'B_STATES', da: 'B_DA', dy: 'B_DY', dl: 'B_DL',
} as const;
export type FloatBufferName = keyof typeof FloatBuffer;
/** The buffers a network holds between calls (weights, states, traces, mismatch), as opposed to per-call staging. */
const HELD: FloatBufferName[] = ['w', 'r', 'v', 'clean', 'noisy', 'ew', 'er', 'gain', 'offset', 'b', 'c', 'eb'];

export interface FloatExports {
  /** Absent in the threads build (it imports the shared memory). */
  memory?: WebAssembly.Memory;
  /** bias: 1 when the network has biases (b, c and the trace eb are then used). */
  layout(I: number, H: number, O: number, B: number, K: number, bias: number): number;
  forget(): void;
  ptr(id: number): number;
  /** OK (0) or ERR_THREAD (-1: a worker of the threads build failed). */
  run(K: number, t0: number, noisy: number, act: number, mismatch: number, hidden: number, trace: number, seed: number, sigmaH: number, sigmaO: number): number;
  reward(K: number, lrW: number, lrR: number, lrV: number, sqrtN: number, trace: number, decay: number): number;
  /** Threads build: every thread's last command is done (reward returns before the others finish); OK or ERR_THREAD. */
  sync(): number;
  /** Threads build: the other threads take the sizes of the last layout (false when a worker failed). */
  shareLayout(): number;
  tanhArray(x: number, out: number, n: number, scratch: number): void;
  [id: string]: unknown;
}

const ACT: Record<Activation, number> = { tanh: 0, hardtanh: 1, linear: 2 };
const TRACE = { none: 0, activity: 1, innovation: 2 } as const;
const PAGE = 65536;
const compiled = new Map<string, WebAssembly.Module>();

/** The compiled module of a build of assembly/float/ (default build/anpt-float.wasm; compiled once per process). */
export function floatModule(file = packagePath('build', 'anpt-float.wasm')): WebAssembly.Module {
  let m = compiled.get(file);
  if (!m) {
    if (!existsSync(file)) throw new DeviceError('INTERNAL', `${file} not found; run "npm run build:wasm" in the anpt folder`);
    m = new WebAssembly.Module(readFileSync(file));
    compiled.set(file, m);
  }
  return m;
}

/** An instance of build/anpt-float.wasm, or of another build of assembly/float/ (file: bench/epoch.ts compares builds in one process). */
function instantiate(file?: string): FloatExports {
  return new WebAssembly.Instance(floatModule(file), {}).exports as unknown as FloatExports;
}

/** A threads-build instance of the module (float-threads.ts): its exports, its shared memory, and why its workers failed. */
export interface SharedFloatInstance {
  ex: FloatExports;
  memory: WebAssembly.Memory;
  failure(): string | undefined;
}

export interface KernelRun {
  steps: number;
  t0: number;
  noisy: boolean;
  activation: Activation;
  mismatch: boolean;
  hidden: boolean;
  trace: keyof typeof TRACE;
  seed: number;
  hiddenSigma: number;
  outputSigma: number;
}

/** The WASM float model of one configuration (see the file comment). */
export class FloatKernel {
  private readonly ex: FloatExports;
  private readonly memory: WebAssembly.Memory;
  /** Steps the K-sized buffers (inputs, outputs, trace) hold. */
  capacity = 0;

  /**
   * module: the path of another build of the module (default build/anpt-float.wasm), or
   * the threads build's instance (float-threads.ts; its workers must be ready).
   * bias: the network has biases b (view 'b', H), c ('c', O) and the trace of b ('eb', H).
   */
  constructor(
    readonly inputs: number, readonly hidden: number, readonly outputs: number, readonly batch: number, capacity: number,
    module?: string | SharedFloatInstance, readonly bias = false,
  ) {
    this.shared = typeof module === 'object' ? module : undefined;
    this.ex = this.shared?.ex ?? instantiate(module as string | undefined);
    this.memory = this.shared?.memory ?? this.ex.memory!;
    this.ensure(capacity);
    // a new network starts at zero, also on a threads instance kept from an earlier kernel (its memory is reused)
    for (const name of HELD) this.view(name).fill(0);
  }

  private readonly shared?: SharedFloatInstance;

  /** A failed worker of the threads build: the model's state is lost. */
  private check(status: number, call: string): void {
    if (status === 0) return;
    const why = this.shared?.failure() ?? `status ${status}`;
    throw new DeviceError('INTERNAL', `${call}: ${why}; the float model's state is lost: close this device and configure a new one`);
  }

  /** Make the K-sized buffers hold at least `steps` steps; true when the memory grew (old views are detached). */
  ensure(steps: number): boolean {
    if (steps <= this.capacity) return false;
    this.sync('configure');
    const bytes = this.ex.layout(this.inputs, this.hidden, this.outputs, this.batch, steps, this.bias ? 1 : 0);
    const have = this.memory.buffer.byteLength;
    if (bytes > 65536 * PAGE) throw new DeviceError('INTERNAL', `the float model needs ${bytes} bytes for ${steps} steps, over the 4 GiB of WASM memory; lower maxChunkSteps or the batch`);
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / PAGE));
    if (this.shared) this.check(this.ex.shareLayout() ? 0 : -1, 'configure');
    this.capacity = steps;
    return bytes > have;
  }

  /**
   * Threads build: wait until the other threads have finished the last reward (it
   * returns while they update their rows). Call before the host reads or writes a
   * buffer through its views; run, reward and ensure do it themselves.
   */
  sync(call: string): void {
    if (this.shared) this.check(this.ex.sync(), call);
  }

  /** A view of buffer `name` (detached when the memory grows). */
  view(name: FloatBufferName): Float64Array {
    const id = (this.ex[FloatBuffer[name]] as WebAssembly.Global).value as number;
    const n = this.size(name);
    return new Float64Array(this.memory.buffer, this.ex.ptr(id), n);
  }

  private size(name: FloatBufferName): number {
    const { inputs: I, hidden: H, outputs: O, batch: B, capacity: K } = this;
    switch (name) {
      case 'w': case 'ew': return H * I;
      case 'r': case 'er': return H * H;
      case 'v': return O * H;
      case 'clean': case 'noisy': return B * H;
      case 'gain': case 'offset': case 'b': case 'eb': return H;
      case 'c': return O;
      case 'inputs': return K * B * I;
      case 'outClean': case 'outNoisy': case 'dy': return K * B * O;
      case 'hidden': case 'da': return K * B * H;
      case 'states': return (K + 1) * B * H;
      case 'dl': return K;
    }
  }

  /** Run r.steps steps on the inputs in view('inputs'); see assembly/float/step.ts run. */
  run(r: KernelRun): void {
    this.check(this.ex.run(r.steps, r.t0 >>> 0, r.noisy ? 1 : 0, ACT[r.activation], r.mismatch ? 1 : 0, r.hidden ? 1 : 0, TRACE[r.trace], r.seed >>> 0, r.hiddenSigma, r.outputSigma), 'run');
  }

  /**
   * The host wrote view('clean') or view('noisy'): the next run reads them. (A run keeps
   * the states it ends with in its own layout too, and starts from those otherwise.)
   */
  statesWritten(): void {
    this.ex.forget();
  }

  /** The updates of the last noisy chunk's `steps` steps, rewards in view('dl'). */
  reward(steps: number, lr: { w: number; r: number; v: number }, sqrtN: number, trace: keyof typeof TRACE, decay: number): void {
    this.check(this.ex.reward(steps, lr.w, lr.r, lr.v, sqrtN, TRACE[trace], decay), 'reward');
  }
}

/** tanh of each value by the module's vector tanh (for the tests: it must equal Math.tanh). */
export function wasmTanh(x: Float64Array): Float64Array {
  const ex = instantiate();
  const n = x.length + (x.length & 1);
  const p = Math.ceil(ex.layout(1, 1, 1, 1, 1, 0) / 16) * 16; // past the module's own data and buffers
  const mem = ex.memory!;
  const need = p + 7 * n * 8 - mem.buffer.byteLength; // x, tanh x, 5 n of scratch
  if (need > 0) mem.grow(Math.ceil(need / PAGE));
  const v = new Float64Array(mem.buffer, p, n);
  v.fill(0);
  v.set(x);
  ex.tanhArray(p, p + n * 8, n, p + 2 * n * 8);
  return new Float64Array(mem.buffer, p + n * 8, x.length).slice();
}

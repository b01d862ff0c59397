/**
 * The size checks of `anpt train`, `eval` and `predict`, made on the resolved flags
 * before any data or weights exist (src/limits/memory.ts has the estimate): a run that
 * cannot fit is refused in milliseconds, exit 2, with the estimate and the limit.
 */
import { EMULATOR_LIMITS, emulatorChunkFit } from '../device/emulator.js';
import { memoryProblem } from '../limits/memory.js';
import { taskShape } from '../limits/memory.js';
import { EVAL_CHUNK_STEPS, type Backend } from './defaults.js';
import { UsageError } from './errors.js';
import type { TaskSpec } from './task-options.js';

/** The emulator's own bounds (checked again when it is configured, but only after the data is built). */
function checkEmulator(backend: Backend, hidden: number, taskBatch: number, copies = 1): void {
  if (backend !== 'emulator') return;
  if (hidden > EMULATOR_LIMITS.maxHidden)
    throw new UsageError(`--hidden: ${hidden} exceeds the emulator's ${EMULATOR_LIMITS.maxHidden} hidden neurons; use --hidden ${EMULATOR_LIMITS.maxHidden} or less, or --backend float`);
  const batch = taskBatch * copies;
  if (batch > EMULATOR_LIMITS.maxBatch && copies > 1)
    throw new UsageError(`--copies: ${copies} copies of ${taskBatch} sequences are ${batch}, more than the emulator's ${EMULATOR_LIMITS.maxBatch}; use --copies ${Math.max(1, Math.floor(EMULATOR_LIMITS.maxBatch / taskBatch))} or less, or --backend float`);
  if (batch > EMULATOR_LIMITS.maxBatch)
    throw new UsageError(`--batch: ${batch} exceeds the emulator's ${EMULATOR_LIMITS.maxBatch} sequences; use --batch ${EMULATOR_LIMITS.maxBatch} or less, or --backend float`);
}

/** eval/predict: the task's data and the saved network must fit. */
export function checkTaskSize(spec: TaskSpec, hidden: number, backend?: Backend): void {
  if (backend) checkEmulator(backend, hidden, taskShape(spec).batch);
  const problem = memoryProblem({ task: spec, hidden, chunkSteps: EVAL_CHUNK_STEPS });
  if (problem) throw new UsageError(problem);
}

export interface TrainSize {
  task: TaskSpec;
  backend: Backend;
  hidden: number;
  epochs: number;
  chunk: number | 'sequence';
  bpttWindow?: number | 'full';
  /** --copies: the device's batch is the task's times this. */
  copies?: number;
}

/** train: the step counter, the emulator's bounds and the memory estimate. */
export function checkTrainSize(c: TrainSize): void {
  const shape = taskShape(c.task);
  const chunk = c.chunk === 'sequence' ? shape.steps : Math.max(c.chunk, EVAL_CHUNK_STEPS);
  const problem = memoryProblem({ task: c.task, hidden: c.hidden, chunkSteps: chunk, bpttWindow: c.bpttWindow, copies: c.copies });
  if (problem) throw new UsageError(problem);
  // table data: the step count is known only once the file is read (and bounded by it)
  if (c.task.name === 'mackey-glass' || c.task.name === 'copy') {
    const steps = c.task.name === 'copy' ? shape.steps : Number(c.task.options.steps);
    if (c.epochs * steps > 2 ** 32)
      throw new UsageError(`${c.epochs > 1 && steps <= 2 ** 32 ? '--epochs' : shape.flag}: ${c.epochs} epochs x ${steps} steps exceed the device's 32-bit step counter (${2 ** 32} steps); train fewer epochs or on shorter sequences`);
  }
  checkEmulator(c.backend, c.hidden, shape.batch, c.copies);
}

export interface ChunkShape { inputs: number; hidden: number; outputs: number; batch: number }

/**
 * Steps per clean evaluation call: up to EVAL_CHUNK_STEPS (and the sequence), but on
 * the emulator no more than its memory holds next to the weights (H = 4096 at batch 32
 * takes 1 GiB of traces at 1000 steps), and never fewer than `atLeast` (the training
 * chunk, which the user chose). A size nothing fits is refused later, by configure.
 */
export function evalChunkSteps(backend: Backend, t: ChunkShape, steps: number, atLeast = 1): number {
  let k = Math.min(EVAL_CHUNK_STEPS, steps);
  if (backend === 'emulator') k = emulatorChunkFit(t.inputs, t.hidden, t.outputs, t.batch, k);
  return Math.max(atLeast, k);
}

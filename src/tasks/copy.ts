/**
 * The copy task: remember a sequence of symbols across a delay and play it back.
 *
 * Per sequence, T = 2 * length + delay steps:
 * - steps [0, length): a random symbol in 1..8, one-hot over 10 classes;
 * - steps [length, length + delay): the blank symbol 0;
 * - steps [length + delay, T): the recall marker, symbol 9.
 * The target is all zeros (no class set) until recall starts, then the one-hot of the
 * original symbol: at step length + delay + k the target is the symbol seen at step k.
 */
import { TaskError, checkInteger, checkSeed } from './errors.js';
import { createRng, testSeed } from './rng.js';
import type { SequenceSet, Task } from './types.js';

export const COPY_CLASSES = 10;
export const COPY_BLANK = 0;
export const COPY_RECALL = 9;

export interface CopyOptions {
  /** Symbols to remember, default 100. */
  length?: number;
  /** Blank steps between the symbols and the recall markers, default 10. */
  delay?: number;
  /** Sequences per split B, default 10. */
  batch?: number;
  /** Integer seed (modulo 2^32), default 42. Train and test use disjoint streams of it. */
  seed?: number;
}

function copySet(length: number, delay: number, batch: number, seed: number): SequenceSet {
  const rng = createRng(seed);
  const steps = 2 * length + delay;
  const C = COPY_CLASSES;
  const inputs = new Float64Array(steps * batch * C);
  const targets = new Float64Array(steps * batch * C);
  const recallStart = length + delay;
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < length; t++) {
      const symbol = 1 + rng.int(8);
      inputs[(t * batch + b) * C + symbol] = 1;
      targets[((recallStart + t) * batch + b) * C + symbol] = 1;
    }
    for (let t = length; t < recallStart; t++) inputs[(t * batch + b) * C + COPY_BLANK] = 1;
    for (let t = recallStart; t < steps; t++) inputs[(t * batch + b) * C + COPY_RECALL] = 1;
  }
  return { steps, batch, inputSize: C, outputSize: C, inputs, targets };
}

/**
 * Scores a whole set's outputs (T x B x 10, time-major like the set) for the copy task.
 *
 * - `wrong_bits`: every output value is thresholded (1 if > 0.5, else 0) and compared
 *   with the target bit (1 if the target is > 0.5, else 0) at every step, sequence and
 *   class, blank phase included; the count of mismatches over the whole set is divided
 *   by B, i.e. wrong bits per sequence (0 is perfect, at most T * 10).
 * - `recall_accuracy`: over the recall steps (those whose target has a class set) of
 *   every sequence, the fraction where the argmax of the 10 outputs (the first index on
 *   ties) equals the target symbol; 1 is perfect. NaN if the set has no recall steps.
 */
export function copyMetrics(outputs: Float64Array, set: SequenceSet): Record<string, number> {
  const C = set.outputSize;
  if (outputs.length !== set.targets.length) {
    throw new TaskError(
      'SHAPE_MISMATCH',
      `copy metrics: outputs have ${outputs.length} values but the set needs T*B*O = ${set.targets.length}; pass the outputs of the whole set`,
    );
  }
  let wrong = 0;
  let recallSteps = 0;
  let correct = 0;
  for (let row = 0; row < set.steps * set.batch; row++) {
    const off = row * C;
    let best = 0;
    let targetClass = -1;
    for (let c = 0; c < C; c++) {
      const y = outputs[off + c];
      const target = set.targets[off + c];
      if (y > 0.5 !== target > 0.5) wrong++;
      if (y > outputs[off + best]) best = c;
      if (target > 0.5) targetClass = c;
    }
    if (targetClass >= 0) {
      recallSteps++;
      if (best === targetClass) correct++;
    }
  }
  return { wrong_bits: wrong / set.batch, recall_accuracy: correct / recallSteps };
}

/** The copy task, named "copy/len<length>-delay<delay>"; 10 inputs, 10 outputs. */
export function copyTask(opts: CopyOptions = {}): Task {
  const length = checkInteger('copy length', opts.length ?? 100, 1);
  const delay = checkInteger('copy delay', opts.delay ?? 10, 0);
  const batch = checkInteger('copy batch', opts.batch ?? 10, 1);
  const seed = checkSeed('copy seed', opts.seed ?? 42);
  return {
    name: `copy/len${length}-delay${delay}`,
    inputSize: COPY_CLASSES,
    outputSize: COPY_CLASSES,
    train: copySet(length, delay, batch, seed),
    test: copySet(length, delay, batch, testSeed(seed)),
    metrics: copyMetrics,
  };
}

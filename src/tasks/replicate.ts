/**
 * Noisy copies of the same data: every sequence of a set M times side by side, so that
 * a perturbation learner draws M independent noise samples of the same sequence per
 * step (M times the forward passes, an M times less noisy estimate of the update).
 * Sequence b of the set becomes sequences b M .. b M + M - 1. A clean (noise-free) pass
 * gives every copy the same outputs, so a replicated set has the same MSE and metrics.
 */
import type { SequenceSet } from './types.js';

/** Each sequence of `set` M times side by side (M >= 1; M = 1 returns the set itself). */
export function replicateSequences(set: SequenceSet, M: number): SequenceSet {
  if (!Number.isInteger(M) || M < 1) throw new RangeError(`copies: ${M} is out of range; allowed integers >= 1`);
  if (M === 1) return set;
  const { steps: T, batch: B, inputSize: I, outputSize: O } = set;
  const inputs = new Float64Array(T * B * M * I), targets = new Float64Array(T * B * M * O);
  const rows = set.targetRows ? new Int32Array(T * B * M) : undefined;
  for (let t = 0; t < T; t++)
    for (let b = 0; b < B; b++)
      for (let m = 0; m < M; m++) {
        const to = (t * B + b) * M + m;
        inputs.set(set.inputs.subarray((t * B + b) * I, (t * B + b + 1) * I), to * I);
        targets.set(set.targets.subarray((t * B + b) * O, (t * B + b + 1) * O), to * O);
        if (rows) rows[to] = set.targetRows![t * B + b];
      }
  return { steps: T, batch: B * M, inputSize: I, outputSize: O, inputs, targets, ...(rows ? { targetRows: rows } : {}) };
}

/** The offset task of the bias tests and scripts/bias-offset.ts: a delay task whose target sits on a constant. */
import { key, unitNormal } from '../src/model/rng.js';
import type { SequenceSet } from '../src/tasks/types.js';

/** Input: clipped Gaussian noise (std 0.6, ±1); target: 0.5 + 0.8 x the input two steps back. */
export function offsetDelaySet(T: number, B: number, seed: number, offset = 0.5): SequenceSet {
  const k = key(seed, 40, 0, 0);
  const u = new Float64Array(T * B).map((_, i) => Math.max(-1, Math.min(1, 0.6 * unitNormal(k, i))));
  const y = new Float64Array(T * B).fill(offset);
  for (let t = 2; t < T; t++) for (let b = 0; b < B; b++) y[t * B + b] += 0.8 * u[(t - 2) * B + b];
  return { steps: T, batch: B, inputSize: 1, outputSize: 1, inputs: u, targets: y };
}

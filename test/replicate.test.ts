// replicateSequences (--copies): every sequence M times side by side, rows included; a
// clean pass scores a replicated set as the original.
import { describe, expect, it } from 'vitest';
import { replicateSequences } from '../src/tasks/replicate.js';
import { makeTask } from '../src/tasks/index.js';
import { evaluate } from '../src/learn/evaluate.js';
import { FloatDevice } from '../src/model/float-device.js';
import { initialParams } from '../src/model/rnn.js';

describe('replicateSequences', () => {
  const set = { steps: 2, batch: 2, inputSize: 1, outputSize: 1, inputs: Float64Array.of(1, 2, 3, 4), targets: Float64Array.of(5, 6, 7, 8), targetRows: Int32Array.of(10, 11, 12, 13) };

  it('puts copy m of sequence b at b M + m, targets and rows alike', () => {
    const r = replicateSequences(set, 3);
    expect(r.batch).toBe(6);
    expect(Array.from(r.inputs)).toEqual([1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
    expect(Array.from(r.targets)).toEqual([5, 5, 5, 6, 6, 6, 7, 7, 7, 8, 8, 8]);
    expect(Array.from(r.targetRows!)).toEqual([10, 10, 10, 11, 11, 11, 12, 12, 12, 13, 13, 13]);
    expect(replicateSequences(set, 1)).toBe(set);
    for (const bad of [0, 1.5, -2]) expect(() => replicateSequences(set, bad)).toThrow(/copies: .* out of range/);
  });

  it('a clean evaluation of the copies gives the MSE of the original', async () => {
    const task = makeTask('adding', { batch: 2, seed: 5, episodes: 10 });
    const shape = { inputs: 3, hidden: 4, outputs: 1, activation: 'tanh' as const };
    const mse = async (B: number, s: typeof task.test) => {
      const d = new FloatDevice();
      await d.configure({ topology: { ...shape, batch: B }, noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 }, seed: 5, maxChunkSteps: 100 });
      await d.writeParams(initialParams(shape, 5, false));
      return (await evaluate(d, s)).mse;
    };
    expect(await mse(8, replicateSequences(task.test, 4))).toBeCloseTo(await mse(2, task.test), 14);
  });
});

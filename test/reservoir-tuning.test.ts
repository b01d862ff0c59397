// The tuned reservoir baseline (src/learn/reservoir.ts tuneReservoir) chooses the
// spectral radius of R, the gain of W and lambda on the held-out tail of the train
// steps, never on the test set; and NRMSE (src/learn/evaluate.ts).
import { describe, expect, it } from 'vitest';
import { spectralRadius } from '../src/linalg/spectral.js';
import { evaluate, nrmse, targetVariance } from '../src/learn/evaluate.js';
import { tuneReservoir } from '../src/learn/reservoir.js';
import { FloatDevice } from '../src/model/float-device.js';
import { key as counterKey, unitNormal } from '../src/model/rng.js';
import { xavierNormal, type RnnShape } from '../src/model/rnn.js';
import type { SequenceSet } from '../src/tasks/types.js';

/** Input: clipped Gaussian noise; target: the input `lag` steps back. */
function lagSet(T: number, B: number, lag: number, seed: number): SequenceSet {
  const key = counterKey(seed, 40, 0, 0);
  const u = new Float64Array(T * B).map((_, i) => Math.max(-1, Math.min(1, 0.6 * unitNormal(key, i))));
  const y = new Float64Array(T * B);
  for (let t = lag; t < T; t++) for (let b = 0; b < B; b++) y[t * B + b] = u[(t - lag) * B + b];
  return { steps: T, batch: B, inputSize: 1, outputSize: 1, inputs: u, targets: y };
}

const shape: RnnShape = { inputs: 1, hidden: 16, outputs: 1, activation: 'tanh' };
const init = xavierNormal(shape, 3);

async function device(): Promise<FloatDevice> {
  const dev = new FloatDevice();
  await dev.configure({ topology: { ...shape, batch: 4 }, noise: { hiddenSigma: 0, outputSigma: 0 }, seed: 1, maxChunkSteps: 400 });
  await dev.writeParams(init);
  return dev;
}

describe('tuneReservoir', () => {
  it('picks by the validation tail of the train set, where the test set would pick differently', async () => {
    const train = lagSet(400, 4, 6, 1); // needs a 6-step memory: a large radius
    const test = lagSet(400, 4, 0, 2); // the current input: memory only interferes
    const radii = [0.1, 0.95];
    // what each radius scores on validation and on the test set, fitted alone
    const val: number[] = [], tst: number[] = [];
    for (const radius of radii) {
      const dev = await device();
      val.push((await tuneReservoir(dev, train, { radii: [radius], gains: [1] })).grid[0].validationMse);
      tst.push((await evaluate(dev, test)).mse);
    }
    const byVal = radii[val.indexOf(Math.min(...val))], byTest = radii[tst.indexOf(Math.min(...tst))];
    expect(byVal).not.toBe(byTest);
    const dev = await device();
    const r = await tuneReservoir(dev, train, { radii, gains: [1] });
    expect(r.radius).toBe(byVal);
    expect(r.grid.map((g) => g.validationMse)).toEqual(val);
  });

  it('writes the chosen gain x W and R rescaled to the chosen radius; an empty radius list keeps R', async () => {
    const dev = await device();
    const r = await tuneReservoir(dev, lagSet(300, 4, 3, 5), { radii: [0.5, 0.9], gains: [0.5, 2] });
    expect(r.grid).toHaveLength(4);
    const best = r.grid.reduce((a, b) => (b.validationMse < a.validationMse ? b : a));
    expect([r.radius, r.gain, r.lambda]).toEqual([best.radius, best.gain, best.lambda]);
    const p = await dev.readParams();
    p.w.forEach((x, k) => expect(x).toBeCloseTo(init.w[k] * r.gain, 12));
    expect(spectralRadius(p.r, 16)).toBeCloseTo(r.radius!, 2);
    expect(r.initialRadius).toBeCloseTo(spectralRadius(init.r, 16), 12);
    const kept = await device();
    const k = await tuneReservoir(kept, lagSet(300, 4, 3, 5), { radii: [], gains: [1] });
    expect(k.radius).toBeUndefined();
    expect(Array.from((await kept.readParams()).r)).toEqual(Array.from(init.r));
  });

  it('refuses a bad grid with the field named', async () => {
    const dev = await device();
    await expect(tuneReservoir(dev, lagSet(100, 4, 1, 1), { radii: [0] })).rejects.toThrow(/radii/);
    await expect(tuneReservoir(dev, lagSet(100, 4, 1, 1), { gains: [] })).rejects.toThrow(/gains/);
  });
});

describe('nrmse', () => {
  const set = (targets: number[], O = 1): SequenceSet => ({ steps: targets.length / O, batch: 1, inputSize: 1, outputSize: O, inputs: new Float64Array(targets.length / O), targets: Float64Array.from(targets) });

  it('is sqrt(MSE / variance of the targets), the variance per output around its own mean', () => {
    const s = set([1, 2, 3, 4]); // mean 2.5, variance 1.25
    expect(targetVariance(s)).toBeCloseTo(1.25, 15);
    expect(nrmse(1.25, s)).toBeCloseTo(1, 15);
    expect(nrmse(0, s)).toBe(0);
    expect(nrmse(0.05, s)).toBeCloseTo(0.2, 15);
    // two outputs: (0, 10), (2, 12) -> each has variance 1 around its own mean
    expect(targetVariance(set([0, 10, 2, 12], 2))).toBeCloseTo(1, 15);
    expect(Number.isNaN(nrmse(1, set([3, 3, 3])))).toBe(true);
  });
});

// trainAnpt's ridgeEverySteps (readout 'ridge', V solved inside the epoch too): V changes
// exactly at the fits, training goes on from the recurrent state and per-sequence traces
// it had before each fit, and a refused option changes nothing.
import { describe, expect, it } from 'vitest';
import { trainAnpt, type TrainPosition } from '../src/learn/anpt.js';
import { SequenceRewardDevice } from '../src/learn/sequence-reward.js';
import { FloatDevice } from '../src/model/float-device.js';
import { makeTask } from '../src/tasks/index.js';
import { initialParams } from '../src/model/rnn.js';
import { ConfigError } from '../src/format/fixed.js';
import { fitRidgeReadout } from '../src/learn/reservoir.js';

const task = makeTask('adding', { batch: 2, seed: 3, episodes: 10 }); // T = 100
const shape = { inputs: 3, hidden: 5, outputs: 1, activation: 'tanh' as const };

async function device(kind: 'plain' | 'sequence'): Promise<FloatDevice> {
  const d = kind === 'plain' ? new FloatDevice() : new SequenceRewardDevice();
  await d.configure({ topology: { ...shape, batch: 2 }, noise: { hiddenSigma: 1e-3, outputSigma: 0 }, seed: 3, maxChunkSteps: 100, learner: { trace: 'innovation', decay: 0.9 } });
  await d.writeParams(initialParams(shape, 3, false));
  return d;
}

type Fit = 'keep' | 'lose';

/**
 * Train (W and R learn; V only by the ridge fits) and record V, the clean state and the
 * per-sequence traces after every chunk. `manual`: no ridgeEverySteps, but the same fits
 * done by hand in afterChunk, keeping the state and traces ('keep', the reference) or not
 * ('lose', what a fit that forgot them would do).
 */
async function record(kind: 'plain' | 'sequence', ridgeEverySteps?: number, manual?: Fit) {
  const d = await device(kind);
  const seen: { at: number; v: number[]; h: number[]; traces?: number[] }[] = [];
  let next = 30;
  const res = await trainAnpt(d, task.train, {
    epochs: 2, lr: { w: 0.3, r: 0.3, v: 0.1 }, readout: 'ridge', ridgeEverySteps, reward: kind === 'sequence' ? 'sequence' : 'batch',
    afterChunk: async (at: TrainPosition) => {
      if (manual && at.stepsDone >= next) {
        next = at.stepsDone + 30;
        const st = await d.readState(), tr = d instanceof SequenceRewardDevice ? d.readSequenceTraces() : undefined;
        await fitRidgeReadout(d, task.train);
        if (manual === 'keep') {
          await d.writeState(st);
          if (tr && d instanceof SequenceRewardDevice) d.writeSequenceTraces(tr);
        }
      }
      const st = await d.readState();
      const tr = d instanceof SequenceRewardDevice ? d.readSequenceTraces().flatMap((x) => Array.from(x)) : undefined;
      seen.push({ at: at.stepsDone, v: Array.from((await d.readParams()).v), h: Array.from(st.clean), ...(tr ? { traces: tr } : {}) });
    },
    afterEpoch: async (epoch) => {
      next = (epoch + 1) * task.train.steps + 30; // the epoch's own fit restarts the count
      return undefined;
    },
  });
  expect(res.status).toBe('ok');
  return seen;
}

describe('trainAnpt ridgeEverySteps', () => {
  it('solves V every N steps counted from the last fit, the epoch\'s own fit included', async () => {
    const seen = await record('plain', 30);
    const changed = seen.filter((s, i) => i > 0 && s.v.some((x, q) => x !== seen[i - 1].v[q])).map((s) => s.at);
    // epoch 1: fits after steps 30, 60, 90, the epoch's fit at 100; epoch 2 counts from 100
    // (the first record of epoch 2, at 101, also shows the epoch's fit)
    expect(changed).toEqual([30, 60, 90, 101, 130, 160, 190]);
    // without it V stays as the first fit left it within the first epoch
    const none = await record('plain');
    expect(none.filter((s) => s.at < 100).every((s) => s.v.every((x, q) => x === none[0].v[q]))).toBe(true);
  });

  it('goes on from the recurrent state and per-sequence traces it had before each fit', async () => {
    for (const kind of ['plain', 'sequence'] as const) {
      const [fits, keep, lose] = [await record(kind, 30), await record(kind, undefined, 'keep'), await record(kind, undefined, 'lose')];
      expect(fits, kind).toEqual(keep);
      // the check can tell: fits that lost the state (and traces) train elsewhere
      expect(lose.at(-1)!.h, kind).not.toEqual(keep.at(-1)!.h);
    }
  });

  it('is refused without the ridge readout, before anything changes', async () => {
    const d = await device('plain');
    const before = await d.readParams();
    const bad = [{ readout: 'device' as const, ridgeEverySteps: 30 }, { readout: 'ridge' as const, ridgeEverySteps: 0 }, { readout: 'ridge' as const, ridgeEverySteps: 2.5 }];
    for (const o of bad) {
      await expect(trainAnpt(d, task.train, { epochs: 1, lr: { w: 0.1, r: 0.1, v: 0.1 }, ...o })).rejects.toSatisfy((e) => e instanceof ConfigError && e.field === 'ridgeEverySteps');
    }
    expect(await d.readParams()).toEqual(before);
    expect((await d.stats()).steps).toBe(0);
  });
});

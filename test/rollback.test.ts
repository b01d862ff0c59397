// trainAnpt's rollback on validation (src/learn/rollback.ts): an epoch that ends above
// factor x the best validation MSE is undone (the parameters go back to the best epoch's),
// the run ends holding the best network, a factor no epoch reaches changes no bit, a
// resumed run (position through JSON) rolls back as the uninterrupted one does, and a
// refused option changes nothing.
import { describe, expect, it } from 'vitest';
import type { Params } from '../src/device/types.js';
import { ConfigError } from '../src/format/fixed.js';
import { trainAnpt, type AnptOptions, type TrainPosition } from '../src/learn/anpt.js';
import { evaluate } from '../src/learn/evaluate.js';
import { FloatDevice } from '../src/model/float-device.js';
import { initialParams } from '../src/model/rnn.js';
import { makeTask } from '../src/tasks/index.js';

const task = makeTask('adding', { batch: 2, seed: 3, episodes: 10 }); // T = 100
const validation = makeTask('adding', { batch: 2, seed: 3 + 7919, episodes: 10 }).test;
const shape = { inputs: 3, hidden: 5, outputs: 1, activation: 'tanh' as const };
const EPOCHS = 8;
const LR = { w: 2, r: 2, v: 0.5 }; // large steps: some epochs end worse than the best
const DIVERGE_AT = 3; // x the zero-output train MSE: the bound of the divergence case

async function device(): Promise<FloatDevice> {
  const d = new FloatDevice();
  await d.configure({ topology: { ...shape, batch: 2 }, noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 }, seed: 3, maxChunkSteps: 100, learner: { trace: 'innovation', decay: 0.9 } });
  await d.writeParams(initialParams(shape, 3, false));
  return d;
}

const copy = (p: Params) => ({ w: Array.from(p.w), r: Array.from(p.r), v: Array.from(p.v) });

/** Train with these options; the parameters after every epoch (after any rollback). */
async function train(extra: Partial<AnptOptions>, d?: FloatDevice) {
  d ??= await device();
  const after: ReturnType<typeof copy>[] = [];
  const res = await trainAnpt(d, task.train, {
    epochs: EPOCHS, lr: LR, schedule: { kind: 'cosine' }, ...extra,
    afterEpoch: async () => { after.push(copy(await d!.readParams())); return undefined; },
  });
  return { res, after, final: copy(await d.readParams()), d };
}

describe('trainAnpt rollback', () => {
  it('undoes the epochs that end above factor x the best and ends on the best network', async () => {
    const start = await device();
    const startParams = copy(await start.readParams());
    const { res, after, final, d } = await train({ rollback: { validation, factor: 1 } }, start);
    expect(res.status).toBe('ok');
    const vals = res.epochs.map((e) => e.validationMse!);
    const undone = res.epochs.filter((e) => e.rolledBack).map((e) => e.epoch);
    expect(undone.length).toBeGreaterThan(0); // the test needs both kinds of epoch
    expect(undone.length).toBeLessThan(EPOCHS);
    // walk the run: the best so far, and where each undone epoch went back to
    let best = { mse: Infinity, params: startParams, epoch: -1 };
    const d0 = await device();
    best.mse = (await evaluate(d0, validation)).mse; // the start is the first candidate
    for (const e of res.epochs) {
      if (e.validationMse! < best.mse) best = { mse: e.validationMse!, params: after[e.epoch], epoch: e.epoch };
      else {
        expect(e.rolledBack).toBe(true); // factor 1: every epoch that is not a new best
        expect(after[e.epoch]).toEqual(best.params);
      }
    }
    expect(res.rollback).toEqual({ bestEpoch: best.epoch, bestValidationMse: Math.min(best.mse, ...vals.filter((v, i) => !res.epochs[i].rolledBack)), rollbacks: undone.length });
    expect(final).toEqual(best.params);
    expect((await evaluate(d, validation)).mse).toBe(best.mse);
  });

  it('a factor that no epoch reaches changes no bit of the training', async () => {
    const plain = await train({});
    const never = await train({ rollback: { validation, factor: 1e12 } });
    expect(never.res.epochs.some((e) => e.rolledBack)).toBe(false);
    expect(never.after).toEqual(plain.after);
    // it only changes where the run ends: on the best epoch on validation
    const best = never.res.rollback!.bestEpoch;
    expect(never.final).toEqual(best >= 0 ? plain.after[best] : copy(await (await device()).readParams()));
  });

  it('a run resumed from a saved position (through JSON) rolls back as the uninterrupted one', async () => {
    const whole = await train({ rollback: { validation, factor: 1 } });
    // stop in epoch 5 (after rollbacks and bests), with the device's parameters and state saved
    const d = await device();
    let saved: { at: TrainPosition; params: Params; state: Awaited<ReturnType<FloatDevice['readState']>> } | undefined;
    await trainAnpt(d, task.train, {
      epochs: EPOCHS, lr: LR, schedule: { kind: 'cosine' }, rollback: { validation, factor: 1 },
      afterChunk: async (at) => {
        if (at.epoch === 5 && at.stepInEpoch === 40) {
          saved = { at: JSON.parse(JSON.stringify(at)), params: await d.readParams(), state: await d.readState() };
          throw new Error('stop');
        }
      },
    }).catch((e: Error) => expect(e.message).toBe('stop'));
    expect(saved!.at.rollback).toBeDefined();
    const again = await device();
    await again.writeParams(saved!.params);
    await again.writeState(saved!.state);
    const res = await trainAnpt(again, task.train, { epochs: EPOCHS, lr: LR, schedule: { kind: 'cosine' }, rollback: { validation, factor: 1 }, resume: saved!.at });
    expect(res.rollback).toEqual(whole.res.rollback);
    expect(res.epochs.map((e) => e.rolledBack)).toEqual(whole.res.epochs.map((e) => e.rolledBack));
    expect(copy(await again.readParams())).toEqual(whole.final);
  });

  it('an epoch that hits the divergence bound is undone at that step instead of ending the run', async () => {
    const opts = { divergenceFactor: DIVERGE_AT, lr: { w: 6, r: 6, v: 1 } };
    const plain = await train(opts);
    expect(plain.res.status).toBe('diverged'); // the case needs a run that stops without rollback
    const { res, after, final } = await train({ ...opts, rollback: { validation, factor: 1 } });
    expect(res.status).toBe('ok');
    expect(res.steps).toBe(EPOCHS * task.train.steps); // the rest of an undone epoch counts as done: the schedule and noise stream go on
    const hit = res.warnings.filter((w) => /the epoch is undone/.test(w));
    expect(hit.length).toBeGreaterThan(0);
    const zero = res.zeroOutputMse.train;
    const stopped = res.epochs.filter((e) => e.rolledBack && e.trainMse > DIVERGE_AT * zero);
    expect(stopped.length).toBe(hit.length);
    // after an undone epoch the device holds the best network so far (the start first), and it ends on the best
    let best = { mse: (await evaluate(await device(), validation)).mse, params: copy(await (await device()).readParams()) };
    for (const e of res.epochs) {
      if (e.rolledBack) expect(after[e.epoch]).toEqual(best.params);
      else if (e.validationMse! < best.mse) best = { mse: e.validationMse!, params: after[e.epoch] };
    }
    expect(stopped.some((e) => e.epoch > 0 && res.epochs.slice(0, e.epoch).some((p) => !p.rolledBack))).toBe(true); // one went back to a trained network, not the start
    expect(final).toEqual(best.params);
  });

  it('refuses a factor below 1 or a validation set of another shape, and changes nothing', async () => {
    const d = await device();
    const before = await d.readParams();
    const other = makeTask('adding', { batch: 3, seed: 9, episodes: 10 }).test;
    for (const [rollback, field] of [[{ validation, factor: 0.9 }, 'rollback.factor'], [{ validation, factor: NaN }, 'rollback.factor'], [{ validation: other, factor: 1.05 }, 'rollback.validation']] as const)
      await expect(trainAnpt(d, task.train, { epochs: 1, lr: LR, rollback })).rejects.toSatisfy((e) => e instanceof ConfigError && e.field === field);
    expect(await d.readParams()).toEqual(before);
    expect((await d.stats()).steps).toBe(0);
  });
});

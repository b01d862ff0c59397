// The per-sequence reward of ANP-T (src/learn/sequence-reward.ts, trainAnpt reward
// 'sequence'; issue 11): off it is FloatDevice bit for bit, on it applies the documented
// update, and its options (rms, anchor, baseline, momentum) change the step as documented;
// antithetic noise (src/learn/antithetic.ts) negates the noise of each sequence's twin.
import { describe, expect, it } from 'vitest';
import type { DeviceConfig, LearnerConfig, Params } from '../src/device/types.js';
import { ConfigError } from '../src/format/fixed.js';
import { trainAnpt } from '../src/learn/anpt.js';
import { AntitheticSequenceRewardDevice } from '../src/learn/antithetic.js';
import { SequenceRewardDevice, type SequenceRewardOptions } from '../src/learn/sequence-reward.js';
import { FloatDevice } from '../src/model/float-device.js';
import { xavierNormal, type RnnShape } from '../src/model/rnn.js';
import { makeTask } from '../src/tasks/index.js';

const H = 8, B = 3;
const shape: RnnShape = { inputs: 3, hidden: H, outputs: 1, activation: 'tanh' };
const innovation: LearnerConfig = { trace: 'innovation', decay: 0.9 };
const config = (learner: LearnerConfig = innovation): DeviceConfig => ({ topology: { ...shape, batch: B }, noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 }, seed: 7, maxChunkSteps: 100, learner });
const task = makeTask('adding', { batch: B, seed: 3, steps: 200 });

async function dev<D extends FloatDevice>(d: D, learner?: LearnerConfig): Promise<D> {
  await d.configure(config(learner));
  await d.writeParams(xavierNormal(shape, 11));
  return d;
}

const diff = (a: Params, b: Params) => Math.max(...(['w', 'r', 'v'] as const).map((L) => Math.max(...a[L].map((x, i) => Math.abs(x - b[L][i])))));
const delta = (a: Float64Array, b: Float64Array) => a.map((x, i) => x - b[i]);

/** One noisy step from a zero state on inputs u (B x I), then rewardSequences(dL) (B values). */
async function oneStep(d: SequenceRewardDevice, u: number[], dL: number[], lr = 0.5): Promise<{ before: Params; after: Params }> {
  const before = await d.readParams();
  await d.run({ steps: 1, t0: 0, inputs: Float64Array.from(u), noisy: true });
  await d.rewardSequences({ t0: 0, deltaLoss: Float64Array.from(dL), lr: { w: lr, r: lr, v: lr } });
  return { before, after: await d.readParams() };
}

const U = [0.3, 1, 0, -0.5, 0, 0, 0.8, 0, 1];

describe('per-sequence reward (float model)', () => {
  it("trainAnpt with reward 'batch' (the default) on a SequenceRewardDevice gives FloatDevice's bits; 'sequence' differs", async () => {
    const opts = { epochs: 1, lr: { w: 0.3, r: 0.3, v: 0.3 }, schedule: { kind: 'cosine' as const } };
    const a = await dev(new FloatDevice({ engine: 'wasm' })), b = await dev(new SequenceRewardDevice()), c = await dev(new SequenceRewardDevice());
    await trainAnpt(a, task.train, opts);
    await trainAnpt(b, task.train, opts);
    await trainAnpt(c, task.train, { ...opts, reward: 'sequence' });
    const pa = await a.readParams();
    expect(diff(pa, await b.readParams())).toBe(0);
    expect(diff(pa, await c.readParams())).toBeGreaterThan(1e-6);
  });

  it("the trainer's default batch scale: 'none' only where the rate is each weight's step (rms, reward 'sequence')", async () => {
    const opts = { epochs: 1, lr: { w: 1e-3, r: 1e-3, v: 1e-3 }, schedule: { kind: 'cosine' as const } };
    const after = async (o: SequenceRewardOptions, extra: Partial<Parameters<typeof trainAnpt>[2]>) => {
      const d = await dev(new SequenceRewardDevice(o));
      await trainAnpt(d, task.train, { ...opts, ...extra });
      return d.readParams();
    };
    const rms = { rms: 0.999 }, seq = { reward: 'sequence' as const };
    const byDefault = await after(rms, seq);
    expect(diff(byDefault, await after(rms, { ...seq, lrBatchScale: 'none' }))).toBe(0);
    expect(diff(byDefault, await after(rms, { ...seq, lrBatchScale: 'anpt' }))).toBeGreaterThan(1e-6); // B = 3: the scale is 0.09
    // a plain reward takes FloatDevice's step, rms or not; and without rms the rate is batch-scaled as before
    expect(diff(await after(rms, {}), await after(rms, { lrBatchScale: 'anpt' }))).toBe(0);
    expect(diff(await after({}, seq), await after({}, { ...seq, lrBatchScale: 'anpt' }))).toBe(0);
    expect(diff(await after({}, seq), await after({}, { ...seq, lrBatchScale: 'none' }))).toBeGreaterThan(1e-6);
  });

  it('equal dL on every sequence: the step of FloatDevice with dL / B (the same mean step; the cross terms are gone)', async () => {
    const f = await dev(new FloatDevice({ engine: 'js' })), s = await dev(new SequenceRewardDevice());
    await f.run({ steps: 1, t0: 0, inputs: Float64Array.from(U), noisy: true });
    await f.reward({ t0: 0, deltaLoss: Float64Array.of(0.02 / B), lr: { w: 0.5, r: 0.5, v: 0.5 } });
    const { before, after } = await oneStep(s, U, [0.02, 0.02, 0.02]);
    expect(diff(after, before)).toBeGreaterThan(1e-7);
    expect(diff(after, await f.readParams())).toBeLessThan(1e-12 * diff(after, before)); // the same up to summation order
  });

  it("a sequence's trace is credited with its own dL only", async () => {
    // sequence 0 has zero input, sequence 1 the only reward: W moves; with the reward on sequence 0 instead, W does not
    const u = [0, 0, 0, 0.4, 1, 0, 0, 0, 0];
    const own = await oneStep(await dev(new SequenceRewardDevice()), u, [0, 0.05, 0]);
    const other = await oneStep(await dev(new SequenceRewardDevice()), u, [0.05, 0, 0]);
    expect(Math.max(...delta(own.after.w, own.before.w).map(Math.abs))).toBeGreaterThan(1e-7);
    expect(Math.max(...delta(other.after.w, other.before.w).map(Math.abs))).toBe(0);
  });

  it('rms: the first step moves every trained weight by lr exactly (bias-corrected g / rms(g) = sign g)', async () => {
    const { before, after } = await oneStep(await dev(new SequenceRewardDevice({ rms: 0.999 })), U, [0.01, -0.02, 0.03], 1e-3);
    const moved = delta(after.w, before.w).filter((x) => x !== 0);
    expect(moved.length).toBeGreaterThan(H);
    for (const x of moved) expect(Math.abs(Math.abs(x) - 1e-3)).toBeLessThan(1e-12);
  });

  it('anchor 1 pulls W back to its start after every step; V still moves', async () => {
    const { before, after } = await oneStep(await dev(new SequenceRewardDevice({ anchor: 1 })), U, [0.01, -0.02, 0.03]);
    expect(Math.max(...delta(after.w, before.w).map(Math.abs))).toBeLessThan(1e-15); // w - (w - w0): w0 up to rounding
    expect(Math.max(...delta(after.v, before.v).map(Math.abs))).toBeGreaterThan(1e-7);
    const free = await oneStep(await dev(new SequenceRewardDevice()), U, [0.01, -0.02, 0.03]);
    expect(Math.max(...delta(free.after.w, free.before.w).map(Math.abs))).toBeGreaterThan(1e-7);
  });

  it('baseline: a constant dL is subtracted away from the second step on', async () => {
    const d = await dev(new SequenceRewardDevice({ baseline: 0.5 }), { trace: 'activity', decay: 0 });
    const one = await oneStep(d, U, [0.01, 0.01, 0.01]);
    expect(diff(one.after, one.before)).toBeGreaterThan(1e-8);
    await d.run({ steps: 1, t0: 1, inputs: Float64Array.from(U), noisy: true });
    await d.rewardSequences({ t0: 1, deltaLoss: Float64Array.of(0.01, 0.01, 0.01), lr: { w: 0.5, r: 0.5, v: 0.5 } });
    expect(diff(await d.readParams(), one.after)).toBe(0);
  });

  it('momentum: the first step is the plain one; a later step with dL 0 still moves the weights (the running mean of g), without momentum it does not', async () => {
    const plain = await oneStep(await dev(new SequenceRewardDevice()), U, [0.01, -0.02, 0.03]);
    const zeroNext = async (d: SequenceRewardDevice) => {
      const first = await oneStep(d, U, [0.01, -0.02, 0.03]);
      await d.run({ steps: 1, t0: 1, inputs: Float64Array.from(U), noisy: true });
      await d.rewardSequences({ t0: 1, deltaLoss: Float64Array.of(0, 0, 0), lr: { w: 0.5, r: 0.5, v: 0.5 } });
      return { first, second: diff(await d.readParams(), first.after) };
    };
    const mom = await zeroNext(await dev(new SequenceRewardDevice({ momentum: 0.9 })));
    expect(diff(mom.first.after, plain.after)).toBeLessThan(1e-15); // bias-corrected m1 = g after one step
    expect(mom.second).toBeGreaterThan(1e-8);
    expect((await zeroNext(await dev(new SequenceRewardDevice()))).second).toBe(0);
  });

  it('antithetic: a twin gets the negated noise (its output deviation is the negated one to first order), equal dL on both twins nearly cancels, an odd batch is refused', async () => {
    const cfg2 = (): DeviceConfig => ({ ...config(), topology: { ...shape, batch: 2 } });
    const twin = [0.3, 1, 0, 0.3, 1, 0];
    const a = new AntitheticSequenceRewardDevice();
    await a.configure(cfg2());
    await a.writeParams(xavierNormal(shape, 11));
    const before = await a.readParams();
    const res = await a.run({ steps: 1, t0: 0, inputs: Float64Array.from(twin), noisy: true });
    const d0 = res.noisy[0] - res.clean[0], d1 = res.noisy[1] - res.clean[1];
    expect(Math.abs(d0)).toBeGreaterThan(1e-5);
    expect(Math.abs(d0 + d1)).toBeLessThan(1e-2 * Math.abs(d0));
    await a.rewardSequences({ t0: 0, deltaLoss: Float64Array.of(0.01, 0.01), lr: { w: 0.5, r: 0.5, v: 0 } });
    const s = new SequenceRewardDevice();
    await s.configure(cfg2());
    await s.writeParams(xavierNormal(shape, 11));
    await s.run({ steps: 1, t0: 0, inputs: Float64Array.from(twin), noisy: true });
    await s.rewardSequences({ t0: 0, deltaLoss: Float64Array.of(0.01, 0.01), lr: { w: 0.5, r: 0.5, v: 0 } });
    const moved = (p: Params) => Math.max(...delta(p.w, before.w).map(Math.abs));
    expect(moved(await a.readParams())).toBeLessThan(1e-2 * moved(await s.readParams()));
    await expect(new AntitheticSequenceRewardDevice().configure(config())).rejects.toMatchObject({ field: 'topology.batch' });
  });

  it("reward 'sequence' on a device without per-sequence rewards, or a bad option, is refused before anything changes", async () => {
    const f = await dev(new FloatDevice());
    const p = await f.readParams();
    await expect(trainAnpt(f, task.train, { epochs: 1, lr: { w: 0.1, r: 0.1, v: 0.1 }, reward: 'sequence' })).rejects.toThrow(ConfigError);
    expect(diff(await f.readParams(), p)).toBe(0);
    for (const bad of [{ rms: 1 }, { baseline: -0.1 }, { anchor: 2 }, { momentum: 1 }] as SequenceRewardOptions[]) expect(() => new SequenceRewardDevice(bad)).toThrow(ConfigError);
  });
});

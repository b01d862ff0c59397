/** Biases b, c on the float model (issue 11): forward bits, the update rule, NP/WP/BPTT/ridge, and the offset task. */
import { describe, expect, it } from 'vitest';
import type { DeviceConfig, Params } from '../src/device/types.js';
import { ConfigError } from '../src/format/fixed.js';
import { trainAnpt } from '../src/learn/anpt.js';
import { lossAndGradient } from '../src/learn/bptt.js';
import { evaluate } from '../src/learn/evaluate.js';
import { NpFloatDevice } from '../src/learn/np.js';
import { fitRidgeReadout } from '../src/learn/reservoir.js';
import { SequenceRewardDevice } from '../src/learn/sequence-reward.js';
import { WpFloatDevice } from '../src/learn/wp.js';
import { FloatDevice } from '../src/model/float-device.js';
import { withZeroBiases, xavierNormal, type RnnShape } from '../src/model/rnn.js';
import { offsetDelaySet } from './bias-task.js';

const shape: RnnShape = { inputs: 1, hidden: 16, outputs: 1, activation: 'tanh' };
const train = offsetDelaySet(400, 4, 1), test = offsetDelaySet(400, 4, 2);

function config(bias: boolean, extra: Partial<DeviceConfig> = {}): DeviceConfig {
  return { topology: { ...shape, batch: 4, bias }, noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 }, seed: 5, maxChunkSteps: 64, ...extra };
}

async function device(bias: boolean, dev = new FloatDevice(), params?: Params, extra?: Partial<DeviceConfig>): Promise<FloatDevice> {
  await dev.configure(config(bias, extra));
  const p = params ?? xavierNormal(shape, 3);
  await dev.writeParams(bias && !p.b ? withZeroBiases(p, 16, 1) : p);
  return dev;
}

describe('float model biases', () => {
  it('zero biases give the bits of no biases (clean and noisy runs), on both engines', async () => {
    const off = await device(false, new FloatDevice({ engine: 'js' }));
    const req = { steps: 50, t0: 7, inputs: train.inputs.subarray(0, 50 * 4), noisy: true };
    const want = await off.run(req);
    for (const engine of ['js', 'wasm'] as const) {
      const on = await device(true, new FloatDevice({ engine }));
      expect(on.activeEngine()).toBe(engine);
      expect(await on.run(req)).toEqual(want);
    }
  });

  it.each(['none', 'activity', 'innovation'] as const)('the WASM engine (1 and 2 threads) trains b and c to the bits of the JS engine over 400 ANP-T steps, trace %s', async (trace) => {
    const B = 4, T = 400, learner = trace === 'none' ? undefined : { trace, decay: 0.8 };
    const p = withZeroBiases(xavierNormal(shape, 3), 16, 1);
    p.b!.fill(0.05);
    p.c![0] = -0.1;
    const lr = { w: 0.05, r: 0.02, v: 0.05 };
    const trainOn = async (opts: ConstructorParameters<typeof FloatDevice>[0]) => {
      const d = await device(true, new FloatDevice(opts), p, { learner });
      const outs: Float64Array[] = [];
      for (let t = 0; t < T; t += 10) {
        const r = await d.run({ steps: 10, t0: t, inputs: train.inputs.subarray(t * B, (t + 10) * B), noisy: true });
        outs.push(r.clean, r.noisy);
        const dL = new Float64Array(10).map((_, k) => (r.noisy[k * B] - r.clean[k * B]) * (r.clean[k * B] - train.targets[(t + k) * B]));
        await d.reward({ t0: t, deltaLoss: dL, lr });
      }
      const q = await d.readParams(), s = await d.readState();
      const engine = d.activeEngine(), threads = d.threads;
      await d.close();
      return { engine, threads, q, s, outs };
    };
    const js = await trainOn({ engine: 'js' });
    expect(Math.min(...js.q.b!.map((x) => Math.abs(x - 0.05)))).toBeGreaterThan(1e-6); // every b_i moved
    expect(Math.abs(js.q.c![0] + 0.1)).toBeGreaterThan(1e-3);
    if (learner) expect(js.s.eligibility!.b!.some((x) => x !== 0)).toBe(true);
    for (const threads of [1, 2] as const) {
      const w = await trainOn({ engine: 'wasm', threads });
      expect([w.engine, w.threads]).toEqual(['wasm', threads]);
      expect(w.q).toEqual(js.q); // w, r, v, b, c: the same bits
      expect(w.s).toEqual(js.s); // states and traces (e_b too)
      expect(w.outs).toEqual(js.outs);
    }
  }, 60_000);

  it('configure zeroes W, R, V, b and c on the WASM engine, also when a kept thread pool holds the last ones', async () => {
    for (const threads of [1, 2] as const) {
      const d = await device(true, new FloatDevice({ threads }), { ...xavierNormal(shape, 3), b: new Float64Array(16).fill(2), c: Float64Array.of(3) });
      await d.configure(config(true));
      const q = await d.readParams();
      expect([q.w, q.r, q.v, q.b, q.c].every((m) => m!.every((x) => x === 0))).toBe(true);
      await d.close();
    }
  });

  it('biases shift the pre-activations and outputs; writeParams checks b and c', async () => {
    const p = withZeroBiases(xavierNormal(shape, 3), 16, 1);
    p.c![0] = 0.25;
    const on = await device(true, new FloatDevice(), p), off = await device(false);
    const req = { steps: 5, t0: 0, inputs: train.inputs.subarray(0, 20), noisy: false };
    const a = await on.run(req), b = await off.run(req);
    for (let k = 0; k < 20; k++) expect(a.clean[k]).toBeCloseTo(b.clean[k] + 0.25, 12);
    await expect(on.writeParams(xavierNormal(shape, 3))).rejects.toThrow(/params\.b/);
    await expect(off.writeParams(p)).rejects.toThrow(/params\.b: this device is configured without biases/);
    await expect(on.configure({ ...config(true), topology: { ...config(true).topology, bias: 1 as unknown as boolean } })).rejects.toThrow(ConfigError);
  });

  it.each([['none', 0], ['activity', 0.5]] as const)('the bias update is the weight update of a constant input 1 (b against W[:, 1] of a 2-input net), trace %s', async (trace, decay) => {
    // net A: I = 1 with bias b; net B: I = 2, the second input constant 1, no bias, W[:, 1] = b.
    // N differs by one (sqrt(N) of the rule), so B's rate is scaled by sqrt(N_A / N_B).
    const H = 16, T = 200, B = 4;
    const pa = withZeroBiases(xavierNormal(shape, 3), H, 1);
    const shapeB = { ...shape, inputs: 2 };
    const w2 = new Float64Array(2 * H);
    for (let i = 0; i < H; i++) w2[2 * i] = pa.w[i];
    const a = await device(true, new FloatDevice(), pa, { learner: { trace, decay } });
    const bDev = new FloatDevice({ engine: 'js' });
    await bDev.configure({ ...config(false), topology: { ...shapeB, batch: B }, learner: { trace, decay } });
    await bDev.writeParams({ w: w2, r: pa.r, v: pa.v });
    const u2 = new Float64Array(T * B * 2);
    for (let q = 0; q < T * B; q++) { u2[2 * q] = train.inputs[q]; u2[2 * q + 1] = 1; }
    const s = Math.sqrt(18 / 19), lr = { w: 0.05, r: 0.05, v: 0 };
    for (let t = 0; t < T; t += 10) {
      const ra = await a.run({ steps: 10, t0: t, inputs: train.inputs.subarray(t * B, (t + 10) * B), noisy: true });
      await bDev.run({ steps: 10, t0: t, inputs: u2.subarray(t * B * 2, (t + 10) * B * 2), noisy: true });
      const dL = new Float64Array(10).map((_, k) => (ra.noisy[k * B] - ra.clean[k * B]) * 0.1);
      await a.reward({ t0: t, deltaLoss: dL, lr });
      await bDev.reward({ t0: t, deltaLoss: dL, lr: { w: lr.w * s, r: lr.r * s, v: 0 } });
    }
    const qa = await a.readParams(), qb = await bDev.readParams();
    let moved = 0;
    for (let i = 0; i < H; i++) {
      expect(qa.b![i]).toBeCloseTo(qb.w[2 * i + 1], 9);
      moved = Math.max(moved, Math.abs(qa.b![i]));
    }
    expect(moved).toBeGreaterThan(1e-3); // the bias did learn
    expect(qa.c![0]).toBe(0); // lr.v = 0
  });

  it('the output bias update is -lrV sqrt(N) dL sum_b dy_b / (B ||dy||^2), dy = noisy - clean output', async () => {
    const d = await device(true);
    const res = await d.run({ steps: 1, t0: 3, inputs: train.inputs.subarray(0, 4), noisy: true });
    const dy = res.noisy.map((x, q) => x - res.clean[q]);
    const sq = dy.reduce((s, x) => s + x * x, 0), sum = dy.reduce((s, x) => s + x, 0);
    await d.reward({ t0: 3, deltaLoss: Float64Array.of(2e-3), lr: { w: 0, r: 0, v: 0.1 } });
    const want = (-0.1 * Math.sqrt(1 + 16 + 1) * 2e-3 * sum) / (4 * sq);
    expect(Math.abs(want)).toBeGreaterThan(1e-3);
    expect((await d.readParams()).c![0]).toBeCloseTo(want, 12);
  });

  it('BPTT gradients of b and c match finite differences', () => {
    const p = withZeroBiases(xavierNormal(shape, 3), 16, 1);
    p.b!.fill(0.1);
    p.c![0] = -0.2;
    const T = 20, u = train.inputs.subarray(0, T * 4), y = train.targets.subarray(0, T * 4);
    const g = lossAndGradient(shape, p, 4, u, y, T).grad;
    const h = 1e-6;
    for (const [L, n] of [['b', 16], ['c', 1]] as const)
      for (let k = 0; k < n; k++) {
        const x = p[L]![k];
        p[L]![k] = x + h;
        const lp = lossAndGradient(shape, p, 4, u, y, T).loss;
        p[L]![k] = x - h;
        const lm = lossAndGradient(shape, p, 4, u, y, T).loss;
        p[L]![k] = x;
        expect(g[L]![k]).toBeCloseTo((lp - lm) / (2 * h), 6);
      }
  });

  it('the ridge readout fits an intercept on a device with biases', async () => {
    const on = await device(true), off = await device(false);
    const fOn = await fitRidgeReadout(on, train), fOff = await fitRidgeReadout(off, train);
    expect(fOn.c![0]).toBeGreaterThan(0.3); // the 0.5 offset, mostly
    expect(fOff.c).toBeUndefined();
    expect((await on.readParams()).c).toEqual(fOn.c);
    expect((await evaluate(on, test)).mse).toBeLessThan(0.5 * (await evaluate(off, test)).mse);
  });

  it('NP and WP learn the biases; the per-sequence device refuses them', async () => {
    for (const make of [() => new NpFloatDevice(), () => new WpFloatDevice()]) {
      const d = await device(true, make());
      await trainAnpt(d, train, { epochs: 2, lr: { w: 0.01, r: 0.01, v: 0.01 }, lrBatchScale: 'none' });
      const p = await d.readParams();
      expect(Math.abs(p.c![0])).toBeGreaterThan(1e-3);
      expect(p.b!.some((x) => x !== 0)).toBe(true);
    }
    await expect(device(true, new SequenceRewardDevice())).rejects.toThrow(/topology\.bias/);
  });

  it('offset task: ANP-T with biases beats no biases by a clear factor (seeded)', async () => {
    const opts = { epochs: 20, lr: { w: 0.03, r: 0.03, v: 0.03 }, schedule: { kind: 'cosine' as const }, test, lrBatchScale: 'none' as const };
    const on = await trainAnpt(await device(true), train, opts);
    const off = await trainAnpt(await device(false), train, opts);
    expect(on.status).toBe('ok');
    expect(off.status).toBe('ok');
    // measured 0.0747 (bias on) vs 0.325 (off); zero-output MSE 0.438
    expect(on.epochs.at(-1)!.testMse!).toBeLessThan(0.4 * off.epochs.at(-1)!.testMse!);
  });
});

import { describe, expect, it } from 'vitest';
import type { Params } from '../src/device/types.js';
import { ConfigError } from '../src/format/fixed.js';
import { capSpectralRadius, trainAnpt, type TrainProgress } from '../src/learn/anpt.js';
import { evaluateFloat, lossAndGradient, trainBptt } from '../src/learn/bptt.js';
import { gradientAlignment } from '../src/learn/diagnostics.js';
import { spectralRadius, WarmSpectralRadius } from '../src/linalg/spectral.js';
import { cosine } from '../src/linalg/vector.js';
import { evaluate, zeroOutputMse } from '../src/learn/evaluate.js';
import { NpFloatDevice } from '../src/learn/np.js';
import { choleskySolve, fitRidgeReadout } from '../src/learn/reservoir.js';
import { scheduleFactor } from '../src/learn/schedule.js';
import { WpFloatDevice } from '../src/learn/wp.js';
import { FloatDevice } from '../src/model/float-device.js';
import { key, unitNormal } from '../src/model/rng.js';
import { runSequence, xavierNormal, type RnnParams, type RnnShape } from '../src/model/rnn.js';
import type { SequenceSet } from '../src/tasks/types.js';

function randomArray(n: number, seed: number, scale = 1): Float64Array {
  const k = key(seed, 40, 0, 0);
  return new Float64Array(n).map((_, i) => scale * unitNormal(k, i));
}

/** Input: clipped Gaussian noise; target: 0.8 x the input two steps back (needs memory). */
function delaySet(T: number, B: number, seed: number): SequenceSet {
  const u = randomArray(T * B, seed, 0.6).map((x) => Math.max(-1, Math.min(1, x)));
  const y = new Float64Array(T * B);
  for (let t = 2; t < T; t++) for (let b = 0; b < B; b++) y[t * B + b] = 0.8 * u[(t - 2) * B + b];
  return { steps: T, batch: B, inputSize: 1, outputSize: 1, inputs: u, targets: y };
}

const LAYERS = ['w', 'r', 'v'] as const;

/** Central finite differences of the segment MSE, flattened W, R, V. */
function numericGradient(shape: RnnShape, p: RnnParams, B: number, u: Float64Array, y: Float64Array, T: number, s0: Float64Array): Params {
  const h = 1e-6;
  const loss = (q: RnnParams) => lossAndGradient(shape, q, B, u, y, T, { initialState: s0 }).loss;
  const g: Params = { w: new Float64Array(p.w.length), r: new Float64Array(p.r.length), v: new Float64Array(p.v.length) };
  for (const L of LAYERS)
    for (let k = 0; k < p[L].length; k++) {
      const x = p[L][k];
      p[L][k] = x + h;
      const lp = loss(p);
      p[L][k] = x - h;
      const lm = loss(p);
      p[L][k] = x;
      g[L][k] = (lp - lm) / (2 * h);
    }
  return g;
}

function relError(a: Params, b: Params): number {
  let d = 0, na = 0, nb = 0;
  for (const L of LAYERS)
    for (let k = 0; k < a[L].length; k++) {
      d += (a[L][k] - b[L][k]) ** 2;
      na += a[L][k] ** 2;
      nb += b[L][k] ** 2;
    }
  return Math.sqrt(d) / Math.max(Math.sqrt(na), Math.sqrt(nb));
}

describe('BPTT', () => {
  const shape: RnnShape = { inputs: 2, hidden: 4, outputs: 2, activation: 'tanh' };
  const B = 2, T = 6;
  const u = randomArray(T * B * 2, 1);
  const y = randomArray(T * B * 2, 2, 0.5);
  const s0 = randomArray(B * 4, 3, 0.3).map(Math.tanh);

  it('full-sequence gradient matches finite differences (rel. error < 1e-5)', () => {
    for (const act of ['tanh', 'linear'] as const) {
      const s = { ...shape, activation: act };
      const p: RnnParams = { ...xavierNormal(s, 5) };
      const g = lossAndGradient(s, p, B, u, y, T, { initialState: s0 }).grad;
      expect(relError(g, numericGradient(s, p, B, u, y, T, s0))).toBeLessThan(1e-5);
    }
    // with a (constant) decorrelation matrix D
    const pd: RnnParams = { ...xavierNormal(shape, 6), d: Float64Array.from({ length: 16 }, (_, q) => (q % 5 === 0 ? 1 : 0.1 * Math.sin(q))) };
    const gd = lossAndGradient(shape, pd, B, u, y, T, { initialState: s0 }).grad;
    expect(relError(gd, numericGradient(shape, pd, B, u, y, T, s0))).toBeLessThan(1e-5);
  });

  it('window k sums per-window exact gradients from the true states; window 1 = per-step detached gradient', () => {
    const p = xavierNormal(shape, 7);
    const states = runSequence(shape, p, B, u, 0, T, s0, true).states!;
    for (const k of [1, 2, 4]) {
      const g = lossAndGradient(shape, p, B, u, y, T, { window: k, initialState: s0 }).grad;
      const sum: Params = { w: new Float64Array(8), r: new Float64Array(16), v: new Float64Array(8) };
      for (let s = 0; s < T; s += k) {
        const len = Math.min(k, T - s);
        const part = lossAndGradient(shape, p, B, u, y, len, { initialState: states.slice(s * B * 4, (s + 1) * B * 4), inputOffset: s * B * 2, targetOffset: s * B * 2 }).grad;
        for (const L of LAYERS) for (let q = 0; q < sum[L].length; q++) sum[L][q] += (part[L][q] * len) / T; // per-window means -> segment mean
      }
      expect(relError(g, sum)).toBeLessThan(1e-12);
    }
    const full = lossAndGradient(shape, p, B, u, y, T, { initialState: s0 }).grad;
    expect(relError(lossAndGradient(shape, p, B, u, y, T, { window: T, initialState: s0 }).grad, full)).toBe(0);
  });

  it('TBPTT with Adam learns the delay task', () => {
    const s: RnnShape = { inputs: 1, hidden: 16, outputs: 1, activation: 'tanh' };
    const train = delaySet(400, 4, 11), test = delaySet(400, 4, 12);
    const res = trainBptt(s, xavierNormal(s, 3), train, { epochs: 10, lr: 0.01, window: 10, optimizer: { kind: 'adam' }, test });
    expect(res.epochs.at(-1)!.testMse!).toBeLessThan(0.1 * zeroOutputMse(test));
    expect(res.epochs.at(-1)!.testMse!).toBeLessThan(evaluateFloat(s, xavierNormal(s, 3), test).mse / 3); // 3x better than untrained
    expect(evaluateFloat(s, res.params, test).mse).toBe(res.epochs.at(-1)!.testMse);
  });
});

describe('diagnostics', () => {
  it('spectralRadius: diagonal, complex pair in a non-normal block, nilpotent, zero', () => {
    expect(spectralRadius(Float64Array.of(0.5, 0, 0, -0.9), 2)).toBeCloseTo(0.9, 6);
    // eigenvalues 0.6 ± 0.6i (|.| = 0.8485) and 0.5, with off-diagonal coupling
    const m = Float64Array.of(0.6, -0.6, 3, 0.6, 0.6, -2, 0, 0, 0.5);
    expect(spectralRadius(m, 3) / Math.hypot(0.6, 0.6)).toBeCloseTo(1, 2);
    expect(spectralRadius(Float64Array.of(0, 5, 0, 0), 2)).toBe(0);
    expect(spectralRadius(new Float64Array(9), 3)).toBe(0);
    // Rotation by 90 degrees scaled by 1.1: power iteration never converges, the growth rate does.
    expect(spectralRadius(Float64Array.of(0, -1.1, 1.1, 0), 2)).toBeCloseTo(1.1, 10);
  });

  it('WarmSpectralRadius: a cold first call, then 40 warm iterations track a slowly changing R within 1 %', () => {
    const n = 64;
    const r = new Float64Array(n * n);
    let u = 1;
    const rnd = () => ((u = (u * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 2 * Math.sqrt(3 / n);
    for (let k = 0; k < r.length; k++) r[k] = rnd();
    const warm = new WarmSpectralRadius();
    expect(Math.abs(warm.radius(r, n) / spectralRadius(r, n, { iterations: 4000 }) - 1)).toBeLessThan(0.01); // the cold first call
    for (let epoch = 0; epoch < 3; epoch++) {
      for (let k = 0; k < r.length; k++) r[k] = 1.05 * r[k] + 0.01 * rnd();
      const cold = spectralRadius(r, n, { iterations: 4000 });
      expect(Math.abs(warm.radius(r, n) / cold - 1)).toBeLessThan(0.01);
    }
  });

  it('capSpectralRadius rescales R only above the cap', () => {
    const r = Float64Array.of(0, -1.1, 1.1, 0);
    expect(capSpectralRadius(r, 2, 0.9)).toMatchObject({ rescaled: true });
    expect(spectralRadius(r, 2)).toBeCloseTo(0.9, 10);
    expect(capSpectralRadius(r, 2, 0.95)).toMatchObject({ rescaled: false });
  });

  it('the mean ANP-T update at one step has cosine > 0.9 with the window-1 gradient, per layer', async () => {
    const shape: RnnShape = { inputs: 3, hidden: 12, outputs: 2, activation: 'tanh' };
    const B = 4;
    const p = xavierNormal(shape, 7);
    const state = randomArray(B * 12, 8).map(Math.tanh);
    const a = await gradientAlignment(shape, p, B, state, randomArray(B * 3, 9), randomArray(B * 2, 10), 1, { samples: 4000, hiddenSigma: 1e-3 });
    for (const L of LAYERS) expect(a.window1[L]).toBeGreaterThan(0.9);
    // one step from a fixed state: window-1 and full BPTT are the same gradient
    expect(a.full.w).toBeCloseTo(a.window1.w, 12);
  });

  it('NP and WP updates also follow the gradient on average (same harness)', async () => {
    const shape: RnnShape = { inputs: 2, hidden: 6, outputs: 1, activation: 'tanh' };
    const B = 2, p = xavierNormal(shape, 3), state = randomArray(B * 6, 4).map(Math.tanh);
    for (const device of [new NpFloatDevice(), new WpFloatDevice()]) {
      const a = await gradientAlignment(shape, p, B, state, randomArray(B * 2, 5), randomArray(B, 6), 1, { samples: 3000, hiddenSigma: 1e-3, device });
      for (const L of LAYERS) expect(a.window1[L]).toBeGreaterThan(0.85);
    }
  });

  it('NP and WP with the unbiased scale (default) step by the gradient itself at lr 1; the reference scale is sigma (/ B for NP) times that', async () => {
    const shape: RnnShape = { inputs: 2, hidden: 6, outputs: 1, activation: 'tanh' };
    const B = 2, sigma = 1e-3, p = xavierNormal(shape, 3), state = randomArray(B * 6, 4).map(Math.tanh);
    const u = randomArray(B * 2, 5), y = randomArray(B, 6);
    const cases = [
      { make: (scale?: 'unbiased' | 'reference') => new NpFloatDevice({ scale }), ratio: sigma / B },
      { make: (scale?: 'unbiased' | 'reference') => new WpFloatDevice({ scale }), ratio: sigma },
    ];
    for (const c of cases) {
      const a = await gradientAlignment(shape, p, B, state, u, y, 1, { samples: 3000, hiddenSigma: sigma, device: c.make() });
      for (const L of LAYERS) {
        const g = a.gradWindow1[L], m = a.meanUpdate[L];
        let dot = 0, gg = 0;
        for (let q = 0; q < g.length; q++) { dot -= m[q] * g[q]; gg += g[q] * g[q]; }
        expect(dot / gg).toBeGreaterThan(0.8); // projection of the mean update on -grad, in gradient units
        expect(dot / gg).toBeLessThan(1.25);
      }
      const ref = await gradientAlignment(shape, p, B, state, u, y, 1, { samples: 50, hiddenSigma: sigma, device: c.make('reference') });
      const unb = await gradientAlignment(shape, p, B, state, u, y, 1, { samples: 50, hiddenSigma: sigma, device: c.make('unbiased') });
      for (const L of LAYERS)
        for (let q = 0; q < ref.meanUpdate[L].length; q++)
          expect(Math.abs(ref.meanUpdate[L][q] - c.ratio * unb.meanUpdate[L][q])).toBeLessThanOrEqual(1e-9 * Math.abs(c.ratio * unb.meanUpdate[L][q]) + 1e-300);
    }
    expect(() => new NpFloatDevice({ scale: 'bogus' as 'unbiased' })).toThrow(ConfigError);
  });

  it('cosine', () => {
    expect(cosine([1, 0], [0, 2])).toBe(0);
    expect(cosine([1, 1], [2, 2])).toBeCloseTo(1, 15);
    expect(cosine([0, 0], [1, 2])).toBe(0);
  });
});

describe('ANP-T trainer', () => {
  const shape: RnnShape = { inputs: 1, hidden: 16, outputs: 1, activation: 'tanh' };
  const train = delaySet(400, 4, 1), test = delaySet(400, 4, 2);

  async function floatDevice(maxChunkSteps = 64, dev = new FloatDevice()): Promise<FloatDevice> {
    await dev.configure({ topology: { ...shape, batch: 4 }, noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 }, seed: 5, maxChunkSteps });
    await dev.writeParams(xavierNormal(shape, 3));
    return dev;
  }

  it('learns the delay task online through FloatDevice, beyond what readout-only reaches (seeded)', async () => {
    const zero = zeroOutputMse(test);
    const dev = await floatDevice();
    const initial = (await evaluate(dev, test)).mse;
    // rates as the device gets them (tuned before the batch scale; B = 4 here)
    const res = await trainAnpt(dev, train, { epochs: 20, lr: { w: 0.3, r: 0.3, v: 0.3 }, schedule: { kind: 'cosine' }, test, lrBatchScale: 'none' });
    expect(res.status).toBe('ok');
    const final = res.epochs.at(-1)!.testMse!;
    expect(final).toBeLessThan(0.1 * zero); // measured 0.0107 vs zero-output 0.188
    expect(final).toBeLessThan(0.05 * initial);
    const ro = await trainAnpt(await floatDevice(), train, { epochs: 20, lr: { w: 0.3, r: 0.3, v: 0.3 }, schedule: { kind: 'cosine' }, test, readoutOnly: true, lrBatchScale: 'none' });
    expect(final).toBeLessThan(0.5 * ro.epochs.at(-1)!.testMse!); // readout only: ~0.049
    expect(res.nextT0).toBe(20 * 400);
  });

  it('chunked two-pass runs, reports progress, replays identically, and counts steps', async () => {
    const seen: TrainProgress[] = [];
    const opts = { epochs: 2, lr: { w: 0.02, r: 0.02, v: 0.02 }, chunkSteps: 25, t0: 1000, onProgress: (p: TrainProgress) => seen.push(p) };
    const a = await floatDevice();
    const ra = await trainAnpt(a, train, opts);
    expect(ra.status).toBe('ok');
    expect(ra.nextT0).toBe(1000 + 800);
    expect(seen.filter((p) => p.phase === 'chunk').length).toBe(2 * 16);
    expect(seen.filter((p) => p.phase === 'epoch').map((p) => p.stepsDone)).toEqual([400, 800]);
    expect(await a.stats()).toMatchObject({ steps: 800, updates: 800, rewardCalls: 32 });
    const b = await floatDevice();
    await trainAnpt(b, train, { ...opts, onProgress: undefined });
    expect(await b.readParams()).toEqual(await a.readParams());
    expect(ra.epochs[1].trainMse).toBeLessThan(ra.epochs[0].trainMse);
  });

  it('stabilisers: clip bounds the step, spectral control caps R, divergence is reported', async () => {
    const base = await floatDevice();
    const p0 = await base.readParams();
    const clipped = await floatDevice();
    await trainAnpt(clipped, train, { epochs: 1, lr: { w: 1, r: 1, v: 1 }, clip: { mode: 'clip', max: 1e-12 } });
    const moved = (await clipped.readParams()).v.reduce((s, x, k) => s + Math.abs(x - p0.v[k]), 0);
    expect(moved).toBeLessThan(1e-6);

    const quiet = await floatDevice();
    await trainAnpt(quiet, train, { epochs: 1, lr: { w: 1, r: 1, v: 1 }, normalise: { target: 1e-15 } });
    expect((await quiet.readParams()).v.reduce((s, x, k) => s + Math.abs(x - p0.v[k]), 0)).toBeLessThan(1e-6);

    const capped = await floatDevice();
    const res = await trainAnpt(capped, train, { epochs: 1, lr: { w: 0.1, r: 0.1, v: 0.1 }, spectral: { cap: 0.5, everySteps: 100 }, normalise: { warmupSteps: 20 } });
    expect(res.status).toBe('ok');
    expect(res.epochs[0].rescales).toBeGreaterThan(0);
    expect(spectralRadius((await capped.readParams()).r, 16)).toBeLessThan(0.52);

    const wild = await trainAnpt(await floatDevice(), train, { epochs: 1, lr: { w: 3, r: 3, v: 3 }, lrBatchScale: 'none' });
    expect(wild.status).toBe('diverged');
    expect(wild.message).toMatch(/lower the learning rates/);
    await expect(trainAnpt(base, train, { epochs: 0, lr: { w: 1, r: 1, v: 1 } })).rejects.toThrow(ConfigError);
    await expect(trainAnpt(base, train, { epochs: 1, lr: { w: 1, r: 1, v: 1 }, chunkSteps: 65 })).rejects.toThrow(/maxChunkSteps/);
  });

  it('NP and WP float devices plug into the same loop', async () => {
    for (const dev of [new NpFloatDevice(), new WpFloatDevice()]) {
      const d = await floatDevice(64, dev);
      // unbiased scale (default): lr is a gradient step; the single-sample estimate is noisy, so a small one
      const res = await trainAnpt(d, train, { epochs: 1, lr: { w: 1e-3, r: 1e-3, v: 1e-3 }, chunkSteps: 10, test });
      expect(res.status).toBe('ok');
      expect((await d.info()).name).toMatch(/NP|WP/);
    }
  });
});

describe('reservoir', () => {
  it('Cholesky solves an SPD system', () => {
    const a = Float64Array.of(4, 2, 0.5, 2, 3, 0.1, 0.5, 0.1, 2);
    const x = choleskySolve(a, 3, Float64Array.of(1, 2, 3, 4, 5, 6), 2);
    for (let i = 0; i < 3; i++)
      for (let c = 0; c < 2; c++) {
        let s = 0;
        for (let k = 0; k < 3; k++) s += a[i * 3 + k] * x[k * 2 + c];
        expect(s).toBeCloseTo(i * 2 + c + 1, 12);
      }
    expect(() => choleskySolve(Float64Array.of(1, 2, 2, 1), 2, Float64Array.of(1, 1), 1)).toThrow(ConfigError);
  });

  it('recovers a linear readout of the hidden states and fits the delay task', async () => {
    const shape: RnnShape = { inputs: 1, hidden: 20, outputs: 2, activation: 'tanh' };
    const p = xavierNormal(shape, 4);
    const u = randomArray(300 * 3, 21, 0.5);
    const targets = runSequence(shape, p, 3, u, 0, 300).outputs; // exactly V r̂
    const set: SequenceSet = { steps: 300, batch: 3, inputSize: 1, outputSize: 2, inputs: u, targets };
    const dev = new FloatDevice();
    await dev.configure({ topology: { ...shape, batch: 3 }, noise: { hiddenSigma: 0, outputSigma: 0 }, seed: 1, maxChunkSteps: 100 });
    await dev.writeParams({ ...p, v: new Float64Array(40) });
    const fit = await fitRidgeReadout(dev, set);
    expect(fit.lambda).toBeLessThanOrEqual(1e-6);
    expect(fit.trainMse).toBeLessThan(1e-8 * zeroOutputMse(set));
    expect((await evaluate(dev, set)).mse).toBeLessThan(1e-8 * zeroOutputMse(set));

    const s1: RnnShape = { inputs: 1, hidden: 16, outputs: 1, activation: 'tanh' };
    const d1 = new FloatDevice();
    await d1.configure({ topology: { ...s1, batch: 4 }, noise: { hiddenSigma: 0, outputSigma: 0 }, seed: 1, maxChunkSteps: 400 });
    await d1.writeParams(xavierNormal(s1, 3));
    const test = delaySet(400, 4, 2);
    const untrained = (await evaluate(d1, test)).mse;
    await fitRidgeReadout(d1, delaySet(400, 4, 1));
    const fitted = (await evaluate(d1, test)).mse;
    expect(fitted).toBeLessThan(0.5 * zeroOutputMse(test));
    expect(fitted).toBeLessThan(untrained / 3);
  });
});

describe('schedules', () => {
  it('constant, cosine, step', () => {
    expect(scheduleFactor({ kind: 'constant' }, 50, 100)).toBe(1);
    expect(scheduleFactor({ kind: 'cosine' }, 0, 100)).toBe(1);
    expect(scheduleFactor({ kind: 'cosine' }, 50, 100)).toBeCloseTo(0.5, 15);
    expect(scheduleFactor({ kind: 'cosine', final: 0.1 }, 100, 100)).toBeCloseTo(0.1, 15);
    expect(scheduleFactor({ kind: 'step', everySteps: 10, factor: 0.5 }, 25, 100)).toBe(0.25);
  });
});

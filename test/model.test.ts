import { describe, expect, it } from 'vitest';
import { DeviceError } from '../src/device/errors.js';
import type { DeviceConfig } from '../src/device/types.js';
import { ConfigError } from '../src/format/fixed.js';
import { FloatDevice } from '../src/model/float-device.js';
import { counterKey, mix64, unitGauss, unitNormal, STREAM_NOISE } from '../src/model/rng.js';
import { neuronCount, runSequence, step, xavierNormal, type RnnParams, type RnnShape } from '../src/model/rnn.js';

// BigInt reference of kernel.md's mix64 and key.
const M64 = (1n << 64n) - 1n;
function mixRef(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & M64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & M64;
  return z ^ (z >> 31n);
}
const keyRef = (seed: bigint, stream: bigint, a: bigint, b: bigint) => mixRef(mixRef(mixRef(seed ^ ((stream * 0x9e3779b97f4a7c15n) & M64)) ^ a) ^ b);
const toBig = (k: { hi: number; lo: number }) => (BigInt(k.hi) << 32n) | BigInt(k.lo);

function randomArray(n: number, seed: number, scale = 1): Float64Array {
  const key = counterKey(seed, 40, 0, 0);
  return new Float64Array(n).map((_, i) => scale * unitNormal(key, i));
}

const shape: RnnShape = { inputs: 2, hidden: 5, outputs: 2, activation: 'tanh' };
const B = 3;

function config(over: Partial<DeviceConfig> = {}): DeviceConfig {
  return {
    topology: { ...shape, batch: B },
    noise: { hiddenSigma: 0.01, outputSigma: 0.02 },
    seed: 42,
    maxChunkSteps: 16,
    ...over,
  };
}

async function device(over: Partial<DeviceConfig> = {}, params: RnnParams = xavierNormal(shape, 1)): Promise<FloatDevice> {
  const d = new FloatDevice();
  await d.configure(config(over));
  await d.writeParams(params);
  return d;
}

describe('rng', () => {
  it('mix64 and counterKey match the kernel (BigInt reference)', () => {
    for (const [hi, lo] of [[0, 0], [0xdeadbeef, 0x12345678], [0xffffffff, 0xffffffff], [1, 0]]) {
      expect(toBig(mix64({ hi, lo }))).toBe(mixRef((BigInt(hi) << 32n) | BigInt(lo)));
    }
    for (const [s, st, a, b] of [[0, 1, 0, 0], [42, 1, 3, 77], [0xffffffff, 6, 0, 0], [7, 33, 2, 0xfffffffe]]) {
      expect(toBig(counterKey(s, st, a, b))).toBe(keyRef(BigInt(s), BigInt(st), BigInt(a), BigInt(b)));
    }
  });

  it('unitGauss is the kernel Irwin-Hall(4) draw: unit variance, bounded', () => {
    const key = counterKey(1, STREAM_NOISE, 0, 5);
    const h = mix64({ hi: key.hi, lo: (key.lo ^ 9) >>> 0 });
    const fields = (h.lo & 0xffff) + (h.lo >>> 16) + (h.hi & 0xffff) + (h.hi >>> 16);
    expect(unitGauss(key, 9)).toBe((fields - 131070) / Math.sqrt((4 * (65536 * 65536 - 1)) / 12));
    let s = 0, s2 = 0, max = 0;
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const g = unitGauss(key, i);
      s += g;
      s2 += g * g;
      max = Math.max(max, Math.abs(g));
    }
    expect(Math.abs(s / n)).toBeLessThan(0.02);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.02);
    expect(max).toBeLessThanOrEqual(3.47);
  });

  it('unitNormal has normal moments', () => {
    const key = counterKey(2, 32, 0, 0);
    let s = 0, s2 = 0, s4 = 0;
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const g = unitNormal(key, i);
      s += g;
      s2 += g * g;
      s4 += g ** 4;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.02);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.02);
    expect(Math.abs(s4 / n - 3)).toBeLessThan(0.1);
  });
});

describe('rnn step', () => {
  it('computes a = Wu + Rr, r = act(a), r̂ = D r, y = V r̂ (hand example)', () => {
    const s: RnnShape = { inputs: 1, hidden: 2, outputs: 1, activation: 'hardtanh' };
    const p: RnnParams = { w: Float64Array.of(1, -2), r: Float64Array.of(0.5, 0, 0, 0.5), v: Float64Array.of(2, 3) };
    const out = step(s, p, 1, Float64Array.of(0.25), Float64Array.of(0.4, -0.2));
    expect([...out.a]).toEqual([0.25 + 0.2, -0.5 - 0.1]);
    expect([...out.r]).toEqual([0.45, -0.6]);
    expect(out.y[0]).toBeCloseTo(2 * 0.45 - 3 * 0.6, 15);
    const big = step(s, p, 1, Float64Array.of(2), Float64Array.of(0, 0));
    expect([...big.r]).toEqual([1, -1]);
    const withD = step(s, { ...p, d: Float64Array.of(1, 0.5, 0, 1) }, 1, Float64Array.of(0.25), Float64Array.of(0.4, -0.2));
    expect(withD.state[0]).toBeCloseTo(0.45 - 0.3, 15);
    expect(withD.y[0]).toBeCloseTo(2 * 0.15 - 3 * 0.6, 15);
  });

  it('runSequence equals repeated steps, batch entries independent', () => {
    const p = xavierNormal(shape, 3);
    const T = 6;
    const u = randomArray(T * B * 2, 4);
    const run = runSequence(shape, p, B, u, 0, T, undefined, true);
    let state: Float64Array = new Float64Array(B * 5);
    for (let t = 0; t < T; t++) {
      const o = step(shape, p, B, u.subarray(t * B * 2, (t + 1) * B * 2), state);
      expect([...o.y]).toEqual([...run.outputs.subarray(t * B * 2, (t + 1) * B * 2)]);
      state = o.state;
    }
    // sequence 1 alone gives the same outputs as inside the batch
    const u1 = new Float64Array(T * 2);
    for (let t = 0; t < T; t++) u1.set(u.subarray((t * B + 1) * 2, (t * B + 2) * 2), t * 2);
    const alone = runSequence(shape, p, 1, u1, 0, T);
    for (let t = 0; t < T; t++) expect(alone.outputs[t * 2]).toBeCloseTo(run.outputs[(t * B + 1) * 2], 14);
  });

  it('Xavier-normal init is seeded and has std sqrt(2/(fan_in+fan_out))', () => {
    const s: RnnShape = { inputs: 30, hidden: 200, outputs: 10, activation: 'tanh' };
    const a = xavierNormal(s, 7), b = xavierNormal(s, 7), c = xavierNormal(s, 8);
    expect(a.r).toEqual(b.r);
    expect(a.r).not.toEqual(c.r);
    const std = (m: Float64Array) => Math.sqrt(m.reduce((x, y) => x + y * y, 0) / m.length);
    expect(std(a.r) / Math.sqrt(2 / 400)).toBeCloseTo(1, 1);
    expect(std(a.w) / Math.sqrt(2 / 230)).toBeCloseTo(1, 1);
    expect(std(a.v) / Math.sqrt(2 / 210)).toBeCloseTo(1, 1);
  });
});

describe('FloatDevice', () => {
  it('reports kind float and refuses bad configurations naming the field', async () => {
    const d = new FloatDevice();
    expect((await d.info()).kind).toBe('float');
    expect((await d.info()).fixedPoint).toBe(false);
    const bad: [Partial<DeviceConfig>, string][] = [
      [{ topology: { ...shape, hidden: 0, batch: B } }, 'topology.hidden'],
      [{ topology: { ...shape, batch: 1.5 } }, 'topology.batch'],
      [{ topology: { ...shape, activation: 'relu' as never, batch: B } }, 'topology.activation'],
      [{ noise: { hiddenSigma: -1, outputSigma: 0 } }, 'noise.hiddenSigma'],
      [{ maxChunkSteps: 0 }, 'maxChunkSteps'],
      [{ seed: 2 ** 32 }, 'seed'],
    ];
    for (const [over, field] of bad) {
      const err = await d.configure(config(over)).catch((e) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).field).toBe(field);
    }
    expect(() => new FloatDevice({ decorrelationRate: -1 })).toThrow(ConfigError);
    await expect(d.run({ steps: 1, t0: 0, inputs: new Float64Array(6), noisy: true })).rejects.toThrow(DeviceError);
    const ok = await device();
    const p = xavierNormal(shape, 1);
    await expect(ok.writeParams({ ...p, r: new Float64Array(3) })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/params.r/) });
    await expect(ok.writeParams({ ...p, v: p.v.map((x, k) => (k === 2 ? NaN : x)) })).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/params.v\[2\]/) });
    await expect(ok.run({ steps: 17, t0: 0, inputs: new Float64Array(17 * B * 2), noisy: true })).rejects.toMatchObject({ code: 'TOO_LARGE' });
    await expect(ok.run({ steps: 1, t0: 0, inputs: new Float64Array(B * 2).fill(NaN), noisy: true })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect((await ok.readParams()).v).toEqual(p.v);
  });

  it('is deterministic and replays a chunk with the same noise (same t0, any chunking)', async () => {
    const u = randomArray(10 * B * 2, 5);
    const a = await device(), b = await device();
    const ra = await a.run({ steps: 10, t0: 100, inputs: u, noisy: true });
    const rb1 = await b.run({ steps: 4, t0: 100, inputs: u.subarray(0, 4 * B * 2), noisy: true });
    const rb2 = await b.run({ steps: 6, t0: 104, inputs: u.subarray(4 * B * 2), noisy: true });
    expect([...ra.noisy]).toEqual([...rb1.noisy, ...rb2.noisy]);
    expect([...ra.clean]).toEqual([...rb1.clean, ...rb2.clean]);
    // replay after a reset: same t0 -> same noise; other t0 -> other noise
    await a.resetState();
    const again = await a.run({ steps: 10, t0: 100, inputs: u, noisy: true });
    expect([...again.noisy]).toEqual([...ra.noisy]);
    await a.resetState();
    const other = await a.run({ steps: 10, t0: 200, inputs: u, noisy: true });
    expect([...other.clean]).toEqual([...ra.clean]);
    expect([...other.noisy]).not.toEqual([...ra.noisy]);
    // another seed -> other noise
    const c = await device({ seed: 43 });
    expect([...(await c.run({ steps: 10, t0: 100, inputs: u, noisy: true })).noisy]).not.toEqual([...ra.noisy]);
  });

  it('adds the kernel noise sigma * unitGauss(key(seed, 1, b, t), n) to hidden and output pre-activations', async () => {
    // zero weights and state: a = 0, so the noisy copy's first step shows the noise itself
    const zero: RnnParams = { w: new Float64Array(10), r: new Float64Array(25), v: new Float64Array(10) };
    const s: RnnShape = { ...shape, activation: 'linear' };
    const d = new FloatDevice();
    await d.configure({ ...config(), topology: { ...s, batch: B } });
    await d.writeParams(zero);
    const t = 1234;
    const res = await d.run({ steps: 1, t0: t, inputs: new Float64Array(B * 2), noisy: true });
    const st = await d.readState();
    for (let b = 0; b < B; b++) {
      const key = counterKey(42, STREAM_NOISE, b, t);
      for (let i = 0; i < 5; i++) expect(st.noisy[b * 5 + i]).toBe(0.01 * unitGauss(key, i));
      for (let o = 0; o < 2; o++) expect(res.noisy[b * 2 + o]).toBe(0.02 * unitGauss(key, 5 + o));
    }
    expect([...res.clean]).toEqual(new Array(B * 2).fill(0));
  });

  it('reward applies dW = -lr sqrt(N) dL (da/||da||^2) u^T / B, in step order', async () => {
    const p = xavierNormal(shape, 9);
    const d = await device({}, p);
    const state0 = randomArray(B * 5, 6, 0.5);
    await d.writeState({ clean: state0, noisy: state0 });
    const K = 2;
    const u = randomArray(K * B * 2, 7);
    const res = await d.run({ steps: K, t0: 50, inputs: u, noisy: true });
    const dL = Float64Array.of(0.3, -0.7);
    const lr = { w: 0.1, r: 0.2, v: 0.05 };
    await d.reward({ t0: 50, deltaLoss: dL, lr });
    const got = await d.readParams();

    // independent reconstruction from rnn.step and the noise definition
    const want = { w: p.w.slice(), r: p.r.slice(), v: p.v.slice() };
    const sqrtN = Math.sqrt(neuronCount(shape));
    let clean = state0, noisy = state0;
    for (let k = 0; k < K; k++) {
      const uk = u.subarray(k * B * 2, (k + 1) * B * 2);
      const xi = new Float64Array(B * 5), zeta = new Float64Array(B * 2);
      for (let b = 0; b < B; b++) {
        const key = counterKey(42, STREAM_NOISE, b, 50 + k);
        for (let i = 0; i < 5; i++) xi[b * 5 + i] = 0.01 * unitGauss(key, i);
        for (let o = 0; o < 2; o++) zeta[b * 2 + o] = 0.02 * unitGauss(key, 5 + o);
      }
      const c = step(shape, p, B, uk, clean);
      const n = step(shape, p, B, uk, noisy, { hiddenNoise: xi, outputNoise: zeta });
      expect([...n.y]).toEqual([...res.noisy.subarray(k * B * 2, (k + 1) * B * 2)]);
      const da = n.a.map((x, q) => x - c.a[q]);
      const dy = n.y.map((x, q) => x - c.y[q]);
      const sh = da.reduce((s, x) => s + x * x, 0), so = dy.reduce((s, x) => s + x * x, 0);
      for (let b = 0; b < B; b++) {
        for (let i = 0; i < 5; i++) {
          for (let j = 0; j < 2; j++) want.w[i * 2 + j] += (-lr.w * sqrtN * dL[k] * da[b * 5 + i] * uk[b * 2 + j]) / (sh * B);
          for (let j = 0; j < 5; j++) want.r[i * 5 + j] += (-lr.r * sqrtN * dL[k] * da[b * 5 + i] * clean[b * 5 + j]) / (sh * B);
        }
        for (let o = 0; o < 2; o++)
          for (let j = 0; j < 5; j++) want.v[o * 5 + j] += (-lr.v * sqrtN * dL[k] * dy[b * 2 + o] * c.state[b * 5 + j]) / (so * B);
      }
      clean = c.state;
      noisy = n.state;
    }
    for (const L of ['w', 'r', 'v'] as const) for (let q = 0; q < want[L].length; q++) expect(got[L][q]).toBeCloseTo(want[L][q], 13);
    const st = await d.stats();
    expect(st).toMatchObject({ steps: K, updates: K, runCalls: 1, rewardCalls: 1 });
  });

  it('skips a layer whose ||da||^2 is 0 and refuses misplaced rewards', async () => {
    const p = xavierNormal(shape, 2);
    const d = await device({ noise: { hiddenSigma: 0, outputSigma: 0.01 } }, p);
    const u = randomArray(B * 2, 8);
    await expect(d.reward({ t0: 0, deltaLoss: Float64Array.of(1), lr: { w: 1, r: 1, v: 1 } })).rejects.toMatchObject({ code: 'NO_PENDING_CHUNK' });
    await d.run({ steps: 1, t0: 7, inputs: u, noisy: true });
    await expect(d.reward({ t0: 8, deltaLoss: Float64Array.of(1), lr: { w: 1, r: 1, v: 1 } })).rejects.toMatchObject({ code: 'NO_PENDING_CHUNK' });
    await expect(d.reward({ t0: 7, deltaLoss: Float64Array.of(1, 2), lr: { w: 1, r: 1, v: 1 } })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(d.reward({ t0: 7, deltaLoss: Float64Array.of(NaN), lr: { w: 1, r: 1, v: 1 } })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await d.reward({ t0: 7, deltaLoss: Float64Array.of(1), lr: { w: 1, r: 1, v: 1 } });
    const q = await d.readParams();
    expect(q.w).toEqual(p.w); // no hidden noise: W and R skipped
    expect(q.r).toEqual(p.r);
    expect(q.v).not.toEqual(p.v);
    await expect(d.reward({ t0: 7, deltaLoss: Float64Array.of(1), lr: { w: 1, r: 1, v: 1 } })).rejects.toMatchObject({ code: 'NO_PENDING_CHUNK' });
  });

  it('a clean-only run leaves the noisy state and cancels the pending reward', async () => {
    const d = await device();
    const u = randomArray(B * 2, 9);
    await d.run({ steps: 1, t0: 0, inputs: u, noisy: true });
    const before = await d.readState();
    const r = await d.run({ steps: 1, t0: 1, inputs: u, noisy: false, hiddenTrace: true });
    expect(r.noisy.length).toBe(0);
    expect(r.hidden?.length).toBe(B * 5);
    const after = await d.readState();
    expect(after.noisy).toEqual(before.noisy);
    expect([...r.hidden!]).toEqual([...after.clean]);
    await expect(d.reward({ t0: 1, deltaLoss: Float64Array.of(1), lr: { w: 1, r: 1, v: 1 } })).rejects.toThrow(DeviceError);
  });

  it('applies mismatch (gain, offset) to both copies', async () => {
    const u = randomArray(4 * B * 2, 10);
    const plain = await device({ noise: { hiddenSigma: 0, outputSigma: 0 } });
    const mm = await device({ noise: { hiddenSigma: 0, outputSigma: 0 }, mismatch: { gainSpread: 0.1, offsetSpread: 0.05, seed: 3 } });
    const a = await plain.run({ steps: 4, t0: 0, inputs: u, noisy: true });
    const b = await mm.run({ steps: 4, t0: 0, inputs: u, noisy: true });
    expect([...b.clean]).not.toEqual([...a.clean]);
    expect([...b.noisy]).toEqual([...b.clean]);
  });

  it('decorrelation: D <- D - rate offdiag(mean_b r̂ r̂^T) D per rewarded step', async () => {
    const rate = 0.05;
    const d = new FloatDevice({ decorrelationRate: rate });
    await d.configure(config());
    await d.writeParams(xavierNormal(shape, 4));
    const u = randomArray(B * 2, 11);
    const res = await d.run({ steps: 1, t0: 0, inputs: u, noisy: false, hiddenTrace: true });
    expect(d.readDecorrelation()).toEqual(Float64Array.from({ length: 25 }, (_, q) => (q % 6 === 0 ? 1 : 0)));
    await d.resetState();
    await d.run({ steps: 1, t0: 0, inputs: u, noisy: true });
    await d.reward({ t0: 0, deltaLoss: Float64Array.of(0), lr: { w: 0, r: 0, v: 0 } });
    const r = res.hidden!; // D = I at that step, so r̂ = r
    const want = new Float64Array(25);
    for (let i = 0; i < 5; i++)
      for (let j = 0; j < 5; j++) {
        let c = 0;
        if (i !== j) for (let b = 0; b < B; b++) c += (r[b * 5 + i] * r[b * 5 + j]) / B;
        want[i * 5 + j] = (i === j ? 1 : 0) - rate * c; // C D with D = I
      }
    const got = d.readDecorrelation()!;
    for (let q = 0; q < 25; q++) expect(got[q]).toBeCloseTo(want[q], 14);
  });
});

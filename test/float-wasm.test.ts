// The float model's two engines (src/model/float-wasm.ts, assembly/float/) give the same
// bits: WASM vs the TypeScript loops on tanh, hardtanh and linear, traces off and on,
// mismatch, biases, B = 1, 3 and 10, the NP rule, chunked and online; and the WASM tanh is
// Math.tanh bit for bit.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/format/fixed.js';
import { NpFloatDevice } from '../src/learn/np.js';
import { WpFloatDevice } from '../src/learn/wp.js';
import { FloatDevice, type FloatEngine } from '../src/model/float-device.js';
import { wasmTanh } from '../src/model/float-wasm.js';
import { key, unitNormal } from '../src/model/rng.js';

import { differences, trainRun, type Case } from './float-train-run.js';

describe('float model, WASM engine', () => {
  it('tanh is Math.tanh bit for bit (edges, both of its paths, 400k values)', () => {
    const k = key(3, 40, 0, 0);
    const f = new Float64Array(1), u = new BigUint64Array(f.buffer);
    const xs: number[] = [0, -0, 1, -1, 6.5, -6.5, 22, -22, 2 ** -28, -(2 ** -28), 2 ** -30, 5e-324, Infinity, -Infinity, NaN, 0.5 * Math.LN2, 1.5 * Math.LN2, 1e300];
    for (let e = -30; e <= 5; e++) for (let i = 0; i < 5000; i++) xs.push(2 ** e * (1 + Math.abs(unitNormal(k, e * 10000 + i))) * (i & 1 ? -1 : 1));
    for (let i = 0; i < 200000; i++) xs.push(4 * unitNormal(k, 1e6 + i));
    for (const hi of [0x3fd62e42, 0x3fd62e43, 0x3ff0a2b1, 0x3ff0a2b2, 0x3fefffff, 0x3ff00000, 0x40360000, 0x3e300000, 0x401a0000])
      for (let i = 0; i < 2000; i++) { u[0] = (BigInt(hi) << 32n) | BigInt((unitNormal(k, 2e6 + i) * 1e9) >>> 0); xs.push(i & 1 ? -f[0] : f[0]); }
    const x = Float64Array.from(xs);
    const got = wasmTanh(x);
    let bad = 0;
    x.forEach((v, i) => { if (!Object.is(got[i], Math.tanh(v))) bad++; });
    expect(bad).toBe(0);
  });

  it('tanh is Math.tanh bit for bit where every value of a block is in [2^-28, 1) (the |x| < 1 path), and with one value outside', () => {
    const k = key(5, 41, 0, 0);
    const f = new Float64Array(1), u = new BigUint64Array(f.buffer);
    const xs: number[] = [];
    // 2|x| at the edges of expm1's k = 0 and k = -1 ranges (hi words 0x3fd62e42/3, 0x3ff0a2b1/2), near 1 and near 2^-28
    for (const hi of [0x3fc62e42, 0x3fc62e43, 0x3fe0a2b1, 0x3fe0a2b2, 0x3fefffff, 0x3e300000, 0x3e300001])
      for (let i = 0; i < 4000; i++) { u[0] = (BigInt(hi) << 32n) | BigInt((unitNormal(k, 3e6 + i) * 1e9) >>> 0); xs.push(i & 1 ? -f[0] : f[0]); }
    for (let i = 0; i < 100000; i++) xs.push(Math.tanh(unitNormal(k, 4e6 + i)) * 0.999 + 1e-8);
    const x = Float64Array.from(xs);
    const check = (v: Float64Array): number => { const got = wasmTanh(v); let bad = 0; v.forEach((y, i) => { if (!Object.is(got[i], Math.tanh(y))) bad++; }); return bad; };
    expect(check(x)).toBe(0);
    for (const at of [0, 63, 64, 1000]) for (const v of [1, -1, 2 ** -29, 0, NaN, 7]) { const y = x.slice(0, 1100); y[at] = v; expect(check(y)).toBe(0); }
  });

  const cases: Case[] = [];
  for (const activation of ['tanh', 'hardtanh', 'linear'] as const)
    for (const trace of ['none', 'activity', 'innovation'] as const) {
      cases.push({ I: 1, H: 24, O: 1, B: 10, activation, trace, K: 5 });
      cases.push({ I: 3, H: 7, O: 2, B: 1, activation, trace, K: 4, mismatch: true });
    }
  cases.push({ I: 2, H: 13, O: 3, B: 3, activation: 'tanh', trace: 'innovation', K: 6, mismatch: true });
  cases.push({ I: 1, H: 100, O: 1, B: 10, activation: 'tanh', trace: 'none', K: 3 }); // the Mackey-Glass shape
  cases.push({ I: 1, H: 13, O: 1, B: 10, activation: 'tanh', trace: 'none', K: 4 }); // the update's edges: rows and columns not multiples of 4 or 8
  for (const trace of ['none', 'activity', 'innovation'] as const) { // biases (b, c and the trace of b)
    cases.push({ I: 1, H: 24, O: 1, B: 10, activation: 'tanh', trace, K: 5, bias: true });
    cases.push({ I: 3, H: 7, O: 2, B: 3, activation: 'hardtanh', trace, K: 4, mismatch: true, bias: true });
  }
  cases.push({ I: 1, H: 13, O: 3, B: 1, activation: 'linear', trace: 'none', K: 4, bias: true });
  cases.push({ I: 2, H: 9, O: 2, B: 10, activation: 'tanh', trace: 'none', K: 5, np: true });
  cases.push({ I: 2, H: 9, O: 2, B: 10, activation: 'tanh', trace: 'activity', K: 5, np: true, bias: true });
  cases.push({ I: 1, H: 6, O: 1, B: 1, activation: 'hardtanh', trace: 'none', K: 5, np: true });

  it.each(cases)('same bits as the TypeScript loops: %j', async (c) => {
    const js = await trainRun('js', c);
    const wasm = await trainRun('wasm', c);
    expect(differences(js, wasm)).toBe(0);
  });

  it('same bits when a noisy chunk grows its memory and a clean chunk runs in pieces', async () => {
    // H 400, B 20: the kernel starts with room for 32 steps (8 MiB), so K = 40 grows it (noisy) or splits it (clean)
    const c: Case = { I: 1, H: 400, O: 1, B: 20, activation: 'tanh', trace: 'activity', K: 40, maxChunkSteps: 40 };
    expect(differences(await trainRun('js', c), await trainRun('wasm', c))).toBe(0);
  }, 60_000);

  it('runs the TypeScript loops where it cannot help: decorrelation, weight perturbation, engine js', async () => {
    const topology = { inputs: 1, hidden: 4, outputs: 1, batch: 2, activation: 'tanh' as const };
    const cfg = { topology, noise: { hiddenSigma: 0.01, outputSigma: 0.01 }, seed: 1, maxChunkSteps: 8 };
    for (const [dev, engine] of [[new FloatDevice(), 'wasm'], [new FloatDevice({ decorrelationRate: 0.01 }), 'js'], [new WpFloatDevice(), 'js'], [new NpFloatDevice(), 'wasm'], [new FloatDevice({ engine: 'js' }), 'js']] as const) {
      await dev.configure(cfg);
      expect(dev.activeEngine()).toBe(engine);
    }
    expect(() => new FloatDevice({ engine: 'gpu' as FloatEngine })).toThrow(ConfigError);
    expect(() => new FloatDevice({ engine: 'gpu' as FloatEngine })).toThrow(/engine/);
  });
});

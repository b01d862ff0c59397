/**
 * Biases on the chip (issue 11; docs/kernel.md, "Biases"): the golden vectors with
 * biases on every build, zero biases = no biases bit for bit, the float model within
 * LSBs, the update's direction, and the offset task learnt.
 */
import { describe, expect, it } from 'vitest';
import { replayGoldenFolder } from './golden-builds.js';
import { defaultChipFormats } from '../src/device/config.js';
import { EmulatorDevice, layoutEstimate } from '../src/device/emulator.js';
import type { DeviceConfig, Params } from '../src/device/types.js';
import { trainAnpt } from '../src/learn/anpt.js';
import { cosine } from '../src/linalg/vector.js';
import { FloatDevice } from '../src/model/float-device.js';
import { withZeroBiases, xavierNormal } from '../src/model/rnn.js';
import { offsetDelaySet } from './bias-task.js';

const DIR = 'test/golden/bias';

describe('golden vectors with biases (test/golden/bias)', () => {
  replayGoldenFolder(DIR, '');
});

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 2;
}

const I = 2, H = 24, O = 2, B = 3, K = 20;
const chipConfig = (bias: boolean, extra: Partial<DeviceConfig> = {}): DeviceConfig => ({
  topology: { inputs: I, hidden: H, outputs: O, batch: B, activation: 'tanh', bias },
  formats: defaultChipFormats({ weightBits: 16 }),
  noise: { hiddenSigma: 2e-3, outputSigma: 2e-3 },
  seed: 7,
  maxChunkSteps: K,
  ...extra,
});

describe('chip biases', () => {
  it('zero biases give the bits of no biases (a chunk and the weights after its update, SIMD and scalar, stochastic rounding, mismatch)', async () => {
    for (const flavour of ['simd', 'scalar'] as const)
      for (const extra of [{}, { formats: defaultChipFormats({ weightBits: 8 }), mismatch: { gainSpread: 0.05, offsetSpread: 0.01, seed: 3 } }]) {
        const out: unknown[] = [];
        for (const bias of [false, true]) {
          const d = new EmulatorDevice({ flavour });
          await d.configure(chipConfig(bias, extra));
          const p = xavierNormal({ inputs: I, hidden: H, outputs: O, activation: 'tanh' }, 3);
          await d.writeParams(bias ? withZeroBiases(p, H, O) : p);
          const r = lcg(5), seen: unknown[] = [];
          // one chunk and its reward: after it the biases have learnt and the runs part
          const res = await d.run({ steps: K, t0: 40, inputs: Float64Array.from({ length: K * B * I }, r), noisy: true });
          seen.push(res.clean, res.noisy);
          await d.reward({ t0: 40, deltaLoss: Float64Array.from({ length: K }, () => r() * 1e-3), lr: { w: 0.3, r: 0.3, v: 0.3 } });
          const q = await d.readParams();
          seen.push(q.w, q.r, q.v);
          out.push(seen);
          if (bias) expect(q.b!.some((x) => x !== 0) || q.c!.some((x) => x !== 0)).toBe(true); // the biases did learn
        }
        expect(out[1]).toEqual(out[0]);
      }
  });

  it('the float model with the same biases: outputs within a few LSB, the same update direction of b and c', async () => {
    const r = lcg(9);
    const emu = new EmulatorDevice();
    await emu.configure(chipConfig(true));
    const p: Params = withZeroBiases(xavierNormal({ inputs: I, hidden: H, outputs: O, activation: 'tanh' }, 3), H, O);
    p.b = Float64Array.from({ length: H }, () => r() * 0.5);
    p.c = Float64Array.from({ length: O }, () => r() * 0.5);
    await emu.writeParams(p);
    const p0 = await emu.readParams(); // on the chip's grid
    const flt = new FloatDevice();
    await flt.configure(chipConfig(true));
    await flt.writeParams(p0);
    const inputs = Float64Array.from({ length: K * B * I }, () => Math.round(r() * 2 ** 13) / 2 ** 13);
    const a = await emu.run({ steps: K, t0: 100, inputs, noisy: true });
    const b = await flt.run({ steps: K, t0: 100, inputs, noisy: true });
    const lsb = 2 ** -12;
    let worst = 0, shift = 0;
    for (let n = 0; n < a.clean.length; n++) {
      worst = Math.max(worst, Math.abs(a.clean[n] - b.clean[n]) / lsb, Math.abs(a.noisy[n] - b.noisy[n]) / lsb);
      shift = Math.max(shift, Math.abs(p0.c![n % O]) / lsb);
    }
    expect(worst).toBeLessThanOrEqual(8); // measured 3.05 LSB (float-vs-emulator.test.ts without biases: 3.3 clean, 8 noisy allowed)
    expect(shift).toBeGreaterThan(500); // the biases are large against that
    const dL = Float64Array.from({ length: K }, (_, k) => ((k % 3) - 1) * 1e-4);
    await emu.reward({ t0: 100, deltaLoss: dL, lr: { w: 0.5, r: 0.5, v: 0.5 } });
    await flt.reward({ t0: 100, deltaLoss: dL, lr: { w: 0.5, r: 0.5, v: 0.5 } });
    const qa = await emu.readParams(), qb = await flt.readParams();
    for (const L of ['b', 'c'] as const) {
      const da = qa[L]!.map((x, k) => x - p0[L]![k]), db = qb[L]!.map((x, k) => x - p0[L]![k]);
      expect(cosine(da, db)).toBeGreaterThan(0.95); // measured b 0.996, c 0.992
      const norm = (x: Float64Array) => Math.hypot(...x);
      expect(norm(da) / norm(db)).toBeGreaterThan(0.8); // the same size too: measured b 0.954, c 1.017
      expect(norm(da) / norm(db)).toBeLessThan(1.25);
    }
  });

  it('bias codes saturate at the format: b in the pre-activation format, c in the output format', async () => {
    const d = new EmulatorDevice();
    await d.configure(chipConfig(true));
    const p = withZeroBiases(xavierNormal({ inputs: I, hidden: H, outputs: O, activation: 'tanh' }, 3), H, O);
    p.b!.fill(100);
    p.c!.fill(-100);
    await d.writeParams(p);
    const q = await d.readParams();
    expect(q.b![0]).toBe(8 - 2 ** -12); // Q3.12 max
    expect(q.c![0]).toBe(-8);
    await expect(d.writeParams(xavierNormal({ inputs: I, hidden: H, outputs: O, activation: 'tanh' }, 3))).rejects.toThrow(/params\.b/);
    expect(layoutEstimate(I, H, O, B, K, true) - layoutEstimate(I, H, O, B, K)).toBe(48 + 16); // H and O int16, 16-byte aligned
  });

  it('offset task on the 16-bit chip: ANP-T with biases beats no biases by a clear factor (seeded)', async () => {
    const train = offsetDelaySet(400, 4, 1), test = offsetDelaySet(400, 4, 2);
    const shape = { inputs: 1, hidden: 16, outputs: 1, activation: 'tanh' as const };
    const mse = async (bias: boolean) => {
      const d = new EmulatorDevice();
      await d.configure({ topology: { ...shape, batch: 4, bias }, formats: defaultChipFormats(), noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 }, seed: 5, maxChunkSteps: 64 });
      const p = xavierNormal(shape, 3);
      await d.writeParams(bias ? withZeroBiases(p, 16, 1) : p);
      const res = await trainAnpt(d, train, { epochs: 20, lr: { w: 0.03, r: 0.03, v: 0.03 }, schedule: { kind: 'cosine' }, test, lrBatchScale: 'none' });
      expect(res.status).toBe('ok');
      return res.epochs.at(-1)!.testMse!;
    };
    const on = await mse(true), off = await mse(false);
    expect(on).toBeLessThan(0.4 * off); // measured 0.0761 vs 0.326 (scripts/bias-offset.ts --chip)
  });
});

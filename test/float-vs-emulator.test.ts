// The float reference model and the 16-bit chip mirror each other: the same weights,
// inputs and seed give outputs a few LSB apart (the chip rounds; both draw the noise
// from the same counter-based stream), and the same rewards give the same update up
// to the chip's rounding of it.
import { describe, expect, it } from 'vitest';
import { EmulatorDevice } from '../src/device/emulator.js';
import { defaultChipFormats } from '../src/device/config.js';
import { FloatDevice } from '../src/model/float-device.js';
import { xavierNormal } from '../src/model/rnn.js';
import { cosine } from '../src/linalg/vector.js';
import type { Device, DeviceConfig } from '../src/device/types.js';

const I = 2, H = 24, O = 2, B = 3, K = 20;
const config: DeviceConfig = {
  topology: { inputs: I, hidden: H, outputs: O, batch: B, activation: 'tanh' },
  formats: defaultChipFormats({ weightBits: 16 }),
  noise: { hiddenSigma: 2e-3, outputSigma: 2e-3 },
  seed: 7,
  maxChunkSteps: K,
};

async function setUp(dev: Device, weights: Awaited<ReturnType<Device['readParams']>>): Promise<void> {
  await dev.configure(config);
  await dev.writeParams(weights);
}

describe('float model vs 16-bit emulator', () => {
  it('same outputs within a few LSB, same update direction', async () => {
    const emu = new EmulatorDevice();
    await emu.configure(config);
    await emu.writeParams(xavierNormal(config.topology, 3));
    const w0 = await emu.readParams(); // on the chip's grid, so both start from the same numbers
    const flt = new FloatDevice();
    await setUp(flt, w0);
    let s = 11;
    const inputs = Float64Array.from({ length: K * B * I }, () => (((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5) * 2);
    const quantised = inputs.map((x) => Math.round(x * 2 ** 13) / 2 ** 13); // the chip's input grid
    const a = await emu.run({ steps: K, t0: 100, inputs: quantised, noisy: true });
    const b = await flt.run({ steps: K, t0: 100, inputs: quantised, noisy: true });
    const lsb = 2 ** -config.formats!.output.frac;
    let worstClean = 0, worstNoisy = 0;
    for (let n = 0; n < a.clean.length; n++) {
      worstClean = Math.max(worstClean, Math.abs(a.clean[n] - b.clean[n]) / lsb);
      worstNoisy = Math.max(worstNoisy, Math.abs(a.noisy[n] - b.noisy[n]) / lsb);
    }
    expect(worstClean).toBeLessThanOrEqual(4); // measured 3.3 (R near the edge of chaos amplifies the rounding)
    expect(worstNoisy).toBeLessThanOrEqual(8);
    const dL = Float64Array.from({ length: K }, (_, k) => ((k % 3) - 1) * 1e-4);
    const lr = { w: 0.5, r: 0.5, v: 0.5 };
    await emu.reward({ t0: 100, deltaLoss: dL, lr });
    await flt.reward({ t0: 100, deltaLoss: dL, lr });
    const pa = await emu.readParams();
    const pb = await flt.readParams();
    for (const L of ['w', 'r', 'v'] as const) {
      const da = pa[L].map((x, k) => x - w0[L][k]);
      const db = pb[L].map((x, k) => x - w0[L][k]);
      // measured 0.98-1.00: the chip measures da in whole LSBs and rounds each step's change
      expect(cosine(da, db)).toBeGreaterThan(0.95);
    }
  });
});

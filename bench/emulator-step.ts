/**
 * Emulator training-step throughput: one online ANP-T step = run 1 step of both
 * copies for B sequences + reward (the device applies the update).
 * Returns steps/s and GMAC/s with the MAC count of bench/c/step.c.
 */
import { EmulatorDevice } from '../src/device/emulator.js';
import { defaultChipFormats } from '../src/device/config.js';
import type { KernelFlavour } from '../src/device/wasm.js';

export interface StepBench { H: number; B: number; stepsPerSecond: number; gmacPerSecond: number }

/** MACs per training step: forward B*(H*I + 2*H*H + 2*O*H), update B*(H*I + H*H + O*H). */
export function macsPerStep(I: number, H: number, O: number, B: number): number {
  return B * (H * I + 2 * H * H + 2 * O * H) + B * (H * I + H * H + O * H);
}

export async function benchEmulatorStep(H: number, B: number, seconds: number, flavour: KernelFlavour = 'simd', chunk = 1): Promise<StepBench> {
  const I = 1, O = 1;
  const dev = new EmulatorDevice({ flavour });
  await dev.configure({
    topology: { inputs: I, hidden: H, outputs: O, batch: B, activation: 'tanh' },
    formats: defaultChipFormats({ weightBits: 16 }),
    noise: { hiddenSigma: 4 / 4096, outputSigma: 4 / 4096 },
    seed: 1,
    maxChunkSteps: chunk,
  });
  let s = 7;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5);
  await dev.writeParams({
    w: Float64Array.from({ length: H * I }, () => rnd()),
    r: Float64Array.from({ length: H * H }, () => (rnd() * 1.8) / Math.sqrt(H)),
    v: Float64Array.from({ length: O * H }, () => rnd() / Math.sqrt(H)),
  });
  const inputs = Float64Array.from({ length: chunk * B * I }, () => rnd());
  const dL = Float64Array.from({ length: chunk }, () => rnd() * 1e-5);
  const lr = { w: 0.1, r: 0.1, v: 0.1 };
  let t = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < seconds * 1000) {
    for (let rep = 0; rep < 50; rep++) {
      await dev.run({ steps: chunk, t0: t, inputs, noisy: true });
      await dev.reward({ t0: t, deltaLoss: dL, lr });
      t += chunk;
    }
    elapsed = performance.now() - start;
  }
  const stepsPerSecond = t / (elapsed / 1000);
  return { H, B, stepsPerSecond, gmacPerSecond: (stepsPerSecond * macsPerStep(I, H, O, B)) / 1e9 };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const H of [100, 500, 1000])
    for (const B of [1, 10]) {
      const r = await benchEmulatorStep(H, B, 1);
      console.log(JSON.stringify(r));
    }
}

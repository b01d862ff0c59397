/**
 * Cost of the per-epoch spectral-radius diagnostic against the epoch it follows, at
 * hidden H: the cold estimate (the first epoch's: burn-in + 400 iterations) and the
 * warm-started one (every later epoch: 40 iterations from the previous vector), timed
 * on an R of the emulator's initial scale; the epoch is 5000 train + 5000 test steps
 * of the Mackey-Glass default batch, its time from the emulator's online steps/s
 * measured here at that size (a full epoch at H = 4096 takes minutes).
 */
import { WarmSpectralRadius } from '../src/linalg/spectral.js';
import { xavierNormal } from '../src/model/rnn.js';
import { mgEmulator } from './mg-emulator.js';

export interface SpectralRow { H: number; B: number; coldSeconds: number; warmSeconds: number; epochSeconds: number; warmShare: number; coldShare: number }

async function epochSeconds(H: number, B: number, steps: number): Promise<number> {
  const dev = await mgEmulator(H, B);
  const x = new Float64Array(B).fill(0.1);
  const lr = { w: 0.1, r: 0.1, v: 0.1 };
  const time = async (noisy: boolean) => {
    const a = performance.now();
    for (let t = 0; t < steps; t++) {
      await dev.run({ steps: 1, t0: t, inputs: x, noisy });
      if (noisy) await dev.reward({ t0: t, deltaLoss: Float64Array.of(1e-3), lr });
    }
    return (performance.now() - a) / 1000 / steps;
  };
  await time(true);
  const train = await time(true), test = await time(false);
  return 5000 * train + 5000 * test;
}

export async function benchSpectral(sizes = [1024, 4096], B = 10, steps = 5): Promise<SpectralRow[]> {
  const rows: SpectralRow[] = [];
  for (const H of sizes) {
    const r = xavierNormal({ inputs: 1, hidden: H, outputs: 1, activation: 'tanh' }, 7).r;
    let a = performance.now();
    const warm = new WarmSpectralRadius();
    warm.radius(r, H);
    const coldSeconds = (performance.now() - a) / 1000;
    for (let k = 0; k < r.length; k++) r[k] *= 1.001;
    a = performance.now();
    warm.radius(r, H);
    const warmSeconds = (performance.now() - a) / 1000;
    const epoch = await epochSeconds(H, B, steps);
    rows.push({ H, B, coldSeconds, warmSeconds, epochSeconds: epoch, warmShare: warmSeconds / epoch, coldShare: coldSeconds / epoch });
  }
  return rows;
}

export function formatSpectralRows(rows: SpectralRow[]): string[] {
  const out = ['     H   B  epoch s (5000+5000 steps)  cold radius s  share  warm radius s  share'];
  for (const r of rows)
    out.push(`${String(r.H).padStart(6)} ${String(r.B).padStart(3)}  ${r.epochSeconds.toFixed(1).padStart(24)}  ${r.coldSeconds.toFixed(2).padStart(13)}  ${(100 * r.coldShare).toFixed(2).padStart(4)}%  ${r.warmSeconds.toFixed(2).padStart(13)}  ${(100 * r.warmShare).toFixed(2).padStart(4)}%`);
  return out;
}

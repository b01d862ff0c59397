// Learning on the emulator alone, through the Device interface: ANP-T on
// Mackey-Glass recall-15 (H=100, B=10, 5000-step sequences, sigma 1e-3, online,
// lr 0.1 with cosine decay, seed 42). Numbers for more seeds: docs/emulator.md.
// Each run must beat the untrained network by 3x and the zero output by a margin; the
// runs are seeded and bit-exact, so the measured values below are exact:
//   npx tsx scripts/mg-emulator.ts --weight-bits 16 --rounding nearest --seeds 42
//     untrained 0.396, after 10 epochs 0.042 (x the zero-output MSE)
//   npx tsx scripts/mg-emulator.ts --weight-bits 8 --rounding stochastic --seeds 42
//     untrained 0.530, after 10 epochs 0.118
import { describe, expect, it } from 'vitest';
import { mgEmulatorRun } from '../scripts/mg-emulator.js';

describe('ANP-T on the emulator learns Mackey-Glass', () => {
  it('16-bit weights: within 10 epochs, test MSE 3x below the untrained network and below 0.15x the zero output', async () => {
    const r = await mgEmulatorRun({ weightBits: 16, rounding: 'nearest', lr: 0.1, epochs: 10, seed: 42 });
    const final = r.epochs[r.epochs.length - 1];
    expect(final).toBeLessThan(r.untrained / 3);
    expect(final).toBeLessThan(0.15);
  });
  it('8-bit weights with stochastic update rounding: 3x below the untrained network and below 0.3x the zero output', async () => {
    const r = await mgEmulatorRun({ weightBits: 8, rounding: 'stochastic', lr: 0.1, epochs: 10, seed: 42 });
    const final = r.epochs[r.epochs.length - 1];
    expect(final).toBeLessThan(r.untrained / 3);
    expect(final).toBeLessThan(0.3);
  });
});

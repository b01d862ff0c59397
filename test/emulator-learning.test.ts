// Learning on the emulator alone, through the Device interface: ANP-T on
// Mackey-Glass recall-15 (H=100, B=10, 5000-step sequences, sigma 1e-3, online,
// lr 0.1 with cosine decay, seed 42). Numbers for more seeds: docs/emulator.md.
import { describe, expect, it } from 'vitest';
import { mgEmulatorRun } from '../scripts/mg-emulator.js';

describe('ANP-T on the emulator learns Mackey-Glass', () => {
  it('16-bit weights: test MSE below 0.6x the zero-output MSE within 10 epochs', async () => {
    const r = await mgEmulatorRun({ weightBits: 16, rounding: 'nearest', lr: 0.1, epochs: 10, seed: 42 });
    expect(r[r.length - 1]).toBeLessThan(0.6);
  });
  it('8-bit weights with stochastic update rounding: below 0.8x within 10 epochs', async () => {
    const r = await mgEmulatorRun({ weightBits: 8, rounding: 'stochastic', lr: 0.1, epochs: 10, seed: 42 });
    expect(r[r.length - 1]).toBeLessThan(0.8);
  });
});

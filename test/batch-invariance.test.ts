// Issue 11's line "ANP-T with its default settings learns at B = 1 and B = 10 alike": the
// trainer sends lr x (B/10)^2 (src/learn/anpt.ts anptBatchScale, docs/method.md "Step size
// and batch size"), so the default rate, tuned at B = 10, is the same step at B = 1. Without
// the scale the default rate is 100x too large at B = 1 and the first test below fails
// (the B = 1 run diverges within ~25 steps, checked by disabling the scale).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.js';
import { defaultChipFormats } from '../src/device/config.js';
import { EmulatorDevice } from '../src/device/emulator.js';
import { anptBatchScale, trainAnpt } from '../src/learn/anpt.js';
import { xavierNormal, type RnnShape } from '../src/model/rnn.js';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';

const TMP = mkdtempSync(join(tmpdir(), 'anpt-batch-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

interface Summary { status: string; warnings?: string[]; initial_test_loss: number; final_test_loss: number; config: { lr_batch_scale?: string } }

/** `anpt train --algo anpt` with its defaults but the batch (and a short task): the summary. */
async function train(backend: 'emulator' | 'float', batch: number): Promise<Summary> {
  let out = '', err = '';
  const argv = ['train', '--algo', 'anpt', '--task', 'mackey-glass', '--steps', '2000', '--epochs', '3', '--batch', String(batch), '--no-diagnostics', '--json', '--quiet', '--out', join(TMP, `${backend}-b${batch}`)];
  if (backend === 'float') argv.push('--backend', 'float'); // the emulator is the default backend
  const code = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), progress: { write: () => true, isTTY: false } });
  expect(code, err).toBe(0);
  return JSON.parse(out) as Summary;
}

describe('batch-invariant ANP-T steps', () => {
  // Measured (2000 steps, 3 epochs, seed 42): emulator untrained 1.82e-2, trained 3.96e-3 at
  // B = 1 and 4.52e-3 at B = 10; float 2.24e-3 and 2.17e-3. Without the scale B = 1 diverges.
  for (const backend of ['emulator', 'float'] as const)
    it(`anpt train --algo anpt with default settings learns at B = 1 and at B = 10 alike (${backend}: 3x below the untrained network, within 1.5x of each other, no warning)`, async () => {
      const runs = [await train(backend, 1), await train(backend, 10)];
      for (const s of runs) {
        expect(s.status).toBe('ok');
        expect(s.warnings ?? []).toEqual([]);
        expect(s.final_test_loss * 3).toBeLessThan(s.initial_test_loss);
      }
      expect(runs[0].config.lr_batch_scale).toMatch(/^\(B\/10\)\^2 = 0\.0100/);
      expect(runs[1].config.lr_batch_scale).toBe('(B/10)^2 = 1');
      const [b1, b10] = runs.map((s) => s.final_test_loss);
      expect(Math.max(b1 / b10, b10 / b1)).toBeLessThan(1.5);
    }, 60_000);

  it('the rates are scaled by (B/10)^2; without the scale B = 1 at the default lr warns and diverges', async () => {
    expect(anptBatchScale(10)).toBe(1);
    expect(anptBatchScale(1)).toBeCloseTo(0.01, 15);
    const t = mackeyGlassTask({ steps: 400, batch: 1, seed: 42 });
    const sh: RnnShape = { inputs: 1, hidden: 100, outputs: 1, activation: 'tanh' };
    const emu = new EmulatorDevice();
    const warnings: string[] = [];
    await emu.configure({ topology: { ...sh, batch: 1 }, formats: defaultChipFormats(), noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 }, seed: 42, maxChunkSteps: 400 });
    await emu.writeParams(xavierNormal(sh, 42));
    const res = await trainAnpt(emu, t.train, { epochs: 1, lr: { w: 0.1, r: 0.1, v: 0.1 }, lrBatchScale: 'none', onWarning: (l) => warnings.push(l), divergenceFactor: 1e6 });
    expect(warnings.join('\n') + (res.status === 'diverged' ? ' diverged' : '')).toMatch(/grew .*x within the first|diverged/);
  });
});

/**
 * `anpt sweep --bias`: every network of the grid has hidden and output biases, on the
 * chip (anpt-chip learns them), in the float trainings (BPTT and ANP-T) and through
 * post-training quantisation (the float b and c written into the chip). The rows of a
 * grid without biases keep their keys. A bad grid.bias, and a board without biases,
 * are refused.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { gridRows, resolveGrid } from '../src/sweep/grid.js';
import { boardRefuses, rowNeeds } from '../src/queue/classes.js';
import { buildGridTask } from '../src/sweep/grid.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'anpt-sweep-bias-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const GRID = ['--hidden', '16', '--steps', '1000', '--batch', '4', '--epochs', '2', '--weight-bits', '16', '--rounding', 'nearest', '--seeds', '1',
  '--methods', 'anpt-chip,bptt-ptq,anpt-float-ptq', '--diag-samples', '4', '--workers', '0', '--no-report', '--quiet'];

interface Row { key: string; method: string; status: string; metrics: { testMse: number; floatTestMse?: number } }

/** `anpt sweep` from the sources into a new directory; its results.json rows. */
function sweep(name: string, extra: string[]): Row[] {
  const out = join(tmp, name);
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'sweep', '--out', out, ...GRID, ...extra], { cwd: ROOT, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).rows;
}

describe('anpt sweep --bias', () => {
  it('trains and tests every method with biases; without the flag the rows are those of before', () => {
    const plain = sweep('plain', []);
    const biased = sweep('biased', ['--bias']);
    expect(plain.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
    expect(biased.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
    for (const r of plain) expect(r.key).not.toContain('bias');
    for (const r of biased) expect(r.key).toContain('"bias":true');
    for (const [i, r] of biased.entries()) {
      // the biases start at zero: a row whose biases never learnt would repeat the plain row's bits
      expect(r.metrics.testMse, r.method).not.toBe(plain[i].metrics.testMse);
      // at 16 bits the quantised network tests as the float one: its b and c reached the chip
      if (r.metrics.floatTestMse !== undefined) expect(Math.abs(r.metrics.testMse / r.metrics.floatTestMse - 1), r.method).toBeLessThan(0.01);
    }
  });

  it('refuses a grid.bias that is not a boolean, and a board that does not announce biases', () => {
    expect(() => resolveGrid({ bias: 'yes' })).toThrow(/grid\.bias: 'yes' is not true or false/);
    const grid = resolveGrid({ bias: true, hidden: 16, task: { name: 'mackey-glass', options: { steps: 1000, batch: 4 } }, seeds: 1, methods: ['anpt-chip'] });
    const row = gridRows(grid)[0];
    const needs = rowNeeds(row, buildGridTask(grid.task, row.seed), 'any');
    expect(needs.bias).toBe(true);
    const limits = { maxInputs: 4, maxHidden: 64, maxOutputs: 4, maxBatch: 16, minBits: 2, maxBits: 16, roundingModes: [0, 2], maxChunkSteps: 100 };
    expect(boardRefuses({ ...limits, bias: false } as never, needs, 4096)).toMatch(/biases.*Limits\.bias/);
    expect(boardRefuses({ ...limits, bias: true } as never, needs, 4096)).toBeUndefined();
  });
});

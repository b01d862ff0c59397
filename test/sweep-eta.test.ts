// The sweep's ETA comes from measured times per kind of task, so a resumed sweep (rows
// done earlier are skipped, their times known) and a mix of cheap and costly tasks give
// the time that is really left, not the cost model's guess.
import { describe, expect, it } from 'vitest';
import { createSweepProgress, etaSeconds } from '../src/sweep/progress.js';
import type { SweepRow } from '../src/sweep/results.js';

const row = (method: string, seconds: number) => ({ key: `${method}-${seconds}`, method, seed: 42, point: { weightBits: 8, activityBits: 16, rounding: 'nearest', sigma: 0.001, mismatch: 0 }, status: 'ok', seconds, metrics: { relTestMse: 0.1 } }) as unknown as SweepRow;

describe('sweep ETA', () => {
  it('is the work left of each kind times its measured mean, over the tasks side by side', () => {
    const left = { chip: { count: 10, cost: 50_000 }, ptq: { count: 20, cost: 1500 }, float: { count: 0, cost: 1e6 } };
    expect(etaSeconds(left, { chip: [4, 6], ptq: [0.5], float: [] }, 2)).toBeCloseTo((10 * 5 + 20 * 0.5) / 2, 9);
    // a kind not measured yet: from the measured seconds per cost unit
    expect(etaSeconds(left, { chip: [5], ptq: [], float: [] }, 1)).toBeCloseTo(10 * 5 + 20 * 1500 * (5 / 50_000), 9);
    expect(etaSeconds(left, { chip: [], ptq: [], float: [] }, 1)).toBeNaN();
  });

  it('after a resume, the first cheap row does not make the ANP-T rows left look 40 times longer', () => {
    let text = '';
    // the resumed sweep: 2 chip rows left (5 s each, as the earlier run measured), PTQ rows from a cached float
    const p = createSweepProgress({
      totalRows: 3, totalCost: 2 * 50_000 + 1500, quiet: false, parallel: 1,
      work: { chip: { count: 2, cost: 50_000 }, ptq: { count: 1, cost: 1500 }, float: { count: 0, cost: 0 } },
      prior: { chip: [5, 5, 5], ptq: [1, 1], float: [40] },
      varies: { activityBits: false, sigma: false, mismatch: false },
      stream: { write: (s: string) => (text += s), isTTY: false },
    });
    p.row(row('bptt-ptq', 1), 1500);
    expect(text).toMatch(/ETA 10s\)\n$/);
    p.row(row('anpt-chip', 5), 50_000);
    expect(text).toMatch(/ETA 5s\)\n$/);
    p.stop();
  });
});

describe('sweep progress on a pipe', () => {
  it('says where the sweep is at least every 5 s while a long task runs', async () => {
    let text = '';
    const p = createSweepProgress({
      totalRows: 1, totalCost: 1, quiet: false, parallel: 1,
      work: { chip: { count: 1, cost: 1 }, ptq: { count: 0, cost: 0 }, float: { count: 0, cost: 0 } },
      varies: { activityBits: false, sigma: false, mismatch: false },
      stream: { write: (s: string) => (text += s), isTTY: false },
    });
    await new Promise((r) => setTimeout(r, 6500));
    p.stop();
    expect(text).toMatch(/^sweep: 0\/1 rows done, \d+s elapsed, ETA \?\n/);
  }, 20_000);
});

// `anpt predict` and `anpt eval` as a user meets them: the README's first run (fewer
// epochs) and a user CSV each give predictions.csv and predictions.svg; the CSV's
// targets are the source data's own values (de-normalised with the run's saved
// min/max); another file is scored with the run's normalisation, not its own; and the
// SVG, drawn by headless chromium, shows both the target and the prediction.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.js';
import { makeTask } from '../src/tasks/index.js';

const TMP = mkdtempSync(join(tmpdir(), 'anpt-predict-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const CHROMIUM = '/usr/bin/chromium';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), progress: { write: (s: string) => (err += s), isTTY: false } });
  return { code, out, err };
}

/** predictions.csv as named columns. */
function readCsv(path: string): Record<string, number>[] {
  const [head, ...rows] = readFileSync(path, 'utf8').trim().split('\n').map((l) => l.split(','));
  return rows.map((r) => Object.fromEntries(head.map((h, k) => [h, Number(r[k])])));
}

/** A CSV time series: a, b inputs; c = the target, in units far from [0, 1]. */
function writeSeries(path: string, rows: number, offset: number, scale: number): number[][] {
  const data: number[][] = [];
  for (let t = 0; t < rows; t++) {
    const a = Math.sin(t / 7), b = Math.cos(t / 11);
    data.push([a, b, offset + scale * Math.sin((t - 1) / 7)]);
  }
  writeFileSync(path, `a,b,c\n${data.map((r) => r.join(',')).join('\n')}\n`);
  return data;
}

/** The SVG drawn by chromium onto a canvas: pixels of each series' colour. */
async function drawnColours(svgPath: string): Promise<{ target: number; predicted: number; width: number }> {
  if (!existsSync(CHROMIUM)) throw new Error(`chromium is not installed at ${CHROMIUM}; install it with \`apt-get install -y chromium\` (.ci/run does)`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] }); // playwright's own headless mode: an explicit --headless hangs screenshots here
  try {
    const page = await browser.newPage();
    await page.goto(pathToFileURL(svgPath).href);
    const width = (await page.locator('svg').boundingBox())!.width;
    const png = await page.screenshot();
    // count the pixels of each series' colour in the screenshot, decoded by the browser itself
    const counts = await page.evaluate(async (b64: string) => {
      // the page is an SVG document: decode with createImageBitmap, read with an OffscreenCanvas
      const blob = await (await fetch(`data:image/png;base64,${b64}`)).blob();
      const img = await createImageBitmap(blob);
      const c = new OffscreenCanvas(img.width, img.height);
      const g = c.getContext('2d')!;
      g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      let target = 0, predicted = 0;
      for (let k = 0; k < d.length; k += 4) {
        if (d[k] < 40 && Math.abs(d[k + 1] - 0x72) < 30 && Math.abs(d[k + 2] - 0xb2) < 30) target++; // #0072B2
        if (Math.abs(d[k] - 0xd5) < 30 && Math.abs(d[k + 1] - 0x5e) < 30 && d[k + 2] < 40) predicted++; // #D55E00
      }
      return { target, predicted };
    }, png.toString('base64'));
    return { ...counts, width };
  } finally {
    await browser.close();
  }
}

describe('anpt predict', () => {
  it("the README's first run: predictions.csv holds the Mackey-Glass test targets and the outputs; the plot shows both", async () => {
    const run = join(TMP, 'mg-first');
    const train = await cli('train', '--task', 'mackey-glass', '--algo', 'anpt', '--backend', 'emulator', '--epochs', '1', '--out', run, '--quiet');
    expect(train.code, train.err).toBe(0);
    const r = await cli('predict', '--weights', run);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^test MSE .* x the zero-output MSE/);
    expect(r.out).toMatch(/data units \(not normalised\): MSE \S+ {2}RMSE \S+ {2}NRMSE \d\.\d{3}/);
    const rows = readCsv(join(run, 'predictions.csv'));
    const test = makeTask('mackey-glass', { seed: 42 }).test;
    expect(rows).toHaveLength(test.steps * test.batch);
    // sequence by sequence; targets exactly the task's test targets
    for (const row of rows.filter((_, k) => k % 997 === 0)) expect(row.target_y0).toBe(test.targets[row.step * test.batch + row.sequence]);
    const mse = rows.reduce((s, x) => s + (x.predicted_y0 - x.target_y0) ** 2, 0) / rows.length;
    const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8'));
    expect(mse).toBeCloseTo(summary.final_test_loss, 12);
    // the figure, in a real browser: both lines are drawn
    const seen = await drawnColours(join(run, 'predictions.svg'));
    expect(seen.predicted).toBeGreaterThan(500);
    expect(seen.target).toBeGreaterThan(500);
  }, 60_000);

  it('a user CSV: values in the file\'s own units, row by row; another file is scored with the run\'s min/max', async () => {
    const file = join(TMP, 'series.csv');
    const data = writeSeries(file, 1200, 50, 20);
    const run = join(TMP, 'csv-run');
    const train = await cli('train', '--task', 'csv', '--data', file, '--inputs', 'a,b', '--targets', 'c', '--hidden', '32', '--epochs', '2', '--out', run, '--quiet');
    expect(train.code, train.err).toBe(0);
    const r = await cli('predict', '--weights', run, '--json');
    expect(r.code, r.err).toBe(0);
    const res = JSON.parse(r.out);
    const rows = readCsv(join(run, 'predictions.csv'));
    expect(rows.length).toBeGreaterThan(100);
    // de-normalised targets are the source file's values at the row they came from
    for (const row of rows) expect(row.target_c).toBeCloseTo(data[row.row][2], 9);
    expect(Math.max(...rows.map((x) => x.predicted_c))).toBeGreaterThan(20); // data units, not [0, 1]
    const dataMse = rows.reduce((s, x) => s + (x.predicted_c - x.target_c) ** 2, 0) / rows.length;
    expect(res.data_units.mse).toBeCloseTo(dataMse, 9);
    const norm = JSON.parse(readFileSync(join(run, 'weights.json'), 'utf8')).normalisation;
    const span = norm.max[norm.columns.indexOf('c')] - norm.min[norm.columns.indexOf('c')];
    expect(res.normalised.mse).toBeCloseTo(dataMse / span ** 2, 12);
    expect(res.data_units.nrmse).toBeCloseTo(res.normalised.nrmse, 9);

    // another file, shifted and wider: scored in the run's units (its own min/max would give another normalised MSE)
    const other = join(TMP, 'other.csv');
    const data2 = writeSeries(other, 600, 80, 40);
    const o = await cli('predict', '--weights', run, '--data', other, '--out', join(TMP, 'other-pred'), '--json');
    expect(o.code, o.err).toBe(0);
    expect(o.err).toBe('');
    const res2 = JSON.parse(o.out);
    const rows2 = readCsv(join(TMP, 'other-pred', 'predictions.csv'));
    for (const row of rows2) expect(row.target_c).toBeCloseTo(data2[row.row][2], 9);
    const mse2 = rows2.reduce((s, x) => s + (x.predicted_c - x.target_c) ** 2, 0) / rows2.length;
    expect(res2.normalised.mse).toBeCloseTo(mse2 / span ** 2, 12);
    const ev = await cli('eval', '--weights', run, '--data', other, '--json');
    expect(JSON.parse(ev.out).test_loss).toBe(res2.test_loss);

    const seen = await drawnColours(join(run, 'predictions.svg'));
    expect(seen.predicted).toBeGreaterThan(500);
    expect(seen.target).toBeGreaterThan(500);
  }, 60_000);
});

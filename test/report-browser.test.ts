/**
 * The sweep report in a real browser: Debian's headless chromium opens report.html
 * from a tiny sweep (a few seconds) without console errors and without loading
 * anything, and every plot shows exactly the points results.json says it should
 * (one circle per point, data-x / data-y = the mean over seeds), following the rules
 * written at the top of src/report/sweep-report.ts, recomputed here independently.
 *
 * Chromium missing is a failure, not a skip: `apt-get install -y chromium` (.ci/run
 * does it).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The real `anpt` program, run from the sources. */
function cliArgs(): string[] {
  return ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];
}

function anpt(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...cliArgs(), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// ---- the plotting rules, recomputed from results.json ----

interface Point { weightBits: number; activityBits: number; rounding: string; sigma: number; mismatch: number }
interface Row {
  method: string;
  status: string;
  point: Point;
  metrics?: { relTestMse: number | null; diagnostic?: { chip: { all: number }; float: { all: number } } };
}
interface Results {
  command: string;
  grid: { weightBits: number[]; activityBits: number[]; rounding: string[]; sigma: number[]; mismatch: number[] };
  rows: Row[];
}
interface Drawn { series: string; x: number; y: number }

const DIMS = ['weightBits', 'activityBits', 'sigma', 'mismatch'] as const;

function meanPoints(groups: Map<string, { series: string; x: number; ys: number[] }>, logY: boolean, logX: boolean): Drawn[] {
  return [...groups.values()]
    .map((g) => ({ series: g.series, x: g.x, ys: g.ys.filter(Number.isFinite) }))
    .filter((g) => g.ys.length > 0)
    .map((g) => ({ series: g.series, x: g.x, y: g.ys.reduce((a, b) => a + b, 0) / g.ys.length }))
    .filter((p) => Number.isFinite(p.y) && (!logY || p.y > 0) && (!logX || p.x > 0));
}

function expectedPoints(r: Results, kind: string): Drawn[] {
  const g = r.grid;
  const ref = { weightBits: Math.max(...g.weightBits), activityBits: Math.max(...g.activityBits), sigma: Math.min(...g.sigma), mismatch: Math.min(...g.mismatch) };
  const measured = r.rows.filter((row) => row.status !== 'error' && row.metrics);
  const groups = new Map<string, { series: string; x: number; ys: number[] }>();
  const add = (series: string, x: number, y: number) => {
    const k = `${series}|${x}`;
    const e = groups.get(k) ?? { series, x, ys: [] };
    e.ys.push(y);
    groups.set(k, e);
  };
  if (kind === 'cosine') {
    for (const row of measured) {
      const d = row.metrics!.diagnostic;
      if (row.method !== 'anpt-chip' || !d || row.point.mismatch !== 0 || row.point.activityBits !== ref.activityBits || row.point.sigma !== ref.sigma) continue;
      add(`chip update (${row.point.rounding})`, row.point.weightBits, d.chip.all);
      if (row.point.rounding === g.rounding[0]) add('float ANP-T rule', row.point.weightBits, d.float.all);
    }
    return meanPoints(groups, false, false);
  }
  const dim = kind as (typeof DIMS)[number];
  for (const row of measured) {
    if (DIMS.some((d) => d !== dim && row.point[d] !== ref[d])) continue;
    const series = row.method === 'anpt-chip'
      ? (g.rounding.length > 1 ? `anpt-chip (${row.point.rounding})` : 'anpt-chip')
      : row.point.rounding === g.rounding[0] ? row.method : undefined;
    if (series) add(series, row.point[dim], row.metrics!.relTestMse ?? NaN);
  }
  return meanPoints(groups, true, dim === 'sigma');
}

const sortDrawn = (a: Drawn[]) => [...a].sort((p, q) => p.series.localeCompare(q.series) || p.x - q.x);

function expectSamePoints(drawn: Drawn[], expected: Drawn[], what: string): void {
  expect(drawn.length, `${what}: circles drawn vs points in results.json`).toBe(expected.length);
  const d = sortDrawn(drawn), e = sortDrawn(expected);
  d.forEach((p, i) => {
    expect(p.series, what).toBe(e[i].series);
    expect(p.x, what).toBe(e[i].x);
    expect(p.y, `${what}: ${p.series} at x=${p.x}`).toBeCloseTo(e[i].y, 12);
  });
}

// ---- the test ----

const tmp = mkdtempSync(join(tmpdir(), 'anpt-report-test-'));
const out = join(tmp, 'sweep');
let browser: Browser | undefined;
let page: Page;
let results: Results;
const consoleErrors: string[] = [];
const requests: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`chromium is not installed at ${CHROMIUM}: this test opens the report in Debian's headless chromium; install it with \`apt-get install -y chromium\` (.ci/run does)`);
  // every dimension varies, so every kind of plot is drawn; tiny sizes keep it to seconds
  const r = await anpt(['sweep', '--out', out, '--hidden', '4', '--steps', '150', '--batch', '2', '--epochs', '1', '--bptt-epochs', '1',
    '--weight-bits', '6,8,16', '--activity-bits', '10,16', '--rounding', 'nearest,stochastic', '--sigma', '0.001,0.01', '--mismatch', '0,0.05',
    '--seeds', '2', '--diag-samples', '8', '--diag-steps', '10', '--diag-warmup', '20', '--workers', '2', '--quiet']);
  if (r.code !== 0) throw new Error(`the tiny sweep failed (exit ${r.code}): ${r.stderr}`);
  results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Results;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  page = await browser.newPage({ acceptDownloads: true });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
  page.on('request', (req) => requests.push(req.url()));
  await page.goto(pathToFileURL(join(out, 'report.html')).href, { waitUntil: 'load' });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('sweep report in headless chromium', () => {
  it('opens without console errors and loads nothing but the page itself', async () => {
    expect(await page.title()).toContain('anpt sweep');
    expect(consoleErrors).toEqual([]);
    expect(requests).toEqual([pathToFileURL(join(out, 'report.html')).href]);
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    // one inline script (save as PNG), nothing loaded
    expect(html).not.toMatch(/<script[^>]*src|<link[^>]+stylesheet|<img|@import|url\(http/i);
    expect(html.match(/<script>/g)).toHaveLength(1);
  });

  it('shows the command that made it at the top', async () => {
    const shown = await page.locator('pre.command').first().textContent();
    expect(shown).toBe(results.command);
    expect(results.command).toMatch(/^anpt sweep --out /);
  });

  it('has a plot per varied dimension and the gradient plot, each with exactly its points from results.json', async () => {
    const kinds = await page.$$eval('figure[data-plot]', (els) => els.map((e) => e.getAttribute('data-plot')));
    expect(kinds).toEqual(['weightBits', 'activityBits', 'sigma', 'mismatch', 'cosine']);
    for (const kind of kinds) {
      const drawn = await page.$$eval(`figure[data-plot="${kind}"] circle[data-x][data-y]`, (els) =>
        els.map((e) => ({ series: e.getAttribute('data-series') ?? '', x: Number(e.getAttribute('data-x')), y: Number(e.getAttribute('data-y')) })));
      const expected = expectedPoints(results, kind!);
      expect(expected.length, `${kind}: results.json gives no points`).toBeGreaterThan(0);
      expectSamePoints(drawn, expected, `plot ${kind}`);
      // the figure is laid out, i.e. the browser really drew it
      const box = await page.locator(`figure[data-plot="${kind}"] svg`).boundingBox();
      expect(box!.width).toBeGreaterThan(300);
    }
    // all four methods/roundings of the weight-bits plot, 3 bit widths each
    const weightSeries = new Set(expectedPoints(results, 'weightBits').map((p) => p.series));
    expect(weightSeries).toEqual(new Set(['anpt-chip (nearest)', 'anpt-chip (stochastic)', 'bptt-ptq', 'anpt-float-ptq']));
  });

  it('loss plots: a y = 1 reference line, series told apart by marker and dash, tooltips with the exact value and seed count', async () => {
    for (const kind of ['weightBits', 'activityBits', 'sigma', 'mismatch']) {
      const ref = page.locator(`figure[data-plot="${kind}"] g.refline`);
      expect(await ref.getAttribute('data-y')).toBe('1');
      expect(await ref.locator('text').textContent()).toMatch(/zero output \(1\)/);
    }
    const fig = 'figure[data-plot="weightBits"]';
    const series = await page.$$eval(`${fig} g.series path.line`, (els) => els.map((e) => e.getAttribute('stroke-dasharray') ?? 'solid'));
    expect(new Set(series).size).toBe(series.length); // four series, four dash styles
    const markers = await page.$$eval(`${fig} g.points`, (gs) => gs.map((g) => g.querySelector('path.marker')?.getAttribute('data-marker') ?? 'circle'));
    expect(new Set(markers).size).toBe(markers.length); // and four marker shapes
    const tip = await page.locator(`${fig} circle.point`).first().locator('title').textContent();
    expect(tip).toMatch(/^anpt-chip \(nearest\), weight bits \d+: mean [\d.e-]+ over 2 seeds \(smallest [\d.e-]+, largest [\d.e-]+\)$/);
    const first = await page.locator(`${fig} circle.point`).first();
    expect(tip).toContain(`mean ${await first.getAttribute('data-y')} `);
  });

  it('figures follow the page width, and each saves as SVG and as PNG', async () => {
    const fig = page.locator('figure[data-plot="weightBits"]');
    await page.setViewportSize({ width: 560, height: 900 });
    expect((await fig.locator('svg').boundingBox())!.width).toBeLessThanOrEqual(560);
    await page.setViewportSize({ width: 1400, height: 900 });
    expect((await fig.locator('svg').boundingBox())!.width).toBeGreaterThan(900);
    expect(await fig.locator('.save a').getAttribute('download')).toBe('loss-vs-weight-bits.svg');
    const [download] = await Promise.all([page.waitForEvent('download'), fig.locator('button.save-png').click()]);
    expect(download.suggestedFilename()).toBe('loss-vs-weight-bits.png');
    const file = join(tmp, 'saved.png');
    await download.saveAs(file);
    expect(readFileSync(file).subarray(1, 4).toString()).toBe('PNG');
    expect(readFileSync(file).length).toBeGreaterThan(5000);
    expect(consoleErrors).toEqual([]);
  });

  it('writes each plot as a standalone SVG with the same points', async () => {
    const files: Record<string, string> = {
      weightBits: 'loss-vs-weight-bits.svg', activityBits: 'loss-vs-activity-bits.svg', sigma: 'loss-vs-sigma.svg',
      mismatch: 'loss-vs-mismatch.svg', cosine: 'gradient-cosine-vs-weight-bits.svg',
    };
    for (const [kind, file] of Object.entries(files)) {
      await page.goto(pathToFileURL(join(out, file)).href);
      const drawn = await page.$$eval('circle[data-x][data-y]', (els) =>
        els.map((e) => ({ series: e.getAttribute('data-series') ?? '', x: Number(e.getAttribute('data-x')), y: Number(e.getAttribute('data-y')) })));
      expectSamePoints(drawn, expectedPoints(results, kind), file);
    }
    expect(consoleErrors).toEqual([]);
  });

  it('anpt report DIR rebuilds the same page from results.json', async () => {
    const before = readFileSync(join(out, 'report.html'), 'utf8');
    unlinkSync(join(out, 'report.html'));
    unlinkSync(join(out, 'loss-vs-sigma.svg'));
    const r = await anpt(['report', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(out, 'report.html'), 'utf8')).toBe(before);
    expect(existsSync(join(out, 'loss-vs-sigma.svg'))).toBe(true);
    const missing = await anpt(['report', join(tmp, 'nothing-here')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^anpt: .*results\.json: not found; this is not a sweep directory/);
  });
});

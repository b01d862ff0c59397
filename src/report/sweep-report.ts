/**
 * The sweep report: one self-contained HTML page (inline CSS and SVG, nothing loaded
 * from anywhere, no script) built from results.json, plus each plot as its own SVG.
 *
 * What is plotted (rules a reader, and test/report-browser.test.ts, can check):
 * - y: test MSE / zero-output MSE of each row (1 = no better than answering 0), the
 *   mean over seeds, error bars from the smallest to the largest seed; log scale.
 * - one plot per grid dimension that has more than one value: weight bits, activity
 *   bits, sigma, mismatch. The other dimensions are held at their least degraded value
 *   in the grid (most weight and activity bits, smallest sigma and mismatch).
 * - series: anpt-chip per update rounding (when the grid has several); the PTQ methods
 *   once each, from the grid's first rounding, because quantising trained weights
 *   updates nothing on the chip, so the update rounding cannot change their numbers.
 * - the gradient plot: cosine of the chip's mean ANP-T update to the full-BPTT descent
 *   direction against weight bits (anpt-chip rows without mismatch), per rounding, and
 *   the float ANP-T rule at the same quantised weights (first rounding).
 * A point whose seeds all failed is not drawn; svg.ts says so under the plot.
 */
import { escapeXml, renderLineChart, type ChartSeries, type ChartSpec } from './svg.js';
import { METHOD_DESCRIPTIONS, type GridPoint, type GridSpec, type SweepMethod } from '../sweep/grid.js';
import type { SweepResults, SweepRow } from '../sweep/results.js';

export interface ReportPlot {
  /** File name of the standalone SVG, e.g. loss-vs-weight-bits.svg. */
  file: string;
  /** Which plot: weightBits, activityBits, sigma, mismatch or cosine. */
  kind: PlotKind;
  title: string;
  caption: string;
  svg: string;
}

export interface SweepReport {
  html: string;
  plots: ReportPlot[];
}

export type PlotKind = 'weightBits' | 'activityBits' | 'sigma' | 'mismatch' | 'cosine';
type Dim = Exclude<PlotKind, 'cosine'>;
const DIMS: Dim[] = ['weightBits', 'activityBits', 'sigma', 'mismatch'];

const DIM_LABEL: Record<Dim, string> = {
  weightBits: 'weight bits',
  activityBits: 'activity bits',
  sigma: 'noise sigma (real units)',
  mismatch: 'mismatch spread',
};
const DIM_FILE: Record<Dim, string> = {
  weightBits: 'loss-vs-weight-bits.svg',
  activityBits: 'loss-vs-activity-bits.svg',
  sigma: 'loss-vs-sigma.svg',
  mismatch: 'loss-vs-mismatch.svg',
};

/** Fixed colours per series, so a method has the same colour in every plot. */
const SERIES_COLOURS: Record<string, string> = {
  'anpt-chip': '#0072B2',
  'anpt-chip (nearest)': '#0072B2',
  'anpt-chip (stochastic)': '#D55E00',
  'anpt-chip (floor)': '#CC79A7',
  'bptt-ptq': '#009E73',
  'anpt-float-ptq': '#E69F00',
};

/** The value of each dimension the plots of the other dimensions hold fixed. */
export function referencePoint(grid: GridSpec): Omit<GridPoint, 'rounding'> {
  return {
    weightBits: Math.max(...grid.weightBits),
    activityBits: Math.max(...grid.activityBits),
    sigma: Math.min(...grid.sigma),
    mismatch: Math.min(...grid.mismatch),
  };
}

/** The series a row belongs to in the loss plots, or undefined if it is not plotted (a PTQ row of another rounding). */
export function lossSeries(row: Pick<SweepRow, 'method' | 'point'>, grid: GridSpec): string | undefined {
  if (row.method === 'anpt-chip') return grid.rounding.length > 1 ? `anpt-chip (${row.point.rounding})` : 'anpt-chip';
  return row.point.rounding === grid.rounding[0] ? row.method : undefined;
}

interface Stats {
  n: number;
  mean: number;
  sd: number;
  min: number;
  max: number;
}

function stats(values: number[]): Stats {
  const v = values.filter(Number.isFinite);
  const n = v.length;
  if (n === 0) return { n: 0, mean: NaN, sd: NaN, min: NaN, max: NaN };
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { n, mean, sd, min: Math.min(...v), max: Math.max(...v) };
}

/** A point's tooltip: the exact mean, how many seeds it is over, and their range. */
function tooltip(series: string, xLabel: string, x: number, st: Stats): string {
  return `${series}, ${xLabel} ${x}: mean ${st.mean} over ${st.n} seed${st.n === 1 ? '' : 's'}${st.n > 1 ? ` (smallest ${st.min}, largest ${st.max})` : ''}`;
}

/** 3 significant digits; exponent form outside 1e-3..1e5. */
export function num(v: number | undefined): string {
  if (v === undefined || v === null || Number.isNaN(v)) return '–';
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}

const esc = escapeXml;
const rel = (r: SweepRow) => r.metrics?.relTestMse ?? NaN;

/** Rows with numbers (not failed). */
function measured(rows: SweepRow[]): SweepRow[] {
  return rows.filter((r) => r.status !== 'error' && r.metrics !== undefined);
}

function groupBy<T>(items: T[], key: (t: T) => string | undefined): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const t of items) {
    const k = key(t);
    if (k === undefined) continue;
    const list = m.get(k) ?? [];
    list.push(t);
    m.set(k, list);
  }
  return m;
}

function seriesOrder(names: string[]): string[] {
  const order = Object.keys(SERIES_COLOURS);
  return [...names].sort((a, b) => (order.indexOf(a) === -1 ? 99 : order.indexOf(a)) - (order.indexOf(b) === -1 ? 99 : order.indexOf(b)) || a.localeCompare(b));
}

function atReference(p: GridPoint, ref: Omit<GridPoint, 'rounding'>, except: Dim): boolean {
  return DIMS.every((d) => d === except || p[d] === ref[d]);
}

function describeReference(ref: Omit<GridPoint, 'rounding'>, except: Dim[]): string {
  const parts: string[] = [];
  for (const d of DIMS) {
    if (except.includes(d)) continue;
    const text = d === 'weightBits' ? `${ref.weightBits} weight bits` : d === 'activityBits' ? `${ref.activityBits} activity bits` : d === 'sigma' ? `sigma ${ref.sigma}` : `mismatch ${ref.mismatch}`;
    parts.push(text);
  }
  return parts.join(', ');
}

function lossPlot(results: SweepResults, dim: Dim): ReportPlot {
  const grid = results.grid;
  const ref = referencePoint(grid);
  const rows = measured(results.rows).filter((r) => atReference(r.point, ref, dim));
  const bySeries = groupBy(rows, (r) => lossSeries(r, grid));
  const series: ChartSeries[] = seriesOrder([...bySeries.keys()]).map((name) => {
    const byX = groupBy(bySeries.get(name)!, (r) => String(r.point[dim]));
    const points = [...byX.entries()]
      .map(([x, rs]) => ({ x: Number(x), s: stats(rs.map(rel)) }))
      .filter((p) => p.s.n > 0)
      .sort((a, b) => a.x - b.x)
      .map((p) => ({ x: p.x, y: p.s.mean, low: p.s.min, high: p.s.max, tooltip: tooltip(name, DIM_LABEL[dim], p.x, p.s) }));
    return { name, points, color: SERIES_COLOURS[name] };
  });
  const title = `Test MSE vs ${DIM_LABEL[dim]}`;
  const spec: ChartSpec = {
    title,
    xLabel: DIM_LABEL[dim],
    yLabel: 'test MSE / zero-output MSE',
    series,
    logY: true,
    logX: dim === 'sigma' && grid.sigma.every((s) => s > 0),
    refLines: [{ y: 1, label: 'zero output (1): below is learning' }],
    width: 720,
    height: 420,
  };
  const caption = `Mean over ${grid.seeds.length} seed${grid.seeds.length > 1 ? 's' : ''} (error bars: smallest to largest seed) of the test MSE on the emulator's clean copy, as a fraction of the MSE of always answering 0; below the dashed line at 1 is learning. Series with bars are set a few pixels apart; hover a point for its exact value and seed count. Held fixed: ${describeReference(ref, [dim])}.`;
  return { file: DIM_FILE[dim], kind: dim, title, caption, svg: renderLineChart(spec).svg };
}

/** anpt-chip rows with a gradient diagnostic, at the reference activity bits and sigma, without mismatch. */
export function cosineRows(results: SweepResults): SweepRow[] {
  const ref = referencePoint(results.grid);
  return measured(results.rows).filter((r) => r.method === 'anpt-chip' && r.metrics?.diagnostic && r.point.mismatch === 0
    && r.point.activityBits === ref.activityBits && r.point.sigma === ref.sigma);
}

function cosinePlot(results: SweepResults): ReportPlot | undefined {
  const grid = results.grid;
  const rows = cosineRows(results);
  if (rows.length === 0) return undefined;
  const series: ChartSeries[] = [];
  const add = (name: string, rs: SweepRow[], value: (r: SweepRow) => number, color: string, dashed = false) => {
    const byX = groupBy(rs, (r) => String(r.point.weightBits));
    const points = [...byX.entries()]
      .map(([x, g]) => ({ x: Number(x), s: stats(g.map(value)) }))
      .filter((p) => p.s.n > 0)
      .sort((a, b) => a.x - b.x)
      .map((p) => ({ x: p.x, y: p.s.mean, low: p.s.min, high: p.s.max, tooltip: tooltip(name, 'weight bits', p.x, p.s) }));
    if (points.length) series.push({ name, points, color, dashed });
  };
  for (const rounding of grid.rounding)
    add(`chip update (${rounding})`, rows.filter((r) => r.point.rounding === rounding), (r) => r.metrics!.diagnostic!.chip.all, SERIES_COLOURS[`anpt-chip (${rounding})`] ?? '#000000');
  add('float ANP-T rule', rows.filter((r) => r.point.rounding === grid.rounding[0]), (r) => r.metrics!.diagnostic!.float.all, '#555555', true);
  const title = 'ANP-T update vs BPTT gradient';
  const d = rows[0].metrics!.diagnostic!;
  const ref = referencePoint(grid);
  const caption = `Cosine between the mean ANP-T update (${d.samples} noise draws, a ${d.steps}-step chunk, from the initial weights after a clean warm-up) and the full-BPTT descent direction of the same chunk on the float shadow (the float model with the chip's quantised weights). "chip update" is what the emulator applied at the run's initial step size ${d.lr}, after rounding; "float ANP-T rule" is the float model's update at the same weights. Mean over seeds, bars smallest to largest; 0 where every update rounded to zero. At ${describeReference(ref, ['weightBits', 'mismatch'])}, mismatch 0.`;
  const spec: ChartSpec = { title, xLabel: 'weight bits', yLabel: 'cosine to -grad (full BPTT)', series, width: 720, height: 420 };
  return { file: 'gradient-cosine-vs-weight-bits.svg', kind: 'cosine', title, caption, svg: renderLineChart(spec).svg };
}

/** Every plot the results support, in page order. */
export function sweepPlots(results: SweepResults): ReportPlot[] {
  const plots: ReportPlot[] = [];
  for (const dim of DIMS) if (results.grid[dim].length > 1) plots.push(lossPlot(results, dim));
  if (plots.length === 0) plots.push(lossPlot(results, 'weightBits')); // a one-point grid still gets its plot
  const c = cosinePlot(results);
  if (c) plots.push(c);
  return plots;
}

const pointKey = (p: GridPoint) => `${p.weightBits}|${p.activityBits}|${p.rounding}|${p.sigma}|${p.mismatch}`;

function meanSd(s: Stats, digits = num): string {
  if (s.n === 0) return '–';
  return s.n > 1 ? `${digits(s.mean)} ± ${digits(s.sd)}` : digits(s.mean);
}

function range(s: Stats): string {
  return s.n === 0 ? '–' : `${num(s.min)} – ${num(s.max)}`;
}

function pct(v: number): string {
  return Number.isFinite(v) ? `${(100 * v).toFixed(v > 0 && v < 0.01 ? 2 : 0)} %` : '–';
}

/** The table of all grid rows: one line per point and method, over seeds. */
function allRowsTable(results: SweepResults): string {
  const grid = results.grid;
  const groups = groupBy(results.rows, (r) => `${pointKey(r.point)}|${r.method}`);
  const head = ['method', 'weight bits', 'weight format', 'activity bits', 'update rounding', 'sigma', 'mismatch',
    'test MSE / zero-output (mean ± sd)', 'smallest – largest seed', 'test MSE (mean)', 'NRMSE (mean)', 'float before PTQ / zero-output', 'weights at a rail', 'seeds ok / diverged / failed', 'train s (mean)'];
  const lines: string[] = [];
  for (const [, rs] of groups) {
    const r0 = rs[0];
    const m = measured(rs);
    const relS = stats(m.map(rel));
    const count = (s: string) => rs.filter((r) => r.status === s).length;
    const floatRel = stats(m.map((r) => r.metrics!.floatRelTestMse ?? NaN));
    const cells = [
      `<td>${esc(r0.method)}</td>`,
      `<td class="n">${r0.point.weightBits}</td>`,
      `<td>${esc(m[0]?.metrics?.weightFormat ?? '–')}</td>`,
      `<td class="n">${r0.point.activityBits}</td>`,
      `<td>${esc(r0.point.rounding)}</td>`,
      `<td class="n">${num(r0.point.sigma)}</td>`,
      `<td class="n">${num(r0.point.mismatch)}</td>`,
      `<td class="n">${meanSd(relS)}</td>`,
      `<td class="n">${range(relS)}</td>`,
      `<td class="n">${num(stats(m.map((r) => r.metrics!.testMse)).mean)}</td>`,
      `<td class="n">${num(stats(m.map((r) => r.metrics!.testNrmse ?? NaN)).mean)}</td>`,
      `<td class="n">${floatRel.n ? num(floatRel.mean) : '–'}</td>`,
      `<td class="n">${pct(stats(m.map((r) => r.metrics!.weightsAtRail)).mean)}</td>`,
      `<td class="n">${count('ok')} / ${count('diverged')} / ${count('error')}</td>`,
      `<td class="n">${num(stats(m.map((r) => r.metrics!.trainSeconds)).mean)}</td>`,
    ];
    lines.push(`<tr class="${relS.mean < 1 ? 'good' : ''}">${cells.join('')}</tr>`);
  }
  const missing = results.missing > 0 ? `<p class="warn">${results.missing} row${results.missing > 1 ? 's' : ''} of the grid ${results.missing > 1 ? 'are' : 'is'} not finished or failed; run the command again to finish ${results.missing > 1 ? 'them' : 'it'}.</p>` : '';
  return `${missing}<p class="note">${grid.seeds.length} seed${grid.seeds.length > 1 ? 's' : ''} per line (${grid.seeds.join(', ')}); sd is the sample standard deviation over seeds. PTQ rows do not depend on the update rounding (nothing is updated on the chip): their two lines are the same runs tested twice.</p>
<table class="rows"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>
${lines.join('\n')}
</tbody></table>`;
}

/** The gradient-cosine table: one line per weight bits and rounding (and activity bits / sigma when they vary). */
function cosineTable(results: SweepResults): string {
  const grid = results.grid;
  const rows = measured(results.rows).filter((r) => r.method === 'anpt-chip' && r.metrics?.diagnostic);
  if (rows.length === 0) {
    const why = !grid.methods.includes('anpt-chip') ? 'the grid has no anpt-chip rows'
      : grid.diagnostics.samples === 0 ? 'the diagnostic was off (diagnostics.samples 0)'
        : 'every anpt-chip row has mismatch, which the float shadow does not model';
    return `<p class="note">No gradient diagnostic: ${esc(why)}.</p>`;
  }
  const showA = grid.activityBits.length > 1, showS = grid.sigma.length > 1;
  const groups = groupBy(rows, (r) => `${r.point.weightBits}|${r.point.rounding}|${r.point.activityBits}|${r.point.sigma}`);
  const head = ['weight bits', 'update rounding', ...(showA ? ['activity bits'] : []), ...(showS ? ['sigma'] : []),
    'chip update · full BPTT', 'W', 'R', 'V', 'chip update · window-1', 'float rule · full BPTT', 'float rule · window-1', 'draws with no update', 'seeds'];
  const lines = [...groups.values()].map((rs) => {
    const p = rs[0].point;
    const d = rs.map((r) => r.metrics!.diagnostic!);
    const s = (f: (x: (typeof d)[number]) => number) => stats(d.map(f));
    const cells = [
      `<td class="n">${p.weightBits}</td>`, `<td>${esc(p.rounding)}</td>`,
      ...(showA ? [`<td class="n">${p.activityBits}</td>`] : []), ...(showS ? [`<td class="n">${num(p.sigma)}</td>`] : []),
      `<td class="n">${meanSd(s((x) => x.chip.all))}</td>`,
      `<td class="n">${num(s((x) => x.chip.w).mean)}</td>`, `<td class="n">${num(s((x) => x.chip.r).mean)}</td>`, `<td class="n">${num(s((x) => x.chip.v).mean)}</td>`,
      `<td class="n">${meanSd(s((x) => x.chipWindow1))}</td>`,
      `<td class="n">${meanSd(s((x) => x.float.all))}</td>`,
      `<td class="n">${meanSd(s((x) => x.floatWindow1))}</td>`,
      `<td class="n">${pct(s((x) => x.zeroUpdateFraction).mean)}</td>`,
      `<td class="n">${rs.length}</td>`,
    ];
    return `<tr>${cells.join('')}</tr>`;
  });
  const d0 = rows[0].metrics!.diagnostic!;
  return `<p class="note">Cosine of the mean ANP-T update to the descent direction −∇L of the same ${d0.steps}-step chunk (${d0.samples} noise draws at the initial weights, mean ± sd over seeds; 1 = exactly downhill, 0 = unrelated or no update). "chip update": the weight changes the emulator applied at step size ${num(d0.lr)}, after rounding to the weight format; "float rule": the float ANP-T update at the same quantised weights and state. Full BPTT credits the whole chunk; window-1 only the current step. Rows with mismatch are left out: the float shadow has no mismatch.</p>
<table class="rows"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>
${lines.join('\n')}
</tbody></table>`;
}

/** Every row, one line per seed, for the curious (a <details>, closed). */
function perSeedTable(results: SweepResults): string {
  const head = ['method', 'weight bits', 'activity bits', 'rounding', 'sigma', 'mismatch', 'seed', 'status', 'test MSE / zero-output', 'test MSE', 'float / zero-output', 'per epoch (test MSE / zero-output)', 's', 'message'];
  const lines = results.rows.map((r) => {
    const m = r.metrics;
    const cells = [r.method, String(r.point.weightBits), String(r.point.activityBits), r.point.rounding, num(r.point.sigma), num(r.point.mismatch), String(r.seed), r.status,
      num(m?.relTestMse), num(m?.testMse), num(m?.floatRelTestMse), (m?.relTestMseByEpoch ?? []).map((x) => num(x ?? NaN)).join(' '), num(r.seconds), r.message ?? ''];
    return `<tr>${cells.map((c, i) => `<td${i >= 8 && i <= 12 ? ' class="n"' : ''}>${esc(c)}</td>`).join('')}</tr>`;
  });
  return `<details><summary>All ${results.rows.length} rows, one per seed</summary>
<table class="rows small"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>
${lines.join('\n')}
</tbody></table></details>`;
}

function setupList(grid: GridSpec): string {
  const t = grid.task;
  const opts = Object.entries(t.options).map(([k, v]) => `${k} ${Array.isArray(v) ? v.join(',') : String(v)}`).join(', ');
  const items = [
    ['task', `${t.name} (${opts}); data drawn from each row's seed`],
    ['network', `${grid.hidden} hidden ${grid.activation} neurons, Xavier-normal initial weights from the row's seed`],
    ['weight bits', grid.weightBits.join(', ')],
    ['activity bits', `${grid.activityBits.join(', ')} (also inputs, pre-activations and outputs; defaultChipFormats)`],
    ['update rounding', grid.rounding.join(', ')],
    ['noise sigma', `${grid.sigma.join(', ')} (real units, hidden pre-activations and outputs of the noisy copy)`],
    ['mismatch', `${grid.mismatch.join(', ')} (per-neuron gain std, relative, and offset std, real units; drawn from the row's seed)`],
    ['seeds', grid.seeds.join(', ')],
    ['ANP-T', `${grid.anpt.epochs} epochs, step size ${grid.anpt.lr} for W, R and V, ${grid.anpt.schedule} schedule, ${grid.anpt.chunk === 1 ? 'online (one update per step)' : `chunks of ${grid.anpt.chunk} steps`}`],
    ['BPTT', `${grid.bptt.epochs} epochs, ${grid.bptt.optimizer}, step size ${grid.bptt.lr}, window ${grid.bptt.window}`],
    ['gradient diagnostic', grid.diagnostics.samples > 0 ? `${grid.diagnostics.samples} noise draws, ${grid.diagnostics.steps}-step chunk after a ${grid.diagnostics.warmup}-step clean warm-up` : 'off'],
  ];
  const methods = grid.methods.map((m) => `<li><b>${esc(m)}</b>: ${esc(METHOD_DESCRIPTIONS[m as SweepMethod])}</li>`).join('');
  return `<ul class="methods">${methods}</ul>
<table class="setup"><tbody>${items.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</tbody></table>`;
}

function runsTable(results: SweepResults): string {
  if (!results.runs.length) return '';
  const lines = results.runs.map((r) => `<tr><td>${esc(r.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))}</td><td class="n">${r.rowsRun}</td><td class="n">${r.rowsSkipped}</td><td class="n">${r.rowsFailed}</td><td class="n">${r.wallSeconds.toFixed(1)}</td><td class="n">${r.workers} / ${r.cpus}</td><td class="n">${r.loadAverageStart.map((x) => x.toFixed(2)).join(' ')} → ${r.loadAverageEnd.map((x) => x.toFixed(2)).join(' ')}</td><td><code>${esc(r.command)}</code></td></tr>`);
  return `<table class="rows small"><thead><tr><th>started</th><th>rows run</th><th>rows already done</th><th>failed</th><th>wall s</th><th>workers / cpus</th><th>load average (1, 5, 15 min) start → end</th><th>command</th></tr></thead><tbody>
${lines.join('\n')}
</tbody></table>`;
}

const CSS = `
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem auto; max-width: 1180px; padding: 0 1rem; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
pre.command { background: #f4f4f4; border: 1px solid #ddd; padding: 0.7rem 0.9rem; white-space: pre-wrap; word-break: break-all; font-size: 0.9rem; }
.meta, .note { color: #555; font-size: 0.9rem; }
.warn { color: #b00020; font-weight: 600; }
figure { margin: 1.2rem 0 2rem; }
figure svg { width: 100%; max-width: 1100px; height: auto; border: 1px solid #eee; }
figure .save { font-size: 0.85rem; margin: 0.2rem 0; }
figure .save a, figure .save button { margin-right: 0.6rem; font: inherit; }
figcaption { font-size: 0.9rem; color: #444; max-width: 720px; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.6rem 0; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
thead th { background: #f0f0f0; position: sticky; top: 0; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.good td:nth-child(8) { background: #e8f5e9; }
table.small { font-size: 0.78rem; }
table.setup th { background: #f7f7f7; width: 11rem; }
ul.methods { padding-left: 1.2rem; }
details summary { cursor: pointer; margin: 0.6rem 0; }
`;

/**
 * "Save as PNG" of each figure, the one script of the page (inline, loads nothing): the
 * figure's own SVG drawn onto a canvas at twice its size and downloaded. Written by
 * hand because it is ten lines of standard DOM and a library would have to be inlined.
 */
const SAVE_PNG_SCRIPT = `
for (const b of document.querySelectorAll('button.save-png')) b.addEventListener('click', async () => {
  const svg = b.closest('figure').querySelector('svg');
  const w = svg.viewBox.baseVal.width, h = svg.viewBox.baseVal.height;
  const img = new Image();
  img.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(new XMLSerializer().serializeToString(svg));
  await img.decode();
  const c = document.createElement('canvas');
  c.width = 2 * w; c.height = 2 * h;
  c.getContext('2d').drawImage(img, 0, 0, c.width, c.height);
  const a = document.createElement('a');
  a.href = c.toDataURL('image/png'); a.download = b.dataset.file;
  document.body.append(a); a.click(); a.remove();
});`;

/** Build the page and the plots from the results; pure (the same results give the same page). */
export function buildSweepReport(results: SweepResults): SweepReport {
  const plots = sweepPlots(results);
  const last = results.runs.at(-1);
  const totalWall = results.runs.reduce((s, r) => s + r.wallSeconds, 0);
  const figure = (p: ReportPlot) => `<figure data-plot="${p.kind}">
${p.svg.trim()}
<div class="save">Save: <a href="${esc(p.file)}" download="${esc(p.file)}">SVG</a><button type="button" class="save-png" data-file="${esc(p.file.replace(/\.svg$/, '.png'))}">PNG</button></div>
<figcaption>${esc(p.caption)} Standalone: <a href="${esc(p.file)}">${esc(p.file)}</a>.</figcaption>
</figure>`;
  const lossFigures = plots.filter((p) => p.kind !== 'cosine').map(figure).join('\n');
  const cosineFigures = plots.filter((p) => p.kind === 'cosine').map(figure).join('\n');
  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>anpt sweep: quantisation, noise and mismatch robustness</title>
<link rel="icon" href="data:,">
<style>${CSS}</style>
</head>
<body>
<h1>Quantisation, noise and mismatch robustness</h1>
<p class="meta">anpt sweep report · ${results.rows.length} rows · generated from results.json${last ? ` · anpt ${esc(last.anptVersion)}, node ${esc(last.node)}` : ''}</p>
<p>Made by this command (run it again on the same directory to resume or to rebuild; <code>anpt report DIR</code> rebuilds only this page):</p>
<pre class="command">${esc(results.command)}</pre>
${last ? `<p class="meta">Sweep time ${totalWall.toFixed(1)} s over ${results.runs.length} run${results.runs.length > 1 ? 's' : ''}, ${last.workers} worker thread${last.workers === 1 ? '' : 's'} on ${last.cpus} CPUs; load average at the start of the last run ${last.loadAverageStart.map((x) => x.toFixed(2)).join(', ')} (1, 5, 15 min).</p>` : ''}
<h2>Setup</h2>
${setupList(results.grid)}
<h2>Test loss</h2>
${lossFigures}
<h2>All rows</h2>
${allRowsTable(results)}
<h2>Gradient quality per bit width</h2>
${cosineFigures}
${cosineTable(results)}
<h2>Runs</h2>
${runsTable(results)}
${perSeedTable(results)}
<script>${SAVE_PNG_SCRIPT}</script>
</body>
</html>
`;
  return { html, plots };
}

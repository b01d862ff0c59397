/**
 * A small, dependency-free SVG line chart: named series of (x, y) points, optional
 * error bars, linear or log axes, ticks, axis labels, a legend and a title.
 *
 * Every drawn data point is a `<circle class="point">` carrying its values in
 * `data-series`, `data-x` and `data-y`, so a test (or a browser) can check that a plot
 * shows exactly the data it was given. Points that cannot be drawn (NaN, ±Infinity,
 * or y <= 0 on a log axis) are left out of the plot and reported: in the returned
 * chart's `skipped` list, in the root element's `data-skipped` count and as a visible
 * note under the plot. A series' line is broken at a skipped point.
 */

export interface ChartPoint {
  x: number;
  y: number;
  /** Lower end of the error bar, in y units (e.g. min over seeds, or mean - std). */
  low?: number;
  /** Upper end of the error bar, in y units (e.g. max over seeds, or mean + std). */
  high?: number;
}

export interface ChartSeries {
  /** Shown in the legend and in each point's data-series attribute. */
  name: string;
  points: ChartPoint[];
  /** Any SVG colour; default from a colour-blind-safe palette (Okabe-Ito), by series index. */
  color?: string;
  /** Dashed line (e.g. a reference level or a baseline). */
  dashed?: boolean;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  /** Log10 axes; non-positive values are skipped on a log axis. */
  logX?: boolean;
  logY?: boolean;
  /** Fixed axis ranges (data outside is still drawn, clipped to the plot area); default from the data. */
  xRange?: [number, number];
  yRange?: [number, number];
  /** Outer size in px (default 640 x 400). */
  width?: number;
  height?: number;
}

export interface SkippedPoint {
  series: string;
  /** Index of the point in its series. */
  index: number;
  x: number;
  y: number;
  reason: 'not finite' | 'not positive on a log axis';
}

export interface Chart {
  svg: string;
  skipped: SkippedPoint[];
}

/** Okabe-Ito colours, distinguishable with the common colour-vision deficiencies. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

/** Escape text for XML element content and attribute values. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A short, readable label for a tick value: 0.001 -> 1e-3, 12000 -> 1.2e4, 0.25 -> 0.25. */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e-2 && a < 1e4) return String(Number(v.toPrecision(4)));
  const [m, e] = v.toExponential(2).split('e');
  return `${String(Number(m))}e${Number(e)}`;
}

/** One axis: maps data values to pixels between p0 and p1 (p1 may be < p0 for y). */
interface Axis {
  log: boolean;
  min: number;
  max: number;
  ticks: number[];
  toPx(v: number): number;
}

/** "Nice" linear ticks (steps of 1, 2 or 5 x 10^k) covering [min, max]; integer steps only when `integers`. */
function niceTicks(min: number, max: number, target: number, integers: boolean): { min: number; max: number; ticks: number[] } {
  const raw = (max - min) / Math.max(1, target);
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  if (integers) step = Math.max(1, Math.round(step));
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let k = 0; lo + k * step <= hi + step * 1e-9; k++) ticks.push(Number((lo + k * step).toPrecision(12)));
  return { min: lo, max: hi, ticks };
}

/** Log ticks at powers of ten, with 2 and 5 in between when the range spans fewer than 3 decades. */
function logTicks(min: number, max: number): { min: number; max: number; ticks: number[] } {
  const e0 = Math.floor(Math.log10(min) + 1e-9);
  const e1 = Math.ceil(Math.log10(max) - 1e-9);
  const span = Math.max(1, e1 - e0);
  const mults = span < 3 ? [1, 2, 5] : [1];
  const every = Math.ceil(span / 8); // at most ~8 decade labels
  const ticks: number[] = [];
  for (let e = e0; e <= e1; e++) {
    if ((e - e0) % every !== 0) continue;
    for (const m of mults) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (v >= 10 ** e0 && v <= 10 ** e1) ticks.push(v);
    }
  }
  return { min: 10 ** e0, max: 10 ** e1, ticks };
}

function makeAxis(values: number[], log: boolean, fixed: [number, number] | undefined, p0: number, p1: number, integers: boolean): Axis {
  let lo: number, hi: number;
  if (fixed) [lo, hi] = fixed;
  else if (values.length === 0) [lo, hi] = log ? [1, 10] : [0, 1];
  else {
    lo = Infinity;
    hi = -Infinity;
    for (const v of values) {
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (!(hi > lo)) {
    // a single value: widen around it
    if (log) [lo, hi] = [lo / 10 ** 0.5, hi * 10 ** 0.5];
    else {
      const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
      [lo, hi] = [lo - pad, hi + pad];
    }
  }
  const r = log ? logTicks(lo, hi) : niceTicks(lo, hi, 6, integers);
  const [min, max] = fixed ?? [r.min, r.max];
  const f = (v: number) => (log ? Math.log10(v) : v);
  const a = f(min), b = f(max);
  return {
    log, min, max,
    ticks: r.ticks.filter((t) => t >= min - 1e-12 * Math.abs(min) && t <= max + 1e-12 * Math.abs(max)),
    toPx: (v: number) => p0 + ((f(v) - a) / (b - a)) * (p1 - p0),
  };
}

const fmt = (px: number) => String(Math.round(px * 100) / 100);

/** FNV-1a hash of a string, 8 hex digits: a stable id, so several charts can share one HTML page. */
function hashId(s: string): string {
  let h = 0x811c9dc5;
  for (let k = 0; k < s.length; k++) h = Math.imul(h ^ s.charCodeAt(k), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** Drawable on this axis kind: finite, and > 0 on a log axis. */
function drawable(v: number, log: boolean): boolean {
  return Number.isFinite(v) && (!log || v > 0);
}

/**
 * Render a line chart; see the file comment. Pure: the same spec gives the same string.
 * Returns the SVG document and the points that could not be drawn.
 */
export function renderLineChart(spec: ChartSpec): Chart {
  const width = spec.width ?? 640, height = spec.height ?? 400;
  const logX = spec.logX ?? false, logY = spec.logY ?? false;
  const skipped: SkippedPoint[] = [];
  const kept = spec.series.map((s) =>
    s.points.map((p, index) => {
      const finite = Number.isFinite(p.x) && Number.isFinite(p.y);
      const ok = finite && drawable(p.x, logX) && drawable(p.y, logY);
      if (!ok) skipped.push({ series: s.name, index, x: p.x, y: p.y, reason: finite ? 'not positive on a log axis' : 'not finite' });
      return ok ? p : null;
    }),
  );
  const xs: number[] = [], ys: number[] = [];
  for (const pts of kept)
    for (const p of pts) {
      if (!p) continue;
      xs.push(p.x);
      ys.push(p.y);
      for (const e of [p.low, p.high]) if (e !== undefined && drawable(e, logY)) ys.push(e);
    }

  // Layout: title on top, legend at the right, axis labels left and bottom.
  const legendWidth = spec.series.length ? 36 + 7 * Math.max(...spec.series.map((s) => s.name.length)) : 0;
  const left = 72, right = width - 16 - legendWidth, top = 40, bottom = height - 56 - (skipped.length ? 18 : 0);
  const integersX = xs.length > 0 && xs.every(Number.isInteger) && !logX;
  const ax = makeAxis(xs, logX, spec.xRange, left, right, integersX);
  const ay = makeAxis(ys, logY, spec.yRange, bottom, top, false);

  const clipId = `plot-area-${hashId(JSON.stringify(spec))}`;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" data-skipped="${skipped.length}" ${FONT} font-size="12">`);
  out.push(`<title>${escapeXml(spec.title)}</title>`);
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text class="title" x="${fmt(width / 2)}" y="22" text-anchor="middle" font-size="15" font-weight="600">${escapeXml(spec.title)}</text>`);
  out.push(`<defs><clipPath id="${clipId}"><rect x="${left}" y="${top}" width="${fmt(right - left)}" height="${fmt(bottom - top)}"/></clipPath></defs>`);

  // grid, ticks and tick labels
  out.push('<g class="axes" stroke="#000000" fill="#000000">');
  for (const t of ax.ticks) {
    const x = fmt(ax.toPx(t));
    out.push(`<line class="grid" x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="#e5e5e5" stroke-width="1"/>`);
    out.push(`<line x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 5}" stroke-width="1"/>`);
    out.push(`<text class="tick x" x="${x}" y="${bottom + 18}" text-anchor="middle" stroke="none">${escapeXml(formatTick(t))}</text>`);
  }
  for (const t of ay.ticks) {
    const y = fmt(ay.toPx(t));
    out.push(`<line class="grid" x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#e5e5e5" stroke-width="1"/>`);
    out.push(`<line x1="${left - 5}" y1="${y}" x2="${left}" y2="${y}" stroke-width="1"/>`);
    out.push(`<text class="tick y" x="${left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle" stroke="none">${escapeXml(formatTick(t))}</text>`);
  }
  out.push(`<rect x="${left}" y="${top}" width="${fmt(right - left)}" height="${fmt(bottom - top)}" fill="none" stroke-width="1"/>`);
  out.push('</g>');
  out.push(`<text class="label x" x="${fmt((left + right) / 2)}" y="${bottom + 38}" text-anchor="middle">${escapeXml(spec.xLabel + (logX ? ' (log scale)' : ''))}</text>`);
  out.push(`<text class="label y" transform="translate(16 ${fmt((top + bottom) / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel + (logY ? ' (log scale)' : ''))}</text>`);

  // series: line (broken at skipped points), error bars, points
  spec.series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length];
    const pts = kept[k];
    out.push(`<g class="series" data-series="${escapeXml(s.name)}" clip-path="url(#${clipId})">`);
    let d = '', pen = 'M';
    for (const p of pts) {
      if (!p) {
        pen = 'M';
        continue;
      }
      d += `${pen}${fmt(ax.toPx(p.x))} ${fmt(ay.toPx(p.y))} `;
      pen = 'L';
    }
    if (d) out.push(`<path class="line" d="${d.trim()}" fill="none" stroke="${escapeXml(color)}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    for (const p of pts) {
      if (!p || (p.low === undefined && p.high === undefined)) continue;
      const lo = p.low !== undefined && drawable(p.low, logY) ? p.low : logY ? ay.min : p.y;
      const hi = p.high !== undefined && Number.isFinite(p.high) ? p.high : p.y;
      const x = fmt(ax.toPx(p.x)), y0 = fmt(ay.toPx(lo)), y1 = fmt(ay.toPx(hi));
      const cx = ax.toPx(p.x);
      out.push(`<path class="errorbar" d="M${x} ${y0} L${x} ${y1} M${fmt(cx - 4)} ${y0} L${fmt(cx + 4)} ${y0} M${fmt(cx - 4)} ${y1} L${fmt(cx + 4)} ${y1}" stroke="${escapeXml(color)}" stroke-width="1.2" fill="none"/>`);
    }
    out.push('</g>');
    // points are not clipped: a marker on the axis line stays whole
    out.push(`<g class="points" data-series="${escapeXml(s.name)}">`);
    for (const p of pts) {
      if (!p) continue;
      const extra = (p.low !== undefined ? ` data-low="${p.low}"` : '') + (p.high !== undefined ? ` data-high="${p.high}"` : '');
      out.push(`<circle class="point" cx="${fmt(ax.toPx(p.x))}" cy="${fmt(ay.toPx(p.y))}" r="3" fill="${escapeXml(color)}" data-series="${escapeXml(s.name)}" data-x="${p.x}" data-y="${p.y}"${extra}/>`);
    }
    out.push('</g>');
  });

  // legend
  out.push('<g class="legend">');
  spec.series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length];
    const y = top + 10 + 20 * k, x = right + 14;
    out.push(`<line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${escapeXml(color)}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${x + 28}" y="${y}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  out.push('</g>');

  if (skipped.length) {
    const first = skipped.slice(0, 3).map((p) => `${p.series} x=${p.x} y=${p.y}`).join('; ');
    const note = `${skipped.length} point${skipped.length > 1 ? 's' : ''} not drawn (NaN, infinite${logY || logX ? ' or not positive on a log axis' : ''}): ${first}${skipped.length > 3 ? '; ...' : ''}`;
    out.push(`<text class="skipped" x="${left}" y="${height - 8}" fill="#b00020">${escapeXml(note)}</text>`);
  }
  out.push('</svg>');
  return { svg: out.join('\n') + '\n', skipped };
}

/** The SVG document of renderLineChart (use renderLineChart to also get the skipped points). */
export function lineChart(spec: ChartSpec): string {
  return renderLineChart(spec).svg;
}

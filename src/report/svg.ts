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
 *
 * Series differ by more than colour: each has its own marker shape (circle, square,
 * triangle, diamond, ...) and line dash, by index. Series with error bars are set
 * side by side a few pixels apart at the same x, so their bars do not cover each other,
 * and a bar whose lower end cannot be drawn on a log axis is drawn upwards only (not
 * down to the axis). Each point has a tooltip (an SVG <title>: its exact value, or the
 * point's own `tooltip`). Reference lines (e.g. y = 1) are dashed grey with a label.
 * Tick labels of an axis share one style: all plain decimals, or all m e k.
 */

export interface ChartPoint {
  x: number;
  y: number;
  /** Lower end of the error bar, in y units (e.g. min over seeds, or mean - std). */
  low?: number;
  /** Upper end of the error bar, in y units (e.g. max over seeds, or mean + std). */
  high?: number;
  /** Tooltip text (default: series, x and y). */
  tooltip?: string;
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
  /** Horizontal reference lines, e.g. { y: 1, label: 'zero output' }; the y range includes them. */
  refLines?: { y: number; label: string }[];
  /** Marker size in px (default 3.5); small for long series such as a time series. */
  pointRadius?: number;
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
  return expTick(v);
}

function expTick(v: number): string {
  if (v === 0) return '0';
  const [m, e] = v.toExponential(2).split('e');
  return Number(e) === 0 ? String(Number(m)) : `${String(Number(m))}e${Number(e)}`;
}

/** Labels of one axis in one style: plain when every tick reads well that way, else all m e k (0.05 and 5e-3 never side by side). */
export function formatTicks(ticks: number[]): string[] {
  const plain = ticks.every((v) => v === 0 || (Math.abs(v) >= 1e-2 && Math.abs(v) < 1e4));
  return ticks.map(plain ? formatTick : expTick);
}

/** Marker shapes, by series index: the first is the circle itself. */
const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'triangle-down', 'cross'] as const;
/** Line dashes, by series index (a series' own `dashed` is the second). */
const DASHES = ['', '6 4', '2 3', '8 3 2 3', '12 4', '4 2 1 2'];

function markerPath(shape: (typeof MARKERS)[number], x: number, y: number, r: number): string {
  const p = (dx: number, dy: number) => `${fmt(x + dx)} ${fmt(y + dy)}`;
  switch (shape) {
    case 'square': return `M${p(-r, -r)} L${p(r, -r)} L${p(r, r)} L${p(-r, r)} Z`;
    case 'triangle': return `M${p(0, -1.2 * r)} L${p(1.1 * r, r)} L${p(-1.1 * r, r)} Z`;
    case 'triangle-down': return `M${p(0, 1.2 * r)} L${p(1.1 * r, -r)} L${p(-1.1 * r, -r)} Z`;
    case 'diamond': return `M${p(0, -1.3 * r)} L${p(1.3 * r, 0)} L${p(0, 1.3 * r)} L${p(-1.3 * r, 0)} Z`;
    default: return `M${p(-r, -r)} L${p(r, r)} M${p(-r, r)} L${p(r, -r)}`;
  }
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
  for (const r of spec.refLines ?? []) if (drawable(r.y, logY)) ys.push(r.y);

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
  const xLabels = formatTicks(ax.ticks), yLabels = formatTicks(ay.ticks);
  for (const [i, t] of ax.ticks.entries()) {
    const x = fmt(ax.toPx(t));
    out.push(`<line class="grid" x1="${x}" y1="${top}" x2="${x}" y2="${bottom}" stroke="#e5e5e5" stroke-width="1"/>`);
    out.push(`<line x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 5}" stroke-width="1"/>`);
    out.push(`<text class="tick x" x="${x}" y="${bottom + 18}" text-anchor="middle" stroke="none">${escapeXml(xLabels[i])}</text>`);
  }
  for (const [i, t] of ay.ticks.entries()) {
    const y = fmt(ay.toPx(t));
    out.push(`<line class="grid" x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#e5e5e5" stroke-width="1"/>`);
    out.push(`<line x1="${left - 5}" y1="${y}" x2="${left}" y2="${y}" stroke-width="1"/>`);
    out.push(`<text class="tick y" x="${left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle" stroke="none">${escapeXml(yLabels[i])}</text>`);
  }
  out.push(`<rect x="${left}" y="${top}" width="${fmt(right - left)}" height="${fmt(bottom - top)}" fill="none" stroke-width="1"/>`);
  out.push('</g>');
  out.push(`<text class="label x" x="${fmt((left + right) / 2)}" y="${bottom + 38}" text-anchor="middle">${escapeXml(spec.xLabel + (logX ? ' (log scale)' : ''))}</text>`);
  out.push(`<text class="label y" transform="translate(16 ${fmt((top + bottom) / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel + (logY ? ' (log scale)' : ''))}</text>`);

  // reference lines, under the data
  for (const r of spec.refLines ?? []) {
    if (!drawable(r.y, logY)) continue;
    const y = fmt(ay.toPx(r.y));
    out.push(`<g class="refline" data-y="${r.y}"><line x1="${left}" y1="${y}" x2="${fmt(right)}" y2="${y}" stroke="#555555" stroke-width="1.2" stroke-dasharray="4 3"/>`
      + `<text x="${fmt(right - 4)}" y="${fmt(Number(y) - 5)}" text-anchor="end" fill="#555555" font-size="11">${escapeXml(r.label)}</text></g>`);
  }

  // series: line (broken at skipped points), error bars, points; series with bars set side by side
  const barred = spec.series.map((s) => s.points.some((p) => p.low !== undefined || p.high !== undefined));
  const nBarred = barred.filter(Boolean).length;
  const radius = spec.pointRadius ?? 3.5;
  let barIndex = 0;
  spec.series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length];
    const pts = kept[k];
    const dodge = barred[k] && nBarred > 1 ? (barIndex++ - (nBarred - 1) / 2) * 5 : 0;
    const px = (x: number) => ax.toPx(x) + dodge;
    const dash = s.dashed ? DASHES[1] : DASHES[k % DASHES.length];
    const shape = MARKERS[k % MARKERS.length];
    out.push(`<g class="series" data-series="${escapeXml(s.name)}" clip-path="url(#${clipId})">`);
    let d = '', pen = 'M';
    for (const p of pts) {
      if (!p) {
        pen = 'M';
        continue;
      }
      d += `${pen}${fmt(px(p.x))} ${fmt(ay.toPx(p.y))} `;
      pen = 'L';
    }
    if (d) out.push(`<path class="line" d="${d.trim()}" fill="none" stroke="${escapeXml(color)}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    for (const p of pts) {
      if (!p || (p.low === undefined && p.high === undefined)) continue;
      // a lower end that a log axis cannot show: the bar goes up only, with no cap at the bottom
      const lowOk = p.low !== undefined && drawable(p.low, logY);
      const lo = lowOk ? p.low! : p.y;
      const hi = p.high !== undefined && Number.isFinite(p.high) ? p.high : p.y;
      const cx = px(p.x), x = fmt(cx), y0 = fmt(ay.toPx(lo)), y1 = fmt(ay.toPx(hi));
      const caps = `${lowOk ? ` M${fmt(cx - 3)} ${y0} L${fmt(cx + 3)} ${y0}` : ''} M${fmt(cx - 3)} ${y1} L${fmt(cx + 3)} ${y1}`;
      out.push(`<path class="errorbar" d="M${x} ${y0} L${x} ${y1}${caps}" stroke="${escapeXml(color)}" stroke-width="1.2" fill="none"/>`);
    }
    out.push('</g>');
    // points are not clipped: a marker on the axis line stays whole
    out.push(`<g class="points" data-series="${escapeXml(s.name)}">`);
    for (const p of pts) {
      if (!p) continue;
      const extra = (p.low !== undefined ? ` data-low="${p.low}"` : '') + (p.high !== undefined ? ` data-high="${p.high}"` : '');
      const cx = px(p.x), cy = ay.toPx(p.y);
      const tip = `<title>${escapeXml(p.tooltip ?? `${s.name}: x ${p.x}, y ${p.y}`)}</title>`;
      // the circle carries the data and the tooltip; other shapes are drawn over a transparent one
      const look = shape === 'circle' ? `fill="${escapeXml(color)}"` : 'fill="#ffffff" fill-opacity="0" pointer-events="all"';
      out.push(`<circle class="point" cx="${fmt(cx)}" cy="${fmt(cy)}" r="${fmt(shape === 'circle' ? radius : radius * 1.4)}" ${look} data-series="${escapeXml(s.name)}" data-x="${p.x}" data-y="${p.y}"${extra}>${tip}</circle>`);
      if (shape !== 'circle')
        out.push(`<path class="marker" data-marker="${shape}" d="${markerPath(shape, cx, cy, radius * 0.9)}" ${shape === 'cross' ? `stroke="${escapeXml(color)}" stroke-width="1.6" fill="none"` : `fill="${escapeXml(color)}"`} pointer-events="none"/>`);
    }
    out.push('</g>');
  });

  // legend
  out.push('<g class="legend">');
  spec.series.forEach((s, k) => {
    const color = s.color ?? PALETTE[k % PALETTE.length];
    const y = top + 10 + 20 * k, x = right + 14;
    const dash = s.dashed ? DASHES[1] : DASHES[k % DASHES.length];
    const shape = MARKERS[k % MARKERS.length];
    out.push(`<line x1="${x}" y1="${y}" x2="${x + 22}" y2="${y}" stroke="${escapeXml(color)}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ''}/>`);
    out.push(shape === 'circle' ? `<circle cx="${x + 11}" cy="${y}" r="3.5" fill="${escapeXml(color)}"/>`
      : `<path d="${markerPath(shape, x + 11, y, 3.2)}" ${shape === 'cross' ? `stroke="${escapeXml(color)}" stroke-width="1.6" fill="none"` : `fill="${escapeXml(color)}"`}/>`);
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

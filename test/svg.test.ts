import { describe, expect, it } from 'vitest';
import { formatTick, lineChart, renderLineChart, type ChartSpec } from '../src/report/svg.js';

/**
 * A small well-formedness check: every tag closes in order, attributes are quoted,
 * text has no raw '<' and only known entities after '&'. Returns the element names seen.
 */
function checkXml(doc: string): string[] {
  const names: string[] = [];
  const stack: string[] = [];
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = doc.indexOf('<');
  expect(doc.slice(0, i).trim()).toBe('');
  while (i < doc.length) {
    if (doc[i] === '<') {
      tag.lastIndex = i;
      const m = tag.exec(doc);
      if (!m) throw new Error(`malformed tag at ${i}: ${doc.slice(i, i + 60)}`);
      const [whole, close, name, , self] = m;
      if (close) {
        const open = stack.pop();
        if (open !== name) throw new Error(`</${name}> closes <${open}>`);
      } else {
        names.push(name);
        if (!self) stack.push(name);
      }
      for (const amp of whole.matchAll(/&([^;\s]*);?/g)) expect(['amp', 'lt', 'gt', 'quot', 'apos']).toContain(amp[1]);
      i += whole.length;
    } else {
      const next = doc.indexOf('<', i);
      const text = doc.slice(i, next === -1 ? doc.length : next);
      for (const amp of text.matchAll(/&([^;\s]*);?/g)) expect(['amp', 'lt', 'gt', 'quot', 'apos']).toContain(amp[1]);
      if (next === -1) {
        expect(text.trim()).toBe('');
        break;
      }
      i = next;
    }
  }
  expect(stack).toEqual([]);
  return names;
}

/** The data points of a chart: series, x, y and pixel position of every circle.point. */
function points(doc: string): { series: string; x: string; y: string; cx: number; cy: number }[] {
  return [...doc.matchAll(/<circle class="point" cx="([^"]+)" cy="([^"]+)"[^>]*data-series="([^"]*)" data-x="([^"]*)" data-y="([^"]*)"/g)].map((m) => ({
    cx: Number(m[1]), cy: Number(m[2]), series: m[3], x: m[4], y: m[5],
  }));
}

const curves: ChartSpec = {
  title: 'Mackey-Glass <recall-15> & friends',
  xLabel: 'epoch',
  yLabel: 'MSE',
  series: [
    { name: 'train', points: [1, 2, 3, 4].map((x) => ({ x, y: 0.1 / x })) },
    { name: 'test', points: [1, 2, 3, 4].map((x) => ({ x, y: 0.12 / x, low: 0.1 / x, high: 0.14 / x })) },
    { name: 'zero output', points: [{ x: 1, y: 0.2 }, { x: 4, y: 0.2 }], dashed: true },
  ],
};

describe('lineChart', () => {
  it('is well-formed SVG with a title, axis labels, legend and one point element per data point', () => {
    const doc = lineChart(curves);
    const names = checkXml(doc);
    expect(names[0]).toBe('svg');
    expect(doc).toContain('xmlns="http://www.w3.org/2000/svg"');
    expect(doc).toContain('Mackey-Glass &lt;recall-15&gt; &amp; friends');
    expect(doc).toMatch(/class="label x"[^>]*>epoch</);
    expect(doc).toMatch(/class="label y"[^>]*>MSE</);
    for (const s of ['train', 'test', 'zero output']) expect(doc).toMatch(new RegExp(`<g class="legend">[\\s\\S]*>${s}</text>`));
    const pts = points(doc);
    expect(pts).toHaveLength(10);
    expect(pts.filter((p) => p.series === 'test').map((p) => [Number(p.x), Number(p.y)])).toEqual([1, 2, 3, 4].map((x) => [x, 0.12 / x]));
    expect(doc.match(/class="errorbar"/g)).toHaveLength(4);
    expect(doc.match(/stroke-dasharray/g)!.length).toBeGreaterThanOrEqual(2); // line + legend swatch
    expect(doc).toContain('data-skipped="0"');
    // integer x values get integer ticks only
    const xTicks = [...doc.matchAll(/class="tick x"[^>]*>([^<]*)</g)].map((m) => Number(m[1]));
    expect(xTicks.every(Number.isInteger)).toBe(true);
    expect(lineChart(curves)).toBe(doc); // pure
  });

  it('log y: equal ratios are equal pixel distances, ticks at powers of ten', () => {
    const doc = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', logY: true, series: [{ name: 's', points: [0, 1, 2, 3].map((k) => ({ x: k, y: 10 ** -k })) }] });
    checkXml(doc);
    const cy = points(doc).map((p) => p.cy);
    const gaps = cy.slice(1).map((y, k) => y - cy[k]);
    for (const g of gaps) expect(g).toBeCloseTo(gaps[0], 1);
    expect(gaps[0]).toBeGreaterThan(0); // smaller values lower on the page
    const yTicks = [...doc.matchAll(/class="tick y"[^>]*>([^<]*)</g)].map((m) => m[1]);
    // one style per axis: never 0.01 next to 1e-3
    expect(yTicks).toEqual(expect.arrayContaining(['1e-3', '1e-2', '1e-1', '1']));
    expect(yTicks.some((t) => t.startsWith('0.'))).toBe(false);
    expect(doc).toContain('y (log scale)');
  });

  it('skips and reports NaN, Infinity and (on a log axis) non-positive points, breaking the line there', () => {
    const spec: ChartSpec = {
      title: 't', xLabel: 'x', yLabel: 'y', logY: true,
      series: [
        { name: 'a', points: [{ x: 1, y: 1 }, { x: 2, y: NaN }, { x: 3, y: 0.5 }, { x: 4, y: Infinity }, { x: 5, y: 0.2 }] },
        { name: 'b', points: [{ x: 1, y: 0 }, { x: NaN, y: 1 }, { x: 3, y: 2 }] },
      ],
    };
    const { svg, skipped } = renderLineChart(spec);
    checkXml(svg);
    expect(skipped.map((p) => [p.series, p.index, p.reason])).toEqual([
      ['a', 1, 'not finite'], ['a', 3, 'not finite'], ['b', 0, 'not positive on a log axis'], ['b', 1, 'not finite'],
    ]);
    expect(points(svg)).toHaveLength(4);
    expect(svg).not.toMatch(/NaN"|Infinity"/); // no broken coordinates
    expect(svg).toContain('data-skipped="4"');
    expect(svg).toMatch(/class="skipped"[^>]*>4 points not drawn/);
    const line = /data-series="a"[^>]*>\s*<path class="line" d="([^"]+)"/.exec(svg)![1];
    expect(line.match(/M/g)).toHaveLength(3); // three separate runs: 1 | 3 | 5
  });

  it('draws axes without data, and a single point', () => {
    checkXml(lineChart({ title: 'empty', xLabel: 'x', yLabel: 'y', series: [] }));
    const one = lineChart({ title: 'one', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [{ x: 2, y: 3 }] }] });
    checkXml(one);
    const [p] = points(one);
    expect(p.cx).toBeGreaterThan(0);
    expect(p.cy).toBeGreaterThan(0);
  });

  it('formats tick labels compactly', () => {
    expect([0, 0.001, 0.25, 1, 12000, -3e-5, 2.5e-3].map(formatTick)).toEqual(['0', '1e-3', '0.25', '1', '1.2e4', '-3e-5', '2.5e-3']);
  });
});

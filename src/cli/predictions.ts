/**
 * What `anpt predict` writes and what `anpt eval` and `predict` report: the network's
 * outputs against the targets, in the data's own units (de-normalised with the run's
 * saved min/max), as a CSV and as an SVG plot, and the error as MSE, RMSE and NRMSE in
 * both the normalised and the data units.
 *
 * NRMSE = sqrt(MSE / var(target)): 1 is the error of always answering the target's
 * mean, 0 a perfect fit; it is the same number in both units for a single output.
 */
import type { SequenceSet, Task } from '../tasks/types.js';
import { WEATHER_TARGET } from '../tasks/index.js';
import { lineChart } from '../report/svg.js';
import type { TaskSpec } from './task-options.js';

export interface ErrorScores {
  mse: number;
  rmse: number;
  /** sqrt(MSE / var(target)). */
  nrmse: number;
}

/** MSE, RMSE and NRMSE of outputs against targets (same layout, any units). */
export function errorScores(outputs: Float64Array, targets: Float64Array): ErrorScores {
  let se = 0, sum = 0;
  for (let k = 0; k < targets.length; k++) {
    const d = outputs[k] - targets[k];
    se += d * d;
    sum += targets[k];
  }
  const n = targets.length;
  const mean = sum / n;
  let v = 0;
  for (const y of targets) v += (y - mean) ** 2;
  const mse = se / n;
  const variance = v / n;
  return { mse, rmse: Math.sqrt(mse), nrmse: variance > 0 ? Math.sqrt(mse / variance) : NaN };
}

/** Names of the task's outputs: the CSV target columns, the weather target, else y0, y1, ... */
export function outputNames(spec: TaskSpec, outputs: number): string[] {
  if (spec.name === 'csv') return spec.options.targets as string[];
  if (spec.name === 'weather') return [WEATHER_TARGET];
  return Array.from({ length: outputs }, (_, o) => `y${o}`);
}

/**
 * Map values of output o from normalised to data units: v (max - min) + min with the
 * saved min/max of its column; identity for tasks that are not normalised (Mackey-Glass,
 * copy), whose data units are the normalised ones.
 */
export function denormaliser(names: string[], norm: Task['normalisation']): (v: number, o: number) => number {
  if (!norm) return (v) => v;
  const scale = names.map((n) => {
    const k = norm.columns.indexOf(n);
    return k < 0 ? { lo: 0, span: 1 } : { lo: norm.min[k], span: norm.max[k] - norm.min[k] };
  });
  return (v, o) => v * scale[o].span + scale[o].lo;
}

/** A set's values (T x B x O) in data units. */
export function toDataUnits(values: Float64Array, outputs: number, denorm: (v: number, o: number) => number): Float64Array {
  return values.map((v, k) => denorm(v, k % outputs));
}

/** Errors in normalised and data units. */
export function predictionScores(outputs: Float64Array, set: SequenceSet, denorm: (v: number, o: number) => number): { normalised: ErrorScores; data: ErrorScores } {
  const O = set.outputSize;
  return {
    normalised: errorScores(outputs, set.targets),
    data: errorScores(toDataUnits(outputs, O, denorm), toDataUnits(set.targets, O, denorm)),
  };
}

/** Shortest decimal that survives a round trip, for the CSV. */
const num = (v: number) => (Number.isFinite(v) ? String(v) : '');

/**
 * The CSV: one line per (sequence, step), sequence by sequence; `row` is the data row of
 * the target (0-based, after the header) for table data; then the prediction and the
 * target of each output in data units.
 */
export function predictionsCsv(outputs: Float64Array, set: SequenceSet, names: string[], denorm: (v: number, o: number) => number): string {
  const { steps: T, batch: B, outputSize: O } = set;
  const rows = set.targetRows;
  const head = ['sequence', 'step', ...(rows ? ['row'] : []), ...names.flatMap((n) => [`predicted_${n}`, `target_${n}`])];
  const lines = [head.join(',')];
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      const cells: (string | number)[] = [b, t];
      if (rows) cells.push(rows[t * B + b]);
      for (let o = 0; o < O; o++) {
        const k = (t * B + b) * O + o;
        cells.push(num(denorm(outputs[k], o)), num(denorm(set.targets[k], o)));
      }
      lines.push(cells.join(','));
    }
  return lines.join('\n') + '\n';
}

/** Steps of the plot: enough to see the shape, few enough to tell the two lines apart. */
export const PLOT_STEPS = 300;

/** SVG plot of the first output of the first sequence: prediction and target over the first PLOT_STEPS steps. */
export function predictionChart(title: string, outputs: Float64Array, set: SequenceSet, names: string[], denorm: (v: number, o: number) => number): string {
  const { steps: T, batch: B, outputSize: O } = set;
  const n = Math.min(T, PLOT_STEPS);
  const series = (from: Float64Array) => Array.from({ length: n }, (_, t) => ({ x: t, y: denorm(from[t * B * O], 0) }));
  return lineChart({
    title: `${title}: sequence 0, steps 0-${n - 1} of ${T}`,
    xLabel: 'test step',
    yLabel: names[0],
    series: [
      { name: `target ${names[0]}`, points: series(set.targets), color: '#0072B2' },
      { name: `predicted ${names[0]}`, points: series(outputs), color: '#D55E00', dashed: true },
    ],
    pointRadius: 1.6,
    width: 900,
    height: 400,
  });
}

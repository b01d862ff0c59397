/**
 * Turns numeric table columns into a Task: min-max normalisation from the train rows,
 * a train/test split by row, and each split cut into B contiguous segments.
 * Shared by the weather task and user CSV files.
 */
import { TaskError } from './errors.js';
import type { SequenceSet, Task } from './types.js';

export interface SeriesSpec {
  name: string;
  /** Names of the columns in `data`, in order; also the normalisation record's columns. */
  columns: string[];
  /** One array per column, all the same length (rows in time order). */
  data: Float64Array[];
  /** Indices into `columns` of the inputs and of the targets. */
  inputs: number[];
  targets: number[];
  /** Rows [0, trainRows) are the train split, the rest the test split. */
  trainRows: number;
  batch: number;
  /** Targets are taken `horizon` rows after the inputs (0 = same row). */
  horizon: number;
  /** Names the data in error messages. */
  source: string;
  /**
   * A saved normalisation (a run's weights.json) to use instead of this data's train
   * min/max, so that results on another file are in the run's units. Columns are
   * matched by name; a column it does not list is normalised with this data's rows.
   */
  normalisation?: Task['normalisation'];
}

/**
 * Min and max of each column over the train rows. A constant column gets max = min + 1
 * so it normalises to 0 instead of dividing by zero.
 */
export function trainMinMax(data: Float64Array[], trainRows: number): { min: number[]; max: number[] } {
  const min: number[] = [];
  const max: number[] = [];
  for (const column of data) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let r = 0; r < trainRows; r++) {
      if (column[r] < lo) lo = column[r];
      if (column[r] > hi) hi = column[r];
    }
    min.push(lo);
    max.push(hi > lo ? hi : lo + 1);
  }
  return { min, max };
}

/**
 * Builds one split from rows [start, end): pairs (inputs at row r, targets at row
 * r + horizon) for r in [start, end - horizon), cut into `batch` contiguous segments of
 * T = floor(pairs / batch) steps; the last pairs % batch pairs are dropped.
 */
function splitSet(spec: SeriesSpec, norm: Float64Array[], start: number, end: number, what: string): SequenceSet {
  const { batch, horizon, inputs: inCols, targets: outCols } = spec;
  const pairs = end - start - horizon;
  const steps = Math.floor(pairs / batch);
  if (steps < 1) {
    throw new TaskError(
      'TOO_FEW_ROWS',
      `${spec.source}: the ${what} split has ${end - start} rows but batch ${batch} with horizon ${horizon} needs at least ${batch + horizon}; use more rows or a smaller batch`,
    );
  }
  const I = inCols.length;
  const O = outCols.length;
  const inputs = new Float64Array(steps * batch * I);
  const targets = new Float64Array(steps * batch * O);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < steps; t++) {
      const r = start + b * steps + t;
      for (let i = 0; i < I; i++) inputs[(t * batch + b) * I + i] = norm[inCols[i]][r];
      for (let o = 0; o < O; o++) targets[(t * batch + b) * O + o] = norm[outCols[o]][r + horizon];
    }
  }
  const targetRows = new Int32Array(steps * batch);
  for (let t = 0; t < steps; t++) for (let b = 0; b < batch; b++) targetRows[t * batch + b] = start + b * steps + t + horizon;
  return { steps, batch, inputSize: I, outputSize: O, inputs, targets, targetRows };
}

/** The Task for a normalised, split and segmented multi-column series. */
export function seriesTask(spec: SeriesSpec): Task {
  const rows = spec.data[0]?.length ?? 0;
  const { min, max } = trainMinMax(spec.data, spec.trainRows);
  const saved = spec.normalisation;
  if (saved) {
    spec.columns.forEach((c, i) => {
      const k = saved.columns.indexOf(c);
      if (k >= 0) [min[i], max[i]] = [saved.min[k], saved.max[k]];
    });
  }
  const norm = spec.data.map((column, c) => column.map((v) => (v - min[c]) / (max[c] - min[c])));
  return {
    name: spec.name,
    inputSize: spec.inputs.length,
    outputSize: spec.targets.length,
    train: splitSet(spec, norm, 0, spec.trainRows, 'train'),
    test: splitSet(spec, norm, spec.trainRows, rows, 'test'),
    normalisation: { columns: [...spec.columns], min, max },
  };
}

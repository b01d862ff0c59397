/**
 * Data shared by every task. Sequences are stored time-major, [t][b][i], the same
 * layout as a Device run chunk, so a chunk of K steps is a contiguous slice.
 */
export interface SequenceSet {
  /** Steps per sequence, T. */
  steps: number;
  /** Sequences side by side, B. */
  batch: number;
  inputSize: number;
  outputSize: number;
  /** T x B x I, real units. */
  inputs: Float64Array;
  /** T x B x O, real units. */
  targets: Float64Array;
  /** Table data (CSV, weather): the 0-based data row of each step's target, T x B. */
  targetRows?: Int32Array;
}

export interface Task {
  /** e.g. "mackey-glass/recall-15", "copy/len100-delay10", "weather", "csv:file.csv" */
  name: string;
  inputSize: number;
  outputSize: number;
  train: SequenceSet;
  test: SequenceSet;
  /**
   * Extra scores besides MSE for a whole set's outputs (T x B x O), e.g. the copy
   * task's wrong bits and recall accuracy. Absent when MSE is all there is.
   */
  metrics?(outputs: Float64Array, set: SequenceSet): Record<string, number>;
  /** Per-column normalisation applied to the data (CSV, weather), saved with weights. */
  normalisation?: { columns: string[]; min: number[]; max: number[] };
}

/** MSE of one step over the batch and outputs: mean_(b,o) (y - y*)^2. */
export function stepMse(y: Float64Array, yOff: number, target: Float64Array, tOff: number, count: number): number {
  let s = 0;
  for (let k = 0; k < count; k++) {
    const d = y[yOff + k] - target[tOff + k];
    s += d * d;
  }
  return s / count;
}

/** MSE over a whole set's outputs (T x B x O). */
export function setMse(outputs: Float64Array, set: SequenceSet): number {
  return stepMse(outputs, 0, set.targets, 0, set.targets.length);
}

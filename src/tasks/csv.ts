/**
 * Any CSV time series as a task: chosen input columns at row t predict chosen target
 * columns at row t + horizon. Rows are in time order; the first `split` fraction of
 * rows is the train split, the rest the test split.
 */
import { basename } from 'node:path';
import { TaskError, checkInteger } from './errors.js';
import { numericColumns, readCsvFile } from './csv-parse.js';
import { seriesTask } from './series.js';
import type { Task } from './types.js';

export interface CsvOptions {
  /** Path of the CSV file (header row, then one row per time step). */
  file: string;
  /** Input column names, at least one. */
  inputs: string[];
  /** Target column names, at least one; may overlap the inputs. */
  targets: string[];
  /** Fraction of rows (in time order) used for training, in (0, 1); default 0.8. */
  split?: number;
  /** Sequences per split B, default 10. */
  batch?: number;
  /** Rows between inputs and targets, default 1 (predict the next row); 0 allowed. */
  horizon?: number;  /** Use this saved normalisation (weights.json) instead of the file's train min/max. */
  normalisation?: Task['normalisation'];
}

/** Rows in the train split: floor(split * rows), tolerant of float error like 0.57 * 100. */
export function trainRowCount(rows: number, split: number): number {
  return Math.floor(split * rows + 1e-9);
}

/** The fewest rows for which both splits hold at least batch + horizon rows. */
export function minimumRows(split: number, batch: number, horizon: number): number {
  const need = batch + horizon;
  let rows = 2 * need;
  while (trainRowCount(rows, split) < need || rows - trainRowCount(rows, split) < need) rows++;
  return rows;
}

function checkNames(what: string, names: unknown): string[] {
  if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === 'string')) {
    throw new TaskError('BAD_OPTION', `csv ${what} must be a non-empty list of column names`);
  }
  return names as string[];
}

/**
 * Loads a CSV file as a Task named "csv:<file name>". Every used column is min-max
 * normalised to [0, 1] with the min and max of the TRAIN rows only (test values may
 * fall outside [0, 1]); they are returned in `normalisation` with the columns listed
 * as the inputs, then any targets that are not inputs. Each split's (input, target)
 * row pairs are cut into B contiguous segments; the remainder rows are dropped.
 * Throws TaskError for a missing file or column, a non-numeric or empty cell, a bad
 * split or too few rows.
 */
export function csvTask(opts: CsvOptions): Task {
  const inputs = checkNames('inputs', opts.inputs);
  const targets = checkNames('targets', opts.targets);
  const split = opts.split ?? 0.8;
  if (typeof split !== 'number' || !(split > 0 && split < 1)) {
    throw new TaskError('BAD_SPLIT', `csv split must be a fraction in (0, 1), e.g. 0.8, got ${String(split)}`);
  }
  const batch = checkInteger('csv batch', opts.batch ?? 10, 1);
  const horizon = checkInteger('csv horizon', opts.horizon ?? 1, 0);
  if (typeof opts.file !== 'string' || opts.file === '') {
    throw new TaskError('BAD_OPTION', 'csv file must be a path to a CSV file');
  }

  const table = readCsvFile(opts.file);
  const columns = [...new Set([...inputs, ...targets])];
  const data = numericColumns(table, columns);
  const rows = table.rows.length;
  const needed = minimumRows(split, batch, horizon);
  if (rows < needed) {
    throw new TaskError(
      'TOO_FEW_ROWS',
      `data file '${basename(opts.file)}' has ${rows} data rows but split ${split}, batch ${batch} and horizon ${horizon} need at least ${needed}; add rows or lower the batch`,
    );
  }
  return seriesTask({
    name: `csv:${basename(opts.file)}`,
    columns,
    data,
    inputs: inputs.map((c) => columns.indexOf(c)),
    targets: targets.map((c) => columns.indexOf(c)),
    trainRows: trainRowCount(rows, split),
    batch,
    horizon,
    source: `data file '${basename(opts.file)}'`,
    normalisation: opts.normalisation,
  });
}

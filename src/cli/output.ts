/**
 * The run directory. Everything is written into a temporary sibling directory first and
 * renamed to the requested name only when every file is complete, so a failed, stopped
 * or bad-input run never leaves a partial output directory behind.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { EpochRecord } from '../learn/anpt.js';
import { UsageError } from './errors.js';

/** The files of a run directory (run-state.json: a board run under way or stopped, for --resume). */
export const RUN_FILES = ['metrics.csv', 'summary.json', 'weights.json', 'loss.svg', 'config.json', 'predictions.csv', 'predictions.svg', 'run-state.json'];

/**
 * Check, before any work, that `dir` can become the run directory: absent, empty, or
 * (with `force`) an earlier run directory to replace. Throws UsageError otherwise.
 */
export function checkOutDir(dir: string | undefined, force: boolean): string {
  if (dir === undefined || dir === '') throw new UsageError('--out is required: the directory to write the run to (it must not exist yet); e.g. --out runs/mg-1');
  const abs = resolve(dir);
  if (!existsSync(abs)) return abs;
  if (!statSync(abs).isDirectory()) throw new UsageError(`--out: '${dir}' exists and is not a directory; choose another path`);
  const entries = readdirSync(abs);
  if (entries.length === 0) return abs;
  if (!force) throw new UsageError(`--out: '${dir}' exists and is not empty; choose a new directory, or add --force to replace it`);
  // --force replaces an earlier run, never an arbitrary directory (think `--out .`)
  if (!(entries.includes('summary.json') || entries.includes('run-state.json')) || entries.some((e) => !RUN_FILES.includes(e)))
    throw new UsageError(`--out: '${dir}' is not an anpt run directory (it holds files other than ${RUN_FILES.join(', ')}); --force only replaces an earlier run; choose a new directory`);
  return abs;
}

/**
 * Write `files` (name -> content) as directory `dir`, atomically as seen from `dir`:
 * a temporary sibling is filled, then renamed. An existing empty `dir` is replaced;
 * a non-empty one only with `force` (it is removed after the new one is in place).
 */
export function writeRunDir(dir: string, files: Record<string, string>, force: boolean): void {
  const abs = checkOutDir(dir, force);
  const parent = dirname(abs);
  const stamp = `${process.pid}-${Date.now().toString(36)}`;
  const tmp = join(parent, `.${basename(abs)}.tmp-${stamp}`);
  let old: string | undefined;
  try {
    mkdirSync(parent, { recursive: true });
    mkdirSync(tmp);
    for (const [name, content] of Object.entries(files)) writeFileSync(join(tmp, name), content);
    if (existsSync(abs)) {
      old = join(parent, `.${basename(abs)}.old-${stamp}`);
      renameSync(abs, old);
    }
    renameSync(tmp, abs);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    if (old && !existsSync(abs)) renameSync(old, abs); // put the previous run back
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(`--out: cannot write '${dir}' (${e.code ?? e.message}); check that the parent directory is writable`);
  }
  if (old) rmSync(old, { recursive: true, force: true });
}

/** A number for CSV and JSON: finite values as-is, anything else empty / null. */
function cell(v: number | undefined): string {
  return v !== undefined && Number.isFinite(v) ? String(v) : '';
}

/**
 * metrics.csv: one row per epoch (1-based; row 0 is the untrained network, test only),
 * train_loss = mean clean step MSE over the epoch as the weights changed, test_loss =
 * MSE on the test set after the epoch, seconds = wall time of the epoch (evaluation
 * included), then one test_<metric> column per task metric, the diagnostics, and with
 * --rollback validation_loss (before any rollback) and rolled_back (1: the epoch was undone,
 * its test_loss is of the best epoch's weights it went back to).
 */
export function metricsCsv(initialTest: { mse: number; metrics?: Record<string, number> }, epochs: EpochRecord[]): string {
  const names = Object.keys(initialTest.metrics ?? epochs.find((e) => e.metrics)?.metrics ?? {});
  const diag = Object.keys(epochs.find((e) => e.diagnostics)?.diagnostics ?? {});
  const rollback = epochs.some((e) => e.validationMse !== undefined) ? ['validation_loss', 'rolled_back'] : [];
  const rows = [['epoch', 'train_loss', 'test_loss', 'seconds', ...names.map((n) => `test_${n}`), ...diag, ...rollback].join(',')];
  rows.push(['0', '', cell(initialTest.mse), '0', ...names.map((n) => cell(initialTest.metrics?.[n])), ...diag.map(() => ''), ...rollback.map(() => '')].join(','));
  for (const e of epochs)
    rows.push([String(e.epoch + 1), cell(e.trainMse), cell(e.testMse), e.seconds.toFixed(3), ...names.map((n) => cell(e.metrics?.[n])), ...diag.map((n) => cell(e.diagnostics?.[n])),
      ...(rollback.length ? [cell(e.validationMse), e.rolledBack ? '1' : '0'] : [])].join(','));
  return rows.join('\n') + '\n';
}

/** JSON with non-finite numbers as null (JSON has no NaN); one line unless an indent is given. */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), indent);
}

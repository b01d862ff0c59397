/**
 * The results directory of a sweep, and what is in it:
 *
 *   grid.json        the checked grid (every default written out) and the command that made it
 *   results.jsonl    one finished row per line, appended as each row finishes (the resume log)
 *   runs.jsonl       one line per invocation: command, wall time, workers, machine load
 *   float/*.json     float trainings shared by the post-training-quantisation rows
 *   results.json     every row in grid order, the grid and the runs (what the report reads)
 *   results.csv      the same rows, one line each, every configuration field and metric
 *
 * Resume: a row whose key is in results.jsonl with status ok or diverged is done; rows
 * that ended in an error are run again. A kill can leave a half-written last line:
 * it is dropped (and the file repaired) when the directory is opened again.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// whole or not at all, so a kill never leaves half a results.json
import writeFileAtomic from 'write-file-atomic';
import { AnptError } from '../errors.js';
import { canonicalJson, gridRows, type GridPoint, type GridSpec, type RowConfig, type SweepMethod } from './grid.js';
import type { FloatOutcome, RowMetrics } from './methods.js';

/** One finished row: point x seed x method, its full configuration and its numbers. */
export interface SweepRow {
  key: string;
  method: SweepMethod;
  seed: number;
  point: GridPoint;
  config: RowConfig;
  status: 'ok' | 'diverged' | 'error';
  message?: string;
  metrics?: RowMetrics;
  startedAt: string;
  finishedAt: string;
  /** Wall seconds of this row's task on its worker (PTQ: the quantisation and test only). */
  seconds: number;
}

/** One invocation of the sweep command. */
export interface SweepRun {
  command: string;
  startedAt: string;
  finishedAt: string;
  wallSeconds: number;
  rowsRun: number;
  rowsSkipped: number;
  rowsFailed: number;
  workers: number;
  cpus: number;
  /** os.loadavg() (1, 5, 15 min) when the run started and ended: how busy the machine was. */
  loadAverageStart: number[];
  loadAverageEnd: number[];
  anptVersion: string;
  node: string;
}

export interface SweepResults {
  format: 'anpt-sweep-results/1';
  grid: GridSpec;
  /** The command that made the grid (the first run). */
  command: string;
  runs: SweepRun[];
  /** Finished rows, grid order. */
  rows: SweepRow[];
  /** Rows of the grid not finished (or failed) when this file was written. */
  missing: number;
  generatedAt: string;
}

export interface GridFile {
  format: 'anpt-sweep-grid/1';
  grid: GridSpec;
  command: string;
  createdAt: string;
}

export type SweepDirErrorCode = 'SWEEP_DIR';

/** A results directory that cannot be used as asked (another grid, damaged files, not a sweep). */
export class SweepDirError extends AnptError<SweepDirErrorCode> {
  constructor(message: string) {
    super('SWEEP_DIR', message);
  }
}

const GRID_FILE = 'grid.json';
const ROWS_FILE = 'results.jsonl';
const RUNS_FILE = 'runs.jsonl';
const FLOAT_DIR = 'float';

/** Leaves of a JSON value by path (arrays are leaves): {anpt: {epochs: 5}} -> anpt.epochs = 5. */
function leaves(v: unknown, path: string, out: Map<string, string>): Map<string, string> {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) leaves(x, path ? `${path}.${k}` : k, out);
  } else out.set(path, canonicalJson(v));
  return out;
}

/** The grid entries on which two grids differ, with both values: "anpt.epochs: 2 there, 3 here". */
function gridDifferences(here: GridSpec, there: GridSpec): string[] {
  const a = leaves(here, '', new Map()), b = leaves(there, '', new Map());
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  return keys.filter((k) => a.get(k) !== b.get(k)).map((k) => `${k}: ${b.get(k) ?? 'absent'} there, ${a.get(k) ?? 'absent'} here`);
}

/**
 * Read a JSON-lines file of rows. A broken last line (a kill while appending) is
 * dropped and the file truncated to the good lines; a broken line elsewhere is an error.
 */
function readRowLines(path: string): SweepRow[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const parts = text.split('\n'); // the last part is '' when the file ends with a newline
  const lastNonEmpty = parts.reduce((last, p, i) => (p.trim() ? i : last), -1);
  const rows: SweepRow[] = [];
  let good = 0; // characters of complete, readable lines
  for (let i = 0; i < parts.length; i++) {
    const line = parts[i];
    const terminated = i < parts.length - 1;
    if (line.trim() !== '') {
      let row: SweepRow;
      try {
        row = JSON.parse(line) as SweepRow;
        if (typeof row?.key !== 'string') throw new Error('no key');
      } catch {
        if (i !== lastNonEmpty) throw new SweepDirError(`${path}: line ${i + 1} is not a result row; the file was edited or damaged — move it away to start the sweep over`);
        writeFileSync(path, text.slice(0, good)); // a kill while appending: drop the half-written line
        return rows;
      }
      rows.push(row);
    }
    good += line.length + (terminated ? 1 : 0);
    if (!terminated && line.trim() !== '') writeFileSync(path, text + '\n'); // complete row cut before its newline
  }
  return rows;
}

/** The last line per key wins (a failed row that was run again). */
function latestByKey(rows: SweepRow[]): Map<string, SweepRow> {
  const m = new Map<string, SweepRow>();
  for (const r of rows) m.set(r.key, r);
  return m;
}

export interface OpenedDir {
  /** Rows already finished (ok or diverged), by key. */
  done: Map<string, SweepRow>;
  /** Rows of an earlier grid dropped by --force (moved to results.dropped.jsonl). */
  dropped: number;
  /** The command recorded with the grid. */
  command: string;
}

/**
 * Create or reopen a sweep directory for `grid`. Refuses a directory that holds a
 * different grid (unless force: then the new grid is recorded, rows it shares with the
 * old one are kept and the others moved to results.dropped.jsonl), and a non-empty
 * directory that is not a sweep directory.
 */
export function openSweepDir(dir: string, grid: GridSpec, command: string, force: boolean): OpenedDir {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new SweepDirError(`--out ${dir}: exists and is not a directory; choose another --out`);
  mkdirSync(dir, { recursive: true });
  const gridPath = join(dir, GRID_FILE);
  const rowsPath = join(dir, ROWS_FILE);
  const fresh = (): OpenedDir => {
    const file: GridFile = { format: 'anpt-sweep-grid/1', grid, command, createdAt: new Date().toISOString() };
    writeFileAtomic.sync(gridPath, JSON.stringify(file, null, 2) + '\n');
    return { done: new Map(), dropped: 0, command };
  };
  if (!existsSync(gridPath)) {
    const foreign = readdirSync(dir).filter((f) => !f.startsWith('.'));
    if (foreign.length > 0 && !force)
      throw new SweepDirError(`--out ${dir}: the directory is not empty and holds no sweep (no ${GRID_FILE}); use a new directory, or --force to use it anyway`);
    return fresh();
  }
  let old: GridFile;
  try {
    old = JSON.parse(readFileSync(gridPath, 'utf8')) as GridFile;
    if (old.format !== 'anpt-sweep-grid/1' || !old.grid) throw new Error('not a grid file');
  } catch (err) {
    throw new SweepDirError(`${gridPath}: cannot be read as a sweep grid (${err instanceof Error ? err.message : String(err)}); use a new --out directory`);
  }
  const rows = latestByKey(readRowLines(rowsPath));
  const wanted = new Set(gridRows(grid).map((r) => r.key));
  const finished = (r: SweepRow) => r.status === 'ok' || r.status === 'diverged';
  if (canonicalJson(old.grid) === canonicalJson(grid)) {
    const done = new Map([...rows].filter(([k, r]) => wanted.has(k) && finished(r)));
    return { done, dropped: 0, command: old.command };
  }
  if (!force) {
    const diff = gridDifferences(grid, old.grid);
    throw new SweepDirError(`--out ${dir} holds a sweep of a different grid (${diff.join('; ')}); use another --out directory, or --force to switch it to this grid (finished rows this grid shares are kept)`);
  }
  const keep = [...rows.values()].filter((r) => wanted.has(r.key));
  const drop = [...rows.values()].filter((r) => !wanted.has(r.key));
  if (drop.length) appendFileSync(join(dir, 'results.dropped.jsonl'), drop.map((r) => JSON.stringify(r) + '\n').join(''));
  writeFileAtomic.sync(rowsPath, keep.map((r) => JSON.stringify(r) + '\n').join(''));
  fresh();
  return { done: new Map(keep.filter(finished).map((r) => [r.key, r])), dropped: drop.length, command };
}

/** Append one finished row to results.jsonl (one write, one line). */
export function appendRow(dir: string, row: SweepRow): void {
  appendFileSync(join(dir, ROWS_FILE), JSON.stringify(row) + '\n');
}

/** Append the record of one invocation. */
export function appendRun(dir: string, run: SweepRun): void {
  appendFileSync(join(dir, RUNS_FILE), JSON.stringify(run) + '\n');
}

function floatPath(dir: string, key: string): string {
  const job = JSON.parse(key) as { method: string; seed: number };
  const hash = createHash('sha1').update(key).digest('hex').slice(0, 12);
  return join(dir, FLOAT_DIR, `${job.method}-seed${job.seed}-${hash}.json`);
}

/** A float training finished in an earlier run, if any. */
export function readFloatCache(dir: string, key: string): FloatOutcome | undefined {
  const p = floatPath(dir, key);
  if (!existsSync(p)) return undefined;
  try {
    const f = JSON.parse(readFileSync(p, 'utf8')) as FloatOutcome;
    return f.key === key ? f : undefined;
  } catch {
    return undefined; // unreadable: train again
  }
}

export function writeFloatCache(dir: string, f: FloatOutcome): void {
  mkdirSync(join(dir, FLOAT_DIR), { recursive: true });
  writeFileAtomic.sync(floatPath(dir, f.key), JSON.stringify(f) + '\n');
}

/** Collect everything in the directory into SweepResults (rows in grid order). */
export function collectResults(dir: string): SweepResults {
  const gridFile = JSON.parse(readFileSync(join(dir, GRID_FILE), 'utf8')) as GridFile;
  const byKey = latestByKey(readRowLines(join(dir, ROWS_FILE)));
  const all = gridRows(gridFile.grid);
  const rows = all.map((r) => byKey.get(r.key)).filter((r): r is SweepRow => r !== undefined);
  const runsPath = join(dir, RUNS_FILE);
  const runs = existsSync(runsPath)
    ? readFileSync(runsPath, 'utf8').split('\n').filter((l) => l.trim()).flatMap((l) => {
      try {
        return [JSON.parse(l) as SweepRun];
      } catch {
        return [];
      }
    })
    : [];
  const missing = all.length - rows.filter((r) => r.status !== 'error').length;
  return { format: 'anpt-sweep-results/1', grid: gridFile.grid, command: gridFile.command, runs, rows, missing, generatedAt: new Date().toISOString() };
}

/** CSV columns: every configuration field, then every metric. */
const CSV_COLUMNS: [string, (r: SweepRow) => unknown][] = [
  ['method', (r) => r.method],
  ['seed', (r) => r.seed],
  ['task', (r) => r.config.task.name],
  ['taskOptions', (r) => canonicalJson(r.config.task.options)],
  ['hidden', (r) => r.config.hidden],
  ['activation', (r) => r.config.activation],
  ['weightBits', (r) => r.point.weightBits],
  ['activityBits', (r) => r.point.activityBits],
  ['rounding', (r) => r.point.rounding],
  ['sigma', (r) => r.point.sigma],
  ['mismatch', (r) => r.point.mismatch],
  ['weightFormat', (r) => r.metrics?.weightFormat],
  ['epochs', (r) => r.config.anpt?.epochs ?? r.config.bptt?.epochs],
  ['lr', (r) => r.config.anpt?.lr ?? r.config.bptt?.lr],
  ['schedule', (r) => r.config.anpt?.schedule ?? (r.config.bptt ? 'constant' : undefined)],
  ['chunk', (r) => r.config.anpt?.chunk],
  ['bpttWindow', (r) => r.config.bptt?.window],
  ['bpttOptimizer', (r) => r.config.bptt?.optimizer],
  ['diagSamples', (r) => r.config.diagnostics?.samples],
  ['diagSteps', (r) => r.config.diagnostics?.steps],
  ['diagWarmup', (r) => r.config.diagnostics?.warmup],
  ['status', (r) => r.status],
  ['testMse', (r) => r.metrics?.testMse],
  ['zeroMse', (r) => r.metrics?.zeroMse],
  ['relTestMse', (r) => r.metrics?.relTestMse],
  ['testNrmse', (r) => r.metrics?.testNrmse],
  ['floatTestMse', (r) => r.metrics?.floatTestMse],
  ['floatRelTestMse', (r) => r.metrics?.floatRelTestMse],
  ['weightsAtRail', (r) => r.metrics?.weightsAtRail],
  ['trainSeconds', (r) => r.metrics?.trainSeconds],
  ['cosChipFull', (r) => r.metrics?.diagnostic?.chip.all],
  ['cosChipFullW', (r) => r.metrics?.diagnostic?.chip.w],
  ['cosChipFullR', (r) => r.metrics?.diagnostic?.chip.r],
  ['cosChipFullV', (r) => r.metrics?.diagnostic?.chip.v],
  ['cosChipWindow1', (r) => r.metrics?.diagnostic?.chipWindow1],
  ['cosFloatFull', (r) => r.metrics?.diagnostic?.float.all],
  ['cosFloatWindow1', (r) => r.metrics?.diagnostic?.floatWindow1],
  ['zeroUpdateFraction', (r) => r.metrics?.diagnostic?.zeroUpdateFraction],
  ['seconds', (r) => r.seconds],
  ['startedAt', (r) => r.startedAt],
  ['finishedAt', (r) => r.finishedAt],
  ['message', (r) => r.message ?? r.metrics?.trainMessage],
];

function csvField(v: unknown): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : String(v)) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** results.csv: a header and one line per row. */
export function resultsCsv(rows: SweepRow[]): string {
  const lines = [CSV_COLUMNS.map(([name]) => name).join(',')];
  for (const r of rows) lines.push(CSV_COLUMNS.map(([, get]) => csvField(get(r))).join(','));
  return lines.join('\n') + '\n';
}

/** Write results.json and results.csv. */
export function writeResults(dir: string, results: SweepResults): void {
  writeFileAtomic.sync(join(dir, 'results.json'), JSON.stringify(results, null, 1) + '\n');
  writeFileAtomic.sync(join(dir, 'results.csv'), resultsCsv(results.rows));
}

/** Read DIR/results.json (for `anpt report`), with a message that says what to do when it is missing. */
export function readResults(dir: string): SweepResults {
  const path = join(dir, 'results.json');
  if (!existsSync(path)) {
    const hint = existsSync(join(dir, ROWS_FILE))
      ? 'the sweep has not finished; run the same `anpt sweep` command again to finish it (it resumes)'
      : 'this is not a sweep directory; give the --out directory of `anpt sweep`';
    throw new SweepDirError(`${path}: not found; ${hint}`);
  }
  let r: SweepResults;
  try {
    r = JSON.parse(readFileSync(path, 'utf8')) as SweepResults;
  } catch (err) {
    throw new SweepDirError(`${path}: not valid JSON (${err instanceof Error ? err.message : String(err)}); run the sweep command again to rewrite it`);
  }
  if (r.format !== 'anpt-sweep-results/1' || !Array.isArray(r.rows)) throw new SweepDirError(`${path}: not the results of anpt sweep (format ${String(r.format)})`);
  return r;
}

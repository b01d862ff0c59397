/**
 * `anpt sweep`: the quantisation, noise and mismatch robustness study. Takes the flags
 * as commander parsed them (strings), builds and checks the grid before any work,
 * opens (or resumes) the results directory, runs the missing rows on worker threads,
 * and writes results.csv, results.json and the HTML report.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { AnptError } from '../errors.js';
import { UsageError } from './errors.js';
import { resolveThreads } from './backend.js';
import { resolveTaskSpec, type TaskFlags, type TaskSpec } from './task-options.js';
import { TASK_NAMES, type TaskName } from '../tasks/index.js';
import { anptVersion } from '../version.js';
import { ConfigError } from '../format/fixed.js';
import { writeReportFiles } from '../report/command.js';
import { gridMemoryProblem, gridRows, gridPoints, resolveGrid, type GridSpec } from '../sweep/grid.js';
import { duration, type ProgressStream } from '../sweep/progress.js';
import { appendRun, collectResults, openSweepDir, writeResults, type SweepRun } from '../sweep/results.js';
import { runRows } from '../sweep/runner.js';

/** The flags of `anpt sweep` as commander returns them (strings; undefined when absent). */
export interface SweepFlags extends TaskFlags {
  out?: string;
  grid?: string;
  hidden?: string;
  activation?: string;
  weightBits?: string;
  activityBits?: string;
  rounding?: string;
  sigma?: string;
  mismatch?: string;
  seeds?: string;
  seedList?: string;
  methods?: string;
  epochs?: string;
  lr?: string;
  schedule?: string;
  chunk?: string;
  bpttEpochs?: string;
  bpttLr?: string;
  bpttWindow?: string;
  bpttOptimizer?: string;
  diagSamples?: string;
  diagSteps?: string;
  diagWarmup?: string;
  /** --bias: hidden and output biases in every network of the grid. */
  bias?: boolean;
  workers?: string;
  threads?: string;
  /** Queued sweeps (src/queue/command.ts): --queue URL, --collect DIR, --run-on, --keep-days. */
  queue?: string;
  collect?: string;
  runOn?: string;
  keepDays?: string;
  force?: boolean;
  quiet?: boolean;
  /** false with --no-report. */
  report?: boolean;
}

export interface SweepContext {
  /** The command as typed, recorded in the results and shown at the top of the report. */
  commandLine?: string;
  /** Progress (default process.stderr). */
  progress?: ProgressStream;
  /** Result lines (default process.stdout). */
  log?: (line: string) => void;
}

export interface SweepSummary {
  dir: string;
  rows: number;
  ran: number;
  skipped: number;
  failed: number;
  wallSeconds: number;
  files: string[];
}

/** Flags that set a grid entry: grid path -> flag. */
const GRID_FLAGS: [keyof SweepFlags, string, string][] = [
  ['hidden', 'hidden', '--hidden'],
  ['activation', 'activation', '--activation'],
  ['weightBits', 'weightBits', '--weight-bits'],
  ['activityBits', 'activityBits', '--activity-bits'],
  ['rounding', 'rounding', '--rounding'],
  ['sigma', 'sigma', '--sigma'],
  ['mismatch', 'mismatch', '--mismatch'],
  ['methods', 'methods', '--methods'],
  ['epochs', 'anpt.epochs', '--epochs'],
  ['lr', 'anpt.lr', '--lr'],
  ['schedule', 'anpt.schedule', '--schedule'],
  ['chunk', 'anpt.chunk', '--chunk'],
  ['bpttEpochs', 'bptt.epochs', '--bptt-epochs'],
  ['bpttLr', 'bptt.lr', '--bptt-lr'],
  ['bpttWindow', 'bptt.window', '--bptt-window'],
  ['bpttOptimizer', 'bptt.optimizer', '--bptt-optimizer'],
  ['diagSamples', 'diagnostics.samples', '--diag-samples'],
  ['diagSteps', 'diagnostics.steps', '--diag-steps'],
  ['diagWarmup', 'diagnostics.warmup', '--diag-warmup'],
];
const LIST_PATHS = new Set(['weightBits', 'activityBits', 'rounding', 'sigma', 'mismatch', 'methods']);
const TASK_FLAG_KEYS: (keyof TaskFlags)[] = ['task', 'batch', 'steps', 'mgMode', 'horizon', 'copyLength', 'copyDelay', 'data', 'inputs', 'targets', 'split'];

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
/** A flag value as a grid value: a number when it reads as one, else the string (the grid check names it). */
const value = (s: string): number | string => (NUMBER.test(s.trim()) ? Number(s) : s.trim());

/** Shell-quote the arguments as typed: `anpt sweep --out x ...`. */
export function quoteCommand(argv: string[]): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return argv.map(quote).join(' ');
}

function setPath(obj: Record<string, unknown>, path: string, v: unknown): void {
  const [head, tail] = path.split('.');
  if (tail === undefined) {
    obj[head] = v;
    return;
  }
  const inner = (typeof obj[head] === 'object' && obj[head] !== null ? obj[head] : {}) as Record<string, unknown>;
  obj[head] = { ...inner, [tail]: v };
}

function readGridFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(`--grid ${file}: cannot read it (${e.code ?? e.message}); give the path of a JSON grid file`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--grid ${file}: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UsageError(`--grid ${file}: the file must hold one JSON object of grid settings, e.g. {"weightBits": [4, 8, 16]}`);
  // a sweep directory's grid.json works too: its "grid" is a complete grid
  const g = raw as { format?: unknown; grid?: unknown };
  if (g.format === 'anpt-sweep-grid/1' && typeof g.grid === 'object' && g.grid !== null) return g.grid as Record<string, unknown>;
  return raw as Record<string, unknown>;
}

/**
 * The checked grid from a grid file and/or flags (flags override the file). Every
 * error names the grid entry and where it came from:
 * `--weight-bits (grid.weightBits[2]): 17 is out of range; allowed 2..16`.
 */
export function gridFromFlags(f: SweepFlags): GridSpec {
  const raw: Record<string, unknown> = f.grid !== undefined ? readGridFile(f.grid) : {};
  const fileRaw = structuredClone(raw);
  const flagOf = new Map<string, string>();
  for (const [key, path, flag] of GRID_FLAGS) {
    const s = f[key];
    if (typeof s !== 'string') continue;
    setPath(raw, path, LIST_PATHS.has(path) ? s.split(',').map(value) : path === 'bptt.window' && s.trim() === 'full' ? 'full' : value(s));
    flagOf.set(path, flag);
  }
  // --epochs sets BPTT's epochs too, unless --bptt-epochs is given
  if (f.epochs !== undefined && f.bpttEpochs === undefined) {
    setPath(raw, 'bptt.epochs', value(f.epochs));
    flagOf.set('bptt.epochs', '--epochs');
  }
  if (f.bias === true) {
    raw.bias = true;
    flagOf.set('bias', '--bias');
  }
  if (f.seeds !== undefined && f.seedList !== undefined) throw new UsageError('--seeds and --seed-list: give one of them (--seeds 3 takes the first 3 reference seeds; --seed-list 42,101 lists them)');
  if (f.seeds !== undefined) {
    raw.seeds = value(f.seeds);
    flagOf.set('seeds', '--seeds');
  }
  if (f.seedList !== undefined) {
    raw.seeds = f.seedList.split(',').map(value);
    flagOf.set('seeds', '--seed-list');
  }
  if (TASK_FLAG_KEYS.some((k) => f[k] !== undefined)) {
    const fileTask = raw.task as { name?: string; options?: Record<string, unknown> } | string | undefined;
    const savedName = typeof fileTask === 'string' ? fileTask : fileTask?.name;
    if (savedName !== undefined && !(TASK_NAMES as readonly unknown[]).includes(savedName))
      throw new UsageError(`grid file ${f.grid}: grid.task.name: ${JSON.stringify(savedName)} is not one of ${TASK_NAMES.join(', ')}`);
    const saved: TaskSpec | undefined = savedName === undefined ? undefined
      : { name: savedName as TaskName, options: (typeof fileTask === 'object' ? fileTask.options : undefined) ?? {} };
    const taskFlags: TaskFlags = { ...f, task: f.task ?? (saved ? undefined : 'mackey-glass') };
    const spec = resolveTaskSpec(taskFlags, { saved });
    const { seed: _seed, ...options } = spec.options;
    raw.task = { name: spec.name, options };
    flagOf.set('task', '--task');
  }
  try {
    return resolveGrid(raw);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    if (err.field === 'grid.size') throw new UsageError(err.detail);
    const path = err.field.replace(/^grid\.?/, '').replace(/\[\d+\].*$/, '').replace(/ .*$/, '');
    const detail = err.detail;
    const top = path.split('.')[0];
    const flag = flagOf.get(path) ?? flagOf.get(top);
    if (flag) throw new UsageError(`${flag} (${err.field}): ${detail}`);
    if (f.grid !== undefined && top in fileRaw) throw new UsageError(`grid file ${f.grid}: ${err.field}: ${detail}`);
    throw new UsageError(`${err.field}: ${detail}`);
  }
}

function workerCount(raw: string | undefined): number {
  const fallback = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  if (raw === undefined) return fallback;
  const n = NUMBER.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 256) throw new UsageError(`--workers: '${raw}' is not an integer in 0..256 (0 runs in the main thread); e.g. --workers ${fallback}`);
  return n;
}

/** Run `anpt sweep` (see the file comment). Bad input throws UsageError before anything is written. */
export async function sweepCommand(f: SweepFlags, ctx: SweepContext = {}): Promise<SweepSummary> {
  const log = ctx.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  // a queued sweep loads bullmq and ioredis; a local one never does
  const queued = f.queue !== undefined || f.collect !== undefined || f.runOn !== undefined || f.keepDays !== undefined ? await import('../queue/command.js') : undefined;
  const q = queued?.queueSettings(f);
  if (q && f.workers !== undefined) throw new UsageError('--workers: a queued sweep runs on `anpt worker` processes; give them --concurrency N instead');
  if (queued && q) await queued.checkReachable(q.url); // before anything is written
  if (queued && q && f.collect !== undefined) {
    const { redactUrl } = await import('../queue/connection.js');
    const started = Date.now();
    const grid = queued.collectGrid(f.collect, () => gridFromFlags(f));
    const c = await queued.collectCommand(q, f.collect, grid, redactUrl(ctx.commandLine ?? quoteCommand(['anpt', ...process.argv.slice(2)])), f.report !== false, log);
    return { dir: f.collect, rows: c.rows, ran: 0, skipped: c.rows, failed: 0, wallSeconds: (Date.now() - started) / 1000, files: c.files };
  }
  if (f.out === undefined) throw new UsageError('--out DIR is required: the results directory (created if missing; the same command on the same DIR resumes)');
  const grid = gridFromFlags(f);
  const workers = q ? 0 : workerCount(f.workers);
  const threads = resolveThreads(f.threads, 'emulator');
  if (threads !== 'auto' && threads > 1 && (q || workers > 0))
    throw new UsageError(`--threads: ${threads} applies to a sweep in the main thread (--workers 0); ${q ? 'queued rows' : 'rows on a worker pool'} keep one thread each (the pool already uses the cores)`);
  const side = gridMemoryProblem(grid, Math.max(1, Math.min(workers, gridRows(grid).length)));
  if (side) throw new UsageError(`${side}, or use fewer --workers`);
  let commandLine = ctx.commandLine ?? quoteCommand(['anpt', ...process.argv.slice(2)]);
  if (q) commandLine = (await import('../queue/connection.js')).redactUrl(commandLine); // no password in results.json
  const dir = f.out;
  const startedAt = new Date();
  const loadAverageStart = os.loadavg();
  let opened;
  try {
    opened = openSweepDir(dir, grid, commandLine, f.force ?? false);
  } catch (err) {
    if (err instanceof AnptError) throw err;
    throw new UsageError(`--out ${dir}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const all = gridRows(grid);
  const todo = all.filter((r) => !opened.done.has(r.key));
  const points = gridPoints(grid).length;
  if (opened.dropped) log(`--force: ${opened.dropped} rows of the previous grid moved to ${join(dir, 'results.dropped.jsonl')}`);
  const on = q ? `the queue's workers (${q.runOn === 'any' ? 'emulators and boards' : `${q.runOn}s`})` : workers === 0 ? 'the main thread' : `${workers} worker${workers > 1 ? 's' : ''}`;
  log(`sweep: ${all.length} rows (${points} points x ${grid.seeds.length} seeds x ${grid.methods.length} methods); ${all.length - todo.length} already done in ${dir}, running ${todo.length} on ${on}`);
  const steps = Number((grid.task.options as { steps?: number }).steps ?? 1000);
  const quiet = f.quiet ?? false;
  const res = !todo.length ? { rows: [], failed: 0 }
    : q ? await (await import('../queue/coordinator.js')).runQueued({ ...q, dir, grid, todo, steps, command: commandLine, report: f.report !== false, quiet, stream: ctx.progress, log })
    : await runRows({ dir, grid, todo, steps, workers, threads: workers === 0 ? threads : 1, quiet, stream: ctx.progress, done: [...opened.done.values()] });
  const finishedAt = new Date();
  const wallSeconds = (finishedAt.getTime() - startedAt.getTime()) / 1000;
  const run: SweepRun = {
    command: commandLine,
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    wallSeconds,
    rowsRun: todo.length,
    rowsSkipped: all.length - todo.length,
    rowsFailed: res.failed,
    workers,
    cpus: os.cpus().length,
    loadAverageStart,
    loadAverageEnd: os.loadavg(),
    anptVersion: anptVersion(),
    node: process.version,
  };
  appendRun(dir, run);
  const results = collectResults(dir);
  writeResults(dir, results);
  const files = [join(dir, 'results.jsonl'), join(dir, 'results.csv'), join(dir, 'results.json')];
  if (f.report !== false) files.push(...writeReportFiles(dir, results));
  const failedNote = res.failed ? `; ${res.failed} failed (see the message column of results.csv; re-running the command retries them)` : '';
  log(`sweep: ${todo.length} rows run in ${duration(wallSeconds)}${failedNote}; wrote ${files.join(', ')}`);
  return { dir, rows: all.length, ran: todo.length, skipped: all.length - todo.length, failed: res.failed, wallSeconds, files };
}

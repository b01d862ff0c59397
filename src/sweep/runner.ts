/**
 * Runs the rows of a sweep that are not done yet on a pool of worker threads
 * (piscina), appending each row to results.jsonl the moment it finishes.
 *
 * Order: the shared float trainings first (they are long, and the PTQ rows wait for
 * them), then the anpt-chip rows; a float training's PTQ rows are queued as soon as it
 * finishes. A float training is saved in DIR/float/ so that a resumed sweep does not
 * repeat it. With 0 workers everything runs in this thread, one task at a time.
 */
import { Piscina } from 'piscina';
import { EmulatorDevice, type EmulatorThreads } from '../device/emulator.js';
import { floatJobFor, type FloatJob, type GridSpec, type RowSpec } from './grid.js';
import type { FloatOutcome, RowOutcome } from './methods.js';
import { createSweepProgress, rowKind, type KindWork, type ProgressStream, type SweepProgress, type TaskKind } from './progress.js';
import { appendRow, readFloatCache, writeFloatCache, type SweepRow } from './results.js';
import { runSweepTask, type SweepTask, type TaskResult } from './worker.js';

/**
 * Relative cost of a task, in emulator training steps (only the ETA uses it). Measured
 * on Mackey-Glass H=64, B=10: ANP-T on the emulator 0.024 ms per step, on the float
 * model 0.46 ms, BPTT 0.43 ms; a clean test pass on the emulator about a third of a
 * training step; the diagnostic runs each draw's chunk on the emulator and the float model.
 */
export function taskCost(task: SweepTask, steps: number): number {
  if (task.kind === 'ptq') return 0.3 * steps;
  if (task.kind === 'float') return 19 * steps * (task.job.anpt?.epochs ?? task.job.bptt?.epochs ?? 1);
  const c = task.row.config;
  const diag = c.diagnostics ? 20 * c.diagnostics.samples * c.diagnostics.steps : 0;
  return steps * ((c.anpt?.epochs ?? 1) + 0.3) + diag;
}

export interface RunRowsOptions {
  dir: string;
  grid: GridSpec;
  todo: RowSpec[];
  /** Training steps per sequence (for the cost estimates). */
  steps: number;
  /** Worker threads; 0 = this thread. */
  workers: number;
  /** With workers 0: the emulator's threads per row (default 1; a pool's rows keep 1). */
  threads?: EmulatorThreads;
  quiet: boolean;
  stream?: ProgressStream;
  /** Rows an earlier run of this sweep finished (their seconds feed the ETA). */
  done?: SweepRow[];
}

export interface RunRowsResult {
  rows: SweepRow[];
  failed: number;
}

/** The rows to run: PTQ rows grouped by the float training they need, and the anpt-chip rows. */
export function groupRows(todo: RowSpec[]): { floatJobs: Map<string, { job: FloatJob; rows: RowSpec[] }>; chipRows: RowSpec[] } {
  const floatJobs = new Map<string, { job: FloatJob; rows: RowSpec[] }>();
  const chipRows: RowSpec[] = [];
  for (const row of todo) {
    const job = floatJobFor(row);
    if (!job) {
      chipRows.push(row);
      continue;
    }
    const entry = floatJobs.get(job.key) ?? { job, rows: [] };
    entry.rows.push(row);
    floatJobs.set(job.key, entry);
  }
  return { floatJobs, chipRows };
}

/** The estimated cost of everything to run (the ETA's denominator); `trained` float trainings cost nothing. */
export function todoCost(floatJobs: ReturnType<typeof groupRows>['floatJobs'], chipRows: RowSpec[], steps: number, trained: (key: string) => boolean): number {
  const dummyFloat: FloatOutcome = { key: '', status: 'ok', seconds: 0 };
  let total = chipRows.reduce((s, row) => s + taskCost({ kind: 'chip', row }, steps), 0);
  for (const [key, { job, rows }] of floatJobs) {
    if (!trained(key)) total += taskCost({ kind: 'float', job }, steps);
    total += rows.length * taskCost({ kind: 'ptq', row: rows[0], float: dummyFloat }, steps);
  }
  return total;
}

/** What the progress display of a sweep's rows (a local or a queued one) needs to know. */
export interface SweepProgressOptions {
  grid: GridSpec;
  groups: ReturnType<typeof groupRows>;
  steps: number;
  /** Float trainings already done (cached): they cost nothing, and their seconds feed the ETA. */
  trained: Map<string, FloatOutcome>;
  /** Rows an earlier run of this sweep finished (their seconds feed the ETA). */
  done?: SweepRow[];
  /** Rows run at once. */
  parallel: number;
  quiet: boolean;
  stream?: ProgressStream;
}

/** The progress display of a sweep's rows, with the ETA from measured row times by kind. */
export function sweepProgress(o: SweepProgressOptions): SweepProgress {
  const g = o.grid;
  const { floatJobs, chipRows } = o.groups;
  const dummyFloat: FloatOutcome = { key: '', status: 'ok', seconds: 0 };
  const firstPtq = [...floatJobs.values()][0]?.rows[0];
  const work: Record<TaskKind, KindWork> = {
    chip: { count: chipRows.length, cost: chipRows.length ? taskCost({ kind: 'chip', row: chipRows[0] }, o.steps) : 0 },
    ptq: { count: [...floatJobs.values()].reduce((n, e) => n + e.rows.length, 0), cost: firstPtq ? taskCost({ kind: 'ptq', row: firstPtq, float: dummyFloat }, o.steps) : 0 },
    float: { count: [...floatJobs.keys()].filter((k) => !o.trained.has(k)).length, cost: floatJobs.size ? taskCost({ kind: 'float', job: [...floatJobs.values()][0].job }, o.steps) : 0 },
  };
  const earlier = o.done ?? [];
  const prior: Record<TaskKind, number[]> = {
    chip: earlier.filter((r) => rowKind(r) === 'chip').map((r) => r.seconds),
    ptq: earlier.filter((r) => rowKind(r) === 'ptq').map((r) => r.seconds),
    float: [...o.trained.values()].map((f) => f.seconds),
  };
  return createSweepProgress({
    totalRows: chipRows.length + work.ptq.count,
    totalCost: todoCost(floatJobs, chipRows, o.steps, (key) => o.trained.has(key)),
    work,
    prior,
    parallel: Math.max(1, o.parallel),
    varies: { activityBits: g.activityBits.length > 1, sigma: g.sigma.length > 1, mismatch: g.mismatch.length > 1 },
    quiet: o.quiet,
    stream: o.stream,
  });
}

/** A finished row as results.jsonl holds it (the local runner and the queue workers both build it here). */
export function sweepRow(row: RowSpec, res: TaskResult): SweepRow {
  const out = res.outcome as RowOutcome;
  return {
    key: row.key, method: row.method, seed: row.seed, point: row.config.point, config: row.config,
    status: out.status, message: out.message, metrics: out.metrics,
    startedAt: res.startedAt, finishedAt: res.finishedAt, seconds: res.seconds,
  };
}

/** The worker module next to this one: worker.ts under tsx/vitest, worker.js when built. */
function workerFile(): string {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return new URL(`./worker.${ext}`, import.meta.url).href;
}

/** A pool of `threads` worker threads running worker.ts (also the queue worker's pool). */
export function sweepPool(threads: number): Piscina<SweepTask, TaskResult> {
  // Workers inherit the loader flags (tsx); --input-type only makes sense for the main script.
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
  const pool = new Piscina<SweepTask, TaskResult>({ filename: workerFile(), minThreads: threads, maxThreads: threads, idleTimeout: 1000, execArgv });
  // a worker that dies outside a task is replaced by piscina; its task (if any) fails where it was run
  pool.on('error', () => {});
  return pool;
}

/**
 * Fresh emulators on `threads` threads for rows run one at a time in this thread; each
 * new one closes the one before (done by then), so no kernel threads pile up.
 */
function inlineChips(threads: EmulatorThreads): () => Promise<EmulatorDevice> {
  let last: EmulatorDevice | undefined;
  return async () => {
    await last?.close();
    return (last = new EmulatorDevice({ threads }));
  };
}

/** Run `todo` (see the file comment); resolves when every row is written. */
export async function runRows(o: RunRowsOptions): Promise<RunRowsResult> {
  const pool = o.workers > 0 ? sweepPool(o.workers) : undefined;
  const chip = pool ? undefined : inlineChips(o.threads ?? 1);
  let inline = Promise.resolve();
  const run = async (task: SweepTask): Promise<TaskResult> => {
    const startedAt = new Date().toISOString();
    try {
      if (pool) return await pool.run(task);
      const next = inline.then(() => runSweepTask(task, { chip }));
      inline = next.then(() => undefined, () => undefined);
      return await next;
    } catch (err) {
      // the worker itself died (out of memory, a crash): record the task as failed and go on
      const message = `worker failed: ${err instanceof Error ? err.message : String(err)}`;
      const outcome = task.kind === 'float' ? { key: task.job.key, status: 'error' as const, message, seconds: 0 } : { status: 'error' as const, message };
      return { outcome, startedAt, finishedAt: new Date().toISOString(), seconds: 0 };
    }
  };

  const groups = groupRows(o.todo);
  const { floatJobs, chipRows } = groups;
  const cached = new Map<string, FloatOutcome>();
  for (const key of floatJobs.keys()) {
    const f = readFloatCache(o.dir, key);
    if (f) cached.set(key, f);
  }

  const g = o.grid;
  const progress = sweepProgress({ grid: g, groups, steps: o.steps, trained: cached, done: o.done, parallel: o.workers, quiet: o.quiet, stream: o.stream });

  const finished: SweepRow[] = [];
  let failed = 0;
  const record = (row: RowSpec, res: TaskResult, cost: number) => {
    const r = sweepRow(row, res);
    appendRow(o.dir, r);
    finished.push(r);
    if (r.status === 'error') failed++;
    progress.row(r, cost);
  };
  const runPtqRows = (rows: RowSpec[], float: FloatOutcome) =>
    Promise.all(rows.map(async (row) => {
      const task: SweepTask = { kind: 'ptq', row, float };
      record(row, await run(task), taskCost(task, o.steps));
    }));

  try {
    const work: Promise<unknown>[] = [];
    for (const [key, { job, rows }] of floatJobs) {
      const done = cached.get(key);
      if (done) {
        work.push(runPtqRows(rows, done));
        continue;
      }
      const task: SweepTask = { kind: 'float', job };
      work.push(run(task).then((res) => {
        const f = res.outcome as FloatOutcome;
        if (f.status !== 'error') writeFloatCache(o.dir, f);
        progress.float(`${job.method} seed ${job.seed}${job.sigma !== undefined && g.sigma.length > 1 ? ` sigma ${job.sigma}` : ''}`, res.seconds, taskCost(task, o.steps), f.status === 'error' ? `error: ${f.message}` : f.status);
        return runPtqRows(rows, f);
      }));
    }
    for (const row of chipRows) {
      const task: SweepTask = { kind: 'chip', row };
      work.push(run(task).then((res) => record(row, res, taskCost(task, o.steps))));
    }
    await Promise.all(work);
  } finally {
    progress.stop();
    await pool?.destroy();
  }
  return { rows: finished, failed };
}

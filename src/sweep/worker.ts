/**
 * The piscina worker: one task per call, a row of the sweep or a shared float
 * training. An exception becomes an 'error' outcome with its message (the runner
 * records it and goes on with the other rows).
 *
 * A queue worker bound to a board calls the same function with the board as `chip`
 * and `rethrow` for link failures (src/queue/worker.ts).
 */
import { runAnptChip, runPtq, trainFloat, type ChipSource, type FloatOutcome, type RowOutcome } from './methods.js';
import type { FloatJob, RowSpec } from './grid.js';

export type SweepTask =
  | { kind: 'chip'; row: RowSpec }
  | { kind: 'float'; job: FloatJob }
  | { kind: 'ptq'; row: RowSpec; float: FloatOutcome };

export interface TaskResult {
  outcome: RowOutcome | FloatOutcome;
  startedAt: string;
  finishedAt: string;
  seconds: number;
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

export interface TaskOptions {
  /** The device chip rows run on (default: a fresh emulator per run). */
  chip?: ChipSource;
  /** Errors to throw instead of recording them as the row's error. */
  rethrow?: (err: unknown) => boolean;
}

/** Run one task (also callable in the main thread, for --workers 0). */
export async function runSweepTask(task: SweepTask, o: TaskOptions = {}): Promise<TaskResult> {
  const startedAt = new Date().toISOString();
  const t = performance.now();
  let outcome: RowOutcome | FloatOutcome;
  try {
    if (task.kind === 'chip') outcome = await runAnptChip(task.row, o.chip);
    else if (task.kind === 'ptq') outcome = await runPtq(task.row, task.float, o.chip);
    else outcome = await trainFloat(task.job);
  } catch (err) {
    if (o.rethrow?.(err)) throw err;
    const message = `${messageOf(err)}${process.env.ANPT_DEBUG && err instanceof Error ? `\n${err.stack}` : ''}`;
    outcome = task.kind === 'float' ? { key: task.job.key, status: 'error', message, seconds: (performance.now() - t) / 1000 } : { status: 'error', message };
  }
  return { outcome, startedAt, finishedAt: new Date().toISOString(), seconds: (performance.now() - t) / 1000 };
}

export default (task: SweepTask) => runSweepTask(task);

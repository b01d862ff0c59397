/**
 * The piscina worker: one task per call, a row of the sweep or a shared float
 * training. An exception becomes an 'error' outcome with its message (the runner
 * records it and goes on with the other rows).
 *
 * A queue worker bound to a board (anpt worker --device URL) sets `device`: the row
 * runs on that board, opened once per thread. A link that fails (the board stopped
 * answering) is not the row's fault: that error is thrown, so the queue retries the
 * row elsewhere, instead of becoming the row's result.
 */
import type { Device } from '../device/types.js';
import { DeviceError } from '../device/errors.js';
import { runAnptChip, runPtq, trainFloat, type ChipSource, type FloatOutcome, type RowOutcome } from './methods.js';
import type { FloatJob, RowSpec } from './grid.js';

export type SweepTask =
  | { kind: 'chip'; row: RowSpec; device?: string }
  | { kind: 'float'; job: FloatJob }
  | { kind: 'ptq'; row: RowSpec; float: FloatOutcome; device?: string };

export interface TaskResult {
  outcome: RowOutcome | FloatOutcome;
  startedAt: string;
  finishedAt: string;
  seconds: number;
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

let board: { url: string; device: Promise<Device> } | undefined;
/** The board of this thread (opened on first use; src/queue/board.ts). */
function boardChip(url: string): ChipSource {
  return async () => {
    if (board?.url !== url) {
      const { openFittedBoard } = await import('../queue/board.js');
      board = { url, device: openFittedBoard(url) };
      board.device.catch(() => (board = undefined));
    }
    return board.device;
  };
}

/** A link failure (the board is gone or not answering), as opposed to a refusal of the row. */
export const isLinkFailure = (err: unknown): boolean => err instanceof DeviceError && (err.code === 'LINK' || err.code === 'TIMEOUT');

/** Run one task (also callable in the main thread, for --workers 0). */
export async function runSweepTask(task: SweepTask): Promise<TaskResult> {
  const startedAt = new Date().toISOString();
  const t = performance.now();
  let outcome: RowOutcome | FloatOutcome;
  try {
    const chip = task.kind !== 'float' && task.device ? boardChip(task.device) : undefined;
    if (task.kind === 'chip') outcome = await runAnptChip(task.row, chip);
    else if (task.kind === 'ptq') outcome = await runPtq(task.row, task.float, chip);
    else outcome = await trainFloat(task.job);
  } catch (err) {
    if (task.kind !== 'float' && task.device && isLinkFailure(err)) {
      board = undefined; // open it again for the next row
      throw new Error(`board ${task.device}: ${messageOf(err)}`);
    }
    const message = `${messageOf(err)}${process.env.ANPT_DEBUG && err instanceof Error ? `\n${err.stack}` : ''}`;
    outcome = task.kind === 'float' ? { key: task.job.key, status: 'error', message, seconds: (performance.now() - t) / 1000 } : { status: 'error', message };
  }
  return { outcome, startedAt, finishedAt: new Date().toISOString(), seconds: (performance.now() - t) / 1000 };
}

export default runSweepTask;

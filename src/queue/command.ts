/**
 * The queue flags of `anpt sweep` (--queue, --collect, --run-on, --keep-days), checked
 * before anything is written, and `--collect DIR`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { writeReportFiles } from '../report/command.js';
import { gridRows, type GridSpec } from '../sweep/grid.js';
import { collectResults, openSweepDir, writeResults, type GridFile } from '../sweep/results.js';
import { RUN_ON, type RunOn } from './classes.js';
import { checkQueueUrl, connectRedis } from './connection.js';
import { collectQueued } from './coordinator.js';

export interface QueueFlags {
  queue?: string;
  collect?: string;
  runOn?: string;
  keepDays?: string;
}

export interface QueueSettings {
  url: string;
  runOn: RunOn;
  keepSeconds: number;
}

/** Default retention of finished jobs and float weights in Redis. */
export const KEEP_DAYS = 14;

export function queueSettings(f: QueueFlags): QueueSettings {
  if (f.queue === undefined) {
    const extra = f.collect !== undefined ? '--collect' : f.runOn !== undefined ? '--run-on' : f.keepDays !== undefined ? '--keep-days' : undefined;
    if (extra) throw new UsageError(`${extra} needs --queue redis://host:6379/0 (the Redis of the queued sweep)`);
  }
  const url = checkQueueUrl(f.queue ?? '');
  const runOn = (f.runOn ?? 'any') as RunOn;
  if (!RUN_ON.includes(runOn)) throw new UsageError(`--run-on: '${f.runOn}' is not one of ${RUN_ON.join(', ')}; e.g. --run-on board for hardware-in-the-loop rows`);
  const days = f.keepDays === undefined ? KEEP_DAYS : Number(f.keepDays);
  if (!(days > 0 && days <= 3650)) throw new UsageError(`--keep-days: '${f.keepDays}' is not a number of days in (0, 3650]; e.g. --keep-days ${KEEP_DAYS}`);
  return { url, runOn, keepSeconds: Math.round(days * 86400) };
}

/** Connect once and let go: a wrong host or password is refused before DIR is touched. */
export async function checkReachable(url: string): Promise<void> {
  (await connectRedis(url, 'anpt-sweep-check')).disconnect();
}

/** The grid of `--collect DIR`: DIR's own grid.json, else the grid the flags give. */
export function collectGrid(dir: string, fromFlags: () => GridSpec): GridSpec {
  const path = join(dir, 'grid.json');
  if (!existsSync(path)) return fromFlags();
  return (JSON.parse(readFileSync(path, 'utf8')) as GridFile).grid;
}

/** `anpt sweep --queue URL --collect DIR`: rebuild DIR's results from the queue now (no waiting, nothing enqueued). */
export async function collectCommand(s: QueueSettings, dir: string, grid: GridSpec, commandLine: string, report: boolean, log: (line: string) => void): Promise<{ rows: number; files: string[]; missing: number }> {
  let opened;
  try {
    opened = openSweepDir(dir, grid, commandLine, false);
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const all = gridRows(grid);
  const todo = all.filter((r) => !opened.done.has(r.key));
  const got = todo.length ? await collectQueued(s.url, dir, todo, grid) : 0;
  const results = collectResults(dir);
  writeResults(dir, results);
  const files = [join(dir, 'results.jsonl'), join(dir, 'results.csv'), join(dir, 'results.json')];
  if (report) files.push(...writeReportFiles(dir, results));
  log(`sweep --collect: ${got} rows collected from the queue, ${all.length - results.missing} of ${all.length} finished; wrote ${files.join(', ')}`);
  return { rows: all.length, files, missing: results.missing };
}

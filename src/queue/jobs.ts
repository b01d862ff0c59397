/**
 * What a queued sweep keeps in Redis besides BullMQ's own keys (bull:<queue>:*), and
 * the data of its jobs. docs/scale-out.md lists it all with its lifetime.
 *
 *   anpt:queues               hash: queue name -> its class (classes.ts QueueClass + sweep id)
 *   anpt:sweeps               hash: sweep id -> { grid, command, createdAt }
 *   anpt:float:<sweep>:<sha>  a finished float training (weights), read by its PTQ rows
 */
import type { FloatOutcome } from '../sweep/methods.js';
import type { FloatJob, RowSpec } from '../sweep/grid.js';
import type { SweepRow } from '../sweep/results.js';
import type { QueueClass } from './classes.js';

export const QUEUES_KEY = 'anpt:queues';
export const SWEEPS_KEY = 'anpt:sweeps';
export const floatKey = (sweep: string, floatJobId: string): string => `anpt:float:${sweep}:${floatJobId}`;
/** BullMQ's key prefix (its default, so BullMQ's own tools find the queues). */
export const PREFIX = 'bull';
export const JOB_FORMAT = 'anpt-queue-job/1';

/** BullMQ options of every job a sweep adds (the workers copy them onto the PTQ rows they add). */
export interface JobOptions {
  attempts: number;
  backoff: { type: 'exponential'; delay: number };
  removeOnComplete: { age: number };
  removeOnFail: { age: number };
}

export function jobOptions(keepSeconds: number): JobOptions {
  return { attempts: 3, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: { age: keepSeconds }, removeOnFail: { age: keepSeconds } };
}

/** A registered queue (anpt:queues value). */
export interface RegisteredQueue extends QueueClass {
  sweep: string;
}

/** A row to run. PTQ rows name the float training they quantise (its outcome is at floatKey). */
export interface RowJobData {
  format: typeof JOB_FORMAT;
  kind: 'row';
  sweep: string;
  row: RowSpec;
  float?: string;
}

/** A shared float training, and the PTQ rows its worker adds once it is done. */
export interface FloatJobData {
  format: typeof JOB_FORMAT;
  kind: 'float';
  sweep: string;
  job: FloatJob;
  rows: { row: RowSpec; queue: string }[];
  opts: JobOptions;
}

export type JobData = RowJobData | FloatJobData;

/** A row job's result: the row as results.jsonl holds it, and who ran it. */
export type RowResult = SweepRow & { worker: string };

/** A float job's result (the weights stay at floatKey). */
export interface FloatResult {
  kind: 'float';
  status: FloatOutcome['status'];
  message?: string;
  seconds: number;
  worker: string;
}

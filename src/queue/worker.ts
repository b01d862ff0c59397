/**
 * `anpt worker`: takes sweep rows from the queues in Redis and runs them with the
 * local row runner (src/sweep/worker.ts): on N emulator threads (piscina, as a local
 * sweep), or on one board (rows one at a time, in this thread: the link is I/O; the
 * float trainings on one thread). The main thread's event loop stays free, so job
 * locks are renewed while a row computes.
 *
 * One worker serves many queues (one per capability class, classes.ts) with one budget
 * of N rows, so it fetches jobs itself (BullMQ's manual-fetch pattern: getNextJob,
 * then moveToCompleted / moveToFailed with the job's lock token, the lock extended
 * while the row runs, and each queue's stalled-job checker started). Float trainings
 * come first: PTQ rows wait for them.
 *
 * Faults: a worker killed mid-row stops renewing its lock; after lockDuration a
 * stalled-job check (any worker's) puts the row back in its queue and another worker
 * runs it again (same row, same seeds, same bits). A row stalled more than twice
 * fails. An exception outside the row's computation (a board that stops answering,
 * a thread that died) fails the attempt; BullMQ retries it (3 attempts, backoff
 * 1 s, 2 s). An error inside the computation (e.g. a configuration the chip refuses)
 * is the row's result: it completes once, as an error row, as in a local sweep.
 */
import os from 'node:os';
import type { Job, Queue, Worker } from 'bullmq';
import { sweepPool, sweepRow } from '../sweep/runner.js';
import type { FloatOutcome } from '../sweep/methods.js';
import { runSweepTask, type SweepTask, type TaskResult } from '../sweep/worker.js';
import type { Device } from '../device/types.js';
import { DeviceError } from '../device/errors.js';
import { rowLabel } from '../sweep/progress.js';
import { boardRefuses, rowJobId } from './classes.js';
import { connectRedis, redactUrl } from './connection.js';
import { floatKey, JOB_FORMAT, PREFIX, QUEUES_KEY, type FloatJobData, type FloatResult, type JobData, type RegisteredQueue, type RowJobData, type RowResult } from './jobs.js';
import type { BoardInfo } from './board.js';

export interface WorkerOptions {
  url: string;
  /** Rows at once (1 with a board). */
  concurrency: number;
  /** Bind to this board (link URL). */
  device?: string;
  /** Lock duration and stalled-check interval, ms (default 30000). */
  stallMs: number;
  log: (line: string) => void;
  /** Stop when this resolves (SIGTERM): finish the rows in hand, take no new ones. */
  stop: Promise<void>;
}

interface Served {
  q: RegisteredQueue;
  worker: Worker;
  /** Rows of this queue in hand. */
  busy: number;
}

/** A link failure (the board is gone or not answering), as opposed to a refusal of the row. */
const isLinkFailure = (err: unknown): boolean => err instanceof DeviceError && (err.code === 'LINK' || err.code === 'TIMEOUT');

/**
 * Tasks of a board worker: rows on the board, in this thread (the link is I/O, so lock
 * renewals still run; the link code's lazy imports need the main thread under tsx),
 * float trainings on the pool. A link failure is thrown, not recorded: it is not the
 * row's result, and the queue retries the row.
 */
function boardRunner(url: string, onPool: (t: SweepTask) => Promise<TaskResult>): { run: (t: SweepTask) => Promise<TaskResult>; close: () => Promise<void> } {
  let board: Promise<Device> | undefined;
  const chip = () => {
    if (!board) board = import('./board.js').then((b) => b.openFittedBoard(url));
    return board;
  };
  const close = async () => {
    const dev = board;
    board = undefined;
    await dev?.then((d) => d.close()).catch(() => undefined);
  };
  const run = async (task: SweepTask): Promise<TaskResult> => {
    if (task.kind === 'float') return onPool(task);
    try {
      return await runSweepTask(task, { chip, rethrow: isLinkFailure });
    } catch (err) {
      await close(); // open it again for the next row
      throw new Error(`board ${url}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  return { run, close };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run the worker until `o.stop` resolves and its rows are done. */
export async function runWorker(o: WorkerOptions): Promise<void> {
  const { Worker: BullWorker, Queue: BullQueue, UnrecoverableError } = await import('bullmq');
  const client = await connectRedis(o.url, 'anpt-worker');
  let board: BoardInfo | undefined;
  if (o.device) {
    const { probeBoard } = await import('./board.js');
    board = await probeBoard(o.device);
  }
  const me = `${os.hostname()}:${process.pid} ${board ? `board ${board.deviceId} at ${o.device}` : 'emulator'}`;
  const slots = board ? 1 : o.concurrency;
  const pool = sweepPool(slots);
  const onBoard = board ? boardRunner(o.device!, (t) => pool.run(t)) : undefined;
  const runTask = onBoard ? onBoard.run : (t: SweepTask) => pool.run(t);
  o.log(`worker ${me}: ${slots} row${slots > 1 ? 's' : ''} at a time, queue ${redactUrl(o.url)}`);

  const served = new Map<string, Served>();
  const refused = new Set<string>();
  const queues = new Map<string, Queue>();
  const queueFor = (name: string) => {
    let q = queues.get(name);
    if (!q) {
      q = new BullQueue(name, { connection: client, prefix: PREFIX });
      q.on('error', () => {});
      queues.set(name, q);
    }
    return q;
  };
  const refresh = async () => {
    const all = await client.hgetall(QUEUES_KEY);
    // a finished sweep's coordinator removes its queues: let go of them (and their connections)
    for (const [name, s] of served) {
      if (name in all || s.busy > 0) continue;
      served.delete(name);
      await s.worker.close().catch(() => undefined);
    }
    for (const name of refused) if (!(name in all)) refused.delete(name);
    for (const [name, text] of Object.entries(all)) {
      if (served.has(name) || refused.has(name)) continue;
      const q = { ...(JSON.parse(text) as RegisteredQueue), name };
      const why = q.needs === undefined ? undefined
        : board ? boardRefuses(board.limits, q.needs, board.frameBytes)
        : q.needs.runOn === 'board' ? 'the rows need a board (--run-on board)' : undefined;
      if (why) {
        refused.add(name);
        o.log(`worker: not serving ${name}: ${why}`);
        continue;
      }
      const worker = new BullWorker(name, undefined, {
        connection: client, prefix: PREFIX, autorun: false,
        lockDuration: o.stallMs, stalledInterval: o.stallMs, maxStalledCount: 2,
      });
      worker.on('error', () => {}); // connection errors: ioredis reconnects, commands wait
      await worker.startStalledCheckTimer();
      served.set(name, { q, worker, busy: 0 });
    }
  };

  const runRow = async (data: RowJobData): Promise<RowResult> => {
    let float: FloatOutcome | undefined;
    if (data.float) {
      const text = await client.get(floatKey(data.sweep, data.float));
      if (text === null) throw new Error(`the float training this row quantises (${data.float}) is not in Redis; retry later`);
      float = JSON.parse(text) as FloatOutcome;
    }
    const task: SweepTask = float ? { kind: 'ptq', row: data.row, float } : { kind: 'chip', row: data.row };
    const res = await runTask(task);
    return { ...sweepRow(data.row, res), worker: me };
  };

  const runFloat = async (data: FloatJobData, job: Job): Promise<FloatResult> => {
    const res = await pool.run({ kind: 'float', job: data.job });
    const f = res.outcome as FloatOutcome;
    // the weights first, then the rows that read them; a kill in between repeats both (same bits, same job ids)
    await client.set(floatKey(data.sweep, job.id!), JSON.stringify(f), 'EX', data.opts.removeOnComplete.age);
    const byQueue = new Map<string, typeof data.rows>();
    for (const r of data.rows) byQueue.set(r.queue, [...(byQueue.get(r.queue) ?? []), r]);
    for (const [name, rows] of byQueue) {
      const add: RowJobData[] = rows.map((r) => ({ format: JOB_FORMAT, kind: 'row', sweep: data.sweep, row: r.row, float: job.id! }));
      await queueFor(name).addBulk(add.map((d) => ({ name: 'row', data: d, opts: { ...data.opts, jobId: rowJobId(d.row.key) } })));
    }
    return { kind: 'float', status: f.status, message: f.message, seconds: res.seconds, worker: me };
  };

  const handle = async (job: Job, token: string) => {
    const renew = setInterval(() => void job.extendLock(token, o.stallMs).catch(() => undefined), Math.max(100, o.stallMs / 3));
    try {
      const data = job.data as JobData;
      if (data?.format !== JOB_FORMAT) throw new UnrecoverableError(`job data is not ${JOB_FORMAT} (a job of another anpt version?); re-enqueue the sweep`);
      if (data.kind !== 'float') o.log(`started row ${rowLabel({ ...data.row, point: data.row.config.point }, { activityBits: true, sigma: true, mismatch: true })}`);
      const result = data.kind === 'float' ? await runFloat(data, job) : await runRow(data);
      clearInterval(renew);
      await job.moveToCompleted(result, token, false);
      o.log(data.kind === 'float'
        ? `float training ${data.job.method} seed ${data.job.seed}: ${(result as FloatResult).status} in ${(result as FloatResult).seconds.toFixed(1)} s`
        : `row ${rowLabel({ ...data.row, point: data.row.config.point }, { activityBits: true, sigma: true, mismatch: true })}: ${(result as RowResult).status} in ${(result as RowResult).seconds.toFixed(1)} s`);
    } catch (err) {
      clearInterval(renew);
      const e = err instanceof Error ? err : new Error(String(err));
      o.log(`job ${job.id} in ${job.queueName}: ${e.message}`);
      // the lock may be gone (the job stalled and another worker has it): nothing to undo
      await job.moveToFailed(e, token, false).catch(() => undefined);
    }
  };

  let stopping = false;
  void o.stop.then(() => (stopping = true));
  const active = new Set<Promise<void>>();
  let tokenN = 0, idle = 50, lastRefresh = 0, rr = 0;
  while (!stopping) {
    if (Date.now() - lastRefresh > 2000) {
      await refresh().catch((err) => o.log(`worker: cannot read ${QUEUES_KEY}: ${(err as Error).message}`));
      lastRefresh = Date.now();
    }
    if (active.size >= slots) {
      await Promise.race([...active, o.stop]);
      continue;
    }
    const list = [...served.values()];
    // float trainings first (PTQ rows wait for them), then the row queues in turn
    const floats = list.filter((s) => s.q.needs === undefined);
    const rows = list.filter((s) => s.q.needs !== undefined);
    rr = rows.length ? (rr + 1) % rows.length : 0;
    const order = [...floats, ...rows.slice(rr), ...rows.slice(0, rr)];
    let taken = false;
    for (const s of order) {
      const token = `${s.worker.id}:${tokenN++}`;
      const job = await s.worker.getNextJob(token, { block: false }).catch(() => undefined);
      if (!job) continue;
      s.busy++;
      const p = handle(job, token).finally(() => {
        s.busy--;
        active.delete(p);
      });
      active.add(p);
      taken = true;
      break;
    }
    if (taken) idle = 50;
    else {
      await Promise.race([sleep(idle), o.stop]);
      idle = Math.min(1000, idle * 2);
    }
  }
  await Promise.all(active);
  for (const s of served.values()) await s.worker.close().catch(() => undefined);
  for (const q of queues.values()) await q.close().catch(() => undefined);
  await onBoard?.close();
  await pool.destroy();
  client.disconnect();
}


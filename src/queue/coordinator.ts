/**
 * `anpt sweep --queue URL`: the coordinator. It puts every row not yet done in DIR on
 * the queues (classes.ts; job id = a hash of the row key, so a row already queued,
 * running or finished is not added again), then follows the queues' event streams
 * and appends each finished row to DIR/results.jsonl (once per key: a second
 * completion of a row is ignored), with the local sweep's progress bar and ETA;
 * results.csv, results.json and the report are rewritten as rows come in.
 * Workers (`anpt worker`) do the work; the coordinator may stop and start again:
 * a start first collects what finished meanwhile. `--collect DIR` does only that.
 *
 * Local semantics kept: a row that ended in an error is run again by the next
 * invocation (its finished job is retried); a row the queue gave up on (its attempts
 * or stall count used up) becomes an error row with BullMQ's reason.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { buildGridTask, floatJobFor, gridRows, type GridSpec, type RowSpec } from '../sweep/grid.js';
import type { ProgressStream } from '../sweep/progress.js';
import { writeReportFiles } from '../report/command.js';
import { appendRow, collectResults, writeResults, type SweepRow } from '../sweep/results.js';
import { groupRows, sweepProgress, taskCost } from '../sweep/runner.js';
import { floatJobId, floatQueue, rowJobId, RUN_ON, sweepQueues, type RunOn } from './classes.js';
import { connectRedis, redactUrl } from './connection.js';
import { floatKey, JOB_FORMAT, jobOptions, PREFIX, QUEUES_KEY, SWEEPS_KEY, type FloatJobData, type FloatResult, type RowJobData, type RowResult } from './jobs.js';

export interface QueuedOptions {
  url: string;
  dir: string;
  grid: GridSpec;
  /** Rows not done in DIR. */
  todo: RowSpec[];
  steps: number;
  runOn: RunOn;
  /** How long finished jobs and float weights stay in Redis, seconds. */
  keepSeconds: number;
  command: string;
  /** Rewrite report.html along with results.csv/json (false with --no-report). */
  report: boolean;
  quiet: boolean;
  stream?: ProgressStream;
  log: (line: string) => void;
}

export interface QueuedResult {
  rows: SweepRow[];
  failed: number;
}

/** The Redis side of one sweep: its queues, and which job is which row. */
class SweepQueues {
  readonly sweep: string;
  readonly queues = new Map<string, Queue>();
  readonly queueOf: Map<string, string>;
  /** Row job id -> row, for the rows this invocation waits for. */
  readonly wanted = new Map<string, RowSpec>();
  /** Float job id -> its PTQ rows. */
  readonly floatRows = new Map<string, RowSpec[]>();

  private constructor(readonly client: Redis, readonly grid: GridSpec, private readonly BullQueue: typeof Queue, runOn: RunOn, todo: RowSpec[]) {
    const task = buildGridTask(grid.task, grid.seeds[0]); // the sizes of every row's task
    const s = sweepQueues(grid, gridRows(grid), task, runOn);
    this.sweep = s.sweep;
    this.queueOf = s.queueOf;
    for (const c of s.queues) this.queue(c.name);
    for (const row of todo) {
      this.wanted.set(rowJobId(row.key), row);
      const f = floatJobFor(row);
      if (f) this.floatRows.set(floatJobId(f.key), [...(this.floatRows.get(floatJobId(f.key)) ?? []), row]);
    }
    this.classes = s.queues;
  }
  readonly classes: ReturnType<typeof sweepQueues>['queues'];

  static async open(url: string, grid: GridSpec, runOn: RunOn, todo: RowSpec[]): Promise<SweepQueues> {
    const { Queue: BullQueue } = await import('bullmq');
    return new SweepQueues(await connectRedis(url, 'anpt-sweep'), grid, BullQueue, runOn, todo);
  }

  queue(name: string): Queue {
    let q = this.queues.get(name);
    if (!q) {
      q = new this.BullQueue(name, { connection: this.client, prefix: PREFIX });
      q.on('error', () => {});
      this.queues.set(name, q);
    }
    return q;
  }

  /** Tell the workers about the queues (anpt:queues) and keep the grid (anpt:sweeps). */
  async register(command: string): Promise<void> {
    const m = this.client.multi();
    for (const c of this.classes) m.hset(QUEUES_KEY, c.name, JSON.stringify({ sweep: this.sweep, needs: c.needs }));
    m.hset(SWEEPS_KEY, this.sweep, JSON.stringify({ grid: this.grid, command, createdAt: new Date().toISOString() }));
    await m.exec();
  }

  /** Put the rows on the queues: anpt-chip rows directly, PTQ rows behind their float training. */
  async enqueue(todo: RowSpec[], keepSeconds: number): Promise<void> {
    const opts = jobOptions(keepSeconds);
    const { floatJobs, chipRows } = groupRows(todo);
    const byQueue = new Map<string, RowJobData[]>();
    const put = (row: RowSpec, float?: string) => {
      const name = this.queueOf.get(row.key)!;
      byQueue.set(name, [...(byQueue.get(name) ?? []), { format: JOB_FORMAT, kind: 'row', sweep: this.sweep, row, float }]);
    };
    for (const row of chipRows) put(row);
    const floatAdds: { name: string; data: FloatJobData; opts: object }[] = [];
    for (const [key, { job, rows }] of floatJobs) {
      const id = floatJobId(key);
      if ((await this.client.exists(floatKey(this.sweep, id))) === 1) {
        for (const row of rows) put(row, id); // trained already: the rows can go now
        continue;
      }
      // a finished float job whose weights expired would block its rows: train it again
      const old = await this.queue(floatQueue(this.sweep)).getJob(id);
      if (old && (await old.isCompleted())) await old.remove().catch(() => undefined);
      floatAdds.push({ name: 'float', data: { format: JOB_FORMAT, kind: 'float', sweep: this.sweep, job, rows: rows.map((row) => ({ row, queue: this.queueOf.get(row.key)! })), opts }, opts: { ...opts, jobId: id } });
    }
    if (floatAdds.length) await this.queue(floatQueue(this.sweep)).addBulk(floatAdds);
    for (const [name, list] of byQueue) await this.queue(name).addBulk(list.map((data) => ({ name: 'row', data, opts: { ...opts, jobId: rowJobId(data.row.key) } })));
  }

  /** Ids in one of a queue's finished sets. */
  private ids(queue: string, set: 'completed' | 'failed'): Promise<string[]> {
    return this.client.zrange(`${PREFIX}:${queue}:${set}`, 0, -1);
  }

  /**
   * Every finished job of the wanted rows: completed ones with their rows, failed ones
   * (and failed float trainings, for their PTQ rows) with BullMQ's reason.
   */
  async finished(): Promise<{ completed: { id: string; row: SweepRow }[]; failed: { id: string; queue: string; reason: string }[] }> {
    const completed: { id: string; row: SweepRow }[] = [];
    const failed: { id: string; queue: string; reason: string }[] = [];
    for (const name of this.queues.keys()) {
      const isFloat = name === floatQueue(this.sweep);
      const done = isFloat ? [] : (await this.ids(name, 'completed')).filter((id) => this.wanted.has(id));
      if (done.length) {
        const values = await Promise.all(done.map((id) => this.client.hget(`${PREFIX}:${name}:${id}`, 'returnvalue')));
        done.forEach((id, i) => {
          const v = values[i];
          if (v) completed.push({ id, row: JSON.parse(v) as RowResult });
        });
      }
      const bad = (await this.ids(name, 'failed')).filter((id) => (isFloat ? this.floatRows.has(id) : this.wanted.has(id)));
      const reasons = await Promise.all(bad.map((id) => this.client.hget(`${PREFIX}:${name}:${id}`, 'failedReason')));
      bad.forEach((id, i) => failed.push({ id, queue: name, reason: reasons[i] ?? 'failed' }));
    }
    return { completed, failed };
  }

  /** Run a finished job again (an error row or a job the queue gave up on): the local sweep's retry on re-run. */
  async retry(queue: string, id: string): Promise<void> {
    const job = await this.queue(queue).getJob(id);
    const state = job ? await job.getState() : undefined;
    if (job && (state === 'completed' || state === 'failed')) await job.retry(state).catch(() => undefined);
  }

  /** Every row is finished: the workers may let go of this sweep's queues (a later run registers them again). */
  async unregister(): Promise<void> {
    await this.client.hdel(QUEUES_KEY, ...this.classes.map((c) => c.name));
  }

  async close(): Promise<void> {
    for (const q of this.queues.values()) await q.close().catch(() => undefined);
    this.client.disconnect();
  }
}

/** An error row for a row whose job the queue gave up on. */
function failedRow(row: RowSpec, reason: string): SweepRow {
  const now = new Date().toISOString();
  return { key: row.key, method: row.method, seed: row.seed, point: row.config.point, config: row.config, status: 'error', message: `queue: ${reason}`, startedAt: now, finishedAt: now, seconds: 0 };
}

/** Enqueue the rows not done, follow the workers until every one is finished; see the file comment. */
export async function runQueued(o: QueuedOptions): Promise<QueuedResult> {
  const sq = await SweepQueues.open(o.url, o.grid, o.runOn, o.todo);
  const written = new Map<string, SweepRow>();
  // the coordinator does not know how many workers serve the queues: the ETA assumes one
  const groups = groupRows(o.todo);
  const { floatJobs } = groups;
  const progress = sweepProgress({ grid: o.grid, groups, steps: o.steps, trained: new Map(), parallel: 1, quiet: o.quiet, stream: o.stream });
  const cost = (row: RowSpec) => taskCost(row.method === 'anpt-chip' ? { kind: 'chip', row } : { kind: 'ptq', row, float: { key: '', status: 'ok', seconds: 0 } }, o.steps);
  const record = (row: SweepRow) => {
    if (written.has(row.key) || !sq.wanted.has(rowJobId(row.key))) return; // a second completion of a row
    appendRow(o.dir, row);
    written.set(row.key, row);
    progress.row(row, cost(sq.wanted.get(rowJobId(row.key))!));
  };
  const reader = sq.client.duplicate();
  reader.on('error', () => {});
  try {
    await sq.register(o.command);
    // where each queue's event stream ends now: following starts there, after the scan
    const streams = [...sq.queues.keys()].map((q) => `${PREFIX}:${q}:events`);
    const last = await Promise.all(streams.map(async (k) => (await sq.client.xrevrange(k, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0'));
    // what finished while no coordinator watched; rows that ended in an error run again
    const before = await sq.finished();
    for (const c of before.completed) {
      if (c.row.status === 'error') await sq.retry(sq.queueOf.get(c.row.key)!, c.id);
      else record(c.row);
    }
    for (const f of before.failed) await sq.retry(f.queue, f.id);
    await sq.enqueue(o.todo.filter((r) => !written.has(r.key)), o.keepSeconds);
    o.log(`sweep: queued on ${sq.queues.size} queues (sweep ${sq.sweep}); ${written.size} rows had finished while no coordinator watched; start workers with: anpt worker --queue ${redactUrl(o.url)}`);

    let rescanAt = Date.now() + 30_000, rewriteAt = Date.now() + 10_000, dirty = written.size > 0;
    let reconnected = false;
    sq.client.on('ready', () => (reconnected = true));
    const rescan = async () => {
      const now = await sq.finished();
      for (const c of now.completed) record(c.row);
      for (const f of now.failed) {
        if (f.queue === floatQueue(sq.sweep)) for (const row of sq.floatRows.get(f.id) ?? []) record(failedRow(row, `float training failed: ${f.reason}`));
        else record(failedRow(sq.wanted.get(f.id)!, f.reason));
      }
    };
    await rescan();
    while (written.size < o.todo.length) {
      const got = (await reader.xread('COUNT', 1000, 'BLOCK', 1000, 'STREAMS', ...streams, ...last).catch(() => null)) as [string, [string, string[]][]][] | null;
      let needScan = reconnected || Date.now() > rescanAt;
      for (const [stream, entries] of got ?? []) {
        const i = streams.indexOf(stream);
        for (const [id, fields] of entries) {
          last[i] = id;
          const f: Record<string, string> = {};
          for (let k = 0; k + 1 < fields.length; k += 2) f[fields[k]] = fields[k + 1];
          if (f.event === 'completed' && f.returnvalue) {
            const v = JSON.parse(f.returnvalue) as RowResult | FloatResult;
            if ('kind' in v && v.kind === 'float') {
              const job = floatJobs.get([...floatJobs.keys()].find((key) => floatJobId(key) === f.jobId) ?? '')?.job;
              if (job) progress.float(`${job.method} seed ${job.seed}`, v.seconds, taskCost({ kind: 'float', job }, o.steps), `${v.status} on ${v.worker}`);
            } else {
              record(v as RowResult);
              dirty = true;
            }
          } else if (f.event === 'failed' || f.event === 'retries-exhausted') needScan = true;
        }
      }
      if (needScan) {
        reconnected = false;
        rescanAt = Date.now() + 30_000;
        await rescan().catch(() => undefined);
        dirty = true;
      }
      if (dirty && Date.now() > rewriteAt) {
        // results.csv, results.json and the report follow the rows (every 10 s at most)
        const results = collectResults(o.dir);
        writeResults(o.dir, results);
        if (o.report) writeReportFiles(o.dir, results);
        rewriteAt = Date.now() + 10_000;
        dirty = false;
      }
    }
    await sq.unregister();
  } finally {
    progress.stop();
    reader.disconnect();
    await sq.close();
  }
  const rows = [...written.values()];
  return { rows, failed: rows.filter((r) => r.status === 'error').length };
}

/** `--collect DIR`: append the rows the queue finished that DIR lacks (whatever --run-on queued them); returns how many. */
export async function collectQueued(url: string, dir: string, todo: RowSpec[], grid: GridSpec): Promise<number> {
  const seen = new Set<string>();
  for (const runOn of RUN_ON) {
    const sq = await SweepQueues.open(url, grid, runOn, todo);
    try {
      for (const c of (await sq.finished()).completed) {
        if (seen.has(c.row.key)) continue;
        seen.add(c.row.key);
        appendRow(dir, c.row);
      }
    } finally {
      await sq.close();
    }
  }
  return seen.size;
}

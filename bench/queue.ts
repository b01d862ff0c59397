/**
 * Queued sweeps: wall time of one 48-row grid run by the local piscina sweep (1 thread
 * and the default, one per CPU) and through Redis by 1, 2 and 4 `anpt worker`
 * processes (--concurrency 1 each), all in this run, on a redis-server of its own
 * (127.0.0.1, temporary directory). Wall times are the coordinator's own (runs.jsonl
 * wallSeconds: enqueue to last row), workers already waiting; each run is repeated and
 * the fastest kept (the machine is shared). Overhead per row = (wall time - the sum of
 * the rows' own compute seconds) / rows, with one worker (one thread locally): what the
 * queue (or the local pool) adds around the computation; and the median gap between
 * one row's end and the next row's start on the same worker (thread), which is the
 * per-row cost of fetching, dispatching and completing a row, free of compute noise.
 *
 *   npx tsx bench/queue.ts [--quick]      (also: npm run bench -- --only queue)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { startRedis } from '../test/redis-server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface QueueBenchRow {
  run: string;
  seconds: number;
  /** Sum of the rows' own seconds (their computation on the worker thread). */
  rowSeconds: number;
  /** Median time between a row's end and the next row's start on the same worker (or local thread), ms. */
  gapMs: number;
  /** Over the local sweep with 1 thread. */
  speedup: number;
}

export interface QueueBench {
  rows: number;
  grid: string[];
  results: QueueBenchRow[];
  /** Queue, 1 worker: (wall - row seconds) / rows. */
  overheadMsPerRow: number;
  /** The same for the local sweep with 1 thread. */
  localOverheadMsPerRow: number;
  cpus: number;
  loadAverage: number[];
}

function anpt(args: string[]): { child: ChildProcess; done: Promise<number | null>; ready: Promise<void> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const ready = new Promise<void>((resolve) => child.stderr!.on('data', (d) => {
    err += d;
    if (/at a time/.test(err)) resolve();
  }));
  const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, done, ready };
}

const lines = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
/** Median idle time between one row's end and the next row's start on the same worker (ms). */
function medianGapMs(rows: Record<string, unknown>[]): number {
  const byWorker = new Map<string, { start: number; end: number }[]>();
  for (const r of rows) {
    const w = String(r.worker ?? 'local');
    byWorker.set(w, [...(byWorker.get(w) ?? []), { start: Date.parse(String(r.startedAt)), end: Date.parse(String(r.finishedAt)) }]);
  }
  const gaps: number[] = [];
  for (const list of byWorker.values()) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) gaps.push(list[i].start - list[i - 1].end);
  }
  gaps.sort((a, b) => a - b);
  return gaps.length ? gaps[Math.floor(gaps.length / 2)] : NaN;
}

const timesOf = (dir: string) => {
  const rows = lines(join(dir, 'results.jsonl'));
  return {
    seconds: lines(join(dir, 'runs.jsonl')).at(-1)!.wallSeconds,
    rowSeconds: rows.reduce((s, r) => s + r.seconds, 0),
    gapMs: medianGapMs(rows),
  };
};

export async function benchQueue(quick: boolean): Promise<QueueBench> {
  const repeats = quick ? 1 : 2;
  const grid = ['--hidden', '32', '--steps', quick ? '500' : '2000', '--batch', '4', '--epochs', '4', '--weight-bits', '4,6,8,12', '--rounding', 'nearest,stochastic',
    '--seeds', '3', '--methods', 'anpt-chip,bptt-ptq', '--diag-samples', '0', '--no-report', '--quiet'];
  const tmp = mkdtempSync(join(os.tmpdir(), 'anpt-bench-queue-'));
  const redis = await startRedis();
  const results: QueueBenchRow[] = [];
  const loadStart = os.loadavg();
  try {
    let runN = 0;
    const sweep = async (extra: string[]) => {
      const dir = join(tmp, `run-${runN++}`);
      const r = anpt(['sweep', '--out', dir, ...grid, ...extra]);
      if ((await r.done) !== 0) throw new Error(`anpt sweep ${extra.join(' ')} failed`);
      return timesOf(dir);
    };
    const fastest = async (once: () => Promise<{ seconds: number; rowSeconds: number; gapMs: number }>) => {
      let best = await once();
      for (let i = 1; i < repeats; i++) {
        const t = await once();
        if (t.seconds < best.seconds) best = t;
      }
      return best;
    };
    const t1 = await fastest(() => sweep(['--workers', '1']));
    results.push({ run: 'local piscina, 1 thread', ...t1, speedup: 1 });
    const cpus = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
    const tl = await fastest(() => sweep([]));
    results.push({ run: `local piscina, ${cpus} threads (default)`, ...tl, speedup: t1.seconds / tl.seconds });
    for (const n of [1, 2, 4]) {
      const workers = Array.from({ length: n }, () => anpt(['worker', '--queue', redis.url, '--concurrency', '1']));
      await Promise.all(workers.map((w) => w.ready));
      const t = await fastest(async () => {
        const c = new Redis(redis.url);
        await c.flushall(); // the same grid is the same sweep: start each run from an empty queue
        c.disconnect();
        return sweep(['--queue', redis.url]);
      });
      for (const w of workers) w.child.kill('SIGTERM');
      await Promise.all(workers.map((w) => w.done));
      results.push({ run: `queue, ${n} worker${n > 1 ? 's' : ''}`, ...t, speedup: t1.seconds / t.seconds });
    }
  } finally {
    await redis.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
  const q1 = results.find((r) => r.run === 'queue, 1 worker')!;
  const perRow = (r: QueueBenchRow) => ((r.seconds - r.rowSeconds) / 48) * 1000;
  return { rows: 48, grid, results, overheadMsPerRow: perRow(q1), localOverheadMsPerRow: perRow(results[0]), cpus: os.cpus().length, loadAverage: loadStart };
}

export function formatQueueRows(b: QueueBench): string[] {
  const lines = b.results.map((r) => `${r.run.padEnd(34)} ${r.seconds.toFixed(1).padStart(6)} s   speed-up ${r.speedup.toFixed(2)}x   median gap between rows on a worker ${r.gapMs.toFixed(0)} ms`);
  lines.push(`overhead per row, (wall - rows' own compute seconds) / ${b.rows}: queue with 1 worker ${b.overheadMsPerRow.toFixed(0)} ms, local piscina with 1 thread ${b.localOverheadMsPerRow.toFixed(0)} ms`);
  lines.push(`queue overhead per row (the difference): ${(b.overheadMsPerRow - b.localOverheadMsPerRow).toFixed(0)} ms`);
  lines.push(`machine: ${b.cpus} CPUs, load average at start ${b.loadAverage.map((x) => x.toFixed(2)).join(' ')}`);
  return lines;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const b = await benchQueue(process.argv.includes('--quick'));
  for (const line of formatQueueRows(b)) console.log(line);
}

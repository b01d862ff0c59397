/**
 * Progress of a sweep on stderr: on a terminal one live bar over the whole sweep (rows
 * done, elapsed, ETA, the last row's result); otherwise (a pipe, a log, CI) one line
 * per finished row and per shared float training, each with the ETA.
 *
 * The ETA comes from measured times, per kind of task (an anpt-chip row, a PTQ row, a
 * float training), because a PTQ row is a test pass and an ANP-T row a whole training:
 * the work left of each kind times the mean seconds of that kind measured so far (in
 * this run, or recorded in results.jsonl and the float cache by an earlier run of the
 * same sweep), divided by the tasks running side by side. A kind not measured yet is
 * estimated from the measured ones through runner.ts taskCost's relative costs. Rows a
 * resumed sweep skips are neither work left nor fast work done.
 */
import cliProgress from 'cli-progress';
import type { SweepRow } from './results.js';

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
}

export interface SweepProgress {
  /** A row finished; `cost` of its task (and of nothing else). */
  row(row: SweepRow, cost: number): void;
  /** A shared float training finished. */
  float(label: string, seconds: number, cost: number, status: string): void;
  stop(): void;
}

export type TaskKind = 'chip' | 'ptq' | 'float';

/** Not a terminal: longest silence between progress lines of a sweep, seconds. */
export const HEARTBEAT_SECONDS = 5;

/** The kind of a finished row's task. */
export const rowKind = (r: Pick<SweepRow, 'method'>): TaskKind => (r.method === 'anpt-chip' ? 'chip' : 'ptq');

/** Tasks to run of one kind: how many, and the cost model's estimate of one. */
export interface KindWork {
  count: number;
  cost: number;
}

/**
 * Seconds left: per kind, the tasks left times the mean measured seconds of the kind
 * (or, unmeasured, its cost times the measured seconds per cost unit), over `parallel`.
 * NaN while nothing is measured.
 */
export function etaSeconds(left: Record<TaskKind, KindWork>, measured: Record<TaskKind, number[]>, parallel: number): number {
  let sec = 0, cost = 0;
  for (const k of Object.keys(measured) as TaskKind[])
    for (const x of measured[k]) {
      sec += x;
      cost += left[k].cost;
    }
  const perCost = cost > 0 ? sec / cost : NaN;
  let total = 0;
  for (const k of Object.keys(left) as TaskKind[]) {
    const { count, cost: c } = left[k];
    if (count === 0) continue;
    const m = measured[k];
    total += count * (m.length ? m.reduce((a, b) => a + b, 0) / m.length : c * perCost);
  }
  return total / Math.max(1, parallel);
}

/** 93 -> "1m33s", 4000 -> "1h06m". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A short description of a row: "anpt-chip w8 stochastic seed 42" (+ the other dimensions that vary). */
export function rowLabel(r: Pick<SweepRow, 'method' | 'seed' | 'point'>, varies: { activityBits: boolean; sigma: boolean; mismatch: boolean }): string {
  const p = r.point;
  const extra = [
    varies.activityBits ? `a${p.activityBits}` : '',
    varies.sigma ? `sigma ${p.sigma}` : '',
    varies.mismatch ? `mismatch ${p.mismatch}` : '',
  ].filter(Boolean).join(' ');
  return `${r.method} w${p.weightBits} ${p.rounding}${extra ? ` ${extra}` : ''} seed ${r.seed}`;
}

/** The result of a row in a few characters. */
export function rowResult(r: SweepRow): string {
  if (r.status === 'error') return `error: ${r.message ?? '?'}`;
  const rel = r.metrics?.relTestMse;
  const v = rel === undefined ? '-' : rel < 100 ? rel.toFixed(3) : rel.toExponential(2);
  return `${v} x zero-output${r.status === 'diverged' ? ' (diverged)' : ''}`;
}

export interface ProgressOptions {
  totalRows: number;
  /** Sum of the costs of every task to run. */
  totalCost: number;
  /** The tasks to run, by kind. */
  work: Record<TaskKind, KindWork>;
  /** Seconds of tasks of each kind that an earlier run of this sweep measured (results.jsonl, the float cache). */
  prior?: Record<TaskKind, number[]>;
  /** Tasks running side by side (the worker threads; 1 for the main thread). */
  parallel: number;
  varies: { activityBits: boolean; sigma: boolean; mismatch: boolean };
  quiet: boolean;
  stream?: ProgressStream;
}

/** See the file comment. */
export function createSweepProgress(o: ProgressOptions): SweepProgress {
  const stream = o.stream ?? process.stderr;
  const started = performance.now();
  let rows = 0, cost = 0;
  const left: Record<TaskKind, KindWork> = { chip: { ...o.work.chip }, ptq: { ...o.work.ptq }, float: { ...o.work.float } };
  const measured: Record<TaskKind, number[]> = { chip: [...(o.prior?.chip ?? [])], ptq: [...(o.prior?.ptq ?? [])], float: [...(o.prior?.float ?? [])] };
  const done = (kind: TaskKind, seconds: number) => {
    left[kind].count = Math.max(0, left[kind].count - 1);
    measured[kind].push(seconds);
  };
  const eta = () => etaSeconds(left, measured, o.parallel);
  if (o.quiet) return { row: () => {}, float: () => {}, stop: () => {} };
  const width = String(o.totalRows).length;

  if (!stream.isTTY) {
    // a float training or a long row can take minutes: between rows, a line every HEARTBEAT_SECONDS
    let lastLine = performance.now();
    const heartbeat = setInterval(() => {
      if (performance.now() - lastLine < HEARTBEAT_SECONDS * 1000) return;
      lastLine = performance.now();
      stream.write(`sweep: ${rows}/${o.totalRows} rows done, ${duration((lastLine - started) / 1000)} elapsed, ETA ${duration(eta())}\n`);
    }, 1000);
    heartbeat.unref();
    return {
      row(r, c) {
        rows++;
        cost += c;
        done(rowKind(r), r.seconds);
        lastLine = performance.now();
        stream.write(`[${String(rows).padStart(width)}/${o.totalRows}] ${rowLabel(r, o.varies)}: ${rowResult(r)} (${r.seconds.toFixed(1)} s; ETA ${duration(eta())})\n`);
      },
      float(label, seconds, c, status) {
        cost += c;
        done('float', seconds);
        lastLine = performance.now();
        stream.write(`float training ${label}: ${status} in ${seconds.toFixed(1)} s (ETA ${duration(eta())})\n`);
      },
      stop: () => clearInterval(heartbeat),
    };
  }

  const bar = new cliProgress.SingleBar({
    stream: stream as NodeJS.WriteStream,
    format: 'sweep [{bar}] {percentage}% | {rows}/{totalRows} rows | {elapsed} | ETA {etaText} | {last}',
    barsize: 24,
    fps: 5,
    clearOnComplete: false,
    hideCursor: false,
    linewrap: false,
  }, cliProgress.Presets.shades_classic);
  const payload = (last: string) => ({ rows, totalRows: o.totalRows, elapsed: duration((performance.now() - started) / 1000), etaText: duration(eta()), last });
  bar.start(Math.max(o.totalCost, 1e-9), 0, payload('starting'));
  // the elapsed time and ETA move between rows too
  const timer = setInterval(() => bar.update(cost, payload(lastText)), 1000);
  timer.unref();
  let lastText = 'starting';
  return {
    row(r, c) {
      rows++;
      cost += c;
      done(rowKind(r), r.seconds);
      lastText = `${rowLabel(r, o.varies)}: ${rowResult(r)}`.slice(0, 70);
      bar.update(cost, payload(lastText));
    },
    float(label, seconds, c, status) {
      cost += c;
      done('float', seconds);
      lastText = `float ${label}: ${status}`;
      bar.update(cost, payload(lastText));
    },
    stop() {
      clearInterval(timer);
      bar.update(cost, payload(lastText));
      bar.stop();
    },
  };
}

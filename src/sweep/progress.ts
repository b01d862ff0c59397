/**
 * Progress of a sweep on stderr: on a terminal one live bar over the whole sweep (rows
 * done, elapsed, ETA, the last row's result); otherwise (a pipe, a log, CI) one line
 * per finished row and per shared float training, each with the ETA. The ETA weighs
 * the work left by its estimated cost (runner.ts taskCost), not by the row count,
 * because a PTQ row is a test pass and an ANP-T row a whole training.
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
  varies: { activityBits: boolean; sigma: boolean; mismatch: boolean };
  quiet: boolean;
  stream?: ProgressStream;
}

/** See the file comment. */
export function createSweepProgress(o: ProgressOptions): SweepProgress {
  const stream = o.stream ?? process.stderr;
  const started = performance.now();
  let rows = 0, cost = 0;
  const eta = () => {
    const elapsed = (performance.now() - started) / 1000;
    return cost > 0 ? (elapsed * (o.totalCost - cost)) / cost : NaN;
  };
  if (o.quiet) return { row: () => {}, float: () => {}, stop: () => {} };
  const width = String(o.totalRows).length;

  if (!stream.isTTY) {
    return {
      row(r, c) {
        rows++;
        cost += c;
        stream.write(`[${String(rows).padStart(width)}/${o.totalRows}] ${rowLabel(r, o.varies)}: ${rowResult(r)} (${r.seconds.toFixed(1)} s; ETA ${duration(eta())})\n`);
      },
      float(label, seconds, c, status) {
        cost += c;
        stream.write(`float training ${label}: ${status} in ${seconds.toFixed(1)} s (ETA ${duration(eta())})\n`);
      },
      stop: () => {},
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
      lastText = `${rowLabel(r, o.varies)}: ${rowResult(r)}`.slice(0, 70);
      bar.update(cost, payload(lastText));
    },
    float(label, _seconds, c, status) {
      cost += c;
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

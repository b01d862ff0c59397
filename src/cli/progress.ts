/**
 * Training progress, on stderr only (stdout carries results, and with --json nothing
 * but the one JSON object):
 * - on a terminal, one live bar over the whole run (epochs x steps: steps done, the
 *   epoch, running train MSE, steps/s, ETA of the run), with a one-line summary printed
 *   above it as each epoch ends;
 * - otherwise (a pipe, a log file, CI) the epoch summary lines and, inside an epoch,
 *   one line every `intervalSeconds` (default PROGRESS_INTERVAL_SECONDS): step, epoch,
 *   running train MSE, steps/s and the ETA of the run;
 * - nothing with --quiet.
 *
 * The trainers never yield to the event loop between steps, so the bar is redrawn
 * synchronously from update() (cli-progress synchronousUpdate), at most 10 times a
 * second, and the timed lines are checked at every progress callback (every 50 steps).
 */
import cliProgress from 'cli-progress';
import type { TrainProgress } from '../learn/anpt.js';
import type { ProgressStream } from './io.js';

export interface ProgressOptions {
  quiet: boolean;
  /** The zero-output test MSE, to show test losses as a ratio. */
  zeroTestMse?: number;
  /** Default process.stderr; a live bar only when isTTY. */
  stream?: ProgressStream;
  /** Not a terminal: seconds between progress lines inside an epoch (default PROGRESS_INTERVAL_SECONDS). */
  intervalSeconds?: number;
}

/** Seconds between progress lines on a non-terminal stderr: a line at least every 5 s even when a callback is late. */
export const PROGRESS_INTERVAL_SECONDS = 2;

/** 75 -> "1m15s". */
export function clock(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The timed line of a non-terminal stderr: where the run is and when it will end. */
export function stepLine(p: TrainProgress, elapsed: number): string {
  const rate = elapsed > 0 ? p.stepsDone / elapsed : 0;
  const eta = rate > 0 ? (p.totalSteps - p.stepsDone) / rate : NaN;
  const width = String(p.totalSteps).length;
  return `step ${String(p.stepsDone).padStart(width)}/${p.totalSteps} (epoch ${p.epoch + 1}/${p.epochs})  train MSE ${sci(p.trainMse)}  ${Math.round(rate)} steps/s  elapsed ${elapsed.toFixed(1)} s  ETA ${clock(eta)}`;
}

export interface Progress {
  onProgress(p: TrainProgress): void;
  /** A one-off line (e.g. a phase that has no epochs), in the same place as the epoch lines. */
  note(line: string): void;
  /** The device ran a chunk (also outside training, e.g. the test pass): not a terminal, a line if none came for a while. */
  tick(): void;
  /** Remove the bar (call on success and on failure). */
  stop(): void;
}

/** 1.234e-2 style, fixed width enough to line up. */
export function sci(v: number | undefined): string {
  return v === undefined ? '-' : Number.isFinite(v) ? v.toExponential(3) : String(v);
}

/** The line printed when an epoch ends. */
export function epochLine(p: TrainProgress, seconds: number, zeroTestMse?: number): string {
  const ratio = p.testMse !== undefined && zeroTestMse ? ` (${(p.testMse / zeroTestMse).toFixed(3)} x zero-output)` : '';
  const rate = seconds > 0 ? ` ${Math.round(p.stepsPerEpoch / seconds)} steps/s` : '';
  const width = String(p.epochs).length;
  return `epoch ${String(p.epoch + 1).padStart(width)}/${p.epochs}  train MSE ${sci(p.trainMse)}  test MSE ${sci(p.testMse)}${ratio}  ${seconds.toFixed(1)} s${rate}`;
}

/** A progress reporter for one training run; see the file comment. */
export function createProgress(opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet) return { onProgress: () => {}, note: () => {}, tick: () => {}, stop: () => {} };
  let epochStart = performance.now();
  // the whole run's clock: from the first progress callback (setup and the untrained test pass excluded)
  let runStart: number | undefined;
  let startedAt = 0;
  let bar: cliProgress.SingleBar | undefined;
  const every = (opts.intervalSeconds ?? PROGRESS_INTERVAL_SECONDS) * 1000;

  if (!stream.isTTY) {
    let lastLine = performance.now();
    let last: TrainProgress | undefined;
    let lastCall = 0;
    return {
      onProgress(p) {
        const now = performance.now();
        last = p;
        lastCall = now;
        if (runStart === undefined) {
          runStart = now;
          lastLine = now;
          startedAt = p.stepsDone - p.stepInEpoch;
        }
        if (p.phase === 'chunk') {
          if (now - lastLine >= every) {
            lastLine = now;
            stream.write(`${stepLine({ ...p, stepsDone: p.stepsDone - startedAt, totalSteps: p.totalSteps - startedAt }, (now - runStart) / 1000)}\n`);
          }
          return;
        }
        stream.write(`${epochLine(p, (now - epochStart) / 1000, opts.zeroTestMse)}\n`);
        epochStart = now;
        lastLine = now;
      },
      note: (line) => stream.write(`${line}\n`),
      tick() {
        // device calls between training chunks: the test pass, the diagnostics
        const now = performance.now();
        // inside training the trainer's own callbacks (every 50 steps) speak; a second without one is another phase
        if (runStart === undefined || !last || now - lastLine < every || now - lastCall < 1000) return;
        lastLine = now;
        stream.write(`step ${last.stepsDone}/${last.totalSteps} (epoch ${last.epoch + 1}/${last.epochs})  testing (${((now - runStart) / 1000).toFixed(0)} s into the run)\n`);
      },
      stop: () => {},
    };
  }

  const newBar = (p: TrainProgress) => {
    bar = new cliProgress.SingleBar({
      stream: stream as NodeJS.WriteStream,
      format: `[{bar}] {percentage}% | step {value}/{total} | epoch {epoch}/{epochs} | train MSE {loss} | {speed} steps/s | ETA {eta_formatted}`,
      barsize: 24,
      fps: 10,
      clearOnComplete: true,
      hideCursor: false,
      etaBuffer: 200,
    }, cliProgress.Presets.shades_classic);
    bar.start(p.totalSteps, p.stepsDone, { epoch: p.epoch + 1, epochs: p.epochs, loss: '-', speed: '-' });
  };
  return {
    onProgress(p) {
      const now = performance.now();
      if (runStart === undefined) {
        runStart = now;
        startedAt = p.stepsDone - p.stepInEpoch;
      }
      if (p.phase === 'chunk') {
        if (!bar) newBar(p);
        const seconds = (now - runStart) / 1000;
        bar!.update(p.stepsDone, { epoch: p.epoch + 1, loss: sci(p.trainMse), speed: seconds > 0 ? Math.round((p.stepsDone - startedAt) / seconds) : '-' });
        return;
      }
      bar?.stop();
      bar = undefined;
      stream.write(`${epochLine(p, (now - epochStart) / 1000, opts.zeroTestMse)}\n`);
      epochStart = now;
    },
    note(line) {
      bar?.stop();
      bar = undefined;
      stream.write(`${line}\n`);
    },
    tick: () => {},
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

/**
 * Training progress, on stderr only (stdout carries results, and with --json nothing
 * but the one JSON object):
 * - on a terminal, a live bar per epoch (steps, running train MSE, steps/s, ETA) that
 *   is replaced by a one-line epoch summary when the epoch ends;
 * - otherwise (a pipe, a log file, CI) just the epoch summary lines;
 * - nothing with --quiet.
 *
 * The trainers never yield to the event loop between steps, so the bar is redrawn
 * synchronously from update() (cli-progress synchronousUpdate), at most 10 times a second.
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
}

export interface Progress {
  onProgress(p: TrainProgress): void;
  /** A one-off line (e.g. a phase that has no epochs), in the same place as the epoch lines. */
  note(line: string): void;
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
  if (opts.quiet) return { onProgress: () => {}, note: () => {}, stop: () => {} };
  let epochStart = performance.now();
  let bar: cliProgress.SingleBar | undefined;

  if (!stream.isTTY) {
    return {
      onProgress(p) {
        if (p.phase !== 'epoch') return;
        const now = performance.now();
        stream.write(`${epochLine(p, (now - epochStart) / 1000, opts.zeroTestMse)}\n`);
        epochStart = now;
      },
      note: (line) => stream.write(`${line}\n`),
      stop: () => {},
    };
  }

  const newBar = (p: TrainProgress) => {
    bar = new cliProgress.SingleBar({
      stream: stream as NodeJS.WriteStream,
      format: `epoch {epoch}/{epochs} [{bar}] {percentage}% | train MSE {loss} | {speed} steps/s | ETA {eta_formatted}`,
      barsize: 24,
      fps: 10,
      clearOnComplete: true,
      hideCursor: false,
      etaBuffer: 200,
    }, cliProgress.Presets.shades_classic);
    bar.start(p.stepsPerEpoch, 0, { epoch: p.epoch + 1, epochs: p.epochs, loss: '-', speed: '-' });
  };
  return {
    onProgress(p) {
      const now = performance.now();
      if (p.phase === 'chunk') {
        if (!bar) newBar(p);
        const seconds = (now - epochStart) / 1000;
        bar!.update(p.stepInEpoch, { loss: sci(p.trainMse), speed: seconds > 0 ? Math.round(p.stepInEpoch / seconds) : '-' });
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
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

/**
 * What a training run reports: summary.json (also `--json`'s one object), the lines a
 * person reads at the end of `anpt train`, and the learning-curve plot loss.svg.
 */
import type { Topology } from '../device/types.js';
import type { EpochRecord } from '../learn/anpt.js';
import { nrmse } from '../learn/evaluate.js';
import { lineChart } from '../report/svg.js';
import type { Task } from '../tasks/index.js';
import { describeFormats } from './backend.js';
import { sci } from './progress.js';
import type { TrainConfig } from './train-config.js';
import { anptVersion } from '../version.js';

export interface RunOutcome {
  status: 'ok' | 'diverged';
  message?: string;
  epochs: EpochRecord[];
  initialTest: { mse: number; metrics?: Record<string, number> };
  finalTest: { mse: number; metrics?: Record<string, number> };
  deviceName: string;
  maxChunkSteps?: number;
  extra?: Record<string, unknown>;
  /** A board's link health at the end (bytes, frames, CRC errors, retries, round trips, resets recovered). */
  link?: Record<string, number>;
  task: Task;
  topology: Topology;
  /** Problems worth a look that did not stop the run. */
  warnings: string[];
  /** MSE of the all-zero output on the test set. */
  zeroTest: number;
  /** Wall time of the whole run, s. */
  seconds: number;
}

export type RunSummary = ReturnType<typeof buildSummary>;

/** summary.json; losses are MSE in target units squared, times in seconds. */
export function buildSummary(cfg: TrainConfig, o: RunOutcome, command: string) {
  const tested = o.epochs.filter((e) => e.testMse !== undefined && Number.isFinite(e.testMse));
  const best = tested.reduce<EpochRecord | undefined>((a, e) => (!a || e.testMse! < a.testMse! ? e : a), undefined);
  const trainSeconds = o.epochs.reduce((s, e) => s + e.seconds, 0);
  const stepsTrained = o.epochs.length * o.task.train.steps;
  return {
    anpt_version: anptVersion(),
    status: o.status,
    message: o.message,
    warnings: o.warnings.length ? o.warnings : undefined,
    command,
    task: {
      name: o.task.name,
      spec: cfg.task,
      inputs: o.task.inputSize,
      outputs: o.task.outputSize,
      batch: o.task.train.batch,
      train_steps: o.task.train.steps,
      test_steps: o.task.test.steps,
      normalisation: o.task.normalisation ? 'min-max per column from the train rows (saved in weights.json)' : undefined,
    },
    algo: cfg.algo,
    backend: cfg.backend,
    device: o.deviceName,
    config: {
      hidden: cfg.hidden,
      activation: o.topology.activation,
      mismatch: cfg.mismatch || undefined,
      epochs: cfg.algo === 'reservoir' ? undefined : cfg.epochs,
      lr: cfg.algo === 'reservoir' ? undefined : { w: cfg.readoutOnly ? 0 : cfg.layerLr.w, r: cfg.readoutOnly ? 0 : cfg.layerLr.r, v: cfg.readout === 'ridge' ? 0 : cfg.layerLr.v },
      lr_batch_scale: cfg.algo !== 'anpt' ? undefined : cfg.extras.sequence?.rms !== undefined ? 'none (--rms: lr is the step of each weight)' : `(B/10)^2 = ${(o.topology.batch / 10) ** 2}`,
      trace: cfg.algo === 'anpt' ? cfg.trace : undefined,
      trace_decay: cfg.algo === 'anpt' && cfg.trace !== 'none' ? cfg.traceDecay : undefined,
      readout: cfg.algo === 'anpt' ? cfg.readout : undefined,
      lr_schedule: cfg.algo === 'reservoir' ? undefined : cfg.schedule,
      sigma: cfg.sigma,
      seed: cfg.seed,
      chunk_steps: ['anpt', 'np', 'wp'].includes(cfg.algo) ? cfg.chunk : undefined,
      readout_only: cfg.readoutOnly,
      spectral_cap: cfg.spectralCap,
      spectral_every: cfg.spectralCap !== undefined ? cfg.extras.spectralEvery : undefined,
      ...(cfg.algo === 'anpt' ? {
        copies: cfg.extras.copies,
        output_sigma: cfg.extras.outputSigma,
        ridge_every: cfg.extras.ridgeEvery,
        reward: cfg.extras.reward,
        rms: cfg.extras.sequence?.rms,
        rms_clip: cfg.extras.sequence?.rmsClip,
        momentum: cfg.extras.sequence?.momentum,
        rollback: cfg.extras.rollback,
      } : {}),
      bptt_window: cfg.bpttWindow,
      max_chunk_steps: o.maxChunkSteps,
      formats: cfg.formats ? describeFormats(cfg.formats) : undefined,
      ...o.extra,
    },
    link: o.link,
    initial_test_loss: o.initialTest.mse,
    final_test_loss: o.finalTest.mse,
    best_test_loss: best?.testMse,
    best_epoch: best ? best.epoch + 1 : undefined,
    zero_output_test_loss: o.zeroTest,
    final_test_loss_vs_zero_output: o.finalTest.mse / o.zeroTest,
    /** sqrt(final test MSE / variance of the test targets): 1 = no better than the best constant. */
    final_test_nrmse: nrmse(o.finalTest.mse, o.task.test),
    initial_test_nrmse: nrmse(o.initialTest.mse, o.task.test),
    final_train_loss: o.epochs.at(-1)?.trainMse,
    test_metrics: o.finalTest.metrics,
    epochs_run: o.epochs.length,
    seconds: o.seconds,
    seconds_per_epoch: o.epochs.length ? trainSeconds / o.epochs.length : undefined,
    /** Time steps (each advancing all B sequences) trained per second, test evaluation included. */
    steps_per_second: trainSeconds > 0 ? stepsTrained / trainSeconds : undefined,
  };
}

/** The closing lines of `anpt train` on stdout. */
export function printSummary(s: RunSummary, out: string, write: (line: string) => void): void {
  const best = s.best_epoch !== undefined ? `; best ${sci(s.best_test_loss)} at epoch ${s.best_epoch}` : '';
  write(`final test MSE ${sci(s.final_test_loss)} = ${s.final_test_loss_vs_zero_output.toFixed(3)} x the zero-output MSE ${sci(s.zero_output_test_loss)}, NRMSE ${s.final_test_nrmse.toFixed(3)} (untrained ${sci(s.initial_test_loss)}${best})\n`);
  if (s.test_metrics) write(`test ${Object.entries(s.test_metrics).map(([k, v]) => `${k} ${Number(v.toPrecision(4))}`).join(', ')}\n`);
  const rate = s.steps_per_second !== undefined ? `, ${Math.round(s.steps_per_second)} steps/s` : '';
  write(`${s.status === 'ok' ? '' : `${s.status}: `}${s.epochs_run} epoch${s.epochs_run === 1 ? '' : 's'} in ${s.seconds.toFixed(1)} s${rate}\n`);
  write(`wrote ${out}/: metrics.csv summary.json weights.json loss.svg config.json\n`);
}

/** loss.svg: train and test MSE per epoch (log scale), with the zero-output level. */
export function lossChart(taskName: string, cfg: TrainConfig, initialTest: number, epochs: EpochRecord[], zeroTest: number): string {
  const last = Math.max(1, epochs.length);
  return lineChart({
    title: `${taskName}: ${cfg.algo} on ${cfg.backend}, H=${cfg.hidden}`,
    xLabel: 'epoch',
    yLabel: 'MSE',
    logY: true,
    series: [
      { name: 'train (running)', points: epochs.map((e) => ({ x: e.epoch + 1, y: e.trainMse })) },
      { name: 'test', points: [{ x: 0, y: initialTest }, ...epochs.filter((e) => e.testMse !== undefined).map((e) => ({ x: e.epoch + 1, y: e.testMse! }))] },
      { name: 'zero output (test)', points: [{ x: 0, y: zeroTest }, { x: last, y: zeroTest }], dashed: true, color: '#777777' },
    ],
  });
}

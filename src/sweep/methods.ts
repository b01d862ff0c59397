/**
 * What one row of the sweep computes, for each method. Every function here is plain
 * async code over the Device interface; worker.ts runs them on worker threads.
 *
 * - anpt-chip: ANP-T inside the emulator configured with the point's formats, noise
 *   and mismatch; tested on that emulator's clean copy.
 * - bptt-ptq / anpt-float-ptq: a float training that does not see the chip (trainFloat,
 *   shared by every point of a seed; ANP-T with `anpt train --backend float`'s spectral
 *   cap on R), then post-training quantisation: the float
 *   weights written into an emulator with the point's configuration (writeParams
 *   rounds to nearest and saturates) and tested on its clean copy.
 *
 * The gradient diagnostic (anpt-chip rows without mismatch, before training): the mean
 * update the chip applies over many noise draws at the same weights and state, at the
 * run's initial learning rate (so updates below an LSB round as they do in training),
 * against the exact BPTT gradient of the same chunk on the float shadow (the float
 * model with the chip's quantised weights). The float ANP-T rule's mean update at the
 * same weights (diagnostics.ts gradientAlignment) is measured alongside, so the table
 * separates what the rule loses from what quantised updates lose.
 */
import { EmulatorDevice } from '../device/emulator.js';
import type { Device, DeviceConfig, Params } from '../device/types.js';
import { codeRange, formatName, type FixedFormat } from '../format/fixed.js';
import { trainAnpt } from '../learn/anpt.js';
import { SPECTRAL_EVERY_STEPS } from '../learn/defaults.js';
import { evaluateFloat, trainBptt } from '../learn/bptt.js';
import { gradientAlignment, meanUpdate, updateGradientCosines, type LayerCosines } from '../learn/diagnostics.js';
import { evaluate, nrmse, zeroOutputMse } from '../learn/evaluate.js';
import { FloatDevice } from '../model/float-device.js';
import { initialParams, type RnnShape } from '../model/rnn.js';
import type { SequenceSet, Task } from '../tasks/types.js';
import { buildGridTask, chipConfig, type DiagnosticSettings, type FloatJob, type RowSpec } from './grid.js';

/** The numbers of one row. MSEs are in target units squared, over the whole test set. */
export interface RowMetrics {
  /** Test MSE of the emulator's clean copy. */
  testMse: number;
  /** Test MSE of the all-zero output (the bar to clear). */
  zeroMse: number;
  /** testMse / zeroMse. */
  relTestMse: number;
  /** sqrt(testMse / variance of the test targets) (evaluate.ts nrmse). */
  testNrmse?: number;
  /** The point's weight format, e.g. Q1.6. */
  weightFormat: string;
  /** Fraction of weights at the largest or smallest code after training / quantisation. */
  weightsAtRail: number;
  /** Training ended 'ok' or stopped as 'diverged' (the weights it had then are tested). */
  trainStatus: 'ok' | 'diverged';
  trainMessage?: string;
  /** anpt-chip: test MSE / zero-output MSE after each epoch. */
  relTestMseByEpoch?: number[];
  /** PTQ: test MSE of the float network before quantisation, and over zeroMse. */
  floatTestMse?: number;
  floatRelTestMse?: number;
  /** Seconds of the training (PTQ: of the shared float training, done once per seed). */
  trainSeconds: number;
  /** anpt-chip without mismatch: the gradient diagnostic. */
  diagnostic?: ChipDiagnostic;
}

export interface ChipDiagnostic {
  /** Cosine of the chip's mean update to -grad of full BPTT over the chunk, per layer and overall. */
  chip: LayerCosines;
  /** The same against the window-1 gradient (no credit through the recurrence). */
  chipWindow1: number;
  /** The float ANP-T rule's mean update at the same weights and state, against full BPTT. */
  float: LayerCosines;
  floatWindow1: number;
  /** Fraction of noise draws whose update changed no weight (everything rounded to zero). */
  zeroUpdateFraction: number;
  samples: number;
  steps: number;
  /** Step size the chip applied (the run's initial rate). */
  lr: number;
}

/** What a row's computation returns (the runner adds key, timing and configuration). */
export interface RowOutcome {
  status: 'ok' | 'diverged' | 'error';
  message?: string;
  metrics?: RowMetrics;
}

/** A finished float training, shared by the PTQ rows of one seed (and sigma). */
export interface FloatOutcome {
  key: string;
  status: 'ok' | 'diverged' | 'error';
  message?: string;
  /** Trained weights (plain arrays, JSON-safe); b and c with biases. */
  params?: { w: number[]; r: number[]; v: number[]; b?: number[]; c?: number[] };
  floatTestMse?: number;
  zeroMse?: number;
  seconds: number;
}

function shapeOf(row: { hidden: number; activation: RnnShape['activation'] }, task: Task): RnnShape {
  return { inputs: task.inputSize, hidden: row.hidden, outputs: task.outputSize, activation: row.activation };
}


/** Fraction of weights at a rail of the format. */
function railFraction(p: Params, f: FixedFormat): number {
  const { min, max } = codeRange(f);
  const hi = max * 2 ** -f.frac, lo = min * 2 ** -f.frac;
  let n = 0, at = 0;
  for (const L of ['w', 'r', 'v'] as const)
    for (const x of p[L]) {
      n++;
      if (x >= hi || x <= lo) at++;
    }
  return n ? at / n : 0;
}

/** Run `steps` clean steps of `set` from its start in chunks the device accepts. */
async function warmUp(dev: Device, set: SequenceSet, steps: number): Promise<void> {
  const BI = set.batch * set.inputSize;
  const chunk = (await dev.info()).maxChunkSteps; // a board may have fewer than the configuration asked for
  await dev.resetState();
  for (let s = 0; s < steps; s += chunk) {
    const k = Math.min(chunk, steps - s);
    await dev.run({ steps: k, t0: s, inputs: set.inputs.subarray(s * BI, (s + k) * BI), noisy: false });
  }
}

/**
 * Where a row runs: a fresh emulator by default; a queue worker bound to a board gives
 * the board (configure() resets it, so one board serves row after row).
 */
export type ChipSource = () => Promise<Device>;
const emulator: ChipSource = async () => new EmulatorDevice();

/** The gradient diagnostic of one chip configuration at weights `init`; see the file comment. */
export async function chipDiagnostic(cfg: DeviceConfig, init: Params, set: SequenceSet, shape: RnnShape, d: DiagnosticSettings, lr: number, chip: ChipSource = emulator): Promise<ChipDiagnostic> {
  const dev = await chip();
  await dev.configure(cfg);
  await dev.writeParams(init);
  const params = await dev.readParams(); // the quantised weights: the float shadow's weights
  const B = set.batch, I = set.inputSize, O = set.outputSize, K = d.steps;
  await warmUp(dev, set, d.warmup);
  const state = (await dev.readState()).clean;
  const inputs = set.inputs.slice(d.warmup * B * I, (d.warmup + K) * B * I);
  const targets = set.targets.slice(d.warmup * B * O, (d.warmup + K) * B * O);
  const { mean, zeroUpdates } = await meanUpdate(dev, params, state, inputs, targets, K, d.samples, { t0: d.warmup, lr });
  // the float shadow's alignment computes both BPTT gradients at the same weights, state and chunk
  const float = await gradientAlignment(shape, params, B, state, inputs, targets, K, { samples: d.samples, hiddenSigma: cfg.noise.hiddenSigma, outputSigma: cfg.noise.outputSigma, seed: cfg.seed });
  return {
    chip: updateGradientCosines(mean, float.gradFull),
    chipWindow1: updateGradientCosines(mean, float.gradWindow1).all,
    float: float.full,
    floatWindow1: float.window1.all,
    zeroUpdateFraction: zeroUpdates / d.samples,
    samples: d.samples,
    steps: K,
    lr,
  };
}

/** anpt-chip: ANP-T inside the emulator with the point's formats, noise and mismatch. */
export async function runAnptChip(row: RowSpec, chip: ChipSource = emulator): Promise<RowOutcome> {
  const c = row.config;
  const a = c.anpt!;
  const task = buildGridTask(c.task, row.seed);
  const shape = shapeOf(c, task);
  const cfg = chipConfig(c, task, row.seed);
  const init = initialParams(shape, row.seed, c.bias);
  const diagnostic = c.diagnostics && c.point.mismatch === 0
    ? await chipDiagnostic(cfg, init, task.train, shape, c.diagnostics, a.lr, chip)
    : undefined;
  const dev = await chip();
  await dev.configure(cfg);
  await dev.writeParams(init);
  const started = performance.now();
  const res = await trainAnpt(dev, task.train, {
    epochs: a.epochs, lr: { w: a.lr, r: a.lr, v: a.lr }, schedule: { kind: a.schedule }, chunkSteps: a.chunk, test: task.test,
  });
  const trainSeconds = (performance.now() - started) / 1000;
  const zeroMse = zeroOutputMse(task.test);
  const last = res.epochs.at(-1);
  const testMse = res.status === 'ok' && last?.testMse !== undefined ? last.testMse : (await evaluate(dev, task.test)).mse;
  const params = await dev.readParams();
  return {
    status: res.status,
    message: res.message,
    metrics: {
      testMse, zeroMse, relTestMse: testMse / zeroMse, testNrmse: nrmse(testMse, task.test),
      weightFormat: formatName(cfg.formats!.weight),
      weightsAtRail: railFraction(params, cfg.formats!.weight),
      trainStatus: res.status, trainMessage: res.message,
      relTestMseByEpoch: res.epochs.map((e) => (e.testMse ?? NaN) / zeroMse),
      trainSeconds,
      diagnostic,
    },
  };
}

const toArrays = (p: Params): NonNullable<FloatOutcome['params']> => ({
  w: Array.from(p.w), r: Array.from(p.r), v: Array.from(p.v), ...(p.b && p.c ? { b: Array.from(p.b), c: Array.from(p.c) } : {}),
});
const fromArrays = (p: NonNullable<FloatOutcome['params']>): Params => ({
  w: Float64Array.from(p.w), r: Float64Array.from(p.r), v: Float64Array.from(p.v), ...(p.b && p.c ? { b: Float64Array.from(p.b), c: Float64Array.from(p.c) } : {}),
});
const allFinite = (p: Params) => [p.w, p.r, p.v, p.b ?? [], p.c ?? []].every((a) => a.every(Number.isFinite));

/** The float training of a PTQ method (no chip in it); see FloatJob. */
export async function trainFloat(job: FloatJob): Promise<FloatOutcome> {
  const started = performance.now();
  const task = buildGridTask(job.task, job.seed);
  const shape = shapeOf(job, task);
  const init = initialParams(shape, job.seed, job.bias);
  const zeroMse = zeroOutputMse(task.test);
  let params: Params;
  let status: FloatOutcome['status'] = 'ok';
  let message: string | undefined;
  if (job.method === 'bptt-ptq') {
    const b = job.bptt!;
    const res = trainBptt(shape, init, task.train, { epochs: b.epochs, lr: b.lr, window: b.window, optimizer: { kind: b.optimizer } });
    params = res.params;
  } else {
    const a = job.anpt!;
    const dev = new FloatDevice();
    await dev.configure({
      topology: { ...shape, batch: task.train.batch, ...(job.bias ? { bias: true } : {}) },
      noise: { hiddenSigma: job.sigma!, outputSigma: job.sigma! },
      seed: job.seed,
      maxChunkSteps: Math.max(Math.min(1000, task.train.steps), Math.min(a.chunk, task.train.steps)),
    });
    await dev.writeParams(init);
    // as `anpt train --backend float` trains ANP-T: with the spectral cap on R (src/learn/defaults.ts)
    const res = await trainAnpt(dev, task.train, {
      epochs: a.epochs, lr: { w: a.lr, r: a.lr, v: a.lr }, schedule: { kind: a.schedule }, chunkSteps: a.chunk,
      spectral: job.spectralCap ? { cap: job.spectralCap, everySteps: SPECTRAL_EVERY_STEPS } : undefined,
    });
    status = res.status;
    message = res.message;
    params = await dev.readParams();
  }
  const seconds = (performance.now() - started) / 1000;
  if (!allFinite(params))
    return { key: job.key, status: 'diverged', message: `${job.method}: the float weights are not finite after training; nothing to quantise`, zeroMse, seconds };
  const floatTestMse = evaluateFloat(shape, params, task.test).mse;
  return { key: job.key, status, message, params: toArrays(params), floatTestMse, zeroMse, seconds };
}

/** Post-training quantisation: the float weights on the point's emulator, tested on its clean copy. */
export async function runPtq(row: RowSpec, float: FloatOutcome, chip: ChipSource = emulator): Promise<RowOutcome> {
  if (!float.params) return { status: float.status === 'diverged' ? 'diverged' : 'error', message: float.message ?? 'the float training produced no weights' };
  const c = row.config;
  const task = buildGridTask(c.task, row.seed);
  const cfg = chipConfig(c, task, row.seed);
  const dev = await chip();
  await dev.configure(cfg);
  await dev.writeParams(fromArrays(float.params));
  const testMse = (await evaluate(dev, task.test)).mse;
  const zeroMse = zeroOutputMse(task.test);
  const trainStatus = float.status === 'diverged' ? 'diverged' : 'ok';
  return {
    status: trainStatus,
    message: float.message,
    metrics: {
      testMse, zeroMse, relTestMse: testMse / zeroMse, testNrmse: nrmse(testMse, task.test),
      weightFormat: formatName(cfg.formats!.weight),
      weightsAtRail: railFraction(await dev.readParams(), cfg.formats!.weight),
      trainStatus, trainMessage: float.message,
      floatTestMse: float.floatTestMse, floatRelTestMse: float.floatTestMse === undefined ? undefined : float.floatTestMse / zeroMse,
      trainSeconds: float.seconds,
    },
  };
}

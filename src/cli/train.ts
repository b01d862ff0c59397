/**
 * `anpt train`: train a network on a task with one algorithm on one backend and write
 * the run directory (metrics.csv, summary.json, weights.json, loss.svg).
 *
 * Every flag is checked before any work, and nothing is written until the run is over,
 * so bad input (exit 2) and an interrupted run leave no directory behind. A run that
 * diverges still writes its directory, with status "diverged", and exits 1.
 */
import type { Command } from 'commander';
import type { Activation, ChipFormats, Device, LearnerConfig, MismatchConfig, Params, Topology } from '../device/types.js';
import { TRACE_KINDS } from '../device/config.js';
import { trainAnpt, type EpochRecord, type TrainProgress } from '../learn/anpt.js';
import { evaluateFloat, trainBptt } from '../learn/bptt.js';
import { evaluate, zeroOutputMse, type Evaluation } from '../learn/evaluate.js';
import { DEFAULT_GAINS, DEFAULT_RADII, tuneReservoir } from '../learn/reservoir.js';
import { gradientAlignment } from '../learn/diagnostics.js';
import { WarmSpectralRadius } from '../linalg/spectral.js';
import { codeRange, formatName, lsb } from '../format/fixed.js';
import { ACTIVATIONS, initialParams, type RnnShape } from '../model/rnn.js';
import { divergence, DIVERGENCE_FACTOR, DIVERGENCE_RULE, untrainedReference } from '../learn/divergence.js';
import { checkTrainSize, evalChunkSteps } from './limits.js';
import { TRACE_DECAY } from '../learn/defaults.js';
import { applyConfigFile, configJson } from './config-file.js';
import type { Task } from '../tasks/index.js';
import { addFormatOptions, checkAlgoBackend, configureDevice, linkHealth, linkLine, makeDevice, openBoard, resolveDeviceUrl, resolveFormats, resolveThreads, THREADS_HELP, type FormatFlags } from './backend.js';
import {
  ACTIVATION, ALGO_DEFAULTS, ALGOS, BACKENDS, FLOAT_ANPT_SPECTRAL_CAP, BPTT_WINDOW, FLOAT_ONLY, HIDDEN, PROGRESS_EVERY_STEPS, SEED, TASK_BUDGET,
  type Algo, type Backend,
} from './defaults.js';
import { EXIT_FAILED, EXIT_OK, UsageError } from './errors.js';
import { choice, nonNegativeReal, positiveInt, positiveReal, positiveRealList, refuse, uint32 } from './options.js';
import { checkOutDir, metricsCsv, toJson, writeRunDir } from './output.js';
import { createProgress, PROGRESS_INTERVAL_SECONDS, sci, type Progress } from './progress.js';
import { buildSummary, lossChart, printSummary, type RunOutcome } from './summary.js';
import { addTaskOptions, buildTask, resolveTaskSpec, validationTaskSpec, type TaskFlags } from './task-options.js';
import { anptVersion } from '../version.js';
import { ResilientDevice } from '../link/resilient-device.js';
import { SerialDevice } from '../link/serial-device.js';
import { biasRows, toRows, weightsJson, WEIGHTS_FORMAT, type WeightsFile } from './weights-file.js';
import type { CliIo } from './io.js';
import type { TrainConfig } from './train-config.js';
import { addLinkOptions, resolveLinkSettings, type LinkFlags } from './link-options.js';
import { interruptedExit, isLinkFailure, writeLinkFailed } from './run-status.js';
import { hasRunState, Interrupted, resumeConfig, runStateSaver } from './resume.js';
import { LEARNER_OPTION_HELP, lrBatchScaleOf, resolveLearnerExtras, sequenceRewardDevice } from './learner-options.js';
import { replicateSequences } from '../tasks/replicate.js';

import type { TrainFlags } from './train-config.js';
export type { TrainFlags } from './train-config.js';

/** A training run, every value checked and resolved (defaults from defaults.ts). */
export type { TrainConfig } from './train-config.js';

/** Check every flag and fill in the defaults; throws UsageError (or ConfigError) before any work. */
export function resolveTrainConfig(f: TrainFlags): TrainConfig {
  if (f.resume !== undefined) return resumeConfig(f.resume, (flags) => resolveTrainConfig(flags as TrainFlags));
  const algo = choice('--algo', f.algo, ALGOS, 'anpt');
  // The default backend is the chip's unless the algorithm cannot run there.
  const deviceUrl = resolveDeviceUrl(f);
  if (deviceUrl !== undefined) refuse('--backend', f.backend, 'does not go with --device/--port (the board is the backend); remove it');
  else
    for (const [flag, raw] of [['--checkpoint-dir', f.checkpointDir], ['--link-timeout', f.linkTimeout], ['--link-budget', f.linkBudget], ['--take-over', f.takeOver]] as const)
      refuse(flag, raw, 'applies to a board (--device or --port) only; remove it');
  const backend: Backend = deviceUrl !== undefined ? 'device' : choice('--backend', f.backend, BACKENDS, FLOAT_ONLY[algo] ? 'float' : 'emulator');
  checkAlgoBackend(algo, backend);
  const d = ALGO_DEFAULTS[algo];
  if (algo === 'reservoir')
    for (const [flag, raw] of [['--epochs', f.epochs], ['--lr', f.lr], ['--sigma', f.sigma], ['--chunk', f.chunk], ['--schedule', f.schedule], ['--readout-only', f.readoutOnly], ['--spectral-cap', f.spectralCap]] as const)
      refuse(flag, raw, 'does not apply to --algo reservoir (one ridge-regression fit of the readout); remove it');
  if (algo === 'bptt') {
    refuse('--sigma', f.sigma, 'does not apply to --algo bptt (no noise is injected); remove it');
    refuse('--chunk', f.chunk, 'does not apply to --algo bptt; set the gradient window with --bptt-window');
    refuse('--spectral-cap', f.spectralCap, 'does not apply to --algo bptt (a stabiliser of the perturbation learners); remove it');
    refuse('--mismatch', f.mismatch, 'does not apply to --algo bptt (it trains the ideal float model off-device); remove it');
  }
  if (algo !== 'bptt') refuse('--bptt-window', f.bpttWindow, 'applies to --algo bptt only; remove it');
  if (algo !== 'reservoir')
    for (const [flag, raw] of [['--radius', f.radius], ['--input-gain', f.inputGain]] as const) refuse(flag, raw, 'applies to --algo reservoir only; remove it');
  if (algo === 'reservoir')
    for (const [flag, raw] of [['--lr-w', f.lrW], ['--lr-r', f.lrR], ['--lr-v', f.lrV]] as const) refuse(flag, raw, 'does not apply to --algo reservoir (no step size); remove it');
  if (algo !== 'anpt')
    for (const [flag, raw] of [['--trace', f.trace], ['--trace-decay', f.traceDecay], ['--readout', f.readout]] as const) refuse(flag, raw, 'applies to --algo anpt only; remove it');
  const trace = choice('--trace', f.trace, TRACE_KINDS, 'none');
  // the emulator and the float model have traces; a board without Limits.traces refuses learner.trace at configure (-> --trace)
  if (trace === 'none') refuse('--trace-decay', f.traceDecay, 'goes with --trace activity or innovation; add one or remove it');
  const traceDecay = nonNegativeReal('--trace-decay', f.traceDecay, TRACE_DECAY, String(TRACE_DECAY));
  if (!(traceDecay < 1)) throw new UsageError(`--trace-decay: '${f.traceDecay}' is not below 1; use a decay 0 <= lambda < 1, e.g. ${TRACE_DECAY}`);
  const lr = nonNegativeReal('--lr', f.lr, d.lr, '0.1');
  const seed = uint32('--seed', f.seed, SEED, '42');
  const task = resolveTaskSpec(f, { seed });
  const budget = TASK_BUDGET[task.name];
  const cfg: Omit<TrainConfig, 'extras'> = {
    task,
    algo,
    backend,
    deviceUrl,
    checkpointDir: f.checkpointDir,
    link: deviceUrl === undefined ? undefined : resolveLinkSettings(f, 'train'),
    hidden: positiveInt('--hidden', f.hidden, HIDDEN),
    epochs: algo === 'reservoir' ? 1 : positiveInt('--epochs', f.epochs, budget.epochs),
    lr,
    layerLr: { w: nonNegativeReal('--lr-w', f.lrW, lr, '0.1'), r: nonNegativeReal('--lr-r', f.lrR, lr, '0.1'), v: nonNegativeReal('--lr-v', f.lrV, lr, '0.1') },
    trace,
    traceDecay,
    readout: choice('--readout', f.readout, ['device', 'ridge'] as const, 'device'),
    schedule: choice('--schedule', f.schedule, ['constant', 'cosine'] as const, d.schedule === 'cosine' ? 'cosine' : 'constant'),
    sigma: algo === 'bptt' || algo === 'reservoir' ? 0 : positiveReal('--sigma', f.sigma, d.sigma, '1e-3'),
    seed,
    chunk: f.chunk === undefined ? budget.chunk : positiveInt('--chunk', f.chunk, 1, '1'),
    threads: resolveThreads(f.threads, backend),
    readoutOnly: f.readoutOnly === true,
    activation: choice('--activation', f.activation, ACTIVATIONS, ACTIVATION),
    bias: f.bias === true,
    mismatch: mismatchSpread(f.mismatch),
    noDiagnostics: f.diagnostics === false,
    spectralCap: resolveSpectralCap(algo, backend, trace, f.spectralCap),
    reservoir: algo === 'reservoir' ? {
      radii: f.radius === 'init' ? [] : positiveRealList('--radius', f.radius, DEFAULT_RADII, '0.6,0.9 (or init)'),
      gains: positiveRealList('--input-gain', f.inputGain, DEFAULT_GAINS, '0.3,1'),
    } : undefined,
    bpttWindow: algo === 'bptt' ? (f.bpttWindow === 'full' ? 'full' : positiveInt('--bptt-window', f.bpttWindow, BPTT_WINDOW, `${BPTT_WINDOW} (or full)`)) : undefined,
    formats: resolveFormats(backend, f),
    out: f.out ?? '',
    force: f.force === true,
    json: f.json === true,
    quiet: f.quiet === true,
    progressEvery: positiveReal('--progress-every', f.progressEvery, PROGRESS_INTERVAL_SECONDS, String(PROGRESS_INTERVAL_SECONDS)),
    flags: f,
  };
  const extras = resolveLearnerExtras(f, cfg);
  checkOutDir(f.out, cfg.force);
  checkTrainSize({ ...cfg, copies: extras.copies });
  return { ...cfg, extras };
}

/** Largest mismatch spread (the sweep's bound): a gain std of 50 %. */
export const MAX_MISMATCH = 0.5;

/** --mismatch s: 0..MAX_MISMATCH, default 0 (none). */
function mismatchSpread(raw: string | undefined): number {
  const v = nonNegativeReal('--mismatch', raw, 0, '0.05');
  if (v > MAX_MISMATCH) throw new UsageError(`--mismatch: '${raw}' is above ${MAX_MISMATCH} (a ${MAX_MISMATCH * 100} % gain spread); e.g. --mismatch 0.05`);
  return v;
}

/** The device mismatch of a run: gain and offset spread s, drawn from the run's seed. */
export function runMismatch(cfg: Pick<TrainConfig, 'mismatch' | 'seed'>): MismatchConfig | undefined {
  return cfg.mismatch > 0 ? { gainSpread: cfg.mismatch, offsetSpread: cfg.mismatch, seed: cfg.seed } : undefined;
}

/** The learner of an anpt run with a trace (DeviceConfig.learner); undefined = plain ANP-T. */
export function runLearner(cfg: Pick<TrainConfig, 'algo' | 'trace' | 'traceDecay'>): LearnerConfig | undefined {
  return cfg.algo === 'anpt' && cfg.trace !== 'none' ? { trace: cfg.trace, decay: cfg.traceDecay } : undefined;
}

/**
 * --spectral-cap rho (0 = off); default FLOAT_ANPT_SPECTRAL_CAP for anpt on the float
 * model, and for anpt with a trace on any device (a trace's steps sum about 1/(1 - decay)
 * terms: without the cap `anpt train --task mackey-glass --trace innovation` diverged on
 * the emulator at step 199, with it test MSE 8.1e-4 against 7.0e-4 on the float model),
 * else off (the emulator's plain ANP-T was measured without it, docs/emulator.md).
 */
function resolveSpectralCap(algo: Algo, backend: Backend, trace: string, raw: string | undefined): number | undefined {
  const dflt = algo === 'anpt' && (backend === 'float' || trace !== 'none') ? FLOAT_ANPT_SPECTRAL_CAP : 0;
  const cap = nonNegativeReal('--spectral-cap', raw, dflt, '0.95 (0 = off)');
  return cap > 0 ? cap : undefined;
}

/** What every algorithm's training returns. */
interface Trained {
  status: 'ok' | 'diverged';
  message?: string;
  epochs: EpochRecord[];
  params: Params;
  /** Test set, before training (epoch 0 of the learning curve) and at the end. */
  initialTest: Evaluation;
  finalTest: Evaluation;
  deviceName: string;
  maxChunkSteps?: number;
  /** Anything algorithm-specific worth keeping (e.g. the ridge lambda). */
  extra?: Record<string, unknown>;
}

const finite = (e: EpochRecord) => Number.isFinite(e.trainMse) && (e.testMse === undefined || Number.isFinite(e.testMse));

/** BPTT trains the float model off-device (it needs gradients). */
function trainWithBptt(cfg: TrainConfig, task: Task, shape: RnnShape, initial: Params, onProgress: (p: TrainProgress) => void): Trained {
  const initialTest = evaluateFloat(shape, initial, task.test, task.metrics);
  const lr = cfg.readoutOnly ? { ...cfg.layerLr, w: 0, r: 0 } : cfg.layerLr;
  const res = trainBptt(shape, initial, task.train, {
    epochs: cfg.epochs, lr, window: cfg.bpttWindow!, optimizer: { kind: 'adam' }, schedule: { kind: cfg.schedule },
    test: task.test, metrics: task.metrics, onProgress,
  });
  const ok = res.epochs.every(finite);
  const last = res.epochs.at(-1)!;
  return {
    status: ok ? 'ok' : 'diverged',
    message: ok ? undefined : `the loss stopped being finite (train MSE ${last.trainMse}); lower --lr or the --bptt-window`,
    epochs: res.epochs, params: res.params, initialTest,
    finalTest: { mse: last.testMse ?? NaN, outputs: new Float64Array(0), metrics: last.metrics },
    deviceName: 'anpt-float (binary64 reference, BPTT off-device)',
    extra: { optimizer: 'adam' },
  };
}

/** Steps per training run/reward round trip, at most the sequence length. */
function trainChunk(cfg: TrainConfig, task: Task): number {
  return Math.min(cfg.chunk === 'sequence' ? task.train.steps : cfg.chunk, task.train.steps);
}

/** Steps per device call: the training chunk, and up to EVAL_CHUNK_STEPS for clean evaluation (limits.ts evalChunkSteps). */
function maxChunkSteps(cfg: TrainConfig, task: Task, topology: Topology): number {
  return evalChunkSteps(cfg.backend, topology, Math.max(task.train.steps, task.test.steps), trainChunk(cfg, task));
}

/** The configured device with the initial weights (ConfigError here is bad input: nothing has run yet). */
async function prepareDevice(cfg: TrainConfig, task: Task, topology: Topology, initial: Params, note: (line: string) => void): Promise<Device> {
  const device = cfg.backend === 'device'
    ? await openBoard(cfg.deviceUrl!, { ...cfg.link, checkpointDir: cfg.checkpointDir, onEvent: note })
    : cfg.extras.reward === 'sequence' ? sequenceRewardDevice(cfg.extras, cfg.threads) : makeDevice(cfg.algo, cfg.backend, cfg.threads);
  try {
    if (cfg.resume && device instanceof ResilientDevice) {
      await device.restore(cfg.resume.checkpoint); // the board as it was when the run state was saved
      return device;
    }
    let maxChunk = maxChunkSteps(cfg, task, topology);
    if (device instanceof ResilientDevice && device.device instanceof SerialDevice && cfg.formats) {
      // over a link a run and its reply must fit one frame: evaluation uses smaller chunks there
      const fit = device.device.chunkLimit(topology, cfg.formats);
      if (trainChunk(cfg, task) > fit) throw new UsageError(`--chunk: ${trainChunk(cfg, task)} steps of batch ${topology.batch} do not fit one frame of this link; use --chunk ${fit} or less`);
      maxChunk = Math.min(maxChunk, fit);
    }
    const minChunk = trainChunk(cfg, task);
    for (;;) {
      try {
        await configureDevice(device, { topology, formats: cfg.formats, sigma: cfg.sigma, outputSigma: cfg.extras.outputSigma, seed: cfg.seed, maxChunkSteps: maxChunk, mismatch: runMismatch(cfg), learner: runLearner(cfg) });
        break;
      } catch (err) {
        // A board's RAM bounds the chunk: evaluation chunks are our choice, so halve them
        // until the board accepts (never below the training chunk, which the user chose).
        const field = (err as { field?: string }).field;
        if (cfg.backend !== 'device' || field !== 'maxChunkSteps') throw err;
        if (maxChunk <= minChunk) throw await chunkTooLarge(device, cfg, topology, minChunk);
        maxChunk = Math.max(minChunk, Math.floor(maxChunk / 2));
      }
    }
    await device.writeParams(initial);
  } catch (err) {
    await device.close();
    throw err;
  }
  return device;
}

/**
 * The device with `tick` called after every run: the test pass and the diagnostics run
 * chunks outside the trainer's progress callbacks, and a pipe should hear from them too.
 */
function ticking(device: Device, tick: () => void): Device {
  return new Proxy(device, {
    get(target, key) {
      const v = Reflect.get(target, key, target) as unknown;
      if (typeof v !== 'function') return v;
      if (key !== 'run') return v.bind(target);
      return async (...args: unknown[]) => {
        const res = await (v as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        tick();
        return res;
      };
    },
  });
}

/** --chunk K is more than the board's RAM holds: find the most it takes (halving) and say so in flag terms. */
async function chunkTooLarge(device: Device, cfg: TrainConfig, topology: Topology, chunk: number): Promise<UsageError> {
  const fits = (k: number) => configureDevice(device, { topology, formats: cfg.formats, sigma: cfg.sigma, seed: cfg.seed, maxChunkSteps: k }).then(() => true, () => false);
  // bisect between the largest refused and the smallest accepted size
  let [lo, hi] = [0, chunk];
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (await fits(mid)) lo = mid;
    else hi = mid;
  }
  if (lo >= 1) return new UsageError(`--chunk: ${chunk} steps of batch ${topology.batch} need more RAM than the board at ${cfg.deviceUrl} has; it takes ${lo} (use --chunk ${lo} or less, or a smaller --hidden or --batch)`);
  return new UsageError(`--chunk: the board at ${cfg.deviceUrl} has too little RAM for hidden ${topology.hidden} and batch ${topology.batch}; lower --hidden or --batch`);
}

/** ANP-T, NP, WP and the reservoir fit all run through the Device interface. */
async function trainOnDevice(
  cfg: TrainConfig, task: Task, board: Device, onProgress: (p: TrainProgress) => void, progress: Progress, warn: (line: string) => void,
): Promise<Trained> {
  const device = ticking(board, () => progress.tick());
  const deviceName = (await device.info()).name;
  const maxChunk = (await device.info()).maxChunkSteps;
  const saved = cfg.resume?.initialTest;
  const initialTest = saved ? { ...saved, outputs: new Float64Array(0) } : await evaluate(device, task.test, { metrics: task.metrics });
  const saver = device instanceof ResilientDevice && cfg.algo !== 'reservoir' ? runStateSaver(cfg.out, cfg.flags ?? {}, device, initialTest) : undefined;
  try {
    return await trainOnDeviceFrom(cfg, task, device, onProgress, progress, warn, initialTest, deviceName, maxChunk, saver);
  } finally {
    saver?.stop();
  }
}

async function trainOnDeviceFrom(
  cfg: TrainConfig, task: Task, device: Device, onProgress: (p: TrainProgress) => void, progress: Progress, warn: (line: string) => void,
  initialTest: Evaluation, deviceName: string, maxChunk: number, saver: ReturnType<typeof runStateSaver> | undefined,
): Promise<Trained> {
  if (cfg.algo === 'reservoir') {
    const started = performance.now();
    const fit = await tuneReservoir(device, task.train, cfg.reservoir);
    const vMax = fit.v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    const w = cfg.formats?.weight;
    const range = w ? codeRange(w).max * lsb(w) : Infinity;
    if (vMax > range)
      warn(`the ridge readout has |V| up to ${vMax.toPrecision(3)}, but ${formatName(w!)} weights saturate at ${range.toPrecision(3)}: the emulator clips V, so its loss is far above the fit's; use --backend float for the reservoir baseline`);
    const train = await evaluate(device, task.train);
    const test = await evaluate(device, task.test, { metrics: task.metrics });
    const seconds = (performance.now() - started) / 1000;
    progress.note(`ridge fit of V: radius of R ${fit.radius ?? `kept (${fit.initialRadius.toPrecision(3)})`}, input gain ${fit.gain}, lambda ${fit.lambda} (chosen on the train tail), train MSE ${sci(train.mse)}, test MSE ${sci(test.mse)}, ${seconds.toFixed(1)} s`);
    const epoch: EpochRecord = { epoch: 0, trainMse: train.mse, testMse: test.mse, metrics: test.metrics, lrFactor: 1, rescales: 0, seconds };
    return {
      status: 'ok', epochs: [epoch], params: await device.readParams(), initialTest, finalTest: test, deviceName, maxChunkSteps: maxChunk,
      extra: { reservoir_radius: fit.radius, reservoir_initial_radius: fit.initialRadius, reservoir_gain: fit.gain, ridge_lambda: fit.lambda, ridge_validation: fit.table, reservoir_validation: fit.grid },
    };
  }
  const res = await trainAnpt(device, task.train, {
    epochs: cfg.epochs, lr: cfg.layerLr, chunkSteps: trainChunk(cfg, task), schedule: { kind: cfg.schedule },
    // ANP-T's step is batch-invariant (lr x (B/10)^2, learn/anpt.ts); NP and WP are gradient-scaled already
    lrBatchScale: lrBatchScaleOf(cfg.algo), readout: cfg.readout, onWarning: warn,
    reward: cfg.extras.reward, ridgeEverySteps: cfg.extras.ridgeEvery,
    readoutOnly: cfg.readoutOnly, test: task.test, metrics: task.metrics, onProgress, progressEverySteps: PROGRESS_EVERY_STEPS,
    // stop early at the divergence bound (divergence.ts), in the trainer's units: its zero-output train MSE
    divergenceFactor: DIVERGENCE_FACTOR * untrainedReference(initialTest.mse, zeroOutputMse(task.test)) / zeroOutputMse(task.test),
    spectral: cfg.spectralCap ? { cap: cfg.spectralCap, everySteps: cfg.extras.spectralEvery } : undefined,
    afterEpoch: (cfg.algo === 'anpt' && !cfg.noDiagnostics) ? ((rho) => () => epochDiagnostics(cfg, task, device, rho))(new WarmSpectralRadius()) : undefined,
    afterChunk: saver?.afterChunk, resume: cfg.resume?.position,
    rollback: cfg.extras.rollback !== undefined ? { validation: validationSet(cfg), factor: cfg.extras.rollback } : undefined,
  });
  const last = res.epochs.at(-1);
  // After a divergence the last completed epoch is not the weights the device holds now;
  // with --rollback the device ends on the best epoch on validation.
  const finalTest = res.status === 'ok' && last?.testMse !== undefined && !res.rollback
    ? { mse: last.testMse, outputs: new Float64Array(0), metrics: last.metrics }
    : await evaluate(device, task.test, { metrics: task.metrics });
  const r = res.rollback;
  const extra = r ? { rollback_best_epoch: r.bestEpoch + 1, rollback_best_validation_loss: r.bestValidationMse, rollbacks: r.rollbacks, validation_seed: validationTaskSpec(cfg.task).options.seed } : undefined;
  return { status: res.status, message: res.message, epochs: res.epochs, params: await device.readParams(), initialTest, finalTest, deviceName, maxChunkSteps: maxChunk, extra };
}

/** --rollback: the task drawn again with another data seed (validationTaskSpec), its test split, with the run's copies. */
function validationSet(cfg: TrainConfig) {
  return withCopies(buildTask(validationTaskSpec(cfg.task)), cfg.extras.copies).test;
}


/** Steps of the train set the gradient-quality diagnostic averages over (from a zero state). */
const DIAG_STEPS = 20;
/** Noise draws it averages. */
const DIAG_SAMPLES = 32;

/**
 * Per epoch: the spectral radius of R and the cosine between the mean ANP-T update (with
 * the run's trace) and the descent direction of the window-1 and the full BPTT gradient,
 * over the first DIAG_STEPS steps of the train set from a zero state, at the epoch's
 * weights (src/learn/diagnostics.ts). On a chip the update is the float twin's at the
 * chip's weights (the chip's rule in binary64: docs/kernel.md, test/traces-chip.test.ts).
 */
async function epochDiagnostics(cfg: TrainConfig, task: Task, device: Device, rho: WarmSpectralRadius): Promise<Record<string, number>> {
  const p = await device.readParams();
  const H = cfg.hidden;
  const out: Record<string, number> = { spectral_radius: rho.radius(p.r, H) }; // warm-started: the previous epoch's vector
  const set = task.train;
  const K = Math.min(DIAG_STEPS, set.steps);
  const shape: RnnShape = { inputs: set.inputSize, hidden: H, outputs: set.outputSize, activation: cfg.activation };
  const a = await gradientAlignment(shape, p, set.batch, new Float64Array(set.batch * H),
    set.inputs.subarray(0, K * set.batch * set.inputSize), set.targets.subarray(0, K * set.batch * set.outputSize), K,
    { samples: DIAG_SAMPLES, hiddenSigma: cfg.sigma, seed: cfg.seed, learner: runLearner(cfg) });
  out.cos_window1 = a.window1.all;
  out.cos_full = a.full.all;
  return out;
}

/** --copies M: the train and test sets with every sequence M times (the device's batch is B x M; a clean pass scores the copies alike). */
function withCopies(task: Task, M: number): Task {
  return M === 1 ? task : { ...task, train: replicateSequences(task.train, M), test: replicateSequences(task.test, M) };
}

/** Run a checked configuration; writes the run directory and prints the result. Returns the exit code. */
export async function runTrain(config: TrainConfig, io: CliIo, command: string): Promise<number> {
  const task = withCopies(buildTask(config.task), config.extras.copies);
  const cfg: TrainConfig = { ...config, chunk: config.chunk === 'sequence' ? task.train.steps : config.chunk };
  if (cfg.epochs * task.train.steps > 2 ** 32)
    throw new UsageError(`--epochs: ${cfg.epochs} epochs x ${task.train.steps} steps exceed the device's 32-bit step counter (${2 ** 32} steps); train fewer epochs or on shorter sequences`);
  const topology: Topology = { inputs: task.inputSize, hidden: cfg.hidden, outputs: task.outputSize, batch: task.train.batch, activation: cfg.activation, ...(cfg.bias ? { bias: true } : {}) };
  const shape: RnnShape = { inputs: topology.inputs, hidden: topology.hidden, outputs: topology.outputs, activation: topology.activation };
  const initial = initialParams(shape, cfg.seed, cfg.bias);
  const zeroTest = zeroOutputMse(task.test);
  const progress = createProgress({ quiet: cfg.quiet, zeroTestMse: zeroTest, stream: io.progress, intervalSeconds: cfg.progressEvery });
  const device = cfg.algo === 'bptt' ? undefined : await prepareDevice(cfg, task, topology, initial, (line) => progress.note(line));
  const started = performance.now();
  progress.note(`anpt train: ${task.name}, ${cfg.algo} on the ${cfg.backend} backend, H=${cfg.hidden} B=${topology.batch}${cfg.extras.copies > 1 ? ` (${topology.batch / cfg.extras.copies} x ${cfg.extras.copies} copies)` : ''} T=${task.train.steps}${cfg.algo === 'reservoir' ? '' : `, ${cfg.epochs} epoch${cfg.epochs > 1 ? 's' : ''}`}`);
  const warnings: string[] = [];
  const warn = (line: string) => {
    warnings.push(line);
    if (cfg.quiet) io.err(`anpt: warning: ${line}\n`);
    else progress.note(`anpt: warning: ${line}`);
  };
  let trained: Trained;
  let linkAtEnd: Record<string, number> | undefined;
  try {
    const onProgress = (p: TrainProgress) => {
      progress.onProgress(p);
      // a board's link health next to the loss, once per epoch
      const health = p.phase === 'epoch' && device ? linkHealth(device) : undefined;
      if (health) progress.note(`  ${linkLine(health)}`);
    };
    trained = device
      ? await trainOnDevice(cfg, task, device, onProgress, progress, warn)
      : trainWithBptt(cfg, task, shape, initial, onProgress);
    linkAtEnd = device ? linkHealth(device) : undefined;
  } catch (err) {
    if (cfg.backend === 'device' && isLinkFailure(err)) writeLinkFailed(cfg, device, err, command, (performance.now() - started) / 1000);
    if (err instanceof Interrupted) return interruptedExit(cfg, io, command, device ? linkHealth(device) : undefined);
    throw err;
  } finally {
    progress.stop();
    await device?.close();
  }
  if (trained.status === 'ok') {
    // the one rule of divergence.ts, for every learner (the trainers only stop early at it)
    const why = divergence(trained.epochs, trained.finalTest.mse, trained.initialTest.mse, zeroTest);
    if (why) trained = { ...trained, status: 'diverged', message: `${why}; lower --lr` };
  }
  const outcome: RunOutcome = { ...trained, link: linkAtEnd, task, topology, zeroTest, warnings, seconds: (performance.now() - started) / 1000 };
  const summary = buildSummary(cfg, outcome, command);
  const weights: WeightsFile = {
    format: WEIGHTS_FORMAT,
    anptVersion: anptVersion(),
    algo: cfg.algo,
    backend: cfg.backend,
    task: cfg.task,
    topology: cfg.bias ? { ...shape, bias: true } : shape,
    formats: cfg.formats,
    normalisation: task.normalisation,
    mismatch: runMismatch(cfg),
    W: toRows(trained.params.w, shape.hidden, shape.inputs),
    R: toRows(trained.params.r, shape.hidden, shape.hidden),
    V: toRows(trained.params.v, shape.outputs, shape.hidden),
    ...biasRows(trained.params),
  };
  writeRunDir(cfg.out, {
    'metrics.csv': metricsCsv(trained.initialTest, trained.epochs),
    'summary.json': toJson(summary, 2) + '\n',
    'weights.json': weightsJson(weights),
    'loss.svg': lossChart(task.name, cfg, trained.initialTest.mse, trained.epochs, zeroTest),
    'config.json': JSON.stringify(configJson(cfg), null, 2) + '\n',
  }, cfg.force || hasRunState(cfg.out));
  if (cfg.json) io.out(toJson(summary) + '\n');
  else printSummary(summary, cfg.out, io.out);
  if (trained.status !== 'ok') io.err(`anpt: the run diverged: ${trained.message}\n`);
  return trained.status === 'ok' ? EXIT_OK : EXIT_FAILED;
}

/** Declare `anpt train` on the program; `run` receives the parsed flags. */
export function addTrainCommand(program: Command, run: (flags: TrainFlags) => Promise<void>): Command {
  // commander passes the command as the last action argument: the config file needs its option sources
  const cmd = program
    .command('train')
    .description('train a recurrent network on a task and write a run directory (metrics.csv, summary.json, weights.json, loss.svg)')
    .option('--algo <name>', `learning rule: ${ALGOS.join(' | ')} (default anpt)`)
    .option('--backend <name>', 'float (binary64 model) | emulator (bit-exact chip); default emulator, float for np, wp and bptt')
    .option('--device <url>', 'train a board instead: tcp://127.0.0.1:5555 or serial:///dev/ttyACM0?baud=115200 (anpt, reservoir)')
    .option('--port <path>', 'serial shorthand for --device: the board\'s serial port, e.g. /dev/ttyACM0')
    .option('--baud <n>', 'with --port: baud rate (default 115200)')
    .option('--checkpoint-dir <dir>', 'with a board: write checkpoint.json there (recovery from resets works without it, in memory)');
  addLinkOptions(cmd);
  addTaskOptions(cmd, true);
  cmd
    .option('--hidden <H>', `hidden neurons (default ${HIDDEN})`)
    .option('--epochs <n>', `passes over the training set (default: mackey-glass ${TASK_BUDGET['mackey-glass'].epochs}, weather ${TASK_BUDGET.weather.epochs}, copy ${TASK_BUDGET.copy.epochs}, csv ${TASK_BUDGET.csv.epochs}, adding and delayed-recall ${TASK_BUDGET.adding.epochs})`)
    .option('--lr <eta>', `step size for W, R and V (default ${ALGO_DEFAULTS.anpt.lr}; np ${ALGO_DEFAULTS.np.lr}; wp ${ALGO_DEFAULTS.wp.lr}; bptt ${ALGO_DEFAULTS.bptt.lr} with Adam)`)
    .option('--schedule <kind>', `learning-rate schedule: constant | cosine (default ${ALGO_DEFAULTS.anpt.schedule}; np ${ALGO_DEFAULTS.np.schedule}; wp ${ALGO_DEFAULTS.wp.schedule}; bptt ${ALGO_DEFAULTS.bptt.schedule})`)
    .option('--sigma <std>', `noise std on hidden and output pre-activations (wp: on weights), real units (default ${ALGO_DEFAULTS.anpt.sigma})`)
    .option('--chunk <K>', 'steps per run/reward round trip: 1 = online, K > 1 = two-pass chunks (default 1; copy: one whole sequence, as the reference code)')
    .option('--threads <n>', THREADS_HELP)
    .option('--lr-w <eta>', 'step size of W (default: --lr)')
    .option('--lr-r <eta>', 'step size of R (default: --lr)')
    .option('--lr-v <eta>', 'step size of V (default: --lr); anpt rates are batch-invariant: the device gets lr x (B/10)^2')
    .option('--trace <kind>', `anpt: eligibility trace of the update: ${TRACE_KINDS.join(' | ')} (default none, the paper's rule; the float model, the emulator and boards announcing traces)`)
    .option('--trace-decay <lambda>', `anpt: decay of the trace per step, 0 <= lambda < 1 (default ${TRACE_DECAY})`)
    .option('--readout <kind>', 'anpt: device (the rule trains V) | ridge (V solved on the host by ridge on the clean hidden trace after every epoch; default device)')
    .option('--readout-only', 'train V only (ablation)')
    .option('--spectral-cap <rho>', `anpt, np, wp: rescale R to spectral radius rho whenever it exceeds it (checked every --spectral-every steps; a forward-only stabiliser); 0 = off (default ${FLOAT_ANPT_SPECTRAL_CAP} for anpt on the float backend or with --trace, else off)`);
  for (const [flag, help] of LEARNER_OPTION_HELP) cmd.option(flag, help);
  cmd
    .option('--no-diagnostics', 'anpt: skip the per-epoch spectral radius of R and the cosine of the update to the BPTT gradient, written to metrics.csv')
    .option('--radius <list>', `reservoir: spectral radii of R to try, comma-separated, chosen with --input-gain and the ridge lambda on the last 20 % of the train steps (never the test set); init = keep the initial R (default ${DEFAULT_RADII.join(',')})`)
    .option('--input-gain <list>', `reservoir: gains of the initial W to try, comma-separated (1 = keep W; default ${DEFAULT_GAINS.join(',')})`)
    .option('--bptt-window <k>', `bptt: steps per gradient window, or full (default ${BPTT_WINDOW})`)
    .option('--seed <n>', `seed of the data, initial weights and noise (default ${SEED})`)
    .option('--activation <name>', `hidden nonlinearity: ${ACTIVATIONS.join(' | ')} (default ${ACTIVATION})`)
    .option('--bias', 'hidden and output biases b, c, learnt like weights on a constant input 1 (default off; float model, emulator, boards announcing biases)')
    .option('--mismatch <s>', `per-neuron mismatch of the chip: gain std s (relative) and offset std s (real units), 0..${MAX_MISMATCH}, drawn from --seed; anpt, np, wp, reservoir (default 0)`);
  addFormatOptions(cmd);
  return cmd
    .option('--out <dir>', 'run directory to create (required; must not exist or be empty)')
    .option('--force', 'replace an existing non-empty --out directory')
    .option('--json', 'print the summary as one JSON object on stdout, nothing else')
    .option('--quiet', 'no progress on stderr')
    .option('--progress-every <s>', `stderr not a terminal: seconds between progress lines inside an epoch (default ${PROGRESS_INTERVAL_SECONDS})`)
    .option('--config <file.json>', 'flags from a JSON file ({"hidden": 100, "weight-bits": 8}); flags given here override it; every run writes its full config.json, which repeats it')
    .option('--resume <dir>', 'continue the board run whose --out directory this is (after SIGKILL, Ctrl-C or a link failure) from its saved state; its flags are taken from there')
    .addHelpText('after', `\nExit codes: 0 the run is ok; 1 the run diverged: ${DIVERGENCE_RULE} (its directory is written, with "status": "diverged"); 2 bad input, one line on stderr, nothing written.`)
    .action(async (flags: TrainFlags, command: Command) => run(applyConfigFile(flags, command)));
}


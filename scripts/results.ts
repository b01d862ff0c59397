/**
 * The runs behind docs/results.md (issue 3): every learner on the paper's tasks, tuned
 * on one seed, then run on the seeds 42, 101, 300 at the chosen setting.
 *
 * Resumable: every finished run appends one JSON line to docs/results/runs.jsonl,
 * keyed by task + learner + config + seed; a key already in the file is skipped, so a
 * stopped job restarts where it stopped. Run ONE job at a time (the machine is shared):
 *
 *   nice -n 10 npx tsx scripts/results.ts --task mg-recall --stage tune
 *   nice -n 10 npx tsx scripts/results.ts --task mg-recall --stage final
 *   nice -n 10 npx tsx scripts/results.ts --task mg-recall --stage long      # target (3): 30 epochs
 *   nice -n 10 npx tsx scripts/results.ts --task mg-recall --stage explore   # target (3): variants
 *   npx tsx scripts/results-table.ts                                         # docs/results.md
 *
 * Options: --learners anpt,np,... (default all), --dry (list the runs a stage would do).
 *
 * Tasks (H = 100, B = 10, sigma = 1e-3, float backend):
 *   mg-recall, mg-forecast  Mackey-Glass, horizon 15, 5000-step sequences, online, 10 epochs
 *   weather                 WTH.csv, next-hour dry-bulb temperature, online, 5 epochs
 *   copy                    100 symbols, delay 10, two-pass (one chunk = one 210-step sequence), 150 epochs
 *
 * Selection is by a validation MSE that is not the test set: for Mackey-Glass and copy,
 * independent sequences drawn from another data seed (VALIDATION_SEED_OFFSET); for
 * weather (fixed data) the tuning runs train on the first 80 % of every train segment
 * and are scored on the last 20 %.
 *
 * Tuning (stage tune, seed 42, the same procedure for every learner; see GRID):
 *   1. sweep lr over {1e-4, 1e-3, 1e-2, 1e-1, 1} with cosine decay (BPTT: with SGD and
 *      with Adam);
 *   2. at the best lr (per optimiser for BPTT) try the constant rate, and the learner's
 *      stabiliser: spectral cap 0.95 on R for the perturbation learners (ANP-T, NP, WP),
 *      global gradient-norm clip 1 for BPTT. Readout-only ANP-T has a fixed R (no cap).
 *   The best of all those by validation MSE is the chosen setting.
 * The tuning runs use TUNE_EPOCHS[task] epochs (a shorter budget than the final runs,
 * the same for every learner: the schedule spans the tuning run).
 */
import { VALIDATION_SEED_OFFSET } from '../src/learn/defaults.js';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { LearningRates } from '../src/device/types.js';
import { trainAnpt, type EpochRecord } from '../src/learn/anpt.js';
import { evaluateFloat, trainBptt, type Optimizer } from '../src/learn/bptt.js';
import { spectralRadius } from '../src/linalg/spectral.js';
import { evaluate, targetVariance, zeroOutputMse } from '../src/learn/evaluate.js';
import { NpFloatDevice } from '../src/learn/np.js';
import { fitRidgeReadout, tuneReservoir } from '../src/learn/reservoir.js';
import type { Schedule } from '../src/learn/schedule.js';
import { WpFloatDevice } from '../src/learn/wp.js';
import { FloatDevice } from '../src/model/float-device.js';
import { xavierNormal, type RnnShape } from '../src/model/rnn.js';
import { copyTask } from '../src/tasks/copy.js';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';
import type { SequenceSet, Task } from '../src/tasks/types.js';
import { weatherTask } from '../src/tasks/weather.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const RUNS_FILE = process.env.RESULTS_RUNS ?? join(ROOT, 'docs', 'results', 'runs.jsonl');

export const TASKS = ['mg-recall', 'mg-forecast', 'weather', 'copy'] as const;
export type TaskKey = (typeof TASKS)[number];
export const LEARNERS = ['anpt', 'anpt-ro', 'np', 'wp', 'bptt1', 'bpttk', 'reservoir', 'reservoir-tuned'] as const;
export type Learner = (typeof LEARNERS)[number];

export const LEARNER_NAMES: Record<Learner, string> = {
  anpt: 'ANP-T',
  'anpt-ro': 'ANP-T readout-only',
  np: 'NP (unbiased scale)',
  wp: 'WP (unbiased scale)',
  bptt1: 'BPTT window 1, Adam (reference BP)',
  bpttk: 'BPTT truncated/full',
  reservoir: 'reservoir, untuned (Xavier W and R; ridge readout)',
  'reservoir-tuned': 'reservoir, tuned (radius of R, gain of W, lambda on the train tail)',
};

export const H = 100;
export const BATCH = 10;
export const SIGMA = 1e-3;
export const SEEDS = [42, 101, 300];
export const TUNE_SEED = 42;
export { VALIDATION_SEED_OFFSET }; // (the validation draw: data seed + this; src/learn/defaults.ts, as anpt train --rollback)
export const LR_GRID = [1e-4, 1e-3, 1e-2, 1e-1, 1];
/** Final budgets (the issue's). */
export const EPOCHS: Record<TaskKey, number> = { 'mg-recall': 10, 'mg-forecast': 10, weather: 5, copy: 150 };
/** Tuning budgets (same for every learner). */
export const TUNE_EPOCHS: Record<TaskKey, number> = { 'mg-recall': 3, 'mg-forecast': 3, weather: 2, copy: 40 };
/** Steps per ANP-T/NP/WP chunk: online except copy (two-pass: one whole sequence). */
export const CHUNK: Record<TaskKey, number> = { 'mg-recall': 1, 'mg-forecast': 1, weather: 1, copy: 210 };
/** BPTT window of the 'bpttk' learner: 20 steps covers the 15-step lag (MG) ; copy: the whole 210-step sequence. */
export const BPTT_K: Record<TaskKey, number | 'full'> = { 'mg-recall': 20, 'mg-forecast': 20, weather: 20, copy: 'full' };

export interface RunConfig {
  lr: number;
  sched: 'const' | 'cos';
  epochs: number;
  opt?: 'sgd' | 'adam';
  /** BPTT window. */
  window?: number | 'full';
  /** ANP-T/NP/WP steps per chunk. */
  chunk?: number;
  /** Spectral-radius cap on R (ANP-T, NP, WP). */
  cap?: number;
  /** Cap check interval, steps (default 100). */
  capEvery?: number;
  /** BPTT global gradient-norm clip. */
  gclip?: number;
  /** ANP-T |dL| clip (loss units). */
  dlclip?: number;
  /** ANP-T dL normalisation on. */
  norm?: boolean;
  /** Per-layer multipliers of lr (w, r, v). */
  mult?: [number, number, number];
  /** Decorrelation rate (float model D). */
  decor?: number;
  /** Weather tuning: train on this fraction of each segment, validate on the rest. */
  trainFrac?: number;
  /** Evaluate the test set every this many epochs (default 1). */
  evalEvery?: number;
}

export interface RunRecord {
  key: string;
  task: TaskKey;
  learner: Learner;
  stage: string;
  config: RunConfig;
  seed: number;
  status: 'ok' | 'diverged';
  message?: string;
  epochs: { epoch: number; trainMse: number; testMse?: number; metrics?: Record<string, number>; rho?: number; seconds: number }[];
  finalTest: number;
  bestTest: number;
  finalMetrics?: Record<string, number>;
  /** Validation MSE at the end (selection score). */
  val: number;
  zeroTest: number;
  zeroVal: number;
  secondsPerEpoch: number;
  wallSeconds: number;
  finished: string;
}

/** Stable key of a run. */
export function runKey(task: TaskKey, learner: Learner, config: RunConfig, seed: number): string {
  const c = Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined).sort(([a], [b]) => a.localeCompare(b)));
  return `${task}|${learner}|${JSON.stringify(c)}|${seed}`;
}

export function readRuns(file = RUNS_FILE): RunRecord[] {
  if (!existsSync(file)) return [];
  // JSON writes NaN as null: read it back as NaN
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l, (_k, v: unknown) => (v === null ? NaN : v)) as RunRecord);
}

function sliceSteps(s: SequenceSet, from: number, to: number): SequenceSet {
  const { batch: B, inputSize: I, outputSize: O } = s;
  return { steps: to - from, batch: B, inputSize: I, outputSize: O, inputs: s.inputs.slice(from * B * I, to * B * I), targets: s.targets.slice(from * B * O, to * B * O) };
}

interface Data { task: Task; train: SequenceSet; test: SequenceSet; val: SequenceSet }

const dataCache = new Map<string, Data>();
function loadData(task: TaskKey, seed: number, trainFrac?: number): Data {
  const id = `${task}|${seed}|${trainFrac ?? 1}`;
  const hit = dataCache.get(id);
  if (hit) return hit;
  let d: Data;
  if (task === 'mg-recall' || task === 'mg-forecast') {
    const mode = task === 'mg-recall' ? 'recall' : 'forecast';
    const t = mackeyGlassTask({ steps: 5000, batch: BATCH, mode, horizon: 15, seed });
    const v = mackeyGlassTask({ steps: 5000, batch: BATCH, mode, horizon: 15, seed: seed + VALIDATION_SEED_OFFSET });
    d = { task: t, train: t.train, test: t.test, val: v.test };
  } else if (task === 'copy') {
    const t = copyTask({ length: 100, delay: 10, batch: BATCH, seed });
    const v = copyTask({ length: 100, delay: 10, batch: BATCH, seed: seed + VALIDATION_SEED_OFFSET });
    d = { task: t, train: t.train, test: t.test, val: v.test };
  } else {
    const t = weatherTask({ batch: BATCH });
    const T = t.train.steps, cut = Math.floor(T * (trainFrac ?? 0.8));
    d = { task: t, train: trainFrac ? sliceSteps(t.train, 0, cut) : t.train, test: t.test, val: sliceSteps(t.train, cut, T) };
  }
  dataCache.set(id, d);
  return d;
}

/** Variance of a task's test targets (the denominator of NRMSE) for a seed's data. */
export function testTargetVariance(task: TaskKey, seed: number): number {
  return targetVariance(loadData(task, seed).test);
}

function schedule(c: RunConfig): Schedule {
  return c.sched === 'cos' ? { kind: 'cosine' } : { kind: 'constant' };
}

function rates(c: RunConfig): LearningRates {
  const [mw, mr, mv] = c.mult ?? [1, 1, 1];
  return { w: c.lr * mw, r: c.lr * mr, v: c.lr * mv };
}

/** One run; never throws for a diverged run (recorded as such). */
export async function runOne(task: TaskKey, learner: Learner, config: RunConfig, seed: number, stage: string): Promise<RunRecord> {
  const started = performance.now();
  const { task: t, train, test, val } = loadData(task, seed, config.trainFrac);
  const shape: RnnShape = { inputs: t.inputSize, hidden: H, outputs: t.outputSize, activation: 'tanh' };
  const init = xavierNormal(shape, seed);
  const zeroTest = zeroOutputMse(test), zeroVal = zeroOutputMse(val);
  const metrics = t.metrics;
  const base = { key: runKey(task, learner, config, seed), task, learner, stage, config, seed, zeroTest, zeroVal };
  const finish = (status: RunRecord['status'], epochs: EpochRecord[], valMse: number, message?: string, rhos?: number[], finalMetrics?: Record<string, number>): RunRecord => {
    const tests = epochs.map((e) => e.testMse).filter((x): x is number => x !== undefined && Number.isFinite(x));
    const wall = (performance.now() - started) / 1000;
    const trainSeconds = epochs.reduce((s, e) => s + e.seconds, 0);
    const last = epochs.at(-1);
    const diverged = status === 'diverged';
    return {
      ...base, status, message,
      epochs: epochs.map((e, i) => ({ epoch: e.epoch, trainMse: e.trainMse, testMse: e.testMse, metrics: e.metrics, rho: rhos?.[i], seconds: e.seconds })),
      finalTest: diverged || last?.testMse === undefined ? NaN : last.testMse,
      bestTest: tests.length ? Math.min(...tests) : NaN,
      finalMetrics: diverged ? undefined : (finalMetrics ?? last?.metrics),
      val: diverged ? NaN : valMse,
      secondsPerEpoch: epochs.length ? trainSeconds / epochs.length : wall,
      wallSeconds: wall,
      finished: new Date().toISOString(),
    };
  };

  if (learner === 'bptt1' || learner === 'bpttk') {
    const opt: Optimizer = config.opt === 'adam' ? { kind: 'adam' } : { kind: 'sgd' };
    const window = config.window ?? (learner === 'bptt1' ? 1 : BPTT_K[task]);
    const rhos: number[] = [];
    let bad = false;
    const res = trainBptt(shape, init, train, {
      epochs: config.epochs, lr: rates(config), window, optimizer: opt, schedule: schedule(config),
      gradientClip: config.gclip, test, metrics,
    });
    for (const e of res.epochs) if (!Number.isFinite(e.testMse ?? NaN) || !Number.isFinite(e.trainMse) || (e.testMse ?? 0) > 1e4 * zeroTest) bad = true;
    rhos.push(spectralRadius(res.params.r, H));
    const v = evaluateFloat(shape, res.params, val).mse;
    const r = finish(bad || !Number.isFinite(v) ? 'diverged' : 'ok', res.epochs, v, bad ? 'loss not finite or > 1e4 x zero-output' : undefined);
    r.epochs.at(-1)!.rho = rhos[0];
    return r;
  }

  const dev = learner === 'np' ? new NpFloatDevice({ decorrelationRate: config.decor })
    : learner === 'wp' ? new WpFloatDevice({ decorrelationRate: config.decor })
      : new FloatDevice({ decorrelationRate: config.decor });
  await dev.configure({ topology: { ...shape, batch: BATCH }, noise: { hiddenSigma: SIGMA, outputSigma: SIGMA }, seed, maxChunkSteps: Math.max(1000, config.chunk ?? 1) });
  await dev.writeParams(init);

  if (isReservoir(learner)) {
    const t0 = performance.now();
    const tuned = learner === 'reservoir-tuned' ? await tuneReservoir(dev, train) : undefined;
    const fit = tuned ?? await fitRidgeReadout(dev, train);
    const ev = await evaluate(dev, test, { metrics });
    const v = (await evaluate(dev, val)).mse;
    const sec = (performance.now() - t0) / 1000;
    const r = finish('ok', [{ epoch: 0, trainMse: fit.trainMse, testMse: ev.mse, metrics: ev.metrics, lrFactor: 1, rescales: 0, seconds: sec }], v);
    r.message = tuned ? `radius ${tuned.radius}, gain ${tuned.gain}, lambda ${tuned.lambda}` : `lambda ${fit.lambda}`;
    return r;
  }

  const rhos: number[] = [];
  const res = await trainAnpt(dev, train, {
    epochs: config.epochs, lr: rates(config), schedule: schedule(config), chunkSteps: config.chunk ?? 1,
    readoutOnly: learner === 'anpt-ro',
    spectral: config.cap ? { cap: config.cap, everySteps: config.capEvery ?? 100 } : undefined,
    clip: config.dlclip ? { mode: 'clip', max: config.dlclip } : undefined,
    normalise: config.norm ? {} : undefined,
    test, metrics, evaluateEvery: config.evalEvery ?? 1,
    onProgress: (p) => {
      if (p.phase === 'epoch') void 0;
    },
  });
  // spectral radius after training (per-epoch values are in the records when capped)
  const p = await dev.readParams();
  for (const e of res.epochs) rhos.push(e.spectralRadius ?? NaN);
  if (rhos.length) rhos[rhos.length - 1] = spectralRadius(p.r, H);
  const v = res.status === 'ok' ? (await evaluate(dev, val)).mse : NaN;
  return finish(res.status, res.epochs, v, res.message, rhos);
}

// ---------------------------------------------------------------- plans

export interface PlannedRun { task: TaskKey; learner: Learner; config: RunConfig; seed: number; stage: string }

function baseConfig(task: TaskKey, learner: Learner, epochs: number): Partial<RunConfig> {
  const c: Partial<RunConfig> = { epochs };
  if (learner === 'anpt' || learner === 'anpt-ro' || learner === 'np' || learner === 'wp') c.chunk = CHUNK[task];
  if (learner === 'bptt1') c.window = 1;
  if (learner === 'bpttk') c.window = BPTT_K[task];
  if (task === 'weather') c.trainFrac = 0.8;
  if (task === 'copy') c.evalEvery = 10;
  return c;
}

const isBptt = (l: Learner) => l === 'bptt1' || l === 'bpttk';
/** The ridge-readout baselines: no step size, no tuning runs (the tuned one tunes on the train tail itself). */
export const isReservoir = (l: Learner) => l === 'reservoir' || l === 'reservoir-tuned';

/** Lowest lr the sweep may extend down to (see sweepConfigs). */
export const LR_FLOOR = 1e-7;

/**
 * Step 1 of tuning: the lr sweep (cosine; BPTT with SGD and Adam) over LR_GRID, extended
 * down by decades (to LR_FLOOR) while every lr tried diverged or the best one is the
 * smallest tried: the same rule for every learner (it only ever adds budget).
 */
export function sweepConfigs(task: TaskKey, learner: Learner, runs: RunRecord[] = []): RunConfig[] {
  if (isReservoir(learner)) return [];
  const b = baseConfig(task, learner, TUNE_EPOCHS[task]);
  const opts: (RunConfig['opt'] | undefined)[] = isBptt(learner) ? ['sgd', 'adam'] : [undefined];
  const out: RunConfig[] = [];
  for (const opt of opts) {
    const cfgs = LR_GRID.map((lr) => ({ ...b, lr, sched: 'cos', opt }) as RunConfig);
    for (;;) {
      const recs = cfgs.map((c) => runs.find((r) => r.key === runKey(task, learner, c, TUNE_SEED)));
      if (recs.some((r) => !r)) break; // not all run yet
      const lowest = cfgs[0].lr;
      const best = bestOf(recs as RunRecord[]);
      if ((best && best.config.lr !== lowest) || lowest / 10 < LR_FLOOR * 0.999) break;
      cfgs.unshift({ ...b, lr: Number((lowest / 10).toPrecision(1)), sched: 'cos', opt } as RunConfig);
    }
    out.push(...cfgs);
  }
  return out;
}

/** Step 2: at the best lr of step 1 (per optimiser), the constant rate and the stabiliser. */
export function toggleConfigs(task: TaskKey, learner: Learner, runs: RunRecord[]): RunConfig[] {
  if (isReservoir(learner)) return [];
  const out: RunConfig[] = [];
  const opts: (RunConfig['opt'] | undefined)[] = isBptt(learner) ? ['sgd', 'adam'] : [undefined];
  for (const opt of opts) {
    const sweep = sweepConfigs(task, learner, runs).filter((c) => c.opt === opt);
    const best = bestOf(sweep.map((c) => runs.find((r) => r.key === runKey(task, learner, c, TUNE_SEED))).filter((r): r is RunRecord => !!r));
    if (!best) continue;
    out.push({ ...best.config, sched: 'const' });
    if (learner === 'anpt' || learner === 'np' || learner === 'wp') out.push({ ...best.config, cap: 0.95 });
    if (isBptt(learner)) out.push({ ...best.config, gclip: 1 });
  }
  return out;
}

/** Lowest validation MSE (NaN / diverged last). */
export function bestOf(rs: RunRecord[]): RunRecord | undefined {
  const ok = rs.filter((r) => r.status === 'ok' && Number.isFinite(r.val));
  return ok.length ? ok.reduce((a, b) => (b.val < a.val ? b : a)) : undefined;
}

/**
 * The optimisers a learner's chosen setting may use: BPTT window 1 is the reference's
 * BP, which uses Adam (issue 3: "window 1 with Adam as in the reference"); its SGD
 * runs are reported as an extra row ('sgd').
 */
export function allowedOpt(learner: Learner, variant?: 'sgd'): RunConfig['opt'][] | undefined {
  if (learner !== 'bptt1') return undefined;
  return variant === 'sgd' ? ['sgd'] : ['adam'];
}

/** The chosen tuning run of a learner (over sweep + toggles), if tuning is done. */
export function chosen(task: TaskKey, learner: Learner, runs: RunRecord[], variant?: 'sgd'): RunRecord | undefined {
  const opts = allowedOpt(learner, variant);
  const cfgs = [...sweepConfigs(task, learner, runs), ...toggleConfigs(task, learner, runs)].filter((c) => !opts || opts.includes(c.opt));
  const keys = new Set(cfgs.map((c) => runKey(task, learner, c, TUNE_SEED)));
  return bestOf(runs.filter((r) => keys.has(r.key)));
}

/** The final config of a learner: the chosen tuning config at the final budget (weather: full train). */
export function finalConfig(task: TaskKey, learner: Learner, runs: RunRecord[], variant?: 'sgd'): RunConfig | undefined {
  if (isReservoir(learner)) return { lr: 0, sched: 'const', epochs: 1 };
  const c = chosen(task, learner, runs, variant);
  if (!c) return undefined;
  const f: RunConfig = { ...c.config, epochs: EPOCHS[task] };
  delete f.trainFrac;
  return f;
}

function plan(task: TaskKey, stage: string, learners: Learner[], runs: RunRecord[]): PlannedRun[] {
  const out: PlannedRun[] = [];
  const add = (learner: Learner, config: RunConfig, seed: number) => out.push({ task, learner, config, seed, stage });
  if (stage === 'sweep') for (const l of learners) for (const c of sweepConfigs(task, l, runs)) add(l, c, TUNE_SEED);
  if (stage === 'toggle') for (const l of learners) for (const c of toggleConfigs(task, l, runs)) add(l, c, TUNE_SEED);
  if (stage === 'final')
    for (const l of learners) {
      const c = finalConfig(task, l, runs);
      if (c) for (const s of SEEDS) add(l, c, s);
      const extra = l === 'bptt1' ? finalConfig(task, l, runs, 'sgd') : undefined;
      if (extra) for (const s of SEEDS) add(l, extra, s);
    }
  if (stage === 'long')
    for (const l of learners.filter((x) => x === 'anpt' || x === 'anpt-ro')) {
      const c = finalConfig(task, l, runs);
      if (c) for (const s of SEEDS) add(l, { ...c, epochs: 3 * EPOCHS[task] }, s);
    }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      task: { type: 'string' },
      stage: { type: 'string', default: 'tune' },
      learners: { type: 'string' },
      seeds: { type: 'string' },
      config: { type: 'string' },
      dry: { type: 'boolean', default: false },
    },
  });
  const task = values.task as TaskKey;
  if (!TASKS.includes(task)) throw new Error(`--task: one of ${TASKS.join(', ')}`);
  const learners = (values.learners ? values.learners.split(',') : [...LEARNERS]) as Learner[];
  for (const l of learners) if (!LEARNERS.includes(l)) throw new Error(`--learners: unknown '${l}'; use ${LEARNERS.join(',')}`);
  mkdirSync(dirname(RUNS_FILE), { recursive: true });
  // 'tune' = sweep, then toggles (which depend on the sweep); 'explore' = one given config (JSON) on given seeds
  const stages = values.stage === 'tune' ? ['sweep', 'toggle'] : [values.stage!];
  for (let si = 0; si < stages.length; si++) {
    const stage = stages[si];
    let todo: PlannedRun[];
    if (stage === 'explore') {
      if (!values.config) throw new Error('--stage explore needs --config JSON');
      const seeds = values.seeds ? values.seeds.split(',').map(Number) : SEEDS;
      todo = learners.flatMap((l) => seeds.map((s) => ({ task, learner: l, config: JSON.parse(values.config!) as RunConfig, seed: s, stage })));
    } else todo = plan(task, stage, learners, readRuns());
    const done = new Set(readRuns().map((r) => r.key));
    const pending = todo.filter((p) => !done.has(runKey(p.task, p.learner, p.config, p.seed)));
    console.log(`${task} ${stage}: ${todo.length} runs, ${pending.length} to do`);
    if (!pending.length || values.dry) continue;
    if (stage === 'sweep') stages.splice(si + 1, 0, 'sweep'); // again: the sweep may extend
    for (const p of pending) {
      const key = runKey(p.task, p.learner, p.config, p.seed);
      if (values.dry) { console.log(`  would run ${key}`); continue; }
      const r = await runOne(p.task, p.learner, p.config, p.seed, p.stage);
      appendFileSync(RUNS_FILE, JSON.stringify(r) + '\n');
      console.log(`${new Date().toISOString().slice(11, 19)} ${key}: ${r.status} test ${r.finalTest.toExponential(3)} best ${r.bestTest.toExponential(3)} val ${r.val.toExponential(3)} zero ${r.zeroTest.toExponential(3)} ${r.secondsPerEpoch.toFixed(2)} s/ep${r.message ? ' ' + r.message : ''}`);
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();

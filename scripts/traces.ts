/**
 * The evidence for issue 11's eligibility traces on the float model (docs/results/traces.md):
 *
 *   nice -n 10 npx tsx scripts/traces.ts             # runs what is missing, then writes the section
 *   nice -n 10 npx tsx scripts/traces.ts --table     # only rewrite docs/results/traces.md
 *
 * Resumable: one JSON line per finished measurement or run in docs/results/traces-runs.jsonl.
 *
 * 1. Alignment: the cosine, per layer, of the mean update of each learner variant (plain
 *    ANP-T, activity trace, innovation trace) to the window-1 and the full BPTT gradient
 *    of the same chunk (src/learn/diagnostics.ts gradientAlignment): Xavier weights of
 *    seed 42 with R capped to 0.95 (the float default), K = 20 steps from a zero state,
 *    2 x 200 noise draws. The two halves also give a split-half estimate of the cosine
 *    an infinite number of draws would reach (Spearman-Brown: rel = 2c/(1+c) with c the
 *    cosine between the halves' means; noise-free cosine ~ cosine / sqrt(rel)).
 *    Then: antithetic noise pairs (AntitheticDevice, seed 42, 400 draws) and, per seed
 *    (42, 101, 300: the weights and the data of that seed), the innovation trace 0.9 and
 *    plain ANP-T at 2 x 4000 draws (the innovation rows first, as they are the target's).
 * 2. Training on adding/len10, delayed-recall/len10 (10 epochs) and Mackey-Glass recall-15
 *    (2 epochs), seeds 42, 101, 300, H = 100, B = 10, sigma = 1e-3, online, cosine decay,
 *    spectral cap 0.95 (the float defaults of `anpt train`). The trace variant and its lr
 *    are chosen on seed 42 by the validation MSE (independent sequences from another data
 *    seed, as scripts/results.ts), never the test set. Plain ANP-T and readout-only use the
 *    lr that scripts/recurrence-tasks.ts chose on validation (recall-15: the CLI default
 *    0.1, chosen by scripts/results.ts). The tuned reservoir and full BPTT rows are read
 *    from the runs of scripts/recurrence-tasks.ts and scripts/results.ts (BPTT there had
 *    20 epochs on the recurrence tasks and 10 on recall-15: more budget than ANP-T here).
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { LearnerConfig, Params } from '../src/device/types.js';
import { capSpectralRadius, trainAnpt } from '../src/learn/anpt.js';
import { gradientAlignment, updateGradientCosines } from '../src/learn/diagnostics.js';
import { evaluate, nrmse, zeroOutputMse } from '../src/learn/evaluate.js';
import { cosine } from '../src/linalg/vector.js';
import { FloatDevice } from '../src/model/float-device.js';
import { SequenceRewardDevice } from '../src/learn/sequence-reward.js';
import type { RewardRequest, RunRequest, RunResult } from '../src/device/types.js';
import { stepMse } from '../src/tasks/types.js';
import { xavierNormal, type RnnShape } from '../src/model/rnn.js';
import { makeTask } from '../src/tasks/index.js';
import type { Task } from '../src/tasks/types.js';
import { BATCH, H, ROOT, SEEDS, SIGMA, TUNE_SEED, VALIDATION_SEED_OFFSET } from './results.js';

const RUNS = process.env.TRACES_RUNS ?? join(ROOT, 'docs', 'results', 'traces-runs.jsonl');
const OUT = join(ROOT, 'docs', 'results', 'traces.md');
const RECURRENCE_RUNS = join(ROOT, 'docs', 'results', 'recurrence-runs.jsonl');
const RESULTS_RUNS = join(ROOT, 'docs', 'results', 'runs.jsonl');

type TaskKey = 'adding' | 'delayed-recall' | 'mg-recall' | 'mg-forecast';
const TRAIN_TASKS: TaskKey[] = ['adding', 'delayed-recall', 'mg-recall'];
const ALIGN_TASKS: TaskKey[] = ['mg-forecast', 'adding', 'delayed-recall'];
const EPOCHS: Record<string, number> = { adding: 10, 'delayed-recall': 10, 'mg-recall': 2 };
const TUNE_EPOCHS: Record<string, number> = { adding: 5, 'delayed-recall': 5, 'mg-recall': 1 };
const CAP = 0.95;
const ALIGN_STEPS = 20;
const HALF_DRAWS = 200;
/** The long measurement (plain and innovation 0.9 on the recurrence tasks): 2 x 1000 draws. */
const LONG_HALF_DRAWS = 1000;
const LONG_TASKS: TaskKey[] = ['adding', 'delayed-recall'];
/** The per-seed measurement (plain and innovation 0.9, weights and data of each of the 3 seeds): 2 x 4000 draws. */
const SEED_HALF_DRAWS = 4000;
/** The per-sequence reward's measurement (innovation 0.9, seed 42): 2 x 200 and 2 x 1000 draws, as the batch-mean rows. */
const SEQ_HALF_DRAWS = [HALF_DRAWS, LONG_HALF_DRAWS];

interface Variant { name: string; learner?: LearnerConfig }
const VARIANTS: Variant[] = [
  { name: 'plain' },
  { name: 'activity 0.9', learner: { trace: 'activity', decay: 0.9 } },
  { name: 'innovation 0.5', learner: { trace: 'innovation', decay: 0.5 } },
  { name: 'innovation 0.9', learner: { trace: 'innovation', decay: 0.9 } },
];
/** Trace settings the training tuning tries (variant x lr). */
const TRACE_TUNE: { variant: Variant; lr: number }[] = [VARIANTS[1], VARIANTS[3]].flatMap((variant) => [0.01, 0.03, 0.1].map((lr) => ({ variant, lr })));
/** Plain ANP-T and readout-only lr chosen on validation by scripts/recurrence-tasks.ts (recall-15: scripts/results.ts). */
const PLAIN_LR: Record<string, { anpt: number; ro: number }> = { adding: { anpt: 0.1, ro: 0.3 }, 'delayed-recall': { anpt: 1, ro: 1 }, 'mg-recall': { anpt: 0.1, ro: 0.1 } };

interface AlignRec { kind: 'align'; key: string; task: TaskKey; variant: string; seed?: number; w1: Record<string, number>; full: Record<string, number>; fullNoiseFree: Record<string, number>; seconds: number }
interface TrainRec {
  kind: 'train'; key: string; task: TaskKey; learner: string; variant: string; lr: number; readout: 'device' | 'ridge'; readoutOnly: boolean;
  stage: 'tune' | 'final'; epochs: number; seed: number; status: 'ok' | 'diverged'; test: number; testNrmse: number; val: number; zeroTest: number; seconds: number;
}
type Rec = AlignRec | TrainRec;

function readJsonl<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l, (_k, v: unknown) => (v === null ? NaN : v)) as T);
}
const save = (r: Rec) => appendFileSync(RUNS, JSON.stringify(r) + '\n');

function taskData(task: TaskKey, seed: number): Task {
  if (task === 'mg-recall' || task === 'mg-forecast') return makeTask('mackey-glass', { batch: BATCH, seed, mode: task === 'mg-recall' ? 'recall' : 'forecast', horizon: 15 });
  return makeTask(task, { batch: BATCH, seed });
}

/**
 * Antithetic noise pairs (a measurement device, not a learner option): the draw that
 * starts at an odd multiple of ALIGN_STEPS replays the noise of the draw before it with
 * the opposite sign, so every pair of draws sees +xi and -xi.
 */
class AntitheticDevice extends FloatDevice {
  protected override drawNoise(t: number, hidden: Float64Array, output: Float64Array): void {
    const second = Math.floor(t / ALIGN_STEPS) % 2 === 1;
    super.drawNoise(second ? t - ALIGN_STEPS : t, hidden, output);
    if (!second) return;
    for (let q = 0; q < hidden.length; q++) hidden[q] = -hidden[q];
    for (let q = 0; q < output.length; q++) output[q] = -output[q];
  }
}

/**
 * The per-sequence reward (src/learn/sequence-reward.ts) under meanUpdate's batch-mean
 * reward call: the dL of each sequence is formed here from the last noisy run and the
 * chunk's targets (the alignment chunk starts at step 0 of the set), then rewarded.
 */
class PerSequenceAlignDevice extends SequenceRewardDevice {
  private last?: RunResult;
  private inner = false;

  constructor(private readonly targets: Float64Array, private readonly outputs: number) {
    super();
  }

  override async run(req: RunRequest): Promise<RunResult> {
    const r = await super.run(req);
    if (req.noisy) this.last = r;
    return r;
  }

  override async reward(req: RewardRequest): Promise<void> {
    if (this.inner || !this.last) return super.reward(req);
    const O = this.outputs, K = req.deltaLoss.length, B = this.last.clean.length / (K * O), seq = new Float64Array(K * B);
    for (let q = 0; q < K * B; q++) seq[q] = stepMse(this.last.noisy, q * O, this.targets, q * O, O) - stepMse(this.last.clean, q * O, this.targets, q * O, O);
    this.inner = true;
    try {
      await this.rewardSequences({ ...req, deltaLoss: seq });
    } finally {
      this.inner = false;
    }
  }
}

/** The alignment record's key: the first runs (seed 42) keep their keys, the per-seed runs name draws and seed. */
function alignKey(task: TaskKey, v: Variant, halfDraws: number, seed: number, antithetic: boolean, perSequence = false): string {
  if (perSequence) return `align-seq${2 * halfDraws}|${task}|${v.name}${seed !== TUNE_SEED ? `|${seed}` : ''}`;
  if (antithetic) return `align-antithetic${2 * halfDraws}|${task}|${v.name}`;
  if (seed !== TUNE_SEED) return `align${2 * halfDraws}|${task}|${v.name}|${seed}`;
  return halfDraws === HALF_DRAWS ? `align|${task}|${v.name}` : `align${2 * halfDraws}|${task}|${v.name}`;
}

async function align(task: TaskKey, v: Variant, halfDraws = HALF_DRAWS, seed = TUNE_SEED, antithetic = false, perSequence = false): Promise<AlignRec> {
  const started = performance.now();
  const set = taskData(task, seed).train;
  const shape: RnnShape = { inputs: set.inputSize, hidden: H, outputs: set.outputSize, activation: 'tanh' };
  const p = xavierNormal(shape, seed);
  capSpectralRadius(p.r, H, CAP);
  const K = ALIGN_STEPS;
  const inputs = set.inputs.subarray(0, K * set.batch * set.inputSize), targets = set.targets.subarray(0, K * set.batch * set.outputSize);
  const state = new Float64Array(set.batch * H);
  const half = (noiseSeed: number) =>
    gradientAlignment(shape, p, set.batch, state, inputs, targets, K, { samples: halfDraws, hiddenSigma: SIGMA, seed: noiseSeed, learner: v.learner, device: antithetic ? new AntitheticDevice() : perSequence ? new PerSequenceAlignDevice(targets, set.outputSize) : undefined });
  const a = await half(1), b = await half(2);
  const mean: Params = { w: a.meanUpdate.w.map((x, i) => (x + b.meanUpdate.w[i]) / 2), r: a.meanUpdate.r.map((x, i) => (x + b.meanUpdate.r[i]) / 2), v: a.meanUpdate.v.map((x, i) => (x + b.meanUpdate.v[i]) / 2) };
  const w1 = updateGradientCosines(mean, a.gradWindow1), full = updateGradientCosines(mean, a.gradFull);
  const fullNoiseFree: Record<string, number> = {};
  for (const L of ['w', 'r', 'v'] as const) {
    const c = cosine(a.meanUpdate[L], b.meanUpdate[L]);
    const rel = c > 0 ? (2 * c) / (1 + c) : NaN;
    fullNoiseFree[L] = full[L] / Math.sqrt(rel);
  }
  return { kind: 'align', key: alignKey(task, v, halfDraws, seed, antithetic, perSequence), task, variant: v.name, seed, w1: { ...w1 }, full: { ...full }, fullNoiseFree, seconds: (performance.now() - started) / 1000 };
}

async function train(task: TaskKey, learner: string, v: Variant, lr: number, o: { readout?: 'device' | 'ridge'; readoutOnly?: boolean }, stage: TrainRec['stage'], seed: number): Promise<TrainRec> {
  const started = performance.now();
  const epochs = stage === 'tune' ? TUNE_EPOCHS[task] : EPOCHS[task];
  const t = taskData(task, seed), val = taskData(task, seed + VALIDATION_SEED_OFFSET);
  const shape: RnnShape = { inputs: t.inputSize, hidden: H, outputs: t.outputSize, activation: 'tanh' };
  const dev = new FloatDevice();
  await dev.configure({ topology: { ...shape, batch: BATCH }, noise: { hiddenSigma: SIGMA, outputSigma: SIGMA }, seed, maxChunkSteps: 1000, learner: v.learner });
  await dev.writeParams(xavierNormal(shape, seed));
  const res = await trainAnpt(dev, t.train, {
    epochs, lr: { w: lr, r: lr, v: lr }, chunkSteps: 1, schedule: { kind: 'cosine' }, readoutOnly: o.readoutOnly, readout: o.readout,
    spectral: { cap: CAP, everySteps: 100 }, test: t.test, evaluateEvery: epochs,
  });
  const ok = res.status === 'ok';
  const test = ok ? res.epochs.at(-1)!.testMse! : NaN;
  const vMse = ok ? (await evaluate(dev, val.test)).mse : NaN;
  return {
    kind: 'train', key: `train|${task}|${learner}|${v.name}|${lr}|${o.readout ?? 'device'}|${stage}|${epochs}|${seed}`, task, learner, variant: v.name, lr,
    readout: o.readout ?? 'device', readoutOnly: o.readoutOnly === true, stage, epochs, seed, status: ok && Number.isFinite(test) ? 'ok' : 'diverged',
    test, testNrmse: nrmse(test, t.test), val: vMse, zeroTest: zeroOutputMse(t.test), seconds: (performance.now() - started) / 1000,
  };
}

async function once<R extends Rec>(recs: Rec[], key: string, make: () => Promise<R>): Promise<R> {
  const have = recs.find((r) => r.key === key) as R | undefined;
  if (have) return have;
  const r = await make();
  save(r);
  recs.push(r);
  console.log(`${key}: ${'test' in r ? `test ${r.test.toExponential(3)} val ${r.val.toExponential(3)}` : `full w ${r.full.w.toFixed(3)} r ${r.full.r.toFixed(3)} v ${r.full.v.toFixed(3)}`} (${r.seconds.toFixed(0)} s)`);
  return r;
}

const trainKey = (task: TaskKey, learner: string, v: Variant, lr: number, readout: string, stage: string, seed: number) =>
  `train|${task}|${learner}|${v.name}|${lr}|${readout}|${stage}|${stage === 'tune' ? TUNE_EPOCHS[task] : EPOCHS[task]}|${seed}`;

/** The trace setting with the lowest validation MSE of the tuning runs of a task. */
function chosenTrace(task: TaskKey, recs: Rec[]): { variant: Variant; lr: number } | undefined {
  let best: { variant: Variant; lr: number; val: number } | undefined;
  for (const c of TRACE_TUNE) {
    const r = recs.find((x) => x.key === trainKey(task, 'trace', c.variant, c.lr, 'device', 'tune', TUNE_SEED)) as TrainRec | undefined;
    if (r && r.status === 'ok' && Number.isFinite(r.val) && (!best || r.val < best.val)) best = { ...c, val: r.val };
  }
  return best;
}

async function runAll(recs: Rec[]): Promise<void> {
  for (const task of ALIGN_TASKS) for (const v of VARIANTS) await once(recs, `align|${task}|${v.name}`, () => align(task, v));
  for (const task of TRAIN_TASKS) {
    for (const c of TRACE_TUNE) await once(recs, trainKey(task, 'trace', c.variant, c.lr, 'device', 'tune', TUNE_SEED), () => train(task, 'trace', c.variant, c.lr, {}, 'tune', TUNE_SEED));
    const best = chosenTrace(task, recs)!;
    const lrs = PLAIN_LR[task];
    for (const seed of SEEDS) {
      await once(recs, trainKey(task, 'anpt', VARIANTS[0], lrs.anpt, 'device', 'final', seed), () => train(task, 'anpt', VARIANTS[0], lrs.anpt, {}, 'final', seed));
      await once(recs, trainKey(task, 'trace', best.variant, best.lr, 'device', 'final', seed), () => train(task, 'trace', best.variant, best.lr, {}, 'final', seed));
      await once(recs, trainKey(task, 'anpt-ro', VARIANTS[0], lrs.ro, 'device', 'final', seed), () => train(task, 'anpt-ro', VARIANTS[0], lrs.ro, { readoutOnly: true }, 'final', seed));
      if (task !== 'mg-recall') {
        await once(recs, trainKey(task, 'trace-ridge', best.variant, best.lr, 'ridge', 'final', seed), () => train(task, 'trace-ridge', best.variant, best.lr, { readout: 'ridge' }, 'final', seed));
        await once(recs, trainKey(task, 'anpt-ridge', VARIANTS[0], lrs.anpt, 'ridge', 'final', seed), () => train(task, 'anpt-ridge', VARIANTS[0], lrs.anpt, { readout: 'ridge' }, 'final', seed));
      }
    }
  }
  for (const task of LONG_TASKS) for (const v of [VARIANTS[0], VARIANTS[3]]) await once(recs, `align${2 * LONG_HALF_DRAWS}|${task}|${v.name}`, () => align(task, v, LONG_HALF_DRAWS));
  for (const task of LONG_TASKS) for (const v of [VARIANTS[0], VARIANTS[3]]) await once(recs, alignKey(task, v, HALF_DRAWS, TUNE_SEED, true), () => align(task, v, HALF_DRAWS, TUNE_SEED, true));
  for (const v of [VARIANTS[3], VARIANTS[0]])
    for (const seed of SEEDS)
      for (const task of LONG_TASKS) await once(recs, alignKey(task, v, SEED_HALF_DRAWS, seed, false), () => align(task, v, SEED_HALF_DRAWS, seed));
  // seed 101 was the one below 0.9 (R) at 8000 draws: the same at twice the draws
  for (const task of LONG_TASKS) await once(recs, alignKey(task, VARIANTS[3], 2 * SEED_HALF_DRAWS, 101, false), () => align(task, VARIANTS[3], 2 * SEED_HALF_DRAWS, 101));
  // the per-sequence reward (scripts/recurrent-learning.ts): the same direction from fewer draws?
  for (const half of SEQ_HALF_DRAWS)
    for (const task of LONG_TASKS) await once(recs, alignKey(task, VARIANTS[3], half, TUNE_SEED, false, true), () => align(task, VARIANTS[3], half, TUNE_SEED, false, true));
  for (const seed of SEEDS.filter((x) => x !== TUNE_SEED))
    for (const task of LONG_TASKS) await once(recs, alignKey(task, VARIANTS[3], LONG_HALF_DRAWS, seed, false, true), () => align(task, VARIANTS[3], LONG_HALF_DRAWS, seed, false, true));
}

// ---- the section ----

const e = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : 'div.');
const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
const geo = (xs: number[]) => Math.exp(mean(xs.map(Math.log)));

interface Row { name: string; setting: string; tests: number[]; nrmses: number[]; zero: number[]; source: string; vals?: number[] }

/** The reference rows of the other scripts' runs (tuned reservoir, full BPTT). */
function referenceRows(task: TaskKey): Row[] {
  const rows: Row[] = [];
  if (task === 'mg-recall') {
    type R = { task: string; learner: string; stage: string; seed: number; zeroTest: number; epochs: { testMse?: number }[]; config?: Record<string, unknown> };
    const rs = readJsonl<R>(RESULTS_RUNS).filter((r) => r.task === 'mg-recall' && r.stage === 'final');
    for (const [learner, name] of [['reservoir-tuned', 'reservoir, tuned (scripts/results.ts)'], ['bpttk', 'BPTT window 20, Adam, 10 epochs (scripts/results.ts)']] as const) {
      const got = SEEDS.map((s) => rs.filter((r) => r.learner === learner && r.seed === s).at(-1));
      if (got.some((r) => !r)) continue;
      const tests = got.map((r) => r!.epochs.at(-1)!.testMse!);
      const task = taskData('mg-recall', 42);
      rows.push({ name, setting: 'see docs/results.md', tests, nrmses: tests.map((x) => nrmse(x, task.test)), zero: got.map((r) => r!.zeroTest), source: 'results' });
    }
    return rows;
  }
  type R = { task: string; learner: string; stage: string; seed: number; test: number; testNrmse: number; zeroTest: number; lr?: number; epochs: number; note?: string };
  const rs = readJsonl<R>(RECURRENCE_RUNS).filter((r) => r.task === task && r.stage === 'final');
  for (const [learner, name] of [['reservoir', 'reservoir, tuned (scripts/recurrence-tasks.ts)'], ['bptt-full', 'BPTT full (window = episode), Adam, 20 epochs (scripts/recurrence-tasks.ts)']] as const) {
    const got = SEEDS.map((s) => rs.find((r) => r.learner === learner && r.seed === s));
    if (got.some((r) => !r)) continue;
    rows.push({ name, setting: learner === 'reservoir' ? 'radius, gain, lambda on validation' : `lr ${got[0]!.lr}`, tests: got.map((r) => r!.test), nrmses: got.map((r) => r!.testNrmse), zero: got.map((r) => r!.zeroTest), source: 'recurrence' });
  }
  return rows;
}

function table(recs: Rec[]): string {
  const out: string[] = [];
  out.push('## Eligibility traces on the float model (issue 11)', '');
  out.push('Made by `nice -n 10 npx tsx scripts/traces.ts` (runs in docs/results/traces-runs.jsonl; method in the script\'s header and in docs/method.md, "Eligibility traces").', '');
  out.push('### Direction of the mean update', '');
  out.push(`Cosine of the mean update (${2 * HALF_DRAWS} noise draws, ${2 * LONG_HALF_DRAWS} in the rows that say so; Xavier weights of seed 42, R capped to ${CAP}; ${ALIGN_STEPS} steps from a zero state) to the descent direction of the window-1 and the full BPTT gradient of the same ${ALIGN_STEPS} steps, per layer. "noise-free" = the split-half estimate of the cosine with infinitely many draws (full gradient).`, '');
  const head = ['| task | variant | draws | window-1 W | window-1 R | window-1 V | full W | full R | full V | full W noise-free | full R noise-free |', '|---|---|---|---|---|---|---|---|---|---|---|'];
  out.push(...head);
  const line = (r: AlignRec, draws: number) =>
    `| ${r.task} | ${r.variant} | ${draws} | ${f3(r.w1.w)} | ${f3(r.w1.r)} | ${f3(r.w1.v)} | ${f3(r.full.w)} | ${f3(r.full.r)} | ${f3(r.full.v)} | ${f3(r.fullNoiseFree.w)} | ${f3(r.fullNoiseFree.r)} |`;
  for (const task of ALIGN_TASKS)
    for (const v of VARIANTS) {
      const r = recs.find((x) => x.key === `align|${task}|${v.name}`) as AlignRec | undefined;
      if (r) out.push(line(r, 2 * HALF_DRAWS));
    }
  for (const task of LONG_TASKS)
    for (const v of [VARIANTS[0], VARIANTS[3]]) {
      const r = recs.find((x) => x.key === `align${2 * LONG_HALF_DRAWS}|${task}|${v.name}`) as AlignRec | undefined;
      if (r) out.push(line(r, 2 * LONG_HALF_DRAWS));
    }
  out.push('', 'The noise-free column is a rough split-half estimate (it can exceed 1 when the two halves agree poorly); read it as "how much of the gap to 1 is draw noise rather than bias".', '');
  const anti = LONG_TASKS.flatMap((task) => [VARIANTS[0], VARIANTS[3]].map((v) => recs.find((x) => x.key === alignKey(task, v, HALF_DRAWS, TUNE_SEED, true)) as AlignRec | undefined)).filter((r): r is AlignRec => !!r);
  if (anti.length) {
    out.push(`Antithetic noise pairs (each pair of draws sees +ξ and −ξ, ${2 * HALF_DRAWS} draws = ${HALF_DRAWS} pairs, seed 42), against the independent draws of the first rows:`, '', ...head);
    for (const r of anti) out.push(line(r, 2 * HALF_DRAWS).replace(`| ${r.variant} |`, `| ${r.variant}, antithetic |`));
    out.push('');
  }
  const seqRows = SEQ_HALF_DRAWS.flatMap((half) => LONG_TASKS.map((task) => {
    const r = recs.find((x) => x.key === alignKey(task, VARIANTS[3], half, TUNE_SEED, false, true)) as AlignRec | undefined;
    const batch = recs.find((x) => x.key === (half === HALF_DRAWS ? `align|${task}|${VARIANTS[3].name}` : `align${2 * half}|${task}|${VARIANTS[3].name}`)) as AlignRec | undefined;
    return r && batch ? [line(batch, 2 * half), line(r, 2 * half).replace(`| ${r.variant} |`, `| ${r.variant}, dL per sequence |`)] : [];
  })).flat();
  if (seqRows.length) {
    out.push('Per-sequence reward (dL of each sequence times its own trace, src/learn/sequence-reward.ts; seed 42), beside the batch-mean dL at the same draws:', '', ...head, ...seqRows, '');
    const seeded = SEEDS.flatMap((seed) => LONG_TASKS.map((task) => recs.find((x) => x.key === alignKey(task, VARIANTS[3], LONG_HALF_DRAWS, seed, false, true)) as AlignRec | undefined)).filter((r): r is AlignRec => !!r);
    if (seeded.length) {
      out.push(`Per seed, dL per sequence, ${2 * LONG_HALF_DRAWS} draws (the weights and data of each seed, as the ${2 * SEED_HALF_DRAWS}-draw table below):`, '', '| task | seed | full W | full R | full V | window-1 W | window-1 R |', '|---|---|---|---|---|---|---|');
      for (const r of seeded) out.push(`| ${r.task} | ${r.seed ?? TUNE_SEED} | ${f3(r.full.w)} | ${f3(r.full.r)} | ${f3(r.full.v)} | ${f3(r.w1.w)} | ${f3(r.w1.r)} |`);
      const low = (L: 'w' | 'r' | 'v') => Math.min(...seeded.map((r) => r.full[L]));
      out.push('', `Lowest over the ${seeded.length} rows: W ${f3(low('w'))}, R ${f3(low('r'))}, V ${f3(low('v'))} (target >= 0.9 on every layer, both tasks${seeded.length === 2 * SEEDS.length ? ', 3 seeds' : ''}): ${low('w') >= 0.9 && low('r') >= 0.9 && low('v') >= 0.9 ? '**met**' : '**missed**'} at ${2 * LONG_HALF_DRAWS} draws.`, '');
    }
  }
  const perSeed = (task: TaskKey, v: Variant) => SEEDS.map((seed) => recs.find((x) => x.key === alignKey(task, v, SEED_HALF_DRAWS, seed, false)) as AlignRec | undefined);
  if (LONG_TASKS.some((task) => perSeed(task, VARIANTS[3]).some((r) => r))) {
    out.push(`### Direction per seed, ${2 * SEED_HALF_DRAWS} draws`, '');
    out.push(`The same measurement with the Xavier weights (R capped to ${CAP}) and the data of each seed, ${2 * SEED_HALF_DRAWS} noise draws (2 x ${SEED_HALF_DRAWS}), the best trace variant beside plain ANP-T in the same run (cosine to the full BPTT gradient, per layer).`, '');
    out.push('"draws for SNR 1" = N ((min(noise-free, 1) / cosine)^2 - 1), N = the draws: the number of draws whose mean has as much noise as signal (one draw is one step of training at fixed weights).', '');
    out.push('| task | variant | seed | full W | full R | full V | full W noise-free | full R noise-free | draws for SNR 1, W | draws for SNR 1, R | window-1 W | window-1 R |', '|---|---|---|---|---|---|---|---|---|---|---|---|');
    const snr1 = (r: AlignRec, L: 'w' | 'r') => (2 * SEED_HALF_DRAWS * ((Math.min(r.fullNoiseFree[L], 1) / r.full[L]) ** 2 - 1)).toFixed(0);
    for (const task of LONG_TASKS)
      for (const v of [VARIANTS[0], VARIANTS[3]])
        for (const r of perSeed(task, v))
          if (r) out.push(`| ${task} | ${v.name} | ${r.seed ?? TUNE_SEED} | ${f3(r.full.w)} | ${f3(r.full.r)} | ${f3(r.full.v)} | ${f3(r.fullNoiseFree.w)} | ${f3(r.fullNoiseFree.r)} | ${snr1(r, 'w')} | ${snr1(r, 'r')} | ${f3(r.w1.w)} | ${f3(r.w1.r)} |`);
    for (const task of LONG_TASKS) {
      const r = recs.find((x) => x.key === alignKey(task, VARIANTS[3], 2 * SEED_HALF_DRAWS, 101, false)) as AlignRec | undefined;
      if (r) out.push(`| ${task} | innovation 0.9, ${4 * SEED_HALF_DRAWS} draws | 101 | ${f3(r.full.w)} | ${f3(r.full.r)} | ${f3(r.full.v)} | ${f3(r.fullNoiseFree.w)} | ${f3(r.fullNoiseFree.r)} | ${(4 * SEED_HALF_DRAWS * ((Math.min(r.fullNoiseFree.w, 1) / r.full.w) ** 2 - 1)).toFixed(0)} | ${(4 * SEED_HALF_DRAWS * ((Math.min(r.fullNoiseFree.r, 1) / r.full.r) ** 2 - 1)).toFixed(0)} | ${f3(r.w1.w)} | ${f3(r.w1.r)} |`);
    }
    out.push('');
    for (const task of LONG_TASKS) {
      const rs = perSeed(task, VARIANTS[3]).filter((r): r is AlignRec => !!r);
      if (!rs.length) continue;
      const low = (L: 'w' | 'r' | 'v') => Math.min(...rs.map((r) => r.full[L]));
      const avg = (L: 'w' | 'r' | 'v') => rs.reduce((a, r) => a + r.full[L], 0) / rs.length;
      const plain = perSeed(task, VARIANTS[0]).filter((r): r is AlignRec => !!r);
      const short = recs.find((x) => x.key === `align${2 * LONG_HALF_DRAWS}|${task}|${VARIANTS[0].name}`) as AlignRec | undefined;
      const hi = (L: 'w' | 'r') => (plain.length ? Math.max(...plain.map((r) => r.full[L])) : (short?.full[L] ?? NaN));
      const plainWhat = plain.length ? `plain ANP-T at most` : `plain ANP-T, not run at ${2 * SEED_HALF_DRAWS} draws; at ${2 * LONG_HALF_DRAWS}, seed ${TUNE_SEED}:`;
      const met = low('w') >= 0.9 && low('r') >= 0.9 && low('v') >= 0.9;
      out.push(`${task}: innovation 0.9, lowest over the ${rs.length} seed${rs.length > 1 ? 's' : ''} measured (${rs.map((r) => r.seed ?? TUNE_SEED).join(', ')}): W ${f3(low('w'))}, R ${f3(low('r'))}, V ${f3(low('v'))}; mean W ${f3(avg('w'))}, R ${f3(avg('r'))} (${plainWhat} W ${f3(hi('w'))}, R ${f3(hi('r'))}): target ">= 0.9 on every layer and seed" at ${2 * SEED_HALF_DRAWS} draws ${met && rs.length === SEEDS.length ? '**met**' : met ? 'met on the seeds measured' : '**missed**'}.`, '');
    }
  }
  for (const task of TRAIN_TASKS) {
    const best = chosenTrace(task, recs);
    if (!best) continue;
    const lrs = PLAIN_LR[task];
    const get = (learner: string, v: Variant, lr: number, readout: string) => SEEDS.map((s) => recs.find((x) => x.key === trainKey(task, learner, v, lr, readout, 'final', s)) as TrainRec | undefined);
    const rows: Row[] = [];
    const add = (name: string, setting: string, rs: (TrainRec | undefined)[]) => {
      if (rs.some((r) => !r)) return;
      rows.push({ name, setting, tests: rs.map((r) => r!.test), nrmses: rs.map((r) => r!.testNrmse), zero: rs.map((r) => r!.zeroTest), source: 'traces', vals: rs.map((r) => r!.val) });
    };
    add('ANP-T plain', `lr ${lrs.anpt}`, get('anpt', VARIANTS[0], lrs.anpt, 'device'));
    add(`ANP-T + trace (${best.variant.name})`, `lr ${best.lr}`, get('trace', best.variant, best.lr, 'device'));
    add('ANP-T readout-only', `lr ${lrs.ro}`, get('anpt-ro', VARIANTS[0], lrs.ro, 'device'));
    add('ANP-T plain, ridge readout (host)', `lr ${lrs.anpt} (W, R)`, get('anpt-ridge', VARIANTS[0], lrs.anpt, 'ridge'));
    add(`ANP-T + trace (${best.variant.name}), ridge readout (host)`, `lr ${best.lr} (W, R)`, get('trace-ridge', best.variant, best.lr, 'ridge'));
    rows.push(...referenceRows(task));
    out.push(`### ${task} (${EPOCHS[task]} epochs for the ANP-T rows)`, '');
    out.push('| learner | setting | test MSE mean [min – max] | NRMSE mean | x zero-output | per seed (42 / 101 / 300) | validation MSE mean |', '|---|---|---|---|---|---|---|');
    for (const r of rows) {
      const ok = r.tests.every(Number.isFinite);
      out.push(`| ${r.name} | ${r.setting} | ${ok ? `${e(mean(r.tests))} [${e(Math.min(...r.tests))} – ${e(Math.max(...r.tests))}]` : `${r.tests.filter((x) => !Number.isFinite(x)).length} diverged`} | ${ok ? f3(mean(r.nrmses)) : '—'} | ${ok ? f3(mean(r.tests) / mean(r.zero)) : '—'} | ${r.tests.map(e).join(' / ')} | ${r.vals && r.vals.every(Number.isFinite) ? e(mean(r.vals)) : '—'} |`);
    }
    const tune = TRACE_TUNE.map((c) => recs.find((x) => x.key === trainKey(task, 'trace', c.variant, c.lr, 'device', 'tune', TUNE_SEED)) as TrainRec | undefined)
      .filter((r): r is TrainRec => !!r).map((r) => `${r.variant} lr ${r.lr} → ${e(r.val)}`);
    out.push('', `Trace tuning (seed 42, ${TUNE_EPOCHS[task]} epoch${TUNE_EPOCHS[task] > 1 ? 's' : ''}, validation MSE): ${tune.join('; ')}. Chosen: ${best.variant.name}, lr ${best.lr}.`, '');
    const res = rows.find((r) => r.name.startsWith('reservoir')), bptt = rows.find((r) => r.name.startsWith('BPTT'));
    const tr = rows.find((r) => r.name.startsWith('ANP-T + trace') && !r.name.includes('ridge')), ro = rows.find((r) => r.name === 'ANP-T readout-only');
    if (res && bptt && tr && tr.tests.every(Number.isFinite) && geo(res.tests) > geo(bptt.tests)) {
      const share = (Math.log(geo(res.tests)) - Math.log(geo(tr.tests))) / (Math.log(geo(res.tests)) - Math.log(geo(bptt.tests)));
      const beatsRo = ro ? tr.tests.filter((x, i) => x < ro.tests[i]).length : 0;
      out.push(`Share of the log gap tuned reservoir → BPTT closed by ANP-T + trace (geometric means): ${(100 * share).toFixed(0)} % (target >= 50 %); beats readout-only on ${beatsRo}/3 seeds (target 3/3).`, '');
    }
  }
  return out.join('\n') + '\n';
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { table: { type: 'boolean' } } });
  const recs = readJsonl<Rec>(RUNS);
  if (!values.table) await runAll(recs);
  const notes = join(ROOT, 'docs', 'results', 'traces-notes.md');
  writeFileSync(OUT, table(recs) + (existsSync(notes) ? '\n' + readFileSync(notes, 'utf8') : ''));
  console.log(`wrote ${OUT}`);
}

await main();

/**
 * Why ANP-T with traces does not train the recurrent weights on the recurrence tasks,
 * and what it takes (issue 11, docs/results/recurrent-learning.md):
 *
 *   nice -n 10 npx tsx scripts/recurrent-learning.ts --exp rates    # one experiment (what is missing)
 *   nice -n 10 npx tsx scripts/recurrent-learning.ts --table        # only rewrite the section
 *   nice -n 10 npx tsx scripts/recurrent-learning.ts --dl-rms       # the rms dL behind DL_RMS
 *   nice -n 19 npx tsx scripts/recurrent-learning.ts --even-odd     # even (curvature) vs odd part of dL
 *   nice -n 10 npx tsx scripts/recurrent-learning.ts --exact        # the exact gradient in the ANP-T runs' settings (cap, ridge readout)
 *
 * Resumable: one JSON line per finished run in docs/results/recurrent-learning-runs.jsonl,
 * keyed by every setting. Every run: float model, H = 100, B = 10, online, cosine decay,
 * spectral cap 0.95, the tasks' defaults (adding/len10, delayed-recall/len10, T = 1000);
 * the validation MSE (the test split of another data seed, scripts/results.ts) after
 * every epoch is recorded (tuning reads only it), the test MSE once at the end.
 * Experiments (EXPERIMENTS below) are grids over: the trace (none / activity /
 * innovation, decay), the per-layer rates (W, R, V), the readout (the rule's own or
 * ridge on the host), the initial weights (Xavier, or the tuned reservoir's radius and
 * input gain chosen on the held-out tail of the train steps, src/learn/reservoir.ts),
 * the noise sigma, the epochs.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { LearnerConfig, RewardRequest } from '../src/device/types.js';
import { anptBatchScale, capSpectralRadius, trainAnpt, type AnptOptions } from '../src/learn/anpt.js';
import { lossAndGradient, ParamsOptimizer, trainBptt } from '../src/learn/bptt.js';
import { scheduleFactor } from '../src/learn/schedule.js';
import { cosine } from '../src/linalg/vector.js';
import { evaluate, nrmse, zeroOutputMse } from '../src/learn/evaluate.js';
import { fitRidgeReadout, tuneReservoir } from '../src/learn/reservoir.js';
import { FloatDevice } from '../src/model/float-device.js';
import { EmulatorDevice } from '../src/device/emulator.js';
import { defaultChipFormats } from '../src/device/config.js';
import { SequenceRewardDevice } from '../src/learn/sequence-reward.js';
import { AntitheticSequenceRewardDevice } from '../src/learn/antithetic.js';
import { xavierNormal, type RnnShape } from '../src/model/rnn.js';
import { spectralRadius } from '../src/linalg/spectral.js';
import { makeTask } from '../src/tasks/index.js';
import { replicateSequences } from '../src/tasks/replicate.js';
import { stepMse, type SequenceSet } from '../src/tasks/types.js';
import { BATCH, H, ROOT, SEEDS, SIGMA, TUNE_SEED, VALIDATION_SEED_OFFSET } from './results.js';

const RUNS = process.env.RECURRENT_RUNS ?? join(ROOT, 'docs', 'results', 'recurrent-learning-runs.jsonl');
const OUT = join(ROOT, 'docs', 'results', 'recurrent-learning.md');
const NOTES = join(ROOT, 'docs', 'results', 'recurrent-learning-notes.md');
const CAP = 0.95;
/** rms dL of the Xavier network (seed 42) with its own readout over its first 200 steps: 1.5e-3 on both tasks. */
const DL_RMS = 1.5e-3;
const W_CAP_EVERY = 100;
/** Steps between updates of the average of W and R (RunSpec.average). */
const AVERAGE_EVERY = 10;
/** Geometric mean (the summaries' average over seeds) and Frobenius norm. */
const geo = (xs: number[]) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
const frob = (x: Float64Array) => Math.sqrt(x.reduce((a, b) => a + b * b, 0));
/** The per-epoch cosines of W and R as "w/r" pairs. */
const cosText = (cs: { w: number; r: number }[]) => cs.map((c) => `${c.w.toFixed(2)}/${c.r.toFixed(2)}`).join(' ');

type TaskKey = 'adding' | 'delayed-recall';
export interface RunSpec {
  task: TaskKey;
  seed: number;
  epochs: number;
  trace: LearnerConfig['trace'];
  decay: number;
  lr: { w: number; r: number; v: number };
  readout: 'device' | 'ridge';
  readoutOnly: boolean;
  init: 'xavier' | 'tuned';
  sigma: number;
  /** dL normalised to this rms (src/learn/anpt.ts normalise, a fixed target), 0 = off. */
  normalise?: number;
  /** dL normalised to its own rms over the first 100 steps (the trainer's default target), instead of a fixed one. */
  normaliseWarmup?: boolean;
  /** Bound on ||W||_F as a multiple of the Xavier W's, enforced every 100 steps by rescaling W (forward-only, like the spectral cap on R); 0 = off. */
  wCap?: number;
  /** Per-sequence reward and traces (src/learn/sequence-reward.ts) and its options; absent = the batch-mean dL. */
  seq?: { baseline?: number; rms?: number; anchor?: number; rmsClip?: number; momentum?: number };
  /** Control: each sequence's trace credited with the dL of the next sequence of the batch (b + 1 mod B): the same step sizes, no signal (mean 0). */
  rotateReward?: boolean;
  /** Spectral cap of R when not CAP (0.95), and how often it is checked when not every 100 steps. */
  cap?: number;
  capEvery?: number;
  /** With copies 2: the second copy of each sequence gets the first's noise negated (src/learn/antithetic.ts). */
  antithetic?: boolean;
  /** Output noise sigma when not the hidden one (0: no output noise, for the ridge readout, which needs none). */
  outputSigma?: number;
  /** Ridge readout refitted every this many steps as well as after every epoch (the recurrent state and traces kept); absent = per epoch. */
  refitEvery?: number;
  /** Noisy copies per sequence (each sequence M times side by side in the batch, same data, its own noise and dL; B x M on the device); absent = 1. */
  copies?: number;
  /**
   * With refitEvery: the fits by trainAnpt's ridgeEverySteps (counted from the last fit,
   * the epoch's own included: what `anpt train --ridge-every` does) instead of this
   * script's own counter, which skips the fit due at an epoch's last step and so fits
   * once more after the next epoch's first step.
   */
  refitCounted?: boolean;
  /** A constant rate instead of the cosine decay over the run. */
  constant?: boolean;
  /** Warm restarts: the epochs split into this many cosine decays (each a trainAnpt call, the device and its step moments kept); needs refitCounted when refitEvery is set. */
  cycles?: number;
  /**
   * Polyak averaging: an exponential average of W and R (bias-corrected, updated every
   * AVERAGE_EVERY steps with this decay) is what gets scored, each epoch with V solved by
   * ridge for it; training itself is unchanged (the rule goes on from its own weights).
   * The validation MSE of the last weights goes in the note.
   */
  average?: number;
  /** With seq.rms: the rates as `anpt train` takes them, each weight's step (lr x (B M / 10)^2 to 12 digits, as a user types it) with no batch scale. */
  weightRates?: boolean;
  /** Keep the weights of the epoch with the lowest validation MSE (early stopping on validation) for the test. */
  keepBest?: boolean;
  /**
   * Rollback (trainAnpt's rollback option, src/learn/rollback.ts): after each epoch (its
   * ridge fit done), when the validation MSE is above this factor x the best so far, W, R
   * and V go back to the best epoch's and training goes on from there (the schedule,
   * traces and step moments go on); 1 = back at any loss.
   */
  rollback?: number;
  /** On the chip emulator instead of the float model: 16 = 16-bit formats, 8 = 8-bit weights with stochastic update rounding (defaultChipFormats). */
  chip?: 16 | 8;
  /** Hidden size when not H (100): the information-per-step test (the gradient of W and R has 3H + H^2 entries, each step gives B numbers). */
  hidden?: number;
  /** Record, per epoch, the cosine of the epoch's net change of W and of R to minus the full BPTT gradient (window = episode) of the train set at the epoch's start weights. */
  epochCos?: boolean;
}
interface RunRec extends RunSpec {
  epochCosines?: { w: number; r: number }[];
  key: string; status: 'ok' | 'diverged'; valByEpoch: number[]; val: number; test: number; testNrmse: number; zeroTest: number; initVal: number; note: string; seconds: number;
}

const specKey = (s: RunSpec) =>
  [s.task, s.seed, s.epochs, s.trace, s.decay, s.lr.w, s.lr.r, s.lr.v, s.readout, s.readoutOnly ? 'ro' : 'all', s.init, s.sigma, ...(s.normalise ? [`norm${s.normalise}`] : []), ...(s.wCap ? [`wcap${s.wCap}`] : []),
    ...(s.seq ? [`seq${s.seq.baseline !== undefined ? `b${s.seq.baseline}` : ''}${s.seq.rms !== undefined ? `m${s.seq.rms}` : ''}${s.seq.anchor ? `a${s.seq.anchor}` : ''}${s.seq.rmsClip ? `c${s.seq.rmsClip}` : ''}${s.seq.momentum !== undefined ? `p${s.seq.momentum}` : ''}`] : []),
    ...(s.outputSigma !== undefined ? [`osig${s.outputSigma}`] : []), ...(s.refitEvery ? [`refit${s.refitEvery}`] : []), ...(s.copies ? [`copies${s.copies}`] : []), ...(s.refitCounted ? ['refitcounted'] : []), ...(s.weightRates ? ['weightrates'] : []), ...(s.constant ? ['constant'] : []), ...(s.average !== undefined ? [`avg${s.average}`] : []), ...(s.cycles ? [`cycles${s.cycles}`] : []), ...(s.antithetic ? ['anti'] : []), ...(s.cap !== undefined ? [`cap${s.cap}`] : []), ...(s.rotateReward ? ['rotate'] : []), ...(s.capEvery !== undefined ? [`capevery${s.capEvery}`] : []), ...(s.normaliseWarmup ? ['normwarm'] : []), ...(s.keepBest ? ['best'] : []), ...(s.rollback ? [`rollback${s.rollback}`] : []), ...(s.chip ? [`chip${s.chip}`] : []), ...(s.hidden ? [`h${s.hidden}`] : []), ...(s.epochCos ? ['ecos'] : [])].join('|');

const base = (o: Partial<RunSpec>): RunSpec => ({
  task: 'adding', seed: TUNE_SEED, epochs: 5, trace: 'innovation', decay: 0.9, lr: { w: 0.1, r: 0.1, v: 0.1 }, readout: 'ridge', readoutOnly: false, init: 'xavier', sigma: SIGMA, ...o,
});
const TASKS: TaskKey[] = ['adding', 'delayed-recall'];
const both = (f: (task: TaskKey) => RunSpec[]) => TASKS.flatMap(f);
const same = (x: number) => ({ w: x, r: x, v: x });

/** The experiments, in the order they were run (each a grid on seed 42, validation only). */
const EXPERIMENTS: Record<string, { title: string; runs: () => RunSpec[] }> = {
  rates: {
    title: 'Step size of W and R (ridge readout on the host, so V is solved; innovation trace 0.9 and plain ANP-T)',
    runs: () => both((task) => [0.1, 0.3, 1, 3].flatMap((x) => [base({ task, lr: same(x) }), base({ task, lr: same(x), trace: 'none', decay: 0 })])),
  },
  layers: {
    title: 'W and R at different rates (innovation 0.9, ridge readout): W grows without bound at lr 0.3 over 20 epochs (|W| 2.4 -> 3661), so W slower than R',
    runs: () => both((task) => [{ w: 0.1, r: 0.3, v: 0.3 }, { w: 0.1, r: 1, v: 0.3 }, { w: 0.3, r: 1, v: 0.3 }].map((lr) => base({ task, lr }))),
  },
  'tuned-init': {
    title: 'Starting from the tuned reservoir (radius and input gain chosen on the held-out train tail), innovation 0.9, ridge readout',
    runs: () => both((task) => [0.1, 0.3].map((x) => base({ task, lr: same(x), init: 'tuned' }))),
  },
  normalise: {
    title: `dL normalised to a fixed rms (${DL_RMS}, the rms dL of the Xavier network with its own readout), so the W and R step does not grow with the ridge readout's gain (|V| 98 on the tuned reservoir of adding, rms dL 9.7)`,
    runs: () => both((task) => [0.1, 0.3].map((x) => base({ task, lr: same(x), init: 'tuned', normalise: DL_RMS }))),
  },
  'normalise-xavier': {
    title: 'dL normalised to the fixed rms from Xavier weights (ridge readout, innovation 0.9): does it stop the growth of W at larger rates?',
    runs: () => both((task) => [0.3, 1].map((x) => base({ task, lr: same(x), normalise: DL_RMS }))),
  },
  budget: {
    title: 'More epochs at the best rate of "rates" (innovation 0.9, ridge readout, lr 0.3)',
    runs: () => both((task) => [base({ task, lr: same(0.3), epochs: 20 })]),
  },
};

/**
 * The setting chosen from the validation columns of the experiments above (seed 42; by
 * hand, per task: the lowest last-epoch validation MSE), run on the 3 seeds beside its
 * readout-only ablation (same readout, init, rates and epochs; W and R frozen).
 */
const CHOSEN: Record<TaskKey, RunSpec> = {
  adding: base({ task: 'adding', lr: same(0.3) }),
  'delayed-recall': base({ task: 'delayed-recall', lr: same(0.3) }),
};
EXPERIMENTS.final = {
  title: 'The chosen setting on 3 seeds beside its readout-only ablation (equal budget)',
  runs: () => TASKS.flatMap((task) => SEEDS.flatMap((seed) => [{ ...CHOSEN[task], seed }, { ...CHOSEN[task], seed, readoutOnly: true }])),
};

EXPERIMENTS['final-1epoch'] = {
  title: 'As "final" with 1 epoch: in "final" the validation MSE after the first epoch was the lowest on 4 of the 6 runs, before W grew without bound (validation of all 3 seeds read, never the test set)',
  runs: () => TASKS.flatMap((task) => SEEDS.flatMap((seed) => [{ ...CHOSEN[task], seed, epochs: 1 }, { ...CHOSEN[task], seed, epochs: 1, readoutOnly: true }])),
};

EXPERIMENTS['final-wcap'] = {
  title: 'As "final" with ||W|| bounded to 2x the Xavier W\'s (the tuned reservoir chose input gains 1-3; set once, not tuned), checked every 100 steps',
  runs: () => TASKS.flatMap((task) => SEEDS.flatMap((seed) => [{ ...CHOSEN[task], seed, wCap: 2 }, { ...CHOSEN[task], seed, wCap: 2, readoutOnly: true }])),
};

// This session: variance reduction of the innovation trace (per-sequence reward, no output noise, baseline, rms, anchor).
const SEQ = (o: Partial<RunSpec>) => base({ trace: 'innovation', decay: 0.9, seq: {}, outputSigma: 0, ...o });
EXPERIMENTS['output-noise'] = {
  title: 'The batch-mean rule of "rates" (innovation 0.9, lr 0.3) without output noise: the ridge readout needs none, and its term in dL is noise for W and R',
  runs: () => both((task) => [base({ task, lr: same(0.3), outputSigma: 0 })]),
};
EXPERIMENTS['seq-rates'] = {
  title: 'dL per sequence (B values per step, a trace per sequence; src/learn/sequence-reward.ts), no output noise, innovation 0.9, ridge readout: rates',
  runs: () => both((task) => [0.3, 1, 3].map((x) => SEQ({ task, lr: same(x) }))),
};

EXPERIMENTS['seq-rms'] = {
  title: 'As "seq-rates" with the step normalised per parameter (rms 0.999; lr = step per parameter in weight units): the step no longer scales with the ridge readout\'s gain',
  runs: () => both((task) => [1e-4, 3e-4, 1e-3, 3e-3].map((x) => SEQ({ task, lr: same(x), seq: { rms: 0.999 } }))),
};

EXPERIMENTS['seq-refit'] = {
  title: 'As "seq-rms" with the ridge readout refitted every 100 steps too, so that the readout tracks the representation between the per-epoch refits',
  runs: () => both((task) => [3e-4, 1e-3, 3e-3].map((x) => SEQ({ task, lr: same(x), seq: { rms: 0.999 }, refitEvery: 100 }))),
};

EXPERIMENTS['seq-tune'] = {
  title: 'As "seq-refit" (rms 0.999, ridge every 100 steps): the grid edge lr 1e-2, the trace decay, a running dL baseline',
  runs: () => both((task) => [
    SEQ({ task, lr: same(1e-2), seq: { rms: 0.999 }, refitEvery: 100 }),
    ...[0.8, 0.97].map((decay) => SEQ({ task, decay, lr: same(3e-3), seq: { rms: 0.999 }, refitEvery: 100 })),
    SEQ({ task, lr: same(3e-3), seq: { rms: 0.999, baseline: 0.99 }, refitEvery: 100 }),
  ]),
};
EXPERIMENTS['seq-budget'] = {
  title: 'As "seq-refit" at lr 1e-3 for 20 epochs (BPTT\'s budget)',
  runs: () => both((task) => [SEQ({ task, lr: same(1e-3), seq: { rms: 0.999 }, refitEvery: 100, epochs: 20 })]),
};

EXPERIMENTS['seq-copies'] = {
  title: 'As "seq-refit" with 4 noisy copies of every sequence (the same data and epochs, 4x the forward passes): 4x the samples of the gradient per step',
  runs: () => both((task) => [1e-3, 3e-3].map((x) => SEQ({ task, lr: same(x), seq: { rms: 0.999 }, refitEvery: 100, copies: 4 }))),
};

EXPERIMENTS['seq-norm'] = {
  title: 'dL per sequence without the rms step: dL normalised to its rms over the first 100 steps (the step cannot grow with the refitted readout\'s gain), ridge every 100 steps, larger rates',
  runs: () => both((task) => [1, 3, 10].map((x) => SEQ({ task, lr: same(x), refitEvery: 100, normaliseWarmup: true }))),
};
EXPERIMENTS['seq-clip'] = {
  title: 'As "seq-refit" with the rms step clipped to +-3 lr (decay 0.8 at lr 3e-3 diverged within 49 steps: one step of g far above its rms moved R by up to 30 lr)',
  runs: () => both((task) => [[0.9, 3e-3], [0.8, 3e-3], [0.9, 1e-2]].map(([decay, x]) => SEQ({ task, decay, lr: same(x), seq: { rms: 0.999, rmsClip: 3 }, refitEvery: 100 }))),
};

EXPERIMENTS['seq-anchor'] = {
  title: 'As "seq-clip" (rms 0.999 clipped at 3, ridge every 100 steps) with W pulled towards its start (4 noisy copies and 20 epochs saturated W: |W| 17 and 3.0, the validation MSE then flat), or W at a third of the rate',
  runs: () => both((task) => [
    ...[1e-3, 1e-2].map((anchor) => SEQ({ task, lr: same(3e-3), seq: { rms: 0.999, rmsClip: 3, anchor }, refitEvery: 100 })),
    SEQ({ task, lr: { w: 1e-3, r: 3e-3, v: 3e-3 }, seq: { rms: 0.999, rmsClip: 3 }, refitEvery: 100 }),
  ]),
};

EXPERIMENTS['seq-tuned-init'] = {
  title: 'As "seq-clip" from the tuned reservoir (its radius and input gain; "tuned-init" diverged in 7-11 steps with the batch-mean rule, whose step grows with the readout\'s gain; the rms step does not): its readout-only ablation is the tuned reservoir itself',
  runs: () => both((task) => [1e-3, 3e-3].map((x) => SEQ({ task, init: 'tuned', lr: same(x), seq: { rms: 0.999, rmsClip: 3 }, refitEvery: 100 }))),
};

/**
 * The per-sequence setting chosen per task from the validation columns of seed 42 above
 * (lowest best-epoch validation MSE; early stopping on validation, as every final run of
 * it keeps the best epoch): adding W at a third of R's rate ("seq-anchor", 5.03e-2),
 * delayed recall one rate ("seq-clip", 2.87e-2; unclipped "seq-refit" 2.86e-2).
 */
const CHOSEN_SEQ: Record<TaskKey, RunSpec> = {
  adding: SEQ({ task: 'adding', lr: { w: 1e-3, r: 3e-3, v: 3e-3 }, seq: { rms: 0.999, rmsClip: 3 }, refitEvery: 100, keepBest: true }),
  'delayed-recall': SEQ({ task: 'delayed-recall', lr: same(3e-3), seq: { rms: 0.999, rmsClip: 3 }, refitEvery: 100, keepBest: true }),
};
for (const task of TASKS)
  EXPERIMENTS[`final-seq-${task}`] = {
    title: `The chosen per-sequence setting on 3 seeds beside its readout-only ablation (equal budget: 5 epochs, the same refits and early stopping), ${task}`,
    runs: () => SEEDS.flatMap((seed) => [{ ...CHOSEN_SEQ[task], seed }, { ...CHOSEN_SEQ[task], seed, readoutOnly: true }]),
  };

/** The tuned reservoir and full BPTT rows of scripts/recurrence-tasks.ts (docs/results/recurrence-runs.jsonl), test MSE per seed. */
function references(task: TaskKey, hidden?: number): { reservoir?: number[]; bptt?: number[] } {
  const file = join(ROOT, 'docs', 'results', `recurrence-runs${hidden ? `-h${hidden}` : ''}.jsonl`); // scripts/recurrence-tasks.ts [--hidden N]
  if (!existsSync(file)) return {};
  const rs = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { task: string; learner: string; stage: string; seed: number; test: number });
  const get = (learner: string) => {
    const xs = SEEDS.map((seed) => rs.find((r) => r.task === task && r.learner === learner && r.stage === 'final' && r.seed === seed)?.test);
    return xs.every((x): x is number => x !== undefined) ? xs : undefined;
  };
  return { reservoir: get('reservoir'), bptt: get('bptt-full') };
}

/** The settings run on 3 seeds beside their readout-only ablation (one row per task in the summary table). */
const FINAL_SETS: Partial<Record<TaskKey, RunSpec>>[] = [];
const finalSet = (f: (task: TaskKey) => RunSpec) => ({ adding: f('adding'), 'delayed-recall': f('delayed-recall') });
FINAL_SETS.push(finalSet((task) => CHOSEN[task]), finalSet((task) => ({ ...CHOSEN[task], epochs: 1 })), finalSet((task) => ({ ...CHOSEN[task], wCap: 2 })));
/** The chosen float setting (batch-mean dL, so the chip can run it) on the chip: 16-bit, and 8-bit weights with stochastic rounding. */
for (const chip of [16, 8] as const) {
  EXPERIMENTS[`final-chip${chip}`] = {
    title: `As "final" on the chip emulator (${chip === 16 ? '16-bit formats' : '8-bit weights with stochastic update rounding, 16-bit activity'}; the chip's traces, docs/kernel.md), 3 seeds beside its readout-only ablation`,
    runs: () => TASKS.flatMap((task) => SEEDS.flatMap((seed) => [{ ...CHOSEN[task], seed, chip }, { ...CHOSEN[task], seed, chip, readoutOnly: true }])),
  };
  FINAL_SETS.push(finalSet((task) => ({ ...CHOSEN[task], chip })));
}
FINAL_SETS.push(CHOSEN_SEQ);
/**
 * Chosen after "final-seq-delayed-recall" (post hoc, so not a clean validation choice):
 * there seed 300 fell to the zero-output level in its first epoch and stayed there; the
 * anchored run of "seq-anchor" (anchor 1e-3) was the steadiest delayed-recall run on seed
 * 42's validation (2.93e-2 to 2.92e-2 over the 5 epochs).
 */
const SECOND_SEQ: RunSpec = { ...CHOSEN_SEQ['delayed-recall'], seq: { rms: 0.999, rmsClip: 3, anchor: 1e-3 } };
FINAL_SETS.push({ 'delayed-recall': SECOND_SEQ });
EXPERIMENTS['final-seq-adding-20'] = {
  title: 'The chosen adding setting for 20 epochs (BPTT\'s budget; the cosine schedule over the 20), 3 seeds beside its readout-only ablation',
  runs: () => SEEDS.flatMap((seed) => [{ ...CHOSEN_SEQ.adding, seed, epochs: 20 }, { ...CHOSEN_SEQ.adding, seed, epochs: 20, readoutOnly: true }]),
};
FINAL_SETS.push({ adding: { ...CHOSEN_SEQ.adding, epochs: 20 } });
EXPERIMENTS['final-seq-anchor-delayed-recall'] = {
  title: 'Post hoc, after "final-seq-delayed-recall": its setting with W anchored (1e-3 per step), 3 seeds beside its readout-only ablation',
  runs: () => SEEDS.flatMap((seed) => [{ ...SECOND_SEQ, seed }, { ...SECOND_SEQ, seed, readoutOnly: true }]),
};

// Third session: the estimator's variance on adding, from the chosen adding setting (CHOSEN_SEQ.adding).
const A = CHOSEN_SEQ.adding;
const times = (k: number) => ({ w: A.lr.w * k, r: A.lr.r * k, v: A.lr.v * k });
const withSeq = (o: Partial<NonNullable<RunSpec['seq']>>, extra: Partial<RunSpec> = {}): RunSpec => ({ ...A, ...extra, seq: { ...A.seq, ...o } });
EXPERIMENTS['var-momentum'] = {
  title: 'The chosen adding setting with the step along a running mean of the estimate g per parameter (momentum; the rms of g unchanged), at 1x, 3x and 10x its rates (W 1e-3, R 3e-3)',
  runs: () => [0.99].flatMap((momentum) => [1, 3, 10].map((k) => withSeq({ momentum }, { lr: times(k) }))),
};
EXPERIMENTS['var-r-only'] = {
  title: 'The chosen adding setting with W fixed (lr W 0): the perturbation then pays only for R (V by ridge), at R 3e-3 and 1e-2',
  runs: () => [3e-3, 1e-2].map((r) => ({ ...A, lr: { w: 0, r, v: A.lr.v } })),
};
EXPERIMENTS['var-sigma'] = {
  title: 'The chosen adding setting at a tenth of the noise (sigma 1e-4; the rms step makes the rate independent of sigma): less of dL is curvature',
  runs: () => [{ ...A, sigma: 1e-4 }],
};
EXPERIMENTS['var-cap'] = {
  title: 'The chosen adding setting with the spectral cap of R raised (adding needs an integrator, an eigenvalue near 1; momentum at 1x stalled at a constant validation MSE, as if held at the cap), with and without momentum 0.99',
  runs: () => [1, 1.2].flatMap((cap) => [{ ...A, cap }, withSeq({ momentum: 0.99 }, { cap })]),
};
EXPERIMENTS['var-control'] = {
  title: 'Control: the chosen adding setting with each trace credited with another sequence\'s dL (b + 1 mod B; the same step sizes, mean step 0): how much of its gain over readout-only is a random walk of R and W picked by the refits and the early stopping',
  runs: () => SEEDS.map((seed) => ({ ...A, seed, rotateReward: true })),
};
EXPERIMENTS['var-momentum-slow'] = {
  title: 'Momentum 0.99 at 0.3x and 0.1x the chosen adding rates: the same mean drift per step in units of the noise, a smaller random walk',
  runs: () => [0.3, 0.1].map((k) => withSeq({ momentum: 0.99 }, { lr: times(k) })),
};
EXPERIMENTS['var-copies4'] = {
  title: 'The third session\'s "next experiment": 4 independent noisy copies per sequence (4x the forward passes, a 4x less noisy estimate per step) at 0.5x and 0.3x the chosen adding rates, the spectral cap checked every 10 steps, 20 epochs (seed 42, validation)',
  runs: () => [0.5, 0.3].map((k) => ({ ...A, lr: times(k), copies: 4, capEvery: 10, epochs: 20 })),
};
/** The third session's variants screened on the validation MSE of all 3 seeds (single-seed differences of 0.5e-2 are within what "var-control" moves by chance). */
const SCREEN: RunSpec[] = [
  withSeq({ momentum: 0.99 }),
  { ...A, lr: { w: 0, r: 3e-3, v: A.lr.v } },
  { ...A, sigma: 1e-4 },
  { ...A, lr: times(1 / 3), copies: 2, antithetic: true },
  { ...A, lr: times(1 / 3), copies: 2 },
];
/** Variants screened after the first screen (appended as they are chosen). */
const SCREEN_MORE: RunSpec[] = [
  { ...A, decay: 0.97 },
  withSeq({ rms: 0.99 }),
  withSeq({ rmsClip: 1 }),
];
EXPERIMENTS['var-screen-2'] = {
  title: 'More of the chosen adding setting\'s own knobs on 3 seeds: trace decay 0.97 (the best seed-42 decay of "seq-tune"), a shorter rms memory (0.99), a tighter clip (1)',
  runs: () => SCREEN_MORE.flatMap((v) => SEEDS.map((seed) => ({ ...v, seed }))),
};
EXPERIMENTS['var-screen'] = {
  title: 'The variants of "var-momentum", "var-r-only", "var-sigma" and 2 copies (antithetic or independent, at a third of the rates: 1x diverged, the rms step of a less noisy estimate is more coherent) on 3 seeds, validation only',
  runs: () => SCREEN.flatMap((v) => SEEDS.map((seed) => ({ ...v, seed }))),
};
EXPERIMENTS['var-slow20'] = {
  title: 'BPTT\'s budget (20 epochs) at BPTT\'s step per episode: full BPTT takes one Adam step of about lr 3e-3 per weight per 10-step episode (momentum 0.9 per step of its own), ANP-T here one rms step per time step, so a third of the chosen rates (R 1e-3 per step, W 3.3e-4) with and without momentum 0.99 (0.9 per episode), 3 seeds',
  runs: () => [{ ...A, lr: times(1 / 3), epochs: 20 }, withSeq({ momentum: 0.99 }, { lr: times(1 / 3), epochs: 20 })].flatMap((v) => SEEDS.map((seed) => ({ ...v, seed }))),
};
EXPERIMENTS['var-slow20-cap'] = {
  title: 'The "var-slow20" settings (20 epochs, a third of the rates, without and with momentum 0.99) with the spectral cap at 1.5 instead of 0.95: in this readout schedule Adam on the exact gradient passes the bar on adding only without the 0.95 cap (`--exact`: 1.35e-2 against 3.84e-2), seed 42 (validation)',
  runs: () => [{ ...A, lr: times(1 / 3), epochs: 20, cap: 1.5 }, withSeq({ momentum: 0.99 }, { lr: times(1 / 3), epochs: 20, cap: 1.5 })],
};
EXPERIMENTS['var-slow20-cap-near1'] = {
  title: 'As "var-slow20-cap" without momentum with the cap just above 1 (1.05, 1.1), where the exact-gradient runs of `--exact` end (rho(R) 1.05-1.09), seed 42 (validation)',
  runs: () => [1.05, 1.1].map((cap) => ({ ...A, lr: times(1 / 3), epochs: 20, cap })),
};
/**
 * The 20-epoch setting of "var-slow20" without momentum, run beside its readout-only ablation
 * (picked after "var-slow20", whose test column was already recorded; on validation it ties
 * with the momentum variant: best-epoch geometric mean 5.55e-2 against 5.52e-2, last epoch
 * 5.73e-2 against 6.06e-2; "final-seq-adding-20" 5.59e-2).
 */
const SLOW20: RunSpec = { ...A, lr: times(1 / 3), epochs: 20 };
EXPERIMENTS['final-slow20-adding'] = {
  title: 'A third of the chosen adding rates for 20 epochs (BPTT\'s budget), 3 seeds beside its readout-only ablation (the "var-slow20" setting without momentum, picked after those runs; on validation it ties with the momentum one: best epochs 5.55e-2 against 5.52e-2, geometric means)',
  runs: () => SEEDS.flatMap((seed) => [{ ...SLOW20, seed }, { ...SLOW20, seed, readoutOnly: true }]),
};
FINAL_SETS.push({ adding: SLOW20 });
EXPERIMENTS['var-antithetic'] = {
  title: 'The chosen adding setting with each sequence twice in the batch (B 20, the same data), the second copy with the first one\'s noise negated (src/learn/antithetic.ts), beside 2 independent copies',
  runs: () => [{ ...A, copies: 2, antithetic: true }, { ...A, copies: 2 }],
};

/** The chosen per-sequence setting of a task at another hidden size, its rates scaled by k. */
const atH = (task: TaskKey, hidden: number, k: number, o: Partial<RunSpec> = {}): RunSpec => {
  const c = CHOSEN_SEQ[task];
  return { ...c, hidden, lr: { w: c.lr.w * k, r: c.lr.r * k, v: c.lr.v * k }, ...o };
};
EXPERIMENTS['h20-rates'] = {
  title: 'Information per step: the chosen per-sequence setting at H = 20 (W and R have 460 entries instead of 10,300; each step still gives B = 10 values of dL), its rates at 1x, 3x and 10x, beside its readout-only ablation (seed 42, validation; tuned reservoir and full BPTT at H = 20 in docs/results/recurrence-h20.md)',
  runs: () => both((task) => [...[1, 3, 10].map((k) => atH(task, 20, k)), atH(task, 20, 1, { readoutOnly: true })]),
};
EXPERIMENTS['h20-epoch-cos'] = {
  title: 'At H = 20, whether an epoch of the rule moves W and R downhill: the cosine of each epoch\'s net change of W and of R to minus the exact full-BPTT gradient at the epoch\'s start (1, 8 and 32 noisy copies, the chosen rates, 5 epochs, seed 42)',
  runs: () => both((task) => [1, 8, 32].map((copies) => atH(task, 20, 1, { copies, capEvery: 10, epochCos: true }))),
};
EXPERIMENTS['h20-step'] = {
  title: 'At H = 20 with 32 noisy copies (epoch cosines of "h20-epoch-cos" 0.3-0.8 on adding, yet |W| grew to 116): smaller rms steps (0.1x, 0.03x), and the step without the rms normaliser (dL x trace, lr 0.3, 1, 3 as "seq-rates"), 5 epochs, seed 42',
  runs: () => both((task) => [
    ...[0.1, 0.03].map((k) => atH(task, 20, k, { copies: 32, capEvery: 10, epochCos: true })),
    ...[0.3, 1, 3].map((x) => ({ ...atH(task, 20, 1, { copies: 32, capEvery: 10, epochCos: true }), lr: same(x), seq: {} })),
  ]),
};
EXPERIMENTS['h20-plain-step'] = {
  title: 'As "h20-step" without the rms normaliser at larger rates (at lr 0.3-3 W barely moved on delayed recall: the same validation MSE and epoch cosines at every rate), 32 copies, 5 epochs, seed 42',
  runs: () => [...[10, 30, 100].map((x) => ({ ...atH('adding', 20, 1, { copies: 32, capEvery: 10, epochCos: true }), lr: same(x), seq: {} })),
    ...[30, 300, 3000].map((x) => ({ ...atH('delayed-recall', 20, 1, { copies: 32, capEvery: 10, epochCos: true }), lr: same(x), seq: {} }))],
};
EXPERIMENTS['h20-plain-20'] = {
  title: 'The step without the rms normaliser at H = 20 for 20 epochs (BPTT\'s budget): 1 and 32 noisy copies, adding at lr 100 and 300, delayed recall at lr 1000, seed 42',
  runs: () => [1, 32].flatMap((copies) => [...[100, 300].map((x) => ({ ...atH('adding', 20, 1, { copies, capEvery: 10, epochCos: true, epochs: 20 }), lr: same(x), seq: {} })),
    ({ ...atH('delayed-recall', 20, 1, { copies, capEvery: 10, epochCos: true, epochs: 20 }), lr: same(1000), seq: {} })]),
};
/** At H = 20: M noisy copies (32 unless given), the cap every 10 steps, epoch cosines, 20 epochs. */
const long20 = (task: TaskKey, k: number, o: Partial<RunSpec> = {}): RunSpec =>
  atH(task, 20, k, { copies: 32, capEvery: 10, epochCos: true, epochs: 20, ...o });
/** long20 with the rms step's momentum at `beta` (0.9, or longer averages of the estimate before it moves the weights). */
const momentumAt = (task: TaskKey, k: number, beta: number, o: Partial<RunSpec> = {}): RunSpec =>
  long20(task, k, { seq: { ...CHOSEN_SEQ[task].seq, momentum: beta }, ...o });
EXPERIMENTS['h20-adam-like'] = {
  title: 'At H = 20 with 32 noisy copies, the rms step (an Adam-like per-parameter scaling; full BPTT with Adam closes the gap that plain SGD does not) at 0.03x and 0.1x the chosen rates, without and with momentum 0.9, 20 epochs, seed 42',
  runs: () => both((task) => [0.03, 0.1].flatMap((k) => [long20(task, k), momentumAt(task, k, 0.9)])),
};
/** At H = 20, the rule's own readout: V learned with W and R (output noise on, no ridge refits), as BPTT learns it. */
const ownV = (task: TaskKey, o: Partial<RunSpec>): RunSpec => ({ ...atH(task, 20, 1, { readout: 'device', outputSigma: SIGMA, refitEvery: undefined, epochCos: true, epochs: 20, capEvery: 10 }), ...o });
EXPERIMENTS['h20-own-readout'] = {
  title: 'At H = 20 with the readout learned by the rule (V beside W and R; output noise sigma 1e-3, no ridge): with the ridge readout even the exact gradient does not train W and R (plain SGD on W and R, V refitted by ridge every epoch: delayed recall stays at 3.19e-2, adding 5.27e-2 against 2.06e-2 with V learned; /tmp probe, see the fifth reading). rms step at 1x and 3x, the plain step at lr 100, 300, 1000, 1 copy; 32 copies at the plain lr 300 and the rms 0.1x; 20 epochs, seed 42',
  runs: () => both((task) => [
    ...[1, 3].map((k) => ownV(task, { lr: { w: CHOSEN_SEQ[task].lr.w * k, r: CHOSEN_SEQ[task].lr.r * k, v: CHOSEN_SEQ[task].lr.v * k } })),
    ...[100, 300, 1000].map((x) => ownV(task, { lr: same(x), seq: {} })),
    ownV(task, { lr: same(300), seq: {}, copies: 32 }),
    ownV(task, { lr: { w: CHOSEN_SEQ[task].lr.w * 0.1, r: CHOSEN_SEQ[task].lr.r * 0.1, v: CHOSEN_SEQ[task].lr.v * 0.1 }, copies: 32 }),
  ]),
};
const ownRms = (task: TaskKey, k: number, o: Partial<RunSpec> = {}): RunSpec => ownV(task, { lr: { w: CHOSEN_SEQ[task].lr.w * k, r: CHOSEN_SEQ[task].lr.r * k, v: CHOSEN_SEQ[task].lr.v * k }, ...o });
EXPERIMENTS['h20-own-readout-2'] = {
  title: 'As "h20-own-readout" (rms step, the rule\'s own readout, 20 epochs, seed 42): 32 copies at 0.03x and beside their readout-only ablation at 0.1x, 8 copies at 0.1x, 1 copy at 0.1x and 0.3x',
  runs: () => both((task) => [ownRms(task, 0.03, { copies: 32 }), ownRms(task, 0.1, { copies: 32, readoutOnly: true }), ownRms(task, 0.1, { copies: 8 }), ownRms(task, 0.1), ownRms(task, 0.3)]),
};
EXPERIMENTS['h20-own-readout-seeds'] = {
  title: 'The one run of "h20-own-readout" that learned (adding, 32 copies, rms 0.1x, the rule\'s own readout, 20 epochs) on seeds 101 and 300, beside its readout-only ablation: is it the setting or the seed?',
  runs: () => [101, 300].flatMap((seed) => [ownRms('adding', 0.1, { copies: 32, seed }), ownRms('adding', 0.1, { copies: 32, seed, readoutOnly: true })]),
};
EXPERIMENTS['h20-adam-like-seeds'] = {
  title: 'The two "h20-adam-like" runs that learned late (adding, 32 copies, rms 0.03x with and without momentum 0.9, ridge readout, 20 epochs) on seeds 101 and 300, beside the readout-only ablation (on seed 42 too; W and R frozen, so the same with or without momentum)',
  runs: () => [long20('adding', 0.03, { readoutOnly: true }), ...[101, 300].flatMap((seed) => [
    long20('adding', 0.03, { seed }), momentumAt('adding', 0.03, 0.9, { seed }), long20('adding', 0.03, { seed, readoutOnly: true })])],
};
/** The learning setting of "h20-adam-like-seeds" with momentum 0.9 and M noisy copies. */
const adamLike = (copies: number, seed: number, k = 0.03): RunSpec =>
  momentumAt('adding', k, 0.9, { copies, seed });
EXPERIMENTS['h20-copies-sweep'] = {
  title: 'How many noisy copies: the setting of "h20-adam-like-seeds" with momentum 0.9 (adding, rms 0.03x, ridge readout, 20 epochs) at 1, 8, 16 and 64 copies (32 in "h20-adam-like-seeds"), 3 seeds; the rate is not retuned per copy count',
  runs: () => [1, 8, 16, 64].flatMap((copies) => SEEDS.map((seed) => adamLike(copies, seed))),
};
EXPERIMENTS['h20-copies32-rates'] = {
  title: 'The 32-copy setting of "h20-copies-sweep" (momentum 0.9) at 0.02x and 0.05x the chosen rates beside 0.03x, 3 seeds: is 0.03x the best rate for 32 copies (validation)?',
  runs: () => [0.02, 0.05].flatMap((k) => SEEDS.map((seed) => adamLike(32, seed, k))),
};
EXPERIMENTS['h20-copies64-rates'] = {
  title: 'The 64-copy setting of "h20-copies-sweep" (momentum 0.9) at 0.01x and 0.02x the chosen rates beside 0.03x, 3 seeds: at 0.03x |W| grew to 8-19x Xavier and the runs learned only in the last epochs',
  runs: () => [0.01, 0.02].flatMap((k) => SEEDS.map((seed) => adamLike(64, seed, k))),
};
EXPERIMENTS['h20-copies32-more-seeds'] = {
  title: 'The 32-copy setting chosen on validation ("h20-copies32-rates": 0.05x, momentum 0.9) on seeds 1 to 7 beside 42, 101 and 300: how much of its share of the gap is the seeds (through `anpt train`, whose ridge fits fall one step apart from these, scripts/recipe-h20.ts gives 17 % on 42, 101 and 300 against 28 % here)',
  runs: () => [1, 2, 3, 4, 5, 6, 7].map((seed) => adamLike(32, seed, 0.05)),
};
EXPERIMENTS['h20-copies32-refit-timing'] = {
  title: 'Why `anpt train` gives 6.39e-2 on seed 101 where "h20-copies32-rates" gave 2.71e-2 (the 32-copy setting, 0.05x, momentum 0.9): the fits counted from the epoch\'s own fit (refitCounted), the rates as each weight\'s step (weightRates: R 0.1536 instead of 0.15360000000000001), and both (the CLI\'s run), seed 101',
  runs: () => [{ refitCounted: true }, { weightRates: true }, { refitCounted: true, weightRates: true }].map((o) => ({ ...adamLike(32, 101, 0.05), ...o })),
};
EXPERIMENTS['h20-copies32-small-steps'] = {
  title: 'The 32-copy setting (momentum 0.9) at smaller steps than its rate grid had: with the rms step a rate k x means each weight moves up to k x 1e-3 x (B M / 10)^2 per step (W; R 3x that), so the grid 0.02x-0.05x at 32 copies was 2e-2 to 5e-2 per weight per step against 1e-3 for one copy at 1x. Here 0.002x, 0.005x and 0.01x (W 2e-3, 5e-3, 1e-2 per step), seed 42 (validation)',
  runs: () => [0.002, 0.005, 0.01].map((k) => adamLike(32, 42, k)),
};
EXPERIMENTS['h20-copies32-constant'] = {
  title: 'The 32-copy setting (momentum 0.9) with a constant rate instead of the cosine decay: at every rate of "h20-copies32-small-steps" and "h20-copies32-rates" the validation MSE fell only in the last 2 to 6 epochs, where the cosine factor is 0.1 to 0.02; constant at 0.001x, 0.003x and 0.01x (W 1e-3, 3e-3, 1e-2 per step), seed 42 (validation)',
  runs: () => [0.001, 0.003, 0.01].map((k) => ({ ...adamLike(32, 42, k), constant: true })),
};
EXPERIMENTS['h20-copies8-larger'] = {
  title: 'In each weight\'s step the copy counts\' grids hardly overlapped (8 copies 0.03x-0.1x: W 1.9e-3 to 6.4e-3 per step; 32 copies 0.02x-0.05x: 2e-2 to 5.1e-2), and 8 copies chose the top of theirs: 8 copies (momentum 0.9) at 0.2x, 0.4x and 0.8x (W 1.3e-2, 2.6e-2, 5.1e-2 per step, the last the 32-copy choice), seed 42 (validation)',
  runs: () => [0.2, 0.4, 0.8].map((k) => adamLike(8, 42, k)),
};
EXPERIMENTS['h20-copies8-larger-seeds'] = {
  title: 'The best of "h20-copies8-larger" on seed 42 (0.4x: validation 5.36e-2, against 6.46e-2 at 0.1x, the earlier choice) on seeds 101 and 300, for the rate choice over 3 seeds',
  runs: () => [101, 300].map((seed) => adamLike(8, seed, 0.4)),
};
EXPERIMENTS['h20-average'] = {
  title: 'Polyak averaging at equal budget (1 noisy copy): every 32-copy run that learned did so at the end of the cosine decay, as if the weights had to stop wandering; an average of W and R (decay 0.99 or 0.999 per 10 steps, windows of about 1 and 10 epochs) scored instead of the last weights, at momentum 0.99 and 0.3x (the equal-budget choice) and momentum 0.9 and 1x, 20 epochs, seed 42 (validation)',
  runs: () => both((task) => [[0.3, 0.99], [1, 0.9]].flatMap(([k, beta]) => [0.99, 0.999].map((average) => momentumAt(task, k, beta, { copies: 1, average })))),
};
EXPERIMENTS['h20-average-copies32'] = {
  title: 'Polyak averaging with 32 noisy copies: the chosen 32-copy setting (0.05x, momentum 0.9) scored on the average of W and R (decay 0.99, 0.999 per 10 steps), and at a constant 0.01x with decay 0.999, adding, seed 42 (validation)',
  runs: () => [...[0.99, 0.999].map((average) => ({ ...adamLike(32, 42, 0.05), average })), { ...adamLike(32, 42, 0.01), constant: true, average: 0.999 }],
};
EXPERIMENTS['h20-copies32-cycles'] = {
  title: 'Warm restarts: in one 32-copy run (seed 42) better networks were found in epochs 8, 12 and 15 and lost again, and kept only at the end of the cosine decay; 4 and 2 cosine cycles of 5 and 10 epochs (the fits counted from each epoch fit) at 0.05x, and 4 cycles at 0.1x, beside one decay with the same fits, momentum 0.9, 20 epochs, seed 42 (validation)',
  runs: () => [{ ...adamLike(32, 42, 0.05), refitCounted: true }, ...[[4, 0.05], [2, 0.05], [4, 0.1]].map(([cycles, k]) => ({ ...adamLike(32, 42, k), refitCounted: true, cycles }))],
};
EXPERIMENTS['h20-copies-rates'] = {
  title: 'The 8- and 16-copy settings of "h20-copies-sweep" (momentum 0.9) at 0.05x and 0.1x the chosen rates beside 0.03x, 3 seeds: do fewer copies want a larger rate (validation)?',
  runs: () => [8, 16].flatMap((copies) => [0.05, 0.1].flatMap((k) => SEEDS.map((seed) => adamLike(copies, seed, k)))),
};
EXPERIMENTS['h20-copies32-tuned-init'] = {
  title: 'The 32-copy setting (momentum 0.9, ridge readout, 20 epochs) from the tuned reservoir\'s radius and input gain instead of Xavier, at 0.01x, 0.03x and 0.05x the chosen rates, seed 42 (validation): from Xavier |W| grew 2-19x and most runs sat at the zero-output level for epochs; its readout-only ablation is the tuned reservoir itself',
  runs: () => both((task) => [0.01, 0.03, 0.05].map((k) => momentumAt(task, k, 0.9, { init: 'tuned' }))),
};
EXPERIMENTS['h20-delayed-epoch-ridge'] = {
  title: 'Delayed recall at H = 20 with the ridge readout solved only before every epoch (as in `--exact`, where Adam on the exact gradient with the cap 0.95 then reaches 3.28e-3) instead of every 100 steps: 32 copies with momentum 0.9 at 0.1x, 0.3x and 1x the chosen rates, 1 copy at 1x and 3x, 20 epochs, seed 42 (validation)',
  runs: () => [...[0.1, 0.3, 1].map((k) => momentumAt('delayed-recall', k, 0.9, { refitEvery: undefined })), ...[1, 3].map((k) => momentumAt('delayed-recall', k, 0.9, { refitEvery: undefined, copies: 1 }))],
};
EXPERIMENTS['h20-copies32-wcap'] = {
  title: 'The 32-copy setting (momentum 0.9) with ||W|| bounded to 2x its Xavier norm (Adam on the exact gradient ends at 2.2x on adding, 1.8x on delayed recall; the rule\'s runs grew it to 2-79x): adding at 0.05x, delayed recall at 0.05x and 0.3x with the ridge every 100 steps and, at 0.3x, only before every epoch; 20 epochs, seed 42 (validation)',
  runs: () => [momentumAt('adding', 0.05, 0.9, { wCap: 2 }), ...[0.05, 0.3].map((k) => momentumAt('delayed-recall', k, 0.9, { wCap: 2 })), momentumAt('delayed-recall', 0.3, 0.9, { wCap: 2, refitEvery: undefined })],
};
EXPERIMENTS['h20-copies32-wcap-delayed'] = {
  title: 'The one "h20-copies32-wcap" run that learned (delayed recall, 32 copies, momentum 0.9, ||W|| <= 2x Xavier, ridge every 100 steps, 0.05x, 20 epochs: test 2.56e-2 on seed 42, the validation falling only in the last 3 epochs) at 0.02x and 0.03x on seed 42, and at 0.05x on seeds 101 and 300',
  runs: () => [...[0.02, 0.03].map((k) => momentumAt('delayed-recall', k, 0.9, { wCap: 2 })), ...[101, 300].map((seed) => momentumAt('delayed-recall', 0.05, 0.9, { wCap: 2, seed }))],
};
EXPERIMENTS['h20-momentum'] = {
  title: 'A longer momentum of the rms step instead of more copies (Adam on the exact gradient in the same readout schedule steps once per 10-step episode with momentum 0.9, an average over about 100 steps; the rule steps every step): 1 noisy copy, momentum 0.99 at 0.1x, 0.3x and 1x the chosen rates and 0.999 at 0.3x, 1x and 3x, ridge every 100 steps, 20 epochs, seed 42 (validation)',
  runs: () => both((task) => [...[0.1, 0.3, 1].map((k) => momentumAt(task, k, 0.99, { copies: 1 })), ...[0.3, 1, 3].map((k) => momentumAt(task, k, 0.999, { copies: 1 }))]),
};
EXPERIMENTS['h20-momentum-seeds'] = {
  title: 'One 1-copy row of "h20-momentum" for both tasks (momentum 0.99, 0.3x the chosen rates: the best on validation on delayed recall, 3.01e-2; on adding 5.93e-2, beside the best 5.87e-2 at momentum 0.999 and 1x) on 3 seeds beside its readout-only ablation: equal budget (one noisy copy, 20 epochs)',
  runs: () => both((task) => SEEDS.flatMap((seed) => [momentumAt(task, 0.3, 0.99, { copies: 1, seed }), momentumAt(task, 0.3, 0.99, { copies: 1, seed, readoutOnly: true })])),
};
EXPERIMENTS['h20-rollback'] = {
  title: 'Rollback (back to the best epoch on validation when an epoch ends above it; the cosine schedule, traces and step moments go on): at equal budget, the 1-copy setting of "h20-momentum-seeds" (momentum 0.99) at 0.3x, 1x and 3x, seed 42 (validation)',
  runs: () => both((task) => [0.3, 1, 3].map((k) => momentumAt(task, k, 0.99, { copies: 1, rollback: 1 }))),
};
EXPERIMENTS['h20-rollback-seeds'] = {
  title: 'The validation choice of "h20-rollback" on adding (1x, momentum 0.99, one copy: equal budget) on seeds 101 and 300 beside 42; the readout-only rows of "h20-momentum-seeds" are its ablation (V by ridge, so the rate does not enter them)',
  runs: () => SEEDS.map((seed) => momentumAt('adding', 1, 0.99, { copies: 1, seed, rollback: 1 })),
};
EXPERIMENTS['h20-copies32-rollback'] = {
  title: 'Rollback on the 32-copy setting ("h20-copies32-rates": 0.05x, momentum 0.9; large steps found better networks in epochs 8, 12 and 15 of one run and lost them): back to the best epoch when an epoch ends above 1x or 1.1x its validation MSE, seeds 42, 101, 300',
  runs: () => [1, 1.1].flatMap((rollback) => SEEDS.map((seed) => ({ ...adamLike(32, seed, 0.05), rollback }))),
};
EXPERIMENTS['h20-copies32-rollback-cli'] = {
  title: 'Rollback where the reading came from: the 32-copy setting with the fits and rates as `anpt train` has them (refitCounted, weightRates; its metrics.csv showed networks found and lost on seed 42), without rollback and with it at 1x and 1.05x, seeds 42, 101, 300',
  runs: () => [undefined, 1, 1.05].flatMap((rollback) => SEEDS.map((seed) => ({ ...adamLike(32, seed, 0.05), refitCounted: true, weightRates: true, ...(rollback ? { rollback } : {}) }))),
};
EXPERIMENTS['h20-copies32-rollback-cli-more-seeds'] = {
  title: 'The rollback at 1.05x of "h20-copies32-rollback-cli" and its control without rollback on seeds 1 to 7 beside 42, 101 and 300 (a 3-seed share is uncertain by about 7 points)',
  runs: () => [1, 2, 3, 4, 5, 6, 7].map((seed) => ({ ...adamLike(32, seed, 0.05), refitCounted: true, weightRates: true, rollback: 1.05 })),
};
EXPERIMENTS['h20-copies32-cli-more-seeds'] = {
  title: 'The control of "h20-copies32-rollback-cli-more-seeds": the 32-copy setting as `anpt train` has it, best epoch on validation, seeds 1 to 7',
  runs: () => [1, 2, 3, 4, 5, 6, 7].map((seed) => ({ ...adamLike(32, seed, 0.05), refitCounted: true, weightRates: true })),
};
EXPERIMENTS['h20-copies32-rollback-script-fits'] = {
  title: 'The rollback at 1.05x with this script\'s own fit counter and rates (where 1x was worse on 2 of 3 seeds and 1.1x never rolled back), seeds 42, 101, 300',
  runs: () => SEEDS.map((seed) => ({ ...adamLike(32, seed, 0.05), rollback: 1.05 })),
};
EXPERIMENTS['h20-copies32-rollback-script-fits-more-seeds'] = {
  title: 'The rollback at 1.05x with this script\'s own fit counter on seeds 1 to 7 beside 42, 101 and 300 (control: "h20-copies32-more-seeds")',
  runs: () => [1, 2, 3, 4, 5, 6, 7].map((seed) => ({ ...adamLike(32, seed, 0.05), rollback: 1.05 })),
};
EXPERIMENTS['h20-rollback-1.05'] = {
  title: 'The rollback at 1.05x at equal budget (one copy, momentum 0.99): adding at 0.3x and 1x, delayed recall at 0.3x, seeds 42, 101, 300',
  runs: () => SEEDS.flatMap((seed) => [momentumAt('adding', 0.3, 0.99, { copies: 1, seed, rollback: 1.05 }), momentumAt('adding', 1, 0.99, { copies: 1, seed, rollback: 1.05 }), momentumAt('delayed-recall', 0.3, 0.99, { copies: 1, seed, rollback: 1.05 })]),
};
const delayed32 = (seed: number, rollback?: number): RunSpec => ({ ...momentumAt('delayed-recall', 0.05, 0.9, { copies: 32, seed }), refitCounted: true, weightRates: true, ...(rollback ? { rollback } : {}) });
EXPERIMENTS['h20-copies32-cli-delayed'] = {
  title: 'The other recurrence task: delayed recall with the 32-copy setting as `anpt train` has it (0.05x, momentum 0.9, fits and rates of the CLI), seeds 42, 101, 300',
  runs: () => SEEDS.map((seed) => delayed32(seed)),
};
EXPERIMENTS['h20-copies32-rollback-delayed'] = {
  title: 'The same on delayed recall with the rollback at 1.05x (beside "h20-copies32-cli-delayed")',
  runs: () => SEEDS.map((seed) => delayed32(seed, 1.05)),
};
EXPERIMENTS['h20-momentum-copies32'] = {
  title: 'Momentum 0.99 with 32 noisy copies at 0.1x and 0.3x the chosen rates (beside 0.9 at 0.05x: 3.69e-2 on adding, 3.19e-2 on delayed recall), seed 42 (validation)',
  runs: () => both((task) => [0.1, 0.3].map((k) => momentumAt(task, k, 0.99))),
};
EXPERIMENTS['h20-momentum-copies8'] = {
  title: 'Momentum 0.99 with 8 noisy copies at 0.1x, 0.3x and 1x the chosen rates (with 32 copies it grew |W| to 19-63x Xavier and did not learn), seed 42 (validation)',
  runs: () => both((task) => [0.1, 0.3, 1].map((k) => momentumAt(task, k, 0.99, { copies: 8 }))),
};
EXPERIMENTS['h20-momentum-copies8-low'] = {
  title: 'As "h20-momentum-copies8" (8 copies, momentum 0.99) below its best rate, 0.1x, the low edge of its grid: 0.03x and 0.05x, seed 42 (validation)',
  runs: () => both((task) => [0.03, 0.05].map((k) => momentumAt(task, k, 0.99, { copies: 8 }))),
};
/** The 8-copy, momentum 0.99 rate chosen on validation per task ("h20-momentum-copies8", "-low"). */
const M8_RATE: Record<TaskKey, number> = { adding: 0.1, 'delayed-recall': 0.03 };
EXPERIMENTS['h20-momentum-copies8-seeds'] = {
  title: '8 copies with momentum 0.99 at the rate chosen on validation (adding 0.1x, delayed recall 0.03x, the low edge of its grid) on 3 seeds beside its readout-only ablation (8 copies)',
  runs: () => both((task) => SEEDS.flatMap((seed) => [momentumAt(task, M8_RATE[task], 0.99, { copies: 8, seed }), momentumAt(task, M8_RATE[task], 0.99, { copies: 8, seed, readoutOnly: true })])),
};
FINAL_SETS.push(
  { adding: momentumAt('adding', 0.3, 0.99, { copies: 1 }), 'delayed-recall': momentumAt('delayed-recall', 0.3, 0.99, { copies: 1 }) },
  { adding: momentumAt('adding', M8_RATE.adding, 0.99, { copies: 8 }), 'delayed-recall': momentumAt('delayed-recall', M8_RATE['delayed-recall'], 0.99, { copies: 8 }) },
);
EXPERIMENTS['h20-copies32-delayed'] = {
  title: 'The 32-copy setting chosen on adding (momentum 0.9, 0.05x the chosen rates, ridge readout, 20 epochs) on delayed recall, 3 seeds',
  runs: () => SEEDS.map((seed) => momentumAt('delayed-recall', 0.05, 0.9, { seed })),
};
/** At H = 20 the bar's references are the H = 20 runs of scripts/recurrence-tasks.ts --hidden 20. */
FINAL_SETS.push({ adding: long20('adding', 0.03) });
EXPERIMENTS['h20-adam-like-slow'] = {
  title: 'As "h20-adam-like" (32 copies, rms, ridge readout, 20 epochs, seed 42) at 0.01x the chosen rates: the 0.03x runs learned only as the cosine schedule ran out',
  runs: () => both((task) => [atH(task, 20, 0.01, { copies: 32, capEvery: 10, epochCos: true, epochs: 20 })]),
};
EXPERIMENTS['h20-copies'] = {
  title: 'At H = 20, K independent noisy copies per sequence (K x the forward passes, K x the values of dL per step), the spectral cap checked every 10 steps, 20 epochs (BPTT\'s budget), at 0.3x and 1x the chosen rates (seed 42, validation)',
  runs: () => both((task) => [8, 32].flatMap((copies) => [0.3, 1].map((k) => atH(task, 20, k, { copies, capEvery: 10, epochs: 20 })))),
};

/** The screen of the third session: best-epoch validation MSE per seed and their geometric mean, per variant (never the test set). */
function screenSummary(recs: RunRec[]): string[] {
  const rows: string[] = [];
  for (const v of [A, { ...A, readoutOnly: true }, { ...A, rotateReward: true }, ...SCREEN, ...SCREEN_MORE]) {
    const rs = SEEDS.map((seed) => recs.find((r) => r.key === specKey({ ...v, seed })));
    if (rs.some((r) => !r)) continue;
    const val = rs.map((r) => (r!.status === 'ok' ? r!.val : NaN));
    rows.push(`| ${v.readoutOnly ? 'readout-only' : variant(v)} | ${rates(v)} | ${v.sigma} | ${val.map(e).join(' / ')} | ${e(geo(val))} | ${rs.map((r) => r!.seconds.toFixed(0)).join(' / ')} |`);
  }
  if (!rows.length) return [];
  return ['### Screen of the third session (adding, 5 epochs, best-epoch validation MSE, seeds 42 / 101 / 300)', '', '| variant | lr | sigma | validation MSE | geometric mean | seconds per run |', '|---|---|---|---|---|---|', ...rows, ''];
}

function finalSummary(recs: RunRec[]): string[] {
  const out: string[] = [];
  for (const set of FINAL_SETS) for (const task of TASKS) {
    const chosen = set[task];
    if (!chosen) continue;
    const epochs = chosen.epochs, wCap = chosen.wCap;
    const tr = SEEDS.map((seed) => recs.find((r) => r.key === specKey({ ...chosen, seed })));
    const ro = SEEDS.map((seed) => recs.find((r) => r.key === specKey({ ...chosen, seed, readoutOnly: true })));
    const ref = references(task, chosen.hidden);
    if (tr.some((r) => !r) || ro.some((r) => !r) || !ref.reservoir || !ref.bptt) continue;
    const t = tr.map((r) => r!.test), o = ro.map((r) => r!.test);
    const share = (Math.log(geo(ref.reservoir)) - Math.log(geo(t))) / (Math.log(geo(ref.reservoir)) - Math.log(geo(ref.bptt)));
    out.push(`| ${task} | ${variant(chosen)}, lr ${rates(chosen)}, ${chosen.readout} readout, ${chosen.init} init, ${epochs} epoch${epochs > 1 ? 's' : ''}${wCap ? `, ‖W‖ <= ${wCap}x Xavier` : ''} | ${t.map(e).join(' / ')} | ${o.map(e).join(' / ')} | ${ref.reservoir.map(e).join(' / ')} | ${ref.bptt.map(e).join(' / ')} | ${(100 * share).toFixed(0)} % | ${t.filter((x, i) => x < o[i]).length}/3 |`);
  }
  if (!out.length) return [];
  return ['### Against the bar of issue 11 (3 seeds, test MSE 42 / 101 / 300)', '', '| task | setting | ANP-T + trace | its readout-only ablation | tuned reservoir | full BPTT (20 epochs) | share of the log gap reservoir → BPTT closed (geometric means; target >= 50 %) | beats readout-only (target 3/3) |', '|---|---|---|---|---|---|---|---|', ...out, ''];
}

/** The chip rows of "final-chip16" / "final-chip8" beside the float model's "final" (the same setting) and full BPTT: issue 11's chip bars. */
function chipSummary(recs: RunRec[]): string[] {
  const out: string[] = [];
  const test = (s: RunSpec) => SEEDS.map((seed) => recs.find((r) => r.key === specKey({ ...s, seed }))?.test);
  const ratios = (a: number[], b: number[]) => a.map((x, i) => (x / b[i]).toFixed(2)).join(' / ');
  for (const task of TASKS) {
    const float = test(CHOSEN[task]), c16 = test({ ...CHOSEN[task], chip: 16 }), c8 = test({ ...CHOSEN[task], chip: 8 }), bptt = references(task).bptt;
    if (![...float, ...c16, ...c8].every((x): x is number => x !== undefined) || !bptt) continue;
    const [f, a, b] = [float as number[], c16 as number[], c8 as number[]];
    out.push(`| ${task} | ${f.map(e).join(' / ')} | ${a.map(e).join(' / ')} | ${ratios(a, f)} | ${b.map(e).join(' / ')} | ${bptt.map(e).join(' / ')} | ${ratios(b, bptt)} |`);
  }
  if (!out.length) return [];
  return ['### The chip against the float model and BPTT (the chosen batch-mean setting, 3 seeds, test MSE 42 / 101 / 300)', '',
    '| task | float model | chip, 16-bit | chip / float (target <= 1.5) | chip, 8-bit weights, stochastic rounding | full BPTT (float, 20 epochs) | 8-bit chip / BPTT (target <= 3) |', '|---|---|---|---|---|---|---|', ...out, ''];
}

/** "h20-copies-sweep" and its 32-copy rows: test MSE against the number of noisy copies, with the H = 20 references. */
function copiesSummary(recs: RunRec[]): string[] {
  const ref = references('adding', 20), ro = SEEDS.map((seed) => recs.find((r) => r.key === specKey(long20('adding', 0.03, { seed, readoutOnly: true })))?.test);
  if (!ref.reservoir || !ref.bptt || ro.some((x) => x === undefined)) return [];
  const out: string[] = [];
  for (const [copies, k] of [[1, 0.03], [8, 0.03], [8, 0.05], [8, 0.1], [16, 0.03], [16, 0.05], [16, 0.1], [32, 0.02], [32, 0.03], [32, 0.05], [64, 0.01], [64, 0.02], [64, 0.03]]) {
    const t = SEEDS.map((seed) => recs.find((r) => r.key === specKey(adamLike(copies, seed, k))));
    if (t.some((r) => !r)) continue;
    const ok = t.every((r) => r!.status === 'ok'), x = t.map((r) => r!.test);
    const share = ok ? (Math.log(geo(ref.reservoir)) - Math.log(geo(x))) / (Math.log(geo(ref.reservoir)) - Math.log(geo(ref.bptt))) : NaN;
    out.push(`| ${copies} | ${k}x | ${ok ? e(geo(t.map((r) => r!.val))) : '—'} | ${x.map(e).join(' / ')} | ${ok ? e(geo(x)) : '—'} | ${Number.isFinite(share) ? `${(100 * share).toFixed(0)} %` : '—'} | ${x.filter((v, i) => v < ro[i]!).length}/3 | ${Math.round(t.reduce((a, r) => a + r!.seconds, 0) / 3)} |`);
  }
  if (!out.length) return [];
  return ['### Noisy copies per sequence at H = 20 (adding; rms step, momentum 0.9, ridge readout, 20 epochs; test MSE 42 / 101 / 300)', '',
    `Readout-only ablation ${ro.map((v) => e(v!)).join(' / ')}; tuned reservoir ${ref.reservoir.map(e).join(' / ')}; full BPTT with Adam ${ref.bptt.map(e).join(' / ')} (docs/results/recurrence-h20.md).`, '',
    '| copies | rate (x the chosen) | validation (best epoch, geometric mean) | ANP-T + innovation trace, test | geometric mean | share of the log gap reservoir → BPTT closed (bar 50 %) | beats readout-only | s / run |', '|---|---|---|---|---|---|---|---|', ...out, ''];
}

/** The control of rotateReward: sequence b's trace gets the dL of sequence b + 1 (independent noise, so the mean step is 0). */
class RotatedRewardDevice extends SequenceRewardDevice {
  async rewardSequences(req: RewardRequest): Promise<void> {
    const dL = req.deltaLoss, B = this.batch, out = new Float64Array(dL.length);
    for (let k = 0; k < dL.length / B; k++) for (let b = 0; b < B; b++) out[k * B + b] = dL[k * B + ((b + 1) % B)];
    return super.rewardSequences({ ...req, deltaLoss: out });
  }
}

/** The rates as each weight's step: what the trainer's batch scale makes of them, to 12 digits (0.1536, not 0.15360000000000001). */
const weightRates = (lr: RunSpec['lr'], batch: number) => {
  const f = (x: number) => Number((x * anptBatchScale(batch)).toPrecision(12));
  return { w: f(lr.w), r: f(lr.r), v: f(lr.v) };
};

async function run(s: RunSpec): Promise<RunRec> {
  if ((s.refitCounted && !s.refitEvery) || (s.weightRates && s.seq?.rms === undefined)) throw new Error('refitCounted needs refitEvery, weightRates needs seq.rms');
  if (s.cycles && (!Number.isInteger(s.epochs / s.cycles) || (s.refitEvery && !s.refitCounted) || s.wCap || s.rollback)) throw new Error('cycles must divide epochs, takes no rollback, and needs refitCounted with refitEvery (this script counts its own refits and W caps over one trainAnpt call)');
  const started = performance.now();
  const M = s.copies ?? 1;
  const t0 = makeTask(s.task, { batch: BATCH, seed: s.seed }), v0 = makeTask(s.task, { batch: BATCH, seed: s.seed + VALIDATION_SEED_OFFSET });
  const t = { ...t0, train: replicateSequences(t0.train, M), test: replicateSequences(t0.test, M) }, val = { ...v0, test: replicateSequences(v0.test, M) };
  const shape: RnnShape = { inputs: t.inputSize, hidden: s.hidden ?? H, outputs: t.outputSize, activation: 'tanh' };
  if (s.antithetic && M !== 2) throw new Error('antithetic needs copies: 2');
  if (s.rotateReward && (!s.seq || s.antithetic)) throw new Error('rotateReward needs seq and no antithetic');
  if (s.chip && (s.seq || s.antithetic || s.rotateReward)) throw new Error('the chip takes one batch-mean dL per step: no seq, antithetic or rotateReward');
  const dev = s.chip ? new EmulatorDevice({ threads: 1 }) : s.antithetic ? new AntitheticSequenceRewardDevice(s.seq) : s.rotateReward ? new RotatedRewardDevice(s.seq) : s.seq ? new SequenceRewardDevice(s.seq) : new FloatDevice();
  const learner: LearnerConfig | undefined = s.trace === 'none' ? undefined : { trace: s.trace, decay: s.decay };
  const formats = s.chip ? { formats: defaultChipFormats({ weightBits: s.chip }) } : {};
  await dev.configure({ topology: { ...shape, batch: BATCH * M }, noise: { hiddenSigma: s.sigma, outputSigma: s.outputSigma ?? s.sigma }, seed: s.seed, maxChunkSteps: 1000, learner, ...formats });
  await dev.writeParams(xavierNormal(shape, s.seed));
  let note = '';
  if (s.init === 'tuned') {
    const r = await tuneReservoir(dev, t.train);
    note = `init radius ${r.radius}, gain ${r.gain}`;
  }
  if (s.readout === 'ridge') await fitRidgeReadout(dev, t.train); // trainAnpt fits the same V first: 'start' is what it starts from
  const initVal = (await evaluate(dev, val.test)).mse;
  // the bound on W (wCap): the host reads W every W_CAP_EVERY steps and scales it back to the bound
  const wMax = (s.wCap ?? 0) * Math.sqrt(xavierNormal(shape, s.seed).w.reduce((a, b) => a + b * b, 0));
  let nextCap = W_CAP_EVERY, rescales = 0;
  const capW = async (at: { stepsDone: number }) => {
    if (!(wMax > 0) || at.stepsDone < nextCap) return;
    nextCap = at.stepsDone + W_CAP_EVERY;
    const p = await dev.readParams();
    const n = frob(p.w);
    if (n <= wMax) return;
    for (let q = 0; q < p.w.length; q++) p.w[q] *= wMax / n;
    await dev.writeParams(p);
    rescales++;
  };
  let nextRefit = s.refitCounted ? Infinity : s.refitEvery ?? Infinity;
  const refit = async (at: { stepsDone: number }) => {
    if (at.stepsDone < nextRefit) return;
    nextRefit = at.stepsDone + s.refitEvery!;
    const st = await dev.readState(), tr = dev instanceof SequenceRewardDevice ? dev.readSequenceTraces() : undefined;
    await fitRidgeReadout(dev, t.train); // evaluates from a zero state: put the state and traces back
    await dev.writeState(st);
    if (tr && dev instanceof SequenceRewardDevice) dev.writeSequenceTraces(tr);
  };
  const snapshots: Awaited<ReturnType<typeof dev.readParams>>[] = [];
  // average: the running mean of W and R, and per epoch its validation MSE and weights (V solved for it)
  let avg: { w: Float64Array; r: Float64Array; weight: number } | undefined;
  const avgSnapshots: typeof snapshots = [], avgVal: number[] = [];
  const average = async (at: { stepsDone: number }) => {
    if (s.average === undefined || at.stepsDone % AVERAGE_EVERY !== 0) return;
    const p = await dev.readParams(), d = s.average;
    avg ??= { w: new Float64Array(p.w.length), r: new Float64Array(p.r.length), weight: 1 };
    for (let q = 0; q < p.w.length; q++) avg.w[q] = d * avg.w[q] + (1 - d) * p.w[q];
    for (let q = 0; q < p.r.length; q++) avg.r[q] = d * avg.r[q] + (1 - d) * p.r[q];
    avg.weight *= d;
  };
  const scoreAverage = async () => {
    if (!avg) return;
    const cur = await dev.readParams(), c = 1 - avg.weight;
    await dev.writeParams({ ...cur, w: avg.w.map((x) => x / c), r: avg.r.map((x) => x / c) });
    await fitRidgeReadout(dev, t.train);
    avgVal.push((await evaluate(dev, val.test)).mse);
    avgSnapshots.push(await dev.readParams());
    await dev.writeParams(cur); // training goes on from its own weights
  };
  // epochCos: the epoch's net change of W and R against the exact gradient at its start (the un-replicated train set)
  const epochCosines: { w: number; r: number }[] = [];
  let before = s.epochCos ? await dev.readParams() : undefined;
  const options: AnptOptions = {
    afterEpoch: async () => {
      await scoreAverage();
      if (s.keepBest) snapshots.push(await dev.readParams()); // after the epoch's ridge refit: what its validation MSE measures
      if (before) {
        const after = await dev.readParams(), tr0 = t0.train;
        const g = lossAndGradient(shape, before, BATCH, tr0.inputs, tr0.targets, tr0.steps, { window: tr0.steps / 100 }).grad;
        const down = (a: Float64Array, b: Float64Array, gr: Float64Array) => cosine(a.map((x, i) => x - b[i]), gr.map((x) => -x));
        epochCosines.push({ w: down(after.w, before.w, g.w), r: down(after.r, before.r, g.r) });
        before = after;
      }
      return undefined;
    },
    afterChunk: async (at) => { await capW(at); await refit(at); await average(at); },
    ...(s.rollback ? { rollback: { validation: val.test, factor: s.rollback } } : {}), // (before afterEpoch: the snapshots are of what training goes on from)
    ...(s.refitCounted ? { ridgeEverySteps: s.refitEvery } : {}),
    ...(s.weightRates ? { lr: weightRates(s.lr, BATCH * M), lrBatchScale: 'none' as const } : { lr: s.lr, lrBatchScale: 'anpt' as const }), // (the batch-scaled rates these runs were recorded with, rms or not)
    epochs: s.epochs, chunkSteps: 1, schedule: { kind: s.constant ? 'constant' : 'cosine' }, readoutOnly: s.readoutOnly, readout: s.readout,
    spectral: { cap: s.cap ?? CAP, everySteps: s.capEvery ?? 100 }, test: val.test, reward: s.seq ? 'sequence' : 'batch', evaluateEvery: 1, normalise: s.normalise ? { target: s.normalise } : s.normaliseWarmup ? {} : undefined,
  };
  // cycles: warm restarts, one cosine decay per cycle (the noise stream goes on across them)
  const cycles = s.cycles ?? 1;
  let res = await trainAnpt(dev, t.train, { ...options, epochs: s.epochs / cycles });
  const cycleEpochs = [...res.epochs];
  for (let c = 1; c < cycles && res.status === 'ok'; c++) {
    res = await trainAnpt(dev, t.train, { ...options, epochs: s.epochs / cycles, t0: res.nextT0 });
    cycleEpochs.push(...res.epochs);
  }
  res = { ...res, epochs: cycleEpochs };
  let valByEpoch = res.epochs.map((e) => e.testMse ?? NaN);
  let kept = false;
  const averaged = s.average !== undefined && avgVal.length > 0;
  if (averaged) {
    note += `${note ? '; ' : ''}last weights: val ${valByEpoch.map((v) => v.toExponential(2)).join(' ')}`;
    valByEpoch = avgVal;
  }
  const scored = averaged ? avgSnapshots : snapshots;
  if (s.keepBest && scored.length) {
    // early stopping on validation: also after a divergence, the best finished epoch
    const best = valByEpoch.reduce((b, v, i) => (v < valByEpoch[b] ? i : b), 0);
    await dev.writeParams(scored[best]);
    note += `${note ? '; ' : ''}best epoch ${best + 1}`;
    kept = true;
  } else if (averaged) await dev.writeParams(avgSnapshots.at(-1)!);
  const ok = res.status === 'ok' || kept;
  const test = ok ? (await evaluate(dev, t.test)).mse : NaN;
  const p = await dev.readParams(), p0 = xavierNormal(shape, s.seed);
  if (wMax > 0) note += `${note ? '; ' : ''}W rescaled ${rescales} times`;
  if (s.rollback) note += `${note ? '; ' : ''}rolled back ${res.rollback?.rollbacks ?? 0} times`;
  note += `${note ? '; ' : ''}end |W| ${frob(p.w).toFixed(2)} (Xavier ${frob(p0.w).toFixed(2)}), rho(R) ${spectralRadius(p.r, shape.hidden).toFixed(2)}`;
  return {
    ...s, ...(s.epochCos ? { epochCosines } : {}), key: specKey(s), status: ok && Number.isFinite(test) ? 'ok' : 'diverged', valByEpoch, val: ok ? (s.keepBest ? Math.min(...valByEpoch) : valByEpoch.at(-1)!) : NaN, test, testNrmse: nrmse(test, t.test),
    zeroTest: zeroOutputMse(t.test), initVal, note: note + (ok ? '' : (note ? '; ' : '') + (res.message ?? '')), seconds: (performance.now() - started) / 1000,
  };
}

/**
 * --dl-rms: the rms dL over the first 200 steps of seed 42 from Xavier weights with the
 * Xavier readout, the ridge readout on them, and the tuned reservoir (the DL_RMS figure).
 */
async function dlRms(): Promise<void> {
  for (const task of TASKS) {
    const t = makeTask(task, { batch: BATCH, seed: TUNE_SEED });
    const shape: RnnShape = { inputs: t.inputSize, hidden: H, outputs: t.outputSize, activation: 'tanh' };
    for (const mode of ['xavier', 'ridge', 'tuned'] as const) {
      const dev = new FloatDevice();
      await dev.configure({ topology: { ...shape, batch: BATCH }, noise: { hiddenSigma: SIGMA, outputSigma: SIGMA }, seed: TUNE_SEED, maxChunkSteps: 1000 });
      await dev.writeParams(xavierNormal(shape, TUNE_SEED));
      if (mode === 'ridge') await fitRidgeReadout(dev, t.train);
      if (mode === 'tuned') await tuneReservoir(dev, t.train);
      const v = (await dev.readParams()).v, K = 200, bo = BATCH * t.outputSize;
      const res = await dev.run({ steps: K, t0: 0, inputs: t.train.inputs.subarray(0, K * BATCH * t.inputSize), noisy: true });
      let sq = 0;
      for (let k = 0; k < K; k++) sq += (stepMse(res.noisy, k * bo, t.train.targets, k * bo, bo) - stepMse(res.clean, k * bo, t.train.targets, k * bo, bo)) ** 2;
      console.log(`${task} ${mode}: |V| ${frob(v).toFixed(2)}, rms dL ${Math.sqrt(sq / K).toExponential(2)}`);
    }
  }
}

/**
 * --even-odd: how much of dL is even in the noise (curvature, what antithetic pairs
 * cancel) against odd (the first-order term that carries the gradient): antithetic pairs
 * on the Xavier network with the ridge readout, seed 42, the first 1000 steps of each task;
 * dL_+ + dL_- is the even part (x2), dL_+ - dL_- the odd part (x2).
 */
async function evenOdd(): Promise<void> {
  for (const task of TASKS) {
    const t = makeTask(task, { batch: BATCH, seed: TUNE_SEED }), train = replicateSequences(t.train, 2);
    const shape: RnnShape = { inputs: t.inputSize, hidden: H, outputs: t.outputSize, activation: 'tanh' };
    for (const sigma of [SIGMA, SIGMA / 10]) {
      const dev = new AntitheticSequenceRewardDevice();
      await dev.configure({ topology: { ...shape, batch: 2 * BATCH }, noise: { hiddenSigma: sigma, outputSigma: 0 }, seed: TUNE_SEED, maxChunkSteps: 1000, learner: { trace: 'innovation', decay: 0.9 } });
      await dev.writeParams(xavierNormal(shape, TUNE_SEED));
      await fitRidgeReadout(dev, train);
      await dev.resetState(); // both copies from zero, as every training epoch starts
      const K = 1000, O = t.outputSize, res = await dev.run({ steps: K, t0: 0, inputs: train.inputs.subarray(0, K * 2 * BATCH * t.inputSize), noisy: true });
      let even = 0, odd = 0, mean = 0;
      for (let k = 0; k < K; k++)
        for (let b = 0; b < BATCH; b++) {
          const dl = (m: number) => { const q = (k * 2 * BATCH + 2 * b + m) * O; return stepMse(res.noisy, q, train.targets, q, O) - stepMse(res.clean, q, train.targets, q, O); };
          const p = dl(0), n = dl(1);
          even += (p + n) ** 2; odd += (p - n) ** 2; mean += (p + n) / 2;
        }
      console.log(`${task} sigma ${sigma}: rms of the even part ${Math.sqrt(even / 4 / (K * BATCH)).toExponential(2)}, odd part ${Math.sqrt(odd / 4 / (K * BATCH)).toExponential(2)}, mean dL ${(mean / (K * BATCH)).toExponential(2)}; even/odd energy ${(even / odd).toExponential(2)}`);
    }
  }
}

/**
 * --exact: the exact gradient (full BPTT, window = episode) in the settings the ANP-T runs
 * use, seed 42, 20 epochs, cosine over them: (1) Adam as in scripts/recurrence-tasks.ts,
 * with the |W| and rho(R) it ends at; (2) Adam with R rescaled to the spectral cap 0.95
 * before every epoch (the optimiser restarted per epoch, as in (3)), at H = 20 also with V
 * solved by ridge before every epoch (Adam on W and R only); (3) plain SGD on W, R
 * with V learned beside them, against V solved by ridge before every epoch and frozen in
 * between (the ANP-T runs' ridge readout, which the ridge fit after the last epoch also
 * scores); (4) onSchedule below, at three rates. H = 20 and H = 100.
 */
async function exact(): Promise<void> {
  const E = 20, cos = (e: number) => 0.5 * (1 + Math.cos((Math.PI * e) / E));
  for (const hidden of [20, 100])
    for (const task of TASKS) {
      const t = makeTask(task, { batch: BATCH, seed: TUNE_SEED }), L = t.train.steps / 100;
      const shape: RnnShape = { inputs: t.inputSize, hidden, outputs: t.outputSize, activation: 'tanh' };
      const adamLr = hidden === 20 ? 1e-2 : 3e-3; // chosen on validation by scripts/recurrence-tasks.ts [--hidden 20]
      const x0 = xavierNormal(shape, TUNE_SEED);
      const full = trainBptt(shape, x0, t.train, { epochs: E, lr: adamLr, window: L, optimizer: { kind: 'adam' }, schedule: { kind: 'cosine' }, test: t.test });
      console.log(`H ${hidden} ${task}: Adam lr ${adamLr}: test ${e(full.epochs.at(-1)!.testMse!)}, |W| ${frob(x0.w).toFixed(2)} -> ${frob(full.params.w).toFixed(2)}, rho(R) ${spectralRadius(x0.r, hidden).toFixed(2)} -> ${spectralRadius(full.params.r, hidden).toFixed(2)}`);
      const dev = new FloatDevice();
      await dev.configure({ topology: { ...shape, batch: BATCH }, noise: { hiddenSigma: SIGMA, outputSigma: 0 }, seed: TUNE_SEED, maxChunkSteps: 1000 });
      const perEpoch = async (opt: 'adam' | 'sgd', lr: number, o: { cap?: number; ridge?: boolean }) => {
        let p = xavierNormal(shape, TUNE_SEED);
        for (let ep = 0; ep < E; ep++) {
          if (o.cap) capSpectralRadius(p.r, hidden, o.cap);
          if (o.ridge) { await dev.writeParams(p); await fitRidgeReadout(dev, t.train); p = await dev.readParams(); }
          const k = lr * cos(ep);
          p = trainBptt(shape, p, t.train, { epochs: 1, lr: { w: k, r: k, v: o.ridge ? 0 : k }, window: L, optimizer: { kind: opt } }).params;
          if (![p.w, p.r, p.v].every((x) => x.every(Number.isFinite))) return `diverged in epoch ${ep + 1}`;
        }
        await dev.writeParams(p);
        if (o.ridge) await fitRidgeReadout(dev, t.train);
        return `test ${e((await evaluate(dev, t.test)).mse)}, rho(R) ${spectralRadius(p.r, hidden).toFixed(2)}`;
      };
      if (hidden === 20) for (const cap of [undefined, 0.95]) for (const ridge of [false, true]) console.log(`H ${hidden} ${task}: Adam lr ${adamLr} restarted per epoch${cap ? `, R capped to ${cap} before every epoch` : ''}${ridge ? ', V by ridge before every epoch (Adam on W and R)' : ''}: ${await perEpoch('adam', adamLr, { cap, ridge })}`);
      for (const lr of [0.1, 0.3]) for (const ridge of [false, true]) console.log(`H ${hidden} ${task}: SGD lr ${lr} on W and R, V ${ridge ? 'by ridge before every epoch' : 'learned'}: ${await perEpoch('sgd', lr, { ridge })}`);
      for (const lr of [adamLr, adamLr / 3, adamLr / 10]) console.log(`H ${hidden} ${task}: Adam lr ${lr} on W and R per episode, V by ridge every 100 steps, R capped to ${CAP} every 10 steps (the ANP-T runs' schedule): ${await onSchedule(dev, shape, t, lr, E)}`);
      for (const lr of [adamLr, adamLr / 3]) console.log(`H ${hidden} ${task}: Adam lr ${lr} on W, R and V per episode (V learned, no ridge), R capped to ${CAP} every 10 steps: ${await onSchedule(dev, shape, t, lr, E, true)}`);
      if (hidden === 100) for (const cap of [1.5, Infinity]) for (const lr of [adamLr, adamLr / 3]) console.log(`H ${hidden} ${task}: Adam lr ${lr} on W and R per episode, V by ridge every 100 steps, ${Number.isFinite(cap) ? `R capped to ${cap} every 10 steps` : 'R not capped'}: ${await onSchedule(dev, shape, t, lr, E, false, cap)}`);
    }
}

/**
 * --exact (4): Adam on the exact gradient of W and R (one step per episode window, one
 * cosine over the run) in the schedule of the ANP-T runs around it: V solved by ridge
 * every 100 steps (the state carried on), R rescaled to the cap every 10 steps; with
 * learnV, V learned by the same Adam instead (no ridge), the cap kept; at H = 100 also
 * with the cap at 1.5 or none (BPTT's own solutions end at rho(R) 1.23-1.33). A loop of
 * its own rather than trainBptt, which cannot stop between windows for a refit; the
 * optimiser is trainBptt's (one Adam across the refits).
 */
async function onSchedule(dev: FloatDevice, shape: RnnShape, t: ReturnType<typeof makeTask>, lr: number, epochs: number, learnV = false, cap = CAP): Promise<string> {
  const tr = t.train, L = tr.steps / 100, B = BATCH, { inputSize: I, outputSize: O } = tr;
  let p = xavierNormal(shape, TUNE_SEED);
  await dev.writeParams(p);
  if (!learnV) await fitRidgeReadout(dev, tr);
  p = await dev.readParams();
  const adam = new ParamsOptimizer({ kind: 'adam' }), total = epochs * tr.steps;
  let done = 0, lastCap = 0, lastRefit = 0;
  for (let ep = 0; ep < epochs; ep++) {
    let state: Float64Array = new Float64Array(B * shape.hidden);
    for (let s0 = 0; s0 < tr.steps; s0 += L) {
      const g = lossAndGradient(shape, p, B, tr.inputs, tr.targets, L, { initialState: state, inputOffset: s0 * B * I, targetOffset: s0 * B * O });
      state = g.finalState;
      const k = lr * scheduleFactor({ kind: 'cosine' }, done, total);
      adam.step(p, g.grad, { w: k, r: k, v: learnV ? k : 0 }); // V's moments move with rate 0: V stays the ridge fit
      done += L;
      if (![p.w, p.r, p.v].every((x) => x.every(Number.isFinite))) return `diverged in epoch ${ep + 1}`;
      if (Number.isFinite(cap) && done - lastCap >= 10) {
        lastCap = done;
        capSpectralRadius(p.r, shape.hidden, cap);
      }
      if (!learnV && done - lastRefit >= 100) {
        lastRefit = done;
        await dev.writeParams(p);
        await fitRidgeReadout(dev, tr);
        p = await dev.readParams();
      }
    }
  }
  await dev.writeParams(p);
  if (!learnV) await fitRidgeReadout(dev, tr);
  return `test ${e((await evaluate(dev, t.test)).mse)}, |W| ${frob(p.w).toFixed(2)}, rho(R) ${spectralRadius(p.r, shape.hidden).toFixed(2)}`;
}

function readRuns(): RunRec[] {
  if (!existsSync(RUNS)) return [];
  return readFileSync(RUNS, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l, (_k, v: unknown) => (v === null ? NaN : v)) as RunRec);
}

const e = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : 'div.');
const num = (x: number) => `${+x.toPrecision(3)}`;
const rates = (s: RunSpec) => (s.lr.w === s.lr.r && s.lr.r === s.lr.v ? num(s.lr.w) : `W ${num(s.lr.w)}, R ${num(s.lr.r)}, V ${num(s.lr.v)}`);
const variant = (s: RunSpec) => [variantName(s), ...(s.normalise ? [`dL rms ${s.normalise}`] : []), ...(s.seq ? [seqName(s.seq)] : []), ...(s.outputSigma !== undefined ? [`output sigma ${s.outputSigma}`] : []), ...(s.refitEvery ? [`ridge every ${s.refitEvery} steps${s.refitCounted ? ' (counted from the epoch fit, as anpt train)' : ''}`] : []), ...(s.weightRates ? ['rates as each weight step (as anpt train)'] : []), ...(s.constant ? ['constant rate'] : []), ...(s.average !== undefined ? [`scored on the average of W and R (decay ${s.average} per ${AVERAGE_EVERY} steps)`] : []), ...(s.cycles ? [`${s.cycles} cosine cycles (warm restarts)`] : []), ...(s.copies ? [`${s.copies} noisy copies${s.antithetic ? ' (antithetic)' : ''}`] : []), ...(s.rotateReward ? ['CONTROL: dL of the next sequence'] : []), ...(s.cap !== undefined || s.capEvery !== undefined ? [`rho(R) cap ${s.cap ?? CAP}${s.capEvery !== undefined ? ` every ${s.capEvery} steps` : ''}`] : []), ...(s.normaliseWarmup ? ['dL rms fixed at its first 100 steps'] : []), ...(s.keepBest ? ['best epoch on validation'] : []), ...(s.rollback ? [`back to the best epoch when validation is above ${s.rollback} x its best`] : []), ...(s.chip ? [s.chip === 16 ? 'chip 16-bit' : 'chip 8-bit weights, stochastic rounding'] : []), ...(s.hidden ? [`H ${s.hidden}`] : [])].join(', ');
const seqName = (q: NonNullable<RunSpec['seq']>) =>
  ['dL per sequence', ...(q.baseline !== undefined ? [`baseline ${q.baseline}`] : []), ...(q.rms !== undefined ? [`rms ${q.rms}`] : []), ...(q.anchor ? [`anchor ${q.anchor}`] : []), ...(q.rmsClip ? [`clip ${q.rmsClip}`] : []), ...(q.momentum !== undefined ? [`momentum ${q.momentum}`] : [])].join(', ');
const variantName = (s: RunSpec) => (s.trace === 'none' ? 'plain' : `${s.trace} ${s.decay}`);

function table(recs: RunRec[]): string {
  const out = ['## Training the recurrent weights with traces: diagnosis (issue 11)', '', 'Made by `nice -n 10 npx tsx scripts/recurrent-learning.ts --exp NAME` (runs in docs/results/recurrent-learning-runs.jsonl; settings in the script header). Validation MSE after each epoch; "start" = before the first ANP-T step (after the ridge fit with the ridge readout). Seed 42 unless the row says otherwise.', ''];
  for (const [name, x] of Object.entries(EXPERIMENTS)) {
    const rows = x.runs().map((s) => recs.find((r) => r.key === specKey(s))).filter((r): r is RunRec => !!r);
    if (!rows.length) continue;
    out.push(`### ${name}: ${x.title}`, '', '| task | seed | variant | lr | readout | init | sigma | epochs | start val | val per epoch | test MSE | test NRMSE | note |', '|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows)
      out.push(`| ${r.task} | ${r.seed} | ${r.readoutOnly ? `readout-only${r.hidden ? `, H ${r.hidden}` : ''}` : variant(r)} | ${rates(r)} | ${r.readout} | ${r.init} | ${r.sigma} | ${r.epochs} | ${e(r.initVal)} | ${r.valByEpoch.map(e).join(' ')} | ${e(r.test)} | ${Number.isFinite(r.testNrmse) ? r.testNrmse.toFixed(3) : '—'} | ${r.note}${r.epochCosines?.length ? `; cos(epoch change, −∇) W/R per epoch ${cosText(r.epochCosines)}` : ''} |`);
    out.push('');
  }
  out.push(...screenSummary(recs), ...finalSummary(recs), ...chipSummary(recs), ...copiesSummary(recs));
  return out.join('\n') + '\n';
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { exp: { type: 'string', multiple: true }, table: { type: 'boolean' }, 'dl-rms': { type: 'boolean' }, 'even-odd': { type: 'boolean' }, exact: { type: 'boolean' } } });
  if (values['dl-rms']) return dlRms();
  if (values.exact) return exact();
  if (values['even-odd']) return evenOdd();
  const recs = readRuns();
  for (const name of values.table ? [] : values.exp ?? []) {
    const x = EXPERIMENTS[name];
    if (!x) throw new Error(`--exp: "${name}" is not an experiment; use one of ${Object.keys(EXPERIMENTS).join(', ')}`);
    for (const s of x.runs()) {
      if (recs.some((r) => r.key === specKey(s))) continue;
      const r = await run(s);
      appendFileSync(RUNS, JSON.stringify(r) + '\n');
      recs.push(r);
      console.log(`${name} ${r.key}: start ${e(r.initVal)} val ${r.valByEpoch.map(e).join(' ')} test ${e(r.test)} (${r.seconds.toFixed(0)} s) ${r.note}${r.epochCosines ? `; epoch cos W/R ${cosText(r.epochCosines)}` : ''}`);
    }
  }
  writeFileSync(OUT, table(recs) + (existsSync(NOTES) ? '\n' + readFileSync(NOTES, 'utf8') : ''));
  console.log(`wrote ${OUT}`);
}

void SEEDS;
await main();

/**
 * The research options of `anpt train --algo anpt` (issue 11; what each does and what it
 * measured: docs/results/recurrent-learning-notes.md). All are off by default, so
 * `anpt train --algo anpt` is the rule the defaults name; together they are the setting
 * that trained W and R past the reservoir at H = 20 (README, "Training the recurrent
 * weights"):
 *
 *   --copies M          every sequence M times in the batch, each copy its own noise
 *   --output-sigma s    noise on the output layer (default --sigma; 0 with a ridge readout,
 *                       whose V the rule does not learn: that noise only adds variance)
 *   --ridge-every N     with --readout ridge: V solved every N steps as well as per epoch
 *   --spectral-every N  how often the spectral cap of R is checked (default 100 steps)
 *   --reward sequence   dL per step and sequence, a trace per sequence (float model only)
 *   --rms d, --rms-clip c, --momentum m
 *                       per-weight normalised step of the per-sequence estimate
 *                       (src/learn/sequence-reward.ts); with --rms, lr is the step of each
 *                       weight in weight units, the same at every batch size and copy count
 *   --rollback f        score a validation set (the task drawn with data seed + 7919) after
 *                       every epoch and go back to the best epoch's weights when one ends
 *                       above f x the best (src/learn/rollback.ts); the run ends on the best
 */
import { SPECTRAL_EVERY_STEPS, VALIDATION_SEED_OFFSET } from '../learn/defaults.js';
import { SequenceRewardDevice, type SequenceRewardOptions } from '../learn/sequence-reward.js';
import type { FloatThreads } from '../model/float-threads.js';
import type { Algo, Backend } from './defaults.js';
import { UsageError } from './errors.js';
import { choice, fraction, nonNegativeReal, positiveInt, positiveReal, refuse } from './options.js';
import { hasDataSeed, type TaskSpec } from './task-options.js';

export interface LearnerFlags {
  copies?: string;
  outputSigma?: string;
  ridgeEvery?: string;
  spectralEvery?: string;
  reward?: string;
  rms?: string;
  rmsClip?: string;
  momentum?: string;
  rollback?: string;
}

export interface LearnerExtras {
  /** Noisy copies of every sequence (1 = none). */
  copies: number;
  /** Output-layer noise std, real units (the hidden layer's is --sigma). */
  outputSigma: number;
  /** readout ridge: also solve V every this many steps; undefined = per epoch only. */
  ridgeEvery?: number;
  /** Steps between spectral-cap checks. */
  spectralEvery: number;
  reward: 'batch' | 'sequence';
  /** reward sequence: the step's options (rms, rmsClip, momentum). */
  sequence?: Pick<SequenceRewardOptions, 'rms' | 'rmsClip' | 'momentum'>;
  /** Go back to the best epoch on validation when an epoch ends above this factor x it; undefined = off. */
  rollback?: number;
}

export const REWARDS = ['batch', 'sequence'] as const;

const ANPT_ONLY = 'applies to --algo anpt only; remove it';

/** Check the research flags against the run they go with (exit 2 before any work). */
export function resolveLearnerExtras(
  f: LearnerFlags, run: { algo: Algo; backend: Backend; readout: 'device' | 'ridge'; sigma: number; spectralCap?: number; bias: boolean; task: TaskSpec },
): LearnerExtras {
  if (run.algo !== 'anpt')
    for (const [flag, raw] of [['--copies', f.copies], ['--output-sigma', f.outputSigma], ['--ridge-every', f.ridgeEvery], ['--reward', f.reward], ['--rms', f.rms], ['--rms-clip', f.rmsClip], ['--momentum', f.momentum], ['--rollback', f.rollback]] as const)
      refuse(flag, raw, ANPT_ONLY);
  if (!hasDataSeed(run.task))
    refuse('--rollback', f.rollback, `needs a task whose data a seed draws again for validation (adding, delayed-recall, mackey-glass, copy); --task ${run.task.name} has one fixed series; remove it`);
  const rollback = f.rollback === undefined ? undefined : positiveReal('--rollback', f.rollback, 1.05, '1.05');
  if (rollback !== undefined && !(rollback >= 1)) throw new UsageError(`--rollback: '${f.rollback}' is below 1; give the factor over the best validation MSE at which an epoch is undone, >= 1, e.g. 1.05`);
  if (run.algo === 'bptt' || run.algo === 'reservoir') refuse('--spectral-every', f.spectralEvery, `does not apply to --algo ${run.algo} (no spectral cap); remove it`);
  if (run.spectralCap === undefined) refuse('--spectral-every', f.spectralEvery, 'goes with a spectral cap, which is off in this run; add --spectral-cap 0.95 or remove it');
  if (run.readout !== 'ridge') refuse('--ridge-every', f.ridgeEvery, 'goes with --readout ridge (V solved on the host); add it or remove --ridge-every');
  const reward = choice('--reward', f.reward, REWARDS, 'batch');
  if (reward === 'sequence') {
    if (run.backend !== 'float') throw new UsageError(`--reward sequence: runs on the float model only (a chip takes one dL per step: docs/protocol.md); add --backend float, or use --reward batch`);
    if (run.bias) throw new UsageError('--reward sequence: does not go with --bias yet (the per-sequence rule has no bias update); remove one of them');
  } else
    for (const [flag, raw] of [['--rms', f.rms], ['--rms-clip', f.rmsClip], ['--momentum', f.momentum]] as const)
      refuse(flag, raw, 'goes with --reward sequence (the per-sequence estimate it normalises); add it or remove the flag');
  if (f.rms === undefined) refuse('--rms-clip', f.rmsClip, 'goes with --rms (it bounds the normalised step); add --rms 0.999 or remove it');
  const rms = f.rms === undefined ? undefined : fraction('--rms', f.rms, 0.999, '0.999');
  const rmsClip = f.rmsClip === undefined ? undefined : positiveReal('--rms-clip', f.rmsClip, 3, '3');
  const momentum = f.momentum === undefined ? undefined : fraction('--momentum', f.momentum, 0.9, '0.9');
  return {
    copies: positiveInt('--copies', f.copies, 1, '32'),
    outputSigma: run.algo === 'anpt' ? nonNegativeReal('--output-sigma', f.outputSigma, run.sigma, '0') : run.sigma,
    ridgeEvery: f.ridgeEvery === undefined ? undefined : positiveInt('--ridge-every', f.ridgeEvery, 100, '100'),
    spectralEvery: positiveInt('--spectral-every', f.spectralEvery, SPECTRAL_EVERY_STEPS, '10'),
    reward,
    ...(reward === 'sequence' ? { sequence: { ...(rms !== undefined ? { rms } : {}), ...(rmsClip !== undefined ? { rmsClip } : {}), ...(momentum !== undefined ? { momentum } : {}) } } : {}),
    ...(rollback !== undefined ? { rollback } : {}),
  };
}

/** The device of a --reward sequence run (float model). */
export function sequenceRewardDevice(x: LearnerExtras, threads: FloatThreads): SequenceRewardDevice {
  return new SequenceRewardDevice({ ...x.sequence, threads });
}

/**
 * NP and WP take their rates as gradient steps ('none'). For anpt the trainer decides: the
 * batch scale lr x (B/10)^2, except with --rms (SequenceRewardDevice.ratesPerWeight), where
 * the rate is each weight's step in weight units.
 */
export function lrBatchScaleOf(algo: Algo): 'none' | undefined {
  return algo === 'anpt' ? undefined : 'none';
}

/** commander declarations of the flags above. */
export const LEARNER_OPTION_HELP: [string, string][] = [
  ['--copies <M>', 'anpt: every sequence M times in the batch, each copy with its own noise and dL (M x the forward passes; default 1)'],
  ['--output-sigma <std>', 'anpt: noise std on the output layer, real units (default --sigma; 0 suits --readout ridge, where the rule does not learn V)'],
  ['--ridge-every <N>', 'anpt with --readout ridge: also solve V every N trained steps, keeping the recurrent state (default: after every epoch only)'],
  ['--spectral-every <N>', `steps between checks of --spectral-cap (default ${SPECTRAL_EVERY_STEPS})`],
  ['--reward <kind>', 'anpt: batch (one dL per step, the batch mean; default) | sequence (dL per step and sequence, a trace per sequence; --backend float)'],
  ['--rms <decay>', 'anpt with --reward sequence: divide each weight\'s estimate by its running rms (decay, e.g. 0.999); lr is then the step of a weight in weight units'],
  ['--rms-clip <c>', 'with --rms: bound the normalised step to +-c (e.g. 3)'],
  ['--momentum <decay>', 'anpt with --reward sequence: step along a running mean of the estimate (decay, e.g. 0.9)'],
  ['--rollback <factor>', `anpt: after every epoch score a validation set (the task drawn with data seed + ${VALIDATION_SEED_OFFSET}) and go back to the best epoch's weights when one ends above factor x the best (e.g. 1.05); the run ends on the best (default off)`],
];

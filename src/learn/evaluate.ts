/**
 * Evaluation of any Device on a whole SequenceSet with the clean copy only, and the
 * trivial reference every loss is compared with (the MSE of always answering 0).
 */
import type { Device } from '../device/types.js';
import { ConfigError } from '../format/fixed.js';
import { setMse, type SequenceSet, type Task } from '../tasks/types.js';

export interface Evaluation {
  /** MSE over all steps, sequences and outputs (target units squared). */
  mse: number;
  /** Clean outputs, T x B x O. */
  outputs: Float64Array;
  /** Clean hidden activity, T x B x H, when asked for. */
  hidden?: Float64Array;
  /** The task's extra scores, when a metrics function was given. */
  metrics?: Record<string, number>;
}

export interface EvaluateOptions {
  /** Also return the clean hidden activity. */
  hidden?: boolean;
  /** The task's extra scores (Task.metrics). */
  metrics?: Task['metrics'];
  /** Absolute step counter of the first step (uint32; clean runs draw no noise). Default 0. */
  t0?: number;
}

/** Check that a set's sizes fit each other. */
export function validateSet(set: SequenceSet, field = 'set'): void {
  const { steps: T, batch: B, inputSize: I, outputSize: O } = set;
  for (const [k, n] of [['steps', T], ['batch', B], ['inputSize', I], ['outputSize', O]] as const)
    if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${field}.${k}`, `${n} is out of range; allowed integers >= 1`);
  if (set.inputs.length !== T * B * I) throw new ConfigError(`${field}.inputs`, `length ${set.inputs.length}, expected steps x batch x inputSize = ${T * B * I}`);
  if (set.targets.length !== T * B * O) throw new ConfigError(`${field}.targets`, `length ${set.targets.length}, expected steps x batch x outputSize = ${T * B * O}`);
}

/**
 * Reset the state and run the whole set through the clean copy in chunks of the
 * device's maxChunkSteps. Leaves the device's state at the end of the set.
 */
export async function evaluate(device: Device, set: SequenceSet, opts: EvaluateOptions = {}): Promise<Evaluation> {
  validateSet(set);
  const { steps: T, batch: B, inputSize: I, outputSize: O } = set;
  const K = Math.min(T, (await device.info()).maxChunkSteps);
  await device.resetState();
  const outputs = new Float64Array(T * B * O);
  let hidden: Float64Array | undefined;
  const t0 = opts.t0 ?? 0;
  for (let s = 0; s < T; s += K) {
    const k = Math.min(K, T - s);
    const res = await device.run({ steps: k, t0: (t0 + s) >>> 0, inputs: set.inputs.subarray(s * B * I, (s + k) * B * I), noisy: false, hiddenTrace: opts.hidden });
    outputs.set(res.clean, s * B * O);
    if (opts.hidden && res.hidden) {
      hidden ??= new Float64Array(T * (res.hidden.length / k));
      hidden.set(res.hidden, s * (res.hidden.length / k));
    }
  }
  const mse = setMse(outputs, set);
  return { mse, outputs, hidden, metrics: opts.metrics?.(outputs, set) };
}

/** MSE of the all-zero output on a set (the mean squared target): the bar any learner must clear. */
export function zeroOutputMse(set: SequenceSet): number {
  let s = 0;
  for (const y of set.targets) s += y * y;
  return s / set.targets.length;
}

/**
 * Variance of a set's targets: the mean over steps, sequences and outputs of
 * (y* - mean of that output)^2, i.e. the MSE of the best constant answer per output.
 */
export function targetVariance(set: SequenceSet): number {
  const O = set.outputSize, rows = set.targets.length / O;
  const mean = new Float64Array(O);
  for (let k = 0; k < set.targets.length; k++) mean[k % O] += set.targets[k] / rows;
  let s = 0;
  for (let k = 0; k < set.targets.length; k++) s += (set.targets[k] - mean[k % O]) ** 2;
  return s / set.targets.length;
}

/**
 * Normalised root-mean-square error, sqrt(MSE / var(target)) on the (normalised)
 * targets of `set`: 0 is perfect, 1 is no better than the best constant answer (the
 * figure the reservoir-computing literature reports). NaN for constant targets.
 */
export function nrmse(mse: number, set: SequenceSet): number {
  const v = targetVariance(set);
  return v > 0 ? Math.sqrt(mse / v) : NaN;
}

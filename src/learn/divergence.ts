/**
 * When a run counts as diverged: a loss stopped being finite, or a loss (any epoch's
 * running train MSE or test MSE, or the final test MSE) exceeds DIVERGENCE_FACTOR times
 * the untrained loss (an epoch undone by rollback is judged by the network it went back
 * to: its train MSE is not checked). The untrained loss is the larger of the untrained network's test
 * MSE and the zero-output test MSE, so a lucky initialisation close to the targets
 * does not make an ordinary first epoch look like a divergence.
 *
 * Why 10: a learner is there to bring the loss below the untrained level. Healthy runs
 * of every learner here end at 0.02-0.6 x the zero-output MSE (docs/results.md,
 * docs/emulator.md) and their first epoch stays below the untrained level; a run ten
 * times worse than where it started has moved the weights far away from anything
 * useful (`--lr 1000` ends at 441 x the zero-output MSE on the emulator, 1e4 was the
 * old bound and let that pass as ok). Between 1x and 10x a run is bad but reported as
 * what it is (its ratio to the zero-output MSE), not as diverged.
 */
export const DIVERGENCE_FACTOR = 10;

/** The rule in one clause, for --help and messages. */
export const DIVERGENCE_RULE = `a loss became non-finite or exceeded ${DIVERGENCE_FACTOR} x the untrained loss (the larger of the untrained network's and the zero-output test MSE)`;

export interface LossRecord {
  epoch: number;
  trainMse: number;
  testMse?: number;
  /** rollback: the epoch was undone (its train MSE is of a network that was thrown away). */
  rolledBack?: boolean;
}

/** The reference the factor multiplies: max(untrained test MSE, zero-output test MSE). */
export function untrainedReference(untrainedTest: number, zeroTest: number): number {
  return Math.max(Number.isFinite(untrainedTest) ? untrainedTest : 0, zeroTest);
}

/** Why the run diverged (one clause), or undefined when it did not. */
export function divergence(epochs: LossRecord[], finalTest: number | undefined, untrainedTest: number, zeroTest: number): string | undefined {
  const ref = untrainedReference(untrainedTest, zeroTest);
  const limit = DIVERGENCE_FACTOR * ref;
  const check = (what: string, v: number | undefined): string | undefined => {
    if (v === undefined) return undefined;
    if (!Number.isFinite(v)) return `${what} is ${v}, not finite`;
    if (v > limit) return `${what} ${v.toExponential(3)} exceeds ${DIVERGENCE_FACTOR} x the untrained loss ${ref.toExponential(3)}`;
    return undefined;
  };
  for (const e of epochs) {
    const why = (e.rolledBack ? undefined : check(`epoch ${e.epoch + 1}: train MSE`, e.trainMse)) ?? check(`epoch ${e.epoch + 1}: test MSE`, e.testMse);
    if (why) return why;
  }
  return check('the final test MSE', finalTest);
}

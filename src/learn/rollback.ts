/**
 * Rollback on validation (trainAnpt option `rollback`, research option of issue 11): after
 * every epoch (its ridge fit done) the network is scored on a validation set; when the
 * score is above `factor` x the best so far, the device's parameters go back to the best
 * epoch's and training goes on from there. The schedule, the noise stream, the traces and
 * any step moments go on; only W, R, V (and the biases) are restored. An epoch that hits
 * the trainer's divergence bound is undone the same way at that step (the rest of the
 * epoch skipped, its steps counted) instead of ending the run. At the end the device is
 * left holding the best network on validation.
 *
 * Why: with many noisy copies the rule's large early steps find better networks and lose
 * them again (docs/results/recurrent-learning-notes.md, eighth reading: at 1.05 the 32-copy
 * setting at H = 20 closes 28 % of the log gap on 10 seeds instead of 18 %). At factor 1
 * any worse epoch is undone, which on some seeds keeps the run from the worse stretch it
 * needs to pass through.
 *
 * The best network is part of TrainPosition (plain number arrays, so that it survives
 * JSON), so a resumed run rolls back to the same network as an uninterrupted one.
 */
import type { Device, Params } from '../device/types.js';
import { ConfigError } from '../format/fixed.js';
import type { SequenceSet } from '../tasks/index.js';
import { evaluate, validateSet } from './evaluate.js';

export interface RollbackOptions {
  /** Held-out sequences (never the test set), scored after every epoch. */
  validation: SequenceSet;
  /** Go back when an epoch's validation MSE is above factor x the best (>= 1; 1 = at any loss). */
  factor: number;
}

/** The best network so far, as TrainPosition keeps it (JSON-safe). */
export interface RollbackPosition {
  mse: number;
  /** The epoch it was reached in (0-based; -1 = the start). */
  epoch: number;
  rollbacks: number;
  params: { [K in keyof Params]?: number[] };
}

/** What TrainResult reports. */
export interface RollbackSummary {
  /** Epoch of the best validation MSE (0-based; -1 = the start), the network the device holds at the end. */
  bestEpoch: number;
  bestValidationMse: number;
  /** How many epochs were undone. */
  rollbacks: number;
}

export function checkRollback(o: RollbackOptions, train: SequenceSet): void {
  if (!(o.factor >= 1 && Number.isFinite(o.factor))) throw new ConfigError('rollback.factor', `${o.factor} is out of range; allowed finite values >= 1 (1.05: go back when an epoch ends 5 % above the best)`);
  const v = o.validation;
  if (!v) throw new ConfigError('rollback.validation', 'missing: give held-out sequences of the train set\'s shape');
  validateSet(v, 'rollback.validation');
  if (v.batch !== train.batch || v.inputSize !== train.inputSize || v.outputSize !== train.outputSize)
    throw new ConfigError('rollback.validation', `needs the train set's batch, inputs and outputs (${train.batch}, ${train.inputSize}, ${train.outputSize}); got ${v.batch}, ${v.inputSize}, ${v.outputSize}`);
}

const toArrays = (p: Params): RollbackPosition['params'] =>
  Object.fromEntries(Object.entries(p).filter(([, x]) => x !== undefined).map(([k, x]) => [k, Array.from(x as Float64Array)]));
const toParams = (a: RollbackPosition['params']): Params =>
  Object.fromEntries(Object.entries(a).map(([k, x]) => [k, Float64Array.from(x!)])) as unknown as Params;

export class Rollback {
  /** Never mutated, only replaced: position() hands it out without a copy (TrainPosition is built every chunk). */
  private best: Readonly<RollbackPosition>;

  private constructor(private readonly o: RollbackOptions, best: RollbackPosition) {
    this.best = best;
  }

  /** Score the start (after the first ridge fit) as the first candidate, or take a saved position's. */
  static async start(device: Device, o: RollbackOptions, saved?: RollbackPosition): Promise<Rollback> {
    if (saved) return new Rollback(o, structuredClone(saved));
    const mse = (await evaluate(device, o.validation)).mse;
    return new Rollback(o, { mse, epoch: -1, rollbacks: 0, params: toArrays(await device.readParams()) });
  }

  /** After an epoch: keep a better network, or go back to the best. */
  async afterEpoch(device: Device, epoch: number): Promise<{ validationMse: number; rolledBack: boolean }> {
    const mse = (await evaluate(device, this.o.validation)).mse;
    if (mse < this.best.mse) {
      this.best = { ...this.best, mse, epoch, params: toArrays(await device.readParams()) };
      return { validationMse: mse, rolledBack: false };
    }
    if (mse <= this.o.factor * this.best.mse) return { validationMse: mse, rolledBack: false };
    return this.goBack(device, mse);
  }

  /** An epoch that hit the divergence bound: back to the best network (the validation MSE of the one left behind is recorded). */
  async undo(device: Device): Promise<{ validationMse: number; rolledBack: true }> {
    const mse = (await evaluate(device, this.o.validation)).mse; // (a clean run: it also drops the chunk left unrewarded)
    return this.goBack(device, mse);
  }

  private async goBack(device: Device, mse: number): Promise<{ validationMse: number; rolledBack: true }> {
    await device.writeParams(toParams(this.best.params));
    this.best = { ...this.best, rollbacks: this.best.rollbacks + 1 };
    return { validationMse: mse, rolledBack: true };
  }

  /** At the end: leave the best network on the device (written again when it holds it already). */
  async finish(device: Device): Promise<RollbackSummary> {
    await device.writeParams(toParams(this.best.params));
    return { bestEpoch: this.best.epoch, bestValidationMse: this.best.mse, rollbacks: this.best.rollbacks };
  }

  /** The best network for TrainPosition: the object itself (read-only; replaced, never changed). */
  position(): Readonly<RollbackPosition> {
    return this.best;
  }
}

/**
 * Antithetic node noise for the per-sequence reward (research option of issue 11, float
 * model only, docs/results/recurrent-learning.md "antithetic"): the batch holds each
 * sequence twice side by side (b = 2j and 2j + 1, the same inputs and targets), and the
 * second copy gets the negated noise of the first (-xi where the first has +xi). With a
 * trace and a dL per sequence, the pair's two terms of the update add to about
 * (L(+xi) - L(-xi)) e(+xi): the clean copy's loss cancels, and so do the even-order terms
 * of dL in xi (the curvature xi^T H xi / 2, whose mean is not 0 and whose spread is pure
 * noise to the estimate); e(-xi) = -e(+xi) holds to first order in sigma.
 *
 * Why a subclass: FloatDevice's WASM kernel draws the noise itself; a device that replaces
 * drawNoise runs on FloatDevice's JS path (slower, the same semantics).
 */
import type { DeviceConfig } from '../device/types.js';
import { ConfigError } from '../format/fixed.js';
import { SequenceRewardDevice } from './sequence-reward.js';

export class AntitheticSequenceRewardDevice extends SequenceRewardDevice {
  async configure(config: DeviceConfig): Promise<void> {
    if (config.topology.batch % 2 !== 0) throw new ConfigError('topology.batch', `${config.topology.batch} is odd; antithetic noise needs each sequence twice side by side (an even batch)`);
    await super.configure(config);
  }

  /** FloatDevice's draw for the even sequences; each odd one gets its even neighbour's noise negated. */
  protected drawNoise(t: number, hidden: Float64Array, output: Float64Array): void {
    super.drawNoise(t, hidden, output);
    const { hidden: H, outputs: O } = this.shape;
    for (let b = 1; b < this.batch; b += 2) {
      for (let i = 0; i < H; i++) hidden[b * H + i] = -hidden[(b - 1) * H + i];
      for (let o = 0; o < O; o++) output[b * O + o] = -output[(b - 1) * O + o];
    }
  }
}

/**
 * The NP baseline (node perturbation, method.md): the same clean and noisy copies as
 * ANP-T, but the update uses the injected noise itself instead of the measured
 * activity difference:
 *
 *   dW = -lrW (dL/sigma_h) (1/B) sum_b xi_b u_b^T       (xi: hidden noise, B x H)
 *   dR = -lrR (dL/sigma_h) (1/B) sum_b xi_b r̂_{b,t-1}^T
 *   dV = -lrV (dL/sigma_o) (1/B) sum_b zeta_b r̂_{b,t}^T (zeta: output noise, B x O)
 *
 * dL is the batch-mean loss difference; the 1/B matches the ANP-T rule so the two
 * compare at equal step sizes. A layer whose sigma is 0 is not updated.
 *
 * A chip cannot give the host its noise, so this lives on the float model only. It is
 * written as a FloatDevice whose rule differs: the forward pass, chunk bookkeeping
 * and the host loop (trainAnpt, online or two-pass) are shared with ANP-T, so the
 * comparison differs only in the rule. The noise is not stored: it is a pure function
 * of (seed, b, t), so the update draws it again.
 */
import type { DeviceConfig, LearningRates } from '../device/types.js';
import { FloatDevice, type FloatDeviceOptions } from '../model/float-device.js';
import { addBatchOuter } from '../model/rnn.js';

/** The float model with node perturbation: the ANP-T forward pass, the NP update (see the file comment). */
export class NpFloatDevice extends FloatDevice {
  private xi!: Float64Array;
  private zeta!: Float64Array;

  constructor(opts: FloatDeviceOptions = {}) {
    super({ name: 'anpt-float NP (node perturbation, injected noise)', ...opts });
  }

  /** As FloatDevice.configure, plus buffers for the redrawn noise. */
  override async configure(config: DeviceConfig): Promise<void> {
    await super.configure(config);
    this.xi = new Float64Array(this.batch * this.shape.hidden);
    this.zeta = new Float64Array(this.batch * this.shape.outputs);
  }

  /** The NP update of step k (absolute step t). */
  protected override applyStep(k: number, t: number, dL: number, lr: LearningRates): void {
    const cfg = this.need();
    const { inputs: I, hidden: H, outputs: O } = this.shape;
    const B = this.batch, bh = B * H, tr = this.trace;
    this.drawNoise(t, this.xi, this.zeta);
    const sh = cfg.noise.hiddenSigma, so = cfg.noise.outputSigma;
    if (sh > 0) {
      addBatchOuter(this.params.w, H, I, (-lr.w * dL) / (sh * B), B, this.xi, 0, tr.inputs, k * B * I);
      addBatchOuter(this.params.r, H, H, (-lr.r * dL) / (sh * B), B, this.xi, 0, tr.states, k * bh);
    }
    if (so > 0) addBatchOuter(this.params.v, O, H, (-lr.v * dL) / (so * B), B, this.zeta, 0, tr.states, (k + 1) * bh);
  }
}

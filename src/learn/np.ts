/**
 * The NP baseline (node perturbation, method.md): the same clean and noisy copies as
 * ANP-T, but the update uses the injected noise itself instead of the measured
 * activity difference. Two scalings of the same direction (scale option):
 *
 * 'unbiased' (default): the unbiased estimator of the window-1 gradient of the
 * batch-mean step loss, so `lr` means a gradient step as it does for BPTT:
 *
 *   dW = -lrW (dL/sigma_h^2) sum_b xi_b u_b^T          (xi: hidden noise, B x H)
 *   dR = -lrR (dL/sigma_h^2) sum_b xi_b r̂_{b,t-1}^T
 *   dV = -lrV (dL/sigma_o^2) sum_b zeta_b r̂_{b,t}^T    (zeta: output noise, B x O)
 *
 *   (to first order dL = sum_b g_b . xi_b + ..., with g_b = dL/da_b, and
 *   E[dL xi_b] = sigma^2 g_b, so E[dW] = -lrW dL/dW exactly.)
 *
 * 'reference': the reference code's convention, dL/sigma instead of dL/sigma^2 and a
 * further 1/B (to match the ANP-T rule's 1/B):
 *
 *   dW = -lrW (dL/sigma_h) (1/B) sum_b xi_b u_b^T,  and so on,
 *
 * i.e. sigma / B times the 'unbiased' step at the same lr (1e-4 x at sigma 1e-3,
 * B 10): at a gradient-sized lr it barely moves, which is much of why NP "learns
 * slowly" in the paper's comparison.
 *
 * dL is the batch-mean loss difference. A layer whose sigma is 0 is not updated.
 *
 * A chip cannot give the host its noise, so this lives on the float model only. It is
 * written as a FloatDevice whose rule differs: the forward pass, chunk bookkeeping
 * and the host loop (trainAnpt, online or two-pass) are shared with ANP-T, so the
 * comparison differs only in the rule. The noise is not stored: it is a pure function
 * of (seed, b, t), so the update draws it again.
 */
import type { DeviceConfig, LearningRates } from '../device/types.js';
import { ConfigError } from '../format/fixed.js';
import { FloatDevice, type FloatDeviceOptions } from '../model/float-device.js';
import { addBatchOuter } from '../model/rnn.js';

/** How NP and WP scale dL x perturbation (see np.ts and wp.ts). */
export type PerturbationScale = 'unbiased' | 'reference';

export interface PerturbationDeviceOptions extends FloatDeviceOptions {
  /** Default 'unbiased' (lr is a gradient step); 'reference' is the reference code's dL/sigma. */
  scale?: PerturbationScale;
}

/** Check a scale option; throws ConfigError naming the field. */
export function checkScale(scale: unknown): PerturbationScale {
  if (scale === undefined) return 'unbiased';
  if (scale !== 'unbiased' && scale !== 'reference') throw new ConfigError('scale', `"${String(scale)}" is not a scale; use unbiased or reference`);
  return scale;
}

/** The float model with node perturbation: the ANP-T forward pass, the NP update (see the file comment). */
export class NpFloatDevice extends FloatDevice {
  private xi!: Float64Array;
  private zeta!: Float64Array;
  readonly scale: PerturbationScale;

  constructor(opts: PerturbationDeviceOptions = {}) {
    const scale = checkScale(opts.scale);
    super({ name: `anpt-float NP (node perturbation, injected noise, ${scale} scale)`, ...opts });
    this.scale = scale;
  }

  /** As FloatDevice.configure, plus buffers for the redrawn noise. */
  override async configure(config: DeviceConfig): Promise<void> {
    await super.configure(config);
    this.xi = new Float64Array(this.batch * this.shape.hidden);
    this.zeta = new Float64Array(this.batch * this.shape.outputs);
  }

  /** The NP update of step k (absolute step t). */
  protected override update(k: number, t: number, dL: number, lr: LearningRates): void {
    const cfg = this.need();
    const { inputs: I, hidden: H, outputs: O } = this.shape;
    const B = this.batch, bh = B * H, tr = this.trace;
    this.drawNoise(t, this.xi, this.zeta);
    const sh = cfg.noise.hiddenSigma, so = cfg.noise.outputSigma;
    // divisor of dL: sigma^2 (unbiased) or sigma x B (reference)
    const div = (s: number) => (this.scale === 'unbiased' ? s * s : s * B);
    if (sh > 0) {
      addBatchOuter(this.params.w, H, I, (-lr.w * dL) / div(sh), B, this.xi, 0, tr.inputs, k * B * I);
      addBatchOuter(this.params.r, H, H, (-lr.r * dL) / div(sh), B, this.xi, 0, tr.states, k * bh);
      if (this.params.b) addBatchOuter(this.params.b, H, 1, (-lr.w * dL) / div(sh), B, this.xi, 0, this.ones, 0);
    }
    if (so > 0) {
      addBatchOuter(this.params.v, O, H, (-lr.v * dL) / div(so), B, this.zeta, 0, tr.states, (k + 1) * bh);
      if (this.params.c) addBatchOuter(this.params.c, O, 1, (-lr.v * dL) / div(so), B, this.zeta, 0, this.ones, 0);
    }
  }
}

/**
 * The WP baseline (weight perturbation, method.md): the noisy copy runs with every
 * weight perturbed, W + Xi_W(t) and so on, Xi ~ N(0, sigma^2) drawn afresh at every
 * step t and shared by the B sequences (they share the weights); no node noise. Update,
 * with the scale option of np.ts:
 *
 * 'unbiased' (default): dW = -lrW (dL/sigma_h^2) Xi_W(t), dR = -lrR (dL/sigma_h^2) Xi_R(t),
 *   dV = -lrV (dL/sigma_o^2) Xi_V(t): E[dL Xi] = sigma^2 dL/dW to first order, so the mean
 *   update is exactly a gradient step of the batch-mean step loss at rate lr;
 * 'reference' (the reference code): dL/sigma instead of dL/sigma^2, i.e. sigma times smaller.
 *
 * (sigma_h = noise.hiddenSigma perturbs W and R, sigma_o = noise.outputSigma perturbs V.)
 * Like NP it needs the perturbation itself, so it exists on the float model only, as
 * a FloatDevice with its own perturbation and rule (see np.ts for why). Xi(t) is a pure
 * function of (seed, t), drawn again by the update instead of stored.
 */
import type { DeviceConfig, LearningRates } from '../device/types.js';
import { FloatDevice } from '../model/float-device.js';
import { key, unitNormal, STREAM_WEIGHT_NOISE } from '../model/rng.js';
import type { RnnParams } from '../model/rnn.js';
import { checkScale, type PerturbationDeviceOptions, type PerturbationScale } from './np.js';

const LAYERS = ['w', 'r', 'v'] as const;

type Layers = { w: Float64Array; r: Float64Array; v: Float64Array };

/** The float model with weight perturbation: noisy copy with perturbed weights, the WP update (see the file comment). */
export class WpFloatDevice extends FloatDevice {
  private xi!: Layers;
  private perturbed!: RnnParams;
  /** The step whose Xi is in this.xi (-1: none); online training draws it once for the run and the update. */
  private xiStep = -1;
  readonly scale: PerturbationScale;

  constructor(opts: PerturbationDeviceOptions = {}) {
    const scale = checkScale(opts.scale);
    super({ name: `anpt-float WP (weight perturbation, ${scale} scale)`, ...opts });
    this.scale = scale;
  }

  /** As FloatDevice.configure, plus buffers for Xi and the perturbed weights. */
  override async configure(config: DeviceConfig): Promise<void> {
    await super.configure(config);
    const zeros = (): Layers => ({ w: new Float64Array(this.params.w.length), r: new Float64Array(this.params.r.length), v: new Float64Array(this.params.v.length) });
    this.xi = zeros();
    this.perturbed = zeros();
    this.xiStep = -1;
  }

  /** Xi(t) for every layer: unit normal draws times the layer's sigma. */
  private drawWeightNoise(t: number): Layers {
    const cfg = this.need();
    if (t === this.xiStep) return this.xi;
    this.xiStep = t;
    LAYERS.forEach((L, m) => {
      const sigma = L === 'v' ? cfg.noise.outputSigma : cfg.noise.hiddenSigma;
      const k = key(cfg.seed, STREAM_WEIGHT_NOISE, m, t);
      const a = this.xi[L];
      for (let q = 0; q < a.length; q++) a[q] = sigma === 0 ? 0 : sigma * unitNormal(k, q);
    });
    return this.xi;
  }

  /** No node noise: the perturbation is in the weights. */
  protected override drawNoise(_t: number, hidden: Float64Array, output: Float64Array): void {
    hidden.fill(0);
    output.fill(0);
  }

  /** W + Xi_W(t), R + Xi_R(t), V + Xi_V(t) (and D unchanged). */
  protected override noisyParams(t: number): RnnParams {
    const xi = this.drawWeightNoise(t), p = this.perturbed;
    for (const L of LAYERS) for (let q = 0; q < p[L].length; q++) p[L][q] = this.params[L][q] + xi[L][q];
    p.d = this.params.d;
    return p;
  }

  /** The WP update of step k (absolute step t). */
  protected override update(_k: number, t: number, dL: number, lr: LearningRates): void {
    const cfg = this.need();
    const xi = this.drawWeightNoise(t);
    for (const L of LAYERS) {
      const sigma = L === 'v' ? cfg.noise.outputSigma : cfg.noise.hiddenSigma;
      if (sigma === 0) continue;
      const c = (-lr[L] * dL) / (this.scale === 'unbiased' ? sigma * sigma : sigma);
      const p = this.params[L], x = xi[L];
      for (let q = 0; q < p.length; q++) p[q] += c * x[q];
    }
  }
}

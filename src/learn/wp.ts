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
 * With topology.bias the biases are perturbed too: b with sigma_h and rate lrW, c with
 * sigma_o and rate lrV (their own draws: matrices 3 and 4 of the stream).
 * Like NP it needs the perturbation itself, so it exists on the float model only, as
 * a FloatDevice with its own perturbation and rule (see np.ts for why). Xi(t) is a pure
 * function of (seed, t), drawn again by the update instead of stored.
 */
import type { DeviceConfig, LearningRates } from '../device/types.js';
import { FloatDevice } from '../model/float-device.js';
import { key, unitNormal, STREAM_WEIGHT_NOISE } from '../model/rng.js';
import type { RnnParams } from '../model/rnn.js';
import { checkScale, type PerturbationDeviceOptions, type PerturbationScale } from './np.js';

type Layer = 'w' | 'r' | 'v' | 'b' | 'c';
/** Every perturbed tensor: its stream matrix (the index), its sigma (output: V, c) and its rate. */
const LAYERS: readonly Layer[] = ['w', 'r', 'v', 'b', 'c'];
const OUTPUT_SIDE: Record<Layer, boolean> = { w: false, r: false, v: true, b: false, c: true };
const RATE: Record<Layer, keyof LearningRates> = { w: 'w', r: 'r', v: 'v', b: 'w', c: 'v' };

type Layers = Partial<Record<Layer, Float64Array>>;

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
    const zeros = (): Layers => {
      const out: Layers = {};
      for (const L of LAYERS) if (this.params[L]) out[L] = new Float64Array(this.params[L].length);
      return out;
    };
    this.xi = zeros();
    this.perturbed = zeros() as RnnParams;
    this.xiStep = -1;
  }

  /** Xi(t) for every layer: unit normal draws times the layer's sigma. */
  private drawWeightNoise(t: number): Layers {
    const cfg = this.need();
    if (t === this.xiStep) return this.xi;
    this.xiStep = t;
    LAYERS.forEach((L, m) => {
      const sigma = OUTPUT_SIDE[L] ? cfg.noise.outputSigma : cfg.noise.hiddenSigma;
      const k = key(cfg.seed, STREAM_WEIGHT_NOISE, m, t);
      const a = this.xi[L];
      if (!a) return;
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
    for (const L of LAYERS) {
      const to = p[L], from = this.params[L], x = xi[L];
      if (to && from && x) for (let q = 0; q < to.length; q++) to[q] = from[q] + x[q];
    }
    p.d = this.params.d;
    return p;
  }

  /** The WP update of step k (absolute step t). */
  protected override update(_k: number, t: number, dL: number, lr: LearningRates): void {
    const cfg = this.need();
    const xi = this.drawWeightNoise(t);
    for (const L of LAYERS) {
      const sigma = OUTPUT_SIDE[L] ? cfg.noise.outputSigma : cfg.noise.hiddenSigma;
      const p = this.params[L], x = xi[L];
      if (sigma === 0 || !p || !x) continue;
      const c = (-lr[RATE[L]] * dL) / (this.scale === 'unbiased' ? sigma * sigma : sigma);
      for (let q = 0; q < p.length; q++) p[q] += c * x[q];
    }
  }
}

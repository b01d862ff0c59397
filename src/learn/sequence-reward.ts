/**
 * ANP-T with one reward per sequence (float model only, research option of issue 11,
 * docs/results/recurrent-learning.md): the host sends dL_{k,b} = MSE_b(noisy) -
 * MSE_b(clean) for each step k and sequence b (B values per step instead of their
 * mean), and each sequence keeps its own eligibility trace, so a sequence's update is
 * credited only with its own loss change. Why: with the batch-mean dL every sequence's
 * trace is multiplied by the other B - 1 sequences' noise too; those cross terms have
 * mean 0 but carry the estimate's variance. Per sequence they are gone, the mean step is
 * the same and the signal-to-noise ratio of one step is about B times higher (B = 10;
 * measured in docs/results/traces.md: cosine 0.9 to the full gradient after about 400
 * draws instead of several thousand).
 *
 * The update of step k (c_{k,b} the credit signal of the device's trace, innovation or
 * activity, formed in run() exactly as by FloatDevice; ||c_k||^2 over the whole B x H
 * block as there, so a rate means the same step on average):
 *   e_{W,b} <- decay e_{W,b} + c_{k,b} u_{k,b}^T / ||c_k||^2    (e_{R,b} with r̂_{k-1,b})
 *   g_W = sum_b (dL_{k,b} - baseline) e_{W,b} / B
 *   dW  = -lrW sqrt(N) g_W / B          (FloatDevice's step: dL = mean_b dL_{k,b})
 * with the options below (all off by default, so the step is exactly that one):
 * - baseline: subtract an exponential running mean of dL (over steps and sequences) with
 *   this decay before the product (a centred reward: dL's mean, the loss curvature, only
 *   adds variance);
 * - rms: per-parameter normalisation of g (RMSprop without its sign: g / (sqrt(m) + eps),
 *   m an exponential mean of g^2 with this decay, bias-corrected); lr is then the step
 *   per parameter in weight units;
 *   rmsClip bounds g / (sqrt(m) + eps) to +-rmsClip (a step of g much larger than its
 *   running rms, e.g. after a readout refit, otherwise moves a weight by up to
 *   lr / sqrt(1 - rms));
 * - momentum: step along an exponential running mean of g per parameter (with this
 *   decay, bias-corrected) instead of g itself; with rms the ratio is m1 / rms(g), so the
 *   noise part of the step shrinks (about sqrt((1 - momentum) / (1 + momentum)) for
 *   independent draws) while its mean stays the same: averaging the estimate over about
 *   1 / (1 - momentum) steps before it moves the weights, as the split-half figures ask
 *   (500-1900 draws for a signal-to-noise ratio of 1, docs/results/recurrent-learning.md);
 * - anchor: after each step, W <- W - anchor (W - W_0), W_0 the input weights when
 *   training started (the first reward after a writeParams): a pull towards the initial
 *   input weights instead of a hard bound on ||W||.
 * V (readout): dV = -lrV sqrt(N) sum_b dL_{k,b} d_{k,b} r̂_{k,b}^T / (B^2 ||d_k||^2).
 *
 * The traces are B times FloatDevice's (B H (I + H) values) and are not part of
 * readState/writeState: an experiment option, not a chip feature. resetState and
 * configure zero them. A plain reward() (one dL per step) applies FloatDevice's update
 * (none of the options).
 */
import type { DeviceConfig, LearningRates, Params, RewardRequest } from '../device/types.js';
import type { SequenceRewardTarget } from './anpt.js';
import { ConfigError } from '../format/fixed.js';
import { FloatDevice, type FloatDeviceOptions } from '../model/float-device.js';
import { addBatchOuter, neuronCount } from '../model/rnn.js';
import { refuseBias } from '../device/config.js';

export interface SequenceRewardOptions extends FloatDeviceOptions {
  /** Decay of the running mean of dL subtracted from it, 0 <= x < 1; absent = no baseline. */
  baseline?: number;
  /** Decay of the per-parameter mean of g^2 (RMS normalisation), 0 <= x < 1; absent = off. */
  rms?: number;
  /** With rms: the normalised step g / rms(g) clipped to +-this (> 0), so one outlier step moves a weight by at most this x lr; absent = unclipped. */
  rmsClip?: number;
  /** Pull of W towards its starting value per step, 0 <= x <= 1 (1: W stays fixed); absent or 0 = off. */
  anchor?: number;
  /** Decay of the per-parameter running mean of g that the step follows, 0 <= x < 1; absent = the step follows g. */
  momentum?: number;
}

const RMS_EPS = 1e-12;

/** Per-parameter running means of one kind (g or g^2) and the weight of their zero start still in them (bias correction). */
interface Moments { w: Float64Array; r: Float64Array; v: Float64Array; weight: number }

function checkDecay(x: number | undefined, field: string, max = '< 1'): void {
  if (x !== undefined && !(x >= 0 && (max === '< 1' ? x < 1 : x <= 1))) throw new ConfigError(field, `${x} is out of range; allowed 0 <= ${field} ${max}`);
}

/** FloatDevice with per-sequence rewards and traces; see the file comment. */
export class SequenceRewardDevice extends FloatDevice implements SequenceRewardTarget {
  private readonly opts: SequenceRewardOptions;
  private ew: Float64Array[] = [];
  private er: Float64Array[] = [];
  /** dL of the chunk being rewarded, K x B (set by rewardSequences for update()). */
  private seqDl?: Float64Array;
  private base = 0;
  private baseWeight = 1;
  private m2?: Moments;
  private m1?: Moments;
  private w0?: Float64Array;

  constructor(opts: SequenceRewardOptions = {}) {
    checkDecay(opts.baseline, 'baseline');
    checkDecay(opts.rms, 'rms');
    checkDecay(opts.anchor, 'anchor', '<= 1');
    checkDecay(opts.momentum, 'momentum');
    if (opts.rmsClip !== undefined && !(opts.rmsClip > 0 && Number.isFinite(opts.rmsClip))) throw new ConfigError('rmsClip', `${opts.rmsClip} is out of range; allowed finite values > 0`);
    super({ name: 'anpt-float, per-sequence reward', ...opts });
    this.opts = { ...opts };
  }

  /** With rms, a rate is each weight's step: trainAnpt then applies no batch scale by default. */
  get ratesPerWeight(): boolean {
    return this.opts.rms !== undefined;
  }

  async configure(config: DeviceConfig): Promise<void> {
    refuseBias(config, 'per-sequence reward device');
    await super.configure(config);
    const { hidden: H, inputs: I } = this.shape;
    this.ew = Array.from({ length: this.batch }, () => new Float64Array(H * I));
    this.er = Array.from({ length: this.batch }, () => new Float64Array(H * H));
    this.resetLearner();
  }

  async writeParams(p: Params): Promise<void> {
    await super.writeParams(p);
    this.w0 = undefined; // the anchor is taken at the next reward
  }

  async resetState(): Promise<void> {
    await super.resetState();
    for (const e of [...this.ew, ...this.er]) e.fill(0);
  }

  /** Copies of the per-sequence traces (e_W then e_R of each sequence), e.g. to keep them over a host readout refit that resets the state. */
  readSequenceTraces(): Float64Array[] {
    return [...this.ew, ...this.er].map((e) => e.slice());
  }

  /** Restore what readSequenceTraces returned. */
  writeSequenceTraces(ts: Float64Array[]): void {
    const all = [...this.ew, ...this.er];
    if (ts.length !== all.length || ts.some((x, q) => x.length !== all[q].length)) throw new ConfigError('traces', `expected ${all.length} arrays as readSequenceTraces returns`);
    all.forEach((e, q) => e.set(ts[q]));
  }

  async rewardSequences(req: RewardRequest): Promise<void> {
    const B = this.batch, dL = req.deltaLoss;
    if (!(dL instanceof Float64Array) || dL.length % B !== 0)
      throw new ConfigError('deltaLoss', `length ${dL?.length ?? 'missing'}, expected steps x B (B = ${B}): one dL per step and sequence`);
    const K = dL.length / B, mean = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let b = 0; b < B; b++) s += dL[k * B + b];
      mean[k] = s / B;
    }
    this.seqDl = dL;
    try {
      await this.reward({ ...req, deltaLoss: mean }); // checks the chunk; update() reads seqDl
    } finally {
      this.seqDl = undefined;
    }
  }

  private resetLearner(): void {
    this.base = 0;
    this.baseWeight = 1;
    this.m2 = undefined;
    this.m1 = undefined;
    this.w0 = undefined;
  }

  protected update(k: number, t: number, dL: number, lr: LearningRates): void {
    if (!this.seqDl) return super.update(k, t, dL, lr);
    const { inputs: I, hidden: H, outputs: O } = this.shape;
    const B = this.batch, bh = B * H, bo = B * O, tr = this.trace, p = this.params;
    if (this.opts.anchor && !this.w0) this.w0 = p.w.slice();
    let sh = 0, so = 0;
    for (let q = 0; q < bh; q++) sh += tr.da[k * bh + q] ** 2;
    for (let q = 0; q < bo; q++) so += tr.dy[k * bo + q] ** 2;
    const r = this.rewards(k);
    const lam = this.learner.trace === 'none' ? 0 : this.learner.decay;
    const gw = new Float64Array(H * I), gr = new Float64Array(H * H), gv = new Float64Array(O * H);
    for (let b = 0; b < B; b++) {
      const ew = this.ew[b], er = this.er[b];
      for (let q = 0; q < ew.length; q++) ew[q] *= lam;
      for (let q = 0; q < er.length; q++) er[q] *= lam;
      if (sh > 0) {
        addBatchOuter(ew, H, I, 1 / sh, 1, tr.da, k * bh + b * H, tr.inputs, (k * B + b) * I);
        addBatchOuter(er, H, H, 1 / sh, 1, tr.da, k * bh + b * H, tr.states, k * bh + b * H);
      }
      const c = r[b] / B;
      for (let q = 0; q < ew.length; q++) gw[q] += c * ew[q];
      for (let q = 0; q < er.length; q++) gr[q] += c * er[q];
      if (so > 0) addBatchOuter(gv, O, H, c / so, 1, tr.dy, k * bo + b * O, tr.states, (k + 1) * bh + b * H);
    }
    const zeros = (): Moments => ({ w: new Float64Array(p.w.length), r: new Float64Array(p.r.length), v: new Float64Array(p.v.length), weight: 1 });
    if (this.opts.rms !== undefined) {
      this.m2 ??= zeros();
      this.m2.weight *= this.opts.rms; // the bias correction of the g^2 means, one per step
    }
    if (this.opts.momentum !== undefined) {
      this.m1 ??= zeros();
      this.m1.weight *= this.opts.momentum;
    }
    this.apply(p.w, gw, lr.w, 'w');
    this.apply(p.r, gr, lr.r, 'r');
    this.apply(p.v, gv, lr.v, 'v');
    if (this.w0) {
      const a = this.opts.anchor!;
      for (let q = 0; q < p.w.length; q++) p.w[q] -= a * (p.w[q] - this.w0[q]);
    }
  }

  /** Step k's dL per sequence, less the running baseline when it is on (updated after use). */
  private rewards(k: number): Float64Array {
    const B = this.batch, out = this.seqDl!.slice(k * B, (k + 1) * B);
    const d = this.opts.baseline;
    if (d === undefined) return out;
    const m = this.baseWeight < 1 ? this.base / (1 - this.baseWeight) : 0;
    let s = 0;
    for (let b = 0; b < B; b++) {
      s += out[b];
      out[b] -= m;
    }
    this.base = d * this.base + (1 - d) * (s / B);
    this.baseWeight *= d;
    return out;
  }

  /**
   * mat -= lr sqrt(N) s / B (FloatDevice's step), or with rms on mat -= lr s / (sqrt(m) + eps)
   * per parameter; s = g, or with momentum the bias-corrected running mean of g (m from g).
   */
  private apply(mat: Float64Array, g: Float64Array, lr: number, layer: 'w' | 'r' | 'v'): void {
    if (lr === 0) return;
    const d = this.opts.rms, mu = this.opts.momentum;
    const m1 = this.m1?.[layer], corr1 = 1 - (this.m1?.weight ?? 0);
    const step = (q: number) => {
      if (!m1) return g[q];
      m1[q] = mu! * m1[q] + (1 - mu!) * g[q];
      return m1[q] / corr1;
    };
    if (d === undefined) {
      const coef = (-lr * Math.sqrt(neuronCount(this.shape))) / this.batch;
      for (let q = 0; q < mat.length; q++) mat[q] += coef * step(q);
      return;
    }
    const m2 = this.m2![layer], corr = 1 - this.m2!.weight, c = this.opts.rmsClip ?? Infinity;
    for (let q = 0; q < mat.length; q++) {
      m2[q] = d * m2[q] + (1 - d) * g[q] * g[q];
      const x = step(q) / (Math.sqrt(m2[q] / corr) + RMS_EPS);
      mat[q] -= lr * (x > c ? c : x < -c ? -c : x);
    }
  }
}

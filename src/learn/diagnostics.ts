/**
 * Diagnostics of the ANP-T update (the spectral radius of R is in src/linalg/).
 *
 * gradientAlignment: the mean update of a rule over many noise draws at fixed weights
 * and state, through a FloatDevice (so it is the device's rule, not a re-derivation:
 * ANP-T by default, or the NP/WP devices), against the exact gradients of the same
 * chunk's loss, window-1 and full BPTT.
 */
import type { Device, LearnerConfig, Params } from '../device/types.js';
import { ConfigError } from '../format/fixed.js';
import { stepMse } from '../tasks/types.js';
import { FloatDevice } from '../model/float-device.js';
import type { RnnShape } from '../model/rnn.js';
import { cosine } from '../linalg/vector.js';
import { lossAndGradient } from './bptt.js';

export interface LayerCosines {
  w: number;
  r: number;
  v: number;
  /** Over W, R, V concatenated (dominated by the layer with the largest update). */
  all: number;
}

/** Cosines between an update and the descent direction -grad, per layer and overall. */
export function updateGradientCosines(update: Params, grad: Params): LayerCosines {
  const neg = (g: Float64Array) => g.map((x) => -x);
  const cat = (p: Params) => {
    const out = new Float64Array(p.w.length + p.r.length + p.v.length);
    out.set(p.w, 0);
    out.set(p.r, p.w.length);
    out.set(p.v, p.w.length + p.r.length);
    return out;
  };
  return { w: cosine(update.w, neg(grad.w)), r: cosine(update.r, neg(grad.r)), v: cosine(update.v, neg(grad.v)), all: cosine(cat(update), neg(cat(grad))) };
}

export interface AlignmentOptions {
  /** Noise draws to average (>= 1). */
  samples: number;
  /** Noise std on hidden pre-activations and outputs, real units. */
  hiddenSigma: number;
  outputSigma?: number;
  /** Noise seed (uint32), default 1. */
  seed?: number;
  /** An unconfigured FloatDevice (or NpFloatDevice, WpFloatDevice) whose rule to measure; default ANP-T. */
  device?: FloatDevice;
  /** The learner variant (eligibility trace) to measure; default plain ANP-T. Traces start at zero in every draw. */
  learner?: LearnerConfig;
}

export interface Alignment {
  /** Against the window-1 gradient (the state entering every step held constant). */
  window1: LayerCosines;
  /** Against the full BPTT gradient of the chunk. */
  full: LayerCosines;
  /** Mean ANP-T update over the draws at lr = 1 for every layer. */
  meanUpdate: Params;
  gradWindow1: Params;
  gradFull: Params;
}

/**
 * The mean change of the parameters of a configured device over `samples` noise draws
 * of one chunk of `steps` steps, each from `params` and both copies at `state`
 * (draw s starts at step t0 + s * steps, so each has new noise), rewarded with
 * dL = MSE(noisy) - MSE(clean) per step at step size `lr` for every layer. Also the
 * number of draws that changed no parameter at all (fixed-point updates that round to 0).
 */
export async function meanUpdate(
  dev: Device, params: Params, state: Float64Array, inputs: Float64Array, targets: Float64Array,
  steps: number, samples: number, o: { t0: number; lr: number },
): Promise<{ mean: Params; zeroUpdates: number }> {
  const bo = targets.length / steps;
  const mean: Params = { w: new Float64Array(params.w.length), r: new Float64Array(params.r.length), v: new Float64Array(params.v.length) };
  let zeroUpdates = 0;
  for (let s = 0; s < samples; s++) {
    await dev.writeParams(params);
    await dev.writeState({ clean: state, noisy: state });
    const t0 = o.t0 + s * steps;
    const res = await dev.run({ steps, t0, inputs, noisy: true });
    const dL = new Float64Array(steps);
    for (let k = 0; k < steps; k++) dL[k] = stepMse(res.noisy, k * bo, targets, k * bo, bo) - stepMse(res.clean, k * bo, targets, k * bo, bo);
    await dev.reward({ t0, deltaLoss: dL, lr: { w: o.lr, r: o.lr, v: o.lr } });
    const p = await dev.readParams();
    let moved = false;
    for (const L of ['w', 'r', 'v'] as const)
      for (let q = 0; q < p[L].length; q++) {
        const delta = p[L][q] - params[L][q];
        if (delta !== 0) moved = true;
        mean[L][q] += delta / samples;
      }
    if (!moved) zeroUpdates++;
  }
  return { mean, zeroUpdates };
}

/**
 * The mean update (ANP-T unless another device is given) over `samples` noise draws of
 * one chunk of K steps from fixed weights and state (both copies start at `state`,
 * B x H), compared with the gradients of that chunk's MSE. inputs K x B x I, targets
 * K x B x O. Cosines are against the descent direction -grad.
 */
export async function gradientAlignment(
  shape: RnnShape, params: Params, batch: number, state: Float64Array,
  inputs: Float64Array, targets: Float64Array, steps: number, opts: AlignmentOptions,
): Promise<Alignment> {
  if (!Number.isInteger(opts.samples) || opts.samples < 1) throw new ConfigError('samples', `${opts.samples} is out of range; allowed integers >= 1`);
  const dev = opts.device ?? new FloatDevice();
  await dev.configure({
    topology: { ...shape, batch, ...(params.b ? { bias: true } : {}) }, // the biases run along (the cosines are over W, R, V)
    noise: { hiddenSigma: opts.hiddenSigma, outputSigma: opts.outputSigma ?? opts.hiddenSigma },
    seed: opts.seed ?? 1,
    maxChunkSteps: steps,
    learner: opts.learner,
  });
  if (dev.readDecorrelation()) throw new ConfigError('device', 'a device with decorrelation is not supported: the gradients here assume D = identity');
  const { mean } = await meanUpdate(dev, params, state, inputs, targets, steps, opts.samples, { t0: 0, lr: 1 });
  const g1 = lossAndGradient(shape, params, batch, inputs, targets, steps, { window: 1, initialState: state }).grad;
  const gf = lossAndGradient(shape, params, batch, inputs, targets, steps, { window: 'full', initialState: state }).grad;
  return { window1: updateGradientCosines(mean, g1), full: updateGradientCosines(mean, gf), meanUpdate: mean, gradWindow1: g1, gradFull: gf };
}

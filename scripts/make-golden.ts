/**
 * Writes test/golden/*.json: three golden vectors (16-bit nearest online, 8-bit
 * stochastic chunked with mismatch, 12-bit floor/wrap hardtanh chunked), each with
 * 100 plasticity steps, computed by the scalar WASM build (the reference), and
 * test/golden/bias/*.json: the same with biases b, c (topology.bias; only the emulator
 * firmware-sim and the C firmware replay those), and test/golden/trace/*.json: with
 * the chip's eligibility traces (config.learner), whose trace codes are checked too.
 * Run: npx tsx scripts/make-golden.ts   (only when the numerics change on purpose)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { EmulatorDevice } from '../src/device/emulator.js';
import { runGolden } from '../src/device/golden.js';
import type { GoldenSpec } from '../src/device/golden.js';
import { q } from '../src/format/fixed.js';
import type { ChipFormats, LearnerConfig } from '../src/device/types.js';

/** A small deterministic generator for the vector's data (not part of the chip). */
function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function spec(name: string, description: string, formats: ChipFormats, opts: {
  I: number; H: number; O: number; B: number; chunk: number; act: 'tanh' | 'hardtanh' | 'linear';
  sigma: number; mismatch?: boolean; lr: number; dataSeed: number; bias?: boolean;
  learner?: LearnerConfig;
}): GoldenSpec {
  const rnd = lcg(opts.dataSeed);
  const steps = 100;
  const wf = formats.weight.frac;
  const weights = (n: number, scale: number) => Array.from({ length: n }, () => Math.round((rnd() - 0.5) * 2 * scale * 2 ** wf));
  const s: GoldenSpec = {
    name, description,
    config: {
      topology: { inputs: opts.I, hidden: opts.H, outputs: opts.O, batch: opts.B, activation: opts.act, ...(opts.bias ? { bias: true } : {}) },
      formats,
      noise: { hiddenSigma: opts.sigma, outputSigma: opts.sigma },
      mismatch: opts.mismatch ? { gainSpread: 0.05, offsetSpread: 0.02, seed: 7 } : undefined,
      seed: 12345,
      maxChunkSteps: opts.chunk,
      ...(opts.learner ? { learner: opts.learner } : {}),
    },
    chunk: opts.chunk,
    chunks: steps / opts.chunk,
    lr: { w: opts.lr, r: opts.lr, v: opts.lr },
    w0: weights(opts.H * opts.I, 1.0),
    r0: weights(opts.H * opts.H, 1.2 / Math.sqrt(opts.H)),
    v0: weights(opts.O * opts.H, 1.0 / Math.sqrt(opts.H)),
    inputs: Array.from({ length: steps * opts.B * opts.I }, () => Math.round((rnd() - 0.5) * 2 * 2 ** formats.input.frac)),
    rewards: Array.from({ length: steps }, () => (rnd() - 0.5) * 2e-3),
  };
  if (opts.bias) { // drawn after everything else, so the other data match the vector without biases
    s.b0 = Array.from({ length: opts.H }, () => Math.round((rnd() - 0.5) * 0.5 * 2 ** formats.pre.frac));
    s.c0 = Array.from({ length: opts.O }, () => Math.round((rnd() - 0.5) * 0.5 * 2 ** formats.output.frac));
  }
  return s;
}

const specs: GoldenSpec[] = [
  spec('q16-nearest-online', '16-bit formats, nearest rounding, saturation, tanh, online (chunks of 1 step)',
    { input: q(2, 13), weight: q(2, 13), pre: q(3, 12), activity: q(0, 15), output: q(3, 12) },
    { I: 2, H: 16, O: 2, B: 2, chunk: 1, act: 'tanh', sigma: 1e-3, lr: 0.05, dataSeed: 1 }),
  spec('q8-stochastic-chunked-mismatch', '8-bit weights with stochastic update rounding, 8-bit activity, mismatch on, chunks of 10 steps',
    { input: q(2, 5), weight: q(2, 5, 'stochastic'), pre: q(3, 4), activity: q(0, 7), output: q(3, 4) },
    { I: 3, H: 12, O: 1, B: 3, chunk: 10, act: 'tanh', sigma: 0.1, mismatch: true, lr: 0.5, dataSeed: 2 }),
  spec('q12-floor-wrap-hardtanh', '12-bit formats, floor rounding, wrap-around overflow, hard tanh, chunks of 5 steps',
    { input: q(2, 9, 'floor', 'wrap'), weight: q(2, 9, 'floor', 'wrap'), pre: q(3, 8, 'floor', 'wrap'), activity: q(0, 11, 'floor', 'wrap'), output: q(3, 8, 'floor', 'wrap') },
    { I: 1, H: 10, O: 2, B: 1, chunk: 5, act: 'hardtanh', sigma: 0.02, lr: 0.2, dataSeed: 3 }),
];

const biasSpecs: GoldenSpec[] = [
  spec('q16-nearest-online-bias', '16-bit formats, nearest rounding, saturation, tanh, online, with biases b and c',
    { input: q(2, 13), weight: q(2, 13), pre: q(3, 12), activity: q(0, 15), output: q(3, 12) },
    { I: 2, H: 16, O: 2, B: 2, chunk: 1, act: 'tanh', sigma: 1e-3, lr: 0.05, dataSeed: 1, bias: true }),
  spec('q8-stochastic-chunked-mismatch-bias', '8-bit weights with stochastic update rounding (the biases too), 8-bit activity, mismatch on, chunks of 10 steps, with biases',
    { input: q(2, 5), weight: q(2, 5, 'stochastic'), pre: q(3, 4), activity: q(0, 7), output: q(3, 4) },
    { I: 3, H: 12, O: 1, B: 3, chunk: 10, act: 'tanh', sigma: 0.1, mismatch: true, lr: 0.5, dataSeed: 2, bias: true }),
];

const traceSpecs: GoldenSpec[] = [
  spec('q16-nearest-online-innovation-bias', '16-bit formats, nearest rounding, online, with biases, innovation trace (decay 0.9)',
    { input: q(2, 13), weight: q(2, 13), pre: q(3, 12), activity: q(0, 15), output: q(3, 12) },
    { I: 2, H: 16, O: 2, B: 2, chunk: 1, act: 'tanh', sigma: 1e-3, lr: 0.05, dataSeed: 1, bias: true, learner: { trace: 'innovation', decay: 0.9 } }),
  spec('q8-stochastic-chunked-mismatch-activity-bias', '8-bit weights with stochastic update rounding, 8-bit activity, mismatch on, chunks of 10 steps, with biases, activity trace (decay 0.8)',
    { input: q(2, 5), weight: q(2, 5, 'stochastic'), pre: q(3, 4), activity: q(0, 7), output: q(3, 4) },
    { I: 3, H: 12, O: 1, B: 3, chunk: 10, act: 'tanh', sigma: 0.1, mismatch: true, lr: 0.5, dataSeed: 2, bias: true, learner: { trace: 'activity', decay: 0.8 } }),
  spec('q12-floor-wrap-hardtanh-innovation', '12-bit formats, floor rounding, wrap-around overflow, hard tanh, chunks of 5 steps, innovation trace (decay 0.95)',
    { input: q(2, 9, 'floor', 'wrap'), weight: q(2, 9, 'floor', 'wrap'), pre: q(3, 8, 'floor', 'wrap'), activity: q(0, 11, 'floor', 'wrap'), output: q(3, 8, 'floor', 'wrap') },
    { I: 1, H: 10, O: 2, B: 1, chunk: 5, act: 'hardtanh', sigma: 0.02, lr: 0.2, dataSeed: 3, learner: { trace: 'innovation', decay: 0.95 } }),
];

// 'bias' or 'trace': write only that folder (the others stay as they are)
const only = process.argv[2];
const folders = [['test/golden', specs], ['test/golden/bias', biasSpecs], ['test/golden/trace', traceSpecs]] as const;
for (const [dir, list] of folders.filter(([d]) => !only || d.endsWith(`/${only}`)))
  for (const s of list) {
    const expected = await runGolden(new EmulatorDevice({ flavour: 'scalar' }), s);
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/${s.name}.json`, JSON.stringify({ ...s, expected }) + '\n');
    console.log(`${dir}/${s.name}.json: ${expected.clean.length} output codes, ${expected.w.length + expected.r.length + expected.v.length + (expected.b?.length ?? 0) + (expected.c?.length ?? 0)} weight and bias codes${expected.ew ? `, ${expected.ew.length + expected.er!.length + (expected.eb?.length ?? 0)} trace codes` : ''}`);
  }

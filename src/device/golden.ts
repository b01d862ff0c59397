/**
 * Golden vectors: a configuration, initial weights, inputs and rewards, and the
 * outputs and weights a bit-exact device must produce (docs/golden-vectors.md).
 * Everything is stored as integer codes (and binary64 rewards), so a firmware author
 * can replay a vector without any of anpt's code.
 */
import type { ChipFormats, Device, DeviceConfig } from './types.js';
import { traceCodeFormats } from './config.js';

export interface GoldenSpec {
  name: string;
  description: string;
  config: DeviceConfig & { formats: ChipFormats };
  /** Steps per run/reward chunk (1 = online). */
  chunk: number;
  chunks: number;
  lr: { w: number; r: number; v: number };
  /** Initial weight codes, row-major: W (H x I), R (H x H), V (O x H). */
  w0: number[];
  r0: number[];
  v0: number[];
  /** With topology.bias: initial bias codes, b (H, pre-activation format) and c (O, output format). */
  b0?: number[];
  c0?: number[];
  /** Input codes, (chunk * chunks) x B x I. */
  inputs: number[];
  /** dL per step, chunk * chunks values. */
  rewards: number[];
}

export interface GoldenResult {
  /** Clean and noisy output codes of every step, steps x B x O. */
  clean: number[];
  noisy: number[];
  /** Weight codes after all updates. */
  w: number[];
  r: number[];
  v: number[];
  /** Bias codes after all updates (topology.bias only). */
  b?: number[];
  c?: number[];
  /** With a learner trace (config.learner): the eligibility trace codes after all updates, int32 (docs/kernel.md, "Eligibility traces"): E_W (H x I), E_R (H x H), e_b (H, with biases). */
  ew?: number[];
  er?: number[];
  eb?: number[];
}

export interface GoldenVector extends GoldenSpec {
  expected: GoldenResult;
}

const codes = (x: Float64Array, frac: number) => Array.from(x, (v) => Math.round(v * 2 ** frac));
const values = (x: number[], frac: number) => Float64Array.from(x, (c) => c * 2 ** -frac);

/** Replay a golden spec on a device and return what it produced. */
export async function runGolden(device: Device, spec: GoldenSpec): Promise<GoldenResult> {
  const { config, chunk, chunks } = spec;
  const f = config.formats;
  const { inputs: I, batch: B } = config.topology;
  await device.configure(config);
  const bias = config.topology.bias === true;
  const p0 = { w: values(spec.w0, f.weight.frac), r: values(spec.r0, f.weight.frac), v: values(spec.v0, f.weight.frac) };
  await device.writeParams(bias ? { ...p0, b: values(spec.b0 ?? [], f.pre.frac), c: values(spec.c0 ?? [], f.output.frac) } : p0);
  await device.resetState();
  const clean: number[] = [];
  const noisy: number[] = [];
  for (let c = 0; c < chunks; c++) {
    const t0 = c * chunk;
    const inputs = values(spec.inputs.slice(t0 * B * I, (t0 + chunk) * B * I), f.input.frac);
    const res = await device.run({ steps: chunk, t0, inputs, noisy: true });
    clean.push(...codes(res.clean, f.output.frac));
    noisy.push(...codes(res.noisy, f.output.frac));
    await device.reward({ t0, deltaLoss: Float64Array.from(spec.rewards.slice(t0, t0 + chunk)), lr: spec.lr });
  }
  const p = await device.readParams();
  const out: GoldenResult = { clean, noisy, w: codes(p.w, f.weight.frac), r: codes(p.r, f.weight.frac), v: codes(p.v, f.weight.frac) };
  if (bias) {
    out.b = codes(p.b!, f.pre.frac);
    out.c = codes(p.c!, f.output.frac);
  }
  const l = config.learner;
  if (l && l.trace !== 'none') {
    const e = (await device.readState()).eligibility!;
    const tf = traceCodeFormats(config)!;
    out.ew = codes(e.w, tf.w.frac);
    out.er = codes(e.r, tf.r.frac);
    if (bias) out.eb = codes(e.b!, tf.b.frac);
  }
  return out;
}

// One training run of the float model that shows everything (outputs, hidden traces,
// weights, states, eligibility traces), for comparing engines (test/float-wasm.test.ts)
// and thread counts (test/float-threads.test.ts) bit for bit.
import { expect } from 'vitest';
import type { Activation, TraceKind } from '../src/device/types.js';
import { NpFloatDevice } from '../src/learn/np.js';
import { FloatDevice, type FloatDeviceOptions, type FloatEngine } from '../src/model/float-device.js';
import { key, unitNormal } from '../src/model/rng.js';
import { xavierNormal } from '../src/model/rnn.js';

export interface Case {
  I: number; H: number; O: number; B: number;
  activation: Activation; trace: TraceKind; mismatch?: boolean; np?: boolean;
  /** topology.bias, with non-zero initial b and c (they and the trace of b are compared too). */
  bias?: boolean;
  /** Steps of the chunked rounds (the others are online, K = 1). */
  K: number;
  maxChunkSteps?: number;
}

/** Everything a training run shows: outputs, hidden traces, final weights, states and eligibility traces. */
export async function trainRun(engine: FloatEngine, c: Case, opts: FloatDeviceOptions = {}): Promise<Float64Array[]> {
  const dev = c.np ? new NpFloatDevice({ engine, ...opts }) : new FloatDevice({ engine, ...opts });
  await dev.configure({
    topology: { inputs: c.I, hidden: c.H, outputs: c.O, batch: c.B, activation: c.activation, bias: c.bias },
    noise: { hiddenSigma: 0.01, outputSigma: 0.02 },
    seed: 7,
    maxChunkSteps: c.maxChunkSteps ?? 64,
    learner: c.trace === 'none' ? undefined : { trace: c.trace, decay: 0.9 },
    mismatch: c.mismatch ? { gainSpread: 0.05, offsetSpread: 0.01, seed: 3 } : undefined,
  });
  expect(dev.activeEngine()).toBe(engine);
  const p = xavierNormal({ inputs: c.I, hidden: c.H, outputs: c.O, activation: c.activation }, 5);
  for (const m of [p.w, p.r]) for (let q = 0; q < m.length; q++) m[q] *= 3; // into saturation and beyond |a| = 6.5 (tanh's other path)
  if (c.bias) {
    const kb = key(13, 40, 0, 0);
    p.b = Float64Array.from({ length: c.H }, (_, i) => 0.5 * unitNormal(kb, i));
    p.c = Float64Array.from({ length: c.O }, (_, o) => 0.5 * unitNormal(kb, c.H + o));
  }
  await dev.writeParams(p);
  const k = key(11, 40, 0, 0);
  const seen: Float64Array[] = [];
  let t = 0;
  for (let round = 0; round < 6; round++) {
    const steps = round % 3 === 0 ? c.K : 1;
    const noisy = round !== 4;
    const inputs = Float64Array.from({ length: steps * c.B * c.I }, (_, q) => unitNormal(k, t * 1000 + q));
    const r = await dev.run({ steps, t0: t, inputs, noisy, hiddenTrace: true });
    seen.push(r.clean, r.noisy, r.hidden!);
    if (noisy) await dev.reward({ t0: t, deltaLoss: Float64Array.from({ length: steps }, (_, q) => 0.1 * unitNormal(k, 99999 + t + q)), lr: { w: 0.1, r: 0.05, v: 0.2 } });
    t += steps;
  }
  // the evaluation's way (a clean chunk without the hidden trace: its state leaves the kernel at the end), then
  // state written by the host (writeState, resetState) between noisy chunks
  const inputsAt = (steps: number): Float64Array => Float64Array.from({ length: steps * c.B * c.I }, (_, q) => unitNormal(k, t * 1000 + q));
  seen.push((await dev.run({ steps: c.K, t0: t, inputs: inputsAt(c.K), noisy: false })).clean);
  t += c.K;
  const mid = await dev.readState();
  seen.push(mid.clean, mid.noisy);
  for (const write of ['state', 'reset'] as const) {
    if (write === 'state') await dev.writeState({ clean: mid.noisy.map((x) => 0.5 * x), noisy: mid.clean });
    else await dev.resetState();
    for (const steps of [1, c.K]) {
      const r = await dev.run({ steps, t0: t, inputs: inputsAt(steps), noisy: true });
      seen.push(r.clean, r.noisy);
      await dev.reward({ t0: t, deltaLoss: Float64Array.from({ length: steps }, (_, q) => 0.1 * unitNormal(k, 77777 + t + q)), lr: { w: 0.1, r: 0.05, v: 0.2 } });
      t += steps;
    }
  }
  const w = await dev.readParams(), s = await dev.readState();
  seen.push(w.w, w.r, w.v, s.clean, s.noisy);
  if (s.eligibility) seen.push(s.eligibility.w, s.eligibility.r);
  if (c.bias) seen.push(w.b!, w.c!, ...(s.eligibility ? [s.eligibility.b!] : []));
  if (opts.threads !== undefined) expect(dev.threads).toBe(engine === 'wasm' ? opts.threads : 1);
  await dev.close();
  return seen;
}

/** Indices where a and b differ as bits (Object.is: -0 and NaN count). */
export function differences(a: Float64Array[], b: Float64Array[]): number {
  expect(b.map((x) => x.length)).toEqual(a.map((x) => x.length));
  let n = 0;
  a.forEach((x, i) => x.forEach((v, j) => { if (!Object.is(v, b[i][j])) n++; }));
  return n;
}


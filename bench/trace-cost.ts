/**
 * What an eligibility trace costs on the chip emulator (docs/kernel.md, "Eligibility
 * traces", Cost): online ANP-T steps (one noisy run of one step, then its reward) per
 * second, wall clock, one thread, at H = 64 and 256, B = 10, trace none / activity /
 * innovation (decay 0.9), one input and output, biases on, 16-bit weights.
 *
 *   npx tsx bench/trace-cost.ts [simd|scalar] [seconds per cell, default 1]
 */
import { execFileSync } from 'node:child_process';
import { defaultChipFormats } from '../src/device/config.js';
import { EmulatorDevice } from '../src/device/emulator.js';
import type { KernelFlavour } from '../src/device/wasm.js';
import type { TraceKind } from '../src/device/types.js';
import { xavierNormal } from '../src/model/rnn.js';

const B = 10;
const flavour = (process.argv[2] ?? 'simd') as KernelFlavour;
const seconds = Number(process.argv[3] ?? 1);

async function chip(H: number, trace: TraceKind): Promise<EmulatorDevice> {
  const dev = new EmulatorDevice({ flavour, threads: 1 });
  await dev.configure({
    topology: { inputs: 1, hidden: H, outputs: 1, batch: B, activation: 'tanh', bias: true },
    formats: defaultChipFormats({ weightBits: 16 }),
    noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 },
    seed: 42,
    maxChunkSteps: 1,
    ...(trace === 'none' ? {} : { learner: { trace, decay: 0.9 } }),
  });
  const p = xavierNormal({ inputs: 1, hidden: H, outputs: 1, activation: 'tanh' }, 42);
  await dev.writeParams({ ...p, b: new Float64Array(H), c: new Float64Array(1) });
  return dev;
}

/** Online steps per second over about `seconds` (after 50 warm-up steps). */
async function stepsPerSecond(H: number, trace: TraceKind): Promise<number> {
  const dev = await chip(H, trace);
  const inputs = new Float64Array(B);
  const deltaLoss = new Float64Array(1);
  let t = 0;
  const step = async () => {
    for (let b = 0; b < B; b++) inputs[b] = 0.5 * Math.sin(0.1 * t + b);
    await dev.run({ steps: 1, t0: t, inputs, noisy: true });
    deltaLoss[0] = ((t % 3) - 1) * 1e-4;
    await dev.reward({ t0: t, deltaLoss, lr: { w: 0.3, r: 0.3, v: 0.3 } });
    t++;
  };
  for (let k = 0; k < 50; k++) await step();
  const a = performance.now();
  let n = 0;
  while (performance.now() - a < seconds * 1000 || n < 50) {
    await step();
    n++;
  }
  const rate = n / ((performance.now() - a) / 1000);
  await dev.close();
  return rate;
}

const uptime = (() => {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return 'uptime unavailable';
  }
})();
console.log(`${new Date().toISOString()}  ${flavour}, 1 thread, B = ${B}; ${uptime}`);
console.log('| H | trace | steps/s | us/step |');
console.log('| ---: | --- | ---: | ---: |');
for (const H of [64, 256])
  for (const trace of ['none', 'activity', 'innovation'] as const) {
    const r = await stepsPerSecond(H, trace);
    console.log(`| ${H} | ${trace} | ${r.toFixed(0)} | ${(1e6 / r).toFixed(0)} |`);
  }

// The float model on 1 and 2 threads at one size, online ANP-T steps/s, 2 alternated rounds:
// npx tsx bench/float-threads.ts H B STEPS (e.g. 1000 10 300). Wall-clock; run it on a quiet machine.
import { FloatDevice } from '../src/model/float-device.js';
const [H, B, steps] = process.argv.slice(2).map(Number);
for (const round of [1, 2]) for (const threads of [1, 2] as const) {
  const dev = new FloatDevice({ threads });
  await dev.configure({ topology: { inputs: 1, hidden: H, outputs: 1, batch: B, activation: 'tanh' }, noise: { hiddenSigma: 0.01, outputSigma: 0.01 }, seed: 1, maxChunkSteps: 8 });
  const x = new Float64Array(B).fill(0.3);
  const t = performance.now();
  for (let k = 0; k < steps; k++) {
    await dev.run({ steps: 1, t0: k, inputs: x, noisy: true });
    await dev.reward({ t0: k, deltaLoss: new Float64Array(1).fill(1e-3), lr: { w: 0.01, r: 0.01, v: 0.01 } });
  }
  const s = (performance.now() - t) / 1000;
  console.log(`H=${H} B=${B} round ${round} threads ${dev.threads}: ${(steps / s).toFixed(0)} steps/s`);
  await dev.close();
}

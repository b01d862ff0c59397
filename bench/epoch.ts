/**
 * Seconds per Mackey-Glass ANP-T epoch on the emulator backend: H=100, B=10, online
 * (one run + one reward per step) over 5000 train steps, then 5000 test steps clean.
 * Times are CPU seconds of this process (user + system: load from other processes does
 * not count), the mean over the epochs; bestSecondsPerEpoch the fastest epoch,
 * wallSecondsPerEpoch the mean on the clock.
 */
import { EmulatorDevice } from '../src/device/emulator.js';
import { defaultChipFormats } from '../src/device/config.js';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';
import { trainAnpt } from '../src/learn/anpt.js';
import { evaluate } from '../src/learn/evaluate.js';
import { xavierNormal } from '../src/model/rnn.js';

export interface EpochBench { secondsPerEpoch: number; trainSeconds: number; testSeconds: number; stepsPerSecond: number; wallSecondsPerEpoch: number; bestSecondsPerEpoch: number; epochs: number }

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

export async function benchEpoch(epochs: number): Promise<EpochBench> {
  const task = mackeyGlassTask({ steps: 5000, batch: 10, mode: 'recall', horizon: 15, seed: 42 });
  const H = 100;
  const dev = new EmulatorDevice();
  await dev.configure({
    topology: { inputs: 1, hidden: H, outputs: 1, batch: 10, activation: 'tanh' },
    formats: defaultChipFormats({ weightBits: 16 }),
    noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 },
    seed: 42,
    maxChunkSteps: 500,
  });
  await dev.writeParams(xavierNormal({ inputs: 1, hidden: H, outputs: 1, activation: 'tanh' }, 42));
  let train = 0;
  let test = 0;
  let wall = 0;
  let best = Infinity;
  let t0 = 0;
  for (let e = 0; e < epochs; e++) {
    const w0 = performance.now();
    const a = cpuSeconds();
    const r = await trainAnpt(dev, task.train, { epochs: 1, lr: { w: 0.3, r: 0.3, v: 0.3 }, t0 });
    t0 = r.nextT0;
    const b = cpuSeconds();
    await evaluate(dev, task.test);
    const c = cpuSeconds();
    wall += (performance.now() - w0) / 1000;
    best = Math.min(best, c - a);
    train += b - a;
    test += c - b;
  }
  return { secondsPerEpoch: (train + test) / epochs, trainSeconds: train / epochs, testSeconds: test / epochs, stepsPerSecond: (5000 * epochs) / train, wallSecondsPerEpoch: wall / epochs, bestSecondsPerEpoch: best, epochs };
}

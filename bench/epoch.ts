/**
 * Seconds per Mackey-Glass ANP-T epoch: H=100, B=10, online (one run + one reward per
 * step) over 5000 train steps, then 5000 test steps clean. On the emulator backend
 * (16-bit weights) and on the float model (binary64): its WASM engine (the default)
 * and its TypeScript loops (engine 'js', the same bits, one epoch: it is slow).
 * Wall-clock and process CPU seconds (the machine may be shared).
 */
import { EmulatorDevice } from '../src/device/emulator.js';
import { defaultChipFormats } from '../src/device/config.js';
import type { Device, DeviceConfig } from '../src/device/types.js';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';
import { trainAnpt } from '../src/learn/anpt.js';
import { evaluate } from '../src/learn/evaluate.js';
import { FloatDevice } from '../src/model/float-device.js';
import { xavierNormal } from '../src/model/rnn.js';

export type EpochBackend = 'emulator' | 'float' | 'float-js';

export interface EpochBench {
  backend: EpochBackend;
  secondsPerEpoch: number;
  trainSeconds: number;
  testSeconds: number;
  /** Process CPU seconds per epoch (user + system). */
  cpuSecondsPerEpoch: number;
  stepsPerSecond: number;
  epochs: number;
  /** Test MSE after the last epoch (the float engines must agree to the bit). */
  testMse: number;
}

function device(backend: EpochBackend): Device {
  if (backend === 'emulator') return new EmulatorDevice();
  return new FloatDevice({ engine: backend === 'float' ? 'wasm' : 'js' });
}

export async function benchEpoch(epochs: number, backend: EpochBackend = 'emulator'): Promise<EpochBench> {
  const task = mackeyGlassTask({ steps: 5000, batch: 10, mode: 'recall', horizon: 15, seed: 42 });
  const H = 100;
  const dev = device(backend);
  const config: DeviceConfig = {
    topology: { inputs: 1, hidden: H, outputs: 1, batch: 10, activation: 'tanh' },
    noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 },
    seed: 42,
    maxChunkSteps: 500,
  };
  if (backend === 'emulator') config.formats = defaultChipFormats({ weightBits: 16 });
  await dev.configure(config);
  await dev.writeParams(xavierNormal({ inputs: 1, hidden: H, outputs: 1, activation: 'tanh' }, 42));
  let train = 0;
  let test = 0;
  let t0 = 0;
  let testMse = NaN;
  const cpu0 = process.cpuUsage();
  for (let e = 0; e < epochs; e++) {
    const a = performance.now();
    const r = await trainAnpt(dev, task.train, { epochs: 1, lr: { w: 0.3, r: 0.3, v: 0.3 }, t0 });
    t0 = r.nextT0;
    const b = performance.now();
    testMse = (await evaluate(dev, task.test)).mse;
    const c = performance.now();
    train += (b - a) / 1000;
    test += (c - b) / 1000;
  }
  const cpu = process.cpuUsage(cpu0);
  return {
    backend, secondsPerEpoch: (train + test) / epochs, trainSeconds: train / epochs, testSeconds: test / epochs,
    cpuSecondsPerEpoch: (cpu.user + cpu.system) / 1e6 / epochs, stepsPerSecond: (5000 * epochs) / train, epochs, testMse,
  };
}

/** One line per backend, and the float model against the emulator measured in the same run. */
export function formatEpochRows(rows: EpochBench[]): string[] {
  const emu = rows.find((r) => r.backend === 'emulator');
  const name: Record<EpochBackend, string> = { emulator: 'emulator (16-bit)', float: 'float model, WASM', 'float-js': 'float model, TypeScript' };
  return rows.map((r) => {
    const ratio = emu && r !== emu ? `, ${(r.secondsPerEpoch / emu.secondsPerEpoch).toFixed(2)}x the emulator (CPU ${(r.cpuSecondsPerEpoch / emu.cpuSecondsPerEpoch).toFixed(2)}x)` : '';
    return `${name[r.backend].padEnd(24)} ${r.secondsPerEpoch.toFixed(3)} s per epoch (train ${r.trainSeconds.toFixed(3)} + test ${r.testSeconds.toFixed(3)}; CPU ${r.cpuSecondsPerEpoch.toFixed(3)} s), ${r.stepsPerSecond.toFixed(0)} train steps/s, test MSE ${r.testMse.toPrecision(6)}, ${r.epochs} epoch${r.epochs > 1 ? 's' : ''}${ratio}`;
  });
}

/**
 * Shared by the fault tests of firmware-sim (test/faults.test.ts) and of the C firmware
 * (test/firmware-faults.test.ts): a Mackey-Glass configuration, ANP-T training of a
 * network on any Device, and the MSEs of a run, to compare a faulty line with a clean one.
 */
import { defaultChipFormats } from '../src/device/config.js';
import type { Device, DeviceConfig, Params } from '../src/device/types.js';
import { trainAnpt, type AnptOptions, type TrainResult } from '../src/learn/anpt.js';
import { xavierNormal } from '../src/model/rnn.js';
import type { mackeyGlassTask } from '../src/tasks/mackey-glass.js';

/** One input, one output, tanh, the chip's default formats, noise 1e-3. */
export function mgConfig(hidden: number, batch: number, seed: number, maxChunkSteps: number): DeviceConfig {
  return {
    topology: { inputs: 1, hidden, outputs: 1, batch, activation: 'tanh' },
    formats: defaultChipFormats(),
    noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 },
    seed,
    maxChunkSteps,
  };
}

export interface Run {
  result: TrainResult;
  params: Params;
}

/** Configure `device`, write Xavier weights from the config's seed, train, read the weights back. */
export async function train(device: Device, cfg: DeviceConfig, task: ReturnType<typeof mackeyGlassTask>, opts: Omit<AnptOptions, 'test'>): Promise<Run> {
  const t = cfg.topology;
  await device.configure(cfg);
  await device.writeParams(xavierNormal({ inputs: 1, hidden: t.hidden, outputs: 1, activation: t.activation }, cfg.seed));
  const result = await trainAnpt(device, task.train, { ...opts, test: task.test });
  return { result, params: await device.readParams() };
}

/** [train MSE, test MSE] of every epoch. */
export const mse = (r: TrainResult) => r.epochs.map((e) => [e.trainMse, e.testMse]);

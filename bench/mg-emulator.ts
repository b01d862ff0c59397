/** The emulator the MG benches train: 16-bit, sigma 1e-3, seed 42, Xavier weights, one input and output. */
import { EmulatorDevice, type EmulatorOptions } from '../src/device/emulator.js';
import { defaultChipFormats } from '../src/device/config.js';
import { xavierNormal } from '../src/model/rnn.js';

export async function mgEmulator(H: number, B: number, options: EmulatorOptions = {}, maxChunkSteps = 1): Promise<EmulatorDevice> {
  const dev = new EmulatorDevice(options);
  await dev.configure({
    topology: { inputs: 1, hidden: H, outputs: 1, batch: B, activation: 'tanh' },
    formats: defaultChipFormats({ weightBits: 16 }),
    noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 },
    seed: 42,
    maxChunkSteps,
  });
  await dev.writeParams(xavierNormal({ inputs: 1, hidden: H, outputs: 1, activation: 'tanh' }, 42));
  return dev;
}

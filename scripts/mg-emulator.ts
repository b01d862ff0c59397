/**
 * ANP-T on Mackey-Glass recall-15 (H=100, B=10, 5000-step sequences) on the emulator,
 * through the Device interface, at a given weight width and update rounding.
 * Prints the test MSE of the untrained network and after each epoch as fractions of the
 * all-zero output's MSE.
 *
 *   npx tsx scripts/mg-emulator.ts --weight-bits 8 --rounding stochastic --seeds 42,101,300
 */
import { parseArgs } from 'node:util';
import { EmulatorDevice } from '../src/device/emulator.js';
import { defaultChipFormats } from '../src/device/config.js';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';
import { trainAnpt } from '../src/learn/anpt.js';
import { evaluate } from '../src/learn/evaluate.js';
import { xavierNormal } from '../src/model/rnn.js';
import type { Rounding } from '../src/format/fixed.js';

export interface MgEmulatorResult {
  /** Test MSE of the untrained network / zero-output MSE. */
  untrained: number;
  /** Test MSE after each epoch / zero-output MSE. */
  epochs: number[];
}

/** One seeded run: the test MSE before and after each epoch, as fractions of the zero-output MSE. */
export async function mgEmulatorRun(opts: { weightBits: number; rounding: Rounding; lr: number; epochs: number; seed: number }): Promise<MgEmulatorResult> {
  const task = mackeyGlassTask({ steps: 5000, batch: 10, mode: 'recall', horizon: 15, seed: opts.seed });
  const H = 100;
  const dev = new EmulatorDevice();
  await dev.configure({
    topology: { inputs: 1, hidden: H, outputs: 1, batch: 10, activation: 'tanh' },
    formats: defaultChipFormats({ weightBits: opts.weightBits, rounding: opts.rounding }),
    noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 },
    seed: opts.seed,
    maxChunkSteps: 1000,
  });
  await dev.writeParams(xavierNormal({ inputs: 1, hidden: H, outputs: 1, activation: 'tanh' }, opts.seed));
  const untrained = (await evaluate(dev, task.test)).mse;
  const res = await trainAnpt(dev, task.train, { epochs: opts.epochs, lr: { w: opts.lr, r: opts.lr, v: opts.lr }, schedule: { kind: 'cosine' }, test: task.test });
  const zero = res.zeroOutputMse.test!;
  return { untrained: untrained / zero, epochs: res.epochs.map((e) => (e.testMse ?? NaN) / zero) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      'weight-bits': { type: 'string', default: '16' },
      rounding: { type: 'string', default: 'nearest' },
      lr: { type: 'string', default: '0.1' },
      epochs: { type: 'string', default: '10' },
      seeds: { type: 'string', default: '42' },
    },
  });
  for (const seed of values.seeds!.split(',').map(Number)) {
    const r = await mgEmulatorRun({ weightBits: Number(values['weight-bits']), rounding: values.rounding as Rounding, lr: Number(values.lr), epochs: Number(values.epochs), seed });
    console.log(`seed ${seed}: test MSE / zero-output MSE untrained ${r.untrained.toFixed(3)}, by epoch: ${r.epochs.map((x) => x.toFixed(3)).join(' ')}`);
  }
}

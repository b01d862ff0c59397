/**
 * The offset task (test/bias-task.ts: target = 0.5 + 0.8 u_{t-2}), trained with ANP-T
 * online on the float model (or the 16-bit chip emulator: --chip), bias off and on,
 * over a grid of rates; prints the final test MSE of each.
 * Usage: npx tsx scripts/bias-offset.ts [epochs] [--chip]
 */
import { defaultChipFormats } from '../src/device/config.js';
import { EmulatorDevice } from '../src/device/emulator.js';
import { FloatDevice } from '../src/model/float-device.js';
import { trainAnpt } from '../src/learn/anpt.js';
import { xavierNormal, withZeroBiases } from '../src/model/rnn.js';
import { zeroOutputMse } from '../src/learn/evaluate.js';
import { offsetDelaySet } from '../test/bias-task.js';

const chip = process.argv.includes('--chip');
const epochs = Number(process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 20);
const shape = { inputs: 1, hidden: 16, outputs: 1, activation: 'tanh' as const };
const train = offsetDelaySet(400, 4, 1), test = offsetDelaySet(400, 4, 2);
console.log(`offset task on the ${chip ? '16-bit chip emulator' : 'float model'}, H 16, B 4, ${epochs} epochs online, cosine schedule; zero-output test MSE ${zeroOutputMse(test).toPrecision(4)}`);
for (const lr of [0.01, 0.03, 0.1, 0.3])
  for (const bias of [false, true]) {
    const d = chip ? new EmulatorDevice() : new FloatDevice();
    const formats = chip ? defaultChipFormats() : undefined;
    await d.configure({ topology: { ...shape, batch: 4, bias }, formats, noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 }, seed: 5, maxChunkSteps: 64 });
    const p = xavierNormal(shape, 3);
    await d.writeParams(bias ? withZeroBiases(p, 16, 1) : p);
    const res = await trainAnpt(d, train, { epochs, lr: { w: lr, r: lr, v: lr }, schedule: { kind: 'cosine' }, test, lrBatchScale: 'none' });
    const mse = res.status === 'ok' ? res.epochs.at(-1)!.testMse!.toPrecision(4) : 'diverged';
    const engine = d instanceof FloatDevice ? ` (engine ${d.activeEngine()})` : '';
    console.log(`lr ${lr} bias ${bias ? 'on ' : 'off'}${engine}: test MSE ${mse}`);
  }

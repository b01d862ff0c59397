/**
 * ResilientDevice with eligibility traces (issue 11): its checkpoints hold the traces
 * (read over the link as the trace tensors), a recovery after a board reboot writes
 * them back before the replay, and checkpoint.json carries them, so a resumed or
 * replayed run has the bits of an uninterrupted one.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SimBoard } from '../firmware-sim/board.js';
import { defaultChipFormats } from '../src/device/config.js';
import { EmulatorDevice } from '../src/device/emulator.js';
import type { Device, DeviceConfig, Params, RecurrentState } from '../src/device/types.js';
import { trainAnpt, type AnptOptions } from '../src/learn/anpt.js';
import { CHECKPOINT_FILE, readCheckpoint, ResilientDevice } from '../src/link/resilient-device.js';
import { SerialDevice } from '../src/link/serial-device.js';
import { memoryPair } from '../src/link/transport-memory.js';
import { xavierNormal } from '../src/model/rnn.js';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});
const dir = mkdtempSync(join(tmpdir(), 'anpt-traces-resilient-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const H = 12;
const shape = { inputs: 1, hidden: H, outputs: 1, activation: 'tanh' as const };
const config = (bias: boolean): DeviceConfig => ({
  topology: { ...shape, batch: 2, bias }, formats: defaultChipFormats(), noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 }, seed: 9, maxChunkSteps: 20,
  learner: { trace: 'innovation', decay: 0.9 },
});
const task = mackeyGlassTask({ steps: 400, batch: 2, seed: 9 });
const options: AnptOptions = { epochs: 2, lr: { w: 0.03, r: 0.03, v: 0.03 }, chunkSteps: 20 };

async function serialTo(board: SimBoard): Promise<SerialDevice> {
  const { a, b } = memoryPair();
  board.attach(b);
  const dev = await SerialDevice.connect(a, { timeoutMs: 40, helloTimeoutMs: 100, retries: 1 });
  closers.push(() => dev.close());
  return dev;
}

async function start(dev: Device, bias: boolean): Promise<void> {
  await dev.configure(config(bias));
  const p = xavierNormal(shape, 9);
  await dev.writeParams(bias ? { ...p, b: new Float64Array(H).fill(0.05), c: Float64Array.of(-0.05) } : p);
}

/** Chunks [from, to) of the train set (20 steps each), online: a run and its reward. */
async function chunks(dev: Device, from: number, to: number): Promise<void> {
  const s = task.train, bi = 2 * s.inputSize;
  for (let c = from; c < to; c++) {
    const t0 = c * 20;
    await dev.run({ steps: 20, t0, inputs: s.inputs.subarray(t0 * bi, (t0 + 20) * bi), noisy: true });
    await dev.reward({ t0, deltaLoss: Float64Array.from({ length: 20 }, (_, k) => 1e-4 * Math.sin(t0 + k)), lr: options.lr });
  }
}

const end = async (d: Device): Promise<[Params, RecurrentState]> => [await d.readParams(), await d.readState()];

describe('ResilientDevice with eligibility traces', () => {
  for (const bias of [false, true])
    it(`recovers from reboots every 130 steps (innovation, decay 0.9${bias ? ', biases' : ''}; 2 epochs of 400 steps, K=20) with the weights and traces of a run without them`, async () => {
      const board = new SimBoard({ resetAfterSteps: 130 });
      const dev = new ResilientDevice(await serialTo(board), { checkpointEveryChunks: 3 });
      const emu = new EmulatorDevice();
      for (const d of [dev, emu]) {
        await start(d, bias);
        expect((await trainAnpt(d, task.train, options)).status).toBe('ok');
      }
      const [got, want] = [await end(dev), await end(emu)];
      expect(got[1].eligibility!.w.some((x) => x !== 0)).toBe(true);
      expect(got).toEqual(want);
      expect(dev.resilience().resetsRecovered).toBeGreaterThanOrEqual(5);
      // its checkpoints hold the traces (read over the link)
      expect(dev.checkpoint!.state.eligibility!.r.some((x) => x !== 0)).toBe(true);
    });

  it('checkpoint.json carries the traces: restored on a fresh board by a new host, the run goes on with the bits of one that never stopped', async () => {
    const first = new ResilientDevice(await serialTo(new SimBoard()), { checkpointEveryChunks: 4, checkpointDir: dir });
    const emu = new EmulatorDevice();
    for (const d of [first, emu]) {
      await start(d, true);
      await chunks(d, 0, 8);
    }
    const json = JSON.parse(readFileSync(join(dir, CHECKPOINT_FILE), 'utf8'));
    expect(Object.keys(json.state.eligibility).sort()).toEqual(['b', 'r', 'w']);
    const ck = readCheckpoint(dir);
    expect(ck.nextT0).toBe(160);
    expect(ck.state).toEqual((await end(emu))[1]);
    expect(ck.state.eligibility!.r.some((x) => x !== 0)).toBe(true);
    const second = new ResilientDevice(await serialTo(new SimBoard()));
    await second.restore(ck);
    for (const d of [second, emu]) await chunks(d, 8, 12);
    expect(await end(second)).toEqual(await end(emu));
  });
});

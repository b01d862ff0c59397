/**
 * ResilientDevice in-process: a simulated board (firmware-sim's SimBoard) over the
 * memory transport reboots under training; checkpoints, journal replay, resuming from
 * a checkpoint file, and the failures it must not paper over.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SimBoard } from '../firmware-sim/board.js';
import { defaultChipFormats } from '../src/device/config.js';
import { EmulatorDevice } from '../src/device/emulator.js';
import type { Device, DeviceConfig, DeviceInfo, DeviceStats, Params, RecurrentState, RewardRequest, RunRequest, RunResult } from '../src/device/types.js';
import { trainAnpt, type AnptOptions } from '../src/learn/anpt.js';
import type { HelloReply } from '../src/link/messages.js';
import { readCheckpoint, ResilientDevice, type RecoverableDevice } from '../src/link/resilient-device.js';
import { SerialDevice } from '../src/link/serial-device.js';
import { memoryPair, type FaultHook } from '../src/link/transport-memory.js';
import { xavierNormal } from '../src/model/rnn.js';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'anpt-resilient-'));
  dirs.push(d);
  return d;
};

const H = 16;
const config: DeviceConfig = {
  topology: { inputs: 1, hidden: H, outputs: 1, batch: 2, activation: 'tanh' },
  formats: defaultChipFormats(),
  noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 },
  seed: 9,
  maxChunkSteps: 20,
};
const task = mackeyGlassTask({ steps: 400, batch: 2, seed: 9 });
const options: AnptOptions = { epochs: 2, lr: { w: 0.03, r: 0.03, v: 0.03 }, chunkSteps: 20 };

async function serialTo(board: SimBoard, hook?: FaultHook): Promise<SerialDevice> {
  const { a, b } = memoryPair({ bToA: hook });
  board.attach(b);
  const dev = await SerialDevice.connect(a, { timeoutMs: 40, helloTimeoutMs: 100, retries: 1 });
  closers.push(() => dev.close());
  return dev;
}

async function train(dev: Device, opts: AnptOptions = options): Promise<Params> {
  await dev.configure(config);
  await dev.writeParams(xavierNormal({ inputs: 1, hidden: H, outputs: 1, activation: 'tanh' }, 9));
  const r = await trainAnpt(dev, task.train, opts);
  expect(r.status).toBe('ok');
  return dev.readParams();
}

let clean: Promise<Params> | undefined;
const cleanParams = () => (clean ??= train(new EmulatorDevice()));

describe('ResilientDevice', () => {
  it('recovers from reboots every 500 steps (H=16, B=2, 400 steps, K=20, 2 epochs) with the weights of a run without them', async () => {
    const board = new SimBoard({ resetAfterSteps: 500 });
    const events: string[] = [];
    const dev = new ResilientDevice(await serialTo(board), { checkpointEveryChunks: 4, onEvent: (e) => events.push(e) });
    expect(await train(dev, { ...options, test: task.test })).toEqual(await cleanParams());
    const r = dev.resilience();
    expect(r.resetsRecovered).toBe(board.bootCounter - 1);
    expect(r.resetsRecovered).toBeGreaterThanOrEqual(2);
    // a recovery replays at most the journal since the last checkpoint: 4 chunks of 20
    // steps, or the clean runs of an evaluation since its resetState
    expect(r.replayedSteps).toBeLessThanOrEqual(r.resetsRecovered * 400);
    expect(events).toHaveLength(r.resetsRecovered);
    expect(r.checkpointReads).toBeGreaterThan(0);
  });

  it('recovers when the rebooting board stays silent past all retries: a failed call, then a Hello showing a new session', async () => {
    let silentUntil = 0;
    const board = new SimBoard({
      resetAfterSteps: 300,
      log: (line) => {
        if (line.startsWith('reboot')) silentUntil = performance.now() + 150; // booting: nothing answers
      },
    });
    const events: string[] = [];
    const serial = await serialTo(board, (b) => (performance.now() < silentUntil ? [] : [b]));
    const dev = new ResilientDevice(serial, { checkpointEveryChunks: 4, onEvent: (e) => events.push(e) });
    // 150 ms of silence > 2 attempts of 40 ms: the call fails with TIMEOUT before the Hello
    expect(await train(dev, { ...options, test: task.test })).toEqual(await cleanParams());
    expect(dev.resilience().resetsRecovered).toBeGreaterThanOrEqual(2);
    expect(events.length).toBe(dev.resilience().resetsRecovered);
  });

  it('writes checkpoints a new host can resume from: epoch 1, restore on a fresh board, epoch 2 = both epochs in one go', async () => {
    const dir = tempDir();
    const first = new ResilientDevice(await serialTo(new SimBoard()), { checkpointEveryChunks: 5, checkpointDir: dir });
    await train(first, { ...options, epochs: 1 });
    const ck = readCheckpoint(dir);
    expect(ck).toMatchObject({ nextT0: 400, rewardedChunks: 20, rewardedSteps: 400 });
    expect(ck.params).toEqual(await first.readParams());
    // the first host is gone; a new one restores the checkpoint on a newly booted board
    const second = new ResilientDevice(await serialTo(new SimBoard()));
    await second.restore(ck);
    expect(await second.readParams()).toEqual(ck.params);
    expect(second.checkpoint?.nextT0).toBe(400);
    await trainAnpt(second, task.train, { ...options, epochs: 1, t0: ck.nextT0 });
    expect(await second.readParams()).toEqual(await cleanParams());
  });

  it('fails loudly when a replayed chunk differs (a device with physical noise cannot be replayed)', async () => {
    const board = new SimBoard({ resetAfterSteps: 100 });
    const serial = await serialTo(board);
    const dev = new ResilientDevice(new PhysicalNoise(serial), { checkpointEveryChunks: 100 });
    await dev.configure(config);
    await dev.writeParams(xavierNormal({ inputs: 1, hidden: H, outputs: 1, activation: 'tanh' }, 9));
    const inputs = task.train.inputs.subarray(0, 20 * 2);
    for (let t = 0; t < 80; t += 20) {
      await dev.run({ steps: 20, t0: t, inputs, noisy: true });
      await dev.reward({ t0: t, deltaLoss: new Float64Array(20).fill(1e-4), lr: options.lr });
    }
    const e = await dev.run({ steps: 20, t0: 80, inputs, noisy: true }).catch((x: Error) => x);
    expect(e).toMatchObject({ status: 'REPLAY_MISMATCH' });
    expect((e as Error).message).toMatch(
      /^the device reset and a replayed chunk \(t0 0\) gave other noisy outputs than recorded \(at \d+: \S+ vs \S+\); its runs are not reproducible \(physical noise\?\), so training cannot continue transparently: restart from the last checkpoint$/,
    );
  });

  it('does not mistake a never-configured device, or a dead link with the same session, for a reset', async () => {
    const dev = new ResilientDevice(await serialTo(new SimBoard()));
    await expect(dev.run({ steps: 1, t0: 0, inputs: new Float64Array(2), noisy: false })).rejects.toMatchObject({ code: 'NOT_CONFIGURED' });
    expect(dev.resilience().resetsRecovered).toBe(0);
    // a board that stops answering (every reply lost) but never rebooted
    let deaf = false;
    const quiet = new ResilientDevice(await serialTo(new SimBoard(), (b) => (deaf ? [] : [b])));
    await quiet.configure(config);
    deaf = true;
    await expect(quiet.run({ steps: 1, t0: 0, inputs: new Float64Array(2), noisy: false })).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(quiet.resilience().resetsRecovered).toBe(0);
  });
});

/** A board whose noise is physical: after a reboot, the same chunk draws other noise. */
class PhysicalNoise implements RecoverableDevice {
  private boots = 0;
  constructor(private readonly d: SerialDevice) {}
  get hello(): HelloReply {
    return this.d.hello;
  }
  handshake = () => this.d.handshake();
  configure = (c: DeviceConfig) => this.d.configure({ ...c, seed: c.seed + this.boots++ });
  info = (): Promise<DeviceInfo> => this.d.info();
  writeParams = (p: Params) => this.d.writeParams(p);
  readParams = (): Promise<Params> => this.d.readParams();
  readState = (): Promise<RecurrentState> => this.d.readState();
  writeState = (s: RecurrentState) => this.d.writeState(s);
  run = (r: RunRequest): Promise<RunResult> => this.d.run(r);
  reward = (r: RewardRequest) => this.d.reward(r);
  resetState = () => this.d.resetState();
  stats = (): Promise<DeviceStats> => this.d.stats();
  close = () => this.d.close();
}

/**
 * Training through a bad line and a rebooting board, against firmware-sim child
 * processes over TCP: the final weights must be the same bits as a clean run.
 *
 * - 1 % of bytes corrupted and 1 % of frames dropped, both directions: the CRC catches
 *   every damaged frame, the host retries with the same id, and the device's replay
 *   cache keeps a retried Run or Reward from being applied twice. Small chunks and
 *   64-byte parameter pieces keep frames short enough to get through (at 1 % per byte
 *   a 500-byte frame almost never does).
 * - a reboot every 2000 steps: ResilientDevice restores its last checkpoint and replays
 *   its journal.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnFirmwareSim, type RunningSim } from '../firmware-sim/spawn.js';
import { EmulatorDevice } from '../src/device/emulator.js';
import type { Device } from '../src/device/types.js';
import { readCheckpoint, ResilientDevice } from '../src/link/resilient-device.js';
import { SerialDevice } from '../src/link/serial-device.js';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';
import { mgConfig, mse, train } from './fault-training.js';

const sims: RunningSim[] = [];
const devices: Device[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const d of devices) await d.close().catch(() => undefined);
  for (const s of sims) await s.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function sim(args: string[]): Promise<RunningSim> {
  const s = await spawnFirmwareSim(['--tcp', '0', '--quiet', ...args]);
  sims.push(s);
  return s;
}

describe('training through faults', () => {
  it('1 % corrupted bytes and 1 % dropped frames both ways (H=8, B=1, 240 steps, K=4, 2 epochs): the same weights as a clean run, with CRC errors and retries counted', async () => {
    const cfg = mgConfig(8, 1, 5, 4);
    const task = mackeyGlassTask({ steps: 240, batch: 1, seed: 5 });
    const opts = { epochs: 2, lr: { w: 0.03, r: 0.03, v: 0.03 }, chunkSteps: 4 };
    const clean = await train(new EmulatorDevice(), cfg, task, opts);

    const s = await sim(['--baud', '2000000', '--corrupt-rate', '0.01', '--drop-rate', '0.01', '--fault-seed', '11']);
    // short timeouts (a lost frame costs one), many attempts, small parameter pieces
    const dev = await SerialDevice.open(s.url(), { timeoutMs: 40, helloTimeoutMs: 200, retries: 60, maxPieceBytes: 64 });
    devices.push(dev);
    const noisy = await train(dev, cfg, task, opts);
    expect(mse(noisy.result)).toEqual(mse(clean.result));
    expect(noisy.params).toEqual(clean.params);
    const link = (await dev.stats()).link!;
    expect(link.retries).toBeGreaterThan(0);
    expect(link.crcErrors + link['device.crcErrors']).toBeGreaterThan(0);
    expect(link.fastRetries).toBeGreaterThan(0); // damaged replies are asked again at once
    expect(link['device.replays']).toBeGreaterThan(0); // retries answered from the cache, not applied twice
  });

  it('a board reboot every 2000 steps (H=32, B=4, 1000 steps, K=50, 2 epochs): ResilientDevice recovers from checkpoints and ends with the same weights as a clean run', async () => {
    const cfg = mgConfig(32, 4, 42, 50);
    const task = mackeyGlassTask({ steps: 1000, batch: 4, seed: 42 });
    const opts = { epochs: 2, lr: { w: 0.03, r: 0.03, v: 0.03 }, chunkSteps: 50, schedule: { kind: 'cosine' as const }, spectral: { cap: 0.95, everySteps: 500 } };
    const clean = await train(new EmulatorDevice(), cfg, task, opts);

    const s = await sim(['--baud', '4000000', '--reset-after-steps', '2000']);
    const dir = mkdtempSync(join(tmpdir(), 'anpt-ckpt-'));
    dirs.push(dir);
    const events: string[] = [];
    const dev = new ResilientDevice(await SerialDevice.open(s.url(), { timeoutMs: 150 }), { checkpointEveryChunks: 5, checkpointDir: dir, onEvent: (e) => events.push(e) });
    devices.push(dev);
    const got = await train(dev, cfg, task, opts);
    expect(mse(got.result)).toEqual(mse(clean.result));
    expect(got.params).toEqual(clean.params);
    const r = dev.resilience();
    // 2 x (1000 train + 1000 test) steps plus replays: at least one reboot
    expect(r.resetsRecovered).toBeGreaterThanOrEqual(1);
    expect(r.replayedSteps).toBeGreaterThan(0);
    expect(dev.device.hello.bootCounter).toBe(r.resetsRecovered + 1);
    expect(events[0]).toMatch(/^device reset \(boot 2\) during \w+: restored the checkpoint at t0 \d+ and replayed \d+ calls \(\d+ steps\)$/);
    expect((await dev.stats()).link).toMatchObject({ 'resilient.resetsRecovered': r.resetsRecovered });
    // the checkpoint on disk is the device's state at its step counter
    const ck = readCheckpoint(dir);
    expect(ck.config).toEqual(cfg);
    expect(ck.rewardedSteps).toBe(2000);
    expect(ck.nextT0).toBe(2000);
  });
});

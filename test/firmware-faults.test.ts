// The C firmware (host build on a pseudo-terminal) through a bad line and through a
// reset, as test/faults.test.ts does for firmware-sim: the final weights must be the
// bits of a clean run. The line faults go through firmware-sim's fault stage as a
// relay (firmware-sim/relay.ts). The reset is the firmware's own reboot: SIGUSR1 for
// the host build, QEMU's system_reset for the Cortex-M4.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.js';
import { spawnCFirmware, type RunningFirmware } from '../firmware-sim/c-firmware.js';
import { startFaultRelay, type FaultRelay } from '../firmware-sim/relay.js';
import { EmulatorDevice } from '../src/device/emulator.js';
import type { Device, DeviceConfig, LearnerConfig, RunRequest } from '../src/device/types.js';
import { ResilientDevice } from '../src/link/resilient-device.js';
import { SerialDevice } from '../src/link/serial-device.js';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';
import { mgConfig, mse, train } from './fault-training.js';
import { buildFirmware, missingTools } from './firmware-tools.js';

const hostMissing = missingTools(['make', 'gcc', 'nanopb_generator.py']);
const qemuMissing = hostMissing ?? missingTools(['arm-none-eabi-gcc', 'qemu-system-arm']);
if (hostMissing) console.warn(`test/firmware-faults.test.ts: skipping: ${hostMissing}`);

const running: { stop(): Promise<void> }[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const r of running.reverse()) await r.stop().catch(() => undefined);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function firmware(target: 'host' | 'qemu'): Promise<RunningFirmware> {
  buildFirmware(target === 'host' ? 'host' : 'mps2');
  const fw = await spawnCFirmware(target);
  running.push(fw);
  return fw;
}

const innovation: LearnerConfig = { trace: 'innovation', decay: 0.9 };

describe.skipIf(hostMissing !== undefined)('the C firmware through faults', () => {
  it('1 % corrupted bytes and 1 % dropped frames both ways (H=8, B=1, 240 steps, K=4, 2 epochs): the weights of a clean run', async () => {
    const cfg = mgConfig(8, 1, 5, 4);
    const task = mackeyGlassTask({ steps: 240, batch: 1, seed: 5 });
    const opts = { epochs: 2, lr: { w: 0.03, r: 0.03, v: 0.03 }, chunkSteps: 4 };
    const clean = await train(new EmulatorDevice(), cfg, task, opts);
    const fw = await firmware('host');
    const relay: FaultRelay = await startFaultRelay(fw.path, 115200, { corruptRate: 0.01, dropRate: 0.01, seed: 11 });
    running.push({ stop: () => relay.close() });
    // the host's default link settings (adaptive timeout, a retry budget in time, pieces that shrink on a bad line)
    const dev = await SerialDevice.open(relay.url);
    running.push({ stop: () => dev.close() });
    const noisy = await train(dev, cfg, task, opts);
    expect(mse(noisy.result)).toEqual(mse(clean.result));
    expect(noisy.params).toEqual(clean.params);
    const link = (await dev.stats()).link!;
    const f = relay.faults();
    expect(f.bytesCorruptedIn + f.bytesCorruptedOut).toBeGreaterThan(0);
    expect(f.framesDroppedIn + f.framesDroppedOut).toBeGreaterThan(0);
    expect(link.retries).toBeGreaterThan(0);
    expect(link['device.crcErrors']).toBeGreaterThan(0); // the C decoder caught damaged requests
    expect(link['device.replays']).toBeGreaterThan(0); // retries answered from its replay cache
  }, 120_000);

  it('anpt train --device through 1 % corrupted bytes and 1 % dropped frames, default flags (H=16, B=2, 300 steps, 2 epochs): the weights of the emulator', async () => {
    const fw = await firmware('host');
    const relay = await startFaultRelay(fw.path, 115200, { corruptRate: 0.01, dropRate: 0.01, seed: 23 });
    running.push({ stop: () => relay.close() });
    const dir = mkdtempSync(join(tmpdir(), 'anpt-fw-cli-'));
    dirs.push(dir);
    let err = '';
    const io = { out: () => {}, err: (s: string) => (err += s), progress: { write: () => true, isTTY: false } };
    const args = ['train', '--task', 'mackey-glass', '--hidden', '16', '--batch', '2', '--steps', '300', '--epochs', '2', '--quiet'];
    expect(await runCli([...args, '--device', relay.url, '--out', join(dir, 'board')], io), err).toBe(0);
    expect(await runCli([...args, '--backend', 'emulator', '--out', join(dir, 'emulator')], io), err).toBe(0);
    const weights = (d: string) => { const j = JSON.parse(readFileSync(join(dir, d, 'weights.json'), 'utf8')); return [j.W, j.R, j.V]; };
    expect(weights('board')).toEqual(weights('emulator'));
    const f = relay.faults();
    expect(f.bytesCorruptedIn + f.bytesCorruptedOut).toBeGreaterThan(0);
    expect(f.framesDroppedIn + f.framesDroppedOut).toBeGreaterThan(0);
  }, 180_000);

  // and with an innovation trace: the recovery writes the checkpoint's traces back (TENSOR_TRACE_W, TRACE_R)
  for (const [target, learner] of [['host', undefined], ['qemu', undefined], ['host', innovation], ['qemu', innovation]] as const) {
    it.skipIf(target === 'qemu' && qemuMissing !== undefined)(`a reset mid-run (${target === 'host' ? 'host build, SIGUSR1' : 'Cortex-M4 in QEMU, system_reset'}; H=16, B=2, 400 steps, K=20, 2 epochs${learner ? ', innovation trace' : ''}): ResilientDevice recovers, the weights of a clean run`, async () => {
      const cfg: DeviceConfig = { ...mgConfig(16, 2, 42, 20), ...(learner ? { learner } : {}) };
      const task = mackeyGlassTask({ steps: 400, batch: 2, seed: 42 });
      const opts = { epochs: 2, lr: { w: 0.03, r: 0.03, v: 0.03 }, chunkSteps: 20 };
      const clean = await train(new EmulatorDevice(), cfg, task, opts);
      const fw = await firmware(target);
      const dir = mkdtempSync(join(tmpdir(), 'anpt-fw-ckpt-'));
      dirs.push(dir);
      const inner = new ResilientDevice(await SerialDevice.open(fw.url()), { checkpointDir: dir });
      running.push({ stop: () => inner.close() });
      // reset the board once, just before the 23rd run call (mid-way through epoch 1)
      let runs = 0;
      const dev: Device = {
        info: () => inner.info(),
        configure: (c) => inner.configure(c),
        writeParams: (p) => inner.writeParams(p),
        readParams: () => inner.readParams(),
        readState: () => inner.readState(),
        writeState: (st) => inner.writeState(st),
        reward: (q) => inner.reward(q),
        resetState: () => inner.resetState(),
        stats: () => inner.stats(),
        close: () => inner.close(),
        run: async (req: RunRequest) => {
          if (++runs === 23) {
            fw.reset();
            await new Promise((r) => setTimeout(r, 300)); // the reboot happens before the call
          }
          return inner.run(req);
        },
      };
      const got = await train(dev, cfg, task, opts);
      expect(mse(got.result)).toEqual(mse(clean.result));
      expect(got.params).toEqual(clean.params);
      const r = inner.resilience();
      expect(r.resetsRecovered).toBe(1);
      expect(r.replayedCalls).toBeGreaterThan(0);
      expect(inner.device.hello.bootCounter).toBe(2);
    }, 180_000);
  }
});

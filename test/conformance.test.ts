/**
 * One suite, three devices: the in-process EmulatorDevice, firmware-sim (a separate
 * process) over a real pseudo-terminal opened with serialport, and firmware-sim over
 * TCP. The same calls must give the same bits on all of them; that is what lets the
 * trainer run on a board without knowing it.
 *
 * The simulator children are paced at 4 Mbaud so the suite takes seconds; they are
 * stopped in afterAll. The pseudo-terminal case needs socat (.ci/run installs it) and
 * fails, not skips, without it.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { spawnFirmwareSim } from '../firmware-sim/spawn.js';
import { defaultChipFormats } from '../src/device/config.js';
import { EmulatorDevice } from '../src/device/emulator.js';
import type { Device, DeviceConfig, Params } from '../src/device/types.js';
import { ConfigError, saturatingQuantiser, type FixedFormat } from '../src/format/fixed.js';
import { trainAnpt, type TrainResult } from '../src/learn/anpt.js';
import { SerialDevice } from '../src/link/serial-device.js';
import { xavierNormal } from '../src/model/rnn.js';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';

const BAUD = 4_000_000;
const H = 32;
const B = 4;
const K = 50;
const formats = defaultChipFormats();
const config: DeviceConfig = {
  topology: { inputs: 1, hidden: H, outputs: 1, batch: B, activation: 'tanh' },
  formats,
  noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 },
  seed: 42,
  maxChunkSteps: K,
};
const shape = { inputs: 1, hidden: H, outputs: 1, activation: 'tanh' as const };

interface Opened {
  device: Device;
  close(): Promise<void>;
}

function requireSocat(): void {
  const r = spawnSync('socat', ['-V'], { stdio: 'ignore' });
  if (r.error) throw new Error('socat is not installed, and the pseudo-terminal case needs it: apt-get install -y socat (.ci/run does this on a fresh machine)');
}

async function simDevice(mode: string[], baud: number): Promise<Opened> {
  const sim = await spawnFirmwareSim([...mode, '--baud', String(baud), '--quiet']);
  try {
    const device = await SerialDevice.open(sim.url(baud), { timeoutMs: 1000 });
    return { device, close: async () => void (await device.close(), await sim.stop()) };
  } catch (e) {
    await sim.stop();
    throw e;
  }
}

const devices: { name: string; open: () => Promise<Opened> }[] = [
  { name: 'in-process EmulatorDevice', open: async () => ({ device: new EmulatorDevice(), close: async () => {} }) },
  {
    name: `firmware-sim over a pseudo-terminal (serialport, ${BAUD} baud)`,
    open: () => {
      requireSocat();
      return simDevice(['--pty'], BAUD);
    },
  },
  { name: `firmware-sim over TCP (paced at ${BAUD} baud)`, open: () => simDevice(['--tcp', '0'], BAUD) },
];

/** What quantising `x` into `f` gives on a device: nearest (ties to even), saturate. */
const quantised = (x: Float64Array, f: FixedFormat) => {
  const qz = saturatingQuantiser(f);
  return x.map((v) => qz(v) * 2 ** -f.frac);
};

/** Deterministic values in [-scale, scale), not on any grid. */
function values(n: number, seed: number, scale: number): Float64Array {
  let s = seed >>> 0;
  return Float64Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * scale;
  });
}

const task = mackeyGlassTask({ steps: 1000, batch: B, seed: 42 });
const trainOptions = {
  epochs: 2,
  lr: { w: 0.03, r: 0.03, v: 0.03 },
  chunkSteps: K,
  schedule: { kind: 'cosine' as const },
  spectral: { cap: 0.95, everySteps: 500 }, // reads and writes R over the link mid-run
  test: task.test,
};

async function mackeyGlass(device: Device): Promise<{ result: TrainResult; params: Params }> {
  await device.configure(config);
  await device.writeParams(xavierNormal(shape, 42));
  const result = await trainAnpt(device, task.train, trainOptions);
  return { result, params: await device.readParams() };
}

let reference: Promise<{ result: TrainResult; params: Params }> | undefined;
const mackeyGlassReference = () => (reference ??= mackeyGlass(new EmulatorDevice({ flavour: 'scalar' })));

describe.each(devices)('device conformance: $name', ({ open }) => {
  let opened: Opened | undefined;
  let failure: unknown;
  let dev: Device;
  beforeAll(async () => {
    // a device that cannot be opened (no socat...) fails every test with the reason, rather than skipping them
    try {
      opened = await open();
      dev = opened.device;
    } catch (e) {
      failure = e;
    }
  });
  beforeEach(() => {
    if (failure) throw failure;
  });
  afterAll(async () => {
    await opened?.close();
  });

  it('announces its limits; once configured, its chunk limit is the configured one', async () => {
    const info = await dev.info();
    expect(info.fixedPoint).toBe(true);
    expect(info.maxHidden).toBeGreaterThanOrEqual(H);
    await dev.configure(config);
    expect((await dev.info()).maxChunkSteps).toBe(K);
  });

  it('configure zeroes weights and state; parameters and state read back exactly what was written, quantised like the chip', async () => {
    await dev.configure(config);
    const zero = await dev.readParams();
    expect([...zero.w, ...zero.r, ...zero.v].every((x) => x === 0)).toBe(true);
    // off-grid values and values beyond the format's range (+-4 for Q2.13): rounded and saturated
    const p: Params = { w: values(H, 1, 6), r: values(H * H, 2, 0.3), v: values(H, 3, 5) };
    await dev.writeParams(p);
    const back = await dev.readParams();
    expect(back).toEqual({ w: quantised(p.w, formats.weight), r: quantised(p.r, formats.weight), v: quantised(p.v, formats.weight) });
    await dev.writeParams(back); // exact codes go through unchanged
    expect(await dev.readParams()).toEqual(back);
    const s = { clean: values(B * H, 4, 1.2), noisy: values(B * H, 5, 0.9) };
    await dev.writeState(s);
    expect(await dev.readState()).toEqual({ clean: quantised(s.clean, formats.activity), noisy: quantised(s.noisy, formats.activity) });
    await dev.resetState();
    const z = await dev.readState();
    expect([...z.clean, ...z.noisy].every((x) => x === 0)).toBe(true);
  });

  it('run and reward: the same bits as the emulator; a noisy chunk takes exactly one reward with its t0', async () => {
    const ref = new EmulatorDevice({ flavour: 'scalar' });
    const params = xavierNormal(shape, 7);
    for (const d of [dev, ref]) {
      await d.configure(config);
      await d.writeParams(params);
    }
    const inputs = values(K * B, 9, 1);
    // the hidden trace (B x H codes per step) fits a 16 KiB frame only for short chunks
    const traced = { steps: 10, t0: 990, inputs: inputs.subarray(0, 10 * B), noisy: false, hiddenTrace: true };
    const trace = await dev.run(traced);
    expect(trace).toEqual(await ref.run(traced));
    expect(trace.hidden).toHaveLength(10 * B * H);
    const t0 = 1000;
    const got = await dev.run({ steps: K, t0, inputs, noisy: true });
    const want = await ref.run({ steps: K, t0, inputs, noisy: true });
    expect(got.clean).toEqual(want.clean);
    expect(got.noisy).toEqual(want.noisy);
    expect(got.noisy).not.toEqual(got.clean);
    await expect(dev.reward({ t0: t0 + 1, deltaLoss: new Float64Array(K).fill(1e-3), lr: { w: 0.1, r: 0.1, v: 0.1 } })).rejects.toMatchObject({ code: 'NO_PENDING_CHUNK' });
    const reward = { t0, deltaLoss: values(K, 11, 1e-3), lr: { w: 0.1, r: 0.1, v: 0.1 } };
    await dev.reward(reward);
    await ref.reward(reward);
    await expect(dev.reward(reward)).rejects.toMatchObject({ code: 'NO_PENDING_CHUNK' });
    expect(await dev.readParams()).toEqual(await ref.readParams());
    expect(await dev.readParams()).not.toEqual(params);
    // a clean run continues from the same state, and leaves nothing to reward
    const clean = await dev.run({ steps: K, t0: t0 + K, inputs, noisy: false });
    expect(clean.clean).toEqual((await ref.run({ steps: K, t0: t0 + K, inputs, noisy: false })).clean);
    expect(clean.noisy).toHaveLength(0);
    await expect(dev.reward({ ...reward, t0: t0 + K })).rejects.toMatchObject({ code: 'NO_PENDING_CHUNK' });
  });

  it('refuses a reward without a chunk, and a configuration beyond its limits, naming the field', async () => {
    await dev.configure(config);
    const e = await dev.reward({ t0: 0, deltaLoss: Float64Array.of(1), lr: { w: 0, r: 0, v: 0 } }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'NO_PENDING_CHUNK' });
    expect((e as Error).message).not.toContain('\n');
    const maxHidden = (await dev.info()).maxHidden;
    const big = await dev.configure({ ...config, topology: { ...config.topology, hidden: maxHidden + 1 } }).catch((x: unknown) => x);
    expect(big).toBeInstanceOf(ConfigError);
    expect((big as ConfigError).field).toBe('topology.hidden');
    expect((big as Error).message).toMatch(new RegExp(`topology.hidden: ${maxHidden + 1} is out of range; allowed integers 1..${maxHidden}`));
  });

  it('Mackey-Glass ANP-T (H=32, B=4, 1000 steps, K=50, 2 epochs, seed 42): the same train and test MSE and weights as the emulator, bit for bit', async () => {
    const want = await mackeyGlassReference();
    const got = await mackeyGlass(dev);
    expect(got.result.status).toBe('ok');
    expect(got.result.epochs.map((e) => [e.trainMse, e.testMse])).toEqual(want.result.epochs.map((e) => [e.trainMse, e.testMse]));
    expect(got.params).toEqual(want.params);
    // and it learned: test MSE well below the all-zero output's
    expect(got.result.epochs[1].testMse! / got.result.zeroOutputMse.test!).toBeLessThan(0.2);
  });
});

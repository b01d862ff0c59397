/**
 * The Device conformance suite, as a function: one call adds a device to it.
 *
 *   import { describeConformance } from './suite.js';
 *   describeConformance('my board over TCP', async () => {
 *     const device = await SerialDevice.open('tcp://127.0.0.1:5555');
 *     return { device, close: () => device.close() };
 *   });
 *
 * `open` must give an UNCONFIGURED device (the first test checks that every call but
 * configure is refused NOT_CONFIGURED); it is called once, in beforeAll, and `close`
 * in afterAll. The tests run in order on that one device. A device that cannot be
 * opened fails every test with the reason (nothing is skipped).
 *
 * What it checks:
 * - behaviour, on every device: each refusal of the contract (src/device/contract.ts)
 *   gives the same DeviceError code, and a refused call changes nothing: parameters,
 *   both states and the step/update/call counters are equal before and after, and a
 *   valid call (the pending chunk's reward, a run) still works afterwards;
 * - bits, on fixed-point devices (`bitExact`, default true): reads
 *   and writes quantised like the chip, runs and rewards bit-identical to the
 *   in-process scalar emulator, and 2 epochs of Mackey-Glass ANP-T giving the same
 *   MSEs and weights as the emulator, bit for bit.
 *
 * The C firmware adds its two devices (say, its build on QEMU over a pty and over TCP)
 * with one describeConformance call each in its own test file, e.g.
 * test/conformance/c-firmware.test.ts, and one describeWireConformance call (wire.ts:
 * raw requests, for the checks the host makes before sending and so would hide).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultChipFormats } from '../../src/device/config.js';
import { EmulatorDevice } from '../../src/device/emulator.js';
import type { Device, DeviceConfig, DeviceStats, EligibilityTraces, Params, RecurrentState } from '../../src/device/types.js';
import { ConfigError, saturatingQuantiser, type FixedFormat } from '../../src/format/fixed.js';
import { traceCodeFormats } from '../../src/device/config.js';
import { trainAnpt, type TrainResult } from '../../src/learn/anpt.js';
import { xavierNormal } from '../../src/model/rnn.js';
import { mackeyGlassTask } from '../../src/tasks/mackey-glass.js';

export interface OpenedDevice {
  device: Device;
  close(): Promise<void>;
}

export interface ConformanceOptions {
  /** A fixed-point device whose bits must match the emulator's (default true; false for the float model). */
  bitExact?: boolean;
  /** The device keeps eligibility traces (a learner trace; default true); false: it must refuse one (learner.trace), changing nothing. */
  traces?: boolean;
}

const H = 32;
const B = 4;
const K = 50;
const formats = defaultChipFormats();
export const CONFORMANCE_CONFIG: DeviceConfig = {
  topology: { inputs: 1, hidden: H, outputs: 1, batch: B, activation: 'tanh' },
  formats,
  noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 },
  seed: 42,
  maxChunkSteps: K,
};
const config = CONFORMANCE_CONFIG;
const shape = { inputs: 1, hidden: H, outputs: 1, activation: 'tanh' as const };
const lr = { w: 0.1, r: 0.1, v: 0.1 };

/** What quantising `x` into `f` gives on a device: nearest (ties to even), saturate. */
const quantised = (x: Float64Array, f: FixedFormat) => {
  const qz = saturatingQuantiser(f);
  return x.map((v) => (qz(v) || 0) * 2 ** -f.frac); // (a code 0 reads back as +0)
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

/** Everything a refused call must leave as it was. */
interface Snapshot {
  params: Params;
  state: RecurrentState;
  counters: Omit<DeviceStats, 'link'>;
}

async function snapshot(d: Device): Promise<Snapshot> {
  const { steps, updates, runCalls, rewardCalls } = await d.stats();
  return { params: await d.readParams(), state: await d.readState(), counters: { steps, updates, runCalls, rewardCalls } };
}

/** `call` is refused with `code`, as a DeviceError whose message is one line. */
async function refused(call: Promise<unknown>, code: string): Promise<void> {
  const e = await call.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e, `expected a ${code} refusal, the call succeeded`).toBeDefined();
  expect(e).toMatchObject({ code });
  expect((e as Error).message).not.toContain('\n');
}

const inputs = (steps: number, seed = 9) => values(steps * B, seed, 1);
const dL = (steps: number, seed = 11) => values(steps, seed, 1e-3);

export function describeConformance(name: string, open: () => Promise<OpenedDevice>, opts: ConformanceOptions = {}): void {
  describe(`device conformance: ${name}`, () => {
    let opened: OpenedDevice | undefined;
    let failure: unknown;
    let dev: Device;
    const bitExact = opts.bitExact ?? true;
    beforeAll(async () => {
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

    /** Configure, write parameters, run one noisy chunk at t0 (pending now). */
    async function ready(t0 = 100): Promise<void> {
      await dev.configure(config);
      await dev.writeParams(xavierNormal(shape, 7));
      await dev.run({ steps: K, t0, inputs: inputs(K), noisy: true });
    }

    /** `call` is refused with `code` and changes nothing the snapshot sees. */
    async function refusedUnchanged(call: () => Promise<unknown>, code: string): Promise<void> {
      const before = await snapshot(dev);
      await refused(call(), code);
      expect(await snapshot(dev)).toEqual(before);
    }

    it('before configure, every call but configure is refused NOT_CONFIGURED', async () => {
      await refused(dev.run({ steps: 1, t0: 0, inputs: inputs(1), noisy: true }), 'NOT_CONFIGURED');
      await refused(dev.reward({ t0: 0, deltaLoss: dL(1), lr }), 'NOT_CONFIGURED');
      await refused(dev.writeParams(xavierNormal(shape, 1)), 'NOT_CONFIGURED');
      await refused(dev.readParams(), 'NOT_CONFIGURED');
      await refused(dev.readState(), 'NOT_CONFIGURED');
      await refused(dev.resetState(), 'NOT_CONFIGURED');
    });

    it('announces its limits; once configured, its chunk limit is the configured one', async () => {
      const info = await dev.info();
      expect(info.maxHidden).toBeGreaterThanOrEqual(H);
      await dev.configure(config);
      expect((await dev.info()).maxChunkSteps).toBe(K);
    });

    it('refuses a configuration beyond its limits with a ConfigError naming the field', async () => {
      const maxHidden = (await dev.info()).maxHidden;
      const big = await dev.configure({ ...config, topology: { ...config.topology, hidden: maxHidden + 1 } }).catch((x: unknown) => x);
      expect(big).toBeInstanceOf(ConfigError);
      expect((big as ConfigError).field).toBe('topology.hidden');
      expect((big as Error).message).toMatch(new RegExp(`topology.hidden: ${maxHidden + 1} is out of range; allowed integers 1..${maxHidden}`));
    });

    it('run refusals: steps 0 or 1.5 BAD_REQUEST, over maxChunkSteps TOO_LARGE, bad t0 BAD_REQUEST, wrong input length BAD_REQUEST, non-finite input BAD_INPUT; each changes nothing, the pending chunk included', async () => {
      await ready(100);
      const run = (over: object) => () => dev.run({ steps: 2, t0: 500, inputs: inputs(2), noisy: true, ...over });
      await refusedUnchanged(run({ steps: 0, inputs: inputs(0) }), 'BAD_REQUEST');
      await refusedUnchanged(run({ steps: 1.5 }), 'BAD_REQUEST');
      await refusedUnchanged(run({ steps: K + 1, inputs: inputs(K + 1) }), 'TOO_LARGE');
      for (const t0 of [-1, 2 ** 32, 1.5, NaN]) await refusedUnchanged(run({ t0 }), 'BAD_REQUEST');
      await refusedUnchanged(run({ inputs: inputs(3) }), 'BAD_REQUEST');
      for (const bad of [NaN, Infinity, -Infinity]) await refusedUnchanged(run({ inputs: inputs(2).map((x, i) => (i === 5 ? bad : x)) }), 'BAD_INPUT');
      // the noisy chunk at t0 100 is still the pending one: its reward works
      await dev.reward({ t0: 100, deltaLoss: dL(K), lr });
    });

    it('reward refusals: none pending, twice, other t0, after a clean run NO_PENDING_CHUNK; bad t0 or wrong length BAD_REQUEST; non-finite dL or lr BAD_INPUT; each changes nothing', async () => {
      await dev.configure(config);
      await dev.writeParams(xavierNormal(shape, 7));
      await refusedUnchanged(() => dev.reward({ t0: 0, deltaLoss: dL(K), lr }), 'NO_PENDING_CHUNK');
      await dev.run({ steps: K, t0: 100, inputs: inputs(K), noisy: true });
      const reward = (over: object) => () => dev.reward({ t0: 100, deltaLoss: dL(K), lr, ...over });
      await refusedUnchanged(reward({ t0: 101 }), 'NO_PENDING_CHUNK');
      await refusedUnchanged(reward({ t0: 100 + 2 ** 32 }), 'BAD_REQUEST'); // would wrap to 100 on a uint32 wire
      await refusedUnchanged(reward({ t0: -1 }), 'BAD_REQUEST');
      await refusedUnchanged(reward({ deltaLoss: dL(K - 1) }), 'BAD_REQUEST');
      await refusedUnchanged(reward({ deltaLoss: dL(K + 1) }), 'BAD_REQUEST');
      await refusedUnchanged(reward({ deltaLoss: dL(K).map((x, k) => (k === 7 ? NaN : x)) }), 'BAD_INPUT');
      await refusedUnchanged(reward({ deltaLoss: dL(K).map((x, k) => (k === 0 ? Infinity : x)) }), 'BAD_INPUT');
      await refusedUnchanged(reward({ lr: { ...lr, r: NaN } }), 'BAD_INPUT');
      await refusedUnchanged(reward({ lr: { ...lr, v: -Infinity } }), 'BAD_INPUT');
      // after all those refusals the chunk is still pending: its reward is applied
      const before = await dev.readParams();
      await reward({})();
      expect(await dev.readParams()).not.toEqual(before);
      await refusedUnchanged(reward({}), 'NO_PENDING_CHUNK'); // rewarded once only
      // a clean run cancels a pending chunk
      await dev.run({ steps: K, t0: 200, inputs: inputs(K), noisy: true });
      await dev.run({ steps: K, t0: 250, inputs: inputs(K), noisy: false });
      await refusedUnchanged(reward({ t0: 200 }), 'NO_PENDING_CHUNK');
      await refusedUnchanged(reward({ t0: 250 }), 'NO_PENDING_CHUNK');
      // a new noisy chunk can be rewarded again
      await dev.run({ steps: K, t0: 300, inputs: inputs(K), noisy: true });
      await reward({ t0: 300 })();
    });

    it('writeParams / writeState refusals: a wrong length BAD_REQUEST, a non-finite value BAD_INPUT, and no tensor is written', async () => {
      await ready(100);
      const p = xavierNormal(shape, 3);
      await refusedUnchanged(() => dev.writeParams({ ...p, r: p.r.subarray(1) }), 'BAD_REQUEST');
      await refusedUnchanged(() => dev.writeParams({ ...p, v: new Float64Array(H + 1) }), 'BAD_REQUEST');
      await refusedUnchanged(() => dev.writeParams({ ...p, v: p.v.map((x, i) => (i === 2 ? NaN : x)) }), 'BAD_INPUT');
      await refusedUnchanged(() => dev.writeParams({ ...p, r: p.r.map((x, i) => (i === 9 ? Infinity : x)) }), 'BAD_INPUT');
      const s = { clean: values(B * H, 4, 0.5), noisy: values(B * H, 5, 0.5) };
      await refusedUnchanged(() => dev.writeState({ ...s, noisy: s.noisy.subarray(1) }), 'BAD_REQUEST');
      await refusedUnchanged(() => dev.writeState({ ...s, noisy: s.noisy.map((x, i) => (i === 1 ? NaN : x)) }), 'BAD_INPUT');
      // still pending, and a valid write works
      await dev.reward({ t0: 100, deltaLoss: dL(K), lr });
      await dev.writeParams(p);
      const back = await dev.readParams();
      expect(bitExact ? back : back.w).toEqual(bitExact ? { w: quantised(p.w, formats.weight), r: quantised(p.r, formats.weight), v: quantised(p.v, formats.weight) } : p.w);
    });

    it('configure zeroes weights and state; parameters and state read back what was written (quantised like the chip on a fixed-point device)', async () => {
      await dev.configure(config);
      const zero = await dev.readParams();
      expect([...zero.w, ...zero.r, ...zero.v].every((x) => x === 0)).toBe(true);
      // off-grid values and values beyond the format's range (+-4 for Q2.13): rounded and saturated
      const p: Params = { w: values(H, 1, 6), r: values(H * H, 2, 0.3), v: values(H, 3, 5) };
      await dev.writeParams(p);
      const back = await dev.readParams();
      expect(back).toEqual(bitExact ? { w: quantised(p.w, formats.weight), r: quantised(p.r, formats.weight), v: quantised(p.v, formats.weight) } : p);
      await dev.writeParams(back); // exact codes go through unchanged
      expect(await dev.readParams()).toEqual(back);
      const s = { clean: values(B * H, 4, 1.2), noisy: values(B * H, 5, 0.9) };
      await dev.writeState(s);
      expect(await dev.readState()).toEqual(bitExact ? { clean: quantised(s.clean, formats.activity), noisy: quantised(s.noisy, formats.activity) } : s);
      await dev.resetState();
      const z = await dev.readState();
      expect([...z.clean, ...z.noisy].every((x) => x === 0)).toBe(true);
    });

    it('biases (topology.bias): b and c refused without it or at a wrong length (BAD_REQUEST) or non-finite (BAD_INPUT), changing nothing; with it they read back what was written (quantised like the chip: b in the pre-activation format, c in the output format) and ANP-T moves them', async () => {
      const biased: DeviceConfig = { ...config, topology: { ...config.topology, bias: true } };
      const p = xavierNormal(shape, 3);
      const bc = { b: values(H, 21, 0.3), c: values(1, 22, 0.3) };
      await ready(100);
      await refusedUnchanged(() => dev.writeParams({ ...p, ...bc }), 'BAD_REQUEST'); // configured without biases
      await dev.configure(biased);
      await dev.writeParams({ ...p, ...bc });
      await dev.run({ steps: K, t0: 100, inputs: inputs(K), noisy: true });
      await refusedUnchanged(() => dev.writeParams(p), 'BAD_REQUEST'); // b and c missing
      await refusedUnchanged(() => dev.writeParams({ ...p, ...bc, b: bc.b.subarray(1) }), 'BAD_REQUEST');
      await refusedUnchanged(() => dev.writeParams({ ...p, ...bc, c: new Float64Array(2) }), 'BAD_REQUEST');
      await refusedUnchanged(() => dev.writeParams({ ...p, ...bc, b: bc.b.map((x, i) => (i === 3 ? NaN : x)) }), 'BAD_INPUT');
      const back = await dev.readParams();
      expect({ b: back.b, c: back.c }).toEqual(bitExact ? { b: quantised(bc.b, formats.pre), c: quantised(bc.c, formats.output) } : bc);
      // the chunk is still pending: its reward moves the biases (a weight on input 1 each)
      await dev.reward({ t0: 100, deltaLoss: dL(K), lr });
      const after = await dev.readParams();
      expect(after.b).not.toEqual(back.b);
      expect(after.c).not.toEqual(back.c);
      if (!bitExact) return;
      // the same bits as the emulator
      const ref = new EmulatorDevice({ flavour: 'scalar' });
      await ref.configure(biased);
      await ref.writeParams({ ...p, ...bc });
      const want = await ref.run({ steps: K, t0: 100, inputs: inputs(K), noisy: true });
      await ref.reward({ t0: 100, deltaLoss: dL(K), lr });
      expect(after).toEqual(await ref.readParams());
      await dev.writeParams({ ...p, ...bc });
      await dev.resetState();
      const got = await dev.run({ steps: K, t0: 100, inputs: inputs(K), noisy: true });
      expect([got.clean, got.noisy]).toEqual([want.clean, want.noisy]);
    });

    it('eligibility traces (learner innovation): refused without a learner trace, the bias trace without biases, at a wrong length (BAD_REQUEST) or non-finite (BAD_INPUT), changing nothing; written and read back (quantised to the int32 trace codes on a fixed-point device); a reward moves them, an absent trace writes zeros, resetState zeroes them', async () => {
      const traced: DeviceConfig = { ...config, learner: { trace: 'innovation', decay: 0.9 } };
      const p = xavierNormal(shape, 3);
      const st = { clean: values(B * H, 4, 0.5), noisy: values(B * H, 5, 0.5) };
      const e: EligibilityTraces = { w: values(H, 23, 1e-3), r: values(H * H, 24, 1e-3) };
      if (opts.traces === false) {
        await ready(100);
        const before = await snapshot(dev);
        const err = await dev.configure(traced).catch((x: unknown) => x);
        expect(err).toBeInstanceOf(ConfigError);
        expect((err as ConfigError).field).toBe('learner.trace');
        expect(await snapshot(dev)).toEqual(before);
        await dev.reward({ t0: 100, deltaLoss: dL(K), lr }); // still configured, the chunk still pending
        return;
      }
      await ready(100);
      await refusedUnchanged(() => dev.writeState({ ...st, eligibility: e }), 'BAD_REQUEST'); // no learner trace
      await dev.configure(traced);
      await dev.writeParams(p);
      await dev.run({ steps: K, t0: 100, inputs: inputs(K), noisy: true });
      await refusedUnchanged(() => dev.writeState({ ...st, eligibility: { ...e, b: values(H, 25, 1e-3) } }), 'BAD_REQUEST'); // no biases
      await refusedUnchanged(() => dev.writeState({ ...st, eligibility: { ...e, r: e.r.subarray(1) } }), 'BAD_REQUEST');
      await refusedUnchanged(() => dev.writeState({ ...st, eligibility: { ...e, w: e.w.map((x, i) => (i === 3 ? NaN : x)) } }), 'BAD_INPUT');
      await dev.reward({ t0: 100, deltaLoss: dL(K), lr }); // still pending
      const moved = (await dev.readState()).eligibility!;
      expect(moved.w.some((x) => x !== 0) && moved.r.some((x) => x !== 0)).toBe(true);
      await dev.writeState({ ...st, eligibility: e });
      const f = traceCodeFormats({ ...traced, formats })!;
      expect((await dev.readState()).eligibility).toEqual(bitExact ? { w: quantised(e.w, f.w), r: quantised(e.r, f.r) } : e);
      const zero = (x: EligibilityTraces | undefined) => [...x!.w, ...x!.r].every((v) => v === 0);
      await dev.writeState(st);
      expect(zero((await dev.readState()).eligibility)).toBe(true);
      await dev.writeState({ ...st, eligibility: e });
      await dev.resetState();
      expect(zero((await dev.readState()).eligibility)).toBe(true);
      if (!bitExact) return;
      // a run and its reward from written traces: the same weights and traces as the emulator
      const ref = new EmulatorDevice({ flavour: 'scalar' });
      await ref.configure(traced);
      for (const d of [dev, ref]) {
        await d.writeParams(p);
        await d.writeState({ ...st, eligibility: e });
        await d.run({ steps: K, t0: 200, inputs: inputs(K), noisy: true });
        await d.reward({ t0: 200, deltaLoss: dL(K), lr });
      }
      expect(await dev.readParams()).toEqual(await ref.readParams());
      expect(await dev.readState()).toEqual(await ref.readState());
    });

    // A float device has no bits to match: its behaviour is checked above.
    if (!bitExact) return;

    it('announces a fixed-point device', async () => {
      expect((await dev.info()).fixedPoint).toBe(true);
    });

    it('run and reward: the same bits as the emulator', async () => {
      const ref = new EmulatorDevice({ flavour: 'scalar' });
      const params = xavierNormal(shape, 7);
      for (const d of [dev, ref]) {
        await d.configure(config);
        await d.writeParams(params);
      }
      const x = inputs(K);
      // the hidden trace (B x H codes per step) fits a 16 KiB frame only for short chunks
      const traced = { steps: 10, t0: 990, inputs: x.subarray(0, 10 * B), noisy: false, hiddenTrace: true };
      const trace = await dev.run(traced);
      expect(trace).toEqual(await ref.run(traced));
      expect(trace.hidden).toHaveLength(10 * B * H);
      const t0 = 1000;
      const got = await dev.run({ steps: K, t0, inputs: x, noisy: true });
      const want = await ref.run({ steps: K, t0, inputs: x, noisy: true });
      expect(got.clean).toEqual(want.clean);
      expect(got.noisy).toEqual(want.noisy);
      expect(got.noisy).not.toEqual(got.clean);
      const reward = { t0, deltaLoss: dL(K), lr };
      await dev.reward(reward);
      await ref.reward(reward);
      expect(await dev.readParams()).toEqual(await ref.readParams());
      expect(await dev.readParams()).not.toEqual(params);
      expect(await dev.readState()).toEqual(await ref.readState());
      // a clean run continues from the same state
      const clean = await dev.run({ steps: K, t0: t0 + K, inputs: x, noisy: false });
      expect(clean.clean).toEqual((await ref.run({ steps: K, t0: t0 + K, inputs: x, noisy: false })).clean);
      expect(clean.noisy).toHaveLength(0);
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
}

/**
 * Eligibility traces over the link (issue 11; docs/protocol.md): Limits.traces,
 * Configure.learner and the trace tensors TRACE_W, TRACE_R, TRACE_BIAS (int32 codes of
 * the trace formats, src/format/trace.ts). The device service serves any Device's
 * readState().eligibility as codes; a board that does not announce traces is refused
 * by the host before anything is sent, and refuses a raw learner itself, changing
 * nothing either way.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { SimBoard } from '../firmware-sim/board.js';
import { defaultChipFormats } from '../src/device/config.js';
import { EmulatorDevice } from '../src/device/emulator.js';
import { runGolden, type GoldenVector } from '../src/device/golden.js';
import type { ChipFormats, Device, DeviceConfig, LearnerConfig, RecurrentState } from '../src/device/types.js';
import { ConfigError, saturatingQuantiser, type FixedFormat } from '../src/format/fixed.js';
import { configToWire } from '../src/link/codes.js';
import { traceCodeFormats } from '../src/device/config.js';
import { createDeviceServer } from '../src/link/device-server.js';
import * as pb from '../src/link/messages.js';
import { SerialDevice } from '../src/link/serial-device.js';
import { memoryPair } from '../src/link/transport-memory.js';
import { FloatDevice } from '../src/model/float-device.js';
import { xavierNormal } from '../src/model/rnn.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

async function connect(attach: (b: ReturnType<typeof memoryPair>['b']) => void, maxPieceBytes?: number): Promise<SerialDevice> {
  const { a, b } = memoryPair();
  attach(b);
  const dev = await SerialDevice.connect(a, { helloTimeoutMs: 500, retries: 1, timeoutMs: 2000, maxPieceBytes });
  closers.push(() => dev.close());
  return dev;
}
const onBoard = (board: SimBoard) => connect((b) => board.attach(b));
/** A SerialDevice to the device service serving `device` (small pieces: a trace goes in several). */
const served = (device: Device) => connect((b) => void createDeviceServer(device).server.serve(b), 128);

const H = 8, B = 2, K = 20;
const shape = { inputs: 2, hidden: H, outputs: 2, activation: 'tanh' as const };
const innovation: LearnerConfig = { trace: 'innovation', decay: 0.9 };
const cfg = (learner?: LearnerConfig, bias = false): DeviceConfig & { formats: ChipFormats } => ({
  topology: { ...shape, batch: B, bias }, formats: defaultChipFormats(), noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 }, seed: 3, maxChunkSteps: K,
  ...(learner ? { learner } : {}),
});

/** Deterministic values in [-scale, scale). */
function values(n: number, seed: number, scale: number): Float64Array {
  let s = seed >>> 0;
  return Float64Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 * 2 - 1) * scale);
}
const quantised = (x: Float64Array, f: FixedFormat) => {
  const qz = saturatingQuantiser(f);
  return x.map((v) => (qz(v) || 0) * 2 ** -f.frac);
};

/** K noisy steps and their reward, the same calls on each device. */
async function train(devs: Device[], t0: number): Promise<void> {
  const inputs = values(K * B * shape.inputs, t0 + 1, 1);
  for (const d of devs) {
    await d.run({ steps: K, t0, inputs, noisy: true });
    await d.reward({ t0, deltaLoss: values(K, t0 + 2, 1e-3), lr: { w: 0.1, r: 0.1, v: 0.1 } });
  }
}

describe('eligibility traces over the link', () => {
  for (const file of readdirSync('test/golden/trace').filter((f) => f.endsWith('.json')))
    it(`golden vector ${file} over the link to firmware-sim, bit for bit (outputs, weights and trace codes)`, async () => {
      const v = JSON.parse(readFileSync(`test/golden/trace/${file}`, 'utf8')) as GoldenVector;
      expect(await runGolden(await onBoard(new SimBoard()), v)).toEqual(v.expected);
    });

  it('the device service serves a Device\'s traces as int32 codes of the trace formats, in pieces: read, written, zero when left out', async () => {
    const float = new FloatDevice();
    const dev = await served(float);
    expect(dev.hello.limits?.traces).toBe(true);
    const c = cfg(innovation, true);
    await dev.configure(c);
    expect((await dev.readConfig()).learner).toEqual(innovation);
    await dev.writeParams({ ...xavierNormal(shape, 1), b: new Float64Array(H), c: new Float64Array(2) });
    await train([dev], 0);
    const f = traceCodeFormats(c)!;
    const got = (await dev.readState()).eligibility!; // (first: the pipelined reward goes out with it)
    const want = (await float.readState()).eligibility!;
    expect(got.w.some((x) => x !== 0)).toBe(true);
    expect(got).toEqual({ w: quantised(want.w, f.w), r: quantised(want.r, f.r), b: quantised(want.b!, f.b) });
    // written: the device gets the codes' values
    const e = { w: values(H * 2, 5, 1e-3), r: values(H * H, 6, 1e-3), b: values(H, 7, 1e-3) };
    const s: RecurrentState = { clean: values(B * H, 8, 0.5), noisy: values(B * H, 9, 0.5), eligibility: e };
    await dev.writeState(s);
    const exact = { w: quantised(e.w, f.w), r: quantised(e.r, f.r), b: quantised(e.b, f.b) };
    expect((await dev.readState()).eligibility).toEqual(exact); // (first: the staged pieces go to the Device before it)
    expect((await float.readState()).eligibility).toEqual(exact);
    // left out: zero (the Device contract)
    await dev.writeState({ clean: s.clean, noisy: s.noisy });
    const zero = (await dev.readState()).eligibility!;
    expect((await float.readState()).eligibility).toEqual(zero);
    expect([...zero.w, ...zero.r, ...zero.b!].every((x) => x === 0)).toBe(true);
  });

  it('trace tensors are BAD_REQUEST (field naming the tensor) without a learner trace, and the bias trace without biases; nothing changes', async () => {
    const float = new FloatDevice();
    const dev = await served(float);
    const raw = (c: 'readParams' | 'writeParams', tensor: pb.Tensor) =>
      c === 'readParams' ? dev.rpc.call('readParams', { tensor, offset: 0, count: 4 }) : dev.rpc.call('writeParams', { tensor, offset: 0, codes: Int32Array.of(1, -2, 3, 4) });
    for (const [c, tensors] of [[cfg(), [pb.Tensor.TRACE_W, pb.Tensor.TRACE_R, pb.Tensor.TRACE_BIAS]], [cfg(innovation), [pb.Tensor.TRACE_BIAS]]] as const) {
      await dev.configure(c);
      await dev.writeParams(xavierNormal(shape, 1));
      await train([dev], 0);
      const before = [await float.readParams(), await float.readState()];
      for (const tensor of tensors)
        for (const call of ['readParams', 'writeParams'] as const) {
          const r = await raw(call, tensor);
          expect(r, `${call} of tensor ${tensor}`).toMatchObject({ status: 'DEVICE_ERROR', error: { code: pb.ErrorCode.BAD_REQUEST, field: `${call === 'readParams' ? 'read' : 'write'}_params.tensor` } });
          expect([await float.readParams(), await float.readState()]).toEqual(before);
        }
    }
  });

  for (const bias of [false, true])
    it(`firmware-sim trains with the innovation trace (H=8, B=2, 4 chunks of 5 steps, decay 0.9${bias ? ', biases' : ''}) to the weights and traces of the in-process emulator, bit for bit`, async () => {
      const board = await connect((b) => new SimBoard().attach(b), 96); // pieces of 12 trace codes
      const emu = new EmulatorDevice();
      const c = { ...cfg(innovation, bias), maxChunkSteps: 5 };
      const p = xavierNormal(shape, 4);
      for (const d of [board, emu]) {
        await d.configure(c);
        await d.writeParams(bias ? { ...p, b: values(H, 11, 0.1), c: values(2, 12, 0.1) } : p);
      }
      for (let t0 = 0; t0 < 20; t0 += 5) {
        const inputs = values(5 * B * shape.inputs, t0 + 1, 1);
        const outs = [];
        for (const d of [board, emu]) {
          outs.push(await d.run({ steps: 5, t0, inputs, noisy: true }));
          await d.reward({ t0, deltaLoss: values(5, t0 + 2, 1e-3), lr: { w: 0.1, r: 0.1, v: 0.1 } });
        }
        expect(outs[0]).toEqual(outs[1]);
      }
      const [got, want] = [await board.readState(), await emu.readState()];
      expect(got.eligibility!.r.some((x) => x !== 0)).toBe(true);
      expect(got.eligibility!.b !== undefined).toBe(bias);
      expect(got).toEqual(want);
      expect(await board.readParams()).toEqual(await emu.readParams());
      // written over the link to a fresh board, the emulator's state and traces are the ones it goes on learning from
      const fresh = await connect((b) => new SimBoard().attach(b), 96);
      await fresh.configure(c);
      await fresh.writeParams(await emu.readParams());
      await fresh.writeState(want);
      for (const d of [fresh, emu]) {
        await d.run({ steps: 5, t0: 20, inputs: values(5 * B * shape.inputs, 21, 1), noisy: true });
        await d.reward({ t0: 20, deltaLoss: values(5, 22, 1e-3), lr: { w: 0.1, r: 0.1, v: 0.1 } });
      }
      expect(await fresh.readParams()).toEqual(await emu.readParams());
      expect(await fresh.readState()).toEqual(await emu.readState());
    });

  it('a board without traces: the host refuses learner.trace with a ConfigError, nothing sent, nothing changed; a raw learner is CONFIG_OUT_OF_RANGE', async () => {
    const board = new SimBoard({ traces: false });
    const dev = await onBoard(board);
    expect(dev.hello.limits?.traces).toBe(false);
    await dev.configure(cfg());
    await dev.writeParams(xavierNormal(shape, 1));
    const before = await dev.readParams();
    const sent = dev.rpc.stats().framesOut;
    const err = await dev.configure(cfg(innovation)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe('learner.trace');
    expect(dev.rpc.stats().framesOut).toBe(sent); // nothing was sent
    expect(await dev.readParams()).toEqual(before); // still configured as before, weights kept
    // sent anyway (an old host, a raw call): the board refuses it, and nothing changes
    const r = await dev.rpc.call('configure', configToWire(cfg(innovation)));
    expect(r).toMatchObject({ status: 'DEVICE_ERROR', error: { code: pb.ErrorCode.CONFIG_OUT_OF_RANGE, field: 'configure.learner.trace' } });
    expect(await dev.readParams()).toEqual(before);
    expect((await dev.readConfig()).learner).toBeUndefined();
  });
});

// The pipelined link (docs/protocol.md section 3, Pipelining): Reward(k) goes out back to
// back with Run(k+1), a clean run as a window of pieces; Request.after keeps the order
// exact, so lost, damaged and misfiled frames in any position of a window still end in
// the emulator's bits. Over an in-memory link whose hooks see every frame.
import { describe, expect, it } from 'vitest';
import { defaultChipFormats } from '../src/device/config.js';
import { EmulatorDevice } from '../src/device/emulator.js';
import type { Device, DeviceConfig, Params, RewardRequest } from '../src/device/types.js';
import { trainAnpt } from '../src/learn/anpt.js';
import { evaluate } from '../src/learn/evaluate.js';
import { decodeRequest, decodeResponse, encodeResponse } from '../src/link/codec.js';
import { createDeviceServer } from '../src/link/device-server.js';
import { FrameDecoder, encodeFrame } from '../src/link/frame.js';
import { SerialDevice } from '../src/link/serial-device.js';
import { memoryPair, type FaultHook } from '../src/link/transport-memory.js';
import { xavierNormal } from '../src/model/rnn.js';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';

const config: DeviceConfig = {
  topology: { inputs: 1, hidden: 12, outputs: 1, batch: 2, activation: 'tanh' },
  formats: defaultChipFormats(),
  noise: { hiddenSigma: 0.02, outputSigma: 0.02 },
  seed: 5,
  maxChunkSteps: 200,
};
const task = mackeyGlassTask({ steps: 200, batch: 2, seed: 3 });

/** Train (chunks of `chunk`), evaluate (clean runs of up to 200 steps), and return everything that came back. */
async function session(dev: Device, chunk: number): Promise<{ params: Params; mse: number[] }> {
  await dev.configure(config);
  await dev.writeParams(xavierNormal({ inputs: 1, hidden: 12, outputs: 1, activation: 'tanh' }, 5));
  const r = await trainAnpt(dev, task.train, { epochs: 2, lr: { w: 0.02, r: 0.02, v: 0.02 }, chunkSteps: chunk });
  const ev = await evaluate(dev, task.test);
  return { params: await dev.readParams(), mse: [...r.epochs.map((e) => e.trainMse), ev.mse] };
}

/** Frames of each write, decoded (requests or responses), for the hooks below. */
function framesOf(dec: FrameDecoder, bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const ev of dec.push(bytes)) if (ev.status === 'OK') out.push(ev.payload);
  return out;
}

/** A hook that drops the frames for which `drop(payload, index)` is true (index counts frames one way). */
function dropping(drop: (payload: Uint8Array, index: number) => boolean, counts: { dropped: number }): FaultHook {
  const dec = new FrameDecoder(1 << 16);
  let n = 0;
  return (bytes) =>
    framesOf(dec, bytes).flatMap((p) => {
      if (drop(p, n++)) {
        counts.dropped++;
        return [];
      }
      return [encodeFrame(p)];
    });
}

/** A device service over a memory link; `timeoutMs` short where frames are lost on purpose, long where none may be retried (a loaded machine). */
async function linked(opts: { aToB?: FaultHook; bToA?: FaultHook } = {}, timeoutMs = 40): Promise<SerialDevice> {
  const { a, b } = memoryPair(opts);
  const { server } = createDeviceServer(new EmulatorDevice(), { deviceId: 'pipe', cacheSize: 4 });
  void server.serve(b);
  return SerialDevice.connect(a, { timeoutMs, helloTimeoutMs: Math.max(200, timeoutMs) });
}

const bodyOf = (p: Uint8Array) => {
  const r = decodeRequest(p);
  return r.status === 'OK' ? r.value.body.case : undefined;
};

describe('the pipelined link', () => {
  it('sends Reward(k) and Run(k+1) in one burst and the clean run as a window, with the emulator bits (chunk 1 and 20)', async () => {
    for (const chunk of [1, 20]) {
      const want = await session(new EmulatorDevice(), chunk);
      const bursts: string[][] = [];
      const dec = new FrameDecoder(1 << 16);
      let sameRates = 0;
      const dev = await linked({
        aToB: (bytes) => {
          const frames = framesOf(dec, bytes);
          for (const p of frames) {
            const r = decodeRequest(p);
            if (r.status === 'OK' && r.value.body.case === 'reward' && r.value.body.value.sameRates) sameRates++;
          }
          bursts.push(frames.map((p) => bodyOf(p) ?? '?'));
          return [bytes];
        },
      }, 5000);
      expect(dev.window).toBe(4);
      expect(await session(dev, chunk)).toEqual(want);
      const s = dev.rpc.stats();
      expect(s.retries).toBe(0);
      // every Reward but the last went out together with the next Run, before its Ack came back
      const rewards = bursts.flat().filter((c) => c === 'reward').length;
      expect(rewards).toBe((2 * 200) / chunk);
      expect(bursts.filter((b) => b.length === 2 && b[0] === 'reward' && b[1] === 'run').length).toBe(rewards - 2); // the last of each epoch goes with a resetState or a read
      // the 200-step evaluation went out as a window of pieces in one write
      expect(bursts.some((b) => b.length >= 4 && b.every((c) => c === 'run'))).toBe(true);
      // every Reward after the first since Configure carried same_rates instead of the step sizes
      expect(sameRates).toBe(rewards - 1);
      await dev.close();
    }
  });

  it('with pipelining off (or a device without max_in_flight) one call is in flight, the same bits', async () => {
    const want = await session(new EmulatorDevice(), 4);
    const bursts: number[] = [];
    const dec = new FrameDecoder(1 << 16);
    const { a, b } = memoryPair({ aToB: (bytes) => (bursts.push(framesOf(dec, bytes).length), [bytes]) });
    const { server } = createDeviceServer(new EmulatorDevice(), { deviceId: 'seq', cacheSize: 4 });
    void server.serve(b);
    const dev = await SerialDevice.connect(a, { timeoutMs: 5000, pipeline: false });
    expect(dev.window).toBe(1);
    expect(await session(dev, 4)).toEqual(want);
    expect(Math.max(...bursts)).toBe(1);
    await dev.close();
  });

  it('a lost Reward makes the Run behind it refused OUT_OF_ORDER, not applied; a lost Ack is implied by the Run answered after it; the emulator bits either way', async () => {
    const want = await session(new EmulatorDevice(), 5);
    const cases: [string, (c: { dropped: number }) => { aToB?: FaultHook; bToA?: FaultHook }][] = [
      ['every 3rd Reward request lost', (c) => {
        let rewards = 0;
        return { aToB: dropping((p) => bodyOf(p) === 'reward' && ++rewards % 3 === 0, c) };
      }],
      ['every 5th frame to the device lost', (c) => ({ aToB: dropping((_p, i) => i % 5 === 3, c) })],
      ['every 4th frame from the device lost', (c) => ({ bToA: dropping((_p, i) => i % 4 === 2, c) })],
    ];
    for (const [name, hooks] of cases) {
      const counts = { dropped: 0 };
      const hook = hooks(counts);
      const dev = await linked(hook);
      expect(await session(dev, 5), name).toEqual(want);
      expect(counts.dropped, name).toBeGreaterThan(5);
      expect(dev.rpc.stats().retries, name).toBeGreaterThan(0);
      await dev.close();
    }
  });

  it('a RunReply filed under another id is caught by its t0 echo: asked again, never taken as data', async () => {
    const want = await session(new EmulatorDevice(), 10);
    const dec = new FrameDecoder(1 << 16);
    let bent = 0;
    const dev = await linked({
      bToA: (bytes) =>
        framesOf(dec, bytes).map((p) => {
          const r = decodeResponse(p);
          if (r.status !== 'OK' || r.value.body.case !== 'run' || bent >= 3) return encodeFrame(p);
          bent++;
          const enc = encodeResponse({ ...r.value, body: { case: 'run', value: { ...r.value.body.value, t0: r.value.body.value.t0 + 10 } } });
          return encodeFrame(enc.status === 'OK' ? enc.bytes : p);
        }),
    });
    expect(await session(dev, 10)).toEqual(want);
    expect(bent).toBe(3);
    expect(dev.rpc.stats().invalidReplies).toBe(3);
    await dev.close();
  });

  it('rewardFloat32 (explicit) sends dL as float32, 4 bytes less each: the bits of an emulator given Math.fround(dL)', async () => {
    const rounding: Device = new Proxy(new EmulatorDevice(), {
      get(target, key) {
        if (key === 'reward') return (req: RewardRequest) => target.reward({ ...req, deltaLoss: Float64Array.from(req.deltaLoss, (x) => Math.fround(x)) });
        const v = Reflect.get(target, key);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const want = await session(rounding, 20);
    const exact = await session(new EmulatorDevice(), 20);
    const bytes: number[] = [];
    for (const rewardFloat32 of [false, true]) {
      const { a, b } = memoryPair();
      const { server } = createDeviceServer(new EmulatorDevice(), { deviceId: 'f32', cacheSize: 4 });
      void server.serve(b);
      const dev = await SerialDevice.connect(a, { timeoutMs: 5000, rewardFloat32, firstId: 1000 });
      expect(await session(dev, 20)).toEqual(rewardFloat32 ? want : exact);
      bytes.push(dev.rpc.stats().payloadBytesOut);
      await dev.close();
    }
    expect(bytes[0] - bytes[1]).toBeGreaterThanOrEqual(4 * 2 * 200); // 400 steps rewarded, 4 bytes each (and shorter length prefixes)
  });

  it('close() sends a deferred Reward before it closes the link', async () => {
    const { a, b } = memoryPair();
    const emu = new EmulatorDevice();
    const { server } = createDeviceServer(emu, { deviceId: 'close', cacheSize: 4 });
    void server.serve(b);
    const dev = await SerialDevice.connect(a, { timeoutMs: 5000 });
    await dev.configure(config);
    await dev.run({ steps: 2, t0: 0, inputs: new Float64Array(4), noisy: true });
    await dev.reward({ t0: 0, deltaLoss: Float64Array.of(0.01, -0.02), lr: { w: 0.1, r: 0.1, v: 0.1 } });
    await dev.close();
    expect((await emu.stats()).rewardCalls).toBe(1);
  });

  it('a deferred Reward is checked on the host with the device contract: refused at once, the same codes as the emulator, nothing sent', async () => {
    const dev = await linked();
    const emu = new EmulatorDevice();
    for (const d of [dev, emu] as Device[]) {
      await d.configure(config);
      await d.run({ steps: 2, t0: 0, inputs: new Float64Array(4), noisy: true });
    }
    for (const bad of [
      { t0: 1, deltaLoss: new Float64Array(2), lr: { w: 0.1, r: 0.1, v: 0.1 } },
      { t0: 0, deltaLoss: new Float64Array(3), lr: { w: 0.1, r: 0.1, v: 0.1 } },
      { t0: 0, deltaLoss: Float64Array.of(0, NaN), lr: { w: 0.1, r: 0.1, v: 0.1 } },
      { t0: 0, deltaLoss: new Float64Array(2), lr: { w: 0.1, r: Infinity, v: 0.1 } },
    ]) {
      const codeOf = (p: Promise<void>) => p.then(() => 'OK', (e: { code: string }) => e.code);
      const sent = dev.rpc.stats().framesOut;
      expect(await codeOf(dev.reward(bad))).toBe(await codeOf(emu.reward(bad)));
      expect(dev.rpc.stats().framesOut).toBe(sent);
    }
    expect((await dev.stats()).rewardCalls).toBe(0);
    await dev.close();
  });
});

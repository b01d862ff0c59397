// Preloading (docs/protocol.md section 3, Preloading): the trainer's next chunk goes out
// as Request.preload right behind this chunk's Run, and the next Run carries only its
// header (Run.preloaded). The weights must be the emulator's bit for bit, a lost Preload
// or a lost Ack must be recovered exactly (go-back-N), a device that does not announce
// Limits.preload must never see one, and the device must refuse a Run.preloaded it
// cannot honour without changing anything.
import { describe, expect, it } from 'vitest';
import { defaultChipFormats } from '../src/device/config.js';
import { EmulatorDevice } from '../src/device/emulator.js';
import type { Device, DeviceConfig, Params } from '../src/device/types.js';
import { trainAnpt } from '../src/learn/anpt.js';
import { evaluate } from '../src/learn/evaluate.js';
import { decodeRequest, decodeResponse } from '../src/link/codec.js';
import { createDeviceServer } from '../src/link/device-server.js';
import { FrameDecoder, encodeFrame } from '../src/link/frame.js';
import * as pb from '../src/link/messages.js';
import { ResilientDevice } from '../src/link/resilient-device.js';
import { SerialDevice, type SerialDeviceOptions } from '../src/link/serial-device.js';
import { memoryPair, type FaultHook } from '../src/link/transport-memory.js';
import { xavierNormal } from '../src/model/rnn.js';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';
import { spawnFirmwareSim } from '../firmware-sim/spawn.js';

const K = 40; // chunk: 40 steps x batch 2 = 80 input codes, above PRELOAD_MIN_CODES
const config: DeviceConfig = {
  topology: { inputs: 1, hidden: 12, outputs: 1, batch: 2, activation: 'tanh' },
  formats: defaultChipFormats(),
  noise: { hiddenSigma: 0.02, outputSigma: 0.02 },
  seed: 7,
  maxChunkSteps: 200,
};
const task = mackeyGlassTask({ steps: 200, batch: 2, seed: 4 });

/** Train (chunks of K, 2 epochs, spectral control reading and writing R between chunks), evaluate, return what came back. */
async function session(dev: Device): Promise<{ params: Params; mse: number[] }> {
  await dev.configure(config);
  await dev.writeParams(xavierNormal({ inputs: 1, hidden: 12, outputs: 1, activation: 'tanh' }, 7));
  const r = await trainAnpt(dev, task.train, { epochs: 2, lr: { w: 0.02, r: 0.02, v: 0.02 }, chunkSteps: K, spectral: { cap: 0.9, everySteps: 80 } });
  const ev = await evaluate(dev, task.test);
  return { params: await dev.readParams(), mse: [...r.epochs.map((e) => e.trainMse), ev.mse] };
}

const requestOf = (p: Uint8Array) => {
  const r = decodeRequest(p);
  return r.status === 'OK' ? r.value : undefined;
};

/** Label of a request frame: its body, `run*` for a Run sent as its header only. */
const label = (p: Uint8Array) => {
  const r = requestOf(p);
  if (!r) return '?';
  return r.body.case === 'run' && r.body.value.preloaded ? 'run*' : (r.body.case ?? '?');
};

/** A hook that records each write's frames and drops those `drop` picks. */
function watching(record: string[][] | undefined, drop: (payload: Uint8Array) => boolean = () => false, counts = { dropped: 0 }): FaultHook {
  const dec = new FrameDecoder(1 << 16);
  return (bytes) => {
    const frames: Uint8Array[] = [];
    for (const ev of dec.push(bytes)) if (ev.status === 'OK') frames.push(ev.payload);
    record?.push(frames.map(label));
    return frames.flatMap((p) => (drop(p) ? (counts.dropped++, []) : [encodeFrame(p)]));
  };
}

async function linked(hooks: { aToB?: FaultHook; bToA?: FaultHook } = {}, serve: { preload?: boolean } = {}, opts: SerialDeviceOptions = {}): Promise<SerialDevice> {
  const { a, b } = memoryPair(hooks);
  const { server } = createDeviceServer(new EmulatorDevice(), { deviceId: 'preload', cacheSize: 4, ...serve });
  void server.serve(b);
  return SerialDevice.connect(a, { timeoutMs: 5000, helloTimeoutMs: 5000, ...opts });
}

describe('preloading the next chunk', () => {
  it('sends Reward(k), Run(k+1) as its header and Preload(k+2) in one burst, with the emulator bits', async () => {
    const want = await session(new EmulatorDevice());
    const bursts: string[][] = [];
    const dev = await linked({ aToB: watching(bursts) });
    expect(dev.preloads).toBe(true);
    expect(await session(dev)).toEqual(want);
    expect(dev.rpc.stats().retries).toBe(0);
    const all = bursts.flat();
    // 5 chunks per epoch: chunks 2..5 run from a preload, the preloads of chunks 2..5 went ahead
    expect(all.filter((c) => c === 'preload').length).toBe(2 * 4);
    expect(all.filter((c) => c === 'run*').length).toBe(2 * 4);
    expect((await dev.stats()).link.preloadedRuns).toBe(2 * 4);
    expect(bursts.filter((b) => b.join() === 'reward,run*,preload').length).toBeGreaterThanOrEqual(3); // others follow a read (spectral control), which sends the Reward alone
    await dev.close();
  });

  it('a device without Limits.preload, or a host with preload off, never sees one: the same bits', async () => {
    const want = await session(new EmulatorDevice());
    for (const [serve, opts] of [[{ preload: false }, {}], [{}, { preload: false }]] as const) {
      const bursts: string[][] = [];
      const dev = await linked({ aToB: watching(bursts) }, serve, opts);
      expect(dev.preloads).toBe(false);
      expect(dev.window).toBe(4); // still pipelined
      expect(await session(dev)).toEqual(want);
      expect(bursts.flat().filter((c) => c === 'preload' || c === 'run*')).toEqual([]);
      await dev.close();
    }
  });

  it('a lost Preload, a lost Ack of one, and a lost header-only Run are recovered exactly (go-back-N): the emulator bits', async () => {
    const want = await session(new EmulatorDevice());
    const preloadIds = new Set<number>();
    const seen = new Set<number>();
    let n = 0;
    const cases: [string, () => { aToB?: FaultHook; bToA?: FaultHook }][] = [
      ['every 2nd Preload request lost', () => ({ aToB: watching(undefined, (p) => label(p) === 'preload' && ++n % 2 === 0) })],
      ['every 2nd header-only Run lost', () => ({ aToB: watching(undefined, (p) => label(p) === 'run*' && ++n % 2 === 0) })],
      ['every Ack of a Preload lost once', () => ({
        aToB: watching(undefined, (p) => {
          const id = requestOf(p)!.id;
          if (label(p) === 'preload' && !seen.has(id)) {
            seen.add(id);
            preloadIds.add(id);
          }
          return false;
        }),
        bToA: watching(undefined, (p) => {
          const r = decodeResponse(p);
          return r.status === 'OK' && preloadIds.delete(r.value.id); // the first answer to each Preload id
        }),
      })],
    ];
    for (const [name, hooks] of cases) {
      n = 0;
      const dev = await linked(hooks(), {}, { timeoutMs: 40 });
      expect(await session(dev), name).toEqual(want);
      const s = dev.rpc.stats();
      expect(s.retries, name).toBeGreaterThan(0);
      await dev.close();
    }
  });

  it('the device refuses a Run.preloaded it cannot honour (none staged, another run, another session), changing nothing', async () => {
    const emu = new EmulatorDevice();
    const { a, b } = memoryPair();
    const { server } = createDeviceServer(emu, { deviceId: 'refuse', cacheSize: 4 });
    void server.serve(b);
    const dev = await SerialDevice.connect(a, { timeoutMs: 5000 });
    await dev.configure(config);
    const inputs = Int32Array.from({ length: 2 * K }, (_, i) => 100 * i);
    const header = (t0: number): pb.Run => ({ steps: K, t0, inputs: new Int32Array(0), noisy: true, hiddenTrace: false, preloaded: true });
    const refused = async (run: pb.Run) => {
      const before = await emu.stats();
      const r = await dev.rpc.call('run', run);
      expect(r.status).toBe('DEVICE_ERROR');
      if (r.status === 'DEVICE_ERROR') expect([pb.errorName(r.error.code), r.error.field]).toEqual(['BAD_REQUEST', 'run.preloaded']);
      expect(await emu.stats()).toEqual(before);
    };
    await refused(header(0)); // none staged
    expect((await dev.rpc.call('preload', { steps: K, t0: 0, inputs, noisy: true, hiddenTrace: false, preloaded: false })).status).toBe('OK');
    expect((await emu.stats()).runCalls).toBe(0); // a preload runs nothing
    await refused(header(K)); // another t0
    await refused({ ...header(0), inputs: Int32Array.of(1) }); // inputs as well
    const ok = await dev.rpc.call('run', header(0));
    expect(ok.status).toBe('OK');
    // the same as the full Run on an emulator
    const ref = new EmulatorDevice();
    await ref.configure(config);
    const full = await ref.run({ steps: K, t0: 0, inputs: Float64Array.from(inputs, (c) => c * 2 ** -defaultChipFormats().input.frac), noisy: true });
    if (ok.status === 'OK') expect(Array.from(ok.value.noisy, (c) => c * 2 ** -defaultChipFormats().output.frac)).toEqual(Array.from(full.noisy));
    await refused(header(0)); // used once
    // a preload belongs to its session: another session (take-over) cannot run it
    expect((await dev.rpc.call('preload', { steps: K, t0: K, inputs, noisy: true, hiddenTrace: false, preloaded: false })).status).toBe('OK');
    const other = await SerialDevice.connect(memoryPairServe(server), { timeoutMs: 5000, takeOver: true, hostNonce: 12345 });
    const r = await other.rpc.call('run', header(K));
    expect(r.status === 'DEVICE_ERROR' && [pb.errorName(r.error.code), r.error.field]).toEqual(['BAD_REQUEST', 'run.preloaded']);
    await other.close();
    await dev.close();
  });

  it('through ResilientDevice and firmware-sim over TCP at 1 Mbaud (chunk 64): preloaded, the emulator bits', async () => {
    const sim = await spawnFirmwareSim(['--tcp', '0', '--baud', '1000000', '--quiet']);
    try {
      const cfg64: DeviceConfig = { ...config, topology: { ...config.topology, batch: 1 }, maxChunkSteps: 64 };
      const t64 = mackeyGlassTask({ steps: 320, batch: 1, seed: 4 });
      const run = async (dev: Device) => {
        await dev.configure(cfg64);
        await dev.writeParams(xavierNormal({ inputs: 1, hidden: 12, outputs: 1, activation: 'tanh' }, 7));
        await trainAnpt(dev, t64.train, { epochs: 1, lr: { w: 0.02, r: 0.02, v: 0.02 }, chunkSteps: 64 });
        return dev.readParams();
      };
      const want = await run(new EmulatorDevice());
      const dev = await ResilientDevice.open(sim.url(1_000_000));
      expect(await run(dev)).toEqual(want);
      const link = (await dev.stats()).link;
      // 5 chunks: the last four ran from preloads
      expect(link.preloadedRuns).toBe(4);
      await dev.close();
    } finally {
      await sim.stop();
    }
  });
});

/** Another host's link to the same server. */
function memoryPairServe(server: ReturnType<typeof createDeviceServer>['server']) {
  const { a, b } = memoryPair();
  void server.serve(b);
  return a;
}

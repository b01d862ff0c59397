/**
 * firmware-sim's parts, each alone, bytes in and bytes out: the fault stage, the line
 * pacing, the baud-mismatch model, and the board (limits, RAM, reboots, stalls,
 * protocol version) served in-process over the memory transport.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SimBoard, maxHiddenForRam } from '../firmware-sim/board.js';
import { openPtyPair } from '../firmware-sim/pty.js';
import { spawnFirmwareSim } from '../firmware-sim/spawn.js';
import { faultyTransport } from '../firmware-sim/faults.js';
import { Wire, pacedTransport } from '../firmware-sim/pacing.js';
import { resampleUart } from '../firmware-sim/uart.js';
import { defaultChipFormats } from '../src/device/config.js';
import { layoutEstimate } from '../src/device/emulator.js';
import type { DeviceConfig } from '../src/device/types.js';
import { FrameDecoder, encodeFrame } from '../src/link/frame.js';
import { encodeRequest, PROTOCOL_VERSION } from '../src/link/messages.js';
import { SerialDevice, type SerialDeviceOptions } from '../src/link/serial-device.js';
import { memoryPair } from '../src/link/transport-memory.js';
import type { ByteTransport } from '../src/link/transport.js';

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (closers.length) await closers.pop()!();
});

/** Frames of n distinct payloads of `size` bytes. */
function frames(n: number, size: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => encodeFrame(Uint8Array.from({ length: size }, (_, k) => (i * 31 + k * 7) & 0xff)));
}

/** Collect what arrives at `t`. */
function sink(t: ByteTransport): Uint8Array[] {
  const got: Uint8Array[] = [];
  t.onData((b) => got.push(b.slice()));
  return got;
}
const concat = (parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));
const settle = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe('fault stage', () => {
  it('passes bytes unchanged at rate 0, in both directions', async () => {
    const { a, b } = memoryPair();
    const f = faultyTransport(b, { corruptRate: 0, dropRate: 0 });
    const atDevice = sink(f);
    const atHost = sink(a);
    const fs = frames(5, 40);
    for (const x of fs) await a.write(x);
    for (const x of fs) await f.write(x);
    await settle();
    expect(concat(atDevice)).toEqual(concat(fs));
    expect(concat(atHost)).toEqual(concat(fs));
    expect(f.faults()).toEqual({ bytesCorruptedIn: 0, bytesCorruptedOut: 0, framesDroppedIn: 0, framesDroppedOut: 0 });
  });

  it('flips exactly one bit of a fraction p of the bytes, reproducibly from the seed', async () => {
    const run = async () => {
      const { a, b } = memoryPair();
      const f = faultyTransport(b, { corruptRate: 0.1, seed: 3 });
      const atHost = sink(a);
      const data = new Uint8Array(20000).fill(0x55);
      await f.write(data);
      await settle();
      return { out: concat(atHost), c: f.faults() };
    };
    const { out, c } = await run();
    let flipped = 0;
    for (const x of out) {
      const d = x ^ 0x55;
      if (d) {
        flipped++;
        expect(d & (d - 1)).toBe(0); // a single bit
      }
    }
    expect(flipped).toBe(c.bytesCorruptedOut);
    expect(flipped / 20000).toBeGreaterThan(0.09);
    expect(flipped / 20000).toBeLessThan(0.11);
    expect((await run()).out).toEqual(out);
  });

  it('drops whole frames: the decoder sees some frames intact and never a damaged one', async () => {
    const { a, b } = memoryPair();
    const f = faultyTransport(b, { dropRate: 0.3, seed: 9 });
    const dec = new FrameDecoder(1024);
    const events: string[] = [];
    f.onData((bytes) => dec.push(bytes).forEach((e) => events.push(e.status)));
    const fs = frames(200, 30);
    // arbitrary splits of the byte stream: frames are cut at the flags, not at writes
    const all = concat(fs);
    for (let i = 0; i < all.length; i += 17) await a.write(all.subarray(i, i + 17));
    await settle(20);
    const c = f.faults();
    expect(c.framesDroppedIn).toBeGreaterThan(30);
    expect(events.every((s) => s === 'OK')).toBe(true);
    expect(events.length + c.framesDroppedIn).toBe(200);
  });
});

describe('line pacing', () => {
  it('delivers each chunk when its last byte would arrive at bytesPerSecond, in order, without drift', async () => {
    // 10 chunks of 20 ms each; delivering the first one blocks this process for 100 ms (a
    // stall, as a loaded machine makes). Due times are absolute: the chunks due meanwhile
    // come at once after it, and the last one on time at 200 ms. Had each due time been
    // counted from the last delivery, the stall would push the last one to 300 ms.
    const got: { n: number; at: number }[] = [];
    const start = performance.now();
    const w = new Wire(100_000, (b) => {
      got.push({ n: b.length, at: performance.now() - start });
      if (got.length === 1) while (performance.now() - start < 120); // the stall
    }); // 1 Mbaud
    for (let i = 0; i < 10; i++) w.push(new Uint8Array(2000)); // 20 ms each
    for (let waited = 0; got.length < 10 && waited < 10_000; waited += 5) await settle(5);
    expect(got.map((g) => g.n)).toEqual(Array(10).fill(2000));
    // never early
    got.forEach((g, i) => expect(g.at).toBeGreaterThanOrEqual(20 * (i + 1) - 0.05));
    // the stall is not carried on (a margin of half of it for scheduling on a loaded machine)
    expect(got[9].at).toBeLessThan(200 + 50);
  });

  it('paces both directions: a reply starts only once the request has crossed the line', async () => {
    const { a, b } = memoryPair();
    const p = pacedTransport(b, 11520); // 115200 baud: 115 bytes take 10 ms
    const atHost = sink(a);
    let came = 0;
    p.onData(() => {
      came = performance.now();
      void p.write(new Uint8Array(115)); // the device answers at once
    });
    const sent = performance.now();
    await a.write(new Uint8Array(115));
    while (atHost.length === 0) await settle(1);
    // 10 ms for the request to arrive (the board gets it only then), 10 ms for the reply
    expect(came - sent).toBeGreaterThanOrEqual(9.95);
    expect(performance.now() - sent).toBeGreaterThanOrEqual(19.9);
    expect(p.bytesPerSecond).toBe(11520);
  });

  it('hands the host\'s bytes up frame by frame, each once its last byte has crossed, and replies at once', async () => {
    const { a, b } = memoryPair();
    const p = pacedTransport(b, 10_000); // 100 bytes take 10 ms
    const [first, second] = [encodeFrame(new Uint8Array(96)), encodeFrame(new Uint8Array(46))]; // 100 and 50 bytes framed
    const start = performance.now();
    const came: { frame: number[]; at: number }[] = [];
    p.onData((bytes) => {
      came.push({ frame: [...bytes], at: performance.now() - start });
      if (came.length === 1) void p.write(new Uint8Array(20)); // a 2 ms reply to the first request
    });
    const atHost: number[] = [];
    a.onData(() => atHost.push(performance.now() - start));
    await a.write(concat([first, second])); // one write, as a pipelined host sends a window
    while (came.length < 2 || atHost.length === 0) await settle(1);
    expect(came.map((c) => c.frame)).toEqual([[...first], [...second]]);
    // the first request when its 100 bytes are in, the second 5 ms later, never early
    expect(came[0].at).toBeGreaterThanOrEqual(10 - 0.05);
    expect(came[1].at).toBeGreaterThanOrEqual(15 - 0.05);
    // the reply to the first left while the second was still arriving: 10 + 2 ms, not 15 + 2
    expect(atHost[0]).toBeGreaterThanOrEqual(12 - 0.05);
    expect(atHost[0]).toBeLessThan(came[1].at + 2);
  });

  it('cuts at frame ends only: a frame split over two reads, and flags between frames', async () => {
    const { frameEnds } = await import('../firmware-sim/pacing.js');
    const f = encodeFrame(new Uint8Array([1, 2, 3])); // 7E .. 7E
    expect(frameEnds(f)).toEqual([f.length]);
    expect(frameEnds(concat([f, f]))).toEqual([f.length, 2 * f.length]);
    // the closing flag in the next read ends the frame there; a lone opening flag is no end
    expect(frameEnds(Uint8Array.of(0x7e), 0x03)).toEqual([1]);
    expect(frameEnds(Uint8Array.of(0x7e, 0x01), 0x7e)).toEqual([2]);
    expect(frameEnds(Uint8Array.of(0x7e, 0x7e, 0x05, 0x7e, 0x09))).toEqual([4, 5]);
  });
});

describe('baud mismatch', () => {
  const hello = encodeFrame((encodeRequest({ id: 7, body: { case: 'hello', value: { protocolVersion: PROTOCOL_VERSION, maxFrameBytes: 16384, hostName: 'anpt-host' } } }) as { bytes: Uint8Array }).bytes);

  it('at equal rates the bytes pass unchanged; at other rates no frame survives', () => {
    expect(resampleUart(hello, 115200, 115200)).toBe(hello);
    for (const [tx, rx] of [[9600, 115200], [115200, 9600], [57600, 115200], [115200, 230400]]) {
      const out = resampleUart(hello, tx, rx);
      const events = new FrameDecoder(16384).push(out);
      expect(events.filter((e) => e.status === 'OK')).toHaveLength(0);
    }
    // a slow sender read fast gives many bytes (mostly framing errors, read as 0x00)
    const slow = resampleUart(hello, 9600, 115200);
    expect(slow.length).toBeGreaterThan(hello.length);
    expect(slow.filter((x) => x === 0).length).toBeGreaterThan(slow.length / 2);
  });
});

// ---------------------------------------------------------------------------------
// The board, in-process

const cfg = (over: Partial<DeviceConfig> = {}): DeviceConfig => ({
  topology: { inputs: 1, hidden: 16, outputs: 1, batch: 2, activation: 'tanh' },
  formats: defaultChipFormats(),
  noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 },
  seed: 3,
  maxChunkSteps: 10,
  ...over,
});

async function boardLink(board: SimBoard, opts: { timeoutMs?: number } & SerialDeviceOptions = {}): Promise<SerialDevice> {
  const { a, b } = memoryPair();
  board.attach(b);
  const dev = await SerialDevice.connect(a, { helloTimeoutMs: 200, retries: 1, ...opts, timeoutMs: opts.timeoutMs ?? 100 });
  closers.push(() => dev.close());
  return dev;
}

describe('the simulated board', () => {
  it('announces its identity and limits, with the largest hidden size its RAM holds', async () => {
    const board = new SimBoard({ ramBytes: 64 * 1024, deviceId: 'sim-7' });
    const dev = await boardLink(board);
    const h = dev.hello;
    expect(h).toMatchObject({ firmwareName: 'anpt-firmware-sim', deviceId: 'sim-7', bootCounter: 1, sessionId: board.sessionId });
    const H = maxHiddenForRam(64 * 1024, 1024);
    expect(layoutEstimate(1, H, 1, 1, 1)).toBeLessThanOrEqual(64 * 1024);
    expect(layoutEstimate(1, H + 1, 1, 1, 1)).toBeGreaterThan(64 * 1024);
    expect(h.limits).toMatchObject({ maxHidden: H, maxInputs: 64, maxBatch: 64, ramBytes: 65536, maxFrameBytes: 16384, plasticityOnDevice: true });
  });

  it('refuses a configuration beyond its RAM with CONFIG_OUT_OF_RANGE naming the field', async () => {
    const dev = await boardLink(new SimBoard({ ramBytes: 64 * 1024 }));
    const r = await dev.rpc.call('configure', {
      topology: { inputs: 1, hidden: 64, outputs: 1, batch: 8, activation: 1 },
      formats: { input: fmt, weight: fmt, pre: fmt, activity: fmt, output: fmt },
      noise: { hiddenSigma: 0, outputSigma: 0 },
      seed: 1,
      maxChunkSteps: 100,
    });
    expect(r).toMatchObject({ status: 'DEVICE_ERROR', error: { code: 3, field: 'configure.max_chunk_steps', message: expect.stringMatching(/^needs \d+ KiB of RAM, the board has 64 KiB; use max_chunk_steps <= \d+ or lower hidden\/batch$/) } });
  });

  it('reboots after N steps: the reply to that run is lost, then a new session that must be configured again', async () => {
    const board = new SimBoard({ resetAfterSteps: 25 });
    const dev = await boardLink(board, { timeoutMs: 50 });
    const before = dev.hello;
    await dev.configure(cfg());
    const inputs = new Float64Array(20);
    await dev.run({ steps: 10, t0: 0, inputs, noisy: false });
    await dev.run({ steps: 10, t0: 10, inputs, noisy: false });
    // 30 steps >= 25: the board reboots before replying; the retry meets the new boot
    // (NO_SESSION: the host says Hello again at once and sees the new boot counter)
    await expect(dev.run({ steps: 10, t0: 20, inputs, noisy: false })).rejects.toMatchObject({ code: 'NO_SESSION' });
    expect(board.bootCounter).toBe(2);
    const after = await dev.handshake();
    expect(after.bootCounter).toBe(2);
    expect(after.sessionId).not.toBe(before.sessionId);
    await expect(dev.readParams()).rejects.toMatchObject({ code: 'NOT_CONFIGURED' });
    await dev.configure(cfg());
    await dev.run({ steps: 10, t0: 0, inputs, noisy: false });
  });

  it('holds one session: a second host is BUSY (naming the holder) until it takes over; the first then gets BUSY', async () => {
    const board = new SimBoard();
    const alice = await boardLink(board, { hostName: 'alice', hostNonce: 1 });
    await alice.configure(cfg());
    const second = boardLink(board, { hostName: 'bob', hostNonce: 2 });
    await expect(second).rejects.toMatchObject({ code: 'BUSY' });
    await expect(second).rejects.toThrow(/the board is held by alice since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(for \d+ s\); wait for it to finish, or take the board on purpose with --take-over/);
    const bob = await boardLink(board, { hostName: 'bob', hostNonce: 2, takeOver: true });
    // the configuration survives a take-over (only a reboot loses it); reads need no session
    expect(await bob.readConfig()).toMatchObject({ seed: 3, maxChunkSteps: 10, topology: { hidden: 16, batch: 2 } });
    const before = await alice.readParams();
    await expect(alice.writeParams(before)).rejects.toMatchObject({ code: 'BUSY' });
    await expect(alice.run({ steps: 1, t0: 0, inputs: new Float64Array(2), noisy: true })).rejects.toThrow(/held by bob/);
    expect(await bob.readParams()).toEqual(before);
    expect((await bob.stats()).runCalls).toBe(0);
  });

  it('a lease that ran out is renewed by saying Hello again: the call goes through, the configuration kept', async () => {
    const board = new SimBoard({ sessionLeaseMs: 30 });
    const dev = await boardLink(board);
    await dev.configure(cfg());
    const first = dev.hello.sessionId;
    await new Promise((r) => setTimeout(r, 80));
    await dev.run({ steps: 2, t0: 0, inputs: new Float64Array(4), noisy: false });
    expect(dev.hello.sessionId).not.toBe(first); // a new session (the old one had ended)
    expect(dev.hello.bootCounter).toBe(1);
    expect(dev.hello.sessionLeaseMs).toBe(30);
    expect((await dev.stats()).runCalls).toBe(1);
  });

  it('reports the faults it injected in Stats (stalls, reboots; corrupted bytes and dropped frames of its links)', async () => {
    const board = new SimBoard({ stallMs: 1, resetAfterSteps: 5 });
    const { a, b } = memoryPair();
    const f = faultyTransport(b, { corruptRate: 0, dropRate: 0 });
    board.attach(f, () => ({ bytesCorruptedIn: 3, bytesCorruptedOut: 4, framesDroppedIn: 1, framesDroppedOut: 2 }));
    const dev = await SerialDevice.connect(a, { timeoutMs: 100, retries: 1 });
    closers.push(() => dev.close());
    await dev.configure(cfg());
    await expect(dev.run({ steps: 6, t0: 0, inputs: new Float64Array(12), noisy: false })).rejects.toMatchObject({ code: 'NO_SESSION' });
    const link = (await dev.stats()).link!;
    expect(link).toMatchObject({ 'device.injectedCorrupt': 7, 'device.injectedDrops': 3, 'device.injectedResets': 1, 'device.queueDrops': 0 });
    expect(link['device.injectedStalls']).toBeGreaterThanOrEqual(3);
  });

  it('delays every reply by --stall-ms', async () => {
    const dev = await boardLink(new SimBoard({ stallMs: 60 }), { timeoutMs: 500 });
    const t = performance.now();
    await dev.stats();
    expect(performance.now() - t).toBeGreaterThanOrEqual(59);
  });

  it('--stall-rate p stalls a fraction p of the replies, the same ones for the same --fault-seed', async () => {
    /** Which of 300 calls stalled (the board's injected-stall counter before and after each). */
    const stalled = async (faultSeed: number) => {
      const lines: string[] = [];
      const board = new SimBoard({ stallMs: 1, stallRate: 0.2, faultSeed, log: (l) => lines.push(l) });
      const dev = await boardLink(board, { timeoutMs: 2000 });
      await dev.configure(cfg());
      const hit: number[] = [];
      for (let i = 0; i < 300; i++) {
        const before = board.injectedCounters().injectedStalls;
        await (i % 2 ? dev.stats() : dev.run({ steps: 1, t0: i, inputs: new Float64Array(2), noisy: false }));
        if (board.injectedCounters().injectedStalls > before) hit.push(i);
      }
      const counted = (await dev.stats()).link!['device.injectedStalls']; // counted in Stats
      const stalls = board.injectedCounters().injectedStalls;
      expect(counted).toBe(stalls);
      expect(lines.filter((l) => /^stall 1 ms before the reply to \w+ \(stall \d+\)$/.test(l))).toHaveLength(stalls); // and logged
      return hit;
    };
    const a = await stalled(7);
    expect(a.length).toBeGreaterThan(0.2 * 300 - 25); // 60 expected, sd 7
    expect(a.length).toBeLessThan(0.2 * 300 + 25);
    expect(await stalled(7)).toEqual(a);
    expect(await stalled(8)).not.toEqual(a);
  });

  it('can speak another protocol version (to test hosts against old firmware)', async () => {
    const { a, b } = memoryPair();
    new SimBoard({ protocolVersion: 0 }).attach(b);
    await expect(SerialDevice.connect(a, { helloTimeoutMs: 100 })).rejects.toThrow(/^memory:\/\/host: host speaks protocol 2, this device speaks 0; update the firmware/);
  });
});

const fmt = { bits: 16, frac: 12, signed: true, rounding: 0 as const, overflow: 0 as const };

describe('firmware-sim --serial (a child process on a port it is given)', () => {
  it('serves a serial port: here one end of a socat pseudo-terminal pair, the host on the other', async () => {
    const pair = await openPtyPair(115200);
    closers.push(async () => pair.close());
    const sim = await spawnFirmwareSim(['--serial', pair.devicePath, '--baud', '115200', '--quiet']);
    closers.push(() => sim.stop());
    expect(sim.address).toBe(pair.devicePath);
    const dev = await SerialDevice.open(`serial://${pair.hostPath}?baud=115200`);
    closers.push(() => dev.close());
    expect(dev.hello.firmwareName).toBe('anpt-firmware-sim');
    await dev.configure(cfg());
    const r = await dev.run({ steps: 10, t0: 0, inputs: new Float64Array(20).fill(0.5), noisy: true });
    expect(r.noisy).toHaveLength(20);
  });
});

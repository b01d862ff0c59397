/**
 * The call layer (rpc.ts, server.ts), the transports and URL parser, and the Device
 * bridge end to end (serial-device.ts <-> device-server.ts) over in-memory pipes
 * with injected faults, TCP loopback and a mocked serial port.
 */
import fc from 'fast-check';
import { SerialPortMock } from 'serialport';
import { afterEach, describe, expect, it } from 'vitest';
import type { Device, DeviceConfig, DeviceInfo, DeviceStats, Params, RecurrentState, RewardRequest, RunRequest, RunResult } from '../src/device/types.js';
import { ConfigError, fromQ, q, toQ, type FixedFormat } from '../src/format/fixed.js';
import { PendingChunk, checkParams, checkRun, refuse, requireConfigured } from '../src/device/contract.js';
import { DeviceError } from '../src/device/errors.js';
import { EXACT_CONVERTER, exactValuesToCodes } from '../src/link/codes.js';
import { createDeviceServer } from '../src/link/device-server.js';
import { FrameDecoder, encodeFrame } from '../src/link/frame.js';
import {
  ErrorCode,
  PROTOCOL_VERSION,
  Tensor,
  decodeResponse,
  encodeRequest,
  type Hello,
  type Request,
  type Response,
  type ResponseBody,
} from '../src/link/messages.js';
import { RpcClient, percentile } from '../src/link/rpc.js';
import { SerialDevice } from '../src/link/serial-device.js';
import { RpcError, RpcServer, type Handler } from '../src/link/server.js';
import { memoryPair, type FaultHook } from '../src/link/transport-memory.js';
import { connectTcp, listenTcp } from '../src/link/transport-tcp.js';
import { serialTransport } from '../src/link/transport-serial.js';
import { openTransport } from '../src/link/open-transport.js';
import { LinkError, formatLinkUrl, parseLinkUrl } from '../src/link/transport.js';
import { openSession, rpcLink } from './link-session.js';

// ---------------------------------------------------------------------------------
// Helpers

/** A handler that counts how often each request kind was applied. */
function countingHandler() {
  const applied = { run: 0, reward: 0, other: 0 };
  const rewardIds: number[] = [];
  const handler: Handler = async (body, ctx): Promise<ResponseBody> => {
    switch (body.case) {
      case 'hello':
        return { case: 'hello', value: { protocolVersion: 0, firmwareName: 'fake', firmwareVersion: '1.0.0', deviceId: 'x', bootCounter: 1, sessionId: 0, sessionLeaseMs: 0 } };
      case 'run':
        applied.run++;
        return { case: 'run', value: { t0: body.value.t0, steps: body.value.steps, clean: body.value.inputs, noisy: new Int32Array(0), hidden: new Int32Array(0) } };
      case 'reward':
        applied.reward++;
        rewardIds.push(ctx.id);
        return { case: 'reward', value: {} };
      case 'stats':
        return { case: 'stats', value: { steps: 1, updates: applied.reward, runCalls: applied.run, rewardCalls: applied.reward } };
      case 'configure':
        applied.other++;
        throw new ConfigError('configure.topology.hidden', '999 is out of range; allowed 1..64');
      case 'writeParams':
        applied.other++;
        throw new RpcError(ErrorCode.NOT_CONFIGURED, 'write_params before configure', 'write_params');
      default:
        applied.other++;
        return { case: body.case, value: {} } as ResponseBody;
    }
  };
  return { handler, applied, rewardIds };
}


/** Drop the writes whose 0-based index is in `drop`, pass the rest. */
function dropWrites(drop: Set<number>): FaultHook {
  let n = 0;
  return (b) => (drop.has(n++) ? [] : [b]);
}

const reward = { t0: 0, deltaLoss: Float64Array.of(0.5, -0.25), lrW: 0.1, lrR: 0.1, lrV: 0.1 };
const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

function link(opts: { aToB?: FaultHook; bToA?: FaultHook; cacheSize?: number; timeoutMs?: number; retries?: number } = {}) {
  const h = countingHandler();
  // Generous timeout: tests that count retries exactly must not see a spurious one on a busy machine.
  const { client, server } = rpcLink(h.handler, {
    aToB: opts.aToB,
    bToA: opts.bToA,
    server: { cacheSize: opts.cacheSize },
    client: { timeoutMs: opts.timeoutMs ?? 250, retries: opts.retries ?? 3, firstId: 100 },
  });
  cleanup.push(() => client.close());
  return { client, server, ...h };
}

// ---------------------------------------------------------------------------------
describe('rpc client and server', () => {
  it('answers calls and keeps statistics', async () => {
    const { client } = link();
    for (let i = 0; i < 20; i++) {
      const r = await client.call('run', { steps: 1, t0: i, inputs: Int32Array.of(i, -i), noisy: false, hiddenTrace: false });
      expect(r).toMatchObject({ status: 'OK', value: { t0: i, clean: Int32Array.of(i, -i) } });
    }
    const s = client.stats();
    expect(s).toMatchObject({ calls: 20, callsOk: 20, framesOut: 20, framesIn: 20, retries: 0, timeouts: 0, crcErrors: 0, rttSamples: 20 });
    expect(s.bytesOut).toBeGreaterThan(20 * 8);
    expect(s.bytesIn).toBeGreaterThan(20 * 8);
    expect(s.rttP50Ms).toBeGreaterThan(0);
    expect(s.rttP50Ms).toBeLessThanOrEqual(s.rttP95Ms);
    expect(s.rttP95Ms).toBeLessThanOrEqual(s.rttP99Ms);
  });

  it('percentile is nearest-rank', () => {
    const a = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(a, 50), percentile(a, 95), percentile(a, 99), percentile(a, 100)]).toEqual([50, 95, 99, 100]);
    expect(percentile(new Float64Array(0), 50)).toBe(0);
    expect(percentile(Float64Array.of(3), 99)).toBe(3);
  });

  it('retries with the same id after a lost reply; the server replays instead of applying twice', async () => {
    const { client, server, applied, rewardIds } = link({ bToA: dropWrites(new Set([0])) });
    const r = await client.call('reward', reward);
    expect(r.status).toBe('OK');
    expect(applied.reward).toBe(1);
    expect(rewardIds).toEqual([100]);
    expect(client.stats()).toMatchObject({ retries: 1, timeouts: 0, callsOk: 1 });
    expect(server.counters()).toMatchObject({ requests: 2, replays: 1 });
  });

  it('retries after a lost request; applied once, no replay needed', async () => {
    const { client, server, applied } = link({ aToB: dropWrites(new Set([0])) });
    expect((await client.call('reward', reward)).status).toBe('OK');
    expect(applied.reward).toBe(1);
    expect(server.counters()).toMatchObject({ requests: 1, replays: 0 });
  });

  it('a corrupted reply is caught by the CRC and retried', async () => {
    let n = 0;
    const { client, applied } = link({
      bToA: (b) => {
        if (n++ === 0) b[3] ^= 0x10;
        return [b];
      },
    });
    expect((await client.call('reward', reward)).status).toBe('OK');
    expect(applied.reward).toBe(1);
    expect(client.stats()).toMatchObject({ crcErrors: 1, retries: 1 });
  });

  it('a damaged reply or a NAKed request is sent again at once, not after the timeout', async () => {
    let replies = 0;
    let requests = 0;
    const { client, server, applied } = link({
      timeoutMs: 5000,
      bToA: (b) => {
        if (replies++ === 0) b[3] ^= 0x10; // the first reply arrives damaged
        return [b];
      },
      aToB: (b) => {
        if (requests++ === 2) b[4] ^= 0x01; // the second call's first request arrives damaged
        return [b];
      },
    });
    const t = performance.now();
    expect((await client.call('reward', reward)).status).toBe('OK');
    expect((await client.call('reward', { ...reward, t0: 1 })).status).toBe('OK');
    expect(performance.now() - t).toBeLessThan(1000);
    expect(applied.reward).toBe(2);
    expect(server.naksSent).toBe(1);
    expect(client.stats()).toMatchObject({ retries: 2, fastRetries: 2, naks: 1, crcErrors: 1, timeouts: 0 });
  });

  it('under random loss, corruption and splitting, every call is applied at most once and exactly once if it succeeded', async () => {
    const fault = fc.array(fc.constantFrom('pass', 'pass', 'drop', 'flip', 'split'), { minLength: 8, maxLength: 8 });
    await fc.assert(
      // ids start at `seed` (never 0: that is the NAK's id)
      fc.asyncProperty(fault, fault, fc.integer({ min: 1, max: 1000 }), async (up, down, seed) => {
        const hook = (plan: string[]): FaultHook => {
          let n = 0;
          return (b) => {
            const what = plan[n++ % plan.length];
            if (what === 'drop') return [];
            if (what === 'flip') {
              b[1 + ((seed + n) % (b.length - 2))] ^= 0x04;
              return [b];
            }
            if (what === 'split') return [b.subarray(0, 3), b.subarray(3)];
            return [b];
          };
        };
        const h = countingHandler();
        const { client } = rpcLink(h.handler, { aToB: hook(up), bToA: hook(down), server: { cacheSize: 1 }, client: { timeoutMs: 8, retries: 6, firstId: seed } });
        const results: string[] = [];
        for (let i = 0; i < 4; i++) results.push((await client.call('reward', reward)).status);
        await client.close();
        const okIds = results.flatMap((s, i) => (s === 'OK' ? [seed + i] : []));
        // Never twice; every OK call applied; a failed call applied at most once.
        expect(new Set(h.rewardIds).size).toBe(h.rewardIds.length);
        for (const id of okIds) expect(h.rewardIds).toContain(id);
        for (const s of results) expect(['OK', 'DEADLINE_EXCEEDED']).toContain(s);
      }),
      { numRuns: 25 },
    );
  });

  it('times out with a clear error after all attempts', async () => {
    const { a } = memoryPair(); // nobody serves the other end
    const client = new RpcClient(a, { timeoutMs: 15, retries: 2 });
    cleanup.push(() => client.close());
    const t = performance.now();
    const r = await client.call('stats', {});
    expect(performance.now() - t).toBeGreaterThanOrEqual(40);
    expect(r.status).toBe('DEADLINE_EXCEEDED');
    expect(r.status !== 'OK' && r.detail).toMatch(/^memory:\/\/host: no reply to stats \(id \d+\) after 3 attempts over \d+ ms \(3 timed out after 15 ms\); check/);
    expect(client.stats()).toMatchObject({ timeouts: 1, retries: 2, framesOut: 3 });
  });

  it('refuses a request larger than a frame without sending it', async () => {
    const { a } = memoryPair();
    const client = new RpcClient(a, { maxFrameBytes: 256 });
    cleanup.push(() => client.close());
    const r = await client.call('run', { steps: 1, t0: 0, inputs: new Int32Array(200).fill(-30000), noisy: false, hiddenTrace: false });
    expect(r.status).toBe('RESOURCE_EXHAUSTED');
    expect(r.status !== 'OK' && r.detail).toMatch(/run request needs \d+ bytes but a frame carries at most 256/);
    expect(client.stats().framesOut).toBe(0);
  });

  it('fails pending calls when the link closes', async () => {
    const { a, b } = memoryPair();
    const client = new RpcClient(a, { timeoutMs: 5000 });
    const pending = client.call('stats', {});
    setTimeout(() => void b.close(), 5);
    const r = await pending;
    expect(r.status).toBe('UNAVAILABLE');
    expect((await client.call('stats', {})).status).toBe('UNAVAILABLE');
  });

  it('maps device errors: ConfigError -> CONFIG_OUT_OF_RANGE with field, RpcError as thrown', async () => {
    const { client } = link();
    const c = await client.call('configure', { seed: 1, maxChunkSteps: 1 });
    expect(c).toMatchObject({ status: 'DEVICE_ERROR', error: { code: ErrorCode.CONFIG_OUT_OF_RANGE, field: 'configure.topology.hidden' } });
    expect(c.status !== 'OK' && c.detail).toMatch(/configure refused \(CONFIG_OUT_OF_RANGE\) at configure\.topology\.hidden: 999 is out of range/);
    const w = await client.call('writeParams', { tensor: Tensor.W, offset: 0, codes: new Int32Array(1) });
    expect(w).toMatchObject({ status: 'DEVICE_ERROR', error: { code: ErrorCode.NOT_CONFIGURED, field: 'write_params' } });
  });

  it('a DeviceError keeps its code on the wire (a refusal also its field, in proto names); other errors are INTERNAL', async () => {
    const throwing = (e: unknown): Handler => async () => {
      throw e;
    };
    const answer = async (h: Handler) => {
      const { client } = rpcLink(h, { client: { timeoutMs: 500 } });
      cleanup.push(() => client.close());
      const r = await client.call('reward', reward);
      return r.status === 'DEVICE_ERROR' ? r.error : undefined;
    };
    for (const code of ['BAD_REQUEST', 'BAD_INPUT', 'NOT_CONFIGURED', 'NO_PENDING_CHUNK', 'TOO_LARGE'] as const) {
      expect(await answer(throwing(new DeviceError(code, 'no')))).toMatchObject({ code: ErrorCode[code], message: 'no', field: '' });
    }
    expect(await answer(throwing(refuse('BAD_INPUT', 'reward.deltaLoss', '[3] is NaN')))).toMatchObject({ code: ErrorCode.BAD_INPUT, message: '[3] is NaN', field: 'reward.delta_loss' });
    expect(await answer(throwing(new DeviceError('TIMEOUT', 'host-side code')))).toMatchObject({ code: ErrorCode.INTERNAL });
    expect(await answer(throwing(new RangeError('bug')))).toMatchObject({ code: ErrorCode.INTERNAL, message: 'bug' });
  });

  it('fills link counters into stats replies', async () => {
    const { client } = link();
    await client.call('reward', reward);
    const s = await client.call('stats', {});
    expect(s).toMatchObject({ status: 'OK', value: { updates: 1, link: { framesOk: 2, requests: 2, crcErrors: 0 } } });
  });
});

// ---------------------------------------------------------------------------------
describe('server, bytes in and bytes out', () => {
  const req = (r: Request) => {
    const e = encodeRequest(r);
    if (e.status !== 'OK') throw new Error(e.detail);
    return e.bytes;
  };
  const res = (b: Uint8Array | undefined): Response => {
    const d = decodeResponse(b!);
    if (d.status !== 'OK') throw new Error(d.detail);
    return d.value;
  };

  const hello = (v: Partial<Hello> = {}): Hello => ({ protocolVersion: PROTOCOL_VERSION, maxFrameBytes: 0, hostName: 'h', hostNonce: 1, takeOver: false, ...v });

  it('checks the protocol version and frame limit in Hello and fills in version, frame limits and session', async () => {
    const { handler } = countingHandler();
    const s = new RpcServer(handler, { maxFrameBytes: 4096, sessionLeaseMs: 5000 });
    const bad = res(await s.handlePayload(req({ id: 1, body: { case: 'hello', value: hello({ protocolVersion: 1 }) } })));
    expect(bad.error).toMatchObject({ code: ErrorCode.UNSUPPORTED_VERSION, message: `host speaks protocol 1, this device speaks ${PROTOCOL_VERSION}`, field: 'hello.protocol_version' });
    const small = res(await s.handlePayload(req({ id: 2, body: { case: 'hello', value: hello({ maxFrameBytes: 255 }) } })));
    expect(small.error).toMatchObject({ code: ErrorCode.BAD_REQUEST, field: 'hello.max_frame_bytes' });
    expect(s.sessions.current).toBe(0); // refused Hellos open nothing
    const ok = res(await s.handlePayload(req({ id: 3, body: { case: 'hello', value: hello({ maxFrameBytes: 1000 }) } })));
    expect(ok.body.case).toBe('hello');
    const h = ok.body.case === 'hello' ? ok.body.value : undefined;
    expect(h).toMatchObject({ protocolVersion: PROTOCOL_VERSION, sessionLeaseMs: 5000 });
    expect(h!.sessionId).not.toBe(0);
    expect(h!.sessionId).toBe(s.sessions.current);
    expect(s.replyFrameLimit).toBe(1000);
  });

  it('answers an empty or unknown body and an unknown enum with BAD_REQUEST, and drops undecodable bytes', async () => {
    const { handler, applied } = countingHandler();
    const s = new RpcServer(handler);
    expect(res(await s.handlePayload(Uint8Array.of(0x08, 0x05))).error).toMatchObject({ code: ErrorCode.BAD_REQUEST, field: 'body' });
    expect(res(await s.handlePayload(Uint8Array.of(0x08, 0x06, 0x72, 0x00))).error).toMatchObject({ code: ErrorCode.BAD_REQUEST });
    expect(res(await s.handlePayload(Uint8Array.of(0x08, 0x07, 0x22, 0x02, 0x08, 0x63))).error).toMatchObject({
      code: ErrorCode.BAD_REQUEST,
      field: 'write_params.tensor',
    });
    expect(await s.handlePayload(Uint8Array.of(0x0f))).toBeUndefined();
    expect(s.counters()).toMatchObject({ requests: 3, decodeErrors: 1 });
    expect(applied.other).toBe(0);
  });

  it('replays only identical bytes under the same id; a new body under an old id is applied; a new session clears the cache', async () => {
    const { handler, applied } = countingHandler();
    const s = new RpcServer(handler, { cacheSize: 2 });
    const session = openSession(s);
    const r1 = req({ id: 1, session, body: { case: 'reward', value: reward } });
    const first = await s.handlePayload(r1);
    expect(await s.handlePayload(r1)).toEqual(first);
    expect(applied.reward).toBe(1);
    await s.handlePayload(req({ id: 1, session, body: { case: 'reward', value: { ...reward, t0: 9 } } }));
    expect(applied.reward).toBe(2);
    // Eviction: ids 2 and 3 push id 1 out of a 2-entry cache.
    const r1b = req({ id: 1, session, body: { case: 'reward', value: { ...reward, t0: 9 } } });
    await s.handlePayload(req({ id: 2, body: { case: 'stats', value: {} } }));
    const stats3 = req({ id: 3, body: { case: 'stats', value: {} } });
    await s.handlePayload(stats3);
    await s.handlePayload(r1b);
    expect(applied.reward).toBe(3);
    // The holder's Hello resumes its session: the cache stays, so its retry is replayed.
    await s.handlePayload(req({ id: 4, body: { case: 'hello', value: hello() } }));
    expect(s.sessions.current).toBe(session);
    await s.handlePayload(r1b);
    expect(applied.reward).toBe(3);
    expect(s.counters().replays).toBe(2);
    // Another host takes over: a new session, an empty cache.
    await s.handlePayload(req({ id: 5, body: { case: 'hello', value: hello({ hostNonce: 2, takeOver: true }) } }));
    expect(s.sessions.current).not.toBe(session);
    await s.handlePayload(stats3);
    expect(s.counters().replays).toBe(2);
  });

  it('sessions: BUSY names the holder, NO_SESSION without one, take-over, lease; refused calls apply nothing', async () => {
    const { handler, applied } = countingHandler();
    let now = 0;
    const s = new RpcServer(handler, { sessionLeaseMs: 1000, now: () => now });
    const call = async (id: number, session: number) => res(await s.handlePayload(req({ id, session, body: { case: 'reward', value: reward } })));
    expect((await call(1, 0)).error).toMatchObject({ code: ErrorCode.NO_SESSION, field: 'session' });
    const a = res(await s.handlePayload(req({ id: 2, body: { case: 'hello', value: hello({ hostName: 'alice', hostNonce: 11 }) } })));
    const sa = a.body.case === 'hello' ? a.body.value.sessionId : 0;
    now = 400;
    const b = res(await s.handlePayload(req({ id: 3, body: { case: 'hello', value: hello({ hostName: 'bob', hostNonce: 22 }) } })));
    expect(b.error).toMatchObject({ code: ErrorCode.BUSY, holder: 'alice', heldMs: 400 });
    expect((await call(4, 12345)).error).toMatchObject({ code: ErrorCode.BUSY, holder: 'alice' });
    expect(applied.reward).toBe(0);
    // reads need no session
    expect(res(await s.handlePayload(req({ id: 5, body: { case: 'stats', value: {} } }))).body.case).toBe('stats');
    expect((await call(6, sa)).error).toBeUndefined();
    expect(applied.reward).toBe(1);
    // bob takes over; alice's next changing call is BUSY naming bob
    const t = res(await s.handlePayload(req({ id: 7, body: { case: 'hello', value: hello({ hostName: 'bob', hostNonce: 22, takeOver: true }) } })));
    const sb = t.body.case === 'hello' ? t.body.value.sessionId : 0;
    expect(sb).not.toBe(sa);
    expect((await call(8, sa)).error).toMatchObject({ code: ErrorCode.BUSY, holder: 'bob' });
    // the lease runs out after 1000 ms without a request: NO_SESSION, and alice may say Hello
    now += 1001;
    expect((await call(9, sb)).error).toMatchObject({ code: ErrorCode.NO_SESSION });
    expect(res(await s.handlePayload(req({ id: 10, body: { case: 'hello', value: hello({ hostName: 'alice', hostNonce: 11 }) } }))).body.case).toBe('hello');
    expect(applied.reward).toBe(1);
  });

  it('processes requests one at a time, so a retry that arrives mid-request is replayed', async () => {
    let running = 0;
    let maxRunning = 0;
    let applied = 0;
    const s = new RpcServer(async (body) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 10));
      running--;
      applied++;
      return { case: body.case, value: {} } as ResponseBody;
    });
    const r = req({ id: 5, session: openSession(s), body: { case: 'reward', value: reward } });
    const [x, y] = await Promise.all([s.handlePayload(r), s.handlePayload(r)]);
    expect(x).toEqual(y);
    expect(applied).toBe(1);
    expect(maxRunning).toBe(1);
  });

  it('replaces a reply larger than the frame limit by TOO_LARGE', async () => {
    const s = new RpcServer(async () => ({ case: 'run', value: { t0: 0, steps: 1, clean: new Int32Array(500).fill(-99999), noisy: new Int32Array(0), hidden: new Int32Array(0) } }), {
      maxFrameBytes: 512,
    });
    const out = res(await s.handlePayload(req({ id: 9, session: openSession(s), body: { case: 'run', value: { steps: 1, t0: 0, inputs: new Int32Array(0), noisy: false, hiddenTrace: false } } })));
    expect(out.error).toMatchObject({ code: ErrorCode.TOO_LARGE, field: 'run' });
    expect(out.error!.message.length).toBeLessThanOrEqual(120);
  });

  it('clips long error strings to the schema max sizes', async () => {
    const s = new RpcServer(async () => {
      throw new RpcError(ErrorCode.INTERNAL, 'x'.repeat(500), 'f'.repeat(100));
    });
    const out = res(await s.handlePayload(req({ id: 1, body: { case: 'stats', value: {} } })));
    expect(out.error!.message).toHaveLength(120);
    expect(out.error!.field).toHaveLength(48);
  });
});

// ---------------------------------------------------------------------------------
describe('link URLs and transports', () => {
  it('parses tcp and serial URLs with defaults', () => {
    expect(parseLinkUrl('tcp://127.0.0.1:5555')).toEqual({ status: 'OK', value: { kind: 'tcp', host: '127.0.0.1', port: 5555 } });
    expect(parseLinkUrl('tcp://:5555')).toEqual({ status: 'OK', value: { kind: 'tcp', host: '127.0.0.1', port: 5555 } });
    expect(parseLinkUrl('tcp://[::1]:7')).toEqual({ status: 'OK', value: { kind: 'tcp', host: '::1', port: 7 } });
    expect(parseLinkUrl('serial:///dev/ttyACM0?baud=115200')).toEqual({ status: 'OK', value: { kind: 'serial', path: '/dev/ttyACM0', baudRate: 115200 } });
    expect(parseLinkUrl('serial:///dev/ttyUSB1')).toEqual({ status: 'OK', value: { kind: 'serial', path: '/dev/ttyUSB1', baudRate: 115200 } });
    expect(parseLinkUrl('SERIAL://COM3?baud=921600')).toEqual({ status: 'OK', value: { kind: 'serial', path: 'COM3', baudRate: 921600 } });
    expect(formatLinkUrl({ kind: 'tcp', host: '::1', port: 7 })).toBe('tcp://[::1]:7');
  });

  it('gives one-line errors for bad URLs', () => {
    const err = (u: string) => {
      const r = parseLinkUrl(u);
      expect(r.status).toBe('INVALID_ARGUMENT');
      const d = r.status === 'INVALID_ARGUMENT' ? r.detail : '';
      expect(d).not.toContain('\n');
      return d;
    };
    expect(err('udp://1.2.3.4:5')).toMatch(/unknown scheme "udp:"; use tcp:\/\/HOST:PORT/);
    expect(err('/dev/ttyACM0')).toMatch(/has no scheme/);
    expect(err('tcp://127.0.0.1')).toMatch(/has no port; write tcp:\/\/127\.0\.0\.1:5555/);
    expect(err('tcp://127.0.0.1:')).toMatch(/has no port/);
    expect(err('tcp://host:http')).toMatch(/port "http" is not a number/);
    expect(err('tcp://host:70000')).toMatch(/port 70000 is out of range 1\.\.65535/);
    expect(err('serial:///dev/ttyACM0?baud=fast')).toMatch(/baud "fast" is not a positive whole number/);
    expect(err('serial:///dev/ttyACM0?baud=')).toMatch(/baud "" is not a positive whole number/);
    expect(err('serial:///dev/ttyACM0?parity=even')).toMatch(/unknown option "parity"/);
    expect(err('serial://')).toMatch(/has no port path/);
  });

  it('openTransport throws a LinkError for a bad URL', async () => {
    await expect(openTransport('carrier-pigeon://x')).rejects.toBeInstanceOf(LinkError);
  });

  it('serves calls over TCP loopback', async () => {
    const { handler, applied } = countingHandler();
    const server = new RpcServer(handler);
    const listener = await listenTcp(0, (t) => void server.serve(t));
    cleanup.push(() => listener.close());
    expect(listener.host).toBe('127.0.0.1');
    const t = await openTransport(`tcp://127.0.0.1:${listener.port}`);
    const client = new RpcClient(t, { timeoutMs: 1000 });
    client.session = openSession(server);
    cleanup.push(() => client.close());
    expect(client.name).toBe(`tcp://127.0.0.1:${listener.port}`);
    expect((await client.call('reward', reward)).status).toBe('OK');
    expect(applied.reward).toBe(1);
  });

  it('a refused TCP connection says what to do', async () => {
    const listener = await listenTcp(0, () => {});
    const port = listener.port;
    await listener.close();
    await expect(connectTcp('127.0.0.1', port)).rejects.toThrow(/cannot connect \(ECONNREFUSED\): nothing listens there; start the device bridge or the simulator first/);
  });

  it('wraps a serialport stream (mock binding): bytes out are bytes in, line rate from the baud', async () => {
    SerialPortMock.binding.createPort('/dev/ANPT-MOCK', { echo: true, record: true });
    cleanup.push(() => SerialPortMock.binding.reset());
    const port = new SerialPortMock({ path: '/dev/ANPT-MOCK', baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    const t = serialTransport(port, 'serial:///dev/ANPT-MOCK?baud=115200', 115200);
    expect(t.bytesPerSecond).toBe(11520);
    const got: number[] = [];
    t.onData((b) => got.push(...b));
    const frame = encodeFrame(Uint8Array.of(1, 2, 0x7e));
    await t.write(frame);
    for (let i = 0; i < 100 && got.length < frame.length; i++) await new Promise((r) => setTimeout(r, 5));
    expect(Uint8Array.from(got)).toEqual(frame);
    const dec = new FrameDecoder(64);
    expect(dec.push(Uint8Array.from(got))).toEqual([{ status: 'OK', payload: Uint8Array.of(1, 2, 0x7e) }]);
    await t.close();
    await expect(t.write(frame)).rejects.toThrow(/port is closed/);
  });

  it('opening a missing serial port fails with a LinkError naming it', async () => {
    await expect(openTransport('serial:///dev/anpt-does-not-exist?baud=9600')).rejects.toThrow(/serial:\/\/\/dev\/anpt-does-not-exist\?baud=9600/);
  });
});

// ---------------------------------------------------------------------------------
// End to end: SerialDevice -> link -> device server -> a FloatDevice-like fake.

/**
 * A small deterministic recurrent model on the Device interface (no quantisation of
 * its own): hardtanh hidden layer, linear outputs, a "noisy" copy offset by a
 * t-dependent amount, reward moves V. Enough to check that every value crosses the
 * link intact.
 */
/**
 * A small float device that keeps the Device contract (src/device/contract.ts) as the
 * real ones do: it refuses bad runs, rewards and writes with their codes, and a reward
 * needs its pending chunk.
 */
class FakeDevice implements Device {
  cfg: DeviceConfig | undefined;
  readonly pending = new PendingChunk();
  p: Params = { w: new Float64Array(0), r: new Float64Array(0), v: new Float64Array(0) };
  st: RecurrentState = { clean: new Float64Array(0), noisy: new Float64Array(0) };
  s: DeviceStats = { steps: 0, updates: 0, runCalls: 0, rewardCalls: 0 };

  async info(): Promise<DeviceInfo> {
    return { kind: 'float', name: 'fake', fixedPoint: false, maxInputs: 16, maxHidden: 64, maxOutputs: 8, maxBatch: 8, maxChunkSteps: 64 };
  }
  async configure(c: DeviceConfig): Promise<void> {
    if (c.topology.hidden > 64) throw new ConfigError('topology.hidden', `${c.topology.hidden} is out of range; allowed 1..64`);
    const { inputs: I, hidden: H, outputs: O, batch: B } = c.topology;
    this.cfg = c;
    this.pending.clear();
    this.p = { w: new Float64Array(H * I), r: new Float64Array(H * H), v: new Float64Array(O * H) };
    this.st = { clean: new Float64Array(B * H), noisy: new Float64Array(B * H) };
  }
  async writeParams(p: Params): Promise<void> {
    checkParams(p, requireConfigured(this.cfg).topology);
    this.p = { w: p.w.slice(), r: p.r.slice(), v: p.v.slice() };
  }
  async readParams(): Promise<Params> {
    return { w: this.p.w.slice(), r: this.p.r.slice(), v: this.p.v.slice() };
  }
  async readState(): Promise<RecurrentState> {
    return { clean: this.st.clean.slice(), noisy: this.st.noisy.slice() };
  }
  async writeState(s: RecurrentState): Promise<void> {
    this.st = { clean: s.clean.slice(), noisy: s.noisy.slice() };
  }
  async run(req: RunRequest): Promise<RunResult> {
    checkRun(req, requireConfigured(this.cfg));
    const { inputs: I, hidden: H, outputs: O, batch: B } = this.cfg!.topology;
    const K = req.steps;
    const clean = new Float64Array(K * B * O);
    const noisy = new Float64Array(req.noisy ? K * B * O : 0);
    const hidden = new Float64Array(K * B * H);
    for (let k = 0; k < K; k++) {
      for (let b = 0; b < B; b++) {
        for (const [copy, out] of [[this.st.clean, clean], ...(req.noisy ? [[this.st.noisy, noisy]] : [])] as const) {
          const prev = copy.slice(b * H, b * H + H);
          for (let i = 0; i < H; i++) {
            let a = copy === this.st.noisy ? 0.01 * (((req.t0 + k + i) % 3) - 1) : 0;
            for (let j = 0; j < I; j++) a += this.p.w[i * I + j] * req.inputs[(k * B + b) * I + j];
            for (let j = 0; j < H; j++) a += this.p.r[i * H + j] * prev[j];
            copy[b * H + i] = Math.max(-1, Math.min(1, a));
            if (copy === this.st.clean) hidden[(k * B + b) * H + i] = copy[b * H + i];
          }
          for (let o = 0; o < O; o++) {
            let y = 0;
            for (let j = 0; j < H; j++) y += this.p.v[o * H + j] * copy[b * H + j];
            out[(k * B + b) * O + o] = y;
          }
        }
      }
    }
    this.s.steps += K;
    this.s.runCalls++;
    this.pending.ran(req);
    return req.hiddenTrace ? { clean, noisy, hidden } : { clean, noisy };
  }
  async reward(req: RewardRequest): Promise<void> {
    requireConfigured(this.cfg);
    this.pending.check(req);
    this.pending.rewarded();
    const sum = req.deltaLoss.reduce((s, x) => s + x, 0);
    for (let i = 0; i < this.p.v.length; i++) this.p.v[i] -= req.lr.v * sum * 0.0625;
    this.s.updates += req.deltaLoss.length;
    this.s.rewardCalls++;
  }
  async resetState(): Promise<void> {
    this.st.clean.fill(0);
    this.st.noisy.fill(0);
  }
  async stats(): Promise<DeviceStats> {
    return { ...this.s };
  }
  async close(): Promise<void> {}
}

const formats = { input: q(3, 8), weight: q(1, 10), pre: q(3, 10), activity: q(0, 12), output: q(3, 10) };
const config = (over: Partial<DeviceConfig> = {}): DeviceConfig => ({
  topology: { inputs: 3, hidden: 20, outputs: 2, batch: 2, activation: 'hardtanh' },
  formats,
  noise: { hiddenSigma: 0.01, outputSigma: 0.01 },
  mismatch: { gainSpread: 0.05, offsetSpread: 0.01, seed: 3 },
  seed: 42,
  maxChunkSteps: 8,
  ...over,
});
/** Random values that are exact codes of a format. */
function exactValues(n: number, f: FixedFormat, seed: number, scale = 1): Float64Array {
  let x = seed >>> 0;
  return Float64Array.from({ length: n }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return fromQ(toQ(((x / 2 ** 32) * 2 - 1) * scale, f), f);
  });
}
const quant = (v: Float64Array, f: FixedFormat) => v.map((x) => fromQ(toQ(x, f), f));

async function bridge(opts: { maxFrameBytes?: number; bToA?: FaultHook; aToB?: FaultHook; exact?: boolean } = {}) {
  const fake = new FakeDevice();
  const { a, b } = memoryPair({ aToB: opts.aToB, bToA: opts.bToA });
  const { server } = createDeviceServer(fake, {
    maxFrameBytes: opts.maxFrameBytes ?? 16384,
    deviceId: 'fake-01',
    cacheSize: 1,
    converter: opts.exact ? EXACT_CONVERTER : undefined,
  });
  void server.serve(b);
  const dev = await SerialDevice.connect(a, { timeoutMs: 250, retries: 3, maxFrameBytes: opts.maxFrameBytes });
  cleanup.push(() => dev.close());
  return { dev, fake, server };
}

describe('SerialDevice over the link to a served Device', () => {
  it('handshakes and reports the device', async () => {
    const { dev } = await bridge({ maxFrameBytes: 2048 });
    expect(dev.hello).toMatchObject({ protocolVersion: PROTOCOL_VERSION, deviceId: 'fake-01', limits: { maxHidden: 64, maxFrameBytes: 2048 } });
    expect(await dev.info()).toMatchObject({ kind: 'serial', fixedPoint: true, maxHidden: 64, name: expect.stringContaining('fake-01') });
  });

  it('writes and reads parameters and state exactly, in frame-sized pieces', async () => {
    const { dev, fake, server } = await bridge({ maxFrameBytes: 300 }); // ~89 codes per piece
    const cfg = config();
    await dev.configure(cfg);
    const H = 20;
    const params: Params = { w: exactValues(H * 3, formats.weight, 1), r: exactValues(H * H, formats.weight, 2), v: exactValues(2 * H, formats.weight, 3) };
    await dev.writeParams(params);
    expect(await dev.readParams()).toEqual(params);
    expect(fake.p).toEqual(params);
    const state = { clean: exactValues(2 * H, formats.activity, 4), noisy: exactValues(2 * H, formats.activity, 5) };
    await dev.writeState(state);
    expect(await dev.readState()).toEqual(state);
    // R (400 codes) needs several pieces each way.
    expect(server.counters().requests).toBeGreaterThan(10);
  });

  it('runs and rewards like the device itself, and a retried reward is applied once', async () => {
    // Lose the reply to the first Reward (found by decoding the device's frames).
    let dropped = false;
    const watch = new FrameDecoder(16384);
    const { dev, fake } = await bridge({
      bToA: (b) => {
        for (const ev of watch.push(b)) {
          if (ev.status !== 'OK') continue;
          const r = decodeResponse(ev.payload);
          if (!dropped && r.status === 'OK' && r.value.body.case === 'reward') {
            dropped = true;
            return [];
          }
        }
        return [b];
      },
    });
    const ref = new FakeDevice();
    const cfg = config();
    await dev.configure(cfg);
    await ref.configure(cfg);
    const params: Params = { w: exactValues(60, formats.weight, 7), r: exactValues(400, formats.weight, 8, 0.2), v: exactValues(40, formats.weight, 9) };
    await dev.writeParams(params);
    await ref.writeParams(params);
    const inputs = exactValues(4 * 2 * 3, formats.input, 10);
    for (const t0 of [0, 4]) {
      const got = await dev.run({ steps: 4, t0, inputs, noisy: true, hiddenTrace: true });
      const want = await ref.run({ steps: 4, t0, inputs, noisy: true, hiddenTrace: true });
      expect(got.clean).toEqual(quant(want.clean, formats.output));
      expect(got.noisy).toEqual(quant(want.noisy, formats.output));
      expect(got.hidden).toEqual(quant(want.hidden!, formats.activity));
      // Keep the reference state on the same grid as the device's.
      ref.st = { clean: quant(ref.st.clean, formats.activity), noisy: quant(ref.st.noisy, formats.activity) };
      fake.st = { clean: quant(fake.st.clean, formats.activity), noisy: quant(fake.st.noisy, formats.activity) };
    }
    const rw = { t0: 4, deltaLoss: Float64Array.of(0.5, -0.25, 0.125, 1), lr: { w: 0.1, r: 0.1, v: 0.5 } };
    await dev.reward(rw);
    await ref.reward(rw);
    expect(dropped).toBe(true);
    const stats = await dev.stats();
    expect(stats).toMatchObject({ steps: 8, runCalls: 2, rewardCalls: 1, updates: 4 });
    expect(stats.link).toMatchObject({ retries: 1, 'device.replays': 1 });
    expect(fake.p.v).toEqual(ref.p.v);
    // The chunk is rewarded: another reward is refused with a clear error, nothing applied.
    await expect(dev.reward(rw)).rejects.toThrow(/NO_PENDING_CHUNK.*no noisy chunk is waiting for a reward/);
    expect(fake.s.rewardCalls).toBe(1);
  });

  it('turns device refusals into ConfigError / LinkError with the field', async () => {
    const { dev } = await bridge();
    await expect(dev.run({ steps: 1, t0: 0, inputs: new Float64Array(6), noisy: false })).rejects.toThrow(/run before configure/);
    const e = await dev.configure(config({ topology: { inputs: 3, hidden: 99, outputs: 2, batch: 1, activation: 'tanh' } })).catch((x) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect(e.field).toBe('topology.hidden');
    await expect(dev.configure({ ...config(), formats: undefined })).rejects.toThrow(/formats: a device behind a link needs fixed-point formats/);
    await dev.configure(config());
    await expect(dev.reward({ t0: 0, deltaLoss: Float64Array.of(1), lr: { w: 0, r: 0, v: 0 } })).rejects.toThrow(/NO_PENDING_CHUNK/);
    // the contract's checks, made on the host before anything is sent (the same code the device would give)
    await expect(dev.run({ steps: 9, t0: 0, inputs: new Float64Array(9 * 2 * 3), noisy: false })).rejects.toMatchObject({ code: 'TOO_LARGE', message: expect.stringMatching(/^run\.steps: 9 is over maxChunkSteps 8/) });
    await expect(dev.run({ steps: 1, t0: 0, inputs: new Float64Array(5), noisy: false })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/^run\.inputs: length 5, expected steps x batch x inputs = 6/) });
  });

  it('refuses a chunk size that cannot fit a frame, before sending', async () => {
    const { dev } = await bridge({ maxFrameBytes: 512 });
    await expect(dev.configure(config({ maxChunkSteps: 64 }))).rejects.toThrow(/maxChunkSteps: 64 steps of batch 2 do not fit one 512-byte frame .*use maxChunkSteps <= \d+/);
  });

  it('with the exact converter, an off-grid value from the device is an INTERNAL error, not a rounding', async () => {
    expect(exactValuesToCodes(Float64Array.of(0.5, -0.25), q(1, 2), 'x')).toEqual(Int32Array.of(2, -1));
    expect(() => exactValuesToCodes(Float64Array.of(0.5, 0.1), q(1, 2), 'x')).toThrow(/^x\[1\] = 0.1 is not a code of Q1.2$/);
    const { dev } = await bridge({ exact: true });
    await dev.configure(config());
    await dev.writeParams({ w: new Float64Array(60).fill(0.1), r: new Float64Array(400), v: new Float64Array(40).fill(0.3) });
    await expect(dev.run({ steps: 1, t0: 0, inputs: Float64Array.of(1, 1, 1, 1, 1, 1), noisy: false })).rejects.toThrow(/INTERNAL.*run\.clean\[0\] = .* is not a code of Q3\.10/);
  });

  it('a silent link fails the handshake with a message that says what to check', async () => {
    const { a } = memoryPair();
    await expect(SerialDevice.connect(a, { helloTimeoutMs: 10, retries: 1 })).rejects.toThrow(
      /^memory:\/\/host: no valid reply to Hello within \d+ ms; check that the device or bridge there runs anpt firmware and is not stalled$/,
    );
  });
});

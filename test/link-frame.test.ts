/**
 * The two lower layers of the link, each with bytes in and bytes out:
 * CRC-32 and HDLC-style frames (frame.ts), protobuf messages (messages.ts).
 */
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { OVERFLOW_CODE, ROUNDING_CODE } from '../src/format/fixed.js';
import { crc32, crc32Final, crc32Update, CRC32_INIT } from '../src/link/crc32.js';
import {
  CRC_BYTES,
  FrameDecoder,
  decoderBufferBytes,
  encodeFrame,
  maxEncodedFrameBytes,
  type FrameEvent,
} from '../src/link/frame.js';
import {
  CALL_CASES,
  ENUM_MIRRORS,
  TraceKind,
  ErrorCode,
  PROTOCOL_VERSION,
  Tensor,
  decodeRequest,
  decodeResponse,
  encodeRequest,
  encodeResponse,
  maxChunkStepsForFrame,
  maxCodesPerFrame,
  rewardRequestBytes,
  runReplyBytes,
  runRequestBytes,
  schemaRoot,
  type CallCase,
  type PackedFields,
  type Request,
  type Response,
} from '../src/link/messages.js';

const bytes = (...xs: number[]) => Uint8Array.from(xs);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Feed `stream` to a decoder in the given chunk sizes (cycled); collect all events. */
function feed(dec: FrameDecoder, stream: Uint8Array, splits: number[] = [stream.length || 1]): FrameEvent[] {
  const events: FrameEvent[] = [];
  let i = 0;
  let k = 0;
  while (i < stream.length) {
    const n = Math.max(1, splits[k++ % splits.length]);
    events.push(...dec.push(stream.subarray(i, i + n)));
    i += n;
  }
  return events;
}
const delivered = (evs: FrameEvent[]) => evs.flatMap((e) => (e.status === 'OK' ? [e.payload] : []));

// ---------------------------------------------------------------------------------
describe('crc32', () => {
  it('matches the CRC-32/ISO-HDLC check value', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it('over payload and its little-endian CRC gives the residue 0x2144DF1C (one-pass check for firmware)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
        const c = crc32(b);
        const withCrc = Uint8Array.from([...b, c & 0xff, (c >>> 8) & 0xff, (c >>> 16) & 0xff, c >>> 24]);
        expect(crc32(withCrc)).toBe(0x2144df1c);
      }),
      { numRuns: 50 },
    );
  });

  it('running updates equal the one-shot value', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(200), (b, cut) => {
        const k = Math.min(cut, b.length);
        const reg = crc32Update(crc32Update(CRC32_INIT, b, 0, k), b, k, b.length);
        expect(crc32Final(reg)).toBe(crc32(b));
      }),
      { numRuns: 100 },
    );
  });
});

// ---------------------------------------------------------------------------------
describe('frames', () => {
  it('worked example of docs/protocol.md: Request{id:126, resetState:{}}', () => {
    const enc = encodeRequest({ id: 126, body: { case: 'resetState', value: {} } });
    expect(enc.status).toBe('OK');
    if (enc.status !== 'OK') return;
    expect(hex(enc.bytes)).toBe('087e4200');
    expect(crc32(enc.bytes).toString(16)).toBe('78d09f2e') // zlib.crc32(bytes([8, 0x7e, 0x42, 0])) agrees;
    // flag | 08 (7E escaped as 7D 5E) 42 00 | CRC 2E 9F D0 78 little-endian | flag
    expect(hex(encodeFrame(enc.bytes))).toBe('7e087d5e42002e9fd0787e');
  });

  it('escapes exactly 0x7E and 0x7D', () => {
    const f = encodeFrame(bytes(0x7e, 0x7d, 0x5e, 0x20));
    expect(hex(f.subarray(0, 7))).toBe('7e7d5e7d5d5e20');
    const d = new FrameDecoder(64);
    expect(delivered(d.push(f))).toEqual([bytes(0x7e, 0x7d, 0x5e, 0x20)]);
  });

  it('round-trips any payloads, any splits, back to back', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }),
        (payloads, splits) => {
          const dec = new FrameDecoder(300);
          const stream = Buffer.concat(payloads.map(encodeFrame));
          const evs = feed(dec, stream, splits);
          // Every payload arrives once, in order (an empty payload still carries its CRC).
          expect(evs.every((e) => e.status === 'OK')).toBe(true);
          expect(delivered(evs).map(hex)).toEqual(payloads.map(hex));
          expect(maxEncodedFrameBytes(300)).toBeGreaterThanOrEqual(Math.max(0, ...payloads.map((p) => encodeFrame(p).length)));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('accepts a payload of exactly maxFrameBytes and refuses one byte more', () => {
    const dec = new FrameDecoder(32);
    const ok = new Uint8Array(32).fill(1);
    const big = new Uint8Array(33).fill(2);
    const evs = dec.push(Buffer.concat([encodeFrame(ok), encodeFrame(big), encodeFrame(ok)]));
    expect(evs.map((e) => e.status)).toEqual(['OK', 'RESOURCE_EXHAUSTED', 'OK']);
    const c = dec.counters();
    expect(c).toMatchObject({ framesOk: 2, oversize: 1 });
    expect(evs[1]).toMatchObject({ reason: 'oversize', bytesDropped: 33 + CRC_BYTES });
    expect(c.bytesDropped).toBe(33 + CRC_BYTES);
  });

  it('reports garbage, short frames, bad escapes and CRC errors, then resynchronises', () => {
    const dec = new FrameDecoder(64);
    const good = encodeFrame(bytes(1, 2, 3));
    const badCrc = encodeFrame(bytes(1, 2, 3));
    badCrc[2] ^= 0x01;
    const stream = Buffer.concat([
      bytes(0x11, 0x22), // garbage before the first flag
      good,
      bytes(0x7e, 0x01, 0x02, 0x7e), // too short for a CRC
      bytes(0x7e, 0x01, 0x7d, 0x41, 0x55, 0x7e), // 7D 41 is not an escape we produce
      bytes(0x7e, 0x01, 0x7d, 0x7e), // escape then flag: abort
      badCrc,
      good,
    ]);
    const evs = dec.push(stream);
    expect(evs.map((e) => (e.status === 'OK' ? 'OK' : e.reason))).toEqual(['garbage', 'OK', 'too_short', 'bad_escape', 'bad_escape', 'crc', 'OK']);
    const c = dec.counters();
    expect(c).toMatchObject({ framesOk: 2, crcErrors: 1, malformed: 3, oversize: 0 });
    const dropped = evs.reduce((s, e) => s + (e.status === 'OK' ? 0 : e.bytesDropped), 0);
    expect(c.bytesDropped).toBe(dropped);
  });

  it('never delivers a corrupted frame and always recovers for the next one', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), values: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ kind: fc.constant('flips' as const), ats: fc.array(fc.nat(), { minLength: 2, maxLength: 6 }) }),
    );
    const marker = bytes(0xca, 0xfe, 0x7e, 0x00);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 120 }), mutation, fc.integer({ min: 1, max: 17 }), (payload, m, split) => {
        fc.pre(hex(payload) !== hex(marker));
        const frame = encodeFrame(payload);
        const n = frame.length;
        let bad: Uint8Array;
        let interior: boolean; // did the mutation touch bytes between the two flags?
        switch (m.kind) {
          case 'flip': {
            bad = frame.slice();
            const at = m.at % n;
            bad[at] ^= m.mask;
            interior = at > 0 && at < n - 1;
            break;
          }
          case 'set': {
            bad = frame.slice();
            const at = m.at % n;
            fc.pre(bad[at] !== m.value);
            bad[at] = m.value;
            interior = at > 0 && at < n - 1;
            break;
          }
          case 'truncate': {
            const cut = m.at % n; // always loses at least the closing flag
            bad = frame.slice(0, cut);
            interior = cut < n - 1; // only the closing flag lost: the next frame's flag closes it
            break;
            break;
          }
          case 'insert': {
            const at = m.at % (n + 1);
            bad = Buffer.concat([frame.subarray(0, at), m.values, frame.subarray(at)]);
            // bytes that end with a flag, put just after the opening flag (or that start
            // with a flag, just before the closing one) leave the frame itself intact
            const v = m.values;
            const outside = (at === 1 && v[v.length - 1] === 0x7e) || (at === n - 1 && v[0] === 0x7e);
            interior = at > 0 && at < n && !outside;
            break;
          }
          case 'delete': {
            const at = m.at % n;
            const end = Math.min(n, at + m.count);
            bad = Buffer.concat([frame.subarray(0, at), frame.subarray(end)]);
            interior = at < n - 1 && end > 1; // [at, end) meets the interior [1, n-2]
            break;
          }
          case 'flips': {
            bad = frame.slice();
            for (const a of m.ats) bad[a % n] ^= 0x5a;
            interior = hex(bad).slice(2, -2) !== hex(frame).slice(2, -2);
            break;
          }
        }
        const dec = new FrameDecoder(128);
        const evs = feed(dec, Buffer.concat([bad, encodeFrame(marker)]), [split]);
        const got = delivered(evs).map(hex);
        // Only the original payload or the marker ever come out; a changed frame never does.
        for (const g of got) expect([hex(payload), hex(marker)]).toContain(g);
        if (interior) expect(got).not.toContain(hex(payload));
        expect(got.filter((g) => g === hex(marker))).toHaveLength(1);
      }),
      { numRuns: 600 },
    );
  });

  it('survives any byte stream within its stated memory bound', () => {
    const byte = fc.oneof(fc.constantFrom(0x7e, 0x7d, 0x5e, 0x5d), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 48 }),
        fc.array(byte, { maxLength: 1500 }),
        fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 5 }),
        (maxFrame, stream, splits) => {
          const dec = new FrameDecoder(maxFrame);
          expect(dec.capacity).toBe(decoderBufferBytes(maxFrame));
          expect(dec.capacity).toBe(maxFrame + CRC_BYTES);
          const data = Uint8Array.from(stream);
          let dropped = 0;
          let i = 0;
          let k = 0;
          while (i < data.length) {
            const c = splits[k++ % splits.length];
            for (const e of dec.push(data.subarray(i, i + c))) {
              if (e.status === 'OK') expect(e.payload.length).toBeLessThanOrEqual(maxFrame);
              else dropped += e.bytesDropped;
            }
            expect(dec.bufferedBytes).toBeLessThanOrEqual(dec.capacity);
            i += c;
          }
          expect(dec.counters().bytesDropped).toBe(dropped);
        },
      ),
      { numRuns: 200 },
    );
  });
});

// ---------------------------------------------------------------------------------
// Message arbitraries: every field, full value ranges.

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const i32Array = (maxLength: number) => fc.int32Array({ maxLength });
const f64Array = (maxLength: number) => fc.float64Array({ maxLength });
const dbl = fc.double();
const str = (maxLength: number) => fc.string({ maxLength });
const enumOf = (name: string) => fc.constantFrom(...Object.values(ENUM_MIRRORS[`anpt.v2.${name}`]));
const tensorA = enumOf('Tensor') as fc.Arbitrary<Tensor>;
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
/** An object without the keys whose value is undefined (absent sub-messages). */
const compact = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

const formatA = fc.record({
  bits: u16,
  frac: u16,
  signed: fc.boolean(),
  rounding: enumOf('Rounding') as fc.Arbitrary<0 | 1 | 2>,
  overflow: enumOf('Overflow') as fc.Arbitrary<0 | 1>,
});

const configureA = fc
  .record({
    topology: maybe(fc.record({ inputs: u16, hidden: u16, outputs: u16, batch: u16, activation: enumOf('Activation'), bias: fc.boolean() })),
    formats: maybe(
      fc.record({ input: maybe(formatA), weight: maybe(formatA), pre: maybe(formatA), activity: maybe(formatA), output: maybe(formatA) }).map(compact),
    ),
    noise: maybe(fc.record({ hiddenSigma: dbl, outputSigma: dbl })),
    mismatch: maybe(fc.record({ gainSpread: dbl, offsetSpread: dbl, seed: u32 })),
    seed: u32,
    maxChunkSteps: u32,
    learner: maybe(fc.record({ trace: fc.constantFrom(...Object.values(TraceKind)), decay: dbl })),
  })
  .map(compact);

const requestBodies: { [C in CallCase]: fc.Arbitrary<unknown> } = {
  hello: fc.record({ protocolVersion: u32, maxFrameBytes: u32, hostName: str(32), hostNonce: u32, takeOver: fc.boolean() }),
  configure: configureA,
  writeParams: fc.record({ tensor: tensorA, offset: u32, codes: i32Array(300) }),
  readParams: fc.record({ tensor: tensorA, offset: u32, count: u32 }),
  run: fc.record({ steps: u32, t0: u32, inputs: i32Array(300), noisy: fc.boolean(), hiddenTrace: fc.boolean(), preloaded: fc.boolean() }),
  preload: fc.record({ steps: u32, t0: u32, inputs: i32Array(300), noisy: fc.boolean(), hiddenTrace: fc.boolean(), preloaded: fc.boolean() }),
  reward: fc.record({ t0: u32, deltaLoss: f64Array(64), lrW: dbl, lrR: dbl, lrV: dbl, sameRates: fc.boolean(), deltaLossF32: fc.array(fc.float({ noNaN: true }), { maxLength: 8 }) }),
  resetState: fc.constant({}),
  stats: fc.constant({}),
  readConfig: fc.constant({}),
};

const linkA = fc.record({
  framesOk: u32,
  crcErrors: u32,
  oversize: u32,
  malformed: u32,
  bytesDropped: u32,
  requests: u32,
  replays: u32,
  decodeErrors: u32,
  injectedCorrupt: u32,
  injectedDrops: u32,
  injectedStalls: u32,
  injectedResets: u32,
  queueDrops: u32,
});

const responseBodies: { [C in CallCase]: fc.Arbitrary<unknown> } = {
  hello: fc
    .record({
      protocolVersion: u32,
      firmwareName: str(32),
      firmwareVersion: str(16),
      deviceId: str(32),
      bootCounter: u32,
      sessionId: u32,
      sessionLeaseMs: u32,
      limits: maybe(
        fc.record({
          maxInputs: u32,
          maxHidden: u32,
          maxOutputs: u32,
          maxBatch: u32,
          maxChunkSteps: u32,
          minBits: u32,
          maxBits: u32,
          roundingModes: fc.array(enumOf('Rounding'), { maxLength: 3 }),
          overflowModes: fc.array(enumOf('Overflow'), { maxLength: 2 }),
          activations: fc.array(enumOf('Activation'), { maxLength: 3 }),
          ramBytes: u32,
          maxFrameBytes: u32,
          plasticityOnDevice: fc.boolean(),
          noiseSource: enumOf('NoiseSource'),
          minFrameBytes: u32,
          maxInFlight: u32,
          preload: fc.boolean(),
          bias: fc.boolean(),
          traces: fc.boolean(),
        }),
      ),
    })
    .map(compact),
  configure: fc.constant({}),
  writeParams: fc.constant({}),
  readParams: fc.record({ tensor: tensorA, offset: u32, total: u32, codes: i32Array(300) }),
  run: fc.record({ t0: u32, steps: u32, clean: i32Array(200), noisy: i32Array(200), hidden: i32Array(200) }),
  reward: fc.constant({}),
  preload: fc.constant({}),
  resetState: fc.constant({}),
  stats: fc
    .record({ steps: fc.maxSafeNat(), updates: fc.maxSafeNat(), runCalls: u32, rewardCalls: u32, link: maybe(linkA) })
    .map(compact),
  readConfig: fc.record({ config: maybe(configureA) }).map(compact),
};

/** payload -> frame -> decoder (split) -> payload. */
function throughFrames(payload: Uint8Array, split: number): Uint8Array {
  const dec = new FrameDecoder(4096);
  const out = delivered(feed(dec, encodeFrame(payload), [split]));
  expect(out).toHaveLength(1);
  return out[0];
}

describe('messages', () => {
  it('PROTOCOL_VERSION comes from the schema and is 2', () => {
    expect(PROTOCOL_VERSION).toBe(2);
  });

  it('TS enum mirrors equal the schema (prefix stripped), rounding/overflow equal fixed.ts codes', () => {
    for (const [name, mirror] of Object.entries(ENUM_MIRRORS)) {
      const e = schemaRoot.lookupEnum(name);
      const prefix = e.name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase() + '_';
      const fromSchema = Object.fromEntries(Object.entries(e.values).map(([k, v]) => [k.startsWith(prefix) ? k.slice(prefix.length) : k, v]));
      expect(mirror, name).toEqual(fromSchema);
    }
    expect(ROUNDING_CODE).toEqual({ nearest: 0, floor: 1, stochastic: 2 });
    expect(OVERFLOW_CODE).toEqual({ sat: 0, wrap: 1 });
    expect(ENUM_MIRRORS['anpt.v2.Rounding']).toEqual({ NEAREST: ROUNDING_CODE.nearest, FLOOR: ROUNDING_CODE.floor, STOCHASTIC: ROUNDING_CODE.stochastic });
    expect(ENUM_MIRRORS['anpt.v2.Overflow']).toEqual({ SAT: OVERFLOW_CODE.sat, WRAP: OVERFLOW_CODE.wrap });
  });

  for (const c of CALL_CASES) {
    it(`request ${c}: encode -> frame -> deframe -> decode is the identity`, () => {
      fc.assert(
        fc.property(u32, u32, requestBodies[c], fc.integer({ min: 1, max: 64 }), (id, session, value, split) => {
          const req = { id, session, body: { case: c, value } } as Request;
          const enc = encodeRequest(req);
          expect(enc.status).toBe('OK');
          if (enc.status !== 'OK') return;
          const dec = decodeRequest(throughFrames(enc.bytes, split));
          expect(dec).toEqual({ status: 'OK', value: req });
        }),
        { numRuns: 60 },
      );
    });

    it(`response ${c}: encode -> frame -> deframe -> decode is the identity`, () => {
      fc.assert(
        fc.property(u32, responseBodies[c], fc.integer({ min: 1, max: 64 }), (id, value, split) => {
          const res = { id, body: { case: c, value } } as Response;
          const enc = encodeResponse(res);
          expect(enc.status).toBe('OK');
          if (enc.status !== 'OK') return;
          const dec = decodeResponse(throughFrames(enc.bytes, split));
          expect(dec).toEqual({ status: 'OK', value: res });
        }),
        { numRuns: 60 },
      );
    });
  }

  it('error responses round-trip', () => {
    fc.assert(
      fc.property(u32, enumOf('ErrorCode'), str(120), str(48), str(32), u32, (id, code, message, field, holder, heldMs) => {
        const res: Response = { id, body: { case: undefined }, error: { code, message, field, holder, heldMs } };
        const enc = encodeResponse(res);
        expect(enc.status).toBe('OK');
        if (enc.status === 'OK') expect(decodeResponse(enc.bytes)).toEqual({ status: 'OK', value: res });
      }),
      { numRuns: 100 },
    );
  });

  it('refuses values that do not fit their field, naming the field, without throwing', () => {
    const r1 = encodeRequest({ id: 1.5, body: { case: 'stats', value: {} } });
    expect(r1).toMatchObject({ status: 'INVALID_ARGUMENT' });
    expect(r1.status === 'INVALID_ARGUMENT' && r1.detail).toMatch(/^id: 1.5 is not a uint32/);
    const r2 = encodeRequest({ id: 1, body: { case: 'writeParams', value: { tensor: 11 as Tensor, offset: 0, codes: new Int32Array(1) } } });
    expect(r2.status === 'INVALID_ARGUMENT' && r2.detail).toMatch(/^writeParams\.tensor: 11 is not a Tensor value/);
    const r3 = encodeRequest({ id: 1, body: { case: 'run', value: { steps: -1, t0: 0, inputs: new Int32Array(0), noisy: false, hiddenTrace: false, preloaded: false } } });
    expect(r3.status === 'INVALID_ARGUMENT' && r3.detail).toMatch(/^run\.steps: -1 is not a uint32/);
    const r4 = encodeRequest({
      id: 1,
      body: { case: 'writeParams', value: { tensor: Tensor.W, offset: 0, codes: [1, 2.5] as unknown as Int32Array } },
    });
    expect(r4.status === 'INVALID_ARGUMENT' && r4.detail).toMatch(/^writeParams\.codes\[1\]: 2.5 is not an int32/);
  });

  it('decodes an unknown enum in a request as INVALID_ARGUMENT with the id and the proto field path', () => {
    // Request{id: 7, write_params: {tensor: 11}}: 08 07 22 02 08 0b (10 is the last tensor)
    const dec = decodeRequest(bytes(0x08, 0x07, 0x22, 0x02, 0x08, 0x0b));
    expect(dec).toMatchObject({ status: 'INVALID_ARGUMENT', id: 7, field: 'write_params.tensor' });
  });

  it('decodes an unknown body (a newer host) as no body', () => {
    // Request{id: 3, field 14 (unknown): empty message}
    const dec = decodeRequest(bytes(0x08, 0x03, 0x72, 0x00));
    expect(dec).toEqual({ status: 'OK', value: { id: 3, session: 0, body: { case: undefined } } });
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const r = decodeRequest(b);
        const s = decodeResponse(b);
        expect(['OK', 'DATA_LOSS', 'INVALID_ARGUMENT']).toContain(r.status);
        expect(['OK', 'DATA_LOSS', 'INVALID_ARGUMENT']).toContain(s.status);
      }),
      { numRuns: 500 },
    );
    expect(decodeRequest(bytes(0x08, 0xff)).status).toBe('DATA_LOSS'); // truncated varint
    expect(decodeRequest(bytes(0x0f)).status).toBe('DATA_LOSS'); // wire type 7
  });

  it('size bounds hold for the int32 codes of the trace tensors (5 bytes each at worst)', () => {
    const f = { bits: 32, signed: true };
    fc.assert(
      fc.property(fc.integer({ min: 256, max: 20000 }), fc.constantFrom(-(2 ** 31), 2 ** 31 - 1), fc.constantFrom(Tensor.TRACE_W, Tensor.TRACE_R, Tensor.TRACE_BIAS), (frame, worst, tensor) => {
        const codes = new Int32Array(maxCodesPerFrame(frame, f)).fill(worst);
        const w = encodeRequest({ id: 0xffffffff, session: 0xffffffff, body: { case: 'writeParams', value: { tensor, offset: 0xffffffff, codes } } });
        const r = encodeResponse({ id: 0xffffffff, body: { case: 'readParams', value: { tensor, offset: 0xffffffff, total: 0xffffffff, codes } } });
        expect(w.status === 'OK' && w.bytes.length).toBeLessThanOrEqual(frame);
        expect(r.status === 'OK' && r.bytes.length).toBeLessThanOrEqual(frame);
      }),
      { numRuns: 100 },
    );
  });

  it('size bounds hold for worst-case codes', () => {
    const fmt = (bits: number, signed: boolean) => ({ bits, signed });
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 16 }),
        fc.boolean(),
        fc.integer({ min: 256, max: 20000 }),
        fc.record({ inputs: fc.integer({ min: 1, max: 16 }), hidden: fc.integer({ min: 1, max: 64 }), outputs: fc.integer({ min: 1, max: 8 }), batch: fc.integer({ min: 1, max: 8 }) }),
        fc.boolean(),
        (bits, signed, frame, topo, trace) => {
          const f = fmt(bits, signed);
          const worst = signed ? -(2 ** (bits - 1)) : 2 ** bits - 1;
          const n = maxCodesPerFrame(frame, f);
          const w = encodeRequest({ id: 0xffffffff, session: 0xffffffff, body: { case: 'writeParams', value: { tensor: Tensor.STATE_NOISY, offset: 0xffffffff, codes: new Int32Array(n).fill(worst) } } });
          const r = encodeResponse({ id: 0xffffffff, body: { case: 'readParams', value: { tensor: Tensor.STATE_NOISY, offset: 0xffffffff, total: 0xffffffff, codes: new Int32Array(n).fill(worst) } } });
          expect(w.status === 'OK' && w.bytes.length).toBeLessThanOrEqual(frame);
          expect(r.status === 'OK' && r.bytes.length).toBeLessThanOrEqual(frame);
          const formats = { input: f, activity: f, output: f };
          const k = Math.min(maxChunkStepsForFrame(frame, topo, formats, trace), 200);
          if (k === 0) return;
          const run = encodeRequest({
            id: 0xffffffff,
            session: 0xffffffff,
            body: { case: 'run', value: { steps: 0xffffffff, t0: 0xffffffff, inputs: new Int32Array(k * topo.batch * topo.inputs).fill(worst), noisy: true, hiddenTrace: true, preloaded: true } },
          });
          const o = new Int32Array(k * topo.batch * topo.outputs).fill(worst);
          const reply = encodeResponse({
            id: 0xffffffff,
            body: { case: 'run', value: { t0: 0xffffffff, steps: 0xffffffff, clean: o, noisy: o, hidden: new Int32Array(trace ? k * topo.batch * topo.hidden : 0).fill(worst) } },
          });
          const reward = encodeRequest({ id: 0xffffffff, session: 0xffffffff, body: { case: 'reward', value: { t0: 0xffffffff, deltaLoss: new Float64Array(k).fill(-1.5), lrW: 1, lrR: 1, lrV: 1 } } });
          for (const [e, bound] of [
            [run, runRequestBytes(k, topo, formats)],
            [reply, runReplyBytes(k, topo, formats, trace)],
            [reward, rewardRequestBytes(k)],
          ] as const) {
            expect(e.status).toBe('OK');
            if (e.status === 'OK') {
              expect(e.bytes.length).toBeLessThanOrEqual(bound);
              expect(e.bytes.length).toBeLessThanOrEqual(frame);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('the typed-array fields of wire-types.ts (PackedFields) are exactly the packed sint32 and double fields of the schema', () => {
    const packed: Record<string, string> = {};
    const walk = (ns: protobuf.NamespaceBase) => {
      for (const o of ns.nestedArray) {
        if (o instanceof protobuf.Type) for (const f of o.fieldsArray) if (f.repeated && (f.type === 'sint32' || f.type === 'double')) packed[f.name] = f.type === 'double' ? 'Float64Array' : 'Int32Array';
        if (o instanceof protobuf.Namespace) walk(o);
      }
    };
    walk(schemaRoot);
    const declared: Record<keyof PackedFields, string> = { codes: 'Int32Array', inputs: 'Int32Array', clean: 'Int32Array', noisy: 'Int32Array', hidden: 'Int32Array', deltaLoss: 'Float64Array' };
    expect(packed).toEqual(declared);
    // and the decoder produces them
    const dec = decodeRequest((encodeRequest({ id: 1, body: { case: 'reward', value: { t0: 0, deltaLoss: Float64Array.of(1.5), lrW: 0, lrR: 0, lrV: 0 } } }) as { bytes: Uint8Array }).bytes);
    expect(dec.status === 'OK' && dec.value.body.case === 'reward' && dec.value.body.value.deltaLoss).toBeInstanceOf(Float64Array);
  });

  it('ErrorCode covers the codes of the brief', () => {
    expect(Object.keys(ErrorCode)).toEqual([
      'UNSPECIFIED',
      'BAD_REQUEST',
      'UNSUPPORTED_VERSION',
      'CONFIG_OUT_OF_RANGE',
      'NOT_CONFIGURED',
      'NO_PENDING_CHUNK',
      'TOO_LARGE',
      'INTERNAL',
      'BAD_INPUT',
      'BUSY',
      'NO_SESSION',
      'OUT_OF_ORDER',
    ]);
  });
});

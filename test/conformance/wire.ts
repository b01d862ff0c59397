/**
 * The wire half of the conformance suite: what a device answers to raw requests,
 * below the host's own checks (SerialDevice refuses most bad calls before sending, so
 * suite.ts alone would not see a board that forgets one). One call adds a device:
 *
 *   describeWireConformance('my board over TCP', async () => {
 *     const transport = await openTransport('tcp://127.0.0.1:5555');
 *     return { transport, close: () => transport.close() };
 *   });
 *
 * `open` gives a byte transport to a freshly booted board (no session, not
 * configured); it is called once, in beforeAll. The tests run in order.
 *
 * It checks the protocol 2 rules of docs/protocol.md: Hello (version, frame limit,
 * sessions: BUSY naming the holder, take-over, resume), the session of changing calls
 * (NO_SESSION, BUSY), each call's checks in order with their codes and fields, and that
 * a refused request changes nothing (the counters and the pending chunk, read back
 * through Stats and a final Reward).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { configToWire } from '../../src/link/codes.js';
import * as pb from '../../src/link/messages.js';
import { RpcClient, type CallResult } from '../../src/link/rpc.js';
import type { ByteTransport } from '../../src/link/transport.js';
import { CONFORMANCE_CONFIG as config } from './suite.js';

export interface OpenedTransport {
  transport: ByteTransport;
  close(): Promise<void>;
}

const { batch: B, inputs: I } = config.topology;
const K = config.maxChunkSteps;
const hello = (v: Partial<pb.Hello> = {}): pb.Hello => ({ protocolVersion: pb.PROTOCOL_VERSION, maxFrameBytes: 0, hostName: 'conformance', hostNonce: 0x51, takeOver: false, ...v });
const run = (v: Partial<pb.Run> = {}): pb.Run => ({ steps: 2, t0: 0, inputs: new Int32Array(2 * B * I), noisy: true, hiddenTrace: false, ...v });
const reward = (v: Partial<pb.Reward> = {}): pb.Reward => ({ t0: 0, deltaLoss: new Float64Array(2).fill(1e-3), lrW: 0.1, lrR: 0.1, lrV: 0.1, sameRates: false, deltaLossF32: [], ...v });

/** The call was refused with `code` (and, if given, `field`). */
function refusedWith(r: CallResult<unknown>, code: keyof typeof pb.ErrorCode, field?: string): void {
  expect(r.status, r.status === 'OK' ? 'the call succeeded' : r.detail).toBe('DEVICE_ERROR');
  if (r.status !== 'DEVICE_ERROR') return;
  expect(pb.errorName(r.error.code)).toBe(code);
  if (field !== undefined) expect(r.error.field).toBe(field);
  expect(r.error.message.length).toBeGreaterThan(0);
}

export function describeWireConformance(name: string, open: () => Promise<OpenedTransport>): void {
  describe(`wire conformance: ${name}`, () => {
    let opened: OpenedTransport | undefined;
    let failure: unknown;
    let rpc: RpcClient;
    beforeAll(async () => {
      try {
        opened = await open();
        rpc = new RpcClient(opened.transport, { timeoutMs: 2000, retries: 1 });
      } catch (e) {
        failure = e;
      }
    });
    beforeEach(() => {
      if (failure) throw failure;
    });
    afterAll(async () => {
      await rpc?.close().catch(() => undefined);
      await opened?.close();
    });

    /** Stats counters (no link counters: those change with every request). */
    const counters = async () => {
      const s = await rpc.call('stats', {});
      expect(s.status).toBe('OK');
      const { steps, updates, runCalls, rewardCalls } = (s as { value: pb.StatsReply }).value;
      return { steps, updates, runCalls, rewardCalls };
    };

    it('Hello: a wrong version UNSUPPORTED_VERSION, a frame limit under 256 BAD_REQUEST, both opening nothing; then a session, never 0', async () => {
      refusedWith(await rpc.call('hello', hello({ protocolVersion: pb.PROTOCOL_VERSION + 1 })), 'UNSUPPORTED_VERSION', 'hello.protocol_version');
      refusedWith(await rpc.call('hello', hello({ maxFrameBytes: 255 })), 'BAD_REQUEST', 'hello.max_frame_bytes');
      refusedWith(await rpc.call('configure', configToWire(config)), 'NO_SESSION'); // still no session
      const h = await rpc.call('hello', hello());
      expect(h.status).toBe('OK');
      const reply = (h as { value: pb.HelloReply }).value;
      expect(reply.protocolVersion).toBe(pb.PROTOCOL_VERSION);
      expect(reply.sessionId).not.toBe(0);
      expect(reply.limits?.minFrameBytes).toBe(256);
      rpc.session = reply.sessionId;
      // the holder's own nonce resumes the same session
      const again = await rpc.call('hello', hello());
      expect(again.status === 'OK' && again.value.sessionId).toBe(reply.sessionId);
    });

    it('before Configure: Run, Reward, WriteParams, ReadParams, ResetState, ReadConfig are NOT_CONFIGURED', async () => {
      refusedWith(await rpc.call('run', run()), 'NOT_CONFIGURED');
      refusedWith(await rpc.call('reward', reward()), 'NOT_CONFIGURED');
      refusedWith(await rpc.call('writeParams', { tensor: pb.Tensor.W, offset: 0, codes: new Int32Array(1) }), 'NOT_CONFIGURED');
      refusedWith(await rpc.call('readParams', { tensor: pb.Tensor.W, offset: 0, count: 1 }), 'NOT_CONFIGURED');
      refusedWith(await rpc.call('resetState', {}), 'NOT_CONFIGURED');
      refusedWith(await rpc.call('readConfig', {}), 'NOT_CONFIGURED');
    });

    it('Configure, then ReadConfig returns it', async () => {
      expect((await rpc.call('configure', configToWire(config))).status).toBe('OK');
      const r = await rpc.call('readConfig', {});
      expect(r.status).toBe('OK');
      expect((r as { value: pb.ReadConfigReply }).value.config).toMatchObject({ seed: config.seed, maxChunkSteps: K, topology: { hidden: config.topology.hidden, batch: B } });
    });

    it('Run checks: steps 0 BAD_REQUEST, over max_chunk_steps TOO_LARGE, wrong input length BAD_REQUEST; nothing runs', async () => {
      const before = await counters();
      refusedWith(await rpc.call('run', run({ steps: 0, inputs: new Int32Array(0) })), 'BAD_REQUEST', 'run.steps');
      refusedWith(await rpc.call('run', run({ steps: K + 1, inputs: new Int32Array((K + 1) * B * I) })), 'TOO_LARGE', 'run.steps');
      refusedWith(await rpc.call('run', run({ inputs: new Int32Array(2 * B * I + 1) })), 'BAD_REQUEST', 'run.inputs');
      expect(await counters()).toEqual(before);
    });

    it('Reward checks: none pending, other t0, after a clean run NO_PENDING_CHUNK; wrong length BAD_REQUEST; NaN dL or lr BAD_INPUT; nothing is applied, the chunk stays pending', async () => {
      refusedWith(await rpc.call('reward', reward()), 'NO_PENDING_CHUNK', 'reward.t0');
      expect((await rpc.call('run', run({ t0: 10 }))).status).toBe('OK');
      expect((await rpc.call('run', run({ t0: 12, noisy: false }))).status).toBe('OK');
      refusedWith(await rpc.call('reward', reward({ t0: 10 })), 'NO_PENDING_CHUNK', 'reward.t0');
      expect((await rpc.call('run', run({ t0: 20 }))).status).toBe('OK');
      const before = await counters();
      refusedWith(await rpc.call('reward', reward({ t0: 21 })), 'NO_PENDING_CHUNK', 'reward.t0');
      refusedWith(await rpc.call('reward', reward({ t0: 20, deltaLoss: new Float64Array(3) })), 'BAD_REQUEST', 'reward.delta_loss');
      refusedWith(await rpc.call('reward', reward({ t0: 20, deltaLoss: Float64Array.of(1e-3, NaN) })), 'BAD_INPUT', 'reward.delta_loss');
      refusedWith(await rpc.call('reward', reward({ t0: 20, lrV: Infinity })), 'BAD_INPUT');
      expect(await counters()).toEqual(before);
      expect((await rpc.call('reward', reward({ t0: 20 }))).status).toBe('OK');
      refusedWith(await rpc.call('reward', reward({ t0: 20 })), 'NO_PENDING_CHUNK', 'reward.t0'); // once only
    });

    it('pipelining (max_in_flight >= 2): Request.after_back not the last applied is OUT_OF_ORDER, changes nothing and is not cached; Reward.same_rates reuses the last step sizes', async () => {
      const h = await rpc.call('hello', hello());
      const w = h.status === 'OK' ? h.value.limits?.maxInFlight ?? 0 : 0;
      expect(w).toBeGreaterThanOrEqual(2);
      const ID = 0x7a000000; // ids of our own choosing, far from the client's
      expect((await rpc.call('run', run({ t0: 40 }), { id: ID })).status).toBe('OK');
      const before = await counters();
      // a Reward that names a request the device never applied (ID + 2, not sent yet)
      const rw = reward({ t0: 40 });
      refusedWith(await rpc.call('reward', rw, { id: ID + 1, after: ID + 2 }), 'OUT_OF_ORDER', 'after_back');
      expect(await counters()).toEqual(before);
      // ID + 2 applied (a read with our session counts); the same bytes again are checked again, and now pass
      expect((await rpc.call('readConfig', {}, { id: ID + 2 })).status).toBe('OK');
      expect((await rpc.call('reward', rw, { id: ID + 1, after: ID + 2 })).status).toBe('OK');
      // the chain goes on from the reward (a Stats would be the last applied in between); same_rates takes its step sizes
      expect((await rpc.call('run', run({ t0: 42 }), { id: ID + 3, after: ID + 1 })).status).toBe('OK');
      expect((await counters()).rewardCalls).toBe(before.rewardCalls + 1);
      expect((await rpc.call('reward', reward({ t0: 42, lrW: 0, lrR: 0, lrV: 0, sameRates: true }))).status).toBe('OK');
      expect((await counters()).rewardCalls).toBe(before.rewardCalls + 2);
    });

    it('Reward.same_rates right after a Configure (no step sizes to reuse) is BAD_REQUEST; delta_loss_f32 stands in for delta_loss', async () => {
      expect((await rpc.call('configure', configToWire(config))).status).toBe('OK');
      expect((await rpc.call('run', run({ t0: 44 }))).status).toBe('OK');
      refusedWith(await rpc.call('reward', reward({ t0: 44, sameRates: true })), 'BAD_REQUEST', 'reward.same_rates');
      expect((await rpc.call('reward', reward({ t0: 44 }))).status).toBe('OK'); // the chunk was still pending
      // delta_loss_f32 (the explicit float32 option) in place of delta_loss; both at once BAD_REQUEST
      expect((await rpc.call('run', run({ t0: 46 }))).status).toBe('OK');
      const before = await counters();
      refusedWith(await rpc.call('reward', reward({ t0: 46, deltaLossF32: [1e-3, 2e-3] })), 'BAD_REQUEST', 'reward.delta_loss');
      refusedWith(await rpc.call('reward', reward({ t0: 46, deltaLoss: new Float64Array(0), deltaLossF32: [1e-3, Infinity] })), 'BAD_INPUT', 'reward.delta_loss');
      expect(await counters()).toEqual(before);
      expect((await rpc.call('reward', reward({ t0: 46, deltaLoss: new Float64Array(0), deltaLossF32: [1e-3, 2e-3] }))).status).toBe('OK');
      expect((await counters()).rewardCalls).toBe(before.rewardCalls + 1);
    });

    it('WriteParams and ReadParams past a tensor are BAD_REQUEST', async () => {
      const r = await rpc.call('readParams', { tensor: pb.Tensor.R, offset: 0, count: 1 });
      const total = r.status === 'OK' ? r.value.total : 0;
      expect(total).toBe(config.topology.hidden ** 2);
      refusedWith(await rpc.call('writeParams', { tensor: pb.Tensor.R, offset: total, codes: new Int32Array(1) }), 'BAD_REQUEST', 'write_params.offset');
      refusedWith(await rpc.call('readParams', { tensor: pb.Tensor.R, offset: total + 1, count: 1 }), 'BAD_REQUEST', 'read_params.offset');
    });

    it('eligibility traces (a device announcing Limits.traces): Configure.learner in ReadConfig; TRACE_W, TRACE_R hold H x I, H x H int32 codes, read back as written (the int32 extremes too); TRACE_BIAS without biases and every trace without a learner are BAD_REQUEST naming the tensor; ResetState zeroes them', async () => {
      const h = await rpc.call('hello', hello());
      if (!(h.status === 'OK' && h.value.limits?.traces)) return; // an older device ignores Configure.learner: the host never sends it one
      const { hidden: H } = config.topology;
      const learner = { trace: pb.TraceKind.INNOVATION, decay: 0.9 };
      refusedWith(await rpc.call('configure', { ...configToWire(config), learner: { ...learner, decay: 1 } }), 'CONFIG_OUT_OF_RANGE');
      expect((await rpc.call('configure', { ...configToWire(config), learner })).status).toBe('OK');
      const cfg = await rpc.call('readConfig', {});
      expect(cfg.status === 'OK' && cfg.value.config?.learner).toEqual(learner);
      const read = async (tensor: pb.Tensor) => {
        const r = await rpc.call('readParams', { tensor, offset: 0, count: 1 << 16 });
        expect(r.status, r.status === 'OK' ? '' : r.detail).toBe('OK');
        return (r as { value: pb.ReadParamsReply }).value;
      };
      expect((await read(pb.Tensor.TRACE_W)).total).toBe(H * I);
      expect((await read(pb.Tensor.TRACE_R)).total).toBe(H * H);
      const codes = Int32Array.from({ length: H * H }, (_, i) => (i === 0 ? -(2 ** 31) : i === 1 ? 2 ** 31 - 1 : ((i * 7919) % 200001) - 100000));
      expect((await rpc.call('writeParams', { tensor: pb.Tensor.TRACE_R, offset: 0, codes })).status).toBe('OK');
      expect((await read(pb.Tensor.TRACE_R)).codes).toEqual(codes);
      refusedWith(await rpc.call('readParams', { tensor: pb.Tensor.TRACE_BIAS, offset: 0, count: 1 }), 'BAD_REQUEST', 'read_params.tensor');
      refusedWith(await rpc.call('writeParams', { tensor: pb.Tensor.TRACE_BIAS, offset: 0, codes: new Int32Array(1) }), 'BAD_REQUEST', 'write_params.tensor');
      expect((await read(pb.Tensor.TRACE_R)).codes).toEqual(codes);
      expect((await rpc.call('resetState', {})).status).toBe('OK');
      expect((await read(pb.Tensor.TRACE_R)).codes.every((c) => c === 0)).toBe(true);
      expect((await rpc.call('configure', configToWire(config))).status).toBe('OK'); // no learner: no trace tensors
      refusedWith(await rpc.call('readParams', { tensor: pb.Tensor.TRACE_W, offset: 0, count: 1 }), 'BAD_REQUEST', 'read_params.tensor');
    });

    it('every request type answered with an error changes nothing: weights, both states, the configuration, the pending chunk, the counters, the session and this connection\'s frame limit', async () => {
      const session = rpc.session;
      const wrong = (session + 1) >>> 0 || 1; // another session id while ours is open: BUSY
      const asOther = async <T>(call: () => Promise<T>): Promise<T> => {
        rpc.session = wrong;
        try {
          return await call();
        } finally {
          rpc.session = session;
        }
      };
      const codes = (n: number, seed: number) => Int32Array.from({ length: n }, (_, i) => ((i * 7919 + seed * 104729) % 2001) - 1000);
      expect((await rpc.call('configure', configToWire(config))).status).toBe('OK');
      for (const [tensor, n] of [[pb.Tensor.W, config.topology.hidden * I], [pb.Tensor.R, config.topology.hidden ** 2], [pb.Tensor.V, config.topology.hidden]] as const)
        expect((await rpc.call('writeParams', { tensor, offset: 0, codes: codes(n, tensor) })).status).toBe('OK');
      const x = (steps: number) => codes(steps * B * I, 5);
      expect((await rpc.call('run', run({ steps: K, t0: 0, inputs: x(K), noisy: true }))).status).toBe('OK');
      expect((await rpc.call('reward', reward({ t0: 0, deltaLoss: new Float64Array(K).fill(1e-3) }))).status).toBe('OK');
      expect((await rpc.call('run', run({ steps: K, t0: 100, inputs: x(K), noisy: true }))).status).toBe('OK'); // pending now
      /** Every tensor read whole in one call (the frame limit still fits it), the configuration and the counters. */
      const board = async (after = 'the set-up') => {
        const tensors: number[][] = [];
        for (const tensor of [pb.Tensor.W, pb.Tensor.R, pb.Tensor.V, pb.Tensor.STATE_CLEAN, pb.Tensor.STATE_NOISY]) {
          const r = await rpc.call('readParams', { tensor, offset: 0, count: 1 << 16 });
          expect(r.status, `after ${after}: ${r.status === 'OK' ? '' : r.detail}`).toBe('OK');
          const v = (r as { value: pb.ReadParamsReply }).value;
          expect(v.codes.length).toBe(v.total);
          tensors.push([...v.codes]);
        }
        const cfg = await rpc.call('readConfig', {});
        expect(cfg.status, `after ${after}`).toBe('OK');
        return { tensors, config: (cfg as { value: pb.ReadConfigReply }).value.config, counters: await counters() };
      };
      const before = await board();
      expect(before.tensors[3].some((c) => c !== 0)).toBe(true); // the states have moved
      const refusals: [string, () => Promise<CallResult<unknown>>, keyof typeof pb.ErrorCode][] = [
        ['Hello, another version', () => rpc.call('hello', hello({ protocolVersion: pb.PROTOCOL_VERSION + 1 })), 'UNSUPPORTED_VERSION'],
        ['Hello, max_frame_bytes 1', () => rpc.call('hello', hello({ maxFrameBytes: 1 })), 'BAD_REQUEST'],
        ['Hello, another host', () => rpc.call('hello', hello({ hostName: 'intruder', hostNonce: 0x99 })), 'BUSY'],
        ['Configure, another session', () => asOther(() => rpc.call('configure', configToWire(config))), 'BUSY'],
        ['Configure, hidden beyond the limits', () => rpc.call('configure', { ...configToWire(config), topology: { ...configToWire(config).topology!, hidden: 1 << 20 } }), 'CONFIG_OUT_OF_RANGE'],
        ['Configure, max_chunk_steps beyond a frame', () => rpc.call('configure', { ...configToWire(config), maxChunkSteps: 1 << 20 }), 'TOO_LARGE'],
        ['WriteParams, another session', () => asOther(() => rpc.call('writeParams', { tensor: pb.Tensor.R, offset: 0, codes: new Int32Array(4) })), 'BUSY'],
        ['WriteParams, across the end of R', () => rpc.call('writeParams', { tensor: pb.Tensor.R, offset: config.topology.hidden ** 2 - 2, codes: new Int32Array(4) }), 'BAD_REQUEST'],
        ['WriteParams, no tensor', () => rpc.call('writeParams', { tensor: pb.Tensor.UNSPECIFIED, offset: 0, codes: new Int32Array(4) }), 'BAD_REQUEST'],
        ['ReadParams, past the end', () => rpc.call('readParams', { tensor: pb.Tensor.W, offset: config.topology.hidden * I + 1, count: 1 }), 'BAD_REQUEST'],
        ['WriteParams, a trace tensor without a learner trace', () => rpc.call('writeParams', { tensor: pb.Tensor.TRACE_R, offset: 0, codes: new Int32Array(4) }), 'BAD_REQUEST'],
        ['ReadParams, a trace tensor without a learner trace', () => rpc.call('readParams', { tensor: pb.Tensor.TRACE_W, offset: 0, count: 1 }), 'BAD_REQUEST'],
        ['Run, another session', () => asOther(() => rpc.call('run', run({ steps: 2, t0: 200, inputs: x(2) }))), 'BUSY'],
        ['Run, 0 steps', () => rpc.call('run', run({ steps: 0, t0: 200, inputs: new Int32Array(0) })), 'BAD_REQUEST'],
        ['Run, over max_chunk_steps', () => rpc.call('run', run({ steps: K + 1, t0: 200, inputs: x(K + 1) })), 'TOO_LARGE'],
        ['Run, inputs of another length', () => rpc.call('run', run({ steps: 2, t0: 200, inputs: x(3) })), 'BAD_REQUEST'],
        ['Run, a hidden trace beyond the frame', () => rpc.call('run', run({ steps: K, t0: 200, inputs: x(K), hiddenTrace: true })), 'TOO_LARGE'],
        ['Reward, another session', () => asOther(() => rpc.call('reward', reward({ t0: 100, deltaLoss: new Float64Array(K).fill(1e-3) }))), 'BUSY'],
        ['Reward, another t0', () => rpc.call('reward', reward({ t0: 101, deltaLoss: new Float64Array(K).fill(1e-3) })), 'NO_PENDING_CHUNK'],
        ['Reward, delta_loss of another length', () => rpc.call('reward', reward({ t0: 100, deltaLoss: new Float64Array(K - 1).fill(1e-3) })), 'BAD_REQUEST'],
        ['Reward, a NaN learning rate', () => rpc.call('reward', reward({ t0: 100, deltaLoss: new Float64Array(K).fill(1e-3), lrR: NaN })), 'BAD_INPUT'],
        ['ResetState, another session', () => asOther(() => rpc.call('resetState', {})), 'BUSY'],
      ];
      for (const [what, call, code] of refusals) {
        const r = await call();
        expect(r.status === 'DEVICE_ERROR' && pb.errorName(r.error.code), `${what}: ${r.status === 'OK' ? 'accepted' : r.detail}`).toBe(code);
        expect(await board(what), `${what} changed the board`).toEqual(before);
      }
      // ReadConfig and Stats have no refusal once configured (ReadConfig's NOT_CONFIGURED is checked above).
      // Our session is still the open one, the chunk still pending: its reward is applied once.
      expect(rpc.session).toBe(session);
      expect((await rpc.call('reward', reward({ t0: 100, deltaLoss: new Float64Array(K).fill(1e-3) }))).status).toBe('OK');
      expect((await board()).tensors.slice(0, 3)).not.toEqual(before.tensors.slice(0, 3));
    });

    it('sessions: another host is BUSY (holder named) until it takes over; then our changing calls are BUSY, our reads still answered', async () => {
      const other = await rpc.call('hello', hello({ hostName: 'other-host', hostNonce: 0x52 }));
      refusedWith(other, 'BUSY');
      expect(other.status === 'DEVICE_ERROR' && other.error.holder).toBe('conformance');
      const mine = rpc.session;
      const taken = await rpc.call('hello', hello({ hostName: 'other-host', hostNonce: 0x52, takeOver: true }));
      expect(taken.status).toBe('OK');
      const theirs = taken.status === 'OK' ? taken.value.sessionId : 0;
      expect(theirs).not.toBe(mine);
      const before = await counters();
      refusedWith(await rpc.call('run', run({ t0: 30, noisy: false })), 'BUSY');
      const busy = await rpc.call('resetState', {});
      refusedWith(busy, 'BUSY');
      expect(busy.status === 'DEVICE_ERROR' && busy.error.holder).toBe('other-host');
      expect(await counters()).toEqual(before);
      // the configuration survived the take-over
      const cfg = await rpc.call('readConfig', {});
      expect(cfg.status === 'OK' && cfg.value.config?.seed).toBe(config.seed);
      rpc.session = theirs;
      expect((await rpc.call('run', run({ t0: 30, noisy: false }))).status).toBe('OK');
    });
  });
}

/**
 * Calls over a byte transport: the host side of the link's top layer.
 *
 * Each call gets a request id; the request is encoded (codec.ts), framed
 * (frame.ts) and written; the reply with the same id completes it. A reply that does
 * not come within the retransmission timeout makes the client send the *same bytes*
 * again (same id): the device answers a repeated id from its replay cache (server.ts),
 * so a retried Run or Reward is never applied twice. Retries live here and nowhere
 * else. By default the timeout adapts to the measured round trips (rto.ts: smoothed
 * RTT and variance, backoff, Karn's rule) and a call keeps trying for a time budget
 * (`budgetMs`), not a fixed count; `timeoutMs` fixes the timeout and `retries` the
 * count instead.
 *
 * `call` never throws: it resolves to a status value. The Device layer above turns
 * failures into errors with a message a user can act on.
 */

import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, MIN_FRAME_BYTES, encodeFrame, maxEncodedFrameBytes } from './frame.js';
import {
  checkFrameLimit,
  decodeResponse,
  encodeRequest,
  type CallCase,
  type Calls,
  type RequestBody,
  type Response,
  type WireError,
} from './messages.js';
import { errorName, isNak } from './protocol.js';
import type { ByteTransport } from './transport.js';
import { DEFAULT_RTO, RetransmissionTimer, rtoKey, type RtoOptions } from './rto.js';

/** Default time budget of one call, ms. */
export const DEFAULT_BUDGET_MS = 20_000;

export interface RpcOptions {
  /** Largest frame payload sent or accepted, bytes. Default 16384. */
  maxFrameBytes?: number;
  /** Fixed wait for a reply to one attempt, ms. Default: adaptive (rto.ts). */
  timeoutMs?: number;
  /** Fixed number of extra attempts (same id). Default: as many as fit `budgetMs`. */
  retries?: number;
  /** How long one call keeps trying, ms (no new attempt starts after it). Default 20000. */
  budgetMs?: number;
  /** The adaptive timer's initial, smallest and largest timeout, ms (rto.ts DEFAULT_RTO). */
  rto?: Partial<RtoOptions>;
  /** First request id (uint32); default random, so a restarted host does not reuse recent ids. */
  firstId?: number;
  /** Clock in ms; default performance.now. */
  now?: () => number;
}

export interface CallOptions {
  timeoutMs?: number;
  retries?: number;
  budgetMs?: number;
  /**
   * Give up after this many attempts without a (good) reply, with `shrink` set on the
   * failure: for a caller that can send the same thing in smaller pieces instead.
   */
  maxTroubles?: number;
  /**
   * Check of the reply's content (lengths, code ranges, offsets): a message when it
   * cannot be a true answer. Such a reply is treated as damaged (asked again under the
   * same id, so the device replays its cached reply) and never returned; if no valid
   * one comes, the call fails DATA_LOSS with the message.
   */
  check?: (value: never) => string | undefined;
  /**
   * Largest reply payload expected, bytes: on a serial link its wire time is added to
   * the timeout. Default: a full frame for run and readParams, MIN_FRAME_BYTES (an
   * acknowledgement, an error or a HelloReply) for the rest.
   */
  replyBytes?: number;
}

export type CallFailure =
  /**
   * No reply after all attempts. `bytesReceived` counts what arrived meanwhile: bytes
   * but no valid frame point at a wrong baud rate or a device that speaks something else.
   */
  | { status: 'DEADLINE_EXCEEDED'; detail: string; waitedMs: number; attempts: number; bytesReceived: number; shrink?: boolean }
  /** The transport is closed or failed to write. */
  | { status: 'UNAVAILABLE'; detail: string }
  /** The request does not fit a frame. */
  | { status: 'RESOURCE_EXHAUSTED'; detail: string }
  /** The request has a value its field cannot hold. */
  | { status: 'INVALID_ARGUMENT'; detail: string }
  /** The device replied with a body that does not answer the request. */
  | { status: 'DATA_LOSS'; detail: string }
  /** The device refused or failed the request. */
  | { status: 'DEVICE_ERROR'; detail: string; error: WireError };

export type CallResult<T> = { status: 'OK'; value: T } | CallFailure;

export interface RpcStats {
  calls: number;
  callsOk: number;
  callsFailed: number;
  /** Attempts after the first, over all calls. */
  retries: number;
  /** Of those, attempts sent at once because a damaged frame or a NAK arrived instead of the reply (no timeout waited). */
  fastRetries: number;
  /** NAKs received: the device got a damaged frame (server.ts NAK_FIELD). */
  naks: number;
  /** Calls that ran out of attempts. */
  timeouts: number;
  /** Replies to a call already completed or abandoned (e.g. the original after a retry). */
  lateReplies: number;
  /** Good frames that did not decode as a Response. */
  badReplies: number;
  /** Replies that decoded but failed the caller's check (CallOptions.check): never taken as data. */
  invalidReplies: number;
  /** Bytes on the wire, framing included. */
  bytesOut: number;
  bytesIn: number;
  /** Protobuf payload bytes of the frames sent and of the good frames received (bytes - payload = framing). */
  payloadBytesOut: number;
  payloadBytesIn: number;
  framesOut: number;
  framesIn: number;
  crcErrors: number;
  oversize: number;
  malformed: number;
  bytesDropped: number;
  /** Round-trip time percentiles, ms, over the last 1024 calls answered at the first attempt (0 if none). */
  rttP50Ms: number;
  rttP95Ms: number;
  rttP99Ms: number;
  rttSamples: number;
  /** Attempts the last call took (1 = answered at once): what the callers above adapt their sizes to. */
  lastAttempts: number;
}

const RTT_WINDOW = 1024;

/** How one attempt ended without a reply. */
type NoReply = 'timeout' | 'corrupt' | 'closed';

interface Waiter {
  resolve: (res: Response | NoReply) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Nearest-rank percentile of a sorted array (p in 0..100). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export class RpcClient {
  readonly maxFrameBytes: number;
  private readonly timeoutMs: number | undefined;
  private readonly retries: number | undefined;
  private readonly budgetMs: number;
  private readonly timer: RetransmissionTimer;
  private readonly now: () => number;
  private readonly decoder: FrameDecoder;
  private readonly waiting = new Map<number, Waiter>();
  private nextId: number;
  private closedReason: string | undefined;
  /** Attempts that got no reply or a damaged one, over all calls: a line in trouble (callers shrink what they send). */
  troubles = 0;
  /** Good frames that were byte for byte a request this host sent: the port echoes (a loopback, an echo server). */
  echoes = 0;
  private readonly sentPayloads = new Set<string>();
  /** The open session (HelloReply.session_id), sent in every request; 0 before the first Hello. */
  session = 0;
  private readonly rtt = new Float64Array(RTT_WINDOW);
  private rttCount = 0;
  private readonly s = {
    calls: 0,
    callsOk: 0,
    callsFailed: 0,
    retries: 0,
    fastRetries: 0,
    naks: 0,
    timeouts: 0,
    lateReplies: 0,
    badReplies: 0,
    invalidReplies: 0,
    bytesOut: 0,
    bytesIn: 0,
    payloadBytesOut: 0,
    payloadBytesIn: 0,
    framesOut: 0,
    lastAttempts: 0,
  };

  constructor(
    private readonly transport: ByteTransport,
    opts: RpcOptions = {},
  ) {
    this.maxFrameBytes = checkFrameLimit(opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES, 'RpcClient');
    this.timeoutMs = opts.timeoutMs;
    this.retries = opts.retries;
    this.budgetMs = opts.budgetMs ?? DEFAULT_BUDGET_MS;
    this.timer = new RetransmissionTimer({ ...DEFAULT_RTO, ...opts.rto });
    this.now = opts.now ?? (() => performance.now());
    this.nextId = (opts.firstId ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;
    this.decoder = new FrameDecoder(this.maxFrameBytes);
    transport.onData((bytes) => this.receive(bytes));
    transport.onClose((reason) => this.shutdown(`${transport.name}: link closed${reason ? ` (${reason.message})` : ''}`));
  }

  /** The transport's name, e.g. "tcp://127.0.0.1:5555". */
  get name(): string {
    return this.transport.name;
  }

  /** The transport's line rate, bytes/s (serial links), else undefined. */
  get bytesPerSecond(): number | undefined {
    return this.transport.bytesPerSecond;
  }

  /**
   * Send one request and wait for its reply. Resolves (never rejects) to the reply
   * body or a failure status whose `detail` is a one-line message.
   */
  async call<C extends CallCase>(c: C, value: Calls[C][0], opts: CallOptions = {}): Promise<CallResult<Calls[C][1]>> {
    this.s.calls++;
    const result = await this.attempts(c, value, opts);
    if (result.status === 'OK') this.s.callsOk++;
    else this.s.callsFailed++;
    return result;
  }

  private async attempts<C extends CallCase>(c: C, value: Calls[C][0], opts: CallOptions): Promise<CallResult<Calls[C][1]>> {
    if (this.closedReason) return { status: 'UNAVAILABLE', detail: this.closedReason };
    const id = this.takeId();
    const enc = encodeRequest({ id, session: this.session, body: { case: c, value } as RequestBody });
    if (enc.status !== 'OK') return { status: 'INVALID_ARGUMENT', detail: `${c} request: ${enc.detail}` };
    if (enc.bytes.length > this.maxFrameBytes) {
      return {
        status: 'RESOURCE_EXHAUSTED',
        detail: `${c} request needs ${enc.bytes.length} bytes but a frame carries at most ${this.maxFrameBytes}; send less per call (e.g. lower maxChunkSteps)`,
      };
    }
    const frame = encodeFrame(enc.bytes);
    // the last few requests sent, to tell an echo from a reply (a reply differs: it is a Response)
    if (this.sentPayloads.size >= 4) this.sentPayloads.delete(this.sentPayloads.values().next().value as string);
    this.sentPayloads.add(Buffer.from(enc.bytes).toString('latin1'));
    // On a slow wire the frames' own transmission time (the request as framed, and the
    // largest reply this call can get at the frame layer's worst case: every byte
    // escaped, CRC and flags) comes on top of the device's think time.
    const bps = this.transport.bytesPerSecond;
    const replyBytes = opts.replyBytes ?? (c === 'run' || c === 'readParams' ? this.maxFrameBytes : MIN_FRAME_BYTES);
    const wireMs = bps ? Math.ceil((1000 * (frame.length + maxEncodedFrameBytes(replyBytes))) / bps) : 0;
    const fixedMs = opts.timeoutMs ?? this.timeoutMs;
    const retries = opts.retries ?? this.retries;
    const maxAttempts = retries === undefined ? Infinity : 1 + retries;
    const budgetMs = opts.budgetMs ?? this.budgetMs;
    const key = rtoKey(c, replyBytes);
    const started = this.now();
    const bytesInAtStart = this.s.bytesIn;
    const waits: number[] = [];
    let damaged = 0;
    let attempt = 0;
    let shrink = false;
    let lastInvalid: string | undefined;
    for (; attempt < maxAttempts; attempt++) {
      if (attempt > 0 && retries === undefined && this.now() - started >= budgetMs) break;
      if (opts.maxTroubles !== undefined && damaged + waits.length >= opts.maxTroubles) {
        shrink = true;
        break;
      }
      if (attempt > 0) this.s.retries++;
      // a fixed timeout covers the frames' wire time on top; the adaptive one has measured it
      const timeoutMs = fixedMs !== undefined ? fixedMs + wireMs : Math.max(this.timer.timeout(key), wireMs + DEFAULT_RTO.minMs);
      const reply = this.wait(id, timeoutMs);
      const sentAt = this.now();
      try {
        await this.transport.write(frame);
      } catch (e) {
        this.cancel(id);
        const msg = (e as Error).message;
        return { status: 'UNAVAILABLE', detail: msg.startsWith(this.transport.name) ? msg : `${this.transport.name}: ${msg}` };
      }
      this.s.bytesOut += frame.length;
      this.s.payloadBytesOut += enc.bytes.length;
      this.s.framesOut++;
      const res = await reply;
      if (res === 'closed' || (this.closedReason && typeof res === 'string')) return { status: 'UNAVAILABLE', detail: this.closedReason ?? `${this.transport.name}: link closed` };
      if (res === 'corrupt') {
        // A damaged frame came instead of the reply: ask again now rather than after
        // the timeout. The device answers a repeat from its replay cache.
        damaged++;
        this.troubles++;
        if (attempt + 1 < maxAttempts) this.s.fastRetries++;
        continue;
      }
      if (res === 'timeout') {
        waits.push(timeoutMs);
        this.troubles++;
        if (fixedMs === undefined) this.timer.backoff(key);
        continue;
      }
      const invalid = res.error
        ? undefined
        : res.body.case !== c
          ? `the device answered ${c} with ${res.body.case ?? 'an empty'} reply`
          : opts.check?.(res.body.value as never);
      if (invalid !== undefined) {
        this.s.invalidReplies++;
        lastInvalid = invalid;
        damaged++;
        this.troubles++;
        continue;
      }
      const rtt = this.now() - sentAt;
      if (attempt === 0) {
        this.recordRtt(rtt);
        this.timer.sample(key, rtt); // Karn's rule: only replies to a call sent once
      }
      this.s.lastAttempts = attempt + 1;
      return this.interpret(c, id, res);
    }
    this.s.lastAttempts = attempt;
    if (lastInvalid !== undefined && !shrink) {
      return { status: 'DATA_LOSS', detail: `${this.transport.name}: no valid reply to ${c} (id ${id}) after ${attempt} attempts over ${Math.round(this.now() - started)} ms; the last: ${lastInvalid}` };
    }
    this.s.timeouts++;
    const waitedMs = Math.round(this.now() - started);
    const bytesReceived = this.s.bytesIn - bytesInAtStart;
    const heard = bytesReceived > 0 ? `; ${bytesReceived} bytes arrived, none of them a valid reply` : '';
    const [lo, hi] = [Math.min(...waits), Math.max(...waits)];
    const timedOut = waits.length === 0 ? '' : `${waits.length} timed out after ${lo === hi ? lo : `${lo}..${hi}`} ms`;
    const bad = damaged === 0 ? '' : `${damaged} answered by a damaged frame or a NAK`;
    return {
      status: 'DEADLINE_EXCEEDED',
      waitedMs,
      attempts: attempt,
      bytesReceived,
      shrink,
      detail: `${this.transport.name}: no reply to ${c} (id ${id}) after ${attempt} attempt${attempt > 1 ? 's' : ''} over ${waitedMs} ms (${[timedOut, bad].filter(Boolean).join(', ')}${heard}); check that the device is on and runs anpt firmware, and for serial links the baud rate`,
    };
  }

  private interpret<C extends CallCase>(c: C, id: number, res: Response): CallResult<Calls[C][1]> {
    if (res.error) {
      const e = res.error;
      return {
        status: 'DEVICE_ERROR',
        error: e,
        detail: `${this.transport.name}: ${c} refused (${errorName(e.code)})${e.field ? ` at ${e.field}` : ''}: ${e.message}`,
      };
    }
    if (res.body.case !== c) {
      return { status: 'DATA_LOSS', detail: `${this.transport.name}: device answered ${c} (id ${id}) with ${res.body.case ?? 'an empty'} reply` };
    }
    return { status: 'OK', value: res.body.value as Calls[C][1] };
  }

  /** Close the link; pending calls resolve UNAVAILABLE. */
  async close(): Promise<void> {
    this.shutdown(`${this.transport.name}: link closed by the host`);
    await this.transport.close();
  }

  /** Counters of this client and its frame decoder. */
  stats(): RpcStats {
    const d = this.decoder.counters();
    const n = Math.min(this.rttCount, RTT_WINDOW);
    const sorted = this.rtt.slice(0, n).sort();
    return {
      ...this.s,
      framesIn: d.framesOk,
      crcErrors: d.crcErrors,
      oversize: d.oversize,
      malformed: d.malformed,
      bytesDropped: d.bytesDropped,
      rttP50Ms: percentile(sorted, 50),
      rttP95Ms: percentile(sorted, 95),
      rttP99Ms: percentile(sorted, 99),
      rttSamples: n,
    };
  }

  private takeId(): number {
    if (this.nextId === 0) this.nextId = 1; // id 0 is the NAK's
    const id = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0;
    return id;
  }

  private wait(id: number, timeoutMs: number): Promise<Response | NoReply> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve('timeout');
      }, timeoutMs);
      this.waiting.set(id, { resolve, timer });
    });
  }

  private cancel(id: number, why: NoReply = 'closed'): void {
    const w = this.waiting.get(id);
    if (!w) return;
    clearTimeout(w.timer);
    this.waiting.delete(id);
    w.resolve(why);
  }

  private receive(bytes: Uint8Array): void {
    this.s.bytesIn += bytes.length;
    for (const ev of this.decoder.push(bytes)) {
      if (ev.status !== 'OK') {
        // Counted by the decoder. A frame that was damaged (not bytes between frames)
        // was most likely the reply: with one call in flight, that call retries now.
        if (ev.reason !== 'garbage' && this.waiting.size === 1) this.cancel(this.waiting.keys().next().value as number, 'corrupt');
        continue;
      }
      this.s.payloadBytesIn += ev.payload.length;
      if (this.sentPayloads.has(Buffer.from(ev.payload).toString('latin1'))) {
        this.echoes++; // our own request came back: never a reply
        continue;
      }
      const dec = decodeResponse(ev.payload);
      if (dec.status !== 'OK') {
        this.s.badReplies++;
        continue;
      }
      if (isNak(dec.value)) {
        // the device got a damaged frame: most likely our request, so send it again now
        this.s.naks++;
        if (this.waiting.size === 1) this.cancel(this.waiting.keys().next().value as number, 'corrupt');
        continue;
      }
      const w = this.waiting.get(dec.value.id);
      if (!w) {
        this.s.lateReplies++;
        continue;
      }
      clearTimeout(w.timer);
      this.waiting.delete(dec.value.id);
      w.resolve(dec.value);
    }
  }

  private recordRtt(ms: number): void {
    this.rtt[this.rttCount % RTT_WINDOW] = ms;
    this.rttCount++;
  }

  private shutdown(reason: string): void {
    if (this.closedReason) return;
    this.closedReason = reason;
    for (const id of [...this.waiting.keys()]) this.cancel(id);
  }
}

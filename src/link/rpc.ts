/**
 * Calls over a byte transport: the host side of the link's top layer.
 *
 * Each call gets a request id; the request is encoded (codec.ts), framed
 * (frame.ts) and written; the reply with the same id completes it. A reply that does
 * not come within the retransmission timeout makes the client send the *same bytes*
 * again (same id): the device answers a repeated id from its replay cache (server.ts),
 * so a retried Run or Reward is never applied twice. Retries live here and nowhere
 * else. By default the timeout adapts to the measured round trips (rto.ts: smoothed
 * RTT and variance, backoff once per timed-out attempt or window round and undone once
 * answered, Karn's rule) and a call keeps trying for a time budget
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
import { ErrorCode, errorName, isNak } from './protocol.js';
import type { ByteTransport } from './transport.js';
import { DEFAULT_RTO, ReplyLog, RetransmissionTimer, rtoKey, type RtoOptions } from './rto.js';

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
   * Give up after this many attempts answered by a damaged frame, a NAK or an invalid
   * reply (not silence: see `damage`), with `shrink` set on the failure: for a caller
   * that can send the same thing in smaller pieces instead.
   */
  maxTroubles?: number;
  /**
   * Check of the reply's content (lengths, code ranges, offsets): a message when it
   * cannot be a true answer. Such a reply is treated as damaged (asked again under the
   * same id, so the device replays its cached reply) and never returned; if no valid
   * one comes, the call fails DATA_LOSS with the message.
   */
  check?: (value: never) => string | undefined;
  /** The id this request follows (Request.after_back on the wire; pipelining; default 0 = no condition). */
  after?: number;
  /** The request id to use instead of the next one (tests: the same id and bytes again). */
  id?: number;
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
  /** Round-trip time percentiles, ms, over the last 1024 replies known to answer a first copy (the RTO's samples; 0 if none). */
  rttP50Ms: number;
  rttP95Ms: number;
  rttP99Ms: number;
  rttSamples: number;
  /** Attempts the last call took (1 = answered at once): what the callers above adapt their sizes to. */
  lastAttempts: number;
}

/** One request of a pipelined batch (RpcClient.callMany). */
export interface BatchItem {
  c: CallCase;
  value: unknown;
  opts?: CallOptions;
  /** The reply carries nothing but an acknowledgement: a later answer without error implies it. */
  ackOnly?: boolean;
}

interface Flight {
  id: number;
  c: CallCase;
  item: BatchItem;
  frame: Uint8Array;
  payloadBytes: number;
  replyBytes: number;
  key: string;
  sentAt: number;
  /** Times sent. */
  rounds: number;
  /** Its final reply (without error, or a refusal other than OUT_OF_ORDER). */
  answer?: Response;
  /** Applied, as a later answer without error shows (ackOnly). */
  implied?: boolean;
}

interface BatchListener {
  ids: Map<number, number>;
  reply(res: Response): void;
  trouble(): void;
  closed(): void;
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
  /** Which copy each reply answers: the round-trip samples (rto.ts). */
  private readonly replyLog: ReplyLog;
  /** Each reply's index among the replies to its id (ReplyLog.heard). */
  private readonly replyIndex = new WeakMap<Response, number>();
  private readonly now: () => number;
  private readonly decoder: FrameDecoder;
  private readonly waiting = new Map<number, Waiter>();
  private nextId: number;
  private closedReason: string | undefined;
  /** Attempts that got no reply or a damaged one, over all calls: a line in trouble. */
  troubles = 0;
  /**
   * Of those, the ones answered by a damaged frame, a NAK or an invalid reply: the line
   * garbles bytes, and shorter frames get through more often (callers shrink what they
   * send). Silence (a lost frame) is not counted: a loss is as likely for a short frame
   * as for a long one, so shrinking would only multiply the calls.
   */
  damage = 0;
  /** Good frames that were byte for byte a request this host sent: the port echoes (a loopback, an echo server). */
  echoes = 0;
  private readonly sentPayloads = new Set<string>();
  /** The open session (HelloReply.session_id), sent in every request; 0 before the first Hello. */
  session = 0;
  /**
   * Id of the last request the device applied without error as far as this host knows
   * (the `after` of the next pipelined request); 0 = unknown (after a Hello, a timeout).
   */
  private lastOk = 0;
  /** The pipelined batch in progress (callMany), which gets replies to its ids and line troubles. */
  private batch: BatchListener | undefined;
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
    this.replyLog = new ReplyLog((key, ms) => {
      this.recordRtt(ms);
      this.timer.sample(key, ms);
    });
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
   * The adaptive timeout the next call of kind `c` would start with, ms (backoff
   * included), for a reply of up to `replyBytes` (default: as `call` assumes).
   */
  rtoMs(c: CallCase, replyBytes = defaultReplyBytes(c, this.maxFrameBytes)): number {
    return this.timer.timeout(rtoKey(c, replyBytes));
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

  /**
   * Pipelining: send `items` back to back, each naming the one before it in
   * Request.after_back (the first names the last request answered without error), and
   * collect their replies. The device applies them in order and refuses OUT_OF_ORDER
   * (changing nothing, not caching the answer) any whose predecessor it did not apply,
   * so a lost request never lets a later one apply out of order. Recovery is go-back-N:
   * after a timeout, a damaged frame or a NAK, every item without a final answer is sent
   * again, same bytes; the replay cache answers those the device applied. An item
   * answered with an acknowledgement only (`ackOnly`) is known to be applied once a
   * later one is answered without error, so its own reply may be lost; an item with data
   * must get its reply (from the replay cache: keep items with data within the device's
   * max_in_flight).
   *
   * Stops at the first item that fails (a refusal, or no valid reply within the budget):
   * its result is the failure and the items after it are `undefined` (not applied).
   * Only for a device that announced max_in_flight >= 2.
   */
  async callMany(items: readonly BatchItem[]): Promise<(CallResult<unknown> | undefined)[]> {
    const results: (CallResult<unknown> | undefined)[] = items.map(() => undefined);
    if (items.length === 0) return results;
    if (this.lastOk === 0 || items.length === 1) {
      // no known predecessor: the first goes alone (its retransmissions cannot meet a later request)
      const first = await this.call(items[0].c, items[0].value as never, items[0].opts);
      results[0] = first;
      if (first.status !== 'OK' || items.length === 1) return results;
      const rest = await this.callMany(items.slice(1));
      rest.forEach((r, i) => (results[i + 1] = r));
      return results;
    }
    this.s.calls += items.length;
    const out = await this.pipelined(items, results);
    for (const r of out) if (r) r.status === 'OK' ? this.s.callsOk++ : this.s.callsFailed++;
    return out;
  }

  private async pipelined(items: readonly BatchItem[], results: (CallResult<unknown> | undefined)[]): Promise<(CallResult<unknown> | undefined)[]> {
    if (this.closedReason) return [{ status: 'UNAVAILABLE', detail: this.closedReason }];
    const bps = this.transport.bytesPerSecond;
    const flights: Flight[] = [];
    let after = this.lastOk;
    for (const it of items) {
      const id = this.takeId();
      const enc = encodeRequest({ id, session: this.session, after, body: { case: it.c, value: it.value } as RequestBody });
      if (enc.status !== 'OK' || enc.bytes.length > this.maxFrameBytes) {
        // cannot happen for checked calls; make it the plain path's failure
        results[flights.length] = enc.status !== 'OK'
          ? { status: 'INVALID_ARGUMENT', detail: `${it.c} request: ${enc.detail}` }
          : { status: 'RESOURCE_EXHAUSTED', detail: `${it.c} request needs ${enc.bytes.length} bytes but a frame carries at most ${this.maxFrameBytes}` };
        break;
      }
      const replyBytes = it.opts?.replyBytes ?? defaultReplyBytes(it.c, this.maxFrameBytes);
      this.replyLog.begin(id, rtoKey(it.c, replyBytes));
      flights.push({ id, c: it.c, item: it, frame: encodeFrame(enc.bytes), payloadBytes: enc.bytes.length, replyBytes, key: rtoKey(it.c, replyBytes), sentAt: 0, rounds: 0 });
      after = id;
    }
    const n = flights.length;
    const byId = new Map(flights.map((f, i) => [f.id, i]));
    const started = this.now();
    const budgetMs = Math.max(...flights.map((f) => f.item.opts?.budgetMs ?? this.budgetMs));
    const fixedMs = this.timeoutMs;
    let lastInvalid: string | undefined;
    let damaged = 0;
    let timeouts = 0;
    // The budget runs from the last answer, not from the window's start: each request of a
    // window gets the time a call made alone would get (the sequential path gives every
    // piece its own budget; a window of large pieces on a noisy line needs the same).
    let progressAt = started;
    for (let round = 0; ; round++) {
      const open = flights.filter((f, i) => i < n && f.answer === undefined && !f.implied && results[i] === undefined);
      if (open.length === 0) break;
      if (round > 0 && this.now() - progressAt >= budgetMs) break;
      // wait for every open flight's reply, or a trouble (damaged frame, NAK), or the timeout
      let wake: (why: 'trouble' | 'all' | 'closed') => void = () => undefined;
      const woke = new Promise<'trouble' | 'all' | 'closed' | 'timeout'>((resolve) => (wake = resolve));
      const waitingFor = new Set(open.map((f) => f.id));
      // Every open request brings one answer: its reply, a NAK, or a damaged frame. The
      // round ends when as many have come as requests are open (or at the timeout), not
      // at the first damaged frame: resending a window while its replies are still
      // coming would only queue duplicates ahead of them on a noisy line.
      let heard = 0;
      const hear = () => {
        if (++heard >= open.length || waitingFor.size === 0) wake('all');
      };
      this.batch = {
        ids: byId,
        reply: (res) => {
          const f = flights[byId.get(res.id)!];
          if (f.answer !== undefined || f.implied) {
            this.s.lateReplies++;
            return;
          }
          waitingFor.delete(res.id);
          const invalid = res.error
            ? undefined
            : res.body.case !== f.c
              ? `the device answered ${f.c} with ${res.body.case ?? 'an empty'} reply`
              : f.item.opts?.check?.(res.body.value as never);
          if (res.error?.code === ErrorCode.OUT_OF_ORDER) {
            // its predecessor was not applied (lost): it goes again after it
          } else if (invalid !== undefined) {
            this.s.invalidReplies++;
            lastInvalid = invalid;
            damaged++;
            this.damage++;
            this.troubles++;
            hear();
            return;
          } else {
            f.answer = res;
            progressAt = this.now();
            this.replyLog.answered(f.id, this.replyIndex.get(res)); // a sample if it answers the first copy
          }
          hear();
        },
        trouble: () => {
          damaged++;
          this.damage++;
          this.troubles++;
          hear();
        },
        closed: () => wake('closed'),
      };
      if (round > 0) {
        this.s.retries += open.length;
        if (damaged > 0) this.s.fastRetries += open.length;
      }
      let wireBytes = 0;
      for (const f of open) wireBytes += f.frame.length + maxEncodedFrameBytes(f.replyBytes);
      const wireMs = bps ? Math.ceil((1000 * wireBytes) / bps) : 0;
      // A sampled RTO already holds the wire time (its samples are whole round trips of
      // windows like this one); only a kind without a sample yet is padded with the
      // worst-case wire time of the window (replies escaped to twice their size). Padding
      // every window that way cost a 115200-baud line 68 ms per training window and
      // 654 ms per window of evaluation pieces on every dropped frame: 93 s of waiting in
      // a 5 %-drop run that takes 20 s clean (docs/link-faults.md).
      const rto = Math.max(...open.map((f) => this.timer.timeout(f.key)));
      const padded = bps !== undefined && open.some((f) => !this.timer.sampled(f.key));
      const timeoutMs = fixedMs !== undefined ? fixedMs + wireMs : padded ? Math.max(rto, wireMs + DEFAULT_RTO.minMs) + wireMs : Math.max(rto, DEFAULT_RTO.minMs);
      const timer = setTimeout(() => wake('timeout' as never), timeoutMs);
      try {
        // one write for the whole window: back to back on the wire, one system call
        const burst = new Uint8Array(open.reduce((m, f) => m + f.frame.length, 0));
        let at = 0;
        const sentAt = this.now();
        for (const f of open) {
          burst.set(f.frame, at);
          at += f.frame.length;
          f.sentAt = sentAt;
          f.rounds++;
          this.replyLog.sent(f.id, sentAt);
          this.s.bytesOut += f.frame.length;
          this.s.payloadBytesOut += f.payloadBytes;
          this.s.framesOut++;
        }
        await this.transport.write(burst);
      } catch (e) {
        clearTimeout(timer);
        this.batch = undefined;
        const msg = (e as Error).message;
        results[flights.indexOf(open[0])] = { status: 'UNAVAILABLE', detail: msg.startsWith(this.transport.name) ? msg : `${this.transport.name}: ${msg}` };
        return results;
      }
      const why = await woke;
      clearTimeout(timer);
      this.batch = undefined;
      if (why === 'closed' || this.closedReason) {
        results[flights.indexOf(open[0])] = { status: 'UNAVAILABLE', detail: this.closedReason ?? `${this.transport.name}: link closed` };
        return results;
      }
      if (why === 'timeout') {
        timeouts++;
        this.troubles++;
        // Back off once per call kind, and only after a silent round: backing off per request
        // made a window of four evaluation pieces x16, up to the 8 s ceiling, and a round in
        // which some of the requests were answered (or refused OUT_OF_ORDER, or NAKed) in time
        // lost frames, as TCP's fast retransmit reads SACKs: its RTO was not too short. Were a
        // reply slower than the RTO, it still comes during the next round, and with its copy's
        // duplicate it is a sample (rto.ts ReplyLog) that raises the RTO.
        if (fixedMs === undefined && heard === 0) for (const key of new Set(open.map((f) => f.key))) this.timer.backoff(key);
      }
      // settle in order: an answer without error implies every acknowledgement-only flight before it
      for (let i = 0; i < n; i++) {
        const f = flights[i];
        if (!f.answer) continue;
        if (f.answer.error) {
          results[i] = this.interpret(f.c, f.id, f.answer);
          for (let j = 0; j < i; j++) if (flights[j].answer === undefined && flights[j].item.ackOnly) flights[j].implied = true;
          return this.finish(flights, results, i);
        }
        for (let j = 0; j < i; j++) if (flights[j].answer === undefined && flights[j].item.ackOnly) flights[j].implied = true;
      }
    }
    // out of budget, or done
    for (let i = 0; i < n; i++) {
      const f = flights[i];
      if (f.answer || f.implied) continue;
      const waitedMs = Math.round(this.now() - started);
      this.s.timeouts++;
      results[i] = lastInvalid !== undefined
        ? { status: 'DATA_LOSS', detail: `${this.transport.name}: no valid reply to ${f.c} (id ${f.id}, pipelined) over ${waitedMs} ms; the last: ${lastInvalid}` }
        : {
            status: 'DEADLINE_EXCEEDED',
            waitedMs,
            attempts: f.rounds,
            bytesReceived: 0,
            detail: `${this.transport.name}: no reply to ${f.c} (id ${f.id}, pipelined) after ${f.rounds} attempt${f.rounds > 1 ? 's' : ''} over ${waitedMs} ms (${timeouts} timed out, ${damaged} answered by a damaged frame or a NAK); check that the device is on and runs anpt firmware, and for serial links the baud rate`,
          };
      this.lastOk = 0; // whether it was applied is unknown
      return this.finish(flights, results, i);
    }
    return this.finish(flights, results, n);
  }

  /**
   * Results of the flights before `upTo` (those after it were not applied), and what the
   * device applied last. The kinds that got through after retries have their backoff
   * undone, but not the kind of a flight left without an answer.
   */
  private finish(flights: Flight[], results: (CallResult<unknown> | undefined)[], upTo: number): (CallResult<unknown> | undefined)[] {
    const stuck = upTo < flights.length && flights[upTo].answer === undefined ? flights[upTo].key : undefined;
    const through = new Set<string>();
    for (let i = 0; i < Math.min(upTo, flights.length); i++) {
      const f = flights[i];
      results[i] = f.answer ? this.interpret(f.c, f.id, f.answer) : { status: 'OK', value: {} };
      this.lastOk = f.id;
      if (f.rounds > 1 && f.key !== stuck) through.add(f.key);
    }
    if (this.timeoutMs === undefined) for (const key of through) this.timer.restore(key);
    this.s.lastAttempts = Math.max(0, ...flights.slice(0, upTo + 1).map((f) => f.rounds));
    return results;
  }

  private async attempts<C extends CallCase>(c: C, value: Calls[C][0], opts: CallOptions): Promise<CallResult<Calls[C][1]>> {
    if (this.closedReason) return { status: 'UNAVAILABLE', detail: this.closedReason };
    const id = opts.id ?? this.takeId();
    const enc = encodeRequest({ id, session: this.session, after: opts.after, body: { case: c, value } as RequestBody });
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
    const replyBytes = opts.replyBytes ?? defaultReplyBytes(c, this.maxFrameBytes);
    const wireMs = bps ? Math.ceil((1000 * (frame.length + maxEncodedFrameBytes(replyBytes))) / bps) : 0;
    const fixedMs = opts.timeoutMs ?? this.timeoutMs;
    const retries = opts.retries ?? this.retries;
    const maxAttempts = retries === undefined ? Infinity : 1 + retries;
    const budgetMs = opts.budgetMs ?? this.budgetMs;
    const key = rtoKey(c, replyBytes);
    this.replyLog.begin(id, key);
    const started = this.now();
    const bytesInAtStart = this.s.bytesIn;
    const waits: number[] = [];
    let damaged = 0;
    let attempt = 0;
    let shrink = false;
    let lastInvalid: string | undefined;
    for (; attempt < maxAttempts; attempt++) {
      if (attempt > 0 && retries === undefined && this.now() - started >= budgetMs) break;
      if (opts.maxTroubles !== undefined && damaged >= opts.maxTroubles) {
        shrink = true;
        break;
      }
      if (attempt > 0) this.s.retries++;
      // a fixed timeout covers the frames' wire time on top; the adaptive one has measured it
      const timeoutMs = fixedMs !== undefined ? fixedMs + wireMs : Math.max(this.timer.timeout(key), wireMs + DEFAULT_RTO.minMs);
      const reply = this.wait(id, timeoutMs);
      this.replyLog.sent(id, this.now());
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
        this.damage++;
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
        this.damage++;
        this.troubles++;
        continue;
      }
      this.replyLog.answered(id, this.replyIndex.get(res)); // a sample if it answers the first copy (Karn's rule)
      // answered: the backoff of its timeouts does not carry over to the next call
      if (attempt > 0 && fixedMs === undefined) this.timer.restore(key);
      this.s.lastAttempts = attempt + 1;
      if (!res.error) this.lastOk = c === 'hello' ? 0 : id;
      return this.interpret(c, id, res);
    }
    this.s.lastAttempts = attempt;
    this.lastOk = 0; // applied or not is unknown
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
        if (ev.reason !== 'garbage' && this.batch) this.batch.trouble();
        else if (ev.reason !== 'garbage' && this.waiting.size === 1) this.cancel(this.waiting.keys().next().value as number, 'corrupt');
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
        if (this.batch) this.batch.trouble();
        else if (this.waiting.size === 1) this.cancel(this.waiting.keys().next().value as number, 'corrupt');
        continue;
      }
      const index = this.replyLog.heard(dec.value.id, this.now());
      if (index !== undefined) this.replyIndex.set(dec.value, index);
      if (this.batch?.ids.has(dec.value.id)) {
        this.batch.reply(dec.value);
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
    this.batch?.closed();
  }
}

/** Largest reply payload a call of kind `c` is assumed to get (CallOptions.replyBytes). */
function defaultReplyBytes(c: CallCase, maxFrameBytes: number): number {
  return c === 'run' || c === 'readParams' ? maxFrameBytes : MIN_FRAME_BYTES;
}

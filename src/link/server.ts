/**
 * The device side of the call layer: decoded requests in, responses out, one request
 * at a time in arrival order.
 *
 * Idempotent replay: the server keeps the encoded responses to the last `cacheSize`
 * requests, keyed by id together with the CRC-32 of the request bytes. A host that
 * timed out resends the same bytes with the same id; the server then sends the cached
 * response again without calling the handler, so a retried Run does not advance the
 * state twice and a retried Reward does not update the weights twice. A request with a
 * known id but different bytes is new (a restarted host reusing ids) and is applied.
 * A Hello that opens a new session clears the cache.
 *
 * Sessions (protocol 2, session.ts): Hello opens or resumes the one session, or is
 * refused BUSY; a changing call (Configure, WriteParams, Run, Reward, ResetState) must
 * carry the open session's id, else BUSY (another host holds the board) or NO_SESSION
 * (none open: the board rebooted, or the lease ran out). A refused call changes nothing.
 *
 * Pipelining (docs/protocol.md section 3, Pipelining): the server announces
 * `max_in_flight` = cacheSize in HelloReply.limits and honours Request.after_back: a
 * request whose `after` (id - after_back) is not the id of the last request this session applied without
 * error is refused OUT_OF_ORDER, changes nothing and is not cached, so a host may send
 * several requests back to back and a lost one never lets a later one apply out of
 * order. A strictly sequential host only ever retries its last request (cacheSize = 1
 * is enough for it).
 *
 * The server checks the protocol version and frame limit in Hello, the session of
 * every changing call and the frame limit of replies; the handler does the rest (see device-server.ts for one that serves a Device).
 */

import { refusalField } from '../device/contract.js';
import { DeviceError } from '../device/errors.js';
import { ConfigError } from '../format/fixed.js';
import { crc32 } from './crc32.js';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, MIN_FRAME_BYTES, encodeFrame, type FrameCounters } from './frame.js';
import {
  ErrorCode,
  PROTOCOL_VERSION,
  checkFrameLimit,
  decodeRequest,
  encodeResponse,
  type LinkCounters,
  type RequestBody,
  type Response,
  type ResponseBody,
  type WireError,
} from './messages.js';
import { toWireField } from './field-names.js';
import { ERROR_FIELD_MAX, ERROR_HOLDER_MAX, ERROR_MESSAGE_MAX, NAK_FIELD } from './protocol.js';
import { CHANGING_CALLS, SessionTable } from './session.js';
import type { ByteTransport } from './transport.js';


/** Default Hello-to-silence lease of a session, ms. */
export const DEFAULT_SESSION_LEASE_MS = 60_000;

/** A refusal with a wire error code; throw it from a handler. */
export class RpcError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Dotted path of the offending field, e.g. "configure.formats.weight.bits". */
    readonly field = '',
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

/**
 * Serves one request body; returns the reply body with the same case, or throws an
 * RpcError (a ConfigError becomes CONFIG_OUT_OF_RANGE, a DeviceError the wire code of
 * the same name, anything else INTERNAL).
 */
export type Handler = (body: Exclude<RequestBody, { case: undefined }>, ctx: HandlerContext) => Promise<ResponseBody>;

export interface HandlerContext {
  /** Request id. */
  id: number;
  /** Frame limit for the reply, bytes: a larger reply is replaced by TOO_LARGE. */
  replyLimit: number;
  /** The open session the request carries (0 for Hello and the calls any host may make without one). */
  session: number;
}

export interface ServerOptions {
  /** Largest frame payload accepted and sent, bytes. Default 16384. */
  maxFrameBytes?: number;
  /** Responses kept for replay, and the max_in_flight announced. Default 4. */
  cacheSize?: number;
  /**
   * Protocol version this server speaks (default PROTOCOL_VERSION). Only for testing
   * how a host meets older or newer firmware (firmware-sim --protocol-version).
   */
  protocolVersion?: number;
  /**
   * Requests waiting for the one in progress, at most (default 16): more are dropped
   * and counted in stats queue_drops (the host retries), so a flood cannot grow the
   * queue without bound.
   */
  maxPendingRequests?: number;
  /** Frames dropped further down (e.g. a full transmit queue), for stats queue_drops. */
  queueDrops?: () => number;
  /** A session with no request for this long ends by itself, ms; 0 = never. Default 60000. */
  sessionLeaseMs?: number;
  /** Clock for session leases, ms. Default performance.now. */
  now?: () => number;
  /** Faults the simulated board injected itself (firmware-sim), reported in Stats. Default none. */
  injected?: () => InjectedCounters;
}

/** LinkCounters of faults a simulated board injects itself (0 on a real board). */
export type InjectedCounters = Pick<LinkCounters, 'injectedCorrupt' | 'injectedDrops' | 'injectedStalls' | 'injectedResets'>;
const NO_INJECTED: InjectedCounters = { injectedCorrupt: 0, injectedDrops: 0, injectedStalls: 0, injectedResets: 0 };

/** One served link: its frame limit for replies (Hello.max_frame_bytes is per link). */
interface Conn {
  replyLimit: number;
}

interface CacheEntry {
  requestCrc: number;
  requestLength: number;
  response: Uint8Array;
}

export class RpcServer {
  readonly maxFrameBytes: number;
  readonly cacheSize: number;
  readonly protocolVersion: number;
  /** Frame limit for replies of payloads handled without a served link. */
  private readonly direct: Conn;
  readonly sessions: SessionTable;
  private readonly cache = new Map<number, CacheEntry>();
  /** Id of the last request of the open session applied without error (Request.after_back); 0 = none yet. */
  private lastApplied = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly c = { requests: 0, replays: 0, decodeErrors: 0 };
  /** NAKs sent for damaged frames (not a LinkCounters field). */
  naksSent = 0;
  private nakFrame: Uint8Array | undefined;
  private readonly frameTotals: FrameCounters = { framesOk: 0, crcErrors: 0, oversize: 0, malformed: 0, bytesDropped: 0 };
  private readonly decoders = new Set<FrameDecoder>();

  constructor(
    private readonly handler: Handler,
    private readonly opts: ServerOptions = {},
  ) {
    this.maxFrameBytes = checkFrameLimit(opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES, 'RpcServer');
    this.cacheSize = Math.max(1, opts.cacheSize ?? 4);
    this.protocolVersion = opts.protocolVersion ?? PROTOCOL_VERSION;
    this.direct = { replyLimit: this.maxFrameBytes };
    this.sessions = new SessionTable({ leaseMs: opts.sessionLeaseMs ?? DEFAULT_SESSION_LEASE_MS, now: opts.now });
  }

  /** Frame limit for replies of handlePayload calls, bytes (ours, or the host's if smaller). */
  get replyFrameLimit(): number {
    return this.direct.replyLimit;
  }

  /**
   * One request payload in, one response payload out (undefined: nothing to send,
   * because the bytes are not a Request whose id could be read). Calls are queued:
   * each starts after the previous one finished, whoever calls.
   */
  handlePayload(payload: Uint8Array, conn: Conn = this.direct): Promise<Uint8Array | undefined> {
    const run = this.queue.then(() => this.process(payload, conn));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Requests queued or in progress. */
  private pending = 0;
  /** Requests dropped because the queue was full. */
  private dropped = 0;

  /** handlePayload for a served transport: refused (undefined, counted) while maxPendingRequests wait. */
  private admit(payload: Uint8Array, conn: Conn): Promise<Uint8Array | undefined> {
    if (this.pending > (this.opts.maxPendingRequests ?? 16)) {
      this.dropped++;
      return Promise.resolve(undefined);
    }
    this.pending++;
    return this.handlePayload(payload, conn).finally(() => this.pending--);
  }

  /** Link counters: this server's and those of the frame decoders of served transports. */
  counters(): LinkCounters {
    const f = { ...this.frameTotals };
    for (const d of this.decoders) addFrameCounters(f, d.counters());
    return { ...f, ...this.c, ...(this.opts.injected?.() ?? NO_INJECTED), queueDrops: this.dropped + (this.opts.queueDrops?.() ?? 0) };
  }

  /**
   * Serve a transport: decode frames, answer each request, until the transport closes.
   * Resolves when it has closed.
   */
  serve(transport: ByteTransport): Promise<void> {
    const decoder = new FrameDecoder(this.maxFrameBytes);
    const conn: Conn = { replyLimit: this.maxFrameBytes };
    this.decoders.add(decoder);
    return new Promise((resolve) => {
      transport.onClose(() => {
        this.sessions.release(conn);
        this.decoders.delete(decoder);
        addFrameCounters(this.frameTotals, decoder.counters());
        resolve();
      });
      transport.onData((bytes) => {
        for (const ev of decoder.push(bytes)) {
          if (ev.status !== 'OK') {
            // a damaged frame (not bytes between frames): tell the host to resend now
            if (ev.reason === 'crc' || ev.reason === 'bad_escape' || ev.reason === 'too_short') {
              this.naksSent++;
              this.nakFrame ??= encodeFrame(this.encodeError(0, ErrorCode.BAD_REQUEST, 'frame arrived damaged; resend it', NAK_FIELD));
              void transport.write(this.nakFrame).catch(() => undefined);
            }
            continue;
          }
          void this.admit(ev.payload, conn).then(
            (out) => (out ? transport.write(encodeFrame(out)).catch(() => undefined) : undefined),
            () => undefined,
          );
        }
      });
    });
  }

  private async process(payload: Uint8Array, conn: Conn): Promise<Uint8Array | undefined> {
    const dec = decodeRequest(payload);
    if (dec.status === 'DATA_LOSS') {
      this.c.decodeErrors++;
      return undefined;
    }
    this.c.requests++;
    const id = dec.status === 'OK' ? dec.value.id : dec.id;
    const crc = crc32(payload);
    const hit = this.cache.get(id);
    if (hit && hit.requestCrc === crc && hit.requestLength === payload.length) {
      this.c.replays++;
      return hit.response;
    }
    let res: Response;
    if (dec.status === 'INVALID_ARGUMENT') {
      res = errorResponse(id, ErrorCode.BAD_REQUEST, dec.detail, dec.field);
    } else {
      res = await this.dispatch(id, dec.value.session ?? 0, dec.value.after ?? 0, dec.value.body, conn);
    }
    const bytes = this.encodeBounded(res, conn.replyLimit);
    // an OUT_OF_ORDER refusal is not an answer to keep: the same bytes are checked again
    if (res.error?.code !== ErrorCode.OUT_OF_ORDER) this.remember(id, crc, payload.length, bytes);
    return bytes;
  }

  private async dispatch(id: number, session: number, after: number, body: RequestBody, conn: Conn): Promise<Response> {
    const res = await this.dispatchInOrder(id, session, after, body, conn);
    if (!res.error && body.case !== 'hello' && session !== 0 && session === this.sessions.current) this.lastApplied = id;
    return res;
  }

  private async dispatchInOrder(id: number, session: number, after: number, body: RequestBody, conn: Conn): Promise<Response> {
    if (body.case === undefined) {
      return errorResponse(
        id,
        ErrorCode.BAD_REQUEST,
        `empty or unknown request (this device speaks protocol ${this.protocolVersion}); update the host or the firmware`,
        'body',
      );
    }
    if (body.case === 'hello') {
      const v = body.value.protocolVersion;
      if (v !== this.protocolVersion) {
        return errorResponse(id, ErrorCode.UNSUPPORTED_VERSION, `host speaks protocol ${v}, this device speaks ${this.protocolVersion}`, 'hello.protocol_version');
      }
      const hostLimit = body.value.maxFrameBytes;
      if (hostLimit > 0 && hostLimit < MIN_FRAME_BYTES) {
        return errorResponse(id, ErrorCode.BAD_REQUEST, `max_frame_bytes ${hostLimit} is below this device's minimum ${MIN_FRAME_BYTES}`, 'hello.max_frame_bytes');
      }
      const opened = this.sessions.hello(body.value, conn === this.direct ? undefined : conn);
      if (opened.status === 'BUSY') return busy(id, opened.holder, opened.heldMs);
      if (opened.fresh) {
        this.cache.clear();
        this.lastApplied = 0;
      }
      conn.replyLimit = hostLimit > 0 ? Math.min(this.maxFrameBytes, hostLimit) : this.maxFrameBytes;
    } else {
      const allowed = this.sessions.check(session, CHANGING_CALLS.has(body.case));
      if (allowed.status === 'BUSY') return busy(id, allowed.holder, allowed.heldMs);
      if (allowed.status === 'NO_SESSION') {
        return errorResponse(id, ErrorCode.NO_SESSION, `no session is open (the board rebooted, or the lease ran out); say Hello again`, 'session');
      }
      if (after !== 0 && after !== this.lastApplied) {
        return errorResponse(id, ErrorCode.OUT_OF_ORDER, `request ${after} before this one was not applied (lost or refused); send it first`, 'after_back');
      }
    }
    let out: ResponseBody;
    try {
      out = await this.handler(body, { id, replyLimit: conn.replyLimit, session: body.case !== 'hello' && session === this.sessions.current ? session : 0 });
    } catch (e) {
      return errorResponse(id, ...describeError(e));
    }
    if (out.case !== body.case) {
      return errorResponse(id, ErrorCode.INTERNAL, `handler answered ${body.case} with ${out.case ?? 'nothing'}`, '');
    }
    if (out.case === 'hello') {
      const r = out.value;
      out = {
        case: 'hello',
        value: {
          ...r,
          protocolVersion: this.protocolVersion,
          sessionId: this.sessions.current,
          sessionLeaseMs: this.sessions.leaseMs,
          limits: r.limits && { ...r.limits, maxFrameBytes: r.limits.maxFrameBytes || this.maxFrameBytes, minFrameBytes: MIN_FRAME_BYTES, maxInFlight: this.cacheSize, preload: r.limits.preload && this.cacheSize >= 2 },
        },
      };
    } else if (out.case === 'stats' && !out.value.link) {
      out = { case: 'stats', value: { ...out.value, link: this.counters() } };
    }
    return { id, body: out };
  }

  /** Encode; a reply that does not fit the frame limit becomes a TOO_LARGE error. */
  private encodeBounded(res: Response, replyLimit: number): Uint8Array {
    const enc = encodeResponse(res);
    if (enc.status !== 'OK') {
      return this.encodeError(res.id, ErrorCode.INTERNAL, `reply does not encode: ${enc.detail}`, '');
    }
    if (enc.bytes.length > replyLimit) {
      return this.encodeError(
        res.id,
        ErrorCode.TOO_LARGE,
        `${res.body.case ?? 'reply'} reply needs ${enc.bytes.length} bytes, frame limit is ${replyLimit}; ask for less per call`,
        res.body.case ?? '',
      );
    }
    return enc.bytes;
  }

  private encodeError(id: number, code: ErrorCode, message: string, field: string): Uint8Array {
    const enc = encodeResponse(errorResponse(id, code, message, field));
    // An error response is a few dozen bytes of valid fields: it always encodes.
    return enc.status === 'OK' ? enc.bytes : new Uint8Array(0);
  }

  private remember(id: number, requestCrc: number, requestLength: number, response: Uint8Array): void {
    this.cache.delete(id);
    this.cache.set(id, { requestCrc, requestLength, response });
    while (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next().value as number;
      this.cache.delete(oldest);
    }
  }
}

const utf8 = new TextEncoder();

/** Cut `s` to at most `maxBytes` UTF-8 bytes, marking a cut with "...". */
function clip(s: string, maxBytes: number): string {
  if (utf8.encode(s).length <= maxBytes) return s;
  let bytes = 3;
  let out = '';
  for (const ch of s) {
    const n = utf8.encode(ch).length;
    if (bytes + n > maxBytes) break;
    bytes += n;
    out += ch;
  }
  return `${out}...`;
}

/** An error Response with its strings clipped to the schema's max sizes. */
export function errorResponse(id: number, code: ErrorCode, message: string, field: string, holder?: { holder: string; heldMs: number }): Response {
  const error: WireError = {
    code,
    message: clip(message, ERROR_MESSAGE_MAX),
    field: clip(field, ERROR_FIELD_MAX),
    holder: clip(holder?.holder ?? '', ERROR_HOLDER_MAX),
    heldMs: Math.min(2 ** 32 - 1, Math.max(0, Math.round(holder?.heldMs ?? 0))),
  };
  return { id, body: { case: undefined }, error };
}

function busy(id: number, holder: string, heldMs: number): Response {
  return errorResponse(id, ErrorCode.BUSY, `the board is held by ${holder || 'another host'} (for ${Math.round(heldMs / 1000)} s); take it over on purpose or wait`, 'session', { holder, heldMs });
}

/** DeviceError codes with a wire code of the same name (the rest, e.g. TIMEOUT, are host-side only). */
function wireCode(code: string): ErrorCode | undefined {
  const c = (ErrorCode as Record<string, ErrorCode>)[code];
  return c === undefined || c === ErrorCode.UNSPECIFIED ? undefined : c;
}

/** A thrown value -> (code, message, field). */
function describeError(e: unknown): [ErrorCode, string, string] {
  if (e instanceof RpcError) return [e.code, e.message, e.field];
  // Error.field carries the field: the message need not repeat it (it has 120 bytes)
  if (e instanceof ConfigError) return [ErrorCode.CONFIG_OUT_OF_RANGE, e.detail, e.field];
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof DeviceError) {
    const field = refusalField(e);
    // Error.field carries the field: the message need not start with it
    const text = field && msg.startsWith(field) ? msg.slice(field.length).replace(/^: /, '') : msg;
    return [wireCode(e.code) ?? ErrorCode.INTERNAL, text.split('\n')[0], field ? toWireField(field) : ''];
  }
  return [ErrorCode.INTERNAL, msg.split('\n')[0], ''];
}

/** into += x, counter by counter. */
function addFrameCounters(into: Pick<LinkCounters, 'framesOk' | 'crcErrors' | 'oversize' | 'malformed' | 'bytesDropped'>, x: typeof into): void {
  into.framesOk += x.framesOk;
  into.crcErrors += x.crcErrors;
  into.oversize += x.oversize;
  into.malformed += x.malformed;
  into.bytesDropped += x.bytesDropped;
}

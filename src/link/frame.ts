/**
 * Byte stream <-> frames: HDLC-style framing, the lowest layer of the link.
 *
 *   0x7E | escaped( payload | CRC-32(payload), little-endian ) | 0x7E
 *
 * A 0x7E or 0x7D inside the escaped part is sent as 0x7D followed by the byte XOR 0x20
 * (0x7E -> 7D 5E, 0x7D -> 7D 5D); no other byte is escaped. The CRC is
 * CRC-32/ISO-HDLC over the unescaped payload. A frame carries at most
 * `maxFrameBytes` payload bytes (the MTU); the decoder's memory is sized from it.
 *
 * Written by hand rather than built from serialport's parsers: none of those checks a
 * CRC, so a corrupted byte would reach protobuf as a different message, and the
 * delimiter parser buffers without limit until it sees a delimiter, so a noisy line
 * can grow memory without bound. Here a frame is delivered only with a good CRC, and
 * the decoder holds at most `maxFrameBytes + 4` bytes whatever arrives.
 */

import { crc32 } from './crc32.js';

export const FLAG = 0x7e;
export const ESCAPE = 0x7d;
export const ESCAPE_XOR = 0x20;
/** Bytes of the frame check sequence (CRC-32) after the payload. */
export const CRC_BYTES = 4;
/** Smallest frame limit a link endpoint accepts: a HelloReply with long strings must fit. */
export const MIN_FRAME_BYTES = 256;
/** Frame limit (payload bytes) of the reference firmware and the host default. */
export const DEFAULT_MAX_FRAME_BYTES = 16384;

/** Bytes of the decoder's frame buffer for a given frame limit: payload plus CRC. */
export function decoderBufferBytes(maxFrameBytes: number): number {
  return maxFrameBytes + CRC_BYTES;
}

/** Worst-case bytes on the wire for a payload of `payloadBytes` (every byte escaped, two flags). */
export function maxEncodedFrameBytes(payloadBytes: number): number {
  return 2 + 2 * (payloadBytes + CRC_BYTES);
}

/** One payload as a frame on the wire: flag, escaped payload and CRC, flag. */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  const crc = crc32(payload);
  const body = new Uint8Array(payload.length + CRC_BYTES);
  body.set(payload, 0);
  body[payload.length] = crc & 0xff;
  body[payload.length + 1] = (crc >>> 8) & 0xff;
  body[payload.length + 2] = (crc >>> 16) & 0xff;
  body[payload.length + 3] = (crc >>> 24) & 0xff;
  let escapes = 0;
  for (const b of body) if (b === FLAG || b === ESCAPE) escapes++;
  const out = new Uint8Array(body.length + escapes + 2);
  let o = 0;
  out[o++] = FLAG;
  for (const b of body) {
    if (b === FLAG || b === ESCAPE) {
      out[o++] = ESCAPE;
      out[o++] = b ^ ESCAPE_XOR;
    } else {
      out[o++] = b;
    }
  }
  out[o++] = FLAG;
  return out;
}

/** Why bytes were dropped. */
export type DropReason =
  /** Bytes outside any frame (before the first flag, or after an abandoned frame). */
  | 'garbage'
  /** The frame's CRC did not match its payload. */
  | 'crc'
  /** Fewer bytes between two flags than a CRC needs. */
  | 'too_short'
  /** 0x7D followed by a flag or by a byte other than 0x5E / 0x5D. */
  | 'bad_escape'
  /** More than maxFrameBytes payload bytes before the closing flag. */
  | 'oversize';

export type FrameEvent =
  | { status: 'OK'; payload: Uint8Array }
  | { status: 'DATA_LOSS'; reason: Exclude<DropReason, 'oversize'>; bytesDropped: number }
  | { status: 'RESOURCE_EXHAUSTED'; reason: 'oversize'; bytesDropped: number };

export interface FrameCounters {
  /** Frames delivered with a good CRC. */
  framesOk: number;
  crcErrors: number;
  /** Frames longer than maxFrameBytes. */
  oversize: number;
  /** Frames too short for a CRC or with a bad escape sequence. */
  malformed: number;
  /** Raw bytes (as received, flags excluded) discarded for any reason. */
  bytesDropped: number;
}

const enum State {
  /** Discarding until the next flag. */
  Hunt,
  /** Inside a frame (or between frames after a flag). */
  Frame,
}

/**
 * Streaming frame decoder: push raw bytes as they arrive (any split), get back
 * delivered payloads and drop reports. Never throws on input. Memory is one buffer of
 * {@link decoderBufferBytes}(maxFrameBytes) bytes, allocated once; after garbage, a
 * CRC error, a bad escape or an oversize frame it resynchronises at the next flag.
 *
 * Every dropped byte is reported exactly once, in the event emitted at the flag that
 * ends the dropped run, so the sum of `bytesDropped` over events equals the
 * `bytesDropped` counter.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  private readonly buf: Uint8Array;
  private len = 0;
  private state = State.Hunt;
  private escapePending = false;
  /** Raw bytes of the current frame or of the current run being discarded. */
  private raw = 0;
  private huntReason: 'garbage' | 'bad_escape' | 'oversize' = 'garbage';
  private readonly c: FrameCounters = { framesOk: 0, crcErrors: 0, oversize: 0, malformed: 0, bytesDropped: 0 };

  /** @param maxFrameBytes largest payload accepted, bytes (CRC not included) */
  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1) {
      throw new RangeError(`maxFrameBytes must be a positive integer, got ${maxFrameBytes}`);
    }
    this.maxFrameBytes = maxFrameBytes;
    this.buf = new Uint8Array(decoderBufferBytes(maxFrameBytes));
  }

  /** Size of the frame buffer, bytes: the decoder's memory bound. */
  get capacity(): number {
    return this.buf.length;
  }

  /** Unescaped bytes held for the frame in progress (always <= capacity). */
  get bufferedBytes(): number {
    return this.len;
  }

  /** A copy of the counters. */
  counters(): FrameCounters {
    return { ...this.c };
  }

  /** Forget any partial frame and start hunting for a flag again (counters are kept). */
  reset(): void {
    this.len = 0;
    this.raw = 0;
    this.escapePending = false;
    this.state = State.Hunt;
    this.huntReason = 'garbage';
  }

  /** Feed received bytes; returns what they completed, in order. */
  push(bytes: Uint8Array): FrameEvent[] {
    const events: FrameEvent[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (this.state === State.Hunt) {
        if (b !== FLAG) {
          this.raw++;
          continue;
        }
        if (this.raw > 0) events.push(this.drop(this.huntReason));
        this.startFrame();
        continue;
      }
      // State.Frame
      if (b === FLAG) {
        if (this.escapePending) events.push(this.drop('bad_escape'));
        else if (this.raw > 0) events.push(this.finishFrame());
        this.startFrame(); // the closing flag also opens the next frame
        continue;
      }
      this.raw++;
      let v = b;
      if (this.escapePending) {
        this.escapePending = false;
        v = b ^ ESCAPE_XOR;
        if (v !== FLAG && v !== ESCAPE) {
          this.hunt('bad_escape');
          continue;
        }
      } else if (b === ESCAPE) {
        this.escapePending = true;
        continue;
      }
      if (this.len === this.buf.length) {
        this.hunt('oversize');
        continue;
      }
      this.buf[this.len++] = v;
    }
    return events;
  }

  private startFrame(): void {
    this.state = State.Frame;
    this.len = 0;
    this.raw = 0;
    this.escapePending = false;
  }

  /** Abandon the frame in progress; its bytes and all up to the next flag are dropped. */
  private hunt(reason: 'bad_escape' | 'oversize'): void {
    this.state = State.Hunt;
    this.huntReason = reason;
    this.len = 0;
    this.escapePending = false;
  }

  private finishFrame(): FrameEvent {
    if (this.len < CRC_BYTES) return this.drop('too_short');
    const n = this.len - CRC_BYTES;
    const got =
      (this.buf[n] | (this.buf[n + 1] << 8) | (this.buf[n + 2] << 16) | (this.buf[n + 3] << 24)) >>> 0;
    if (crc32(this.buf, 0, n) !== got) return this.drop('crc');
    this.c.framesOk++;
    return { status: 'OK', payload: this.buf.slice(0, n) };
  }

  private drop(reason: DropReason): FrameEvent {
    const bytesDropped = this.raw;
    this.c.bytesDropped += bytesDropped;
    this.raw = 0;
    if (reason === 'oversize') {
      this.c.oversize++;
      return { status: 'RESOURCE_EXHAUSTED', reason, bytesDropped };
    }
    if (reason === 'crc') this.c.crcErrors++;
    else if (reason === 'too_short' || reason === 'bad_escape') this.c.malformed++;
    return { status: 'DATA_LOSS', reason, bytesDropped };
  }
}

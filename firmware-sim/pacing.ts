/**
 * Line pacing as one transport stage: both directions move at most `bytesPerSecond`
 * (a UART at `baud` with 8N1 framing carries baud / 10 bytes per second), so link
 * timing through a pseudo-terminal or TCP is the timing of a real serial line.
 *
 * Each direction is a wire that is busy until its last byte is out. A write of n
 * bytes starts when the wire is free and reaches the other end when its last byte
 * would have, n / bytesPerSecond later. The host's bytes reach the board the same way,
 * cut at frame ends: a frame is handed up when its last byte has crossed the line
 * (a frame is usable only once complete), so the board works on a request while the
 * next one is still arriving, as firmware fed by a UART receive interrupt does, and
 * a reply goes out as soon as it is made (after whatever is still on the wire).
 * (Handing every write up at once and starting the reply only after the whole write
 * had crossed, plus the time the board took, charged the board's work on a pipelined
 * Reward after the Run behind it had crossed, 0.5-0.6 ms per chunk at 1 Mbaud as
 * traced, and would keep a preloaded chunk's inputs, sent right behind a Run, on the
 * critical path of that Run's reply.)
 *
 * Timers: setTimeout alone fires a millisecond or more late (more after a long sleep
 * on a busy or virtual machine), which at 1 Mbaud is worth 100 bytes per delivery.
 * So it sleeps with setTimeout until 2.5 ms before the due time and then yields with
 * setImmediate until the due time (I/O keeps flowing meanwhile; the cost is up to
 * 2.5 ms of CPU per delivery). Due times are absolute, so lateness never accumulates.
 * Measured (bench/link.ts): a 1 ms margin gave 92 % of the wire limit at 115200 baud,
 * 2.5 ms gives 95 %.
 */

import { FLAG } from '../src/link/frame.js';
import type { ByteTransport } from '../src/link/transport.js';

/** Run `cb` at `dueMs` (performance.now() clock), within a few tens of microseconds. */
export function atTime(dueMs: number, cb: () => void): void {
  const wait = dueMs - performance.now();
  if (wait <= 0) cb();
  else if (wait > 3) setTimeout(() => atTime(dueMs, cb), wait - 2.5);
  else setImmediate(() => atTime(dueMs, cb));
}

/** One direction of the line: chunks go out in order, each at its wire completion time. */
export class Wire {
  private freeAtMs = 0;
  /** Chunks on the wire, from `head` on (a moving head, so draining is O(1) per chunk, not a shift). */
  private queue: { bytes: Uint8Array; dueMs: number }[] = [];
  private head = 0;
  private armed = false;
  /** Bytes carried so far. */
  bytes = 0;
  /** Chunks dropped because the transmit queue held maxBacklogMs of line time already. */
  dropped = 0;

  constructor(
    private readonly bytesPerSecond: number,
    private readonly deliver: (bytes: Uint8Array) => void,
    /** At most this much line time queued, ms (a UART's transmit buffer is bounded too). */
    private readonly maxBacklogMs = 2000,
  ) {
    if (!(bytesPerSecond > 0)) throw new RangeError(`bytesPerSecond ${bytesPerSecond} must be > 0`);
  }

  /** Put `bytes` on the wire (after whatever is still on it); dropped (counted) when the queue is full. */
  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.freeAtMs - performance.now() > this.maxBacklogMs) {
      this.dropped++;
      return;
    }
    const start = Math.max(performance.now(), this.freeAtMs);
    this.freeAtMs = start + (1000 * bytes.length) / this.bytesPerSecond;
    this.bytes += bytes.length;
    this.queue.push({ bytes, dueMs: this.freeAtMs });
    this.arm();
  }

  private arm(): void {
    if (this.armed || this.head >= this.queue.length) return;
    this.armed = true;
    atTime(this.queue[this.head].dueMs, () => {
      this.armed = false;
      const now = performance.now();
      while (this.head < this.queue.length && this.queue[this.head].dueMs <= now) this.deliver(this.queue[this.head++].bytes);
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.arm();
    });
  }
}

/**
 * Where `bytes` is cut so that each piece ends with a frame's closing flag (a flag after
 * a byte that is not one; `before` is the byte that came just before `bytes`), and
 * the rest as one last piece.
 */
export function frameEnds(bytes: Uint8Array, before = FLAG): number[] {
  const ends: number[] = [];
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === FLAG && (i > 0 ? bytes[i - 1] : before) !== FLAG) ends.push(i + 1);
  if (ends[ends.length - 1] !== bytes.length) ends.push(bytes.length);
  return ends;
}

/** Wrap `inner` so both directions run at `bytesPerSecond` (baud / 10 for 8N1). */
export function pacedTransport(inner: ByteTransport, bytesPerSecond: number): ByteTransport & { queueDrops(): number } {
  let onData: (bytes: Uint8Array) => void = () => {};
  const out = new Wire(bytesPerSecond, (b) => void inner.write(b).catch(() => undefined));
  // the host's side of the line buffers what it has not sent yet (an OS serial driver does), so nothing is dropped here
  let closed = false;
  const into = new Wire(bytesPerSecond, (b) => closed || onData(b), Infinity);
  let last = FLAG;
  inner.onData((b) => {
    if (b.length === 0) return;
    let from = 0;
    for (const end of frameEnds(b, last)) {
      into.push(b.slice(from, end));
      from = end;
    }
    last = b[b.length - 1];
  });
  return {
    name: inner.name,
    bytesPerSecond,
    write(bytes) {
      out.push(bytes.slice());
      return Promise.resolve(); // handed to the UART's buffer
    },
    onData(cb) {
      onData = cb;
    },
    // bytes still crossing when the link closes are lost with it
    onClose: (cb) =>
      inner.onClose((reason) => {
        closed = true;
        cb(reason);
      }),
    close: () => inner.close(),
    queueDrops: () => out.dropped,
  };
}

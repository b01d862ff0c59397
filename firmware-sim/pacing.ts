/**
 * Line pacing as one transport stage: both directions move at most `bytesPerSecond`
 * (a UART at `baud` with 8N1 framing carries baud / 10 bytes per second), so link
 * timing through a pseudo-terminal or TCP is the timing of a real serial line.
 *
 * Each direction is a wire that is busy until its last byte is out. Sending: a write
 * of n bytes starts when the wire is free and reaches the other end when its last
 * byte would have, n / bytesPerSecond later (a frame is usable only once complete).
 * Receiving: bytes are handed up at once, but the line is taken to finish receiving
 * them only n / bytesPerSecond after they came, and a reply cannot start before that
 * plus the time the device took to make it. The host sees exactly the timing of
 * pacing each direction separately, with one timer per call instead of two (on a
 * busy machine every wake-up costs latency).
 *
 * Timers: setTimeout alone fires a millisecond or more late (more after a long sleep
 * on a busy or virtual machine), which at 1 Mbaud is worth 100 bytes per delivery.
 * So it sleeps with setTimeout until 2.5 ms before the due time and then yields with
 * setImmediate until the due time (I/O keeps flowing meanwhile; the cost is up to
 * 2.5 ms of CPU per delivery). Due times are absolute, so lateness never accumulates.
 * Measured (bench/link.ts): a 1 ms margin gave 92 % of the wire limit at 115200 baud,
 * 2.5 ms gives 95 %.
 */

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

  /** Put `bytes` on the wire (after whatever is still on it, and not before `notBeforeMs`); dropped (counted) when the queue is full. */
  push(bytes: Uint8Array, notBeforeMs = 0): void {
    if (bytes.length === 0) return;
    if (this.freeAtMs - performance.now() > this.maxBacklogMs) {
      this.dropped++;
      return;
    }
    const start = Math.max(performance.now(), this.freeAtMs, notBeforeMs);
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

/** Wrap `inner` so both directions run at `bytesPerSecond` (baud / 10 for 8N1). */
export function pacedTransport(inner: ByteTransport, bytesPerSecond: number): ByteTransport & { queueDrops(): number } {
  let onData: (bytes: Uint8Array) => void = () => {};
  const out = new Wire(bytesPerSecond, (b) => void inner.write(b).catch(() => undefined));
  /** When the received bytes so far finish arriving on the line, and when they actually came. */
  let rxDoneMs = 0;
  let rxCameMs = 0;
  inner.onData((b) => {
    const now = performance.now();
    rxDoneMs = Math.max(now, rxDoneMs) + (1000 * b.length) / bytesPerSecond;
    rxCameMs = now;
    onData(b);
  });
  return {
    name: inner.name,
    bytesPerSecond,
    write(bytes) {
      // the device worked (now - rxCameMs) on what it received, which it had in full at rxDoneMs
      out.push(bytes.slice(), rxDoneMs + (performance.now() - rxCameMs));
      return Promise.resolve(); // handed to the UART's buffer
    },
    onData(cb) {
      onData = cb;
    },
    onClose: (cb) => inner.onClose(cb),
    close: () => inner.close(),
    queueDrops: () => out.dropped,
  };
}

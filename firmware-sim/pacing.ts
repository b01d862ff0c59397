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
  private readonly queue: { bytes: Uint8Array; dueMs: number }[] = [];
  private armed = false;
  /** Bytes carried so far. */
  bytes = 0;

  constructor(
    private readonly bytesPerSecond: number,
    private readonly deliver: (bytes: Uint8Array) => void,
  ) {
    if (!(bytesPerSecond > 0)) throw new RangeError(`bytesPerSecond ${bytesPerSecond} must be > 0`);
  }

  /** Put `bytes` on the wire (after whatever is still on it, and not before `notBeforeMs`). */
  push(bytes: Uint8Array, notBeforeMs = 0): void {
    if (bytes.length === 0) return;
    const start = Math.max(performance.now(), this.freeAtMs, notBeforeMs);
    this.freeAtMs = start + (1000 * bytes.length) / this.bytesPerSecond;
    this.bytes += bytes.length;
    this.queue.push({ bytes, dueMs: this.freeAtMs });
    this.arm();
  }

  private arm(): void {
    if (this.armed || this.queue.length === 0) return;
    this.armed = true;
    atTime(this.queue[0].dueMs, () => {
      this.armed = false;
      const now = performance.now();
      while (this.queue.length > 0 && this.queue[0].dueMs <= now) this.deliver(this.queue.shift()!.bytes);
      this.arm();
    });
  }
}

/** Wrap `inner` so both directions run at `bytesPerSecond` (baud / 10 for 8N1). */
export function pacedTransport(inner: ByteTransport, bytesPerSecond: number): ByteTransport {
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
  };
}

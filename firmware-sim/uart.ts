/**
 * What a UART reads when the two ends disagree on the baud rate. A pseudo-terminal
 * carries bytes whatever baud each side set, so firmware-sim --pty applies this stage
 * to make a wrong host baud rate produce the garbage a real line gives.
 *
 * Model: 8N1 frames (start bit 0, 8 data bits LSB first, stop bit 1), idle line 1
 * before and after the chunk. The receiver waits for a falling edge, samples the
 * middle of each of its own bit periods, and reads a byte with a bad stop bit
 * (framing error) as 0x00, as a Linux tty in raw mode does.
 */

import type { ByteTransport } from '../src/link/transport.js';

/** The bytes a receiver at `rxBaud` reads from `bytes` sent at `txBaud`. Equal rates: the bytes themselves. */
export function resampleUart(bytes: Uint8Array, txBaud: number, rxBaud: number): Uint8Array {
  if (txBaud === rxBaud || bytes.length === 0) return bytes;
  const txBits = bytes.length * 10;
  /** Line level at time t, in transmitter bit periods. */
  const level = (t: number): number => {
    if (t < 0 || t >= txBits) return 1;
    const bit = Math.floor(t);
    const k = bit % 10;
    return k === 0 ? 0 : k === 9 ? 1 : (bytes[(bit - k) / 10] >> (k - 1)) & 1;
  };
  const ratio = txBaud / rxBaud; // transmitter bit periods per receiver bit period
  const out: number[] = [];
  const hunt = 1 / 8; // the receiver looks for the start edge at 8x its bit rate
  for (let t = 0; t * ratio < txBits; ) {
    if (level(t * ratio) === 1) {
      t += hunt;
      continue;
    }
    let byte = 0;
    for (let k = 1; k <= 8; k++) byte |= level((t + k + 0.5) * ratio) << (k - 1);
    out.push(level((t + 9.5) * ratio) === 1 ? byte : 0);
    t += 9.5; // re-armed in the middle of the stop bit
  }
  return Uint8Array.from(out);
}

/**
 * Wrap `inner` (the device's end of a pseudo-terminal) so that bytes cross at
 * `deviceBaud` on this side and at `hostBaud()` (the rate the host set on its end) on
 * the other.
 */
export function baudMismatchTransport(inner: ByteTransport, deviceBaud: number, hostBaud: () => number): ByteTransport {
  let onData: (bytes: Uint8Array) => void = () => {};
  inner.onData((b) => {
    const out = resampleUart(b, hostBaud(), deviceBaud);
    if (out.length > 0) onData(out);
  });
  return {
    name: inner.name,
    bytesPerSecond: inner.bytesPerSecond,
    write: (bytes) => {
      const out = resampleUart(bytes, deviceBaud, hostBaud());
      return out.length > 0 ? inner.write(out) : Promise.resolve();
    },
    onData(cb) {
      onData = cb;
    },
    onClose: (cb) => inner.onClose(cb),
    close: () => inner.close(),
  };
}

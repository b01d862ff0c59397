/**
 * Fault injection as one transport stage, bytes in and bytes out: what a noisy line
 * does to the frames of both directions.
 *
 * - corruptRate p: each byte sent or received has one random bit flipped with
 *   probability p;
 * - dropRate q: each frame sent or received is lost whole with probability q. A write
 *   is one frame (the device server writes each reply frame on its own); received
 *   bytes are cut into frames at the 0x7E flags, held until their closing flag.
 *
 * The random draws come from a seeded generator, so a failing run can be repeated.
 */

import { FLAG } from '../src/link/frame.js';
import type { ByteTransport } from '../src/link/transport.js';

export interface FaultOptions {
  /** Probability that a byte gets one bit flipped, 0..1 (default 0). */
  corruptRate?: number;
  /** Probability that a whole frame is lost, 0..1 (default 0). */
  dropRate?: number;
  /** Seed of the fault draws (uint32, default 1). */
  seed?: number;
}

export interface FaultCounters {
  bytesCorruptedIn: number;
  bytesCorruptedOut: number;
  framesDroppedIn: number;
  framesDroppedOut: number;
}

/** Bytes held while waiting for a flag before they pass unsplit (a line with no frames at all). */
const MAX_HELD_BYTES = 1 << 20;

/** mulberry32: a tiny seeded uniform generator in [0, 1). */
export function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Wrap `inner` so that both directions suffer the given faults. */
export function faultyTransport(inner: ByteTransport, opts: FaultOptions): ByteTransport & { faults(): FaultCounters } {
  const p = opts.corruptRate ?? 0;
  const q = opts.dropRate ?? 0;
  for (const [name, v] of [['corruptRate', p], ['dropRate', q]] as const)
    if (!(v >= 0 && v <= 1)) throw new RangeError(`${name} ${v} is not a probability in 0..1`);
  const random = seededUniform(opts.seed ?? 1);
  const c: FaultCounters = { bytesCorruptedIn: 0, bytesCorruptedOut: 0, framesDroppedIn: 0, framesDroppedOut: 0 };
  let onData: (bytes: Uint8Array) => void = () => {};
  let held: number[] = [];

  /** A copy of `bytes` with bit flips; returns how many bytes were hit. */
  const corrupt = (bytes: Uint8Array): [Uint8Array, number] => {
    if (p === 0) return [bytes, 0];
    const out = bytes.slice();
    let hit = 0;
    for (let i = 0; i < out.length; i++) {
      if (random() < p) {
        out[i] ^= 1 << Math.floor(random() * 8);
        hit++;
      }
    }
    return [out, hit];
  };

  const deliver = (frame: Uint8Array) => {
    const [bytes, hit] = corrupt(frame);
    c.bytesCorruptedIn += hit;
    onData(bytes);
  };

  inner.onData((bytes) => {
    if (q === 0) return deliver(bytes);
    for (const b of bytes) {
      held.push(b);
      if (b !== FLAG && held.length < MAX_HELD_BYTES) continue;
      const frame = Uint8Array.from(held);
      held = [];
      // a lone flag is idle line (or the opening flag): nothing to lose
      if (frame.length > 1 && random() < q) c.framesDroppedIn++;
      else deliver(frame);
    }
  });

  return {
    name: inner.name,
    bytesPerSecond: inner.bytesPerSecond,
    write(bytes) {
      if (q > 0 && random() < q) {
        c.framesDroppedOut++;
        return Promise.resolve();
      }
      const [out, hit] = corrupt(bytes);
      c.bytesCorruptedOut += hit;
      return inner.write(out);
    },
    onData(cb) {
      onData = cb;
    },
    onClose: (cb) => inner.onClose(cb),
    close: () => inner.close(),
    faults: () => ({ ...c }),
  };
}

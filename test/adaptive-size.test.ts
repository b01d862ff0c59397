// AdaptiveSize, the rule behind the link's clean-run pieces and parameter pieces
// (src/link/serial-device.ts): halve on a troubled transfer, double after 16 clean ones
// in a row, and with a `start` begin small and double after every clean transfer until
// the first troubled one (slow start: a reply can only be asked for again, never cut,
// so a run must not bet its first transfers on the largest frame).
import { describe, expect, it } from 'vitest';
import { AdaptiveSize } from '../src/link/serial-device.js';

/** The values after each outcome (true = troubled). */
function trace(size: AdaptiveSize, outcomes: boolean[]): number[] {
  return outcomes.map((t) => (size.after(t), size.value));
}

describe('AdaptiveSize', () => {
  it('without a start it begins at the ceiling, halves on trouble and grows back only after 16 clean transfers', () => {
    const s = new AdaptiveSize(1, 64);
    expect(s.value).toBe(64);
    expect(trace(s, [true, true])).toEqual([32, 16]);
    const clean = trace(s, Array(16).fill(false));
    expect(clean.slice(0, 15)).toEqual(Array(15).fill(16));
    expect(clean[15]).toBe(32);
    expect(trace(s, Array(10).fill(true)).at(-1)).toBe(1); // never under min
  });

  it('slow start: begins at start and doubles after every clean transfer up to the ceiling', () => {
    const s = new AdaptiveSize(1, 256, 16);
    expect(s.value).toBe(16);
    expect(trace(s, [false, false, false, false, false])).toEqual([32, 64, 128, 256, 256]);
  });

  it('the first troubled transfer ends the slow start: from then on growth needs 16 clean in a row', () => {
    const s = new AdaptiveSize(1, 256, 16);
    expect(trace(s, [false, true])).toEqual([32, 16]);
    const clean = trace(s, Array(16).fill(false));
    expect(clean.slice(0, 15)).toEqual(Array(15).fill(16));
    expect(clean[15]).toBe(32);
  });

  it('reset to a new ceiling starts slowly again (and a start above the ceiling is cut to it)', () => {
    const s = new AdaptiveSize(1, 256, 16);
    trace(s, [false, true, true]);
    s.reset(64);
    expect(s.value).toBe(16);
    expect(trace(s, [false, false, false])).toEqual([32, 64, 64]);
    s.reset(8);
    expect(s.value).toBe(8);
    expect(new AdaptiveSize(4, 2, 16).value).toBe(4); // the value is never under min
  });
});

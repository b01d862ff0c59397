/**
 * The chip's eligibility-trace formats (docs/kernel.md, "Eligibility traces"): the
 * decay as a Q16 code and the scale exponents T_W, T_R, T_b of the int32 traces, fixed
 * at configure from the sizes, formats, hidden noise and decay. The kernel
 * (assembly/trace.ts), the C firmware and the hosts that read and write trace tensors
 * (EmulatorDevice, SerialDevice) compute the same numbers from these rules.
 */
import type { FixedFormat } from './fixed.js';

export interface TraceFormats {
  /** nearest_even(decay * 65536), 0..65535. */
  decayQ16: number;
  /** Scale exponents: entry code E has the real value E * 2^(pF - iF - w), E * 2^(pF - aF - r), E * 2^(pF - b). */
  w: number;
  r: number;
  b: number;
}

/** nearest_even(decay * 65536) clamped to 0..65535 (decay in [0, 1)). */
export function decayQ16(decay: number): number {
  const x = decay * 65536;
  let q = Math.round(x);
  if (q - x === 0.5 && q % 2 !== 0) q -= 1; // ties to even (Math.round rounds ties up)
  return Math.min(65535, Math.max(0, q));
}

/** floor(log2 x) of a positive normal binary64, from its exponent field. */
function exponentOf(x: number): number {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, x);
  return ((v.getUint16(0) >> 4) & 0x7ff) - 1023;
}

const clampT = (t: number): number => Math.min(48, Math.max(0, t));

/** The trace formats of a chip with H hidden neurons, hidden sigma `sigmaLsb` (pre LSBs), decay and formats. */
export function traceFormats(hidden: number, sigmaLsb: number, decay: number, input: FixedFormat, activity: FixedFormat): TraceFormats {
  const q = decayQ16(decay);
  const e = exponentOf(hidden * Math.max(1, sigmaLsb) * (65536 - q));
  return { decayQ16: q, w: clampT(e + 11 - input.bits), r: clampT(e + 11 - activity.bits), b: clampT(e + 10) };
}

/** Real value of one code of each trace (multiply a code by it; divide a real value by it to quantise). */
export function traceLsb(t: TraceFormats, pre: FixedFormat, input: FixedFormat, activity: FixedFormat): { w: number; r: number; b: number } {
  return { w: 2 ** (pre.frac - input.frac - t.w), r: 2 ** (pre.frac - activity.frac - t.r), b: 2 ** (pre.frac - t.b) };
}

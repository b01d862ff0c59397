/**
 * Fixed-point formats: one naming scheme used by the kernel, the CLI, the wire
 * protocol and the reports.
 *
 * Name: `Qm.n` is signed two's complement with m integer bits (sign bit not
 * counted) and n fraction bits, so it has 1+m+n bits in all (ARM convention).
 * `UQm.n` is unsigned with m+n bits. One LSB is 2^-n.
 *
 * Rounding (when a value loses fraction bits) and overflow (when it does not fit)
 * use HLS-style meanings under short names:
 *   nearest     round to nearest, ties to even        (HLS AP_RND_CONV)
 *   floor       drop the bits, toward minus infinity  (HLS AP_TRN)
 *   stochastic  add seeded uniform random bits below the LSB, then floor
 *   sat         clamp to the largest/smallest value   (HLS AP_SAT)
 *   wrap        keep the low bits, two's complement   (HLS AP_WRAP)
 */
import { AnptError } from '../errors.js';

export type Rounding = 'nearest' | 'floor' | 'stochastic';
export type Overflow = 'sat' | 'wrap';

export const ROUNDINGS: readonly Rounding[] = ['nearest', 'floor', 'stochastic'];
export const OVERFLOWS: readonly Overflow[] = ['sat', 'wrap'];

/** Numeric codes used by the kernel and the wire protocol (stable, do not reorder). */
export const ROUNDING_CODE: Record<Rounding, number> = { nearest: 0, floor: 1, stochastic: 2 };
export const OVERFLOW_CODE: Record<Overflow, number> = { sat: 0, wrap: 1 };

export interface FixedFormat {
  /** Total bits including the sign bit, 2..16. */
  bits: number;
  /** Fraction bits, 0..bits (signed: 0..bits-1). One LSB = 2^-frac. */
  frac: number;
  signed: boolean;
  rounding: Rounding;
  overflow: Overflow;
}

export type ConfigErrorCode = 'CONFIG';

/** An error in user input: names the field, the value and what is allowed. */
export class ConfigError extends AnptError<ConfigErrorCode> {
  /** The message without the leading "field: " (for callers that name the field their own way). */
  readonly detail: string;
  constructor(readonly field: string, message: string) {
    super('CONFIG', `${field}: ${message}`);
    this.detail = message;
  }
}

/** Smallest and largest integer code of a format. */
export function codeRange(f: Pick<FixedFormat, 'bits' | 'signed'>): { min: number; max: number } {
  return f.signed
    ? { min: -(2 ** (f.bits - 1)), max: 2 ** (f.bits - 1) - 1 }
    : { min: 0, max: 2 ** f.bits - 1 };
}

/** Value of one LSB, 2^-frac. */
export function lsb(f: Pick<FixedFormat, 'frac'>): number {
  return 2 ** -f.frac;
}

/** `Q3.12`, `UQ0.8` */
export function formatName(f: Pick<FixedFormat, 'bits' | 'frac' | 'signed'>): string {
  const m = f.bits - f.frac - (f.signed ? 1 : 0);
  return `${f.signed ? 'Q' : 'UQ'}${m}.${f.frac}`;
}

/** Parse `Q3.12` / `UQ0.8`; rounding and overflow come separately. */
export function parseFormatName(
  name: string,
  field: string,
  rounding: Rounding = 'nearest',
  overflow: Overflow = 'sat',
): FixedFormat {
  const m = /^(U?)Q(\d+)\.(\d+)$/i.exec(name.trim());
  if (!m) throw new ConfigError(field, `"${name}" is not a format name; write Qm.n (signed, 1+m+n bits) or UQm.n (unsigned, m+n bits), e.g. Q3.12`);
  const signed = m[1] === '';
  const ib = Number(m[2]);
  const fb = Number(m[3]);
  const f: FixedFormat = { bits: ib + fb + (signed ? 1 : 0), frac: fb, signed, rounding, overflow };
  validateFormat(f, field);
  return f;
}

/**
 * Check a format; throws ConfigError naming the field and the allowed range.
 * `minBits`/`maxBits` let a quantity narrow the range (weights: 2..16).
 */
/** Bits of any fixed-point format the kernel accepts (sign included): the one range the CLI, device info and docs give. */
export const FORMAT_BITS = { min: 2, max: 16 } as const;

export function validateFormat(f: FixedFormat, field: string, minBits: number = FORMAT_BITS.min, maxBits: number = FORMAT_BITS.max): void {
  if (f === null || typeof f !== 'object') throw new ConfigError(field, 'missing format object {bits, frac, signed, rounding, overflow}');
  if (!Number.isInteger(f.bits) || f.bits < minBits || f.bits > maxBits)
    throw new ConfigError(`${field}.bits`, `${f.bits} is out of range; allowed ${minBits}..${maxBits}`);
  const maxFrac = f.signed ? f.bits - 1 : f.bits;
  if (!Number.isInteger(f.frac) || f.frac < 0 || f.frac > maxFrac)
    throw new ConfigError(`${field}.frac`, `${f.frac} is out of range for ${f.bits} ${f.signed ? 'signed' : 'unsigned'} bits; allowed 0..${maxFrac}`);
  if (typeof f.signed !== 'boolean') throw new ConfigError(`${field}.signed`, `must be true or false, got ${String(f.signed)}`);
  if (!ROUNDINGS.includes(f.rounding))
    throw new ConfigError(`${field}.rounding`, `"${f.rounding}" is not a rounding mode; use ${ROUNDINGS.join(', ')}`);
  if (!OVERFLOWS.includes(f.overflow))
    throw new ConfigError(`${field}.overflow`, `"${f.overflow}" is not an overflow mode; use ${OVERFLOWS.join(', ')}`);
}

/** Apply the overflow mode to an integer code (exact for |x| < 2^53). */
export function applyOverflow(x: number, f: Pick<FixedFormat, 'bits' | 'signed' | 'overflow'>): number {
  const { min, max } = codeRange(f);
  if (x >= min && x <= max) return x;
  if (f.overflow === 'sat') return x < min ? min : max;
  const span = 2 ** f.bits;
  let r = ((x % span) + span) % span;
  if (f.signed && r > max) r -= span;
  return r;
}

/**
 * Host-side quantisation of a real value to an integer code: round to nearest
 * (ties to even), then the format's overflow mode. NaN is refused (throws), since a
 * NaN reaching a device is always a bug upstream.
 */
export function toQ(value: number, f: Pick<FixedFormat, 'bits' | 'frac' | 'signed' | 'overflow'>, field = 'value'): number {
  if (Number.isNaN(value)) throw new ConfigError(field, 'is NaN; clean the data (drop or fill missing values) before sending it to a device');
  const scaled = value * 2 ** f.frac;
  if (!Number.isFinite(scaled)) return applyOverflow(scaled > 0 ? 2 ** 40 : -(2 ** 40), { ...f, overflow: 'sat' });
  let r = Math.round(scaled);
  if (Math.abs(scaled % 1) === 0.5 && r % 2 !== 0) r -= 1; // ties to even
  const clamped = Math.max(-(2 ** 52), Math.min(2 ** 52, r));
  return applyOverflow(clamped, f);
}

/**
 * A fast quantiser for many values of one format (round to nearest even, saturate):
 * the same result as toQ(x, {...f, overflow: 'sat'}) for finite x, without per-value
 * allocation. NaN must be checked by the caller.
 */
export function saturatingQuantiser(f: Pick<FixedFormat, 'bits' | 'frac' | 'signed'>): (x: number) => number {
  const scale = 2 ** f.frac;
  const { min, max } = codeRange(f);
  return (x: number) => {
    const v = x * scale;
    if (!(v > min)) return min; // also -Infinity
    if (!(v < max)) return max;
    let r = Math.round(v);
    if (r - v === 0.5 && (r & 1) !== 0) r -= 1; // ties to even (Math.round rounds half up)
    return r;
  };
}

/** Real value of an integer code. */
export function fromQ(code: number, f: Pick<FixedFormat, 'frac'>): number {
  return code * 2 ** -f.frac;
}

/** Shorthand to build a signed format from `Qm.n` numbers. */
export function q(intBits: number, fracBits: number, rounding: Rounding = 'nearest', overflow: Overflow = 'sat'): FixedFormat {
  return { bits: 1 + intBits + fracBits, frac: fracBits, signed: true, rounding, overflow };
}

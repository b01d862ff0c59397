/**
 * Reading flag values. Commander hands every value over as the string the user typed;
 * these functions check it and say, in one line, what is wrong and what would do:
 *
 *   anpt: --hidden: 'abc' is not a positive integer; e.g. --hidden 100
 *
 * An absent flag (undefined) gives the default passed in.
 */
import { UsageError } from './errors.js';

const INTEGER = /^[+-]?\d+$/;
const REAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

function bad(flag: string, raw: string, what: string, example: string): UsageError {
  return new UsageError(`${flag}: '${raw}' is not ${what}; e.g. ${flag} ${example}`);
}

/** An integer in [min, max]; `what` names the range for the message. */
function integerIn(flag: string, raw: string, min: number, max: number, what: string, example: string): number {
  // 1e6 and 5e3 are integers too (the size checks then say whether they fit)
  const v = INTEGER.test(raw.trim()) || REAL.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isInteger(v) || v < min || v > max) throw bad(flag, raw, what, example);
  return v;
}

/** An integer >= 1. */
export function positiveInt(flag: string, raw: string | undefined, fallback: number, example = String(fallback)): number {
  return raw === undefined ? fallback : integerIn(flag, raw, 1, Number.MAX_SAFE_INTEGER, 'a positive integer', example);
}

/** An integer >= 0. */
export function nonNegativeInt(flag: string, raw: string | undefined, fallback: number, example = String(fallback)): number {
  return raw === undefined ? fallback : integerIn(flag, raw, 0, Number.MAX_SAFE_INTEGER, 'a non-negative integer', example);
}

/** An unsigned 32-bit integer (seeds, step counters). */
export function uint32(flag: string, raw: string | undefined, fallback: number, example = String(fallback)): number {
  return raw === undefined ? fallback : integerIn(flag, raw, 0, 0xffffffff, 'an integer in 0..4294967295', example);
}

/** A finite real number >= 0 (or > 0 with `positive`). */
export function nonNegativeReal(flag: string, raw: string | undefined, fallback: number, example = String(fallback), positive = false): number {
  if (raw === undefined) return fallback;
  const v = REAL.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isFinite(v) || v < 0 || (positive && v === 0)) throw bad(flag, raw, positive ? 'a positive number' : 'a number >= 0', example);
  return v;
}

/** A finite real number > 0. */
export function positiveReal(flag: string, raw: string | undefined, fallback: number, example = String(fallback)): number {
  return nonNegativeReal(flag, raw, fallback, example, true);
}

/** A fraction strictly between 0 and 1. */
export function fraction(flag: string, raw: string | undefined, fallback: number, example = String(fallback)): number {
  if (raw === undefined) return fallback;
  const v = REAL.test(raw.trim()) ? Number(raw) : NaN;
  if (!(v > 0 && v < 1)) throw bad(flag, raw, 'a fraction between 0 and 1', example);
  return v;
}

/** A comma-separated list of finite real numbers > 0. */
export function positiveRealList(flag: string, raw: string | undefined, fallback: number[], example: string): number[] {
  if (raw === undefined) return fallback;
  const parts = raw.split(',').map((s) => s.trim());
  const vs = parts.map((s) => (REAL.test(s) ? Number(s) : NaN));
  if (!parts.length || vs.some((v) => !Number.isFinite(v) || v <= 0)) throw bad(flag, raw, 'a comma-separated list of positive numbers', example);
  return vs;
}

/** One of a fixed list of words. */
export function choice<T extends string>(flag: string, raw: string | undefined, allowed: readonly T[], fallback: T): T {
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw))
    throw new UsageError(`${flag}: '${raw}' is not one of ${allowed.join(', ')}; e.g. ${flag} ${fallback}`);
  return raw as T;
}

/** A comma-separated list of non-empty names (CSV columns). */
export function nameList(flag: string, raw: string | undefined, example: string): string[] | undefined {
  if (raw === undefined) return undefined;
  const names = raw.split(',').map((s) => s.trim());
  if (names.length === 0 || names.some((n) => n === '')) throw new UsageError(`${flag}: '${raw}' is not a comma-separated list of column names; e.g. ${flag} ${example}`);
  return names;
}

/** Refuse a flag that has no meaning in this run, instead of silently ignoring it. */
export function refuse(flag: string, raw: unknown, why: string): void {
  if (raw !== undefined && raw !== false) throw new UsageError(`${flag} ${why}`);
}

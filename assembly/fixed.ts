// Fixed-point primitives of docs/kernel.md: overflow and rounding shifts.

export const RND_NEAREST: i32 = 0;
export const RND_FLOOR: i32 = 1;
export const RND_STOCHASTIC: i32 = 2;

/** A quantity's format, unpacked once at configure time. */
@unmanaged
export class Fmt {
  bits: i32 = 16;
  frac: i32 = 0;
  signed: bool = true;
  rounding: i32 = 0;
  wrap: bool = false;
  min: i64 = 0;
  max: i64 = 0;
}

/** Packed format word used across the JS boundary: bits | frac<<8 | signed<<16 | rounding<<17 | wrap<<19. */
export function unpackFmt(word: i32, f: Fmt): void {
  f.bits = word & 0xff;
  f.frac = (word >> 8) & 0xff;
  f.signed = ((word >> 16) & 1) != 0;
  f.rounding = (word >> 17) & 3;
  f.wrap = ((word >> 19) & 1) != 0;
  if (f.signed) {
    f.min = -(<i64>1 << (f.bits - 1));
    f.max = (<i64>1 << (f.bits - 1)) - 1;
  } else {
    f.min = 0;
    f.max = (<i64>1 << f.bits) - 1;
  }
}

/** ovf(x, fmt): saturate or wrap an integer code into the format's range. */
// @ts-ignore: decorator
@inline
export function ovf(x: i64, f: Fmt): i64 {
  if (x >= f.min && x <= f.max) return x;
  if (!f.wrap) return x < f.min ? f.min : f.max;
  const sh = <i64>(64 - f.bits);
  return f.signed ? (x << sh) >> sh : <i64>(<u64>(x << sh) >> <u64>sh);
}

/** rshift(x, s, mode, rnd): drop s bits with the rounding mode; negative s shifts left. */
// @ts-ignore: decorator
@inline
export function rshift(x: i64, s: i32, mode: i32, rnd: u32): i64 {
  if (s <= 0) return x << <i64>(-s);
  if (mode == RND_FLOOR) return x >> <i64>s;
  if (mode == RND_STOCHASTIC) {
    const mask: i64 = s >= 32 ? <i64>0xffffffff : (<i64>1 << <i64>s) - 1;
    return (x + (<i64>rnd & mask)) >> <i64>s;
  }
  // nearest, ties to even: (x + half - 1 + ((x >> s) & 1)) >> s
  const half: i64 = <i64>1 << <i64>(s - 1);
  return (x + half - 1 + ((x >> <i64>s) & 1)) >> <i64>s;
}

/** requant(x, fromFrac, fmt, rnd) = ovf(rshift(x, fromFrac - fmt.frac, ...), fmt). */
// @ts-ignore: decorator
@inline
export function requant(x: i64, fromFrac: i32, f: Fmt, rnd: u32): i64 {
  return ovf(rshift(x, fromFrac - f.frac, f.rounding, rnd), f);
}

// Exported for the property tests of the primitives (test/fixed.test.ts).
const testFmt = new Fmt();
export function testOvf(x: i64, word: i32): i64 {
  unpackFmt(word, testFmt);
  return ovf(x, testFmt);
}
export function testRshift(x: i64, s: i32, mode: i32, rnd: u32): i64 {
  return rshift(x, s, mode, rnd);
}

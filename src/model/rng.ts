/**
 * Counter-based random numbers for the float model: every number is a pure function
 * of (seed, stream, counters), with no generator state, so a replayed chunk draws the
 * same noise (docs/kernel.md, "Random numbers").
 *
 * The key derivation is the kernel's, bit for bit (SplitMix64's finaliser `mix64` and
 * `key(seed, stream, a, b)`), computed in 32-bit halves because BigInt is ~50x slower
 * in the hot loop. `gauss` is the kernel's Irwin-Hall(4) draw in real units instead of
 * LSBs (assembly/rng.ts has the same names), so the FloatDevice and a fixed-point device configured with the same seed
 * draw the same noise up to the LSB rounding of the chip.
 *
 * Streams 1..18 are the kernel's; streams from 32 up are host-only (initialisation,
 * weight perturbation) and never appear on a chip.
 */

/** A uint64 as two uint32 halves. */
export interface Key64 {
  readonly hi: number;
  readonly lo: number;
}

export const STREAM_NOISE = 1;
export const STREAM_GAIN = 6;
export const STREAM_OFFSET = 7;
/** Xavier initialisation (host only). */
export const STREAM_INIT = 32;
/** Weight perturbation of the WP baseline (host only). */
export const STREAM_WEIGHT_NOISE = 33;
/** Random start vectors of diagnostics (host only). */
export const STREAM_DIAGNOSTICS = 34;

const GOLDEN_HI = 0x9e3779b9, GOLDEN_LO = 0x7f4a7c15;
const C1_HI = 0xbf58476d, C1_LO = 0x1ce4e5b9;
const C2_HI = 0x94d049bb, C2_LO = 0x133111eb;
/** Std of a sum of four uniform uint16 (kernel.md `sd`). */
const IRWIN_HALL4_SD = Math.sqrt((4 * (65536 * 65536 - 1)) / 12);
const TWO_POW_53 = 9007199254740992;

// Result registers of the 64-bit helpers: no allocation in the hot loop.
let rHi = 0;
let rLo = 0;

/** High 32 bits of the 64-bit product of two uint32. */
function mulHi32(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16, b0 = b & 0xffff, b1 = b >>> 16;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0;
}

/** (aHi:aLo) * (bHi:bLo) mod 2^64 into the registers. */
function mul64(aHi: number, aLo: number, bHi: number, bLo: number): void {
  const lo = Math.imul(aLo, bLo) >>> 0;
  rHi = (mulHi32(aLo, bLo) + Math.imul(aHi, bLo) + Math.imul(aLo, bHi)) >>> 0;
  rLo = lo;
}

/** z ^= z >> s for 0 < s < 32, then into the registers. */
function xorShift(hi: number, lo: number, s: number): void {
  rLo = (lo ^ ((lo >>> s) | (hi << (32 - s)))) >>> 0;
  rHi = (hi ^ (hi >>> s)) >>> 0;
}

/** SplitMix64 finaliser into the registers. */
function mix64Into(hi: number, lo: number): void {
  xorShift(hi, lo, 30);
  mul64(rHi, rLo, C1_HI, C1_LO);
  xorShift(rHi, rLo, 27);
  mul64(rHi, rLo, C2_HI, C2_LO);
  xorShift(rHi, rLo, 31);
}

/** SplitMix64's finaliser `mix64(z)` of kernel.md, for a uint64 given as halves. */
export function mix64(z: Key64): Key64 {
  mix64Into(z.hi >>> 0, z.lo >>> 0);
  return { hi: rHi, lo: rLo };
}

/**
 * kernel.md `key(seed, stream, a, b) = mix64(mix64(mix64(seed ^ stream*GOLDEN) ^ a) ^ b)`.
 * seed, a and b are uint32 (e.g. a = sequence index b, b = absolute step t); stream a small integer.
 */
export function key(seed: number, stream: number, a: number, b: number): Key64 {
  mul64(0, stream >>> 0, GOLDEN_HI, GOLDEN_LO);
  mix64Into(rHi, (rLo ^ (seed >>> 0)) >>> 0);
  mix64Into(rHi, (rLo ^ (a >>> 0)) >>> 0);
  mix64Into(rHi, (rLo ^ (b >>> 0)) >>> 0);
  return { hi: rHi, lo: rLo };
}

/**
 * Draw number n (uint32) under a key with std sigma (real units): the kernel's
 * Irwin-Hall(4) sum of the four 16-bit fields of mix64(key ^ n), centred, divided by
 * its std, times sigma. Bounded at ±3.46 sigma (a chip's noise is this in LSBs, rounded).
 */
export function gauss(sigma: number, k: Key64, n: number): number {
  mix64Into(k.hi, (k.lo ^ n) >>> 0);
  const s = (rLo & 0xffff) + (rLo >>> 16) + (rHi & 0xffff) + (rHi >>> 16);
  return sigma * ((s - 131070) / IRWIN_HALL4_SD);
}

/** Uniform in (0, 1) with 53 bits from the registers. */
function registersToUniform(): number {
  return ((rHi >>> 5) * 67108864 + (rLo >>> 6) + 0.5) / TWO_POW_53;
}

/**
 * Standard normal draw number n (uint32) under a key, by Box-Muller from two
 * 53-bit uniforms (mix64(key ^ n) and its mix64). Unbounded tails, unlike gauss;
 * used where no chip has to reproduce the number (initialisation, baselines).
 */
export function unitNormal(k: Key64, n: number): number {
  mix64Into(k.hi, (k.lo ^ n) >>> 0);
  const u1 = registersToUniform();
  mix64Into(rHi, rLo);
  const u2 = registersToUniform();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

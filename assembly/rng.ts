// Counter-based random numbers of docs/kernel.md. No generator state: every number
// is a pure function of (seed, stream, counters), so replays draw the same bits.

export const STREAM_NOISE: u64 = 1;
export const STREAM_PRE: u64 = 3;
export const STREAM_ACT: u64 = 4;
export const STREAM_OUT: u64 = 5;
export const STREAM_GAIN: u64 = 6;
export const STREAM_OFFSET: u64 = 7;
export const STREAM_UPD_W: u64 = 16;
export const STREAM_UPD_R: u64 = 17;
export const STREAM_UPD_V: u64 = 18;
/** Stochastic rounding of the bias updates (b, c): drawn only with biases. */
export const STREAM_UPD_B: u64 = 19;
export const STREAM_UPD_C: u64 = 20;

const GOLDEN: u64 = 0x9E3779B97F4A7C15;

/** SplitMix64 finaliser. */
// @ts-ignore: decorator
@inline
export function mix64(z: u64): u64 {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
  return z ^ (z >> 31);
}

export function key(seed: u64, stream: u64, a: u64, b: u64): u64 {
  return mix64(mix64(mix64(seed ^ (stream * GOLDEN)) ^ a) ^ b);
}

// @ts-ignore: decorator
@inline
export function lowbias32(x: u32): u32 {
  x ^= x >> 16;
  x *= 0x7FEB352D;
  x ^= x >> 15;
  x *= 0x846CA68B;
  x ^= x >> 16;
  return x;
}

/** scale for gauss(): nearest_even(sigmaLsb * 2^32 / sd), sd the std of a sum of four uint16. */
export function gaussScale(sigmaLsb: f64): i64 {
  const sd = Math.sqrt((4.0 * (65536.0 * 65536.0 - 1.0)) / 12.0);
  return <i64>nearest<f64>((sigmaLsb * 4294967296.0) / sd);
}

/** Irwin-Hall(4) approximation of N(0, sigma^2) in LSBs, from one uint64 h (kernel.md's gauss(sigmaLsb, h)). */
// @ts-ignore: decorator
@inline
export function gaussBits(scale: i64, h: u64): i64 {
  // the four 16-bit fields summed: two at a time in 32-bit halves, then the halves
  const t = (h & 0x0000ffff0000ffff) + ((h >> 16) & 0x0000ffff0000ffff);
  const s = <i64>((t & 0xffffffff) + (t >> 32));
  return ((s - 131070) * scale + 0x80000000) >> 32;
}

/** Draw number n under a key, in LSBs: gaussBits(scale, mix64(key ^ n)); the float model's gauss(sigma, key, n). */
// @ts-ignore: decorator
@inline
export function gauss(scale: i64, key: u64, n: u64): i64 {
  return gaussBits(scale, mix64(key ^ n));
}

// Exported for tests and golden vectors.
export function testMix64(z: u64): u64 {
  return mix64(z);
}
export function testKey(seed: u64, stream: u64, a: u64, b: u64): u64 {
  return key(seed, stream, a, b);
}
export function testLowbias32(x: u32): u32 {
  return lowbias32(x);
}
export function testGauss(sigmaLsb: f64, h: u64): i64 {
  return gaussBits(gaussScale(sigmaLsb), h);
}

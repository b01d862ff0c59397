// The float model's node noise (src/model/rng.ts key and gauss): SplitMix64 keys in
// native u64 instead of 32-bit halves, the Irwin-Hall(4) draw in real units. Integer
// steps are exact and the float steps the same IEEE operations, so the same bits.

const GOLDEN: u64 = 0x9E3779B97F4A7C15;
const IRWIN_HALL4_SD: f64 = Math.sqrt((4.0 * (65536.0 * 65536.0 - 1.0)) / 12.0);

// @ts-ignore: decorator
@inline
function mix64(z: u64): u64 {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
  return z ^ (z >> 31);
}

/** key(seed, stream, a, b) of docs/kernel.md; seed, a, b uint32. */
export function key(seed: u32, stream: u32, a: u32, b: u32): u64 {
  return mix64(mix64(mix64(<u64>seed ^ (<u64>stream * GOLDEN)) ^ <u64>a) ^ <u64>b);
}

/** The Irwin-Hall(4) sum of draw n under key k, centred (an integer in [-131070, 131070]). */
// @ts-ignore: decorator
@inline
function centred(k: u64, n: u32): i32 {
  const h = mix64(k ^ <u64>n);
  const s = (h & 0x0000FFFF0000FFFF) + ((h >> 16) & 0x0000FFFF0000FFFF); // fields 0 + 1 and 2 + 3 side by side (exact, no carry between)
  return <i32>(s & 0xFFFFFFFF) + <i32>(s >> 32) - 131070;
}

/** Draw n under key k with std sigma (real units): rng.ts gauss. */
// @ts-ignore: decorator
@inline
export function gauss(sigma: f64, k: u64, n: u32): f64 {
  return sigma * (<f64>centred(k, n) / IRWIN_HALL4_SD);
}

/** Draw n under keys k0 and k1 in the two lanes (two sequences' noise of one neuron): the same operations as gauss. */
// @ts-ignore: decorator
@inline
export function gaussKeys2(sigma: v128, k0: u64, k1: u64, n: u32): v128 {
  const s = i32x4.replace_lane(i32x4.splat(centred(k0, n)), 1, centred(k1, n));
  return f64x2.mul(sigma, f64x2.div(f64x2.convert_low_i32x4_s(s), f64x2.splat(IRWIN_HALL4_SD)));
}

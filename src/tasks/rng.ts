/**
 * A small seeded PRNG (mulberry32) so every task is identical across runs, machines
 * and Node versions. Not for cryptography.
 *
 * mulberry32's state is a 32-bit counter advanced by an odd constant each draw, so
 * the generator walks one cycle of 2^32 states. Two seeds that differ by 2^31 are
 * therefore 2^31 draws apart on that cycle: `testSeed(seed)` uses this so a task's
 * test sequences can never repeat its training sequences (we draw far fewer than
 * 2^31 numbers per split).
 */
export interface Rng {
  /** Uniform integer in [0, 2^32). */
  uint32(): number;
  /** Uniform float in [0, 1), 32 bits of resolution. */
  float(): number;
  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Uniform integer in [0, n), n <= 2^32. */
  int(n: number): number;
}

const STEP = 0x6d2b79f5;

/** A mulberry32 generator; `seed` is taken modulo 2^32 (negative seeds are fine). */
export function createRng(seed: number): Rng {
  let state = seed >>> 0;
  const uint32 = (): number => {
    state = (state + STEP) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return (z ^ (z >>> 14)) >>> 0;
  };
  const float = (): number => uint32() / 4294967296;
  return {
    uint32,
    float,
    uniform: (lo, hi) => lo + (hi - lo) * float(),
    int: (n) => Math.floor(float() * n),
  };
}

/** The seed of a task's test split: half a generator cycle away from the train seed. */
export function testSeed(seed: number): number {
  return ((seed >>> 0) + 0x80000000) >>> 0;
}

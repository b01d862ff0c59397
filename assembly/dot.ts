// int16 dot products with a wrapping int32 accumulator. SIMD and scalar builds give
// the same bits because wrapping addition does not depend on the order of the sum.

/** sum_j a[j] * b[j] over n int16 lanes (n a multiple of 8), int32 wrap. */
// @ts-ignore: decorator
@inline
export function dot(a: usize, b: usize, n: i32): i32 {
  if (ASC_FEATURE_SIMD) {
    let acc = i32x4.splat(0);
    for (let j = 0; j < n; j += 8) {
      const o = <usize>j << 1;
      acc = i32x4.add(acc, i32x4.dot_i16x8_s(v128.load(a + o), v128.load(b + o)));
    }
    return i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
  } else {
    let acc: i32 = 0;
    for (let j = 0; j < n; j++) {
      const o = <usize>j << 1;
      acc += <i32>load<i16>(a + o) * <i32>load<i16>(b + o);
    }
    return acc;
  }
}

/**
 * Two dot products sharing the row: out0 = row.x0, out1 = row.x1 (both int32 wrap).
 * Returns out0; out1 is left in `dot2Second` (AssemblyScript has no tuples).
 */
export let dot2Second: i32 = 0;

// @ts-ignore: decorator
@inline
export function dot2(row: usize, x0: usize, x1: usize, n: i32): i32 {
  if (ASC_FEATURE_SIMD) {
    let a0 = i32x4.splat(0);
    let a1 = i32x4.splat(0);
    for (let j = 0; j < n; j += 8) {
      const o = <usize>j << 1;
      const w = v128.load(row + o);
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(w, v128.load(x0 + o)));
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(w, v128.load(x1 + o)));
    }
    dot2Second = i32x4.extract_lane(a1, 0) + i32x4.extract_lane(a1, 1) + i32x4.extract_lane(a1, 2) + i32x4.extract_lane(a1, 3);
    return i32x4.extract_lane(a0, 0) + i32x4.extract_lane(a0, 1) + i32x4.extract_lane(a0, 2) + i32x4.extract_lane(a0, 3);
  } else {
    let s0: i32 = 0;
    let s1: i32 = 0;
    for (let j = 0; j < n; j++) {
      const o = <usize>j << 1;
      const w = <i32>load<i16>(row + o);
      s0 += w * <i32>load<i16>(x0 + o);
      s1 += w * <i32>load<i16>(x1 + o);
    }
    dot2Second = s1;
    return s0;
  }
}

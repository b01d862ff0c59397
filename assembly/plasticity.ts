// Per-step factors of the ANP-T update in binary64 (+, -, *, /, sqrt only: correctly
// rounded on every IEEE-754 platform, so a port gets the same bits), turned into
// block-floating int16 mantissas with one shift per layer and step (docs/kernel.md).

/** 2^e as an exact binary64 (|e| < 1000). */
// @ts-ignore: decorator
@inline
export function pow2(e: i32): f64 {
  return reinterpret<f64>(<u64>(1023 + e) << 52);
}

/** Mantissa bits for batch B: M = 14 - ceil(log2 B). */
export function mantissaBits(B: i32): i32 {
  let c = 0;
  while ((1 << c) < B) c++;
  return 14 - c;
}

/** max |delta| over n int32 codes. */
export function maxAbs32(delta: usize, n: i32): i32 {
  let maxAbs: i32 = 0;
  for (let k = 0; k < n; k++) {
    const d = load<i32>(delta + (<usize>k << 2));
    const a = d < 0 ? -d : d;
    if (a > maxAbs) maxAbs = a;
  }
  return maxAbs;
}

/** The layer's shift s for factor c and max |delta|, or -1 when the layer is skipped. */
export function mantissaShift(c: f64, maxAbs: i32, M: i32): i32 {
  const A = Math.abs(c) * <f64>maxAbs;
  if (!(A > 0.0) || !isFinite(A)) return -1;
  const bits = reinterpret<u64>(A);
  const expField = <i32>((bits >> 52) & 0x7ff);
  if (expField == 0) return -1; // subnormal: the update is far below one LSB
  let s = M - 1 - (expField - 1023);
  if (s < 0) s = 0;
  if (s > 30) s = 30;
  return s;
}

/**
 * Fill mant (rows x B int16, neuron-major) with nearest_even(c * delta_bi * 2^s) for
 * delta (B x rows int32, batch-major); only rows [i0, i1) (one thread's share).
 */
export function fillMantissas(c: f64, s: i32, delta: usize, rows: i32, B: i32, M: i32, mant: usize, i0: i32 = 0, i1: i32 = 0x7fffffff): void {
  const end = i1 < rows ? i1 : rows;
  const scale = pow2(s);
  const lim: f64 = <f64>((1 << M) - 1);
  for (let b = 0; b < B; b++) {
    const row = delta + ((<usize>b * rows) << 2);
    let i = i0;
    if (ASC_FEATURE_SIMD) {
      // two neurons at a time: the same IEEE operations per lane as the scalar loop
      const cv = f64x2.splat(c), sv = f64x2.splat(scale), hi = f64x2.splat(lim), lo = f64x2.splat(-lim);
      for (; i + 1 < end; i += 2) {
        const d = f64x2.convert_low_i32x4_s(v128.load64_zero(row + (<usize>i << 2)));
        const m = i32x4.trunc_sat_f64x2_s_zero(f64x2.max(f64x2.min(f64x2.nearest(f64x2.mul(f64x2.mul(cv, d), sv)), hi), lo));
        store<i16>(mant + ((<usize>i * B + b) << 1), <i16>i32x4.extract_lane(m, 0));
        store<i16>(mant + ((<usize>(i + 1) * B + b) << 1), <i16>i32x4.extract_lane(m, 1));
      }
    }
    for (; i < end; i++) {
      const d = <f64>load<i32>(row + (<usize>i << 2));
      let m = nearest<f64>(c * d * scale);
      if (m > lim) m = lim;
      if (m < -lim) m = -lim;
      store<i16>(mant + ((<usize>i * B + b) << 1), <i16>(<i32>m));
    }
  }
}

/** Sum of squares of n int32 codes, exact in int64. */
export function sumSquares(p: usize, n: i32): i64 {
  let s: i64 = 0;
  for (let k = 0; k < n; k++) {
    const d = <i64>load<i32>(p + (<usize>k << 2));
    s += d * d;
  }
  return s;
}

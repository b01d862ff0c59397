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
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    // abs and a signed max, lane by lane: the scalar loop's operations (-2^31 stays -2^31)
    let m = i32x4.splat(0);
    for (; k + 3 < n; k += 4) m = i32x4.max_s(m, i32x4.abs(v128.load(delta + (<usize>k << 2))));
    m = i32x4.max_s(m, i32x4.shuffle(m, m, 2, 3, 0, 1));
    m = i32x4.max_s(m, i32x4.shuffle(m, m, 1, 0, 3, 2));
    maxAbs = i32x4.extract_lane(m, 0);
  }
  for (; k < n; k++) {
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
      // four neurons at a time, the same IEEE products per lane as the scalar loop. The
      // clamp comes before the rounding (the same result: lim is an integer and rounding
      // is monotonic), and the rounding is the add of 1.5 * 2^52, which rounds ties to
      // even and leaves the integer in the low 32 bits (|x| <= lim < 2^14).
      // pmin/pmax, not min/max: the products are finite (mantissaShift refuses an A that
      // is not), and for non-NaN operands they are the same; min/max's NaN and -0 rules
      // cost V8 about six instructions each, pmin/pmax one (and a -0 becomes the same
      // integer after the add). The low 16 bits of each lane go straight to memory.
      const cv = f64x2.splat(c), sv = f64x2.splat(scale), hi = f64x2.splat(lim), lo = f64x2.splat(-lim);
      const magic = f64x2.splat(6755399441055744.0);
      const step = <usize>B << 1;
      for (; i + 3 < end; i += 4) {
        const d = v128.load(row + (<usize>i << 2));
        const d01 = f64x2.convert_low_i32x4_s(d);
        const d23 = f64x2.convert_low_i32x4_s(i32x4.shuffle(d, d, 2, 3, 0, 1));
        const m01 = f64x2.add(f64x2.pmax(f64x2.pmin(f64x2.mul(f64x2.mul(cv, d01), sv), hi), lo), magic);
        const m23 = f64x2.add(f64x2.pmax(f64x2.pmin(f64x2.mul(f64x2.mul(cv, d23), sv), hi), lo), magic);
        const m = i32x4.shuffle(m01, m23, 0, 2, 4, 6);
        const p = mant + ((<usize>i * B + b) << 1);
        v128.store16_lane(p, m, 0);
        v128.store16_lane(p + step, m, 2);
        v128.store16_lane(p + 2 * step, m, 4);
        v128.store16_lane(p + 3 * step, m, 6);
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
  let k = 0;
  if (ASC_FEATURE_SIMD) {
    // exact 64-bit squares, two lanes each (the int64 sum wraps alike in any order)
    let a = i64x2.splat(0), b = i64x2.splat(0);
    for (; k + 3 < n; k += 4) {
      const v = v128.load(p + (<usize>k << 2));
      a = i64x2.add(a, i64x2.extmul_low_i32x4_s(v, v));
      b = i64x2.add(b, i64x2.extmul_high_i32x4_s(v, v));
    }
    a = i64x2.add(a, b);
    s = i64x2.extract_lane(a, 0) + i64x2.extract_lane(a, 1);
  }
  for (; k < n; k++) {
    const d = <i64>load<i32>(p + (<usize>k << 2));
    s += d * d;
  }
  return s;
}

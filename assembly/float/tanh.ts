// tanh of binary64 bit for bit as V8's Math.tanh, which is fdlibm's tanh over fdlibm's
// expm1 (V8 src/base/ieee754.cc; glibc's dbl-64 s_tanh.c and s_expm1.c are the same
// algorithm). Written by hand because no AssemblyScript library reproduces those bits
// (AssemblyScript's own Math.tanh is musl's, a different algorithm); checked against
// Math.tanh by test/float-wasm.test.ts.

const LN2_HI = reinterpret<f64>(0x3FE62E42FEE00000);
const LN2_LO = reinterpret<f64>(0x3DEA39EF35793C76);
const INVLN2 = reinterpret<f64>(0x3FF71547652B82FE);
const Q1 = reinterpret<f64>(0xBFA11111111110F4);
const Q2 = reinterpret<f64>(0x3F5A01A019FE5585);
const Q3 = reinterpret<f64>(0xBF14CE199EAADBB7);
const Q4 = reinterpret<f64>(0x3ED0CFCA86E65239);
const Q5 = reinterpret<f64>(0xBE8AFDB76E09C32D);

/** fdlibm expm1 for the arguments tanh gives it: finite, |x| < 44 (no overflow, no -1 clamp above 56 ln2 on the negative side). */
export function expm1Scalar(x: f64): f64 {
  const hxFull = <u32>(reinterpret<u64>(x) >> 32);
  const neg = (hxFull & 0x80000000) != 0;
  const hx = hxFull & 0x7FFFFFFF;
  let k: i32 = 0;
  let c: f64 = 0;
  if (hx > 0x3FD62E42) {
    let hi: f64, lo: f64;
    if (hx < 0x3FF0A2B2) {
      if (!neg) { hi = x - LN2_HI; lo = LN2_LO; k = 1; } else { hi = x + LN2_HI; lo = -LN2_LO; k = -1; }
    } else {
      k = <i32>(INVLN2 * x + (neg ? -0.5 : 0.5));
      const t = <f64>k;
      hi = x - t * LN2_HI;
      lo = t * LN2_LO;
    }
    x = hi - lo;
    c = (hi - x) - lo;
  } else if (hx < 0x3C900000) {
    return x;
  }
  const hfx = 0.5 * x;
  const hxs = x * hfx;
  const r1 = 1.0 + hxs * (Q1 + hxs * (Q2 + hxs * (Q3 + hxs * (Q4 + hxs * Q5))));
  let t = 3.0 - r1 * hfx;
  let e = hxs * ((r1 - t) / (6.0 - x * t));
  if (k == 0) return x - (x * e - hxs);
  const twopk = reinterpret<f64>(<u64>(0x3FF00000 + (k << 20)) << 32);
  e = x * (e - c) - c;
  e -= hxs;
  if (k == -1) return 0.5 * (x - e) - 0.5;
  if (k == 1) {
    if (x < -0.25) return -2.0 * (e - (x + 0.5));
    return 1.0 + 2.0 * (x - e);
  }
  if (k <= -2 || k > 56) {
    const y = (1.0 - (e - x)) * twopk;
    return y - 1.0;
  }
  if (k < 20) {
    t = reinterpret<f64>(<u64>(0x3FF00000 - (0x200000 >> k)) << 32);
    return (t - (e - x)) * twopk;
  }
  t = reinterpret<f64>(<u64>((0x3FF - k) << 20) << 32);
  return ((x - (e + t)) + 1.0) * twopk;
}

/** fdlibm tanh, scalar. */
export function tanhScalar(x: f64): f64 {
  const jx = <i32>(reinterpret<u64>(x) >> 32);
  const ix = jx & 0x7FFFFFFF;
  if (ix >= 0x7FF00000) return jx >= 0 ? 1.0 / x + 1.0 : 1.0 / x - 1.0;
  let z: f64;
  if (ix < 0x40360000) {
    if (ix < 0x3E300000) return x;
    if (ix >= 0x3FF00000) {
      const t = expm1Scalar(2.0 * Math.abs(x));
      z = 1.0 - 2.0 / (t + 2.0);
    } else {
      const t = expm1Scalar(-2.0 * Math.abs(x));
      z = -t / (t + 2.0);
    }
  } else {
    z = 1.0;
  }
  return jx >= 0 ? z : -z;
}

// The same two functions on two lanes at once, branch-free: every path that a lane of
// tanh's argument range can take through expm1 is computed and the lane's own is
// selected. For tanh, expm1 sees y = -2|x| (|x| < 1: k in {0, -1, -2, -3}) or
// y = 2|x| (|x| >= 1: k in [3, 64]); k = 1 never occurs. Constants are loaded from a
// table (one instruction each) rather than splatted from immediates.
const C = memory.data<u64>([
  0x7FFFFFFFFFFFFFFF, // 0 |.| mask
  0x3FF0000000000000, // 1 1.0
  0x3FE0000000000000, // 2 0.5
  0xBFE0000000000000, // 3 -0.5
  0x3FD62E4300000000, // 4 |y| below: k = 0 (hx <= 0x3FD62E42)
  0x3FF0A2B200000000, // 5 |y| below: k = +-1 (hx < 0x3FF0A2B2)
  0xBFF0000000000000, // 6 -1.0
  0x0000000000000000, // 7 0.0
  0x3FE62E42FEE00000, // 8 LN2_HI
  0x3DEA39EF35793C76, // 9 LN2_LO
  0x3FF71547652B82FE, // 10 INVLN2
  0xBFA11111111110F4, // 11 Q1
  0x3F5A01A019FE5585, // 12 Q2
  0xBF14CE199EAADBB7, // 13 Q3
  0x3ED0CFCA86E65239, // 14 Q4
  0xBE8AFDB76E09C32D, // 15 Q5
  0x4008000000000000, // 16 3.0
  0x4018000000000000, // 17 6.0
  0x4330000000000000 + 1023, // 18 MAGIC
  0x4000000000000000, // 19 2.0
  0xC000000000000000, // 20 -2.0
  0x404C000000000000, // 21 56.0
  0x4034000000000000, // 22 20.0
  0x4036000000000000, // 23 22.0
  0x3E30000000000000, // 24 2^-28
]);

// @ts-ignore: decorator
@inline
function cst(i: i32): v128 {
  return v128.load64_splat(C + (<usize>i << 3));
}

/** expm1's rational part on the primary range, e = hxs (r1 - t) / (6 - r t) (fdlibm's names; hfx = r / 2, hxs = r hfx). */
// @ts-ignore: decorator
@inline
function expm1Rational(r: v128, hfx: v128, hxs: v128): v128 {
  let p = f64x2.add(cst(14), f64x2.mul(hxs, cst(15)));
  p = f64x2.add(cst(13), f64x2.mul(hxs, p));
  p = f64x2.add(cst(12), f64x2.mul(hxs, p));
  p = f64x2.add(cst(11), f64x2.mul(hxs, p));
  const r1 = f64x2.add(cst(1), f64x2.mul(hxs, p));
  const t = f64x2.sub(cst(16), f64x2.mul(r1, hfx));
  return f64x2.mul(hxs, f64x2.div(f64x2.sub(r1, t), f64x2.sub(cst(17), f64x2.mul(r, t))));
}

/** tanh of both lanes, bit for bit tanhScalar (and so Math.tanh). */
// @ts-ignore: decorator
@inline
export function tanh2(x: v128): v128 {
  const one = cst(1);
  const ax = v128.and(x, cst(0));
  const pos = f64x2.ge(ax, one);
  const ay = f64x2.add(ax, ax); // 2|x|, exact
  const y = v128.bitselect(ay, f64x2.neg(ay), pos);
  // argument reduction: k = 0 (|y| small), +-1, or trunc(y / ln2 +- 0.5)
  const kc = f64x2.trunc(f64x2.add(f64x2.mul(cst(10), y), v128.bitselect(cst(2), cst(3), pos)));
  const kb = v128.bitselect(one, cst(6), pos);
  const k = v128.bitselect(cst(7), v128.bitselect(kb, kc, f64x2.lt(ay, cst(5))), f64x2.lt(ay, cst(4)));
  const hi = f64x2.sub(y, f64x2.mul(k, cst(8)));
  const lo = f64x2.mul(k, cst(9));
  const r = f64x2.sub(hi, lo);
  const c = f64x2.sub(f64x2.sub(hi, r), lo);
  // expm1 on the primary range
  const hfx = f64x2.mul(cst(2), r);
  const hxs = f64x2.mul(r, hfx);
  const e = expm1Rational(r, hfx, hxs);
  // k = 0
  const res0 = f64x2.sub(r, f64x2.sub(f64x2.mul(r, e), hxs));
  // k != 0; 2^k and 2^-k from the exponent field of k + MAGIC and MAGIC - k
  const e2 = f64x2.sub(f64x2.sub(f64x2.mul(r, f64x2.sub(e, c)), c), hxs);
  const twopk = i64x2.shl(f64x2.add(k, cst(18)), 52);
  const twomk = i64x2.shl(f64x2.sub(cst(18), k), 52);
  const em = f64x2.sub(e2, r);
  const resM1 = f64x2.sub(f64x2.mul(cst(2), f64x2.sub(r, e2)), cst(2));
  const resBig = f64x2.sub(f64x2.mul(f64x2.sub(one, em), twopk), one);
  const resMid = f64x2.mul(f64x2.sub(f64x2.sub(one, twomk), em), twopk);
  const resHi = f64x2.mul(f64x2.add(f64x2.sub(r, f64x2.add(e2, twomk)), one), twopk);
  let em1 = v128.bitselect(resHi, resMid, f64x2.ge(k, cst(22)));
  em1 = v128.bitselect(resBig, em1, v128.or(f64x2.le(k, cst(20)), f64x2.gt(k, cst(21))));
  em1 = v128.bitselect(resM1, em1, f64x2.eq(k, cst(6)));
  em1 = v128.bitselect(res0, em1, f64x2.eq(k, cst(7)));
  // tanh from expm1: 1 - 2 / (t + 2) for |x| >= 1, -t / (t + 2) below
  const two = cst(19);
  const q = f64x2.div(v128.bitselect(two, f64x2.neg(em1), pos), f64x2.add(em1, two));
  let z = v128.bitselect(f64x2.sub(one, q), q, pos);
  z = v128.bitselect(one, z, f64x2.ge(ax, cst(23)));
  z = v128.xor(z, v128.andnot(x, cst(0))); // the sign of x
  return v128.bitselect(x, z, f64x2.lt(ax, cst(24)));
}

const D = memory.data<u64>([
  0x8000000000000000, // 0 sign
  0x401A000000000000, // 1 6.5: below, k <= 19 on the positive side
  0xBFF0000000000000, // 2 -1.0
  0x3FC62E4300000000, // 3 k0 / 2: |x| below, k = 0 (2|x| below k0, exactly)
]);

// @ts-ignore: decorator
@inline
function dst(i: i32): v128 {
  return v128.load64_splat(D + (<usize>i << 3));
}

/** Both lanes in [2^-28, 6.5) (not NaN). */
// @ts-ignore: decorator
@inline
function fastLanes(x: v128): bool {
  const ax = v128.and(x, cst(0));
  return i64x2.all_true(v128.and(f64x2.ge(ax, cst(24)), f64x2.lt(ax, dst(1))));
}

/**
 * tanh of n values, bit for bit tanh2, in three passes. Where both lanes of a pair are
 * in [2^-28, 6.5) the cases of expm1 that tanh reaches are one formula,
 * (A - (e - r)) 2^k - B, with
 *   k = 0:        A = 0, B = 0        (r - e)
 *   k = -1:       A = 0, B = 1/2      ((r - e) / 2 - 1/2)
 *   k = -2, -3:   A = 1, B = 1        ((1 - (e - r)) 2^k - 1)
 * k = 3..19:      A = 1 - 2^-k, B = 0 (((1 - 2^-k) - (e - r)) 2^k)
 * each exactly the operations of its fdlibm branch (0 - d = r - e, x - 0 = x).
 * The passes: (1) the reduction of y = +-2|x| to r, c, k,
 * (2) expm1's rational part e, (3) the final formulas and the quotient. Each pass is a
 * short chain per pair with independent iterations, so the out-of-order window holds
 * many pairs at once; the whole function in one loop is a chain of ~45 operations and
 * two divisions per pair, latency-bound. Same operations, same bits.
 *
 * The passes run on blocks of 64 values (32 pairs: enough independent chains for the
 * window, and the scratch stays in L1). When every value of a block is in [2^-28, 1)
 * (a tanh network's pre-activations mostly are: all of Mackey-Glass's), passes 1 and 3
 * take the |x| < 1 half of the formulas alone (reduceSmall, finishSmall: y = -2|x|,
 * k in {0, -1, -2, -3}, z = -t / (t + 2)), about a third fewer operations than the
 * selects between both halves. Otherwise pass 1 runs again on both halves, notes
 * whether a lane is outside [2^-28, 6.5), and if one is, a fourth pass computes the
 * pairs with such a lane again by tanh2. Each pass takes its constants into locals
 * before its loop: V8 reloads a constant loaded inside a loop in every iteration, and
 * the locals stay in registers (20 % faster at n = 2000). n even; scratch: 5 min(n, 64) values.
 */
export function tanhArray(x: usize, out: usize, n: i32, scratch: usize): void {
  const bytes = <usize>n << 3, block: usize = bytes < 512 ? bytes : 512; // 64 values (the scratch: 5 blocks, at most 5 n values)
  const sk = scratch, sr = sk + block, sc = sr + block, shxs = sc + block, se = shxs + block;
  for (let o: usize = 0; o < bytes; o += block) {
    const m = bytes - o < block ? bytes - o : block, xb = x + o, ob = out + o;
    const small = reduceSmall(xb, m, sk, sr, sc);
    const fast = small || reduceAll(xb, m, sk, sr, sc);
    rational(m, sr, shxs, se);
    if (small) {
      finishSmall(xb, ob, m, sk, sr, sc, shxs, se);
      continue;
    }
    finishAll(xb, ob, m, sk, sr, sc, shxs, se);
    // the other pairs in a pass of their own (inlined in the loop above, tanh2's registers spilled the fast path's)
    if (!fast)
      for (let q: usize = 0; q < m; q += 16) {
        const xv = v128.load(xb + q);
        if (!fastLanes(xv)) v128.store(ob + q, tanh2(xv));
      }
  }
}

/**
 * The end of pass 1 for one pair, shared by both reductions: hi = y - k ln2hi,
 * lo = k ln2lo, r = hi - lo and the correction c = (hi - r) - lo, stored with k.
 */
// @ts-ignore: decorator
@inline
function storeReduction(y: v128, k: v128, ln2hi: v128, ln2lo: v128, pk: usize, pr: usize, pc: usize): void {
  const hi = f64x2.sub(y, f64x2.mul(k, ln2hi));
  const lo = f64x2.mul(k, ln2lo);
  const r = f64x2.sub(hi, lo);
  v128.store(pk, k);
  v128.store(pr, r);
  v128.store(pc, f64x2.sub(f64x2.sub(hi, r), lo));
}

/**
 * Pass 1 when every lane is in [2^-28, 1): y = -2|x|, and k = 0 below k0 or else
 * trunc(y / ln2 - 1/2), which is -1 on all of [k0, k1) (y / ln2 - 1/2 is in (-2, -1]
 * there, 3e-8 from both ends), the value fdlibm's k = -1 branch takes, with the same
 * hi and lo. False when a lane is outside [2^-28, 1) or NaN.
 */
function reduceSmall(x: usize, bytes: usize, sk: usize, sr: usize, sc: usize): bool {
  const abs = cst(0), tiny = cst(24), one = cst(1), minus2 = cst(20), invln2 = cst(10), minusHalf = cst(3);
  const k0half = dst(3), ln2hi = cst(8), ln2lo = cst(9);
  let ok = i64x2.splat(-1);
  for (let o: usize = 0; o < bytes; o += 16) {
    const ax = v128.and(v128.load(x + o), abs);
    ok = v128.and(ok, v128.and(f64x2.ge(ax, tiny), f64x2.lt(ax, one)));
    const y = f64x2.mul(ax, minus2); // -2|x|, exact (as -(|x| + |x|))
    const k = v128.andnot(f64x2.trunc(f64x2.add(f64x2.mul(invln2, y), minusHalf)), f64x2.lt(ax, k0half));
    storeReduction(y, k, ln2hi, ln2lo, sk + o, sr + o, sc + o);
  }
  return i64x2.all_true(ok);
}

/** Pass 1 on both halves of tanh's range; whether every lane was in [2^-28, 6.5). */
function reduceAll(x: usize, bytes: usize, sk: usize, sr: usize, sc: usize): bool {
  const end = x + bytes;
  const one = cst(1);
  let fast = i64x2.splat(-1); // every lane so far in [2^-28, 6.5)
  const abs = cst(0), tiny = cst(24), fastEnd = dst(1), sign = dst(0), invln2 = cst(10), half = cst(2), minus1 = dst(2);
  const k0 = cst(4), k1 = cst(5), ln2hi = cst(8), ln2lo = cst(9);
  for (let p = x, o: usize = 0; p < end; p += 16, o += 16) { // the constants in registers (V8 keeps a loop's loads in it)
    const ax = v128.and(v128.load(p), abs);
    fast = v128.and(fast, v128.and(f64x2.ge(ax, tiny), f64x2.lt(ax, fastEnd)));
    const pos = f64x2.ge(ax, one);
    const sgn = v128.andnot(sign, pos);
    const ay = f64x2.add(ax, ax);
    const y = v128.xor(ay, sgn);
    const kc = f64x2.trunc(f64x2.add(f64x2.mul(invln2, y), v128.xor(half, sgn)));
    const k = v128.andnot(v128.bitselect(minus1, kc, f64x2.lt(ay, k1)), f64x2.lt(ay, k0));
    storeReduction(y, k, ln2hi, ln2lo, sk + o, sr + o, sc + o);
  }
  return i64x2.all_true(fast);
}

/** Pass 2: expm1Rational with the constants in registers. */
function rational(bytes: usize, sr: usize, shxs: usize, se: usize): void {
  const one = cst(1), half = cst(2);
  const q1 = cst(11), q2 = cst(12), q3 = cst(13), q4 = cst(14), q5 = cst(15), three = cst(16), six = cst(17);
  for (let o: usize = 0; o < bytes; o += 16) {
    const r = v128.load(sr + o);
    const hfx = f64x2.mul(half, r);
    const hxs = f64x2.mul(r, hfx);
    v128.store(shxs + o, hxs);
    let pp = f64x2.add(q4, f64x2.mul(hxs, q5));
    pp = f64x2.add(q3, f64x2.mul(hxs, pp));
    pp = f64x2.add(q2, f64x2.mul(hxs, pp));
    pp = f64x2.add(q1, f64x2.mul(hxs, pp));
    const r1 = f64x2.add(one, f64x2.mul(hxs, pp));
    const t = f64x2.sub(three, f64x2.mul(r1, hfx));
    v128.store(se + o, f64x2.mul(hxs, f64x2.div(f64x2.sub(r1, t), f64x2.sub(six, f64x2.mul(r, t)))));
  }
}

/**
 * Pass 3 when every lane is in [2^-28, 1): A and B of k <= 0 and z = -t / (t + 2), with
 * x's sign. B = min(-k / 2, 1) is -0 at k = 0, where the other formula has +0: the same
 * em1, since what B is taken from, (0 - (e - r)) 2^0, is never -0. The sign of z goes
 * into the numerator (-t for x > 0, t below: a quotient's sign is its operands').
 */
function finishSmall(x: usize, out: usize, bytes: usize, sk: usize, sr: usize, sc: usize, shxs: usize, se: usize): void {
  const one = cst(1), two = cst(19), magic = cst(18), minus2 = cst(20), minusHalf = cst(3), sign = dst(0);
  for (let o: usize = 0; o < bytes; o += 16) {
    const k = v128.load(sk + o), r = v128.load(sr + o), c = v128.load(sc + o);
    const e2 = f64x2.sub(f64x2.sub(f64x2.mul(r, f64x2.sub(v128.load(se + o), c)), c), v128.load(shxs + o));
    const twopk = i64x2.shl(f64x2.add(k, magic), 52);
    const a = v128.and(f64x2.le(k, minus2), one);
    const b = f64x2.pmin(f64x2.mul(k, minusHalf), one);
    const em1 = f64x2.sub(f64x2.mul(f64x2.sub(a, f64x2.sub(e2, r)), twopk), b);
    v128.store(out + o, f64x2.div(v128.xor(em1, v128.andnot(sign, v128.load(x + o))), f64x2.add(em1, two)));
  }
}

/** Pass 3 on both halves, every pair (a pair outside [2^-28, 6.5): overwritten after). */
function finishAll(x: usize, out: usize, bytes: usize, sk: usize, sr: usize, sc: usize, shxs: usize, se: usize): void {
  const one = cst(1), half = cst(2), two = cst(19), zero = cst(7), magic = cst(18), minus2 = cst(20), sign = dst(0);
  for (let o: usize = 0; o < bytes; o += 16) {
    const k = v128.load(sk + o), r = v128.load(sr + o), c = v128.load(sc + o);
    const pos = f64x2.gt(k, zero); // |x| >= 1: k >= 3; below: k in {0, -1, -2, -3}
    const e2 = f64x2.sub(f64x2.sub(f64x2.mul(r, f64x2.sub(v128.load(se + o), c)), c), v128.load(shxs + o));
    const twopk = i64x2.shl(f64x2.add(k, magic), 52);
    const twomk = i64x2.shl(f64x2.sub(magic, k), 52);
    const a = v128.bitselect(f64x2.sub(one, twomk), v128.and(f64x2.le(k, minus2), one), pos);
    const b = v128.andnot(f64x2.pmin(f64x2.sub(zero, f64x2.mul(half, k)), one), pos);
    const em1 = f64x2.sub(f64x2.mul(f64x2.sub(a, f64x2.sub(e2, r)), twopk), b);
    const q = f64x2.div(v128.bitselect(two, v128.xor(em1, sign), pos), f64x2.add(em1, two));
    const z = v128.bitselect(f64x2.sub(one, q), q, pos);
    v128.store(out + o, v128.xor(z, v128.and(v128.load(x + o), sign)));
  }
}

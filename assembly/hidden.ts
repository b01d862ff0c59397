// SIMD hidden stage: 4 rows at a time, the sums of the 4 rows reduced into one
// i32x4 and requantised in vector lanes. Same bits as the scalar path (chip.ts):
// the accumulator wraps at 32 bits, and the rounding is done exactly (no i32
// overflow: q = acc >> s, rem = acc & mask).
import { Fmt, RND_NEAREST } from './fixed';

/** [sum(a), sum(b), sum(c), sum(d)] with wrapping adds. */
// @ts-ignore: decorator
@inline
function reduce4(a: v128, b: v128, c: v128, d: v128): v128 {
  const t0 = i32x4.add(i32x4.shuffle(a, b, 0, 4, 1, 5), i32x4.shuffle(a, b, 2, 6, 3, 7));
  const t1 = i32x4.add(i32x4.shuffle(c, d, 0, 4, 1, 5), i32x4.shuffle(c, d, 2, 6, 3, 7));
  return i32x4.add(i32x4.shuffle(t0, t1, 0, 1, 4, 5), i32x4.shuffle(t0, t1, 2, 3, 6, 7));
}

/** requant of 4 accumulators: rshift by s >= 1 (nearest or floor), then overflow. */
// @ts-ignore: decorator
@inline
function requant4(acc: v128, s: i32, f: Fmt): v128 {
  let q = i32x4.shr_s(acc, s);
  if (f.rounding == RND_NEAREST) {
    const mask = i32x4.splat((1 << s) - 1);
    const half = i32x4.splat(1 << (s - 1));
    const rem = v128.and(acc, mask);
    const odd = i32x4.eq(v128.and(q, i32x4.splat(1)), i32x4.splat(1));
    const up = v128.or(i32x4.gt_s(rem, half), v128.and(i32x4.eq(rem, half), odd));
    q = i32x4.sub(q, up); // up is -1 where rounding up
  }
  if (f.wrap) {
    const sh = 32 - f.bits;
    return i32x4.shr_s(i32x4.shl(q, sh), sh);
  }
  return i32x4.min_s(i32x4.max_s(q, i32x4.splat(<i32>f.min)), i32x4.splat(<i32>f.max));
}

/** [w_0 . x, w_1 . x, w_2 . x, w_3 . x] for the 4 rows from w0 (stride wS bytes, n int16 each), wrapping. */
// @ts-ignore: decorator
@inline
function rowSums4(w0: usize, wS: usize, xb: usize, Ip: i32): v128 {
  let x0 = i32x4.splat(0), x1 = i32x4.splat(0), x2 = i32x4.splat(0), x3 = i32x4.splat(0);
  for (let j = 0; j < Ip; j += 8) {
    const o = <usize>j << 1;
    const v = v128.load(xb + o);
    x0 = i32x4.add(x0, i32x4.dot_i16x8_s(v128.load(w0 + o), v));
    x1 = i32x4.add(x1, i32x4.dot_i16x8_s(v128.load(w0 + wS + o), v));
    x2 = i32x4.add(x2, i32x4.dot_i16x8_s(v128.load(w0 + 2 * wS + o), v));
    x3 = i32x4.add(x3, i32x4.dot_i16x8_s(v128.load(w0 + 3 * wS + o), v));
  }
  return reduce4(x0, x1, x2, x3);
}

/**
 * Rows r0 .. r0 + 3 rS (Hp int16 each) against two activity rows p and q, the row
 * vectors loaded once for both: requant4(axP + (R p << shR)) into dstP and the same
 * with axQ and q into dstQ (4 int32 each). unroll: a constant after inlining.
 */
// @ts-ignore: decorator
@inline
function rowsDot2(r0: usize, rS: usize, p: usize, q: usize, Hp: i32, axP: v128, axQ: v128, dstP: usize, dstQ: usize, shR: i32, s: i32, fPre: Fmt, unroll: bool): void {
  let c0 = i32x4.splat(0), c1 = i32x4.splat(0), c2 = i32x4.splat(0), c3 = i32x4.splat(0);
  let n0 = i32x4.splat(0), n1 = i32x4.splat(0), n2 = i32x4.splat(0), n3 = i32x4.splat(0);
  // unroll: two blocks of 8 per iteration, the second at an immediate offset of 16
  // bytes: half the address arithmetic and loop control (V8 neither unrolls nor
  // strength-reduces). Only for the clean pairs (evaluation): in the noisy step's
  // context V8 then spills accumulators, and it was 7 % slower there.
  let j = 0;
  if (unroll) for (; j + 8 < Hp; j += 16) {
    const o = <usize>j << 1;
    const pc = p + o, pq = q + o, pa = r0 + o, pb = pa + rS, pe = pa + 2 * rS, pd = pa + 3 * rS;
    let vc = v128.load(pc), vn = v128.load(pq);
    let ra = v128.load(pa), rb = v128.load(pb), rc = v128.load(pe), rd = v128.load(pd);
    c0 = i32x4.add(c0, i32x4.dot_i16x8_s(ra, vc));
    c1 = i32x4.add(c1, i32x4.dot_i16x8_s(rb, vc));
    c2 = i32x4.add(c2, i32x4.dot_i16x8_s(rc, vc));
    c3 = i32x4.add(c3, i32x4.dot_i16x8_s(rd, vc));
    n0 = i32x4.add(n0, i32x4.dot_i16x8_s(ra, vn));
    n1 = i32x4.add(n1, i32x4.dot_i16x8_s(rb, vn));
    n2 = i32x4.add(n2, i32x4.dot_i16x8_s(rc, vn));
    n3 = i32x4.add(n3, i32x4.dot_i16x8_s(rd, vn));
    vc = v128.load(pc, 16); vn = v128.load(pq, 16);
    ra = v128.load(pa, 16); rb = v128.load(pb, 16); rc = v128.load(pe, 16); rd = v128.load(pd, 16);
    c0 = i32x4.add(c0, i32x4.dot_i16x8_s(ra, vc));
    c1 = i32x4.add(c1, i32x4.dot_i16x8_s(rb, vc));
    c2 = i32x4.add(c2, i32x4.dot_i16x8_s(rc, vc));
    c3 = i32x4.add(c3, i32x4.dot_i16x8_s(rd, vc));
    n0 = i32x4.add(n0, i32x4.dot_i16x8_s(ra, vn));
    n1 = i32x4.add(n1, i32x4.dot_i16x8_s(rb, vn));
    n2 = i32x4.add(n2, i32x4.dot_i16x8_s(rc, vn));
    n3 = i32x4.add(n3, i32x4.dot_i16x8_s(rd, vn));
  }
  for (; j < Hp; j += 8) {
    const o = <usize>j << 1;
    const vc = v128.load(p + o), vn = v128.load(q + o);
    const ra = v128.load(r0 + o), rb = v128.load(r0 + rS + o), rc = v128.load(r0 + 2 * rS + o), rd = v128.load(r0 + 3 * rS + o);
    c0 = i32x4.add(c0, i32x4.dot_i16x8_s(ra, vc));
    c1 = i32x4.add(c1, i32x4.dot_i16x8_s(rb, vc));
    c2 = i32x4.add(c2, i32x4.dot_i16x8_s(rc, vc));
    c3 = i32x4.add(c3, i32x4.dot_i16x8_s(rd, vc));
    n0 = i32x4.add(n0, i32x4.dot_i16x8_s(ra, vn));
    n1 = i32x4.add(n1, i32x4.dot_i16x8_s(rb, vn));
    n2 = i32x4.add(n2, i32x4.dot_i16x8_s(rc, vn));
    n3 = i32x4.add(n3, i32x4.dot_i16x8_s(rd, vn));
  }
  v128.store(dstP, requant4(i32x4.add(axP, i32x4.shl(reduce4(c0, c1, c2, c3), shR)), s, fPre));
  v128.store(dstQ, requant4(i32x4.add(axQ, i32x4.shl(reduce4(n0, n1, n2, n3), shR)), s, fPre));
}

/**
 * Pre-activations of rows [i0, i0 + ((i1 - i0) & ~3)) for every sequence, both copies
 * when noisy. Returns the end of the rows done; the caller does the rest with the
 * scalar path.
 * preClean/preNoisy: B x H int32. Only for nearest/floor pre rounding, no mismatch.
 */
export function hiddenRows4(
  w: usize, r: usize, Ip: i32, Hp: i32, H: i32, B: i32,
  x: usize, rPrev: usize, rNoisy: usize, noisy: bool,
  shX: i32, shR: i32, s: i32, fPre: Fmt, preClean: usize, preNoisy: usize,
  i0: i32 = 0, i1: i32 = 0x7fffffff,
): i32 {
  const H4 = i0 + (((i1 < H ? i1 : H) - i0) & ~3);
  const wS = <usize>Ip << 1;
  const rS = <usize>Hp << 1;
  for (let i = i0; i < H4; i += 4) {
    const w0 = w + ((<usize>i * Ip) << 1);
    const r0 = r + ((<usize>i * Hp) << 1);
    let b = 0;
    if (!noisy) {
      // the clean copy alone (evaluation): two sequences per pass over the 4 rows
      for (; b + 1 < B; b += 2) {
        const ax0 = i32x4.shl(rowSums4(w0, wS, x + ((<usize>b * Ip) << 1), Ip), shX);
        const ax1 = i32x4.shl(rowSums4(w0, wS, x + ((<usize>(b + 1) * Ip) << 1), Ip), shX);
        const cb = rPrev + ((<usize>b * Hp) << 1);
        rowsDot2(r0, rS, cb, cb + rS, Hp, ax0, ax1, preClean + ((<usize>b * H + i) << 2), preClean + ((<usize>(b + 1) * H + i) << 2), shR, s, fPre, true);
      }
    }
    for (; b < B; b++) {
      const ax = i32x4.shl(rowSums4(w0, wS, x + ((<usize>b * Ip) << 1), Ip), shX);
      const cb = rPrev + ((<usize>b * Hp) << 1);
      const dst = (<usize>b * H + i) << 2;
      if (noisy) {
        // both copies: the row vectors loaded once for the clean and the noisy activity
        rowsDot2(r0, rS, cb, rNoisy + ((<usize>b * Hp) << 1), Hp, ax, ax, preClean + dst, preNoisy + dst, shR, s, fPre, false);
        continue;
      }
      v128.store(preClean + dst, requant4(i32x4.add(ax, i32x4.shl(rowSums4(r0, rS, cb, Hp), shR)), s, fPre));
    }
  }
  return H4;
}

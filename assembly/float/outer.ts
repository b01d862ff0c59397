// The outer-product updates of the float model (src/model/rnn.ts addBatchOuter and
// the trace updates of src/model/float-device.ts), in binary64 with the same bits:
//
//   plain:  mat[i][j] += e[b][i] pre[b][j] for b = 0..B-1 in order, e[b][i] = coef delta[b][i],
//           a (b, i) skipped when e is 0;
//   trace:  el[i][j] = el[i][j] lam, then the plain sum into el, then
//           mat[i][j] += cw el[i][j] (when cw != 0).
//
// Each weight's sequence of roundings is that of the scalar loops; the vector lanes are
// two neighbouring columns j, j+1 (pre is row-major, B x cols). Rows whose 2B (or B)
// coefficients are all non-zero take the blocked kernels (2 rows x 8 columns, 8
// accumulators); a row with a zero coefficient takes the scalar loop that skips it,
// as the reference does (adding e pre = 0 would turn a -0 weight into +0).
// The plain sum without a zero coefficient takes 4 x 4 blocks (quads), or with one
// column a kernel whose lanes are two rows (column).

let preStride: usize = 0; // cols x 8
let ePtr: usize = 0; // e transposed, rows x B
let nb: i32 = 0; // sequences summed (0: the trace is only decayed)
let isTrace = false;
let lamV = f64x2.splat(0);
let cwV = f64x2.splat(0);
let lam: f64 = 0;
let cw: f64 = 0;
let applyTrace = false; // trace mode and cw != 0
let pmat: usize = 0; // the parameters a trace is applied to (trace mode)
let emat: usize = 0; // the matrix summed into (plain: the parameters; trace: the trace)
let cols: i32 = 0;
let rows_: i32 = 0; // values per row of delta (B x rows_)

// @ts-ignore: decorator
@inline
function mac(acc: v128, w: v128, x: v128): v128 {
  return f64x2.add(acc, f64x2.mul(w, x));
}

// The kernels are generic in a mode type, resolved at compile time so that each mode
// has its own code without tests in it: Mode = i32 the plain sum, Mode = f64 a trace
// (decayed first, applied to the parameters after).

// @ts-ignore: decorator
@inline
function start<Mode>(p: usize): v128 {
  const a = v128.load(p);
  return isFloat<Mode>() ? f64x2.mul(a, lamV) : a;
}

// @ts-ignore: decorator
@inline
function finish<Mode>(off: usize, a: v128): void {
  v128.store(emat + off, a);
  if (isFloat<Mode>() && applyTrace) v128.store(pmat + off, f64x2.add(v128.load(pmat + off), f64x2.mul(cwV, a)));
}

/** Rows at m0 and m1 (8 columns, from pre), coefficients at e0 and e1 (n bytes of them). */
// @ts-ignore: decorator
@inline
function pair8<Mode>(m0: usize, m1: usize, pre: usize, e0: usize, e1: usize, n: usize, stride: usize): void {
  let a0 = start<Mode>(m0), a1 = start<Mode>(m0 + 16), a2 = start<Mode>(m0 + 32), a3 = start<Mode>(m0 + 48);
  let c0 = start<Mode>(m1), c1 = start<Mode>(m1 + 16), c2 = start<Mode>(m1 + 32), c3 = start<Mode>(m1 + 48);
  for (let q: usize = 0; q < n; q += 8) {
    const x0 = v128.load(pre), x1 = v128.load(pre, 16), x2 = v128.load(pre, 32), x3 = v128.load(pre, 48);
    let e = v128.load64_splat(e0 + q);
    a0 = mac(a0, e, x0); a1 = mac(a1, e, x1); a2 = mac(a2, e, x2); a3 = mac(a3, e, x3);
    e = v128.load64_splat(e1 + q);
    c0 = mac(c0, e, x0); c1 = mac(c1, e, x1); c2 = mac(c2, e, x2); c3 = mac(c3, e, x3);
    pre += stride;
  }
  const o0 = m0 - emat, o1 = m1 - emat;
  finish<Mode>(o0, a0); finish<Mode>(o0 + 16, a1); finish<Mode>(o0 + 32, a2); finish<Mode>(o0 + 48, a3);
  finish<Mode>(o1, c0); finish<Mode>(o1 + 16, c1); finish<Mode>(o1 + 32, c2); finish<Mode>(o1 + 48, c3);
}

/** Rows i, i+1, 2 columns from j. */
function pair2<Mode>(i: i32, j: i32): void {
  const rowBytes = <usize>cols << 3;
  const r0 = <usize>i * rowBytes + (<usize>j << 3), r1 = r0 + rowBytes;
  let a0 = start<Mode>(emat + r0), c0 = start<Mode>(emat + r1);
  let pre = preBase + (<usize>j << 3);
  let e0 = ePtr + <usize>i * (<usize>nbAll << 3);
  const e1off = <usize>nbAll << 3;
  const end = e0 + (<usize>nb << 3);
  while (e0 < end) {
    const x0 = v128.load(pre);
    a0 = mac(a0, v128.load64_splat(e0), x0);
    c0 = mac(c0, v128.load64_splat(e0 + e1off), x0);
    e0 += 8; pre += preStride;
  }
  finish<Mode>(r0, a0); finish<Mode>(r1, c0);
}

/** Row i, 8 columns from j. */
function row8<Mode>(i: i32, j: i32): void {
  const r0 = <usize>i * (<usize>cols << 3) + (<usize>j << 3);
  let a0 = start<Mode>(emat + r0), a1 = start<Mode>(emat + r0 + 16), a2 = start<Mode>(emat + r0 + 32), a3 = start<Mode>(emat + r0 + 48);
  let pre = preBase + (<usize>j << 3);
  let e0 = ePtr + <usize>i * (<usize>nbAll << 3);
  const end = e0 + (<usize>nb << 3);
  while (e0 < end) {
    const e = v128.load64_splat(e0);
    a0 = mac(a0, e, v128.load(pre)); a1 = mac(a1, e, v128.load(pre, 16));
    a2 = mac(a2, e, v128.load(pre, 32)); a3 = mac(a3, e, v128.load(pre, 48));
    e0 += 8; pre += preStride;
  }
  finish<Mode>(r0, a0); finish<Mode>(r0 + 16, a1); finish<Mode>(r0 + 32, a2); finish<Mode>(r0 + 48, a3);
}

/** Row i, 2 columns from j. */
function row2<Mode>(i: i32, j: i32): void {
  const r0 = <usize>i * (<usize>cols << 3) + (<usize>j << 3);
  let a0 = start<Mode>(emat + r0);
  let pre = preBase + (<usize>j << 3);
  let e0 = ePtr + <usize>i * (<usize>nbAll << 3);
  const end = e0 + (<usize>nb << 3);
  while (e0 < end) {
    a0 = mac(a0, v128.load64_splat(e0), v128.load(pre));
    e0 += 8; pre += preStride;
  }
  finish<Mode>(r0, a0);
}

/** Row i, column j, scalar; skips the zero coefficients (the reference's `if (e === 0) continue`). */
function one(i: i32, j: i32): void {
  const off = (<usize>i * <usize>cols + <usize>j) << 3;
  let a = load<f64>(emat + off);
  if (isTrace) a *= lam;
  let pre = preBase + (<usize>j << 3);
  let e0 = ePtr + <usize>i * (<usize>nbAll << 3);
  for (let b = 0; b < nb; b++) {
    const e = load<f64>(e0);
    if (e != 0) a += e * load<f64>(pre);
    e0 += 8; pre += preStride;
  }
  store<f64>(emat + off, a);
  if (isTrace && cw != 0) store<f64>(pmat + off, load<f64>(pmat + off) + cw * a);
}

let preBase: usize = 0;
let nbAll: i32 = 0;

/** Whether row i has a zero coefficient among the nb summed. */
function hasZero(i: i32): bool {
  let e0 = ePtr + <usize>i * (<usize>nbAll << 3);
  for (let b = 0; b < nb; b++) {
    if (load<f64>(e0) == 0) return true;
    e0 += 8;
  }
  return false;
}

function rowsPair<Mode>(i: i32): void {
  const c8 = cols & ~7, c2 = cols & ~1;
  const rowBytes = <usize>cols << 3, stride = preStride;
  const m0 = emat + <usize>i * rowBytes, m1 = m0 + rowBytes;
  const e0 = ePtr + <usize>i * (<usize>nbAll << 3), e1 = e0 + (<usize>nbAll << 3), n = <usize>nb << 3;
  for (let j = 0; j < c8; j += 8) {
    const o = <usize>j << 3;
    pair8<Mode>(m0 + o, m1 + o, preBase + o, e0, e1, n, stride);
  }
  for (let j = c8; j < c2; j += 2) pair2<Mode>(i, j);
  if (c2 < cols) { one(i, c2); one(i + 1, c2); }
}

function rowSingle<Mode>(i: i32): void {
  if (hasZero(i)) {
    for (let j = 0; j < cols; j++) one(i, j);
    return;
  }
  const c8 = cols & ~7, c2 = cols & ~1;
  for (let j = 0; j < c8; j += 8) row8<Mode>(i, j);
  for (let j = c8; j < c2; j += 2) row2<Mode>(i, j);
  if (c2 < cols) one(i, c2);
}

/**
 * The sum over b of e[b][i] pre[b][j] into mat (rows x cols), e[b][i] = coef delta[b][i]
 * (delta B x rows, pre B x cols, natural layouts). With trace set, `mat` is the trace:
 * it is first multiplied by decay, and after the sum params += cw trace (cw != 0).
 * scratch: 2 rows x B values. summed = false only decays (and applies) the trace.
 * deltaStride: values per row b of delta (default rows; a block of rows of a larger
 * delta, as one thread of the threads build updates, passes the full row length).
 */
export function outerUpdate(
  mat: usize, rows: i32, ncols: i32, coef: f64, B: i32, delta: usize, pre: usize, scratch: usize,
  trace: bool, decay: f64, cwIn: f64, params: usize, summed: bool, deltaStride: i32 = 0,
): void {
  if (!trace && coef == 0) return;
  const ds = deltaStride > 0 ? deltaStride : rows;
  emat = mat; cols = ncols; rows_ = ds; preBase = pre; preStride = <usize>ncols << 3; ePtr = scratch;
  nbAll = B; nb = summed && coef != 0 ? B : 0;
  isTrace = trace; lam = decay; lamV = f64x2.splat(decay); cw = cwIn; cwV = f64x2.splat(cwIn); pmat = params;
  applyTrace = trace && cwIn != 0;
  // e by quads of rows, [i / 4][b][i % 4] (quads), two rows per product; the other
  // kernels read e as rows x B (natural), formed only where they need it
  const rows4 = rows & ~3, eq = scratch + ((<usize>rows * <usize>B) << 3);
  const c2 = f64x2.splat(coef), zero = f64x2.splat(0);
  let zmask = i64x2.splat(0);
  for (let b = 0; b < B; b++) {
    const d = delta + ((<usize>b * <usize>ds) << 3), q = eq + (<usize>b << 5);
    for (let i = 0; i < rows4; i += 4) {
      const e01 = f64x2.mul(c2, v128.load(d + (<usize>i << 3))), e23 = f64x2.mul(c2, v128.load(d + (<usize>i << 3), 16));
      zmask = v128.or(zmask, v128.or(f64x2.eq(e01, zero), f64x2.eq(e23, zero)));
      const o = q + <usize>(i >> 2) * (<usize>B << 5);
      v128.store(o, e01);
      v128.store(o, e23, 16);
    }
  }
  let zeros = v128.any_true(zmask);
  natural(rows4, rows, B, coef, delta);
  for (let i = rows4; i < rows; i++) zeros = zeros || hasZero(i);
  if (trace || zeros) natural(0, rows4, B, coef, delta);
  else if (ncols == 1) natural(rows & ~7, rows4, B, coef, delta); // column's last rows
  else if ((ncols & 1) != 0) natural(0, rows4, B, coef, delta); // one() of quads' odd last column
  if (trace) rowsOf<f64>(rows);
  else if (zeros) rowsOf<i32>(rows);
  else if (ncols == 1) column(mat, rows, ds, B, coef, delta, pre); else {
    quads(rows4, eq);
    for (let i = rows4; i < rows; i++) rowSingle<i32>(i);
  }
}

/** e[i][b] = coef delta[b][i] for rows from..to-1 (the natural layout, at ePtr). */
function natural(from: i32, to: i32, B: i32, coef: f64, delta: usize): void {
  for (let i = from; i < to; i++)
    for (let b = 0; b < B; b++)
      store<f64>(ePtr + ((<usize>i * <usize>B + <usize>b) << 3), coef * load<f64>(delta + ((<usize>b * <usize>rows_ + <usize>i) << 3)));
}

/**
 * The plain sum without a zero coefficient, rows 0..rows4-1: blocks of 4 rows x 4
 * columns (8 accumulators), e of the quad from one pointer (eq: [i / 4][b][i % 4]), so
 * an iteration over b is 6 loads, 8 multiplies and 8 adds and two pointer steps: B
 * is short (10), and the loop's overhead, not the arithmetic, bounded the 2 x 8 blocks.
 */
function quads(rows4: i32, eq: usize): void {
  const stride = preStride, rowBytes = <usize>cols << 3, c4 = <usize>cols & ~3, c2 = <usize>cols & ~1, eBlock = <usize>nb << 5;
  for (let i = 0; i < rows4; i += 4) {
    const m0 = emat + <usize>i * rowBytes, m1 = m0 + rowBytes, m2 = m1 + rowBytes, m3 = m2 + rowBytes;
    const e0 = eq + (<usize>(i >> 2)) * eBlock, eEnd = e0 + eBlock;
    for (let o: usize = 0; o < (c4 << 3); o += 32) {
      let a00 = v128.load(m0 + o), a01 = v128.load(m0 + o, 16), a10 = v128.load(m1 + o), a11 = v128.load(m1 + o, 16);
      let a20 = v128.load(m2 + o), a21 = v128.load(m2 + o, 16), a30 = v128.load(m3 + o), a31 = v128.load(m3 + o, 16);
      let x = preBase + o, e = e0;
      while (e < eEnd) {
        const xa = v128.load(x), xb = v128.load(x, 16);
        let w = v128.load64_splat(e);
        a00 = mac(a00, w, xa); a01 = mac(a01, w, xb);
        w = v128.load64_splat(e, 8);
        a10 = mac(a10, w, xa); a11 = mac(a11, w, xb);
        w = v128.load64_splat(e, 16);
        a20 = mac(a20, w, xa); a21 = mac(a21, w, xb);
        w = v128.load64_splat(e, 24);
        a30 = mac(a30, w, xa); a31 = mac(a31, w, xb);
        e += 32; x += stride;
      }
      v128.store(m0 + o, a00); v128.store(m0 + o, a01, 16); v128.store(m1 + o, a10); v128.store(m1 + o, a11, 16);
      v128.store(m2 + o, a20); v128.store(m2 + o, a21, 16); v128.store(m3 + o, a30); v128.store(m3 + o, a31, 16);
    }
    if (c4 < c2) {
      const o = c4 << 3;
      let a0 = v128.load(m0 + o), a1 = v128.load(m1 + o), a2 = v128.load(m2 + o), a3 = v128.load(m3 + o);
      let x = preBase + o, e = e0;
      while (e < eEnd) {
        const xa = v128.load(x);
        a0 = mac(a0, v128.load64_splat(e), xa); a1 = mac(a1, v128.load64_splat(e, 8), xa);
        a2 = mac(a2, v128.load64_splat(e, 16), xa); a3 = mac(a3, v128.load64_splat(e, 24), xa);
        e += 32; x += stride;
      }
      v128.store(m0 + o, a0); v128.store(m1 + o, a1); v128.store(m2 + o, a2); v128.store(m3 + o, a3);
    }
    if (c2 < <usize>cols) for (let r = 0; r < 4; r++) one(i + r, <i32>c2);
  }
}

/**
 * The plain sum with one column (W of a one-input network) and no zero coefficient:
 * lanes are two rows, mat[i] += e[b][i] pre[b] for b in order, e[b][i] = coef delta[b][i]
 * formed again in the natural layout (the same product). 8 rows per iteration.
 */
function column(mat: usize, rows: i32, ds: i32, B: i32, coef: f64, delta: usize, pre: usize): void {
  const c = f64x2.splat(coef), rowBytes = <usize>ds << 3, n = <usize>rows & ~7, end = mat + (n << 3);
  for (let m = mat, d0 = delta; m < end; m += 64, d0 += 64) {
    let a0 = v128.load(m), a1 = v128.load(m, 16), a2 = v128.load(m, 32), a3 = v128.load(m, 48);
    let d = d0;
    for (let b: usize = 0; b < <usize>B; b++) {
      const x = v128.load64_splat(pre + (b << 3));
      a0 = mac(a0, f64x2.mul(c, v128.load(d)), x);
      a1 = mac(a1, f64x2.mul(c, v128.load(d, 16)), x);
      a2 = mac(a2, f64x2.mul(c, v128.load(d, 32)), x);
      a3 = mac(a3, f64x2.mul(c, v128.load(d, 48)), x);
      d += rowBytes;
    }
    v128.store(m, a0); v128.store(m, a1, 16); v128.store(m, a2, 32); v128.store(m, a3, 48);
  }
  for (let i = <i32>n; i < rows; i++) one(i, 0);
}

function rowsOf<Mode>(rows: i32): void {
  let i = 0;
  while (i + 1 < rows) {
    if (!hasZero(i) && !hasZero(i + 1)) {
      rowsPair<Mode>(i);
      i += 2;
    } else {
      rowSingle<Mode>(i);
      i++;
    }
  }
  if (i < rows) rowSingle<Mode>(i);
}

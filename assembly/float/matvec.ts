// Matrix-vector products of many sequences at once, in binary64: out_s = init_s +
// M1 x1_s + M2 x2_s for every sequence s, each sum formed in the order of the float
// model (src/model/rnn.ts): init, then the columns of M1 in order, then those of M2.
// The vectors are stored transposed, x[j][s] (S sequences per column, S even), so one
// v128 holds column j of two sequences and the lanes of a register are two separate
// sums: the results are those of the scalar loops bit for bit (no reassociation, no
// fused multiply-add). Matrices are row-major (rows x n), as the host sees them.
//
// Register block: 4 rows x 2 pairs of sequences (8 accumulators), with 1-row and
// 1-pair kernels for the edges. Pointers are bumped rather than indexed (V8 does not
// strength-reduce the index arithmetic of a WASM loop).

/** Arguments shared by the kernels (AssemblyScript passes no structs by value). */
let m1: usize = 0;
let n1: i32 = 0;
let x1: usize = 0;
let m2: usize = 0;
let n2: i32 = 0;
let x2: usize = 0;
let colBytes: usize = 0; // S x 8: the stride of one column of x and of out
let fromZero = false; // the sums start from 0 (out is not read)

/** The initial value of an accumulator: out's value, or 0 (0 + p is p, as when read from zeroed memory). */
// @ts-ignore: decorator
@inline
function init(p: usize, off: usize): v128 {
  return fromZero ? f64x2.splat(0) : v128.load(p + off);
}

// @ts-ignore: decorator
@inline
function mac(acc: v128, w: v128, x: v128): v128 {
  return f64x2.add(acc, f64x2.mul(w, x));
}

/** 4 rows from row i, pairs p, p+1: accumulate both segments into out (which holds init or zeros). */
function rows4pairs2(i: i32, p: usize, out: usize): void {
  const cb = colBytes; // a local: V8 reloads a global in every iteration
  const o0 = out + <usize>i * colBytes + (p << 4), o1 = o0 + colBytes, o2 = o1 + colBytes, o3 = o2 + colBytes;
  let a00 = init(o0, 0), a01 = init(o0, 16), a10 = init(o1, 0), a11 = init(o1, 16);
  let a20 = init(o2, 0), a21 = init(o2, 16), a30 = init(o3, 0), a31 = init(o3, 16);
  for (let seg = 0; seg < 2; seg++) {
    const n = seg == 0 ? n1 : n2;
    if (n == 0) continue;
    const rowBytes = <usize>n << 3;
    let w0 = (seg == 0 ? m1 : m2) + <usize>i * rowBytes;
    let w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
    let x = (seg == 0 ? x1 : x2) + (p << 4);
    const end = w0 + rowBytes;
    while (w0 < end) {
      const xa = v128.load(x), xb = v128.load(x, 16);
      let w = v128.load64_splat(w0);
      a00 = mac(a00, w, xa); a01 = mac(a01, w, xb);
      w = v128.load64_splat(w1);
      a10 = mac(a10, w, xa); a11 = mac(a11, w, xb);
      w = v128.load64_splat(w2);
      a20 = mac(a20, w, xa); a21 = mac(a21, w, xb);
      w = v128.load64_splat(w3);
      a30 = mac(a30, w, xa); a31 = mac(a31, w, xb);
      w0 += 8; w1 += 8; w2 += 8; w3 += 8; x += cb;
    }
  }
  v128.store(o0, a00); v128.store(o0, a01, 16); v128.store(o1, a10); v128.store(o1, a11, 16);
  v128.store(o2, a20); v128.store(o2, a21, 16); v128.store(o3, a30); v128.store(o3, a31, 16);
}

/** 4 rows from row i, one pair p. */
function rows4pairs1(i: i32, p: usize, out: usize): void {
  const cb = colBytes; // a local: V8 reloads a global in every iteration
  const o0 = out + <usize>i * colBytes + (p << 4), o1 = o0 + colBytes, o2 = o1 + colBytes, o3 = o2 + colBytes;
  let a0 = init(o0, 0), a1 = init(o1, 0), a2 = init(o2, 0), a3 = init(o3, 0);
  for (let seg = 0; seg < 2; seg++) {
    const n = seg == 0 ? n1 : n2;
    if (n == 0) continue;
    const rowBytes = <usize>n << 3;
    let w0 = (seg == 0 ? m1 : m2) + <usize>i * rowBytes;
    let w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
    let x = (seg == 0 ? x1 : x2) + (p << 4);
    const end = w0 + rowBytes;
    while (w0 < end) {
      const xa = v128.load(x);
      a0 = mac(a0, v128.load64_splat(w0), xa);
      a1 = mac(a1, v128.load64_splat(w1), xa);
      a2 = mac(a2, v128.load64_splat(w2), xa);
      a3 = mac(a3, v128.load64_splat(w3), xa);
      w0 += 8; w1 += 8; w2 += 8; w3 += 8; x += cb;
    }
  }
  v128.store(o0, a0); v128.store(o1, a1); v128.store(o2, a2); v128.store(o3, a3);
}

/** One row i, pairs p, p+1. */
function rows1pairs2(i: i32, p: usize, out: usize): void {
  const cb = colBytes; // a local: V8 reloads a global in every iteration
  const o0 = out + <usize>i * colBytes + (p << 4);
  let a0 = init(o0, 0), a1 = init(o0, 16);
  for (let seg = 0; seg < 2; seg++) {
    const n = seg == 0 ? n1 : n2;
    if (n == 0) continue;
    const rowBytes = <usize>n << 3;
    let w0 = (seg == 0 ? m1 : m2) + <usize>i * rowBytes;
    let x = (seg == 0 ? x1 : x2) + (p << 4);
    const end = w0 + rowBytes;
    while (w0 < end) {
      const w = v128.load64_splat(w0);
      a0 = mac(a0, w, v128.load(x));
      a1 = mac(a1, w, v128.load(x, 16));
      w0 += 8; x += cb;
    }
  }
  v128.store(o0, a0); v128.store(o0, a1, 16);
}

/** One row i, one pair p. */
function rows1pairs1(i: i32, p: usize, out: usize): void {
  const cb = colBytes; // a local: V8 reloads a global in every iteration
  const o0 = out + <usize>i * colBytes + (p << 4);
  let a0 = init(o0, 0);
  for (let seg = 0; seg < 2; seg++) {
    const n = seg == 0 ? n1 : n2;
    if (n == 0) continue;
    const rowBytes = <usize>n << 3;
    let w0 = (seg == 0 ? m1 : m2) + <usize>i * rowBytes;
    let x = (seg == 0 ? x1 : x2) + (p << 4);
    const end = w0 + rowBytes;
    while (w0 < end) {
      a0 = mac(a0, v128.load64_splat(w0), v128.load(x));
      w0 += 8; x += cb;
    }
  }
  v128.store(o0, a0);
}

/**
 * out[i][s] += sum_j a[i][j] xa[j][s] (j < na), then += sum_j b[i][j] xb[j][s] (j < nb),
 * for rows i < rows and S = 2 P sequences; out (rows x S) holds the initial values
 * (the output noise), or with zeroInit the sums start from 0 and out is only written.
 * na or nb may be 0.
 */
export function matvecT(rows: i32, a: usize, na: i32, xa: usize, b: usize, nb: i32, xb: usize, P: i32, out: usize, zeroInit: bool): void {
  m1 = a; n1 = na; x1 = xa; m2 = b; n2 = nb; x2 = xb; fromZero = zeroInit;
  colBytes = <usize>P << 4;
  const rows4 = rows & ~3, P2 = <usize>(P & ~1);
  for (let i = 0; i < rows4; i += 4) {
    for (let p: usize = 0; p < P2; p += 2) rows4pairs2(i, p, out);
    if (P2 < <usize>P) rows4pairs1(i, P2, out);
  }
  for (let i = rows4; i < rows; i++) {
    for (let p: usize = 0; p < P2; p += 2) rows1pairs2(i, p, out);
    if (P2 < <usize>P) rows1pairs1(i, P2, out);
  }
}

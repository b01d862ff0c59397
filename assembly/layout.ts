// Where each buffer lives in linear memory. Rows are padded to 8 int16 lanes so the
// SIMD path reads whole v128s; padding lanes hold zeros and never change results.

// @ts-ignore: decorator
@inline
export function pad8(n: i32): i32 {
  return (n + 7) & ~7;
}

// @ts-ignore: decorator
@inline
function align16(n: usize): usize {
  return (n + 15) & ~(<usize>15);
}

@unmanaged
export class Layout {
  I: i32 = 0;
  H: i32 = 0;
  O: i32 = 0;
  B: i32 = 0;
  K: i32 = 0;
  Ip: i32 = 0;
  Hp: i32 = 0;
  // int16 buffers
  w: usize = 0; // H x Ip
  r: usize = 0; // H x Hp
  v: usize = 0; // O x Hp
  xs: usize = 0; // K x B x Ip      inputs of each step (trace)
  state: usize = 0; // B x Hp       clean activity carried between chunks
  rs: usize = 0; // (K+1) x B x Hp  clean activity before/after each step of the chunk (trace)
  rn: usize = 0; // 2 x B x Hp      noisy activity, ping-pong; rn[0] is the state
  inputs: usize = 0; // K x B x I   staging for run inputs
  outClean: usize = 0; // K x B x O
  outNoisy: usize = 0; // K x B x O
  hidden: usize = 0; // K x B x H
  staging: usize = 0; // max tensor, int16, for parameter IO
  // int32 buffers
  da: usize = 0; // K x B x H
  dy: usize = 0; // K x B x O
  pre: usize = 0; // 2 x B x H      pre-activation codes of both copies, current step
  gain: usize = 0; // H
  offset: usize = 0; // H
  mant: usize = 0; // B x max(Hp, O) mantissas of one layer's update (int16)
  scratch: usize = 0; // interleaved presynaptic pairs + mantissa pairs of the SIMD update
  // f64 buffers
  rewards: usize = 0; // K
  end: usize = 0;

  /** Compute offsets from `base`; returns the end address. Allocates nothing. */
  plan(base: usize, I: i32, H: i32, O: i32, B: i32, K: i32): usize {
    this.I = I;
    this.H = H;
    this.O = O;
    this.B = B;
    this.K = K;
    const Ip = pad8(I);
    const Hp = pad8(H);
    this.Ip = Ip;
    this.Hp = Hp;
    let p = align16(base);
    this.w = p; p = align16(p + <usize>H * Ip * 2);
    this.r = p; p = align16(p + <usize>H * Hp * 2);
    this.v = p; p = align16(p + <usize>O * Hp * 2);
    this.xs = p; p = align16(p + <usize>K * B * Ip * 2);
    this.state = p; p = align16(p + <usize>B * Hp * 2);
    this.rs = p; p = align16(p + <usize>(K + 1) * B * Hp * 2);
    this.rn = p; p = align16(p + <usize>2 * B * Hp * 2);
    this.inputs = p; p = align16(p + <usize>K * B * I * 2);
    this.outClean = p; p = align16(p + <usize>K * B * O * 2);
    this.outNoisy = p; p = align16(p + <usize>K * B * O * 2);
    this.hidden = p; p = align16(p + <usize>K * B * H * 2);
    let big = <usize>H * I;
    if (<usize>H * H > big) big = <usize>H * H;
    if (<usize>O * H > big) big = <usize>O * H;
    if (<usize>B * H > big) big = <usize>B * H;
    this.staging = p; p = align16(p + big * 2);
    this.da = p; p = align16(p + <usize>K * B * H * 4);
    this.dy = p; p = align16(p + <usize>K * B * O * 4);
    this.pre = p; p = align16(p + <usize>2 * B * H * 4);
    this.gain = p; p = align16(p + <usize>H * 4);
    this.offset = p; p = align16(p + <usize>H * 4);
    const mrow = Hp > O ? Hp : O;
    this.mant = p; p = align16(p + <usize>B * mrow * 2);
    const P = <usize>((B + 1) >> 1);
    const maxStride = <usize>(Ip > Hp ? Ip : Hp);
    this.scratch = p; p = align16(p + P * 2 * maxStride * 2 + P * 16 + <usize>B * 4);
    this.rewards = p; p = align16(p + <usize>K * 8);
    this.end = p;
    return p;
  }
}

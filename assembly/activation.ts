// Hidden activations in fixed point (docs/kernel.md, "Activations").
import { TANH_TABLE } from './tanh-table';
import { Fmt, ovf, rshift } from './fixed';

export const ACT_TANH: i32 = 0;
export const ACT_HARDTANH: i32 = 1;
export const ACT_LINEAR: i32 = 2;

/** act(a): activity code (format f) from a pre-activation code a (pre frac pF). */
// @ts-ignore: decorator
@inline
export function act(kind: i32, a: i64, pF: i32, f: Fmt, rnd: u32): i64 {
  if (kind == ACT_LINEAR) return ovf(rshift(a, pF - f.frac, f.rounding, rnd), f);
  if (kind == ACT_HARDTANH) {
    const one: i64 = <i64>1 << <i64>pF;
    const c = a > one ? one : a < -one ? -one : a;
    return ovf(rshift(c, pF - f.frac, f.rounding, rnd), f);
  }
  // tanh is odd: the magnitude goes through the table, the sign is restored after rounding.
  const neg = a < 0;
  const mag: i64 = neg ? -a : a;
  const z: i64 = pF <= 16 ? mag << <i64>(16 - pF) : mag >> <i64>(pF - 16);
  const k = z >> 10;
  let y: i64;
  if (k >= 512) {
    y = <i64>unchecked(TANH_TABLE[512]);
  } else {
    const ki = <i32>k;
    const t0 = <i64>unchecked(TANH_TABLE[ki]);
    const t1 = <i64>unchecked(TANH_TABLE[ki + 1]);
    y = t0 + (((t1 - t0) * (z & 1023) + 512) >> 10);
  }
  // saturate the magnitude, then restore the sign (odd for signed formats; an unsigned
  // activity format takes negatives through its overflow mode)
  const m = ovf(rshift(y, 15 - f.frac, f.rounding, rnd), f);
  return ovf(neg ? -m : m, f);
}

// Exported for the activation accuracy test.
import { unpackFmt } from './fixed';
const testAct = new Fmt();
export function testActivate(kind: i32, a: i64, pF: i32, actWord: i32, rnd: u32): i64 {
  unpackFmt(actWord, testAct);
  return act(kind, a, pF, testAct, rnd);
}

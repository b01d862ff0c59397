// The eligibility trace's pieces of the C kernel (firmware/core, docs/kernel.md
// "Eligibility traces") one by one through firmware/tests/trace_check.c: the decay's
// Q16 code, the scale exponents T_W, T_R, T_b against src/format/trace.ts, the decayed
// sum's sat32 and the apply step, on values checked by hand. The whole kernel against
// the emulator with traces: test/firmware.test.ts.
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { decayQ16, traceFormats } from '../src/format/trace.js';
import type { FixedFormat } from '../src/format/fixed.js';
import { buildFirmware, firmwarePath, missingTools } from './firmware-tools.js';

const missing = missingTools(['make', 'gcc', 'nanopb_generator.py']);
if (missing) console.warn(`test/firmware-traces.test.ts: skipping: ${missing}`);

/** One answer line per command line. */
const check = (lines: string[]): string[] =>
  execFileSync(firmwarePath('host/trace_check'), { input: lines.join('\n') + '\n' }).toString().trim().split('\n');

const fmt = (bits: number): FixedFormat => ({ bits, frac: 0, signed: true, rounding: 'nearest', overflow: 'sat' });
const I31 = 2 ** 31;

describe.skipIf(missing !== undefined)('firmware/core eligibility traces, piece by piece', () => {
  beforeAll(() => void buildFirmware('host'), 300_000);

  it('the decay as nearest_even(decay * 65536), 0..65535 (ties to even)', () => {
    const cases: [number, number][] = [
      [0, 0], [0.5, 32768], [0.9, 58982], [0.99999, 65535], [0.999999, 65535],
      [1.5 / 65536, 2], [2.5 / 65536, 2], [3.5 / 65536, 4], [0.25 + 0.5 / 65536, 16384],
    ];
    expect(check(cases.map(([d]) => `q16 ${d}`)).map(Number)).toEqual(cases.map(([, q]) => q));
    for (const [d, q] of cases) expect(decayQ16(d)).toBe(q);
  });

  it('T_W, T_R, T_b: by hand, and equal to src/format/trace.ts on 500 random configurations', () => {
    // H = 64, sigma 1.024 LSB, decay 0.9: X = 64 * 1.024 * 6554 = 429522.9, e = 18
    expect(check(['exp 64 1.024 0.9 16 16', 'exp 64 1.024 0.9 8 12', 'exp 1 0 0 16 16', 'exp 1024 4096 0 2 2'])).toEqual([
      '58982 13 13 28', '58982 21 17 28', '0 11 11 26', '0 47 47 48', // X = 2^10 2^12 2^16: e 38, T_b clamped
    ]);
    const arb = fc.record({
      H: fc.integer({ min: 1, max: 1024 }),
      sigma: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 4096, noNaN: true })),
      decay: fc.oneof(fc.constantFrom(0, 0.5, 0.9, 0.99, 0.999999), fc.double({ min: 0, max: 0.9999999, noNaN: true })),
      ib: fc.integer({ min: 2, max: 16 }),
      ab: fc.integer({ min: 2, max: 16 }),
    });
    const samples = fc.sample(arb, { numRuns: 500, seed: 11 });
    const got = check(samples.map((s) => `exp ${s.H} ${s.sigma} ${s.decay} ${s.ib} ${s.ab}`));
    samples.forEach((s, n) => {
      const t = traceFormats(s.H, s.sigma, s.decay, fmt(s.ib), fmt(s.ab));
      expect(got[n], JSON.stringify(s)).toBe(`${t.decayQ16} ${t.w} ${t.r} ${t.b}`);
    });
  });

  it('E = sat32(rshift(E * lq, 16, nearest) + q): ties to even, saturation both ways', () => {
    const cases: [number, number, number, number][] = [
      [3, 32768, 0, 2], [5, 32768, 0, 2], [-3, 32768, 0, -2], [7, 32768, 0, 4], [100, 0, 7, 7],
      [1000, 58982, 5, 900 + 5], // 1000 * 58982 / 65536 = 899.99
      [I31 - 1, 65535, 2 ** 20, I31 - 1], [-I31, 65535, -5, -I31 + 32768 - 5], [-I31, 32768, -(2 ** 31), -I31], [-I31, 65535, 2 ** 20, -I31 + 32768 + 2 ** 20],
      [0, 65535, 2 ** 32, I31 - 1], [0, 65535, -(2 ** 32), -I31],
    ];
    expect(check(cases.map(([e, lq, q]) => `add ${e} ${lq} ${q}`)).map(Number)).toEqual(cases.map((c) => c[3]));
  });

  it('the apply factor f as mu 2^-sf: sf = clamp(14 - floor(log2 |f|), 0, 30), skipped at 0, non-finite, subnormal and mu = 0', () => {
    const cases: [number, string][] = [
      [1, '14 16384'], [-0.75, '15 -24576'], [1.5, '14 24576'], [2 ** -16, '30 16384'], [-(2 ** -17), '30 -8192'],
      [2 ** -30, '30 1'], [1.5 * 2 ** -31, '30 1'], [2 ** -31, '-1 0'], [2 ** -48, '-1 0'], [5e-324, '-1 0'], [-2.2e-308, '-1 0'],
      [3 * 2 ** 20, '0 3145728'], [(2 ** 14) * 1.25, '0 20480'], [(2 ** 14) + 0.5, '0 16384'], [(2 ** 14) + 1.5, '0 16386'],
      [1e10, '0 2147483647'], [-1e10, '0 -2147483647'], [0, '-1 0'], [-0, '-1 0'], [Infinity, '-1 0'], [NaN, '-1 0'],
      [(1 + 2 ** -15 + 2 ** -16) * 2 ** -3, '17 16385'], // f 2^17 = 16384.75 -> 16385
    ];
    expect(check(cases.map(([f]) => `factor ${f}`))).toEqual(cases.map((c) => c[1]));
  });

  it('the change sat16(rshift(mu * E, sf, rounding, rnd)) in int64: each rounding, sat16, and (the primitive; the kernel stops at 30) shifts past 32', () => {
    const N = 0, F = 1, S = 2;
    const cases: [number, number, number, number, number, number][] = [
      [16384, 3, 14, N, 0, 3], [1, 3, 1, N, 0, 2], [1, 5, 1, N, 0, 2], [1, -3, 1, N, 0, -2], [1, -3, 1, F, 0, -2], [1, 3, 1, F, 0, 1],
      [1, 1, 1, S, 1, 1], [1, 1, 1, S, 0, 0], [1, 1, 2, S, 2, 0], [1, 1, 2, S, 3, 1],
      [2 ** 31 - 1, 2 ** 31 - 1, 0, N, 0, 32767], [2 ** 31 - 1, -I31, 0, F, 0, -32768],
      [2 ** 31 - 1, 2 ** 31 - 1, 62, N, 0, 1], // (2^31-1)^2 / 2^62 = 0.99999999953
      [16384, 2 ** 20, 40, S, 0xffffffff, 0], // the mask at sf >= 32 is 2^32 - 1: (2^34 + 2^32 - 1) >> 40 = 0
      [16384, 2 ** 26 - 2 ** 18, 40, S, 0xffffffff, 0], // (2^40 - 2^32 + 2^32 - 1) >> 40 = 0
      [16384, 2 ** 26 - 2 ** 18 + 1, 40, S, 0xffffffff, 1], // (2^40 + 2^14 - 1) >> 40 = 1
      [2 ** 14, 2 ** 26, 40, F, 0, 1], [2 ** 14, 2 ** 26 - 1, 40, F, 0, 0], [-(2 ** 14), 1, 40, F, 0, -1],
    ];
    expect(check(cases.map(([mu, e, sf, mode, rnd]) => `change ${mu} ${e} ${sf} ${mode} ${rnd}`)).map(Number)).toEqual(cases.map((c) => c[5]));
  });
});

// Fixed-point primitives of the kernel against exact BigInt references (docs/kernel.md).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { instantiateKernel } from '../src/device/wasm.js';
import { packFormat } from '../src/device/config.js';
import { applyOverflow, formatName, parseFormatName, toQ, validateFormat, ConfigError } from '../src/format/fixed.js';
import type { FixedFormat } from '../src/format/fixed.js';

const k = instantiateKernel('simd');
const MODE = { nearest: 0, floor: 1, stochastic: 2 } as const;

function refRshift(x: bigint, s: number, mode: keyof typeof MODE, rnd: number): bigint {
  if (s <= 0) return x << BigInt(-s);
  const S = BigInt(s);
  if (mode === 'floor') return x >> S;
  if (mode === 'stochastic') {
    const mask = s >= 32 ? 0xffffffffn : (1n << S) - 1n;
    return (x + (BigInt(rnd >>> 0) & mask)) >> S;
  }
  const q = x >> S;
  const rem = x - (q << S);
  const half = 1n << (S - 1n);
  return rem > half || (rem === half && (q & 1n) === 1n) ? q + 1n : q;
}

function refOvf(x: bigint, f: FixedFormat): bigint {
  const min = f.signed ? -(1n << BigInt(f.bits - 1)) : 0n;
  const max = f.signed ? (1n << BigInt(f.bits - 1)) - 1n : (1n << BigInt(f.bits)) - 1n;
  if (x >= min && x <= max) return x;
  if (f.overflow === 'sat') return x < min ? min : max;
  return f.signed ? BigInt.asIntN(f.bits, x) : BigInt.asUintN(f.bits, x);
}

const arbFormat = fc.record({
  bits: fc.integer({ min: 2, max: 16 }),
  signed: fc.boolean(),
  overflow: fc.constantFrom('sat' as const, 'wrap' as const),
}).map(({ bits, signed, overflow }): FixedFormat => ({ bits, frac: 0, signed, rounding: 'nearest', overflow }));

describe('overflow (saturate, wrap) at every width 2..16', () => {
  it('matches the exact reference', () => {
    fc.assert(
      fc.property(arbFormat, fc.bigInt({ min: -(1n << 40n), max: 1n << 40n }), (f, x) => {
        expect(k.testOvf(x, packFormat(f))).toBe(refOvf(x, f));
      }),
      { numRuns: 5000 },
    );
  });
  it('covers both edges of each width exhaustively', () => {
    for (let bits = 2; bits <= 16; bits++)
      for (const signed of [true, false])
        for (const overflow of ['sat', 'wrap'] as const) {
          const f: FixedFormat = { bits, frac: 0, signed, rounding: 'nearest', overflow };
          const lo = signed ? -(1n << BigInt(bits - 1)) : 0n;
          const hi = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
          for (const x of [lo - 2n, lo - 1n, lo, lo + 1n, hi - 1n, hi, hi + 1n, hi + 2n])
            expect(k.testOvf(x, packFormat(f))).toBe(refOvf(x, f));
        }
  });
  it('host-side applyOverflow agrees with the kernel', () => {
    fc.assert(
      fc.property(arbFormat, fc.integer({ min: -(2 ** 30), max: 2 ** 30 }), (f, x) => {
        expect(BigInt(applyOverflow(x, f))).toBe(refOvf(BigInt(x), f));
      }),
    );
  });
});

describe('rounding shifts', () => {
  for (const mode of ['nearest', 'floor', 'stochastic'] as const) {
    it(`${mode} matches the exact reference`, () => {
      fc.assert(
        fc.property(
          fc.bigInt({ min: -(1n << 40n), max: 1n << 40n }),
          fc.integer({ min: -8, max: 30 }),
          fc.integer({ min: 0, max: 0xffffffff }),
          (x, s, rnd) => {
            expect(k.testRshift(x, s, MODE[mode], rnd)).toBe(refRshift(x, s, mode, rnd));
          },
        ),
        { numRuns: 5000 },
      );
    });
  }
  it('nearest rounds ties to even', () => {
    const r = (x: number) => Number(k.testRshift(BigInt(x), 1, 0, 0));
    expect([r(1), r(3), r(5), r(7), r(-1), r(-3), r(-5)]).toEqual([0, 2, 2, 4, 0, -2, -2]);
  });
  it('stochastic rounding with the kernel generator is unbiased (100k samples, within 3 standard errors)', () => {
    const n = 100_000;
    for (const s of [1, 4, 9]) {
      let sum = 0;
      let sumSq = 0;
      const key = Number(k.testKey(42n, 16n, BigInt(s), 0n) & 0xffffffffn);
      for (let i = 0; i < n; i++) {
        const x = ((i * 2654435761) % 100003) - 50000; // spread of residues
        const rnd = k.testLowbias32((key ^ i) >>> 0);
        const err = Number(k.testRshift(BigInt(x), s, 2, rnd)) - x / 2 ** s;
        sum += err;
        sumSq += err * err;
      }
      const mean = sum / n;
      const se = Math.sqrt((sumSq / n - mean * mean) / n);
      expect(Math.abs(mean)).toBeLessThan(3 * se);
    }
  });
});

describe('format names and host quantisation', () => {
  it('parses and prints Qm.n / UQm.n', () => {
    const f = parseFormatName('Q3.12', 'formats.pre');
    expect(f).toMatchObject({ bits: 16, frac: 12, signed: true });
    expect(formatName(f)).toBe('Q3.12');
    expect(formatName(parseFormatName('UQ0.8', 'x'))).toBe('UQ0.8');
  });
  it('names the field and the allowed range for an impossible format', () => {
    expect(() => validateFormat({ bits: 17, frac: 0, signed: true, rounding: 'nearest', overflow: 'sat' }, 'formats.weight')).toThrow(/formats\.weight\.bits: 17 is out of range; allowed 2\.\.16/);
    expect(() => validateFormat({ bits: 8, frac: 9, signed: true, rounding: 'nearest', overflow: 'sat' }, 'formats.weight')).toThrow(/formats\.weight\.frac: 9 is out of range .* allowed 0\.\.7/);
    expect(() => parseFormatName('Q16.3', 'formats.pre')).toThrow(ConfigError);
  });
  it('toQ rounds to nearest even and saturates', () => {
    const f = { bits: 8, frac: 4, signed: true, overflow: 'sat' as const };
    expect(toQ(0.03125, f)).toBe(0); // 0.5 LSB -> even
    expect(toQ(0.09375, f)).toBe(2); // 1.5 LSB -> even
    expect(toQ(100, f)).toBe(127);
    expect(toQ(-100, f)).toBe(-128);
    expect(() => toQ(NaN, f, 'inputs[3]')).toThrow(/inputs\[3\]: is NaN/);
  });
});

describe('saturatingQuantiser', () => {
  it('equals toQ with saturation for any finite value', async () => {
    const { saturatingQuantiser } = await import('../src/format/fixed.js');
    fc.assert(
      fc.property(arbFormat, fc.integer({ min: 0, max: 15 }), fc.double({ noNaN: true, min: -1e6, max: 1e6 }), (f0, frac, x) => {
        const f = { ...f0, frac: Math.min(frac, f0.signed ? f0.bits - 1 : f0.bits), overflow: 'sat' as const };
        expect(saturatingQuantiser(f)(x) === toQ(x, f)).toBe(true); // (-0 and 0 are the same code)
      }),
      { numRuns: 5000 },
    );
    const f = { bits: 8, frac: 1, signed: true, overflow: 'sat' as const };
    for (const x of [0.25, 0.75, -0.25, -0.75, 1.25]) expect(saturatingQuantiser(f)(x)).toBe(toQ(x, f));
  });
});

// Random chip configurations for the bit-exactness properties (SIMD = scalar in
// test/emulator.test.ts, C firmware core = emulator in test/firmware.test.ts): one
// description of the space, so both properties cover the same one.
import fc from 'fast-check';
import { defaultChipFormats } from '../src/device/config.js';
import type { DeviceConfig } from '../src/device/types.js';
import type { Rounding } from '../src/format/fixed.js';

const roundings = fc.constantFrom<Rounding>('nearest', 'floor', 'stochastic');

/** Topology (I, H, O, B), weight and activity bits, roundings, overflow, activation, mismatch and seed; `bits` overrides how the bit widths are drawn. */
export function arbChipConfig(bits?: { wb: fc.Arbitrary<number>; ab: fc.Arbitrary<number> }) {
  return fc.record({
    I: fc.integer({ min: 1, max: 11 }),
    H: fc.integer({ min: 1, max: 37 }),
    O: fc.integer({ min: 1, max: 4 }),
    B: fc.integer({ min: 1, max: 5 }),
    wb: bits?.wb ?? fc.integer({ min: 3, max: 16 }),
    ab: bits?.ab ?? fc.integer({ min: 5, max: 16 }),
    rounding: roundings,
    forward: roundings,
    overflow: fc.constantFrom('sat' as const, 'wrap' as const),
    act: fc.constantFrom('tanh' as const, 'hardtanh' as const, 'linear' as const),
    mismatch: fc.boolean(),
    seed: fc.integer({ min: 0, max: 0xffffffff }),
  });
}

export type ChipConfigDraw = ReturnType<typeof arbChipConfig> extends fc.Arbitrary<infer T> ? T : never;

/** The DeviceConfig of a draw: noise 0.02 on both layers, chunks of at most 5 steps. */
export function chipConfigOf(c: ChipConfigDraw): DeviceConfig {
  return {
    topology: { inputs: c.I, hidden: c.H, outputs: c.O, batch: c.B, activation: c.act },
    formats: defaultChipFormats({ weightBits: c.wb, activityBits: c.ab, rounding: c.rounding, forwardRounding: c.forward, overflow: c.overflow }),
    noise: { hiddenSigma: 0.02, outputSigma: 0.02 },
    mismatch: c.mismatch ? { gainSpread: 0.1, offsetSpread: 0.05, seed: (c.seed ^ 1) >>> 0 } : undefined,
    seed: c.seed,
    maxChunkSteps: 5,
  };
}

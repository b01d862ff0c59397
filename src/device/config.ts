/**
 * Checking a DeviceConfig before any device sees it, and the default chip formats.
 * Every error names the field, the value and the allowed range.
 */
import { ConfigError, FORMAT_BITS, validateFormat, ROUNDING_CODE, OVERFLOW_CODE, q } from '../format/fixed.js';
import type { FixedFormat, Rounding, Overflow } from '../format/fixed.js';
import { traceFormats, traceLsb } from '../format/trace.js';
import type { ChipFormats, DeviceConfig, DeviceInfo, LearnerConfig, TraceKind } from './types.js';

export const ACTIVATION_CODE = { tanh: 0, hardtanh: 1, linear: 2 } as const;

/** Limits of the kernel's noise generator (docs/kernel.md): sigma in LSBs. */
export const MAX_SIGMA_LSB = 4096;

function intIn(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new ConfigError(field, `${String(value)} is out of range; allowed integers ${min}..${max}`);
  return value;
}

function realIn(value: unknown, field: string, min: number, max: number, unit: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max)
    throw new ConfigError(field, `${String(value)} is out of range; allowed ${min}..${max} ${unit}`);
  return value;
}

/**
 * Validate the parts every device shares (topology against the device's limits,
 * noise, seed, chunk size). Fixed-point devices also call validateChipFormats.
 */
export function validateConfig(config: DeviceConfig, limits: Pick<DeviceInfo, 'maxInputs' | 'maxHidden' | 'maxOutputs' | 'maxBatch' | 'maxChunkSteps'>): void {
  if (!config || typeof config !== 'object') throw new ConfigError('config', 'missing configuration object');
  const t = config.topology;
  if (!t) throw new ConfigError('topology', 'missing {inputs, hidden, outputs, batch, activation}');
  intIn(t.inputs, 'topology.inputs', 1, limits.maxInputs);
  intIn(t.hidden, 'topology.hidden', 1, limits.maxHidden);
  intIn(t.outputs, 'topology.outputs', 1, limits.maxOutputs);
  intIn(t.batch, 'topology.batch', 1, limits.maxBatch);
  if (!(t.activation in ACTIVATION_CODE))
    throw new ConfigError('topology.activation', `"${t.activation}" is not an activation; use tanh, hardtanh or linear`);
  if (t.bias !== undefined && typeof t.bias !== 'boolean') throw new ConfigError('topology.bias', `${String(t.bias)} is not a boolean; use true (biases b, c) or false`);
  intIn(config.maxChunkSteps, 'maxChunkSteps', 1, limits.maxChunkSteps);
  intIn(config.seed, 'seed', 0, 0xffffffff);
  if (!config.noise) throw new ConfigError('noise', 'missing {hiddenSigma, outputSigma}');
  realIn(config.noise.hiddenSigma, 'noise.hiddenSigma', 0, 1e6, '(real units)');
  realIn(config.noise.outputSigma, 'noise.outputSigma', 0, 1e6, '(real units)');
  if (config.learner !== undefined) validateLearner(config.learner);
  if (config.mismatch) {
    realIn(config.mismatch.gainSpread, 'mismatch.gainSpread', 0, 0.5, '(relative std)');
    realIn(config.mismatch.offsetSpread, 'mismatch.offsetSpread', 0, 1e6, '(real units)');
    intIn(config.mismatch.seed, 'mismatch.seed', 0, 0xffffffff);
  }
}

export const TRACE_KINDS = ['none', 'activity', 'innovation'] as const;

/** Check a learner (trace kind, decay 0 <= decay < 1). */
export function validateLearner(l: LearnerConfig): void {
  if (!l || typeof l !== 'object') throw new ConfigError('learner', 'expected {trace, decay}');
  if (!(TRACE_KINDS as readonly string[]).includes(l.trace)) throw new ConfigError('learner.trace', `"${String(l.trace)}" is not a trace; use ${TRACE_KINDS.join(', ')}`);
  if (typeof l.decay !== 'number' || !(l.decay >= 0 && l.decay < 1)) throw new ConfigError('learner.decay', `${String(l.decay)} is out of range; allowed 0 <= decay < 1`);
}

/** Kernel and wire codes of the trace kinds (assembly/trace.ts TRACE_*, proto TraceKind). */
export const TRACE_CODE: Record<TraceKind, number> = { none: 0, activity: 1, innovation: 2 };

/** The code formats of the trace tensors E_W, E_R, e_b (int32 codes; one code's real value 2^-frac is traceLsb's). */
export interface TraceCodeFormats {
  w: FixedFormat;
  r: FixedFormat;
  b: FixedFormat;
}

/**
 * The trace code formats of a chip configured with a learner trace (undefined without
 * one): 32-bit signed codes whose LSB is the real value of one trace code, from the
 * sizes, formats, hidden sigma and decay (src/format/trace.ts). The emulator, the golden
 * vectors and the link's trace tensors all read and write traces through them.
 */
export function traceCodeFormats(c: Pick<DeviceConfig, 'topology' | 'noise' | 'learner'> & { formats: ChipFormats }): TraceCodeFormats | undefined {
  const l = c.learner, f = c.formats;
  if (!l || l.trace === 'none') return undefined;
  const lsb = traceLsb(traceFormats(c.topology.hidden, c.noise.hiddenSigma * 2 ** f.pre.frac, l.decay, f.input, f.activity), f.pre, f.input, f.activity);
  const int32 = (one: number): FixedFormat => ({ bits: 32, frac: -Math.log2(one), signed: true, rounding: 'nearest', overflow: 'sat' });
  return { w: int32(lsb.w), r: int32(lsb.r), b: int32(lsb.b) };
}

/** Devices without bias registers refuse topology.bias true, before anything is configured. */
export function refuseBias(config: DeviceConfig, device: string): void {
  if (config.topology?.bias === true) throw new ConfigError('topology.bias', `true is not available on the ${device} (it has no biases); use bias false or the float backend`);
}

/** Validate the five formats and the noise in LSBs of a fixed-point device. */
export function validateChipFormats(config: DeviceConfig): ChipFormats {
  const f = config.formats;
  if (!f) throw new ConfigError('formats', 'a fixed-point device needs formats {input, weight, pre, activity, output}; see defaultChipFormats()');
  for (const name of ['input', 'weight', 'pre', 'activity', 'output'] as const) validateFormat(f[name], `formats.${name}`);
  for (const name of ['weight', 'pre', 'output'] as const)
    if (!f[name].signed) throw new ConfigError(`formats.${name}.signed`, 'must be signed (true): these quantities take both signs');
  if (!f.input.signed && f.input.frac > 15) throw new ConfigError('formats.input.frac', `${f.input.frac} too large for the 16-bit input lanes; allowed 0..15`);
  if (!f.activity.signed && f.activity.bits > 15) throw new ConfigError('formats.activity.bits', `${f.activity.bits} unsigned bits do not fit the 16-bit signed activity lanes; allowed 2..15 when unsigned`);
  if (!f.input.signed && f.input.bits > 15) throw new ConfigError('formats.input.bits', `${f.input.bits} unsigned bits do not fit the 16-bit signed input lanes; allowed 2..15 when unsigned`);
  const hiddenLsb = config.noise.hiddenSigma * 2 ** f.pre.frac;
  const outputLsb = config.noise.outputSigma * 2 ** f.output.frac;
  if (hiddenLsb > MAX_SIGMA_LSB)
    throw new ConfigError('noise.hiddenSigma', `${config.noise.hiddenSigma} is ${hiddenLsb} LSBs of formats.pre; allowed up to ${MAX_SIGMA_LSB} LSBs (${MAX_SIGMA_LSB * 2 ** -f.pre.frac})`);
  if (outputLsb > MAX_SIGMA_LSB)
    throw new ConfigError('noise.outputSigma', `${config.noise.outputSigma} is ${outputLsb} LSBs of formats.output; allowed up to ${MAX_SIGMA_LSB} LSBs`);
  if (config.mismatch && config.mismatch.offsetSpread * 2 ** f.pre.frac > MAX_SIGMA_LSB)
    throw new ConfigError('mismatch.offsetSpread', `${config.mismatch.offsetSpread} exceeds ${MAX_SIGMA_LSB} LSBs of formats.pre`);
  return f;
}

/** Packed format word of the kernel ABI: bits | frac<<8 | signed<<16 | rounding<<17 | wrap<<19. */
export function packFormat(f: FixedFormat): number {
  return f.bits | (f.frac << 8) | ((f.signed ? 1 : 0) << 16) | (ROUNDING_CODE[f.rounding] << 17) | (OVERFLOW_CODE[f.overflow] << 19);
}

export interface FormatOptions {
  /** Weight bits, 2..16 (default 16). */
  weightBits?: number;
  /** Bits of activity, pre-activation, inputs and outputs, 4..16 (default 16). */
  activityBits?: number;
  /** Rounding of weight updates (default stochastic below 12 weight bits, else nearest). */
  rounding?: Rounding;
  /** Rounding of the forward pass (default nearest). */
  forwardRounding?: Rounding;
  overflow?: Overflow;
}

/**
 * The default formats for given bit widths. Ranges: weights ±4 (Q2.n; ±2, Q1.n, below
 * 12 bits, where resolution matters more than range), activity
 * ±1 (Q0.n), inputs ±4 (Q2.n), pre-activations and outputs ±8 (Q3.n). With these the
 * 32-bit accumulator holds ±8 at 16 bits (weight frac + activity frac = 28).
 */
export function defaultChipFormats(opts: FormatOptions = {}): ChipFormats {
  const wb = opts.weightBits ?? 16;
  const ab = opts.activityBits ?? 16;
  if (!Number.isInteger(wb) || wb < FORMAT_BITS.min || wb > FORMAT_BITS.max) throw new ConfigError('weightBits', `${wb} is out of range; allowed ${FORMAT_BITS.min}..${FORMAT_BITS.max}`);
  if (!Number.isInteger(ab) || ab < 5 || ab > 16) throw new ConfigError('activityBits', `${ab} is out of range; allowed 5..16`);
  const upd = opts.rounding ?? (wb < 12 ? 'stochastic' : 'nearest');
  const fwd = opts.forwardRounding ?? 'nearest';
  const ovf = opts.overflow ?? 'sat';
  return {
    input: q(2, ab - 3, 'nearest', 'sat'),
    weight: wb >= 12 ? q(2, wb - 3, upd, ovf) : q(1, wb - 2, upd, ovf),
    pre: q(3, ab - 4, fwd, ovf),
    activity: q(0, ab - 1, fwd, ovf),
    output: q(3, ab - 4, fwd, ovf),
  };
}

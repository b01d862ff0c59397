/**
 * The converter between the Device interface (real values in Float64Arrays, formats
 * by name) and the wire (integer codes, formats as enum numbers). Used by both ends:
 * serial-device.ts (host) and device-server.ts (device side).
 *
 * code = value * 2^frac. A fixed-point device's values are exact multiples of their
 * LSB, so the conversion is exact both ways; other values are rounded to nearest (ties
 * to even) and then saturate or wrap as the format says (toQ in src/format/fixed.ts).
 */

import type { Activation as ActivationName, ChipFormats, DeviceConfig, Topology as DeviceTopology } from '../device/types.js';
import { DeviceError } from '../device/errors.js';
import { ConfigError, OVERFLOW_CODE, ROUNDING_CODE, saturatingQuantiser, toQ, type FixedFormat as DeviceFormat, type Overflow, type Rounding } from '../format/fixed.js';
import { TRACE_CODE, type TraceCodeFormats } from '../device/config.js';
import * as pb from './messages.js';

const ROUNDING_BY_CODE = invert(ROUNDING_CODE);
const OVERFLOW_BY_CODE = invert(OVERFLOW_CODE);
const ACTIVATION_CODE: Record<ActivationName, pb.Activation> = { tanh: pb.Activation.TANH, hardtanh: pb.Activation.HARDTANH, linear: pb.Activation.LINEAR };
const ACTIVATION_BY_CODE = invert(ACTIVATION_CODE);
const TRACE_BY_CODE = invert(TRACE_CODE); // the proto's TraceKind values

/** Does a configuration's learner keep eligibility traces (a trace but 'none')? */
export function hasTraces(c: Pick<DeviceConfig, 'learner'>): boolean {
  return (c.learner?.trace ?? 'none') !== 'none';
}

function invert<K extends string>(m: Record<K, number>): Record<number, K> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [v, k])) as Record<number, K>;
}

/** Format by name -> wire format. */
export function formatToWire(f: DeviceFormat): pb.FixedFormat {
  return { bits: f.bits, frac: f.frac, signed: f.signed, rounding: ROUNDING_CODE[f.rounding] as pb.Rounding, overflow: OVERFLOW_CODE[f.overflow] as pb.Overflow };
}

/** Wire format -> format by name; ConfigError naming `field` if absent. Ranges are the device's to check. */
export function formatFromWire(f: pb.FixedFormat | undefined, field: string): DeviceFormat {
  if (!f) throw new ConfigError(field, 'missing; every format (input, weight, pre, activity, output) must be sent');
  const rounding: Rounding | undefined = ROUNDING_BY_CODE[f.rounding];
  const overflow: Overflow | undefined = OVERFLOW_BY_CODE[f.overflow];
  if (!rounding) throw new ConfigError(`${field}.rounding`, `${f.rounding} is not a rounding code`);
  if (!overflow) throw new ConfigError(`${field}.overflow`, `${f.overflow} is not an overflow code`);
  return { bits: f.bits, frac: f.frac, signed: f.signed, rounding, overflow };
}

/**
 * A DeviceConfig as a Configure message. A device behind a link exchanges codes, so
 * formats are required (ConfigError otherwise).
 */
export function configToWire(c: DeviceConfig): pb.Configure {
  if (!c.formats) throw new ConfigError('formats', 'a device behind a link needs fixed-point formats (input, weight, pre, activity, output)');
  const f = c.formats;
  const out: pb.Configure = {
    topology: { ...c.topology, activation: ACTIVATION_CODE[c.topology.activation] ?? pb.Activation.UNSPECIFIED, bias: c.topology.bias === true },
    formats: { input: formatToWire(f.input), weight: formatToWire(f.weight), pre: formatToWire(f.pre), activity: formatToWire(f.activity), output: formatToWire(f.output) },
    noise: { hiddenSigma: c.noise.hiddenSigma, outputSigma: c.noise.outputSigma },
    seed: c.seed,
    maxChunkSteps: c.maxChunkSteps,
  };
  if (c.mismatch) out.mismatch = { ...c.mismatch };
  if (hasTraces(c)) out.learner = { trace: TRACE_CODE[c.learner!.trace] as pb.TraceKind, decay: c.learner!.decay }; // absent = TRACE_NONE
  return out;
}

/** A Configure message as a DeviceConfig (field names in errors are proto paths). */
export function configFromWire(c: pb.Configure): DeviceConfig & { formats: ChipFormats } {
  const t = c.topology;
  if (!t) throw new ConfigError('configure.topology', 'missing');
  const activation = ACTIVATION_BY_CODE[t.activation];
  if (!activation) throw new ConfigError('configure.topology.activation', `${t.activation} is not an activation; use TANH, HARDTANH or LINEAR`);
  const topology: DeviceTopology = { inputs: t.inputs, hidden: t.hidden, outputs: t.outputs, batch: t.batch, activation };
  if (t.bias) topology.bias = true;
  const f = c.formats;
  if (!f) throw new ConfigError('configure.formats', 'missing');
  const formats: ChipFormats = {
    input: formatFromWire(f.input, 'configure.formats.input'),
    weight: formatFromWire(f.weight, 'configure.formats.weight'),
    pre: formatFromWire(f.pre, 'configure.formats.pre'),
    activity: formatFromWire(f.activity, 'configure.formats.activity'),
    output: formatFromWire(f.output, 'configure.formats.output'),
  };
  if (!c.noise) throw new ConfigError('configure.noise', 'missing');
  const cfg: DeviceConfig & { formats: ChipFormats } = {
    topology,
    formats,
    noise: { hiddenSigma: c.noise.hiddenSigma, outputSigma: c.noise.outputSigma },
    seed: c.seed,
    maxChunkSteps: c.maxChunkSteps,
  };
  if (c.mismatch) cfg.mismatch = { ...c.mismatch };
  if (c.learner && c.learner.trace !== pb.TraceKind.NONE) {
    const trace = TRACE_BY_CODE[c.learner.trace];
    if (!trace) throw new ConfigError('configure.learner.trace', `${c.learner.trace} is not a trace; use TRACE_NONE, TRACE_ACTIVITY or TRACE_INNOVATION`);
    cfg.learner = { trace, decay: c.learner.decay };
  }
  return cfg;
}


/**
 * Real values -> codes the way a fixed-point Device quantises what it is given (the
 * Device contract, src/device/types.ts): round to nearest even, then saturate, whatever
 * the format's overflow mode (that mode is for results computed on the chip). NaN is
 * refused with BAD_INPUT naming the index; with `finiteOnly` (parameters, states) so
 * is +-Infinity, as the emulator does.
 */
export function deviceCodes(values: Float64Array, f: DeviceFormat, field: string, finiteOnly: boolean): Int32Array {
  const quantise = saturatingQuantiser(f);
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== v || (finiteOnly && !Number.isFinite(v)))
      throw new DeviceError('BAD_INPUT', `${field}[${i}] is ${v}; ${finiteOnly ? 'values must be finite' : 'clean the data before sending it'} — nothing was sent`);
    out[i] = quantise(v);
  }
  return out;
}

/** Real values -> codes of a format (round to nearest even, then the format's overflow). */
export function valuesToCodes(values: Float64Array, f: DeviceFormat, field: string): Int32Array {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toQ(values[i], f, field);
  return out;
}

/**
 * Real values -> codes, refusing any value that is not exactly a code of the format
 * (throws RangeError naming the field and index). For serving a bit-exact device
 * (the emulator), where an inexact value means a bug, not a rounding to do.
 */
export function exactValuesToCodes(values: Float64Array, f: DeviceFormat, field: string): Int32Array {
  const out = new Int32Array(values.length);
  const scale = 2 ** f.frac;
  for (let i = 0; i < values.length; i++) {
    const c = values[i] * scale;
    const code = toQ(values[i], f, field);
    if (c !== code) throw new RangeError(`${field}[${i}] = ${values[i]} is not a code of ${f.signed ? 'Q' : 'UQ'}${f.bits - f.frac - (f.signed ? 1 : 0)}.${f.frac}`);
    out[i] = code;
  }
  return out;
}

/** How a device server turns wire codes into Device values and back. */
export interface CodeConverter {
  toValues(codes: Int32Array, f: DeviceFormat): Float64Array;
  toCodes(values: Float64Array, f: DeviceFormat, field: string): Int32Array;
}

/** Rounds values that are not codes (any Device, e.g. the float model). */
export const ROUNDING_CONVERTER: CodeConverter = { toValues: codesToValues, toCodes: valuesToCodes };
/** Refuses values that are not codes (bit-exact devices: the emulator). */
export const EXACT_CONVERTER: CodeConverter = { toValues: codesToValues, toCodes: exactValuesToCodes };

/** Codes -> real values (exact: code * 2^-frac). */
export function codesToValues(codes: Int32Array, f: Pick<DeviceFormat, 'frac'>): Float64Array {
  const out = new Float64Array(codes.length);
  const lsb = 2 ** -f.frac;
  for (let i = 0; i < codes.length; i++) out[i] = codes[i] * lsb;
  return out;
}

/** A trace tensor's name in tensorShape: the key of RecurrentState.eligibility it holds. */
export type TraceTensorName = 'eligibility.w' | 'eligibility.r' | 'eligibility.b';

/**
 * Which tensor, its length for a topology, and the format its codes use; undefined for
 * a tensor the configuration does not have (the biases without topology.bias, the
 * traces without `traces`, traceCodeFormats of a learner with a trace).
 */
export function tensorShape(
  tensor: pb.Tensor, t: Pick<DeviceTopology, 'inputs' | 'hidden' | 'outputs' | 'batch' | 'bias'>, f: ChipFormats, traces?: TraceCodeFormats,
): { length: number; format: DeviceFormat; name: string } | undefined {
  switch (tensor) {
    case pb.Tensor.W:
      return { length: t.hidden * t.inputs, format: f.weight, name: 'w' };
    case pb.Tensor.R:
      return { length: t.hidden * t.hidden, format: f.weight, name: 'r' };
    case pb.Tensor.V:
      return { length: t.outputs * t.hidden, format: f.weight, name: 'v' };
    case pb.Tensor.STATE_CLEAN:
      return { length: t.batch * t.hidden, format: f.activity, name: 'clean' };
    case pb.Tensor.STATE_NOISY:
      return { length: t.batch * t.hidden, format: f.activity, name: 'noisy' };
    case pb.Tensor.BIAS_HIDDEN: // only with biases
      return t.bias ? { length: t.hidden, format: f.pre, name: 'b' } : undefined;
    case pb.Tensor.BIAS_OUTPUT:
      return t.bias ? { length: t.outputs, format: f.output, name: 'c' } : undefined;
    case pb.Tensor.TRACE_W: // only with a learner trace
      return traces ? { length: t.hidden * t.inputs, format: traces.w, name: 'eligibility.w' } : undefined;
    case pb.Tensor.TRACE_R:
      return traces ? { length: t.hidden * t.hidden, format: traces.r, name: 'eligibility.r' } : undefined;
    case pb.Tensor.TRACE_BIAS: // and biases
      return traces && t.bias ? { length: t.hidden, format: traces.b, name: 'eligibility.b' } : undefined;
    default:
      return undefined;
  }
}

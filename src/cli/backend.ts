/**
 * The device a command talks to: the float model (and its NP/WP variants) or the
 * bit-exact emulator, with the fixed-point formats the format flags ask for.
 */
import type { Command } from 'commander';
import { defaultChipFormats } from '../device/config.js';
import { AUTO_THREADS_MIN_HB, EmulatorDevice, type EmulatorThreads } from '../device/emulator.js';
import type { ChipFormats, Device, MismatchConfig, Topology, LearnerConfig } from '../device/types.js';
import { FORMAT_BITS, formatName, OVERFLOWS, ROUNDINGS, type FixedFormat } from '../format/fixed.js';
import { NpFloatDevice } from '../learn/np.js';
import { WpFloatDevice } from '../learn/wp.js';
import { FloatDevice } from '../model/float-device.js';
import { FLOAT_AUTO_THREADS_MIN_HB, type FloatThreads } from '../model/float-threads.js';
import { FLOAT_ONLY, type Algo, type Backend } from './defaults.js';
import { UsageError } from './errors.js';
import { choice, positiveInt, refuse } from './options.js';
import { ResilientDevice } from '../link/resilient-device.js';
import { SerialDevice } from '../link/serial-device.js';
import { DEFAULT_BAUD, parseLinkUrl } from '../link/transport.js';
import type { LinkSettings } from './link-options.js';

/** Format flags as commander returns them. */
export interface FormatFlags {
  weightBits?: string;
  activityBits?: string;
  rounding?: string;
  overflow?: string;
}

/**
 * Declare the emulator's format flags on a command. Where their defaults come from:
 * 'train' the values below; 'eval' the run's saved formats (float-trained weights: the
 * values below); 'pull' the values below too (a board does not report its formats, so
 * give the ones it was configured with).
 */
export function addFormatOptions(cmd: Command, defaults: 'train' | 'eval' | 'pull' = 'train'): Command {
  const dflt = (value: string) => defaults === 'train' ? `default ${value}`
    : defaults === 'eval' ? `default: the run's formats; for float-trained weights ${value}`
    : `default ${value}; give the formats the board was configured with`;
  return cmd
    .option('--weight-bits <n>', `emulator: weight bits, ${FORMAT_BITS.min}..${FORMAT_BITS.max} (${dflt('16')})`)
    .option('--activity-bits <n>', `emulator: bits of activity, pre-activations, inputs and outputs, 5..16 (${dflt('16')})`)
    .option('--rounding <mode>', `emulator: rounding of weight updates: ${ROUNDINGS.join(' | ')} (${dflt('stochastic below 12 weight bits, else nearest')})`)
    .option('--overflow <mode>', `emulator: ${OVERFLOWS.join(' | ')} (${dflt('sat')})`);
}

/**
 * The chip formats for the emulator (undefined on the float model, which refuses the
 * format flags). With no format flag and `saved` formats (eval), the saved ones.
 */
export function resolveFormats(backend: Backend, f: FormatFlags, saved?: ChipFormats): ChipFormats | undefined {
  const given = f.weightBits !== undefined || f.activityBits !== undefined || f.rounding !== undefined || f.overflow !== undefined;
  if (backend === 'float') {
    for (const [flag, raw] of [['--weight-bits', f.weightBits], ['--activity-bits', f.activityBits], ['--rounding', f.rounding], ['--overflow', f.overflow]] as const)
      refuse(flag, raw, 'applies to --backend emulator only (the float model has no fixed-point formats); remove it or add --backend emulator');
    return undefined;
  }
  if (!given && saved) return saved;
  return defaultChipFormats({
    weightBits: positiveInt('--weight-bits', f.weightBits, 16, '8'),
    activityBits: positiveInt('--activity-bits', f.activityBits, 16, '8'),
    rounding: f.rounding === undefined ? undefined : choice('--rounding', f.rounding, ROUNDINGS, 'stochastic'),
    overflow: f.overflow === undefined ? undefined : choice('--overflow', f.overflow, OVERFLOWS, 'sat'),
  });
}

/** Formats with their Q names, for summaries and printing. */
export function describeFormats(f: ChipFormats): Record<keyof ChipFormats, FixedFormat & { name: string }> {
  const out = {} as Record<keyof ChipFormats, FixedFormat & { name: string }>;
  for (const k of ['input', 'weight', 'pre', 'activity', 'output'] as const) out[k] = { name: formatName(f[k]), ...f[k] };
  return out;
}

/** Refuse an algorithm that cannot run on the backend, saying why and what works. */
export function checkAlgoBackend(algo: Algo, backend: Backend): void {
  const why = FLOAT_ONLY[algo];
  if (backend !== 'float' && why)
    throw new UsageError(`--algo ${algo} needs --backend float: ${why}; use --backend float, or --algo anpt (or reservoir) on the ${backend === 'device' ? 'device' : 'emulator'}`);
}

/** --threads of train and sweep: the help line. */
export const THREADS_HELP = `emulator and float model: cores for one run, 1 | 2 | auto (default auto; auto gives the emulator 2 when hidden x batch >= ${AUTO_THREADS_MIN_HB} and 2 cores exist; the float model 2 when hidden x batch >= ${FLOAT_AUTO_THREADS_MIN_HB}, 2 cores, the 1-minute load below cores - 0.5 and the process not niced; the same bits either way)`;

/** --threads as given (default auto); refused with a board. */
export function resolveThreads(raw: string | undefined, backend: Backend): EmulatorThreads {
  if (raw === undefined) return 'auto';
  if (backend === 'device') refuse('--threads', raw, `splits the emulator's or the float model's work over cores; the board runs on its own; remove it`);
  if (raw === 'auto') return 'auto';
  if (raw === '1' || raw === '2') return Number(raw) as 1 | 2;
  throw new UsageError(`--threads: '${raw}' is not 1, 2 or auto; e.g. --threads 2`);
}

/** An unconfigured in-process device for an algorithm on a backend (BPTT trains off-device; its model is a FloatDevice). */
export function makeDevice(algo: Algo, backend: Backend, threads: EmulatorThreads | FloatThreads = 1): Device {
  if (backend === 'device') throw new Error('makeDevice: a board is opened with openBoard()');
  if (backend === 'emulator') return new EmulatorDevice({ threads });
  if (algo === 'np') return new NpFloatDevice({ threads });
  if (algo === 'wp') return new WpFloatDevice({ threads });
  return new FloatDevice({ threads });
}

export interface DeviceSetup {
  topology: Topology;
  formats?: ChipFormats;
  /** Noise std, hidden and output, real units. */
  sigma: number;
  /** Output-layer noise std when not sigma (anpt train --output-sigma). */
  outputSigma?: number;
  seed: number;
  maxChunkSteps: number;
  mismatch?: MismatchConfig;
  /** The update rule's eligibility trace (the float model, the emulator, boards announcing Limits.traces). */
  learner?: LearnerConfig;
}

/** Configure a device (ConfigError names the field; errors.ts maps it to the flag). */
export async function configureDevice(device: Device, s: DeviceSetup): Promise<void> {
  await device.configure({
    topology: s.topology,
    formats: s.formats,
    noise: { hiddenSigma: s.sigma, outputSigma: s.outputSigma ?? s.sigma },
    seed: s.seed,
    maxChunkSteps: s.maxChunkSteps,
    mismatch: s.mismatch,
    ...(s.learner ? { learner: s.learner } : {}),
  });
}

/**
 * The link URL from --device, or from --port and --baud (serial shorthand); undefined
 * when neither is given (an in-process backend).
 */
export function resolveDeviceUrl(f: { device?: string; port?: string; baud?: string }): string | undefined {
  if (f.device !== undefined && f.port !== undefined) throw new UsageError('--device and --port name the same thing; give one (e.g. --device serial:///dev/ttyACM0?baud=115200 or --port /dev/ttyACM0 --baud 115200)');
  if (f.device === undefined && f.port === undefined) {
    refuse('--baud', f.baud, 'goes with --port; add --port /dev/ttyACM0 (or use --device serial://...?baud=N)');
    return undefined;
  }
  const url = f.device ?? `serial://${f.port}?baud=${positiveInt('--baud', f.baud, DEFAULT_BAUD, '115200')}`;
  const parsed = parseLinkUrl(url);
  if (parsed.status !== 'OK') throw new UsageError(`${f.device !== undefined ? '--device' : '--port'}: ${parsed.detail}`);
  return url;
}

/** Open a board (or firmware-sim) as a Device that survives resets: checkpoints and a journal (src/link/resilient-device.ts). */
export async function openBoard(url: string, opts: LinkSettings & { checkpointDir?: string; onEvent?: (line: string) => void }): Promise<ResilientDevice> {
  return ResilientDevice.open(url, opts);
}

/** Link health of a board for progress lines and summary.json (undefined for in-process devices). */
export function linkHealth(device: Device): Record<string, number> | undefined {
  if (!(device instanceof ResilientDevice)) return undefined;
  const s = device.device instanceof SerialDevice ? device.device.rpc.stats() : undefined;
  return { ...(s ?? {}), ...device.resilience() } as unknown as Record<string, number>;
}

/** One line of link health: frames, CRC errors, retries, timeouts, round-trip times. */
export function linkLine(h: Record<string, number>): string {
  return `link: ${h.framesOut ?? 0}/${h.framesIn ?? 0} frames out/in, ${h.crcErrors ?? 0} CRC errors, ${h.retries ?? 0} retries, ${h.timeouts ?? 0} timeouts, rtt p50 ${(h.rttP50Ms ?? 0).toFixed(2)} ms p95 ${(h.rttP95Ms ?? 0).toFixed(2)} ms, ${h.resetsRecovered ?? 0} resets recovered`;
}

/**
 * Host-side actions on a board, for the command line: list serial ports, describe a
 * device, pull its parameters to a weights file and push them back.
 *
 * Weights files are the ones `anpt train` writes (src/device/weights-file.ts, format
 * anpt-weights/1): topology, chip formats, and W, R, V as row-major nested arrays in
 * real units. A pulled file also records which device it came from.
 *
 * Errors are LinkError / DeviceError (code + one line saying what to do); a weights
 * file that cannot be used is a DeviceError with code BAD_INPUT naming the file.
 */

import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { biasRows, parseWeightsFile, toRows, weightsJson, WEIGHTS_FILE, WEIGHTS_FORMAT, type WeightsFile } from '../device/weights-file.js';
import { defaultChipFormats } from '../device/config.js';
import { DeviceError } from '../device/errors.js';
import type { Activation, ChipFormats, DeviceConfig, Params, Topology } from '../device/types.js';
import { formatName } from '../format/fixed.js';
import * as pb from './messages.js';
import { SerialDevice, type SerialDeviceOptions } from './serial-device.js';
import { LinkError } from './transport.js';

// ---------------------------------------------------------------------------------
// Ports

export interface PortInfo {
  path: string;
  manufacturer?: string;
  serialNumber?: string;
  vendorId?: string;
  productId?: string;
}

export interface PortList {
  ports: PortInfo[];
  /** Set when the list is a fallback (e.g. a directory scan without USB details): say so to the user. */
  note?: string;
}

/** Device names a Linux serial port can have: on-board UARTs, USB-serial bridges, USB CDC-ACM boards. */
const TTY_PATTERN = /^tty(S|USB|ACM)\d+$/;

/**
 * The serial ports of this machine, from serialport's SerialPort.list(). Where that
 * fails (on Linux it runs udevadm, missing in many containers: "spawn udevadm
 * ENOENT"), falls back to scanning /dev/tty{S,USB,ACM}* and says so in `note`.
 * `devDir` and `list` replace /dev and SerialPort.list (for tests).
 */
export async function listPorts(opts: { devDir?: string; list?: () => Promise<PortInfo[]> } = {}): Promise<PortList> {
  let reason: string;
  try {
    const list = opts.list ? await opts.list() : await (await import('serialport')).SerialPort.list();
    return {
      ports: list.map((p) => ({ path: p.path, manufacturer: p.manufacturer, serialNumber: p.serialNumber, vendorId: p.vendorId, productId: p.productId })),
    };
  } catch (e) {
    reason = (e as Error).message;
  }
  const dev = opts.devDir ?? '/dev';
  let names: string[] = [];
  try {
    names = readdirSync(dev).filter((n) => TTY_PATTERN.test(n));
  } catch {
    // no /dev (Windows, macOS without the scan): nothing to fall back on
  }
  const num = (n: string) => Number(/\d+$/.exec(n)![0]);
  names.sort((a, b) => a.replace(/\d+$/, '').localeCompare(b.replace(/\d+$/, '')) || num(a) - num(b));
  const why = /udevadm/.test(reason) ? `${reason}: udevadm is not installed` : reason;
  return {
    ports: names.map((n) => ({ path: join(dev, n) })),
    note: `serialport could not list ports (${why}); scanned ${dev}/tty{S,USB,ACM}* instead, without USB details (ttyS* are often on-board ports with nothing attached)`,
  };
}

// ---------------------------------------------------------------------------------
// Device info

export interface DeviceReport {
  url: string;
  protocolVersion: number;
  firmwareName: string;
  firmwareVersion: string;
  deviceId: string;
  bootCounter: number;
  /** Session id as 8 hex digits. */
  sessionId: string;
  limits: pb.Limits | undefined;
  /** Frame payload limit in force (the smaller of the host's and the device's), bytes. */
  frameLimit: number;
  /** Median round trip of a Stats call, ms. */
  rttMs: number;
  /** Device counters and link health (host side, and the device's as device.*). */
  stats: { steps: number; updates: number; runCalls: number; rewardCalls: number; link: Record<string, number> };
}

/** Open `url`, say Hello, time a few round trips and read the counters. */
export async function deviceInfo(url: string, opts: SerialDeviceOptions = {}): Promise<DeviceReport> {
  const dev = await SerialDevice.open(url, opts);
  try {
    const times: number[] = [];
    let st = await dev.stats();
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      st = await dev.stats();
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    const h = dev.hello;
    return {
      url,
      protocolVersion: h.protocolVersion,
      firmwareName: h.firmwareName,
      firmwareVersion: h.firmwareVersion,
      deviceId: h.deviceId,
      bootCounter: h.bootCounter,
      sessionId: h.sessionId.toString(16).padStart(8, '0'),
      limits: h.limits,
      frameLimit: dev.frameLimit,
      rttMs: times[2],
      stats: { steps: st.steps, updates: st.updates, runCalls: st.runCalls, rewardCalls: st.rewardCalls, link: st.link ?? {} },
    };
  } finally {
    await dev.close();
  }
}

const NOISE_NAMES: Record<number, string> = { [pb.NoiseSource.COUNTER_PRNG]: 'counter PRNG (reproducible, bit-exact with the emulator)', [pb.NoiseSource.PHYSICAL]: 'physical' };

/** A DeviceReport as lines for a terminal. */
export function formatDeviceReport(r: DeviceReport): string[] {
  const l = r.limits;
  const lines = [
    `device      ${r.firmwareName} ${r.firmwareVersion}, id ${r.deviceId}, at ${r.url}`,
    `protocol    ${r.protocolVersion}; boot ${r.bootCounter}, session ${r.sessionId}; frames up to ${r.frameLimit} bytes; round trip ${r.rttMs.toFixed(2)} ms`,
  ];
  if (l) {
    lines.push(
      `limits      inputs ${l.maxInputs}, hidden ${l.maxHidden}, outputs ${l.maxOutputs}, batch ${l.maxBatch}, chunk ${l.maxChunkSteps} steps; ${l.minBits}..${l.maxBits}-bit formats`,
      `memory      ${l.ramBytes > 0 ? `${Math.round(l.ramBytes / 1024)} KiB RAM` : 'RAM not reported'}; plasticity ${l.plasticityOnDevice ? 'on the device' : 'on the host'}; noise ${NOISE_NAMES[l.noiseSource] ?? `source ${l.noiseSource}`}`,
    );
  }
  const k = r.stats.link;
  lines.push(
    `counters    ${r.stats.steps} steps, ${r.stats.updates} updates, ${r.stats.runCalls} runs, ${r.stats.rewardCalls} rewards since boot`,
    `link        device: ${k['device.framesOk'] ?? 0} frames ok, ${k['device.crcErrors'] ?? 0} CRC errors, ${k['device.replays'] ?? 0} replays; host: ${k.crcErrors ?? 0} CRC errors, ${k.retries ?? 0} retries`,
  );
  return lines;
}

// ---------------------------------------------------------------------------------
// Parameters

/** Shape of what a configured device holds, from the tensor sizes it reports. */
async function probeShape(dev: SerialDevice): Promise<{ inputs: number; hidden: number; outputs: number; batch: number }> {
  const total = async (tensor: pb.Tensor): Promise<number> => {
    const r = await dev.rpc.call('readParams', { tensor, offset: 0, count: 0 });
    if (r.status === 'OK') return r.value.total;
    if (r.status === 'DEVICE_ERROR' && r.error.code === pb.ErrorCode.NOT_CONFIGURED)
      throw new LinkError('NOT_CONFIGURED', `${dev.rpc.name}: the device is not configured, so it holds no parameters; configure it first (it forgets everything when it reboots)`);
    throw new LinkError(r.status, r.detail);
  };
  const r = await total(pb.Tensor.R);
  const hidden = Math.round(Math.sqrt(r));
  const [w, v, state] = [await total(pb.Tensor.W), await total(pb.Tensor.V), await total(pb.Tensor.STATE_CLEAN)];
  if (hidden < 1 || hidden * hidden !== r || w % hidden || v % hidden || state % hidden)
    throw new LinkError('DATA_LOSS', `${dev.rpc.name}: tensor sizes W ${w}, R ${r}, V ${v}, state ${state} do not fit one network; is this anpt firmware?`);
  return { inputs: w / hidden, hidden, outputs: v / hidden, batch: state / hidden };
}

export interface PullOptions extends SerialDeviceOptions {
  /**
   * Formats the device was configured with (the codes' scale). The device cannot report
   * them; default: defaultChipFormats() (16 bits), and the result says it assumed so.
   */
  formats?: ChipFormats;
  /** Hidden activation, recorded in the file (the device cannot report it). Default tanh. */
  activation?: Activation;
  /** Extra header fields for the file (e.g. algo, backend, task of the run). */
  meta?: Partial<Pick<WeightsFile, 'algo' | 'backend' | 'task' | 'normalisation'>>;
}

export interface PullResult {
  file: string;
  topology: Omit<Topology, 'batch'>;
  formats: ChipFormats;
  /** True when `formats` were assumed (none given): check them against the run that configured the device. */
  formatsAssumed: boolean;
  /** Codes read. */
  values: number;
}

/** Where a weights file is: `path` itself, or path/weights.json for a directory. */
export function weightsPath(path: string): string {
  const abs = resolve(path);
  return existsSync(abs) && statSync(abs).isDirectory() ? join(abs, WEIGHTS_FILE) : abs;
}

/**
 * Read W, R, V from the configured device at `url` and write them as a weights file
 * (`file`, or DIR/weights.json). The topology comes from the device's tensor sizes.
 */
export async function pullParams(url: string, file: string, opts: PullOptions = {}): Promise<PullResult> {
  const path = weightsPath(file);
  const dev = await SerialDevice.open(url, opts);
  try {
    const shape = await probeShape(dev);
    // the board tells its formats (ReadConfig) unless the caller gives them
    const told = opts.formats ? undefined : await dev.readConfig().catch(() => undefined);
    const formats = opts.formats ?? told?.formats ?? defaultChipFormats();
    const activation = opts.activation ?? told?.topology.activation ?? 'tanh';
    const bias = told?.topology.bias === true ? { bias: true } : {}; // the board's biases come along (ReadConfig tells)
    const config: DeviceConfig = { topology: { ...shape, activation, ...bias }, formats, noise: { hiddenSigma: 0, outputSigma: 0 }, seed: 0, maxChunkSteps: 1 };
    dev.assumeConfig(config);
    const p = await dev.readParams();
    const h = dev.hello;
    const { inputs: I, hidden: H, outputs: O } = shape;
    const out = {
      format: WEIGHTS_FORMAT,
      ...opts.meta,
      topology: { inputs: I, hidden: H, outputs: O, activation, ...bias },
      formats,
      device: { url, firmware: `${h.firmwareName} ${h.firmwareVersion}`, deviceId: h.deviceId, bootCounter: h.bootCounter, session: h.sessionId.toString(16).padStart(8, '0'), pulledAt: new Date().toISOString() },
      W: toRows(p.w, H, I),
      R: toRows(p.r, H, H),
      V: toRows(p.v, O, H),
      ...biasRows(p),
    };
    try {
      writeFileSync(path, weightsJson(out as unknown as WeightsFile));
    } catch (e) {
      throw new DeviceError('BAD_INPUT', `${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check that the directory exists and is writable`);
    }
    return { file: path, topology: out.topology, formats, formatsAssumed: !opts.formats && !told, values: p.w.length + p.r.length + p.v.length };
  } finally {
    await dev.close();
  }
}

/** A weights file's topology, formats and parameters; DeviceError BAD_INPUT naming the file otherwise. */
export function readWeightsFile(file: string): { topology: Omit<Topology, 'batch'>; formats?: ChipFormats; params: Params } {
  const path = weightsPath(file);
  const bad = (what: string) => new DeviceError('BAD_INPUT', `${path}: ${what}; give a weights.json written by anpt train or anpt pull`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw bad(`cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const { file: w, params } = parseWeightsFile(text, bad);
  return { topology: w.topology, formats: w.formats, params };
}

export interface PushOptions extends SerialDeviceOptions {
  /** Configure the device with this first (its topology must match the file's); default: the device must already be configured so. */
  configure?: DeviceConfig;
}

export interface PushResult {
  file: string;
  /** Codes written (and read back equal). */
  values: number;
  /** Values that were not exact codes of the weight format and were rounded (nearest, saturating). */
  rounded: number;
}

/**
 * Write the W, R, V of a weights file (`file`, or DIR/weights.json) to the device at
 * `url` and read them back to check. The device must be configured with the file's
 * topology (or `opts.configure` is sent first); the file must have chip formats.
 */
export async function pushParams(url: string, file: string, opts: PushOptions = {}): Promise<PushResult> {
  const w = readWeightsFile(file);
  const path = weightsPath(file);
  if (!w.formats)
    throw new DeviceError('BAD_INPUT', `${path}: has no chip formats (a float-model run), so its values have no fixed-point codes; train with --backend emulator, or pull from a device`);
  const dev = await SerialDevice.open(url, opts);
  try {
    if (opts.configure) await dev.configure(opts.configure);
    const shape = await probeShape(dev);
    const t = w.topology;
    if (shape.inputs !== t.inputs || shape.hidden !== t.hidden || shape.outputs !== t.outputs) {
      throw new DeviceError(
        'CONFIG_OUT_OF_RANGE',
        `${path}: the file is for inputs ${t.inputs}, hidden ${t.hidden}, outputs ${t.outputs} but the device at ${url} is configured for ${shape.inputs}, ${shape.hidden}, ${shape.outputs}; configure it for the file's topology first`,
      );
    }
    dev.assumeConfig(opts.configure ?? { topology: { ...t, batch: shape.batch }, formats: w.formats, noise: { hiddenSigma: 0, outputSigma: 0 }, seed: 0, maxChunkSteps: 1 });
    await dev.writeParams(w.params);
    const back = await dev.readParams();
    let rounded = 0;
    for (const k of ['w', 'r', 'v'] as const) {
      const want = w.params[k];
      const got = back[k];
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) rounded++;
    }
    return { file: path, values: back.w.length + back.r.length + back.v.length, rounded };
  } finally {
    await dev.close();
  }
}

/** One line describing a format set, e.g. for a pull's "assumed formats" notice. */
export function describeChipFormats(f: ChipFormats): string {
  return (['input', 'weight', 'pre', 'activity', 'output'] as const).map((k) => `${k} ${formatName(f[k])}`).join(', ');
}

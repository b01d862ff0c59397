/**
 * Training speed through the link: ANP-T on Mackey-Glass against firmware-sim on a
 * pseudo-terminal (or TCP), paced like a UART at each baud rate, next to the wire
 * limit: the line's bytes per second (baud / 10) divided by the bytes one training step
 * moves in both directions, framing included, measured from the frames actually sent
 * and received. With one call in flight no protocol can beat that limit. A pipelined
 * link (docs/protocol.md section 3) sends the next request while the last reply is
 * still coming, so both directions carry bytes at once and it can go past the limit;
 * the limit is kept as defined (it is not redefined as the busier direction's).
 *
 * Three tables:
 * - the library (trainAnpt on a SerialDevice), H=32, B=1, chunks of 64 steps (and of 1
 *   step at 115200): one call in flight with the step sizes in every Reward (the link
 *   before pipelining), pipelined with Reward.same_rates (Reward(k) with Run(k+1)), and
 *   preloaded (the same, and Run(k+1)'s inputs sent ahead as Request.preload behind
 *   Run(k), so they cross while RunReply(k) comes back; docs/protocol.md section 3),
 *   alternated;
 * - the CLI with its default flags (chunk 1 = online learning) at 115200 baud, the
 *   README's board example (H=100, B=10), one epoch of 1000 steps: every byte the run
 *   moved (configure, weights, training, test passes) over its wall time;
 * - the reward's dL as the wire could carry it: lossless encodings of real dL values
 *   (bytes per value), the evidence for what Reward.delta_loss is.
 *
 *   npx tsx bench/link.ts [--quick]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { defaultChipFormats } from '../src/device/config.js';
import { EmulatorDevice } from '../src/device/emulator.js';
import type { Device, DeviceConfig, RewardRequest } from '../src/device/types.js';
import { trainAnpt } from '../src/learn/anpt.js';
import { SerialDevice } from '../src/link/serial-device.js';
import { xavierNormal } from '../src/model/rnn.js';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';
import { runCli } from '../src/cli/main.js';
import { spawnFirmwareSim } from '../firmware-sim/spawn.js';

export type LinkMode = 'one in flight' | 'pipelined' | 'preloaded';

export interface LinkBenchRow {
  link: 'pty' | 'tcp';
  baud: number;
  mode: LinkMode;
  /** Steps per training chunk. */
  chunk: number;
  steps: number;
  seconds: number;
  stepsPerSecond: number;
  /** Bytes per training step on the wire, both directions, framing included. */
  bytesPerStep: number;
  /** Of those, host to device. */
  bytesOutPerStep: number;
  /** Of those, protobuf payload; the rest is framing (flags, escapes, CRC). */
  payloadBytesPerStep: number;
  /** (baud / 10) / bytesPerStep. */
  wireLimitStepsPerSecond: number;
  /** stepsPerSecond / wireLimitStepsPerSecond. */
  ofWireLimit: number;
  /** Median round trip of a call, ms. */
  rttP50Ms: number;
  retries: number;
}

const H = 32;
const CHUNK = 64;
const LR = { w: 0.03, r: 0.03, v: 0.03 };

/** One measurement: `chunks` chunks of `K` steps of ANP-T through a simulator at `baud`. */
export async function benchLinkOnce(link: 'pty' | 'tcp', baud: number, chunks: number, mode: LinkMode = 'pipelined', K = CHUNK): Promise<LinkBenchRow> {
  const sim = await spawnFirmwareSim([link === 'pty' ? '--pty' : '--tcp', ...(link === 'tcp' ? ['0'] : []), '--baud', String(baud), '--quiet']);
  try {
    const piped = mode !== 'one in flight';
    const dev = await SerialDevice.open(sim.url(baud), { pipeline: piped, compactRewards: piped, preload: mode === 'preloaded' });
    try {
      const steps = chunks * K;
      const task = mackeyGlassTask({ steps, batch: 1, seed: 42 });
      const config: DeviceConfig = {
        topology: { inputs: 1, hidden: H, outputs: 1, batch: 1, activation: 'tanh' },
        formats: defaultChipFormats(),
        noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 },
        seed: 42,
        maxChunkSteps: K,
      };
      await dev.configure(config);
      await dev.writeParams(xavierNormal({ inputs: 1, hidden: H, outputs: 1, activation: 'tanh' }, 42));
      // warm-up: one short epoch (JIT, buffers), not counted
      await trainAnpt(dev, mackeyGlassTask({ steps: Math.max(64, 4 * K), batch: 1, seed: 1 }).train, { epochs: 1, lr: LR, chunkSteps: K });
      await dev.stats(); // the last deferred Reward goes out before the clock starts
      const before = dev.rpc.stats();
      const t = performance.now();
      await trainAnpt(dev, task.train, { epochs: 1, lr: LR, chunkSteps: K });
      await dev.stats(); // ... and is counted (its Ack is in the total)
      const seconds = (performance.now() - t) / 1000;
      const after = dev.rpc.stats();
      const out = after.bytesOut - before.bytesOut;
      const bytes = out + after.bytesIn - before.bytesIn;
      const payload = after.payloadBytesOut - before.payloadBytesOut + after.payloadBytesIn - before.payloadBytesIn;
      const bytesPerStep = bytes / steps;
      const wireLimit = baud / 10 / bytesPerStep;
      return {
        link,
        baud,
        mode,
        chunk: K,
        steps,
        seconds,
        stepsPerSecond: steps / seconds,
        bytesPerStep,
        bytesOutPerStep: out / steps,
        payloadBytesPerStep: payload / steps,
        wireLimitStepsPerSecond: wireLimit,
        ofWireLimit: steps / seconds / wireLimit,
        rttP50Ms: after.rttP50Ms,
        retries: after.retries - before.retries,
      };
    } finally {
      await dev.close();
    }
  } finally {
    await sim.stop();
  }
}

/** The library table: pty at 115200 and 1,000,000 baud and TCP at 1,000,000, each mode, alternated. */
export async function benchLink(quick = false): Promise<LinkBenchRow[]> {
  const rows: LinkBenchRow[] = [];
  // about 3 s (1.5 s quick) of wire time per row
  for (const [link, baud] of [['pty', 115200], ['pty', 1_000_000], ['tcp', 1_000_000]] as const) {
    const chunks = Math.max(8, Math.round(((quick ? 1.5 : 3) * baud) / 10 / (16 * CHUNK)));
    for (const mode of ['one in flight', 'pipelined', 'preloaded'] as const) rows.push(await benchLinkOnce(link, baud, chunks, mode));
  }
  // online learning (chunk 1, the CLI's default for Mackey-Glass): a Reward per step, where its step sizes weigh most
  // (no preloaded row: a 1-step Run's inputs are shorter than a Preload's own header, so runAhead sends none)
  for (const mode of ['one in flight', 'pipelined'] as const) rows.push(await benchLinkOnce('pty', 115200, quick ? 200 : 500, mode, 1));
  return rows;
}

/** Rows as aligned text lines. */
export function formatLinkRows(rows: LinkBenchRow[]): string[] {
  const lines = ['link  baud      chunk  mode           steps  steps/s  wire limit  of limit  bytes/step: all (out + in), payload + framing  rtt p50  retries'];
  for (const r of rows) {
    lines.push(
      [
        r.link.padEnd(5),
        String(r.baud).padEnd(9),
        String(r.chunk).padStart(5),
        r.mode.padEnd(14),
        String(r.steps).padStart(6),
        r.stepsPerSecond.toFixed(0).padStart(8),
        r.wireLimitStepsPerSecond.toFixed(0).padStart(11),
        `${(100 * r.ofWireLimit).toFixed(1)} %`.padStart(9),
        `  ${r.bytesPerStep.toFixed(2)} (${r.bytesOutPerStep.toFixed(2)} + ${(r.bytesPerStep - r.bytesOutPerStep).toFixed(2)}), ${r.payloadBytesPerStep.toFixed(2)} + ${(r.bytesPerStep - r.payloadBytesPerStep).toFixed(2)}`.padEnd(46),
        `${r.rttP50Ms.toFixed(2)} ms`.padStart(8),
        String(r.retries).padStart(8),
      ].join(' '),
    );
  }
  return lines;
}

export interface CliLinkRow {
  baud: number;
  args: string[];
  trainSteps: number;
  seconds: number;
  bytes: number;
  bytesPerStep: number;
  stepsPerSecond: number;
  wireLimitStepsPerSecond: number;
  ofWireLimit: number;
}

/** `anpt train` with default flags against firmware-sim on a pty at `baud`: every byte of the run over its wall time. */
export async function benchCliLink(baud = 115200, steps = 1000): Promise<CliLinkRow> {
  const sim = await spawnFirmwareSim(['--pty', '--baud', String(baud), '--quiet']);
  const tmp = mkdtempSync(join(tmpdir(), 'anpt-bench-link-'));
  try {
    const args = ['train', '--task', 'mackey-glass', '--steps', String(steps), '--epochs', '1', '--device', sim.url(baud), '--out', join(tmp, 'run')];
    const quiet = { out: () => {}, err: () => {}, progress: { write: () => true, isTTY: false } };
    const t = performance.now();
    const code = await runCli(args, quiet);
    const seconds = (performance.now() - t) / 1000;
    if (code !== 0) throw new Error(`anpt ${args.join(' ')} exited ${code}`);
    const link = JSON.parse(readFileSync(join(tmp, 'run', 'summary.json'), 'utf8')).link as Record<string, number>;
    const bytes = link.bytesOut + link.bytesIn;
    const bytesPerStep = bytes / steps;
    const wireLimit = baud / 10 / bytesPerStep;
    return { baud, args: args.slice(0, -2), trainSteps: steps, seconds, bytes, bytesPerStep, stepsPerSecond: steps / seconds, wireLimitStepsPerSecond: wireLimit, ofWireLimit: steps / seconds / wireLimit };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    await sim.stop();
  }
}

export function formatCliLinkRow(r: CliLinkRow): string[] {
  return [
    `anpt ${r.args.join(' ').replace(/serial:\/\/[^ ]+/, 'serial://PTY')} (H=100, B=10, chunk 1: the defaults)`,
    'baud      train steps  seconds  bytes (all)  bytes/train step  steps/s  wire limit  of limit',
    [
      String(r.baud).padEnd(9),
      String(r.trainSteps).padStart(11),
      r.seconds.toFixed(1).padStart(8),
      String(r.bytes).padStart(12),
      r.bytesPerStep.toFixed(1).padStart(17),
      r.stepsPerSecond.toFixed(1).padStart(8),
      r.wireLimitStepsPerSecond.toFixed(1).padStart(11),
      `${(100 * r.ofWireLimit).toFixed(1)} %`.padStart(9),
    ].join(' '),
  ];
}

export interface RewardEncodingRow {
  chunk: number;
  values: number;
  /** Bytes per dL value, each encoding. */
  f64: number;
  xorPrevious: number;
  deflate: number;
  decimal: number;
  /** Share of the values a float32 holds exactly. */
  float32Exact: number;
}

/**
 * Real dL values (ANP-T on Mackey-Glass on the emulator, H=100, B=10, CLI learning
 * rates) in lossless encodings: packed f64 as sent; XOR with the previous value, leading
 * and trailing zero bytes dropped plus a 1-byte header (Gorilla-style, byte-granular,
 * stateful across Rewards); raw deflate of each chunk's f64s; the shortest decimal
 * string; and how many a float32 would hold exactly.
 */
export async function benchRewardEncodings(chunk: number, steps = 2000): Promise<RewardEncodingRow> {
  const dev = new EmulatorDevice();
  const topology = { inputs: 1, hidden: 100, outputs: 1, batch: 10, activation: 'tanh' as const };
  await dev.configure({ topology, formats: defaultChipFormats(), noise: { hiddenSigma: 0.02, outputSigma: 0.02 }, seed: 1, maxChunkSteps: chunk });
  await dev.writeParams(xavierNormal(topology, 1));
  const seen: Float64Array[] = [];
  const recording: Device = new Proxy(dev, {
    get(target, key) {
      if (key === 'reward') return (req: RewardRequest) => (seen.push(Float64Array.from(req.deltaLoss)), target.reward(req));
      const v = Reflect.get(target, key);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  await trainAnpt(recording, mackeyGlassTask({ steps, batch: 10, seed: 1 }).train, { epochs: 1, lr: { w: 0.01, r: 0.01, v: 0.01 }, chunkSteps: chunk });
  const all = seen.flatMap((a) => Array.from(a));
  const bits = new BigUint64Array(Float64Array.from(all).buffer);
  let xor = 0;
  for (let i = 0; i < bits.length; i++) {
    const x = i === 0 ? bits[i] : bits[i] ^ bits[i - 1];
    let lead = 0, trail = 0;
    for (let b = 7; b >= 0 && ((x >> BigInt(8 * b)) & 0xffn) === 0n; b--) lead++;
    for (let b = 0; b < 8 - lead && ((x >> BigInt(8 * b)) & 0xffn) === 0n; b++) trail++;
    xor += 1 + 8 - lead - trail;
  }
  const deflate = seen.reduce((n, a) => n + deflateRawSync(Buffer.from(a.buffer, a.byteOffset, a.byteLength), { level: 9 }).length, 0);
  const decimal = all.reduce((n, x) => n + String(x).length, 0);
  const exact = all.filter((x) => Math.fround(x) === x).length;
  const n = all.length;
  return { chunk, values: n, f64: 8, xorPrevious: xor / n, deflate: deflate / n, decimal: decimal / n, float32Exact: exact / n };
}

export function formatRewardEncodingRows(rows: RewardEncodingRow[]): string[] {
  const lines = ['chunk  dL values  bytes per dL: f64  xor-previous  deflate/chunk  decimal text   float32 exact'];
  for (const r of rows)
    lines.push(
      `${String(r.chunk).padStart(5)}  ${String(r.values).padStart(9)}  ${r.f64.toFixed(2).padStart(17)}  ${r.xorPrevious.toFixed(2).padStart(12)}  ${r.deflate.toFixed(2).padStart(13)}  ${r.decimal.toFixed(2).padStart(12)}  ${(100 * r.float32Exact).toFixed(1).padStart(12)} %`,
    );
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const quick = process.argv.includes('--quick');
  for (const line of formatLinkRows(await benchLink(quick))) console.log(line);
  for (const line of formatCliLinkRow(await benchCliLink(115200, quick ? 300 : 1000))) console.log(line);
  for (const line of formatRewardEncodingRows([await benchRewardEncodings(1), await benchRewardEncodings(64)])) console.log(line);
}

/**
 * Training speed through the link: ANP-T on Mackey-Glass (H=32, B=1, chunks of 64
 * steps) against firmware-sim on a pseudo-terminal, paced like a UART at each baud
 * rate, next to the wire limit: the line's bytes per second (baud / 10) divided by the
 * bytes one training step moves in both directions, framing included, measured from
 * the frames actually sent and received. Calls are sequential (a request, then its
 * reply), so no protocol can beat that limit; the ratio shows what the host, the
 * simulator and the OS add on top.
 *
 *   npx tsx bench/link.ts [--quick]
 */
import { defaultChipFormats } from '../src/device/config.js';
import type { DeviceConfig } from '../src/device/types.js';
import { trainAnpt } from '../src/learn/anpt.js';
import { SerialDevice } from '../src/link/serial-device.js';
import { xavierNormal } from '../src/model/rnn.js';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';
import { spawnFirmwareSim } from '../firmware-sim/spawn.js';

export interface LinkBenchRow {
  link: 'pty' | 'tcp';
  baud: number;
  steps: number;
  seconds: number;
  stepsPerSecond: number;
  /** Bytes per training step on the wire, both directions, framing included. */
  bytesPerStep: number;
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
const K = 64;

/** One measurement: `chunks` chunks of ANP-T through a simulator at `baud`. */
export async function benchLinkOnce(link: 'pty' | 'tcp', baud: number, chunks: number): Promise<LinkBenchRow> {
  const sim = await spawnFirmwareSim([link === 'pty' ? '--pty' : '--tcp', ...(link === 'tcp' ? ['0'] : []), '--baud', String(baud), '--quiet']);
  try {
    const dev = await SerialDevice.open(sim.url(baud));
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
      await trainAnpt(dev, mackeyGlassTask({ steps: 4 * K, batch: 1, seed: 1 }).train, { epochs: 1, lr: { w: 0.03, r: 0.03, v: 0.03 }, chunkSteps: K });
      const before = dev.rpc.stats();
      const t = performance.now();
      await trainAnpt(dev, task.train, { epochs: 1, lr: { w: 0.03, r: 0.03, v: 0.03 }, chunkSteps: K });
      const seconds = (performance.now() - t) / 1000;
      const after = dev.rpc.stats();
      const bytes = after.bytesOut - before.bytesOut + after.bytesIn - before.bytesIn;
      const payload = after.payloadBytesOut - before.payloadBytesOut + after.payloadBytesIn - before.payloadBytesIn;
      const bytesPerStep = bytes / steps;
      const wireLimit = baud / 10 / bytesPerStep;
      return {
        link,
        baud,
        steps,
        seconds,
        stepsPerSecond: steps / seconds,
        bytesPerStep,
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

/** The link benchmark: pty at 115200 and 1,000,000 baud (and TCP at 1,000,000 for comparison). */
export async function benchLink(quick = false): Promise<LinkBenchRow[]> {
  const rows: LinkBenchRow[] = [];
  // about 3 s (1.5 s quick) of wire time per row
  for (const [link, baud] of [['pty', 115200], ['pty', 1_000_000], ['tcp', 1_000_000]] as const) {
    const chunks = Math.max(8, Math.round(((quick ? 1.5 : 3) * baud) / 10 / (16 * K)));
    rows.push(await benchLinkOnce(link, baud, chunks));
  }
  return rows;
}

/** Rows as aligned text lines. */
export function formatLinkRows(rows: LinkBenchRow[]): string[] {
  const lines = ['link  baud      steps  steps/s  wire limit  of limit  bytes/step (payload + framing)  rtt p50  retries'];
  for (const r of rows) {
    lines.push(
      [
        r.link.padEnd(5),
        String(r.baud).padEnd(9),
        String(r.steps).padStart(6),
        r.stepsPerSecond.toFixed(0).padStart(8),
        r.wireLimitStepsPerSecond.toFixed(0).padStart(11),
        `${(100 * r.ofWireLimit).toFixed(1)} %`.padStart(9),
        `  ${r.bytesPerStep.toFixed(2)} (${r.payloadBytesPerStep.toFixed(2)} + ${(r.bytesPerStep - r.payloadBytesPerStep).toFixed(2)})`.padEnd(32),
        `${r.rttP50Ms.toFixed(2)} ms`.padStart(8),
        String(r.retries).padStart(8),
      ].join(' '),
    );
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of formatLinkRows(await benchLink(process.argv.includes('--quick')))) console.log(line);
}

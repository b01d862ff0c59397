// The link's adaptive sizes (clean-run pieces, parameter pieces) shrink on a line that
// damages bytes and not on one that only loses whole frames: a lost frame is as likely
// for a short one as for a long one, so shrinking there only multiplies the calls (at
// 10 % dropped frames the fault matrix's run took 38x a clean one, 789 s, before this).
// In process: SerialDevice -> memory pipe -> fault stage -> device service -> emulator.
import { describe, expect, it } from 'vitest';
import { faultyTransport, type FaultOptions } from '../firmware-sim/faults.js';
import { defaultChipFormats } from '../src/device/config.js';
import { EmulatorDevice } from '../src/device/emulator.js';
import type { DeviceConfig } from '../src/device/types.js';
import { createDeviceServer } from '../src/link/device-server.js';
import { SerialDevice } from '../src/link/serial-device.js';
import { memoryPair } from '../src/link/transport-memory.js';
import { xavierNormal } from '../src/model/rnn.js';

const H = 32, B = 4, K = 50;
const cfg: DeviceConfig = {
  topology: { inputs: 1, hidden: H, outputs: 1, batch: B, activation: 'tanh' },
  formats: defaultChipFormats(),
  noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 },
  seed: 3,
  maxChunkSteps: K,
};

/** 40 clean runs of K steps and 8 weight writes over a line with `faults`: Run and WriteParams requests the device applied, and the last weights. */
async function workload(faults: FaultOptions): Promise<{ runCalls: number; requests: number; weights: Float64Array }> {
  const { a, b } = memoryPair();
  const { server } = createDeviceServer(new EmulatorDevice());
  void server.serve(faultyTransport(b, { seed: 7, ...faults }));
  const dev = await SerialDevice.connect(a, { helloTimeoutMs: 200 });
  try {
    await dev.configure(cfg);
    const inputs = Float64Array.from({ length: K * B }, (_, i) => Math.sin(i / 7));
    for (let i = 0; i < 40; i++) await dev.run({ steps: K, t0: i * K, inputs, noisy: false });
    for (let i = 0; i < 8; i++) await dev.writeParams(xavierNormal({ inputs: 1, hidden: H, outputs: 1, activation: 'tanh' }, i));
    const s = await dev.stats();
    return { runCalls: s.runCalls, requests: Number(s.link!['device.requests']), weights: (await dev.readParams()).r };
  } finally {
    await dev.close();
  }
}

describe('adaptive sizes', () => {
  it('keep their full size through 10 % dropped frames (the same Run calls as a clean line) and shrink on 1e-3 corrupted bytes', async () => {
    const clean = await workload({});
    const dropped = await workload({ dropRate: 0.1 });
    const damaged = await workload({ corruptRate: 1e-3 });
    expect(dropped.weights).toEqual(clean.weights);
    expect(damaged.weights).toEqual(clean.weights);
    expect(dropped.runCalls).toBe(clean.runCalls);
    expect(damaged.runCalls).toBeGreaterThan(clean.runCalls);
  }, 60_000);
});

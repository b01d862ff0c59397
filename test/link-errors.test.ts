/**
 * What a user sees when the link is wrong: one line that says what to do, within the
 * timeout it states. Against firmware-sim child processes (a pseudo-terminal at
 * 115200 baud, a TCP sim that never answers, one that speaks protocol 0).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnFirmwareSim, type RunningSim } from '../firmware-sim/spawn.js';
import { defaultChipFormats } from '../src/device/config.js';
import type { DeviceConfig } from '../src/device/types.js';
import { ConfigError } from '../src/format/fixed.js';
import { SerialDevice } from '../src/link/serial-device.js';
import { LinkError } from '../src/link/transport.js';

// Started together (in parallel) before the tests; each test awaits the one it needs,
// so a simulator that cannot start (no socat for --pty) fails those tests with its reason.
const started: RunningSim[] = [];
function start(args: string[]): Promise<RunningSim> {
  const p = spawnFirmwareSim([...args, '--quiet']).then((s) => (started.push(s), s));
  p.catch(() => undefined); // reported by the tests that await it
  return p;
}
let ptySim: Promise<RunningSim>;
let silentSim: Promise<RunningSim>;
let oldSim: Promise<RunningSim>;
beforeAll(() => {
  ptySim = start(['--pty', '--baud', '115200']);
  silentSim = start(['--tcp', '0', '--stall-ms', '100000']);
  oldSim = start(['--tcp', '0', '--protocol-version', '0']);
});
afterAll(async () => {
  await Promise.allSettled([ptySim, silentSim, oldSim]);
  for (const s of started) await s.stop();
});

/** The error `p` rejects with, and how long it took, ms. */
async function failure(p: Promise<unknown>): Promise<{ e: Error; ms: number }> {
  const t = performance.now();
  try {
    await p;
  } catch (e) {
    return { e: e as Error, ms: performance.now() - t };
  }
  throw new Error('expected a failure');
}

const oneLine = (e: Error) => expect(e.message).not.toMatch(/\n/);

describe('clear errors from the link', () => {
  it('wrong baud rate: host at 9600, board at 115200 -> garbage -> no valid reply to Hello, check the baud rate', async () => {
    const pty = await ptySim;
    const { e, ms } = await failure(SerialDevice.open(pty.url(9600), { helloTimeoutMs: 300, retries: 1 }));
    expect(e).toBeInstanceOf(LinkError);
    expect(e.message).toMatch(
      /^serial:\/\/\/dev\/pts\/\d+\?baud=9600: no valid reply to Hello within (\d+) ms at 9600 baud( \(\d+ bytes arrived, not one valid frame\))?; check the baud rate and that the board runs anpt firmware$/,
    );
    oneLine(e);
    const stated = Number(/within (\d+) ms/.exec(e.message)![1]);
    expect(ms).toBeLessThan(stated + 300);
    // the same board at the right rate answers
    const dev = await SerialDevice.open(pty.url(115200));
    expect(dev.hello.firmwareName).toBe('anpt-firmware-sim');
    await dev.close();
  });

  it('a port that does not exist', async () => {
    const { e } = await failure(SerialDevice.open('serial:///dev/ttyANPT-missing?baud=115200'));
    expect(e).toMatchObject({ code: 'LINK', status: 'UNAVAILABLE' });
    expect(e.message).toBe(
      'serial:///dev/ttyANPT-missing?baud=115200: cannot open (No such file or directory); check the path (list ports with `anpt ports`), that the board is plugged in, and that no other program holds the port',
    );
  });

  it('a device that never answers', async () => {
    const silent = await silentSim;
    const { e, ms } = await failure(SerialDevice.open(silent.url(), { helloTimeoutMs: 250, retries: 1 }));
    expect(e).toMatchObject({ code: 'TIMEOUT' });
    expect(e.message).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+: no valid reply to Hello within (\d+) ms; check that the device or bridge there runs anpt firmware and is not stalled$/);
    const stated = Number(/within (\d+) ms/.exec(e.message)![1]);
    expect(stated).toBeGreaterThanOrEqual(500); // 2 attempts of 250 ms
    expect(ms).toBeLessThan(stated + 300);
  });

  it('a device that speaks an older protocol version', async () => {
    const old = await oldSim;
    const { e } = await failure(SerialDevice.open(old.url()));
    expect(e).toMatchObject({ code: 'UNSUPPORTED_VERSION' });
    expect(e.message).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+: host speaks protocol 2, this device speaks 0; update the firmware or use a matching anpt version$/);
  });

  it("a configuration beyond the device's limits or its RAM names the field and the value that would fit", async () => {
    const dev = await SerialDevice.open((await ptySim).url(115200));
    try {
      const base: DeviceConfig = {
        topology: { inputs: 1, hidden: 32, outputs: 1, batch: 8, activation: 'tanh' },
        formats: defaultChipFormats(),
        noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 },
        seed: 1,
        maxChunkSteps: 50,
      };
      // the largest network that fits 256 KiB at all: 243 neurons
      expect((await dev.info()).maxHidden).toBe(243);
      const hidden = await failure(dev.configure({ ...base, topology: { ...base.topology, hidden: 300 } }));
      expect(hidden.e).toBeInstanceOf(ConfigError);
      expect(hidden.e.message).toMatch(/^topology\.hidden: 300 is out of range; allowed integers 1\.\.243 on the device at serial:\/\/\/dev\/pts\/\d+\?baud=115200 \(its limit\)$/);
      // the traces of 200 steps x 8 sequences x 128 neurons do not fit 256 KiB
      const ram = await failure(dev.configure({ ...base, topology: { ...base.topology, hidden: 128 }, maxChunkSteps: 200 }));
      expect(ram.e).toMatchObject({ field: 'maxChunkSteps' });
      expect(ram.e.message).toMatch(/^maxChunkSteps: needs \d+ KiB of RAM, the board has 256 KiB; use max_chunk_steps <= (\d+) or lower hidden\/batch \(device at serial:\/\/\S+\)$/);
      const fits = Number(/<= (\d+)/.exec(ram.e.message)![1]);
      expect(fits).toBeGreaterThan(1);
      await dev.configure({ ...base, topology: { ...base.topology, hidden: 128 }, maxChunkSteps: fits });
      const huge = await failure(dev.configure({ ...base, topology: { ...base.topology, hidden: 128, batch: 64 }, maxChunkSteps: 1 }));
      expect(huge.e).toMatchObject({ field: 'topology.hidden' });
      expect(huge.e.message).toMatch(/^topology\.hidden: needs \d+ KiB of RAM even with 1-step chunks, the board has 256 KiB; lower hidden or batch/);
      for (const x of [hidden, ram, huge]) oneLine(x.e);
    } finally {
      await dev.close();
    }
  });
});

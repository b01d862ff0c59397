// The golden vectors (docs/golden-vectors.md) replayed over the wire: host ->
// frames -> protobuf -> firmware-sim (a separate process) -> kernel, bit for bit.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnFirmwareSim, type RunningSim } from '../firmware-sim/spawn.js';
import { runGolden, type GoldenVector } from '../src/device/golden.js';
import { SerialDevice } from '../src/link/serial-device.js';

let sim: RunningSim;
beforeAll(async () => {
  sim = await spawnFirmwareSim(['--tcp', '0', '--baud', '4000000']);
}, 30_000);
afterAll(async () => sim?.stop());

describe('golden vectors over the link (firmware-sim, TCP)', () => {
  for (const file of readdirSync('test/golden').filter((f) => f.endsWith('.json'))) {
    it(file, async () => {
      const v = JSON.parse(readFileSync(`test/golden/${file}`, 'utf8')) as GoldenVector;
      const dev = await SerialDevice.open(sim.url());
      try {
        expect(await runGolden(dev, v)).toEqual(v.expected);
      } finally {
        await dev.close();
      }
    });
  }
});

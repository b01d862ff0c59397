// Replays every golden vector of a folder on each emulator build (SIMD, scalar, two
// threads with the fixed and the dynamic row split), bit for bit.
import { expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { EmulatorDevice, type EmulatorOptions } from '../src/device/emulator.js';
import { runGolden, type GoldenVector } from '../src/device/golden.js';

const BUILDS: [string, EmulatorOptions][] = [
  ['simd', {}], ['scalar', { flavour: 'scalar' }], ['two threads', { threads: 2 }],
  ['two threads, rows split dynamically', { threads: 2, threadFaults: { dynamicMinWork: 1 } }],
];

export function replayGoldenFolder(dir: string, what: string): void {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')))
    for (const [name, opts] of BUILDS)
      it(`${file} replays bit for bit${what} (${name})`, async () => {
        const v = JSON.parse(readFileSync(`${dir}/${file}`, 'utf8')) as GoldenVector;
        const dev = new EmulatorDevice(opts);
        expect(await runGolden(dev, v)).toEqual(v.expected);
        await dev.close();
      });
}

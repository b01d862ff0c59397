// The emulator against the C kernel of the firmware (firmware/core, driven by
// bench/c/step.c), a separate implementation of docs/kernel.md (and bench/c/ref_step.py,
// a third, in Python, which prints the same dumps). The dumps in test/golden/c/ were
// made by `build/firmware/host/step dump H B T seed dL` (npm run build:firmware);
// `npm run bench` repeats the check live.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { emulatorDump } from '../bench/c-workload.js';

describe('emulator = plain-C port of the spec, bit for bit', () => {
  for (const file of readdirSync('test/golden/c')) {
    const m = /^dump-H(\d+)-B(\d+)-T(\d+)-seed(\d+)-dl(.+)\.jsonl$/.exec(file)!;
    it(file, async () => {
      const [H, B, T, seed] = m.slice(1, 5).map(Number);
      const lines = readFileSync(`test/golden/c/${file}`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      const e = await emulatorDump(H, B, T, seed, Number(m[5]));
      const steps = lines.filter((l) => 'y' in l);
      expect(e.y).toEqual(steps.map((l) => l.y));
      expect(e.yn).toEqual(steps.map((l) => l.yn));
      expect(e.hash).toBe(lines.find((l) => l.final).fnv1a64);
    });
  }
});

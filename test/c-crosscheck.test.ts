// The emulator against the C kernel of the firmware (firmware/core, driven by
// bench/c/step.c), a separate implementation of docs/kernel.md (and bench/c/ref_step.py,
// a third, in Python, which prints the same dumps). The dumps in test/golden/c/ were
// made by `build/firmware/host/step dump H B T seed dL` (npm run build:firmware);
// `npm run bench` repeats the check live.
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { emulatorDump } from '../bench/c-workload.js';
import { FUSED_GCC_ARGS } from '../bench/step-vs-c.js';

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

// The native kernels of `npm run bench` (make -C firmware host: firmware/core plain
// and tuned with bench/c/tuned.h's AVX2 loops; bench/c/fused.c, the tuned yardstick, in
// its fused mode), built here and checked against the same dumps with row skipping on
// and off; the emulator with its row skip off too (same bits).
const gcc = spawnSync('gcc', ['--version']).status === 0;
const needGcc = !gcc && !process.env.CI;
if (needGcc) console.warn('c-crosscheck: gcc not found, native yardstick checks skipped (install the Debian package gcc)');

describe.skipIf(needGcc)('native yardsticks (plain C, tuned AVX2, fused.c) = the same dumps, row skip on and off', () => {
  const built = gcc && spawnSync('make', ['-s', '-C', 'firmware', 'host']).status === 0
    && spawnSync('mkdir', ['-p', 'build/bench']).status === 0
    && spawnSync('gcc', FUSED_GCC_ARGS).status === 0;
  // each kernel with the words that select its mode after `dump H B steps seed`
  const kernels: [string, string[]][] = [['build/firmware/host/step', []], ['build/firmware/host/step-avx2', []], ['build/bench/step-fused', ['fused']]];
  for (const file of readdirSync('test/golden/c')) {
    const m = /^dump-H(\d+)-B(\d+)-T(\d+)-seed(\d+)-dl(.+)\.jsonl$/.exec(file)!;
    it(file, async () => {
      expect(built, 'make -C firmware host, gcc bench/c/fused.c').toBe(true);
      const want = readFileSync(`test/golden/c/${file}`, 'utf8').trim();
      for (const [exe, mode] of kernels)
        for (const skip of ['skip', 'noskip']) {
          const out = execFileSync(exe, ['dump', ...m.slice(1, 5), ...mode, m[5], skip]).toString().trim();
          expect(out, `${exe} ${skip}`).toBe(want);
        }
      const [H, B, T, seed] = m.slice(1, 5).map(Number);
      const e = await emulatorDump(H, B, T, seed, Number(m[5]), false);
      expect(e.hash).toBe(want.split('\n').map((l) => JSON.parse(l)).find((l) => l.final).fnv1a64);
    });
  }
  // H = 40: the tuned loops' 32-wide main path and their tails (the dumps above have H <= 30)
  it('H=40 B=3 20 steps seed 3 dL 1e-2: every build, skip on and off, = the emulator', async () => {
    expect(built, 'make -C firmware host, gcc bench/c/fused.c').toBe(true);
    const e = await emulatorDump(40, 3, 20, 3, 1e-2);
    for (const [exe, mode] of kernels)
      for (const skip of ['skip', 'noskip']) {
        const out = execFileSync(exe, ['dump', '40', '3', '20', '3', ...mode, '1e-2', skip]).toString().trim().split('\n').map((l) => JSON.parse(l));
        expect(out.find((l) => l.final).fnv1a64, `${exe} ${skip}`).toBe(e.hash);
      }
  });
});

/**
 * The fused online training step (forward of both copies + the on-chip update) on the
 * emulator and in plain C (bench/c/step.c over firmware/core, the firmware's kernel, gcc -O3 -march=native), same workload,
 * measured back to back in one run. Prints steps/s, GMAC/s and the ratio.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cWorkload, emulatorDump, workloadStep } from './c-workload.js';

/** MACs per training step (bench/c/step.c): forward B*(H*I + 2H^2 + 2OH), update B*(HI + H^2 + OH). */
export function macsPerStep(H: number, B: number, I = 1, O = 1): number {
  return B * (H * I + 2 * H * H + 2 * O * H) + B * (H * I + H * H + O * H);
}

export function buildC(): string {
  execFileSync('make', ['-s', '-C', 'firmware', 'host'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exe = 'build/firmware/host/step';
  if (!existsSync(exe)) throw new Error('make -C firmware host did not produce build/firmware/host/step');
  return exe;
}

function cStepsPerSecond(exe: string, H: number, B: number, seconds: number, dLScale: number): number {
  const line = execFileSync(exe, ['bench', String(H), String(B), String(seconds), String(dLScale)]).toString().trim();
  return JSON.parse(line).steps_per_s as number;
}

async function emulatorStepsPerSecond(H: number, B: number, seconds: number, dLScale: number): Promise<number> {
  const w = await cWorkload(H, B, 1, dLScale);
  // inputs and rewards precomputed: the timing is of the device, not of the workload generator
  const n = 256;
  const inputs = Array.from({ length: n }, (_, t) => w.inputs(t));
  const rewards = Array.from({ length: n }, (_, t) => new Float64Array([w.reward(t)]));
  const lr = { w: 0.1, r: 0.1, v: 0.1 };
  let t = 0;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    for (let k = 0; k < 16; k++, t++) {
      await w.device.run({ steps: 1, t0: t, inputs: inputs[t % n], noisy: true });
      await w.device.reward({ t0: t, deltaLoss: rewards[t % n], lr });
    }
  }
  return t / ((performance.now() - start) / 1000);
}

export interface StepRow { H: number; B: number; emulatorStepsPerSecond: number; cStepsPerSecond: number; emulatorGmacPerSecond: number; cGmacPerSecond: number; ratio: number }

/**
 * dLScale: size of the rewards (bench/c/step.c's workload uses 1e-5, where most weight
 * changes round to zero under nearest rounding and the emulator skips those rows;
 * 1e-2 makes most weights change every step, so nothing is skipped).
 */
export async function benchStepVsC(seconds = 1, sizes = [100, 500, 1000], batches = [1, 10], dLScale = 1e-5): Promise<{ rows: StepRow[]; bitExact: boolean }> {
  const exe = buildC();
  // the same bits first: otherwise the comparison is of two different computations
  const dump = execFileSync(exe, ['dump', '24', '3', '20', '9', '1e-2']).toString().trim().split('\n').map((l) => JSON.parse(l));
  const emu = await emulatorDump(24, 3, 20, 9, 1e-2);
  const bitExact = emu.hash === dump.find((l) => l.final).fnv1a64;
  const rows: StepRow[] = [];
  for (const H of sizes)
    for (const B of batches) {
      await emulatorStepsPerSecond(H, B, 0.2, dLScale); // warm-up (JIT tiers)
      const e = await emulatorStepsPerSecond(H, B, seconds, dLScale);
      const c = cStepsPerSecond(exe, H, B, seconds, dLScale);
      const macs = macsPerStep(H, B);
      rows.push({ H, B, emulatorStepsPerSecond: e, cStepsPerSecond: c, emulatorGmacPerSecond: (e * macs) / 1e9, cGmacPerSecond: (c * macs) / 1e9, ratio: e / c });
    }
  return { rows, bitExact };
}

/** One line per configuration, for the console. */
export function formatStepRows(rows: StepRow[]): string[] {
  const out = ['   H   B   emulator steps/s  GMAC/s   firmware/core steps/s  GMAC/s   emulator/firmware'];
  for (const r of rows)
    out.push(
      `${String(r.H).padStart(4)} ${String(r.B).padStart(3)}  ${r.emulatorStepsPerSecond.toFixed(0).padStart(16)}  ${r.emulatorGmacPerSecond.toFixed(2).padStart(6)}  ${r.cStepsPerSecond.toFixed(0).padStart(22)}  ${r.cGmacPerSecond.toFixed(2).padStart(6)}   ${r.ratio.toFixed(2)}x`,
    );
  return out;
}

export { workloadStep };

/**
 * The fused online training step (forward of both copies + the on-chip update) on the
 * emulator and on two native kernels of the same step and bits, gcc -O3 -march=native:
 *   plain   bench/c/step.c over firmware/core, the firmware's own kernel (plain loops;
 *           make -C firmware host)
 *   tuned   bench/c/fused.c with -DTUNED: the fastest native kernel we have, written for
 *           this one configuration with AVX2 intrinsics (bench/c/fused-avx2.h): each
 *           weight row read once for all sequences (four per pass) and, in its 'fused'
 *           mode, the update of step t applied row by row inside step t+1's forward pass
 * firmware/core's own -DANPT_TUNED build (build/firmware/host/step-avx2, bench/c/tuned.h)
 * keeps the core's loop order and is slower than fused.c (1.0-1.7x at H = 500-1000, mostly 1.1-1.3x); its
 * bits are checked here with the others, its speed is not tabled.
 * Each table is measured with row skipping ON on all three sides (rows whose every
 * change rounds to zero are not touched; the share skipped is printed per side) and
 * OFF on all three (every row updated: equal work). Steps per CPU second of the
 * process on every side; sides alternate in rounds and the best round counts.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { cWorkload, emulatorDump, workloadStep } from './c-workload.js';

/** MACs per training step (bench/c/step.c): forward B*(H*I + 2H^2 + 2OH), update B*(HI + H^2 + OH). */
export function macsPerStep(H: number, B: number, I = 1, O = 1): number {
  return B * (H * I + 2 * H * H + 2 * O * H) + B * (H * I + H * H + O * H);
}

export type NativeKernel = 'plain' | 'tuned' | 'coreTuned';
const EXE: Record<NativeKernel, string> = { plain: 'build/firmware/host/step', tuned: 'build/bench/step-fused', coreTuned: 'build/firmware/host/step-avx2' };
/** Words after `bench|dump ...` that select the mode: fused.c's fused update. */
const MODE: Record<NativeKernel, string[]> = { plain: [], tuned: ['fused'], coreTuned: [] };

let built = false;

/** make -C firmware host (plain, core tuned, the tanh header), then gcc of bench/c/fused.c; once per process. */
export function buildC(): Record<NativeKernel, string> {
  if (built) return EXE;
  execFileSync('make', ['-s', '-C', 'firmware', 'host'], { stdio: ['ignore', 'ignore', 'inherit'] });
  mkdirSync('build/bench', { recursive: true });
  execFileSync(process.env.CC ?? 'gcc', ['-O3', '-march=native', '-flto', '-std=c99', '-ffp-contract=off', '-DTUNED', '-Ibuild/firmware/gen', '-o', EXE.tuned, 'bench/c/fused.c', 'firmware/core/kernel.c', '-lm'], { stdio: ['ignore', 'ignore', 'inherit'] });
  built = true;
  for (const exe of Object.values(EXE)) if (!existsSync(exe)) throw new Error(`the native build did not produce ${exe}`);
  return EXE;
}

interface Rate { stepsPerSecond: number; rows: number; skipped: number }

function cRate(kernel: NativeKernel, H: number, B: number, seconds: number, dLScale: number, skip: boolean): Rate {
  const line = execFileSync(EXE[kernel], ['bench', String(H), String(B), String(seconds), ...MODE[kernel], String(dLScale), skip ? 'skip' : 'noskip']).toString().trim();
  const r = JSON.parse(line) as { steps_per_s: number; rows_total: number; rows_skipped: number };
  return { stepsPerSecond: r.steps_per_s, rows: r.rows_total, skipped: r.rows_skipped };
}

async function emulatorRate(H: number, B: number, seconds: number, dLScale: number, skip: boolean): Promise<Rate> {
  const w = await cWorkload(H, B, 1, dLScale, 'simd', skip);
  // inputs and rewards precomputed: the timing is of the device, not of the workload generator
  const n = 256;
  const inputs = Array.from({ length: n }, (_, t) => w.inputs(t));
  const rewards = Array.from({ length: n }, (_, t) => new Float64Array([w.reward(t)]));
  const lr = { w: 0.1, r: 0.1, v: 0.1 };
  // CPU time of this process (user + system), as the C side: load from others does not count
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const stepFor = async (ms: number, t0: number) => {
    let t = t0;
    const start = cpuMs();
    while (cpuMs() - start < ms) {
      for (let k = 0; k < 16; k++, t++) {
        await w.device.run({ steps: 1, t0: t, inputs: inputs[t % n], noisy: true });
        await w.device.reward({ t0: t, deltaLoss: rewards[t % n], lr });
      }
    }
    return { steps: t - t0, seconds: (cpuMs() - start) / 1000 };
  };
  const warm = await stepFor(Math.max(50, seconds * 100), 0); // JIT tiers
  w.device.takeRowSkipCounts();
  const r = await stepFor(seconds * 1000, warm.steps);
  const c = w.device.takeRowSkipCounts();
  return { stepsPerSecond: r.steps / r.seconds, rows: c.rows, skipped: c.skipped };
}

export interface Side { stepsPerSecond: number; gmacPerSecond: number; skippedShare: number }
export interface StepRow { H: number; B: number; rowSkip: boolean; emulator: Side; plain: Side; tuned: Side; vsTuned: number; vsPlain: number }

function side(r: Rate, macs: number): Side {
  return { stepsPerSecond: r.stepsPerSecond, gmacPerSecond: (r.stepsPerSecond * macs) / 1e9, skippedShare: r.rows > 0 ? r.skipped / r.rows : 0 };
}

const best = (a: Rate | undefined, b: Rate) => (!a || b.stepsPerSecond > a.stepsPerSecond ? b : a);

/**
 * The emulator's bits against both native kernels on small dumps, skip on and off:
 * every dump's final weight hash must be the emulator's.
 */
export async function sameBits(exe = buildC()): Promise<{ cases: string[]; ok: boolean }> {
  const cases: string[] = [];
  let ok = true;
  for (const [H, B, steps, seed] of [[24, 3, 20, 9], [37, 10, 12, 5], [40, 1, 20, 3]]) {
    const emu = await emulatorDump(H, B, steps, seed, 1e-2);
    for (const kernel of ['plain', 'tuned', 'coreTuned'] as NativeKernel[])
      for (const skip of ['skip', 'noskip']) {
        const lines = execFileSync(exe[kernel], ['dump', String(H), String(B), String(steps), String(seed), ...MODE[kernel], '1e-2', skip]).toString().trim().split('\n').map((l) => JSON.parse(l));
        const same = lines.find((l) => l.final).fnv1a64 === emu.hash;
        ok &&= same;
        cases.push(`H=${H} B=${B} ${steps} steps ${kernel} ${skip}: ${same ? 'same' : 'DIFFERENT'}`);
      }
  }
  return { cases, ok };
}

/**
 * dLScale: size of the rewards (1e-5: most weight changes round to zero under nearest
 * rounding, so with skipping on most rows are skipped; 1e-2: most weights change).
 */
export async function benchStep(seconds = 1, sizes = [100, 500, 1000], batches = [1, 10], dLScale = 1e-5, rowSkip = true, rounds = 3): Promise<StepRow[]> {
  buildC();
  const rows: StepRow[] = [];
  for (const H of sizes)
    for (const B of batches) {
      let e: Rate | undefined, p: Rate | undefined, t: Rate | undefined;
      for (let k = 0; k < rounds; k++) {
        e = best(e, await emulatorRate(H, B, seconds / rounds, dLScale, rowSkip));
        p = best(p, cRate('plain', H, B, seconds / rounds, dLScale, rowSkip));
        t = best(t, cRate('tuned', H, B, seconds / rounds, dLScale, rowSkip));
      }
      const macs = macsPerStep(H, B);
      rows.push({ H, B, rowSkip, emulator: side(e!, macs), plain: side(p!, macs), tuned: side(t!, macs), vsTuned: e!.stepsPerSecond / t!.stepsPerSecond, vsPlain: e!.stepsPerSecond / p!.stepsPerSecond });
    }
  return rows;
}

const pct = (x: number) => `${(100 * x).toFixed(0)}%`.padStart(4);

/** One line per configuration, for the console. */
export function formatStepRows(rows: StepRow[]): string[] {
  const out = ['   H   B | emulator steps/s GMAC/s skip | plain C steps/s GMAC/s skip | tuned AVX2 fused steps/s GMAC/s skip | emu/tuned emu/plain'];
  for (const r of rows) {
    const f = (s: Side, w: number) => `${s.stepsPerSecond.toFixed(0).padStart(w)} ${s.gmacPerSecond.toFixed(2).padStart(6)} ${pct(s.skippedShare)}`;
    out.push(`${String(r.H).padStart(4)} ${String(r.B).padStart(3)} | ${f(r.emulator, 16)} | ${f(r.plain, 15)} | ${f(r.tuned, 24)} | ${r.vsTuned.toFixed(2).padStart(8)}x ${r.vsPlain.toFixed(2).padStart(8)}x`);
  }
  return out;
}

export { workloadStep };

/**
 * Two cores for one chip (issue 14): ANP-T training steps per second on the emulator
 * with threads 1 and 2, alternated in the same run, and whether the two give the same
 * weights bit for bit. Online (one run + one reward per step), Mackey-Glass recall-15;
 * one row in chunks of 50 steps, where the per-call cost (the post, the host's work
 * between calls) is spread over 50 steps and the split of the work itself shows.
 */
import { execFileSync } from 'node:child_process';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';
import { trainAnpt } from '../src/learn/anpt.js';
import { mgEmulator } from './mg-emulator.js';

export interface CoresRow {
  hidden: number;
  batch: number;
  /** Steps per run/reward round trip (1: online). */
  chunk: number;
  steps: number;
  /** Train steps per second, one entry per alternated round. */
  one: number[];
  two: number[];
  /** Median steps/s of two threads over the median of one (the best rounds' ratio is printed too). */
  ratio: number;
  sameWeights: boolean;
  uptime: string;
}

async function train(threads: 1 | 2, H: number, B: number, steps: number, chunk: number): Promise<{ stepsPerSecond: number; weights: Float64Array }> {
  const task = mackeyGlassTask({ steps, batch: B, mode: 'recall', horizon: 15, seed: 42 });
  const dev = await mgEmulator(H, B, { threads }, chunk);
  const a = performance.now();
  await trainAnpt(dev, task.train, { epochs: 1, lr: { w: 0.3, r: 0.3, v: 0.3 }, chunkSteps: chunk });
  const seconds = (performance.now() - a) / 1000;
  const p = await dev.readParams();
  await dev.close();
  const weights = new Float64Array(p.w.length + p.r.length + p.v.length);
  weights.set(p.w);
  weights.set(p.r, p.w.length);
  weights.set(p.v, p.w.length + p.r.length);
  return { stepsPerSecond: steps / seconds, weights };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
const same = (a: Float64Array, b: Float64Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

function uptime(): string {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return 'uptime unavailable';
  }
}

/** For each (H, B, chunk; chunk 1 = online when left out): rounds of threads 1 then 2, alternated; `steps` steps each. */
export async function benchCores(sizes: [number, number, number?][], steps: number, rounds: number): Promise<CoresRow[]> {
  const rows: CoresRow[] = [];
  for (const [H, B, chunk = 1] of sizes) {
    await train(1, H, B, Math.min(steps, 50), chunk); // warm-up: compile, start a worker once
    await train(2, H, B, Math.min(steps, 50), chunk);
    const one: number[] = [];
    const two: number[] = [];
    let sameWeights = true;
    for (let r = 0; r < rounds; r++) {
      const a = await train(1, H, B, steps, chunk);
      const b = await train(2, H, B, steps, chunk);
      one.push(a.stepsPerSecond);
      two.push(b.stepsPerSecond);
      sameWeights &&= same(a.weights, b.weights);
    }
    rows.push({ hidden: H, batch: B, chunk, steps, one, two, ratio: median(two) / median(one), sameWeights, uptime: uptime() });
  }
  return rows;
}

export function formatCoresRows(rows: CoresRow[]): string[] {
  const best = (v: number[]) => Math.max(...v);
  const cols = (v: number[]) => `${median(v).toFixed(0)} (${v.map((x) => x.toFixed(0)).join(', ')})`;
  const out = ['   H      B    chunk  H*B     1 thread steps/s: median (rounds)       2 threads steps/s: median (rounds)      2/1 median  2/1 best  same weights  uptime at the end'];
  for (const r of rows)
    out.push(`   ${String(r.hidden).padEnd(6)} ${String(r.batch).padEnd(4)} ${String(r.chunk).padEnd(6)} ${String(r.hidden * r.batch).padEnd(7)} ${cols(r.one).padEnd(39)} ${cols(r.two).padEnd(39)} ${(r.ratio.toFixed(2) + 'x').padEnd(11)} ${((best(r.two) / best(r.one)).toFixed(2) + 'x').padEnd(9)} ${(r.sameWeights ? 'yes' : 'NO').padEnd(13)} ${r.uptime.replace(/^.*load/, 'load')}`);
  return out;
}

/**
 * Sizes checked before any allocation: an estimate of the memory a run will need, from
 * the task's sizes and the network's, against a limit. A request that cannot fit is
 * refused at once, with the estimate and the limit, instead of allocating for minutes
 * and failing late (or taking the machine down).
 *
 * The limit is half of this machine's memory (os.totalmem()), leaving the rest to the
 * system and other processes; ANPT_MEMORY_LIMIT_GB sets it explicitly. The estimates
 * count binary64 values (8 bytes) and round the copies up: generous on purpose, since
 * the point is to refuse what cannot work, not to squeeze the last gigabyte.
 */
import { statSync } from 'node:fs';
import os from 'node:os';

/** The memory limit (bytes) and how it was set, for the message. */
export function memoryLimit(): { bytes: number; source: string } {
  const env = Number(process.env.ANPT_MEMORY_LIMIT_GB);
  if (process.env.ANPT_MEMORY_LIMIT_GB !== undefined && env > 0) return { bytes: env * 2 ** 30, source: 'ANPT_MEMORY_LIMIT_GB' };
  return { bytes: os.totalmem() / 2, source: `half of this machine's ${gib(os.totalmem())}; set ANPT_MEMORY_LIMIT_GB to change it` };
}

/** 12.3 GB style (binary gigabytes, as os.totalmem reports bytes). */
export function gib(bytes: number): string {
  const g = bytes / 2 ** 30;
  return g >= 1e4 ? `${g.toExponential(1)} GB` : g >= 0.1 ? `${g.toFixed(1)} GB` : `${(bytes / 2 ** 20).toFixed(0)} MB`;
}

/** A task by name and options, as a TaskSpec holds it. */
export interface TaskSize {
  name: string;
  options: Record<string, unknown>;
}

/** What the data of a task holds: steps per sequence, batch, inputs, outputs (both splits have about this size). */
export function taskShape(t: TaskSize): { steps: number; batch: number; inputs: number; outputs: number; flag: string } {
  const o = t.options;
  const batch = Number(o.batch ?? 10);
  switch (t.name) {
    case 'mackey-glass':
      return { steps: Number(o.steps ?? 5000) + Number(o.horizon ?? 15), batch, inputs: 1, outputs: 1, flag: '--steps' };
    case 'copy':
      return { steps: 2 * Number(o.length ?? 100) + Number(o.delay ?? 10), batch, inputs: 10, outputs: 10, flag: '--copy-length' };
    case 'adding':
    case 'delayed-recall':
      // episodes of [value, marker, query] steps, one output (tasks/marked-episodes.ts)
      return { steps: Number(o.episode ?? 10) * Number(o.episodes ?? 100), batch, inputs: 3, outputs: 1, flag: '--episodes' };
    default: {
      // table data: every cell of the file becomes at most one binary64 value per use
      let size = 4e6; // data/WTH.csv is about 3 MB
      try {
        if (typeof o.file === 'string') size = statSync(o.file).size;
      } catch {
        // a missing file is reported when it is read
      }
      const cols = Array.isArray(o.inputs) && Array.isArray(o.targets) ? o.inputs.length + o.targets.length : 10;
      return { steps: Math.ceil(size / Math.max(1, batch)), batch, inputs: cols, outputs: 1, flag: '--data' };
    }
  }
}

export interface RunSize {
  task: TaskSize;
  hidden: number;
  /** Steps per device call (trace buffers), at most the sequence length. */
  chunkSteps?: number;
  /** BPTT stores the states of a whole window: its length in steps ('full' = the sequence). */
  bpttWindow?: number | 'full';
  /** Runs side by side (sweep workers), each with its own copy. */
  parallel?: number;
  /** Noisy copies of every sequence (anpt train --copies): the batch is the task's times this. */
  copies?: number;
}

/** Parts of a run's memory (bytes), by the flag that sets them. */
export function runMemory(r: RunSize): { flag: string; bytes: number; what: string }[] {
  const s = taskShape(r.task);
  const H = r.hidden, B = s.batch * (r.copies ?? 1), T = s.steps;
  const K = Math.min(T, r.chunkSteps ?? 1000);
  // train and test inputs and targets, the evaluation outputs and the step's copies (x 4)
  const data = 4 * 8 * T * B * (s.inputs + s.outputs);
  // W, R, V: the initial weights, the device's, reads, weights.json rows and text (x 8)
  const weights = 8 * 8 * H * (s.inputs + H + s.outputs);
  // per device call: clean and noisy states and outputs, and the hidden trace (x 4)
  const window = r.bpttWindow === undefined ? K : r.bpttWindow === 'full' ? T : Math.min(T, r.bpttWindow);
  const trace = 4 * 8 * Math.max(K, window) * B * (H + s.outputs);
  const n = Math.max(1, r.parallel ?? 1);
  // the largest factor of the states names the flag: the steps kept, the batch or the width
  const kept = Math.max(K, window);
  const traceFlag = kept >= Math.max(B, H) ? (window > K ? '--bptt-window' : s.flag) : B > H ? '--batch' : '--hidden';
  return [
    { flag: B > T ? '--batch' : s.flag, bytes: n * data, what: `data: ${T} steps x ${B} sequences x ${s.inputs + s.outputs} values` },
    { flag: '--hidden', bytes: n * weights, what: `weights: R is ${H} x ${H}` },
    { flag: traceFlag, bytes: n * trace, what: `states: ${Math.max(K, window)} steps x ${B} sequences x ${H} neurons` },
  ];
}

/**
 * Undefined when the run fits the limit, else the one-line reason: the estimate, its
 * largest part and the flag that sets it, the limit.
 */
export function memoryProblem(r: RunSize): string | undefined {
  const parts = runMemory(r);
  const total = parts.reduce((a, p) => a + p.bytes, 0);
  const limit = memoryLimit();
  if (Number.isFinite(total) && total <= limit.bytes) return undefined;
  const big = parts.reduce((a, p) => (p.bytes > a.bytes ? p : a));
  const par = (r.parallel ?? 1) > 1 ? ` (${r.parallel} runs side by side)` : '';
  return `${big.flag}: this run would need about ${gib(total)} of memory${par}, mostly ${big.what}; the limit is ${gib(limit.bytes)} (${limit.source}); lower ${big.flag}`;
}

/**
 * weights.json: the trained W, R, V as row-major nested arrays (W: hidden rows of
 * inputs, R: hidden x hidden, V: outputs rows of hidden), the topology, the chip
 * formats of a fixed-point run, the task (so `anpt eval` can rebuild its test set) and
 * the task's data normalisation, if any; with biases (topology.bias) also b (hidden)
 * and c (outputs) as flat arrays after V. Written by `anpt train` and `anpt device
 * pull`, read by `anpt eval` and `anpt device push`: the one reader and writer.
 */
import type { Activation, ChipFormats, MismatchConfig, Params } from './types.js';
import { ACTIVATIONS } from '../model/rnn.js';
import type { Task } from '../tasks/index.js';

export const WEIGHTS_FILE = 'weights.json';
export const WEIGHTS_FORMAT = 'anpt-weights/1';

export interface WeightsFile {
  format: typeof WEIGHTS_FORMAT;
  anptVersion: string;
  /** The training algorithm (anpt train --algo). */
  algo: string;
  /** 'float', 'emulator' or 'device'. */
  backend: string;
  /** The task and its options (anpt train's task flags). */
  task: { name: string; options: Record<string, unknown> };
  topology: { inputs: number; hidden: number; outputs: number; activation: Activation; bias?: boolean };
  /** Present for fixed-point runs: the values are exact multiples of the weight format's LSB. */
  formats?: ChipFormats;
  normalisation?: Task['normalisation'];
  /** The chip's per-neuron mismatch the weights were trained with (eval and predict apply it again). */
  mismatch?: MismatchConfig;
  W: (number | null)[][];
  R: (number | null)[][];
  V: (number | null)[][];
  /** Hidden biases b (H) and output biases c (O), with topology.bias. */
  b?: (number | null)[];
  c?: (number | null)[];
}

/**
 * The file's text: the header indented, each matrix row on one line (a 100 x 100 R is
 * 100 lines, not 10,000).
 */
export function weightsJson(f: WeightsFile): string {
  const { W, R, V, b, c, ...head } = f;
  const matrix = (m: (number | null)[][]) => `[\n${m.map((row) => `    ${JSON.stringify(row)}`).join(',\n')}\n  ]`;
  const h = JSON.stringify(head, null, 2);
  const biases = b && c ? `,\n  "b": ${JSON.stringify(b)},\n  "c": ${JSON.stringify(c)}` : '';
  return `${h.slice(0, h.lastIndexOf('}')).trimEnd()},\n  "W": ${matrix(W)},\n  "R": ${matrix(R)},\n  "V": ${matrix(V)}${biases}\n}\n`;
}

/** The b and c fields of a weights file from parameters with biases (none without). */
export function biasRows(p: Params): Pick<WeightsFile, 'b' | 'c'> {
  return p.b && p.c ? { b: toRows(p.b, 1, p.b.length)[0], c: toRows(p.c, 1, p.c.length)[0] } : {};
}

/** Row-major flat array -> rows (non-finite values become null, as in JSON). */
export function toRows(a: Float64Array, rows: number, cols: number): (number | null)[][] {
  return Array.from({ length: rows }, (_, i) => Array.from(a.subarray(i * cols, (i + 1) * cols), (v) => (Number.isFinite(v) ? v : null)));
}

/**
 * Rows of a weights file -> row-major flat array; `fail(what)` makes the caller's error
 * (its type and context) for a matrix with the wrong shape or a non-finite value.
 */
export function fromRows(m: unknown, rows: number, cols: number, name: string, fail: (what: string) => Error): Float64Array {
  if (!Array.isArray(m) || m.length !== rows) throw fail(`${name} must have ${rows} rows`);
  const out = new Float64Array(rows * cols);
  m.forEach((row: unknown, i) => {
    if (!Array.isArray(row) || row.length !== cols) throw fail(`${name} row ${i} must have ${cols} values`);
    row.forEach((v: unknown, j) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw fail(`${name}[${i}][${j}] is ${JSON.stringify(v)}, not a finite number (did the run diverge?)`);
      out[i * cols + j] = v;
    });
  });
  return out;
}

/**
 * The text of a weights file -> the file and its parameters, checked: format,
 * topology, activation, the three matrices. `fail(what)` makes the caller's error
 * (a UsageError on the command line, a DeviceError for the device commands).
 */
export function parseWeightsFile(text: string, fail: (what: string) => Error): { file: WeightsFile; params: Params } {
  let f: WeightsFile;
  try {
    f = JSON.parse(text) as WeightsFile;
  } catch (err) {
    throw fail(`not valid JSON (${(err as Error).message})`);
  }
  if (!f || f.format !== WEIGHTS_FORMAT) throw fail(`not an ${WEIGHTS_FORMAT} file (format ${JSON.stringify(f?.format)})`);
  const t = f.topology;
  for (const k of ['inputs', 'hidden', 'outputs'] as const) if (!t || !Number.isInteger(t[k]) || t[k] < 1) throw fail(`topology.${k} must be a positive integer`);
  if (!ACTIVATIONS.includes(t.activation)) throw fail(`topology.activation must be one of ${ACTIVATIONS.join(', ')}`);
  const params: Params = {
    w: fromRows(f.W, t.hidden, t.inputs, 'W', fail),
    r: fromRows(f.R, t.hidden, t.hidden, 'R', fail),
    v: fromRows(f.V, t.outputs, t.hidden, 'V', fail),
  };
  if (t.bias !== undefined && typeof t.bias !== 'boolean') throw fail('topology.bias must be true or false');
  if (t.bias) {
    params.b = fromRows([f.b], 1, t.hidden, 'b', fail);
    params.c = fromRows([f.c], 1, t.outputs, 'c', fail);
  } else if (f.b !== undefined || f.c !== undefined) throw fail('b and c (biases) need topology.bias true');
  return { file: f, params };
}

/**
 * The sweep grid: which chips (weight bits, activity bits, update rounding, noise,
 * mismatch) to try, with which methods and seeds, and how each method trains.
 *
 * A grid comes from a JSON file, from flags, or both (flags override the file). It is
 * checked completely before any work starts; every error names the entry that is wrong
 * and what is allowed, e.g. `grid.weightBits[2]: 17 is out of range; allowed 2..16`.
 * The checked grid (GridSpec) has every default written out, so the copy kept in the
 * results directory says exactly what ran.
 *
 * One grid point = one chip configuration (weightBits, activityBits, rounding, sigma,
 * mismatch). One row of the results = point x seed x method. The row key is the
 * canonical JSON (sorted keys) of everything that determines the row's numbers.
 */
import { defaultChipFormats, validateChipFormats, validateConfig } from '../device/config.js';
import { EMULATOR_LIMITS, layoutEstimate } from '../device/emulator.js';
import { KERNEL_MAX_MEMORY_BYTES } from '../device/wasm.js';
import type { Activation, DeviceConfig } from '../device/types.js';
import { ConfigError, FORMAT_BITS, ROUNDINGS, type Rounding } from '../format/fixed.js';
import { memoryProblem } from '../limits/memory.js';
import { FLOAT_ANPT_SPECTRAL_CAP } from '../learn/defaults.js';
import { makeTask, TASK_NAMES, TaskError, type Task, type TaskName } from '../tasks/index.js';

/** The three ways to get a network onto the chip that the study compares. */
export const METHODS = ['anpt-chip', 'bptt-ptq', 'anpt-float-ptq'] as const;
export type SweepMethod = (typeof METHODS)[number];

/** What each method is, in one line (help text and the report). */
export const METHOD_DESCRIPTIONS: Record<SweepMethod, string> = {
  'anpt-chip': 'ANP-T trained on the quantised, noisy (mismatched) emulator itself',
  'bptt-ptq': 'float BPTT, then post-training quantisation onto the emulator',
  'anpt-float-ptq': 'ANP-T on the float model, then post-training quantisation onto the emulator',
};

/** The reference seeds of the paper's code; a seed count takes these first. */
export const REFERENCE_SEEDS = [42, 101, 300, 482, 708];

/** A task by name with its options (the per-row seed is added when the data is built). */
export interface GridTask {
  name: TaskName;
  options: Record<string, unknown>;
}

export interface AnptSettings {
  epochs: number;
  /** Base step size of W, R and V. */
  lr: number;
  schedule: 'constant' | 'cosine';
  /** Steps per run/reward round trip (1 = online). */
  chunk: number;
}

export interface BpttSettings {
  epochs: number;
  lr: number;
  /** Steps per gradient window, or 'full'. */
  window: number | 'full';
  optimizer: 'adam' | 'sgd';
}

export interface DiagnosticSettings {
  /** Noise draws averaged for the mean ANP-T update (0 = no gradient diagnostic). */
  samples: number;
  /** Steps K of the chunk the update and the gradient are measured on. */
  steps: number;
  /** Clean steps run from a zero state before the chunk (puts the state on the data). */
  warmup: number;
}

/** A checked grid with every default filled in. */
export interface GridSpec {
  task: GridTask;
  hidden: number;
  activation: Activation;
  weightBits: number[];
  activityBits: number[];
  rounding: Rounding[];
  /** Noise std on hidden pre-activations and outputs, real units. */
  sigma: number[];
  /** Mismatch spread s: per-neuron gain std s (relative) and offset std s (real units). */
  mismatch: number[];
  seeds: number[];
  methods: SweepMethod[];
  anpt: AnptSettings;
  bptt: BpttSettings;
  diagnostics: DiagnosticSettings;
  /** Hidden and output biases b, c (topology.bias) in every network of the grid; default false. */
  bias?: boolean;
}

/** One chip configuration of the grid. */
export interface GridPoint {
  weightBits: number;
  activityBits: number;
  rounding: Rounding;
  sigma: number;
  mismatch: number;
}

/**
 * Defaults: the issue's study (weight bits 4..16 x both update roundings x 3 seeds x
 * every method, at sigma 1e-3 without mismatch) on Mackey-Glass recall-15 with the
 * reference code's sequences (T = 5000, B = 10). H = 64 rather than `anpt train`'s 100
 * because a sweep trains a hundred networks. ANP-T: `anpt train`'s defaults (lr 0.1,
 * cosine, online, 10 epochs; docs/emulator.md). BPTT: Adam with window 20 as in
 * src/cli/defaults.ts, but step size 0.001: measured here on Mackey-Glass H=64, T=2000,
 * seeds 42 and 101, 5 epochs, 0.001 reached 0.028 / 0.032 of the zero-output MSE and
 * kept falling, 0.003 wandered between 0.04 and 0.09, 0.01 ended at 0.13 / 0.91.
 */
export const GRID_DEFAULTS: GridSpec = {
  task: { name: 'mackey-glass', options: { steps: 5000, batch: 10, mode: 'recall', horizon: 15 } },
  hidden: 64,
  activation: 'tanh',
  weightBits: [4, 6, 8, 10, 12, 16],
  activityBits: [16],
  rounding: ['nearest', 'stochastic'],
  sigma: [1e-3],
  mismatch: [0],
  seeds: REFERENCE_SEEDS.slice(0, 3),
  methods: [...METHODS],
  anpt: { epochs: 10, lr: 0.1, schedule: 'cosine', chunk: 1 },
  bptt: { epochs: 10, lr: 0.001, window: 20, optimizer: 'adam' },
  diagnostics: { samples: 64, steps: 20, warmup: 100 },
};

const TOP_KEYS = ['task', 'hidden', 'activation', 'weightBits', 'activityBits', 'rounding', 'sigma', 'mismatch', 'seeds', 'methods', 'anpt', 'bptt', 'diagnostics', 'bias'] as const;
const SUB_KEYS = {
  anpt: ['epochs', 'lr', 'schedule', 'chunk'],
  bptt: ['epochs', 'lr', 'window', 'optimizer'],
  diagnostics: ['samples', 'steps', 'warmup'],
} as const;

/** Options each task takes in a grid (the seed is the row's). */
const TASK_OPTION_KEYS: Record<TaskName, string[]> = {
  'mackey-glass': ['steps', 'batch', 'mode', 'horizon'],
  copy: ['length', 'delay', 'batch'],
  weather: ['batch', 'file'],
  csv: ['file', 'inputs', 'targets', 'batch', 'split', 'horizon'],
  adding: ['episode', 'episodes', 'batch'],
  'delayed-recall': ['episode', 'episodes', 'batch'],
};

/** Tasks whose data is drawn from the row's seed. */
const SEEDED_TASKS: TaskName[] = ['mackey-glass', 'copy', 'adding', 'delayed-recall'];

const show = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : JSON.stringify(v) ?? String(v));

function unknownKey(field: string, key: string, known: readonly string[]): ConfigError {
  const near = known.find((k) => k.toLowerCase() === key.toLowerCase());
  return new ConfigError(`${field}.${key}`.replace(/^\./, ''), `unknown key${near ? `; did you mean ${near}?` : ''}; known keys: ${known.join(', ')}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function intIn(v: unknown, field: string, min: number, max: number, unit = ''): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigError(field, `${show(v)} is not an integer; allowed ${min}..${max}${unit}`);
  if (v < min || v > max) throw new ConfigError(field, `${v} is out of range; allowed ${min}..${max}${unit}`);
  return v;
}

function realIn(v: unknown, field: string, min: number, max: number, unit: string, openMin = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(field, `${show(v)} is not a number; allowed ${openMin ? `> ${min}` : `${min}`}..${max} ${unit}`);
  if (v < min || v > max || (openMin && v === min)) throw new ConfigError(field, `${v} is out of range; allowed ${openMin ? `> ${min} and up to ${max}` : `${min}..${max}`} ${unit}`);
  return v;
}

function word<T extends string>(v: unknown, field: string, allowed: readonly T[]): T {
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw new ConfigError(field, `${show(v)} is not one of ${allowed.join(', ')}`);
  return v as T;
}

/** A non-empty list without repeats, each entry checked by `one`. */
function list<T>(v: unknown, field: string, example: string, one: (x: unknown, f: string) => T): T[] {
  if (!Array.isArray(v)) throw new ConfigError(field, `${show(v)} is not a list; e.g. ${example}`);
  if (v.length === 0) throw new ConfigError(field, `the list is empty; give at least one value, e.g. ${example}`);
  const out: T[] = [];
  v.forEach((x, i) => {
    const checked = one(x, `${field}[${i}]`);
    const first = out.findIndex((y) => y === checked);
    if (first >= 0) throw new ConfigError(`${field}[${i}]`, `${show(x)} is listed twice (also ${field}[${first}]); list each value once`);
    out.push(checked);
  });
  return out;
}

function resolveSeeds(v: unknown): number[] {
  if (typeof v === 'number') {
    const n = intIn(v, 'grid.seeds', 1, 1000, ' (a count; or give a list of seeds)');
    return Array.from({ length: n }, (_, k) => (k < REFERENCE_SEEDS.length ? REFERENCE_SEEDS[k] : 1000 + k));
  }
  return list(v, 'grid.seeds', '[42, 101, 300] or a count such as 3', (x, f) => intIn(x, f, 0, 0xffffffff));
}

function resolveTask(v: unknown): GridTask {
  const raw = typeof v === 'string' ? { name: v, options: {} } : v;
  if (!isObject(raw)) throw new ConfigError('grid.task', `${show(v)} is not a task; e.g. {"name": "mackey-glass", "options": {"steps": 2000}}`);
  for (const k of Object.keys(raw)) if (k !== 'name' && k !== 'options') throw unknownKey('grid.task', k, ['name', 'options']);
  const name = word(raw.name, 'grid.task.name', TASK_NAMES);
  const options = raw.options ?? {};
  if (!isObject(options)) throw new ConfigError('grid.task.options', `${show(options)} is not an object of task options`);
  const known = TASK_OPTION_KEYS[name];
  const kept: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(options)) {
    if (k === 'seed') continue; // the row's seed decides the data
    if (!known.includes(k)) throw unknownKey('grid.task.options', k, known);
    kept[k] = x;
  }
  const defaults = name === 'mackey-glass' ? GRID_DEFAULTS.task.options : { batch: 10 };
  return { name, options: { ...defaults, ...kept } };
}

/** The options makeTask gets for a row: the grid's task options plus the seed of seeded tasks. */
export function taskOptionsFor(task: GridTask, seed: number): Record<string, unknown> {
  return SEEDED_TASKS.includes(task.name) ? { ...task.options, seed } : { ...task.options };
}

/** Build a row's task data. */
export function buildGridTask(task: GridTask, seed: number): Task {
  return makeTask(task.name, taskOptionsFor(task, seed));
}

function sub(raw: Record<string, unknown>, key: keyof typeof SUB_KEYS): Record<string, unknown> {
  const v = raw[key];
  if (v === undefined) return {};
  if (!isObject(v)) throw new ConfigError(`grid.${key}`, `${show(v)} is not an object; e.g. {"epochs": 5}`);
  for (const k of Object.keys(v)) if (!(SUB_KEYS[key] as readonly string[]).includes(k)) throw unknownKey(`grid.${key}`, k, SUB_KEYS[key]);
  return v;
}

/**
 * Check a raw grid (parsed JSON, or built from flags) and fill in the defaults.
 * Throws ConfigError naming the first bad entry (`grid.<key>[<index>]`); nothing runs.
 * Every point is also checked as the emulator would check its configuration.
 */
export function resolveGrid(raw: unknown): GridSpec {
  if (!isObject(raw)) throw new ConfigError('grid', `${show(raw)} is not a JSON object of grid settings; e.g. {"weightBits": [4, 8, 16]}`);
  for (const k of Object.keys(raw)) if (!(TOP_KEYS as readonly string[]).includes(k)) throw unknownKey('grid', k, TOP_KEYS);
  const d = GRID_DEFAULTS;
  const pick = (k: keyof GridSpec) => (raw[k] === undefined ? d[k] : raw[k]);
  const task = resolveTask(pick('task'));
  const hidden = intIn(pick('hidden'), 'grid.hidden', 1, EMULATOR_LIMITS.maxHidden);
  const activation = word(pick('activation'), 'grid.activation', ['tanh', 'hardtanh', 'linear'] as const);
  const methods = list(pick('methods'), 'grid.methods', '["anpt-chip", "bptt-ptq"]', (x, f) => word(x, f, METHODS));
  const weightBits = list(pick('weightBits'), 'grid.weightBits', '[4, 8, 16]', (x, f) => intIn(x, f, FORMAT_BITS.min, FORMAT_BITS.max));
  const activityBits = list(pick('activityBits'), 'grid.activityBits', '[16]', (x, f) => intIn(x, f, 5, 16));
  const rounding = list(pick('rounding'), 'grid.rounding', '["nearest", "stochastic"]', (x, f) => word(x, f, ROUNDINGS));
  const needsNoise = methods.some((m) => m !== 'bptt-ptq');
  const sigma = list(pick('sigma'), 'grid.sigma', '[0.001]', (x, f) => {
    const s = realIn(x, f, 0, 1, '(real units)');
    if (s === 0 && needsNoise)
      throw new ConfigError(f, `0 gives ANP-T no perturbation to learn from; allowed > 0 and up to 1 (real units) when methods include anpt-chip or anpt-float-ptq`);
    return s;
  });
  const mismatch = list(pick('mismatch'), 'grid.mismatch', '[0, 0.05]', (x, f) => realIn(x, f, 0, 0.5, '(relative gain std; the offset std is the same number in real units)'));
  const seeds = resolveSeeds(pick('seeds'));

  const a = { ...d.anpt, ...sub(raw, 'anpt') };
  const anpt: AnptSettings = {
    epochs: intIn(a.epochs, 'grid.anpt.epochs', 1, 100000),
    lr: realIn(a.lr, 'grid.anpt.lr', 0, 1e6, ''),
    schedule: word(a.schedule, 'grid.anpt.schedule', ['constant', 'cosine'] as const),
    chunk: intIn(a.chunk, 'grid.anpt.chunk', 1, EMULATOR_LIMITS.maxChunkSteps, ' steps (1 = online)'),
  };
  const b = { ...d.bptt, ...sub(raw, 'bptt') };
  const bptt: BpttSettings = {
    epochs: intIn(b.epochs, 'grid.bptt.epochs', 1, 100000),
    lr: realIn(b.lr, 'grid.bptt.lr', 0, 1e6, '', true),
    window: b.window === 'full' ? 'full' : intIn(b.window, 'grid.bptt.window', 1, 1e9, " steps, or 'full'"),
    optimizer: word(b.optimizer, 'grid.bptt.optimizer', ['adam', 'sgd'] as const),
  };
  const g = { ...d.diagnostics, ...sub(raw, 'diagnostics') };
  const diagnostics: DiagnosticSettings = {
    samples: intIn(g.samples, 'grid.diagnostics.samples', 0, 100000, ' (0 = no gradient diagnostic)'),
    steps: intIn(g.steps, 'grid.diagnostics.steps', 1, 100000),
    warmup: intIn(g.warmup, 'grid.diagnostics.warmup', 0, 100000),
  };
  const bias = raw.bias ?? false;
  if (typeof bias !== 'boolean') throw new ConfigError('grid.bias', `${show(bias)} is not true or false (hidden and output biases in every network)`);
  const spec: GridSpec = { task, hidden, activation, weightBits, activityBits, rounding, sigma, mismatch, seeds, methods, anpt, bptt, diagnostics, ...(bias ? { bias } : {}) };
  // sizes before any data exists (checkRunnable builds it): field 'grid.size' carries a finished one-line message
  const tooBig = gridMemoryProblem(spec, 1);
  if (tooBig) throw new ConfigError('grid.size', tooBig);
  checkRunnable(spec);
  return spec;
}

/** The memory estimate of one row (src/limits/memory.ts), times `parallel` rows side by side; undefined when it fits. */
export function gridMemoryProblem(spec: GridSpec, parallel: number): string | undefined {
  return memoryProblem({
    task: spec.task, hidden: spec.hidden, chunkSteps: Math.max(spec.anpt.chunk, 1000), parallel,
    bpttWindow: spec.methods.includes('bptt-ptq') ? spec.bptt.window : undefined,
  });
}

/** Build the data once and configure-check every point, so that a grid that cannot run fails now. */
function checkRunnable(spec: GridSpec): void {
  let data: Task;
  try {
    data = buildGridTask(spec.task, spec.seeds[0]);
  } catch (err) {
    if (err instanceof TaskError) throw new ConfigError('grid.task', err.message);
    throw err;
  }
  const T = data.train.steps;
  if (spec.diagnostics.samples > 0 && spec.methods.includes('anpt-chip') && spec.diagnostics.warmup + spec.diagnostics.steps > T)
    throw new ConfigError('grid.diagnostics', `warmup ${spec.diagnostics.warmup} + steps ${spec.diagnostics.steps} exceed the ${T} steps of a training sequence; lower them or set samples 0`);
  const maxChunk = chunkStepsFor(rowConfig(spec, gridPoints(spec)[0], 'anpt-chip'), T);
  const bytes = layoutEstimate(data.inputSize, spec.hidden, data.outputSize, data.train.batch, maxChunk);
  if (bytes > KERNEL_MAX_MEMORY_BYTES - 2 ** 20)
    throw new ConfigError('grid.hidden', `${spec.hidden} hidden with batch ${data.train.batch} needs ${(bytes / 2 ** 20).toFixed(0)} MiB of emulator memory; the limit is ${(KERNEL_MAX_MEMORY_BYTES / 2 ** 20 - 1).toFixed(0)} MiB`);
  for (const [i, weightBits] of spec.weightBits.entries())
    for (const [j, activityBits] of spec.activityBits.entries())
      for (const [k, sigma] of spec.sigma.entries())
        for (const [m, mismatch] of spec.mismatch.entries()) {
          const point: GridPoint = { weightBits, activityBits, rounding: spec.rounding[0], sigma, mismatch };
          const cfg = chipConfig(rowConfig(spec, point, 'anpt-chip'), data, spec.seeds[0]);
          try {
            validateConfig(cfg, EMULATOR_LIMITS);
            validateChipFormats(cfg);
          } catch (err) {
            if (!(err instanceof ConfigError)) throw err;
            const where = err.field.startsWith('noise') ? `grid.sigma[${k}]` : err.field.startsWith('mismatch') ? `grid.mismatch[${m}]` : `grid.weightBits[${i}] / grid.activityBits[${j}]`;
            throw new ConfigError(where, `the point weightBits ${weightBits}, activityBits ${activityBits}, sigma ${sigma}, mismatch ${mismatch} cannot run on the emulator: ${err.message}`);
          }
        }
}

/**
 * The emulator's chunk size for a row: the longest run() it makes (training chunks,
 * the diagnostic's chunk, and evaluation in chunks of up to 1000 steps).
 */
export function chunkStepsFor(config: RowConfig, trainSteps: number): number {
  let k = Math.max(Math.min(1000, trainSteps), Math.min(config.anpt?.chunk ?? 1, trainSteps));
  if (config.diagnostics) k = Math.max(k, config.diagnostics.steps);
  return k;
}

/** The emulator configuration of a row (noise, mismatch and stochastic rounding seeded by the row's seed). */
export function chipConfig(config: RowConfig, task: Task, seed: number): DeviceConfig {
  const point = config.point;
  return {
    topology: { inputs: task.inputSize, hidden: config.hidden, outputs: task.outputSize, batch: task.train.batch, activation: config.activation, ...(config.bias ? { bias: true } : {}) },
    formats: defaultChipFormats({ weightBits: point.weightBits, activityBits: point.activityBits, rounding: point.rounding }),
    noise: { hiddenSigma: point.sigma, outputSigma: point.sigma },
    mismatch: point.mismatch > 0 ? { gainSpread: point.mismatch, offsetSpread: point.mismatch, seed } : undefined,
    seed,
    maxChunkSteps: chunkStepsFor(config, task.train.steps),
  };
}

/** Every point of the grid, in grid order (weight bits outermost). */
export function gridPoints(spec: GridSpec): GridPoint[] {
  const out: GridPoint[] = [];
  for (const weightBits of spec.weightBits)
    for (const activityBits of spec.activityBits)
      for (const rounding of spec.rounding)
        for (const sigma of spec.sigma)
          for (const mismatch of spec.mismatch) out.push({ weightBits, activityBits, rounding, sigma, mismatch });
  return out;
}

/** JSON with object keys sorted at every level: equal values give equal strings. */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(sortKeys(v));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (isObject(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) if (v[k] !== undefined) out[k] = sortKeys(v[k]);
    return out;
  }
  return v;
}

/**
 * Everything that determines one row's numbers: the task and network, the point,
 * and the settings of the method's own training (and of the diagnostic for anpt-chip).
 */
export interface RowConfig {
  task: GridTask;
  hidden: number;
  activation: Activation;
  point: GridPoint;
  anpt?: AnptSettings;
  bptt?: BpttSettings;
  diagnostics?: DiagnosticSettings;
  /** Biases b, c in the network (absent without: the keys of grids without biases are unchanged). */
  bias?: true;
}

/** A row to run: its key, and what the worker needs. */
export interface RowSpec {
  key: string;
  method: SweepMethod;
  seed: number;
  config: RowConfig;
}

/** The configuration of one row; see RowConfig. */
export function rowConfig(spec: GridSpec, point: GridPoint, method: SweepMethod): RowConfig {
  const base = { task: spec.task, hidden: spec.hidden, activation: spec.activation, point, ...(spec.bias ? { bias: true as const } : {}) };
  if (method === 'bptt-ptq') return { ...base, bptt: spec.bptt };
  if (method === 'anpt-float-ptq') return { ...base, anpt: spec.anpt };
  return { ...base, anpt: spec.anpt, diagnostics: spec.diagnostics.samples > 0 ? spec.diagnostics : undefined };
}

/** The resume key of a row: canonical JSON of its configuration, seed and method. */
export function rowKey(config: RowConfig, seed: number, method: SweepMethod): string {
  return canonicalJson({ config, method, seed });
}

/** Every row of the grid, in grid order (point, then seed, then method). */
export function gridRows(spec: GridSpec): RowSpec[] {
  const out: RowSpec[] = [];
  for (const point of gridPoints(spec))
    for (const seed of spec.seeds)
      for (const method of spec.methods) {
        const config = rowConfig(spec, point, method);
        out.push({ key: rowKey(config, seed, method), method, seed, config });
      }
  return out;
}

/**
 * The float training a post-training-quantisation row starts from. It does not see the
 * chip (no formats, no mismatch), so rows that differ only in the chip share it:
 * bptt-ptq per seed, anpt-float-ptq per seed and sigma (its perturbation).
 */
export interface FloatJob {
  key: string;
  method: 'bptt-ptq' | 'anpt-float-ptq';
  seed: number;
  task: GridTask;
  hidden: number;
  activation: Activation;
  /** anpt-float-ptq: noise std of the float model's noisy copy, real units. */
  sigma?: number;
  /** anpt-float-ptq: spectral-radius cap of R, as `anpt train --backend float` (part of the key, so a float cache trained without it is not reused). */
  spectralCap?: number;
  anpt?: AnptSettings;
  bptt?: BpttSettings;
  /** Biases b, c (absent without: the keys of float trainings without biases are unchanged). */
  bias?: true;
}

/** The float training a PTQ row needs (undefined for anpt-chip). */
export function floatJobFor(row: RowSpec): FloatJob | undefined {
  if (row.method === 'anpt-chip') return undefined;
  const c = row.config;
  const base = { method: row.method, seed: row.seed, task: c.task, hidden: c.hidden, activation: c.activation, ...(c.bias ? { bias: c.bias } : {}) };
  const job: Omit<FloatJob, 'key'> = row.method === 'bptt-ptq'
    ? { ...base, bptt: c.bptt }
    : { ...base, sigma: c.point.sigma, spectralCap: FLOAT_ANPT_SPECTRAL_CAP, anpt: c.anpt };
  return { key: canonicalJson(job), ...job };
}

/**
 * The task flags shared by `anpt train` and `anpt eval`, and the fully resolved task
 * description (TaskSpec) that a run saves, so `anpt eval` can rebuild the same data.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { makeTask, TASK_NAMES, TaskError, type Task, type TaskName } from '../tasks/index.js';
import { VALIDATION_SEED_OFFSET } from '../learn/defaults.js';
import { TASK_DEFAULTS } from './defaults.js';
import { UsageError } from './errors.js';
import { choice, fraction, nameList, nonNegativeInt, positiveInt, refuse } from './options.js';

/** Task flags as commander returns them (strings; undefined when absent). */
export interface TaskFlags {
  task?: string;
  batch?: string;
  steps?: string;
  mgMode?: string;
  horizon?: string;
  copyLength?: string;
  copyDelay?: string;
  episode?: string;
  episodes?: string;
  data?: string;
  inputs?: string;
  targets?: string;
  split?: string;
}

/** A task by name with every option written out (JSON-serialisable): what makeTask gets. */
export interface TaskSpec {
  name: TaskName;
  options: Record<string, unknown>;
}

/** Declare the task flags on a command. */
export function addTaskOptions(cmd: Command, forTraining: boolean): Command {
  // eval starts from the run's saved task: its defaults are the run's values
  const dflt = (value: unknown) => (forTraining ? `default ${String(value)}` : "default: the run's");
  return cmd
    .option('--task <name>', `task: ${TASK_NAMES.join(' | ')} (${forTraining ? 'required' : 'default: the task the weights were trained on'})`)
    .option('--batch <B>', `sequences side by side (${dflt(TASK_DEFAULTS.batch)})`)
    .option('--steps <T>', `mackey-glass: steps per sequence (${dflt(TASK_DEFAULTS.mackeyGlass.steps)})`)
    .option('--mg-mode <mode>', `mackey-glass: recall (input s(t+h), target s(t); the reference code) | forecast (${dflt(TASK_DEFAULTS.mackeyGlass.mode)})`)
    .option('--horizon <h>', forTraining
      ? `mackey-glass: lag in samples (default ${TASK_DEFAULTS.mackeyGlass.horizon}); csv: rows between inputs and targets (default ${TASK_DEFAULTS.csv.horizon})`
      : "mackey-glass: lag in samples; csv: rows between inputs and targets (default: the run's)")
    .option('--copy-length <n>', `copy: symbols to remember (${dflt(TASK_DEFAULTS.copy.length)})`)
    .option('--copy-delay <n>', `copy: blank steps before recall (${dflt(TASK_DEFAULTS.copy.delay)})`)
    .option('--episode <L>', `adding, delayed-recall: steps per episode, the last one the query (${dflt(TASK_DEFAULTS.episodes.episode)})`)
    .option('--episodes <n>', `adding, delayed-recall: episodes per sequence (${dflt(TASK_DEFAULTS.episodes.episodes)})`)
    .option('--data <file.csv>', `csv: the data file (${forTraining ? 'required' : "default: the run's"}); weather: another copy of WTH.csv`)
    .option('--inputs <a,b>', `csv: input column names, comma-separated (${forTraining ? 'required' : "default: the run's"})`)
    .option('--targets <c>', `csv: target column names, comma-separated (${forTraining ? 'required' : "default: the run's"})`)
    .option('--split <fraction>', `csv: fraction of rows (in time order) used for training (${dflt(TASK_DEFAULTS.csv.split)})`);
}

/** Refuse flags that the chosen task does not use. */
function refuseForeignFlags(name: TaskName, f: TaskFlags): void {
  const only = (flag: string, raw: unknown, tasks: TaskName[]) => {
    if (!tasks.includes(name)) refuse(flag, raw, `applies to --task ${tasks.join(' or ')} only, not ${name}; remove it`);
  };
  only('--steps', f.steps, ['mackey-glass']);
  only('--mg-mode', f.mgMode, ['mackey-glass']);
  only('--horizon', f.horizon, ['mackey-glass', 'csv']);
  only('--copy-length', f.copyLength, ['copy']);
  only('--copy-delay', f.copyDelay, ['copy']);
  only('--episode', f.episode, ['adding', 'delayed-recall']);
  only('--episodes', f.episodes, ['adding', 'delayed-recall']);
  only('--data', f.data, ['csv', 'weather']);
  only('--inputs', f.inputs, ['csv']);
  only('--targets', f.targets, ['csv']);
  only('--split', f.split, ['csv']);
}

export interface ResolveTaskOptions {
  /** Seed of the data (seeded tasks); default: the saved one, else 42. */
  seed?: number;
  /** A run's saved task (eval): the starting point when --task is absent or the same. */
  saved?: TaskSpec;
}

/**
 * The task to run, every option resolved. `seed` (when given) seeds the data of the
 * seeded tasks. With `saved` (eval), a run's saved task is the starting point when
 * --task is absent or names the same task; flags given on the command line override it.
 */
export function resolveTaskSpec(f: TaskFlags, opts: ResolveTaskOptions = {}): TaskSpec {
  const saved = opts.saved;
  if (f.task === undefined && !saved) throw new UsageError(`--task is required: one of ${TASK_NAMES.join(', ')}; e.g. --task mackey-glass`);
  const name = f.task === undefined ? saved!.name : choice('--task', f.task, TASK_NAMES, 'mackey-glass');
  refuseForeignFlags(name, f);
  const base = saved && saved.name === name ? saved.options : {};
  const pick = <T>(given: T | undefined, key: string, fallback: T): T => given ?? (base[key] as T | undefined) ?? fallback;
  const batch = pick(f.batch === undefined ? undefined : positiveInt('--batch', f.batch, TASK_DEFAULTS.batch), 'batch', TASK_DEFAULTS.batch);
  const seed = pick(opts.seed, 'seed', 42);
  switch (name) {
    case 'mackey-glass': {
      const d = TASK_DEFAULTS.mackeyGlass;
      return {
        name,
        options: {
          steps: pick(f.steps === undefined ? undefined : positiveInt('--steps', f.steps, d.steps), 'steps', d.steps),
          batch,
          mode: pick(f.mgMode === undefined ? undefined : choice('--mg-mode', f.mgMode, ['recall', 'forecast'] as const, d.mode), 'mode', d.mode),
          horizon: pick(f.horizon === undefined ? undefined : nonNegativeInt('--horizon', f.horizon, d.horizon), 'horizon', d.horizon),
          seed,
        },
      };
    }
    case 'copy': {
      const d = TASK_DEFAULTS.copy;
      return {
        name,
        options: {
          length: pick(f.copyLength === undefined ? undefined : positiveInt('--copy-length', f.copyLength, d.length), 'length', d.length),
          delay: pick(f.copyDelay === undefined ? undefined : nonNegativeInt('--copy-delay', f.copyDelay, d.delay), 'delay', d.delay),
          batch,
          seed,
        },
      };
    }
    case 'adding':
    case 'delayed-recall': {
      const d = TASK_DEFAULTS.episodes;
      return {
        name,
        options: {
          episode: pick(f.episode === undefined ? undefined : positiveInt('--episode', f.episode, d.episode), 'episode', d.episode),
          episodes: pick(f.episodes === undefined ? undefined : positiveInt('--episodes', f.episodes, d.episodes), 'episodes', d.episodes),
          batch,
          seed,
        },
      };
    }
    case 'weather': {
      const file = f.data === undefined ? (base.file as string | undefined) : resolve(f.data);
      return { name, options: file === undefined ? { batch } : { batch, file } };
    }
    case 'csv': {
      const d = TASK_DEFAULTS.csv;
      const file = f.data === undefined ? (base.file as string | undefined) : resolve(f.data);
      const inputs = nameList('--inputs', f.inputs, 'a,b') ?? (base.inputs as string[] | undefined);
      const targets = nameList('--targets', f.targets, 'c') ?? (base.targets as string[] | undefined);
      if (file === undefined) throw new UsageError('--task csv needs --data FILE: a CSV file with a header row, one row per time step; e.g. --data data/WTH.csv');
      if (inputs === undefined) throw new UsageError('--task csv needs --inputs: the input column names, comma-separated; e.g. --inputs Visibility,WindSpeed');
      if (targets === undefined) throw new UsageError('--task csv needs --targets: the target column names, comma-separated; e.g. --targets DryBulbFarenheit');
      return {
        name,
        options: {
          file, inputs, targets, batch,
          split: pick(f.split === undefined ? undefined : fraction('--split', f.split, d.split), 'split', d.split),
          horizon: pick(f.horizon === undefined ? undefined : nonNegativeInt('--horizon', f.horizon, d.horizon), 'horizon', d.horizon),
        },
      };
    }
  }
}

/** Whether a seed draws the task's data (weather and csv are one fixed series): what a validation draw needs. */
export function hasDataSeed(spec: TaskSpec): boolean {
  return typeof spec.options.seed === 'number';
}

/** The validation draw of a seeded task: the same options with data seed + VALIDATION_SEED_OFFSET (mod 2^32). */
export function validationTaskSpec(spec: TaskSpec): TaskSpec {
  if (!hasDataSeed(spec)) throw new UsageError(`--task ${spec.name} has no data seed to draw a validation set with`);
  return { name: spec.name, options: { ...spec.options, seed: ((spec.options.seed as number) + VALIDATION_SEED_OFFSET) % 2 ** 32 } };
}

/**
 * Build the task's data. A missing CSV column names the flag it came from; every
 * other TaskError passes through (its message already says what to do).
 */
export function buildTask(spec: TaskSpec): Task {
  try {
    return makeTask(spec.name, spec.options);
  } catch (err) {
    if (err instanceof TaskError && err.code === 'MISSING_COLUMN' && spec.name === 'csv') {
      const inputs = spec.options.inputs as string[];
      const flag = inputs.some((c) => err.message.includes(`no column '${c}'`)) ? '--inputs' : '--targets';
      throw new TaskError(err.code, `${flag}: ${err.message}`);
    }
    throw err;
  }
}

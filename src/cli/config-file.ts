/**
 * `anpt train --config run.json`: flags from a JSON file, one key per flag as --help
 * spells it without the dashes ("hidden": 100, "weight-bits": 8, "readout-only": true,
 * "no-diagnostics": true); flags on the command line override the file. Every run
 * writes config.json into its directory with every resolved value (defaults included),
 * so `anpt train --config DIR/config.json --out other` repeats the run exactly.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { UsageError } from './errors.js';
import type { TrainConfig, TrainFlags } from './train-config.js';

/** Flags that say where and how to write, not what to run: never read from or written to a config. */
const NOT_CONFIG = new Set(['config', 'out', 'force', 'json', 'quiet', 'progress-every', 'help']);

/** The attribute commander stores a long flag under: weight-bits -> weightBits, no-diagnostics -> diagnostics. */
function attributeOf(cmd: Command, key: string): { name: string; negate: boolean } | undefined {
  const opt = cmd.options.find((o) => o.long === `--${key}`);
  return opt ? { name: opt.attributeName(), negate: opt.negate } : undefined;
}

/** Merge DIR/config.json-style flags under the command line's (the command line wins). */
export function applyConfigFile(flags: TrainFlags & { config?: string }, cmd: Command): TrainFlags {
  if (flags.config === undefined) return flags;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(flags.config, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(`--config: cannot read '${flags.config}' (${e.code ?? e.message}); give a JSON file of flags, e.g. {"task": "mackey-glass", "hidden": 100}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new UsageError(`--config: '${flags.config}' must hold one JSON object of flags, e.g. {"task": "mackey-glass", "hidden": 100}`);
  const out: Record<string, unknown> = { ...flags };
  for (const [key, value] of Object.entries(raw)) {
    const attr = NOT_CONFIG.has(key) ? undefined : attributeOf(cmd, key);
    if (!attr) throw new UsageError(`--config: '${flags.config}': "${key}" is not a flag of anpt train${NOT_CONFIG.has(key) ? ' that a config file may set (give it on the command line)' : ''}; see anpt train --help`);
    if (cmd.getOptionValueSource(attr.name) === 'cli') continue;
    if (attr.negate || typeof value === 'boolean') {
      if (typeof value !== 'boolean') throw new UsageError(`--config: '${flags.config}': "${key}" must be true or false`);
      out[attr.name] = attr.negate ? !value : value;
      continue;
    }
    if (typeof value !== 'string' && typeof value !== 'number') throw new UsageError(`--config: '${flags.config}': "${key}" must be a string or a number, not ${JSON.stringify(value)}`);
    out[attr.name] = String(value);
  }
  return out as TrainFlags;
}

/** The flags of learner-options.ts that differ from their defaults (the default run's config.json stays as it was; other algorithms refuse them). */
function researchFlags(cfg: TrainConfig): Record<string, string | number | undefined> {
  const x = cfg.extras;
  return {
    copies: x.copies > 1 ? x.copies : undefined,
    'output-sigma': x.outputSigma !== cfg.sigma ? x.outputSigma : undefined,
    'ridge-every': x.ridgeEvery,
    'spectral-every': cfg.spectralCap !== undefined ? x.spectralEvery : undefined,
    reward: x.reward === 'sequence' ? x.reward : undefined,
    rms: x.sequence?.rms,
    'rms-clip': x.sequence?.rmsClip,
    momentum: x.sequence?.momentum,
    rollback: x.rollback,
  };
}

/** config.json of a run: every resolved value as the flag that sets it. */
export function configJson(cfg: TrainConfig): Record<string, string | number | boolean> {
  const o = cfg.task.options;
  const c: Record<string, string | number | boolean | undefined> = { task: cfg.task.name };
  switch (cfg.task.name) {
    case 'mackey-glass':
      Object.assign(c, { steps: o.steps as number, batch: o.batch as number, 'mg-mode': o.mode as string, horizon: o.horizon as number });
      break;
    case 'copy':
      Object.assign(c, { 'copy-length': o.length as number, 'copy-delay': o.delay as number, batch: o.batch as number });
      break;
    case 'weather':
      Object.assign(c, { batch: o.batch as number, data: o.file as string | undefined });
      break;
    case 'adding':
    case 'delayed-recall':
      Object.assign(c, { episode: o.episode as number, episodes: o.episodes as number, batch: o.batch as number });
      break;
    case 'csv':
      Object.assign(c, { data: o.file as string, inputs: (o.inputs as string[]).join(','), targets: (o.targets as string[]).join(','), batch: o.batch as number, split: o.split as number, horizon: o.horizon as number });
      break;
  }
  const perturbation = ['anpt', 'np', 'wp'].includes(cfg.algo);
  Object.assign(c, {
    algo: cfg.algo,
    backend: cfg.backend === 'device' ? undefined : cfg.backend,
    device: cfg.deviceUrl,
    'checkpoint-dir': cfg.checkpointDir,
    hidden: cfg.hidden,
    activation: cfg.activation,
    bias: cfg.bias || undefined,
    seed: cfg.seed,
    epochs: cfg.algo === 'reservoir' ? undefined : cfg.epochs,
    lr: cfg.algo === 'reservoir' ? undefined : cfg.lr,
    'lr-w': cfg.algo !== 'reservoir' && cfg.layerLr.w !== cfg.lr ? cfg.layerLr.w : undefined,
    'lr-r': cfg.algo !== 'reservoir' && cfg.layerLr.r !== cfg.lr ? cfg.layerLr.r : undefined,
    'lr-v': cfg.algo !== 'reservoir' && cfg.layerLr.v !== cfg.lr ? cfg.layerLr.v : undefined,
    trace: cfg.algo === 'anpt' && cfg.trace !== 'none' ? cfg.trace : undefined,
    'trace-decay': cfg.algo === 'anpt' && cfg.trace !== 'none' ? cfg.traceDecay : undefined,
    readout: cfg.algo === 'anpt' && cfg.readout !== 'device' ? cfg.readout : undefined,
    schedule: cfg.algo === 'reservoir' ? undefined : cfg.schedule,
    sigma: perturbation ? cfg.sigma : undefined,
    chunk: perturbation ? (cfg.chunk as number) : undefined,
    threads: cfg.backend !== 'device' ? cfg.threads : undefined,
    'readout-only': cfg.readoutOnly || undefined,
    'spectral-cap': perturbation ? cfg.spectralCap ?? 0 : undefined,
    'no-diagnostics': cfg.noDiagnostics || undefined,
    'bptt-window': cfg.bpttWindow,
    radius: cfg.reservoir ? (cfg.reservoir.radii.length ? cfg.reservoir.radii.join(',') : 'init') : undefined,
    'input-gain': cfg.reservoir?.gains.join(','),
    mismatch: cfg.algo === 'bptt' ? undefined : cfg.mismatch,
    ...researchFlags(cfg),
  });
  if (cfg.formats) {
    const f = cfg.formats;
    Object.assign(c, { 'weight-bits': f.weight.bits, 'activity-bits': f.activity.bits, rounding: f.weight.rounding, overflow: f.weight.overflow });
  }
  return Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)) as Record<string, string | number | boolean>;
}

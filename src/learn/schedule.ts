/**
 * Step-size schedules over a whole training run, shared by every trainer.
 * A schedule maps the number of steps already trained to a factor that multiplies
 * the base learning rates.
 */
import type { LearningRates } from '../device/types.js';
import { ConfigError } from '../format/fixed.js';

export type Schedule =
  /** The base rate throughout. */
  | { kind: 'constant' }
  /** Half-cosine from 1 to `final` (a fraction of the base rate, default 0) over the whole run. */
  | { kind: 'cosine'; final?: number }
  /** Multiply by `factor` (0..1) after every `everySteps` steps. */
  | { kind: 'step'; everySteps: number; factor: number };

/** Check a schedule; throws ConfigError naming the field and the allowed range. */
export function validateSchedule(s: Schedule, field = 'schedule'): void {
  if (s.kind === 'constant') return;
  if (s.kind === 'cosine') {
    const f = s.final ?? 0;
    if (!Number.isFinite(f) || f < 0 || f > 1) throw new ConfigError(`${field}.final`, `${f} is out of range; allowed 0..1 (a fraction of the base rate)`);
    return;
  }
  if (s.kind === 'step') {
    if (!Number.isInteger(s.everySteps) || s.everySteps < 1) throw new ConfigError(`${field}.everySteps`, `${s.everySteps} is out of range; allowed integers >= 1`);
    if (!Number.isFinite(s.factor) || s.factor <= 0 || s.factor > 1) throw new ConfigError(`${field}.factor`, `${s.factor} is out of range; allowed (0, 1]`);
    return;
  }
  throw new ConfigError(`${field}.kind`, `"${(s as { kind: string }).kind}" is not a schedule; use constant, cosine or step`);
}

/** The factor (dimensionless) at `step` of a run of `totalSteps` steps. */
export function scheduleFactor(s: Schedule, step: number, totalSteps: number): number {
  if (s.kind === 'cosine') {
    const f = s.final ?? 0;
    const x = totalSteps > 0 ? Math.min(1, step / totalSteps) : 0;
    return f + (1 - f) * 0.5 * (1 + Math.cos(Math.PI * x));
  }
  if (s.kind === 'step') return s.factor ** Math.floor(step / s.everySteps);
  return 1;
}

/** Check per-layer step sizes: finite and >= 0. */
export function validateRates(lr: LearningRates, field = 'lr'): void {
  for (const k of ['w', 'r', 'v'] as const)
    if (!Number.isFinite(lr?.[k]) || lr[k] < 0) throw new ConfigError(`${field}.${k}`, `${lr?.[k]} is out of range; allowed finite values >= 0`);
}

/** Per-layer rates times a factor. */
export function scaleRates(lr: LearningRates, factor: number): LearningRates {
  return { w: lr.w * factor, r: lr.r * factor, v: lr.v * factor };
}

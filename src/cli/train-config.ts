/**
 * A training run's configuration, every flag checked and every default filled in:
 * what `resolveTrainConfig` (train.ts) returns and what the summary (summary.ts) records.
 */
import type { ChipFormats } from '../device/types.js';
import type { Algo, Backend } from './defaults.js';
import type { TaskSpec } from './task-options.js';
import type { LinkSettings } from './link-options.js';
import type { RunState } from './resume.js';

export interface TrainConfig {
  task: TaskSpec;
  algo: Algo;
  backend: Backend;
  /** backend 'device': the link URL (tcp://, serial://) and where checkpoints go. */
  deviceUrl?: string;
  checkpointDir?: string;
  /** backend 'device': link flags (link-options.ts). */
  link?: LinkSettings;
  /** The flags as given (saved in run-state.json so that --resume can rebuild this). */
  flags?: object;
  /** --resume: the saved run state to continue from (resume.ts). */
  resume?: RunState;
  hidden: number;
  epochs: number;
  /** Base step size of W, R and V. */
  lr: number;
  schedule: 'constant' | 'cosine';
  /** Noise std, real units (0 for bptt and reservoir). */
  sigma: number;
  seed: number;
  /** Steps per run/reward round trip (anpt, np, wp); 1 = online; 'sequence' = the whole sequence (resolved by runTrain). */
  chunk: number | 'sequence';
  readoutOnly: boolean;
  /** Rescale R to this spectral radius whenever it is above it (checked every SPECTRAL_EVERY_STEPS steps); anpt, np, wp. */
  spectralCap?: number;
  /** Skip the per-epoch spectral radius and gradient cosine (they cost a little time on the float model). */
  noDiagnostics?: boolean;
  /** bptt only: steps per gradient window, or 'full'. */
  bpttWindow?: number | 'full';
  formats?: ChipFormats;
  out: string;
  force: boolean;
  json: boolean;
  quiet: boolean;
}

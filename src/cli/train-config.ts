/**
 * A training run's configuration, every flag checked and every default filled in:
 * what `resolveTrainConfig` (train.ts) returns and what the summary (summary.ts) records.
 */
import type { Activation, ChipFormats } from '../device/types.js';
import type { EmulatorThreads } from '../device/emulator.js';
import type { Algo, Backend } from './defaults.js';
import type { FormatFlags } from './backend.js';
import type { TaskFlags, TaskSpec } from './task-options.js';
import type { LinkFlags, LinkSettings } from './link-options.js';
import type { RunState } from './resume.js';
import type { LearnerExtras, LearnerFlags } from './learner-options.js';

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
  /** Base step size of W, R and V (ANP-T: batch-invariant, the step at B = 10; learn/anpt.ts). */
  lr: number;
  /** Per-layer step sizes (--lr-w, --lr-r, --lr-v; each defaults to lr). */
  layerLr: { w: number; r: number; v: number };
  /** anpt: the eligibility trace of the rule and its decay. */
  trace: 'none' | 'activity' | 'innovation';
  traceDecay: number;
  /** anpt: 'device' = the rule trains V; 'ridge' = V solved on the host by ridge after every epoch. */
  readout: 'device' | 'ridge';
  schedule: 'constant' | 'cosine';
  /** Noise std, real units (0 for bptt and reservoir). */
  sigma: number;
  seed: number;
  /** Threads of the emulator or the float model for the run (--threads; the same bits for any). */
  threads: EmulatorThreads;
  /** Steps per run/reward round trip (anpt, np, wp); 1 = online; 'sequence' = the whole sequence (resolved by runTrain). */
  chunk: number | 'sequence';
  readoutOnly: boolean;
  /** Hidden nonlinearity. */
  activation: Activation;
  /** --bias: hidden and output biases b, c (off by default). */
  bias: boolean;
  /** Per-neuron mismatch spread (gain std, relative, and offset std, real units; seeded by the run's seed); 0 = none. */
  mismatch: number;
  /** Rescale R to this spectral radius whenever it is above it (checked every extras.spectralEvery steps); anpt, np, wp. */
  spectralCap?: number;
  /** The research options of anpt (learner-options.ts): copies, output noise, mid-epoch ridge fits, per-sequence reward. */
  extras: LearnerExtras;
  /** Skip the per-epoch spectral radius and gradient cosine (they cost a little time on the float model). */
  noDiagnostics?: boolean;
  /** reservoir only: candidate spectral radii of R (empty: keep R) and gains of W, chosen on validation. */
  reservoir?: { radii: number[]; gains: number[] };
  /** bptt only: steps per gradient window, or 'full'. */
  bpttWindow?: number | 'full';
  formats?: ChipFormats;
  out: string;
  force: boolean;
  json: boolean;
  quiet: boolean;
  /** Not a terminal: seconds between progress lines inside an epoch. */
  progressEvery: number;
}

/** The flags of `anpt train` as commander returns them (strings; undefined when absent). */
export interface TrainFlags extends TaskFlags, FormatFlags, LinkFlags, LearnerFlags {
  algo?: string;
  backend?: string;
  device?: string;
  port?: string;
  baud?: string;
  checkpointDir?: string;
  bpttWindow?: string;
  hidden?: string;
  epochs?: string;
  lr?: string;
  lrW?: string;
  lrR?: string;
  lrV?: string;
  trace?: string;
  traceDecay?: string;
  readout?: string;
  sigma?: string;
  seed?: string;
  chunk?: string;
  threads?: string;
  schedule?: string;
  readoutOnly?: boolean;
  spectralCap?: string;
  radius?: string;
  inputGain?: string;
  activation?: string;
  bias?: boolean;
  mismatch?: string;
  /** commander's --no-diagnostics sets false. */
  diagnostics?: boolean;
  out?: string;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
  progressEvery?: string;
  resume?: string;
}

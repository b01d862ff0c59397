/**
 * The ANP-T trainer: drives any Device (emulator, float model, board) with forward
 * passes only. Per chunk of K steps it runs both copies, forms one global reward per
 * step, dL_t = MSE(noisy_t) - MSE(clean_t) (batch-mean MSE, stepMse), and sends it back;
 * the device applies the update itself.
 *
 *   K = 1           online: the weights change every step (the reference's Mackey-Glass)
 *   K > 1           chunked / two-pass: K steps with frozen weights, then K updates
 *
 * The host loop knows nothing of the rule: the NP and WP float baselines (np.ts, wp.ts)
 * are devices with a different update and plug into the same loop.
 *
 * Forward-only stabilisers, driven by the global dL alone (what a host can see):
 * - normalise: dL <- dL * target / rms(dL), rms an exponential running average, so a
 *   loss landscape that grows steeper does not grow the step; target defaults to the
 *   rms over the first warmupSteps steps (no scaling during the warm-up);
 * - clip: |dL| <= max per step ('clip'), or the chunk's dL vector scaled down so its
 *   largest |dL| is max ('scale', keeps the ratios within a chunk); applied after normalise;
 * - spectral control: every everySteps steps the host reads R, estimates its spectral
 *   radius (diagnostics.ts) and rescales R to the cap if it is above it. Why: a
 *   Xavier-normal R sits near rho = 1 (1.07 at H = 100), where the noisy copy drifts
 *   away from the clean one; on Mackey-Glass a cap of 0.95 made online ANP-T stable.
 * The absolute step counter t0 grows across epochs, so every epoch draws new noise.
 *
 * Batch-invariant step sizes: the device's rule divides by B and by ||da||^2 over the
 * whole B x H block (about B H sigma^2), while dL is a batch mean, so its mean step is
 * the batch-mean gradient times 1/B^2. The trainer therefore sends lr x (B / 10)^2
 * (lrBatchScale 'anpt', the default): a rate means the same step at every batch size,
 * the step it always had at B = 10, the paper's batch (so every rate tuned at B = 10
 * keeps its meaning). NP and WP (np.ts, wp.ts) are gradient-scaled already: 'none'. A
 * per-weight normalised step (SequenceRewardDevice with rms, reward 'sequence') takes its
 * rate as each weight's step: 'none' is its default.
 *
 * Per-sequence reward (reward 'sequence', off by default): dL per step and sequence,
 * K x B values, for a device that takes them (sequence-reward.ts, float model only).
 *
 * Host-solved readout (readout 'ridge'): V is not learnt by the rule (lr.v = 0) but
 * solved by ridge regression on the clean hidden trace of the train set (reservoir.ts)
 * before the first epoch and after every epoch, and written to the device, so that the
 * recurrent learning (W, R) can be judged apart from the readout, as a reservoir is;
 * with ridgeEverySteps also every that many steps inside an epoch (W and R then always
 * train against a readout solved for them: docs/results/recurrent-learning-notes.md).
 */
import type { Device, LearningRates, RewardRequest, RunRequest, RunResult } from '../device/types.js';
import { ConfigError } from '../format/fixed.js';
import { stepMse, type SequenceSet, type Task } from '../tasks/types.js';
import { checkRollback, Rollback, type RollbackOptions, type RollbackPosition, type RollbackSummary } from './rollback.js';
import { spectralRadius, WarmSpectralRadius } from '../linalg/spectral.js';
import { evaluate, validateSet, zeroOutputMse } from './evaluate.js';
import { fitRidgeReadout, type RidgeOptions } from './reservoir.js';
import { scaleRates, scheduleFactor, validateRates, validateSchedule, type Schedule } from './schedule.js';

export interface DeltaLossClip {
  mode: 'clip' | 'scale';
  /** Largest |dL| per step, loss units (> 0). */
  max: number;
}

export interface DeltaLossNormalise {
  /** Decay of the running mean of dL^2 per step, 0..1 (default 0.999, ~1000 steps). */
  decay?: number;
  /** The rms |dL| to normalise to, loss units; default: measured over the warm-up. */
  target?: number;
  /** Steps of the warm-up that measures the target when none is given (default 100). */
  warmupSteps?: number;
}

export interface SpectralControl {
  /** Largest allowed spectral radius of R (> 0), e.g. 0.99. */
  cap: number;
  /** Check every this many trained steps (>= 1). */
  everySteps: number;
}

export interface TrainProgress {
  phase: 'chunk' | 'epoch';
  /** 0-based epoch. */
  epoch: number;
  epochs: number;
  /** Steps done in this epoch / per epoch. */
  stepInEpoch: number;
  stepsPerEpoch: number;
  /** Steps done in the whole run / in all. */
  stepsDone: number;
  totalSteps: number;
  /** Mean clean step MSE of this epoch so far. */
  trainMse: number;
  /** Set at the end of an epoch that was evaluated. */
  testMse?: number;
  /** The schedule's factor on the base rates. */
  lrFactor: number;
}

/** What trainAnpt needs from a device for `reward: 'sequence'` (sequence-reward.ts). */
export interface SequenceRewardTarget {
  /** Reward the pending chunk with dL per step and sequence (K x B, step-major). */
  rewardSequences(req: RewardRequest): Promise<void>;
  /** The per-sequence traces (not in readState), kept by the trainer across a mid-epoch ridge fit (ridgeEverySteps). */
  readSequenceTraces?(): Float64Array[];
  writeSequenceTraces?(traces: Float64Array[]): void;
  /** True when a per-sequence reward's rate is already each weight's step (a normalised step, e.g. rms): the trainer's default batch scale is then 'none'. */
  readonly ratesPerWeight?: boolean;
}

/** A device that can be told the next chunk while it runs this one (a pipelined link sends its inputs ahead: docs/protocol.md, Preloading). */
export interface RunAheadTarget {
  /** run(req), with `next` as the run that follows it; the same results as run(req). */
  runAhead(req: RunRequest, next: RunRequest): Promise<RunResult>;
}

/** Whether a device takes the next chunk ahead. */
export function takesRunAhead(d: unknown): d is RunAheadTarget {
  return typeof (d as Partial<RunAheadTarget>)?.runAhead === 'function';
}

/** Whether a device takes per-sequence rewards. */
export function takesSequenceRewards(d: unknown): d is SequenceRewardTarget {
  return typeof (d as Partial<SequenceRewardTarget>)?.rewardSequences === 'function';
}

/** The batch size at which a rate means what it meant before the batch scale (the paper's B). */
export const LR_REFERENCE_BATCH = 10;

/** The factor on the rates that makes ANP-T's step batch-invariant: (B / LR_REFERENCE_BATCH)^2. */
export function anptBatchScale(batch: number): number {
  return (batch / LR_REFERENCE_BATCH) ** 2;
}

/**
 * Warn when the mean clean loss of a 10-step block of the first 1000 steps exceeds this
 * times the reference: the larger of the first block's mean and the zero-output MSE.
 */
export const EARLY_GROWTH_FACTOR = 100;
const EARLY_BLOCK = 10, EARLY_STEPS = 1000;

export interface AnptOptions {
  /** Passes over the training set (>= 1). */
  epochs: number;
  /** Base step sizes per layer (>= 0). */
  lr: LearningRates;
  /** Steps per run/reward round trip: 1 = online (default), K > 1 = chunked two-pass. */
  chunkSteps?: number;
  /** Default constant. */
  schedule?: Schedule;
  /** Ablation: train V only (lr.w = lr.r = 0). */
  readoutOnly?: boolean;
  /**
   * 'anpt': send lr x (B/10)^2, the batch-invariant step (file comment); 'none': lr as given
   * (NP, WP). Default 'anpt', except 'none' with reward 'sequence' on a device whose
   * ratesPerWeight is true (SequenceRewardDevice with rms: lr is each weight's step).
   */
  lrBatchScale?: 'anpt' | 'none';
  /** 'device' (default): the rule trains V; 'ridge': V solved on the host before and after every epoch (lr.v unused). */
  readout?: 'device' | 'ridge';
  /**
   * 'batch' (default): one dL per step, the batch mean; 'sequence': dL per step and
   * sequence (K x B), for a device that takes them (sequence-reward.ts; float model only).
   * normalise and clip then act on the per-sequence values.
   */
  reward?: 'batch' | 'sequence';
  /** Options of the ridge readout fit (readout 'ridge'). */
  ridge?: RidgeOptions;
  /**
   * readout 'ridge': also solve V every this many trained steps inside an epoch (>= 1),
   * counted from the last fit (the fit after an epoch counts). The fit evaluates the train
   * set from a zero state, so the recurrent state (readState) and a per-sequence device's
   * traces are read before it and written back after: training goes on where it was, with
   * the new V. Absent: before the first epoch and after every epoch only.
   */
  ridgeEverySteps?: number;
  /** Called with a one-line warning (e.g. the loss grew by orders of magnitude in the first steps). */
  onWarning?: (line: string) => void;
  normalise?: DeltaLossNormalise;
  clip?: DeltaLossClip;
  spectral?: SpectralControl;
  /** Evaluated (clean copy) after every evaluateEvery epochs and after the last. */
  test?: SequenceSet;
  evaluateEvery?: number;
  metrics?: Task['metrics'];
  /** Absolute step counter of the first training step (uint32), default 0. */
  t0?: number;
  /** Called after every chunk (at most every progressEverySteps steps) and every epoch. */
  onProgress?: (p: TrainProgress) => void;
  progressEverySteps?: number;
  /** Stop as diverged when an epoch's running MSE exceeds this times the zero-output MSE (default 1e4). */
  divergenceFactor?: number;
  /**
   * Called after every epoch's training steps, before its evaluation: the device holds
   * that epoch's weights. What it returns is kept as the epoch's `diagnostics` (e.g. the
   * spectral radius of R, the cosine of the update to the BPTT gradient).
   */
  afterEpoch?: (epoch: number) => Promise<Record<string, number> | undefined>;
  /**
   * Called after every rewarded chunk with where training stands (no chunk awaits its
   * reward then): for saving a resumable position. It may throw to stop training there.
   */
  afterChunk?: (at: TrainPosition) => Promise<void>;
  /** Continue from a position an earlier run's afterChunk saw (the device restored to that moment). */
  resume?: TrainPosition;
  /**
   * Score a validation set after every epoch (its ridge fit done, before afterEpoch) and go
   * back to the best epoch's parameters when an epoch ends above factor x the best; the
   * device ends holding the best network (rollback.ts). Off by default.
   */
  rollback?: RollbackOptions;
}

/** Where a training run stands between two chunks: enough to continue it bit for bit. */
export interface TrainPosition {
  epoch: number;
  /** Steps of this epoch done. */
  stepInEpoch: number;
  stepsDone: number;
  t: number;
  /** This epoch's running sums. */
  lossSum: number;
  rescales: number;
  radius?: number;
  nextSpectral: number;
  /** The step count of the next mid-epoch ridge fit (ridgeEverySteps). */
  nextRidge?: number;
  /** The best network on validation so far (rollback). */
  rollback?: Readonly<RollbackPosition>;
  lastProgress: number;
  /** The epochs finished before. */
  records: EpochRecord[];
}

export interface EpochRecord {
  epoch: number;
  /** Mean clean step MSE over the epoch, as the weights changed. */
  trainMse: number;
  testMse?: number;
  metrics?: Record<string, number>;
  /** Schedule factor at the end of the epoch. */
  lrFactor: number;
  /** R rescales by spectral control in this epoch. */
  rescales: number;
  /** Last spectral radius measured in this epoch (spectral control only). */
  spectralRadius?: number;
  /** What options.afterEpoch returned for this epoch. */
  diagnostics?: Record<string, number>;
  /** rollback: the epoch's validation MSE, and whether the parameters went back to the best epoch's after it. */
  validationMse?: number;
  rolledBack?: boolean;
  seconds: number;
}

export interface TrainResult {
  status: 'ok' | 'diverged';
  /** Why training stopped early. */
  message?: string;
  epochs: EpochRecord[];
  /** Steps trained. */
  steps: number;
  /** t0 to continue with. */
  nextT0: number;
  /** MSE of the all-zero output (train, test): the bar to clear. */
  zeroOutputMse: { train: number; test?: number };
  /** Warnings raised during training (also passed to onWarning). */
  warnings: string[];
  /** rollback: the best epoch on validation, which the device holds at the end. */
  rollback?: RollbackSummary;
}

function validateOptions(o: AnptOptions, train: SequenceSet): void {
  if (!Number.isInteger(o.epochs) || o.epochs < 1) throw new ConfigError('epochs', `${o.epochs} is out of range; allowed integers >= 1`);
  validateRates(o.lr);
  if (o.rollback) checkRollback(o.rollback, train);
  const K = o.chunkSteps ?? 1;
  if (!Number.isInteger(K) || K < 1) throw new ConfigError('chunkSteps', `${K} is out of range; allowed integers >= 1 (1 = online)`);
  if (o.schedule) validateSchedule(o.schedule);
  if (o.lrBatchScale !== undefined && o.lrBatchScale !== 'anpt' && o.lrBatchScale !== 'none') throw new ConfigError('lrBatchScale', `"${String(o.lrBatchScale)}" is not a scale; use anpt or none`);
  if (o.readout !== undefined && o.readout !== 'device' && o.readout !== 'ridge') throw new ConfigError('readout', `"${String(o.readout)}" is not a readout; use device or ridge`);
  if (o.reward !== undefined && o.reward !== 'batch' && o.reward !== 'sequence') throw new ConfigError('reward', `"${String(o.reward)}" is not a reward; use batch or sequence`);
  if (o.clip) {
    if (o.clip.mode !== 'clip' && o.clip.mode !== 'scale') throw new ConfigError('clip.mode', `"${o.clip.mode}" is not a mode; use clip or scale`);
    if (!(o.clip.max > 0) || !Number.isFinite(o.clip.max)) throw new ConfigError('clip.max', `${o.clip.max} is out of range; allowed finite values > 0 (loss units)`);
  }
  if (o.normalise) {
    const { decay = 0.999, target, warmupSteps = 100 } = o.normalise;
    if (!(decay >= 0 && decay < 1)) throw new ConfigError('normalise.decay', `${decay} is out of range; allowed 0 <= decay < 1`);
    if (target !== undefined && !(target > 0 && Number.isFinite(target))) throw new ConfigError('normalise.target', `${target} is out of range; allowed finite values > 0 (loss units)`);
    if (!Number.isInteger(warmupSteps) || warmupSteps < 1) throw new ConfigError('normalise.warmupSteps', `${warmupSteps} is out of range; allowed integers >= 1`);
  }
  if (o.ridgeEverySteps !== undefined) {
    if (!Number.isInteger(o.ridgeEverySteps) || o.ridgeEverySteps < 1) throw new ConfigError('ridgeEverySteps', `${o.ridgeEverySteps} is out of range; allowed integers >= 1`);
    if (o.readout !== 'ridge') throw new ConfigError('ridgeEverySteps', 'goes with readout "ridge" (V solved on the host); set readout ridge or remove it');
  }
  if (o.spectral) {
    if (!(o.spectral.cap > 0) || !Number.isFinite(o.spectral.cap)) throw new ConfigError('spectral.cap', `${o.spectral.cap} is out of range; allowed finite values > 0`);
    if (!Number.isInteger(o.spectral.everySteps) || o.spectral.everySteps < 1) throw new ConfigError('spectral.everySteps', `${o.spectral.everySteps} is out of range; allowed integers >= 1`);
  }
  const t0 = o.t0 ?? 0;
  const total = o.epochs * train.steps;
  if (!Number.isInteger(t0) || t0 < 0 || t0 + total > 2 ** 32)
    throw new ConfigError('t0', `${t0} is out of range: t0 + epochs x steps (${total}) must stay within the uint32 step counter`);
}

/**
 * The running state of the dL normaliser: an exponential mean of dL^2, bias-corrected
 * like Adam's when it starts from nothing, or started at the warm-up mean.
 */
class DeltaLossNormaliser {
  private mean2 = 0;
  private seen = 0;
  /** Weight of the EMA's start value still in mean2 (1 - correction). */
  private startWeight = 1;
  private target: number | undefined;
  private readonly decay: number;
  private readonly warmup: number;

  constructor(o: DeltaLossNormalise) {
    this.decay = o.decay ?? 0.999;
    this.warmup = o.warmupSteps ?? 100;
    this.target = o.target;
  }

  /** Normalise dL in place. */
  apply(dL: Float64Array): void {
    for (let k = 0; k < dL.length; k++) {
      const x = dL[k];
      if (this.target === undefined) {
        this.seen++;
        this.mean2 += (x * x - this.mean2) / this.seen; // plain mean over the warm-up
        if (this.seen >= this.warmup && this.mean2 > 0) {
          this.target = Math.sqrt(this.mean2);
          this.startWeight = 0; // the EMA starts at the warm-up mean: nothing to correct
        }
        continue;
      }
      this.mean2 = this.decay * this.mean2 + (1 - this.decay) * x * x;
      this.startWeight *= this.decay;
      const m = this.mean2 / (1 - this.startWeight);
      if (m > 0) dL[k] = (x * this.target) / Math.sqrt(m);
    }
  }
}

/** Clip or scale a chunk's dL in place so that |dL| <= max. */
function clipDeltaLoss(dL: Float64Array, c: DeltaLossClip): void {
  if (c.mode === 'clip') {
    for (let k = 0; k < dL.length; k++) dL[k] = Math.max(-c.max, Math.min(c.max, dL[k]));
    return;
  }
  let m = 0;
  for (const x of dL) m = Math.max(m, Math.abs(x));
  if (m > c.max) for (let k = 0; k < dL.length; k++) dL[k] *= c.max / m;
}

/**
 * Rescale R in place to spectral radius `cap` if above it. The trainer uses the cold
 * estimate (a warm one depends on the estimates before it, so a resumed run or a run
 * started at another epoch would rescale differently; docs/results.md reproduces with the
 * cold one); the per-epoch diagnostic in the CLI is warm. Returns the radius before
 * (estimate of diagnostics.ts; `warm` keeps the power iteration's vector between
 * calls) and whether R was changed.
 */
export function capSpectralRadius(r: Float64Array, hidden: number, cap: number, warm?: WarmSpectralRadius): { radius: number; rescaled: boolean } {
  const radius = warm ? warm.radius(r, hidden) : spectralRadius(r, hidden);
  if (!(radius > cap)) return { radius, rescaled: false };
  const f = cap / radius;
  for (let k = 0; k < r.length; k++) r[k] *= f;
  return { radius, rescaled: true };
}

/** A ridge fit of V in the middle of an epoch: the recurrent state and per-sequence traces are put back after it. */
async function refitKeepingState(device: Device, train: SequenceSet, ridge: RidgeOptions | undefined): Promise<void> {
  const state = await device.readState();
  const perSequence = takesSequenceRewards(device) ? device : undefined;
  const traces = perSequence?.readSequenceTraces?.();
  await fitRidgeReadout(device, train, ridge);
  await device.writeState(state);
  if (traces) perSequence!.writeSequenceTraces?.(traces);
}

/**
 * Train a configured device (weights already written) on `train` with ANP-T for
 * `epochs` passes. Every epoch starts from a zero state. Returns per-epoch records;
 * stops early with status 'diverged' and a message (the device keeps the weights it
 * has then) when a loss stops being finite or grows beyond divergenceFactor x the
 * zero-output MSE. Bad options throw ConfigError naming the field.
 */
export async function trainAnpt(device: Device, train: SequenceSet, options: AnptOptions): Promise<TrainResult> {
  validateSet(train, 'train');
  if (options.test) validateSet(options.test, 'test');
  validateOptions(options, train);
  const { steps: T, batch: B, inputSize: I, outputSize: O } = train;
  const info = await device.info();
  const K = Math.min(options.chunkSteps ?? 1, T);
  if (K > info.maxChunkSteps) throw new ConfigError('chunkSteps', `${K} exceeds the device's maxChunkSteps (${info.maxChunkSteps}); lower chunkSteps or configure a larger maxChunkSteps`);
  const ridge = options.readout === 'ridge';
  const perSequence = options.reward === 'sequence';
  if (perSequence && !takesSequenceRewards(device)) throw new ConfigError('reward', `"sequence" needs a device that takes per-sequence rewards (SequenceRewardDevice, float model); this one is ${info.name}; use reward batch`);
  const perWeight = perSequence && takesSequenceRewards(device) && device.ratesPerWeight === true;
  const batchScale = (options.lrBatchScale ?? (perWeight ? 'none' : 'anpt')) === 'anpt' ? anptBatchScale(B) : 1;
  const lr0 = options.readoutOnly ? { ...options.lr, w: 0, r: 0 } : options.lr;
  const baseLr: LearningRates = { w: lr0.w * batchScale, r: lr0.r * batchScale, v: ridge ? 0 : lr0.v * batchScale };
  const warnings: string[] = [];
  const warn = (line: string) => {
    warnings.push(line);
    options.onWarning?.(line);
  };
  // the first steps' loss, in blocks of EARLY_BLOCK steps (early-growth warning)
  let firstBlock = NaN, blockSum = 0, blockSteps = 0, warnedGrowth = false;
  const schedule = options.schedule ?? { kind: 'constant' };
  const totalSteps = options.epochs * T;
  const zero = { train: zeroOutputMse(train), test: options.test ? zeroOutputMse(options.test) : undefined };
  const divergeAbove = (options.divergenceFactor ?? 1e4) * Math.max(zero.train, Number.MIN_VALUE);
  const normaliser = options.normalise ? new DeltaLossNormaliser(options.normalise) : undefined;
  const evaluateEvery = options.evaluateEvery ?? 1;
  const progressEvery = options.progressEverySteps ?? 1;
  const from = options.resume;
  const records: EpochRecord[] = from ? structuredClone(from.records) : [];
  let t = from?.t ?? options.t0 ?? 0;
  let stepsDone = from?.stepsDone ?? 0;
  let nextSpectral = from?.nextSpectral ?? options.spectral?.everySteps ?? Infinity;
  const ridgeEvery = options.ridgeEverySteps ?? Infinity;
  let nextRidge = from?.nextRidge ?? stepsDone + ridgeEvery;
  let lastProgress = from?.lastProgress ?? 0;

  let rollback: Rollback | undefined;
  const result = async (status: TrainResult['status'], message?: string): Promise<TrainResult> =>
    ({ status, message, epochs: records, steps: stepsDone, nextT0: t, zeroOutputMse: zero, warnings, ...(rollback ? { rollback: await rollback.finish(device) } : {}) });
  // (a resumed run's device holds V and the recurrent state as they were: a fit now would run
  // the train set through it and leave another state behind)
  if (ridge && !from) await fitRidgeReadout(device, train, options.ridge);
  if (options.rollback) rollback = await Rollback.start(device, options.rollback, from?.rollback);

  for (let epoch = from?.epoch ?? 0; epoch < options.epochs; epoch++) {
    const started = performance.now();
    const resumed = from !== undefined && epoch === from.epoch;
    let lossSum = resumed ? from.lossSum : 0;
    let rescales = resumed ? from.rescales : 0;
    let radius: number | undefined = resumed ? from.radius : undefined;
    let lrFactor = scheduleFactor(schedule, stepsDone, totalSteps);
    if (!resumed) await device.resetState(); // a resumed epoch continues from the restored state
    // rollback: a divergence inside the epoch undoes the epoch instead of ending the run (why, and the step it came at)
    let undone: { why: string; at: number; counted: number } | undefined;
    steps: for (let s = resumed ? from.stepInEpoch : 0; s < T; s += K) {
      const k = Math.min(K, T - s);
      const chunk = { steps: k, t0: t, inputs: train.inputs.subarray(s * B * I, (s + k) * B * I), noisy: true };
      const n = Math.min(K, T - s - k); // the next chunk of this epoch, told to a device that takes it ahead
      const res = await (n > 0 && takesRunAhead(device) ? device.runAhead(chunk, { steps: n, t0: t + k, inputs: train.inputs.subarray((s + k) * B * I, (s + k + n) * B * I), noisy: true }) : device.run(chunk));
      const dL = new Float64Array(k);
      const dLseq = perSequence ? new Float64Array(k * B) : undefined;
      for (let j = 0; j < k; j++) {
        const tOff = (s + j) * B * O;
        const lc = stepMse(res.clean, j * B * O, train.targets, tOff, B * O);
        dL[j] = stepMse(res.noisy, j * B * O, train.targets, tOff, B * O) - lc;
        if (dLseq) for (let b = 0; b < B; b++) dLseq[j * B + b] = stepMse(res.noisy, (j * B + b) * O, train.targets, tOff + b * O, O) - stepMse(res.clean, (j * B + b) * O, train.targets, tOff + b * O, O);
        lossSum += lc;
        if (!warnedGrowth && stepsDone + j < EARLY_STEPS) {
          blockSum += lc;
          if (++blockSteps === EARLY_BLOCK) {
            const mean = blockSum / EARLY_BLOCK;
            if (Number.isNaN(firstBlock)) firstBlock = Math.max(mean, zero.train);
            if (mean > EARLY_GROWTH_FACTOR * firstBlock) {
              warnedGrowth = true;
              warn(`the loss grew ${(mean / firstBlock).toPrecision(3)}x within the first ${stepsDone + j + 1} steps (step MSE ${mean.toExponential(2)}, against ${firstBlock.toExponential(2)} at the start or the zero-output level): the step is too large; lower the learning rate`);
            }
            blockSum = 0;
            blockSteps = 0;
          }
        }
        if (!Number.isFinite(dL[j]) || !Number.isFinite(lc)) {
          const why = `epoch ${epoch} step ${s + j}: the loss is not finite (clean ${lc}, dL ${dL[j]}); lower the learning rates or add clip/spectral control`;
          if (!rollback) return result('diverged', why);
          undone = { why, at: s, counted: s + j + 1 };
          break steps;
        }
      }
      const running = lossSum / (s + k);
      if (running > divergeAbove) {
        const why = `epoch ${epoch} step ${s + k}: running MSE ${running.toExponential(3)} exceeds ${options.divergenceFactor ?? 1e4} x the zero-output MSE; lower the learning rates or add clip/spectral control`;
        if (!rollback) return result('diverged', why);
        undone = { why, at: s, counted: s + k };
        break steps;
      }
      const sent = dLseq ?? dL;
      normaliser?.apply(sent);
      if (options.clip) clipDeltaLoss(sent, options.clip);
      lrFactor = scheduleFactor(schedule, stepsDone, totalSteps);
      const req = { t0: t, deltaLoss: sent, lr: scaleRates(baseLr, lrFactor) };
      await (dLseq && takesSequenceRewards(device) ? device.rewardSequences(req) : device.reward(req));
      t += k;
      stepsDone += k;
      if (options.spectral && stepsDone >= nextSpectral) {
        nextSpectral = stepsDone + options.spectral.everySteps;
        const p = await device.readParams();
        const c = capSpectralRadius(p.r, Math.round(Math.sqrt(p.r.length)), options.spectral.cap);
        radius = c.radius;
        if (c.rescaled) {
          await device.writeParams(p);
          rescales++;
        }
      }
      if (stepsDone >= nextRidge && s + k < T) {
        // (the last chunk of an epoch is followed by the epoch's own fit)
        nextRidge = stepsDone + ridgeEvery;
        await refitKeepingState(device, train, options.ridge);
      }
      if (options.onProgress && stepsDone - lastProgress >= progressEvery) {
        lastProgress = stepsDone;
        options.onProgress({ phase: 'chunk', epoch, epochs: options.epochs, stepInEpoch: s + k, stepsPerEpoch: T, stepsDone, totalSteps, trainMse: running, lrFactor });
      }
      if (options.afterChunk && s + k < T)
        await options.afterChunk({ epoch, stepInEpoch: s + k, stepsDone, t, lossSum, rescales, radius, nextSpectral, ...(options.ridgeEverySteps ? { nextRidge } : {}), ...(rollback ? { rollback: rollback.position() } : {}), lastProgress, records: structuredClone(records) });
    }
    if (undone) {
      // the chunk was run, not rewarded: the rest of the epoch is skipped (its steps and noise
      // counted, so the schedule and the noise stream stay where an uninterrupted run has them)
      const skipped = T - undone.at;
      t += skipped;
      stepsDone += skipped;
      warn(`${undone.why.split(';')[0]}: the epoch is undone, back to the best epoch on validation (rollback)`);
    } else if (ridge) {
      await fitRidgeReadout(device, train, options.ridge);
      nextRidge = stepsDone + ridgeEvery;
    }
    const rec: EpochRecord = { epoch, trainMse: lossSum / (undone ? undone.counted : T), lrFactor, rescales, spectralRadius: radius, seconds: 0 };
    if (rollback) Object.assign(rec, undone ? await rollback.undo(device) : await rollback.afterEpoch(device, epoch));
    if (options.afterEpoch) rec.diagnostics = await options.afterEpoch(epoch);
    if (options.test && ((epoch + 1) % evaluateEvery === 0 || epoch === options.epochs - 1)) {
      const ev = await evaluate(device, options.test, { metrics: options.metrics });
      rec.testMse = ev.mse;
      rec.metrics = ev.metrics;
    }
    rec.seconds = (performance.now() - started) / 1000;
    records.push(rec);
    options.onProgress?.({ phase: 'epoch', epoch, epochs: options.epochs, stepInEpoch: T, stepsPerEpoch: T, stepsDone, totalSteps, trainMse: rec.trainMse, testMse: rec.testMse, lrFactor });
  }
  return result('ok');
}

/**
 * The one interface every backend implements: the in-process WASM emulator, the
 * float reference model, and boards over serial or TCP. The trainer never knows
 * which one it talks to.
 *
 * Design rules (they are what makes the serial bridge possible):
 * - every call is async and takes/returns plain serialisable data (numbers,
 *   Float64Arrays, small objects);
 * - one call runs a whole chunk of K steps for B sequences;
 * - the device applies plasticity itself, given only the global reward dL per step.
 *
 * Values cross this interface as real numbers (Float64Array). A fixed-point device
 * quantises inputs with its input format (round to nearest, saturate) and returns
 * outputs and parameters exactly (their codes times 2^-frac), so two fixed-point
 * devices can be compared bit for bit through it.
 */
import type { FixedFormat } from '../format/fixed.js';

export type Activation = 'tanh' | 'hardtanh' | 'linear';

export interface Topology {
  /** Inputs I, hidden H, outputs O. */
  inputs: number;
  hidden: number;
  outputs: number;
  /** Sequences B run side by side (the batch). */
  batch: number;
  /** Hidden nonlinearity; the output layer is always linear. */
  activation: Activation;
  /**
   * Biases b (hidden, H) and c (output, O), learnt like weights on a constant input 1
   * (a = W u + R r̂ + b, y = V r̂ + c). Absent or false: no biases, the network of
   * method.md bit for bit. A device that cannot hold them refuses true (ConfigError
   * 'topology.bias').
   */
  bias?: boolean;
}

/** Fixed-point formats of each quantity. Absent on the float model. */
export interface ChipFormats {
  input: FixedFormat;
  weight: FixedFormat;
  /** Hidden pre-activation a = W u + R r (after requantising the 32-bit accumulator). */
  pre: FixedFormat;
  /** Hidden activity r = act(a). */
  activity: FixedFormat;
  /** Output y = V r. */
  output: FixedFormat;
}

export interface NoiseConfig {
  /** Std of the noise added to the noisy copy's hidden pre-activations, real units (a fixed-point device uses sigma * 2^pre.frac LSBs). */
  hiddenSigma: number;
  /** Std of the noise added to the noisy copy's outputs, real units (sigma * 2^output.frac LSBs). */
  outputSigma: number;
}

export interface MismatchConfig {
  /** Relative std of the per-neuron gain (0.05 = 5 %). 0 disables. */
  gainSpread: number;
  /** Std of the per-neuron offset of the hidden pre-activation, real units. 0 disables. */
  offsetSpread: number;
  /** Seed of the mismatch draw (the "device identity"). */
  seed: number;
}

/**
 * Eligibility traces of the ANP-T update (docs/method.md, "Eligibility traces"):
 * - 'none': plain ANP-T, the paper's rule (credit to the current presynaptic activity);
 * - 'activity': e <- decay e + (da/||da||^2) x pre, dW = -lr sqrt(N) dL e / B;
 * - 'innovation': the same with the recovered noise xi^ = da - R dr_{t-1} in place of
 *   da (one extra H x H matrix-vector product per sequence and step), and
 *   zeta^ = dy - V dr_t for the readout (no trace: V reaches only the current output).
 * State: one trace matrix per trained input matrix, e_W (H x I) and e_R (H x H), part of
 * RecurrentState (checkpoints). Only the float model has it so far.
 */
export type TraceKind = 'none' | 'activity' | 'innovation';

export interface LearnerConfig {
  trace: TraceKind;
  /** Decay lambda of the trace per step, 0 <= decay < 1 (0 with 'activity' is plain ANP-T). */
  decay: number;
}

export interface DeviceConfig {
  topology: Topology;
  /** The update rule's eligibility trace; absent = plain ANP-T ('none'). */
  learner?: LearnerConfig;
  /** Required by fixed-point devices; ignored by the float model. */
  formats?: ChipFormats;
  noise: NoiseConfig;
  mismatch?: MismatchConfig;
  /** Seed of the noise and stochastic-rounding streams (uint32). */
  seed: number;
  /** Largest K a run() call may ask for (sizes the trace buffers). */
  maxChunkSteps: number;
}

/** Parameters in real units, row-major, unpadded. */
export interface Params {
  /** Input weights W, H x I. */
  w: Float64Array;
  /** Recurrent weights R, H x H. */
  r: Float64Array;
  /** Output weights V, O x H. */
  v: Float64Array;
  /** Hidden biases b, H (only with topology.bias; then required by writeParams). */
  b?: Float64Array;
  /** Output biases c, O (only with topology.bias). */
  c?: Float64Array;
}

/** Recurrent state of both copies (B x H each), for checkpoints. */
export interface RecurrentState {
  clean: Float64Array;
  noisy: Float64Array;
  /** The eligibility traces e_W (H x I) and e_R (H x H) of a device with a trace (learner); absent = zero. */
  eligibility?: EligibilityTraces;
}

/** Trace state of the update rule (real units), row-major like W and R. */
export interface EligibilityTraces {
  w: Float64Array;
  r: Float64Array;
  /** The hidden bias's trace e_b (H), with topology.bias (the trace of a weight on input 1). */
  b?: Float64Array;
}

export interface RunRequest {
  /** Steps in this chunk, 1..maxChunkSteps. */
  steps: number;
  /** Absolute step counter of the first step (uint32): keys the counter-based noise, so a replayed chunk draws the same noise. */
  t0: number;
  /** Inputs, K x B x I, real units. */
  inputs: Float64Array;
  /** Run the noisy copy too (training). false = clean only (evaluation). */
  noisy: boolean;
  /** Return the clean hidden activity trace (K x B x H). */
  hiddenTrace?: boolean;
}

export interface RunResult {
  /** Clean outputs, K x B x O. */
  clean: Float64Array;
  /** Noisy outputs, K x B x O (empty when noisy=false). */
  noisy: Float64Array;
  /** Clean hidden activity, K x B x H, when asked for. */
  hidden?: Float64Array;
}

export interface LearningRates {
  /** Step size for W, R, V (plain SGD; the rule's sqrt(N) and 1/||da||^2 are applied on the device). The hidden bias b learns with w, the output bias c with v. */
  w: number;
  r: number;
  v: number;
}

export interface RewardRequest {
  /** t0 of the chunk this rewards (must match the last noisy run). */
  t0: number;
  /** dL_t = L(noisy) - L(clean) for each step of that chunk (length K). */
  deltaLoss: Float64Array;
  lr: LearningRates;
}

export interface DeviceInfo {
  kind: 'emulator' | 'float' | 'serial' | 'tcp';
  name: string;
  /** Bit-exact fixed-point device (emulator, board) or float reference. */
  fixedPoint: boolean;
  maxInputs: number;
  maxHidden: number;
  maxOutputs: number;
  maxBatch: number;
  maxChunkSteps: number;
}

export interface DeviceStats {
  steps: number;
  updates: number;
  runCalls: number;
  rewardCalls: number;
  /** Link health, for remote devices. */
  link?: Record<string, number>;
}

export interface Device {
  info(): Promise<DeviceInfo>;
  /** Validate and apply a configuration; zeroes weights and state. Throws ConfigError naming the field. */
  configure(config: DeviceConfig): Promise<void>;
  writeParams(params: Params): Promise<void>;
  readParams(): Promise<Params>;
  readState(): Promise<RecurrentState>;
  writeState(state: RecurrentState): Promise<void>;
  /** Run K steps of both copies with frozen weights (as the last reward() left them: an update is never deferred). */
  run(req: RunRequest): Promise<RunResult>;
  /** Apply the ANP-T update for each step of the last noisy chunk, in step order, at once: the weights have changed when it resolves. */
  reward(req: RewardRequest): Promise<void>;
  /** Zero the recurrent state of both copies (start of new sequences). */
  resetState(): Promise<void>;
  stats(): Promise<DeviceStats>;
  close(): Promise<void>;
}

/** A deep copy of parameters (the device may keep or reuse the arrays it was given). */
export function copyParams(p: Params): Params {
  const out: Params = { w: Float64Array.from(p.w), r: Float64Array.from(p.r), v: Float64Array.from(p.v) };
  if (p.b) out.b = Float64Array.from(p.b);
  if (p.c) out.c = Float64Array.from(p.c);
  return out;
}

/** A deep copy of a recurrent state. */
export function copyState(s: RecurrentState): RecurrentState {
  const out: RecurrentState = { clean: Float64Array.from(s.clean), noisy: Float64Array.from(s.noisy) };
  if (s.eligibility) {
    out.eligibility = { w: Float64Array.from(s.eligibility.w), r: Float64Array.from(s.eligibility.r) };
    if (s.eligibility.b) out.eligibility.b = Float64Array.from(s.eligibility.b);
  }
  return out;
}

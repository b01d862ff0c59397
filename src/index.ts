/**
 * anpt as a library: `import { EmulatorDevice, trainAnpt, mackeyGlassTask } from 'anpt'`.
 * Examples: docs/api.md.
 *
 * Units, everywhere: weights, inputs, targets, outputs, noise std and mismatch offsets
 * are real numbers (a fixed-point device quantises them to its formats); losses are mean
 * squared errors in target units squared; step counters (`t0`) count time steps of all
 * B sequences together; arrays are row-major Float64Arrays (W is H x I, R is H x H, V is
 * O x H; a chunk of inputs is K x B x I, time-major); times are seconds, link timeouts ms.
 *
 * The flow: build a Task, open a Device, `configure` it (topology, formats, noise,
 * seed), `writeParams` the initial weights (xavierNormal), then train it with
 * `trainAnpt` (any device) or fit a baseline, and score it with `evaluate`.
 */

// ---------------------------------------------------------------------------------
// Devices: one interface, four implementations

/** The Device interface every trainer uses, and the values it takes and returns (real units). */
export type {
  Activation,
  ChipFormats,
  Device,
  DeviceConfig,
  DeviceInfo,
  DeviceStats,
  LearningRates,
  MismatchConfig,
  NoiseConfig,
  Params,
  RecurrentState,
  RewardRequest,
  RunRequest,
  RunResult,
  Topology,
} from './device/types.js';
/** The bit-exact fixed-point chip emulator (WebAssembly, in process); EMULATOR_LIMITS are its largest sizes. */
export { EmulatorDevice, EMULATOR_LIMITS, type EmulatorOptions } from './device/emulator.js';
/** The chip's default fixed-point formats for given bit widths (weights 3..16 bits, activity 5..16 bits). */
export { defaultChipFormats, type FormatOptions } from './device/config.js';
/** The float reference model: the same network and rule in double precision, no quantisation. */
export { FloatDevice, FLOAT_LIMITS, type FloatDeviceOptions } from './model/float-device.js';
/** Xavier-normal initial weights from a seed (uint32), the same on every device. */
export { xavierNormal, type RnnShape } from './model/rnn.js';
/**
 * A board (or anpt-firmware-sim) over a link: `SerialDevice.open('tcp://127.0.0.1:5555')`
 * or `'serial:///dev/ttyACM0?baud=115200'`; ResilientDevice.open(url) adds checkpoints and
 * replays a board reset.
 */
export { SerialDevice, type SerialDeviceOptions } from './link/serial-device.js';
export { ResilientDevice, type ResilientOptions, type ResilienceStats } from './link/resilient-device.js';
/** Parse a link URL (tcp://host:port, serial://path?baud=N) without opening it. */
export { parseLinkUrl, formatLinkUrl, DEFAULT_BAUD, type LinkUrl } from './link/transport.js';

// ---------------------------------------------------------------------------------
// Learning: the on-chip rule and the baselines

/** ANP-T through any Device: forward passes and one global reward per step. */
export {
  trainAnpt,
  capSpectralRadius,
  type AnptOptions,
  type EpochRecord,
  type TrainProgress,
  type TrainResult,
} from './learn/anpt.js';
/** Clean-copy evaluation (MSE in target units squared) and the zero-output MSE every learner must beat. */
export { evaluate, zeroOutputMse, type Evaluation, type EvaluateOptions } from './learn/evaluate.js';
/** Baselines on the float model: node perturbation, weight perturbation (devices), BPTT, ridge readout. */
export { NpFloatDevice, type PerturbationDeviceOptions, type PerturbationScale } from './learn/np.js';
export { WpFloatDevice } from './learn/wp.js';
/** ANP-T research options on the float model: a reward per sequence with its own trace, and the rms step with momentum (issue 11). */
export { SequenceRewardDevice, type SequenceRewardOptions } from './learn/sequence-reward.js';
/** trainAnpt's rollback option (go back to the best epoch on validation) and the seed offset of a validation draw. */
export type { RollbackOptions, RollbackSummary } from './learn/rollback.js';
export { VALIDATION_SEED_OFFSET } from './learn/defaults.js';
export { trainBptt, evaluateFloat, type BpttOptions, type BpttResult, type Optimizer } from './learn/bptt.js';
export { fitRidgeReadout, type RidgeOptions, type RidgeResult } from './learn/reservoir.js';
/** Step-size schedules (a factor on the base rates per step). */
export type { Schedule } from './learn/schedule.js';
/** The spectral radius of a square matrix (e.g. R, H x H). */
export { spectralRadius, type SpectralOptions } from './linalg/spectral.js';

// ---------------------------------------------------------------------------------
// Tasks

/** Mackey-Glass, copy, weather (data/WTH.csv) and your own CSV, as train and test SequenceSets. */
export {
  makeTask,
  mackeyGlassTask,
  copyTask,
  weatherTask,
  csvTask,
  TASK_NAMES,
  setMse,
  type CopyOptions,
  type CsvOptions,
  type MackeyGlassOptions,
  type SequenceSet,
  type Task,
  type TaskName,
  type WeatherOptions,
} from './tasks/index.js';
/** Noisy copies: every sequence of a set M times side by side (M noise draws of the same data per step). */
export { replicateSequences } from './tasks/replicate.js';

// ---------------------------------------------------------------------------------
// Fixed-point formats

/** Qm.n formats, their names and the rounding and overflow the chip applies. */
export {
  q,
  formatName,
  parseFormatName,
  toQ,
  fromQ,
  lsb,
  codeRange,
  ROUNDINGS,
  OVERFLOWS,
  type FixedFormat,
  type Overflow,
  type Rounding,
} from './format/fixed.js';

// ---------------------------------------------------------------------------------
// Errors: one base, one union of codes

/** Every error anpt throws on purpose is an AnptError with a `code` from AnptErrorCode and a one-line message. */
export { AnptError, UsageError } from './errors.js';
export type { AnptErrorCode } from './error-codes.js';
export { DeviceError, type DeviceErrorCode } from './device/errors.js';
export { ConfigError } from './format/fixed.js';
export { TaskError, type TaskErrorCode } from './tasks/errors.js';
export { LinkError } from './link/transport.js';
export { SweepDirError } from './sweep/results.js';

/** The anpt version (package.json). */
export { anptVersion } from './version.js';

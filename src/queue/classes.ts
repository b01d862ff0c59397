/**
 * Which worker may run which row. Every row of a queued sweep goes to one BullMQ queue
 * per capability class: the things a board can refuse (topology, weight and activity
 * bits, update rounding, the longest chunk the row runs in one call) plus where the
 * row may run (--run-on any | emulator | board). A worker serves the queues whose class
 * its device can run: an emulator worker every class the emulator runs (all of a
 * checked grid), a board worker the classes its board's Hello limits admit. A row
 * always maps to the same queue, so its job id (a hash of the row key) is unique.
 *
 * Queue names: anpt.<sweep>.<runOn>.w<bits>a<bits>.<rounding>.k<steps>, and
 * anpt.<sweep>.float for the shared float trainings (any worker; no chip in them).
 */
import { createHash } from 'node:crypto';
import { defaultChipFormats } from '../device/config.js';
import { layoutEstimate } from '../device/emulator.js';
import type { Activation } from '../device/types.js';
import { ROUNDING_CODE, type Rounding } from '../format/fixed.js';
import { Activation as WireActivation, maxChunkStepsForFrame, type Limits } from '../link/messages.js';
import { canonicalJson, chipConfig, type GridSpec, type RowSpec } from '../sweep/grid.js';
import type { Task } from '../tasks/types.js';

export const RUN_ON = ['any', 'emulator', 'board'] as const;
export type RunOn = (typeof RUN_ON)[number];

/** What a row asks of the device that runs it. */
export interface RowNeeds {
  runOn: RunOn;
  inputs: number;
  hidden: number;
  outputs: number;
  batch: number;
  activation: Activation;
  weightBits: number;
  activityBits: number;
  rounding: Rounding;
  /** The longest run() the row cannot split (the training chunk, the diagnostic's chunk). */
  chunk: number;
  /** The rows' networks have biases (topology.bias): only boards announcing Limits.bias take them. */
  bias?: boolean;
}

/** One queue of a sweep: its name and what its rows need (undefined: the float queue). */
export interface QueueClass {
  name: string;
  needs?: RowNeeds;
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** The sweep's id in queue names: a hash of the checked grid (same grid, same queues). */
export const sweepId = (grid: GridSpec): string => sha(canonicalJson(grid)).slice(0, 12);
/** BullMQ job id of a row (job ids may not hold ':'; the row key is JSON): r + sha256(key). */
export const rowJobId = (key: string): string => `r${sha(key)}`;
export const floatJobId = (key: string): string => `f${sha(key)}`;
export const floatQueue = (sweep: string): string => `anpt.${sweep}.float`;

/** The needs of a row; `task` is the grid's task built once (its sizes do not depend on the seed). */
export function rowNeeds(row: RowSpec, task: Task, runOn: RunOn): RowNeeds {
  const c = row.config;
  const cfg = chipConfig(c, task, row.seed);
  const p = c.point;
  // evaluation chunks are ours to shorten on a board; training and diagnostic chunks are not
  const chunk = row.method === 'anpt-chip' ? Math.max(Math.min(c.anpt?.chunk ?? 1, task.train.steps), c.diagnostics?.steps ?? 1) : 1;
  return { runOn, ...cfg.topology, weightBits: p.weightBits, activityBits: p.activityBits, rounding: p.rounding, chunk };
}

export function className(sweep: string, n: RowNeeds): string {
  return `anpt.${sweep}.${n.runOn}.w${n.weightBits}a${n.activityBits}.${n.rounding}.k${n.chunk}`;
}

/** Why a board with these Hello limits cannot run rows with `n` (undefined: it can). */
export function boardRefuses(l: Limits, n: RowNeeds, frameBytes: number): string | undefined {
  if (n.runOn === 'emulator') return 'the rows are for emulator workers (--run-on emulator)';
  if (n.inputs > l.maxInputs || n.hidden > l.maxHidden || n.outputs > l.maxOutputs || n.batch > l.maxBatch)
    return `topology ${n.inputs}-${n.hidden}-${n.outputs} batch ${n.batch} exceeds the board's ${l.maxInputs}-${l.maxHidden}-${l.maxOutputs} batch ${l.maxBatch}`;
  const bits = [n.weightBits, n.activityBits];
  if (Math.min(...bits) < l.minBits || Math.max(...bits) > l.maxBits) return `${bits.join('/')} bits are outside the board's ${l.minBits}..${l.maxBits}`;
  const modes = l.roundingModes ?? [];
  for (const r of new Set<Rounding>([n.rounding, 'nearest'])) if (!modes.includes(ROUNDING_CODE[r])) return `rounding ${r} is not one the board offers`;
  if (l.activations?.length && !l.activations.includes(ACTIVATION_WIRE[n.activation])) return `activation ${n.activation} is not one the board offers`;
  if (n.bias && !l.bias) return 'the rows have biases (grid.bias) and the board does not announce Limits.bias';
  if (n.chunk > (l.maxChunkSteps || Infinity)) return `chunks of ${n.chunk} steps exceed the board's ${l.maxChunkSteps}`;
  const formats = defaultChipFormats({ weightBits: n.weightBits, activityBits: n.activityBits, rounding: n.rounding });
  const frameFit = maxChunkStepsForFrame(frameBytes, n, formats, false);
  if (n.chunk > frameFit) return `chunks of ${n.chunk} steps do not fit one ${frameBytes}-byte frame`;
  if (l.ramBytes && layoutEstimate(n.inputs, n.hidden, n.outputs, n.batch, n.chunk) > l.ramBytes) return `the network needs more than the board's ${l.ramBytes} bytes of RAM`;
  return undefined;
}

const ACTIVATION_WIRE: Record<Activation, number> = { tanh: WireActivation.TANH, hardtanh: WireActivation.HARDTANH, linear: WireActivation.LINEAR };

/** Every queue of a grid's rows, with the queue each row goes to. */
export function sweepQueues(grid: GridSpec, rows: RowSpec[], task: Task, runOn: RunOn): { sweep: string; queues: QueueClass[]; queueOf: Map<string, string> } {
  const sweep = sweepId(grid);
  const byName = new Map<string, QueueClass>([[floatQueue(sweep), { name: floatQueue(sweep) }]]);
  const queueOf = new Map<string, string>();
  for (const row of rows) {
    const needs = rowNeeds(row, task, runOn);
    const name = className(sweep, needs);
    if (!byName.has(name)) byName.set(name, { name, needs });
    queueOf.set(row.key, name);
  }
  return { sweep, queues: [...byName.values()], queueOf };
}

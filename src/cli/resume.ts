/**
 * Resumable board runs: while `anpt train --device` trains, DIR/run-state.json holds
 * the flags of the run, where the trainer stands (TrainPosition) and a checkpoint of
 * the board at that moment (weights, recurrent state, step counter), written
 * atomically every few seconds. `anpt train --resume DIR` puts the checkpoint back on
 * the board and continues from that chunk: the noise is keyed by the step counter, so
 * the final weights are the same bytes as an uninterrupted run's. SIGINT stops at the
 * next chunk boundary, saves, and writes summary.json with "status": "interrupted".
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { TrainPosition } from '../learn/anpt.js';
import type { Evaluation } from '../learn/evaluate.js';
import { checkpointFromJson, checkpointJson, type Checkpoint, type ResilientDevice } from '../link/resilient-device.js';
import { UsageError } from './errors.js';
import { toJson } from './output.js';
/** The flags of `anpt train` as commander gave them (train.ts TrainFlags; kept untyped here to keep train.ts above this file). */
type SavedFlags = object;
import type { LinkSettings } from './link-options.js';

export const RUN_STATE_FILE = 'run-state.json';
const RUN_STATE_FORMAT = 'anpt-run-state/1';
/** Save at most this often, ms; and at most 5 % of the time (each save reads the weights and state over the link). */
const SAVE_EVERY_MS = 2000;
const SAVE_SHARE = 0.05;

export interface RunState {
  flags: SavedFlags;
  position: TrainPosition;
  checkpoint: Checkpoint;
  initialTest: { mse: number; metrics?: Record<string, number> };
  /** The run's Hello nonce: a resumed run is the same host to the board (its session, not BUSY). */
  hostNonce: number;
}

/** Thrown by the afterChunk hook when SIGINT asked the run to stop (the state is saved). */
export class Interrupted extends Error {}

/** Read DIR/run-state.json for --resume (UsageError naming the file if it is not there). */
export function readRunState(dir: string): RunState {
  const file = join(resolve(dir), RUN_STATE_FILE);
  if (!existsSync(file)) throw new UsageError(`--resume: ${file} does not exist; give the --out directory of a board run (anpt train --device) that stopped`);
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`--resume: cannot read ${file} (${(e as Error).message})`);
  }
  if (j.format !== RUN_STATE_FORMAT) throw new UsageError(`--resume: ${file} is not an ${RUN_STATE_FORMAT} file`);
  return {
    flags: j.flags as SavedFlags,
    position: j.position as TrainPosition,
    checkpoint: checkpointFromJson(j.checkpoint as Record<string, unknown>, file),
    initialTest: j.initialTest as RunState['initialTest'],
    hostNonce: j.hostNonce as number,
  };
}

/**
 * The afterChunk hook of a board run: saves the run state every SAVE_EVERY_MS (and at
 * once when SIGINT arrived, then throws Interrupted). `stop()` removes the SIGINT handler.
 */
export function runStateSaver(dir: string, flags: SavedFlags, device: ResilientDevice, initialTest: Evaluation): { afterChunk: (at: TrainPosition) => Promise<void>; stop: () => void; interrupted: () => boolean } {
  let last = performance.now();
  let gap = SAVE_EVERY_MS;
  let sigint = false;
  const onSigint = () => (sigint = true);
  process.on('SIGINT', onSigint);
  const abs = resolve(dir);
  const save = async (position: TrainPosition) => {
    const checkpoint = await device.snapshot();
    mkdirSync(abs, { recursive: true });
    const json = { format: RUN_STATE_FORMAT, savedAt: new Date().toISOString(), flags, position, checkpoint: checkpointJson(checkpoint), initialTest: { mse: initialTest.mse, metrics: initialTest.metrics }, hostNonce: device.hostNonce };
    writeFileAtomic.sync(join(abs, RUN_STATE_FILE), toJson(json) + '\n');
  };
  return {
    afterChunk: async (at) => {
      if (!sigint && performance.now() - last < gap) return;
      const t0 = performance.now();
      await save(at);
      last = performance.now();
      gap = Math.max(SAVE_EVERY_MS, (last - t0) / SAVE_SHARE);
      if (sigint) throw new Interrupted('interrupted');
    },
    stop: () => process.off('SIGINT', onSigint),
    interrupted: () => sigint,
  };
}

/** Does DIR hold a run state (a board run under way or stopped)? */
export function hasRunState(dir: string): boolean {
  return dir !== '' && existsSync(join(resolve(dir), RUN_STATE_FILE));
}

/** The configuration of `anpt train --resume DIR`: the saved flags, the same directory, and the state to continue from. */
export function resumeConfig<T extends { link?: LinkSettings }>(dir: string, resolveFlags: (f: SavedFlags & { out: string; force: boolean; resume: undefined }) => T): T & { resume: RunState } {
  const state = readRunState(dir);
  const cfg = resolveFlags({ ...state.flags, resume: undefined, out: dir, force: true });
  return { ...cfg, link: { ...cfg.link, hostNonce: state.hostNonce }, resume: state };
}

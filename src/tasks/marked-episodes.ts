/**
 * Streams of fixed-length episodes in which some steps are *marked*, shared by the
 * adding problem and delayed recall (tasks that a fixed random network cannot solve
 * well: the readout must pick out values by a marker, i.e. gate them, and hold them
 * across unmarked distractors).
 *
 * Three input channels per step: [value, marker, query].
 * - steps 0 .. L-2 of an episode: value ~ U(-1, 1) (the marked ones and the
 *   distractors alike), marker 1 on the marked steps and 0 elsewhere, query 0;
 * - step L-1 (the query step): value 0, marker 0, query 1.
 * One output; the target is 0 on every step but the query step, where the task's
 * `answer` of the marked values is asked for. Episodes follow each other without a
 * reset, so a network must also forget the previous episode. The targets have mean 0
 * (the model has no biases).
 */
import { TaskError, checkInteger, checkSeed } from './errors.js';
import { createRng, testSeed, type Rng } from './rng.js';
import type { SequenceSet, Task } from './types.js';

export const EPISODE_INPUTS = 3;
export const VALUE = 0;
export const MARKER = 1;
export const QUERY = 2;

export interface EpisodeOptions {
  /** Steps per episode L (the last one is the query step). */
  episode?: number;
  /** Episodes per sequence; T = episodes x L. */
  episodes?: number;
  /** Sequences per split B, default 10. */
  batch?: number;
  /** Integer seed (modulo 2^32), default 42. Train and test use disjoint streams of it. */
  seed?: number;
}

export interface EpisodeKind {
  /** Task name prefix, e.g. "adding". */
  name: string;
  /** Default episode length and episodes per sequence. */
  episode: number;
  episodes: number;
  /** Smallest episode length that leaves room for the marks. */
  minEpisode: number;
  /** Steps (in 0 .. L-2) to mark in one episode of length L. */
  marks(rng: Rng, L: number): number[];
  /** The target at the query step from the marked values (in mark order). */
  answer(values: number[]): number;
}

function episodeSet(kind: EpisodeKind, L: number, episodes: number, batch: number, seed: number): SequenceSet {
  const rng = createRng(seed);
  const steps = L * episodes, I = EPISODE_INPUTS;
  const inputs = new Float64Array(steps * batch * I);
  const targets = new Float64Array(steps * batch);
  for (let b = 0; b < batch; b++)
    for (let e = 0; e < episodes; e++) {
      const t0 = e * L;
      for (let k = 0; k < L - 1; k++) inputs[((t0 + k) * batch + b) * I + VALUE] = rng.uniform(-1, 1);
      const marked = kind.marks(rng, L);
      for (const k of marked) inputs[((t0 + k) * batch + b) * I + MARKER] = 1;
      const q = t0 + L - 1;
      inputs[(q * batch + b) * I + QUERY] = 1;
      targets[q * batch + b] = kind.answer(marked.map((k) => inputs[((t0 + k) * batch + b) * I + VALUE]));
    }
  return { steps, batch, inputSize: I, outputSize: 1, inputs, targets };
}

/** A task of marked episodes, named "<kind>/len<L>". */
export function episodeTask(kind: EpisodeKind, opts: EpisodeOptions): Task {
  const L = checkInteger(`${kind.name} episode`, opts.episode ?? kind.episode, 2);
  if (L < kind.minEpisode) throw new TaskError('BAD_OPTION', `${kind.name} episode must be an integer >= ${kind.minEpisode}, got ${L}`);
  const episodes = checkInteger(`${kind.name} episodes`, opts.episodes ?? kind.episodes, 1);
  const batch = checkInteger(`${kind.name} batch`, opts.batch ?? 10, 1);
  const seed = checkSeed(`${kind.name} seed`, opts.seed ?? 42);
  return {
    name: `${kind.name}/len${L}`,
    inputSize: EPISODE_INPUTS,
    outputSize: 1,
    train: episodeSet(kind, L, episodes, batch, seed),
    test: episodeSet(kind, L, episodes, batch, testSeed(seed)),
  };
}

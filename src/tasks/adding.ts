/**
 * The adding problem (Hochreiter & Schmidhuber 1997, values in [-1, 1]) as a stream
 * of episodes (marked-episodes.ts): in each episode of L steps two values are marked,
 * one in the first half of the L-1 value steps and one in the second half; at the
 * query step the target is their sum. Every other step's target is 0.
 */
import { episodeTask, type EpisodeKind, type EpisodeOptions } from './marked-episodes.js';
import type { Task } from './types.js';

export type AddingOptions = EpisodeOptions;

export const ADDING: EpisodeKind = {
  name: 'adding',
  episode: 10,
  episodes: 100,
  minEpisode: 3,
  marks(rng, L) {
    const half = Math.floor((L - 1) / 2);
    return [rng.int(half), half + rng.int(L - 1 - half)];
  },
  answer: (values) => values[0] + values[1],
};

/** The adding problem, named "adding/len<L>"; inputs [value, marker, query], one output. Default L 10, 100 episodes per sequence. */
export function addingTask(opts: AddingOptions = {}): Task {
  return episodeTask(ADDING, opts);
}

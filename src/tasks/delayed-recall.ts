/**
 * Delayed recall with distractors, as a stream of episodes (marked-episodes.ts): in
 * each episode of L steps one value, in the first half of the L-1 value steps, is
 * marked; every other value is a distractor; at the query step the target is the
 * marked value, so the delay is between L/2 and L-1 steps. Every other step's target is 0.
 */
import { episodeTask, type EpisodeKind, type EpisodeOptions } from './marked-episodes.js';
import type { Task } from './types.js';

export type DelayedRecallOptions = EpisodeOptions;

export const DELAYED_RECALL: EpisodeKind = {
  name: 'delayed-recall',
  episode: 10,
  episodes: 100,
  minEpisode: 3,
  marks: (rng, L) => [rng.int(Math.floor((L - 1) / 2))],
  answer: (values) => values[0],
};

/** Delayed recall, named "delayed-recall/len<L>"; inputs [value, marker, query], one output. Default L 10, 100 episodes per sequence. */
export function delayedRecallTask(opts: DelayedRecallOptions = {}): Task {
  return episodeTask(DELAYED_RECALL, opts);
}

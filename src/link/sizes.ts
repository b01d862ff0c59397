/**
 * Size bounds of the link's messages, in bytes of the protobuf payload (a frame before
 * framing), for chunking and configuration checks. Each message's size is written once,
 * as fixed bytes plus bytes per step (STEP_BYTES); the largest chunk a frame holds is
 * derived from the same table. A property test (test/link-frame.test.ts) checks every
 * bound against real encodings with worst-case codes.
 */

import { MIN_FRAME_BYTES } from './frame.js';

/**
 * Bound of everything in a WriteParams or ReadParamsReply except its packed codes:
 * id 6, session 5, body tag and length 4, tensor 2, offset 6, total 6, codes tag and
 * length 4 (docs/protocol.md, Size bounds).
 */
export const ENVELOPE_BYTES = 32;

/** Largest frame limit the size bounds hold for (length prefixes stay within 3 bytes). */
export const MAX_SUPPORTED_FRAME_BYTES = 2 ** 21 - 64;

/** Throws RangeError unless `n` is a frame limit an endpoint can use (programming error, not input). */
export function checkFrameLimit(n: number, who: string): number {
  if (!Number.isInteger(n) || n < MIN_FRAME_BYTES || n > MAX_SUPPORTED_FRAME_BYTES) {
    throw new RangeError(`${who}: maxFrameBytes ${n} is outside ${MIN_FRAME_BYTES}..${MAX_SUPPORTED_FRAME_BYTES}`);
  }
  return n;
}

/** Worst-case bytes of one code of a format as a zigzag varint (16-bit codes: 3). */
export function codeBytes(f: { bits: number; signed: boolean }): number {
  return Math.ceil((f.signed ? f.bits : f.bits + 1) / 7);
}

/** Codes of a format that fit one WriteParams or ReadParamsReply in a frame of `maxFrameBytes`. */
export function maxCodesPerFrame(maxFrameBytes: number, f: { bits: number; signed: boolean }): number {
  return Math.max(0, Math.floor((maxFrameBytes - ENVELOPE_BYTES) / codeBytes(f)));
}

interface SizeTopology {
  inputs: number;
  hidden: number;
  outputs: number;
  batch: number;
}
interface SizeFormats {
  input: { bits: number; signed: boolean };
  activity: { bits: number; signed: boolean };
  output: { bits: number; signed: boolean };
}

/** The three messages of a training chunk. */
type ChunkMessage = 'run' | 'runReply' | 'reward';

/**
 * Fixed bytes of each chunk message: the envelope and its scalar fields (Run: steps 6,
 * t0 6, noisy 2, hidden_trace 2; RunReply: t0 6, steps 6, its three arrays' tags and
 * lengths 4 more; Reward: t0 6, three doubles 27). Run and Reward, the requests a host
 * pipelines, may also carry Request.after_back (6 at most) and Reward.same_rates (2): the envelope's
 * tensor, offset and total (14), which they do not have, cover them.
 */
const FIXED_BYTES: Record<ChunkMessage, number> = { run: ENVELOPE_BYTES + 16, runReply: ENVELOPE_BYTES + 16, reward: ENVELOPE_BYTES + 32 };

/** Worst-case bytes per step of each chunk message (the reply with the hidden trace if asked). */
function stepBytes(t: SizeTopology, f: SizeFormats, hiddenTrace: boolean): Record<ChunkMessage, number> {
  return {
    run: t.batch * t.inputs * codeBytes(f.input),
    runReply: t.batch * (2 * t.outputs * codeBytes(f.output) + (hiddenTrace ? t.hidden * codeBytes(f.activity) : 0)),
    reward: 8,
  };
}

const REWARD_ONLY: SizeTopology = { inputs: 0, hidden: 0, outputs: 0, batch: 0 };
const ANY_FORMATS: SizeFormats = { input: { bits: 1, signed: true }, activity: { bits: 1, signed: true }, output: { bits: 1, signed: true } };

function bytesOf(m: ChunkMessage, steps: number, t: SizeTopology, f: SizeFormats, hiddenTrace: boolean): number {
  return FIXED_BYTES[m] + steps * stepBytes(t, f, hiddenTrace)[m];
}

/** Worst-case bytes of a Run request of `steps` steps. */
export function runRequestBytes(steps: number, t: SizeTopology, f: SizeFormats): number {
  return bytesOf('run', steps, t, f, false);
}

/** Worst-case bytes of a RunReply of `steps` steps (noisy outputs included; hidden trace if asked). */
export function runReplyBytes(steps: number, t: SizeTopology, f: SizeFormats, hiddenTrace: boolean): number {
  return bytesOf('runReply', steps, t, f, hiddenTrace);
}

/** Worst-case bytes of a Reward request for a chunk of `steps` steps. */
export function rewardRequestBytes(steps: number): number {
  return bytesOf('reward', steps, REWARD_ONLY, ANY_FORMATS, false);
}

/**
 * Largest chunk (steps) whose Run, RunReply and Reward all fit a frame of
 * `maxFrameBytes`; 0 if not even one step fits. `hiddenTrace` sizes for runs that ask
 * for the hidden trace.
 */
export function maxChunkStepsForFrame(maxFrameBytes: number, t: SizeTopology, f: SizeFormats, hiddenTrace: boolean): number {
  const per = stepBytes(t, f, hiddenTrace);
  let k = Infinity;
  for (const m of Object.keys(FIXED_BYTES) as ChunkMessage[]) {
    if (per[m] > 0) k = Math.min(k, Math.floor((maxFrameBytes - FIXED_BYTES[m]) / per[m]));
  }
  return Math.max(0, k);
}

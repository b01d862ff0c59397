/**
 * The Device contract in one place: the checks every Device makes on a request, in
 * one order, the pending-chunk rule, and the codes a refusal carries. EmulatorDevice,
 * FloatDevice, the device service on a board (src/link/device-server.ts) and the host
 * end of a link (SerialDevice, ResilientDevice) all call these functions, so a bad
 * request gets the same code whichever device it meets (test/conformance/ checks it).
 *
 * Every check runs before anything changes: a refused call leaves parameters, state,
 * the pending chunk and the counters as they were.
 *
 * Order of the checks (the first that fails decides the code):
 *   any call but configure/info/stats  NOT_CONFIGURED
 *   run      steps an integer >= 1 (BAD_REQUEST), steps <= maxChunkSteps (TOO_LARGE),
 *            t0 an integer in 0..2^32-1 (BAD_REQUEST), inputs of length K*B*I
 *            (BAD_REQUEST), every input finite (BAD_INPUT)
 *   reward   t0 an integer in 0..2^32-1 (BAD_REQUEST), a pending chunk with equal t0
 *            (NO_PENDING_CHUNK), deltaLoss of that chunk's length K (BAD_REQUEST),
 *            every dL finite, then every learning rate finite (BAD_INPUT)
 *   writeParams / writeState  each tensor in order (w, r, v, b, c / clean, noisy): its
 *            length (BAD_REQUEST), then its values finite (BAD_INPUT)
 *
 * The pending-chunk rule (PendingChunk): a noisy run leaves its chunk pending; a clean
 * run, a reward or a configure clears it; resetState, writeParams and writeState keep
 * it. A reward needs a pending chunk with equal t0.
 */

import { DeviceError, type DeviceErrorCode } from './errors.js';
import type { DeviceConfig, Params, RecurrentState, RewardRequest, RunRequest } from './types.js';

/** The codes a Device refuses a request with (each is also a wire ErrorCode of the same name). */
export type RefusalCode = Extract<DeviceErrorCode, 'BAD_REQUEST' | 'BAD_INPUT' | 'NOT_CONFIGURED' | 'NO_PENDING_CHUNK' | 'TOO_LARGE'>;

/** A refusal: a DeviceError that also names the offending field ('run.steps', 'reward.deltaLoss', 'params.w'). */
export type Refusal = DeviceError & { readonly field: string };

/** Make a refusal; its message starts with the field ("run.steps: ...", "run.inputs[3] is NaN; ..."). */
export function refuse(code: RefusalCode, field: string, message: string): Refusal {
  return Object.assign(new DeviceError(code, message.startsWith('[') ? `${field}${message}` : `${field}: ${message}`), { field });
}

/** The field a DeviceError names, if it is a Refusal. */
export function refusalField(e: unknown): string | undefined {
  const f = e instanceof DeviceError ? (e as Partial<Refusal>).field : undefined;
  return typeof f === 'string' ? f : undefined;
}

export const UINT32_MAX = 0xffffffff;

const isUint32 = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= UINT32_MAX;

export const NOT_CONFIGURED_MESSAGE = 'the device is not configured; call configure() first';

/** The configuration, or NOT_CONFIGURED. */
export function requireConfigured<T>(config: T | undefined): T {
  if (config === undefined) throw new DeviceError('NOT_CONFIGURED', NOT_CONFIGURED_MESSAGE);
  return config;
}

type RunConfig = Pick<DeviceConfig, 'topology' | 'maxChunkSteps'>;

/** The run checks (see the file comment). */
export function checkRun(req: RunRequest, cfg: RunConfig): void {
  const K = req.steps;
  if (!Number.isInteger(K) || K < 1) throw refuse('BAD_REQUEST', 'run.steps', `${K} is not a whole number of steps >= 1`);
  if (K > cfg.maxChunkSteps) throw refuse('TOO_LARGE', 'run.steps', `${K} is over maxChunkSteps ${cfg.maxChunkSteps}; run shorter chunks`);
  if (!isUint32(req.t0)) throw refuse('BAD_REQUEST', 'run.t0', `${req.t0} is not a step counter (an integer in 0..${UINT32_MAX})`);
  const { batch: B, inputs: I } = cfg.topology;
  checkFinite(req.inputs, K * B * I, 'run.inputs', 'steps x batch x inputs');
}

/** A tensor of `n` finite values: length BAD_REQUEST, then values BAD_INPUT. */
export function checkFinite(a: ArrayLike<number> | undefined, n: number, field: string, dims: string): void {
  if (!a || typeof a.length !== 'number' || a.length !== n) throw refuse('BAD_REQUEST', field, `length ${a?.length ?? 'missing'}, expected ${dims} = ${n}`);
  for (let i = 0; i < n; i++) if (!Number.isFinite(a[i])) throw refuse('BAD_INPUT', field, `[${i}] is ${a[i]}; values must be finite`);
}

/** writeParams checks: W (H x I), R (H x H), V (O x H), and with topology.bias b (H) and c (O); without it b and c must be absent. */
export function checkParams(p: Params, t: DeviceConfig['topology']): void {
  checkFinite(p?.w, t.hidden * t.inputs, 'params.w', 'hidden x inputs');
  checkFinite(p?.r, t.hidden * t.hidden, 'params.r', 'hidden x hidden');
  checkFinite(p?.v, t.outputs * t.hidden, 'params.v', 'outputs x hidden');
  if (t.bias) {
    checkFinite(p.b, t.hidden, 'params.b', 'hidden');
    checkFinite(p.c, t.outputs, 'params.c', 'outputs');
  } else {
    for (const name of ['b', 'c'] as const)
      if (p[name] !== undefined) throw refuse('BAD_REQUEST', `params.${name}`, 'this device is configured without biases (topology.bias false); leave b and c out or configure bias true');
  }
}

/** writeState checks: both states B x H; eligibility traces H x I and H x H (refused by a device without traces). */
export function checkState(s: RecurrentState, t: DeviceConfig['topology'], hasTraces = false): void {
  checkFinite(s?.clean, t.batch * t.hidden, 'state.clean', 'batch x hidden');
  checkFinite(s?.noisy, t.batch * t.hidden, 'state.noisy', 'batch x hidden');
  if (s.eligibility) {
    if (!hasTraces) throw refuse('BAD_REQUEST', 'state.eligibility', 'this device is configured without an eligibility trace (learner.trace none); leave it out or configure a learner trace');
    checkFinite(s.eligibility.w, t.hidden * t.inputs, 'state.eligibility.w', 'hidden x inputs');
    checkFinite(s.eligibility.r, t.hidden * t.hidden, 'state.eligibility.r', 'hidden x hidden');
    if (s.eligibility.b !== undefined) {
      if (!t.bias) throw refuse('BAD_REQUEST', 'state.eligibility.b', 'this device has no biases (topology.bias false); leave it out');
      checkFinite(s.eligibility.b, t.hidden, 'state.eligibility.b', 'hidden');
    }
  }
}

/** The reward checks that need no pending chunk: only what a link cannot carry (t0 outside uint32). */
export function checkRewardT0(req: RewardRequest): void {
  if (!isUint32(req.t0)) throw refuse('BAD_REQUEST', 'reward.t0', `${req.t0} is not a step counter (an integer in 0..${UINT32_MAX})`);
}

/** The noisy chunk awaiting its reward, and the rule around it (see the file comment). */
export class PendingChunk {
  private chunk: { t0: number; steps: number } | undefined;

  /** The pending chunk, if any. */
  get current(): { readonly t0: number; readonly steps: number } | undefined {
    return this.chunk;
  }

  /** A configure (or anything that starts the device afresh): no chunk pending. */
  clear(): void {
    this.chunk = undefined;
  }

  /** A run was made: a noisy one is pending now, a clean one cancels any pending chunk. */
  ran(req: Pick<RunRequest, 't0' | 'steps' | 'noisy'>): void {
    this.chunk = req.noisy ? { t0: req.t0, steps: req.steps } : undefined;
  }

  /** All reward checks, in order; returns the chunk it rewards. Changes nothing. */
  check(req: RewardRequest): { t0: number; steps: number } {
    checkRewardT0(req);
    const p = this.chunk;
    if (!p) throw refuse('NO_PENDING_CHUNK', 'reward.t0', 'no noisy chunk is waiting for a reward; run({noisy: true}) first, and reward each chunk once');
    if (req.t0 !== p.t0) throw refuse('NO_PENDING_CHUNK', 'reward.t0', `${req.t0} does not match the last noisy run (t0 ${p.t0})`);
    const dL = req.deltaLoss;
    if (!dL || dL.length !== p.steps) throw refuse('BAD_REQUEST', 'reward.deltaLoss', `length ${dL?.length ?? 'missing'}, expected ${p.steps} (one per step of the chunk)`);
    for (let k = 0; k < p.steps; k++)
      if (!Number.isFinite(dL[k])) throw refuse('BAD_INPUT', 'reward.deltaLoss', `[${k}] is ${dL[k]}; the loss diverged or the data has NaN; weights were not changed`);
    for (const name of ['w', 'r', 'v'] as const)
      if (!Number.isFinite(req.lr?.[name])) throw refuse('BAD_INPUT', `reward.lr.${name}`, `${req.lr?.[name]}; use a finite step size`);
    return { ...p };
  }

  /** The pending chunk was rewarded. */
  rewarded(): void {
    this.chunk = undefined;
  }
}

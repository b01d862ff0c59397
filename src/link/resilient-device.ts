/**
 * A Device that survives the board rebooting under it: the trainer keeps calling, and
 * the final weights are the same bits as without the reboot.
 *
 * How: it keeps a checkpoint (configuration, parameters, recurrent state with the
 * eligibility traces of a learner trace, the step counter) and a journal of every state-changing call since (writes, runs with their
 * outputs, rewards). When the device has lost its state — a NOT_CONFIGURED refusal,
 * or a call that failed after all retries followed by a Hello showing a new session
 * id or boot counter — it configures the device again, writes the checkpoint back,
 * replays the journal, checking that every replayed run returns exactly the recorded
 * outputs (the counter-based noise makes a replay draw the same numbers), checkpoints,
 * and then makes the call that failed. A replay that differs fails loudly
 * (REPLAY_MISMATCH): a device with physical noise cannot be recovered transparently.
 *
 * Checkpoints are taken after every `checkpointEveryChunks` rewarded chunks, once the
 * journal holds `maxJournalSteps` steps, at every resetState and after a recovery.
 * Each reads the recurrent state (known to be zero at resetState), and W, R, V only if
 * a reward changed them since the host last knew them. With `checkpointDir` each one
 * is written to checkpoint.json there, so a run can resume after the host itself
 * stops (readCheckpoint, restore). docs/protocol.md section 7 has the details.
 */

import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Device, DeviceConfig, DeviceInfo, DeviceStats, EligibilityTraces, Params, RecurrentState, RewardRequest, RunRequest, RunResult } from '../device/types.js';
import { copyParams, copyState } from '../device/types.js';
import { PendingChunk } from '../device/contract.js';
import { DeviceError } from '../device/errors.js';
import { hasTraces } from './codes.js';
import type { HelloReply } from './messages.js';
import { AdaptiveSize, runInPieces, SerialDevice, splittable, isNewSession, type SerialDeviceOptions } from './serial-device.js';
import { LinkError } from './transport.js';

/** What the wrapper needs of the link: a Device that can say Hello again. SerialDevice is one. */
export interface RecoverableDevice extends Device {
  readonly hello: HelloReply;
  /** Hello over the open link; returns the (possibly new) session. */
  handshake(): Promise<HelloReply>;
  /** run(req) with the next chunk sent ahead, where the link can (SerialDevice.runAhead). */
  runAhead?(req: RunRequest, next: RunRequest): Promise<RunResult>;
}

export interface ResilientOptions {
  /**
   * Checkpoint after this many rewarded chunks: the most a recovery replays. Default
   * adaptive: up to 256, halved at every recovery (a board that resets often is
   * checkpointed often), doubled again after checkpoints without one.
   */
  checkpointEveryChunks?: number;
  /** Also checkpoint once the journal holds this many steps (default 8192), at the next point with no chunk awaiting its reward. */
  maxJournalSteps?: number;
  /** Write every checkpoint to DIR/checkpoint.json (atomically). */
  checkpointDir?: string;
  /** Recoveries in a row without a successful call before giving up (default 4). */
  maxRecoveries?: number;
  /** Open the link again when it has closed (a board whose USB port re-enumerates on reboot). */
  reopen?: () => Promise<RecoverableDevice>;
  /** Told about recoveries and checkpoints (one line each), e.g. for a log. */
  onEvent?: (line: string) => void;
}

export interface ResilienceStats {
  /** Device resets detected and recovered from. */
  resetsRecovered: number;
  /** Calls and steps replayed from the journal during recoveries. */
  replayedCalls: number;
  replayedSteps: number;
  /** Checkpoints taken (including the free ones). */
  checkpoints: number;
  /** Checkpoints that had to read the device (parameters and state). */
  checkpointReads: number;
  /** Journal now: calls and steps since the last checkpoint. */
  journalCalls: number;
  journalSteps: number;
}

/** A restorable snapshot of a device. Parameters and states in real units (exact codes). */
export interface Checkpoint {
  config: DeviceConfig;
  params: Params;
  state: RecurrentState;
  /** t0 of the chunk after the last rewarded one: where training continues. */
  nextT0: number;
  /** Rewarded chunks and steps before this checkpoint, over the device's whole use. */
  rewardedChunks: number;
  rewardedSteps: number;
}

type JournalEntry =
  | { op: 'writeParams'; params: Params }
  | { op: 'writeState'; state: RecurrentState }
  | { op: 'resetState' }
  | { op: 'run'; req: RunRequest; result: RunResult }
  | { op: 'reward'; req: RewardRequest };

export const CHECKPOINT_FILE = 'checkpoint.json';
/** Most rewarded chunks between checkpoints by default (each checkpoint reads W, R, V and the state over the link). */
const DEFAULT_CHECKPOINT_CHUNKS = 256;
const CHECKPOINT_FORMAT = 'anpt-checkpoint/1';
/** Thrown (and caught) inside run(): a clean piece met a reset and is cut shorter. */
const SHORTER = Symbol('run a shorter piece');


export class ResilientDevice implements Device {
  private ckpt: Checkpoint | undefined;
  private journal: JournalEntry[] = [];
  private journalSteps = 0;
  /** Parameters as the host last wrote them, while no reward has changed them since. */
  private knownParams: Params | undefined;
  /** The noisy chunk awaiting its reward (the contract's rule, src/device/contract.ts). */
  private readonly pending = new PendingChunk();
  private rewardsSinceCheckpoint = 0;
  private rewarded = { chunks: 0, steps: 0, nextT0: 0 };
  private readonly s: ResilienceStats = { resetsRecovered: 0, replayedCalls: 0, replayedSteps: 0, checkpoints: 0, checkpointReads: 0, journalCalls: 0, journalSteps: 0 };
  private readonly everyChunks: AdaptiveSize;
  private resetsAtCheckpoint = 0;
  private readonly maxJournalSteps: number;
  private readonly maxRecoveries: number;
  /**
   * Steps per call of a clean run (evaluation): the caller's chunk is cut into pieces of
   * this size, each journaled on its own, so a board that resets more often than an
   * evaluation chunk lasts, or a line that damages long replies, still gets through.
   * Halves at each reset, grows back after pieces without one.
   */
  private readonly cleanSteps = new AdaptiveSize(1, 1);

  constructor(
    private link: RecoverableDevice,
    private readonly opts: ResilientOptions = {},
  ) {
    const every = Math.max(1, opts.checkpointEveryChunks ?? DEFAULT_CHECKPOINT_CHUNKS);
    this.everyChunks = new AdaptiveSize(opts.checkpointEveryChunks === undefined ? 1 : every, every);
    this.maxJournalSteps = Math.max(1, opts.maxJournalSteps ?? 8192);
    this.maxRecoveries = Math.max(1, opts.maxRecoveries ?? 4);
  }

  /** Open a link URL (tcp://, serial://) as a resilient device; a closed link is opened again on recovery. */
  static async open(url: string, opts: ResilientOptions & SerialDeviceOptions = {}): Promise<ResilientDevice> {
    const reopen = () => SerialDevice.open(url, opts);
    return new ResilientDevice(await reopen(), { reopen, ...opts });
  }

  /** The device underneath (e.g. for its link statistics). */
  get device(): RecoverableDevice {
    return this.link;
  }

  /** The last checkpoint (undefined before configure). */
  get checkpoint(): Checkpoint | undefined {
    return this.ckpt;
  }

  /** The Hello nonce the link speaks with (SerialDevice.hostNonce). */
  get hostNonce(): number {
    return (this.link as { hostNonce?: number }).hostNonce ?? 0;
  }

  /** A checkpoint of this moment (reads the device unless known), at a point where no chunk awaits its reward. */
  async snapshot(): Promise<Checkpoint> {
    if (this.pending.current !== undefined) throw new DeviceError('NO_PENDING_CHUNK', 'snapshot: a chunk awaits its reward; snapshot after the reward');
    if (this.journal.length > 0) await this.guarded('snapshot', () => this.takeCheckpoint());
    return this.ckpt!;
  }

  /** Recovery counters. */
  resilience(): ResilienceStats {
    return { ...this.s, journalCalls: this.journal.length, journalSteps: this.journalSteps };
  }

  info(): Promise<DeviceInfo> {
    return this.link.info();
  }

  async configure(config: DeviceConfig): Promise<void> {
    await this.guarded('configure', () => this.link.configure(config), false);
    const { inputs: I, hidden: H, outputs: O, batch: B } = config.topology;
    const zeros: Params = { w: new Float64Array(H * I), r: new Float64Array(H * H), v: new Float64Array(O * H) };
    if (config.topology.bias) Object.assign(zeros, { b: new Float64Array(H), c: new Float64Array(O) });
    this.rewarded = { chunks: 0, steps: 0, nextT0: 0 };
    this.pending.clear();
    this.cleanSteps.reset(config.maxChunkSteps);
    this.setCheckpoint({ config: structuredClone(config), params: zeros, state: { clean: new Float64Array(B * H), noisy: new Float64Array(B * H) }, nextT0: 0, rewardedChunks: 0, rewardedSteps: 0 });
  }

  /** Put a checkpoint (e.g. from readCheckpoint) on the device and continue from it. */
  async restore(c: Checkpoint): Promise<void> {
    await this.guarded('restore', () => this.put(c), false);
    this.rewarded = { chunks: c.rewardedChunks, steps: c.rewardedSteps, nextT0: c.nextT0 };
    this.pending.clear();
    this.cleanSteps.reset(c.config.maxChunkSteps);
    this.setCheckpoint(c);
  }

  async writeParams(params: Params): Promise<void> {
    await this.guarded('writeParams', () => this.link.writeParams(params));
    const p = copyParams(params);
    this.record({ op: 'writeParams', params: p });
    this.knownParams = p;
  }

  async writeState(state: RecurrentState): Promise<void> {
    await this.guarded('writeState', () => this.link.writeState(state));
    this.record({ op: 'writeState', state: copyState(state) });
  }

  async resetState(): Promise<void> {
    await this.guarded('resetState', () => this.link.resetState());
    const quiet = this.pending.current === undefined; // (resetState keeps a pending chunk)
    const c = this.ckpt!;
    if (!quiet || !c) {
      this.record({ op: 'resetState' });
      return;
    }
    // The state is zero now: a checkpoint needs at most the parameters, and none
    // at all if the host knows them (no reward since it wrote them). This keeps an
    // evaluation's clean runs from piling up on the journal of the training before it.
    const params = this.knownParams ?? (await this.readParams());
    if (!this.knownParams) this.s.checkpointReads++;
    const { hidden: H, batch: B } = c.config.topology;
    this.setCheckpoint({ ...c, params, state: { clean: new Float64Array(B * H), noisy: new Float64Array(B * H) }, ...this.counters() });
  }

  readParams(): Promise<Params> {
    return this.guarded('readParams', () => this.link.readParams());
  }

  readState(): Promise<RecurrentState> {
    return this.guarded('readState', () => this.link.readState());
  }

  async run(req: RunRequest): Promise<RunResult> {
    if (req.noisy || !this.ckpt || !splittable(req, this.ckpt.config.maxChunkSteps)) return this.runOnce(req);
    return runInPieces(req, () => this.cleanSteps.value, async (piece) => {
      try {
        return await this.runOnce(piece, piece.steps > 1);
      } catch (e) {
        if (e !== SHORTER) throw e;
        this.cleanSteps.after(true); // the board reset during it: try a shorter piece
        return undefined;
      }
    });
  }

  /**
   * run(req), with the trainer's next chunk for a link that sends it ahead
   * (SerialDevice.runAhead; a preload is no state to journal: after a recovery the
   * link has forgotten it and sends the inputs in full).
   */
  runAhead(req: RunRequest, next: RunRequest): Promise<RunResult> {
    const link = this.link;
    if (!req.noisy || typeof link.runAhead !== 'function') return this.run(req);
    return this.runOnce(req, false, () => link.runAhead!(req, next));
  }

  /** One run call; with `shorterOnReset` a reset during it throws SHORTER after the recovery (the caller cuts it shorter). */
  private async runOnce(req: RunRequest, shorterOnReset = false, call = () => this.link.run(req)): Promise<RunResult> {
    const resets = this.s.resetsRecovered;
    const result = await this.guarded('run', call, true, shorterOnReset);
    if (!req.noisy) this.cleanSteps.after(this.s.resetsRecovered > resets);
    const r: RunRequest = { ...req, inputs: Float64Array.from(req.inputs) };
    this.record({ op: 'run', req: r, result: { clean: Float64Array.from(result.clean), noisy: Float64Array.from(result.noisy), hidden: result.hidden && Float64Array.from(result.hidden) } });
    this.journalSteps += req.steps;
    this.pending.ran(req);
    if (this.pending.current === undefined && this.journalSteps >= this.maxJournalSteps) await this.takeCheckpoint();
    return result;
  }

  async reward(req: RewardRequest): Promise<void> {
    await this.guarded('reward', () => this.link.reward(req));
    this.record({ op: 'reward', req: { t0: req.t0, deltaLoss: Float64Array.from(req.deltaLoss), lr: { ...req.lr } } });
    this.pending.rewarded();
    this.knownParams = undefined;
    this.rewarded.chunks++;
    this.rewarded.steps += req.deltaLoss.length;
    this.rewarded.nextT0 = (req.t0 + req.deltaLoss.length) >>> 0;
    this.rewardsSinceCheckpoint++;
    if (this.rewardsSinceCheckpoint >= this.everyChunks.value || this.journalSteps >= this.maxJournalSteps) await this.takeCheckpoint();
  }

  async stats(): Promise<DeviceStats> {
    const st = await this.guarded('stats', () => this.link.stats());
    const link: Record<string, number> = { ...st.link };
    for (const [k, v] of Object.entries(this.resilience())) link[`resilient.${k}`] = v;
    return { ...st, link };
  }

  close(): Promise<void> {
    return this.link.close();
  }

  // -------------------------------------------------------------------------------

  private counters(): Pick<Checkpoint, 'nextT0' | 'rewardedChunks' | 'rewardedSteps'> {
    return { nextT0: this.rewarded.nextT0, rewardedChunks: this.rewarded.chunks, rewardedSteps: this.rewarded.steps };
  }

  private record(e: JournalEntry): void {
    if (this.ckpt) this.journal.push(e);
  }

  /** Read the state (and the parameters unless known) at a quiet point (no chunk awaits its reward) and make them the checkpoint. */
  private async takeCheckpoint(): Promise<void> {
    const params = this.knownParams ?? (await this.readParams());
    const state = await this.readState();
    this.s.checkpointReads++;
    this.setCheckpoint({ config: this.ckpt!.config, params, state, ...this.counters() });
  }

  /** Make `c` the checkpoint; `rest` is what remains of the journal after it (default: nothing). */
  private setCheckpoint(c: Checkpoint, rest: JournalEntry[] = []): void {
    this.everyChunks.after(this.s.resetsRecovered > this.resetsAtCheckpoint);
    this.resetsAtCheckpoint = this.s.resetsRecovered;
    this.ckpt = c;
    this.journal = rest;
    this.journalSteps = rest.reduce((n, j) => n + (j.op === 'run' ? j.req.steps : 0), 0);
    this.rewardsSinceCheckpoint = rest.filter((j) => j.op === 'reward').length;
    if (rest.length === 0) this.knownParams = c.params;
    this.s.checkpoints++;
    if (this.opts.checkpointDir) writeCheckpoint(this.opts.checkpointDir, c);
  }

  /** Configure, then write a checkpoint's parameters and state. */
  private async put(c: Checkpoint): Promise<void> {
    await this.link.configure(c.config);
    await this.link.writeParams(c.params);
    await this.link.writeState(c.state);
  }

  /**
   * Make a call; if it fails because the device lost its state, recover and make it
   * again. `recoverable` false (configure itself) only re-handshakes and retries.
   */
  private async guarded<T>(what: string, call: () => Promise<T>, recoverable = true, shorterOnReset = false): Promise<T> {
    for (let round = 0; ; round++) {
      let failure: unknown;
      try {
        return await call();
      } catch (e) {
        failure = e;
      }
      if (round >= this.maxRecoveries || !(await this.deviceWasReset(failure))) throw failure;
      if (recoverable && this.ckpt) {
        await this.recover(what);
        if (shorterOnReset) throw SHORTER;
      } else this.opts.onEvent?.(`device reset during ${what}; trying again`);
    }
  }

  /** Did `e` come from a device that rebooted (and, if so, is the link talking to the new session)? */
  private async deviceWasReset(e: unknown): Promise<boolean> {
    if (!(e instanceof DeviceError)) return false;
    if (e.code === 'NO_SESSION') return this.ckpt !== undefined; // the link said Hello already (serial-device.ts)
    if (e.code === 'NOT_CONFIGURED') {
      if (!this.ckpt) return false; // never configured: the caller's mistake, not a reset
      await this.rehello().catch(() => undefined);
      return true;
    }
    if (e.code !== 'TIMEOUT' && e.code !== 'LINK') return false;
    const before = this.link.hello;
    try {
      return isNewSession(before, await this.rehello());
    } catch {
      return false; // still no answer: a link problem, not something a replay can fix
    }
  }

  /** Hello again, opening the link again first if it closed and we know how. */
  private async rehello(): Promise<HelloReply> {
    try {
      return await this.link.handshake();
    } catch (e) {
      if (!(e instanceof LinkError && e.code === 'LINK' && this.opts.reopen)) throw e;
      await this.link.close().catch(() => undefined);
      this.link = await this.opts.reopen();
      return this.link.hello;
    }
  }

  /**
   * Restore the checkpoint and replay the journal; then, at a quiet point, take a
   * checkpoint (the replayed work is not replayed again). A reset during the replay
   * starts it again, and from then on it checkpoints at every quiet point of the
   * replay, so a journal longer than the board stays up is still got through, a piece
   * at a time. Gives up after maxRecoveries resets in a row without progress.
   */
  private async recover(what: string): Promise<void> {
    const first = this.ckpt!;
    let calls = 0;
    let steps = 0;
    for (let tries = 1; ; tries++) {
      const c = this.ckpt!;
      const journal = this.journal;
      try {
        await this.put(c);
        const done = { nextT0: c.nextT0, rewardedChunks: c.rewardedChunks, rewardedSteps: c.rewardedSteps };
        for (let i = 0; i < journal.length; i++) {
          const j = journal[i];
          await this.replay(j);
          calls++;
          if (j.op === 'run') steps += j.req.steps;
          if (j.op === 'reward') Object.assign(done, { nextT0: (j.req.t0 + j.req.deltaLoss.length) >>> 0, rewardedChunks: done.rewardedChunks + 1, rewardedSteps: done.rewardedSteps + j.req.deltaLoss.length });
          // after a reward or a clean run no chunk awaits its reward: a point to checkpoint at
          const quiet = j.op === 'reward' || (j.op === 'run' && !j.req.noisy);
          if (tries > 1 && quiet && i + 1 < journal.length) {
            this.setCheckpoint({ config: c.config, params: await this.link.readParams(), state: await this.link.readState(), ...done }, journal.slice(i + 1));
            this.s.checkpointReads++;
            tries = 1; // progress
          }
        }
        if (this.pending.current === undefined) {
          this.setCheckpoint({ config: c.config, params: this.knownParams ?? (await this.link.readParams()), state: await this.link.readState(), ...this.counters() });
          this.s.checkpointReads++;
        }
        this.s.resetsRecovered++;
        this.s.replayedCalls += calls;
        this.s.replayedSteps += steps;
        this.opts.onEvent?.(
          `device reset (boot ${this.link.hello.bootCounter}) during ${what}: restored the checkpoint at t0 ${first.nextT0} and replayed ${calls} calls (${steps} steps)`,
        );
        return;
      } catch (e) {
        if (e instanceof LinkError && e.status === 'REPLAY_MISMATCH') throw e;
        if (tries >= this.maxRecoveries || !(await this.deviceWasReset(e))) throw e;
      }
    }
  }

  private async replay(j: JournalEntry): Promise<void> {
    switch (j.op) {
      case 'writeParams':
        return this.link.writeParams(j.params);
      case 'writeState':
        return this.link.writeState(j.state);
      case 'resetState':
        return this.link.resetState();
      case 'reward':
        return this.link.reward(j.req);
      case 'run': {
        const got = await this.link.run(j.req);
        for (const key of ['clean', 'noisy', 'hidden'] as const) {
          const want = j.result[key];
          const have = got[key];
          if (!want) continue;
          const n = have?.length === want.length ? want.findIndex((x, i) => x !== have[i]) : 0;
          if (n >= 0) {
            throw new LinkError(
              'REPLAY_MISMATCH',
              `the device reset and a replayed chunk (t0 ${j.req.t0}) gave other ${key} outputs than recorded (at ${n}: ${have?.[n]} vs ${want[n]}); ` +
                `its runs are not reproducible (physical noise?), so training cannot continue transparently: restart from the last checkpoint`,
            );
          }
        }
      }
    }
  }
}

/** Write a checkpoint as DIR/checkpoint.json (through a temporary file, so a crash never leaves half a file). */
export function writeCheckpoint(dir: string, c: Checkpoint): string {
  const abs = resolve(dir);
  mkdirSync(abs, { recursive: true });
  const file = join(abs, CHECKPOINT_FILE);
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(checkpointJson(c)) + '\n');
  renameSync(tmp, file);
  return file;
}

/** A checkpoint as JSON (arrays of exact values). */
export function checkpointJson(c: Checkpoint): Record<string, unknown> {
  const arrays = (o: Record<string, Float64Array>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Array.from(v)]));
  return {
    format: CHECKPOINT_FORMAT,
    savedAt: new Date().toISOString(),
    nextT0: c.nextT0,
    rewardedChunks: c.rewardedChunks,
    rewardedSteps: c.rewardedSteps,
    config: c.config,
    params: arrays({ ...c.params }),
    state: { ...arrays({ clean: c.state.clean, noisy: c.state.noisy }), ...(c.state.eligibility ? { eligibility: arrays({ ...c.state.eligibility }) } : {}) },
  };
}

/** Read DIR/checkpoint.json. Throws DeviceError BAD_INPUT naming the file if it is missing or not a checkpoint. */
export function readCheckpoint(dir: string): Checkpoint {
  const file = join(resolve(dir), CHECKPOINT_FILE);
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new DeviceError('BAD_INPUT', `${file}: cannot read a checkpoint (${(e as Error).message}); give the directory a resilient run wrote checkpoints to`);
  }
  return checkpointFromJson(j, file);
}

/** A checkpoint from checkpointJson's form; `file` names it in errors (DeviceError BAD_INPUT). */
export function checkpointFromJson(j: Record<string, unknown>, file: string): Checkpoint {
  if (j.format !== CHECKPOINT_FORMAT) throw new DeviceError('BAD_INPUT', `${file}: not an ${CHECKPOINT_FORMAT} file`);
  const f64 = (o: unknown, keys: string[]): Record<string, Float64Array> => {
    const src = o as Record<string, unknown>;
    return Object.fromEntries(
      keys.map((k) => {
        const v = src?.[k];
        if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) throw new DeviceError('BAD_INPUT', `${file}: ${k} is not an array of finite numbers`);
        return [k, Float64Array.from(v as number[])];
      }),
    );
  };
  const config = j.config as DeviceConfig;
  const bias = config?.topology?.bias === true;
  const state = f64(j.state, ['clean', 'noisy']) as unknown as RecurrentState;
  // the eligibility traces, with a learner trace (each Device: absent = zero)
  if (config && hasTraces(config)) state.eligibility = f64((j.state as Record<string, unknown>).eligibility, bias ? ['w', 'r', 'b'] : ['w', 'r']) as unknown as EligibilityTraces;
  return {
    config,
    params: f64(j.params, bias ? ['w', 'r', 'v', 'b', 'c'] : ['w', 'r', 'v']) as unknown as Params,
    state,
    nextT0: j.nextT0 as number,
    rewardedChunks: j.rewardedChunks as number,
    rewardedSteps: j.rewardedSteps as number,
  };
}

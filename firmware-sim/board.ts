/**
 * The simulated board: the bit-exact WASM kernel (EmulatorDevice) behind the link's
 * device server, with what makes a board a board:
 *
 * - limits it announces in HelloReply and enforces, including a RAM budget: a
 *   configuration whose kernel layout (layoutEstimate) does not fit is refused with
 *   CONFIG_OUT_OF_RANGE naming the field to change;
 * - a boot counter; sessions (server.ts) that a reboot loses, so the host's next
 *   changing call is answered NO_SESSION;
 * - optional reboots after every N steps: configuration, weights, state, the replay
 *   cache and any half-received frame are lost, and the reply to the request that
 *   was running is never sent (the host sees a timeout, then NOT_CONFIGURED);
 * - optional stalls: a reply is delayed by stallMs, every reply or a seeded random
 *   fraction stallRate of them (an occasional freeze: a flash write, a USB hiccup);
 * - Stats report the faults the simulator injected (injected_* link counters): the
 *   stalls and reboots here, and the corrupted bytes and dropped frames of the fault
 *   stages of its links (faults.ts, given to attach()).
 *
 * The wire (pacing, baud mismatch, faults) is not the board's business: those are
 * transport stages between the port and attach().
 */

import { validateConfig } from '../src/device/config.js';
import { EmulatorDevice, layoutEstimate } from '../src/device/emulator.js';
import type { Device, DeviceConfig, DeviceInfo, DeviceStats, Params, RecurrentState, RewardRequest, RunRequest, RunResult } from '../src/device/types.js';
import { ConfigError } from '../src/format/fixed.js';
import { EXACT_CONVERTER } from '../src/link/codes.js';
import { DeviceService } from '../src/link/device-server.js';
import { configFieldToWire } from '../src/link/field-names.js';
import { RpcServer, type Handler, type InjectedCounters } from '../src/link/server.js';
import type { ByteTransport } from '../src/link/transport.js';
import { seededUniform, type FaultCounters } from './faults.js';

export const FIRMWARE_NAME = 'anpt-firmware-sim';
export const FIRMWARE_VERSION = '0.1.0';

/**
 * What the simulated board accepts at most: a small microcontroller's worth. The RAM
 * budget usually binds first; maxHidden is lowered to what fits it at all (one input,
 * one output, one sequence, one-step chunks).
 */
export const SIM_LIMITS = { maxInputs: 64, maxHidden: 1024, maxOutputs: 64, maxBatch: 64, maxChunkSteps: 4096 };
export type SimLimits = typeof SIM_LIMITS;

/** Largest hidden size whose smallest configuration fits `ramBytes` (0 if none). */
export function maxHiddenForRam(ramBytes: number, cap: number): number {
  let h = 0;
  while (h < cap && layoutEstimate(1, h + 1, 1, 1, 1) <= ramBytes) h++;
  return h;
}

export interface BoardOptions {
  /** RAM for weights, state and traces, bytes (default 256 KiB). */
  ramBytes?: number;
  /** Frame payload limit, bytes (default 16384). */
  maxFrameBytes?: number;
  limits?: Partial<SimLimits>;
  /** Protocol version spoken (testing only; default the current one). */
  protocolVersion?: number;
  /** Reboot after every this many steps since boot (0 or absent: never). */
  resetAfterSteps?: number;
  /** Delay before a reply, ms. */
  stallMs?: number;
  /** Fraction of replies delayed by stallMs, 0..1 (default 1: every reply). */
  stallRate?: number;
  /** Seed of the stall draws (the fault seed; default 1). */
  faultSeed?: number;
  deviceId?: string;
  /** Boot counter of the first boot (default 1). */
  firstBoot?: number;
  /** Session lease, ms (default the server's, 60000). */
  sessionLeaseMs?: number;
  /** Announce and serve biases (Limits.bias, Topology.bias; default true); false: a board without them. */
  bias?: boolean;
  /** Announce and serve eligibility traces (Limits.traces, Configure.learner, the trace tensors; default true); false: a board without them. */
  traces?: boolean;
  log?: (line: string) => void;
}


const kib = (bytes: number) => Math.ceil(bytes / 1024);

/**
 * The EmulatorDevice with the board's limits and RAM budget, counting the steps it runs.
 */
export class BoardDevice implements Device {
  constructor(
    private readonly chip: EmulatorDevice,
    private readonly limits: SimLimits,
    private readonly ramBytes: number,
    private readonly onSteps: (steps: number) => void,
  ) {}

  async info(): Promise<DeviceInfo> {
    return { kind: 'emulator', name: FIRMWARE_NAME, fixedPoint: true, ...this.limits };
  }

  async configure(config: DeviceConfig): Promise<void> {
    try {
      validateConfig(config, this.limits);
    } catch (e) {
      if (e instanceof ConfigError) throw new ConfigError(configFieldToWire(e.field), e.detail);
      throw e;
    }
    const { inputs: I, hidden: H, outputs: O, batch: B } = config.topology;
    const need = (K: number) => layoutEstimate(I, H, O, B, K, config.topology.bias === true, config.learner?.trace); // traces take RAM too
    const K = config.maxChunkSteps;
    if (need(K) > this.ramBytes) {
      if (need(1) > this.ramBytes)
        throw new ConfigError('configure.topology.hidden', `needs ${kib(need(1))} KiB of RAM even with 1-step chunks, the board has ${kib(this.ramBytes)} KiB; lower hidden or batch`);
      let lo = 1; // fits
      let hi = K; // does not fit
      while (hi - lo > 1) {
        const mid = (lo + hi) >>> 1;
        if (need(mid) <= this.ramBytes) lo = mid;
        else hi = mid;
      }
      throw new ConfigError('configure.max_chunk_steps', `needs ${kib(need(K))} KiB of RAM, the board has ${kib(this.ramBytes)} KiB; use max_chunk_steps <= ${lo} or lower hidden/batch`);
    }
    await this.chip.configure(config);
  }

  async run(req: RunRequest): Promise<RunResult> {
    const res = await this.chip.run(req);
    this.onSteps(req.steps);
    return res;
  }

  writeParams = (p: Params): Promise<void> => this.chip.writeParams(p);
  readParams = (): Promise<Params> => this.chip.readParams();
  readState = (): Promise<RecurrentState> => this.chip.readState();
  writeState = (s: RecurrentState): Promise<void> => this.chip.writeState(s);
  reward = (r: RewardRequest): Promise<void> => this.chip.reward(r);
  resetState = (): Promise<void> => this.chip.resetState();
  stats = (): Promise<DeviceStats> => this.chip.stats();
  close = (): Promise<void> => this.chip.close();
}

/**
 * The board's end of one link. The server of the current boot sees it through a view;
 * a reboot kills the view (nothing more in, nothing more out) and makes a new one.
 */
class Port {
  private view: View | undefined;
  constructor(readonly link: ByteTransport) {
    link.onData((b) => this.view?.receive(b));
  }
  connect(server: RpcServer): void {
    this.view?.kill();
    this.view = new View(this.link);
    void server.serve(this.view);
  }
  detach(): void {
    this.view?.kill();
    this.view = undefined;
  }
}

class View implements ByteTransport {
  private alive = true;
  private dataCb: (b: Uint8Array) => void = () => {};
  private closeCb: (reason?: Error) => void = () => {};
  constructor(private readonly link: ByteTransport) {}
  get name(): string {
    return this.link.name;
  }
  get bytesPerSecond(): number | undefined {
    return this.link.bytesPerSecond;
  }
  write(bytes: Uint8Array): Promise<void> {
    return this.alive ? this.link.write(bytes) : Promise.resolve(); // a rebooted board's old replies are never sent
  }
  receive(bytes: Uint8Array): void {
    if (this.alive) this.dataCb(bytes);
  }
  onData(cb: (b: Uint8Array) => void): void {
    this.dataCb = cb;
  }
  onClose(cb: (reason?: Error) => void): void {
    this.closeCb = cb;
  }
  kill(): void {
    if (!this.alive) return;
    this.alive = false;
    this.closeCb();
  }
  close(): Promise<void> {
    return this.link.close();
  }
}

export class SimBoard {
  bootCounter: number;
  private server!: RpcServer;
  /** Stalls and reboots injected, over all boots. */
  private readonly injected = { stalls: 0, resets: 0 };
  /** Fault counters of the attached links' fault stages, live and closed. */
  private readonly faultSources = new Set<() => FaultCounters>();
  private readonly closedFaults: FaultCounters = { bytesCorruptedIn: 0, bytesCorruptedOut: 0, framesDroppedIn: 0, framesDroppedOut: 0 };
  private readonly ports = new Set<Port>();
  private stepsSinceBoot = 0;
  private readonly limits: SimLimits;
  readonly ramBytes: number;
  /**
   * Whether the next reply stalls: one draw per request the handler serves (replays from
   * the cache are not drawn), over all boots, so the same seed stalls the same replies.
   * Its own generator, seeded from the fault seed mixed with a constant: the line's fault
   * stage draws from the plain seed, and the two must not move in step.
   */
  private readonly stallDraw: () => boolean;

  constructor(private readonly opts: BoardOptions = {}) {
    this.ramBytes = opts.ramBytes ?? 256 * 1024;
    const rate = opts.stallRate ?? 1;
    if (!(rate >= 0 && rate <= 1)) throw new RangeError(`stallRate ${rate} is not a probability in 0..1`);
    const uniform = seededUniform(((opts.faultSeed ?? 1) ^ 0x5a11ed) >>> 0);
    this.stallDraw = rate === 1 ? () => true : () => uniform() < rate;
    const limits = { ...SIM_LIMITS, ...opts.limits };
    this.limits = { ...limits, maxHidden: maxHiddenForRam(this.ramBytes, limits.maxHidden) };
    if (this.limits.maxHidden < 1) throw new RangeError(`${Math.round(this.ramBytes / 1024)} KiB of RAM hold no network at all; give the board more`);
    this.bootCounter = (opts.firstBoot ?? 1) - 1;
    this.boot();
  }

  /** The open session's id (0 if none). */
  get sessionId(): number {
    return this.server.sessions.current;
  }

  /**
   * Serve a link (a TCP connection, a serial port) until it closes. `faults`: the
   * counters of the fault stage in front of it (faultyTransport), reported in Stats.
   */
  /** Transmit-queue drops of the attached links (and of those closed), for stats queue_drops. */
  private readonly dropSources = new Set<() => number>();
  private closedDrops = 0;

  attach(link: ByteTransport, faults?: () => FaultCounters, queueDrops?: () => number): void {
    const port = new Port(link);
    this.ports.add(port);
    if (faults) this.faultSources.add(faults);
    if (queueDrops) this.dropSources.add(queueDrops);
    link.onClose(() => {
      port.detach();
      this.ports.delete(port);
      if (queueDrops) {
        this.closedDrops += queueDrops();
        this.dropSources.delete(queueDrops);
      }
      if (faults) {
        const f = faults();
        for (const k of Object.keys(f) as (keyof FaultCounters)[]) this.closedFaults[k] += f[k];
        this.faultSources.delete(faults);
      }
    });
    port.connect(this.server);
  }

  /** Lose everything and start again: new boot counter, no session. */
  reboot(why: string): void {
    this.injected.resets++;
    this.opts.log?.(`reboot (${why})`);
    this.boot();
  }

  private boot(): void {
    this.bootCounter++;
    this.stepsSinceBoot = 0;
    const o = this.opts;
    const device = new BoardDevice(new EmulatorDevice(), this.limits, this.ramBytes, (k) => this.countSteps(k));
    const service = new DeviceService(device, {
      maxFrameBytes: o.maxFrameBytes,
      firmwareName: FIRMWARE_NAME,
      firmwareVersion: FIRMWARE_VERSION,
      deviceId: o.deviceId ?? 'firmware-sim',
      bootCounter: this.bootCounter,
      ramBytes: this.ramBytes,
      converter: EXACT_CONVERTER,
      bias: o.bias !== false,
      traces: o.traces !== false,
    });
    const stallMs = o.stallMs ?? 0;
    const occasional = (o.stallRate ?? 1) < 1;
    const stall = (what: string): Promise<unknown> => {
      if (!this.stallDraw()) return Promise.resolve();
      this.injected.stalls++;
      // every reply stalled is the line's latency, not an event; an occasional stall is
      if (occasional) o.log?.(`stall ${stallMs} ms before the reply to ${what} (stall ${this.injected.stalls})`);
      return new Promise((ok) => setTimeout(ok, stallMs));
    };
    const handler: Handler = stallMs > 0 ? (body, ctx) => stall(body.case).then(() => service.handle(body, ctx)) : service.handle;
    this.server = new RpcServer(handler, {
      maxFrameBytes: o.maxFrameBytes,
      cacheSize: 4,
      protocolVersion: o.protocolVersion,
      sessionLeaseMs: o.sessionLeaseMs,
      injected: () => this.injectedCounters(),
      queueDrops: () => [...this.dropSources].reduce((n, d) => n + d(), this.closedDrops),
    });
    for (const port of this.ports) port.connect(this.server);
    o.log?.(`boot ${this.bootCounter}`);
  }

  /** What this simulator injected so far, as Stats reports it. */
  injectedCounters(): InjectedCounters {
    const f = { ...this.closedFaults };
    for (const live of this.faultSources) for (const [k, v] of Object.entries(live())) f[k as keyof FaultCounters] += v;
    return {
      injectedCorrupt: f.bytesCorruptedIn + f.bytesCorruptedOut,
      injectedDrops: f.framesDroppedIn + f.framesDroppedOut,
      injectedStalls: this.injected.stalls,
      injectedResets: this.injected.resets,
    };
  }

  private countSteps(steps: number): void {
    this.stepsSinceBoot += steps;
    const n = this.opts.resetAfterSteps ?? 0;
    if (n > 0 && this.stepsSinceBoot >= n) this.reboot(`after ${this.stepsSinceBoot} steps`);
  }
}

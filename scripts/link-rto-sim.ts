/**
 * Monte Carlo of a training run's link through dropped frames, on a virtual clock: the
 * real RpcClient (src/link/rpc.ts, or another copy of it: --rpc PATH) against the real
 * RpcServer over an in-memory pipe whose board end is firmware-sim's fault relay
 * (--drop-rate: each frame lost with probability --drop, each way, seeded by the run).
 * A run is the call pattern of the fault matrix's training (docs/link-faults.md: 1000 windows of Reward + Run, chunk 1, then 7 windows of four evaluation pieces), with
 * the board's time per call as below (115200 baud: about 10 ms a training step, 260 ms
 * an evaluation piece, one after the other). A run fails when a call fails (the host
 * exits 3); it reports the failed runs and the mean virtual time of a run.
 *
 *   npx tsx scripts/link-rto-sim.ts --runs 200 --drop 0.1
 *   npx tsx scripts/link-rto-sim.ts --runs 200 --drop 0.1 --rpc /tmp/link-old/src/link/rpc.ts
 *
 * Timers are replaced by a discrete-event queue (setTimeout, setImmediate), so a run of
 * minutes of link time takes a fraction of a second, and the same seed gives the same
 * result.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ResponseBody, Run } from '../src/link/messages.js';
import type { BatchItem, RpcClient as Client, RpcOptions } from '../src/link/rpc.js';
import { RpcServer, type Handler } from '../src/link/server.js';
import { memoryPair } from '../src/link/transport-memory.js';
import { faultyTransport } from '../firmware-sim/faults.js';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}
function number(name: string, fallback: number, ok: (x: number) => boolean, what: string): number {
  const raw = flag(name, String(fallback));
  const x = Number(raw);
  if (!ok(x)) throw new Error(`--${name}: '${raw}' is not ${what}`);
  return x;
}
const runs = number('runs', 100, (x) => Number.isSafeInteger(x) && x > 0, 'a positive whole number of runs (e.g. --runs 200)');
const drop = number('drop', 0.1, (x) => x >= 0 && x < 1, 'a probability in [0, 1) (e.g. --drop 0.1)');
const seed0 = number('seed', 1, Number.isSafeInteger, 'a whole number (e.g. --seed 1)');
const rpcPath = resolve(flag('rpc', new URL('../src/link/rpc.ts', import.meta.url).pathname));

// ---------------------------------------------------------------------------------
// Virtual clock: every timer goes into one queue, run in time order.

interface Timer {
  t: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}
const realImmediate = globalThis.setImmediate;
let clock = 0;
let seq = 0;
const queue: Timer[] = [];
function schedule(fn: (...a: unknown[]) => void, ms: number, args: unknown[]): Timer {
  const e = { t: clock + Math.max(0, ms || 0), seq: seq++, fn: () => fn(...args), cancelled: false };
  queue.push(e);
  return e;
}
const cancel = (e: Timer | undefined) => {
  if (e) e.cancelled = true;
};
Object.assign(globalThis, {
  setTimeout: (fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => schedule(fn, ms ?? 0, args),
  clearTimeout: cancel,
  setImmediate: (fn: (...a: unknown[]) => void, ...args: unknown[]) => schedule(fn, 0, args),
  clearImmediate: cancel,
});
const now = () => clock;

/** Run the queue until `p` settles (a real macrotask between events lets promise chains run). */
async function until<T>(p: Promise<T>): Promise<T> {
  let done = false;
  void p.finally(() => (done = true));
  for (;;) {
    await new Promise((r) => realImmediate(r));
    if (done) return p;
    let best = -1;
    for (let i = 0; i < queue.length; i++) {
      const e = queue[i];
      if (e.cancelled) continue;
      if (best < 0 || e.t < queue[best].t || (e.t === queue[best].t && e.seq < queue[best].seq)) best = i;
    }
    if (best < 0) throw new Error('simulation stuck: nothing scheduled and the call not settled');
    const [e] = queue.splice(best, 1);
    for (let i = queue.length - 1; i >= 0; i--) if (queue[i].cancelled) queue.splice(i, 1);
    clock = e.t;
    e.fn();
  }
}

// ---------------------------------------------------------------------------------

const TRAIN_STEPS = 1000;
const EVAL_WINDOWS = 7;
const PIECES = 4;
const MS = { train: 10, reward: 5, piece: 260 };
const run = (t0: number, steps: number): Run => ({ steps, t0, inputs: new Int32Array(steps), noisy: false, hiddenTrace: false });
const train = (t0: number): BatchItem => ({ c: 'run', value: run(t0, 1), opts: { replyBytes: 64 } });
const piece = (t0: number): BatchItem => ({ c: 'run', value: run(t0, 125), opts: { replyBytes: 4096 } });
const reward = (t0: number): BatchItem => ({ c: 'reward', value: { t0, deltaLoss: Float64Array.of(0.1), lrW: 0.1, lrR: 0.1, lrV: 0.1, sameRates: false }, ackOnly: true });

async function oneRun(RpcClient: new (t: never, o: RpcOptions) => Client, seed: number): Promise<{ ok: boolean; seconds: number; failure?: string }> {
  const { a, b: wire } = memoryPair();
  // the board's end loses frames as firmware-sim --drop-rate does: each frame, both ways, seeded
  const b = faultyTransport(wire, { dropRate: drop, seed });
  const handler: Handler = async (body) => {
    const ms = body.case === 'run' ? (body.value.steps > 1 ? MS.piece : MS.train) : MS.reward;
    await new Promise((r) => setTimeout(r, ms));
    if (body.case === 'run') return { case: 'run', value: { t0: body.value.t0, steps: body.value.steps, clean: new Int32Array(body.value.steps), noisy: new Int32Array(0), hidden: new Int32Array(0) } };
    return { case: body.case, value: {} } as ResponseBody;
  };
  const server = new RpcServer(handler, { cacheSize: 4, now });
  void server.serve(b);
  const client = new RpcClient(a as never, { now, firstId: seed * 7919 });
  const h = server.sessions.hello({ hostName: 'sim', hostNonce: seed, takeOver: false });
  if (h.status !== 'OK') throw new Error('simulated board busy');
  client.session = h.sessionId;
  const start = clock;
  const fail = (r: { status: string; detail?: string } | undefined) => ({ ok: false, seconds: (clock - start) / 1000, failure: r?.detail ?? r?.status });
  const first = await until(client.call('run', run(0, 1), { replyBytes: 64 }));
  if (first.status !== 'OK') return fail(first);
  const windows: BatchItem[][] = [];
  for (let k = 1; k < TRAIN_STEPS; k++) windows.push([reward(k - 1), train(k)]);
  for (let w = 0; w < EVAL_WINDOWS; w++) windows.push(Array.from({ length: PIECES }, (_, i) => piece(1000 * (w + 1) + i)));
  for (const items of windows) {
    const out = await until(client.callMany(items));
    const bad = out.find((r) => r === undefined || r.status !== 'OK');
    if (bad !== undefined || out.length !== items.length) return fail(bad);
  }
  await until(client.close());
  return { ok: true, seconds: (clock - start) / 1000 };
}

const { RpcClient } = (await import(pathToFileURL(rpcPath).href)) as { RpcClient: new (t: never, o: RpcOptions) => Client };
let failed = 0;
let seconds = 0;
let example = '';
for (let i = 0; i < runs; i++) {
  const r = await oneRun(RpcClient, seed0 + i);
  seconds += r.seconds;
  if (!r.ok) {
    failed++;
    example ||= `seed ${seed0 + i}: ${r.failure}`;
  }
}
console.log(`${rpcPath}: ${runs} runs at ${drop * 100} % drops each way, seeds ${seed0}..${seed0 + runs - 1}: ${failed} failed (${((100 * failed) / runs).toFixed(1)} %), mean ${(seconds / runs).toFixed(1)} s of link time a run`);
if (example) console.log(`first failure: ${example}`);

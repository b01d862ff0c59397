// The adaptive retransmission timeout (src/link/rto.ts) as RpcClient uses it, on a fake
// clock: a timed-out round of a pipelined window backs its call kind off once (not once
// per request), an answered call leaves no backoff to the next one, and a reply is a
// round-trip sample only when it is known to answer the first copy of its request.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ResponseBody, Run } from '../src/link/messages.js';
import type { RpcClient } from '../src/link/rpc.js';
import type { Handler } from '../src/link/server.js';
import { rpcLink } from './link-session.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

const run = (t0: number): Run => ({ steps: 1, t0, inputs: Int32Array.of(t0), noisy: false, hiddenTrace: false });

/**
 * A board that answers after `latency` ms of fake time (replays from its cache at once),
 * adaptive timeouts on the host (RpcClient defaults: initial 1 s, floor 40 ms, ceiling
 * 8 s); `writes` holds the fake time of every host write, `dropReplies`/`dropRequests`
 * lose the next n frames one way, `lose(i)` the replies it picks (i counts the board's writes).
 */
function board() {
  const f = { latency: 5, dropReplies: 0, dropRequests: 0, writes: [] as number[], replies: 0, lose: (_reply: number) => false };
  const handler: Handler = async (body) => {
    await new Promise((r) => setTimeout(r, f.latency));
    if (body.case === 'run') return { case: 'run', value: { t0: body.value.t0, steps: body.value.steps, clean: body.value.inputs, noisy: new Int32Array(0), hidden: new Int32Array(0) } };
    return { case: body.case, value: {} } as ResponseBody;
  };
  const { client } = rpcLink(handler, {
    aToB: (b) => {
      f.writes.push(Date.now());
      return f.dropRequests > 0 && f.dropRequests-- > 0 ? [] : [b];
    },
    bToA: (b) => (f.lose(f.replies++) || (f.dropReplies > 0 && f.dropReplies-- > 0) ? [] : [b]),
    server: { cacheSize: 4, now: () => Date.now() },
    client: { firstId: 1000, now: () => Date.now() },
  });
  return { f, client };
}

/** Run the fake clock until `p` settles. */
async function settle<T>(p: Promise<T>): Promise<T> {
  let done = false;
  void p.finally(() => (done = true));
  while (!done) await vi.advanceTimersByTimeAsync(5);
  return p;
}

/** Gaps between the host's writes from index `from` on, ms. */
const gaps = (writes: number[], from: number) => writes.slice(from + 1).map((t, i) => t - writes[from + i]);

async function warmUp(client: RpcClient): Promise<void> {
  for (let i = 0; i < 8; i++) expect((await settle(client.call('run', run(i)))).status).toBe('OK');
  // a few clean windows, so the pieces' kind has its round-trip samples
  for (let w = 0; w < 4; w++) {
    const r = await settle(client.callMany([0, 1, 2, 3].map((k) => ({ c: 'run' as const, value: run(100 + 4 * w + k) }))));
    expect(r.map((x) => x?.status)).toEqual(['OK', 'OK', 'OK', 'OK']);
  }
}

describe('the retransmission timeout', () => {
  it('a window of four pieces that times out twice backs off once per round (x2), not once per piece (x16); the next call starts where the first round did', async () => {
    const { f, client } = board();
    await warmUp(client);
    expect(client.stats().retries).toBe(0);
    const base = client.rtoMs('run');
    // every reply of the first two rounds lost (the board applied the pieces; the third round is answered from its cache)
    f.dropReplies = 8;
    const at = f.writes.length;
    const r = await settle(client.callMany([0, 1, 2, 3].map((k) => ({ c: 'run' as const, value: run(200 + k) }))));
    expect(r.map((x) => x?.status)).toEqual(['OK', 'OK', 'OK', 'OK']);
    expect(f.writes.length - at).toBe(3); // one write per round
    const [first, second] = gaps(f.writes, at);
    expect(first).toBe(base);
    expect(second).toBe(2 * base); // once-per-request backoff: min(8000, 16 x base)
    // answered: no backoff left for the next call
    expect(client.rtoMs('run')).toBe(base);
    f.dropReplies = 1;
    const next = f.writes.length;
    expect((await settle(client.call('run', run(300)))).status).toBe('OK');
    expect(gaps(f.writes, next)).toEqual([base]); // the old code waited 8000 ms (the ceiling) here
    await client.close();
  });

  it('a window round in which some pieces were answered lost frames, not time: the next round waits the same RTO', async () => {
    const { f, client } = board();
    await warmUp(client);
    const base = client.rtoMs('run');
    // round 0: the last piece's reply lost (three answered in time); round 1: its copy's reply lost too (silent)
    const from = f.replies;
    f.lose = (i) => i === from + 3 || i === from + 4;
    const at = f.writes.length;
    const r = await settle(client.callMany([0, 1, 2, 3].map((k) => ({ c: 'run' as const, value: run(500 + k) }))));
    expect(r.map((x) => x?.status)).toEqual(['OK', 'OK', 'OK', 'OK']);
    expect(gaps(f.writes, at)).toEqual([base, base]); // backing off after round 0 as well: [base, 2 x base]
    expect(client.rtoMs('run')).toBe(base);
    await client.close();
  });

  it('a call answered after two timeouts leaves the next call at SRTT + 4 RTTVAR (Karn kept the x4 until a new sample)', async () => {
    const { f, client } = board();
    await warmUp(client);
    const reward = { t0: 0, deltaLoss: Float64Array.of(0.5), lrW: 0.1, lrR: 0.1, lrV: 0.1, sameRates: false };
    for (let i = 0; i < 4; i++) expect((await settle(client.call('reward', reward))).status).toBe('OK');
    const base = client.rtoMs('reward');
    expect(base).toBeLessThan(1000); // sampled, not the initial RTO
    f.dropReplies = 2;
    let at = f.writes.length;
    expect((await settle(client.call('reward', reward))).status).toBe('OK');
    expect(gaps(f.writes, at)).toEqual([base, 2 * base]);
    f.dropReplies = 1;
    at = f.writes.length;
    expect((await settle(client.call('reward', reward))).status).toBe('OK');
    expect(gaps(f.writes, at)).toEqual([base]);
    await client.close();
  });

  it('a slow first reply is sampled once the needless retry\'s duplicate comes back; a retry of a lost request gives no sample', async () => {
    const { f, client } = board();
    await warmUp(client);
    const base = client.rtoMs('run');
    const samples = client.stats().rttSamples;
    // the board takes 300 ms once: the host retries at `base` and after, the board answers the
    // first copy at 300 ms and the copies from its cache right after; as many replies as copies
    f.latency = 300;
    const at = f.writes.length;
    expect((await settle(client.call('run', run(400)))).status).toBe('OK');
    f.latency = 5;
    await vi.advanceTimersByTimeAsync(50); // the duplicates
    expect(f.writes.length - at).toBeGreaterThan(1);
    expect(client.stats().rttSamples).toBe(samples + 1);
    // the sample is the first copy's 300 ms (a replay's 0 ms would have lowered the RTO)
    expect(client.rtoMs('run')).toBeGreaterThan(300);
    expect(client.rtoMs('run')).toBeGreaterThan(base);
    // lost request: only the retry is answered, which copy the reply answers is known but it is not the first
    const rto = client.rtoMs('run');
    f.dropRequests = 1;
    expect((await settle(client.call('run', run(401)))).status).toBe('OK');
    await vi.advanceTimersByTimeAsync(50);
    expect(client.stats().rttSamples).toBe(samples + 1);
    expect(client.rtoMs('run')).toBe(rto);
    await client.close();
  });
});

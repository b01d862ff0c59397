/**
 * Queued sweeps (anpt sweep --queue, anpt worker) through the real CLI, a real
 * redis-server and real worker processes: every row lands exactly once in
 * results.jsonl, bit-identical to a local `anpt sweep` of the same grid, when a worker
 * is SIGKILLed mid-row, when one worker runs on firmware-sim over TCP, and when Redis
 * restarts from its append-only file mid-sweep.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawnFirmwareSim, type RunningSim } from '../firmware-sim/spawn.js';
import { redisMissing, startRedis, type RunningRedis } from './redis-server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const missing = redisMissing();
if (missing) console.warn(`skipping the queue tests: ${missing}`);

/** 3 weight widths x 2 roundings x 2 seeds x 2 methods = 24 rows of about 0.1-0.5 s. */
const GRID = ['--hidden', '16', '--steps', '1000', '--batch', '2', '--epochs', '4', '--weight-bits', '6,8,12', '--rounding', 'nearest,stochastic',
  '--seeds', '2', '--methods', 'anpt-chip,bptt-ptq', '--diag-samples', '4', '--no-report'];
/** 4 rows of GRID (8 bits, anpt-chip only). */
const SMALL = [...GRID.slice(0, GRID.indexOf('--weight-bits')), '--weight-bits', '8', '--rounding', 'nearest,stochastic', '--seeds', '2', '--methods', 'anpt-chip', '--diag-samples', '4', '--no-report'];
/** Short locks so a killed worker's row runs again within seconds. */
const STALL = ['--stall-ms', '1500'];

interface Proc {
  child: ChildProcess;
  out(): string;
  /** Resolves at the first output line matching `re`. */
  line(re: RegExp, timeoutMs?: number): Promise<string>;
  done: Promise<number | null>;
}

const procs: Proc[] = [];

/** `anpt <args>` from the sources, as a user runs it. */
function anpt(args: string[], env: NodeJS.ProcessEnv = process.env): Proc {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
  let text = '';
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const feed = (d: Buffer) => {
    text += d;
    for (const w of [...waiters]) {
      const m = text.split('\n').find((l) => w.re.test(l));
      if (m !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout!.on('data', feed);
  child.stderr!.on('data', feed);
  const done = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const p: Proc = {
    child,
    out: () => text,
    line: (re, timeoutMs = 60_000) => new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no line ${re} within ${timeoutMs} ms; output:\n${text}`)), timeoutMs);
      waiters.push({ re, resolve: (l) => { clearTimeout(timer); resolve(l); } });
      feed(Buffer.alloc(0));
    }),
    done,
  };
  procs.push(p);
  return p;
}

interface Row {
  key: string;
  status: string;
  worker?: string;
  startedAt: string;
  finishedAt: string;
  seconds: number;
  metrics?: Record<string, unknown>;
}

function readRows(dir: string): Row[] {
  const path = join(dir, 'results.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Row);
}

/** A row without what differs between two runs of it: timing and who ran it. */
function numbers(r: Row): string {
  const { startedAt: _s, finishedAt: _f, seconds: _t, worker: _w, ...rest } = r;
  const metrics = rest.metrics ? { ...rest.metrics, trainSeconds: undefined } : undefined;
  return JSON.stringify({ ...rest, metrics });
}

/** results.jsonl holds each row of the local run exactly once, with the same numbers. */
function expectSameRows(dir: string, reference: Row[]): Row[] {
  const rows = readRows(dir);
  expect(rows).toHaveLength(reference.length);
  expect(new Set(rows.map((r) => r.key)).size).toBe(reference.length);
  const byKey = new Map(rows.map((r) => [r.key, r]));
  for (const ref of reference) {
    const r = byKey.get(ref.key);
    expect(r, `row ${ref.key}`).toBeDefined();
    expect(numbers(r!)).toBe(numbers(ref));
  }
  return rows;
}

/** `n` emulator workers, one row at a time each, ready to take rows. */
async function emulatorWorkers(n: number): Promise<Proc[]> {
  const ws = Array.from({ length: n }, () => anpt(['worker', '--queue', redis.url, '--concurrency', '1', ...STALL]));
  await Promise.all(ws.map((w) => w.line(/row at a time/)));
  return ws;
}

const tmp = mkdtempSync(join(tmpdir(), 'anpt-queue-test-'));
let redis: RunningRedis;
let reference: Row[] = [];

describe.skipIf(missing !== undefined)('queued sweep (real redis-server, coordinator and workers)', () => {
  beforeAll(async () => {
    redis = await startRedis();
    const local = anpt(['sweep', '--out', join(tmp, 'local'), ...GRID, '--workers', '2', '--quiet']);
    expect(await local.done).toBe(0);
    reference = readRows(join(tmp, 'local'));
    expect(reference).toHaveLength(24);
    expect(reference.every((r) => r.status === 'ok')).toBe(true);
  });
  afterEach(async () => {
    for (const p of procs.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    const c = new Redis(redis.url);
    await c.flushall();
    c.disconnect();
  });
  afterAll(async () => {
    await redis?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('a worker SIGKILLed mid-row: its row runs again on the other worker; 24 rows, bit-identical to the local sweep', async () => {
    const [a] = await emulatorWorkers(2);
    const out = join(tmp, 'killed');
    const sweep = anpt(['sweep', '--out', out, ...GRID, '--queue', redis.url]);
    await a.line(/^started row anpt-chip/); // a holds a row now
    a.child.kill('SIGKILL');
    expect(await sweep.done).toBe(0);
    const rows = expectSameRows(out, reference);
    const aName = (await a.line(/^worker .* at a time/)).replace(/^worker (.*): .*$/, '$1');
    const ranOnB = rows.filter((r) => r.worker !== aName).length;
    expect(ranOnB).toBeGreaterThan(0);
    // the killed worker's row stalled and was put back (BullMQ's stalled-job event)
    const c = new Redis(redis.url);
    const streams = (await c.keys('bull:*:events'));
    const stalled = (await Promise.all(streams.map((k) => c.xrange(k, '-', '+')))).flat().filter(([, f]) => f[1] === 'stalled');
    c.disconnect();
    expect(stalled.length).toBeGreaterThanOrEqual(1);
    // the coordinator may come back: --collect rebuilds the same results from the queue alone
    const again = join(tmp, 'collected');
    const collect = anpt(['sweep', '--queue', redis.url, '--collect', again, ...GRID]);
    expect(await collect.done).toBe(0);
    expectSameRows(again, reference);
    expect(existsSync(join(again, 'results.csv'))).toBe(true);
  }, 90_000);

  it('one worker on firmware-sim over TCP, one on the emulator: rows run on both, results identical', async () => {
    let sim: RunningSim | undefined;
    try {
      sim = await spawnFirmwareSim(['--tcp', '0', '--baud', '20000000', '--quiet']);
      const board = anpt(['worker', '--queue', redis.url, '--device', sim.url(), ...STALL]);
      await board.line(/row at a time/);
      const out = join(tmp, 'board');
      const sweep = anpt(['sweep', '--out', out, ...GRID, '--queue', redis.url]);
      // the emulator worker joins once the board holds a row: started together, the
      // faster emulator worker could take all 24 rows on a loaded machine
      await board.line(/^started row/);
      const emu = anpt(['worker', '--queue', redis.url, '--concurrency', '1', ...STALL]);
      expect(await sweep.done).toBe(0);
      const rows = expectSameRows(out, reference);
      const onBoard = rows.filter((r) => r.worker?.includes('board firmware-sim at tcp://127.0.0.1:'));
      const onEmulator = rows.filter((r) => r.worker?.endsWith(' emulator'));
      expect(onBoard.length).toBeGreaterThan(0);
      expect(onEmulator.length).toBeGreaterThan(0);
      expect(onBoard.length + onEmulator.length).toBe(24);
    } finally {
      await sim?.stop();
    }
  }, 90_000);

  it('--run-on board: the emulator worker leaves the rows alone (and says why), the board worker runs them all', async () => {
    let sim: RunningSim | undefined;
    try {
      sim = await spawnFirmwareSim(['--tcp', '0', '--baud', '20000000', '--quiet']);
      const [emu] = await emulatorWorkers(1);
      const out = join(tmp, 'board-only');
      const sweep = anpt(['sweep', '--out', out, ...SMALL, '--queue', redis.url, '--run-on', 'board']);
      await emu.line(/not serving anpt\.[0-9a-f]+\.board\..*: the rows need a board/);
      const board = anpt(['worker', '--queue', redis.url, '--device', sim.url(), ...STALL]);
      expect(await sweep.done).toBe(0);
      const rows = readRows(out);
      expect(rows).toHaveLength(4);
      expect(rows.every((r) => r.worker?.includes('board firmware-sim'))).toBe(true);
      const ref = new Map(reference.map((r) => [r.key, r]));
      for (const r of rows) expect(numbers(r)).toBe(numbers(ref.get(r.key)!));
      board.child.kill('SIGTERM');
      expect(await board.done).toBe(0);
    } finally {
      await sim?.stop();
    }
  }, 90_000);

  it('redis-server restarted mid-sweep (append-only file): no row lost, none twice', async () => {
    await emulatorWorkers(2);
    const out = join(tmp, 'restart');
    const sweep = anpt(['sweep', '--out', out, ...GRID, '--queue', redis.url]);
    await sweep.line(/\[ *6\/24\]/);
    await redis.restart();
    expect(await sweep.done).toBe(0);
    const rows = expectSameRows(out, reference);
    expect(rows.length).toBe(24);
  }, 90_000);
  it('a worker stopped mid-row (SIGSTOP) past its lock: the row runs again elsewhere and the late second completion is ignored', async () => {
    const workers = await emulatorWorkers(2);
    const out = join(tmp, 'stopped');
    const sweep = anpt(['sweep', '--out', out, ...GRID, '--queue', redis.url]);
    // stop whichever worker starts an ANP-T row first (on a loaded machine either may be
    // first), at once: /^row anpt-chip/ matched the row's end ("row ...: ok in 0.2 s"), so
    // the stopped worker often held no row and never completed one late (a flake once the
    // float rows got faster)
    const starts = workers.map((w) => w.line(/^started row anpt-chip/, 60_000).then(() => w));
    for (const p of starts) p.catch(() => undefined);
    const a = await Promise.any(starts);
    a.child.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 6000)); // > lock + two stalled checks: b has the row
    a.child.kill('SIGCONT');
    expect(await sweep.done).toBe(0);
    expectSameRows(out, reference);
    // a finished its copy too late: BullMQ refused the completion (its lock was gone)
    await a.line(/^job r[0-9a-f]{64} in anpt\./, 20_000);
  }, 90_000);

  it('a row that fails deterministically fails once with its error; a job the worker cannot read fails once', async () => {
    const csv = join(tmp, 'series.csv');
    writeFileSync(csv, 'x,y\n' + Array.from({ length: 400 }, (_, i) => `${Math.sin(i / 7).toFixed(4)},${Math.cos(i / 7).toFixed(4)}`).join('\n') + '\n');
    const out = join(tmp, 'failing');
    const sweep = anpt(['sweep', '--out', out, '--task', 'csv', '--data', csv, '--inputs', 'x', '--targets', 'y', '--batch', '2', '--hidden', '8',
      '--epochs', '1', '--weight-bits', '8', '--rounding', 'nearest', '--seeds', '2', '--methods', 'anpt-chip', '--diag-samples', '0', '--no-report', '--queue', redis.url]);
    await sweep.line(/queued on/);
    rmSync(csv); // the workers cannot read the data: every row fails, the same way each time
    // and a job whose data no worker can read, first in line
    const c = new Redis(redis.url);
    const queue = Object.keys(await c.hgetall('anpt:queues')).find((q) => !q.endsWith('.float'))!;
    const q = new Queue(queue, { connection: c, prefix: 'bull' });
    const bad = await q.add('row', { format: 'something-else' }, { attempts: 3, jobId: 'bogus', lifo: true });
    const [w] = await emulatorWorkers(1);
    expect(await sweep.done).toBe(1); // exit 1: rows failed
    const rows = readRows(out);
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      expect(r.status).toBe('error');
      expect((r as unknown as { message: string }).message).toContain('series.csv');
    }
    const jobKeys = (await c.keys(`bull:${queue}:r*`)).filter((k) => /:r[0-9a-f]{64}$/.test(k));
    expect(jobKeys).toHaveLength(2);
    for (const k of jobKeys) expect(await c.hget(k, 'ats')).toBe('1'); // started once, not retried
    // the unreadable job was failed at once, not retried
    expect(await bad.getState()).toBe('failed');
    const failed = await q.getJob('bogus');
    expect(failed!.attemptsMade).toBe(1);
    expect(failed!.failedReason).toContain('anpt-queue-job/1');
    // the finished sweep let go of its queues
    expect(await c.hgetall('anpt:queues')).toEqual({});
    await q.close();
    c.disconnect();
    w.child.kill('SIGTERM');
    expect(await w.done).toBe(0); // SIGTERM: a clean stop
  }, 90_000);
  it('a password in the URL or in ANPT_REDIS_PASSWORD; it is not recorded; a wrong one is one line, exit 2', async () => {
    const locked = await startRedis(['--requirepass', 's3cret-pw']);
    try {
      const url = `redis://:s3cret-pw@127.0.0.1:${locked.port}/0`;
      const w = anpt(['worker', '--queue', url, '--concurrency', '1']);
      await w.line(/row at a time/);
      expect(w.out()).not.toContain('s3cret-pw');
      const out = join(tmp, 'password');
      const viaEnv = anpt(['sweep', '--out', out, ...SMALL, '--queue', locked.url], { ...process.env, ANPT_REDIS_PASSWORD: 's3cret-pw' });
      expect(await viaEnv.done).toBe(0);
      expect(readRows(out).filter((r) => r.status === 'ok')).toHaveLength(4);
      const withUrl = anpt(['sweep', '--out', join(tmp, 'password2'), ...SMALL, '--queue', url]);
      expect(await withUrl.done).toBe(0);
      for (const f of ['grid.json', 'results.json', 'runs.jsonl']) expect(readFileSync(join(tmp, 'password2', f), 'utf8')).not.toContain('s3cret-pw');
      const wrong = anpt(['sweep', '--out', join(tmp, 'password3'), ...SMALL, '--queue', `redis://:nope@127.0.0.1:${locked.port}/0`]);
      expect(await wrong.done).toBe(2);
      expect(wrong.out().trim().split('\n')).toHaveLength(1);
      expect(wrong.out()).toMatch(/^anpt: --queue redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0: cannot connect to Redis \(WRONGPASS/);
    } finally {
      await locked.stop();
    }
  }, 90_000);
  it('TLS: rediss:// with a private CA (ANPT_REDIS_CA)', async () => {
    const tls = join(ROOT, 'test/fixtures/tls');
    const secure = await startRedis([], { cert: join(tls, 'server.pem'), key: join(tls, 'server.key'), ca: join(tls, 'ca.pem') });
    const env = { ...process.env, ANPT_REDIS_CA: join(tls, 'ca.pem') };
    try {
      expect(secure.url).toMatch(/^rediss:/);
      const w = anpt(['worker', '--queue', secure.url, '--concurrency', '1'], env);
      await w.line(/row at a time/);
      const out = join(tmp, 'tls');
      const sweep = anpt(['sweep', '--out', out, ...SMALL, '--queue', secure.url], env);
      expect(await sweep.done).toBe(0);
      const rows = readRows(out);
      expect(rows.filter((r) => r.status === 'ok')).toHaveLength(4);
      const ref = new Map(reference.map((r) => [r.key, r]));
      for (const r of rows) if (ref.has(r.key)) expect(numbers(r)).toBe(numbers(ref.get(r.key)!));
      // without the CA the server's certificate is not trusted: refused, one line
      const untrusted = anpt(['sweep', '--out', join(tmp, 'tls2'), ...SMALL, '--queue', secure.url]);
      expect(await untrusted.done).toBe(2);
      expect(untrusted.out()).toMatch(/^anpt: --queue rediss:\/\/127\.0\.0\.1:\d+\/0: cannot connect to Redis/);
    } finally {
      await secure.stop();
    }
  }, 90_000);
});

// One chip on two cores (EmulatorDevice threads, src/device/kernel-threads.ts): the
// same bits as one thread for every configuration, the work really split, the option's
// refusals and 'auto', and close(). The conformance suite runs against the threaded
// device too (test/conformance/devices.test.ts).
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { runCli } from '../src/cli/main.js';
import { AUTO_THREADS_MIN_HB, EmulatorDevice, emulatorThreadsFor } from '../src/device/emulator.js';
import { defaultChipFormats } from '../src/device/config.js';
import { runGolden, type GoldenVector } from '../src/device/golden.js';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';
import { trainAnpt } from '../src/learn/anpt.js';
import { xavierNormal } from '../src/model/rnn.js';
import type { Rounding } from '../src/format/fixed.js';
import type { DeviceConfig } from '../src/device/types.js';

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

/** Train `chunks` chunks of `chunk` steps with random inputs and rewards; every output, the hidden trace, weights, state and row counts. */
async function trace(dev: EmulatorDevice, config: DeviceConfig, chunks: number, chunk: number, seed: number, configured = false) {
  const { inputs: I, hidden: H, outputs: O, batch: B } = config.topology;
  if (!configured) await dev.configure(config);
  const r = lcg(seed);
  await dev.writeParams({
    w: Float64Array.from({ length: H * I }, () => r() * 2),
    r: Float64Array.from({ length: H * H }, () => (r() * 3.2) / Math.sqrt(H)),
    v: Float64Array.from({ length: O * H }, () => (r() * 2) / Math.sqrt(H)),
  });
  const outs: number[] = [];
  for (let c = 0; c < chunks; c++) {
    const t0 = c * chunk;
    const res = await dev.run({ steps: chunk, t0, inputs: Float64Array.from({ length: chunk * B * I }, () => r() * 2), noisy: true, hiddenTrace: true });
    for (const a of [res.clean, res.noisy, res.hidden!]) for (const x of a) outs.push(x); // (a spread overflows the stack at long chunks)
    await dev.reward({ t0, deltaLoss: Float64Array.from({ length: chunk }, () => r() * 0.05), lr: { w: 0.3, r: 0.3, v: 0.3 } });
  }
  const clean = await dev.run({ steps: chunk, t0: chunks * chunk, inputs: Float64Array.from({ length: chunk * B * I }, () => r() * 2), noisy: false });
  outs.push(...clean.clean);
  const p = await dev.readParams();
  const s = await dev.readState();
  const { otherThreads, ...rows } = dev.takeRowSkipCounts();
  return { outs, w: Array.from(p.w), r: Array.from(p.r), v: Array.from(p.v), clean: Array.from(s.clean), noisy: Array.from(s.noisy), rows, otherThreads };
}

/** Everything but who did the work. */
const bits = (t: Awaited<ReturnType<typeof trace>>) => ({ ...t, otherThreads: undefined });

/** The same training on one and on two threads. */
async function both(config: DeviceConfig, chunks: number, chunk: number, seed = 7) {
  const one = await trace(new EmulatorDevice(), config, chunks, chunk, seed);
  const dev = new EmulatorDevice({ threads: 2 });
  const two = await trace(dev, config, chunks, chunk, seed);
  expect(dev.threads).toBe(2);
  await dev.close();
  return { one: bits(one), two: bits(two) };
}

const config = (o: { H: number; B: number; I?: number; O?: number; bits?: number; rounding?: Rounding; forward?: Rounding; mismatch?: boolean; K: number }): DeviceConfig => ({
  topology: { inputs: o.I ?? 2, hidden: o.H, outputs: o.O ?? 2, batch: o.B, activation: 'tanh' },
  formats: defaultChipFormats({ weightBits: o.bits ?? 16, rounding: o.rounding, forwardRounding: o.forward }),
  noise: { hiddenSigma: 0.02, outputSigma: 0.02 },
  mismatch: o.mismatch ? { gainSpread: 0.1, offsetSpread: 0.05, seed: 3 } : undefined,
  seed: 11,
  maxChunkSteps: o.K,
});

describe('two threads give the bits of one', () => {
  const cases: [string, Parameters<typeof config>[0], number][] = [
    ['16-bit nearest, online (chunk 1)', { H: 100, B: 10, K: 1 }, 30],
    ['8-bit stochastic rounding, online', { H: 100, B: 10, bits: 8, K: 1 }, 30],
    ['8-bit stochastic, stochastic forward rounding, mismatch on, online', { H: 77, B: 5, bits: 8, forward: 'stochastic', mismatch: true, K: 1 }, 30],
    ['16-bit, mismatch on, one chunk per sequence (chunk 40)', { H: 100, B: 10, mismatch: true, K: 40 }, 3],
    ['8-bit stochastic, chunk 40, B = 1', { H: 130, B: 1, bits: 8, K: 40 }, 3],
    ['more outputs than neurons (outputs beyond H on the last thread), odd chunk', { H: 5, B: 3, O: 9, K: 3 }, 5],
    // (K + 1) x B x Hp x 2 bytes > 1 MiB: no second trace bank, reward applies the update at once
    ['long chunks without a second trace bank (chunk 500)', { H: 120, B: 10, K: 500 }, 2],
  ];
  for (const [name, c, chunks] of cases)
    it(name, async () => {
      const { one, two } = await both(config(c), chunks, c.K);
      expect(two).toEqual(one);
      expect(one.rows.rows).toBeGreaterThan(0);
    });

  it('random configurations (sizes, formats, roundings, overflow, activations, mismatch)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          H: fc.integer({ min: 1, max: 45 }), B: fc.integer({ min: 1, max: 6 }), O: fc.integer({ min: 1, max: 4 }), K: fc.integer({ min: 1, max: 4 }),
          wb: fc.integer({ min: 3, max: 16 }), rounding: fc.constantFrom<Rounding>('nearest', 'floor', 'stochastic'),
          forward: fc.constantFrom<Rounding>('nearest', 'floor', 'stochastic'), overflow: fc.constantFrom('sat' as const, 'wrap' as const),
          act: fc.constantFrom('tanh' as const, 'hardtanh' as const, 'linear' as const), mismatch: fc.boolean(), seed: fc.integer({ min: 0, max: 0xffff }),
        }),
        async (c) => {
          const cfg: DeviceConfig = {
            topology: { inputs: 3, hidden: c.H, outputs: c.O, batch: c.B, activation: c.act },
            formats: defaultChipFormats({ weightBits: c.wb, rounding: c.rounding, forwardRounding: c.forward, overflow: c.overflow }),
            noise: { hiddenSigma: 0.02, outputSigma: 0.02 },
            mismatch: c.mismatch ? { gainSpread: 0.1, offsetSpread: 0.05, seed: c.seed + 1 } : undefined,
            seed: c.seed,
            maxChunkSteps: c.K,
          };
          const { one, two } = await both(cfg, 3, c.K, c.seed);
          expect(two).toEqual(one);
        },
      ),
      { numRuns: 15 },
    );
  });

  const files = readdirSync('test/golden').filter((f) => f.endsWith('.json'));
  for (const file of files)
    it(`golden vector ${file} replays bit for bit on two threads`, async () => {
      const v = JSON.parse(readFileSync(`test/golden/${file}`, 'utf8')) as GoldenVector;
      const dev = new EmulatorDevice({ threads: 2 });
      expect(await runGolden(dev, v)).toEqual(v.expected);
      await dev.close();
    });

  it('ANP-T training through trainAnpt (Mackey-Glass, H=64, B=10): the same weights, and it learns', async () => {
    const task = mackeyGlassTask({ steps: 300, batch: 10, mode: 'recall', horizon: 5, seed: 3 });
    const run = async (threads: 1 | 2) => {
      const dev = new EmulatorDevice({ threads });
      await dev.configure({ topology: { inputs: 1, hidden: 64, outputs: 1, batch: 10, activation: 'tanh' }, formats: defaultChipFormats({ weightBits: 16 }), noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 }, seed: 5, maxChunkSteps: 1 });
      await dev.writeParams(xavierNormal({ inputs: 1, hidden: 64, outputs: 1, activation: 'tanh' }, 5));
      const r = await trainAnpt(dev, task.train, { epochs: 2, lr: { w: 0.3, r: 0.3, v: 0.3 } });
      const p = await dev.readParams();
      await dev.close();
      return { p, losses: r.epochs.map((e) => e.trainMse) };
    };
    const one = await run(1);
    const two = await run(2);
    expect(two.p).toEqual(one.p);
    expect(two.losses).toEqual(one.losses);
  });
});

describe('the work is split', () => {
  it('thread 0 alone would visit all update rows: with two threads the other thread visits about half', async () => {
    const dev = new EmulatorDevice({ threads: 2, rowSkip: false });
    const c = await trace(dev, config({ H: 96, B: 4, K: 1 }), 4, 1, 1);
    await dev.close();
    // per step: 96 rows of W, 96 of R and 2 of V; the other thread owns neurons 48..95
    expect(c.rows.rows).toBe(4 * (96 + 96 + 2));
    expect(c.otherThreads).toBe(4 * (48 + 48));
    const one = await trace(new EmulatorDevice({ rowSkip: false }), config({ H: 96, B: 4, K: 1 }), 4, 1, 1);
    expect(one.otherThreads).toBe(0);
  });
});

describe('a kernel worker that fails mid-run', () => {
  // the fault hooks of kernel-threads.ts: the worker throws, exits or hangs after n
  // commands (one command per run: reward is applied by the next run); thread 0 must
  // not wait for it forever, and the call must say what happened
  const cfg = config({ H: 64, B: 4, K: 1 });
  async function trainUntilFailure(dev: EmulatorDevice) {
    await dev.configure(cfg);
    const a = performance.now();
    let error: unknown;
    try {
      for (let t = 0; t < 20; t++) {
        await dev.run({ steps: 1, t0: t, inputs: new Float64Array(8).fill(0.5), noisy: true });
        await dev.reward({ t0: t, deltaLoss: new Float64Array([0.01]), lr: { w: 0.3, r: 0.3, v: 0.3 } });
      }
    } catch (e) {
      error = e;
    }
    const seconds = (performance.now() - a) / 1000;
    await dev.close(); // terminates the failed worker: must not hang either
    return { error, seconds };
  }

  it('a worker that throws: the next run fails within seconds, saying which thread threw what', async () => {
    const r = await trainUntilFailure(new EmulatorDevice({ threads: 2, threadFaults: { fault: { after: 3, kind: 'throw' } } }));
    expect(String(r.error)).toMatch(/run: a kernel worker thread stopped \(it threw: thread 1: injected fault after 3 commands\); the chip state is lost/);
    expect(r.seconds).toBeLessThan(10);
  });

  it('a worker that exits: the same, and every later call fails the same way', async () => {
    const dev = new EmulatorDevice({ threads: 2, threadFaults: { fault: { after: 2, kind: 'exit' } } });
    const r = await trainUntilFailure(dev);
    expect(String(r.error)).toMatch(/run: a kernel worker thread stopped \(it exited: thread 1 exited \(code 7\)/);
    expect(r.seconds).toBeLessThan(10);
    await expect(dev.readParams()).rejects.toThrow(/readParams: a kernel worker thread stopped/);
  });

  it('a worker that hangs: thread 0 gives up after the stall limit without progress', async () => {
    const r = await trainUntilFailure(new EmulatorDevice({ threads: 2, threadFaults: { fault: { after: 2, kind: 'hang' }, stallMs: 300 } }));
    expect(String(r.error)).toMatch(/run: a kernel worker thread stopped \(it made no progress within the stall limit/);
    expect(r.seconds).toBeLessThan(10);
  });
});

describe('the threads option', () => {
  it("refuses what is not 1, 2 or 'auto', and 2 on the scalar build, in one line", () => {
    expect(() => new EmulatorDevice({ threads: 3 as never })).toThrow(/^threads: 3 is not a thread count; use 1, 2 or 'auto'/);
    expect(() => new EmulatorDevice({ threads: 2, flavour: 'scalar' })).toThrow(/^threads: 2 needs the simd flavour/);
  });

  it("'auto' takes two threads from hidden x batch >= AUTO_THREADS_MIN_HB when 2 cores exist, one below", async () => {
    const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
    expect(emulatorThreadsFor('auto', AUTO_THREADS_MIN_HB - 1)).toBe(1);
    expect(emulatorThreadsFor('auto', AUTO_THREADS_MIN_HB)).toBe(cores >= 2 ? 2 : 1);
    expect(emulatorThreadsFor('auto', AUTO_THREADS_MIN_HB, 'scalar')).toBe(1);
    const dev = new EmulatorDevice({ threads: 'auto' });
    const small = config({ H: 20, B: 2, K: 1 });
    const big = config({ H: Math.ceil(AUTO_THREADS_MIN_HB / 10), B: 10, K: 1 });
    const ref = await trace(new EmulatorDevice(), big, 2, 1, 4);
    await dev.configure(small);
    expect(dev.threads).toBe(1);
    expect(bits(await trace(dev, big, 2, 1, 4))).toEqual(bits(ref));
    expect(dev.threads).toBe(cores >= 2 ? 2 : 1);
    await dev.configure(small);
    expect(dev.threads).toBe(1);
    await dev.close();
  });

  it('after close() the chip goes on, on one thread, with the same bits', async () => {
    const cfg = config({ H: 40, B: 3, bits: 8, K: 2 });
    const ref = await trace(new EmulatorDevice(), cfg, 4, 2, 9);
    const dev = new EmulatorDevice({ threads: 2 });
    await dev.configure(cfg);
    await dev.close();
    expect(dev.threads).toBe(1);
    const after = await trace(dev, cfg, 4, 2, 9, true);
    expect(bits(after)).toEqual(bits(ref));
    expect(after.otherThreads).toBe(0);
  });

  it('a refused configure leaves the configured chip and its threads in place', async () => {
    const cfg = config({ H: 40, B: 3, K: 2 });
    const dev = new EmulatorDevice({ threads: 'auto' });
    await dev.configure(cfg);
    await dev.writeParams({ w: new Float64Array(80).fill(0.5), r: new Float64Array(1600).fill(-0.25), v: new Float64Array(80).fill(0.125) });
    const threads = dev.threads;
    const before = await dev.readParams();
    await expect(dev.configure({ ...cfg, maxChunkSteps: 65536, topology: { ...cfg.topology, hidden: 4096, batch: 256 } })).rejects.toThrow(/^topology: needs \d+ MiB/);
    expect(dev.threads).toBe(threads);
    expect(await dev.readParams()).toEqual(before);
    await dev.close();
  });
});

describe('--threads on the command line', () => {
  const TMP = mkdtempSync(join(os.tmpdir(), 'anpt-threads-'));
  afterAll(() => rmSync(TMP, { recursive: true, force: true }));
  const cli = async (...argv: string[]) => {
    let out = '', err = '';
    const code = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), progress: { write: (s: string) => (err += s), isTTY: false } });
    return { code, out, err };
  };
  const MG = ['--task', 'mackey-glass', '--steps', '80', '--hidden', '24', '--batch', '3', '--epochs', '1', '--weight-bits', '8', '--quiet', '--json'];

  it('train: --threads 2 gives the weights of --threads 1, says so in the summary, and bad values are refused in one line', async () => {
    const runs: Record<string, { device: string; weights: string }> = {};
    for (const t of ['1', '2']) {
      const out = join(TMP, `train-${t}`);
      const r = await cli('train', ...MG, '--threads', t, '--out', out);
      expect(r.code, r.err).toBe(0);
      runs[t] = { device: JSON.parse(r.out).device, weights: readFileSync(join(out, 'weights.json'), 'utf8') };
    }
    expect(runs['2'].weights).toBe(runs['1'].weights);
    expect(runs['1'].device).toBe('anpt-emulator (simd)');
    expect(runs['2'].device).toBe('anpt-emulator (simd, 2 threads)');
    const bad = await cli('train', ...MG, '--threads', '4', '--out', join(TMP, 'never'));
    expect([bad.code, bad.err]).toEqual([2, "anpt: --threads: '4' is not 1, 2 or auto; e.g. --threads 2\n"]);
  });

  it('sweep: rows in the main thread on two threads give the rows of one; a worker pool keeps one thread per row', async () => {
    const grid = ['--hidden', '16', '--steps', '60', '--batch', '2', '--epochs', '1', '--weight-bits', '8', '--seeds', '1', '--methods', 'anpt-chip', '--diag-samples', '0', '--quiet', '--no-report', '--json'];
    const metrics: unknown[] = [];
    for (const t of ['1', '2']) {
      const out = join(TMP, `sweep-${t}`);
      const r = await cli('sweep', '--out', out, ...grid, '--workers', '0', '--threads', t);
      expect(r.code, r.err).toBe(0);
      metrics.push(readFileSync(join(out, 'results.jsonl'), 'utf8').trim().split('\n').map((l) => ({ ...JSON.parse(l).metrics, trainSeconds: 0 })));
    }
    expect(metrics[1]).toEqual(metrics[0]);
    const pool = await cli('sweep', '--out', join(TMP, 'sweep-pool'), ...grid, '--workers', '2', '--threads', '2');
    expect(pool.code).toBe(2);
    expect(pool.err).toMatch(/^anpt: --threads: 2 applies to a sweep in the main thread \(--workers 0\)/);
  });
});

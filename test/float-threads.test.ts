// The float model on two threads (FloatDevice threads, src/model/float-threads.ts,
// assembly/float/step.ts runSteps and rewardRows): the same bits as one thread for
// every shape (biases, H not a multiple of 8, a thread without rows, more outputs than
// neurons, B = 1), activation, trace, mismatch and the NP rule, chunked and online;
// a failing worker makes the call throw instead of hanging; 'auto' and the refusals.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { runCli } from '../src/cli/main.js';
import { FloatDevice } from '../src/model/float-device.js';
import { FLOAT_AUTO_THREADS_MIN_HB, floatThreadsFor } from '../src/model/float-threads.js';
import { differences, trainRun, type Case } from './float-train-run.js';

describe('float model on two threads', () => {
  const cases: Case[] = [
    { I: 1, H: 100, O: 1, B: 10, activation: 'tanh', trace: 'none', K: 6 }, // the Mackey-Glass shape
    { I: 2, H: 13, O: 3, B: 3, activation: 'tanh', trace: 'innovation', K: 6, mismatch: true },
    { I: 3, H: 21, O: 2, B: 1, activation: 'hardtanh', trace: 'activity', K: 5, mismatch: true },
    { I: 1, H: 37, O: 1, B: 10, activation: 'linear', trace: 'none', K: 4 },
    { I: 2, H: 9, O: 12, B: 4, activation: 'tanh', trace: 'none', K: 5 }, // outputs beyond the neurons: thread 1 updates V's last rows
    { I: 1, H: 7, O: 1, B: 2, activation: 'tanh', trace: 'activity', K: 3 }, // one block of 8: thread 0 has no rows
    { I: 1, H: 33, O: 2, B: 10, activation: 'tanh', trace: 'none', K: 5, np: true },
    { I: 1, H: 37, O: 1, B: 10, activation: 'tanh', trace: 'none', K: 5, bias: true }, // biases: each thread its rows of b, thread 0 c
    { I: 2, H: 13, O: 3, B: 3, activation: 'tanh', trace: 'innovation', K: 6, mismatch: true, bias: true },
    { I: 2, H: 9, O: 12, B: 4, activation: 'hardtanh', trace: 'activity', K: 5, bias: true }, // thread 1 updates c's last rows
  ];

  it.each(cases)('same bits as one thread: %j', async (c) => {
    const one = await trainRun('wasm', c, { threads: 1 });
    const two = await trainRun('wasm', c, { threads: 2 });
    expect(differences(one, two)).toBe(0);
  }, 60_000);

  // The worker writes the noisy states and the trace's last clean states after a chunk's
  // last meeting, while run has already returned; a tail delay makes it late on every run,
  // so a reward that read them without syncing differs: the host's NP rule, or the kernel's
  // (thread 0 updates V from the last clean states; without a trace it reads the tail's norm of da).
  it.each([cases[6], cases[3]])('same bits when the worker is still writing after run returns (tail delay 25 ms): %j', async (c) => {
    const one = await trainRun('wasm', c, { threads: 1 });
    const two = await trainRun('wasm', c, { threads: 2, threadFaults: { tailDelayMs: 25 } });
    expect(differences(one, two)).toBe(0);
  }, 60_000);

  it('same bits when a noisy chunk grows the shared memory and a clean chunk runs in pieces', async () => {
    const c: Case = { I: 1, H: 400, O: 1, B: 20, activation: 'tanh', trace: 'activity', K: 40, maxChunkSteps: 40 };
    expect(differences(await trainRun('wasm', c, { threads: 1 }), await trainRun('wasm', c, { threads: 2 }))).toBe(0);
  }, 60_000);

  const cfg = {
    topology: { inputs: 1, hidden: 20, outputs: 1, batch: 4, activation: 'tanh' as const },
    noise: { hiddenSigma: 0.01, outputSigma: 0.01 }, seed: 1, maxChunkSteps: 8,
  };
  const chunk = async (dev: FloatDevice, t0: number) => {
    await dev.run({ steps: 2, t0, inputs: new Float64Array(8), noisy: true });
    await dev.reward({ t0, deltaLoss: new Float64Array(2).fill(0.1), lr: { w: 0.1, r: 0.1, v: 0.1 } });
  };

  it.each(['throw', 'exit', 'hang'] as const)('a worker that fails (%s) makes the call throw, not hang; configure starts new workers', async (kind) => {
    const dev = new FloatDevice({ threads: 2, threadFaults: { fault: { after: 3, kind }, stallMs: 300 } });
    await dev.configure(cfg);
    expect(dev.threads).toBe(2);
    let error: unknown;
    try {
      for (let t = 0; t < 20; t += 2) await chunk(dev, t);
    } catch (e) {
      error = e;
    }
    const why = { throw: /it threw: thread 1: injected fault after 3 commands/, exit: /it exited/, hang: /no progress within the stall limit/ }[kind];
    expect(String(error)).toMatch(/(run|reward): a float model worker thread stopped/);
    expect(String(error)).toMatch(why);
    expect(String(error)).toMatch(/close this device and configure a new one/);
    await dev.close();
  }, 30_000);

  it("'auto' takes 2 threads only from H x B = 1000 on, on a quiet machine; refusals name the option", () => {
    expect(floatThreadsFor(1, 1e6)).toBe(1);
    expect(floatThreadsFor(2, 1)).toBe(2);
    expect(floatThreadsFor('auto', FLOAT_AUTO_THREADS_MIN_HB - 1)).toBe(1);
    expect([1, 2]).toContain(floatThreadsFor('auto', FLOAT_AUTO_THREADS_MIN_HB));
    expect(() => new FloatDevice({ threads: 3 as never })).toThrow(/threads: 3 is not a thread count; use 1, 2 or 'auto'/);
  });

  it('the js engine runs on one thread whatever threads says', async () => {
    const dev = new FloatDevice({ engine: 'js', threads: 2 });
    await dev.configure(cfg);
    expect(dev.threads).toBe(1);
    await chunk(dev, 0);
    await dev.close();
  });

  const TMP = mkdtempSync(join(os.tmpdir(), 'anpt-float-threads-'));
  afterAll(() => rmSync(TMP, { recursive: true, force: true }));
  const cli = async (...argv: string[]) => {
    let out = '', err = '';
    const code = await runCli(argv, { out: (x) => (out += x), err: (x) => (err += x), progress: { write: (x: string) => (err += x), isTTY: false } });
    return { code, out, err };
  };

  it('train --backend float: --threads 2 and auto give the weights file of --threads 1; a board refuses it', async () => {
    const MG = ['--task', 'mackey-glass', '--steps', '80', '--hidden', '21', '--batch', '3', '--epochs', '1', '--backend', 'float', '--quiet', '--json'];
    const weights: Record<string, string> = {};
    for (const t of ['1', '2', 'auto']) {
      const out = join(TMP, `train-${t}`);
      const r = await cli('train', ...MG, '--threads', t, '--out', out);
      expect(r.code, r.err).toBe(0);
      weights[t] = readFileSync(join(out, 'weights.json'), 'utf8');
      expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).threads).toBe(t === 'auto' ? 'auto' : Number(t));
    }
    expect(weights['2']).toBe(weights['1']);
    expect(weights.auto).toBe(weights['1']);
    const board = await cli('train', ...MG.filter((a) => a !== 'float' && a !== '--backend'), '--device', 'tcp://127.0.0.1:1', '--threads', '2', '--out', join(TMP, 'never'));
    expect(board.code).toBe(2);
    expect(board.err).toMatch(/--threads splits the emulator's or the float model's work over cores; the board runs on its own; remove it/);
  }, 60_000);
});

// The dynamic split of online runs on two threads (assembly/chip.ts runDynamic: blocks
// of rows claimed by whichever thread is free, each block's deferred update fused with
// its forward pass): the bits of one thread whatever the split. By default from hidden
// x batch 4096 on (assembly/threads.ts dynamicMinWork); the test hook
// threadFaults.dynamicMinWork turns it on for small chips too, so many configurations run fast.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { EmulatorDevice } from '../src/device/emulator.js';
import { defaultChipFormats } from '../src/device/config.js';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';
import { trainAnpt } from '../src/learn/anpt.js';
import { xavierNormal } from '../src/model/rnn.js';
import type { Rounding } from '../src/format/fixed.js';
import { arbChipConfig, chipConfigOf } from './arb-chip-config.js';
import type { DeviceConfig } from '../src/device/types.js';

/** Uniform in [-0.5, 0.5) from a 32-bit LCG (same inputs on both devices). */
function uniform(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5;
}

/** Online training with random inputs and rewards: every output and hidden trace, then weights, state, row counts. */
async function online(dev: EmulatorDevice, cfg: DeviceConfig, steps: number, seed: number) {
  const { inputs: I, hidden: H, outputs: O, batch: B } = cfg.topology;
  await dev.configure(cfg);
  const u = uniform(seed);
  await dev.writeParams({
    w: Float64Array.from({ length: H * I }, () => u() * 2),
    r: Float64Array.from({ length: H * H }, () => (u() * 3.2) / Math.sqrt(H)),
    v: Float64Array.from({ length: O * H }, () => (u() * 2) / Math.sqrt(H)),
  });
  const seen: number[][] = [];
  for (let t = 0; t < steps; t++) {
    // every fourth step also records the hidden trace; every fifth is a clean run between noisy ones
    const noisy = t % 5 !== 4;
    const res = await dev.run({ steps: 1, t0: t, inputs: Float64Array.from({ length: B * I }, () => u() * 2), noisy, hiddenTrace: t % 4 === 0 });
    seen.push(Array.from(res.clean), Array.from(res.noisy), Array.from(res.hidden ?? []));
    if (noisy) await dev.reward({ t0: t, deltaLoss: Float64Array.from([u() * 0.05]), lr: { w: 0.3, r: 0.2, v: 0.3 } });
  }
  const p = await dev.readParams();
  const s = await dev.readState();
  const { rows, skipped } = dev.takeRowSkipCounts();
  return { seen, w: Array.from(p.w), r: Array.from(p.r), v: Array.from(p.v), clean: Array.from(s.clean), noisy: Array.from(s.noisy), rows, skipped };
}

async function oneAndTwo(cfg: DeviceConfig, steps: number, seed: number, rowSkip = true) {
  const one = await online(new EmulatorDevice({ rowSkip }), cfg, steps, seed);
  const dev = new EmulatorDevice({ threads: 2, rowSkip, threadFaults: { dynamicMinWork: 1 } });
  const two = await online(dev, cfg, steps, seed);
  await dev.close();
  return { one, two };
}

const cfgOf = (o: { H: number; B: number; I?: number; O?: number; bits?: number; rounding?: Rounding; forward?: Rounding; mismatch?: boolean }): DeviceConfig => ({
  topology: { inputs: o.I ?? 2, hidden: o.H, outputs: o.O ?? 2, batch: o.B, activation: 'tanh' },
  formats: defaultChipFormats({ weightBits: o.bits ?? 16, rounding: o.rounding, forwardRounding: o.forward }),
  noise: { hiddenSigma: 0.02, outputSigma: 0.02 },
  mismatch: o.mismatch ? { gainSpread: 0.1, offsetSpread: 0.05, seed: 3 } : undefined,
  seed: 11,
  maxChunkSteps: 1,
});

describe('online runs split dynamically give the bits of one thread', () => {
  const cases: [string, Parameters<typeof cfgOf>[0]][] = [
    ['16-bit nearest, H=300 B=10', { H: 300, B: 10 }],
    ['8-bit stochastic update and forward rounding, mismatch on, H=203 B=5 (a short last block)', { H: 203, B: 5, bits: 8, forward: 'stochastic', mismatch: true }],
    ['B = 1, H=130', { H: 130, B: 1, bits: 8 }],
    ['more outputs than neurons (V rows beyond H with the last block)', { H: 21, B: 3, O: 40 }],
  ];
  for (const [name, c] of cases)
    it(name, async () => {
      for (const rowSkip of [true, false]) {
        const { one, two } = await oneAndTwo(cfgOf(c), 25, 5, rowSkip);
        expect(two).toEqual(one);
        expect(one.rows).toBeGreaterThan(0);
      }
    });

  it('random configurations (test/arb-chip-config.ts: sizes, formats, roundings, overflow, activations, mismatch)', async () => {
    await fc.assert(
      fc.asyncProperty(arbChipConfig(), async (c) => {
        const { one, two } = await oneAndTwo({ ...chipConfigOf(c), maxChunkSteps: 1 }, 8, c.seed);
        expect(two).toEqual(one);
      }),
      { numRuns: 20 },
    );
  });

  it('trainAnpt at the default threshold (H=512, B=8: hidden x batch 4096): the same weights and losses', async () => {
    const task = mackeyGlassTask({ steps: 60, batch: 8, mode: 'recall', horizon: 5, seed: 3 });
    const run = async (threads: 1 | 2) => {
      const dev = new EmulatorDevice({ threads });
      await dev.configure({ topology: { inputs: 1, hidden: 512, outputs: 1, batch: 8, activation: 'tanh' }, formats: defaultChipFormats({ weightBits: 16 }), noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 }, seed: 5, maxChunkSteps: 1 });
      await dev.writeParams(xavierNormal({ inputs: 1, hidden: 512, outputs: 1, activation: 'tanh' }, 5));
      const r = await trainAnpt(dev, task.train, { epochs: 1, lr: { w: 0.3, r: 0.3, v: 0.3 } });
      const p = await dev.readParams();
      const rows = dev.takeRowSkipCounts();
      await dev.close();
      return { p, losses: r.epochs.map((e) => e.trainMse), rows: rows.rows, otherThreads: rows.otherThreads };
    };
    const one = await run(1);
    const two = await run(2);
    expect({ ...two, otherThreads: 0 }).toEqual({ ...one, otherThreads: 0 });
    expect(one.otherThreads).toBe(0);
  });

  it('a worker that throws mid-training: the next run fails within seconds, saying so', async () => {
    const dev = new EmulatorDevice({ threads: 2, threadFaults: { fault: { after: 3, kind: 'throw' }, dynamicMinWork: 1 } });
    const a = performance.now();
    const error = await online(dev, cfgOf({ H: 64, B: 4 }), 20, 1).then(() => undefined, (e: unknown) => e);
    await dev.close();
    expect(String(error)).toMatch(/run: a kernel worker thread stopped \(it threw: thread 1: injected fault after 3 commands\)/);
    expect((performance.now() - a) / 1000).toBeLessThan(10);
  });
});

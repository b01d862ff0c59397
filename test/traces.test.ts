// Eligibility traces of the float model and the host-solved ridge readout (issue 11); the
// batch-invariant step and the early-growth warning are in test/batch-invariance.test.ts.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.js';
import { EmulatorDevice } from '../src/device/emulator.js';
import type { DeviceConfig, LearnerConfig, Params } from '../src/device/types.js';
import { ConfigError } from '../src/format/fixed.js';
import { trainAnpt } from '../src/learn/anpt.js';
import { gradientAlignment } from '../src/learn/diagnostics.js';
import { evaluate } from '../src/learn/evaluate.js';
import { fitRidgeReadout } from '../src/learn/reservoir.js';
import { FloatDevice } from '../src/model/float-device.js';
import { gauss, key, STREAM_NOISE } from '../src/model/rng.js';
import { xavierNormal, type RnnShape } from '../src/model/rnn.js';
import { makeTask } from '../src/tasks/index.js';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';
import { stepMse } from '../src/tasks/types.js';

const TMP = mkdtempSync(join(tmpdir(), 'anpt-traces-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

const H = 12, B = 3;
const shape: RnnShape = { inputs: 1, hidden: H, outputs: 1, activation: 'tanh' };
const task = mackeyGlassTask({ steps: 60, batch: B, seed: 3 });

function config(learner?: LearnerConfig, seed = 5): DeviceConfig {
  return { topology: { ...shape, batch: B }, noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 }, seed, maxChunkSteps: 60, learner };
}

/** K online steps of the ANP-T loop (dL from the device's outputs), from step `from` of the train set. */
async function online(dev: FloatDevice, from: number, K: number, lr = 0.05): Promise<void> {
  const s = task.train, bi = B * s.inputSize, bo = B * s.outputSize;
  for (let k = from; k < from + K; k++) {
    const res = await dev.run({ steps: 1, t0: k, inputs: s.inputs.subarray(k * bi, (k + 1) * bi), noisy: true });
    const dL = stepMse(res.noisy, 0, s.targets, k * bo, bo) - stepMse(res.clean, 0, s.targets, k * bo, bo);
    await dev.reward({ t0: k, deltaLoss: Float64Array.of(dL), lr: { w: lr, r: lr, v: lr } });
  }
}

async function device(learner?: LearnerConfig, seed?: number): Promise<FloatDevice> {
  const dev = new FloatDevice();
  await dev.configure(config(learner, seed));
  await dev.writeParams(xavierNormal(shape, 9));
  return dev;
}

const maxDiff = (a: Params, b: Params) => Math.max(...(['w', 'r', 'v'] as const).map((L) => Math.max(...a[L].map((x, i) => Math.abs(x - b[L][i])))));

describe('eligibility traces (float model)', () => {
  it('the activity trace with decay 0 is plain ANP-T; with decay 0.9 it is not', async () => {
    const plain = await device(), zero = await device({ trace: 'activity', decay: 0 }), nine = await device({ trace: 'activity', decay: 0.9 });
    for (const d of [plain, zero, nine]) await online(d, 0, 30);
    const p = await plain.readParams();
    expect(maxDiff(p, await zero.readParams())).toBeLessThan(1e-13);
    expect(maxDiff(p, await nine.readParams())).toBeGreaterThan(1e-6);
  });

  it('the innovation trace recovers the injected noise exactly from activities (no mismatch)', async () => {
    const dev = await device({ trace: 'innovation', decay: 0.9 });
    await online(dev, 0, 5);
    const K = 4, t0 = 5, s = task.train;
    await dev.run({ steps: K, t0, inputs: s.inputs.subarray(t0 * B, (t0 + K) * B), noisy: true });
    const tr = (dev as unknown as { trace: { da: Float64Array; dy: Float64Array } }).trace;
    let worst = 0;
    for (let k = 0; k < K; k++)
      for (let b = 0; b < B; b++) {
        const kn = key(5, STREAM_NOISE, b, t0 + k);
        for (let i = 0; i < H; i++) worst = Math.max(worst, Math.abs(tr.da[(k * B + b) * H + i] - gauss(1e-3, kn, i)));
        worst = Math.max(worst, Math.abs(tr.dy[k * B + b] - gauss(1e-3, kn, H)));
      }
    expect(worst).toBeLessThan(1e-12); // sigma is 1e-3: a broken recovery is off by ~1e-4
  });

  it('traces are part of readState/writeState: a replay from a checkpoint is bit-exact, a state without them zeroes them', async () => {
    const dev = await device({ trace: 'innovation', decay: 0.9 });
    await online(dev, 0, 10);
    const params = await dev.readParams(), state = await dev.readState();
    expect(state.eligibility!.r.some((x) => x !== 0)).toBe(true);
    await online(dev, 10, 10);
    const after = await dev.readParams();
    await dev.writeParams(params);
    await dev.writeState(state);
    await online(dev, 10, 10);
    expect(maxDiff(after, await dev.readParams())).toBe(0);
    await dev.writeParams(params);
    await dev.writeState({ clean: state.clean, noisy: state.noisy });
    expect((await dev.readState()).eligibility!.w.every((x) => x === 0)).toBe(true);
    await online(dev, 10, 10);
    expect(maxDiff(after, await dev.readParams())).toBeGreaterThan(0);
    await dev.resetState();
    expect((await dev.readState()).eligibility!.r.every((x) => x === 0)).toBe(true);
  });

  it('a bad learner is refused naming the field, on the float model and the chip, which stay unconfigured', async () => {
    const dev = new FloatDevice();
    await expect(dev.configure(config({ trace: 'innovation', decay: 1 }))).rejects.toMatchObject({ field: 'learner.decay' });
    await expect(dev.configure(config({ trace: 'eligible' as never, decay: 0.5 }))).rejects.toBeInstanceOf(ConfigError);
    const emu = new EmulatorDevice();
    await expect(emu.configure({ ...config({ trace: 'activity', decay: -0.1 }) })).rejects.toMatchObject({ field: 'learner.decay' });
    await expect(emu.configure({ ...config({ trace: 'eligible' as never, decay: 0.5 }) })).rejects.toMatchObject({ field: 'learner.trace' });
    await expect(emu.readParams()).rejects.toThrow();
  });

  it('the innovation trace points closer to the full BPTT gradient of W and R than plain ANP-T (diagnostics)', async () => {
    const t = makeTask('delayed-recall', { episodes: 2, batch: 4, seed: 1 });
    const s = t.train, K = 20, Hd = 16;
    const sh: RnnShape = { inputs: s.inputSize, hidden: Hd, outputs: 1, activation: 'tanh' };
    const p = xavierNormal(sh, 2);
    const at = (learner?: LearnerConfig) => gradientAlignment(sh, p, 4, new Float64Array(4 * Hd), s.inputs.subarray(0, K * 4 * s.inputSize), s.targets.subarray(0, K * 4), K, { samples: 300, hiddenSigma: 1e-3, learner });
    const plain = await at(), inno = await at({ trace: 'innovation', decay: 0.9 });
    expect(inno.full.r).toBeGreaterThan(plain.full.r + 0.1);
    expect(inno.full.w).toBeGreaterThan(plain.full.w + 0.1);
  });
});

describe('anpt train --trace', () => {
  const run = async (...argv: string[]) => {
    let out = '', err = '';
    const code = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), progress: { write: () => true, isTTY: false } });
    return { code, out, err };
  };
  const small = ['train', '--task', 'mackey-glass', '--steps', '200', '--hidden', '8', '--epochs', '1', '--quiet'];

  for (const backend of ['float', 'emulator'])
  it(`trains on the ${backend === 'float' ? 'float model' : 'chip emulator'}, records the trace in summary and config.json, and --config repeats it bit for bit`, async () => {
    const a = join(TMP, `trace-a-${backend}`), b = join(TMP, `trace-b-${backend}`);
    const r = await run(...small, '--backend', backend, '--trace', 'innovation', '--trace-decay', '0.5', '--lr-v', '0.2', '--json', '--out', a);
    expect(r.code).toBe(0);
    const sum = JSON.parse(r.out);
    expect(sum.config).toMatchObject({ trace: 'innovation', trace_decay: 0.5, readout: 'device', lr: { w: 0.1, r: 0.1, v: 0.2 } });
    const cfg = JSON.parse(readFileSync(join(a, 'config.json'), 'utf8'));
    expect(cfg).toMatchObject({ trace: 'innovation', 'trace-decay': 0.5, 'lr-v': 0.2 });
    const again = await run('train', '--config', join(a, 'config.json'), '--json', '--quiet', '--out', b);
    expect(JSON.parse(again.out).final_test_loss).toBe(sum.final_test_loss);
  }, 30_000);

  it('with defaults but --trace innovation the chip emulator learns (the spectral cap is on with a trace: without it the run diverged at step 168)', async () => {
    const r = await run('train', '--task', 'mackey-glass', '--steps', '2000', '--epochs', '3', '--trace', 'innovation', '--json', '--quiet', '--out', join(TMP, 'trace-defaults'));
    expect(r.code, r.err).toBe(0);
    const sum = JSON.parse(r.out);
    expect(sum).toMatchObject({ status: 'ok', backend: 'emulator' });
    expect(sum.config.spectral_cap).toBe(0.95);
    // measured: 1.80e-3 against 1.82e-2 untrained
    expect(sum.final_test_loss).toBeLessThan(sum.initial_test_loss / 3);
  }, 60_000);

  it('refuses a decay of 1 and a decay without a trace, one line, nothing written', async () => {
    for (const [extra, msg] of [[['--trace', 'activity', '--trace-decay', '1'], /^anpt: --trace-decay: '1' is not below 1/], [['--trace-decay', '0.5'], /^anpt: --trace-decay goes with --trace activity or innovation/]] as const) {
      const out = join(TMP, `refused-${extra.length}`);
      const r = await run(...small, ...extra, '--out', out);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(msg);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(existsSync(out)).toBe(false);
    }
  });
});

describe('host-solved ridge readout', () => {
  it('V is the ridge fit on the trained W and R after every epoch; lr.v is not used', async () => {
    const dev = await device();
    const res = await trainAnpt(dev, task.train, { epochs: 2, lr: { w: 0.05, r: 0.05, v: 1e9 }, readout: 'ridge', test: task.test });
    expect(res.status).toBe('ok');
    const v = (await dev.readParams()).v;
    await fitRidgeReadout(dev, task.train);
    const refit = (await dev.readParams()).v;
    expect(Math.max(...v.map((x, i) => Math.abs(x - refit[i])))).toBeLessThan(1e-12);
    expect(res.epochs.at(-1)!.testMse).toBeCloseTo((await evaluate(dev, task.test)).mse, 12);
  });
});

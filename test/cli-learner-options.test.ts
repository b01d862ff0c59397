// `anpt train`'s research options (src/cli/learner-options.ts): each is refused where it
// has no meaning (exit 2, one line naming the flag, nothing written), and together they
// give, bit for bit, the library call they stand for (so a flag that is not passed on
// changes the weights and fails the test); config.json repeats such a run exactly.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from './cli-run.js';
import { trainAnpt } from '../src/learn/anpt.js';
import { SequenceRewardDevice } from '../src/learn/sequence-reward.js';
import { makeTask } from '../src/tasks/index.js';
import { replicateSequences } from '../src/tasks/replicate.js';
import { initialParams } from '../src/model/rnn.js';

const TMP = mkdtempSync(join(tmpdir(), 'anpt-cli-learner-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

const TASK = ['--task', 'adding', '--episodes', '20', '--batch', '2', '--hidden', '6', '--seed', '7'];
const RECIPE = [...TASK, '--epochs', '2', '--backend', 'float', '--trace', 'innovation', '--readout', 'ridge', '--ridge-every', '30', '--reward', 'sequence',
  '--rms', '0.99', '--rms-clip', '3', '--momentum', '0.9', '--copies', '3', '--output-sigma', '0', '--spectral-every', '10', '--lr-w', '0.01', '--lr-r', '0.02',
  '--schedule', 'cosine', '--no-diagnostics', '--quiet'];

describe('anpt train: research options refused where they mean nothing', () => {
  const cases: [string, string[], RegExp][] = [
    ['--copies with np', ['--algo', 'np', '--copies', '4'], /^anpt: --copies applies to --algo anpt only/],
    ['--rollback with wp', ['--algo', 'wp', '--rollback', '1.05'], /^anpt: --rollback applies to --algo anpt only/],
    ['--rollback below 1', ['--rollback', '0.9'], /^anpt: --rollback: '0.9' is below 1/],
    ['--ridge-every without --readout ridge', ['--ridge-every', '100'], /^anpt: --ridge-every goes with --readout ridge/],
    ['--reward sequence on the emulator', ['--reward', 'sequence'], /^anpt: --reward sequence: runs on the float model only/],
    ['--rms without --reward sequence', ['--backend', 'float', '--rms', '0.999'], /^anpt: --rms goes with --reward sequence/],
    ['--rms-clip without --rms', ['--backend', 'float', '--reward', 'sequence', '--rms-clip', '3'], /^anpt: --rms-clip goes with --rms/],
    ['--momentum out of range', ['--backend', 'float', '--reward', 'sequence', '--momentum', '1'], /^anpt: --momentum: '1' is not a fraction between 0 and 1/],
    ['--spectral-every with the cap off', ['--spectral-cap', '0', '--spectral-every', '10'], /^anpt: --spectral-every goes with a spectral cap/],
    ['--spectral-every with bptt', ['--algo', 'bptt', '--spectral-every', '10'], /^anpt: --spectral-every does not apply to --algo bptt/],
    ['--copies beyond the emulator batch', ['--copies', '200'], /^anpt: --copies: 200 copies of 2 sequences are 400, more than the emulator's 256; use --copies 128 or less/],
    ['--reward sequence with --bias', ['--backend', 'float', '--reward', 'sequence', '--bias'], /^anpt: --reward sequence: does not go with --bias/],
  ];
  for (const [what, flags, message] of cases)
    it(`${what}: exit 2, one line, nothing written`, async () => {
      const out = join(TMP, `refused-${what.replace(/\W+/g, '-')}`);
      const r = await cli('train', ...TASK, ...flags, '--out', out);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(existsSync(out)).toBe(false);
    });
  it('--rollback on weather (one fixed series, no second draw for validation): exit 2, one line, nothing written', async () => {
    const out = join(TMP, 'refused-rollback-weather');
    const r = await cli('train', '--task', 'weather', '--hidden', '6', '--rollback', '1.05', '--out', out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^anpt: --rollback needs a task whose data a seed draws again/);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });
});

describe('anpt train: the research options together', () => {
  it('give the library call they stand for, bit for bit', async () => {
    const r = await cli('train', ...RECIPE, '--out', join(TMP, 'recipe'));
    expect(r.code, r.err).toBe(0);
    const s = readJson(join(TMP, 'recipe', 'summary.json'));
    expect(s.config).toMatchObject({ copies: 3, output_sigma: 0, ridge_every: 30, spectral_every: 10, reward: 'sequence', rms: 0.99, rms_clip: 3, momentum: 0.9 });
    expect(s.config.lr_batch_scale).toMatch(/^none/);
    expect(s.task.batch).toBe(6); // 2 sequences x 3 copies

    const task = makeTask('adding', { batch: 2, seed: 7, episodes: 20 });
    const train = replicateSequences(task.train, 3), test = replicateSequences(task.test, 3);
    const shape = { inputs: 3, hidden: 6, outputs: 1, activation: 'tanh' as const };
    const dev = new SequenceRewardDevice({ rms: 0.99, rmsClip: 3, momentum: 0.9 });
    await dev.configure({ topology: { ...shape, batch: 6 }, noise: { hiddenSigma: 1e-3, outputSigma: 0 }, seed: 7, maxChunkSteps: 200, learner: { trace: 'innovation', decay: 0.9 } });
    await dev.writeParams(initialParams(shape, 7, false));
    const res = await trainAnpt(dev, train, {
      epochs: 2, lr: { w: 0.01, r: 0.02, v: 0.1 }, schedule: { kind: 'cosine' }, readout: 'ridge', ridgeEverySteps: 30, reward: 'sequence', // (with rms the trainer's default batch scale is 'none', as the CLI's)
      spectral: { cap: 0.95, everySteps: 10 }, test,
    });
    expect(res.status).toBe('ok');
    const p = await dev.readParams(), w = readJson(join(TMP, 'recipe', 'weights.json'));
    expect(w.W.flat()).toEqual(Array.from(p.w));
    expect(w.R.flat()).toEqual(Array.from(p.r));
    expect(w.V.flat()).toEqual(Array.from(p.v));
    expect(s.final_test_loss).toBe(res.epochs.at(-1)!.testMse);
  });

  it('config.json repeats the run exactly', async () => {
    const dir = join(TMP, 'recipe'), again = join(TMP, 'again');
    const r = await cli('train', '--config', join(dir, 'config.json'), '--quiet', '--out', again);
    expect(r.code, r.err).toBe(0);
    expect(readJson(join(again, 'config.json'))).toEqual(readJson(join(dir, 'config.json')));
    expect(readJson(join(again, 'weights.json'))).toEqual(readJson(join(dir, 'weights.json')));
  });
});

// The `anpt` command line: real (short) training runs on both backends, the run
// directory's four files, --json, eval reproducing a run's final test loss, and bad
// input that must give one line, a non-zero exit code and no output directory.
// Most cases call runCli in-process (fast); two spawn the real program to check the
// process-level contract (stdout holds only the JSON object; exit codes; no stack trace).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { describeError, EXIT_BY_CODE, EXIT_DEVICE, EXIT_USAGE } from '../src/cli/errors.js';
import { runCli } from '../src/cli/main.js';
import { DeviceError } from '../src/device/errors.js';
import { emulatorChunkFit } from '../src/device/emulator.js';
import { evalChunkSteps } from '../src/cli/limits.js';
import { UsageError } from '../src/errors.js';
import { ConfigError } from '../src/format/fixed.js';
import { targetVariance, zeroOutputMse } from '../src/learn/evaluate.js';
import { spectralRadius } from '../src/linalg/spectral.js';
import { LinkError } from '../src/link/transport.js';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';
import { SweepDirError } from '../src/sweep/results.js';
import { TaskError } from '../src/tasks/errors.js';
import { DEFAULT_GAINS, DEFAULT_RADII } from '../src/learn/reservoir.js';
import { makeTask } from '../src/tasks/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const TMP = mkdtempSync(join(tmpdir(), 'anpt-cli-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

/** Run the CLI in-process; stdout, stderr (messages and progress) captured. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), progress: { write: (s: string) => (err += s), isTTY: false } });
  return { code, out, err };
}

/** Run the real program (node + tsx), as a user would. */
function spawnCli(...argv: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...argv], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
const lines = (s: string) => s.split('\n').filter((l) => l !== '');

/** metrics.csv as rows of named values (empty cells NaN). */
function readMetrics(dir: string): Record<string, number>[] {
  const [head, ...rows] = lines(readFileSync(join(dir, 'metrics.csv'), 'utf8')).map((l) => l.split(','));
  return rows.map((r) => Object.fromEntries(head.map((h, k) => [h, r[k] === '' ? NaN : Number(r[k])])));
}

/** Nothing but `name` (if given) in the parent: no temporary siblings left behind. */
function expectCleanParent(parent: string, name?: string): void {
  expect(readdirSync(parent).filter((f) => f.startsWith('.'))).toEqual([]);
  if (name) expect(existsSync(join(parent, name))).toBe(true);
}

const MG_SMALL = ['--task', 'mackey-glass', '--steps', '300', '--hidden', '16', '--epochs', '2'];

describe('anpt train', () => {
  it('--spectral-cap keeps the spectral radius of R at the cap', async () => {
    const dir = join(TMP, 'cap');
    const r = await cli('train', '--task', 'mackey-glass', '--steps', '300', '--hidden', '12', '--epochs', '2', '--spectral-cap', '0.8', '--out', dir, '--quiet');
    expect(r.code, r.err).toBe(0);
    // metrics.csv has the warm-started per-epoch estimate (within 1 % of the cold one the
    // trainer caps with); the saved R itself, estimated cold, is at the cap
    for (const row of readMetrics(dir).slice(1)) expect(row.spectral_radius).toBeLessThanOrEqual(0.8 * 1.01);
    const w = readJson(join(dir, 'weights.json'));
    expect(spectralRadius(Float64Array.from(w.R.flat()), 12)).toBeLessThanOrEqual(0.8 + 1e-9);
    expect(readJson(join(dir, 'summary.json')).config.spectral_cap).toBe(0.8);
  });

  it('--hidden 4096 --batch 32 trains on the emulator: evaluation chunks sized from its memory, not a fixed 1000 steps', async () => {
    // 1000 steps of traces at this size need 1067 MiB, past the emulator's 1023 MiB
    const shape = { inputs: 1, hidden: 4096, outputs: 1, batch: 32 };
    const k = evalChunkSteps('emulator', shape, 5015);
    expect(k).toBeGreaterThan(500);
    expect(k).toBeLessThan(1000);
    expect(emulatorChunkFit(1, 4096, 1, 32, k + 1)).toBe(k);
    expect(evalChunkSteps('float', shape, 5015)).toBe(1000);
    const dir = join(TMP, 'h4096');
    const r = await cli('train', '--task', 'mackey-glass', '--hidden', '4096', '--batch', '32', '--steps', '5', '--epochs', '1', '--no-diagnostics', '--out', dir, '--quiet');
    expect(r.code, r.err).toBe(0);
    expect(readMetrics(dir)[1].train_loss).toBeGreaterThan(0);
  });

  // on the chip (with a trace) the cosines are those of the float twin at the chip's weights
  for (const extra of [['--backend', 'float'], ['--trace', 'innovation']])
  it(`logs the spectral radius of R and the cosine of the update to the BPTT gradient per epoch (${extra.join(' ')})`, async () => {
    const dir = join(TMP, `diag${extra[1]}`);
    const r = await cli('train', '--task', 'mackey-glass', '--steps', '300', '--hidden', '12', '--epochs', '2', ...extra, '--out', dir, '--quiet');
    expect(r.code, r.err).toBe(0);
    const m = readMetrics(dir);
    expect(Object.keys(m[0])).toEqual(['epoch', 'train_loss', 'test_loss', 'seconds', 'spectral_radius', 'cos_window1', 'cos_full']);
    // the last epoch's radius is that of the R the run saved (warm-started: within 1 % of a cold estimate)
    const R = Float64Array.from(readJson(join(dir, 'weights.json')).R.flat());
    expect(Math.abs(m[2].spectral_radius / spectralRadius(R, 12, { iterations: 4000 }) - 1)).toBeLessThan(0.01);
    for (const row of m.slice(1)) {
      expect(row.spectral_radius).toBeGreaterThan(0.1);
      expect(Math.abs(row.cos_window1)).toBeGreaterThan(0);
      expect(Math.abs(row.cos_window1)).toBeLessThanOrEqual(1);
      expect(Math.abs(row.cos_full)).toBeLessThanOrEqual(1);
    }
  });

  for (const backend of ['emulator', 'float'] as const) {
    it(`${backend}: a short Mackey-Glass run writes metrics.csv, summary.json, weights.json and loss.svg with sane content`, async () => {
      const parent = join(TMP, `train-${backend}`);
      const dir = join(parent, 'run');
      const r = await cli('train', ...MG_SMALL, '--backend', backend, '--out', dir);
      expect(r.code, r.err).toBe(0);
      expect(readdirSync(dir).sort()).toEqual(['config.json', 'loss.svg', 'metrics.csv', 'summary.json', 'weights.json']);
      expectCleanParent(parent, 'run');
      expect(r.out).toMatch(/^final test MSE .* x the zero-output MSE/m);
      expect(r.err).toMatch(/^epoch 2\/2 +train MSE/m); // not a TTY: plain epoch lines on stderr

      const m = readMetrics(dir);
      expect(m.map((row) => row.epoch)).toEqual([0, 1, 2]);
      for (const row of m.slice(1)) expect(row.train_loss).toBeGreaterThan(0);
      const s = readJson(join(dir, 'summary.json'));
      // per-epoch times: each within the run's wall time, and their mean is seconds_per_epoch
      // (metrics.csv keeps milliseconds)
      for (const row of m.slice(1)) expect(row.seconds).toBeLessThanOrEqual(s.seconds);
      expect(Math.abs((m[1].seconds + m[2].seconds) / 2 - s.seconds_per_epoch)).toBeLessThan(1e-3);
      const pkg = readJson(join(ROOT, 'package.json'));
      expect(s).toMatchObject({
        anpt_version: pkg.version, status: 'ok', algo: 'anpt', backend,
        task: { name: 'mackey-glass/recall-15', train_steps: 300, batch: 10, spec: { name: 'mackey-glass', options: { steps: 300, horizon: 15, mode: 'recall', seed: 42 } } },
        config: { hidden: 16, epochs: 2, lr: { w: 0.1, r: 0.1, v: 0.1 }, lr_schedule: 'cosine', sigma: 1e-3, chunk_steps: 1, seed: 42 },
        epochs_run: 2,
      });
      expect(s.command).toBe(`anpt train ${MG_SMALL.join(' ')} --backend ${backend} --out ${dir}`);
      expect(s.final_test_loss).toBe(m[2].test_loss);
      expect(s.initial_test_loss).toBe(m[0].test_loss);
      expect(s.best_test_loss).toBe(Math.min(m[1].test_loss, m[2].test_loss));
      expect(s.final_test_loss).toBeLessThan(s.initial_test_loss / 3); // it learned: 3x below the untrained network (seeded: ~0.2x)
      expect(s.zero_output_test_loss).toBe(zeroOutputMse(mackeyGlassTask({ steps: 300, batch: 10 }).test));
      expect(s.final_test_loss_vs_zero_output).toBeCloseTo(s.final_test_loss / s.zero_output_test_loss, 12);
      expect(s.seconds_per_epoch).toBeGreaterThan(0);
      expect(s.steps_per_second).toBeCloseTo(300 / s.seconds_per_epoch, 6); // 300 steps per epoch

      const w = readJson(join(dir, 'weights.json'));
      expect(w.topology).toEqual({ inputs: 1, hidden: 16, outputs: 1, activation: 'tanh' });
      expect([w.W.length, w.W[0].length, w.R.length, w.R[0].length, w.V.length, w.V[0].length]).toEqual([16, 1, 16, 16, 1, 16]);
      if (backend === 'emulator') {
        expect(s.config.formats.weight).toMatchObject({ name: 'Q2.13', bits: 16, frac: 13 });
        expect(w.formats.weight).toMatchObject({ bits: 16, frac: 13, signed: true });
        for (const row of w.R) for (const x of row) expect(Number.isInteger(x * 2 ** 13)).toBe(true); // exact codes
      } else {
        expect(w.formats).toBeUndefined();
        expect(s.config.formats).toBeUndefined();
      }

      const svg = readFileSync(join(dir, 'loss.svg'), 'utf8');
      expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      const pts = [...svg.matchAll(/<circle class="point"[^>]*data-series="([^"]*)" data-x="([^"]*)" data-y="([^"]*)"/g)];
      expect(pts.filter((p) => p[1] === 'test').map((p) => Number(p[3]))).toEqual(m.map((row) => row.test_loss));
      expect(pts.filter((p) => p[1] === 'train (running)').map((p) => Number(p[3]))).toEqual([m[1].train_loss, m[2].train_loss]);
      expect(pts).toHaveLength(3 + 2 + 2); // test, train, zero-output level

      // eval of the saved weights reproduces the run's final test loss, bit for bit
      const e = await cli('eval', '--weights', dir, '--json');
      expect(e.code, e.err).toBe(0);
      const ev = JSON.parse(e.out);
      expect(ev.test_loss).toBe(s.final_test_loss);
      expect(ev.backend).toBe(backend);
      expect(ev.zero_output_test_loss).toBe(s.zero_output_test_loss);
    });
  }

  it('--json prints exactly one JSON object on stdout (the summary), progress only on stderr', () => {
    const dir = join(TMP, 'json', 'run');
    const r = spawnCli('train', ...MG_SMALL, '--out', dir, '--json');
    expect(r.code, r.err).toBe(0);
    expect(lines(r.out)).toHaveLength(1);
    const s = JSON.parse(r.out);
    expect(s).toEqual(readJson(join(dir, 'summary.json')));
    expect(r.err).toMatch(/^epoch 1\/2 /m);
  });

  it('np, wp, bptt, reservoir (float) and chunked readout-only 8-bit ANP-T run, and eval reproduces each', async () => {
    const runs: [string, string[]][] = [
      ['np', ['--algo', 'np', '--epochs', '1']],
      ['wp', ['--algo', 'wp', '--epochs', '1']],
      ['bptt', ['--algo', 'bptt', '--epochs', '1', '--bptt-window', '10']],
      ['reservoir-float', ['--algo', 'reservoir', '--backend', 'float']],
      ['anpt-chunked', ['--epochs', '1', '--chunk', '25', '--readout-only', '--schedule', 'constant', '--weight-bits', '8']],
    ];
    for (const [name, flags] of runs) {
      const dir = join(TMP, 'algos', name);
      const r = await cli('train', '--task', 'mackey-glass', '--steps', '200', '--hidden', '12', ...flags, '--out', dir, '--quiet');
      expect(r.code, `${name}: ${r.err}`).toBe(0);
      expect(r.err).toBe('');
      const s = readJson(join(dir, 'summary.json'));
      expect(s.status).toBe('ok');
      expect(Number.isFinite(s.final_test_loss)).toBe(true);
      const e = await cli('eval', '--weights', dir, '--json');
      expect(JSON.parse(e.out).test_loss, name).toBe(s.final_test_loss);
    }
    const ro = readJson(join(TMP, 'algos', 'anpt-chunked', 'summary.json'));
    expect(ro.config).toMatchObject({ chunk_steps: 25, readout_only: true, lr: { w: 0, r: 0, v: 0.1 }, formats: { weight: { name: 'Q1.6', rounding: 'stochastic' } } });
    // the ridge fit keeps the lambda of least validation MSE among the nine defaults
    const ridge = readJson(join(TMP, 'algos', 'reservoir-float', 'summary.json')).config;
    const table = ridge.ridge_validation as { lambda: number; validationMse: number }[];
    expect(table.map((t) => t.lambda)).toEqual([1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1]);
    expect(ridge.ridge_lambda).toBe(table.reduce((a, t) => (t.validationMse < a.validationMse ? t : a)).lambda);
  });

  it('reservoir tunes the radius of R and the gain of W on the train tail by default; the new tasks train; NRMSE in the summary', async () => {
    const tuned = join(TMP, 'res-tuned'), fixed = join(TMP, 'res-fixed'), adding = join(TMP, 'adding');
    const base = ['train', '--task', 'delayed-recall', '--episodes', '30', '--hidden', '12', '--algo', 'reservoir', '--backend', 'float', '--quiet'];
    expect((await cli(...base, '--out', tuned)).code).toBe(0);
    const s = readJson(join(tuned, 'summary.json'));
    expect(s.task.name).toBe('delayed-recall/len10');
    expect(s.config.reservoir_validation).toHaveLength(DEFAULT_RADII.length * DEFAULT_GAINS.length);
    const best = s.config.reservoir_validation.reduce((a: { validationMse: number }, b: { validationMse: number }) => (b.validationMse < a.validationMse ? b : a));
    expect([s.config.reservoir_radius, s.config.reservoir_gain]).toEqual([best.radius, best.gain]);
    const task = makeTask('delayed-recall', { episodes: 30, batch: 10, seed: 42 });
    expect(s.final_test_nrmse).toBeCloseTo(Math.sqrt(s.final_test_loss / targetVariance(task.test)), 12);
    expect((await cli(...base, '--radius', 'init', '--input-gain', '1', '--out', fixed)).code).toBe(0);
    const f = readJson(join(fixed, 'summary.json'));
    expect([f.config.reservoir_radius, f.config.reservoir_gain, f.config.reservoir_validation.length]).toEqual([undefined, 1, 1]);
    const bad = await cli('train', '--task', 'adding', '--radius', '0.5', '--out', join(TMP, 'res-bad'));
    expect([bad.code, bad.err]).toEqual([2, 'anpt: --radius applies to --algo reservoir only; remove it\n']);
    expect(existsSync(join(TMP, 'res-bad'))).toBe(false);
    const r = await cli('train', '--task', 'adding', '--episodes', '20', '--hidden', '8', '--epochs', '1', '--backend', 'float', '--out', adding, '--quiet');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/NRMSE \d\.\d{3}/);
    expect(readJson(join(adding, 'summary.json')).task).toMatchObject({ name: 'adding/len10', inputs: 3, outputs: 1, train_steps: 200 });
  });

  it('copy task: metric columns; CSV task: normalisation saved and eval on the same file reproduces the loss', async () => {
    const copyDir = join(TMP, 'copy');
    expect((await cli('train', '--task', 'copy', '--copy-length', '5', '--copy-delay', '2', '--hidden', '8', '--epochs', '1', '--out', copyDir, '--quiet')).code).toBe(0);
    expect(readJson(join(copyDir, 'summary.json')).config).toMatchObject({ chunk_steps: 12, epochs: 1 }); // two-pass: one chunk per 12-step sequence
    const m = readMetrics(copyDir);
    expect(Object.keys(m[0])).toEqual(['epoch', 'train_loss', 'test_loss', 'seconds', 'test_wrong_bits', 'test_recall_accuracy', 'spectral_radius', 'cos_window1', 'cos_full']);
    // the metrics are those of the final weights: eval on a fresh device gives the same,
    // and recall accuracy counts whole recall steps (5 symbols x 10 sequences of the test set)
    const copyEval = JSON.parse((await cli('eval', '--weights', copyDir, '--json')).out);
    expect(copyEval.test_metrics).toEqual({ wrong_bits: m[1].test_wrong_bits, recall_accuracy: m[1].test_recall_accuracy });
    expect(readJson(join(copyDir, 'summary.json')).test_metrics).toEqual(copyEval.test_metrics);
    const recalled = m[1].test_recall_accuracy * 50;
    expect(recalled).toBeCloseTo(Math.round(recalled), 9);
    expect(m[1].test_recall_accuracy).toBeLessThanOrEqual(1);

    const csv = join(TMP, 'series.csv');
    const rows = ['time,a,b,c', ...Array.from({ length: 240 }, (_, t) => `${t},${Math.sin(t / 5)},${Math.cos(t / 7)},${10 + 5 * Math.sin((t + 1) / 5)}`)];
    writeFileSync(csv, rows.join('\n') + '\n');
    const dir = join(TMP, 'csv');
    const r = await cli('train', '--task', 'csv', '--data', csv, '--inputs', 'a,b', '--targets', 'c', '--hidden', '8', '--epochs', '2', '--out', dir, '--quiet');
    expect(r.code, r.err).toBe(0);
    const w = readJson(join(dir, 'weights.json'));
    expect(w.normalisation.columns).toEqual(['a', 'b', 'c']);
    expect(w.task.options).toMatchObject({ file: csv, inputs: ['a', 'b'], targets: ['c'], split: 0.8, horizon: 1 });
    const e = await cli('eval', '--weights', dir);
    expect(e.out).toMatch(/^test MSE /);
    expect(e.out).toContain(readJson(join(dir, 'summary.json')).final_test_loss.toExponential(3));
  });

  it('a diverged run writes its directory with status "diverged" and exits 1', async () => {
    const dir = join(TMP, 'diverged');
    const r = await cli('train', '--task', 'mackey-glass', '--steps', '200', '--hidden', '12', '--algo', 'anpt', '--backend', 'float', '--lr', '1000', '--out', dir, '--quiet');
    expect(r.code).toBe(1);
    expect(lines(r.err)).toHaveLength(1);
    expect(r.err).toMatch(/^anpt: the run diverged: .*lower the learning rates/);
    expect(readJson(join(dir, 'summary.json'))).toMatchObject({ status: 'diverged' });
  });

  it('refuses an existing non-empty --out; --force replaces an earlier run, nothing else', async () => {
    const dir = join(TMP, 'existing');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'keep.txt'), 'x');
    const r = await cli('train', ...MG_SMALL, '--out', dir);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^anpt: --out: .* exists and is not empty; .*--force/);
    expect(readdirSync(dir)).toEqual(['keep.txt']);
    const f = await cli('train', ...MG_SMALL, '--out', dir, '--force'); // --force replaces only an earlier run
    expect(f.code).toBe(2);
    expect(f.err).toMatch(/^anpt: --out: .* is not an anpt run directory/);
    rmSync(join(dir, 'keep.txt'));
    expect((await cli('train', ...MG_SMALL, '--out', dir, '--quiet')).code).toBe(0); // an empty directory is fine
    const again = await cli('train', ...MG_SMALL, '--epochs', '1', '--out', dir, '--force', '--quiet');
    expect(again.code, again.err).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['config.json', 'loss.svg', 'metrics.csv', 'summary.json', 'weights.json']);
    expect(readJson(join(dir, 'summary.json')).epochs_run).toBe(1);
    expectCleanParent(TMP);
  });
});

describe('bad input: one line naming the problem and what to do, exit 2, no output directory', () => {
  const csv = join(ROOT, 'data', 'WTH.csv');
  const cases: [string, string[], RegExp][] = [
    ['unknown task', ['--task', 'mackey'], /^anpt: --task: 'mackey' is not one of mackey-glass, copy, weather, csv, adding, delayed-recall; e\.g\. --task mackey-glass$/],
    ['unknown algo', ['--task', 'mackey-glass', '--algo', 'sgd'], /^anpt: --algo: 'sgd' is not one of anpt, np, wp, bptt, reservoir/],
    ['negative hidden', ['--task', 'mackey-glass', '--hidden', '-3'], /^anpt: --hidden: '-3' is not a positive integer; e\.g\. --hidden 100$/],
    ['non-numeric lr', ['--task', 'mackey-glass', '--lr', 'abc'], /^anpt: --lr: 'abc' is not a number >= 0; e\.g\. --lr 0\.1$/],
    ['missing data file', ['--task', 'csv', '--data', '/no/such/file.csv', '--inputs', 'a', '--targets', 'b'], /^anpt: data file '\/no\/such\/file\.csv' not found; check the path$/],
    ['bad input column', ['--task', 'csv', '--data', csv, '--inputs', 'Visibility,Nope', '--targets', 'DryBulbFarenheit'], /^anpt: --inputs: data file 'WTH\.csv' has no column 'Nope'; available columns: 'date', 'Visibility'/],
    ['np on the emulator', ['--task', 'mackey-glass', '--algo', 'np', '--backend', 'emulator'], /^anpt: --algo np needs --backend float: .*cannot report; use --backend float/],
    ['format flag on float', ['--task', 'mackey-glass', '--backend', 'float', '--weight-bits', '8'], /^anpt: --weight-bits applies to --backend emulator only/],
    ['flag of another task', ['--task', 'copy', '--steps', '300'], /^anpt: --steps applies to --task mackey-glass only, not copy; remove it$/],
    ['weight bits out of range', ['--task', 'mackey-glass', '--weight-bits', '17'], /^anpt: --weight-bits \(weightBits\): 17 is out of range; allowed 2\.\.16$/],
    ['noise too large for the chip', ['--task', 'mackey-glass', '--steps', '50', '--sigma', '5'], /^anpt: --sigma \(noise\.hiddenSigma\): 5 is 20480 LSBs/],
    ['csv without columns', ['--task', 'csv', '--data', csv], /^anpt: --task csv needs --inputs/],
    ['unknown option', ['--task', 'mackey-glass', '--hiden', '3'], /^anpt: unknown option '--hiden' \(Did you mean --hidden\?\); see anpt train --help$/],
  ];
  for (const [name, argv, message] of cases) {
    it(name, async () => {
      const parent = join(TMP, 'bad', name.replace(/\W+/g, '-'));
      mkdirSync(parent, { recursive: true });
      const r = await cli('train', ...argv, '--out', join(parent, 'run'));
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(lines(r.err)).toHaveLength(1);
      expect(r.err.trimEnd()).toMatch(message);
      expect(readdirSync(parent)).toEqual([]);
    });
  }

  it('missing --out, --task; eval without weights', async () => {
    expect((await cli('train', '--task', 'mackey-glass')).err).toMatch(/^anpt: --out is required: .*; e\.g\. --out runs\/mg-1\n$/);
    expect((await cli('train', '--out', join(TMP, 'x'))).err).toMatch(/^anpt: --task is required: one of mackey-glass/);
    const e = await cli('eval', '--weights', join(TMP, 'nothing-here'));
    expect(e.code).toBe(2);
    expect(e.err).toMatch(/^anpt: --weights: no weights\.json in '.*nothing-here'; give a directory written by anpt train --out\n$/);
    expect(existsSync(join(TMP, 'x'))).toBe(false);
  });

  it('the real program: exit code 2, one line, no stack trace', () => {
    const r = spawnCli('train', '--task', 'mackey-glass', '--hidden', 'abc', '--out', join(TMP, 'spawned'));
    expect(r.code).toBe(2);
    expect(r.err).toBe("anpt: --hidden: 'abc' is not a positive integer; e.g. --hidden 100\n");
    expect(r.out).toBe('');
    expect(existsSync(join(TMP, 'spawned'))).toBe(false);
  });

  it('--help lists the commands and exits 0', async () => {
    const h = await cli('--help');
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/train \[options\]/);
    expect(h.out).toMatch(/eval \[options\]/);
    const t = await cli('train', '--help');
    expect(t.code).toBe(0);
    expect(t.out).toMatch(/--bptt-window/);
    // every help ends with what each exit code means
    for (const help of [h.out, t.out, (await cli('sweep', '--help')).out, (await cli('device', 'info', '--help')).out])
      expect(help).toMatch(/Exit codes:\n {2}0 {2}success\n {2}1 .*diverged.*\n.*internal error.*\n {2}2 {2}bad input.*\n {2}3 {2}the device or the link failed/);
  });
});

describe('exit codes: one meaning each, by error code', () => {
  it('bad input is 2, a device or link failure 3, anything unexpected 1', () => {
    const exit = (err: unknown) => describeError(err).exitCode;
    expect(exit(new UsageError('--x: bad'))).toBe(2);
    expect(exit(new ConfigError('topology.hidden', 'must be >= 1'))).toBe(2);
    expect(exit(new TaskError('FILE_NOT_FOUND', 'no file'))).toBe(2);
    expect(exit(new SweepDirError('--out d: another grid'))).toBe(2);
    expect(exit(new DeviceError('BAD_INPUT', 'reward is NaN'))).toBe(2);
    expect(exit(new DeviceError('CONFIG_OUT_OF_RANGE', 'H too large'))).toBe(2);
    for (const code of ['TIMEOUT', 'LINK', 'INTERNAL', 'NOT_CONFIGURED', 'NO_PENDING_CHUNK', 'UNSUPPORTED_VERSION'] as const)
      expect(exit(new DeviceError(code, 'x')), code).toBe(3);
    expect(exit(new LinkError('DEADLINE_EXCEEDED', 'no reply in 2 s'))).toBe(3);
    expect(exit(new LinkError('UNAVAILABLE', 'closed'))).toBe(3);
    expect(exit(new Error('bug'))).toBe(1);
    expect(EXIT_BY_CODE.USAGE).toBe(EXIT_USAGE);
    expect(EXIT_BY_CODE.LINK).toBe(EXIT_DEVICE);
    // the one line names the message as given
    expect(describeError(new LinkError('UNAVAILABLE', 'tcp://h:1: closed')).line).toBe('tcp://h:1: closed');
  });
});

// anpt train --bias (issue 11): off by default; on, the weights file carries b and c and eval reproduces the run, for every learner.
describe('anpt train --bias', () => {
  it('writes b and c to weights.json (emulator, float, bptt, reservoir) and eval reproduces the final test loss; without it no biases', async () => {
    const runs: [string, string[]][] = [
      ['emulator', ['--backend', 'emulator', '--epochs', '1']],
      ['float', ['--backend', 'float', '--epochs', '1']],
      ['bptt', ['--algo', 'bptt', '--epochs', '1', '--bptt-window', '10']],
      ['reservoir', ['--algo', 'reservoir', '--backend', 'float']],
    ];
    for (const [name, flags] of runs) {
      const dir = join(TMP, 'bias', name);
      const r = await cli('train', '--task', 'mackey-glass', '--steps', '200', '--hidden', '12', '--bias', ...flags, '--out', dir, '--quiet');
      expect(r.code, `${name}: ${r.err}`).toBe(0);
      const w = readJson(join(dir, 'weights.json'));
      expect(w.topology.bias, name).toBe(true);
      expect(w.b).toHaveLength(12);
      expect(w.c).toHaveLength(1);
      expect(w.c[0], `${name}: c learnt`).not.toBe(0);
      expect(readJson(join(dir, 'config.json')).bias).toBe(true);
      const s = readJson(join(dir, 'summary.json'));
      const e = await cli('eval', '--weights', dir, '--json');
      expect(e.code, e.err).toBe(0);
      expect(JSON.parse(e.out).test_loss, name).toBe(s.final_test_loss);
    }
    const off = join(TMP, 'bias', 'off');
    expect((await cli('train', '--task', 'mackey-glass', '--steps', '200', '--hidden', '12', '--epochs', '1', '--out', off, '--quiet')).code).toBe(0);
    const w = readJson(join(off, 'weights.json'));
    expect(w.topology.bias).toBeUndefined();
    expect(w.b).toBeUndefined();
  });
});

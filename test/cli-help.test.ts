// Every subcommand's --help is true: each flag it lists is accepted and acts (for
// train, the resolved value lands in config.json; for sweep, in the grid), every flag
// listed has a case here (a new flag without one fails), and each default the help
// prints is the value a run without the flag uses.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.js';
import { gridFromFlags } from '../src/cli/sweep-command.js';
import { PROGRESS_INTERVAL_SECONDS } from '../src/cli/progress.js';

const TMP = mkdtempSync(join(tmpdir(), 'anpt-help-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), progress: { write: (s: string) => (err += s), isTTY: false } });
  return { code, out, err };
}

/** The options of a --help text: flag -> description (wrapped lines joined). */
async function helpFlags(...cmd: string[]): Promise<Map<string, string>> {
  const r = await cli(...cmd, '--help');
  expect(r.code, `${cmd.join(' ')} --help`).toBe(0);
  if (cmd.length === 1) {
    // `anpt help <command>` is the same text, exit 0
    const viaHelp = await cli('help', ...cmd);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.out).toBe(r.out);
  }
  const flags = new Map<string, string>();
  let last: string | undefined;
  for (const line of r.out.slice(r.out.indexOf('Options:')).split('\n').slice(1)) {
    const m = /^ {2}(?:-\w, )?(--[\w-]+)(?: <[^>]+>)?\s+(.*)$/.exec(line);
    if (m) {
      last = m[1];
      flags.set(last, m[2]);
    } else if (last && /^\s{6,}\S/.test(line)) flags.set(last, `${flags.get(last)} ${line.trim()}`);
    else if (!line.trim()) break;
  }
  flags.delete('--help');
  flags.delete('--version');
  return flags;
}

/** The printed default of a flag: "(default X" or "default X," -> X; undefined for "default: the run's" and the like. */
function printedDefault(text: string, list = false): string | undefined {
  return (list ? /\(default ([^\s;)]+)/ : /\(?default ([^\s;,)]+)/).exec(text)?.[1];
}

let csv: string;
beforeAll(() => {
  csv = join(TMP, 'series.csv');
  writeFileSync(csv, `a,b,c\n${Array.from({ length: 200 }, (_, t) => `${Math.sin(t / 5)},${Math.cos(t / 7)},${Math.sin((t - 1) / 5)}`).join('\n')}\n`);
});

const MG = ['--task', 'mackey-glass', '--steps', '60', '--hidden', '6', '--batch', '2', '--epochs', '1', '--quiet'];
const EPISODES = ['--task', 'adding', '--episode', '5', '--episodes', '4', '--hidden', '6', '--batch', '2', '--epochs', '1', '--quiet'];
const RESERVOIR = ['--task', 'mackey-glass', '--steps', '60', '--hidden', '6', '--batch', '2', '--algo', 'reservoir', '--quiet'];
const COPY = ['--task', 'copy', '--copy-length', '5', '--copy-delay', '2', '--hidden', '6', '--batch', '2', '--epochs', '1', '--quiet'];

describe('anpt train --help', () => {
  /** flag -> [arguments of a run that uses it, the config.json key and value it must produce, or the expected failure] */
  const cases = (): Record<string, { args: string[]; config?: [string, unknown]; fails?: RegExp; code?: number }> => ({
    '--algo': { args: [...MG, '--algo', 'np'], config: ['algo', 'np'] },
    '--backend': { args: [...MG, '--backend', 'float'], config: ['backend', 'float'] },
    '--device': { args: [...MG, '--device', 'tcp://127.0.0.1:1'], fails: /nothing listens there/, code: 3 },
    '--port': { args: [...MG, '--port', join(TMP, 'no-such-port')], fails: /^anpt: .*no-such-port/, code: 3 },
    '--baud': { args: [...MG, '--port', join(TMP, 'no-such-port'), '--baud', 'x'], fails: /^anpt: --baud: 'x' is not a positive integer/ },
    '--checkpoint-dir': { args: [...MG, '--checkpoint-dir', TMP], fails: /^anpt: --checkpoint-dir applies to a board/ },
    // the link flags act on a board (test/cli-link-faults.test.ts, test/cli-resume.test.ts); here: parsed, and refused without one
    '--link-timeout': { args: [...MG, '--link-timeout', '100'], fails: /^anpt: --link-timeout applies to a board/ },
    '--link-budget': { args: [...MG, '--link-budget', '5'], fails: /^anpt: --link-budget applies to a board/ },
    '--take-over': { args: [...MG, '--take-over'], fails: /^anpt: --take-over applies to a board/ },
    '--resume': { args: [...MG, '--resume', join(TMP, 'no-run')], fails: /^anpt: --resume: .*run-state\.json does not exist/ },
    '--task': { args: MG, config: ['task', 'mackey-glass'] },
    '--batch': { args: MG, config: ['batch', 2] },
    '--steps': { args: MG, config: ['steps', 60] },
    '--mg-mode': { args: [...MG, '--mg-mode', 'forecast'], config: ['mg-mode', 'forecast'] },
    '--horizon': { args: [...MG, '--horizon', '3'], config: ['horizon', 3] },
    '--copy-length': { args: COPY, config: ['copy-length', 5] },
    '--copy-delay': { args: COPY, config: ['copy-delay', 2] },
    '--episode': { args: EPISODES, config: ['episode', 5] },
    '--episodes': { args: EPISODES, config: ['episodes', 4] },
    '--radius': { args: [...RESERVOIR, '--radius', '0.5,0.9'], config: ['radius', '0.5,0.9'] },
    '--input-gain': { args: [...RESERVOIR, '--input-gain', '2'], config: ['input-gain', '2'] },
    '--data': { args: ['--task', 'csv', '--data', csv, '--inputs', 'a,b', '--targets', 'c', '--hidden', '6', '--epochs', '1', '--quiet'], config: ['data', csv] },
    '--inputs': { args: ['--task', 'csv', '--data', csv, '--inputs', 'a', '--targets', 'c', '--hidden', '6', '--epochs', '1', '--quiet'], config: ['inputs', 'a'] },
    '--targets': { args: ['--task', 'csv', '--data', csv, '--inputs', 'a', '--targets', 'b,c', '--hidden', '6', '--epochs', '1', '--quiet'], config: ['targets', 'b,c'] },
    '--split': { args: ['--task', 'csv', '--data', csv, '--inputs', 'a', '--targets', 'c', '--split', '0.7', '--hidden', '6', '--epochs', '1', '--quiet'], config: ['split', 0.7] },
    '--hidden': { args: MG, config: ['hidden', 6] },
    '--epochs': { args: MG, config: ['epochs', 1] },
    '--lr': { args: [...MG, '--lr', '0.05'], config: ['lr', 0.05] },
    '--schedule': { args: [...MG, '--schedule', 'constant'], config: ['schedule', 'constant'] },
    '--sigma': { args: [...MG, '--sigma', '0.002'], config: ['sigma', 0.002] },
    '--chunk': { args: [...MG, '--chunk', '5'], config: ['chunk', 5] },
    '--threads': { args: [...MG, '--threads', '2'], config: ['threads', 2] },
    '--readout-only': { args: [...MG, '--readout-only'], config: ['readout-only', true] },
    '--lr-w': { args: [...MG, '--lr-w', '0.2'], config: ['lr-w', 0.2] },
    '--lr-r': { args: [...MG, '--lr-r', '0.2'], config: ['lr-r', 0.2] },
    '--lr-v': { args: [...MG, '--lr-v', '0.2'], config: ['lr-v', 0.2] },
    '--trace': { args: [...MG, '--backend', 'float', '--trace', 'innovation'], config: ['trace', 'innovation'] },
    '--trace-decay': { args: [...MG, '--backend', 'float', '--trace', 'activity', '--trace-decay', '0.5'], config: ['trace-decay', 0.5] },
    '--readout': { args: [...MG, '--readout', 'ridge'], config: ['readout', 'ridge'] },
    '--spectral-cap': { args: [...MG, '--spectral-cap', '0.9'], config: ['spectral-cap', 0.9] },
    '--spectral-every': { args: [...MG, '--backend', 'float', '--spectral-every', '10'], config: ['spectral-every', 10] },
    '--copies': { args: [...EPISODES, '--copies', '2'], config: ['copies', 2] },
    '--output-sigma': { args: [...EPISODES, '--output-sigma', '0'], config: ['output-sigma', 0] },
    '--ridge-every': { args: [...EPISODES, '--readout', 'ridge', '--ridge-every', '10'], config: ['ridge-every', 10] },
    '--reward': { args: [...EPISODES, '--backend', 'float', '--reward', 'sequence'], config: ['reward', 'sequence'] },
    '--rms': { args: [...EPISODES, '--backend', 'float', '--reward', 'sequence', '--rms', '0.99'], config: ['rms', 0.99] },
    '--rms-clip': { args: [...EPISODES, '--backend', 'float', '--reward', 'sequence', '--rms', '0.99', '--rms-clip', '2'], config: ['rms-clip', 2] },
    '--momentum': { args: [...EPISODES, '--backend', 'float', '--reward', 'sequence', '--momentum', '0.9'], config: ['momentum', 0.9] },
    '--rollback': { args: [...EPISODES, '--rollback', '1.05'], config: ['rollback', 1.05] },
    '--no-diagnostics': { args: [...MG, '--no-diagnostics'], config: ['no-diagnostics', true] },
    '--bptt-window': { args: [...MG, '--algo', 'bptt', '--bptt-window', '5'], config: ['bptt-window', 5] },
    '--seed': { args: [...MG, '--seed', '7'], config: ['seed', 7] },
    '--activation': { args: [...MG, '--activation', 'hardtanh'], config: ['activation', 'hardtanh'] },
    '--bias': { args: [...MG, '--bias'], config: ['bias', true] },
    '--mismatch': { args: [...MG, '--mismatch', '0.05'], config: ['mismatch', 0.05] },
    '--weight-bits': { args: [...MG, '--weight-bits', '8'], config: ['weight-bits', 8] },
    '--activity-bits': { args: [...MG, '--activity-bits', '12'], config: ['activity-bits', 12] },
    '--rounding': { args: [...MG, '--rounding', 'floor'], config: ['rounding', 'floor'] },
    '--overflow': { args: [...MG, '--overflow', 'wrap'], config: ['overflow', 'wrap'] },
    '--out': { args: MG, config: ['task', 'mackey-glass'] },
    '--force': { args: [...MG, '--force'], config: ['task', 'mackey-glass'] },
    '--json': { args: [...MG, '--json'], config: ['task', 'mackey-glass'] },
    '--quiet': { args: MG, config: ['task', 'mackey-glass'] },
    '--progress-every': { args: [...MG, '--progress-every', '0.5'], config: ['task', 'mackey-glass'] },
    '--config': { args: ['--config', 'CONFIG', '--out'], config: ['hidden', 6] },
  });

  it('every listed flag is accepted and acts', async () => {
    const flags = await helpFlags('train');
    const table = cases();
    expect([...flags.keys()].sort()).toEqual(Object.keys(table).sort());
    // a config file of the MG case for --config
    const cfgFile = join(TMP, 'cfg.json');
    writeFileSync(cfgFile, JSON.stringify({ task: 'mackey-glass', steps: 60, hidden: 6, batch: 2, epochs: 1 }));
    let n = 0;
    for (const [flag, c] of Object.entries(table)) {
      const out = join(TMP, `train-${n++}`);
      const args = c.args.map((a) => (a === 'CONFIG' ? cfgFile : a));
      const r = await cli('train', ...args, ...(args.at(-1) === '--out' ? [out] : ['--out', out]));
      expect(r.err, flag).not.toMatch(/unknown option/);
      if (c.fails) {
        expect(r.code, `${flag}: ${r.err}`).toBe(c.code ?? 2);
        expect(r.err, flag).toMatch(c.fails);
        continue;
      }
      expect(r.code, `${flag}: ${r.err}`).toBe(0);
      if (flag === '--json') expect(JSON.parse(r.out).status).toBe('ok');
      const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
      expect(config[c.config![0]], flag).toEqual(c.config![1]);
    }
  }, 120_000);

  it('each printed default is the one a run without the flag uses (config.json of the README run, default flags)', async () => {
    const flags = await helpFlags('train');
    const out = join(TMP, 'defaults');
    const r = await cli('train', '--task', 'mackey-glass', '--out', out, '--quiet');
    expect(r.code, r.err).toBe(0);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    // defaults that depend on the algorithm, backend or bits: the printed condition, then the value used here
    const conditional: Record<string, unknown> = {
      '--spectral-cap': 0, // "0.95 for anpt on the float backend, else off"
      '--rounding': 'nearest', // "stochastic below 12 weight bits, else nearest"; 16 bits here
      '--epochs': 10, // "mackey-glass 10, ..."
      '--chunk': 1,
      '--mismatch': 0,
    };
    let checked = 0;
    for (const [flag, text] of flags) {
      const key = flag.slice(2);
      if (!(key in config) && !(flag in conditional)) continue;
      const used = config[key];
      if (flag in conditional) {
        expect(used, flag).toEqual(conditional[flag]);
        checked++;
        continue;
      }
      const shown = printedDefault(text);
      if (shown === undefined) continue;
      expect(String(used), `${flag}: help says default ${shown}`).toBe(String(Number.isNaN(Number(shown)) ? shown : Number(shown)));
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(15);
    expect(printedDefault(flags.get('--progress-every')!)).toBe(String(PROGRESS_INTERVAL_SECONDS));
  }, 120_000);
});

describe('anpt train --config', () => {
  it('a run repeated from its written config.json has identical weights; flags override the file', async () => {
    const first = join(TMP, 'cfg-first');
    const r = await cli('train', ...MG, '--weight-bits', '8', '--mismatch', '0.05', '--activation', 'hardtanh', '--seed', '5', '--out', first);
    expect(r.code, r.err).toBe(0);
    const again = join(TMP, 'cfg-again');
    const r2 = await cli('train', '--config', join(first, 'config.json'), '--out', again, '--quiet');
    expect(r2.code, r2.err).toBe(0);
    const w = (dir: string) => JSON.parse(readFileSync(join(dir, 'weights.json'), 'utf8'));
    for (const m of ['W', 'R', 'V']) expect(w(again)[m], m).toEqual(w(first)[m]);
    expect(readFileSync(join(again, 'config.json'), 'utf8')).toBe(readFileSync(join(first, 'config.json'), 'utf8'));
    const over = join(TMP, 'cfg-over');
    const r3 = await cli('train', '--config', join(first, 'config.json'), '--hidden', '7', '--out', over, '--quiet');
    expect(r3.code, r3.err).toBe(0);
    expect(JSON.parse(readFileSync(join(over, 'config.json'), 'utf8')).hidden).toBe(7);
    const bad = join(TMP, 'bad.json');
    writeFileSync(bad, JSON.stringify({ hiden: 3 }));
    const r4 = await cli('train', '--config', bad, '--out', join(TMP, 'never'));
    expect(r4.code).toBe(2);
    expect(r4.err).toBe(`anpt: --config: '${bad}': "hiden" is not a flag of anpt train; see anpt train --help\n`);
  });
});

describe('anpt eval and predict --help', () => {
  it.each(['eval', 'predict'])('%s: every listed flag is accepted and acts', async (cmd) => {
    const run = join(TMP, `${cmd}-run`);
    expect((await cli('train', ...MG, '--out', run)).code).toBe(0);
    const csvRun = join(TMP, `${cmd}-csv`);
    expect((await cli('train', '--task', 'csv', '--data', csv, '--inputs', 'a,b', '--targets', 'c', '--hidden', '6', '--epochs', '1', '--quiet', '--out', csvRun)).code).toBe(0);
    const table: Record<string, { args: string[]; json?: (j: Record<string, any>) => unknown; want?: unknown; fails?: RegExp; code?: number }> = {
      '--weights': { args: ['--weights', run], json: (j) => j.weights, want: run },
      '--backend': { args: ['--weights', run, '--backend', 'float'], json: (j) => j.backend, want: 'float' },
      '--device': { args: ['--weights', run, '--device', 'tcp://127.0.0.1:1'], fails: /nothing listens there/, code: 3 },
      '--port': { args: ['--weights', run, '--port', join(TMP, 'no-such-port')], fails: /no-such-port/, code: 3 },
      '--baud': { args: ['--weights', run, '--port', join(TMP, 'no-such-port'), '--baud', 'x'], fails: /--baud: 'x'/ },
      '--task': { args: ['--weights', run, '--task', 'copy'], fails: /^anpt: --task: copy\S* has 10 inputs/ },
      '--batch': { args: ['--weights', run, '--batch', '3'], json: (j) => j.task.batch, want: 3 },
      '--steps': { args: ['--weights', run, '--steps', '40'], json: (j) => j.task.test_steps, want: 40 },
      '--mg-mode': { args: ['--weights', run, '--mg-mode', 'forecast'], json: (j) => j.task.spec.options.mode, want: 'forecast' },
      '--horizon': { args: ['--weights', run, '--horizon', '3'], json: (j) => j.task.spec.options.horizon, want: 3 },
      '--copy-length': { args: ['--weights', run, '--task', 'copy', '--copy-length', '4'], fails: /^anpt: --task: copy\S* has 10 inputs/ },
      '--copy-delay': { args: ['--weights', run, '--task', 'copy', '--copy-delay', '4'], fails: /^anpt: --task: copy\S* has 10 inputs/ },
      '--episode': { args: ['--weights', run, '--task', 'adding', '--episode', '5'], fails: /^anpt: --task: adding\S* has \d+ inputs/ },
      '--episodes': { args: ['--weights', run, '--task', 'adding', '--episodes', '4'], fails: /^anpt: --task: adding\S* has \d+ inputs/ },
      '--data': { args: ['--weights', csvRun, '--data', csv], json: (j) => j.task.spec.options.file, want: csv },
      '--inputs': { args: ['--weights', csvRun, '--inputs', 'b,a'], json: (j) => j.task.spec.options.inputs, want: ['b', 'a'] },
      '--targets': { args: ['--weights', csvRun, '--targets', 'a'], json: (j) => j.task.spec.options.targets, want: ['a'] },
      '--split': { args: ['--weights', csvRun, '--split', '0.5'], json: (j) => j.task.spec.options.split, want: 0.5 },
      '--seed': { args: ['--weights', run, '--seed', '9'], json: (j) => j.task.spec.options.seed, want: 9 },
      '--weight-bits': { args: ['--weights', run, '--weight-bits', '8'], json: (j) => j.formats.weight.bits, want: 8 },
      '--activity-bits': { args: ['--weights', run, '--activity-bits', '12'], json: (j) => j.formats.activity.bits, want: 12 },
      '--rounding': { args: ['--weights', run, '--rounding', 'floor'], json: (j) => j.formats.weight.rounding, want: 'floor' },
      '--overflow': { args: ['--weights', run, '--overflow', 'wrap'], json: (j) => j.formats.weight.overflow, want: 'wrap' },
      '--json': { args: ['--weights', run], json: (j) => typeof j.test_loss, want: 'number' },
      ...(cmd === 'predict' ? { '--out': { args: ['--weights', run, '--out', join(TMP, 'pred-out')], json: (j: Record<string, any>) => j.files[0], want: join(TMP, 'pred-out', 'predictions.csv') } } : {}),
    };
    const flags = await helpFlags(cmd);
    expect([...flags.keys()].sort()).toEqual(Object.keys(table).sort());
    for (const [flag, c] of Object.entries(table)) {
      const r = await cli(cmd, ...c.args, '--json');
      expect(r.err, flag).not.toMatch(/unknown option/);
      if (c.fails) {
        expect(r.code, `${flag}: ${r.err}`).toBe(c.code ?? 2);
        expect(r.err, flag).toMatch(c.fails);
        continue;
      }
      expect(r.code, `${flag}: ${r.err}`).toBe(0);
      expect(c.json!(JSON.parse(r.out)), flag).toEqual(c.want);
    }
    // the defaults are the run's: eval without flags reproduces its final test loss
    const plain = await cli(cmd, '--weights', run, '--json');
    expect(JSON.parse(plain.out).test_loss).toBe(JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')).final_test_loss);
  }, 120_000);
});

describe('anpt sweep --help', () => {
  it('every grid flag lands in the grid, and each printed default is the grid a sweep without flags runs', async () => {
    const flags = await helpFlags('sweep');
    const grid = gridFromFlags({ out: 'x' }) as unknown as Record<string, any>;
    const at = (path: string) => path.split('.').reduce((o, k) => o?.[k], grid);
    const paths: Record<string, string> = {
      '--weight-bits': 'weightBits', '--activity-bits': 'activityBits', '--rounding': 'rounding', '--sigma': 'sigma', '--mismatch': 'mismatch',
      '--methods': 'methods', '--hidden': 'hidden', '--activation': 'activation', '--epochs': 'anpt.epochs', '--lr': 'anpt.lr',
      '--schedule': 'anpt.schedule', '--chunk': 'anpt.chunk', '--bptt-lr': 'bptt.lr', '--bptt-window': 'bptt.window', '--bptt-optimizer': 'bptt.optimizer',
      '--diag-samples': 'diagnostics.samples', '--diag-steps': 'diagnostics.steps', '--diag-warmup': 'diagnostics.warmup',
      '--batch': 'task.options.batch', '--steps': 'task.options.steps', '--mg-mode': 'task.options.mode', '--horizon': 'task.options.horizon',
    };
    for (const [flag, path] of Object.entries(paths)) {
      const shown = printedDefault(flags.get(flag)!, true);
      expect(shown, flag).toBeDefined();
      const used = at(path);
      expect(Array.isArray(used) ? used.join(',') : String(used), `${flag}: help says default ${shown}`).toBe(shown === 'all' ? 'anpt-chip,bptt-ptq,anpt-float-ptq' : shown);
    }
    expect(printedDefault(flags.get('--seeds')!)).toBe(String(grid.seeds.length));
    // each grid flag is used
    const samples: Record<string, [string, unknown]> = {
      '--weight-bits': ['4,8', [4, 8]], '--activity-bits': ['12', [12]], '--rounding': ['floor', ['floor']], '--sigma': ['0.002', [0.002]],
      '--mismatch': ['0.05', [0.05]], '--methods': ['anpt-chip', ['anpt-chip']], '--hidden': ['8', 8], '--activation': ['hardtanh', 'hardtanh'],
      '--epochs': ['2', 2], '--lr': ['0.05', 0.05], '--schedule': ['constant', 'constant'], '--chunk': ['5', 5], '--bptt-lr': ['0.01', 0.01],
      '--bptt-window': ['7', 7], '--bptt-optimizer': ['sgd', 'sgd'], '--diag-samples': ['4', 4], '--diag-steps': ['6', 6], '--diag-warmup': ['3', 3],
      '--batch': ['3', 3], '--steps': ['300', 300], '--mg-mode': ['forecast', 'forecast'], '--horizon': ['4', 4],
    };
    for (const [flag, [raw, want]] of Object.entries(samples)) {
      const key = flag.slice(2).replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
      const g = gridFromFlags({ out: 'x', [key]: raw }) as unknown as Record<string, any>;
      expect(paths[flag].split('.').reduce((o, k) => o?.[k], g), flag).toEqual(want);
    }
    expect((gridFromFlags({ out: 'x', seeds: '2' }) as { seeds: number[] }).seeds).toEqual([42, 101]);
    expect((gridFromFlags({ out: 'x', seedList: '5,6' }) as { seeds: number[] }).seeds).toEqual([5, 6]);
    expect((gridFromFlags({ out: 'x', bias: true }) as { bias?: boolean }).bias).toBe(true);
    expect((gridFromFlags({ out: 'x' }) as { bias?: boolean }).bias).toBeUndefined();
    expect((gridFromFlags({ out: 'x', bpttEpochs: '3' }) as { bptt: { epochs: number } }).bptt.epochs).toBe(3);
    expect((gridFromFlags({ out: 'x', task: 'copy', copyLength: '6', copyDelay: '2', diagSamples: '0' }) as { task: { options: Record<string, number> } }).task.options).toMatchObject({ length: 6, delay: 2 });
    expect((gridFromFlags({ out: 'x', task: 'csv', data: csv, inputs: 'a', targets: 'c', split: '0.6', diagSamples: '0' }) as { task: { options: Record<string, unknown> } }).task.options).toMatchObject({ inputs: ['a'], targets: ['c'], split: 0.6 });
    const g = join(TMP, 'grid.json');
    writeFileSync(g, JSON.stringify({ hidden: 5 }));
    expect((gridFromFlags({ out: 'x', grid: g }) as { hidden: number }).hidden).toBe(5);
    // the flags that are not grid entries: all listed, each with a test of its own elsewhere (test/sweep*.test.ts)
    // (the queue flags: test/queue.test.ts)
    const others = ['--out', '--grid', '--seeds', '--seed-list', '--bptt-epochs', '--workers', '--threads', '--force', '--no-report', '--quiet', '--json', '--task', '--copy-length', '--copy-delay', '--episode', '--episodes', '--data', '--inputs', '--targets', '--split',
      '--queue', '--collect', '--run-on', '--keep-days', '--bias'];
    expect([...flags.keys()].sort()).toEqual([...Object.keys(paths), ...others].sort());
  });

  it('a tiny sweep with --json prints one JSON object and nothing else', async () => {
    const out = join(TMP, 'sweep');
    const r = await cli('sweep', '--out', out, '--hidden', '4', '--steps', '60', '--batch', '2', '--epochs', '1', '--weight-bits', '8', '--rounding', 'nearest',
      '--seeds', '1', '--methods', 'anpt-chip', '--diag-samples', '0', '--workers', '0', '--quiet', '--no-report', '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ rows: 1, ran: 1, failed: 0 });
    const rep = await cli('report', out, '--json');
    expect(rep.code, rep.err).toBe(0);
    expect(JSON.parse(rep.out).files[0]).toBe(join(out, 'report.html'));
  }, 60_000);
});

describe('the other commands', () => {
  it('report, ports and device list only flags that work', async () => {
    expect([...(await helpFlags('report')).keys()]).toEqual(['--json']);
    expect([...(await helpFlags('ports')).keys()]).toEqual(['--json']);
    expect((await cli('ports', '--json')).code).toBe(0);
    // (the link flags: test/cli-link-faults.test.ts; push and configure: test/cli-deploy.test.ts)
    expect([...(await helpFlags('device', 'info')).keys()].sort()).toEqual(['--baud', '--json', '--link-budget', '--link-timeout', '--take-over']);
    expect([...(await helpFlags('device', 'pull')).keys()].sort()).toEqual(['--activity-bits', '--baud', '--json', '--link-budget', '--link-timeout', '--take-over', '--overflow', '--rounding', '--weight-bits'].sort());
    expect([...(await helpFlags('device', 'push')).keys()].sort()).toEqual(['--activity-bits', '--baud', '--json', '--link-budget', '--link-timeout', '--take-over', '--overflow', '--rounding', '--weight-bits'].sort());
    // a board that is not there: the flags are parsed (one line, exit 3 for the link, not "unknown option")
    for (const [code, args] of [
      [3, ['device', 'info', join(TMP, 'no-port'), '--baud', '9600', '--json']],
      [3, ['device', 'pull', 'tcp://127.0.0.1:1', join(TMP, 'w.json'), '--weight-bits', '8', '--activity-bits', '12', '--rounding', 'floor', '--overflow', 'wrap', '--json']],
      // push reads its file first: a missing file is bad input
      [2, ['device', 'push', 'tcp://127.0.0.1:1', join(TMP, 'w.json'), '--json']],
    ] as const) {
      const r = await cli(...args);
      expect(r.code, r.err).toBe(code);
      expect(r.err).not.toMatch(/unknown option/);
    }
    expect((await cli('help')).code).toBe(0);
    expect((await cli('--version')).code).toBe(0);
  });
});

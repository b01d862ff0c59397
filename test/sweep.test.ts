/**
 * `anpt sweep`: a grid that cannot run is refused before any work, naming the bad
 * entry; a sweep killed midway finishes only its missing rows when the same command
 * runs again; a directory holding another grid is refused.
 *
 * The sweep runs in a child process (its worker threads need the tsx loader, which
 * vitest's own module runner does not give them).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { gridFromFlags } from '../src/cli/sweep-command.js';
import { gridRows, resolveGrid } from '../src/sweep/grid.js';
import { openSweepDir } from '../src/sweep/results.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The real `anpt` program, run from the sources. */
function cliArgs(): string[] {
  return ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];
}

interface Done {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Start `anpt <args>`; `watch` may kill it early. */
function anpt(args: string[], watch?: (child: ReturnType<typeof spawn>) => void): Promise<Done> {
  const child = spawn(process.execPath, [...cliArgs(), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  watch?.(child);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Complete rows in results.jsonl (a kill can cut the last line). */
function readRows(dir: string): { key: string; startedAt: string; finishedAt: string }[] {
  const path = join(dir, 'results.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').flatMap((l) => {
    try {
      return l.trim() ? [JSON.parse(l)] : [];
    } catch {
      return [];
    }
  });
}

const tmp = mkdtempSync(join(tmpdir(), 'anpt-sweep-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A grid small enough for seconds, with rows slow enough (~0.1-0.5 s) to be killed between. */
const TINY = ['--hidden', '24', '--steps', '2000', '--batch', '4', '--epochs', '6', '--weight-bits', '6,8,12', '--rounding', 'nearest,stochastic',
  '--seeds', '2', '--methods', 'anpt-chip,bptt-ptq', '--diag-samples', '16', '--workers', '2', '--no-report'];

describe('grid checks before any work', () => {
  const refused = (flags: Parameters<typeof gridFromFlags>[0]): string => {
    try {
      gridFromFlags(flags);
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      return (err as Error).message;
    }
    throw new Error(`grid ${JSON.stringify(flags)} was accepted`);
  };

  it('names the bad entry of a flag list', () => {
    expect(refused({ weightBits: '4,6,17' })).toBe('--weight-bits (grid.weightBits[2]): 17 is out of range; allowed 2..16');
    expect(refused({ methods: 'anpt-chip,bptt' })).toBe("--methods (grid.methods[1]): 'bptt' is not one of anpt-chip, bptt-ptq, anpt-float-ptq");
    expect(refused({ rounding: 'nearest,stochastic,up' })).toContain('grid.rounding[2]');
    expect(refused({ weightBits: '' })).toContain('grid.weightBits[0]');
    expect(refused({ sigma: '0' })).toContain('(grid.sigma[0]): 0 gives ANP-T no perturbation');
    expect(refused({ mismatch: '0,0.7' })).toContain('(grid.mismatch[1]): 0.7 is out of range');
    expect(refused({ seeds: '0' })).toContain('grid.seeds');
    expect(refused({ weightBits: '8,8' })).toContain('(grid.weightBits[1]): 8 is listed twice');
  });

  it('names the bad entry of a grid file, and refuses unreadable and invalid files', () => {
    const file = (name: string, text: string) => {
      const p = join(tmp, name);
      writeFileSync(p, text);
      return p;
    };
    const g1 = file('g1.json', JSON.stringify({ weightBits: [4, 8], methods: ['anpt-chip', 'backprop'] }));
    expect(refused({ grid: g1 })).toBe(`grid file ${g1}: grid.methods[1]: 'backprop' is not one of anpt-chip, bptt-ptq, anpt-float-ptq`);
    expect(refused({ grid: file('g2.json', JSON.stringify({ weightBits: [] })) })).toContain('grid.weightBits: the list is empty');
    expect(refused({ grid: file('g3.json', JSON.stringify({ weightbits: [4] })) })).toContain('grid.weightbits: unknown key; did you mean weightBits?');
    expect(refused({ grid: file('g4.json', '{"weightBits": [4, 8,') })).toMatch(/^--grid .*g4\.json: not valid JSON/);
    expect(refused({ grid: join(tmp, 'missing.json') })).toMatch(/^--grid .*missing\.json: cannot read it \(ENOENT\)/);
    // a flag overrides the file, and its error names the flag
    expect(refused({ grid: g1, methods: 'anpt-chip', weightBits: '4,99' })).toBe('--weight-bits (grid.weightBits[1]): 99 is out of range; allowed 2..16');
  });

  it('refuses points the emulator cannot run and a diagnostic longer than the data', () => {
    expect(() => resolveGrid({ hidden: 5000 })).toThrow(/grid\.hidden: 5000 is out of range/);
    expect(() => resolveGrid({ task: { name: 'mackey-glass', options: { steps: 50 } } })).toThrow(/grid\.diagnostics: warmup 100 \+ steps 20 exceed the 50 steps/);
    expect(() => resolveGrid({ task: { name: 'mackey-glass', options: { stesp: 50 } } })).toThrow(/grid\.task\.options\.stesp: unknown key/);
  });

  it('the CLI exits 2 with one line naming the entry and creates nothing', async () => {
    const out = join(tmp, 'refused');
    const r = await anpt(['sweep', '--out', out, '--weight-bits', '4,6,8,10,12,17', '--seeds', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('anpt: --weight-bits (grid.weightBits[5]): 17 is out of range; allowed 2..16\n');
    expect(existsSync(out)).toBe(false);
  });
});

describe('resume', () => {
  it('a sweep killed midway finishes only the missing rows when run again', async () => {
    const out = join(tmp, 'killed');
    const args = ['sweep', '--out', out, ...TINY];
    const total = 3 * 2 * 2 * 2; // weight bits x roundings x seeds x methods
    // first run: kill it (SIGKILL: no chance to clean up) once two rows are written
    let killedAt = 0;
    const first = await anpt(args, (child) => {
      const timer = setInterval(() => {
        if (readRows(out).length >= 2) {
          killedAt = Date.now();
          child.kill('SIGKILL');
          clearInterval(timer);
        }
      }, 5);
      child.on('close', () => clearInterval(timer));
    });
    expect(first.signal, `the first run ended by itself (${first.code}): ${first.stderr}`).toBe('SIGKILL');
    const before = readRows(out);
    expect(before.length, 'the sweep finished before it could be killed; make the rows slower').toBeLessThan(total);
    expect(existsSync(join(out, 'results.json'))).toBe(false);

    const rerunAt = Date.now();
    const second = await anpt(args);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain(`${total} rows (6 points x 2 seeds x 2 methods); ${before.length} already done in ${out}, running ${total - before.length}`);
    const after = readRows(out);
    expect(after.length).toBe(total);
    expect(new Set(after.map((r) => r.key)).size).toBe(total);
    // the rows of the first run are kept as they were, and none of them ran again
    expect(after.slice(0, before.length)).toEqual(before);
    for (const r of before) expect(Date.parse(r.finishedAt)).toBeLessThanOrEqual(killedAt);
    for (const r of after.slice(before.length)) expect(Date.parse(r.startedAt)).toBeGreaterThanOrEqual(rerunAt);
    const grid = JSON.parse(readFileSync(join(out, 'grid.json'), 'utf8')).grid;
    expect(new Set(after.map((r) => r.key))).toEqual(new Set(gridRows(grid).map((r) => r.key)));
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(results.rows).toHaveLength(total);
    expect(results.missing).toBe(0);
    expect(readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n')).toHaveLength(total + 1);
    const runs = readFileSync(join(out, 'runs.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(runs).toHaveLength(1); // the killed run never finished
    expect(runs[0]).toMatchObject({ rowsRun: total - before.length, rowsSkipped: before.length, rowsFailed: 0 });

    // a third run has nothing left to do
    const third = await anpt(args);
    expect(third.code).toBe(0);
    expect(third.stdout).toContain(`${total} already done in ${out}, running 0`);
    expect(readRows(out)).toHaveLength(total);

    // another grid on the same directory is refused, naming what differs; --force switches
    const other = await anpt(['sweep', '--out', out, ...TINY.map((a) => (a === '6,8,12' ? '6,8' : a)), '--epochs', '5']);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/^anpt: --out .* holds a sweep of a different grid \(weightBits: \[6,8,12\] there, \[6,8\] here; anpt\.epochs: 6 there, 5 here; bptt\.epochs: 6 there, 5 here\); use another --out directory, or --force/);
    expect(readRows(out)).toHaveLength(total);
  });

  it('drops a half-written last line left by a kill and keeps the rows before it', () => {
    const dir = join(tmp, 'torn');
    const grid = resolveGrid({ hidden: 4, task: { name: 'mackey-glass', options: { steps: 200, batch: 2 } }, weightBits: [8], rounding: ['nearest'], seeds: 1, methods: ['anpt-chip'], diagnostics: { samples: 0 } });
    openSweepDir(dir, grid, 'anpt sweep ...', false);
    const row = gridRows(grid)[0];
    const line = JSON.stringify({ key: row.key, method: row.method, seed: row.seed, point: row.config.point, config: row.config, status: 'ok', startedAt: '', finishedAt: '', seconds: 0 });
    writeFileSync(join(dir, 'results.jsonl'), `${line}\n${line.slice(0, 40)}`);
    const opened = openSweepDir(dir, grid, 'anpt sweep ...', false);
    expect([...opened.done.keys()]).toEqual([row.key]);
    expect(readFileSync(join(dir, 'results.jsonl'), 'utf8')).toBe(`${line}\n`);
  });
});

// `anpt train --resume DIR` after SIGKILL and after SIGINT of a board run (firmware-sim
// over TCP, default flags): the final weights are the bytes of an uninterrupted run; SIGINT
// leaves summary.json with "status": "interrupted". With --trace innovation the run state's
// checkpoint carries the eligibility traces, and the resumed run has the same bytes too; so
// does one with the ridge readout solved every 70 steps (the position says when the next fit is due).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.js';
import { spawnFirmwareSim, type RunningSim } from '../firmware-sim/spawn.js';

const TMP = mkdtempSync(join(tmpdir(), 'anpt-cli-resume-'));
const TASK = ['--task', 'mackey-glass', '--hidden', '32', '--batch', '4', '--steps', '300', '--epochs', '2', '--quiet'];
const TRACE = ['--trace', 'innovation', '--trace-decay', '0.9'];
/** V solved by ridge every 70 steps as well as per epoch: the position holds when the next fit is due (H 8: each fit brings the train set's hidden trace over the link). */
const RIDGE = [...TRACE, '--readout', 'ridge', '--ridge-every', '70', '--hidden', '8'];
let sim: RunningSim;

async function cli(...argv: string[]): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await runCli(argv, { out: () => {}, err: (s) => (err += s), progress: { write: (s: string) => (err += s), isTTY: false } });
  return { code, err };
}
const matrices = (dir: string) => {
  const j = JSON.parse(readFileSync(join(TMP, dir, 'weights.json'), 'utf8'));
  return JSON.stringify([j.W, j.R, j.V]);
};
const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

/** Start a board run as its own process; once its run state has been saved twice (mid-run), send `signal`. */
async function interrupted(dir: string, signal: NodeJS.Signals, extra: string[] = []): Promise<{ code: number | null; signal: string | null }> {
  const tsx = createRequire(import.meta.url).resolve('tsx');
  const child = spawn(process.execPath, ['--import', tsx, join(import.meta.dirname, '..', 'src', 'cli', 'main.ts'), 'train', ...TASK, ...extra, '--device', sim.url(), '--out', join(TMP, dir)], { stdio: 'ignore' });
  const exited = new Promise<{ code: number | null; signal: string | null }>((ok) => child.once('exit', (code, sig) => ok({ code, signal: sig })));
  const state = join(TMP, dir, 'run-state.json');
  for (let i = 0; i < 1200 && !existsSync(state); i++) await sleep(50);
  await sleep(2500);
  child.kill(signal);
  return exited;
}

beforeAll(async () => {
  sim = await spawnFirmwareSim(['--tcp', '0', '--baud', '115200', '--quiet'], { timeoutMs: 60_000 });
  for (const [dir, extra] of [['ref', []], ['ref-trace', TRACE], ['ref-ridge', RIDGE]] as const) {
    const ref = await cli('train', ...TASK, ...extra, '--backend', 'emulator', '--out', join(TMP, dir));
    expect(ref.code, ref.err).toBe(0);
  }
}, 120_000);
afterAll(async () => {
  await sim?.stop();
  rmSync(TMP, { recursive: true, force: true });
});

describe('anpt train --resume', () => {
  it('after SIGKILL mid-run: the weights of an uninterrupted run', async () => {
    const killed = await interrupted('killed', 'SIGKILL');
    expect(killed.signal).toBe('SIGKILL');
    const position = JSON.parse(readFileSync(join(TMP, 'killed', 'run-state.json'), 'utf8')).position;
    expect(position.stepsDone).toBeGreaterThan(0);
    expect(position.stepsDone).toBeLessThan(600);
    const r = await cli('train', '--resume', join(TMP, 'killed'));
    expect(r.code, r.err).toBe(0);
    expect(matrices('killed')).toBe(matrices('ref'));
    expect(existsSync(join(TMP, 'killed', 'run-state.json'))).toBe(false);
  }, 240_000);

  it('after SIGINT: status "interrupted", then the weights of an uninterrupted run', async () => {
    const stopped = await interrupted('stopped', 'SIGINT');
    expect(stopped.code).toBe(1);
    const summary = JSON.parse(readFileSync(join(TMP, 'stopped', 'summary.json'), 'utf8'));
    expect(summary).toMatchObject({ status: 'interrupted', resume_with: expect.stringContaining('anpt train --resume') });
    const r = await cli('train', '--resume', join(TMP, 'stopped'));
    expect(r.code, r.err).toBe(0);
    expect(matrices('stopped')).toBe(matrices('ref'));
  }, 240_000);

  it('with --trace innovation, after SIGKILL mid-run: the run state holds the traces, and the weights are those of an uninterrupted run', async () => {
    const killed = await interrupted('killed-trace', 'SIGKILL', TRACE);
    expect(killed.signal).toBe('SIGKILL');
    const saved = JSON.parse(readFileSync(join(TMP, 'killed-trace', 'run-state.json'), 'utf8'));
    expect(saved.position.stepsDone).toBeLessThan(600);
    expect(saved.checkpoint.state.eligibility.r.some((x: number) => x !== 0)).toBe(true);
    const r = await cli('train', '--resume', join(TMP, 'killed-trace'));
    expect(r.code, r.err).toBe(0);
    expect(matrices('killed-trace')).toBe(matrices('ref-trace'));
    expect(matrices('ref-trace')).not.toBe(matrices('ref'));
  }, 240_000);

  it('with --readout ridge --ridge-every 70, after SIGKILL mid-run: the fits fall where they would have, the weights of an uninterrupted run', async () => {
    const killed = await interrupted('killed-ridge', 'SIGKILL', RIDGE);
    expect(killed.signal).toBe('SIGKILL');
    const saved = JSON.parse(readFileSync(join(TMP, 'killed-ridge', 'run-state.json'), 'utf8'));
    expect(saved.position.nextRidge).toBeGreaterThan(saved.position.stepsDone);
    const r = await cli('train', '--resume', join(TMP, 'killed-ridge'));
    expect(r.code, r.err).toBe(0);
    expect(matrices('killed-ridge')).toBe(matrices('ref-ridge'));
    expect(matrices('ref-ridge')).not.toBe(matrices('ref-trace'));
  }, 240_000);
});

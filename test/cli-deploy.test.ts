// Deploy: `anpt device push` to a freshly started firmware-sim configures it from the
// weights file, and `pull` then gives back the same weights and formats (ReadConfig); a
// BPTT (float) run is quantised to --weight-bits 8 and both test MSEs are printed; a file
// whose formats no board can hold is refused before anything is sent; a --chunk beyond
// the board's RAM is refused naming the flag.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.js';
import { spawnFirmwareSim, type RunningSim } from '../firmware-sim/spawn.js';

const TMP = mkdtempSync(join(tmpdir(), 'anpt-cli-deploy-'));
const TASK = ['--task', 'mackey-glass', '--hidden', '16', '--batch', '2', '--steps', '200', '--epochs', '1', '--quiet'];
const sims: RunningSim[] = [];

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), progress: { write: (s: string) => (err += s), isTTY: false } });
  return { code, out, err };
}
async function freshBoard(...extra: string[]): Promise<RunningSim> {
  const s = await spawnFirmwareSim(['--tcp', '0', '--baud', '2000000', '--quiet', ...extra], { timeoutMs: 60_000 });
  sims.push(s);
  return s;
}
const json = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

beforeAll(async () => {
  for (const [dir, extra] of [['emu', []], ['bptt', ['--algo', 'bptt']]] as const) {
    const r = await cli('train', ...TASK, ...extra, '--out', join(TMP, dir));
    expect(r.code, r.err).toBe(0);
  }
}, 120_000);
afterAll(async () => {
  await Promise.all(sims.map((s) => s.stop()));
  rmSync(TMP, { recursive: true, force: true });
});

describe('anpt device push to a fresh board', () => {
  it('push, then pull, round-trips exactly (weights and formats)', async () => {
    const s = await freshBoard();
    const push = await cli('device', 'push', s.url(), join(TMP, 'emu'));
    expect(push.code, push.err).toBe(0);
    expect(push.out).toMatch(/configured from the file; exact codes\); read back and checked; test MSE \S+ before, \S+ on the board/);
    const pull = await cli('device', 'pull', s.url(), join(TMP, 'pulled.json'));
    expect(pull.code, pull.err).toBe(0);
    expect(pull.err).not.toMatch(/assumed/);
    const a = json(join(TMP, 'pulled.json'));
    const b = json(join(TMP, 'emu', 'weights.json'));
    expect([a.W, a.R, a.V, a.formats]).toEqual([b.W, b.R, b.V, b.formats]);
  }, 60_000);

  it('a BPTT run with --weight-bits 8: quantised, both test MSEs printed', async () => {
    const s = await freshBoard();
    const r = await cli('device', 'push', s.url(), join(TMP, 'bptt'), '--weight-bits', '8');
    expect(r.code, r.err).toBe(0);
    const m = /quantised (\d+) of (\d+) values.*test MSE (\S+) before, (\S+) on the board/.exec(r.out);
    expect(m, r.out).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(Number(m![3])).toBeGreaterThan(0);
    expect(Number(m![4])).toBeGreaterThan(0);
  }, 60_000);

  it('device configure sets up a bare board; pull then reads its (zero) weights and formats', async () => {
    const s = await freshBoard();
    const c = await cli('device', 'configure', s.url(), '--inputs', '1', '--hidden', '8', '--outputs', '1', '--weight-bits', '8');
    expect(c.code, c.err).toBe(0);
    const pull = await cli('device', 'pull', s.url(), join(TMP, 'bare.json'));
    expect(pull.code, pull.err).toBe(0);
    const w = json(join(TMP, 'bare.json'));
    expect(w.R.length).toBe(8);
    expect(w.formats.weight.bits).toBe(8);
  }, 60_000);

  it('train --chunk beyond the board RAM is refused in flag terms, with the most it takes (exit 2)', async () => {
    const s = await freshBoard('--ram-kib', '24');
    const r = await cli('train', ...TASK, '--hidden', '32', '--batch', '4', '--chunk', '64', '--device', s.url(), '--out', join(TMP, 'chunk'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^anpt: --chunk: 64 steps of batch 4 need more RAM than the board at tcp:\/\/127\.0\.0\.1:\d+ has; it takes (\d+) \(use --chunk \1 or less/);
    expect(r.err).not.toMatch(/maxChunkSteps|max_chunk_steps/);
  }, 60_000);

  it('a file whose formats no board holds (frac 40) is refused, exit 2, and the board stays unconfigured', async () => {
    const s = await freshBoard();
    const w = json(join(TMP, 'emu', 'weights.json'));
    w.formats.weight.frac = 40;
    writeFileSync(join(TMP, 'frac40.json'), JSON.stringify(w));
    const r = await cli('device', 'push', s.url(), join(TMP, 'frac40.json'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/formats\.weight\.frac/);
    const pull = await cli('device', 'pull', s.url(), join(TMP, 'none.json'));
    expect(pull.code).toBe(3);
    expect(pull.err).toMatch(/not configured/);
  }, 60_000);
});

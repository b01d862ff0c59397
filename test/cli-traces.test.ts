// `anpt train --trace` with a board (issue 11): firmware-sim over TCP (a separate process)
// trains with the innovation trace to the emulator's result bit for bit; a board that
// does not announce Limits.traces is refused in one line naming --trace, nothing written.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './cli-run.js';
import { spawnFirmwareSim, type RunningSim } from '../firmware-sim/spawn.js';

const TMP = mkdtempSync(join(tmpdir(), 'anpt-cli-traces-'));
let sim: RunningSim, plain: RunningSim;
beforeAll(async () => {
  [sim, plain] = await Promise.all([spawnFirmwareSim(['--tcp', '0', '--baud', '2000000', '--quiet']), spawnFirmwareSim(['--tcp', '0', '--baud', '2000000', '--quiet', '--no-traces'])]);
}, 30_000);
afterAll(async () => {
  await Promise.all([sim?.stop(), plain?.stop()]);
  rmSync(TMP, { recursive: true, force: true });
});

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe('anpt train --trace with a board', () => {
  const args = ['--task', 'mackey-glass', '--algo', 'anpt', '--hidden', '8', '--steps', '200', '--batch', '2', '--epochs', '2', '--chunk', '20', '--trace', 'innovation', '--trace-decay', '0.9', '--quiet'];

  it('firmware-sim gives the emulator\'s losses and weights, bit for bit', async () => {
    const board = await cli('train', ...args, '--device', sim.url(), '--out', join(TMP, 'board'));
    expect(board.code, board.err).toBe(0);
    const emu = await cli('train', ...args, '--backend', 'emulator', '--out', join(TMP, 'emu'));
    expect(emu.code, emu.err).toBe(0);
    const [b, e] = [readJson(join(TMP, 'board', 'summary.json')), readJson(join(TMP, 'emu', 'summary.json'))];
    expect(b.backend).toBe('device');
    expect(b.config).toMatchObject({ trace: 'innovation', trace_decay: 0.9 });
    expect(b.final_test_loss).toBe(e.final_test_loss);
    const [wb, we] = [readJson(join(TMP, 'board', 'weights.json')), readJson(join(TMP, 'emu', 'weights.json'))];
    expect([wb.W, wb.R, wb.V]).toEqual([we.W, we.R, we.V]);
    // and the trace changed the run: plain ANP-T ends elsewhere
    const none = await cli('train', ...args.slice(0, -5), '--quiet', '--backend', 'emulator', '--out', join(TMP, 'none'));
    expect(none.code, none.err).toBe(0);
    expect(readJson(join(TMP, 'none', 'weights.json')).R).not.toEqual(wb.R);
  }, 60_000);

  it('a board without Limits.traces: exit 2, one line naming --trace and the board, nothing written', async () => {
    const out = join(TMP, 'refused');
    const r = await cli('train', ...args, '--device', plain.url(), '--out', out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^anpt: --trace \(learner\.trace\): "innovation", but the device at .* does not announce eligibility traces \(Limits\.traces\)/);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  }, 30_000);
});

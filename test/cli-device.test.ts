// `anpt train --device`, `anpt device info|pull|push` and `anpt ports` against
// firmware-sim over TCP (a separate process): the same command trains a board exactly
// as it trains the emulator, and link health lands next to the loss.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort } from './closed-port.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli } from './cli-run.js';
import { spawnFirmwareSim, type RunningSim } from '../firmware-sim/spawn.js';

const TMP = mkdtempSync(join(tmpdir(), 'anpt-cli-device-'));
let sim: RunningSim;
beforeAll(async () => {
  sim = await spawnFirmwareSim(['--tcp', '0', '--baud', '2000000']);
}, 30_000);
afterAll(async () => {
  await sim?.stop();
  rmSync(TMP, { recursive: true, force: true });
});

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe('anpt with a board', () => {
  const task = ['--task', 'mackey-glass', '--hidden', '16', '--steps', '400', '--batch', '2', '--epochs', '2', '--chunk', '20', '--lr', '0.03'];

  it('train --device gives the same result as the emulator and records link health', async () => {
    const board = await cli('train', ...task, '--device', sim.url(), '--out', join(TMP, 'board'));
    expect(board.code, board.err).toBe(0);
    expect(board.err).toMatch(/link: \d+\/\d+ frames out\/in, 0 CRC errors/);
    const emu = await cli('train', ...task, '--backend', 'emulator', '--out', join(TMP, 'emu'));
    expect(emu.code, emu.err).toBe(0);
    const b = readJson(join(TMP, 'board', 'summary.json'));
    const e = readJson(join(TMP, 'emu', 'summary.json'));
    expect(b.backend).toBe('device');
    expect(b.final_test_loss).toBe(e.final_test_loss);
    expect(readJson(join(TMP, 'board', 'weights.json')).R).toEqual(readJson(join(TMP, 'emu', 'weights.json')).R);
    expect(b.link.framesOut).toBeGreaterThan(0);
    expect(b.link.rttP50Ms).toBeGreaterThan(0);
  });

  it('predict --device runs the saved weights on the board: the same predictions as on the emulator', async () => {
    const board = await cli('predict', '--weights', join(TMP, 'board'), '--device', sim.url(), '--out', join(TMP, 'pred-board'), '--json');
    expect(board.code, board.err).toBe(0);
    const emu = await cli('predict', '--weights', join(TMP, 'board'), '--backend', 'emulator', '--out', join(TMP, 'pred-emu'), '--json');
    expect(emu.code, emu.err).toBe(0);
    expect(JSON.parse(board.out).backend).toBe('device');
    expect(JSON.parse(board.out).test_loss).toBe(JSON.parse(emu.out).test_loss);
    expect(readFileSync(join(TMP, 'pred-board', 'predictions.csv'), 'utf8')).toBe(readFileSync(join(TMP, 'pred-emu', 'predictions.csv'), 'utf8'));
  });

  it('device info, pull and push', async () => {
    const info = await cli('device', 'info', sim.url());
    expect(info.code, info.err).toBe(0);
    expect(info.out).toMatch(/anpt-firmware-sim/);
    const pulled = join(TMP, 'pulled.json');
    const pull = await cli('device', 'pull', sim.url(), pulled);
    expect(pull.code, pull.err).toBe(0);
    expect(readJson(pulled).R.length).toBe(16);
    const push = await cli('device', 'push', sim.url(), pulled);
    expect(push.code, push.err).toBe(0);
    expect(push.out).toMatch(/read back and checked/);
  });

  it('a device that is not there is a link failure: one line, exit 3, nothing written; a bad URL is bad input, exit 2', async () => {
    const port = await closedPort();
    const r = await cli('device', 'info', `tcp://127.0.0.1:${port}`);
    expect(r.code).toBe(3);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/nothing listens there; start the device bridge or the simulator first/);
    const train = await cli('train', '--task', 'mackey-glass', '--device', `tcp://127.0.0.1:${port}`, '--out', join(TMP, 'no-board'));
    expect(train.code, train.err).toBe(3);
    expect(train.err).toMatch(/^anpt: tcp:\/\/127\.0\.0\.1:\d+: cannot connect/);
    expect(existsSync(join(TMP, 'no-board'))).toBe(false);
    const bad = await cli('train', '--device', 'ftp://x', '--out', join(TMP, 'never'));
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^anpt: --device: /);
  });

  it('ports: the text listing names exactly the ports of the JSON listing', async () => {
    const json = await cli('ports', '--json');
    expect(json.code, json.err).toBe(0);
    const list = JSON.parse(json.out) as { ports: { path: string }[]; note?: string };
    for (const p of list.ports) expect(p.path).toMatch(/^\/dev\/\S+$/);
    const text = await cli('ports');
    expect(text.code, text.err).toBe(0);
    const lines = text.out.trim().split('\n');
    if (list.ports.length === 0) expect(lines).toEqual(['no serial ports found']);
    else expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(list.ports.map((p) => p.path));
    // the fallback scan says why it was needed, on stderr only
    if (list.note) expect(text.err).toContain(`anpt: note: ${list.note}`);
    else expect(text.err).toBe('');
  });
});

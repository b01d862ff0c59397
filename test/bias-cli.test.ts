/** anpt train --bias (issue 11): off by default; on, the weights file carries b and c and eval reproduces the run, for every learner. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/main.js';

const TMP = mkdtempSync(join(tmpdir(), 'anpt-bias-cli-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), progress: { write: (s: string) => (err += s), isTTY: false } });
  return { code, out, err };
}
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

describe('anpt train --bias', () => {
  it('writes b and c to weights.json (emulator, float, bptt, reservoir) and eval reproduces the final test loss; without it no biases', async () => {
    const runs: [string, string[]][] = [
      ['emulator', ['--backend', 'emulator', '--epochs', '1']],
      ['float', ['--backend', 'float', '--epochs', '1']],
      ['bptt', ['--algo', 'bptt', '--epochs', '1', '--bptt-window', '10']],
      ['reservoir', ['--algo', 'reservoir', '--backend', 'float']],
    ];
    for (const [name, flags] of runs) {
      const dir = join(TMP, name);
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
    const off = join(TMP, 'off');
    expect((await cli('train', '--task', 'mackey-glass', '--steps', '200', '--hidden', '12', '--epochs', '1', '--out', off, '--quiet')).code).toBe(0);
    const w = readJson(join(off, 'weights.json'));
    expect(w.topology.bias).toBeUndefined();
    expect(w.b).toBeUndefined();
  });
});

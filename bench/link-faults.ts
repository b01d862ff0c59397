/**
 * The fault matrix: `anpt train --device` with default link flags (the CLI, in this
 * process) against firmware-sim over TCP at 115200 baud with each fault, H=32, B=4,
 * 500 steps, 2 epochs; each cell `runs` times, every run's weights compared with the
 * in-process emulator's (bytes). Prints time relative to the clean run.
 * Targets (issue 9): <= 2x at 1e-3 per byte and at 1 % drops, <= 5x at 5 % drops.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../src/cli/main.js';
import { spawnFirmwareSim } from '../firmware-sim/spawn.js';

export const FAULT_CELLS: [string, string[]][] = [
  ['clean', []],
  ['corrupt 1e-4/byte', ['--corrupt-rate', '0.0001']],
  ['corrupt 1e-3/byte', ['--corrupt-rate', '0.001']],
  ['corrupt 1e-2/byte', ['--corrupt-rate', '0.01']],
  ['drops 1 %', ['--drop-rate', '0.01']],
  ['drops 5 %', ['--drop-rate', '0.05']],
  ['drops 10 %', ['--drop-rate', '0.1']],
  ["README's set (1 % + 1 % + reset/2000)", ['--corrupt-rate', '0.01', '--drop-rate', '0.01', '--reset-after-steps', '2000']],
  ['reset every 500 steps', ['--reset-after-steps', '500']],
  ['reset every 100 steps', ['--reset-after-steps', '100']],
  ['reset every 10 steps', ['--reset-after-steps', '10']],
  ['stall 20 ms', ['--stall-ms', '20']],
  ['stall 2.5 s', ['--stall-ms', '2500']],
];

export interface FaultRow {
  cell: string;
  seconds: number[];
  identical: boolean[];
  relative: number;
}

export async function benchLinkFaults(runs: number, task: string[], only?: (cell: string) => boolean): Promise<FaultRow[]> {
  const tmp = mkdtempSync(join(tmpdir(), 'anpt-bench-faults-'));
  const quiet = { out: () => {}, err: () => {}, progress: { write: () => true, isTTY: false } };
  const weights = (dir: string) => {
    const j = JSON.parse(readFileSync(join(tmp, dir, 'weights.json'), 'utf8'));
    return JSON.stringify([j.W, j.R, j.V]);
  };
  try {
    if ((await runCli(['train', ...task, '--backend', 'emulator', '--out', join(tmp, 'emu')], quiet)) !== 0) throw new Error('emulator run failed');
    const rows: FaultRow[] = [];
    for (const [cell, faults] of FAULT_CELLS) {
      if (only && cell !== 'clean' && !only(cell)) continue;
      const row: FaultRow = { cell, seconds: [], identical: [], relative: NaN };
      for (let r = 0; r < runs; r++) {
        const sim = await spawnFirmwareSim(['--tcp', '0', '--baud', '115200', '--quiet', '--fault-seed', String(r + 1), ...faults], { timeoutMs: 60_000 });
        const dir = `${rows.length}-${r}`;
        const t0 = performance.now();
        const code = await runCli(['train', ...task, '--device', sim.url(), '--out', join(tmp, dir)], quiet);
        row.seconds.push((performance.now() - t0) / 1000);
        row.identical.push(code === 0 && weights(dir) === weights('emu'));
        await sim.stop();
      }
      rows.push(row);
    }
    const clean = rows[0].seconds.reduce((a, b) => a + b, 0) / rows[0].seconds.length;
    for (const row of rows) row.relative = row.seconds.reduce((a, b) => a + b, 0) / row.seconds.length / clean;
    return rows;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export function formatFaultRows(rows: FaultRow[]): string[] {
  const lines = [`${'cell'.padEnd(40)} ${'x clean'.padStart(8)}  seconds per run              weights = emulator`];
  for (const r of rows)
    lines.push(`${r.cell.padEnd(40)} ${r.relative.toFixed(2).padStart(8)}  ${r.seconds.map((s) => s.toFixed(1)).join(', ').padEnd(28)} ${r.identical.every(Boolean) ? 'yes' : `NO (${r.identical.map((x) => (x ? 'y' : 'n')).join('')})`}`);
  return lines;
}

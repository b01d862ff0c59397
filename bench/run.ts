/**
 * npm run bench: every benchmark in one run, ratios measured in this run.
 *   step    the fused training step, emulator (WASM) vs plain C (gcc -O3 -march=native)
 *   epoch   one Mackey-Glass ANP-T epoch on the emulator (H=100, B=10, 5000+5000 steps)
 *   queue   a 48-row sweep: local piscina vs 1, 2, 4 queue workers on Redis (bench/queue.ts)
 *   link    ANP-T through firmware-sim vs the wire limit
 *   faults  the fault matrix of issue 9 (bench/link-faults.ts): time relative to clean, weights = emulator
 * Results also go to bench/out/results.json. Options: --quick (shorter timings),
 * --only step,epoch.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { benchStepVsC, formatStepRows } from './step-vs-c.js';
import { benchEpoch } from './epoch.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyArg = args.find((a) => a.startsWith('--only='))?.slice(7) ?? args[args.indexOf('--only') + 1];
const only = args.some((a) => a.startsWith('--only')) && onlyArg ? new Set(onlyArg.split(',')) : undefined;
const want = (name: string) => !only || only.has(name);
const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version };

if (want('step')) {
  console.log('== online training step (run 1 step of both copies + on-chip update): the WASM emulator against the host build of the');
  console.log('   firmware kernel (firmware/core via bench/c/step.c, gcc -O3 -march=native), same workload and bits, measured back to back');
  console.log('   rewards dL ~ 1e-5: most weight changes round to zero under nearest rounding; both skip rows, by different tests');
  console.log('   (the emulator: no change possible in the row; firmware/core: every mantissa of the row is 0), so this row favours the emulator');
  const { rows, bitExact } = await benchStepVsC(quick ? 0.3 : 1);
  console.log(`emulator and C produce the same bits on the workload: ${bitExact ? 'yes' : 'NO'}`);
  for (const line of formatStepRows(rows)) console.log(line);
  console.log('   rewards dL ~ 1e-2: most weights change every step: no row is skipped on either side (the like-for-like row)');
  const dense = await benchStepVsC(quick ? 0.3 : 1, [100, 500, 1000], [1, 10], 1e-2);
  for (const line of formatStepRows(dense.rows)) console.log(line);
  results.step = { rows, bitExact, dense: dense.rows };
}

if (want('epoch')) {
  console.log('\n== one Mackey-Glass ANP-T epoch on the emulator (recall-15, H=100, B=10, 5000 train steps online + 5000 test steps)');
  const r = await benchEpoch(quick ? 1 : 3);
  console.log(`seconds per epoch: ${r.secondsPerEpoch.toFixed(3)} (train ${r.trainSeconds.toFixed(3)} + test ${r.testSeconds.toFixed(3)}), ${r.stepsPerSecond.toFixed(0)} train steps/s`);
  console.log(`reference: the issue filer measured 3.8 s per epoch for the authors' PyTorch code (single thread); ratio 3.8 / anpt = ${(3.8 / r.secondsPerEpoch).toFixed(1)}x (PyTorch is not run here)`);
  results.epoch = r;
}

// ---- link (bench/link.ts; owned by the serial-bridge work) -------------------------
if (want('link')) {
  console.log('\n== ANP-T through firmware-sim (Mackey-Glass, H=32, B=1, chunks of 64 steps) vs the wire limit = (baud/10) / bytes per step, both directions, framing included');
  const { benchLink, formatLinkRows } = await import('./link.js');
  const rows = await benchLink(quick);
  for (const line of formatLinkRows(rows)) console.log(line);
  results.link = rows;
}
// ---- end link ------------------------------------------------------------------------

if (want('queue')) {
  console.log('\n== queued sweep (BullMQ on a local redis-server): a 48-row grid, local piscina vs 1, 2 and 4 emulator workers (bench/queue.ts)');
  const { benchQueue, formatQueueRows } = await import('./queue.js');
  const b = await benchQueue(quick);
  for (const line of formatQueueRows(b)) console.log(line);
  results.queue = b;
}

if (want('faults')) {
  console.log('\n== the fault matrix: anpt train --device, default link flags, firmware-sim over TCP at 115200 baud (H=32, B=4, 500 steps, 2 epochs), time relative to the clean run');
  const { benchLinkFaults, formatFaultRows } = await import('./link-faults.js');
  const task = ['--task', 'mackey-glass', '--hidden', '32', '--batch', '4', '--steps', quick ? '200' : '500', '--epochs', quick ? '1' : '2', '--quiet'];
  const cellsArg = args.find((a) => a.startsWith('--cells='))?.slice(8); // e.g. --cells=drops,corrupt 1e-3 (substrings of the cell names)
  const only = cellsArg ? (cell: string) => cellsArg.split(',').some((c) => cell.includes(c)) : undefined;
  const rows = await benchLinkFaults(quick ? 1 : 3, task, only);
  for (const line of formatFaultRows(rows)) console.log(line);
  results.faults = rows;
}

mkdirSync('bench/out', { recursive: true });
writeFileSync('bench/out/results.json', JSON.stringify(results, null, 2) + '\n');
console.log('\nwritten: bench/out/results.json');

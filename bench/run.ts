/**
 * npm run bench: every benchmark in one run, ratios only between sides measured in this
 * run (never against a figure measured elsewhere). The 1-minute load average is printed
 * with every section: the machine may be shared.
 *   step      the online training step: emulator (WASM) vs the firmware's C kernel
 *             (firmware/core, plain) and the tuned AVX2 kernel bench/c/fused.c
 *             (gcc -O3 -march=native), row
 *             skipping on on every side, then off
 *   epoch     one Mackey-Glass ANP-T epoch (H=100, B=10, 5000+5000 steps) on the emulator (threads
 *             auto and 2) and the float model (WASM at threads auto, 1 and 2, and its TypeScript
 *             loops), ratios from the same run
 *   spectral  the per-epoch spectral-radius diagnostic against the epoch, H=1024 and 4096
 *   queue     a 48-row sweep: local piscina vs 1, 2, 4 queue workers on Redis (bench/queue.ts)
 *   link      ANP-T through firmware-sim vs the wire limit
 *   faults    the fault matrix of issue 9 (bench/link-faults.ts): time relative to clean, weights = emulator
 *   cores     ANP-T training on 1 vs 2 threads (EmulatorDevice threads), H=1000 B=10 and smaller, same weights
 * Results also go to bench/out/results.json (--results PATH: elsewhere, e.g. for bench
 * processes run side by side). Options: --quick (shorter timings),
 * --only step,epoch,spectral,link,queue,faults,cores; for faults --repeat N, --first-round N (fault
 * seeds N...), --transports tcp,pty, --cells=SUBSTRING,..., and --merge A.json,B.json: no
 * run, the matrix of the `faults` of these results files (rounds run as separate processes).
 * Each section's tables, stamped with date, commit and load, go to bench/out/tables.md and
 * into README.md and docs/ between `<!-- bench:NAME -->` markers (bench/docs.ts); not with
 * --quick (shorter timings are not the documented ones) or --no-docs.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname } from 'node:path';
import { benchStep, formatStepRows, sameBits } from './step-vs-c.js';
import { benchEpoch, formatEpochRatios, formatEpochRows, type EpochBackend, type EpochThreads } from './epoch.js';
import { benchSpectral, formatSpectralRows } from './spectral.js';
import { commit, stamp, writeBlocks } from './docs.js';
import { coresTable, epochTable, linkTable, queueTable, spectralTable, stepTable } from './tables.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyArg = args.find((a) => a.startsWith('--only='))?.slice(7) ?? args[args.indexOf('--only') + 1];
const only = args.some((a) => a.startsWith('--only')) && onlyArg ? new Set(onlyArg.split(',')) : undefined;
const want = (name: string) => !only || only.has(name);
/** `--name value` or `--name=value`. */
const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? (args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1] : undefined);
const resultsPath = value('results') ?? 'bench/out/results.json';
const load = () => `load average ${os.loadavg()[0].toFixed(2)} on ${os.cpus().length} cores`;
const results: Record<string, unknown> = { date: new Date().toISOString(), commit: commit(), node: process.version, cores: os.cpus().length, loadAtStart: os.loadavg()[0] };
console.log(`${new Date().toISOString()}  node ${process.version}  ${load()}`);
/** Markdown blocks for the docs, by marker name; `section()` notes when and under which load a section began. */
const blocks: Record<string, string> = {};
let sectionStart = { at: new Date(), load: os.loadavg()[0] };
const section = () => (sectionStart = { at: new Date(), load: os.loadavg()[0] });
const addBlock = (name: string, body: string, extra = '', what?: string) => (blocks[name] = `${stamp(name, sectionStart.at, sectionStart.load, extra, what)}\n\n${body}`);

if (want('step')) {
  section();
  console.log('\n== fused training step (online: 1 step of both copies + the on-chip update), bench/c/step.c workload: plain C = firmware/core, tuned AVX2 fused = bench/c/fused.c (the update applied inside the next forward pass); same bits on every side');
  const bits = await sameBits();
  console.log(`emulator, firmware/core plain and tuned, bench/c/fused.c give the same weights (skip on and off): ${bits.ok ? 'yes' : 'NO'} (${bits.cases.length} dumps)`);
  if (!bits.ok) for (const c of bits.cases) console.log(`   ${c}`);
  const seconds = quick ? 0.3 : 1.5;
  const tables: Record<string, unknown> = {};
  for (const dL of [1e-5, 1e-2])
    for (const skip of [true, false]) {
      console.log(`\n   rewards dL ~ ${dL}${dL === 1e-5 ? ' (most changes round to zero)' : ' (most weights change every step)'}, row skipping ${skip ? 'ON on every side' : 'OFF on every side (equal work)'}; skip = share of update rows skipped; ${load()}`);
      const rows = await benchStep(seconds, [100, 500, 1000], [1, 10], dL, skip);
      for (const line of formatStepRows(rows)) console.log(line);
      tables[`dL=${dL} skip=${skip ? 'on' : 'off'}`] = rows;
    }
  results.step = { sameBits: bits, tables };
  const t = tables as Record<string, Awaited<ReturnType<typeof benchStep>>>;
  addBlock('step', stepTable({ onLarge: t[`dL=${1e-2} skip=on`], offLarge: t[`dL=${1e-2} skip=off`], offSmall: t[`dL=${1e-5} skip=off`] }),
    `steps per CPU second of the process, sides alternated, best of 3 rounds; dL ~ 1e-2 unless the column says 1e-5; the same weights on every side: ${bits.ok ? 'yes' : 'NO'} (${bits.cases.length} dumps)`);
}

if (want('epoch')) {
  section();
  const variants: [EpochBackend, EpochThreads][] = [['emulator', 'auto'], ['emulator', 2], ['float', 'auto'], ['float', 1], ['float', 2]];
  console.log(`\n== one Mackey-Glass ANP-T epoch (recall-15, H=100, B=10, 5000 train steps online + 5000 test steps): emulator at threads auto and 2, float model at auto, 1 and 2, alternated, ${quick ? 1 : 2} rounds of ${quick ? 1 : 3} epochs, the faster round shown; auto's count in parentheses; ${load()}`);
  const best = new Map<string, Awaited<ReturnType<typeof benchEpoch>>>();
  for (let round = 0; round < (quick ? 1 : 2); round++)
    for (const [backend, threads] of variants) {
      const r = await benchEpoch(quick ? 1 : 3, backend, threads);
      const name = `${backend} ${threads}`;
      if (!best.has(name) || r.secondsPerEpoch < best.get(name)!.secondsPerEpoch) best.set(name, r);
    }
  best.set('float-js', await benchEpoch(1, 'float-js'));
  const rows = [...best.values()];
  for (const line of formatEpochRows(rows)) console.log(line);
  for (const line of formatEpochRatios(rows)) console.log(line);
  const mse = [await benchEpoch(1, 'float', 1), await benchEpoch(1, 'float', 2)].map((r) => r.testMse);
  console.log(`float model engines and thread counts give the same test MSE bits (1 epoch: WASM on 1 and 2 threads, TypeScript): ${mse.every((m) => m === best.get('float-js')!.testMse) ? 'yes' : 'NO'}; ${load()}`);
  results.epoch = rows;
  addBlock('epoch', epochTable(rows), `the faster of ${quick ? 1 : 2} alternated rounds of ${quick ? 1 : 3} epochs (TypeScript: 1 epoch); the float engines and thread counts give the same test MSE bits: ${mse.every((m) => m === best.get('float-js')!.testMse) ? 'yes' : 'NO'}`);
}

if (want('spectral')) {
  section();
  console.log(`\n== spectral-radius diagnostic per epoch vs the epoch (emulator, Mackey-Glass size: 5000+5000 steps, B=10); ${load()}`);
  const rows = await benchSpectral(quick ? [1024] : [1024, 4096]);
  for (const line of formatSpectralRows(rows)) console.log(line);
  results.spectral = rows;
  addBlock('spectral', spectralTable(rows), 'epoch seconds from measured steps per second');
}

// ---- link (bench/link.ts; owned by the serial-bridge work) -------------------------
if (want('link')) {
  section();
  console.log(`\n== ANP-T through firmware-sim (Mackey-Glass, H=32, B=1, chunks of 64 steps) vs the wire limit = (baud/10) / bytes per step, both directions, framing included; ${load()}`);
  console.log('   "one in flight": a request, then its reply, step sizes in every Reward (the link before pipelining); "pipelined": Reward(k) with Run(k+1), Reward.same_rates;');
  console.log('   "preloaded": as pipelined, and Run(k+1)\'s inputs sent ahead behind Run(k) (Request.preload), Run(k+1) then goes as its header (Run.preloaded).');
  console.log('   A pipelined link carries bytes both ways at once, so it can pass the wire limit; the limit is not redefined for it.');
  const { benchLink, formatLinkRows, benchCliLink, formatCliLinkRow, benchRewardEncodings, formatRewardEncodingRows } = await import('./link.js');
  const rows = await benchLink(quick);
  for (const line of formatLinkRows(rows)) console.log(line);
  console.log(`\n== the CLI with default flags through firmware-sim on a pty at 115200 baud: every byte of the run (configure, weights, training, test passes) over its wall time; ${load()}`);
  const cli = await benchCliLink(115200, quick ? 300 : 1000);
  for (const line of formatCliLinkRow(cli)) console.log(line);
  console.log('\n== the reward dL in lossless encodings, bytes per value (real ANP-T dL, Mackey-Glass on the emulator, H=100, B=10): Reward.delta_loss stays a double');
  const enc = [await benchRewardEncodings(1), await benchRewardEncodings(64)];
  for (const line of formatRewardEncodingRows(enc)) console.log(line);
  results.link = { rows, cli, rewardEncodings: enc };
  addBlock('link', linkTable(rows, cli, enc), 'ANP-T through firmware-sim, Mackey-Glass, H = 32, B = 1; wire limit = (baud / 10) / bytes per step, both directions, framing included');
}
// ---- end link ------------------------------------------------------------------------

if (want('queue')) {
  section();
  console.log('\n== queued sweep (BullMQ on a local redis-server): a 48-row grid, local piscina vs 1, 2 and 4 emulator workers (bench/queue.ts)');
  const { benchQueue, formatQueueRows } = await import('./queue.js');
  const b = await benchQueue(quick);
  for (const line of formatQueueRows(b)) console.log(line);
  results.queue = b;
  addBlock('queue', queueTable(b), `a ${b.rows}-row grid, BullMQ on a local redis-server, the fastest of the repeats`);
}

if (want('faults')) {
  section();
  // --repeat N: rounds of the whole matrix (default 3, --quick 1); --transports tcp,pty;
  // --cells=drops,corrupt 1e-3 (substrings of the cell names; clean always runs);
  // --merge A.json,B.json: the matrix of results files written by such runs
  const { benchLinkFaults, formatFaultRows, mergeFaultRows } = await import('./link-faults.js');
  const merge = value('merge');
  if (merge) {
    const { readFileSync } = await import('node:fs');
    const files = merge.split(',');
    const parsed = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as { faults?: []; date?: string; loadAtStart?: number; commit?: string });
    const rows = mergeFaultRows(parsed.map((j) => j.faults ?? []));
    const runs = parsed.map((j, i) => `${files[i]}: commit ${j.commit ?? '?'}, started ${j.date?.slice(0, 16).replace('T', ' ') ?? '?'} UTC at load ${j.loadAtStart?.toFixed(2) ?? '?'}`).join('; ');
    console.log(`\n== the fault matrix merged from ${files.join(', ')}: wall-clock time relative to all clean runs of the same transport`);
    for (const line of formatFaultRows(rows)) console.log(line);
    results.faults = rows;
    addBlock('faults', formatFaultRows(rows).join('\n'), `the matrix merged from ${files.length} results file(s) of \`npm run bench -- --only faults\` (${runs}); the load column is each run's own`, `merged at commit ${commit()}`);
  } else {
    const rounds = Number(value('repeat') ?? (quick ? 1 : 3));
    if (!Number.isSafeInteger(rounds) || rounds < 1) throw new Error(`--repeat: '${value('repeat')}' is not a positive number of rounds (e.g. --repeat 3)`);
    const firstRound = Number(value('first-round') ?? 1); // --first-round N: continue a matrix with fault seeds N, N+1, ...
    if (!Number.isSafeInteger(firstRound) || firstRound < 1) throw new Error(`--first-round: '${value('first-round')}' is not a positive round number (e.g. --first-round 2)`);
    const transports = (value('transports') ?? 'tcp,pty').split(',') as ('tcp' | 'pty')[];
    for (const t of transports) if (t !== 'tcp' && t !== 'pty') throw new Error(`--transports: '${t}' is not tcp or pty (e.g. --transports tcp,pty)`);
    const cellsArg = value('cells');
    const only = cellsArg ? (cell: string) => cellsArg.split(',').some((c) => cell.includes(c)) : undefined;
    console.log(`\n== the fault matrix: anpt train --device, default link flags, firmware-sim over ${transports.join(' and ')} at 115200 baud (H=32, B=4, ${quick ? '200 steps, 1 epoch' : '500 steps, 2 epochs'}), ${rounds} round(s), wall-clock time relative to the clean runs; ${load()}`);
    const task = ['--task', 'mackey-glass', '--hidden', '32', '--batch', '4', '--steps', quick ? '200' : '500', '--epochs', quick ? '1' : '2', '--quiet'];
    const onRun = (row: { transport: string; cell: string; seconds: number[]; identical: boolean[]; failures: string[] }, round: number) =>
      console.log(`   round ${round} ${row.transport} ${row.cell}: ${row.seconds.at(-1)!.toFixed(1)} s, weights = emulator: ${row.identical.at(-1) ? 'yes' : `NO ${row.failures.at(-1) ?? ''}`}; ${load()}`);
    const rows = await benchLinkFaults({ rounds, firstRound, task, transports, only, onRun });
    console.log(`${new Date().toISOString()}  ${load()}`);
    for (const line of formatFaultRows(rows)) console.log(line);
    results.faults = rows;
    addBlock('faults', formatFaultRows(rows).join('\n'), `anpt train --device with default link flags, firmware-sim over ${transports.join(' and ')} at 115200 baud, H = 32, B = 4, ${rounds} round(s)`);
  }
}

if (want('cores')) {
  section();
  const [rounds, steps] = quick ? [2, 300] : [5, 500];
  console.log(`\n== one chip on two cores: ANP-T training (Mackey-Glass recall-15, online, 16-bit) on the emulator with threads 1 and 2, ${rounds} alternated rounds of ${steps} steps (median, each round in brackets, and the ratio of the best rounds: the least disturbed on a shared machine); wall-clock steps/s; ${load()}`);
  const { benchCores, formatCoresRows } = await import('./cores.js');
  const sizes: [number, number, number?][] = quick ? [[1000, 10]] : [[1000, 10], [600, 10], [400, 10], [200, 10], [100, 10], [1000, 1], [1000, 10, 50]];
  const rows = await benchCores(sizes, steps, rounds);
  for (const line of formatCoresRows(rows)) console.log(line);
  results.cores = rows;
  addBlock('cores', coresTable(rows), `ANP-T online (chunk 1 unless given), Mackey-Glass, 16-bit, ${rounds} alternated rounds of ${steps} steps, wall-clock steps/s`);
}

mkdirSync(dirname(resultsPath), { recursive: true });
writeFileSync(resultsPath, JSON.stringify(results, null, 2) + '\n');
console.log(`\nwritten: ${resultsPath}`);
const tablesPath = `${dirname(resultsPath)}/tables.md`;
writeFileSync(tablesPath, Object.entries(blocks).map(([name, body]) => `## ${name}\n\n${body}\n`).join('\n'));
console.log(`written: ${tablesPath}`);
if (quick || args.includes('--no-docs')) console.log('docs not changed (--quick or --no-docs)');
else for (const line of writeBlocks(blocks)) console.log(`tables regenerated: ${line}`);

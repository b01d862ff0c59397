/**
 * The markdown tables `npm run bench` writes into README.md and docs/ (bench/docs.ts
 * puts them between their markers). One function per bench section, from the rows the
 * section measured; where issue 14 sets a target, the table says whether this run met it.
 */
import type { StepRow } from './step-vs-c.js';
import type { EpochBench } from './epoch.js';
import type { SpectralRow } from './spectral.js';
import type { CoresRow } from './cores.js';
import type { QueueBench } from './queue.js';
import type { CliLinkRow, LinkBenchRow, RewardEncodingRow } from './link.js';

const md = (header: string[], rows: (string | number)[][]) =>
  [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const x = (v: number) => `${v.toFixed(2)}x`;
const pct = (v: number, digits = 0) => `${(100 * v).toFixed(digits)} %`;
const int = (v: number) => Math.round(v).toLocaleString('en-US');
const met = (ok: boolean) => (ok ? 'met' : '**missed**');

/** The four step tables (reward scale x row skipping) as one: the columns of README's "The emulator". */
export function stepTable(t: { onLarge: StepRow[]; offLarge: StepRow[]; offSmall: StepRow[] }): string {
  const key = (r: StepRow) => `${r.H} ${r.B}`;
  const off = new Map(t.offLarge.map((r) => [key(r), r]));
  const small = new Map(t.offSmall.map((r) => [key(r), r]));
  const rows = t.onLarge.map((on) => {
    const o = off.get(key(on))!, s = small.get(key(on))!;
    const target = on.H >= 500 ? ` (${met(o.vsTuned >= 0.5 && s.vsTuned >= 0.5)})` : '';
    return [
      on.H, on.B, x(on.vsTuned),
      `${[on.emulator, on.plain, on.tuned].map((side) => (100 * side.skippedShare).toFixed(0)).join(', ')} %`,
      int(o.emulator.stepsPerSecond), int(o.plain.stepsPerSecond), int(o.tuned.stepsPerSecond),
      x(o.vsTuned) + target, x(o.vsPlain), x(s.vsTuned),
    ];
  });
  return md(
    ['H', 'B', 'skip ON: emulator / tuned', 'rows skipped (emu, plain, tuned)', 'skip OFF: emulator steps/s', 'plain C', 'tuned AVX2 fused', 'emulator / tuned (target >= 0.5x at H >= 500, both rewards)', 'emulator / plain', 'skip OFF, dL ~ 1e-5: emulator / tuned'],
    rows,
  );
}

const epochName: Record<EpochBench['backend'], string> = { emulator: 'emulator (16-bit)', float: 'float model, WASM', 'float-js': 'float model, TypeScript' };
const threads = (r: EpochBench) => (r.threadsAsked === 'auto' ? `auto (${r.threads})` : String(r.threadsAsked));
const epochRow = (rows: EpochBench[], backend: EpochBench['backend'], t: EpochBench['threadsAsked']) => rows.find((r) => r.backend === backend && r.threadsAsked === t);

/** Seconds per Mackey-Glass ANP-T epoch per backend and threads, and the two targets of issue 14. */
export function epochTable(rows: EpochBench[]): string {
  const emu = epochRow(rows, 'emulator', 'auto');
  const table = md(
    ['backend', 'threads', 'wall s per epoch (train + test)', 'CPU s', 'train steps/s', 'vs the emulator at auto, wall (CPU)'],
    rows.map((r) => [
      epochName[r.backend], threads(r), `${r.secondsPerEpoch.toFixed(3)} (${r.trainSeconds.toFixed(3)} + ${r.testSeconds.toFixed(3)})`, r.cpuSecondsPerEpoch.toFixed(3), int(r.stepsPerSecond),
      emu && r !== emu ? `${x(r.secondsPerEpoch / emu.secondsPerEpoch)} (${x(r.cpuSecondsPerEpoch / emu.cpuSecondsPerEpoch)})` : '',
    ]),
  );
  const lines = [table, ''];
  const one = epochRow(rows, 'emulator', 1) ?? (emu?.threads === 1 ? emu : undefined);
  if (one) lines.push(`- Emulator on one thread: ${one.secondsPerEpoch.toFixed(3)} s per epoch (issue 14: at most 0.15 s on a quiet machine: ${met(one.secondsPerEpoch <= 0.15)} in this run).`);
  for (const [what, f, e] of [['at their defaults', 'auto', 'auto'], ['both on 2 threads', 2, 2]] as const) {
    const fr = epochRow(rows, 'float', f), er = epochRow(rows, 'emulator', e);
    if (fr && er) lines.push(`- Float model (WASM) / emulator, ${what}: ${x(fr.secondsPerEpoch / er.secondsPerEpoch)} wall, ${x(fr.cpuSecondsPerEpoch / er.cpuSecondsPerEpoch)} CPU (issue 14: at most 2x: ${met(fr.secondsPerEpoch / er.secondsPerEpoch <= 2)}).`);
  }
  return lines.join('\n');
}

export function spectralTable(rows: SpectralRow[]): string {
  return md(
    ['H', 'B', 'epoch s (5000 + 5000 steps)', 'cold radius s', 'share of the epoch', 'warm radius s (the per-epoch check)', 'share (target < 5 %)'],
    rows.map((r) => [r.H, r.B, r.epochSeconds.toFixed(1), r.coldSeconds.toFixed(2), pct(r.coldShare, 2), r.warmSeconds.toFixed(2), `${pct(r.warmShare, 2)} (${met(r.warmShare < 0.05)})`]),
  );
}

/** Median, the rounds, and the ratio of medians and of best rounds. */
export function coresTable(rows: CoresRow[]): string {
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];
  const cols = (v: number[]) => `${int(median(v))} (${v.map(int).join(', ')})`;
  return md(
    ['H', 'B', 'chunk', '1 thread steps/s: median (rounds)', '2 threads', '2/1 median', '2/1 best rounds', 'same weights'],
    rows.map((r) => [
      r.hidden, r.batch, r.chunk, cols(r.one), cols(r.two),
      x(r.ratio) + (r.hidden === 1000 && r.batch === 10 && r.chunk === 1 ? ` (target >= 1.7x: ${met(r.ratio >= 1.7)})` : ''),
      x(Math.max(...r.two) / Math.max(...r.one)), r.sameWeights ? 'yes' : '**NO**',
    ]),
  );
}

export function linkTable(rows: LinkBenchRow[], cli: CliLinkRow, enc: RewardEncodingRow[]): string {
  const table = md(
    ['link', 'baud', 'chunk', 'mode', 'steps/s', 'wire limit', 'of the limit', 'bytes per step: all (out + in)', 'rtt p50', 'retries'],
    rows.map((r) => [
      r.link, int(r.baud), r.chunk, r.mode, int(r.stepsPerSecond), int(r.wireLimitStepsPerSecond),
      pct(r.ofWireLimit, 1) + (r.baud === 1_000_000 && r.chunk === 64 && r.mode === 'preloaded' ? ` (target >= 90 %: ${met(r.ofWireLimit >= 0.9)})` : ''),
      `${r.bytesPerStep.toFixed(2)} (${r.bytesOutPerStep.toFixed(2)} + ${(r.bytesPerStep - r.bytesOutPerStep).toFixed(2)})`, `${r.rttP50Ms.toFixed(2)} ms`, r.retries,
    ]),
  );
  const cliLine = `- The CLI with default flags (\`anpt ${cli.args.join(' ').replace(/serial:\/\/[^ ]+/, 'serial://PTY')}\`, H = 100, B = 10, online) at ${int(cli.baud)} baud on a pty: ${cli.stepsPerSecond.toFixed(1)} train steps/s, ${cli.bytesPerStep.toFixed(1)} bytes per train step (every byte of the run), ${pct(cli.ofWireLimit, 1)} of the wire limit.`;
  const encTable = md(
    ['chunk', 'dL values', 'bytes per dL: f64 (sent)', 'xor-previous', 'deflate per chunk', 'decimal text', 'float32 exact'],
    enc.map((r) => [r.chunk, int(r.values), r.f64.toFixed(2), r.xorPrevious.toFixed(2), r.deflate.toFixed(2), r.decimal.toFixed(2), pct(r.float32Exact, 1)]),
  );
  return [table, '', cliLine, '', 'The reward dL in lossless encodings (real ANP-T dL, Mackey-Glass on the emulator, H = 100, B = 10):', '', encTable].join('\n');
}

export function queueTable(b: QueueBench): string {
  const table = md(['run', 'wall s', 'speed-up over 1 local thread', 'median gap between rows on a worker'], b.results.map((r) => [r.run, r.seconds.toFixed(1), x(r.speedup), `${r.gapMs.toFixed(0)} ms`]));
  return `${table}\n\nOverhead per row, (wall - the rows' own compute) / ${b.rows}: queue with 1 worker ${b.overheadMsPerRow.toFixed(0)} ms, local piscina with 1 thread ${b.localOverheadMsPerRow.toFixed(0)} ms.`;
}

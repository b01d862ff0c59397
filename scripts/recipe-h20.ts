/**
 * Issue 11's best setting for training W and R, measured the way a user meets it:
 * through `anpt train` (the built CLI, dist/), 3 seeds, at H = 20 on the adding problem,
 * beside the same command with --readout-only, the tuned reservoir and full BPTT from
 * the same CLI. Writes docs/results/recipe-h20.md.
 *
 *   npm run build:ts && nice -n 10 npx tsx scripts/recipe-h20.ts           # runs what is missing, then the table
 *   npx tsx scripts/recipe-h20.ts --table                                  # only rewrite the table
 *   nice -n 10 npx tsx scripts/recipe-h20.ts --more-seeds                  # also seeds 1-7 (the spread over seeds)
 *
 * Resumable: one JSON line per finished run in docs/results/recipe-h20-runs.jsonl,
 * keyed by the command line. Two runs at a time (2 cores; the float model then takes
 * one thread each, --threads 1, the same bits as any thread count).
 *
 * The setting is the one the sixth reading of docs/results/recurrent-learning-notes.md
 * chose on validation ("h20-copies32-rates": 32 noisy copies, the rms step with momentum
 * 0.9, the ridge readout every 100 steps, the cap every 10 steps, 20 epochs), with its
 * rates written as `anpt train` takes them: with --rms, lr is the step of each weight,
 * and the script's rates x (B M / 10)^2 = 1024 are that step (0.05 x 1e-3 x 1024 for W,
 * 0.05 x 3e-3 x 1024 for R). Two things differ from the script's runs: the CLI has no
 * validation set, so it reports the last epoch, not the best one on validation; and the
 * script refitted V once more after the first step of every epoch (its refit counter did
 * not restart at the epoch's own fit), the CLI every 100 steps counted from that fit.
 * The last row adds --rollback 1.05 (eighth reading): a validation set, the task drawn
 * with data seed + 7919 as the script's, scored after every epoch; the run goes back to
 * the best epoch when one ends 5 % above it, and ends on the best.
 */
import { execFile } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT, SEEDS } from './results.js';

const RUNS = join(ROOT, 'docs', 'results', 'recipe-h20-runs.jsonl');
const OUT = join(ROOT, 'docs', 'results', 'recipe-h20.md');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
const run = promisify(execFile);

const COMMON = ['--task', 'adding', '--hidden', '20', '--threads', '1'];
/** The rule's setting (flags after `anpt train`), without the seed. */
const RECIPE = [...COMMON, '--epochs', '20', '--backend', 'float', '--trace', 'innovation', '--trace-decay', '0.9', '--readout', 'ridge', '--ridge-every', '100',
  '--reward', 'sequence', '--rms', '0.999', '--rms-clip', '3', '--momentum', '0.9', '--copies', '32', '--output-sigma', '0', '--spectral-every', '10',
  '--lr-w', '0.0512', '--lr-r', '0.1536', '--schedule', 'cosine'];
/** --more-seeds: seeds beside SEEDS, for the rows that make the share of the gap (how much of a 3-seed figure is the seeds). */
const MORE_SEEDS = [1, 2, 3, 4, 5, 6, 7];
const LEARNERS: { name: string; flags: string[]; more?: boolean }[] = [
  { name: 'ANP-T, the setting above', flags: RECIPE, more: true },
  { name: 'the same with --readout-only (W and R frozen)', flags: [...RECIPE, '--readout-only'], more: true },
  { name: 'reservoir, tuned (--algo reservoir)', flags: [...COMMON, '--algo', 'reservoir'], more: true },
  { name: 'full BPTT, Adam (--algo bptt --bptt-window 10 --lr 0.01)', flags: [...COMMON, '--algo', 'bptt', '--bptt-window', '10', '--lr', '0.01', '--schedule', 'cosine', '--epochs', '20'], more: true },
  { name: 'plain ANP-T, every default (--backend float)', flags: [...COMMON, '--backend', 'float', '--epochs', '20'] },
  { name: 'the setting above with --rollback 1.05 (ends on the best epoch on validation)', flags: [...RECIPE, '--rollback', '1.05'], more: true },
];
/** The rows that share the ANP-T setting and make a share of the gap (their index in LEARNERS). */
const ANPT_ROWS = [0, 5];

interface Rec { command: string; learner: string; seed: number; test: number; zero: number; nrmse: number; seconds: number; status: string }

const done = (): Rec[] => (existsSync(RUNS) ? readFileSync(RUNS, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec) : []);
const commandOf = (flags: string[], seed: number) => ['anpt', 'train', ...flags, '--seed', String(seed)].join(' ');

async function one(learner: string, flags: string[], seed: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'anpt-recipe-'));
  try {
    const args = [CLI, 'train', ...flags, '--seed', String(seed), '--out', join(dir, 'run'), '--json', '--quiet'];
    const res = await run(process.execPath, args, { maxBuffer: 1 << 26 }).catch((e: { stdout?: string; code?: number }) => {
      if (e.code === 1 && e.stdout) return { stdout: e.stdout }; // diverged: the summary is still printed
      throw e;
    });
    const s = JSON.parse(res.stdout) as { status: string; final_test_loss: number; zero_output_test_loss: number; final_test_nrmse: number; seconds: number };
    const rec: Rec = { command: commandOf(flags, seed), learner, seed, test: s.final_test_loss, zero: s.zero_output_test_loss, nrmse: s.final_test_nrmse, seconds: s.seconds, status: s.status };
    appendFileSync(RUNS, JSON.stringify(rec) + '\n');
    console.log(`${learner}, seed ${seed}: test ${rec.test.toExponential(3)} (${rec.seconds.toFixed(0)} s)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const e = (x: number) => x.toExponential(2);
const geo = (xs: number[]) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);

function table(): void {
  const recs = done();
  const of = (l: { flags: string[] }, seeds = SEEDS) => seeds.map((seed) => recs.find((r) => r.command === commandOf(l.flags, seed)));
  const L: string[] = ['## Training W and R through `anpt train`: the best setting at H = 20 (issue 11)', '',
    'Made by `npm run build:ts && nice -n 10 npx tsx scripts/recipe-h20.ts` (runs in docs/results/recipe-h20-runs.jsonl). Every row is one `anpt train` command with the seeds 42, 101 and 300, on the adding problem (episodes of 10 steps, 100 per sequence, B = 10), H = 20; test MSE after the last epoch. The ANP-T flags, shared by its two rows:', '',
    '```', `anpt train ${RECIPE.join(' ')}`, '```', '',
    'The setting was chosen on validation by scripts/recurrent-learning.ts (docs/results/recurrent-learning-notes.md, sixth reading: 28 % of the log gap there, best epoch on validation); this table is what the CLI gives with it, from the last epoch. 32 copies are 32 x the forward passes of the other rows: this is not the equal-budget comparison of issue 11.', '',
    '| learner | test MSE 42 / 101 / 300 | geometric mean | NRMSE mean | s / run (mean) |', '|---|---|---|---|---|'];
  const rows = LEARNERS.map((l) => ({ l, rs: of(l) }));
  for (const { l, rs } of rows) {
    const ok = rs.filter((r): r is Rec => r !== undefined && r.status === 'ok');
    L.push(`| ${l.name} | ${rs.map((r) => (r ? (r.status === 'ok' ? e(r.test) : r.status) : 'not run')).join(' / ')} | ${ok.length === SEEDS.length ? e(geo(ok.map((r) => r.test))) : '—'} | ${ok.length ? (ok.reduce((a, r) => a + r.nrmse, 0) / ok.length).toFixed(3) : '—'} | ${ok.length ? (ok.reduce((a, r) => a + r.seconds, 0) / ok.length).toFixed(0) : '—'} |`);
  }
  const complete = (i: number) => rows[i].rs.every((r) => r?.status === 'ok');
  if ([1, 2, 3].every(complete)) {
    const g = (i: number) => geo(rows[i].rs.map((r) => r!.test));
    for (const a of ANPT_ROWS.filter(complete)) {
      const share = Math.log(g(2) / g(a)) / Math.log(g(2) / g(3));
      const beats = rows[a].rs.filter((r, i) => r!.test < rows[1].rs[i]!.test).length;
      L.push('', `Share of the log gap between the tuned reservoir and full BPTT that the row "${LEARNERS[a].name}" closes: ${(100 * share).toFixed(0)} % (issue 11 asks for 50 % at equal budget). It beats the readout-only row on ${beats} of ${SEEDS.length} seeds.`);
    }
  }
  const all = [...SEEDS, ...MORE_SEEDS];
  const wide = LEARNERS.map((l) => ({ l, rs: l.more ? of(l, all) : [] }));
  // a run stopped as diverged still leaves a network (with --rollback the best on validation before the stop): its test MSE counts, and the seeds are named
  const full = (i: number) => wide[i].l.more === true && wide[i].rs.every((r) => r !== undefined && Number.isFinite(r.test));
  if ([1, 2, 3].every(full) && ANPT_ROWS.some(full)) {
    const t = (i: number) => wide[i].rs.map((r) => r!.test);
    const shown = wide.map((_, i) => i).filter(full);
    L.push('', `### The rows on ${all.length} seeds (${all.join(', ')}; \`--more-seeds\`)`, '',
      'How much of a 3-seed figure is the seeds: the outcome of one seed moves a lot under changes that should not matter (docs/results/recurrent-learning-notes.md, seventh reading).', '',
      '| learner | geometric mean | min – max |', '|---|---|---|',
      ...shown.map((i) => `| ${LEARNERS[i].name} | ${e(geo(t(i)))} | ${e(Math.min(...t(i)))} – ${e(Math.max(...t(i)))} |`));
    // the share per seed (each seed's own reservoir and BPTT), and of the geometric means
    for (const a of ANPT_ROWS.filter(full)) {
      const per = all.map((_, k) => Math.log(t(2)[k] / t(a)[k]) / Math.log(t(2)[k] / t(3)[k]));
      const shareAll = Math.log(geo(t(2)) / geo(t(a))) / Math.log(geo(t(2)) / geo(t(3)));
      const sorted = [...per].sort((x, y) => x - y);
      const stopped = wide[a].rs.filter((r) => r!.status !== 'ok').map((r) => `seed ${r!.seed}: ${r!.status}, test MSE of the network it ended on`);
      L.push('', `"${LEARNERS[a].name}"${stopped.length ? ` (${stopped.join('; ')})` : ''}: share of the log gap closed, of the geometric means: ${(100 * shareAll).toFixed(0)} %; per seed (against that seed's reservoir and BPTT) median ${(100 * sorted[Math.floor(sorted.length / 2)]).toFixed(0)} %, min ${(100 * sorted[0]).toFixed(0)} %, max ${(100 * sorted.at(-1)!).toFixed(0)} %; seeds at or past the 50 % bar: ${per.filter((x) => x >= 0.5).length} of ${all.length}. Beats the readout-only row on ${t(a).filter((x, k) => x < t(1)[k]).length} of ${all.length} seeds.`);
    }
    if (ANPT_ROWS.every(full)) L.push('', `With --rollback 1.05 against without, per seed: lower test MSE on ${t(5).filter((x, k) => x < t(0)[k]).length}, equal on ${t(5).filter((x, k) => x === t(0)[k]).length}, higher on ${t(5).filter((x, k) => x > t(0)[k]).length} of ${all.length}.`);
  }
  L.push('');
  writeFileSync(OUT, L.join('\n'));
  console.log(`wrote ${OUT}`);
}

async function main(): Promise<void> {
  if (!process.argv.includes('--table')) {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build:ts first`);
    const have = new Set(done().map((r) => r.command));
    const more = process.argv.includes('--more-seeds');
    const todo = LEARNERS.flatMap((l) => [...SEEDS, ...(more && l.more ? MORE_SEEDS : [])].map((seed) => ({ l, seed }))).filter(({ l, seed }) => !have.has(commandOf(l.flags, seed)));
    // two at a time: each takes the next missing run
    const next = async (): Promise<void> => {
      for (let job = todo.shift(); job; job = todo.shift()) await one(job.l.name, job.l.flags, job.seed);
    };
    await Promise.all([next(), next()]);
  }
  table();
}

await main();

/**
 * The evidence for issue 11's "tasks that need learned recurrence": on each task, a
 * tuned reservoir against full and truncated BPTT, plain ANP-T and its readout-only
 * ablation, on the float model, 3 seeds, everything tuned on validation only.
 *
 *   nice -n 10 npx tsx scripts/recurrence-tasks.ts            # runs what is missing, then writes the section
 *   nice -n 10 npx tsx scripts/recurrence-tasks.ts --table    # only rewrite docs/results/recurrence.md
 *   npx tsx scripts/results-table.ts                          # docs/results.md (includes that section)
 *   nice -n 10 npx tsx scripts/recurrence-tasks.ts --hidden 20 --learners reservoir,bptt-full
 *       # the same at another H (runs in recurrence-runs-h20.jsonl, section in recurrence-h20.md)
 *
 * Resumable: one JSON line per finished run in docs/results/recurrence-runs.jsonl,
 * keyed by task + learner + config + seed.
 *
 * Setting (the same for every learner): H = 100, B = 10, sigma = 1e-3 (ANP-T), float
 * backend, the tasks' defaults (episodes of L = 10 steps, 100 per sequence, so
 * T = 1000). Validation = the test split of the same task drawn from another data seed
 * (seed + VALIDATION_SEED_OFFSET, as scripts/results.ts), never the test set.
 * - lr: every learner with a step size sweeps its LR_GRID (cosine decay) on seed 42 for
 *   TUNE_EPOCHS epochs; the best validation MSE wins; final runs use FINAL_EPOCHS.
 * - reservoir: tuneReservoir (radius of R, gain of W, ridge lambda) on the held-out
 *   20 % tail of the train steps; no epochs. The untuned reservoir (Xavier W and R) is
 *   an extra row.
 * - BPTT full: window L = the episode, so every target's gradient reaches every input
 *   it depends on (exact BPTT within the episode; the state carried in from the
 *   previous episode is a constant). BPTT truncated: window L/2. Adam.
 * - ANP-T: the rule as it is today, with the float defaults of `anpt train`
 *   (online, cosine, spectral cap 0.95 on R); readout-only: W and R frozen.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { trainAnpt } from '../src/learn/anpt.js';
import { evaluateFloat, trainBptt } from '../src/learn/bptt.js';
import { evaluate, nrmse, zeroOutputMse } from '../src/learn/evaluate.js';
import { DEFAULT_GAINS, DEFAULT_RADII, fitRidgeReadout, tuneReservoir } from '../src/learn/reservoir.js';
import { FloatDevice } from '../src/model/float-device.js';
import { NpFloatDevice } from '../src/learn/np.js';
import { WpFloatDevice } from '../src/learn/wp.js';
import { xavierNormal, type RnnShape } from '../src/model/rnn.js';
import { makeTask } from '../src/tasks/index.js';
import type { Task } from '../src/tasks/types.js';
import { BATCH, H, ROOT, SEEDS, SIGMA, TUNE_SEED, VALIDATION_SEED_OFFSET } from './results.js';

/** The hidden size (--hidden; H of scripts/results.ts unless given): another H has its own runs file and section. */
let HIDDEN = H;
const suffix = () => (HIDDEN === H ? '' : `-h${HIDDEN}`);
const runsFile = () => process.env.RECURRENCE_RUNS ?? join(ROOT, 'docs', 'results', `recurrence-runs${suffix()}.jsonl`);
const outFile = () => join(ROOT, 'docs', 'results', `recurrence${suffix()}.md`);
/** Hand-written reading of the numbers, appended to the section. */
const NOTES = join(ROOT, 'docs', 'results', 'recurrence-notes.md');

export const TASKS = ['adding', 'delayed-recall'] as const;
type TaskKey = (typeof TASKS)[number];
const LEARNERS = ['reservoir', 'reservoir-xavier', 'bptt-full', 'bptt-trunc', 'bptt-sgd', 'anpt', 'anpt-ro', 'np', 'wp'] as const;
type Learner = (typeof LEARNERS)[number];
const NAMES: Record<Learner, string> = {
  reservoir: 'reservoir, tuned (radius, gain, lambda on validation)',
  'reservoir-xavier': 'reservoir, untuned (Xavier W and R; lambda on validation)',
  'bptt-full': 'BPTT full (window = episode), Adam',
  'bptt-trunc': 'BPTT truncated (window = episode / 2), Adam',
  'bptt-sgd': 'BPTT full (window = episode), plain SGD',
  anpt: 'ANP-T (plain, CLI float defaults)',
  'anpt-ro': 'ANP-T readout-only',
  np: 'NP (unbiased scale)',
  wp: 'WP (unbiased scale)',
};
const LR_GRID: Partial<Record<Learner, number[]>> = {
  'bptt-full': [1e-3, 3e-3, 1e-2],
  'bptt-trunc': [1e-3, 3e-3, 1e-2],
  // the exact gradient without Adam's per-parameter scaling: what a plain (unnormalised) ANP-T step follows on average
  'bptt-sgd': [0.01, 0.03, 0.1, 0.3, 1],
  anpt: [0.01, 0.03, 0.1, 0.3, 1],
  'anpt-ro': [0.01, 0.03, 0.1, 0.3, 1],
  // NP and WP step along dL xi / sigma^2 (a gradient-sized step): 1e-5 won on Mackey-Glass (docs/results.md)
  np: [1e-6, 1e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2],
  wp: [1e-6, 1e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2],
};
const TUNE_EPOCHS = 10;
const FINAL_EPOCHS = 20;
const CAP = 0.95;

interface Rec {
  key: string; task: TaskKey; learner: Learner; stage: 'tune' | 'final'; lr?: number; epochs: number; seed: number;
  status: 'ok' | 'diverged'; test: number; testNrmse: number; val: number; zeroTest: number; seconds: number; note?: string;
}

const key = (task: TaskKey, learner: Learner, lr: number | undefined, epochs: number, seed: number) => `${task}|${learner}|${lr ?? '-'}|${epochs}|${seed}`;

function readRecs(): Rec[] {
  const RUNS = runsFile();
  if (!existsSync(RUNS)) return [];
  return readFileSync(RUNS, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l, (_k, v: unknown) => (v === null ? NaN : v)) as Rec);
}

function data(task: TaskKey, seed: number): { t: Task; val: Task } {
  return { t: makeTask(task, { batch: BATCH, seed }), val: makeTask(task, { batch: BATCH, seed: seed + VALIDATION_SEED_OFFSET }) };
}

async function run(task: TaskKey, learner: Learner, lr: number | undefined, epochs: number, seed: number, stage: Rec['stage']): Promise<Rec> {
  const started = performance.now();
  const { t, val } = data(task, seed);
  const L = t.train.steps / 100; // the episode length (100 episodes per sequence, the task default)
  const shape: RnnShape = { inputs: t.inputSize, hidden: HIDDEN, outputs: t.outputSize, activation: 'tanh' };
  const init = xavierNormal(shape, seed);
  const done = (status: Rec['status'], test: number, v: number, note?: string): Rec => ({
    key: key(task, learner, lr, epochs, seed), task, learner, stage, lr, epochs, seed, status,
    test, testNrmse: nrmse(test, t.test), val: v, zeroTest: zeroOutputMse(t.test), seconds: (performance.now() - started) / 1000, note,
  });
  if (learner === 'bptt-full' || learner === 'bptt-trunc' || learner === 'bptt-sgd') {
    const res = trainBptt(shape, init, t.train, { epochs, lr: lr!, window: learner === 'bptt-trunc' ? Math.max(1, Math.floor(L / 2)) : L, optimizer: { kind: learner === 'bptt-sgd' ? 'sgd' : 'adam' }, schedule: { kind: 'cosine' }, test: t.test });
    const test = res.epochs.at(-1)!.testMse!, v = evaluateFloat(shape, res.params, val.test).mse;
    return done(Number.isFinite(test) && Number.isFinite(v) ? 'ok' : 'diverged', test, v);
  }
  const dev = learner === 'np' ? new NpFloatDevice() : learner === 'wp' ? new WpFloatDevice() : new FloatDevice();
  await dev.configure({ topology: { ...shape, batch: BATCH }, noise: { hiddenSigma: SIGMA, outputSigma: SIGMA }, seed, maxChunkSteps: 1000 });
  await dev.writeParams(init);
  if (learner === 'reservoir' || learner === 'reservoir-xavier') {
    let note: string;
    if (learner === 'reservoir') {
      const r = await tuneReservoir(dev, t.train);
      note = `radius ${r.radius} (Xavier ${r.initialRadius.toFixed(2)}), gain ${r.gain}, lambda ${r.lambda}`;
    } else note = `lambda ${(await fitRidgeReadout(dev, t.train)).lambda}`;
    return done('ok', (await evaluate(dev, t.test)).mse, (await evaluate(dev, val.test)).mse, note);
  }
  const res = await trainAnpt(dev, t.train, {
    epochs, lr: { w: lr!, r: lr!, v: lr! }, chunkSteps: 1, schedule: { kind: 'cosine' }, readoutOnly: learner === 'anpt-ro',
    spectral: { cap: CAP, everySteps: 100 }, test: t.test, evaluateEvery: epochs,
  });
  if (res.status !== 'ok') return done('diverged', NaN, NaN, res.message);
  return done('ok', res.epochs.at(-1)!.testMse!, (await evaluate(dev, val.test)).mse);
}

function chosenLr(task: TaskKey, learner: Learner, recs: Rec[]): number | undefined {
  const tuned = (LR_GRID[learner] ?? []).map((lr) => recs.find((r) => r.key === key(task, learner, lr, TUNE_EPOCHS, TUNE_SEED)));
  const ok = tuned.filter((r): r is Rec => !!r && r.status === 'ok' && Number.isFinite(r.val));
  return ok.length ? ok.reduce((a, b) => (b.val < a.val ? b : a)).lr : undefined;
}

function plan(recs: Rec[]): { task: TaskKey; learner: Learner; lr?: number; epochs: number; seed: number; stage: Rec['stage'] }[] {
  const out: ReturnType<typeof plan> = [];
  for (const task of TASKS)
    for (const learner of LEARNERS) {
      const grid = LR_GRID[learner];
      if (!grid) { for (const seed of SEEDS) out.push({ task, learner, epochs: 1, seed, stage: 'final' }); continue; }
      for (const lr of grid) out.push({ task, learner, lr, epochs: TUNE_EPOCHS, seed: TUNE_SEED, stage: 'tune' });
      const lr = chosenLr(task, learner, recs);
      if (lr !== undefined) for (const seed of SEEDS) out.push({ task, learner, lr, epochs: FINAL_EPOCHS, seed, stage: 'final' });
    }
  return out;
}

const e = (x: number | undefined, d = 2) => (x === undefined || !Number.isFinite(x) ? '—' : x.toExponential(d));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function finals(task: TaskKey, learner: Learner, recs: Rec[]): Rec[] {
  const lr = LR_GRID[learner] ? chosenLr(task, learner, recs) : undefined;
  const epochs = LR_GRID[learner] ? FINAL_EPOCHS : 1;
  return SEEDS.map((s) => recs.find((r) => r.key === key(task, learner, lr, epochs, s))).filter((r): r is Rec => !!r);
}

function section(recs: Rec[]): string {
  const L: string[] = [`## Tasks that need learned recurrence (issue 11)${HIDDEN === H ? '' : `, at H = ${HIDDEN}`}`, ''];
  L.push(`Made by \`nice -n 10 npx tsx scripts/recurrence-tasks.ts${HIDDEN === H ? '' : ` --hidden ${HIDDEN}`}\` (runs in docs/results/recurrence-runs${suffix()}.jsonl). Float model, H = ${HIDDEN}, B = 10,` + ' sigma = 1e-3, the tasks\' defaults: streams of episodes of L = 10 steps, 100 episodes per sequence (T = 1000 per epoch); inputs [value, marker, query], the target is 0 except at the query step (the last of each episode).');
  if (HIDDEN !== H) L.push('', `Run with \`--learners reservoir,bptt-full,bptt-sgd\` (the learners marked "not run" were left out at this H); the ANP-T runs at H = ${HIDDEN} are the \`h${HIDDEN}-*\` experiments of docs/results/recurrent-learning.md.`, '');
  L.push('- **adding/len10**: two marked values (one in each half of the 9 value steps), target at the query = their sum.');
  L.push('- **delayed-recall/len10**: one marked value in the first half, 8 distractors, target at the query = the marked value (delay 5 to 9 steps).');
  L.push('');
  L.push(`Tuning on validation only (independent sequences from another data seed; never the test set): each learner with a step size sweeps lr (cosine decay) on seed ${TUNE_SEED} for ${TUNE_EPOCHS} epochs (BPTT ${LR_GRID['bptt-full']!.join(', ')} with Adam, ${LR_GRID['bptt-sgd']!.join(', ')} with plain SGD; ANP-T ${LR_GRID.anpt!.join(', ')}; NP and WP, unbiased scale dL xi / sigma^2, ${LR_GRID.np!.join(', ')}), final runs ${FINAL_EPOCHS} epochs on seeds ${SEEDS.join(', ')}. The tuned reservoir chooses the spectral radius of R (${DEFAULT_RADII.join(', ')}), the gain of W (${DEFAULT_GAINS.join(', ')}) and the ridge lambda on the held-out 20 % tail of the train steps (src/learn/reservoir.ts tuneReservoir; the default of \`anpt train --algo reservoir\`). Full BPTT = window of one episode (exact gradient for every target; the state carried in from the previous episode is a constant), truncated = half an episode. ANP-T is the rule as it is today with the float defaults of \`anpt train\` (online, cosine, spectral cap 0.95). NRMSE = sqrt(MSE / var(target)) of the test targets.`, '');
  for (const task of TASKS) {
    const zero = recs.find((r) => r.task === task)?.zeroTest;
    L.push(`### ${task}/len10`, '', `Zero-output test MSE ${e(zero, 3)}.`, '');
    L.push('| learner | setting | test MSE mean [min – max] | NRMSE mean | x zero-output | per seed (42 / 101 / 300) | s / run |', '|---|---|---|---|---|---|---|');
    const resMean = mean(finals(task, 'reservoir', recs).map((r) => r.test));
    for (const l of LEARNERS) {
      const fr = finals(task, l, recs);
      if (!fr.length) { L.push(`| ${NAMES[l]} | not run | | | | | |`); continue; }
      const ok = fr.filter((r) => r.status === 'ok'), div = fr.length - ok.length;
      if (!ok.length) { L.push(`| ${NAMES[l]} | lr ${fr[0].lr} | diverged (${div}/${fr.length}) | | | | |`); continue; }
      const ts = ok.map((r) => r.test);
      const setting = LR_GRID[l] ? `lr ${fr[0].lr}, ${FINAL_EPOCHS} epochs` : fr.map((r) => r.note ?? '').join(' / ');
      L.push(`| ${NAMES[l]} | ${setting} | ${e(mean(ts))} [${e(Math.min(...ts), 1)} – ${e(Math.max(...ts), 1)}]${div ? ` (${div} diverged; mean of the others)` : ''} | ${mean(ok.map((r) => r.testNrmse)).toFixed(3)} | ${mean(ok.map((r) => r.test / r.zeroTest)).toFixed(3)} | ${fr.map((r) => (r.status === 'ok' ? e(r.test) : 'div.')).join(' / ')} | ${mean(fr.map((r) => r.seconds)).toFixed(0)} |`);
    }
    L.push('');
    const bf = finals(task, 'bptt-full', recs), rv = finals(task, 'reservoir', recs);
    if (bf.length && rv.length) {
      const per = SEEDS.map((s) => { const a = rv.find((r) => r.seed === s), b = bf.find((r) => r.seed === s); return a && b ? a.test / b.test : NaN; });
      L.push(`Tuned reservoir / full BPTT (test MSE): mean ${(resMean / mean(bf.map((r) => r.test))).toFixed(2)}x; per seed ${per.map((q) => q.toFixed(2) + 'x').join(' / ')} (the issue asks >= 2x).`, '');
    }
    const sgAll = finals(task, 'bptt-sgd', recs), sg = sgAll.filter((r) => r.status === 'ok');
    if (sgAll.length === SEEDS.length && sg.length < SEEDS.length)
      L.push(`Full BPTT with plain SGD: ${SEEDS.length - sg.length} of ${SEEDS.length} seeds diverged at the lr chosen on validation, so its share of the log gap is not computed (the other seeds: ${sg.map((r) => `${r.seed} ${e(r.test)}`).join(', ')}).`, '');
    if (sg.length === SEEDS.length && bf.length && rv.length) {
      // the same log-gap share as issue 11's bar, for the exact gradient followed without Adam's per-parameter scaling
      const geo = (rs: Rec[]) => Math.exp(mean(rs.map((r) => Math.log(r.test))));
      L.push(`Full BPTT with plain SGD (the exact gradient of every step, no per-parameter scaling): geometric mean ${e(geo(sg))} against Adam's ${e(geo(bf))} and the tuned reservoir's ${e(geo(rv))}; share of the log gap reservoir → full BPTT (Adam) it closes: ${(100 * Math.log(geo(rv) / geo(sg)) / Math.log(geo(rv) / geo(bf))).toFixed(0)} % (issue 11's bar for ANP-T: 50 %).`, '');
    }
    const an = finals(task, 'anpt', recs), ro = finals(task, 'anpt-ro', recs);
    if (an.length && ro.length && rv.length && bf.length) {
      const m = (rs: Rec[]) => mean(rs.map((r) => r.test));
      const beatsRo = SEEDS.filter((s) => { const a = an.find((r) => r.seed === s), b = ro.find((r) => r.seed === s); return a && b && a.test < b.test; }).length;
      const beatsRv = SEEDS.filter((s) => { const a = an.find((r) => r.seed === s), b = rv.find((r) => r.seed === s); return a && b && a.test < b.test; }).length;
      // the share of the reservoir-to-BPTT gap closed, on a log scale (issue 11's acceptance measure)
      const closed = Math.log(m(rv) / m(an)) / Math.log(m(rv) / m(bf));
      L.push(`Plain ANP-T: mean ${e(m(an))} (NRMSE ${mean(an.map((r) => r.testNrmse)).toFixed(3)}) against readout-only ${e(m(ro))} (${mean(ro.map((r) => r.testNrmse)).toFixed(3)}), tuned reservoir ${e(m(rv))} (${mean(rv.map((r) => r.testNrmse)).toFixed(3)}) and full BPTT ${e(m(bf))} (${mean(bf.map((r) => r.testNrmse)).toFixed(3)}); ANP-T beats its readout-only ablation on ${beatsRo}/${SEEDS.length} seeds and the tuned reservoir on ${beatsRv}/${SEEDS.length}; share of the log gap reservoir → full BPTT closed: ${(100 * closed).toFixed(0)} % (closing half of it, issue 11's bar for ANP-T with traces, means a test MSE of at most ${e(Math.sqrt(m(rv) * m(bf)))}).`, '');
    }
    const np = finals(task, 'np', recs), wp = finals(task, 'wp', recs);
    if (an.length && (np.length || wp.length)) {
      // the paper's comparison (issue 11 asks ANP-T >= 2x better than NP and WP here)
      const m = (rs: Rec[]) => mean(rs.filter((r) => r.status === 'ok').map((r) => r.test));
      const div = (rs: Rec[]) => rs.filter((r) => r.status !== 'ok').length;
      const vs = ([['NP', np], ['WP', wp]] as const).filter(([, rs]) => rs.length)
        .map(([n, rs]) => `${n} ${e(m(rs))}${div(rs) ? ` (${div(rs)} of ${rs.length} seeds diverged; mean of the others)` : ''}: ${n} / ANP-T ${(m(rs) / m(an)).toFixed(2)}x`);
      L.push(`The paper's comparison: ANP-T ${e(m(an))} against ${vs.join('; ')} (the issue asks >= 2x).`, '');
    }
    const tune = LEARNERS.filter((l) => LR_GRID[l]).map((l) => `${NAMES[l]}: ${LR_GRID[l]!.map((lr) => { const r = recs.find((x) => x.key === key(task, l, lr, TUNE_EPOCHS, TUNE_SEED)); return `${lr} → ${r ? (r.status === 'ok' ? e(r.val) : 'div.') : '—'}`; }).join(', ')}`);
    L.push(`<details><summary>Tuning (seed ${TUNE_SEED}, ${TUNE_EPOCHS} epochs, validation MSE per lr)</summary>`, '', ...tune.map((x) => `- ${x}`), '', '</details>', '');
  }
  if (HIDDEN === H && existsSync(NOTES)) L.push(readFileSync(NOTES, 'utf8').trim(), '');
  return L.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { table: { type: 'boolean', default: false }, hidden: { type: 'string' }, learners: { type: 'string' } } });
  if (values.hidden !== undefined) {
    HIDDEN = Number(values.hidden);
    if (!Number.isInteger(HIDDEN) || HIDDEN < 1) throw new Error(`--hidden: "${values.hidden}" is not a positive integer (the hidden size; ${H} unless given)`);
  }
  const only = values.learners?.split(',');
  for (const l of only ?? []) if (!(LEARNERS as readonly string[]).includes(l)) throw new Error(`--learners: "${l}" is not a learner; use a comma-separated list of ${LEARNERS.join(', ')}`);
  const RUNS = runsFile(), OUT = outFile();
  mkdirSync(dirname(RUNS), { recursive: true });
  if (!values.table)
    for (let pass = 0; pass < 2; pass++) { // pass 2: the final runs, once tuning has chosen
      const recs = readRecs();
      const have = new Set(recs.map((r) => r.key));
      for (const p of plan(recs).filter((q) => (!only || only.includes(q.learner)) && !have.has(key(q.task, q.learner, q.lr, q.epochs, q.seed)))) {
        const r = await run(p.task, p.learner, p.lr, p.epochs, p.seed, p.stage);
        appendFileSync(RUNS, JSON.stringify(r) + '\n');
        have.add(r.key);
        console.log(`${new Date().toISOString().slice(11, 19)} ${r.key}: ${r.status} test ${e(r.test, 3)} nrmse ${r.testNrmse.toFixed(3)} val ${e(r.val, 3)} ${r.seconds.toFixed(0)} s${r.note ? ' ' + r.note : ''}`);
      }
    }
  writeFileSync(OUT, section(readRecs()) + '\n');
  console.log(`wrote ${OUT}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();

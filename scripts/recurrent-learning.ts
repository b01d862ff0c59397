/**
 * Why ANP-T with traces does not train the recurrent weights on the recurrence tasks,
 * and what it takes (issue 11, docs/results/recurrent-learning.md):
 *
 *   nice -n 10 npx tsx scripts/recurrent-learning.ts --exp rates    # one experiment (what is missing)
 *   nice -n 10 npx tsx scripts/recurrent-learning.ts --table        # only rewrite the section
 *   nice -n 10 npx tsx scripts/recurrent-learning.ts --dl-rms       # the rms dL behind DL_RMS
 *
 * Resumable: one JSON line per finished run in docs/results/recurrent-learning-runs.jsonl,
 * keyed by every setting. Every run: float model, H = 100, B = 10, online, cosine decay,
 * spectral cap 0.95, the tasks' defaults (adding/len10, delayed-recall/len10, T = 1000);
 * the validation MSE (the test split of another data seed, scripts/results.ts) after
 * every epoch is recorded (tuning reads only it), the test MSE once at the end.
 * Experiments (EXPERIMENTS below) are grids over: the trace (none / activity /
 * innovation, decay), the per-layer rates (W, R, V), the readout (the rule's own or
 * ridge on the host), the initial weights (Xavier, or the tuned reservoir's radius and
 * input gain chosen on the held-out tail of the train steps, src/learn/reservoir.ts),
 * the noise sigma, the epochs.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { LearnerConfig } from '../src/device/types.js';
import { trainAnpt } from '../src/learn/anpt.js';
import { evaluate, nrmse, zeroOutputMse } from '../src/learn/evaluate.js';
import { fitRidgeReadout, tuneReservoir } from '../src/learn/reservoir.js';
import { FloatDevice } from '../src/model/float-device.js';
import { xavierNormal, type RnnShape } from '../src/model/rnn.js';
import { spectralRadius } from '../src/linalg/spectral.js';
import { makeTask } from '../src/tasks/index.js';
import { stepMse } from '../src/tasks/types.js';
import { BATCH, H, ROOT, SEEDS, SIGMA, TUNE_SEED, VALIDATION_SEED_OFFSET } from './results.js';

const RUNS = process.env.RECURRENT_RUNS ?? join(ROOT, 'docs', 'results', 'recurrent-learning-runs.jsonl');
const OUT = join(ROOT, 'docs', 'results', 'recurrent-learning.md');
const NOTES = join(ROOT, 'docs', 'results', 'recurrent-learning-notes.md');
const CAP = 0.95;
/** rms dL of the Xavier network (seed 42) with its own readout over its first 200 steps: 1.5e-3 on both tasks. */
const DL_RMS = 1.5e-3;

type TaskKey = 'adding' | 'delayed-recall';
export interface RunSpec {
  task: TaskKey;
  seed: number;
  epochs: number;
  trace: LearnerConfig['trace'];
  decay: number;
  lr: { w: number; r: number; v: number };
  readout: 'device' | 'ridge';
  readoutOnly: boolean;
  init: 'xavier' | 'tuned';
  sigma: number;
  /** dL normalised to this rms (src/learn/anpt.ts normalise, a fixed target), 0 = off. */
  normalise?: number;
}
interface RunRec extends RunSpec {
  key: string; status: 'ok' | 'diverged'; valByEpoch: number[]; val: number; test: number; testNrmse: number; zeroTest: number; initVal: number; note: string; seconds: number;
}

const specKey = (s: RunSpec) =>
  [s.task, s.seed, s.epochs, s.trace, s.decay, s.lr.w, s.lr.r, s.lr.v, s.readout, s.readoutOnly ? 'ro' : 'all', s.init, s.sigma, ...(s.normalise ? [`norm${s.normalise}`] : [])].join('|');

const base = (o: Partial<RunSpec>): RunSpec => ({
  task: 'adding', seed: TUNE_SEED, epochs: 5, trace: 'innovation', decay: 0.9, lr: { w: 0.1, r: 0.1, v: 0.1 }, readout: 'ridge', readoutOnly: false, init: 'xavier', sigma: SIGMA, ...o,
});
const TASKS: TaskKey[] = ['adding', 'delayed-recall'];
const both = (f: (task: TaskKey) => RunSpec[]) => TASKS.flatMap(f);
const same = (x: number) => ({ w: x, r: x, v: x });

/** The experiments, in the order they were run (each a grid on seed 42, validation only). */
const EXPERIMENTS: Record<string, { title: string; runs: () => RunSpec[] }> = {
  rates: {
    title: 'Step size of W and R (ridge readout on the host, so V is solved; innovation trace 0.9 and plain ANP-T)',
    runs: () => both((task) => [0.1, 0.3, 1, 3].flatMap((x) => [base({ task, lr: same(x) }), base({ task, lr: same(x), trace: 'none', decay: 0 })])),
  },
  layers: {
    title: 'W and R at different rates (innovation 0.9, ridge readout): which layer diverges at lr 1',
    runs: () => both((task) => [{ w: 0.3, r: 1, v: 0.3 }, { w: 1, r: 0.3, v: 0.3 }, { w: 0.1, r: 0.3, v: 0.3 }, { w: 0.3, r: 0.1, v: 0.3 }].map((lr) => base({ task, lr }))),
  },
  'tuned-init': {
    title: 'Starting from the tuned reservoir (radius and input gain chosen on the held-out train tail), innovation 0.9, ridge readout',
    runs: () => both((task) => [0.1, 0.3].map((x) => base({ task, lr: same(x), init: 'tuned' }))),
  },
  normalise: {
    title: `dL normalised to a fixed rms (${DL_RMS}, the rms dL of the Xavier network with its own readout), so the W and R step does not grow with the ridge readout's gain (|V| 98 on the tuned reservoir of adding, rms dL 9.7)`,
    runs: () => both((task) => (['xavier', 'tuned'] as const).flatMap((init) => [0.3, 1].map((x) => base({ task, lr: same(x), init, normalise: DL_RMS })))),
  },
  budget: {
    title: 'More epochs at the best rate of "rates" (innovation 0.9, ridge readout, lr 0.3)',
    runs: () => both((task) => [base({ task, lr: same(0.3), epochs: 20 })]),
  },
};

async function run(s: RunSpec): Promise<RunRec> {
  const started = performance.now();
  const t = makeTask(s.task, { batch: BATCH, seed: s.seed }), val = makeTask(s.task, { batch: BATCH, seed: s.seed + VALIDATION_SEED_OFFSET });
  const shape: RnnShape = { inputs: t.inputSize, hidden: H, outputs: t.outputSize, activation: 'tanh' };
  const dev = new FloatDevice();
  const learner: LearnerConfig | undefined = s.trace === 'none' ? undefined : { trace: s.trace, decay: s.decay };
  await dev.configure({ topology: { ...shape, batch: BATCH }, noise: { hiddenSigma: s.sigma, outputSigma: s.sigma }, seed: s.seed, maxChunkSteps: 1000, learner });
  await dev.writeParams(xavierNormal(shape, s.seed));
  let note = '';
  if (s.init === 'tuned') {
    const r = await tuneReservoir(dev, t.train);
    note = `init radius ${r.radius}, gain ${r.gain}`;
  }
  if (s.readout === 'ridge') await fitRidgeReadout(dev, t.train); // trainAnpt fits the same V first: 'start' is what it starts from
  const initVal = (await evaluate(dev, val.test)).mse;
  const res = await trainAnpt(dev, t.train, {
    epochs: s.epochs, lr: s.lr, chunkSteps: 1, schedule: { kind: 'cosine' }, readoutOnly: s.readoutOnly, readout: s.readout,
    spectral: { cap: CAP, everySteps: 100 }, test: val.test, evaluateEvery: 1, normalise: s.normalise ? { target: s.normalise } : undefined,
  });
  const ok = res.status === 'ok';
  const valByEpoch = res.epochs.map((e) => e.testMse ?? NaN);
  const test = ok ? (await evaluate(dev, t.test)).mse : NaN;
  const p = await dev.readParams(), p0 = xavierNormal(shape, s.seed);
  const norm = (x: Float64Array) => Math.sqrt(x.reduce((a, b) => a + b * b, 0));
  note += `${note ? '; ' : ''}end |W| ${norm(p.w).toFixed(2)} (Xavier ${norm(p0.w).toFixed(2)}), rho(R) ${spectralRadius(p.r, H).toFixed(2)}`;
  return {
    ...s, key: specKey(s), status: ok && Number.isFinite(test) ? 'ok' : 'diverged', valByEpoch, val: ok ? valByEpoch.at(-1)! : NaN, test, testNrmse: nrmse(test, t.test),
    zeroTest: zeroOutputMse(t.test), initVal, note: note + (ok ? '' : (note ? '; ' : '') + (res.message ?? '')), seconds: (performance.now() - started) / 1000,
  };
}

/**
 * --dl-rms: the rms dL over the first 200 steps of seed 42 from Xavier weights with the
 * Xavier readout, the ridge readout on them, and the tuned reservoir (the DL_RMS figure).
 */
async function dlRms(): Promise<void> {
  for (const task of TASKS) {
    const t = makeTask(task, { batch: BATCH, seed: TUNE_SEED });
    const shape: RnnShape = { inputs: t.inputSize, hidden: H, outputs: t.outputSize, activation: 'tanh' };
    for (const mode of ['xavier', 'ridge', 'tuned'] as const) {
      const dev = new FloatDevice();
      await dev.configure({ topology: { ...shape, batch: BATCH }, noise: { hiddenSigma: SIGMA, outputSigma: SIGMA }, seed: TUNE_SEED, maxChunkSteps: 1000 });
      await dev.writeParams(xavierNormal(shape, TUNE_SEED));
      if (mode === 'ridge') await fitRidgeReadout(dev, t.train);
      if (mode === 'tuned') await tuneReservoir(dev, t.train);
      const v = (await dev.readParams()).v, K = 200, bo = BATCH * t.outputSize;
      const res = await dev.run({ steps: K, t0: 0, inputs: t.train.inputs.subarray(0, K * BATCH * t.inputSize), noisy: true });
      let sq = 0;
      for (let k = 0; k < K; k++) sq += (stepMse(res.noisy, k * bo, t.train.targets, k * bo, bo) - stepMse(res.clean, k * bo, t.train.targets, k * bo, bo)) ** 2;
      console.log(`${task} ${mode}: |V| ${Math.sqrt(v.reduce((a, b) => a + b * b, 0)).toFixed(2)}, rms dL ${Math.sqrt(sq / K).toExponential(2)}`);
    }
  }
}

function readRuns(): RunRec[] {
  if (!existsSync(RUNS)) return [];
  return readFileSync(RUNS, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l, (_k, v: unknown) => (v === null ? NaN : v)) as RunRec);
}

const e = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : 'div.');
const rates = (s: RunSpec) => (s.lr.w === s.lr.r && s.lr.r === s.lr.v ? `${s.lr.w}` : `W ${s.lr.w}, R ${s.lr.r}, V ${s.lr.v}`);
const variant = (s: RunSpec) => (s.normalise ? `${variantName(s)}, dL rms ${s.normalise}` : variantName(s));
const variantName = (s: RunSpec) => (s.trace === 'none' ? 'plain' : `${s.trace} ${s.decay}`);

function table(recs: RunRec[]): string {
  const out = ['## Training the recurrent weights with traces: diagnosis (issue 11)', '', 'Made by `nice -n 10 npx tsx scripts/recurrent-learning.ts --exp NAME` (runs in docs/results/recurrent-learning-runs.jsonl; settings in the script header). Validation MSE after each epoch; "start" = before the first ANP-T step (after the ridge fit with the ridge readout). Seed 42 unless the row says otherwise.', ''];
  for (const [name, x] of Object.entries(EXPERIMENTS)) {
    const rows = x.runs().map((s) => recs.find((r) => r.key === specKey(s))).filter((r): r is RunRec => !!r);
    if (!rows.length) continue;
    out.push(`### ${name}: ${x.title}`, '', '| task | seed | variant | lr | readout | init | sigma | epochs | start val | val per epoch | test MSE | test NRMSE | note |', '|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows)
      out.push(`| ${r.task} | ${r.seed} | ${r.readoutOnly ? 'readout-only' : variant(r)} | ${rates(r)} | ${r.readout} | ${r.init} | ${r.sigma} | ${r.epochs} | ${e(r.initVal)} | ${r.valByEpoch.map(e).join(' ')} | ${e(r.test)} | ${Number.isFinite(r.testNrmse) ? r.testNrmse.toFixed(3) : '—'} | ${r.note} |`);
    out.push('');
  }
  return out.join('\n') + '\n';
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { exp: { type: 'string', multiple: true }, table: { type: 'boolean' }, 'dl-rms': { type: 'boolean' } } });
  if (values['dl-rms']) return dlRms();
  const recs = readRuns();
  for (const name of values.table ? [] : values.exp ?? []) {
    const x = EXPERIMENTS[name];
    if (!x) throw new Error(`--exp: "${name}" is not an experiment; use one of ${Object.keys(EXPERIMENTS).join(', ')}`);
    for (const s of x.runs()) {
      if (recs.some((r) => r.key === specKey(s))) continue;
      const r = await run(s);
      appendFileSync(RUNS, JSON.stringify(r) + '\n');
      recs.push(r);
      console.log(`${name} ${r.key}: start ${e(r.initVal)} val ${r.valByEpoch.map(e).join(' ')} test ${e(r.test)} (${r.seconds.toFixed(0)} s) ${r.note}`);
    }
  }
  writeFileSync(OUT, table(recs) + (existsSync(NOTES) ? '\n' + readFileSync(NOTES, 'utf8') : ''));
  console.log(`wrote ${OUT}`);
}

void SEEDS;
await main();

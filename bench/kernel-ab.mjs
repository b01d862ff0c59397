// Two kernel builds timed against each other through the raw ABI (the same calls and
// workload as bench/c/step.c: I = O = 1, 16-bit formats, online run + reward), rounds
// interleaved, CPU time of this process (a shared machine descheduling us does not
// count), min and median over the rounds. For checking that a kernel change keeps its
// speed: build the old tree's wasm somewhere, then
//   node bench/kernel-ab.mjs OLD/build/anpt-simd.wasm build/anpt-simd.wasm
// Environment: SIZES='[[100,10]]' (H, B pairs), DLS='[1e-5,1e-2]' (reward scales),
// ROUNDS=15, MS=30 (CPU ms per round), MODE=train|noisy|clean, GAIN, OFF (mismatch).
import { readFileSync } from 'node:fs';

const [fileA, fileB] = process.argv.slice(2);
if (!fileA || !fileB) throw new Error('usage: node bench/kernel-ab.mjs A.wasm B.wasm');
const env = process.env;
const sizes = JSON.parse(env.SIZES ?? '[[100,1],[100,10],[500,1],[500,10],[1000,1]]');
const rewardScales = JSON.parse(env.DLS ?? '[1e-5,1e-2]');
const rounds = Number(env.ROUNDS ?? 15), ms = Number(env.MS ?? 30), mode = env.MODE ?? 'train';
const fmt = (bits, frac) => bits | (frac << 8) | (1 << 16); // signed, nearest, saturating

function loader(file) {
  const mod = new WebAssembly.Module(readFileSync(file));
  return () => new WebAssembly.Instance(mod, { env: { abort() { throw new Error('kernel abort'); } } }).exports;
}

function workload(make, H, B, dL) {
  const k = make();
  const status = k.configure(1, H, 1, B, 1, 0, fmt(16, 12), fmt(16, 12), fmt(16, 12), fmt(16, 15), fmt(16, 12), 1, 0, 4, 4, Number(env.GAIN ?? 0), Number(env.OFF ?? 0), 3, 0, 0, 0);
  if (status !== 0) throw new Error(`configure: status ${status}`);
  let s = 7;
  const rnd = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32 - 0.5;
  const staging = k.ptrStaging() >> 1;
  for (const [tensor, n, scale] of [[0, H, 4096], [1, H * H, (4096 * 1.2) / Math.sqrt(H)], [2, H, 4096 / Math.sqrt(H)]]) {
    const m = new Int16Array(k.memory.buffer);
    for (let q = 0; q < n; q++) m[staging + q] = Math.round(rnd() * 2 * scale);
    k.loadTensor(tensor);
  }
  const inputs = k.ptrInputs() >> 1, rewards = k.ptrRewards() >> 3;
  return (t) => {
    const m = new Int16Array(k.memory.buffer);
    for (let b = 0; b < B; b++) m[inputs + b] = Math.round(Math.sin(t * 0.1 + b) * 4096);
    k.run(1, t, mode === 'clean' ? 0 : 1, 0);
    if (mode !== 'train') return;
    new Float64Array(k.memory.buffer)[rewards] = dL * Math.sin(t * 0.37);
    k.reward(1, t, 0.1, 0.1, 0.1);
  };
}

const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
function microsPerStep(step, budgetMs) {
  let t = 0;
  const start = cpuMs();
  while (cpuMs() - start < budgetMs) for (let j = 0; j < 32; j++) step(t++);
  return ((cpuMs() - start) * 1000) / t;
}

const A = loader(fileA), B = loader(fileB);
const min = (x) => Math.min(...x), median = (x) => [...x].sort((p, q) => p - q)[x.length >> 1];
for (const dL of rewardScales)
  for (const [H, batch] of sizes) {
    const a = workload(A, H, batch, dL), b = workload(B, H, batch, dL);
    microsPerStep(a, 150); // warm-up (JIT tiers)
    microsPerStep(b, 150);
    const ta = [], tb = [];
    for (let r = 0; r < rounds; r++) { ta.push(microsPerStep(a, ms)); tb.push(microsPerStep(b, ms)); }
    console.log(`dL ${dL} H ${H} B ${batch} ${mode}: A ${min(ta).toFixed(2)} us (median ${median(ta).toFixed(2)}), B ${min(tb).toFixed(2)} us (median ${median(tb).toFixed(2)}), B/A ${(min(tb) / min(ta)).toFixed(3)} (median ${(median(tb) / median(ta)).toFixed(3)})`);
  }

/**
 * Seconds per Mackey-Glass ANP-T epoch: H=100, B=10, online (one run + one reward per
 * step) over 5000 train steps, then 5000 test steps clean. On the emulator backend
 * (16-bit weights) and on the float model (binary64): its WASM engine (the default)
 * and its TypeScript loops (engine 'js', the same bits, one epoch: it is slow). Each
 * at a threads option (1, 2 or 'auto', the default; the rows split between threads with
 * the same bits), the count it gave recorded. Wall-clock and process CPU seconds (the
 * machine may be shared; with 2 threads the CPU seconds are both threads').
 * `npx tsx bench/epoch.ts parts` prints where the float model's epoch goes (benchFloatParts);
 * `npx tsx bench/epoch.ts kernel a.wasm b.wasm` times the kernel calls of an epoch for builds (benchFloatKernel).
 */
import { EmulatorDevice } from '../src/device/emulator.js';
import { defaultChipFormats } from '../src/device/config.js';
import type { Device, DeviceConfig } from '../src/device/types.js';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';
import { trainAnpt } from '../src/learn/anpt.js';
import { evaluate } from '../src/learn/evaluate.js';
import { FloatDevice } from '../src/model/float-device.js';
import { xavierNormal } from '../src/model/rnn.js';
import { FloatKernel } from '../src/model/float-wasm.js';
import { stepMse } from '../src/tasks/types.js';
import { createHash } from 'node:crypto';
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';

export type EpochBackend = 'emulator' | 'float' | 'float-js';
/** The devices' threads option (EmulatorDevice and FloatDevice alike). */
export type EpochThreads = 1 | 2 | 'auto';

export interface EpochBench {
  backend: EpochBackend;
  /** The threads option asked for, and the count it gave (auto decides at configure). */
  threadsAsked: EpochThreads;
  threads: number;
  secondsPerEpoch: number;
  trainSeconds: number;
  testSeconds: number;
  /** Process CPU seconds per epoch (user + system). */
  cpuSecondsPerEpoch: number;
  stepsPerSecond: number;
  epochs: number;
  /** Test MSE after the last epoch (the float engines must agree to the bit). */
  testMse: number;
}

function device(backend: EpochBackend, threads: EpochThreads): Device & { readonly threads: number } {
  if (backend === 'emulator') return new EmulatorDevice({ threads });
  return new FloatDevice({ engine: backend === 'float' ? 'wasm' : 'js', threads });
}

export async function benchEpoch(epochs: number, backend: EpochBackend = 'emulator', threadsAsked: EpochThreads = 'auto'): Promise<EpochBench> {
  const task = mackeyGlassTask({ steps: 5000, batch: 10, mode: 'recall', horizon: 15, seed: 42 });
  const H = 100;
  const dev = device(backend, threadsAsked);
  const config: DeviceConfig = {
    topology: { inputs: 1, hidden: H, outputs: 1, batch: 10, activation: 'tanh' },
    noise: { hiddenSigma: 1e-3, outputSigma: 1e-3 },
    seed: 42,
    maxChunkSteps: 500,
  };
  if (backend === 'emulator') config.formats = defaultChipFormats({ weightBits: 16 });
  await dev.configure(config);
  await dev.writeParams(xavierNormal({ inputs: 1, hidden: H, outputs: 1, activation: 'tanh' }, 42));
  let train = 0;
  let test = 0;
  let t0 = 0;
  let testMse = NaN;
  const cpu0 = process.cpuUsage();
  for (let e = 0; e < epochs; e++) {
    const a = performance.now();
    const r = await trainAnpt(dev, task.train, { epochs: 1, lr: { w: 0.3, r: 0.3, v: 0.3 }, t0 });
    t0 = r.nextT0;
    const b = performance.now();
    testMse = (await evaluate(dev, task.test)).mse;
    const c = performance.now();
    train += (b - a) / 1000;
    test += (c - b) / 1000;
  }
  const cpu = process.cpuUsage(cpu0);
  const threads = dev.threads;
  await dev.close();
  return {
    backend, threadsAsked, threads, secondsPerEpoch: (train + test) / epochs, trainSeconds: train / epochs, testSeconds: test / epochs,
    cpuSecondsPerEpoch: (cpu.user + cpu.system) / 1e6 / epochs, stepsPerSecond: (5000 * epochs) / train, epochs, testMse,
  };
}

/** The row of a backend at a threads option. */
function rowOf(rows: EpochBench[], backend: EpochBackend, threads: EpochThreads): EpochBench | undefined {
  return rows.find((r) => r.backend === backend && r.threadsAsked === threads);
}

/** "threads auto (1 thread)": the option and the count it gave. */
function threadsLabel(r: EpochBench): string {
  return `threads ${r.threadsAsked}${r.threadsAsked === 'auto' ? ` (${r.threads})` : ''}`;
}

/** b against a, wall-clock and CPU: "2.70x (CPU 2.65x)". */
function ratio(b: EpochBench, a: EpochBench): string {
  return `${(b.secondsPerEpoch / a.secondsPerEpoch).toFixed(2)}x (CPU ${(b.cpuSecondsPerEpoch / a.cpuSecondsPerEpoch).toFixed(2)}x)`;
}

/** One line per backend and threads option; each float row against the emulator at its default (threads auto) measured in the same run. */
export function formatEpochRows(rows: EpochBench[]): string[] {
  const emu = rowOf(rows, 'emulator', 'auto') ?? rows.find((r) => r.backend === 'emulator');
  const name: Record<EpochBackend, string> = { emulator: 'emulator (16-bit)', float: 'float model, WASM', 'float-js': 'float model, TypeScript' };
  return rows.map((r) => {
    const vs = emu && r.backend !== 'emulator' ? `, ${ratio(r, emu)} the emulator at ${threadsLabel(emu)}` : '';
    return `${`${name[r.backend]}, ${threadsLabel(r)}`.padEnd(40)} ${r.secondsPerEpoch.toFixed(3)} s per epoch (train ${r.trainSeconds.toFixed(3)} + test ${r.testSeconds.toFixed(3)}; CPU ${r.cpuSecondsPerEpoch.toFixed(3)} s), ${r.stepsPerSecond.toFixed(0)} train steps/s, test MSE ${r.testMse.toPrecision(6)}, ${r.epochs} epoch${r.epochs > 1 ? 's' : ''}${vs}`;
  });
}

/** The float model (WASM) against the emulator, both from the same run: at their defaults (threads auto) and both on 2 threads. */
export function formatEpochRatios(rows: EpochBench[]): string[] {
  const pairs: [string, EpochThreads, EpochThreads][] = [['defaults', 'auto', 'auto'], ['both on 2 threads', 2, 2], ['float on 1 thread, emulator at its default', 1, 'auto']];
  return pairs.flatMap(([what, f, e]) => {
    const fr = rowOf(rows, 'float', f), er = rowOf(rows, 'emulator', e);
    return fr && er ? [`float model / emulator epoch, ${what} (float ${threadsLabel(fr)}, emulator ${threadsLabel(er)}): ${ratio(fr, er)}`] : [];
  });
}

export interface FloatParts {
  /** CPU microseconds per call, best of the rounds (the Mackey-Glass size, one kernel, no host loop). */
  noisyStep: number;
  noisyStepLinear: number;
  /** The noisy step with both sigmas 0 (the difference is the noise generation's share). */
  noisyStepQuiet: number;
  reward: number;
  cleanStep: number;
  cleanStepLinear: number;
}

/**
 * Where a float epoch's time goes: the WASM engine's calls at H=100, B=10 timed alone
 * (src/model/float-wasm.ts FloatKernel): a noisy step of both copies (K = 1, as online
 * training calls it), the reward of one step, a clean step (in chunks of 500, as the
 * evaluation calls it), each with tanh and with the linear activation (the difference is
 * tanh's share), and the noisy step without noise (the noise generation's share). Rounds
 * alternate the parts; CPU time of the process. modules: builds of assembly/float/ to
 * compare (undefined: build/anpt-float.wasm), alternated within each round, one result each.
 */
export function benchFloatParts(rounds = 7, modules: (string | undefined)[] = [undefined]): FloatParts[] {
  const H = 100, B = 10, shape = { inputs: 1, hidden: H, outputs: 1, activation: 'tanh' as const };
  const base = { t0: 0, mismatch: false, hidden: false, trace: 'none' as const, seed: 42, hiddenSigma: 1e-3, outputSigma: 1e-3 };
  type Part = { k: FloatKernel; calls: number; steps: number; f: (k: FloatKernel, i: number) => void };
  const setups = modules.map((module) => {
    const kernel = (linear = false): FloatKernel => {
      const k = new FloatKernel(1, H, 1, B, 500, module);
      const p = xavierNormal(shape, 42);
      if (linear) for (let q = 0; q < p.r.length; q++) p.r[q] *= 0.5; // a stable linear network (the same work)
      k.view('w').set(p.w); k.view('r').set(p.r); k.view('v').set(p.v);
      const u = k.view('inputs');
      for (let q = 0; q < u.length; q++) u[q] = Math.sin(0.3 * q + 0.1); // no input exactly 0: a sequence at state 0 would stay there, and tanh(0) takes tanh's slow path (never in Mackey-Glass)
      return k;
    };
    // one argument object per part, changed in place (as FloatDevice does): an object spread per call cost ~6 us
    const call = (noisy: boolean, activation: 'tanh' | 'linear', steps: number, quiet = false) => {
      const r = { ...base, steps, noisy, activation, ...(quiet ? { hiddenSigma: 0, outputSigma: 0 } : {}) };
      return (k: FloatKernel, i: number) => { r.t0 = i; k.run(r); };
    };
    const rewarded = kernel(), dl = rewarded.view('dl');
    const parts: Record<keyof FloatParts, Part> = {
      noisyStep: { k: kernel(), calls: 1000, steps: 1, f: call(true, 'tanh', 1) },
      noisyStepLinear: { k: kernel(true), calls: 1000, steps: 1, f: call(true, 'linear', 1) },
      noisyStepQuiet: { k: kernel(), calls: 1000, steps: 1, f: call(true, 'tanh', 1, true) },
      reward: {
        k: rewarded, calls: 1000, steps: 1,
        f: (k, i) => { dl[0] = 1e-12 * ((i & 1) - 0.5); k.reward(1, { w: 0.3, r: 0.3, v: 0.3 }, Math.sqrt(102), 'none', 0); },
      },
      cleanStep: { k: kernel(), calls: 2, steps: 500, f: call(false, 'tanh', 500) },
      cleanStepLinear: { k: kernel(true), calls: 2, steps: 500, f: call(false, 'linear', 500) },
    };
    parts.reward.k.run({ ...base, steps: 1, noisy: true, activation: 'tanh' }); // a trace to reward (tiny rewards: the weights stay put)
    return parts;
  });
  const best = setups.map(() => Object.fromEntries(Object.keys(setups[0]).map((n) => [n, Infinity])) as unknown as FloatParts);
  for (let round = 0; round <= rounds; round++)
    for (const name of Object.keys(setups[0]) as (keyof FloatParts)[])
      setups.forEach((parts, m) => {
        const p = parts[name];
        const c = process.cpuUsage();
        for (let i = 0; i < p.calls; i++) p.f(p.k, i);
        const u = process.cpuUsage(c);
        if (round > 0) best[m][name] = Math.min(best[m][name], (u.user + u.system) / (p.calls * p.steps)); // round 0 warms up
      });
  return best;
}

/**
 * The kernel calls of one Mackey-Glass epoch alone, as FloatDevice makes them (the task
 * and weights of benchEpoch; 5000 noisy steps of K = 1, each rewarded with its dL, then
 * the 5000 test steps in chunks of 500), for builds of assembly/float/ alternated in one
 * process (round 0 warms up): CPU seconds per epoch, min and median over the rounds,
 * and a hash of R and the test outputs at the end (the builds must agree).
 */
export function benchFloatKernel(modules: string[], rounds = 7): { min: number; median: number; hash: string }[] {
  const task = mackeyGlassTask({ steps: 5000, batch: 10, mode: 'recall', horizon: 15, seed: 42 });
  const p = xavierNormal({ inputs: 1, hidden: 100, outputs: 1, activation: 'tanh' }, 42);
  const lr = { w: 0.3, r: 0.3, v: 0.3 }, B = 10, T = 5000;
  const setups = modules.map((module) => {
    const k = new FloatKernel(1, 100, 1, B, 500, module);
    k.view('w').set(p.w); k.view('r').set(p.r); k.view('v').set(p.v);
    const base = { mismatch: false, hidden: false, trace: 'none' as const, seed: 42, hiddenSigma: 1e-3, outputSigma: 1e-3, activation: 'tanh' as const };
    return { k, inputs: k.view('inputs'), dl: k.view('dl'), oc: k.view('outClean'), on: k.view('outNoisy'), noisy: { ...base, steps: 1, t0: 0, noisy: true }, clean: { ...base, steps: 500, t0: 0, noisy: false }, out: new Float64Array(T * B) };
  });
  const epoch = (s: (typeof setups)[number]): void => {
    const { k, inputs, dl, oc, on, noisy, clean } = s, tr = task.train, te = task.test;
    k.view('clean').fill(0); k.statesWritten();
    for (let j = 0; j < T; j++) {
      inputs.set(tr.inputs.subarray(j * B, (j + 1) * B));
      k.run(noisy);
      noisy.t0++;
      dl[0] = stepMse(on, 0, tr.targets, j * B, B) - stepMse(oc, 0, tr.targets, j * B, B);
      k.reward(1, lr, Math.sqrt(102), 'none', 0);
    }
    k.view('clean').fill(0); k.statesWritten();
    for (let j = 0; j < T; j += 500) {
      inputs.set(te.inputs.subarray(j * B, (j + 500) * B));
      k.run(clean);
      s.out.set(oc.subarray(0, 500 * B), j * B);
    }
  };
  const times = setups.map(() => [] as number[]);
  for (let round = 0; round <= rounds; round++)
    setups.forEach((s, m) => {
      const c = process.cpuUsage();
      epoch(s);
      const u = process.cpuUsage(c);
      if (round > 0) times[m].push((u.user + u.system) / 1e6);
    });
  return setups.map((s, m) => {
    const t = [...times[m]].sort((a, b) => a - b), r = s.k.view('r');
    const hash = createHash('sha256').update(new Uint8Array(r.buffer, r.byteOffset, r.byteLength)).update(new Uint8Array(s.out.buffer)).digest('hex').slice(0, 16);
    return { min: t[0], median: t[t.length >> 1], hash };
  });
}

/** One line: the parts in microseconds per step, tanh's share as the difference to the linear activation. */
export function formatFloatParts(p: FloatParts): string {
  const f = (x: number): string => x.toFixed(1);
  return `float WASM per step (CPU us): noisy step ${f(p.noisyStep)} (tanh ${f(p.noisyStep - p.noisyStepLinear)}, noise ${f(p.noisyStep - p.noisyStepQuiet)}), reward ${f(p.reward)}, clean step ${f(p.cleanStep)} (tanh ${f(p.cleanStep - p.cleanStepLinear)}); an epoch of 5000 + 5000 steps from these: ${((5000 * (p.noisyStep + p.reward + p.cleanStep)) / 1e6).toFixed(3)} s`;
}

/** The host's share of a float epoch: its CPU seconds less the kernel's calls (parts) for 5000 + 5000 steps. */
export function hostShare(p: FloatParts, epoch: EpochBench): string {
  const kernel = (5000 * (p.noisyStep + p.reward + p.cleanStep)) / 1e6;
  return `float WASM epoch CPU ${epoch.cpuSecondsPerEpoch.toFixed(3)} s (train ${epoch.trainSeconds.toFixed(3)} + test ${epoch.testSeconds.toFixed(3)} wall-clock); the rest beyond the kernel's calls (host loop, loss and reward, JS/WASM calls, copies): ${(epoch.cpuSecondsPerEpoch - kernel).toFixed(3)} s`;
}

// `kernel a.wasm b.wasm ...`: the kernel calls of an epoch for several builds, alternated in one process
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && process.argv[2] === 'kernel') {
  const mods = process.argv.slice(3);
  benchFloatKernel(mods, Number(process.env.ROUNDS ?? 7)).forEach((r, i) =>
    console.log(`${mods[i]}: the kernel calls of a Mackey-Glass epoch, CPU s: min ${r.min.toFixed(4)}, median ${r.median.toFixed(4)}; R and test outputs ${r.hash}`));
  console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

// `parts`: the parts and the host's share; `parts a.wasm b.wasm ...`: the parts of several
// builds of assembly/float/, alternated in one process (an A/B comparison on a shared machine)
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && process.argv[2] === 'parts') {
  const others = process.argv.slice(3);
  if (others.length > 0) {
    benchFloatParts(15, others).forEach((p, i) => console.log(`${others[i]}: ${formatFloatParts(p)}`));
    console.log(`load average ${loadavg()[0].toFixed(2)}`);
    process.exit(0);
  }
  const [p] = benchFloatParts();
  console.log(`${formatFloatParts(p)}; load average ${loadavg()[0].toFixed(2)}`);
  const rounds = [await benchEpoch(3, 'float'), await benchEpoch(3, 'float')];
  const e = rounds[0].cpuSecondsPerEpoch <= rounds[1].cpuSecondsPerEpoch ? rounds[0] : rounds[1]; // the faster round, as npm run bench
  console.log(`${hostShare(p, e)}; load average ${loadavg()[0].toFixed(2)}`);
}

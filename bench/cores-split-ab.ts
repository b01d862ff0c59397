/**
 * The dynamic against the fixed split of online steps (assembly/chip.ts runDynamic, on
 * by default from hidden x batch 4096): trainAnpt at H = 1000, B = 10, 500 steps, one
 * thread, two with the fixed split (the hook threadFaults.dynamicMinWork at its
 * largest), two with the dynamic split, alternated for 4 rounds; wall-clock steps/s and
 * each round's ratios to one thread, with the load. Run: npx tsx bench/cores-split-ab.ts
 */
import os from 'node:os';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';
import { trainAnpt } from '../src/learn/anpt.js';
import { mgEmulator } from './mg-emulator.js';

async function stepsPerSecond(threads: 1 | 2, fixed: boolean): Promise<number> {
  const task = mackeyGlassTask({ steps: 500, batch: 10, mode: 'recall', horizon: 15, seed: 42 });
  const dev = await mgEmulator(1000, 10, { threads, threadFaults: fixed ? { dynamicMinWork: 0x7fffffff } : undefined }, 1);
  const a = performance.now();
  await trainAnpt(dev, task.train, { epochs: 1, lr: { w: 0.3, r: 0.3, v: 0.3 } });
  const seconds = (performance.now() - a) / 1000;
  await dev.close();
  return 500 / seconds;
}

for (const [t, f] of [[1, false], [2, true], [2, false]] as const) await stepsPerSecond(t, f); // warm-up
for (let r = 0; r < 4; r++) {
  const one = await stepsPerSecond(1, false), fixed = await stepsPerSecond(2, true), dynamic = await stepsPerSecond(2, false);
  console.log(`load ${os.loadavg()[0].toFixed(2)}  1 thread ${one.toFixed(0)}  fixed split ${fixed.toFixed(0)} (${(fixed / one).toFixed(2)}x)  dynamic split ${dynamic.toFixed(0)} (${(dynamic / one).toFixed(2)}x)`);
}

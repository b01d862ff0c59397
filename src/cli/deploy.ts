/**
 * `anpt device push URL WEIGHTS`: deploy a trained run to a board, fresh or not. The
 * board is configured from the file (topology, formats, the run's seed; batch and chunk
 * for the run's test set), the formats are checked against the board's limits before
 * anything is sent, a float run (BPTT, float ANP-T) is quantised to the formats asked
 * (--weight-bits ..., default 16 bits), and the run's test MSE is printed before (as the
 * file holds it) and after (computed by the board itself), so the cost of quantising is
 * plain. The weights are read back and compared. A file that names no task (from
 * pull) is written to the board as it is configured.
 */
import { readFileSync } from 'node:fs';
import { validateChipFormats, validateConfig } from '../device/config.js';
import type { DeviceConfig } from '../device/types.js';
import { EMULATOR_LIMITS, EmulatorDevice } from '../device/emulator.js';
import { parseWeightsFile } from '../device/weights-file.js';
import { ConfigError } from '../format/fixed.js';
import { evaluateFloat } from '../learn/bptt.js';
import { evaluate } from '../learn/evaluate.js';
import { SerialDevice } from '../link/serial-device.js';
import { pushParams } from '../link/commands.js';
import { resolveFormats, type FormatFlags } from './backend.js';
import { EVAL_CHUNK_STEPS } from './defaults.js';
import { UsageError } from './errors.js';
import type { LinkSettings } from './link-options.js';
import { sci } from './progress.js';
import { buildTask, type TaskSpec } from './task-options.js';

export interface DeployResult {
  file: string;
  url: string;
  values: number;
  /** Values that were not codes of the board's weight format and were rounded. */
  rounded: number;
  quantised: boolean;
  testMseBefore: number;
  testMseOnBoard: number;
}

export async function deployWeights(url: string, path: string, f: FormatFlags, link: LinkSettings): Promise<DeployResult> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give a weights.json written by anpt train or anpt device pull`);
  }
  const { file: w, params } = parseWeightsFile(text, (what) => new UsageError(`${path}: ${what}; give a weights.json written by anpt train or anpt device pull`));
  const asked = f.weightBits !== undefined || f.activityBits !== undefined || f.rounding !== undefined || f.overflow !== undefined;
  const formats = asked || !w.formats ? resolveFormats('device', f) : w.formats;
  if (!w.task?.name) {
    // a pulled file names no task: write it to the board as configured (topology checked there)
    const r = await pushParams(url, path, link);
    return { file: r.file, url, values: r.values, rounded: r.rounded, quantised: false, testMseBefore: NaN, testMseOnBoard: NaN };
  }
  const task = buildTask(w.task as TaskSpec);
  const config: DeviceConfig = {
    topology: { ...w.topology, batch: task.test.batch },
    formats,
    noise: { hiddenSigma: 0, outputSigma: 0 },
    seed: Number(w.task.options?.seed ?? 0) >>> 0,
    maxChunkSteps: Math.min(EVAL_CHUNK_STEPS, task.test.steps),
  };
  try {
    validateConfig(config, EMULATOR_LIMITS);
    validateChipFormats(config); // the file's formats (a frac of 40 is refused here, not saturated on the board)
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`${path}: ${e.field}: ${e.detail}`);
    throw e;
  }
  // the test MSE of the weights as the file holds them: the float model for a float run, the emulator for a fixed-point one
  const before = w.formats && !asked ? await emulatorMse(config, params, task) : evaluateFloat({ ...w.topology }, params, task.test).mse;
  const dev = await SerialDevice.open(url, link);
  try {
    for (;;) {
      try {
        await dev.configure(config);
        break;
      } catch (e) {
        if (!(e instanceof ConfigError && e.field === 'maxChunkSteps' && config.maxChunkSteps > 1)) throw e;
        config.maxChunkSteps = Math.max(1, Math.floor(config.maxChunkSteps / 2)); // the board's RAM or frame bounds the chunk
      }
    }
    await dev.writeParams(params);
    const back = await dev.readParams();
    const q = new EmulatorDevice();
    await q.configure(config);
    await q.writeParams(params); // the emulator quantises as the board does: what read-back must equal
    const want = await q.readParams();
    let rounded = 0;
    for (const k of ['w', 'r', 'v'] as const)
      for (let i = 0; i < want[k].length; i++) {
        if (back[k][i] !== want[k][i]) throw new UsageError(`${url}: read back ${k}[${i}] = ${back[k][i]}, wrote ${want[k][i]}; the board does not hold what was pushed`);
        if (params[k][i] !== want[k][i]) rounded++;
      }
    const onBoard = (await evaluate(dev, task.test)).mse;
    return { file: path, url, values: back.w.length + back.r.length + back.v.length, rounded, quantised: !w.formats || asked, testMseBefore: before, testMseOnBoard: onBoard };
  } finally {
    await dev.close();
  }
}

async function emulatorMse(config: DeviceConfig, params: Parameters<EmulatorDevice['writeParams']>[0], task: ReturnType<typeof buildTask>): Promise<number> {
  const emu = new EmulatorDevice();
  await emu.configure(config);
  await emu.writeParams(params);
  return (await evaluate(emu, task.test)).mse;
}

/** The line push prints. */
export function deployLine(r: DeployResult): string {
  if (Number.isNaN(r.testMseBefore)) return `pushed ${r.values} values from ${r.file} to the board as configured${r.rounded ? `; ${r.rounded} were not exact codes and were rounded` : ''}; read back and checked\n`;
  const q = r.quantised ? `quantised ${r.rounded} of ${r.values} values to the board's formats` : `${r.rounded ? `${r.rounded} values rounded` : 'exact codes'}`;
  return `pushed ${r.values} values from ${r.file} to ${r.url} (configured from the file; ${q}); read back and checked; test MSE ${sci(r.testMseBefore)} before, ${sci(r.testMseOnBoard)} on the board\n`;
}

/**
 * `anpt eval`: load a run's weights.json and measure the clean test MSE (and the task's
 * metrics) on the float model or the emulator. By default the task, its options, the
 * backend and the formats are the ones the weights were trained with, so
 * `anpt eval --weights DIR` reproduces the run's final test loss; flags override them
 * (e.g. --backend emulator --weight-bits 8 deploys float-trained weights to an 8-bit chip).
 */
import type { Command } from 'commander';
import type { Device } from '../device/types.js';
import { evaluate, nrmse, zeroOutputMse } from '../learn/evaluate.js';
import { addFormatOptions, configureDevice, describeFormats, makeDevice, resolveFormats, type FormatFlags } from './backend.js';
import { BACKENDS, EVAL_CHUNK_STEPS } from './defaults.js';
import { EXIT_OK, UsageError } from './errors.js';
import type { CliIo } from './io.js';
import { choice, uint32 } from './options.js';
import { toJson } from './output.js';
import { sci } from './progress.js';
import { addTaskOptions, buildTask, resolveTaskSpec, type TaskFlags } from './task-options.js';
import { readWeights } from './weights-file.js';

export interface EvalFlags extends TaskFlags, FormatFlags {
  weights?: string;
  backend?: string;
  seed?: string;
  json?: boolean;
}

/** Evaluate saved weights; prints the result and returns the exit code. */
export async function runEval(f: EvalFlags, io: CliIo): Promise<number> {
  if (f.weights === undefined) throw new UsageError('--weights is required: a run directory written by anpt train --out; e.g. --weights runs/mg-1');
  const { file, params } = readWeights(f.weights);
  const spec = resolveTaskSpec(f, { seed: f.seed === undefined ? undefined : uint32('--seed', f.seed, 42), saved: file.task });
  // weights trained on a board evaluate on its bit-exact twin, the emulator, by default
  const backend = choice('--backend', f.backend, BACKENDS, file.backend === 'float' ? 'float' : 'emulator');
  const formats = resolveFormats(backend, f, file.backend !== 'float' ? file.formats : undefined);
  const task = buildTask(spec);
  const t = file.topology;
  if (task.inputSize !== t.inputs || task.outputSize !== t.outputs)
    throw new UsageError(`--task: ${task.name} has ${task.inputSize} inputs and ${task.outputSize} outputs, but the weights take ${t.inputs} and give ${t.outputs}; evaluate on a task of the same shape`);
  if (file.normalisation && task.normalisation && JSON.stringify(file.normalisation) !== JSON.stringify(task.normalisation))
    io.err('anpt: warning: this data is normalised with other min/max values than the training data (weights.json "normalisation"); losses are not comparable with the run\'s\n');
  const device: Device = makeDevice('anpt', backend);
  try {
    await configureDevice(device, {
      topology: { ...t, batch: task.test.batch },
      formats,
      sigma: 0, // clean copy only
      seed: 0,
      maxChunkSteps: Math.min(EVAL_CHUNK_STEPS, task.test.steps),
    });
    await device.writeParams(params);
    const ev = await evaluate(device, task.test, { metrics: task.metrics });
    const zero = zeroOutputMse(task.test);
    const result = {
      weights: f.weights,
      task: { name: task.name, spec, batch: task.test.batch, test_steps: task.test.steps },
      backend,
      device: (await device.info()).name,
      formats: formats ? describeFormats(formats) : undefined,
      test_loss: ev.mse,
      zero_output_test_loss: zero,
      test_loss_vs_zero_output: ev.mse / zero,
      test_nrmse: nrmse(ev.mse, task.test),
      test_metrics: ev.metrics,
    };
    if (f.json) io.out(toJson(result) + '\n');
    else {
      io.out(`test MSE ${sci(ev.mse)} = ${(ev.mse / zero).toFixed(3)} x the zero-output MSE ${sci(zero)}, NRMSE ${nrmse(ev.mse, task.test).toFixed(3)} (${task.name}, ${backend}${formats ? `, weights ${describeFormats(formats).weight.name}` : ''})\n`);
      if (ev.metrics) io.out(`test ${Object.entries(ev.metrics).map(([k, v]) => `${k} ${Number(v.toPrecision(4))}`).join(', ')}\n`);
    }
    return EXIT_OK;
  } finally {
    await device.close();
  }
}

/** Declare `anpt eval` on the program. */
export function addEvalCommand(program: Command, run: (flags: EvalFlags) => Promise<void>): Command {
  const cmd = program
    .command('eval')
    .description('evaluate saved weights (a run directory) on a task\'s test set, clean; default: the task, backend and formats of the run')
    .option('--weights <dir>', 'run directory written by anpt train --out (required)')
    .option('--backend <name>', 'float | emulator (default: the run\'s backend)');
  addTaskOptions(cmd, false);
  cmd.option('--seed <n>', 'seed of the task data (default: the run\'s)');
  addFormatOptions(cmd, false);
  return cmd.option('--json', 'print the result as one JSON object on stdout').action(async (flags: EvalFlags) => run(flags));
}

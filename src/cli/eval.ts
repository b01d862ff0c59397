/**
 * `anpt eval` and `anpt predict`: load a run's weights.json and run the test set through
 * the clean copy of the float model, the emulator or a board. By default the task, its
 * options, the backend and the formats are the ones the weights were trained with, so
 * `anpt eval --weights DIR` reproduces the run's final test loss; flags override them
 * (e.g. --backend emulator --weight-bits 8 deploys float-trained weights to an 8-bit
 * chip). Other data (`--data other.csv`) is normalised with the run's saved min/max,
 * never the new file's, so its losses are in the run's units. Both report MSE, RMSE and
 * NRMSE in normalised and in data units; predict also writes predictions.csv and
 * predictions.svg (predictions.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Device } from '../device/types.js';
import { evaluate, nrmse, zeroOutputMse, type Evaluation } from '../learn/evaluate.js';
import type { Task } from '../tasks/types.js';
import { addFormatOptions, configureDevice, describeFormats, makeDevice, openBoard, resolveDeviceUrl, resolveFormats, type FormatFlags } from './backend.js';
import { BACKENDS, type Backend } from './defaults.js';
import { EXIT_OK, UsageError } from './errors.js';
import type { CliIo } from './io.js';
import { checkTaskSize, evalChunkSteps } from './limits.js';
import { choice, refuse, uint32 } from './options.js';
import { toJson } from './output.js';
import { denormaliser, outputNames, predictionChart, predictionScores, predictionsCsv, type ErrorScores } from './predictions.js';
import { sci } from './progress.js';
import { addTaskOptions, buildTask, resolveTaskSpec, type TaskFlags, type TaskSpec } from './task-options.js';
import { readWeights, type WeightsFile } from './weights-file.js';

export interface EvalFlags extends TaskFlags, FormatFlags {
  weights?: string;
  backend?: string;
  device?: string;
  port?: string;
  baud?: string;
  seed?: string;
  json?: boolean;
  /** predict: the directory for predictions.csv and predictions.svg. */
  out?: string;
}

interface Evaluated {
  file: WeightsFile;
  spec: TaskSpec;
  task: Task;
  backend: Backend;
  deviceName: string;
  formats?: ReturnType<typeof describeFormats>;
  ev: Evaluation;
  zero: number;
  names: string[];
  denorm: (v: number, o: number) => number;
  scores: { normalised: ErrorScores; data: ErrorScores };
}

/** Load the weights, build the task with the run's normalisation, run the test set clean on the chosen device. */
async function evaluateWeights(f: EvalFlags): Promise<Evaluated> {
  if (f.weights === undefined) throw new UsageError('--weights is required: a run directory written by anpt train --out; e.g. --weights runs/mg-1');
  const { file, params } = readWeights(f.weights);
  const spec = resolveTaskSpec(f, { seed: f.seed === undefined ? undefined : uint32('--seed', f.seed, 42), saved: file.task });
  const deviceUrl = resolveDeviceUrl(f);
  if (deviceUrl !== undefined) refuse('--backend', f.backend, 'does not go with --device/--port (the board is the backend); remove it');
  // weights trained on a board evaluate on its bit-exact twin, the emulator, by default
  const backend: Backend = deviceUrl !== undefined ? 'device' : choice('--backend', f.backend, BACKENDS, file.backend === 'float' ? 'float' : 'emulator');
  const formats = resolveFormats(backend, f, file.backend !== 'float' ? file.formats : undefined);
  checkTaskSize(spec, file.topology.hidden, backend);
  // table data in the run's units: the saved min/max, not this file's
  const task = buildTask(file.normalisation ? { ...spec, options: { ...spec.options, normalisation: file.normalisation } } : spec);
  const t = file.topology;
  if (task.inputSize !== t.inputs || task.outputSize !== t.outputs)
    throw new UsageError(`--task: ${task.name} has ${task.inputSize} inputs and ${task.outputSize} outputs, but the weights take ${t.inputs} and give ${t.outputs}; evaluate on a task of the same shape`);
  const device: Device = deviceUrl !== undefined ? await openBoard(deviceUrl, {}) : makeDevice('anpt', backend);
  try {
    await configureDevice(device, {
      topology: { ...t, batch: task.test.batch },
      formats,
      sigma: 0, // clean copy only
      seed: 0,
      maxChunkSteps: evalChunkSteps(backend, { ...t, batch: task.test.batch }, task.test.steps),
      mismatch: file.mismatch,
    });
    await device.writeParams(params);
    const ev = await evaluate(device, task.test, { metrics: task.metrics });
    const names = outputNames(spec, task.outputSize);
    const denorm = denormaliser(names, task.normalisation);
    return {
      file, spec, task, backend, deviceName: (await device.info()).name, formats: formats ? describeFormats(formats) : undefined,
      ev, zero: zeroOutputMse(task.test), names, denorm, scores: predictionScores(ev.outputs, task.test, denorm),
    };
  } finally {
    await device.close();
  }
}

/** The result object of --json (eval and predict). */
function resultJson(f: EvalFlags, e: Evaluated, files?: string[]) {
  return {
    weights: f.weights,
    task: { name: e.task.name, spec: e.spec, batch: e.task.test.batch, test_steps: e.task.test.steps },
    backend: e.backend,
    device: e.deviceName,
    formats: e.formats,
    test_loss: e.ev.mse,
    zero_output_test_loss: e.zero,
    test_loss_vs_zero_output: e.ev.mse / e.zero,
    test_metrics: e.ev.metrics,
    normalised: e.scores.normalised,
    data_units: e.scores.data,
    files,
  };
}

/** The printed result: the README's first line, then the errors in both units. */
function printResult(e: Evaluated, io: CliIo): void {
  const { ev, zero, task, backend, formats, scores } = e;
  io.out(`test MSE ${sci(ev.mse)} = ${(ev.mse / zero).toFixed(3)} x the zero-output MSE ${sci(zero)} (${task.name}, ${backend}${formats ? `, weights ${formats.weight.name}` : ''})\n`);
  const line = (what: string, s: ErrorScores) => `${what}: MSE ${sci(s.mse)}  RMSE ${sci(s.rmse)}  NRMSE ${s.nrmse.toFixed(3)}`;
  if (task.normalisation) io.out(`${line('normalised', scores.normalised)}\n${line(`data units (${e.names.join(', ')})`, scores.data)}\n`);
  else io.out(`${line('data units (not normalised)', scores.data)}\n`);
  if (ev.metrics) io.out(`test ${Object.entries(ev.metrics).map(([k, v]) => `${k} ${Number(v.toPrecision(4))}`).join(', ')}\n`);
}

/** `anpt eval`: prints the result and returns the exit code. */
export async function runEval(f: EvalFlags, io: CliIo): Promise<number> {
  const e = await evaluateWeights(f);
  if (f.json) io.out(toJson(resultJson(f, e)) + '\n');
  else printResult(e, io);
  return EXIT_OK;
}

/** `anpt predict`: eval, plus predictions.csv and predictions.svg in --out (default: the run directory). */
export async function runPredict(f: EvalFlags, io: CliIo): Promise<number> {
  const e = await evaluateWeights(f);
  const given = f.out ?? f.weights!;
  const dir = resolve(given);
  // paths as the user gave them, for the message and --json
  const csv = join(given, 'predictions.csv');
  const svg = join(given, 'predictions.svg');
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'predictions.csv'), predictionsCsv(e.ev.outputs, e.task.test, e.names, e.denorm));
    writeFileSync(join(dir, 'predictions.svg'), predictionChart(`${e.task.name} on ${e.backend}`, e.ev.outputs, e.task.test, e.names, e.denorm));
  } catch (err) {
    const x = err as NodeJS.ErrnoException;
    throw new UsageError(`--out: cannot write '${dir}' (${x.code ?? x.message}); check that the directory is writable`);
  }
  if (f.json) io.out(toJson(resultJson(f, e, [csv, svg])) + '\n');
  else {
    printResult(e, io);
    io.out(`wrote ${csv} ${svg}\n`);
  }
  return EXIT_OK;
}

/** The flags eval and predict share. */
function addEvalOptions(cmd: Command): Command {
  cmd
    .option('--weights <dir>', 'run directory written by anpt train --out (required)')
    .option('--backend <name>', 'float | emulator (default: the run\'s backend; a board\'s run: emulator, its bit-exact twin)')
    .option('--device <url>', 'run on a board instead: tcp://127.0.0.1:5555 or serial:///dev/ttyACM0?baud=115200')
    .option('--port <path>', 'serial shorthand for --device: the board\'s serial port, e.g. /dev/ttyACM0')
    .option('--baud <n>', 'with --port: baud rate (default 115200)');
  addTaskOptions(cmd, false);
  cmd.option('--seed <n>', 'seed of the task data (default: the run\'s)');
  addFormatOptions(cmd, 'eval');
  return cmd.option('--json', 'print the result as one JSON object on stdout');
}

/** Declare `anpt eval` on the program. */
export function addEvalCommand(program: Command, run: (flags: EvalFlags) => Promise<void>): Command {
  const cmd = program
    .command('eval')
    .description('evaluate saved weights (a run directory) on a task\'s test set, clean: MSE, RMSE, NRMSE in normalised and data units; default: the task, backend and formats of the run');
  return addEvalOptions(cmd).action(async (flags: EvalFlags) => run(flags));
}

/** Declare `anpt predict` on the program. */
export function addPredictCommand(program: Command, run: (flags: EvalFlags) => Promise<void>): Command {
  const cmd = program
    .command('predict')
    .description('run saved weights on a task\'s test set and write predictions.csv (prediction and target per step, in the data\'s units) and predictions.svg (a plot of both); prints the errors as eval does');
  addEvalOptions(cmd);
  return cmd.option('--out <dir>', 'where to write predictions.csv and predictions.svg (default: the --weights directory)').action(async (flags: EvalFlags) => run(flags));
}

/**
 * weights.json on the command line: the file format lives in src/device/weights-file.ts
 * (the device commands read and write it too); here the CLI's types of its header and
 * readWeights, whose problems are UsageErrors naming --weights.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Params } from '../device/types.js';
import { parseWeightsFile, WEIGHTS_FILE, type WeightsFile as StoredWeightsFile } from '../device/weights-file.js';
import { TASK_NAMES } from '../tasks/index.js';
import type { Algo, Backend } from './defaults.js';
import { UsageError } from './errors.js';
import type { TaskSpec } from './task-options.js';

export { biasRows, fromRows, toRows, weightsJson, WEIGHTS_FILE, WEIGHTS_FORMAT } from '../device/weights-file.js';

export interface WeightsFile extends StoredWeightsFile {
  algo: Algo;
  backend: Backend;
  task: TaskSpec;
}

/** Read and check DIR/weights.json; every problem is a UsageError naming the file. */
export function readWeights(dir: string): { file: WeightsFile; params: Params } {
  const path = join(resolve(dir), WEIGHTS_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`--weights: ${code === 'ENOENT' ? `no ${WEIGHTS_FILE} in '${dir}'` : `cannot read '${path}' (${code})`}; give a directory written by anpt train --out`);
  }
  const fail = (what: string) => new UsageError(`--weights: '${path}': ${what}; give a directory written by anpt train --out`);
  const { file, params } = parseWeightsFile(text, fail);
  const task = file.task as { name?: unknown; options?: unknown } | undefined;
  // a file from `anpt device pull` has no task (eval then needs --task)
  if (task !== undefined && (!(TASK_NAMES as readonly unknown[]).includes(task.name) || typeof task.options !== 'object' || task.options === null))
    throw fail(`task must be {"name": one of ${TASK_NAMES.join(', ')}, "options": {...}}, not ${JSON.stringify(file.task)}`);
  return { file: file as WeightsFile, params };
}

/**
 * The task registry: the paper's tasks and user CSV data, by name.
 */
import { addingTask, type AddingOptions } from './adding.js';
import { copyTask, type CopyOptions } from './copy.js';
import { csvTask, type CsvOptions } from './csv.js';
import { delayedRecallTask, type DelayedRecallOptions } from './delayed-recall.js';
import { TaskError } from './errors.js';
import { mackeyGlassTask, type MackeyGlassOptions } from './mackey-glass.js';
import type { Task } from './types.js';
import { weatherTask, type WeatherOptions } from './weather.js';

export interface TaskOptionsByName {
  'mackey-glass': MackeyGlassOptions;
  copy: CopyOptions;
  weather: WeatherOptions;
  csv: CsvOptions;
  adding: AddingOptions;
  'delayed-recall': DelayedRecallOptions;
}
export type TaskName = keyof TaskOptionsByName;

export const TASK_NAMES: readonly TaskName[] = ['mackey-glass', 'copy', 'weather', 'csv', 'adding', 'delayed-recall'];

/**
 * Builds a task by name. Options are optional except for 'csv' (file, inputs,
 * targets). Throws TaskError 'UNKNOWN_TASK' for any other name, listing the valid ones.
 */
export function makeTask<K extends TaskName>(name: K, ...options: K extends 'csv' ? [TaskOptionsByName[K]] : [TaskOptionsByName[K]?]): Task;
export function makeTask(name: string, options?: object): Task;
export function makeTask(name: string, options: object = {}): Task {
  switch (name) {
    case 'mackey-glass':
      return mackeyGlassTask(options as MackeyGlassOptions);
    case 'copy':
      return copyTask(options as CopyOptions);
    case 'weather':
      return weatherTask(options as WeatherOptions);
    case 'csv':
      return csvTask(options as CsvOptions);
    case 'adding':
      return addingTask(options as AddingOptions);
    case 'delayed-recall':
      return delayedRecallTask(options as DelayedRecallOptions);
    default:
      throw new TaskError('UNKNOWN_TASK', `unknown task '${name}'; valid tasks: ${TASK_NAMES.join(', ')}`);
  }
}

export { TaskError, type TaskErrorCode } from './errors.js';
export { addingTask, type AddingOptions } from './adding.js';
export { copyMetrics, copyTask, type CopyOptions } from './copy.js';
export { delayedRecallTask, type DelayedRecallOptions } from './delayed-recall.js';
export { csvTask, type CsvOptions } from './csv.js';
export { mackeyGlassSeries, mackeyGlassTask, type MackeyGlassOptions } from './mackey-glass.js';
export { weatherTask, WEATHER_COLUMNS, WEATHER_TARGET, type WeatherOptions } from './weather.js';
export { setMse, stepMse, type SequenceSet, type Task } from './types.js';

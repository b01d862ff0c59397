/**
 * Errors for bad task input (a wrong path, a missing column, a bad option) are values
 * with a stable `code` and a one-line message that says what is wrong and what to do,
 * so the CLI can print them without a stack trace.
 */
import { AnptError } from '../errors.js';

export type TaskErrorCode =
  | 'UNKNOWN_TASK'
  | 'BAD_OPTION'
  | 'FILE_NOT_FOUND'
  | 'FILE_UNREADABLE'
  | 'EMPTY_FILE'
  | 'BAD_ROW'
  | 'MISSING_COLUMN'
  | 'DUPLICATE_COLUMN'
  | 'NON_NUMERIC'
  | 'MISSING_VALUE'
  | 'TOO_FEW_ROWS'
  | 'BAD_SPLIT'
  | 'SHAPE_MISMATCH';

export class TaskError extends AnptError<TaskErrorCode> {}

/** Throws a 'BAD_OPTION' TaskError unless `value` is an integer >= `min`. */
export function checkInteger(what: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new TaskError('BAD_OPTION', `${what} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** Throws a 'BAD_OPTION' TaskError unless `value` is a safe integer; seeds act modulo 2^32. */
export function checkSeed(what: string, value: number): number {
  if (!Number.isSafeInteger(value)) {
    throw new TaskError('BAD_OPTION', `${what} must be an integer, got ${String(value)}`);
  }
  return value;
}

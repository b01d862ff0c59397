/**
 * Errors for bad task input (a wrong path, a missing column, a bad option) are values
 * with a stable `code` and a one-line message that says what is wrong and what to do,
 * so the CLI can print them without a stack trace.
 */
export type TaskErrorCode =
  | 'unknown-task'
  | 'bad-option'
  | 'file-not-found'
  | 'file-unreadable'
  | 'empty-file'
  | 'bad-row'
  | 'missing-column'
  | 'duplicate-column'
  | 'non-numeric'
  | 'missing-value'
  | 'too-few-rows'
  | 'bad-split'
  | 'shape-mismatch';

export class TaskError extends Error {
  readonly code: TaskErrorCode;

  constructor(code: TaskErrorCode, message: string) {
    super(message);
    this.name = 'TaskError';
    this.code = code;
  }
}

/** Throws a 'bad-option' TaskError unless `value` is an integer >= `min`. */
export function checkInteger(what: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new TaskError('bad-option', `${what} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** Throws a 'bad-option' TaskError unless `value` is a safe integer; seeds act modulo 2^32. */
export function checkSeed(what: string, value: number): number {
  if (!Number.isSafeInteger(value)) {
    throw new TaskError('bad-option', `${what} must be an integer, got ${String(value)}`);
  }
  return value;
}

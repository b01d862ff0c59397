/**
 * How the command line reports failures: one line on stderr, `anpt: <message>`, and an
 * exit code a script can branch on. Each exit code means one thing; EXIT_BY_CODE below
 * is the one place that gives every AnptError code its exit code.
 */
import { ConfigError } from '../format/fixed.js';
import type { AnptErrorCode } from '../error-codes.js';
import { AnptError } from '../errors.js';

export { UsageError } from '../errors.js';

/** Success. */
export const EXIT_OK = 0;
/** The work ran and failed: a training run diverged, or sweep rows failed (their directory is still written); also an unexpected internal error (a bug). */
export const EXIT_FAILED = 1;
/** Bad input: a flag, a data file, a task, a configuration; fix the command and run it again. Nothing was written. */
export const EXIT_USAGE = 2;
/** The device or the link failed: no answer in time, a broken link, a board that lost its session or reports an internal error. */
export const EXIT_DEVICE = 3;

export type ExitCode = typeof EXIT_OK | typeof EXIT_FAILED | typeof EXIT_USAGE | typeof EXIT_DEVICE;

/** Every error code and its exit code: the input was bad (2), or the device or link failed (3). */
export const EXIT_BY_CODE: Record<AnptErrorCode, ExitCode> = {
  USAGE: EXIT_USAGE,
  CONFIG: EXIT_USAGE,
  SWEEP_DIR: EXIT_USAGE,
  // tasks: a path, a column, an option
  UNKNOWN_TASK: EXIT_USAGE,
  BAD_OPTION: EXIT_USAGE,
  FILE_NOT_FOUND: EXIT_USAGE,
  FILE_UNREADABLE: EXIT_USAGE,
  EMPTY_FILE: EXIT_USAGE,
  BAD_ROW: EXIT_USAGE,
  MISSING_COLUMN: EXIT_USAGE,
  DUPLICATE_COLUMN: EXIT_USAGE,
  NON_NUMERIC: EXIT_USAGE,
  MISSING_VALUE: EXIT_USAGE,
  TOO_FEW_ROWS: EXIT_USAGE,
  BAD_SPLIT: EXIT_USAGE,
  SHAPE_MISMATCH: EXIT_USAGE,
  // a device refused what it was asked: the request or the configuration was wrong
  BAD_REQUEST: EXIT_USAGE,
  BAD_INPUT: EXIT_USAGE,
  CONFIG_OUT_OF_RANGE: EXIT_USAGE,
  TOO_LARGE: EXIT_USAGE,
  // the device or the link failed, or the device lost what the host relied on
  NOT_CONFIGURED: EXIT_DEVICE,
  NO_PENDING_CHUNK: EXIT_DEVICE,
  UNSUPPORTED_VERSION: EXIT_DEVICE,
  TIMEOUT: EXIT_DEVICE,
  LINK: EXIT_DEVICE,
  DATA_LOSS: EXIT_DEVICE,
  INTERNAL: EXIT_DEVICE,
  // another host holds the board, or this host's session ended (reboot, lease, take-over)
  BUSY: EXIT_DEVICE,
  NO_SESSION: EXIT_DEVICE,
};

/** The exit codes as `--help` shows them. */
export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  the run diverged (train), or some rows failed (sweep); the output is still written
     (also an internal error, which asks to be reported)
  2  bad input (a flag, a data file, a task, a configuration); nothing was written
  3  the device or the link failed (timeout, broken link, device error)`;

/**
 * Configuration fields of src/ (ConfigError.field) and the flag that sets them, so a
 * message names what the user typed. Longest prefix wins.
 */
const FIELD_FLAGS: [string, string][] = [
  ['noise.hiddenSigma', '--sigma'],
  ['noise.outputSigma', '--sigma'],
  ['topology.hidden', '--hidden'],
  ['topology.batch', '--batch'],
  ['topology.bias', '--bias'],
  ['topology', '--hidden/--batch'],
  ['weightBits', '--weight-bits'],
  ['activityBits', '--activity-bits'],
  ['epochs', '--epochs'],
  ['chunkSteps', '--chunk'],
  ['window', '--bptt-window'],
  ['lr', '--lr'],
  ['learner.trace', '--trace'],
  ['learner.decay', '--trace-decay'],
  ['seed', '--seed'],
  ['t0', '--epochs'],
];

function flagFor(field: string): string | undefined {
  return FIELD_FLAGS.find(([f]) => field === f || field.startsWith(`${f}.`))?.[1];
}

/** The one line to print for an error, and the exit code. */
export function describeError(err: unknown): { line: string; exitCode: ExitCode } {
  if (err instanceof ConfigError) {
    const flag = flagFor(err.field);
    return { line: flag ? `${flag} (${err.field}): ${err.detail}` : err.message, exitCode: EXIT_USAGE };
  }
  if (err instanceof AnptError) {
    const exitCode = (EXIT_BY_CODE as Partial<Record<string, ExitCode>>)[err.code];
    if (exitCode !== undefined) return { line: err.message, exitCode };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { line: `${message} (internal error; set ANPT_DEBUG=1 for the stack trace, and report it)`, exitCode: EXIT_FAILED };
}

/** Print an error as one line (multi-line messages are joined) and return its exit code. */
export function reportError(err: unknown, write: (s: string) => void = (s) => process.stderr.write(s)): number {
  const { line, exitCode } = describeError(err);
  write(`anpt: ${line.split('\n').map((s) => s.trim()).filter(Boolean).join('; ')}\n`);
  if (process.env.ANPT_DEBUG && err instanceof Error && err.stack) write(`${err.stack}\n`);
  return exitCode;
}

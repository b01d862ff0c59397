/**
 * How the command line reports failures: one line on stderr, `anpt: <message>`, and an
 * exit code a script can branch on. Bad input (flags, data, configuration) is never a
 * stack trace.
 *
 *   0  success
 *   1  the run failed (it diverged, or an unexpected internal error)
 *   2  bad input: a flag, a data file, a device configuration; nothing was written
 */
import { DeviceError } from '../device/errors.js';
import { ConfigError } from '../format/fixed.js';
import { TaskError } from '../tasks/index.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A problem with what the user asked for; the message says what is wrong and what to do. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Configuration fields of src/ (ConfigError.field) and the flag that sets them, so a
 * message names what the user typed. Longest prefix wins.
 */
const FIELD_FLAGS: [string, string][] = [
  ['noise.hiddenSigma', '--sigma'],
  ['noise.outputSigma', '--sigma'],
  ['topology.hidden', '--hidden'],
  ['topology.batch', '--batch'],
  ['topology', '--hidden/--batch'],
  ['weightBits', '--weight-bits'],
  ['activityBits', '--activity-bits'],
  ['epochs', '--epochs'],
  ['chunkSteps', '--chunk'],
  ['window', '--bptt-window'],
  ['lr', '--lr'],
  ['seed', '--seed'],
  ['t0', '--epochs'],
];

function flagFor(field: string): string | undefined {
  return FIELD_FLAGS.find(([f]) => field === f || field.startsWith(`${f}.`))?.[1];
}

/** The one line to print for an error, and the exit code. */
export function describeError(err: unknown): { line: string; exitCode: number } {
  if (err instanceof UsageError || err instanceof TaskError || err instanceof DeviceError)
    return { line: err.message, exitCode: EXIT_USAGE };
  if (err instanceof ConfigError) {
    const flag = flagFor(err.field);
    const detail = err.detail;
    return { line: flag ? `${flag} (${err.field}): ${detail}` : err.message, exitCode: EXIT_USAGE };
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

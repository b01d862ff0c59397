/**
 * The base of every error anpt throws on purpose: a `code` a program can branch on and
 * a one-line message a person can act on (which option or field, which value, what to
 * do). Anything else that escapes is a bug. The codes of all classes together form one
 * union, AnptErrorCode (src/error-codes.ts); the CLI maps each code to an exit code in
 * one table (src/cli/errors.ts).
 *
 * This module imports nothing, so every layer can extend it.
 */
export class AnptError<C extends string = string> extends Error {
  constructor(
    readonly code: C,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * A problem with what the user asked for that no deeper layer names: a missing or
 * malformed flag, two flags that do not go together, an unusable directory.
 */
export class UsageError extends AnptError<'USAGE'> {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/**
 * Where a command writes: results to `out` (stdout), messages to `err` (stderr) and
 * progress to `progress` (stderr; a live bar only when it is a terminal). Tests pass
 * their own, so commands run in-process without touching the real streams.
 */
export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
}

export interface CliIo {
  out(s: string): void;
  err(s: string): void;
  progress: ProgressStream;
}

/** The process's own streams. */
export const processIo: CliIo = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  progress: process.stderr,
};

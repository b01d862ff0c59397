import { runCli } from '../src/cli/main.js';

/** Run `anpt argv...` in process: the exit code, stdout, and stderr with the progress lines (not a terminal). */
export async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const code = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), progress: { write: (s: string) => (err += s), isTTY: false } });
  return { code, out, err };
}

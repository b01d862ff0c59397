#!/usr/bin/env node
/**
 * The `anpt` command line: `anpt train`, `eval`, `predict`, `sweep`, `report`, `ports`,
 * `device` and `worker` (train.ts, eval.ts, sweep.ts, report.ts, device.ts, worker.ts);
 * `anpt help <command>`.
 *
 * Exit codes (errors.ts, shown by every --help): 0 success, 1 the run diverged, 2 bad
 * input, 3 the device or the link failed. Every error is one line on stderr,
 * `anpt: <what is wrong>; <what to do>`.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { EXIT_CODES_HELP, EXIT_OK, EXIT_USAGE, reportError } from './errors.js';
import { runEval, runPredict, addEvalCommand, addPredictCommand } from './eval.js';
import { processIo, type CliIo } from './io.js';
import { addTrainCommand, resolveTrainConfig, runTrain } from './train.js';
import { anptVersion } from '../version.js';
import { registerSweep } from './sweep.js';
import { registerReport } from './report.js';
import { registerDeviceCommands } from './device.js';
import { registerWorker } from './worker.js';

/** The command line as typed, for summary.json (arguments with spaces or quotes are quoted). */
export function commandLine(argv: string[]): string {
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  return ['anpt', ...argv.map(quote)].join(' ');
}

/** Commander's own errors (unknown option, missing value) as our one line. */
function commanderLine(err: CommanderError, argv: string[]): string {
  const text = err.message.replace(/^error: /, '').split('\n').map((s) => s.trim().replace(/\.$/, '')).filter(Boolean).join(' ');
  const sub = ['train', 'eval', 'predict', 'sweep', 'report', 'ports', 'device', 'worker'].includes(argv[0]) ? ` ${argv[0]}` : '';
  return `${text}; see anpt${sub} --help`;
}

/** Run `anpt` with these arguments (without "node main.js"); returns the exit code. */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  let exitCode = EXIT_OK;
  const program = new Command('anpt')
    .description('train recurrent networks the way a neuromorphic chip can (ANP-T: forward passes and one global reward)')
    .version(anptVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: () => {} })
    .showSuggestionAfterError(true)
    .addHelpText('afterAll', `\n${EXIT_CODES_HELP}`);
  addTrainCommand(program, async (flags) => {
    const cfg = resolveTrainConfig(flags);
    exitCode = await runTrain(cfg, io, commandLine(argv));
  });
  addEvalCommand(program, async (flags) => {
    exitCode = await runEval(flags, io);
  });
  addPredictCommand(program, async (flags) => {
    exitCode = await runPredict(flags, io);
  });
  registerSweep(program, { commandLine: commandLine(argv), io, setExitCode: (c) => { exitCode = c; } });
  registerReport(program, { io });
  registerDeviceCommands(program, io);
  registerWorker(program, io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT_OK;
      // `anpt help train` and `anpt train --help` exit 0; `anpt device` without a subcommand shows its help as an error
      if (err.code === 'commander.help') return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
      if (err.code === 'commander.executeSubCommandAsync') return EXIT_USAGE;
      io.err(`anpt: ${commanderLine(err, argv)}\n`);
      return EXIT_USAGE;
    }
    return reportError(err, io.err);
  }
}

/** True when this file is the program node was started with (also through the npm bin symlink). */
function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0); // e.g. `anpt ... | head`
    throw err;
  });
  process.exitCode = await runCli(process.argv.slice(2));
}

/**
 * `anpt report DIR`: rebuild a sweep's report.html and SVGs from DIR/results.json
 * (src/report/command.ts does the work). Register it with registerReport(program).
 */
import type { Command } from 'commander';
import { reportCommand } from '../report/command.js';
import type { CliIo } from './io.js';

/** Add `anpt report` to the program. A directory without results throws a UsageError for the program's error handler. */
export function registerReport(program: Command, hooks: { io?: CliIo } = {}): Command {
  return program
    .command('report')
    .description('rebuild the HTML report and the SVG plots of a sweep from DIR/results.json')
    .argument('<dir>', 'the --out directory of anpt sweep')
    .action(async (dir: string) => {
      const io = hooks.io;
      await reportCommand({ dir }, { log: io && ((line) => io.out(`${line}\n`)) });
    });
}

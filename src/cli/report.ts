/**
 * `anpt report DIR`: rebuild a sweep's report.html and SVGs from DIR/results.json
 * (src/report/command.ts does the work). Register it with registerReport(program).
 */
import type { Command } from 'commander';
import { reportCommand } from '../report/command.js';
import type { CliIo } from './io.js';
import { toJson } from './output.js';

/** Add `anpt report` to the program. A directory without results throws a UsageError for the program's error handler. */
export function registerReport(program: Command, hooks: { io?: CliIo } = {}): Command {
  return program
    .command('report')
    .description('rebuild the HTML report and the SVG plots of a sweep from DIR/results.json')
    .argument('<dir>', 'the --out directory of anpt sweep')
    .option('--json', 'print {"dir", "files"} as one JSON object on stdout, nothing else')
    .action(async (dir: string, f: { json?: boolean }) => {
      const out = hooks.io?.out ?? ((s: string) => process.stdout.write(s));
      const files = await reportCommand({ dir }, { log: f.json ? () => {} : (line) => out(`${line}\n`) });
      if (f.json) out(toJson({ dir, files }) + '\n');
    });
}

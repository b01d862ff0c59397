/**
 * `anpt sweep`: the command-line face of sweep-command.ts (flags only; the work is
 * there). Register it on the program with registerSweep(program).
 */
import type { Command } from 'commander';
import { FORMAT_BITS, ROUNDINGS } from '../format/fixed.js';
import { sweepCommand, type SweepFlags } from './sweep-command.js';
import { GRID_DEFAULTS, METHODS } from '../sweep/grid.js';
import { EXIT_FAILED, EXIT_OK } from './errors.js';
import type { CliIo } from './io.js';
import { toJson } from './output.js';
import { addTaskOptions } from './task-options.js';

export interface SweepHooks {
  /** The command as typed (default: `anpt` and process.argv from the third entry on). */
  commandLine?: string;
  /** Receives the exit code: 0, or 1 when some rows failed (bad input throws before). Default: process.exitCode. */
  setExitCode?: (code: number) => void;
  /** Where to write (default the process's streams): result lines to out, progress to progress. */
  io?: CliIo;
}

const d = GRID_DEFAULTS;

/** Add `anpt sweep` to the program. Bad input throws (UsageError / ConfigError) for the program's error handler. */
export function registerSweep(program: Command, hooks: SweepHooks = {}): Command {
  const cmd = program
    .command('sweep')
    .description('robustness study: train and test over a grid of weight bits, update rounding, noise and mismatch, with several methods and seeds, in parallel; resumable; writes results.csv/json and report.html')
    .option('--out <dir>', 'results directory (required); the same command on the same directory resumes')
    .option('--grid <file.json>', 'grid file (JSON; keys as in results.json "grid"); flags override its entries')
    .option('--weight-bits <list>', `weight bits, ${FORMAT_BITS.min}..${FORMAT_BITS.max} (default ${d.weightBits.join(',')})`)
    .option('--activity-bits <list>', `bits of activity, pre-activations, inputs and outputs, 5..16 (default ${d.activityBits.join(',')})`)
    .option('--rounding <list>', `weight-update rounding: ${ROUNDINGS.join(', ')} (default ${d.rounding.join(',')})`)
    .option('--sigma <list>', `noise std of the noisy copy, real units (default ${d.sigma.join(',')})`)
    .option('--mismatch <list>', `mismatch spread: per-neuron gain std (relative) and offset std (real units), 0..0.5 (default ${d.mismatch.join(',')})`)
    .option('--seeds <n>', `number of seeds: the reference seeds 42, 101, 300, 482, 708 first (default ${d.seeds.length})`)
    .option('--seed-list <list>', 'the seeds themselves, e.g. 42,101')
    .option('--methods <list>', `${METHODS.join(', ')} (default all)`)
    .option('--hidden <H>', `hidden neurons (default ${d.hidden})`)
    .option('--activation <name>', `tanh | hardtanh | linear (default ${d.activation})`)
    .option('--epochs <n>', `training epochs of ANP-T, and of BPTT unless --bptt-epochs (default ${d.anpt.epochs})`)
    .option('--lr <x>', `ANP-T step size for W, R and V (default ${d.anpt.lr})`)
    .option('--schedule <kind>', `ANP-T step-size schedule: constant | cosine (default ${d.anpt.schedule})`)
    .option('--chunk <K>', `ANP-T steps per run/reward round trip, 1 = online (default ${d.anpt.chunk})`)
    .option('--bptt-epochs <n>', 'BPTT epochs (default: --epochs)')
    .option('--bptt-lr <x>', `BPTT step size (default ${d.bptt.lr})`)
    .option('--bptt-window <k>', `BPTT window in steps, or full (default ${d.bptt.window})`)
    .option('--bptt-optimizer <name>', `adam | sgd (default ${d.bptt.optimizer})`)
    .option('--diag-samples <n>', `gradient diagnostic: noise draws, 0 = off (default ${d.diagnostics.samples})`)
    .option('--diag-steps <K>', `gradient diagnostic: chunk length in steps (default ${d.diagnostics.steps})`)
    .option('--diag-warmup <n>', `gradient diagnostic: clean steps before the chunk (default ${d.diagnostics.warmup})`)
    .option('--bias', 'hidden and output biases b, c in every network (as `anpt train --bias`; default off)')
    .option('--workers <n>', 'worker threads (default: the number of CPUs; 0 = the main thread)')
    .option('--threads <n>', 'with --workers 0: emulator threads per row, 1 | 2 | auto (default auto; a worker pool\'s rows keep 1)')
    .option('--queue <url>', 'run the rows on `anpt worker` processes through Redis: redis://[:password@]host:6379/0 or rediss:// (docs/scale-out.md)')
    .option('--collect <dir>', 'with --queue: rebuild DIR\'s results from the queue now and exit (no waiting)')
    .option('--run-on <where>', 'with --queue: any | emulator | board: which workers may take the rows (default any)')
    .option('--keep-days <n>', 'with --queue: days finished jobs stay in Redis (default 14)')
    .option('--force', 'use --out even if it holds another grid (rows this grid shares are kept) or other files')
    .option('--no-report', 'do not write report.html and the SVGs')
    .option('--quiet', 'no progress on stderr')
    .option('--json', 'print the summary (rows run, skipped, failed, seconds, files) as one JSON object on stdout, nothing else');
  addTaskOptions(cmd, true);
  const task = cmd.options.find((o) => o.long === '--task');
  if (task) task.description = task.description.replace('(required)', '(default mackey-glass)');
  cmd.addHelpText('after', `
Example (docs/sweep-example: 108 runs, 4 minutes on 2 cores):
  anpt sweep --out sweep-mg --hidden 64 --steps 5000 --epochs 10 --weight-bits 4,6,8,10,12,16 --rounding nearest,stochastic --seeds 3
Kill it at any time; the same command finishes the missing rows. anpt report DIR rebuilds the report.`);
  cmd.action(async (flags: SweepFlags) => {
    const io = hooks.io;
    const out = io?.out ?? ((s: string) => process.stdout.write(s));
    const json = (flags as { json?: boolean }).json === true;
    const summary = await sweepCommand(flags, { commandLine: hooks.commandLine, log: json ? () => {} : (line) => out(`${line}\n`), progress: io?.progress });
    if (json) out(toJson(summary) + '\n');
    const code = summary.failed > 0 ? EXIT_FAILED : EXIT_OK;
    if (hooks.setExitCode) hooks.setExitCode(code);
    else process.exitCode = code;
  });
  return cmd;
}

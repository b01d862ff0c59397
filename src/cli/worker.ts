/**
 * `anpt worker --queue URL [--concurrency N] [--device URL]`: run the rows of queued
 * sweeps (src/queue/worker.ts). Runs until SIGTERM or SIGINT: then it finishes the rows
 * in hand and exits; a second signal exits at once (the rows go back to the queue after
 * the stalled-job check).
 */
import os from 'node:os';
import type { Command } from 'commander';
import { resolveDeviceUrl } from './backend.js';
import { UsageError } from './errors.js';
import type { CliIo } from './io.js';
import { positiveInt } from './options.js';

interface WorkerFlags {
  queue?: string;
  concurrency?: string;
  device?: string;
  stallMs?: string;
  quiet?: boolean;
}

/** Default lock duration and stalled-check interval, ms (BullMQ's default). */
export const STALL_MS = 30_000;

export function registerWorker(program: Command, io: CliIo): void {
  const cpus = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  program
    .command('worker')
    .description('run rows of queued sweeps (anpt sweep --queue): on the emulator, or on one board with --device (docs/scale-out.md)')
    .option('--queue <url>', 'the Redis of the sweeps (required): redis://[:password@]host:6379/0 or rediss:// (TLS); ANPT_REDIS_PASSWORD and ANPT_REDIS_CA also apply')
    .option('--concurrency <n>', `rows at once on the emulator (default: the number of CPUs, ${cpus}); 1 with --device`)
    .option('--device <url>', 'run the rows on this board: tcp://host:port or serial:///dev/ttyACM0?baud=115200; takes only rows the board can run')
    .option('--stall-ms <ms>', `lock duration and stalled-check interval: a killed worker's row runs again after about 2-3 times this (default ${STALL_MS})`)
    .option('--quiet', 'no line per row')
    .action(async (f: WorkerFlags) => {
      if (f.queue === undefined) throw new UsageError('--queue is required: the Redis of the sweeps, e.g. --queue redis://127.0.0.1:6379/0');
      const { checkQueueUrl } = await import('../queue/connection.js');
      const url = checkQueueUrl(f.queue);
      const device = resolveDeviceUrl({ device: f.device });
      if (device && f.concurrency !== undefined && f.concurrency !== '1') throw new UsageError(`--concurrency ${f.concurrency}: a board runs one row at a time; start one worker per board (or drop --device for emulator rows)`);
      const concurrency = positiveInt('--concurrency', f.concurrency, cpus, '2');
      const stallMs = positiveInt('--stall-ms', f.stallMs, STALL_MS, '30000');
      let signals = 0;
      const stop = new Promise<void>((resolve) => {
        const onSignal = () => {
          if (++signals > 1) process.exit(130);
          io.err('anpt worker: finishing the rows in hand (signal again to stop now)\n');
          resolve();
        };
        process.on('SIGTERM', onSignal);
        process.on('SIGINT', onSignal);
      });
      const { runWorker } = await import('../queue/worker.js');
      await runWorker({ url, concurrency, device, stallMs, stop, log: f.quiet ? () => {} : (line) => io.err(`${line}\n`) });
    });
}

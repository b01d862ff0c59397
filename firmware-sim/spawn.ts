/**
 * Start firmware-sim as a child process and learn where to connect: for tests,
 * benchmarks and scripts. From the built package it runs dist/firmware-sim/main.js;
 * from the sources, main.ts through tsx.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface RunningSim {
  /** What the simulator printed first: tcp://127.0.0.1:PORT, or the host's pseudo-terminal path. */
  address: string;
  /** A link URL for it at `baud` (serial) or as is (tcp). */
  url(baud?: number): string;
  child: ChildProcess;
  /** The simulator's stderr so far (boots, resets, connections). */
  log(): string;
  /** Stop the simulator (SIGTERM, then SIGKILL after 2 s); resolves when it has exited. */
  stop(): Promise<void>;
}

/** Command and arguments that run the simulator's main module with `args`. */
export function simCommand(args: string[]): { command: string; args: string[] } {
  const here = fileURLToPath(import.meta.url);
  const built = here.replace(/spawn\.[jt]s$/, 'main.js');
  if (here.endsWith('.js') && existsSync(built)) return { command: process.execPath, args: [built, ...args] };
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return { command: process.execPath, args: ['--import', tsx, here.replace(/spawn\.[jt]s$/, 'main.ts'), ...args] };
}

/**
 * Spawn `anpt-firmware-sim args...` and wait for its first line. Rejects with the
 * simulator's own error line if it exits first, or after `timeoutMs`.
 */
export function spawnFirmwareSim(args: string[], opts: { timeoutMs?: number } = {}): Promise<RunningSim> {
  const { command, args: argv } = simCommand(args);
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (t: string) => {
    err += t;
    if (err.length > 1 << 20) err = err.slice(-(1 << 19)); // keep the tail of a long log
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(force);
    }
  };
  return new Promise((resolve, reject) => {
    const timeoutMs = opts.timeoutMs ?? 60_000; // tsx compiling main.ts on a loaded machine takes tens of seconds
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`firmware-sim ${args.join(' ')}: no address within ${timeoutMs} ms; stderr: ${err.trim()}`));
    }, timeoutMs);
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (t: string) => {
      out += t;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      child.stdout!.removeAllListeners('data');
      child.stdout!.resume();
      const address = out.slice(0, nl).trim();
      resolve({
        address,
        url: (baud = 115200) => (address.startsWith('tcp://') ? address : `serial://${address}?baud=${baud}`),
        child,
        log: () => err,
        stop,
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`firmware-sim ${args.join(' ')} exited (${code}): ${err.trim().split('\n').pop() ?? ''}`));
    });
  });
}

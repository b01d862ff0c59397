#!/usr/bin/env node
/**
 * anpt-firmware-sim: a separate process that behaves like an anpt board, serving the
 * bit-exact WASM kernel over the real link protocol.
 *
 *   anpt-firmware-sim --tcp 5555                listen on 127.0.0.1:5555 (0: any free port)
 *   anpt-firmware-sim --pty                     make a pseudo-terminal pair (socat)
 *   anpt-firmware-sim --serial /dev/ttyUSB0 --baud 921600
 *
 * The first line on stdout says where a host connects (tcp://127.0.0.1:PORT, or the
 * host's end of the pseudo-terminal, or the serial path); logs go to stderr.
 *
 * Over TCP and the pseudo-terminal both directions are paced at --baud (baud / 10
 * bytes/s), and on the pseudo-terminal a host that set another baud rate reads
 * garbage, as on a real line. On a real serial port the UART does both itself.
 * Faults (--corrupt-rate, --drop-rate, --reset-after-steps, --stall-ms with
 * --stall-rate) are for testing how the host copes; what was injected is logged every
 * 10 s while it changes and when a link closes.
 */

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { anptVersion } from '../src/version.js';
import { openSerial } from '../src/link/transport-serial.js';
import { listenTcp } from '../src/link/transport-tcp.js';
import type { ByteTransport } from '../src/link/transport.js';
import { SimBoard } from './board.js';
import { faultyTransport } from './faults.js';
import { pacedTransport } from './pacing.js';
import { openPtyPair } from './pty.js';
import { openTty } from './tty.js';
import { baudMismatchTransport } from './uart.js';

function integer(min: number, what: string) {
  return (raw: string): number => {
    const v = /^\d+$/.test(raw.trim()) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(v) || v < min) throw new InvalidArgumentError(`'${raw}' is not ${what}`);
    return v;
  };
}
function probability(raw: string): number {
  const v = Number(raw);
  if (raw.trim() === '' || !(v >= 0 && v <= 1)) throw new InvalidArgumentError(`'${raw}' is not a probability in 0..1 (e.g. 0.01)`);
  return v;
}

interface Flags {
  tcp?: number;
  pty?: boolean;
  serial?: string;
  baud: number;
  ramKib: number;
  maxFrameBytes: number;
  corruptRate: number;
  dropRate: number;
  faultSeed: number;
  resetAfterSteps: number;
  stallMs: number;
  stallRate: number;
  deviceId: string;
  protocolVersion?: number;
  /** false with --no-traces (testing: a board without eligibility traces). */
  traces: boolean;
  quiet?: boolean;
}

const program = new Command('anpt-firmware-sim')
  .description('Simulated anpt board: the bit-exact chip emulator behind the serial/TCP link protocol')
  .option('--tcp <port>', 'listen on 127.0.0.1:<port> (0 = any free port)', integer(0, 'a port number'))
  .option('--pty', 'create a pseudo-terminal pair with socat; the host opens the path printed first')
  .option('--serial <path>', 'serve a real serial port (its UART paces the line)')
  .option('--baud <n>', 'line rate, baud (8N1: baud/10 bytes/s)', integer(1, 'a positive baud rate'), 115200)
  .option('--ram-kib <n>', 'RAM for weights, state and traces, KiB', integer(1, 'a positive number of KiB'), 256)
  .option('--max-frame-bytes <n>', 'largest frame payload, bytes', integer(256, 'a frame size >= 256'), 16384)
  .option('--corrupt-rate <p>', 'flip a random bit in this fraction of bytes, both directions', probability, 0)
  .option('--drop-rate <p>', 'lose this fraction of frames, both directions', probability, 0)
  .option('--fault-seed <n>', 'seed of the fault draws', integer(0, 'a non-negative integer'), 1)
  .option('--reset-after-steps <n>', 'reboot after every n steps run (0 = never)', integer(0, 'a non-negative integer'), 0)
  .option('--stall-ms <n>', 'delay replies by n ms (every reply, or the fraction --stall-rate)', integer(0, 'a non-negative integer'), 0)
  .option('--stall-rate <p>', 'fraction of replies --stall-ms delays, drawn from --fault-seed (1 = every reply)', probability, 1)
  .option('--device-id <id>', 'device id announced in HelloReply', 'firmware-sim')
  .option('--quiet', 'no log lines on stderr')
  .addOption(new Option('--protocol-version <n>', 'speak another protocol version (testing)').argParser(integer(0, 'a version number')).hideHelp())
  .addOption(new Option('--no-traces', 'a board without eligibility traces: Limits.traces false, a learner trace refused (testing)').hideHelp())
  .version(anptVersion(), '-V, --version')
  .exitOverride()
  .configureOutput({ outputError: () => {} });

/** Bad input: one line on stderr, exit 2 (as anpt's own errors), never the whole help or a stack trace. */
function usage(message: string): never {
  const line = message.replace(/^error: /, '').split('\n').map((l) => l.trim().replace(/\.$/, '')).filter(Boolean).join(' ');
  process.stderr.write(`anpt-firmware-sim: ${line}; see anpt-firmware-sim --help\n`);
  process.exit(2);
}

try {
  program.parse();
} catch (err) {
  if (err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.version')) process.exit(0);
  usage(err instanceof Error ? err.message : String(err));
}
const flags = program.opts<Flags>();
const modes = [flags.tcp !== undefined, flags.pty === true, flags.serial !== undefined].filter(Boolean).length;
if (modes !== 1) usage('give exactly one of --tcp <port>, --pty, --serial <path>');

const log = (line: string) => {
  if (!flags.quiet) process.stderr.write(`[firmware-sim ${process.pid}] ${line}\n`);
};
function makeBoard(): SimBoard {
  try {
    return new SimBoard({
      ramBytes: flags.ramKib * 1024,
      maxFrameBytes: flags.maxFrameBytes,
      protocolVersion: flags.protocolVersion,
      resetAfterSteps: flags.resetAfterSteps,
      stallMs: flags.stallMs,
      stallRate: flags.stallRate,
      faultSeed: flags.faultSeed,
      deviceId: flags.deviceId,
      traces: flags.traces,
      log,
    });
  } catch (err) {
    // e.g. --ram-kib 1: the kernel does not fit; the board's message names the limit
    return usage(`--ram-kib ${flags.ramKib}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
const board = makeBoard();
const bytesPerSecond = flags.baud / 10;
const faulty = flags.corruptRate > 0 || flags.dropRate > 0;
const injecting = faulty || flags.stallMs > 0 || flags.resetAfterSteps > 0;

/** The stages between a port and the board: [baud mismatch] -> pacing -> faults. */
function attach(link: ByteTransport, opts: { pace: boolean; hostBaud?: () => number }): void {
  let t = link;
  if (opts.hostBaud) t = baudMismatchTransport(t, flags.baud, opts.hostBaud);
  const paced = opts.pace ? pacedTransport(t, bytesPerSecond) : undefined;
  if (paced) t = paced;
  const f = faulty ? faultyTransport(t, { corruptRate: flags.corruptRate, dropRate: flags.dropRate, seed: flags.faultSeed }) : undefined;
  if (f) t = f;
  if (injecting) {
    // the faults injected so far (this link's line faults, the board's stalls and
    // reboots), every 10 s while they change and when the link closes
    const now = () => {
      const b = board.injectedCounters();
      return `${f ? `${JSON.stringify(f.faults())}, ` : ''}stalls ${b.injectedStalls}, reboots ${b.injectedResets}`;
    };
    let last = '';
    const report = () => {
      const text = now();
      if (text !== last) log(`faults injected on ${link.name}: ${text}`);
      last = text;
    };
    const every = setInterval(report, 10_000).unref();
    t = alsoOnClose(t, () => {
      clearInterval(every);
      log(`link ${link.name} closed; faults injected: ${now()}, transmit queue drops ${paced?.queueDrops() ?? 0}`);
    });
  }
  board.attach(t, f?.faults, paced?.queueDrops);
}

/** `t`, with `also` run before the close callback the board sets (a transport keeps one). */
function alsoOnClose(t: ByteTransport, also: () => void): ByteTransport {
  return {
    name: t.name,
    bytesPerSecond: t.bytesPerSecond,
    write: (bytes) => t.write(bytes),
    onData: (cb) => t.onData(cb),
    onClose: (cb) =>
      t.onClose((reason) => {
        also();
        cb(reason);
      }),
    close: () => t.close(),
  };
}

const cleanups: (() => unknown)[] = [];
let stopping = false;
async function shutdown(code = 0): Promise<never> {
  if (!stopping) {
    stopping = true;
    setTimeout(() => process.exit(code), 500).unref(); // a cleanup that hangs must not keep us past SIGTERM's second
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  }
  process.exit(code);
}
process.on('SIGTERM', () => void shutdown(0));
process.on('SIGINT', () => void shutdown(0));
// A simulator whose parent (a test, a bench) died must not linger.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void shutdown(0);
}, 500).unref();

try {
  if (flags.tcp !== undefined) {
    const listener = await listenTcp(flags.tcp, (conn) => {
      log(`connection from ${conn.name}`);
      attach(conn, { pace: true });
    });
    cleanups.push(() => listener.close());
    process.stdout.write(`tcp://127.0.0.1:${listener.port}\n`);
    log(`listening on tcp://127.0.0.1:${listener.port}, paced at ${flags.baud} baud`);
  } else if (flags.pty) {
    const pair = await openPtyPair(flags.baud);
    cleanups.push(() => pair.close());
    const port = openTty(pair.devicePath);
    cleanups.push(() => port.close());
    attach(port, { pace: true, hostBaud: () => pair.hostBaud() });
    process.stdout.write(`${pair.hostPath}\n`);
    log(`serving pseudo-terminal ${pair.devicePath}; open ${pair.hostPath} at ${flags.baud} baud`);
    pair.socat.once('exit', () => {
      log('socat exited');
      void shutdown(1);
    });
  } else {
    const port = await openSerial(flags.serial!, flags.baud);
    cleanups.push(() => port.close());
    attach(port, { pace: false });
    process.stdout.write(`${flags.serial}\n`);
    log(`serving ${flags.serial} at ${flags.baud} baud`);
  }
} catch (e) {
  process.stderr.write(`anpt-firmware-sim: ${(e as Error).message}\n`);
  await shutdown(1);
}

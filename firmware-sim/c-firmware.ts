/**
 * Start the C firmware (firmware/, `npm run build:firmware`) on a pseudo-terminal and
 * learn its path: the host build as a Linux process, or the Cortex-M4 build in QEMU
 * (-M mps2-an386, UART0 on -serial pty). For tests, benchmarks and `anpt-firmware-qemu`.
 *
 * reset(): the host build reboots on SIGUSR1 (a watchdog the host triggers); QEMU gets
 * `system_reset` on its monitor. Both lose every byte of state and count a boot.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export type CFirmwareTarget = 'host' | 'qemu';

export interface RunningFirmware {
  target: CFirmwareTarget;
  /** The pseudo-terminal to open, /dev/pts/N. */
  path: string;
  url(baud?: number): string;
  child: ChildProcess;
  log(): string;
  /** Reboot the firmware (state lost, boot_counter + 1). */
  reset(): void;
  /** Stop it (SIGTERM, then SIGKILL after 2 s); resolves when it has exited. */
  stop(): Promise<void>;
}

/** build/firmware of this checkout (or of the installed package). */
export function firmwareBuildDir(): string {
  return resolve(process.env.ANPT_FIRMWARE_BUILD ?? 'build/firmware');
}

function command(target: CFirmwareTarget, build: string): { cmd: string; args: string[] } {
  if (target === 'host') return { cmd: resolve(build, 'host/anpt-firmware'), args: ['--pty'] };
  return {
    cmd: 'qemu-system-arm',
    args: ['-M', 'mps2-an386', '-display', 'none', '-kernel', resolve(build, 'mps2/anpt-firmware.elf'), '-serial', 'pty', '-monitor', 'stdio', '-nodefaults'],
  };
}

export function spawnCFirmware(target: CFirmwareTarget, opts: { timeoutMs?: number; build?: string } = {}): Promise<RunningFirmware> {
  const build = opts.build ?? firmwareBuildDir();
  const { cmd, args } = command(target, build);
  const image = target === 'host' ? cmd : args[args.indexOf('-kernel') + 1];
  if (!existsSync(image)) return Promise.reject(new Error(`${image} is not built; run npm run build:firmware`));
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stdout!.setEncoding('utf8');
  child.stderr!.on('data', (t: string) => {
    err = (err + t).slice(-(1 << 16));
  });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      if (target === 'qemu') child.stdin!.write('quit\n');
      else child.kill('SIGTERM');
      const term = setTimeout(() => child.kill('SIGTERM'), 1000);
      const force = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(term);
      clearTimeout(force);
    }
  };
  // QEMU prints "char device redirected to /dev/pts/N (label serial0)" (stderr or
  // stdout, by version); the host build prints the path as its first line.
  const pattern = target === 'qemu' ? /redirected to (\/dev\/pts\/\d+)/ : /^(\/dev\/pts\/\d+)\s*$/m;
  return new Promise((res, rej) => {
    const timer = setTimeout(() => {
      void stop();
      rej(new Error(`${cmd}: no pseudo-terminal within ${opts.timeoutMs ?? 15000} ms; ${err.trim()}`));
    }, opts.timeoutMs ?? 15000);
    const look = () => {
      const m = pattern.exec(out) ?? pattern.exec(err);
      if (!m) return;
      clearTimeout(timer);
      const path = m[1];
      res({
        target,
        path,
        url: (baud = 115200) => `serial://${path}?baud=${baud}`,
        child,
        log: () => err,
        reset: () => {
          if (target === 'qemu') child.stdin!.write('system_reset\n');
          else child.kill('SIGUSR1');
        },
        stop,
      });
    };
    child.stdout!.on('data', (t: string) => {
      out = (out + t).slice(-(1 << 16));
      look();
    });
    child.stderr!.on('data', look);
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`${cmd} exited (${code}): ${err.trim().split('\n').pop() ?? ''}`));
    });
  });
}

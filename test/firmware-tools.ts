// Building and finding the C firmware (firmware/, `npm run build:firmware`) for tests.
// A test that needs a tool the machine lacks skips with the Debian package to install,
// except in CI (CI=true), where it fails: CI must run every firmware test.
import { execFileSync, execSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

export const FIRMWARE_BUILD = resolve('build/firmware');

const TOOLS: Record<string, string> = {
  gcc: 'gcc',
  make: 'make',
  'arm-none-eabi-gcc': 'gcc-arm-none-eabi libnewlib-arm-none-eabi',
  'qemu-system-arm': 'qemu-system-arm',
  'nanopb_generator.py': 'nanopb (and the nanopb source package: firmware/scripts/nanopb-src.sh)',
  clang: 'clang',
};

function has(tool: string): boolean {
  try {
    execSync(`command -v ${tool}`, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Tools missing on this machine, as "tool (apt-get install pkg)". Throws in CI. */
export function missingTools(tools: string[]): string | undefined {
  const missing = tools.filter((t) => !has(t));
  if (missing.length === 0) return undefined;
  const msg = `missing ${missing.map((t) => `${t} (apt-get install ${TOOLS[t] ?? t})`).join(', ')}`;
  if (process.env.CI === 'true') throw new Error(`CI must run the firmware tests: ${msg}`);
  return msg;
}

let built: Set<string> | undefined;

/** `make -C firmware <targets>` once per target per process; returns the build directory. */
export function buildFirmware(...targets: string[]): string {
  built ??= new Set();
  const todo = targets.filter((t) => !built!.has(t));
  if (todo.length > 0) {
    // test files run in parallel processes: one make at a time (flock, util-linux)
    mkdirSync(FIRMWARE_BUILD, { recursive: true });
    execFileSync('flock', [resolve(FIRMWARE_BUILD, '.make.lock'), 'make', '-s', '-C', 'firmware', ...todo], { stdio: ['ignore', 'ignore', 'inherit'] });
    for (const t of todo) built.add(t);
  }
  return FIRMWARE_BUILD;
}

export function firmwarePath(rel: string): string {
  const p = resolve(FIRMWARE_BUILD, rel);
  if (!existsSync(p)) throw new Error(`${p} was not built`);
  return p;
}

/**
 * The anpt package's root folder, where build/ (the WASM chip), proto/, data/ and
 * package.json sit: found once by walking up from this module, so it is the same from
 * src/ (tests, tsx), dist/src/ (the build) and node_modules/anpt/dist/src/ (installed).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

function isAnptRoot(dir: string): boolean {
  const file = join(dir, 'package.json');
  if (!existsSync(file)) return false;
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name === 'anpt';
  } catch {
    return false; // unreadable or not JSON: not ours, keep walking
  }
}

/** The folder holding anpt's package.json (throws if the package was taken apart). */
export function packageRoot(): string {
  if (root !== undefined) return root;
  const start = dirname(fileURLToPath(import.meta.url));
  for (let dir = start; ; dir = dirname(dir)) {
    if (isAnptRoot(dir)) return (root = dir);
    if (dirname(dir) === dir) throw new Error(`anpt: no package.json of anpt above ${start}; reinstall anpt`);
  }
}

/** A path inside the package, e.g. packagePath('build', 'anpt-simd.wasm'). */
export function packagePath(...parts: string[]): string {
  return join(packageRoot(), ...parts);
}

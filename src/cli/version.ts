/**
 * The anpt version, from the package.json next to the code (found by walking up from
 * this module, so it works from src/cli under tsx and from dist/src/cli when installed).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** e.g. "0.1.0"; "unknown" if no anpt package.json is found. */
export function anptVersion(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 5; up++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'anpt' && pkg.version) return (cached = pkg.version);
      } catch {
        // not ours or unreadable: keep walking
      }
    }
    dir = dirname(dir);
  }
  return (cached = 'unknown');
}

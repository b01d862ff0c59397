/** The anpt version, from the package's own package.json. */
import { readFileSync } from 'node:fs';
import { packagePath } from './package-root.js';

let cached: string | undefined;

/** e.g. "0.1.0". */
export function anptVersion(): string {
  return (cached ??= (JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string }).version);
}

// The speed tables of README.md and docs/ are written by `npm run bench` (bench/docs.ts):
// the splice replaces exactly the marked blocks, and every marker in the docs is one the
// bench writes, opened and closed once per place.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { blockNames, docFiles, spliceBlock } from '../bench/docs.js';

const SECTIONS = ['step', 'epoch', 'spectral', 'link', 'queue', 'faults', 'cores'];

describe('bench tables in the docs', () => {
  it('replaces every copy of the named block and nothing else', () => {
    const text = 'a\n<!-- bench:epoch -->\nold\n<!-- /bench:epoch -->\nb\n<!-- bench:cores -->\nkeep\n<!-- /bench:cores -->\n<!-- bench:epoch -->\nold 2\n<!-- /bench:epoch -->\n';
    const out = spliceBlock(text, 'epoch', '| new |\n');
    expect(out).toBe('a\n<!-- bench:epoch -->\n| new |\n<!-- /bench:epoch -->\nb\n<!-- bench:cores -->\nkeep\n<!-- /bench:cores -->\n<!-- bench:epoch -->\n| new |\n<!-- /bench:epoch -->\n');
    expect(spliceBlock(out, 'epoch', '| new |')).toBe(out); // idempotent
    expect(spliceBlock(text, 'step', 'x')).toBe(text); // no such block: unchanged
  });

  it('README.md and docs/ hold only blocks the bench writes, each closed, the speed tables among them', () => {
    const seen = new Set<string>();
    for (const file of docFiles()) {
      const text = readFileSync(file, 'utf8');
      for (const name of blockNames(text)) {
        expect(SECTIONS, `${file}: <!-- bench:${name} -->`).toContain(name);
        const opens = text.split(`<!-- bench:${name} -->\n`).length - 1;
        const closes = text.split(`<!-- /bench:${name} -->`).length - 1;
        expect(closes, `${file}: bench:${name} opened ${opens} times, closed ${closes}`).toBe(opens);
        expect(text, `${file}: bench:${name} was written by npm run bench`).toMatch(new RegExp(`<!-- bench:${name} -->\\n\\*Made by \`npm run bench\``));
        seen.add(name);
      }
    }
    expect([...seen].sort()).toEqual([...SECTIONS].sort());
  });
});

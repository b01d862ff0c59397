/**
 * The speed tables of README.md and docs/*.md are written by `npm run bench`, never by
 * hand: each sits between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`, and a run
 * replaces the blocks of the sections it ran (all of them without --only), stamped
 * with the date, the commit, the machine and the load. The same blocks go to
 * bench/out/tables.md. Written by hand (a dozen lines): markdown-include tools
 * splice files, not tables computed in this process.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

/** The files that may hold bench blocks. */
export function docFiles(root = '.'): string[] {
  const docs = join(root, 'docs');
  return [join(root, 'README.md'), ...(existsSync(docs) ? readdirSync(docs).filter((f) => f.endsWith('.md')).map((f) => join(docs, f)) : [])];
}

const block = (name: string) => new RegExp(`(<!-- bench:${name} -->\\n)[\\s\\S]*?(<!-- /bench:${name} -->)`, 'g');

/** `text` with every block NAME replaced by `body` (a block may appear in several places and files). */
export function spliceBlock(text: string, name: string, body: string): string {
  return text.replace(block(name), (_m, open: string, close: string) => `${open}${body.trimEnd()}\n${close}`);
}

/** Names of the blocks in `text`. */
export function blockNames(text: string): string[] {
  return [...text.matchAll(/<!-- bench:([\w-]+) -->/g)].map((m) => m[1]);
}

/** Writes `blocks` into every file that has them; returns "file: names" for each file changed. */
export function writeBlocks(blocks: Record<string, string>, files = docFiles()): string[] {
  const changed: string[] = [];
  for (const file of files) {
    const before = readFileSync(file, 'utf8');
    let after = before;
    const names = blockNames(before).filter((n) => n in blocks);
    for (const n of names) after = spliceBlock(after, n, blocks[n]);
    if (after !== before) {
      writeFileSync(file, after);
      changed.push(`${file}: ${[...new Set(names)].join(', ')}`);
    }
  }
  return changed;
}

/** The short commit of the tree, with a note when it has uncommitted changes. */
export function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${sha} + uncommitted changes` : sha;
  } catch {
    return 'unknown commit';
  }
}

/** The line that opens every block: what made it, when, on what, under which load. */
export function stamp(section: string, startedAt: Date, loadAtStart: number, extra = '', what = `commit ${commit()}`): string {
  const utc = (d: Date) => d.toISOString().slice(0, 16).replace('T', ' ');
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  return (
    `*Made by \`npm run bench\` (section \`${section}\`), ${utc(startedAt)}-${utc(new Date()).slice(11)} UTC, ${what}, ` +
    `Node ${process.version}, ${os.cpus().length} cores (${cpu}), 1-minute load average ${loadAtStart.toFixed(2)} at the start and ${os.loadavg()[0].toFixed(2)} at the end${extra ? `; ${extra}` : ''}.*`
  );
}

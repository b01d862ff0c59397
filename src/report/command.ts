/**
 * `anpt report DIR`: rebuild a sweep's report (report.html and one SVG per plot) from
 * DIR/results.json, without running anything.
 */
import { join } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { readResults, type SweepResults } from '../sweep/results.js';
import { buildSweepReport } from './sweep-report.js';

export interface ReportFlags {
  /** The sweep's --out directory. */
  dir: string;
}

export interface ReportContext {
  /** Result lines (default process.stdout). */
  log?: (line: string) => void;
}

/** Write DIR/report.html and the plots' SVGs; returns the paths written. */
export function writeReportFiles(dir: string, results: SweepResults): string[] {
  const report = buildSweepReport(results);
  const files: string[] = [];
  for (const p of report.plots) {
    const path = join(dir, p.file);
    writeFileAtomic.sync(path, p.svg);
    files.push(path);
  }
  const html = join(dir, 'report.html');
  writeFileAtomic.sync(html, report.html);
  files.unshift(html);
  return files;
}

/** Run `anpt report` (see the file comment); a directory without results is a SweepDirError saying what to do. */
export async function reportCommand(f: ReportFlags, ctx: ReportContext = {}): Promise<string[]> {
  const log = ctx.log ?? ((line: string) => process.stdout.write(`${line}\n`));
  const results: SweepResults = readResults(f.dir);
  const files = writeReportFiles(f.dir, results);
  log(`report: ${results.rows.length} rows; wrote ${files.join(', ')}`);
  return files;
}

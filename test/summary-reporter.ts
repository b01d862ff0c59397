// Prints one plain closing line, "N passed, N failed[, N skipped]", after vitest's own
// summary, so that CI logs that do not know vitest's format can still count tests.
import type { Reporter } from 'vitest/reporters';
import type { RunnerTestFile } from 'vitest';

function count(files: RunnerTestFile[]): { passed: number; failed: number; skipped: number } {
  const c = { passed: 0, failed: 0, skipped: 0 };
  const walk = (tasks: RunnerTestFile['tasks']): void => {
    for (const t of tasks) {
      if (t.type === 'suite') walk(t.tasks);
      else if (t.result?.state === 'pass') c.passed++;
      else if (t.result?.state === 'fail') c.failed++;
      else c.skipped++;
    }
  };
  for (const f of files) {
    walk(f.tasks);
    if (f.result?.state === 'fail' && f.tasks.length === 0) c.failed++; // a file that failed to load
  }
  return c;
}

export default class SummaryReporter implements Reporter {
  onFinished(files: RunnerTestFile[] = []): void {
    const c = count(files);
    process.stdout.write(`\n${c.passed} passed, ${c.failed} failed${c.skipped ? `, ${c.skipped} skipped` : ''}\n`);
  }
}

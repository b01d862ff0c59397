// The import rules of .dependency-cruiser.cjs, checked by dependency-cruiser over
// src/ and firmware-sim/: no import cycles (type-only and dynamic imports count),
// nothing below src/cli/ imports src/cli/, and the ANP-T trainer reaches neither the
// float model, BPTT, the diagnostics nor the link. dependency-cruiser rather than madge:
// one declarative config holds all three kinds of rule (madge finds cycles only).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
  cycle?: { name: string }[];
}

/**
 * Violations that src/link/ still has on this branch; the contract branch removes them
 * (it owns src/link/). This list is exact: the test fails on any other violation, and
 * also once one of these is gone, so the line is deleted when it is fixed.
 */

function describeViolation(v: Violation): string {
  const path = v.cycle ? [v.from, ...v.cycle.map((c) => c.name)] : [v.from, v.to];
  return `${v.rule.name}: ${path.join(' -> ')}`;
}

describe('layering', () => {
  it('has no import cycles, no imports of src/cli from below it, and a device-agnostic trainer', () => {
    const bin = join('node_modules', '.bin', 'depcruise');
    const r = spawnSync(bin, ['src', 'firmware-sim', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as { summary: { violations: Violation[]; totalCruised: number } };
    expect(result.summary.totalCruised).toBeGreaterThan(90); // it read the tree
    const found = result.summary.violations.map(describeViolation).sort();
    expect(found).toEqual([]);
  });
});

// The tasks that need learned recurrence (src/tasks/adding.ts, delayed-recall.ts):
// shapes, determinism by seed, and the property of the target that makes each the
// task it claims to be.
import { describe, expect, it } from 'vitest';
import { addingTask } from '../src/tasks/adding.js';
import { delayedRecallTask } from '../src/tasks/delayed-recall.js';
import { TaskError } from '../src/tasks/errors.js';
import { makeTask, TASK_NAMES } from '../src/tasks/index.js';
import { MARKER, QUERY, VALUE } from '../src/tasks/marked-episodes.js';
import type { SequenceSet } from '../src/tasks/types.js';

/** Per sequence and episode: the marked steps (within the episode), their values, the query flags, the targets. */
function episodes(set: SequenceSet, L: number) {
  const out: { marked: number[]; values: number[]; query: number[]; targets: number[]; inputs: number[][] }[] = [];
  for (let b = 0; b < set.batch; b++)
    for (let t0 = 0; t0 < set.steps; t0 += L) {
      const e = { marked: [] as number[], values: [] as number[], query: [] as number[], targets: [] as number[], inputs: [] as number[][] };
      for (let k = 0; k < L; k++) {
        const row = ((t0 + k) * set.batch + b) * set.inputSize;
        const x = Array.from(set.inputs.subarray(row, row + 3));
        e.inputs.push(x);
        if (x[MARKER] === 1) { e.marked.push(k); e.values.push(x[VALUE]); }
        e.query.push(x[QUERY]);
        e.targets.push(set.targets[(t0 + k) * set.batch + b]);
      }
      out.push(e);
    }
  return out;
}

const same = (a: SequenceSet, b: SequenceSet) => a.inputs.every((x, k) => x === b.inputs[k]) && a.targets.every((x, k) => x === b.targets[k]);

describe.each([
  ['adding', addingTask, 2],
  ['delayed-recall', delayedRecallTask, 1],
] as const)('%s', (name, make, marks) => {
  it('has the documented shape and is registered', () => {
    const t = make({ episode: 12, episodes: 7, batch: 3, seed: 5 });
    expect(t.name).toBe(`${name}/len12`);
    for (const s of [t.train, t.test]) {
      expect([s.steps, s.batch, s.inputSize, s.outputSize]).toEqual([84, 3, 3, 1]);
      expect(s.inputs.length).toBe(84 * 3 * 3);
      expect(s.targets.length).toBe(84 * 3);
    }
    expect(TASK_NAMES).toContain(name);
    expect(same(makeTask(name, { episode: 12, episodes: 7, batch: 3, seed: 5 }).train, t.train)).toBe(true);
    const d = make();
    expect([d.train.steps, d.train.batch]).toEqual([1000, 10]);
  });

  it('is deterministic by seed; train, test and other seeds differ', () => {
    const a = make({ seed: 9 }), b = make({ seed: 9 }), c = make({ seed: 10 });
    expect(same(a.train, b.train) && same(a.test, b.test)).toBe(true);
    expect(same(a.train, c.train)).toBe(false);
    expect(same(a.train, a.test)).toBe(false);
  });

  it('marks the documented steps and asks for the answer only at the query step', () => {
    const L = 10;
    const t = make({ episode: L, episodes: 50, batch: 4, seed: 3 });
    const half = Math.floor((L - 1) / 2);
    let sawNonZero = 0;
    for (const e of episodes(t.train, L)) {
      expect(e.marked.length).toBe(marks);
      expect(e.marked[0]).toBeLessThan(half); // the first mark in the first half
      if (marks === 2) expect(e.marked[1]).toBeGreaterThanOrEqual(half); // the second in the second half
      expect(e.query).toEqual([...Array(L - 1).fill(0), 1]);
      expect(e.inputs[L - 1]).toEqual([0, 0, 1]); // the query step carries no value
      for (const x of e.inputs.slice(0, L - 1)) expect(Math.abs(x[VALUE])).toBeLessThanOrEqual(1);
      expect(e.targets.slice(0, L - 1)).toEqual(Array(L - 1).fill(0));
      const answer = marks === 2 ? e.values[0] + e.values[1] : e.values[0];
      expect(e.targets[L - 1]).toBe(answer);
      if (answer !== 0) sawNonZero++;
    }
    expect(sawNonZero).toBeGreaterThan(150);
    // the answer is the marked value(s), not a distractor: the distractor at the same step of a
    // neighbouring episode does not predict it
    const es = episodes(t.train, L);
    const distractor = es.map((e) => e.inputs[(e.marked[0] + 1) % (L - 1)][VALUE]);
    const corr = es.reduce((s, e, k) => s + e.targets[L - 1] * distractor[k], 0) / es.length;
    expect(Math.abs(corr)).toBeLessThan(0.1);
  });

  it('refuses an episode too short for its marks, with a one-line message', () => {
    expect(() => make({ episode: 2 })).toThrow(TaskError);
    expect(() => make({ episode: 2 })).toThrow(/episode must be an integer >= 3, got 2/);
    expect(() => make({ episodes: 0 })).toThrow(/episodes must be an integer >= 1/);
  });
});

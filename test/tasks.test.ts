import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyMetrics, copyTask } from '../src/tasks/copy.js';
import { parseCsv, splitCsvLine } from '../src/tasks/csv-parse.js';
import { csvTask, minimumRows } from '../src/tasks/csv.js';
import { TaskError } from '../src/tasks/errors.js';
import { makeTask, TASK_NAMES } from '../src/tasks/index.js';
import { mackeyGlassTask } from '../src/tasks/mackey-glass.js';
import { createRng, testSeed } from '../src/tasks/rng.js';
import type { SequenceSet } from '../src/tasks/types.js';
import { WEATHER_COLUMNS, weatherTask } from '../src/tasks/weather.js';

/** Runs `fn` and returns the TaskError it throws (fails the test otherwise). */
function taskError(fn: () => unknown): TaskError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TaskError);
    return err as TaskError;
  }
  throw new Error('expected a TaskError');
}

const arrayEqual = (a: Float64Array, b: Float64Array) => a.length === b.length && a.every((v, k) => v === b[k]);

describe('rng', () => {
  it('is deterministic and matches mulberry32 golden values', () => {
    const a = createRng(42);
    const b = createRng(42);
    const draws = Array.from({ length: 5 }, () => a.uint32());
    expect(Array.from({ length: 5 }, () => b.uint32())).toEqual(draws);
    expect(draws.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32)).toBe(true);
    // Golden: the first draws of mulberry32(42); a change here changes every task.
    expect(draws.slice(0, 3)).toEqual(GOLDEN_MULBERRY32_42);
  });

  it('puts the test stream 2^31 draws away from the train stream', () => {
    expect(testSeed(42)).toBe(42 + 2 ** 31);
    expect(testSeed(2 ** 31 + 1)).toBe(1);
  });
});

// Pinned outputs of mulberry32(42) (bryc's published algorithm); any change alters every task's data.
const GOLDEN_MULBERRY32_42 = [2581720956, 1925393290, 3661312704];

describe('mackey-glass', () => {
  const opts = { steps: 400, batch: 3, seed: 7 };

  it('is deterministic per seed and differs across seeds and splits', () => {
    const a = mackeyGlassTask(opts);
    const b = mackeyGlassTask(opts);
    const c = mackeyGlassTask({ ...opts, seed: 8 });
    expect(arrayEqual(a.train.inputs, b.train.inputs)).toBe(true);
    expect(arrayEqual(a.test.targets, b.test.targets)).toBe(true);
    expect(arrayEqual(a.train.inputs, c.train.inputs)).toBe(false);
    expect(arrayEqual(a.train.inputs, a.test.inputs)).toBe(false);
  });

  it('has the documented shape and name', () => {
    const task = mackeyGlassTask(opts);
    expect(task.name).toBe('mackey-glass/recall-15');
    expect([task.inputSize, task.outputSize]).toEqual([1, 1]);
    for (const set of [task.train, task.test]) {
      expect(set).toMatchObject({ steps: 400, batch: 3, inputSize: 1, outputSize: 1 });
      expect(set.inputs.length).toBe(400 * 3);
      expect(set.targets.length).toBe(400 * 3);
    }
    expect(mackeyGlassTask({ ...opts, mode: 'forecast', horizon: 5 }).name).toBe('mackey-glass/forecast-5');
  });

  it('is bounded, de-meaned per sequence and not constant', () => {
    const { train } = mackeyGlassTask({ ...opts, horizon: 0 });
    for (let b = 0; b < train.batch; b++) {
      let sum = 0;
      let lo = Infinity;
      let hi = -Infinity;
      for (let t = 0; t < train.steps; t++) {
        const v = train.targets[t * train.batch + b];
        sum += v;
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      expect(Math.abs(sum / train.steps)).toBeLessThan(1e-12);
      expect(lo).toBeGreaterThan(-1);
      expect(hi).toBeLessThan(1);
      expect(hi - lo).toBeGreaterThan(0.3); // chaotic oscillation, not a fixed point
    }
  });

  it('recall and forecast come from the same series, shifted by the horizon', () => {
    const h = 15;
    const recall = mackeyGlassTask({ ...opts, mode: 'recall', horizon: h });
    const forecast = mackeyGlassTask({ ...opts, mode: 'forecast', horizon: h });
    for (const split of ['train', 'test'] as const) {
      const r = recall[split];
      const f = forecast[split];
      // recall target at t = forecast input at t = s(t); recall input at t = forecast target at t = s(t+h)
      expect(arrayEqual(r.targets, f.inputs)).toBe(true);
      expect(arrayEqual(r.inputs, f.targets)).toBe(true);
      // and within one set, the input is the target h steps later
      for (let b = 0; b < r.batch; b++) {
        expect(r.inputs[0 * r.batch + b]).toBe(r.targets[h * r.batch + b]);
      }
    }
  });

  it('rejects bad options with a TaskError', () => {
    expect(taskError(() => mackeyGlassTask({ steps: 0 })).code).toBe('BAD_OPTION');
    expect(taskError(() => mackeyGlassTask({ mode: 'sideways' as 'recall' })).message).toContain("'recall' or 'forecast'");
  });
});

describe('copy', () => {
  const task = copyTask({ length: 20, delay: 5, batch: 4, seed: 3 });

  it('has the documented layout', () => {
    expect(task.name).toBe('copy/len20-delay5');
    const set = task.train;
    expect(set).toMatchObject({ steps: 45, batch: 4, inputSize: 10, outputSize: 10 });
    const C = 10;
    const row = (arr: Float64Array, t: number, b: number) => Array.from(arr.subarray((t * 4 + b) * C, (t * 4 + b + 1) * C));
    const hot = (v: number[]) => v.indexOf(1);
    for (let b = 0; b < 4; b++) {
      for (let t = 0; t < 45; t++) {
        const x = row(set.inputs, t, b);
        const y = row(set.targets, t, b);
        expect(x.reduce((s, v) => s + v, 0)).toBe(1);
        if (t < 20) {
          expect(hot(x)).toBeGreaterThanOrEqual(1);
          expect(hot(x)).toBeLessThanOrEqual(8);
          expect(y.every((v) => v === 0)).toBe(true);
        } else if (t < 25) {
          expect(hot(x)).toBe(0);
          expect(y.every((v) => v === 0)).toBe(true);
        } else {
          expect(hot(x)).toBe(9);
          expect(hot(y)).toBe(hot(row(set.inputs, t - 25, b)));
          expect(y.reduce((s, v) => s + v, 0)).toBe(1);
        }
      }
    }
  });

  it('is deterministic per seed; train and test differ', () => {
    const again = copyTask({ length: 20, delay: 5, batch: 4, seed: 3 });
    const other = copyTask({ length: 20, delay: 5, batch: 4, seed: 4 });
    expect(arrayEqual(task.train.inputs, again.train.inputs)).toBe(true);
    expect(arrayEqual(task.train.inputs, other.train.inputs)).toBe(false);
    expect(arrayEqual(task.train.inputs, task.test.inputs)).toBe(false);
  });

  it('scores a perfect output as 0 wrong bits and accuracy 1', () => {
    const m = task.metrics!(task.test.targets.slice(), task.test);
    expect(m).toEqual({ wrong_bits: 0, recall_accuracy: 1 });
    // Soft but correct outputs also score perfectly after thresholding at 0.5.
    const soft = task.test.targets.map((v) => (v > 0.5 ? 0.8 : 0.1));
    expect(copyMetrics(soft, task.test)).toEqual({ wrong_bits: 0, recall_accuracy: 1 });
  });

  it('counts wrong bits per sequence and recall accuracy', () => {
    const set: SequenceSet = task.test;
    const zeros = new Float64Array(set.targets.length);
    // All-zero output: wrong bits = the target's ones = one per recall step, 20 per sequence.
    expect(copyMetrics(zeros, set).wrong_bits).toBe(20);
    const out = set.targets.slice();
    // Break one recall step of sequence 0: move its one-hot to another class (2 wrong bits).
    const t = 30;
    const off = (t * set.batch + 0) * 10;
    const c = out.subarray(off, off + 10).indexOf(1);
    out[off + c] = 0;
    out[off + ((c + 1) % 10)] = 1;
    const m = copyMetrics(out, set);
    expect(m.wrong_bits).toBeCloseTo(2 / 4, 12);
    expect(m.recall_accuracy).toBeCloseTo(1 - 1 / (20 * 4), 12);
    expect(taskError(() => copyMetrics(new Float64Array(3), set)).code).toBe('SHAPE_MISMATCH');
  });
});

describe('weather', () => {
  const task = weatherTask();

  it('has 9 inputs, 1 output and B contiguous segments', () => {
    expect(task.name).toBe('weather');
    expect([task.inputSize, task.outputSize]).toEqual([9, 1]);
    // 33,600 train rows -> 33,599 next-hour pairs -> 10 x 3359; 1,464 test rows -> 10 x 146.
    expect(task.train).toMatchObject({ steps: 3359, batch: 10, inputSize: 9, outputSize: 1 });
    expect(task.test).toMatchObject({ steps: 146, batch: 10, inputSize: 9, outputSize: 1 });
    expect(task.normalisation!.columns).toEqual(WEATHER_COLUMNS);
    expect(task.normalisation!.columns).not.toContain('DryBulbCelsius');
  });

  it('normalises train to [0, 1] and targets the next hour of dry-bulb F', () => {
    const { train } = task;
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of train.inputs) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    for (const v of train.targets) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThanOrEqual(1);
    // Within a segment the target at t is the dry-bulb input (column 1) at t + 1.
    const B = train.batch;
    for (const b of [0, 9]) {
      for (const t of [0, 100, train.steps - 2]) {
        expect(train.targets[t * B + b]).toBe(train.inputs[((t + 1) * B + b) * 9 + 1]);
      }
    }
    // Segment 1 starts where segment 0 ends: contiguous rows.
    expect(train.inputs[(0 * B + 1) * 9 + 1]).toBe(train.targets[(train.steps - 1) * B + 0]);
    // First row of WTH.csv: DryBulbFarenheit 16; de-normalise.
    const n = task.normalisation!;
    expect(train.inputs[1] * (n.max[1] - n.min[1]) + n.min[1]).toBeCloseTo(16, 9);
  });
});

describe('csv', () => {
  const dir = mkdtempSync(join(tmpdir(), 'anpt-tasks-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  };
  const rowsOf = (n: number, f: (r: number) => string) => Array.from({ length: n }, (_, r) => f(r)).join('\n');
  // 20 rows: a = r, b = 2r, "c x" = 100 - r.
  const good = write('good.csv', '"a",b,"c x"\r\n' + rowsOf(20, (r) => `${r},${2 * r},${100 - r}`) + '\r\n\r\n');

  it('round-trips a good file with train-split normalisation', () => {
    const task = csvTask({ file: good, inputs: ['a', 'c x'], targets: ['b'], split: 0.8, batch: 3 });
    expect(task.name).toBe('csv:good.csv');
    expect([task.inputSize, task.outputSize]).toEqual([2, 1]);
    // 16 train rows -> 15 pairs -> 3 x 5; 4 test rows -> 3 pairs -> 3 x 1.
    expect(task.train).toMatchObject({ steps: 5, batch: 3 });
    expect(task.test).toMatchObject({ steps: 1, batch: 3 });
    expect(task.normalisation).toEqual({ columns: ['a', 'c x', 'b'], min: [0, 85, 0], max: [15, 100, 30] });
    // Sequence b=1, step t=2 is row 7; target is b at row 8 = 16 -> 16/30.
    const { train } = task;
    expect(train.inputs[(2 * 3 + 1) * 2 + 0]).toBeCloseTo(7 / 15, 12);
    expect(train.inputs[(2 * 3 + 1) * 2 + 1]).toBeCloseTo((93 - 85) / 15, 12);
    expect(train.targets[2 * 3 + 1]).toBeCloseTo(16 / 30, 12);
    // Test rows 16..19 lie outside the train range: a = 16 -> 16/15 > 1.
    expect(task.test.inputs[0]).toBeCloseTo(16 / 15, 12);
  });

  it('supports horizon 0 and goes through makeTask', () => {
    const task = makeTask('csv', { file: good, inputs: ['a'], targets: ['a'], horizon: 0, batch: 2 });
    expect(arrayEqual(task.train.inputs, task.train.targets)).toBe(true);
    expect(task.train.steps).toBe(8);
  });

  it('reports a missing file', () => {
    const e = taskError(() => csvTask({ file: join(dir, 'x.csv'), inputs: ['a'], targets: ['b'] }));
    expect(e.code).toBe('FILE_NOT_FOUND');
    expect(e.message).toMatch(/^data file '.*x\.csv' not found; check the path$/);
  });

  it('reports a missing column and lists the available ones', () => {
    const e = taskError(() => csvTask({ file: good, inputs: ['a', 'temp'], targets: ['b'] }));
    expect(e.code).toBe('MISSING_COLUMN');
    expect(e.message).toBe("data file 'good.csv' has no column 'temp'; available columns: 'a', 'b', 'c x'");
  });

  it('reports a non-numeric cell with row, column and text', () => {
    const file = write('text.csv', 'a,b\n1,2\n3,4\n5,abc\n');
    const e = taskError(() => csvTask({ file, inputs: ['a'], targets: ['b'] }));
    expect(e.code).toBe('NON_NUMERIC');
    expect(e.message).toBe("data file 'text.csv' row 3 (line 4), column 'b' is 'abc', not a number; use plain decimal numbers");
  });

  it('reports empty and NaN cells', () => {
    const empty = write('empty.csv', 'a,b\n1,2\n,4\n');
    const e1 = taskError(() => csvTask({ file: empty, inputs: ['a'], targets: ['b'] }));
    expect(e1.code).toBe('MISSING_VALUE');
    expect(e1.message).toBe("data file 'empty.csv' row 2 (line 3), column 'a' is empty; fill or remove that row");
    const nan = write('nan.csv', 'a,b\n1,NaN\n');
    const e2 = taskError(() => csvTask({ file: nan, inputs: ['a'], targets: ['b'] }));
    expect(e2.code).toBe('MISSING_VALUE');
    expect(e2.message).toContain("column 'b' is 'NaN'");
  });

  it('reports too few rows with the number needed', () => {
    const file = write('short.csv', 'a,b\n' + rowsOf(12, (r) => `${r},${r}`));
    const e = taskError(() => csvTask({ file, inputs: ['a'], targets: ['b'], split: 0.8, batch: 3 }));
    expect(e.code).toBe('TOO_FEW_ROWS');
    // Each split needs batch + horizon = 4 rows: 16 rows split 12 + 4; 15 would leave 3 for test.
    expect(minimumRows(0.8, 3, 1)).toBe(16);
    expect(e.message).toBe("data file 'short.csv' has 12 data rows but split 0.8, batch 3 and horizon 1 need at least 16; add rows or lower the batch");
  });

  it('reports a bad split', () => {
    for (const split of [0, 1, 1.5, -0.2, Number.NaN]) {
      const e = taskError(() => csvTask({ file: good, inputs: ['a'], targets: ['b'], split }));
      expect(e.code).toBe('BAD_SPLIT');
      expect(e.message).toContain('must be a fraction in (0, 1)');
    }
  });

  it('reports a ragged row', () => {
    const file = write('ragged.csv', 'a,b\n1,2\n3\n');
    expect(taskError(() => csvTask({ file, inputs: ['a'], targets: ['b'] })).message).toBe(
      "data file 'ragged.csv' line 3 has 1 cells but the header has 2 columns; fix that line",
    );
  });

  it('parses quoted fields and a BOM', () => {
    expect(splitCsvLine('"x, y","say ""hi""",3')).toEqual(['x, y', 'say "hi"', '3']);
    const table = parseCsv('\uFEFF"t",v\n1,2\n', 'mem.csv');
    expect(table.columns).toEqual(['t', 'v']);
    expect(table.rows).toEqual([['1', '2']]);
    expect(taskError(() => parseCsv('\n\n', 'blank.csv')).code).toBe('EMPTY_FILE');
  });

  it('finds a semicolon or tab delimiter from the header, and reads a line break inside quotes', () => {
    const semi = parseCsv('time;"temp; C"\n1;2,5\n2;3\n', 'de.csv');
    expect(semi.columns).toEqual(['time', 'temp; C']);
    expect(semi.rows).toEqual([['1', '2,5'], ['2', '3']]);
    expect(parseCsv('a\tb\n1\t2\n', 'tab.tsv').rows).toEqual([['1', '2']]);
    const multi = parseCsv('"note\nwith break",v\n1,2\n3,4\n', 'multi.csv');
    expect(multi.columns).toEqual(['note\nwith break', 'v']);
    expect(multi.lines).toEqual([3, 4]); // line numbers of the file, after the two-line header
  });
});

describe('makeTask', () => {
  it('builds each paper task by name', () => {
    expect(makeTask('mackey-glass', { steps: 50, batch: 1 }).name).toBe('mackey-glass/recall-15');
    expect(makeTask('copy', { length: 5, delay: 1, batch: 1 }).name).toBe('copy/len5-delay1');
    expect(TASK_NAMES).toEqual(['mackey-glass', 'copy', 'weather', 'csv', 'adding', 'delayed-recall']);
  });

  it('rejects an unknown name, listing the valid ones', () => {
    const e = taskError(() => makeTask('psmnist'));
    expect(e.code).toBe('UNKNOWN_TASK');
    expect(e.message).toBe("unknown task 'psmnist'; valid tasks: mackey-glass, copy, weather, csv, adding, delayed-recall");
  });
});

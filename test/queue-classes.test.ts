/**
 * Which worker may take which row (src/queue/classes.ts): a row's class follows from
 * its configuration alone, and a board takes a class only when its Hello limits admit
 * it. No Redis needed.
 */
import { describe, expect, it } from 'vitest';
import { boardRefuses, rowJobId, rowNeeds, sweepId, sweepQueues } from '../src/queue/classes.js';
import { checkQueueUrl, redactUrl } from '../src/queue/connection.js';
import { buildGridTask, gridRows, resolveGrid } from '../src/sweep/grid.js';
import type { Limits } from '../src/link/messages.js';

const grid = resolveGrid({ task: { name: 'mackey-glass', options: { steps: 1000, batch: 2 } }, hidden: 16, weightBits: [6, 16], rounding: ['nearest', 'stochastic'], seeds: [42], methods: ['anpt-chip', 'bptt-ptq'], diagnostics: { samples: 4 } });
const task = buildGridTask(grid.task, 42);
const rows = gridRows(grid);

/** firmware-sim's announcement (src/link/device-server.ts, firmware-sim/board.ts), 256 KiB. */
const SIM: Limits = {
  maxInputs: 64, maxHidden: 1024, maxOutputs: 64, maxBatch: 64, maxChunkSteps: 4096, minBits: 2, maxBits: 16,
  roundingModes: [0, 1, 2], overflowModes: [0, 1], activations: [1, 2, 3], ramBytes: 256 * 1024, maxFrameBytes: 16384, plasticityOnDevice: true, noiseSource: 1,
};

describe('capability classes', () => {
  it('one queue per class; every row of the grid maps to one queue, the same one every time', () => {
    const a = sweepQueues(grid, rows, task, 'any');
    const b = sweepQueues(grid, rows, task, 'any');
    expect([...a.queueOf]).toEqual([...b.queueOf]);
    // 2 weight widths x 2 roundings x (anpt-chip: chunk 20 for the diagnostic | bptt-ptq: 1) + the float queue
    expect(a.queues).toHaveLength(9);
    expect(a.queues.map((q) => q.name)).toContain(`anpt.${sweepId(grid)}.any.w6a16.stochastic.k20`);
    expect(a.queues.map((q) => q.name)).toContain(`anpt.${sweepId(grid)}.float`);
    expect(new Set(rows.map((r) => rowJobId(r.key))).size).toBe(rows.length);
    expect(rowJobId(rows[0].key)).toMatch(/^r[0-9a-f]{64}$/); // no ':' (BullMQ refuses it in ids)
  });

  it('a board takes the classes its limits admit, and says why not the others', () => {
    const chip16 = rows.find((r) => r.method === 'anpt-chip' && r.config.point.weightBits === 16 && r.config.point.rounding === 'stochastic')!;
    const needs = rowNeeds(chip16, task, 'any');
    expect(boardRefuses(SIM, needs, 16384)).toBeUndefined();
    expect(boardRefuses({ ...SIM, maxBits: 12 }, needs, 16384)).toBe('16/16 bits are outside the board\'s 2..12');
    expect(boardRefuses({ ...SIM, roundingModes: [0] }, needs, 16384)).toBe('rounding stochastic is not one the board offers');
    expect(boardRefuses({ ...SIM, maxHidden: 8 }, needs, 16384)).toContain('exceeds the board');
    expect(boardRefuses({ ...SIM, ramBytes: 4096 }, needs, 16384)).toContain('RAM');
    expect(boardRefuses({ ...SIM, maxChunkSteps: 10 }, needs, 16384)).toBe("chunks of 20 steps exceed the board's 10");
    expect(boardRefuses(SIM, { ...needs, runOn: 'emulator' }, 16384)).toContain('--run-on emulator');
    expect(boardRefuses(SIM, { ...needs, runOn: 'board' }, 16384)).toBeUndefined();
  });

  it('queue URLs: redis or rediss with a host; passwords never shown', () => {
    expect(checkQueueUrl('redis://127.0.0.1:6379/0')).toBe('redis://127.0.0.1:6379/0');
    expect(checkQueueUrl('rediss://:pw@host:6380')).toBe('rediss://:pw@host:6380');
    expect(() => checkQueueUrl('http://host')).toThrow("--queue: 'http:' is not redis: or rediss:; give redis://host:6379/0 (rediss:// for TLS)");
    expect(() => checkQueueUrl('redis://host/x')).toThrow("--queue: '/x' is not a database number");
    expect(() => checkQueueUrl('localhost:6379')).toThrow(/is not redis: or rediss:|is not a URL/);
    expect(redactUrl('anpt sweep --queue redis://:s3cret@h:1/0 --out x')).toBe('anpt sweep --queue redis://:***@h:1/0 --out x');
    expect(redactUrl('rediss://user:pw@h')).toBe('rediss://user:***@h');
  });
});

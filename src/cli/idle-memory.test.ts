// The idle trim: when it runs (idle, and grown since the last one), and that
// the real collection gives the young generation back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapSpaceStatistics } from 'node:v8';
import { waitFor } from '../base/index.ts';
import { lastResortCollection, shouldTrim, startIdleMemoryTrimmer } from './idle-memory.ts';

const MiB = 1024 * 1024;

test('when to trim', async (t) => {
  const rows: [string, { idleIntervals: number; committed: number; afterLastTrim: number | undefined }, boolean][] = [
    ['1 idle two intervals, never trimmed: trim', { idleIntervals: 2, committed: 40 * MiB, afterLastTrim: undefined }, true],
    ['2 busy, never trimmed: wait', { idleIntervals: 0, committed: 40 * MiB, afterLastTrim: undefined }, false],
    ['3 idle for one interval only: wait for the tail of the burst', { idleIntervals: 1, committed: 40 * MiB, afterLastTrim: undefined }, false],
    ['4 idle, grown by the threshold since the last trim: trim', { idleIntervals: 5, committed: 48 * MiB, afterLastTrim: 40 * MiB }, true],
    ['5 idle, grown less than the threshold: nothing to gain', { idleIntervals: 5, committed: 47 * MiB, afterLastTrim: 40 * MiB }, false],
    ['6 busy, grown a lot: wait for idle', { idleIntervals: 0, committed: 400 * MiB, afterLastTrim: 40 * MiB }, false],
  ];
  for (const [name, s, want] of rows) {
    await t.test(name, () => assert.equal(shouldTrim({ ...s, regrowthBytes: 8 * MiB }), want));
  }
});

test('one trim per burst of growth, none while busy, none after dispose', async () => {
  let committed = 40 * MiB;
  let utilization = 0.5;
  let trims = 0;
  let checks = 0;
  const trimmer = startIdleMemoryTrimmer({
    checkIntervalMs: 5,
    collect: () => {
      trims++;
      committed = 30 * MiB;
    },
    heapCommitted: () => committed,
    utilization: () => {
      checks++;
      return utilization;
    },
  });
  try {
    await waitFor('a few busy checks', () => checks >= 3, { timeoutMs: 5_000, intervalMs: 5 });
    assert.equal(trims, 0, 'busy: no trim');
    utilization = 0;
    await waitFor('the first idle trim', () => trims === 1, { timeoutMs: 5_000, intervalMs: 5 });
    const after = checks;
    await waitFor('more idle checks', () => checks >= after + 3, { timeoutMs: 5_000, intervalMs: 5 });
    assert.equal(trims, 1, 'not grown since: no second trim');
    committed = 40 * MiB;
    await waitFor('a trim after growth', () => trims === 2, { timeoutMs: 5_000, intervalMs: 5 });
  } finally {
    trimmer.dispose();
  }
  const at = checks;
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(checks, at, 'disposed: no more checks');
});

test('the last-resort collection gives the grown young generation back', () => {
  const newSpace = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
  // Grow the young generation the way start-up does: many objects that survive a few collections.
  let keep: unknown[] = [];
  for (let round = 0; round < 30; round++) keep = Array.from({ length: 50_000 }, (_, i) => ({ i, s: `item-${round}-${i}` }));
  assert.ok(keep.length > 0);
  keep = [];
  const grown = newSpace();
  lastResortCollection()();
  const after = newSpace();
  assert.ok(after < grown / 2, `new space ${grown} → ${after} bytes`);
});

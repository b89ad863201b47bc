// The idle trim: when it runs (idle, a small heap, and grown since the last one), and that
// the real collection gives the young generation back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapSpaceStatistics } from 'node:v8';
import { waitFor } from '../base/index.ts';
import { lastResortCollection, shouldTrim, startIdleMemoryTrimmer } from './idle-memory.ts';

const MiB = 1024 * 1024;

test('when to trim', async (t) => {
  const rows: [string, { idleIntervals: number; committed: number; used: number; afterLastTrim: number | undefined }, boolean][] = [
    ['1 idle two intervals, never trimmed: trim', { idleIntervals: 2, committed: 40 * MiB, used: 30 * MiB, afterLastTrim: undefined }, true],
    ['2 busy, never trimmed: wait', { idleIntervals: 0, committed: 40 * MiB, used: 30 * MiB, afterLastTrim: undefined }, false],
    ['3 idle for one interval only: wait for the tail of the burst', { idleIntervals: 1, committed: 40 * MiB, used: 30 * MiB, afterLastTrim: undefined }, false],
    ['4 idle, grown by the threshold since the last trim: trim', { idleIntervals: 5, committed: 48 * MiB, used: 30 * MiB, afterLastTrim: 40 * MiB }, true],
    ['5 idle, grown less than the threshold: nothing to gain', { idleIntervals: 5, committed: 47 * MiB, used: 30 * MiB, afterLastTrim: 40 * MiB }, false],
    ['6 busy, grown a lot: wait for idle', { idleIntervals: 0, committed: 400 * MiB, used: 30 * MiB, afterLastTrim: 40 * MiB }, false],
    ['7 idle, never trimmed, heap in use above the ceiling: no trim, the pause would be long', { idleIntervals: 2, committed: 1200 * MiB, used: 1000 * MiB, afterLastTrim: undefined }, false],
    ['8 idle, heap in use just at the ceiling: trim', { idleIntervals: 2, committed: 80 * MiB, used: 64 * MiB, afterLastTrim: undefined }, true],
    ['9 idle, grown since the last trim but now above the ceiling: no trim', { idleIntervals: 5, committed: 200 * MiB, used: 65 * MiB, afterLastTrim: 40 * MiB }, false],
  ];
  for (const [name, s, want] of rows) {
    await t.test(name, () => assert.equal(shouldTrim({ ...s, regrowthBytes: 8 * MiB, maxHeapUsedBytes: 64 * MiB }), want));
  }
});

test('one trim per burst of growth, none while busy or with a large heap, none after dispose', async () => {
  let committed = 40 * MiB;
  let inUse = 30 * MiB;
  const used = (): number => inUse;
  let utilization = 0.5;
  let trims = 0;
  let checks = 0;
  const trimmer = startIdleMemoryTrimmer({
    checkIntervalMs: 5,
    collect: () => {
      trims++;
      committed = 30 * MiB;
    },
    heap: () => ({ committed, used: used() }),
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
    // Grown, but the heap in use is now too large for a short pause.
    committed = 400 * MiB;
    inUse = 300 * MiB;
    const large = checks;
    await waitFor('idle checks with a large heap', () => checks >= large + 3, { timeoutMs: 5_000, intervalMs: 5 });
    assert.equal(trims, 2, 'large heap: no trim');
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

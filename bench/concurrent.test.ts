import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forEachConcurrent } from './concurrent.ts';

describe('forEachConcurrent', () => {
  const rows = [
    { name: 'runs every index once with fewer items than workers', count: 3, concurrency: 8 },
    { name: 'keeps at most `concurrency` calls in flight', count: 50, concurrency: 4 },
    { name: 'does nothing for zero items', count: 0, concurrency: 4 },
  ];
  for (const row of rows) {
    it(row.name, async () => {
      const seen: number[] = [];
      let inFlight = 0;
      let maxInFlight = 0;
      await forEachConcurrent(row.count, row.concurrency, async (i) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        seen.push(i);
        inFlight--;
      });
      assert.deepEqual([...seen].sort((a, b) => a - b), Array.from({ length: row.count }, (_, i) => i));
      assert.ok(maxInFlight <= row.concurrency, `max in flight ${maxInFlight}`);
      if (row.count >= row.concurrency) assert.equal(maxInFlight, row.concurrency);
    });
  }

  it('stops taking new items after a failure and rethrows it', async () => {
    const started: number[] = [];
    await assert.rejects(
      forEachConcurrent(100, 2, async (i) => {
        started.push(i);
        await new Promise((resolve) => setImmediate(resolve));
        if (i === 3) throw new Error('boom');
      }),
      /boom/,
    );
    assert.ok(started.length < 10, `started ${started.length} items`);
  });
});

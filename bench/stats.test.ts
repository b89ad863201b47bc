import { test } from 'node:test';
import assert from 'node:assert/strict';
import { percentile, summarize } from './stats.ts';

const oneToHundred = Array.from({ length: 100 }, (_, i) => 100 - i); // unsorted on purpose

const rows: { name: string; samples: number[]; p: number; want: number }[] = [
  { name: 'p50 of 1..100 is the 50th value', samples: oneToHundred, p: 50, want: 50 },
  { name: 'p99 of 1..100 is the 99th value', samples: oneToHundred, p: 99, want: 99 },
  { name: 'p100 is the maximum', samples: oneToHundred, p: 100, want: 100 },
  { name: 'a tiny p is the minimum', samples: oneToHundred, p: 0.1, want: 1 },
  { name: 'p99 of ten samples is the largest (nearest rank, no interpolation)', samples: [1, 2, 3, 4, 5, 6, 7, 8, 9, 1000], p: 99, want: 1000 },
  { name: 'p50 of an even count is the lower middle sample', samples: [4, 1, 3, 2], p: 50, want: 2 },
  { name: 'a single sample is every percentile', samples: [7], p: 99, want: 7 },
];

for (const row of rows) {
  test(`percentile: ${row.name}`, () => {
    assert.equal(percentile(row.samples, row.p), row.want);
  });
}

test('percentile: no samples gives NaN', () => {
  assert.ok(Number.isNaN(percentile([], 50)));
});

test('percentile: p outside (0, 100] is a RangeError', () => {
  assert.throws(() => percentile([1], 0), RangeError);
  assert.throws(() => percentile([1], 101), RangeError);
});

test('summarize: leaves the input unsorted and reports every field', () => {
  const samples = [3, 1, 2];
  assert.deepEqual(summarize(samples), { count: 3, min: 1, p50: 2, p90: 3, p99: 3, max: 3, mean: 2 });
  assert.deepEqual(samples, [3, 1, 2]);
});

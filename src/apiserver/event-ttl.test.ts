import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../apimachinery/index.ts';
import { Cacher, MemoryBackend } from '../storage/index.ts';
import { lastActivity, sweepExpiredEvents } from './event-ttl.ts';

const HOUR = 3_600_000;
const base = Date.parse('2026-01-01T12:00:00Z');
const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

const rows: { name: string; event: Record<string, unknown>; expired: boolean }[] = [
  { name: 'fresh lastTimestamp', event: { lastTimestamp: iso(base - 10_000) }, expired: false },
  { name: 'old lastTimestamp', event: { lastTimestamp: iso(base - 2 * HOUR) }, expired: true },
  { name: 'old first but fresh last seen', event: { firstTimestamp: iso(base - 5 * HOUR), lastTimestamp: iso(base - 60_000) }, expired: false },
  { name: 'series keeps an old event alive', event: { eventTime: iso(base - 3 * HOUR), series: { lastObservedTime: iso(base - 1000) } }, expired: false },
  { name: 'only eventTime, old', event: { eventTime: iso(base - HOUR - 1000) }, expired: true },
  { name: 'no times at all falls back to creation', event: {}, expired: true },
];

test('event TTL: last activity and sweep', async () => {
  const backend = new MemoryBackend();
  await backend.start();
  const cacher = new Cacher<KubeObject>(backend, { decode: (kv) => JSON.parse(kv.value) as KubeObject });
  await cacher.start();
  try {
    for (const [i, row] of rows.entries()) {
      const obj = { apiVersion: 'v1', kind: 'Event', metadata: { name: `e${i}`, namespace: 'default', creationTimestamp: iso(base - 4 * HOUR) }, ...row.event };
      await backend.create(`/registry/core/events/default/e${i}`, JSON.stringify(obj));
    }
    // Something that is not an Event is never touched.
    await backend.create('/registry/core/configmaps/default/c', JSON.stringify({ metadata: { name: 'c', creationTimestamp: iso(base - 9 * HOUR) } }));
    const deleted = await sweepExpiredEvents(backend, cacher, HOUR, base);
    assert.equal(deleted, rows.filter((r) => r.expired).length);
    for (const [i, row] of rows.entries()) {
      const present = cacher.get(`/registry/core/events/default/e${i}`) !== undefined;
      assert.equal(present, !row.expired, row.name);
    }
    assert.ok(cacher.get('/registry/core/configmaps/default/c'));
    assert.equal(lastActivity({ metadata: {} }), 0);
  } finally {
    cacher.stop();
    await backend.close();
  }
});

// The behaviours every Backend must have, as one table run against each
// implementation (memory-backend.test.ts, sqlite-backend.test.ts). Each row
// gets a fresh, started backend.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  CompactedError,
  KeyExistsError,
  KeyNotFoundError,
  RevisionConflictError,
  StoreClosedError,
  type Backend,
  type StoreEvent,
} from './interface.ts';
import type { BackendStats } from './log-backend.ts';

export interface ConformanceBackend extends Backend {
  stats(): BackendStats;
}

interface Row {
  readonly name: string;
  run(b: ConformanceBackend): Promise<void>;
}

const keys = (events: readonly StoreEvent[]): string[] => events.map((e) => `${e.type} ${e.kv.key}@${e.kv.modRevision}`);

const ROWS: readonly Row[] = [
  {
    name: '1 an empty store is at revision 0 and lists nothing',
    async run(b) {
      assert.equal(b.currentRevision(), 0);
      assert.equal(b.compactRevision(), 0);
      assert.deepEqual(await b.list('/registry/'), { revision: 0, kvs: [] });
      assert.equal(await b.get('/registry/pods/a'), undefined);
    },
  },
  {
    name: '2 create stores the value at the next revision with createRevision = modRevision',
    async run(b) {
      const a = await b.create('/registry/pods/a', 'A');
      assert.deepEqual(a, { key: '/registry/pods/a', value: 'A', createRevision: 1, modRevision: 1 });
      const c = await b.create('/registry/pods/c', 'C');
      assert.equal(c.modRevision, 2);
      assert.equal(b.currentRevision(), 2);
      assert.deepEqual(await b.get('/registry/pods/a'), a);
    },
  },
  {
    name: '3 create of a live key fails with KeyExistsError and writes nothing',
    async run(b) {
      await b.create('/registry/pods/a', 'A');
      await assert.rejects(b.create('/registry/pods/a', 'B'), (err) => err instanceof KeyExistsError && err.key === '/registry/pods/a');
      assert.equal(b.currentRevision(), 1);
      assert.equal((await b.get('/registry/pods/a'))?.value, 'A');
    },
  },
  {
    name: '4 list returns the live keys under the prefix in key order at the current revision',
    async run(b) {
      for (const k of ['ns2/b', 'ns1/z', 'ns1/a', 'ns10/a', 'ns1/gone']) await b.create(`/registry/pods/${k}`, k);
      await b.create('/registry/podsx/ns1/a', 'other resource');
      await b.create('/registry/nodes/n1', 'node');
      await b.delete('/registry/pods/ns1/gone');
      const all = await b.list('/registry/pods/');
      assert.equal(all.revision, 8);
      assert.deepEqual(
        all.kvs.map((kv) => kv.key),
        ['/registry/pods/ns1/a', '/registry/pods/ns1/z', '/registry/pods/ns10/a', '/registry/pods/ns2/b'],
      );
      assert.deepEqual(
        (await b.list('/registry/pods/ns1/')).kvs.map((kv) => kv.value),
        ['ns1/a', 'ns1/z'],
      );
      assert.equal((await b.list('')).kvs.length, 6);
      assert.equal((await b.list('/registry/')).kvs[0].key, '/registry/nodes/n1');
    },
  },
  {
    name: '5 update at the current revision replaces the value and keeps createRevision',
    async run(b) {
      const a = await b.create('/registry/pods/a', 'A1');
      await b.create('/registry/pods/b', 'B');
      const a2 = await b.update('/registry/pods/a', 'A2', a.modRevision);
      assert.deepEqual(a2, { key: '/registry/pods/a', value: 'A2', createRevision: 1, modRevision: 3 });
      assert.deepEqual(await b.get('/registry/pods/a'), a2);
    },
  },
  {
    name: '6 update with a stale revision fails with RevisionConflictError naming both revisions',
    async run(b) {
      const a = await b.create('/registry/pods/a', 'A1');
      await b.update('/registry/pods/a', 'A2', a.modRevision);
      await assert.rejects(
        b.update('/registry/pods/a', 'A3', a.modRevision),
        (err) => err instanceof RevisionConflictError && err.expected === 1 && err.actual === 2,
      );
      assert.equal((await b.get('/registry/pods/a'))?.value, 'A2');
      assert.equal(b.currentRevision(), 2);
    },
  },
  {
    name: '7 update or delete of an absent key fails with KeyNotFoundError',
    async run(b) {
      await assert.rejects(b.update('/registry/pods/a', 'A', 0), KeyNotFoundError);
      await assert.rejects(b.delete('/registry/pods/a'), KeyNotFoundError);
      const a = await b.create('/registry/pods/a', 'A');
      await b.delete('/registry/pods/a');
      await assert.rejects(b.update('/registry/pods/a', 'A', a.modRevision), KeyNotFoundError);
      await assert.rejects(b.delete('/registry/pods/a'), KeyNotFoundError);
    },
  },
  {
    name: '8 delete returns a tombstone with the last value at the delete revision and hides the key',
    async run(b) {
      const a = await b.create('/registry/pods/a', 'A');
      const tomb = await b.delete('/registry/pods/a', a.modRevision);
      assert.deepEqual(tomb, { key: '/registry/pods/a', value: 'A', createRevision: 1, modRevision: 2 });
      assert.equal(await b.get('/registry/pods/a'), undefined);
      assert.deepEqual((await b.list('/registry/pods/')).kvs, []);
      assert.equal(b.currentRevision(), 2);
    },
  },
  {
    name: '9 delete with a stale expected revision fails and keeps the key',
    async run(b) {
      const a = await b.create('/registry/pods/a', 'A');
      await b.update('/registry/pods/a', 'A2', a.modRevision);
      await assert.rejects(b.delete('/registry/pods/a', a.modRevision), RevisionConflictError);
      assert.equal((await b.get('/registry/pods/a'))?.value, 'A2');
    },
  },
  {
    name: '10 re-creating a deleted key resets createRevision',
    async run(b) {
      await b.create('/registry/pods/a', 'A');
      await b.delete('/registry/pods/a');
      const again = await b.create('/registry/pods/a', 'A again');
      assert.deepEqual(again, { key: '/registry/pods/a', value: 'A again', createRevision: 3, modRevision: 3 });
    },
  },
  {
    name: '11 eventsSince rebuilds create, update and delete events with prevKv, under the prefix, in order',
    async run(b) {
      const a = await b.create('/registry/pods/a', 'A1'); // 1
      await b.create('/registry/nodes/n', 'N'); // 2
      const a2 = await b.update('/registry/pods/a', 'A2', a.modRevision); // 3
      await b.delete('/registry/pods/a', a2.modRevision); // 4
      await b.create('/registry/pods/a', 'A3'); // 5
      const events = await b.eventsSince('/registry/pods/', 0);
      assert.deepEqual(events, [
        { type: 'create', kv: { key: '/registry/pods/a', value: 'A1', createRevision: 1, modRevision: 1 } },
        {
          type: 'update',
          kv: { key: '/registry/pods/a', value: 'A2', createRevision: 1, modRevision: 3 },
          prevKv: { key: '/registry/pods/a', value: 'A1', createRevision: 1, modRevision: 1 },
        },
        {
          type: 'delete',
          kv: { key: '/registry/pods/a', value: 'A2', createRevision: 1, modRevision: 4 },
          prevKv: { key: '/registry/pods/a', value: 'A2', createRevision: 1, modRevision: 3 },
        },
        { type: 'create', kv: { key: '/registry/pods/a', value: 'A3', createRevision: 5, modRevision: 5 } },
      ]);
      assert.deepEqual(keys(await b.eventsSince('', 3)), ['delete /registry/pods/a@4', 'create /registry/pods/a@5']);
      assert.deepEqual(await b.eventsSince('/registry/pods/', 5), []);
    },
  },
  {
    name: '12 compaction drops superseded history and tombstones but keeps live values and later events',
    async run(b) {
      const a = await b.create('/registry/pods/a', 'A1'); // 1
      await b.create('/registry/pods/gone', 'G'); // 2
      await b.update('/registry/pods/a', 'A2', a.modRevision); // 3
      await b.delete('/registry/pods/gone'); // 4
      await b.create('/registry/pods/c', 'C'); // 5
      await b.update('/registry/pods/c', 'C2', 5); // 6
      assert.equal(await b.compact(5), 5);
      assert.equal(b.compactRevision(), 5);
      await assert.rejects(
        b.eventsSince('/registry/pods/', 4),
        (err) => err instanceof CompactedError && err.requested === 4 && err.compacted === 5,
      );
      // Events after the compact revision are complete, prevKv included.
      assert.deepEqual(await b.eventsSince('/registry/pods/', 5), [
        {
          type: 'update',
          kv: { key: '/registry/pods/c', value: 'C2', createRevision: 5, modRevision: 6 },
          prevKv: { key: '/registry/pods/c', value: 'C', createRevision: 5, modRevision: 5 },
        },
      ]);
      assert.deepEqual(
        (await b.list('/registry/pods/')).kvs,
        [
          { key: '/registry/pods/a', value: 'A2', createRevision: 1, modRevision: 3 },
          { key: '/registry/pods/c', value: 'C2', createRevision: 5, modRevision: 6 },
        ],
      );
      // The compacted tombstone's key can be created again; revisions keep counting.
      assert.equal((await b.create('/registry/pods/gone', 'G2')).modRevision, 7);
      // Live values survive even when they are older than the compact revision.
      assert.equal((await b.update('/registry/pods/a', 'A3', 3)).modRevision, 8);
    },
  },
  {
    name: '13 compaction never passes the current revision and never goes back',
    async run(b) {
      await b.create('/registry/pods/a', 'A');
      await b.create('/registry/pods/b', 'B');
      assert.equal(await b.compact(100), 2);
      assert.equal(await b.compact(1), 2);
      assert.deepEqual(await b.eventsSince('', 2), []);
      await b.create('/registry/pods/c', 'C');
      assert.deepEqual(keys(await b.eventsSince('', 2)), ['create /registry/pods/c@3']);
    },
  },
  {
    name: '14 subscribers see each batch in revision order before the writes resolve',
    async run(b) {
      const seen: string[] = [];
      const sub = b.subscribe((events) => seen.push(...keys(events)));
      const a = b.create('/registry/pods/a', 'A').then((kv) => {
        assert.ok(seen.includes(`create /registry/pods/a@${kv.modRevision}`), 'event published before resolve');
        return kv;
      });
      const c = b.create('/registry/pods/c', 'C');
      const [ka, kc] = await Promise.all([a, c]);
      await b.update('/registry/pods/a', 'A2', ka.modRevision);
      assert.deepEqual(seen, [
        `create /registry/pods/a@${ka.modRevision}`,
        `create /registry/pods/c@${kc.modRevision}`,
        'update /registry/pods/a@3',
      ]);
      sub.dispose();
      await b.delete('/registry/pods/c');
      assert.equal(seen.length, 3, 'no events after dispose');
    },
  },
  {
    name: '14b subscribed events carry the whole prevKv for updates and deletes, also within one batch',
    async run(b) {
      const seen: StoreEvent[] = [];
      b.subscribe((events) => seen.push(...events));
      const a = await b.create('/registry/pods/a', 'A1'); // 1
      const c = await b.create('/registry/pods/c', 'C1'); // 2
      await b.update('/registry/pods/a', 'A2', a.modRevision); // 3
      // One batch: an update, then an unconditional delete of the row it wrote.
      await Promise.all([b.update('/registry/pods/c', 'C2', c.modRevision), b.delete('/registry/pods/c')]); // 4, 5
      await b.delete('/registry/pods/a', 3); // 6
      const kv = (key: string, value: string, createRevision: number, modRevision: number) => ({ key, value, createRevision, modRevision });
      assert.deepEqual(seen, [
        { type: 'create', kv: kv('/registry/pods/a', 'A1', 1, 1) },
        { type: 'create', kv: kv('/registry/pods/c', 'C1', 2, 2) },
        { type: 'update', kv: kv('/registry/pods/a', 'A2', 1, 3), prevKv: kv('/registry/pods/a', 'A1', 1, 1) },
        { type: 'update', kv: kv('/registry/pods/c', 'C2', 2, 4), prevKv: kv('/registry/pods/c', 'C1', 2, 2) },
        { type: 'delete', kv: kv('/registry/pods/c', 'C2', 2, 5), prevKv: kv('/registry/pods/c', 'C2', 2, 4) },
        { type: 'delete', kv: kv('/registry/pods/a', 'A2', 1, 6), prevKv: kv('/registry/pods/a', 'A2', 1, 3) },
      ]);
    },
  },
  {
    name: '15 a failing write in a batch rejects only itself',
    async run(b) {
      await b.create('/registry/pods/a', 'A');
      const results = await Promise.allSettled([
        b.create('/registry/pods/b', 'B'),
        b.create('/registry/pods/a', 'again'),
        b.update('/registry/pods/a', 'A2', 1),
        b.update('/registry/pods/zz', 'nope', 1),
        b.create('/registry/pods/c', 'C'),
      ]);
      assert.deepEqual(
        results.map((r) => (r.status === 'fulfilled' ? r.value.modRevision : (r.reason as Error).name)),
        [2, 'KeyExistsError', 3, 'KeyNotFoundError', 4],
      );
      assert.deepEqual(
        (await b.list('/registry/pods/')).kvs.map((kv) => kv.value),
        ['A2', 'B', 'C'],
      );
    },
  },
  {
    name: '16 writes in one batch see each other: a delete then a create of the same key both succeed',
    async run(b) {
      const a = await b.create('/registry/pods/a', 'A');
      const [tomb, again] = await Promise.all([
        b.delete('/registry/pods/a', a.modRevision),
        b.create('/registry/pods/a', 'A again'),
      ]);
      assert.equal(tomb.modRevision, 2);
      assert.deepEqual(again, { key: '/registry/pods/a', value: 'A again', createRevision: 3, modRevision: 3 });
    },
  },
  {
    name: '17 64 concurrent updates to different keys land in fewer transactions than writes',
    async run(b) {
      const created = await Promise.all(Array.from({ length: 64 }, (_, i) => b.create(`/registry/pods/p${i}`, '0')));
      const before = b.stats();
      const updated = await Promise.all(created.map((kv) => b.update(kv.key, '1', kv.modRevision)));
      const after = b.stats();
      assert.equal(after.writes - before.writes, 64);
      assert.ok(after.commits - before.commits < 64, `commits: ${after.commits - before.commits}`);
      assert.deepEqual(
        updated.map((kv) => kv.modRevision),
        Array.from({ length: 64 }, (_, i) => 65 + i),
      );
    },
  },
  {
    name: '18 two racing updates with the same expected revision: exactly one succeeds',
    async run(b) {
      const a = await b.create('/registry/pods/a', 'A');
      const results = await Promise.allSettled([
        b.update('/registry/pods/a', 'first', a.modRevision),
        b.update('/registry/pods/a', 'second', a.modRevision),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected'],
      );
      const rejected = results[1];
      assert.ok(rejected.status === 'rejected' && rejected.reason instanceof RevisionConflictError);
      assert.equal((await b.get('/registry/pods/a'))?.value, 'first');
    },
  },
  {
    name: '19 a throwing subscriber neither fails the write nor starves other subscribers',
    async run(b) {
      let calls = 0;
      b.subscribe(() => {
        throw new Error('broken subscriber');
      });
      b.subscribe(() => calls++);
      await b.create('/registry/pods/a', 'A');
      assert.equal(calls, 1);
    },
  },
  {
    name: '20 close commits queued writes, then writes and reads reject with StoreClosedError',
    async run(b) {
      const queued = b.create('/registry/pods/a', 'A');
      await b.close();
      assert.equal((await queued).modRevision, 1);
      await assert.rejects(b.create('/registry/pods/b', 'B'), StoreClosedError);
      await assert.rejects(b.update('/registry/pods/a', 'A2', 1), StoreClosedError);
      await assert.rejects(b.delete('/registry/pods/a'), StoreClosedError);
      await assert.rejects(b.get('/registry/pods/a'), StoreClosedError);
      await b.close(); // idempotent
    },
  },
];

/** Registers the conformance table for one backend implementation. */
export function runBackendConformance(name: string, open: () => Promise<ConformanceBackend>): void {
  for (const row of ROWS) {
    test(`${name}: ${row.name}`, async () => {
      const b = await open();
      try {
        await row.run(b);
      } finally {
        await b.close();
      }
    });
  }
}

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Disposable } from '../base/index.ts';
import { Cacher, CacherNotRunningError, CompactedError, type CacheEvent } from './cacher.ts';
import type { Backend, KeyValue, ListResult, StoreEvent } from './interface.ts';
import { MemoryBackend } from './memory-backend.ts';

interface Obj {
  readonly v: string;
  readonly rv: number;
}

const decode = (kv: KeyValue): Obj => ({ v: (JSON.parse(kv.value) as { v: string }).v, rv: kv.modRevision });
const val = (v: string): string => JSON.stringify({ v });

/** Delegates to a real backend and lets a test hold eventsSince/list at chosen points. */
class SpyBackend implements Backend {
  readonly inner: MemoryBackend;
  eventsSinceCalls = 0;
  beforeEventsRead: (() => Promise<void>) | undefined;
  afterEventsRead: (() => Promise<void>) | undefined;
  afterList: (() => Promise<void>) | undefined;

  constructor(inner: MemoryBackend) {
    this.inner = inner;
  }
  start(): Promise<void> {
    return this.inner.start();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  currentRevision(): number {
    return this.inner.currentRevision();
  }
  compactRevision(): number {
    return this.inner.compactRevision();
  }
  get(key: string): Promise<KeyValue | undefined> {
    return this.inner.get(key);
  }
  async list(prefix: string): Promise<ListResult> {
    const result = await this.inner.list(prefix);
    await this.afterList?.();
    return result;
  }
  create(key: string, value: string): Promise<KeyValue> {
    return this.inner.create(key, value);
  }
  update(key: string, value: string, expectedRevision: number): Promise<KeyValue> {
    return this.inner.update(key, value, expectedRevision);
  }
  delete(key: string, expectedRevision?: number): Promise<KeyValue> {
    return this.inner.delete(key, expectedRevision);
  }
  async eventsSince(prefix: string, afterRevision: number): Promise<StoreEvent[]> {
    this.eventsSinceCalls++;
    await this.beforeEventsRead?.();
    const events = await this.inner.eventsSince(prefix, afterRevision);
    await this.afterEventsRead?.();
    return events;
  }
  subscribe(listener: (events: readonly StoreEvent[]) => void): Disposable {
    return this.inner.subscribe(listener);
  }
  compact(revision: number): Promise<number> {
    return this.inner.compact(revision);
  }
}

interface World {
  readonly backend: SpyBackend;
  readonly cacher: Cacher<Obj>;
  /** Creates or updates `key` to value `v`; returns the new revision. */
  put(key: string, v: string): Promise<number>;
  remove(key: string): Promise<number>;
}

async function world(options: { historyLimit?: number; before?: (b: MemoryBackend) => Promise<void> } = {}): Promise<World> {
  const inner = new MemoryBackend();
  await inner.start();
  await options.before?.(inner);
  const backend = new SpyBackend(inner);
  const cacher = new Cacher<Obj>(backend, { decode, historyLimit: options.historyLimit });
  await cacher.start();
  return {
    backend,
    cacher,
    async put(key, v) {
      const current = await inner.get(key);
      const kv = current === undefined ? await inner.create(key, val(v)) : await inner.update(key, val(v), current.modRevision);
      return kv.modRevision;
    },
    async remove(key) {
      return (await inner.delete(key)).modRevision;
    },
  };
}

async function done(w: World): Promise<void> {
  w.cacher.stop();
  await w.backend.close();
}

/** A compact, comparable form of delivered events. */
const show = (events: readonly CacheEvent<Obj>[]): string[] =>
  events.map((e) => `${e.revision} ${e.type} ${e.key}=${e.obj.v}${e.prevObj ? ` (was ${e.prevObj.v})` : ''}`);

function recorder(): { events: CacheEvent<Obj>[]; listener: (events: CacheEvent<Obj>[]) => void } {
  const events: CacheEvent<Obj>[] = [];
  return { events, listener: (batch) => events.push(...batch) };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('cacher 1: start loads every live object at the backend revision', async () => {
  const w = await world({
    before: async (b) => {
      await b.create('/registry/pods/ns/a', val('a'));
      await b.create('/registry/pods/ns/gone', val('gone'));
      await b.delete('/registry/pods/ns/gone');
    },
  });
  try {
    assert.equal(w.cacher.revision(), 3);
    assert.deepEqual(w.cacher.get('/registry/pods/ns/a'), {
      key: '/registry/pods/ns/a',
      obj: { v: 'a', rv: 1 },
      modRevision: 1,
      createRevision: 1,
    });
    assert.equal(w.cacher.get('/registry/pods/ns/gone'), undefined);
    await w.cacher.start(); // a second start is the same start, not a reload
    assert.equal(w.cacher.list('').length, 1);
  } finally {
    await done(w);
  }
});

test('cacher 2: the cache reflects a write as soon as the write resolves', async () => {
  const w = await world();
  try {
    const kv = await w.backend.create('/registry/pods/ns/a', val('a1'));
    assert.equal(w.cacher.get('/registry/pods/ns/a')?.obj.v, 'a1');
    assert.equal(w.cacher.revision(), kv.modRevision);
    const kv2 = await w.backend.update('/registry/pods/ns/a', val('a2'), kv.modRevision);
    assert.deepEqual(w.cacher.get('/registry/pods/ns/a'), {
      key: '/registry/pods/ns/a',
      obj: { v: 'a2', rv: kv2.modRevision },
      modRevision: kv2.modRevision,
      createRevision: kv.modRevision,
    });
    await w.backend.delete('/registry/pods/ns/a');
    assert.equal(w.cacher.get('/registry/pods/ns/a'), undefined);
    assert.deepEqual(w.cacher.list('/registry/pods/'), []);
  } finally {
    await done(w);
  }
});

test('cacher 3: a write committed between subscribe and list during start is not lost', async () => {
  const inner = new MemoryBackend();
  await inner.start();
  const backend = new SpyBackend(inner);
  backend.afterList = async () => {
    backend.afterList = undefined;
    await inner.create('/registry/pods/ns/late', val('late'));
  };
  const cacher = new Cacher<Obj>(backend, { decode });
  await cacher.start();
  try {
    assert.equal(cacher.get('/registry/pods/ns/late')?.obj.v, 'late');
    assert.equal(cacher.revision(), 1);
  } finally {
    cacher.stop();
    await inner.close();
  }
});

test('cacher 4: list returns the objects under a prefix in key order', async () => {
  const w = await world();
  try {
    for (const k of ['pods/ns2/b', 'pods/ns1/z', 'pods/ns1/a', 'pods/ns10/a', 'podsx/ns1/a', 'nodes/n1', 'pods/ns1/m']) {
      await w.put(`/registry/${k}`, k);
    }
    await w.remove('/registry/pods/ns1/m');
    const keysOf = (prefix: string): string[] => w.cacher.list(prefix).map((o) => o.key);
    const rows: [prefix: string, want: string[]][] = [
      ['/registry/pods/', ['/registry/pods/ns1/a', '/registry/pods/ns1/z', '/registry/pods/ns10/a', '/registry/pods/ns2/b']],
      ['/registry/pods/ns1/', ['/registry/pods/ns1/a', '/registry/pods/ns1/z']],
      ['/registry/pods/ns1', ['/registry/pods/ns1/a', '/registry/pods/ns1/z', '/registry/pods/ns10/a']],
      ['/registry/pods', ['/registry/pods/ns1/a', '/registry/pods/ns1/z', '/registry/pods/ns10/a', '/registry/pods/ns2/b', '/registry/podsx/ns1/a']],
      ['/registry/nodes/', ['/registry/nodes/n1']],
      ['/registry/secrets/', []],
      ['', (await w.backend.list('')).kvs.map((kv) => kv.key)],
    ];
    for (const [prefix, want] of rows) assert.deepEqual(keysOf(prefix), want, `prefix ${JSON.stringify(prefix)}`);
    assert.equal(keysOf('').length, 6);
  } finally {
    await done(w);
  }
});

test('cacher 5: watch replays from the ring, then delivers live events, with prevObj and DELETED values', async () => {
  const w = await world();
  try {
    const r1 = await w.put('/registry/pods/ns/a', 'a1');
    await w.put('/registry/pods/ns/a', 'a2');
    await w.put('/registry/nodes/n', 'n1');
    await w.remove('/registry/pods/ns/a');
    const rec = recorder();
    const handle = await w.cacher.watch('/registry/pods/', r1, rec.listener);
    assert.deepEqual(show(rec.events), ['2 MODIFIED /registry/pods/ns/a=a2 (was a1)', '4 DELETED /registry/pods/ns/a=a2 (was a2)']);
    assert.equal(rec.events[1].obj.rv, 4, 'DELETED carries the delete revision');
    assert.equal(w.backend.eventsSinceCalls, 0);
    await w.put('/registry/pods/ns/b', 'b1');
    assert.deepEqual(show(rec.events.slice(2)), ['5 ADDED /registry/pods/ns/b=b1']);
    handle.dispose();
    await w.put('/registry/pods/ns/b', 'b2');
    assert.equal(rec.events.length, 3, 'nothing after dispose');
  } finally {
    await done(w);
  }
});

test('cacher 6: watch from the current revision delivers only live events', async () => {
  const w = await world();
  try {
    await w.put('/registry/pods/ns/a', 'a1');
    const rec = recorder();
    await w.cacher.watch('/registry/pods/', w.cacher.revision(), rec.listener);
    assert.deepEqual(rec.events, []);
    await w.put('/registry/pods/ns/a', 'a2');
    assert.deepEqual(show(rec.events), ['2 MODIFIED /registry/pods/ns/a=a2 (was a1)']);
  } finally {
    await done(w);
  }
});

test('cacher 7: watch filters by prefix (a sibling resource with a longer name is not included)', async () => {
  const w = await world();
  try {
    const rec = recorder();
    await w.cacher.watch('/registry/pods/', 0, rec.listener);
    await w.put('/registry/podsx/ns/a', 'x');
    await w.put('/registry/pods/ns/a', 'a');
    assert.deepEqual(show(rec.events), ['2 ADDED /registry/pods/ns/a=a']);
  } finally {
    await done(w);
  }
});

test('cacher 8: watch replays from the backend when the ring does not reach back far enough', async () => {
  const w = await world({ historyLimit: 3 });
  try {
    for (let i = 1; i <= 6; i++) await w.put('/registry/pods/ns/a', `a${i}`);
    // Ring holds revisions 4..6: from 3 it is enough, from 2 it is not.
    const fromRing = recorder();
    await w.cacher.watch('/registry/pods/', 3, fromRing.listener);
    assert.equal(w.backend.eventsSinceCalls, 0);
    assert.deepEqual(fromRing.events.map((e) => e.revision), [4, 5, 6]);

    const fromBackend = recorder();
    await w.cacher.watch('/registry/pods/', 1, fromBackend.listener);
    assert.equal(w.backend.eventsSinceCalls, 1);
    assert.deepEqual(show(fromBackend.events), [
      '2 MODIFIED /registry/pods/ns/a=a2 (was a1)',
      '3 MODIFIED /registry/pods/ns/a=a3 (was a2)',
      '4 MODIFIED /registry/pods/ns/a=a4 (was a3)',
      '5 MODIFIED /registry/pods/ns/a=a5 (was a4)',
      '6 MODIFIED /registry/pods/ns/a=a6 (was a5)',
    ]);
    await w.put('/registry/pods/ns/a', 'a7');
    assert.deepEqual(fromBackend.events.map((e) => e.revision).slice(5), [7]);
  } finally {
    await done(w);
  }
});

// Writes land while the backend replay is in flight: either before the backend
// read (so the replay overlaps the live events) or after it (so only the live
// stream has them). Both must yield every revision exactly once, in order.
for (const when of ['before the backend read', 'after the backend read'] as const) {
  test(`cacher 9: no gap and no duplicate when writes commit ${when} of a replay`, async () => {
    const w = await world({ historyLimit: 1 });
    try {
      for (let i = 1; i <= 4; i++) await w.put(`/registry/pods/ns/p${i}`, 'v1'); // revisions 1..4
      const gate = deferred();
      const entered = deferred();
      const hold = async (): Promise<void> => {
        entered.resolve();
        await gate.promise;
      };
      if (when === 'before the backend read') w.backend.beforeEventsRead = hold;
      else w.backend.afterEventsRead = hold;

      const rec = recorder();
      const watching = w.cacher.watch('/registry/pods/', 1, rec.listener);
      await entered.promise;
      for (let i = 1; i <= 4; i++) await w.put(`/registry/pods/ns/p${i}`, 'v2'); // revisions 5..8
      await w.put('/registry/nodes/n', 'n'); // 9, other prefix
      assert.equal(rec.events.length, 0, 'nothing delivered before the replay');
      gate.resolve();
      await watching;
      await w.put('/registry/pods/ns/p1', 'v3'); // 10
      assert.deepEqual(
        rec.events.map((e) => e.revision),
        [2, 3, 4, 5, 6, 7, 8, 10],
      );
      assert.equal(w.backend.eventsSinceCalls, 1);
    } finally {
      await done(w);
    }
  });
}

test('cacher 10: watching from before the backend compact revision fails with CompactedError', async () => {
  const w = await world();
  try {
    for (let i = 1; i <= 5; i++) await w.put('/registry/pods/ns/a', `a${i}`);
    await w.backend.compact(3);
    // The ring still holds revision 2, but the answer must match the backend's.
    await assert.rejects(
      w.cacher.watch('/registry/pods/', 2, () => {}),
      (err) => err instanceof CompactedError && err.requested === 2 && err.compacted === 3,
    );
    const rec = recorder();
    await w.cacher.watch('/registry/pods/', 3, rec.listener);
    assert.deepEqual(rec.events.map((e) => e.revision), [4, 5]);
  } finally {
    await done(w);
  }
});

test('cacher 11: a throwing listener does not stop other watchers or the cache', async () => {
  const w = await world();
  try {
    await w.cacher.watch('/registry/pods/', 0, () => {
      throw new Error('broken listener');
    });
    const rec = recorder();
    await w.cacher.watch('/registry/pods/', 0, rec.listener);
    await w.put('/registry/pods/ns/a', 'a1');
    await w.put('/registry/pods/ns/a', 'a2');
    assert.deepEqual(rec.events.map((e) => e.revision), [1, 2]);
    assert.equal(w.cacher.get('/registry/pods/ns/a')?.obj.v, 'a2');
  } finally {
    await done(w);
  }
});

test('cacher 12: after stop, watchers hear nothing and reads fail with CacherNotRunningError', async () => {
  const w = await world();
  try {
    const rec = recorder();
    await w.cacher.watch('/registry/pods/', 0, rec.listener);
    w.cacher.stop();
    await w.put('/registry/pods/ns/a', 'a1');
    assert.deepEqual(rec.events, []);
    assert.throws(() => w.cacher.get('/registry/pods/ns/a'), CacherNotRunningError);
    assert.throws(() => w.cacher.list('/registry/pods/'), CacherNotRunningError);
    await assert.rejects(w.cacher.watch('/registry/pods/', 0, () => {}), CacherNotRunningError);
  } finally {
    await done(w);
  }
});

test('cacher 13: list of 10,000 objects under one resource is in key order next to other resources', async () => {
  const w = await world();
  try {
    const writes: Promise<KeyValue>[] = [];
    for (let i = 0; i < 10_000; i++) {
      const n = (i * 7919) % 10_000; // scrambled insert order
      writes.push(w.backend.create(`/registry/pods/ns${n % 7}/pod-${n}`, val(String(n))));
      if (i % 4 === 0) writes.push(w.backend.create(`/registry/configmaps/ns/cm-${n}`, val('cm')));
    }
    await Promise.all(writes);
    const started = performance.now();
    const pods = w.cacher.list('/registry/pods/');
    const elapsed = performance.now() - started;
    assert.equal(pods.length, 10_000);
    const keys = pods.map((o) => o.key);
    assert.deepEqual(keys, [...keys].sort());
    assert.equal(w.cacher.list('/registry/pods/ns3/').length, (await w.backend.list('/registry/pods/ns3/')).kvs.length);
    // Generous bound: the point is that listing does not rebuild or re-sort the store.
    assert.ok(elapsed < 100, `listing took ${elapsed.toFixed(1)} ms`);
  } finally {
    await done(w);
  }
});

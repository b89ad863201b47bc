// End-to-end tests of the watch protocol (compat spec §6) against a real
// volplane API server, spoken in raw HTTPS so that every byte the server
// sends is visible: when the headers arrive, how events are framed, which
// event types and resourceVersions come in which order.
//
// Each test works in a namespace of its own and watches ConfigMaps there:
// ConfigMaps have no finalizers and no controllers acting on them, so every
// event a test sees was caused by the test itself.

import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { waitFor } from '../src/base/index.ts';
import { findLeaks, startTestCluster, type TestCluster } from '../src/testing/index.ts';
import {
  call,
  createConfigMap,
  createNamespace,
  endpointFromKubeconfig,
  expectStatus,
  listConfigMaps,
  replaceObject,
  rv,
  RawWatch,
  type Endpoint,
  type WatchEvent,
  type WireObject,
} from './raw-client.ts';

const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io';

let cluster: TestCluster;
let ep: Endpoint;
const open = new Set<RawWatch>();

function watch(path: string, query: Record<string, string>, accept?: string): RawWatch {
  const w = new RawWatch(ep, path, query, accept);
  open.add(w);
  return w;
}

const cmPath = (ns: string): string => `/api/v1/namespaces/${ns}/configmaps`;
const names = (events: readonly WatchEvent[]): string[] => events.map((e) => `${e.type} ${e.object.metadata.name}`);

before(async () => {
  cluster = await startTestCluster();
  ep = endpointFromKubeconfig(cluster.kubeconfigPath);
});

afterEach(() => {
  for (const w of open) w.close();
  open.clear();
});

after(async () => {
  const dataDir = cluster?.dataDir;
  await cluster?.close();
  // Only what this suite's cluster could have left: other suites may be running beside it.
  if (dataDir !== undefined) assert.deepEqual((await findLeaks()).filter((l) => l.includes(dataDir)), []);
});

describe('watch protocol', () => {
  test('1 headers are flushed at once on an idle watch', async () => {
    const ns = await createNamespace(ep, 'idle');
    const list = await listConfigMaps(ep, ns);
    const w = watch(cmPath(ns), { resourceVersion: rv(list) });
    // Nothing is written in this namespace, so only an immediate flush can make the response arrive.
    await w.waitForResponse(5_000);
    assert.equal(w.status, 200);
    assert.match(String(w.headers['content-type']), /^application\/json/);
    assert.equal(w.events.length, 0, 'no event is expected on an idle watch');
    assert.equal(w.state, 'open');
  });

  const startRows: { name: string; query: Record<string, string> }[] = [
    { name: '2a resourceVersion unset replays current objects as synthetic ADDED', query: {} },
    { name: '2b resourceVersion "0" replays current objects as synthetic ADDED', query: { resourceVersion: '0' } },
  ];
  for (const row of startRows) {
    test(row.name, async () => {
      const ns = await createNamespace(ep, 'synth');
      const a = await createConfigMap(ep, ns, 'a', { k: '1' });
      const b = await createConfigMap(ep, ns, 'b', { k: '2' });
      const w = watch(cmPath(ns), row.query);
      const initial = await w.waitForEvents(2, 'two synthetic ADDED events');
      assert.deepEqual(names(initial).sort(), ['ADDED a', 'ADDED b']);
      const byName = new Map(initial.map((e) => [e.object.metadata.name, e.object.metadata.resourceVersion]));
      assert.equal(byName.get('a'), rv(a), 'the synthetic ADDED carries the object as stored');
      assert.equal(byName.get('b'), rv(b));

      const c = await createConfigMap(ep, ns, 'c', { k: '3' });
      const all = await w.waitForEvents(3, 'the live ADDED after the synthetic ones');
      assert.deepEqual(names(all.slice(2)), ['ADDED c']);
      assert.equal(all[2].object.metadata.resourceVersion, rv(c));
      assert.deepEqual(w.badLines, []);
    });
  }

  test('2c a specific resourceVersion sends only later events, as newline-delimited JSON', async () => {
    const ns = await createNamespace(ep, 'fromrv');
    const a = await createConfigMap(ep, ns, 'a', { k: '1' });
    await createConfigMap(ep, ns, 'b', { k: '2' });
    const start = rv(await listConfigMaps(ep, ns));
    await createConfigMap(ep, ns, 'c', { k: '3' });
    await replaceObject(ep, `${cmPath(ns)}/a`, { ...a, data: { k: 'changed' } });

    const w = watch(cmPath(ns), { resourceVersion: start });
    const events = await w.waitForEvents(2, 'the two events after the list');
    // Synthetic ADDEDs would have come first, so the first two events settle it.
    assert.deepEqual(names(events), ['ADDED c', 'MODIFIED a'], 'no synthetic ADDED for a and b');
    assert.ok(Number(events[0].object.metadata.resourceVersion) > Number(start));
    // Framing: every event is exactly one line of JSON, each line ends with "\n".
    assert.ok(w.raw.endsWith('\n'), `the stream so far should end with a newline: ${JSON.stringify(w.raw.slice(-40))}`);
    const lines = w.raw.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, w.events.length);
    for (const line of lines) {
      const parsed = JSON.parse(line) as { type?: unknown; object?: unknown };
      assert.equal(typeof parsed.type, 'string');
      assert.equal(typeof parsed.object, 'object');
    }
    assert.deepEqual(w.badLines, []);
  });

  test('3 create, update, delete arrive as ADDED, MODIFIED, DELETED; DELETED has a new resourceVersion', async () => {
    const ns = await createNamespace(ep, 'crud');
    const w = watch(cmPath(ns), { resourceVersion: rv(await listConfigMaps(ep, ns)) });
    await w.waitForResponse();
    const created = await createConfigMap(ep, ns, 'x', { k: '1' });
    const updated = await replaceObject(ep, `${cmPath(ns)}/x`, { ...created, data: { k: '2' } });
    const del = await call(ep, 'DELETE', `${cmPath(ns)}/x`);
    expectStatus(del, 200, 'DELETE configmap x');

    const events = await w.waitForEvents(3, 'ADDED, MODIFIED, DELETED');
    assert.deepEqual(names(events), ['ADDED x', 'MODIFIED x', 'DELETED x']);
    const [added, modified, deleted] = events.map((e) => Number(e.object.metadata.resourceVersion));
    assert.equal(String(added), rv(created));
    assert.equal(String(modified), rv(updated));
    assert.ok(deleted > modified, `DELETED resourceVersion ${deleted} should be newer than the last update's ${modified}`);
    assert.deepEqual(events[2].object.data, { k: '2' }, 'DELETED carries the last state');
    assert.equal(events[2].object.metadata.uid, created.metadata.uid);

    // The next write anywhere gets a revision above the delete's.
    const next = await createConfigMap(ep, ns, 'y', {});
    assert.ok(Number(rv(next)) > deleted);
  });

  test('4 label selector transitions: labelled in → ADDED, labelled out → DELETED', async () => {
    const ns = await createNamespace(ep, 'labels');
    const w = watch(cmPath(ns), { resourceVersion: rv(await listConfigMaps(ep, ns)), labelSelector: 'tier=gold' });
    await w.waitForResponse();
    await createConfigMap(ep, ns, 'm', { k: '1' });
    await patchMerge(`${cmPath(ns)}/m`, { metadata: { labels: { tier: 'gold' } } });
    await patchMerge(`${cmPath(ns)}/m`, { data: { k: '2' } });
    await patchMerge(`${cmPath(ns)}/m`, { metadata: { labels: { tier: 'silver' } } });
    // A change outside the selector and the delete of a non-matching object are invisible.
    await patchMerge(`${cmPath(ns)}/m`, { data: { k: '3' } });
    expectStatus(await call(ep, 'DELETE', `${cmPath(ns)}/m`), 200, 'DELETE m');
    // A matching marker object tells us the stream has caught up with everything above.
    await createConfigMap(ep, ns, 'marker', {}, { tier: 'gold' });

    // Events come in revision order, so once the marker is in, anything wrongly sent for m is in too.
    await waitFor('the marker ADDED', () => w.events.some((e) => e.object.metadata.name === 'marker') || w.state !== 'open');
    assert.deepEqual(names(w.events), ['ADDED m', 'MODIFIED m', 'DELETED m', 'ADDED marker']);
    assert.equal(w.events[0].object.metadata.labels?.tier, 'gold');
    assert.equal(w.events[2].object.metadata.labels?.tier, 'silver', 'DELETED on label-out carries the new state');
  });

  test('5 field selector metadata.name=x shows only x', async () => {
    const ns = await createNamespace(ep, 'fields');
    const x = await createConfigMap(ep, ns, 'x', { k: '1' });
    const y = await createConfigMap(ep, ns, 'y', { k: '1' });
    const w = watch(cmPath(ns), { resourceVersion: '0', fieldSelector: 'metadata.name=x' });
    await w.waitForEvents(1, 'synthetic ADDED x');
    await replaceObject(ep, `${cmPath(ns)}/y`, { ...y, data: { k: '2' } });
    await replaceObject(ep, `${cmPath(ns)}/x`, { ...x, data: { k: '2' } });
    await createConfigMap(ep, ns, 'z', {});
    expectStatus(await call(ep, 'DELETE', `${cmPath(ns)}/x`), 200, 'DELETE x');
    // Every other write came before the delete of x, so once DELETED x is in, the sequence is complete.
    await waitFor('DELETED x', () => w.events.some((e) => e.type === 'DELETED') || w.state !== 'open');
    assert.deepEqual(names(w.events), ['ADDED x', 'MODIFIED x', 'DELETED x']);
  });

  test('6 watch-list: ADDED for current objects, then BOOKMARK k8s.io/initial-events-end, then live', async () => {
    const ns = await createNamespace(ep, 'watchlist');
    const a = await createConfigMap(ep, ns, 'a', {});
    const b = await createConfigMap(ep, ns, 'b', {});
    const w = watch(cmPath(ns), {
      allowWatchBookmarks: 'true',
      sendInitialEvents: 'true',
      resourceVersionMatch: 'NotOlderThan',
    });
    const initial = await w.waitForEvents(3, 'two ADDED and the initial-events-end bookmark');
    assert.deepEqual(
      initial.slice(0, 2).map((e) => `${e.type} ${e.object.metadata.name}`).sort(),
      ['ADDED a', 'ADDED b'],
    );
    const bm = initial[2];
    assert.equal(bm.type, 'BOOKMARK');
    assert.equal(bm.object.metadata.annotations?.['k8s.io/initial-events-end'], 'true');
    assert.equal(bm.object.kind, 'ConfigMap');
    assert.ok(
      Number(bm.object.metadata.resourceVersion) >= Math.max(Number(rv(a)), Number(rv(b))),
      `bookmark RV ${bm.object.metadata.resourceVersion} must cover the state it ends`,
    );
    await createConfigMap(ep, ns, 'c', {});
    const live = await waitFor('a live ADDED c after the bookmark', () =>
      w.events.find((e) => e.type === 'ADDED' && e.object.metadata.name === 'c'),
    );
    assert.ok(Number(live.object.metadata.resourceVersion) > Number(bm.object.metadata.resourceVersion));
    const nonBookmarks = w.events.filter((e) => e.type !== 'BOOKMARK');
    assert.deepEqual(names(nonBookmarks).slice(2), ['ADDED c'], 'nothing is replayed twice');
  });

  test('7 sendInitialEvents=true without resourceVersionMatch is refused with a 4xx Status', async () => {
    const ns = await createNamespace(ep, 'wlbad');
    const res = await call(ep, 'GET', `${cmPath(ns)}?watch=true&sendInitialEvents=true`);
    assert.ok(res.status >= 400 && res.status < 500, `expected 4xx, got ${res.status}: ${res.text}`);
    const status = res.json() as { kind?: string; status?: string; code?: number; message?: string };
    assert.equal(status.kind, 'Status');
    assert.equal(status.status, 'Failure');
    assert.equal(status.code, res.status);
    assert.match(String(status.message), /sendInitialEvents/);
  });

  test('8 timeoutSeconds=1 ends the stream cleanly', async () => {
    const ns = await createNamespace(ep, 'timeout');
    const started = Date.now();
    const w = watch(cmPath(ns), { resourceVersion: rv(await listConfigMaps(ep, ns)), timeoutSeconds: '1' });
    await w.waitForEnd(5_000);
    const elapsed = Date.now() - started;
    assert.equal(w.state, 'ended', `the stream should end with a clean EOF, got ${w.state} ${w.error?.message ?? ''}`);
    assert.equal(w.status, 200);
    assert.ok(elapsed >= 900, `ended after ${elapsed} ms, before the 1 s timeout`);
    assert.ok(elapsed < 4_000, `ended after ${elapsed} ms`);
    assert.deepEqual(w.badLines, []);
  });

  test('9 Table watch: one-row Tables, column definitions only in the first event', async () => {
    const ns = await createNamespace(ep, 'table');
    const w = watch(cmPath(ns), { resourceVersion: rv(await listConfigMaps(ep, ns)) }, TABLE_ACCEPT);
    await w.waitForResponse();
    const a = await createConfigMap(ep, ns, 'a', { k: '1' });
    await createConfigMap(ep, ns, 'b', { k: '1' });
    await replaceObject(ep, `${cmPath(ns)}/a`, { ...a, data: { k: '2', l: '3' } });
    const events = await w.waitForEvents(3, 'three Table events');
    assert.deepEqual(events.map((e) => e.type), ['ADDED', 'ADDED', 'MODIFIED']);
    events.forEach((e, i) => {
      const table = e.object as unknown as TableLike;
      assert.equal(table.kind, 'Table', `event ${i} should carry a Table`);
      assert.equal(table.apiVersion, 'meta.k8s.io/v1');
      assert.equal(table.rows?.length, 1, `event ${i} should have one row`);
      const row = table.rows[0];
      assert.ok(Array.isArray(row.cells));
      assert.equal(row.cells[0], ['a', 'b', 'a'][i], 'the first cell is the NAME');
      assert.equal(row.object?.metadata?.name, ['a', 'b', 'a'][i], 'rows carry the object metadata');
      assert.equal(table.metadata?.resourceVersion, row.object?.metadata?.resourceVersion);
      if (i === 0) {
        assert.ok(Array.isArray(table.columnDefinitions) && table.columnDefinitions.length > 0, 'first event has columns');
        assert.equal(table.columnDefinitions[0].name, 'Name');
        assert.equal(row.cells.length, table.columnDefinitions.length);
      } else {
        assert.ok(
          table.columnDefinitions === null || table.columnDefinitions === undefined,
          `event ${i} should not repeat column definitions`,
        );
      }
    });
    assert.equal((events[2].object as unknown as TableLike).rows[0].cells[1], 2, 'DATA counts the keys');
  });

  test('10 a list resourceVersion then a watch from it misses nothing written in between', async () => {
    const ns = await createNamespace(ep, 'listwatch');
    const total = 20;
    let listRv = '';
    let listed: string[] = [];
    for (let i = 0; i < total; i++) {
      await createConfigMap(ep, ns, `cm-${String(i).padStart(2, '0')}`, { i: String(i) });
      if (i === 7) {
        const list = await listConfigMaps(ep, ns);
        listRv = rv(list);
        listed = list.items.map((o) => o.metadata.name ?? '');
      }
    }
    const w = watch(cmPath(ns), { resourceVersion: listRv });
    const after = await w.waitForEvents(total - listed.length, 'every object created after the list');
    const watched = after.map((e) => {
      assert.equal(e.type, 'ADDED');
      return e.object.metadata.name ?? '';
    });
    assert.equal(listed.length, 8);
    assert.deepEqual([...listed, ...watched].sort(), Array.from({ length: total }, (_, i) => `cm-${String(i).padStart(2, '0')}`));
  });

  test('11 a no-op update bumps no resourceVersion and emits no event', async () => {
    const ns = await createNamespace(ep, 'noop');
    const cm = await createConfigMap(ep, ns, 'same', { k: 'v' }, { a: 'b' });
    const w = watch(cmPath(ns), { resourceVersion: rv(cm) });
    await w.waitForResponse();
    const put = await replaceObject(ep, `${cmPath(ns)}/same`, cm);
    assert.equal(rv(put), rv(cm), 'PUT of an unchanged object keeps its resourceVersion');
    const patched = await patchMerge(`${cmPath(ns)}/same`, { data: { k: 'v' } });
    assert.equal(rv(patched), rv(cm), 'a patch that changes nothing keeps the resourceVersion');
    const got = await call(ep, 'GET', `${cmPath(ns)}/same`);
    expectStatus(got, 200, 'GET same');
    assert.equal(rv(got.json() as WireObject), rv(cm));
    // A real change afterwards must be the first event.
    const changed = await patchMerge(`${cmPath(ns)}/same`, { data: { k: 'w' } });
    assert.ok(Number(rv(changed)) > Number(rv(cm)));
    // Had a no-op emitted anything, it would be the first event.
    const [first] = await w.waitForEvents(1, 'the MODIFIED of the real change');
    assert.deepEqual(names([first]), ['MODIFIED same']);
    assert.equal(w.events[0].object.metadata.resourceVersion, rv(changed));
  });

  test('12 ten concurrent watchers all receive the same 100 events in order', async () => {
    const ns = await createNamespace(ep, 'fanout');
    const start = rv(await listConfigMaps(ep, ns));
    const watchers = Array.from({ length: 10 }, () => watch(cmPath(ns), { resourceVersion: start }));
    await Promise.all(watchers.map((w) => w.waitForResponse()));
    const written: string[] = [];
    let cm = await createConfigMap(ep, ns, 'counter', { n: '0' });
    written.push(`ADDED counter ${rv(cm)}`);
    for (let i = 1; i < 60; i++) {
      cm = await replaceObject(ep, `${cmPath(ns)}/counter`, { ...cm, data: { n: String(i) } });
      written.push(`MODIFIED counter ${rv(cm)}`);
    }
    for (let i = 0; i < 40; i++) {
      const o = await createConfigMap(ep, ns, `o-${i}`, {});
      written.push(`ADDED o-${i} ${rv(o)}`);
    }
    assert.equal(written.length, 100);
    for (const [i, w] of watchers.entries()) {
      await w.waitForEvents(100, `watcher ${i} to receive 100 events`, 20_000);
    }
    for (const [i, w] of watchers.entries()) {
      const seen = w.events.slice(0, 100).map((e) => `${e.type} ${e.object.metadata.name} ${e.object.metadata.resourceVersion}`);
      assert.deepEqual(seen, written, `watcher ${i} saw a different sequence`);
    }
  });
});

async function patchMerge(path: string, body: unknown): Promise<WireObject> {
  const res = await call(ep, 'PATCH', path, body, { 'Content-Type': 'application/merge-patch+json' });
  expectStatus(res, 200, `merge PATCH ${path}`);
  return res.json() as WireObject;
}

interface TableLike {
  kind?: string;
  apiVersion?: string;
  metadata?: { resourceVersion?: string };
  columnDefinitions: { name: string }[] | null | undefined;
  rows: { cells: unknown[]; object?: { metadata?: { name?: string; resourceVersion?: string } } }[];
}

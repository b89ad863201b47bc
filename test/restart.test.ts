// Durability across an API server restart: the same data directory, the
// same port, a new process state. What must survive is everything a client
// may have remembered: objects with their uid and resourceVersion, the
// revision counter (new writes are newer than anything seen before), and the
// event history a watcher resumes from (compat §6.3). Clients that remembered
// a revision the server no longer has must get a 410 and relist.
//
// Forcing "the history is gone": the server compacts on a timer with minutes
// of retention and the harness has no knob for it, so `compactStore()` opens
// the cluster's SQLite file with a second connection and compacts it; the
// server reads the new compact revision when it restarts. If the harness grows
// a compaction hook, use it there instead.

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { CoreV1Api, KubeConfig, ListWatch, makeInformer, Watch, type V1ConfigMap } from '@kubernetes/client-node';
import { waitFor } from '../src/base/index.ts';
import { SqliteBackend } from '../src/storage/index.ts';
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

let cluster: TestCluster;
let ep: Endpoint;
const open = new Set<RawWatch>();

function watch(path: string, query: Record<string, string>): RawWatch {
  const w = new RawWatch(ep, path, query);
  open.add(w);
  return w;
}

const cmPath = (ns: string): string => `/api/v1/namespaces/${ns}/configmaps`;
const describeEvents = (events: readonly WatchEvent[]): string[] =>
  events.map((e) => `${e.type} ${e.object.metadata.name} ${e.object.metadata.resourceVersion}`);

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

async function get(path: string): Promise<WireObject> {
  const res = await call(ep, 'GET', path);
  expectStatus(res, 200, `GET ${path}`);
  return res.json() as WireObject;
}

async function post(path: string, body: WireObject): Promise<WireObject> {
  const res = await call(ep, 'POST', path, body);
  expectStatus(res, 201, `POST ${path}`);
  return res.json() as WireObject;
}

async function del(path: string): Promise<WireObject> {
  const res = await call(ep, 'DELETE', path);
  expectStatus(res, 200, `DELETE ${path}`);
  return res.json() as WireObject;
}

/** The SQLite database under the cluster's data directory. */
function findDatabase(dir: string): string {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (/\.(db|sqlite|sqlite3)$/.test(entry.name)) found.push(p);
    }
  };
  walk(dir);
  assert.equal(found.length, 1, `expected one SQLite database under ${dir}, found ${JSON.stringify(found)}`);
  return found[0];
}

/** Compacts the store's whole history through a second connection; effective after a restart. */
async function compactStore(): Promise<number> {
  const backend = new SqliteBackend({ path: findDatabase(cluster.dataDir) });
  await backend.start();
  try {
    return await backend.compact(backend.currentRevision());
  } finally {
    await backend.close();
  }
}

describe('restart durability', () => {
  test('1 objects of every kind keep uid and resourceVersion; new writes are newer', async () => {
    const ns = await createNamespace(ep, 'durable');
    const paths = [`/api/v1/namespaces/${ns}`];
    await createConfigMap(ep, ns, 'cm', { k: 'v' }, { app: 'x' });
    paths.push(`${cmPath(ns)}/cm`);
    await post('/apis/storage.k8s.io/v1/storageclasses', {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: `durable-sc-${ns}` },
      provisioner: 'example.com/nfs',
      parameters: { archiveOnDelete: 'true' },
    });
    paths.push(`/apis/storage.k8s.io/v1/storageclasses/durable-sc-${ns}`);
    await post('/api/v1/persistentvolumes', {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `durable-pv-${ns}`, labels: { app: 'nfs' } },
      spec: {
        capacity: { storage: '5Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        storageClassName: 'durable-none',
        nfs: { path: '/mnt/nfs_share', server: '192.168.3.103' },
      },
    });
    paths.push(`/api/v1/persistentvolumes/durable-pv-${ns}`);
    await post(`/api/v1/namespaces/${ns}/persistentvolumeclaims`, {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'claim' },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'durable-other' },
    });
    paths.push(`/api/v1/namespaces/${ns}/persistentvolumeclaims/claim`);
    // An updated object too: its resourceVersion is no longer its create revision.
    const cm = await get(`${cmPath(ns)}/cm`);
    await replaceObject(ep, `${cmPath(ns)}/cm`, { ...cm, data: { k: 'v2' } });

    const beforeRestart = await Promise.all(paths.map(get));
    const listRvBefore = Number(rv(await listConfigMaps(ep, ns)));
    const maxRv = Math.max(...beforeRestart.map((o) => Number(rv(o))));

    await cluster.restart();

    const afterRestart = await Promise.all(paths.map(get));
    for (const [i, obj] of afterRestart.entries()) {
      const was = beforeRestart[i];
      assert.equal(obj.metadata.uid, was.metadata.uid, `${paths[i]}: uid`);
      assert.equal(obj.metadata.resourceVersion, was.metadata.resourceVersion, `${paths[i]}: resourceVersion`);
      assert.deepEqual(obj, was, `${paths[i]}: the whole object survives unchanged`);
    }
    assert.ok(Number(rv(await listConfigMaps(ep, ns))) >= listRvBefore, 'the list revision does not go back');

    const fresh = await createConfigMap(ep, ns, 'after', {});
    assert.ok(Number(rv(fresh)) > maxRv, `new write RV ${rv(fresh)} must be above every RV before the restart (${maxRv})`);
    const again = await replaceObject(ep, `${cmPath(ns)}/cm`, { ...afterRestart[1], data: { k: 'v3' } });
    assert.ok(Number(rv(again)) > Number(rv(fresh)));
  });

  test('2 a watcher resumes from its last resourceVersion and gets exactly the later events', async () => {
    const ns = await createNamespace(ep, 'resume');
    const w1 = watch(cmPath(ns), { resourceVersion: rv(await listConfigMaps(ep, ns)) });
    await w1.waitForResponse();
    const a1 = await createConfigMap(ep, ns, 'a1', { n: '1' });
    await createConfigMap(ep, ns, 'a2', { n: '1' });
    const seen = await w1.waitForEvents(2, 'the first two events');
    const lastSeen = rv(seen[1].object);

    // Written after the watcher's last event, before the restart.
    const b1 = await createConfigMap(ep, ns, 'b1', { n: '1' });
    const a1v2 = await replaceObject(ep, `${cmPath(ns)}/a1`, { ...a1, data: { n: '2' } });
    await del(`${cmPath(ns)}/a2`);
    await w1.waitForEvents(5, 'the live watcher to see the pre-restart writes');

    await cluster.restart();
    await w1.waitForEnd(10_000);
    assert.notEqual(w1.state, 'open', 'the server closes open watches when it stops');

    // Written after the restart.
    const c1 = await createConfigMap(ep, ns, 'c1', { n: '1' });
    const b1v2 = await replaceObject(ep, `${cmPath(ns)}/b1`, { ...b1, data: { n: '2' } });

    const w2 = watch(cmPath(ns), { resourceVersion: lastSeen });
    const events = await w2.waitForEvents(5, 'the events after the last seen RV');
    const deleteRv = Number(events[2]?.object.metadata.resourceVersion);
    assert.deepEqual(describeEvents(events), [
      `ADDED b1 ${rv(b1)}`,
      `MODIFIED a1 ${rv(a1v2)}`,
      `DELETED a2 ${events[2]?.object.metadata.resourceVersion}`,
      `ADDED c1 ${rv(c1)}`,
      `MODIFIED b1 ${rv(b1v2)}`,
    ]);
    assert.ok(deleteRv > Number(rv(a1v2)) && deleteRv < Number(rv(c1)), 'the DELETED sits between the writes around it');
    assert.ok(Number(rv(c1)) > Number(rv(b1)));
    // What the first watcher saw before the restart is the same history the second one replays.
    assert.deepEqual(describeEvents(w1.events.slice(2, 5)), describeEvents(events.slice(0, 3)));
  });

  test('3 a watch from resourceVersion "1" replays everything or ends with ERROR 410', async () => {
    const ns = await createNamespace(ep, 'fromone');
    const written: string[] = [];
    for (let i = 0; i < 30; i++) {
      const cm = await createConfigMap(ep, ns, `cm-${String(i).padStart(2, '0')}`, {});
      written.push(`ADDED ${cm.metadata.name} ${rv(cm)}`);
    }
    const w = watch(cmPath(ns), { resourceVersion: '1' });
    await waitFor('the replay or the ERROR', () => w.events.length >= 30 || w.events[0]?.type === 'ERROR' || (w.state !== 'open' && w.state !== 'connecting'));
    if (w.events[0]?.type === 'ERROR') {
      assertExpired(w);
      await w.waitForEnd(5_000);
      assert.equal(w.state, 'ended', 'after ERROR 410 the server ends the stream');
      assert.equal(w.events.length, 1, 'nothing follows the ERROR');
    } else {
      // The server still has the history from revision 1: all of it, in order.
      assert.deepEqual(describeEvents(w.events.slice(0, 30)), written);
    }
  });

  test('4 a client-node informer survives a server restart', async () => {
    const ns = await createNamespace(ep, 'informer');
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    const informer = makeInformer<V1ConfigMap>(kc, cmPath(ns), () => core.listNamespacedConfigMap({ namespace: ns }));
    const seen: string[] = [];
    informer.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
    informer.on('update', (o) => seen.push(`update ${o.metadata?.name} ${o.data?.n ?? ''}`));
    informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    const restarter = keepInformerRunning(informer);
    try {
      await informer.start();
      await createConfigMap(ep, ns, 'a', { n: '1' });
      await waitFor('add a', () => seen.includes('add a'));

      await cluster.restart();

      await createConfigMap(ep, ns, 'b', { n: '1' });
      await waitFor('add b after the restart', () => seen.includes('add b'), { timeoutMs: 20_000 });
      const a = await get(`${cmPath(ns)}/a`);
      await replaceObject(ep, `${cmPath(ns)}/a`, { ...a, data: { n: '2' } });
      await waitFor('update a after the restart', () => seen.includes('update a 2'), { timeoutMs: 10_000 });
      assert.deepEqual(informer.list().map((o) => o.metadata?.name).sort(), ['a', 'b']);
      assert.equal(seen.filter((s) => s === 'add a').length, 1, `a was not re-added: ${seen.join(', ')}`);
    } finally {
      restarter.dispose();
      await informer.stop();
    }
  });

  test('5 after compaction: ERROR 410 then EOF, and an informer with an old RV relists', async () => {
    const ns = await createNamespace(ep, 'compacted');
    const kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    // makeInformer builds exactly this; the ListWatch type also exposes latestResourceVersion().
    const informer = new ListWatch<V1ConfigMap>(cmPath(ns), new Watch(kc), () => core.listNamespacedConfigMap({ namespace: ns }), false);
    const seen: string[] = [];
    informer.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
    informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    const restarter = keepInformerRunning(informer);
    try {
      await informer.start();
      await createConfigMap(ep, ns, 'p', {});
      await createConfigMap(ep, ns, 'q', {});
      await waitFor('add p and q', () => seen.includes('add p') && seen.includes('add q'));
      const remembered = informer.latestResourceVersion();
      restarter.pause();
      await informer.stop();

      // Changes the informer does not see, then history compacted past its RV.
      await del(`${cmPath(ns)}/q`);
      await createConfigMap(ep, ns, 'r', {});
      const other = await createNamespace(ep, 'compacted-other');
      for (let i = 0; i < 5; i++) await createConfigMap(ep, other, `x${i}`, {});
      const compactedAt = await compactStore();
      assert.ok(compactedAt > Number(remembered), `compacted to ${compactedAt}, past the informer's ${remembered}`);
      await cluster.restart();

      for (const from of [remembered, '1']) {
        const w = watch(cmPath(ns), { resourceVersion: from });
        await w.waitForEvents(1, `the ERROR for resourceVersion ${from}`);
        assertExpired(w);
        await w.waitForEnd(5_000);
        assert.equal(w.state, 'ended', `after ERROR 410 the server ends the stream (from ${from})`);
        assert.equal(w.events.length, 1, 'nothing follows the ERROR');
      }
      // client-node's own Watch sees the same: the ERROR event, then a clean end (done(null)).
      const phases: string[] = [];
      const doneWith = await new Promise<unknown>((resolve) => {
        new Watch(kc)
          .watch(cmPath(ns), { resourceVersion: remembered }, (phase, obj: { code?: number }) => phases.push(`${phase} ${obj.code}`), resolve)
          .catch(resolve);
      });
      assert.deepEqual(phases, ['ERROR 410']);
      assert.equal(doneWith, null, `Watch should end cleanly after the ERROR, got ${String(doneWith)}`);

      // A watch from the compact revision itself, or unset, still works.
      const ok = watch(cmPath(ns), {});
      const initial = await ok.waitForEvents(2, 'synthetic ADDED p and r');
      assert.deepEqual(initial.map((e) => `${e.type} ${e.object.metadata.name}`).sort(), ['ADDED p', 'ADDED r']);

      seen.length = 0;
      restarter.resume();
      await informer.start();
      await waitFor('the informer relists: delete q, add r', () => seen.includes('delete q') && seen.includes('add r'), { timeoutMs: 15_000 });
      assert.deepEqual(informer.list().map((o) => o.metadata?.name).sort(), ['p', 'r']);
      await createConfigMap(ep, ns, 's', {});
      await waitFor('the informer watches again after the relist', () => seen.includes('add s'));
    } finally {
      restarter.dispose();
      await informer.stop();
    }
  });
});

function assertExpired(w: RawWatch): void {
  const ev = w.events[0];
  assert.equal(ev?.type, 'ERROR', `expected an ERROR event, got ${JSON.stringify(ev)}`);
  const status = ev.object as unknown as { kind?: string; status?: string; code?: number; reason?: string; message?: string };
  assert.equal(status.kind, 'Status');
  assert.equal(status.status, 'Failure');
  assert.equal(status.code, 410);
  assert.equal(status.reason, 'Expired');
  assert.match(String(status.message), /^too old resource version: \d+ \(\d+\)$/);
}

/**
 * client-node's informer stops for good on a connection error (the server
 * going away mid-restart is one); its documented remedy is to start it again
 * from the error callback. It keeps its last resourceVersion, so a restart
 * resumes the watch instead of relisting.
 */
function keepInformerRunning(informer: { on(verb: 'error', cb: (err?: unknown) => void): void; start(): Promise<void> }): {
  /** Stop restarting (before informer.stop(), whose abort is reported as an error too). */
  pause(): void;
  resume(): void;
  dispose(): void;
} {
  let disposed = false;
  let paused = false;
  let timer: NodeJS.Timeout | undefined;
  informer.on('error', () => {
    if (disposed || paused) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (disposed || paused) return;
      // A failed start reports through the error callback again, which schedules the next try.
      informer.start().catch(() => undefined);
    }, 200);
  });
  return {
    pause: () => {
      paused = true;
      clearTimeout(timer);
    },
    resume: () => {
      paused = false;
    },
    dispose: () => {
      disposed = true;
      clearTimeout(timer);
    },
  };
}

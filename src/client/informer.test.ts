// The informer against a real API server (startTestCluster): events, indexes,
// late handlers, a server restart, and a relist after the history it
// remembered was compacted away. One scripted-client row covers what a real
// server cannot be made to do on demand (an event older than the cache).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeList, KubeObject } from '../apimachinery/index.ts';
import { silentLogger, waitFor } from '../base/index.ts';
import { SqliteBackend } from '../storage/index.ts';
import { startTestCluster, type TestCluster } from '../testing/index.ts';
import { Informer } from './informer.ts';
import { resourcePath, resources } from './paths.ts';
import { RestClient, type WatchEvent } from './rest.ts';

let cluster: TestCluster;
let client: RestClient;
const running = new Set<AbortController>();

before(async () => {
  cluster = await startTestCluster();
  client = RestClient.fromKubeconfig(cluster.kubeconfigPath);
});

after(async () => {
  for (const ac of running) ac.abort();
  client?.close();
  await cluster?.close();
});

let nsCounter = 0;
async function namespace(prefix: string): Promise<string> {
  const name = `${prefix}-${++nsCounter}`;
  await client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return name;
}

const cms = (ns: string, name?: string): string => resourcePath(resources.configMaps, ns, name);

function configMap(ns: string, name: string, data: Record<string, string>, labels?: Record<string, string>): Promise<KubeObject> {
  return client.create(cms(ns), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns, labels }, data });
}

async function updateData(ns: string, name: string, data: Record<string, string>, labels?: Record<string, string>): Promise<KubeObject> {
  const cur = await client.get(cms(ns, name));
  return client.update(cms(ns, name), { ...cur, data, metadata: { ...cur.metadata, labels: labels ?? cur.metadata.labels } });
}

/** Starts an informer on configmaps of `ns` that logs what its handlers see. */
function startInformer(ns: string): { informer: Informer; seen: string[]; ac: AbortController; done: Promise<void> } {
  const informer = new Informer({ client, resource: resources.configMaps, namespace: ns, logger: silentLogger() });
  const seen: string[] = [];
  informer.addEventHandler({
    onAdd: (o) => seen.push(`add ${o.metadata.name}`),
    onUpdate: (o, n) => seen.push(`update ${n.metadata.name} ${JSON.stringify(o.data)}->${JSON.stringify(n.data)}`),
    onDelete: (o) => seen.push(`delete ${o.metadata.name}`),
  });
  const ac = new AbortController();
  running.add(ac);
  return { informer, seen, ac, done: informer.run(ac.signal) };
}

describe('Informer against the API server', () => {
  test('1 add, update and delete reach the handlers; a no-op write does not', async () => {
    const ns = await namespace('events');
    await configMap(ns, 'before', { n: '0' });
    const { informer, seen, ac, done } = startInformer(ns);
    assert.equal(informer.state, 'listing');
    await informer.waitForSync();
    assert.deepEqual(seen, ['add before']);
    assert.equal(informer.get(`${ns}/before`)?.kind, 'ConfigMap', 'list items carry their kind');

    await configMap(ns, 'a', { n: '1' });
    await updateData(ns, 'a', { n: '2' });
    await updateData(ns, 'a', { n: '2' }); // no change: no new resourceVersion, no event
    await client.delete(cms(ns, 'a'));
    await waitFor('delete a', () => seen.includes('delete a'));
    assert.deepEqual(seen, ['add before', 'add a', 'update a {"n":"1"}->{"n":"2"}', 'delete a']);
    assert.equal(informer.get(`${ns}/a`), undefined);
    assert.deepEqual(informer.list().map((o) => o.metadata.name), ['before']);
    assert.equal(informer.state, 'watching');
    ac.abort();
    await done;
    assert.equal(informer.state, 'stopped');
  });

  test('2 a handler added after sync gets synthetic adds; a disposed one gets nothing', async () => {
    const ns = await namespace('late');
    await configMap(ns, 'x', {});
    await configMap(ns, 'y', {});
    const { informer, ac, done } = startInformer(ns);
    await informer.waitForSync();
    const late: string[] = [];
    const handle = informer.addEventHandler({ onAdd: (o) => late.push(o.metadata.name!) });
    assert.deepEqual(late.sort(), ['x', 'y']);
    handle.dispose();
    await configMap(ns, 'z', {});
    await waitFor('z cached', () => informer.get(`${ns}/z`));
    assert.deepEqual(late.sort(), ['x', 'y']);
    ac.abort();
    await done;
  });

  test('3 an index follows adds, updates and deletes', async () => {
    const ns = await namespace('index');
    await configMap(ns, 'a', {}, { app: 'web' });
    const { informer, ac, done } = startInformer(ns);
    informer.addIndexer('app', (o) => (o.metadata.labels?.app !== undefined ? [o.metadata.labels.app] : []));
    await informer.waitForSync();
    await configMap(ns, 'b', {}, { app: 'web' });
    await configMap(ns, 'c', {}, { app: 'db' });
    await waitFor('c cached', () => informer.get(`${ns}/c`));
    const names = (v: string): string[] => informer.byIndex('app', v).map((o) => o.metadata.name!).sort();
    assert.deepEqual(names('web'), ['a', 'b']);
    assert.deepEqual(names('db'), ['c']);
    await updateData(ns, 'b', { moved: 'yes' }, { app: 'db' });
    await client.delete(cms(ns, 'a'));
    await waitFor('a gone, b moved', () => informer.get(`${ns}/a`) === undefined && names('db').length === 2);
    assert.deepEqual(names('web'), []);
    assert.deepEqual(names('db'), ['b', 'c']);
    assert.throws(() => informer.byIndex('nope', 'x'));
    ac.abort();
    await done;
  });

  test('4 the informer survives a server restart without relisting or re-adding', async () => {
    const ns = await namespace('restart');
    const { informer, seen, ac, done } = startInformer(ns);
    await informer.waitForSync();
    await configMap(ns, 'a', { n: '1' });
    await waitFor('add a', () => seen.includes('add a'));

    await cluster.restart();

    await configMap(ns, 'b', { n: '1' });
    await waitFor('add b after the restart', () => seen.includes('add b'), { timeoutMs: 20_000 });
    await updateData(ns, 'a', { n: '2' });
    await waitFor('update a after the restart', () => seen.some((s) => s.startsWith('update a')));
    assert.deepEqual(seen, ['add a', 'add b', 'update a {"n":"1"}->{"n":"2"}']);
    assert.equal(informer.state, 'watching');
    ac.abort();
    await done;
  });

  test('5 after its history is compacted away the informer relists and delivers the difference', async () => {
    const ns = await namespace('relist');
    await configMap(ns, 'p', { n: '1' });
    await configMap(ns, 'q', { n: '1' });
    await configMap(ns, 'r', { n: '1' });
    const { informer, seen, ac, done } = startInformer(ns);
    await informer.waitForSync();
    const rvBefore = Number(informer.lastSyncResourceVersion());

    // Changes the running server (and so the informer) never hears of: written straight
    // into its database, then the history compacted past the informer's revision.
    const backend = new SqliteBackend({ path: `${cluster.dataDir}/state.db` });
    await backend.start();
    let compactedAt: number;
    try {
      const { kvs } = await backend.list('/registry/');
      const keyOf = (name: string): string => {
        const kv = kvs.find((k) => k.key.endsWith(`/${ns}/${name}`) && k.key.includes('configmaps'));
        assert.ok(kv, `stored key of ${name}`);
        return kv.key;
      };
      await backend.delete(keyOf('q'));
      const r = kvs.find((k) => k.key === keyOf('r'))!;
      const value = JSON.parse(r.value) as KubeObject;
      await backend.update(r.key, JSON.stringify({ ...value, data: { n: '2' } }), r.modRevision);
      compactedAt = await backend.compact(backend.currentRevision());
    } finally {
      await backend.close();
    }
    assert.ok(compactedAt > rvBefore, `compacted to ${compactedAt}, past the informer's ${rvBefore}`);
    await cluster.restart();

    await waitFor('relist: delete q, update r', () => seen.includes('delete q') && seen.includes('update r {"n":"1"}->{"n":"2"}'), { timeoutMs: 20_000 });
    assert.deepEqual(seen.filter((s) => s.includes(' p')), ['add p'], 'p unchanged: no re-add, no update');
    assert.deepEqual(informer.list().map((o) => o.metadata.name).sort(), ['p', 'r']);
    assert.ok(Number(informer.lastSyncResourceVersion()) >= compactedAt);
    await configMap(ns, 's', {});
    await waitFor('watching again after the relist', () => seen.includes('add s'));
    ac.abort();
    await done;
  });

  test('6 waitForSync rejects on abort and when the informer stops first', async () => {
    const informer = new Informer({ client, resource: resources.configMaps, namespace: 'nowhere', logger: silentLogger() });
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(informer.waitForSync(ac.signal), { name: 'CancelledError' });
    const stop = new AbortController();
    const waiting = informer.waitForSync();
    const done = informer.run(stop.signal);
    stop.abort();
    await done;
    await assert.rejects(waiting, { name: 'CancelledError' });
    await assert.rejects(informer.run(new AbortController().signal), { name: 'InformerAlreadyStartedError' });
  });
});

/** A RestClient whose list and watch answers are scripted. */
class ScriptedClient extends RestClient {
  readonly lists: KubeList[] = [];
  readonly watches: ((onEvent: (e: WatchEvent) => void, signal?: AbortSignal) => Promise<void>)[] = [];
  constructor() {
    super({ server: 'https://127.0.0.1:1', caCert: '' });
  }
  override get<T>(path: string): Promise<T> {
    const l = this.lists.shift();
    if (l === undefined) return Promise.reject(new Error(`unexpected GET ${path}`));
    return Promise.resolve(l as T);
  }
  override watch<T>(_path: string, onEvent: (e: WatchEvent<T>) => void, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const w = this.watches.shift();
    if (w === undefined) return new Promise((resolve) => opts.signal?.addEventListener('abort', () => resolve()));
    return w(onEvent as (e: WatchEvent) => void, opts.signal);
  }
}

const cm = (name: string, rv: string, n: string): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'ns', resourceVersion: rv }, data: { n } });
const list = (rv: string, items: KubeObject[]): KubeList => ({ apiVersion: 'v1', kind: 'ConfigMapList', metadata: { resourceVersion: rv }, items });

describe('Informer with a scripted client', () => {
  test('7 an older resourceVersion never overwrites a newer one; ERROR 410 relists', async () => {
    const fake = new ScriptedClient();
    fake.lists.push(list('10', [cm('a', '10', 'x')]));
    fake.watches.push(async (emit) => {
      emit({ type: 'MODIFIED', object: cm('a', '12', 'new') });
      emit({ type: 'MODIFIED', object: cm('a', '11', 'stale') });
      emit({ type: 'BOOKMARK', object: { metadata: { resourceVersion: '20' } } });
      emit({ type: 'ERROR', object: { kind: 'Status', code: 410, metadata: {} } as unknown as KubeObject });
    });
    fake.lists.push(list('30', [cm('b', '25', 'y')]));
    const informer = new Informer({ client: fake, resource: resources.configMaps, namespace: 'ns', logger: silentLogger() });
    const seen: string[] = [];
    informer.addEventHandler({
      onAdd: (o) => seen.push(`add ${o.metadata.name} ${o.metadata.resourceVersion}`),
      onUpdate: (_o, n) => seen.push(`update ${n.metadata.name} ${n.metadata.resourceVersion}`),
      onDelete: (o) => seen.push(`delete ${o.metadata.name}`),
    });
    const ac = new AbortController();
    const done = informer.run(ac.signal);
    await waitFor('relisted', () => seen.includes('add b 25'));
    // The relist delivers adds and updates first, then deletes for what vanished.
    assert.deepEqual(seen, ['add a 10', 'update a 12', 'add b 25', 'delete a']);
    assert.equal(informer.lastSyncResourceVersion(), '30');
    ac.abort();
    await done;
  });

  test('8 resync delivers onUpdate with the same object', async () => {
    const fake = new ScriptedClient();
    fake.lists.push(list('5', [cm('a', '5', 'x')]));
    const informer = new Informer({ client: fake, resource: resources.configMaps, namespace: 'ns', logger: silentLogger(), resyncMs: 20 });
    let resyncs = 0;
    informer.addEventHandler({ onUpdate: (o, n) => void (o === n && resyncs++) });
    const ac = new AbortController();
    const done = informer.run(ac.signal);
    await waitFor('two resyncs', () => resyncs >= 2);
    ac.abort();
    await done;
  });

  test('9 connection errors back off and keep the resourceVersion', async () => {
    const fake = new ScriptedClient();
    fake.lists.push(list('7', [cm('a', '7', 'x')]));
    const paths: string[] = [];
    for (let i = 0; i < 3; i++) fake.watches.push(() => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })));
    const informer = new Informer({ client: fake, resource: resources.configMaps, namespace: 'ns', logger: silentLogger(), backoff: { initialMs: 5, maxMs: 20 } });
    const origWatch = fake.watch.bind(fake);
    fake.watch = ((path: string, onEvent: (e: WatchEvent) => void, opts?: { signal?: AbortSignal }) => {
      paths.push(path);
      return origWatch(path, onEvent, opts);
    }) as typeof fake.watch;
    const states = new Set<string>();
    const ac = new AbortController();
    const done = informer.run(ac.signal);
    await waitFor('four watch attempts', () => {
      states.add(informer.state);
      return paths.length >= 4;
    }, { intervalMs: 1 });
    assert.ok(states.has('backoff'), `states seen: ${[...states].join(', ')}`);
    assert.ok(paths.every((p) => p.includes('resourceVersion=7')), 'every retry resumes from the same resourceVersion');
    assert.equal(fake.lists.length, 0);
    ac.abort();
    await done;
  });
});

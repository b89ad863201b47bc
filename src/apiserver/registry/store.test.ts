import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResourceDef } from '../../api/index.ts';
import { fieldErrors, isStatusError, type KubeObject } from '../../apimachinery/index.ts';
import { validateObjectMetaUpdate } from '../../apimachinery/validation.ts';
import { Cacher, MemoryBackend } from '../../storage/index.ts';
import { RegistryStore } from './store.ts';

// Small definitions of our own so these rows test the store's semantics, not
// any particular kind's validation.
function def(overrides: Partial<ResourceDef>): ResourceDef {
  return {
    group: '',
    version: 'v1',
    kind: 'Widget',
    listKind: 'WidgetList',
    resource: 'widgets',
    singular: 'widget',
    namespaced: false,
    shortNames: [],
    categories: [],
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    subresources: [{ name: 'status', verbs: ['get', 'patch', 'update'] }],
    hasStatus: true,
    hasGeneration: true,
    schemaType: 'V1ConfigMap',
    fieldSelector: { family: 'default' },
    table: { columns: [], row: () => [] },
    validate: (obj, old) => [
      ...((obj.spec as { size?: number } | undefined)?.size === -1 ? [fieldErrors.invalid('spec.size', -1, 'must be positive')] : []),
      ...(old ? validateObjectMetaUpdate(obj.metadata, old.metadata, 'metadata') : []),
    ],
    prepareForCreate: (obj) => {
      obj.status = { phase: 'Pending' };
    },
    ...overrides,
  };
}

const widgets = def({});
const namespaces = def({ kind: 'Namespace', resource: 'namespaces', hasStatus: true, hasGeneration: false, prepareForCreate: (o) => { o.status = { phase: 'Active' }; } });
const pods = def({ kind: 'Pod', resource: 'pods', namespaced: true, prepareForCreate: undefined });
const things = def({ kind: 'Thing', resource: 'things', namespaced: true, hasStatus: false });

let backend: MemoryBackend;
let cacher: Cacher<KubeObject>;
let store: RegistryStore;

beforeEach(async () => {
  backend = new MemoryBackend();
  await backend.start();
  cacher = new Cacher<KubeObject>(backend, {
    decode: (kv) => {
      const o = JSON.parse(kv.value) as KubeObject;
      o.metadata.resourceVersion = String(kv.modRevision);
      return o;
    },
  });
  await cacher.start();
  store = new RegistryStore(backend, cacher);
  await store.create(namespaces, '', { metadata: { name: 'default' } }, { dryRun: false });
});

afterEach(async () => {
  cacher.stop();
  await backend.close();
});

const w = (name: string, extra: Record<string, unknown> = {}): KubeObject => ({ metadata: { name }, spec: { size: 1 }, ...extra });

describe('create', () => {
  test('1-1 sets uid, creationTimestamp, resourceVersion, generation and resets status', async () => {
    const created = await store.create(widgets, '', w('a', { status: { phase: 'Bound' } }), { dryRun: false });
    assert.match(created.metadata.uid ?? '', /^[0-9a-f-]{36}$/);
    assert.match(created.metadata.creationTimestamp ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(created.metadata.generation, 1);
    assert.equal(created.metadata.resourceVersion, String(backend.currentRevision()));
    assert.deepEqual(created.status, { phase: 'Pending' });
    assert.equal(created.kind, 'Widget');
  });

  test('1-2 a second create of the same name is AlreadyExists', async () => {
    await store.create(widgets, '', w('a'), { dryRun: false });
    await assert.rejects(store.create(widgets, '', w('a'), { dryRun: false }), (e) => isStatusError(e, 'AlreadyExists') && e.message === 'widgets "a" already exists');
  });

  test('1-3 an invalid object is refused with 422 and nothing stored', async () => {
    const rev = backend.currentRevision();
    await assert.rejects(store.create(widgets, '', w('a', { spec: { size: -1 } }), { dryRun: false }), (e) => isStatusError(e, 'Invalid') && e.code === 422 && e.message.includes('spec.size: Invalid value: -1: must be positive'));
    assert.equal(backend.currentRevision(), rev);
  });

  test('1-4 a namespaced object in a missing namespace is NotFound', async () => {
    await assert.rejects(store.create(pods, 'nope', w('p'), { dryRun: false }), (e) => isStatusError(e, 'NotFound') && e.message === 'namespaces "nope" not found');
  });

  test('1-5 dryRun returns the object without storing it', async () => {
    const rev = backend.currentRevision();
    const obj = await store.create(widgets, '', w('dry'), { dryRun: true });
    assert.equal(obj.metadata.name, 'dry');
    assert.equal(backend.currentRevision(), rev);
    assert.throws(() => store.get(widgets, '', 'dry'), (e) => isStatusError(e, 'NotFound'));
  });

  test('1-6 generateName gets a random suffix', async () => {
    const obj = await store.create(widgets, '', { metadata: { generateName: 'gen-' }, spec: {} }, { dryRun: false });
    assert.match(obj.metadata.name ?? '', /^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  });

  test('1-7 a body namespace different from the URL is BadRequest', async () => {
    await assert.rejects(store.create(pods, 'default', { metadata: { name: 'p', namespace: 'other' } }, { dryRun: false }), (e) => isStatusError(e, 'BadRequest'));
  });
});

describe('update', () => {
  const opts = { subresource: '' as const, dryRun: false, retryOnConflict: true };

  test('2-1 a spec change bumps generation; a status write does not', async () => {
    await store.create(widgets, '', w('a'), { dryRun: false });
    const u1 = await store.update(widgets, '', 'a', (c) => ({ ...c, spec: { size: 2 } }), opts);
    assert.equal(u1.metadata.generation, 2);
    const u2 = await store.update(widgets, '', 'a', (c) => ({ ...c, status: { phase: 'Bound' } }), { ...opts, subresource: 'status' });
    assert.equal(u2.metadata.generation, 2);
    assert.deepEqual(u2.status, { phase: 'Bound' });
  });

  test('2-2 a main-resource write keeps the status; a status write keeps the spec', async () => {
    await store.create(widgets, '', w('a'), { dryRun: false });
    const u1 = await store.update(widgets, '', 'a', (c) => ({ ...c, spec: { size: 3 }, status: { phase: 'Hacked' } }), opts);
    assert.deepEqual(u1.status, { phase: 'Pending' });
    const u2 = await store.update(widgets, '', 'a', (c) => ({ ...c, spec: { size: 9 }, status: { phase: 'Bound' } }), { ...opts, subresource: 'status' });
    assert.deepEqual(u2.spec, { size: 3 });
    assert.deepEqual(u2.status, { phase: 'Bound' });
  });

  test('2-3 a stale resourceVersion is Conflict and changes nothing', async () => {
    const created = await store.create(widgets, '', w('a'), { dryRun: false });
    await store.update(widgets, '', 'a', (c) => ({ ...c, spec: { size: 2 } }), opts);
    await assert.rejects(
      store.update(widgets, '', 'a', (c) => ({ ...c, metadata: { ...c.metadata, resourceVersion: created.metadata.resourceVersion }, spec: { size: 5 } }), opts),
      (e) => isStatusError(e, 'Conflict') && e.message === 'Operation cannot be fulfilled on widgets "a": the object has been modified; please apply your changes to the latest version and try again',
    );
    assert.deepEqual(store.get(widgets, '', 'a').spec, { size: 2 });
  });

  test('2-4 an update that changes nothing keeps the resourceVersion', async () => {
    const created = await store.create(widgets, '', w('a'), { dryRun: false });
    const same = await store.update(widgets, '', 'a', (c) => c, opts);
    assert.equal(same.metadata.resourceVersion, created.metadata.resourceVersion);
  });

  test('2-5 system fields cannot be changed by a client', async () => {
    const created = await store.create(widgets, '', w('a'), { dryRun: false });
    const u = await store.update(widgets, '', 'a', (c) => ({ ...c, metadata: { ...c.metadata, creationTimestamp: '2000-01-01T00:00:00Z', generation: 99 } }), opts);
    assert.equal(u.metadata.creationTimestamp, created.metadata.creationTimestamp);
    assert.equal(u.metadata.generation, 1);
  });

  test('2-6 updating a missing object is NotFound', async () => {
    await assert.rejects(store.update(widgets, '', 'ghost', (c) => c, opts), (e) => isStatusError(e, 'NotFound'));
  });

  test('2-7 concurrent unpinned updates all land through conflict retries', async () => {
    await store.create(things, 'default', { metadata: { name: 't' }, data: { n: 0 } }, { dryRun: false });
    await Promise.all(
      Array.from({ length: 20 }, () =>
        store.update(things, 'default', 't', (c) => ({ ...c, data: { n: (c.data as { n: number }).n + 1 } }), opts),
      ),
    );
    assert.deepEqual(store.get(things, 'default', 't').data, { n: 20 });
  });

  test('2-8 concurrent unpinned replaces (PUT without resourceVersion) all land, each retry starting from what was sent', async () => {
    await store.create(things, 'default', { metadata: { name: 't', labels: { v: 'start' } } }, { dryRun: false, fieldManager: 'creator' });
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        store.replace(things, 'default', 't', { metadata: { name: 't', labels: { v: `w${i}` } }, data: { i: String(i) } }, { ...opts, fieldManager: `writer-${i}` }),
      ),
    );
    assert.equal(results.length, 10);
    const final = store.get(things, 'default', 't');
    const winner = final.metadata.labels?.v ?? '';
    assert.match(winner, /^w\d$/);
    assert.deepEqual(final.data, { i: winner.slice(1) });
    // The last writer owns what it changed.
    assert.ok(final.metadata.managedFields?.some((e) => e.manager === `writer-${winner.slice(1)}`));
  });
});

describe('delete', () => {
  const del = { dryRun: false };
  const upd = { subresource: '' as const, dryRun: false, retryOnConflict: true };

  test('3-1 without finalizers the object goes at once', async () => {
    await store.create(widgets, '', w('a'), { dryRun: false });
    const r = await store.delete(widgets, '', 'a', del);
    assert.equal(r.deleted, true);
    assert.throws(() => store.get(widgets, '', 'a'), (e) => isStatusError(e, 'NotFound'));
  });

  test('3-2 with finalizers it is only marked, and goes when the last finalizer is removed', async () => {
    await store.create(widgets, '', { metadata: { name: 'a', finalizers: ['example.com/hold'] }, spec: {} }, { dryRun: false });
    const r = await store.delete(widgets, '', 'a', del);
    assert.equal(r.deleted, false);
    assert.ok(r.obj.metadata.deletionTimestamp);
    const again = await store.delete(widgets, '', 'a', del);
    assert.equal(again.obj.metadata.resourceVersion, r.obj.metadata.resourceVersion, 'a repeated delete changes nothing');
    await store.update(widgets, '', 'a', (c) => ({ ...c, metadata: { ...c.metadata, finalizers: [] } }), upd);
    assert.throws(() => store.get(widgets, '', 'a'), (e) => isStatusError(e, 'NotFound'));
  });

  test('3-3 no new finalizer may be added to an object being deleted', async () => {
    await store.create(widgets, '', { metadata: { name: 'a', finalizers: ['x/one'] }, spec: {} }, { dryRun: false });
    await store.delete(widgets, '', 'a', del);
    await assert.rejects(
      store.update(widgets, '', 'a', (c) => ({ ...c, metadata: { ...c.metadata, finalizers: ['x/one', 'x/two'] } }), upd),
      (e) => isStatusError(e, 'Invalid') && e.message.includes('no new finalizers can be added if the object is being deleted'),
    );
  });

  test('3-4 preconditions that do not match are Conflict', async () => {
    await store.create(widgets, '', w('a'), { dryRun: false });
    await assert.rejects(store.delete(widgets, '', 'a', { ...del, preconditions: { uid: 'other' } }), (e) => isStatusError(e, 'Conflict') && e.message.startsWith('Operation cannot be fulfilled on widgets "a": Precondition failed: UID in precondition: other'));
    assert.ok(store.get(widgets, '', 'a'));
  });

  test('3-5 a pod on a node is deleted gracefully; grace 0 removes it', async () => {
    await store.create(pods, 'default', { metadata: { name: 'p' }, spec: { nodeName: 'n1' } }, { dryRun: false });
    const r = await store.delete(pods, 'default', 'p', del);
    assert.equal(r.deleted, false);
    assert.equal(r.obj.metadata.deletionGracePeriodSeconds, 30);
    const r2 = await store.delete(pods, 'default', 'p', { ...del, gracePeriodSeconds: 0 });
    assert.equal(r2.deleted, true);
  });

  test('3-6 an unscheduled pod goes at once', async () => {
    await store.create(pods, 'default', { metadata: { name: 'p' }, spec: {} }, { dryRun: false });
    assert.equal((await store.delete(pods, 'default', 'p', del)).deleted, true);
  });

  test('3-7 a namespace with spec finalizers turns Terminating, and content cannot be created in it', async () => {
    await store.create(namespaces, '', { metadata: { name: 'ns1' }, spec: { finalizers: ['kubernetes'] } }, { dryRun: false });
    const r = await store.delete(namespaces, '', 'ns1', del);
    assert.equal(r.deleted, false);
    assert.equal((r.obj.status as { phase: string }).phase, 'Terminating');
    await assert.rejects(store.create(things, 'ns1', { metadata: { name: 't' } }, { dryRun: false }), (e) => isStatusError(e, 'Forbidden'));
  });

  const propagation: { name: string; policy: string; before: string[]; after: string[] | 'gone' }[] = [
    { name: '3-9 Foreground marks it with foregroundDeletion', policy: 'Foreground', before: [], after: ['foregroundDeletion'] },
    { name: '3-10 Orphan marks it with orphan', policy: 'Orphan', before: [], after: ['orphan'] },
    { name: '3-11 Orphan replaces a foregroundDeletion finalizer', policy: 'Orphan', before: ['foregroundDeletion', 'x/keep'], after: ['x/keep', 'orphan'] },
    { name: '3-12 Background drops the collector finalizers and deletes', policy: 'Background', before: ['orphan'], after: 'gone' },
    { name: '3-13 Background without finalizers deletes at once', policy: 'Background', before: [], after: 'gone' },
  ];
  for (const row of propagation) {
    test(row.name, async () => {
      const meta = row.before.length > 0 ? { name: 'owner', finalizers: row.before } : { name: 'owner' };
      await store.create(widgets, '', { metadata: meta, spec: {} }, { dryRun: false });
      const r = await store.delete(widgets, '', 'owner', { ...del, propagationPolicy: row.policy });
      if (row.after === 'gone') {
        assert.equal(r.deleted, true);
        assert.throws(() => store.get(widgets, '', 'owner'), (e) => isStatusError(e, 'NotFound'));
      } else {
        assert.equal(r.deleted, false);
        const live = store.get(widgets, '', 'owner');
        assert.deepEqual(live.metadata.finalizers, row.after);
        assert.ok(live.metadata.deletionTimestamp);
      }
    });
  }

  test('3-8 dryRun delete keeps the object', async () => {
    await store.create(widgets, '', w('a'), { dryRun: false });
    await store.delete(widgets, '', 'a', { dryRun: true });
    assert.ok(store.get(widgets, '', 'a'));
  });
});

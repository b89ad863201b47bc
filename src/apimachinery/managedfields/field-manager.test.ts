import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../errors.ts';
import type { KubeObject, ManagedFieldsEntry } from '../types.ts';
import { FieldManager } from './field-manager.ts';
import { managerFromUserAgent } from './managers.ts';

const T0 = new Date('2025-01-01T00:00:00Z');
const T1 = new Date('2025-01-01T00:01:00Z');

const configMaps = new FieldManager({ group: '', version: 'v1', kind: 'ConfigMap', subresource: '', hasStatus: false });
const pvcStatus = new FieldManager({ group: '', version: 'v1', kind: 'PersistentVolumeClaim', subresource: 'status', hasStatus: true });
const pvcs = new FieldManager({ group: '', version: 'v1', kind: 'PersistentVolumeClaim', subresource: '', hasStatus: true });

function cm(data: Record<string, string>, extra: Partial<KubeObject['metadata']> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', ...extra }, data };
}

function entry(obj: KubeObject, manager: string, operation = 'Apply'): ManagedFieldsEntry | undefined {
  return obj.metadata.managedFields?.find((e) => e.manager === manager && e.operation === operation);
}

function conflictOf(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (err) {
    if (err instanceof StatusError) return err;
    throw err;
  }
  assert.fail('expected a conflict');
}

describe('FieldManager.update', () => {
  test('1 a create owns what it set, with "." on maps it added', () => {
    const mf = configMaps.update(undefined, cm({ k: 'v' }, { labels: { a: 'b' } }), 'kubectl-create', T0);
    assert.deepEqual(mf, [
      {
        manager: 'kubectl-create',
        operation: 'Update',
        apiVersion: 'v1',
        time: '2025-01-01T00:00:00Z',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:data': { '.': {}, 'f:k': {} }, 'f:metadata': { 'f:labels': { '.': {}, 'f:a': {} } } },
      },
    ]);
  });

  test('2 a field changed by one manager leaves the others (Update and Apply)', () => {
    const live = configMaps.apply(undefined, cm({ a: '1', b: '2' }), 'applier', false, T0);
    const next = { ...structuredClone(live), data: { a: '9', b: '2' } };
    const mf = configMaps.update(live, next, 'kubectl-edit', T1) ?? [];
    const byName = Object.fromEntries(mf.map((e) => [e.manager, e.fieldsV1]));
    assert.deepEqual(byName, { applier: { 'f:data': { 'f:b': {} } }, 'kubectl-edit': { 'f:data': { 'f:a': {} } } });
  });

  test('3 an update that changes nothing records nothing', () => {
    const live = configMaps.apply(undefined, cm({ a: '1' }), 'applier', false, T0);
    const mf = configMaps.update(live, structuredClone(live), 'kubectl-edit', T1);
    assert.deepEqual(mf, live.metadata.managedFields);
  });

  test('4 an object without managedFields is not tracked by updates; [] resets them', () => {
    assert.equal(configMaps.update(cm({ a: '1' }), cm({ a: '2' }), 'x', T0), undefined);
    const live = configMaps.apply(undefined, cm({ a: '1' }), 'applier', false, T0);
    const next = { ...structuredClone(live), data: { a: '2' } };
    next.metadata.managedFields = [];
    assert.equal(configMaps.update(live, next, 'x', T1), undefined);
  });

  test('5 status writes are recorded with subresource status', () => {
    const live: KubeObject = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'p' }, spec: {}, status: {} };
    live.metadata.managedFields = pvcs.update(undefined, live, 'creator', T0) ?? [{ manager: 'seed', operation: 'Update', apiVersion: 'v1', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': { 'f:x': {} } } }];
    const next = { ...structuredClone(live), status: { phase: 'Bound' } };
    const mf = pvcStatus.update(live, next, 'pv-controller', T1) ?? [];
    const e = mf.find((x) => x.manager === 'pv-controller');
    assert.deepEqual(e?.subresource, 'status');
    assert.deepEqual(e?.fieldsV1, { 'f:status': { 'f:phase': {} } });
  });

  test('6 the manager of a request without fieldManager is the User-Agent program', () => {
    assert.equal(managerFromUserAgent('kubectl/v1.32.0 (linux/amd64) kubernetes/abc'), 'kubectl');
    assert.equal(managerFromUserAgent('kubectl-edit/v1.32.0'), 'kubectl-edit');
    assert.equal(managerFromUserAgent(undefined), '');
  });
});

describe('FieldManager.apply', () => {
  test('1 the Apply entry is exactly the applied fields; reapplying changes nothing', () => {
    const first = configMaps.apply(undefined, cm({ a: '1' }, { labels: { x: 'y' } }), 'kubectl', false, T0);
    assert.deepEqual(entry(first, 'kubectl')?.fieldsV1, { 'f:data': { 'f:a': {} }, 'f:metadata': { 'f:labels': { 'f:x': {} } } });
    const again = configMaps.apply(first, cm({ a: '1' }, { labels: { x: 'y' } }), 'kubectl', false, T1);
    assert.deepEqual(again, first);
  });

  test('2 a field no longer applied is removed unless another manager owns it', () => {
    let obj = configMaps.apply(undefined, cm({ a: '1', b: '2', c: '3' }), 'one', false, T0);
    obj = configMaps.apply(obj, cm({ c: '3' }), 'two', false, T0);
    obj = configMaps.apply(obj, cm({ a: '1' }), 'one', false, T1);
    assert.deepEqual(obj.data, { a: '1', c: '3' });
    assert.deepEqual(entry(obj, 'one')?.fieldsV1, { 'f:data': { 'f:a': {} } });
  });

  test('3 a different value for a field another manager owns is a conflict; force takes it over', () => {
    const obj = configMaps.apply(undefined, cm({ a: '1', b: '2' }), 'kubectl', false, T0);
    const err = conflictOf(() => configMaps.apply(obj, cm({ a: '9', b: '8' }), 'other', false, T1));
    assert.equal(err.code, 409);
    assert.equal(err.reason, 'Conflict');
    assert.equal(err.message, 'Apply failed with 2 conflicts: conflicts with "kubectl":\n- .data.a\n- .data.b');
    assert.deepEqual(err.details?.causes, [
      { reason: 'FieldManagerConflict', message: 'conflict with "kubectl"', field: '.data.a' },
      { reason: 'FieldManagerConflict', message: 'conflict with "kubectl"', field: '.data.b' },
    ]);
    const forced = configMaps.apply(obj, cm({ a: '9' }), 'other', true, T1);
    assert.deepEqual(forced.data, { a: '9', b: '2' });
    assert.deepEqual(entry(forced, 'kubectl')?.fieldsV1, { 'f:data': { 'f:b': {} } });
    assert.deepEqual(entry(forced, 'other')?.fieldsV1, { 'f:data': { 'f:a': {} } });
  });

  test('4 a conflict with an Update manager names its apiVersion', () => {
    const live = cm({ k: '1' });
    live.metadata.managedFields = configMaps.update(undefined, live, 'kubectl-client-side-apply', T0);
    const err = conflictOf(() => configMaps.apply(live, cm({ k: '2' }), 'kubectl', false, T1));
    assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.k');
    assert.deepEqual(err.details?.causes, [
      { reason: 'FieldManagerConflict', message: 'conflict with "kubectl-client-side-apply" using v1', field: '.data.k' },
    ]);
  });

  test('5 the same value as another manager is shared ownership, not a conflict', () => {
    const obj = configMaps.apply(undefined, cm({ a: '1' }), 'one', false, T0);
    const shared = configMaps.apply(obj, cm({ a: '1' }), 'two', false, T1);
    assert.deepEqual(shared.data, { a: '1' });
    assert.deepEqual(entry(shared, 'one')?.fieldsV1, { 'f:data': { 'f:a': {} } });
    assert.deepEqual(entry(shared, 'two')?.fieldsV1, { 'f:data': { 'f:a': {} } });
  });

  test('6 the first apply to an untracked object gives what is there to before-first-apply', () => {
    const live = cm({ a: '1', b: '2' });
    const obj = configMaps.apply(live, cm({ a: '1' }), 'kubectl', false, T0);
    assert.deepEqual(entry(obj, 'before-first-apply', 'Update')?.fieldsV1, { 'f:data': { '.': {}, 'f:a': {}, 'f:b': {} } });
  });

  test('7 wrong type and managedFields in the configuration are 400', () => {
    const wrong = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'c' } };
    assert.throws(() => configMaps.apply(undefined, wrong, 'm', false, T0), { code: 400, message: 'invalid object type: /v1, Kind=Secret' });
    const withMf = cm({}, { managedFields: [] });
    assert.throws(() => configMaps.apply(undefined, withMf, 'm', false, T0), { code: 400, message: 'metadata.managedFields must be nil' });
  });

  test('8 status in a main-resource apply is ignored; a status apply owns status only', () => {
    const pvc: KubeObject = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'p' }, spec: { volumeName: 'v' }, status: { phase: 'Lost' } };
    const created = pvcs.apply(undefined, pvc, 'kubectl', false, T0);
    assert.equal(created.status, undefined);
    const status = pvcStatus.apply(created, pvc, 'ctrl', false, T1);
    assert.deepEqual(entry(status, 'ctrl')?.fieldsV1, { 'f:status': { 'f:phase': {} } });
    assert.equal(entry(status, 'ctrl')?.subresource, 'status');
  });

  test('9 kubectl takes over fields its last-applied annotation holds with the live values; others still conflict', () => {
    const live = cm({ k: '1' }, { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"apiVersion":"v1","data":{"k":"1"},"kind":"ConfigMap","metadata":{"name":"c"}}\n' } });
    live.metadata.managedFields = configMaps.update(undefined, live, 'kubectl-client-side-apply', T0);
    const taken = configMaps.apply(live, cm({ k: '2' }), 'kubectl', false, T1);
    assert.deepEqual(taken.data, { k: '2' });
    assert.deepEqual(entry(taken, 'kubectl')?.fieldsV1, { 'f:data': { 'f:k': {} } });
    const err = conflictOf(() => configMaps.apply(live, cm({ k: '2' }), 'someone-else', false, T1));
    assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.k');
  });
});

describe('FieldManager.update incremental path matches the full path', () => {
  const full = {
    main: new FieldManager({ group: '', version: 'v1', kind: 'PersistentVolumeClaim', subresource: '', hasStatus: true, incremental: false }),
    status: new FieldManager({ group: '', version: 'v1', kind: 'PersistentVolumeClaim', subresource: 'status', hasStatus: true, incremental: false }),
  };
  const fast = { main: pvcs, status: pvcStatus };
  const T2 = new Date('2025-01-01T00:02:00Z');

  // A claim created by `creator`, applied to by `applier`, then bound by `ctrl` (main and status).
  function history(): KubeObject {
    let obj: KubeObject = {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'p', labels: { a: '1' }, annotations: { x: 'y' } },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'c' },
      status: { phase: 'Pending' },
    };
    obj.metadata.managedFields = full.main.update(undefined, obj, 'creator', T0);
    obj = pvcs.apply(obj, { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'p', labels: { b: '2' } } }, 'applier', false, T0);
    return obj;
  }

  type Change = (o: KubeObject) => void;
  const rows: { name: string; sub: 'main' | 'status'; manager: string; change: Change; sent?: 'same' | 'none' | 'reset' | 'stale' }[] = [
    { name: 'a new field by a new manager', sub: 'main', manager: 'ctrl', change: (o) => ((o.spec as Record<string, unknown>).volumeName = 'v') },
    { name: 'a changed field leaves its owner', sub: 'main', manager: 'ctrl', change: (o) => ((o.spec as Record<string, unknown>).storageClassName = 'd') },
    { name: 'a field owned by an Apply manager changed', sub: 'main', manager: 'ctrl', change: (o) => ((o.metadata.labels ??= {}).b = '3') },
    { name: 'a removed field leaves everybody', sub: 'main', manager: 'ctrl', change: (o) => delete o.metadata.labels?.a },
    { name: 'a removed map leaves everybody', sub: 'main', manager: 'ctrl', change: (o) => delete o.metadata.annotations },
    { name: 'the creator changes again (its entry grows, time moves)', sub: 'main', manager: 'creator', change: (o) => ((o.metadata.annotations ??= {}).z = 'w') },
    { name: 'no change records nothing', sub: 'main', manager: 'ctrl', change: () => {} },
    { name: 'managedFields not sent', sub: 'main', manager: 'ctrl', change: (o) => ((o.spec as Record<string, unknown>).volumeName = 'v'), sent: 'none' },
    { name: 'managedFields reset with []', sub: 'main', manager: 'ctrl', change: (o) => ((o.spec as Record<string, unknown>).volumeName = 'v'), sent: 'reset' },
    { name: 'different managedFields sent', sub: 'main', manager: 'ctrl', change: (o) => ((o.spec as Record<string, unknown>).volumeName = 'v'), sent: 'stale' },
    { name: 'a status write', sub: 'status', manager: 'ctrl', change: (o) => (o.status = { phase: 'Bound', capacity: { storage: '1Gi' } }) },
    { name: 'a status write removing a field', sub: 'status', manager: 'ctrl', change: (o) => (o.status = {}) },
  ];

  for (const row of rows) {
    test(row.name, () => {
      const live = history();
      // A write by ctrl first, so that the rows also meet an existing Update entry of the writer.
      const first = structuredClone(live);
      (first.metadata.annotations ??= {}).bound = 'yes';
      first.metadata.managedFields = full.main.update(live, first, 'ctrl', T1);
      const next = structuredClone(first);
      row.change(next);
      if (row.sent === 'none') delete next.metadata.managedFields;
      if (row.sent === 'reset') next.metadata.managedFields = [];
      if (row.sent === 'stale') next.metadata.managedFields = live.metadata.managedFields;
      const want = full[row.sub].update(first, structuredClone(next), row.manager, T2);
      const got = fast[row.sub].update(first, structuredClone(next), row.manager, T2);
      assert.equal(JSON.stringify(got), JSON.stringify(want));
    });
  }

  test('more Update managers than the cap fold into ancient-changes as on the full path', () => {
    let fullObj = history();
    let fastObj = structuredClone(fullObj);
    for (let i = 0; i < 12; i++) {
      const when = new Date(T0.getTime() + (i + 1) * 60_000);
      const a = structuredClone(fullObj);
      (a.metadata.annotations ??= {})[`k${i}`] = 'v';
      a.metadata.managedFields = full.main.update(fullObj, a, `m${i}`, when);
      fullObj = a;
      const b = structuredClone(fastObj);
      (b.metadata.annotations ??= {})[`k${i}`] = 'v';
      b.metadata.managedFields = pvcs.update(fastObj, b, `m${i}`, when);
      fastObj = b;
    }
    assert.equal(JSON.stringify(fastObj.metadata.managedFields), JSON.stringify(fullObj.metadata.managedFields));
    assert.ok(fullObj.metadata.managedFields?.some((e) => e.manager === 'ancient-changes'));
  });

  test('untouched entries are passed through without re-encoding', () => {
    const live = history();
    const next = structuredClone(live);
    (next.spec as Record<string, unknown>).volumeName = 'v';
    const got = pvcs.update(live, next, 'ctrl', T1) ?? [];
    const creator = got.find((e) => e.manager === 'creator');
    assert.equal(creator, live.metadata.managedFields?.find((e) => e.manager === 'creator'));
  });
});

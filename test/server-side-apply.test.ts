// End-to-end server-side apply and managedFields: raw HTTPS requests where the
// wire answer itself is the contract (status codes, the 409 Status with its
// FieldManagerConflict causes), and the real kubectl where what users see is
// (`serverside-applied`, the conflict error, --force-conflicts,
// --show-managed-fields, client-side apply followed by server-side apply).
// The rows share one cluster and run in order, like a user session.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import { hasKubectl, startTestCluster, type TestCluster } from '../src/testing/index.ts';
import { call, createNamespace, endpointFromKubeconfig, expectStatus, rv, type Endpoint, type Response } from './raw-client.ts';

const kubectlAvailable = hasKubectl();

interface Entry {
  manager: string;
  operation: string;
  apiVersion: string;
  time?: string;
  fieldsType: string;
  fieldsV1: Record<string, unknown>;
  subresource?: string;
}

interface Obj {
  metadata: { name: string; resourceVersion: string; managedFields?: Entry[]; annotations?: Record<string, string> };
  data?: Record<string, string>;
  [k: string]: unknown;
}

const APPLY = { 'Content-Type': 'application/apply-patch+yaml' };

function entryOf(obj: Obj, manager: string, operation = 'Apply'): Entry | undefined {
  return obj.metadata.managedFields?.find((e) => e.manager === manager && e.operation === operation);
}

describe('server-side apply', { skip: !kubectlAvailable && 'kubectl not installed' }, () => {
  let cluster: TestCluster;
  let ep: Endpoint;
  let ns: string;
  const cmPath = (name: string): string => `/api/v1/namespaces/${ns}/configmaps/${name}`;
  const apply = (name: string, data: Record<string, string>, query: string, extra: Record<string, unknown> = {}): Promise<Response> =>
    call(ep, 'PATCH', `${cmPath(name)}?${query}`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...extra }, data }, APPLY);
  const get = async (path: string): Promise<Obj> => {
    const res = await call(ep, 'GET', path);
    expectStatus(res, 200, `GET ${path}`);
    return res.json() as Obj;
  };

  before(async () => {
    cluster = await startTestCluster();
    ep = endpointFromKubeconfig(cluster.kubeconfigPath);
    ns = await createNamespace(ep, 'ssa');
  });
  after(async () => {
    await cluster?.close();
  });

  it('1 an apply to an absent object creates it (201) with an Apply entry of exactly the applied fields', async () => {
    const res = await apply('c1', { a: '1', b: '2' }, 'fieldManager=m1', { labels: { app: 'x' } });
    expectStatus(res, 201, 'apply create');
    const obj = res.json() as Obj;
    assert.deepEqual(obj.data, { a: '1', b: '2' });
    const e = entryOf(obj, 'm1');
    assert.ok(e, JSON.stringify(obj.metadata.managedFields));
    assert.equal(e.apiVersion, 'v1');
    assert.equal(e.fieldsType, 'FieldsV1');
    assert.match(e.time ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(e.fieldsV1, { 'f:data': { 'f:a': {}, 'f:b': {} }, 'f:metadata': { 'f:labels': { 'f:app': {} } } });
  });

  it('2 applying the same configuration again changes nothing (same resourceVersion)', async () => {
    const before = await get(cmPath('c1'));
    const res = await apply('c1', { a: '1', b: '2' }, 'fieldManager=m1', { labels: { app: 'x' } });
    expectStatus(res, 200, 'reapply');
    assert.equal(rv(res.json() as Obj), before.metadata.resourceVersion);
  });

  it('3 a second manager changing owned fields gets 409 with the exact Status and causes', async () => {
    const res = await apply('c1', { a: '9', b: '8' }, 'fieldManager=m2');
    assert.equal(res.status, 409, res.text);
    assert.deepEqual(res.json(), {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Apply failed with 2 conflicts: conflicts with "m1":\n- .data.a\n- .data.b',
      reason: 'Conflict',
      details: {
        causes: [
          { reason: 'FieldManagerConflict', message: 'conflict with "m1"', field: '.data.a' },
          { reason: 'FieldManagerConflict', message: 'conflict with "m1"', field: '.data.b' },
        ],
      },
      code: 409,
    });
    const one = await apply('c1', { a: '9' }, 'fieldManager=m2');
    assert.equal(one.status, 409);
    assert.equal((one.json() as { message: string }).message, 'Apply failed with 1 conflict: conflict with "m1": .data.a');
  });

  it('4 force=true moves the field to the new manager', async () => {
    const res = await apply('c1', { a: '9' }, 'fieldManager=m2&force=true');
    expectStatus(res, 200, 'forced apply');
    const obj = res.json() as Obj;
    assert.deepEqual(obj.data, { a: '9', b: '2' });
    assert.deepEqual(entryOf(obj, 'm2')?.fieldsV1, { 'f:data': { 'f:a': {} } });
    assert.deepEqual(entryOf(obj, 'm1')?.fieldsV1, { 'f:data': { 'f:b': {} }, 'f:metadata': { 'f:labels': { 'f:app': {} } } });
  });

  it('5 a field the manager no longer applies is removed; one another manager shares stays', async () => {
    const shared = await apply('c1', { a: '9' }, 'fieldManager=m1');
    expectStatus(shared, 200, 'm1 shares a');
    const config = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c1', labels: { app: 'x' } } };
    const res = await call(ep, 'PATCH', `${cmPath('c1')}?fieldManager=m1`, config, APPLY);
    expectStatus(res, 200, 'm1 drops a and b');
    const obj = res.json() as Obj;
    assert.deepEqual(obj.data, { a: '9' }, 'b was only m1\'s and went; a is still m2\'s');
    assert.deepEqual(entryOf(obj, 'm1')?.fieldsV1, { 'f:metadata': { 'f:labels': { 'f:app': {} } } });
  });

  it('6 apply without fieldManager is 422; a name or type that does not match is 400', async () => {
    const missing = await apply('c1', {}, '');
    assert.equal(missing.status, 422);
    assert.equal(
      (missing.json() as { message: string }).message,
      'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
    );
    const renamed = await call(ep, 'PATCH', `${cmPath('c1')}?fieldManager=m1`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'other' } }, APPLY);
    assert.equal(renamed.status, 400, renamed.text);
    assert.equal((renamed.json() as { message: string }).message, 'the name of the object (other) does not match the name on the URL (c1)');
    const wrongKind = await call(ep, 'PATCH', `${cmPath('c1')}?fieldManager=m1`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'c1' } }, APPLY);
    assert.equal(wrongKind.status, 400, wrongKind.text);
    assert.equal((wrongKind.json() as { message: string }).message, 'invalid object type: /v1, Kind=Secret');
  });

  it('7 non-apply writes record Update entries under fieldManager or the User-Agent program', async () => {
    const res = await call(ep, 'PATCH', cmPath('c1'), { data: { z: '1' } }, { 'Content-Type': 'application/merge-patch+json', 'User-Agent': 'my-tool/1.0' });
    expectStatus(res, 200, 'merge patch');
    const obj = res.json() as Obj;
    const e = entryOf(obj, 'my-tool', 'Update');
    assert.ok(e, JSON.stringify(obj.metadata.managedFields));
    assert.deepEqual(e.fieldsV1, { 'f:data': { 'f:z': {} } });
  });

  it('8 kubectl apply --server-side twice prints serverside-applied and is idempotent', async () => {
    const manifest = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'k1', namespace: ns }, data: { k: 'v1' } });
    const first = await cluster.kubectl(['apply', '--server-side', '-f', '-'], { input: manifest });
    assert.equal(first.stdout.trim(), 'configmap/k1 serverside-applied');
    const rv1 = (await get(cmPath('k1'))).metadata.resourceVersion;
    const second = await cluster.kubectl(['apply', '--server-side', '-f', '-'], { input: manifest });
    assert.equal(second.stdout.trim(), 'configmap/k1 serverside-applied');
    assert.equal((await get(cmPath('k1'))).metadata.resourceVersion, rv1);
  });

  it('9 another manager changing kubectl\'s field is refused until --force-conflicts', async () => {
    const changed = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'k1', namespace: ns }, data: { k: 'v2' } });
    const refused = await cluster.kubectl(['apply', '--server-side', '--field-manager=other', '-f', '-'], { input: changed, allowFail: true });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error: Apply failed with 1 conflict: conflict with "kubectl": \.data\.k$/m);
    assert.match(refused.stderr, /Please review the fields above--they currently have other managers/);
    assert.equal((await get(cmPath('k1'))).data?.k, 'v1');
    const forced = await cluster.kubectl(['apply', '--server-side', '--field-manager=other', '--force-conflicts', '-f', '-'], { input: changed });
    assert.equal(forced.stdout.trim(), 'configmap/k1 serverside-applied');
    const obj = await get(cmPath('k1'));
    assert.equal(obj.data?.k, 'v2');
    assert.deepEqual(entryOf(obj, 'other')?.fieldsV1, { 'f:data': { 'f:k': {} } });
    assert.equal(entryOf(obj, 'kubectl'), undefined, 'kubectl owned nothing else, so its entry went');
  });

  it('10 managedFields show with --show-managed-fields only', async () => {
    const hidden = await cluster.kubectl(['get', 'configmap', 'k1', '-n', ns, '-o', 'yaml']);
    assert.doesNotMatch(hidden.stdout, /managedFields/);
    const shown = await cluster.kubectl(['get', 'configmap', 'k1', '-n', ns, '-o', 'yaml', '--show-managed-fields']);
    const doc = parseYaml(shown.stdout) as Obj;
    const e = entryOf(doc, 'other');
    assert.ok(e, shown.stdout);
    assert.deepEqual(e.fieldsV1, { 'f:data': { 'f:k': {} } });
  });

  it('11 client-side apply records kubectl-client-side-apply; an apply changing its field conflicts with it', async () => {
    const manifest = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'csa', namespace: ns }, data: { k: '1' } });
    const created = await cluster.kubectl(['apply', '-f', '-'], { input: manifest });
    assert.equal(created.stdout.trim(), 'configmap/csa created');
    const obj = await get(cmPath('csa'));
    const csa = entryOf(obj, 'kubectl-client-side-apply', 'Update');
    assert.ok(csa, JSON.stringify(obj.metadata.managedFields));
    assert.deepEqual(csa.fieldsV1, {
      'f:data': { '.': {}, 'f:k': {} },
      'f:metadata': { 'f:annotations': { '.': {}, 'f:kubectl.kubernetes.io/last-applied-configuration': {} } },
    });
    const res = await apply('csa', { k: '2' }, 'fieldManager=m3');
    assert.equal(res.status, 409);
    assert.deepEqual(res.json(), {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.k',
      reason: 'Conflict',
      details: { causes: [{ reason: 'FieldManagerConflict', message: 'conflict with "kubectl-client-side-apply" using v1', field: '.data.k' }] },
      code: 409,
    });
  });

  it('12 server-side apply after client-side apply works, including kubectl-last-applied', async () => {
    const manifest = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'csa', namespace: ns }, data: { k: '1', n: 'new' } });
    const r = await cluster.kubectl(['apply', '--server-side', '-f', '-', '-v=6'], { input: manifest });
    assert.match(r.stdout, /^configmap\/csa serverside-applied$/m);
    assert.match(r.stderr, /PATCH \S+\/configmaps\/csa\?fieldManager=kubectl-last-applied\S* 200 OK/);
    const obj = await get(cmPath('csa'));
    assert.deepEqual(obj.data, { k: '1', n: 'new' });
    const last = entryOf(obj, 'kubectl-last-applied');
    assert.deepEqual(last?.fieldsV1, { 'f:metadata': { 'f:annotations': { 'f:kubectl.kubernetes.io/last-applied-configuration': {} } } });
    const again = await cluster.kubectl(['apply', '--server-side', '-f', '-'], { input: manifest });
    assert.equal(again.stdout.trim(), 'configmap/csa serverside-applied');
  });

  it('13 status writes are recorded with subresource status, by patch and by apply', async () => {
    const pvc = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata: { name: 'pvc1' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } };
    const path = `/api/v1/namespaces/${ns}/persistentvolumeclaims/pvc1`;
    expectStatus(await call(ep, 'PATCH', `${path}?fieldManager=kubectl`, pvc, APPLY), 201, 'apply pvc');
    const patched = await call(ep, 'PATCH', `${path}/status?fieldManager=pv-controller`, { status: { phase: 'Bound' } }, { 'Content-Type': 'application/merge-patch+json' });
    expectStatus(patched, 200, 'status patch');
    const e = entryOf(patched.json() as Obj, 'pv-controller', 'Update');
    assert.equal(e?.subresource, 'status');
    assert.deepEqual(e?.fieldsV1, { 'f:status': { 'f:phase': {} } });
    const applied = await call(ep, 'PATCH', `${path}/status?fieldManager=resizer&force=true`, { ...pvc, status: { capacity: { storage: '1Gi' } } }, APPLY);
    expectStatus(applied, 200, 'status apply');
    const a = entryOf(applied.json() as Obj, 'resizer');
    assert.equal(a?.subresource, 'status');
    assert.deepEqual(a?.fieldsV1, { 'f:status': { 'f:capacity': { 'f:storage': {} } } });
    assert.deepEqual(entryOf(applied.json() as Obj, 'kubectl')?.subresource, undefined);
  });
});

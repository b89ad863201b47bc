// End-to-end tests of the volplane API server through the official
// @kubernetes/client-node (2.0.1), loaded from the generated admin
// kubeconfig exactly as a user would (compat spec §14): typed CRUD, the
// errors it raises, both patch flavours, the informer, and the generic
// KubernetesObjectApi (which discovers resources on its own).
//
// The objects are the seed's PersistentVolume and claim (seed 001 §2.1–2.2;
// the seed spells `label:`, the API field is `labels`). PV and PVC get
// protection finalizers at create (compat §9.2) and this cluster may run no
// controller to remove them, so deletes go through `removeWithFinalizers`.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  StorageV1Api,
  type KubernetesObject,
  type V1ConfigMap,
  type V1PersistentVolume,
  type V1PersistentVolumeClaim,
  type V1StorageClass,
} from '@kubernetes/client-node';
import { waitFor } from '../src/base/index.ts';
import { findLeaks, startTestCluster, type TestCluster } from '../src/testing/index.ts';

let cluster: TestCluster;
let kc: KubeConfig;
let core: CoreV1Api;
let storage: StorageV1Api;

before(async () => {
  cluster = await startTestCluster();
  kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfigPath);
  core = kc.makeApiClient(CoreV1Api);
  storage = kc.makeApiClient(StorageV1Api);
});

after(async () => {
  const dataDir = cluster?.dataDir;
  await cluster?.close();
  // Only what this suite's cluster could have left: other suites may be running beside it.
  if (dataDir !== undefined) assert.deepEqual((await findLeaks()).filter((l) => l.includes(dataDir)), []);
});

/** Seed 001 §2.1, with `labels` spelled right. */
function seedPv(name = 'nfs-pv', labels: Record<string, string> = { app: 'nfs' }): V1PersistentVolume {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name, labels },
    spec: {
      capacity: { storage: '5Gi' },
      volumeMode: 'Filesystem',
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Recycle',
      storageClassName: 'slow',
      mountOptions: ['hard', 'nfsvers=4.2'],
      nfs: { path: '/mnt/nfs_share', server: '192.168.3.103' },
    },
  };
}

/** Seed 001 §2.2. */
function seedPvc(name = 'nfs-pvc'): V1PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name },
    spec: {
      accessModes: ['ReadWriteOnce'],
      volumeMode: 'Filesystem',
      resources: { requests: { storage: '5Gi' } },
      storageClassName: 'slow',
      selector: { matchLabels: { app: 'nfs' } },
    },
  };
}

/** Seed 001 §2.3. */
function seedStorageClass(name = 'nfs-storage'): V1StorageClass {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
    provisioner: 'nfs-client',
    mountOptions: ['hard', 'nfsvers=4.2'],
    parameters: { archiveOnDelete: 'true' },
  };
}

interface StatusBody {
  kind?: string;
  apiVersion?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; group?: string; kind?: string; causes?: { reason?: string; field?: string; message?: string }[] };
}

/** Awaits a call that must fail and returns the ApiException's code and its parsed Status body. */
async function apiError(what: string, call: Promise<unknown>): Promise<{ code: number; status: StatusBody }> {
  try {
    await call;
  } catch (err) {
    assert.ok(err instanceof ApiException, `${what}: expected ApiException, got ${String(err)}`);
    const e = err as ApiException<unknown>;
    const status = (typeof e.body === 'string' ? JSON.parse(e.body) : e.body) as StatusBody;
    return { code: e.code, status };
  }
  assert.fail(`${what}: expected an ApiException, the call succeeded`);
}

function is404(err: unknown): boolean {
  return err instanceof ApiException && (err as ApiException<unknown>).code === 404;
}

/**
 * Deletes through `del` and, when protection finalizers keep the object
 * (compat §9.2), merge-patches them away so the delete completes; then waits
 * for `read` to answer 404.
 */
async function removeWithFinalizers<T extends KubernetesObject>(
  del: () => Promise<unknown>,
  read: () => Promise<T>,
  clearFinalizers: () => Promise<unknown>,
): Promise<void> {
  await del();
  await waitFor('the object to disappear', async () => {
    try {
      const obj = await read();
      if ((obj.metadata?.finalizers?.length ?? 0) > 0) await clearFinalizers().catch((err: unknown) => {
        if (!is404(err)) throw err;
      });
      return false;
    } catch (err) {
      if (is404(err)) return true;
      throw err;
    }
  });
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

async function deletePv(name: string): Promise<void> {
  await removeWithFinalizers(
    () => core.deletePersistentVolume({ name }),
    () => core.readPersistentVolume({ name }),
    () => core.patchPersistentVolume({ name, body: { metadata: { finalizers: null } } }, mergePatch),
  );
}

async function deletePvc(name: string, namespace: string): Promise<void> {
  await removeWithFinalizers(
    () => core.deleteNamespacedPersistentVolumeClaim({ name, namespace }),
    () => core.readNamespacedPersistentVolumeClaim({ name, namespace }),
    () => core.patchNamespacedPersistentVolumeClaim({ name, namespace, body: { metadata: { finalizers: null } } }, mergePatch),
  );
}

describe('client-node CoreV1Api and StorageV1Api', () => {
  test('1 PersistentVolume: create, list, read, replace, stale replace → 409, delete', async () => {
    const created = await core.createPersistentVolume({ body: seedPv() });
    assert.equal(created.metadata?.name, 'nfs-pv');
    assert.ok(created.metadata?.uid, 'uid is set');
    assert.match(created.metadata?.resourceVersion ?? '', /^\d+$/);
    assert.ok(created.metadata?.creationTimestamp instanceof Date, 'client-node turns creationTimestamp into a Date');
    assert.deepEqual(created.metadata?.labels, { app: 'nfs' });
    assert.equal(created.spec?.capacity?.storage, '5Gi');
    assert.deepEqual(created.spec?.mountOptions, ['hard', 'nfsvers=4.2']);
    assert.deepEqual(plain(created.spec?.nfs), { path: '/mnt/nfs_share', server: '192.168.3.103' });

    const list = await core.listPersistentVolume();
    assert.ok(list.items.some((pv) => pv.metadata?.name === 'nfs-pv'));
    assert.match(list.metadata?.resourceVersion ?? '', /^\d+$/);
    const byLabel = await core.listPersistentVolume({ labelSelector: 'app=nfs' });
    assert.deepEqual(byLabel.items.map((pv) => pv.metadata?.name), ['nfs-pv']);
    const none = await core.listPersistentVolume({ labelSelector: 'app=other' });
    assert.deepEqual(none.items, []);

    const read = await core.readPersistentVolume({ name: 'nfs-pv' });
    assert.equal(read.metadata?.uid, created.metadata?.uid);
    const readRv = read.metadata?.resourceVersion;

    read.metadata = { ...read.metadata, labels: { app: 'nfs', tier: 'gold' } };
    const replaced = await core.replacePersistentVolume({ name: 'nfs-pv', body: read });
    assert.deepEqual(replaced.metadata?.labels, { app: 'nfs', tier: 'gold' });
    assert.ok(Number(replaced.metadata?.resourceVersion) > Number(readRv), 'replace bumps the resourceVersion');
    assert.equal(replaced.metadata?.uid, created.metadata?.uid);

    // `read` still carries the resourceVersion from before the replace.
    read.metadata = { ...read.metadata, resourceVersion: readRv, labels: { app: 'nfs', tier: 'stale' } };
    const stale = await apiError('replace with a stale resourceVersion', core.replacePersistentVolume({ name: 'nfs-pv', body: read }));
    assert.equal(stale.code, 409);
    assert.equal(stale.status.kind, 'Status');
    assert.equal(stale.status.reason, 'Conflict');
    assert.equal(stale.status.code, 409);
    assert.equal(
      stale.status.message,
      'Operation cannot be fulfilled on persistentvolumes "nfs-pv": the object has been modified; please apply your changes to the latest version and try again',
    );
    assert.equal(stale.status.details?.kind, 'persistentvolumes');
    assert.equal((await core.readPersistentVolume({ name: 'nfs-pv' })).metadata?.labels?.tier, 'gold', 'the stale write changed nothing');

    await deletePv('nfs-pv');
    const gone = await apiError('read after delete', core.readPersistentVolume({ name: 'nfs-pv' }));
    assert.equal(gone.code, 404);
    assert.equal(gone.status.reason, 'NotFound');
  });

  test('2 PersistentVolumeClaim: create, list, read, replace, delete in default', async () => {
    const created = await core.createNamespacedPersistentVolumeClaim({ namespace: 'default', body: seedPvc() });
    assert.equal(created.metadata?.namespace, 'default');
    assert.deepEqual(plain(created.spec?.selector), { matchLabels: { app: 'nfs' } });
    assert.equal(created.spec?.resources?.requests?.storage, '5Gi');
    assert.equal(created.spec?.storageClassName, 'slow');

    const list = await core.listNamespacedPersistentVolumeClaim({ namespace: 'default' });
    assert.ok(list.items.some((c) => c.metadata?.name === 'nfs-pvc'));
    const all = await core.listPersistentVolumeClaimForAllNamespaces();
    assert.ok(all.items.some((c) => c.metadata?.name === 'nfs-pvc' && c.metadata?.namespace === 'default'));

    const read = await core.readNamespacedPersistentVolumeClaim({ name: 'nfs-pvc', namespace: 'default' });
    read.metadata = { ...read.metadata, annotations: { note: 'replaced' } };
    const replaced = await core.replaceNamespacedPersistentVolumeClaim({ name: 'nfs-pvc', namespace: 'default', body: read });
    assert.equal(replaced.metadata?.annotations?.note, 'replaced');
    assert.ok(Number(replaced.metadata?.resourceVersion) > Number(read.metadata?.resourceVersion));

    const stale = await apiError(
      'PVC replace with a stale resourceVersion',
      core.replaceNamespacedPersistentVolumeClaim({ name: 'nfs-pvc', namespace: 'default', body: { ...read, metadata: { ...read.metadata, annotations: { note: 'stale' } } } }),
    );
    assert.equal(stale.code, 409);
    assert.equal(stale.status.reason, 'Conflict');

    await deletePvc('nfs-pvc', 'default');
  });

  test('3 patch: JSON patch by default, merge patch through setHeaderOptions', async () => {
    await core.createNamespacedPersistentVolumeClaim({ namespace: 'default', body: { ...seedPvc('patch-pvc'), metadata: { name: 'patch-pvc', labels: { app: 'web' } } } });

    // The generated patch call sends application/json-patch+json: the body is an RFC 6902 array.
    const jsonPatched = await core.patchNamespacedPersistentVolumeClaim({
      name: 'patch-pvc',
      namespace: 'default',
      body: [
        { op: 'add', path: '/metadata/labels/patched', value: 'json' },
        { op: 'replace', path: '/metadata/labels/app', value: 'db' },
      ],
    });
    assert.deepEqual(jsonPatched.metadata?.labels, { app: 'db', patched: 'json' });

    const badPatch = await apiError(
      'JSON patch with a failing test op',
      core.patchNamespacedPersistentVolumeClaim({
        name: 'patch-pvc',
        namespace: 'default',
        body: [{ op: 'test', path: '/metadata/labels/app', value: 'not-db' }],
      }),
    );
    assert.equal(badPatch.code, 422, `a failing JSON patch test op is 422 Invalid (compat §8.4): ${JSON.stringify(badPatch.status)}`);

    const merged = await core.patchNamespacedPersistentVolumeClaim(
      { name: 'patch-pvc', namespace: 'default', body: { metadata: { labels: { merged: 'yes', patched: null } } } },
      mergePatch,
    );
    assert.deepEqual(merged.metadata?.labels, { app: 'db', merged: 'yes' }, 'merge patch adds keys and null removes them');
    assert.ok(Number(merged.metadata?.resourceVersion) > Number(jsonPatched.metadata?.resourceVersion));

    // A merge patch must not be taken for a JSON patch: an object body is not an RFC 6902 array.
    const pv = await core.createPersistentVolume({ body: seedPv('patch-pv', { app: 'patch' }) });
    const pvMerged = await core.patchPersistentVolume({ name: 'patch-pv', body: { spec: { mountOptions: ['soft'] } } }, mergePatch);
    assert.deepEqual(pvMerged.spec?.mountOptions, ['soft'], 'merge patch replaces lists');
    assert.equal(pvMerged.spec?.nfs?.server, pv.spec?.nfs?.server);

    await deletePvc('patch-pvc', 'default');
    await deletePv('patch-pv');
  });

  test('4 StorageClass: create, list, defaults, AlreadyExists, Invalid, delete', async () => {
    const created = await storage.createStorageClass({ body: seedStorageClass() });
    assert.equal(created.provisioner, 'nfs-client');
    assert.equal(created.reclaimPolicy, 'Delete', 'defaulted (compat §13)');
    assert.equal(created.volumeBindingMode, 'Immediate', 'defaulted (compat §13)');
    assert.deepEqual(created.parameters, { archiveOnDelete: 'true' });

    const list = await storage.listStorageClass();
    assert.ok(list.items.some((sc) => sc.metadata?.name === 'nfs-storage'));
    assert.equal(list.kind, 'StorageClassList');

    const exists = await apiError('create an existing StorageClass', storage.createStorageClass({ body: seedStorageClass() }));
    assert.equal(exists.code, 409);
    assert.equal(exists.status.reason, 'AlreadyExists');
    assert.equal(exists.status.message, 'storageclasses.storage.k8s.io "nfs-storage" already exists');
    assert.equal(exists.status.details?.group, 'storage.k8s.io');
    assert.equal(exists.status.details?.kind, 'storageclasses');

    const invalid = await apiError(
      'create a StorageClass without provisioner',
      storage.createStorageClass({ body: { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'nop' } } as V1StorageClass }),
    );
    assert.equal(invalid.code, 422);
    assert.equal(invalid.status.reason, 'Invalid');
    assert.equal(invalid.status.message, 'StorageClass.storage.k8s.io "nop" is invalid: provisioner: Required value');
    assert.equal(invalid.status.details?.kind, 'StorageClass');
    assert.deepEqual(invalid.status.details?.causes?.map((c) => [c.reason, c.field]), [['FieldValueRequired', 'provisioner']]);

    await storage.deleteStorageClass({ name: 'nfs-storage' });
    const gone = await apiError('read a deleted StorageClass', storage.readStorageClass({ name: 'nfs-storage' }));
    assert.equal(gone.code, 404);
    assert.equal(gone.status.reason, 'NotFound');
    assert.equal(gone.status.message, 'storageclasses.storage.k8s.io "nfs-storage" not found');
  });

  test('5 errors arrive as ApiException with the Status body', async () => {
    const missing = await apiError('read a missing PV', core.readPersistentVolume({ name: 'nope' }));
    assert.equal(missing.code, 404);
    assert.deepEqual(
      { kind: missing.status.kind, apiVersion: missing.status.apiVersion, status: missing.status.status, reason: missing.status.reason, code: missing.status.code },
      { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 },
    );
    assert.equal(missing.status.message, 'persistentvolumes "nope" not found');
    assert.equal(missing.status.details?.name, 'nope');
    assert.equal(missing.status.details?.kind, 'persistentvolumes');

    const noNs = await apiError(
      'create a PVC in a namespace that does not exist',
      core.createNamespacedPersistentVolumeClaim({ namespace: 'no-such-ns', body: seedPvc() }),
    );
    assert.equal(noNs.code, 404);
    assert.equal(noNs.status.message, 'namespaces "no-such-ns" not found');

    const emptyList = await core.listNamespacedPersistentVolumeClaim({ namespace: 'no-such-ns' });
    assert.deepEqual(emptyList.items, [], 'listing in a missing namespace is an empty list (compat §2.1)');

    const badName = await apiError('create a PV with an invalid name', core.createPersistentVolume({ body: seedPv('Bad_Name') }));
    assert.equal(badName.code, 422);
    assert.equal(badName.status.reason, 'Invalid');
    assert.equal(badName.status.details?.kind, 'PersistentVolume');
  });
});

describe('client-node informer', () => {
  test('6 makeInformer on persistentvolumes sees add, update and delete', async () => {
    const informer = makeInformer<V1PersistentVolume>(
      kc,
      '/api/v1/persistentvolumes',
      () => core.listPersistentVolume({ labelSelector: 'suite=informer' }),
      'suite=informer',
    );
    const seen: string[] = [];
    const errors: unknown[] = [];
    informer.on('add', (pv) => seen.push(`add ${pv.metadata?.name} ${pv.metadata?.annotations?.step ?? ''}`.trim()));
    informer.on('update', (pv) => seen.push(`update ${pv.metadata?.name} ${pv.metadata?.annotations?.step ?? ''}`.trim()));
    informer.on('delete', (pv) => seen.push(`delete ${pv.metadata?.name}`));
    informer.on('error', (err) => errors.push(err));
    try {
      // start() resolves once the list is done and the watch request is answered (needs flushed headers).
      await withTimeout(informer.start(), 10_000, 'informer.start()');
      assert.deepEqual(informer.list(), []);

      await core.createPersistentVolume({ body: seedPv('inf-pv', { suite: 'informer' }) });
      await waitFor('informer add', () => seen.includes('add inf-pv'));
      await core.patchPersistentVolume({ name: 'inf-pv', body: { metadata: { annotations: { step: 'two' } } } }, mergePatch);
      await waitFor('informer update', () => seen.includes('update inf-pv two'));
      assert.equal(informer.get('inf-pv')?.metadata?.annotations?.step, 'two', 'the cache holds the new state');

      await deletePv('inf-pv');
      await waitFor('informer delete', () => seen.includes('delete inf-pv'));
      assert.equal(informer.get('inf-pv'), undefined);
      assert.equal(seen[0], 'add inf-pv');
      assert.equal(seen.at(-1), 'delete inf-pv');
      assert.equal(seen.filter((s) => s.startsWith('add')).length, 1, `one add only: ${seen.join(', ')}`);
      // An object outside the informer's label selector never shows up.
      await core.createPersistentVolume({ body: seedPv('other-pv', { suite: 'other' }) });
      await core.createPersistentVolume({ body: seedPv('inf-pv-2', { suite: 'informer' }) });
      await waitFor('informer add of the second PV', () => seen.includes('add inf-pv-2'));
      assert.ok(!seen.some((s) => s.includes('other-pv')), `other-pv must not be seen: ${seen.join(', ')}`);
      assert.deepEqual(errors, []);
    } finally {
      await informer.stop();
    }
    await deletePv('other-pv');
    await deletePv('inf-pv-2');
  });
});

describe('client-node KubernetesObjectApi', () => {
  test('7 generic create, read, list, delete of a StorageClass and a ConfigMap', async () => {
    const client = KubernetesObjectApi.makeApiClient(kc);

    const sc = await client.create<V1StorageClass>(seedStorageClass('generic-sc'));
    assert.equal(sc.metadata?.name, 'generic-sc');
    assert.equal(sc.kind, 'StorageClass');
    const scRead = await client.read<V1StorageClass>({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'generic-sc' } });
    assert.equal(scRead.provisioner, 'nfs-client');
    assert.equal(scRead.metadata?.uid, sc.metadata?.uid);

    const cm = await client.create<V1ConfigMap>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'generic-cm', namespace: 'default', labels: { suite: 'generic' } },
      data: { 'app.conf': 'x=1' },
    });
    assert.equal(cm.metadata?.namespace, 'default');
    const cmRead = await client.read<V1ConfigMap>({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'generic-cm', namespace: 'default' } });
    assert.deepEqual(cmRead.data, { 'app.conf': 'x=1' });
    const cmList = await client.list<V1ConfigMap>('v1', 'ConfigMap', 'default', undefined, undefined, undefined, undefined, 'suite=generic');
    assert.deepEqual(cmList.items.map((i) => i.metadata?.name), ['generic-cm']);

    const cmPatched = await client.patch<V1ConfigMap>(
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'generic-cm', namespace: 'default' }, data: { extra: 'y' } },
      undefined,
      undefined,
      undefined,
      undefined,
      PatchStrategy.MergePatch,
    );
    assert.deepEqual(cmPatched.data, { 'app.conf': 'x=1', extra: 'y' });

    await client.delete({ apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'generic-sc' } });
    await client.delete({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'generic-cm', namespace: 'default' } });
    for (const spec of [
      { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name: 'generic-sc' } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'generic-cm', namespace: 'default' } },
    ]) {
      const gone = await apiError(`read deleted ${spec.kind}`, client.read(spec));
      assert.equal(gone.code, 404);
      assert.equal(gone.status.reason, 'NotFound');
    }
  });
});

/** A typed client-node model as plain JSON data (its classes and undefined fields dropped). */
function plain(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

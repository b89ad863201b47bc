import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidKeyError, objectKey, resourcePath, resources, ResourcePathError, splitKey, type ResourceRef } from './paths.ts';

const pvc = resources.persistentVolumeClaims;
const pv = resources.persistentVolumes;
const va = resources.volumeAttachments;

describe('resourcePath', () => {
  const rows: { name: string; args: [ResourceRef, string?, string?, string?]; want: string }[] = [
    { name: 'core namespaced collection', args: [pvc, 'default'], want: '/api/v1/namespaces/default/persistentvolumeclaims' },
    { name: 'core all-namespaces collection', args: [pvc], want: '/api/v1/persistentvolumeclaims' },
    { name: 'core namespaced object', args: [pvc, 'ns1', 'claim'], want: '/api/v1/namespaces/ns1/persistentvolumeclaims/claim' },
    { name: 'core subresource', args: [pvc, 'ns1', 'claim', 'status'], want: '/api/v1/namespaces/ns1/persistentvolumeclaims/claim/status' },
    { name: 'core cluster-scoped object', args: [pv, undefined, 'pv-1'], want: '/api/v1/persistentvolumes/pv-1' },
    { name: 'cluster-scoped with empty namespace', args: [pv, '', 'pv-1'], want: '/api/v1/persistentvolumes/pv-1' },
    { name: 'group cluster-scoped collection', args: [va], want: '/apis/storage.k8s.io/v1/volumeattachments' },
    { name: 'group namespaced object', args: [resources.leases, 'kube-system', 'x'], want: '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/x' },
    { name: 'names are escaped', args: [pv, undefined, 'a b'], want: '/api/v1/persistentvolumes/a%20b' },
  ];
  for (const row of rows) test(row.name, () => assert.equal(resourcePath(...row.args), row.want));

  const bad: { name: string; args: [ResourceRef, string?, string?, string?] }[] = [
    { name: 'namespace on a cluster-scoped resource', args: [pv, 'ns', 'x'] },
    { name: 'namespaced object without namespace', args: [pvc, undefined, 'x'] },
    { name: 'subresource without name', args: [pvc, 'ns', undefined, 'status'] },
  ];
  for (const row of bad) test(`throws: ${row.name}`, () => assert.throws(() => resourcePath(...row.args), ResourcePathError));
});

describe('objectKey / splitKey', () => {
  const rows = [
    { name: 'namespaced', meta: { namespace: 'ns', name: 'a' }, key: 'ns/a', split: { namespace: 'ns', name: 'a' } },
    { name: 'cluster-scoped', meta: { name: 'pv-1' }, key: 'pv-1', split: { namespace: '', name: 'pv-1' } },
    { name: 'empty namespace is cluster-scoped', meta: { namespace: '', name: 'n' }, key: 'n', split: { namespace: '', name: 'n' } },
  ];
  for (const row of rows) {
    test(row.name, () => {
      assert.equal(objectKey({ metadata: row.meta }), row.key);
      assert.deepEqual(splitKey(row.key), row.split);
    });
  }
  for (const key of ['', 'a/b/c', '/a', 'a/']) {
    test(`splitKey rejects ${JSON.stringify(key)}`, () => assert.throws(() => splitKey(key), InvalidKeyError));
  }
});

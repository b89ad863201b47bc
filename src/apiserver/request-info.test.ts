import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRequestInfo } from './request-info.ts';

interface Row {
  name: string;
  method: string;
  url: string;
  want: Record<string, unknown> | 'non-resource';
}

const rows: Row[] = [
  { name: 'cluster-scoped list', method: 'GET', url: '/api/v1/persistentvolumes', want: { verb: 'list', group: '', version: 'v1', resource: 'persistentvolumes', namespace: '', name: '' } },
  { name: 'cluster-scoped get', method: 'GET', url: '/api/v1/persistentvolumes/pv1', want: { verb: 'get', resource: 'persistentvolumes', name: 'pv1' } },
  { name: 'status subresource', method: 'PUT', url: '/api/v1/persistentvolumes/pv1/status', want: { verb: 'update', name: 'pv1', subresource: 'status' } },
  { name: 'namespaced list', method: 'GET', url: '/api/v1/namespaces/default/persistentvolumeclaims', want: { verb: 'list', namespace: 'default', resource: 'persistentvolumeclaims' } },
  { name: 'namespaced create', method: 'POST', url: '/api/v1/namespaces/default/pods', want: { verb: 'create', namespace: 'default', resource: 'pods' } },
  { name: 'namespaced delete', method: 'DELETE', url: '/api/v1/namespaces/ns1/pods/p', want: { verb: 'delete', namespace: 'ns1', name: 'p' } },
  { name: 'deletecollection', method: 'DELETE', url: '/api/v1/namespaces/ns1/pods', want: { verb: 'deletecollection', namespace: 'ns1' } },
  { name: 'namespace object', method: 'GET', url: '/api/v1/namespaces/kube-system', want: { verb: 'get', resource: 'namespaces', name: 'kube-system', namespace: '' } },
  { name: 'namespace status', method: 'PUT', url: '/api/v1/namespaces/foo/status', want: { resource: 'namespaces', name: 'foo', subresource: 'status' } },
  { name: 'namespace finalize', method: 'PUT', url: '/api/v1/namespaces/foo/finalize', want: { resource: 'namespaces', name: 'foo', subresource: 'finalize' } },
  { name: 'list namespaces', method: 'GET', url: '/api/v1/namespaces', want: { verb: 'list', resource: 'namespaces', name: '' } },
  { name: 'named group', method: 'GET', url: '/apis/storage.k8s.io/v1/storageclasses/sc', want: { group: 'storage.k8s.io', version: 'v1', resource: 'storageclasses', name: 'sc' } },
  { name: 'watch query', method: 'GET', url: '/api/v1/persistentvolumes?watch=true', want: { verb: 'watch' } },
  { name: 'watch=1', method: 'GET', url: '/api/v1/persistentvolumes?watch=1', want: { verb: 'watch' } },
  { name: 'deprecated watch prefix', method: 'GET', url: '/api/v1/watch/namespaces/default/pods/p', want: { verb: 'watch', namespace: 'default', name: 'p' } },
  { name: 'pod log', method: 'GET', url: '/api/v1/namespaces/default/pods/p/log', want: { verb: 'get', subresource: 'log' } },
  { name: 'discovery root', method: 'GET', url: '/api', want: 'non-resource' },
  { name: 'group discovery', method: 'GET', url: '/apis/storage.k8s.io/v1', want: 'non-resource' },
  { name: 'health', method: 'GET', url: '/healthz', want: 'non-resource' },
  { name: 'too deep', method: 'GET', url: '/api/v1/namespaces/a/pods/b/c/d', want: 'non-resource' },
];

for (const row of rows) {
  test(`request info: ${row.name}`, () => {
    const url = new URL(row.url, 'https://x');
    const info = parseRequestInfo(row.method, url.pathname, url.searchParams);
    if (row.want === 'non-resource') {
      assert.equal(info.isResourceRequest, false);
      return;
    }
    assert.equal(info.isResourceRequest, true);
    for (const [k, v] of Object.entries(row.want)) {
      assert.equal((info as unknown as Record<string, unknown>)[k], v, `${k} of ${row.url}`);
    }
  });
}

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { KubeObject } from '../../apimachinery/index.ts';
import { csiStorageCapacityDef as capDef } from './csi-storage-capacity.ts';
import { create, mustCreate, row, update } from './resource-harness.ts';

const NOW = new Date('2024-05-01T10:00:00Z');

function capacity(fields: Record<string, unknown>): KubeObject {
  return {
    metadata: { name: 'csisc-abcde', namespace: 'kube-system' },
    storageClassName: 'hostpath',
    nodeTopology: { matchLabels: { 'topology.hostpath.csi/node': 'node-1' } },
    ...fields,
  };
}

describe('CSIStorageCapacity', () => {
  it('1-1 quantities are canonical; the table has no AGE column', () => {
    const stored = mustCreate(capDef, capacity({ capacity: '1024Mi', maximumVolumeSize: '1.5Gi' }));
    assert.equal(stored.capacity, '1Gi');
    assert.equal(stored.maximumVolumeSize, '1536Mi');
    assert.deepEqual(row(capDef, stored, NOW), { Name: 'csisc-abcde', StorageClassName: 'hostpath', Capacity: '1Gi' });
    assert.equal(capDef.namespaced, true);
  });

  it('1-2 an unknown capacity prints <unset>', () => {
    assert.deepEqual(capDef.table.row(capacity({}), NOW), ['csisc-abcde', 'hostpath', '<unset>']);
  });

  const rows: Array<[string, KubeObject, string]> = [
    [
      '2-1 a storage class name is required (upstream reports it as not a DNS subdomain)',
      capacity({ storageClassName: undefined }),
      `CSIStorageCapacity.storage.k8s.io "csisc-abcde" is invalid: storageClassName: Invalid value: "": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    ],
    ['2-2 a negative capacity', capacity({ capacity: '-1Gi' }), 'CSIStorageCapacity.storage.k8s.io "csisc-abcde" is invalid: capacity: Invalid value: "-1Gi": must be greater than or equal to 0'],
    [
      '2-3 a topology selector with a bad operator',
      capacity({ nodeTopology: { matchExpressions: [{ key: 'zone', operator: 'Near', values: ['a'] }] } }),
      'CSIStorageCapacity.storage.k8s.io "csisc-abcde" is invalid: nodeTopology.matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator',
    ],
    ['2-4 it lives in a namespace', { ...capacity({}), metadata: { name: 'csisc-abcde' } }, 'CSIStorageCapacity.storage.k8s.io "csisc-abcde" is invalid: metadata.namespace: Required value'],
  ];
  for (const [name, obj, message] of rows) {
    it(name, () => assert.equal(create(capDef, obj).message, message));
  }

  const stored = mustCreate(capDef, capacity({ capacity: '10Gi' }));
  const updates: Array<[string, KubeObject, RegExp]> = [
    ['3-1 capacity and maximumVolumeSize may change', capacity({ capacity: '5Gi', maximumVolumeSize: '1Gi' }), /^$/],
    ['3-2 the storage class is fixed', capacity({ storageClassName: 'other' }), /^CSIStorageCapacity\.storage\.k8s\.io "csisc-abcde" is invalid: storageClassName: Invalid value: "other": field is immutable$/],
    ['3-3 the topology is fixed', capacity({ nodeTopology: { matchLabels: { zone: 'b' } } }), /^CSIStorageCapacity\.storage\.k8s\.io "csisc-abcde" is invalid: nodeTopology: Invalid value: \{.*"zone":"b".*\}: field is immutable$/],
  ];
  for (const [name, desired, message] of updates) {
    it(name, () => assert.match(update(capDef, stored, desired).message, message));
  }
});

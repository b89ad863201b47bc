import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { KubeObject } from '../../apimachinery/index.ts';
import { deepCopy } from '../../apimachinery/index.ts';
import { csiNodeDef } from './csi-node.ts';
import { create, mustCreate, row, update } from './resource-harness.ts';

const NOW = new Date('2024-05-01T10:00:00Z');

function node(drivers: unknown[]): KubeObject {
  return { metadata: { name: 'node-1' }, spec: { drivers } };
}

const hostpath = { name: 'hostpath.csi.volplane.io', nodeID: 'node-1', topologyKeys: ['topology.hostpath.csi/node'] };
const nfs = { name: 'nfs.csi.k8s.io', nodeID: 'node-1', allocatable: { count: 10 } };

describe('CSINode: create and table', () => {
  it('1-1 a node with two drivers is valid; DRIVERS is an integer', () => {
    const stored = mustCreate(csiNodeDef, node([hostpath, nfs]));
    stored.metadata.creationTimestamp = '2024-05-01T09:00:00Z';
    assert.deepEqual(row(csiNodeDef, stored, NOW), { Name: 'node-1', Drivers: 2, Age: '60m' });
    assert.equal(csiNodeDef.table.columns[1].type, 'integer');
  });

  const rows: Array<[string, KubeObject, string]> = [
    [
      '1-2 driver names are unique',
      node([hostpath, { ...hostpath, nodeID: 'other' }]),
      'CSINode.storage.k8s.io "node-1" is invalid: spec.drivers[1].name: Duplicate value: "hostpath.csi.volplane.io"',
    ],
    ['1-3 a driver needs a node ID', node([{ name: 'a.example.com' }]), 'CSINode.storage.k8s.io "node-1" is invalid: spec.drivers[0].nodeID: Required value'],
    [
      '1-4 node IDs are at most 256 characters',
      node([{ name: 'a.example.com', nodeID: 'n'.repeat(257) }]),
      `CSINode.storage.k8s.io "node-1" is invalid: spec.drivers[0].nodeID: Invalid value: "${'n'.repeat(257)}": must be 256 characters or less`,
    ],
    [
      '1-5 topology keys: repeated (reported at the driver path, as upstream does)',
      node([{ ...hostpath, topologyKeys: ['zone', 'zone'] }]),
      'CSINode.storage.k8s.io "node-1" is invalid: spec.drivers[0]: Duplicate value: "zone"',
    ],
    [
      '1-6 a negative attach limit',
      node([{ ...nfs, allocatable: { count: -1 } }]),
      'CSINode.storage.k8s.io "node-1" is invalid: spec.drivers[0].allocatable.count: Invalid value: -1: must be greater than or equal to 0',
    ],
  ];
  for (const [name, obj, message] of rows) {
    it(name, () => assert.equal(create(csiNodeDef, obj).message, message));
  }
});

describe('CSINode: updates', () => {
  const stored = mustCreate(csiNodeDef, node([hostpath]));
  it('2-1 drivers may be added and removed', () => {
    assert.equal(update(csiNodeDef, stored, node([hostpath, nfs])).message, '');
    assert.equal(update(csiNodeDef, stored, node([])).message, '');
  });

  it('2-2 an existing driver entry may not change', () => {
    const changed = deepCopy(stored);
    ((changed.spec as { drivers: Array<Record<string, unknown>> }).drivers[0]).nodeID = 'node-2';
    assert.match(update(csiNodeDef, stored, changed).message, /^CSINode\.storage\.k8s\.io "node-1" is invalid: spec\.drivers: Invalid value: \{.*"nodeID":"node-2".*\}: field is immutable$/);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { hasPatchSchema, patchSchemaFor } from './schemas.ts';
import type { PatchSchema } from './strategic-merge-patch.ts';
import { applyStrategicMergePatch } from './strategic-merge-patch.ts';

/** Follows a dotted field path through the schema tree (list elements are transparent). */
function at(schema: PatchSchema, path: string): PatchSchema | undefined {
  let node: PatchSchema | undefined = schema;
  for (const field of path.split('.')) node = node?.fields?.[field];
  return node;
}

interface TagRow {
  group: string;
  kind: string;
  path: string;
  /** `merge:<key>` for a merge list of maps, `merge` for a merged set of scalars, `replace` for no tag. */
  want: string;
}

const podSpecRows = (group: string, kind: string, prefix: string): TagRow[] => [
  { group, kind, path: `${prefix}containers`, want: 'merge:name' },
  { group, kind, path: `${prefix}initContainers`, want: 'merge:name' },
  { group, kind, path: `${prefix}ephemeralContainers`, want: 'merge:name' },
  { group, kind, path: `${prefix}containers.env`, want: 'merge:name' },
  { group, kind, path: `${prefix}containers.ports`, want: 'merge:containerPort' },
  { group, kind, path: `${prefix}containers.volumeMounts`, want: 'merge:mountPath' },
  { group, kind, path: `${prefix}containers.volumeDevices`, want: 'merge:devicePath' },
  { group, kind, path: `${prefix}initContainers.env`, want: 'merge:name' },
  { group, kind, path: `${prefix}ephemeralContainers.volumeMounts`, want: 'merge:mountPath' },
  { group, kind, path: `${prefix}containers.envFrom`, want: 'replace' },
  { group, kind, path: `${prefix}containers.command`, want: 'replace' },
  { group, kind, path: `${prefix}volumes`, want: 'merge:name' },
  { group, kind, path: `${prefix}imagePullSecrets`, want: 'merge:name' },
  { group, kind, path: `${prefix}hostAliases`, want: 'merge:ip' },
  { group, kind, path: `${prefix}topologySpreadConstraints`, want: 'merge:topologyKey' },
  { group, kind, path: `${prefix}tolerations`, want: 'replace' },
];

const rows: TagRow[] = [
  ...podSpecRows('', 'Pod', 'spec.'),
  { group: '', kind: 'Pod', path: 'status.conditions', want: 'merge:type' },
  { group: '', kind: 'Pod', path: 'status.podIPs', want: 'merge:ip' },
  { group: '', kind: 'Pod', path: 'status.containerStatuses', want: 'replace' },
  ...podSpecRows('apps', 'Deployment', 'spec.template.spec.'),
  ...podSpecRows('apps', 'ReplicaSet', 'spec.template.spec.'),
  ...podSpecRows('apps', 'StatefulSet', 'spec.template.spec.'),
  { group: 'apps', kind: 'Deployment', path: 'spec.template.metadata.finalizers', want: 'merge' },
  { group: 'apps', kind: 'Deployment', path: 'status.conditions', want: 'merge:type' },
  { group: 'apps', kind: 'StatefulSet', path: 'spec.volumeClaimTemplates', want: 'replace' },
  { group: '', kind: 'Node', path: 'status.addresses', want: 'merge:type' },
  { group: '', kind: 'Node', path: 'status.conditions', want: 'merge:type' },
  { group: '', kind: 'Node', path: 'status.images', want: 'replace' },
  { group: '', kind: 'Node', path: 'spec.taints', want: 'replace' },
  { group: '', kind: 'Node', path: 'spec.podCIDRs', want: 'merge' },
  { group: '', kind: 'PersistentVolumeClaim', path: 'status.conditions', want: 'merge:type' },
  { group: '', kind: 'PersistentVolumeClaim', path: 'spec.accessModes', want: 'replace' },
  { group: '', kind: 'PersistentVolume', path: 'spec.accessModes', want: 'replace' },
  { group: '', kind: 'PersistentVolume', path: 'spec.mountOptions', want: 'replace' },
  { group: '', kind: 'Namespace', path: 'status.conditions', want: 'merge:type' },
  { group: '', kind: 'Namespace', path: 'spec.finalizers', want: 'replace' },
  { group: '', kind: 'ServiceAccount', path: 'secrets', want: 'merge:name' },
  { group: '', kind: 'ServiceAccount', path: 'imagePullSecrets', want: 'replace' },
  { group: 'storage.k8s.io', kind: 'CSINode', path: 'spec.drivers', want: 'merge:name' },
  { group: 'storage.k8s.io', kind: 'StorageClass', path: 'allowedTopologies', want: 'replace' },
  { group: 'rbac.authorization.k8s.io', kind: 'ClusterRole', path: 'rules', want: 'replace' },
  { group: 'rbac.authorization.k8s.io', kind: 'RoleBinding', path: 'subjects', want: 'replace' },
];

// Every kind gets ObjectMeta's two merge lists.
const kinds: Array<[string, string]> = [
  ['', 'Pod'],
  ['', 'Node'],
  ['', 'PersistentVolume'],
  ['', 'PersistentVolumeClaim'],
  ['', 'Namespace'],
  ['', 'ConfigMap'],
  ['', 'Secret'],
  ['', 'Event'],
  ['', 'ServiceAccount'],
  ['apps', 'Deployment'],
  ['apps', 'ReplicaSet'],
  ['apps', 'StatefulSet'],
  ['storage.k8s.io', 'StorageClass'],
  ['storage.k8s.io', 'VolumeAttachment'],
  ['storage.k8s.io', 'CSIDriver'],
  ['storage.k8s.io', 'CSINode'],
  ['storage.k8s.io', 'CSIStorageCapacity'],
  ['storage.k8s.io', 'VolumeAttributesClass'],
  ['events.k8s.io', 'Event'],
  ['coordination.k8s.io', 'Lease'],
  ['rbac.authorization.k8s.io', 'Role'],
  ['rbac.authorization.k8s.io', 'ClusterRole'],
  ['rbac.authorization.k8s.io', 'RoleBinding'],
  ['rbac.authorization.k8s.io', 'ClusterRoleBinding'],
];
for (const [group, kind] of kinds) {
  rows.push({ group, kind, path: 'metadata.finalizers', want: 'merge' });
  rows.push({ group, kind, path: 'metadata.ownerReferences', want: 'merge:uid' });
}

function describeTag(node: PatchSchema | undefined): string {
  if (node?.patchStrategy !== 'merge') return 'replace';
  return node.patchMergeKey === undefined ? 'merge' : `merge:${node.patchMergeKey}`;
}

describe('patchSchemaFor', () => {
  for (const row of rows) {
    it(`${row.group || 'core'}/${row.kind} ${row.path} is ${row.want}`, () => {
      assert.ok(hasPatchSchema(row.group, row.kind), 'kind is in the table');
      assert.equal(describeTag(at(patchSchemaFor(row.group, row.kind), row.path)), row.want);
    });
  }

  it('Deployment strategy and Pod volumes carry retainKeys', () => {
    assert.equal(at(patchSchemaFor('apps', 'Deployment'), 'spec.strategy')?.retainKeys, true);
    assert.equal(at(patchSchemaFor('', 'Pod'), 'spec.volumes')?.retainKeys, true);
  });

  it('an unknown kind gets the ObjectMeta-only schema', () => {
    assert.equal(hasPatchSchema('snapshot.storage.k8s.io', 'VolumeSnapshot'), false);
    const schema = patchSchemaFor('snapshot.storage.k8s.io', 'VolumeSnapshot');
    assert.equal(describeTag(at(schema, 'metadata.finalizers')), 'merge');
    assert.equal(describeTag(at(schema, 'metadata.ownerReferences')), 'merge:uid');
    assert.equal(at(schema, 'spec'), undefined);
  });

  it('the same group and kind names do not leak across groups', () => {
    assert.equal(hasPatchSchema('apps', 'Pod'), false);
    assert.equal(at(patchSchemaFor('apps', 'Pod'), 'spec.containers'), undefined);
  });

  it('schemas are frozen', () => {
    const schema = patchSchemaFor('', 'Pod');
    assert.ok(Object.isFrozen(schema));
    assert.ok(Object.isFrozen(at(schema, 'spec.containers.env')));
    assert.ok(Object.isFrozen(schema.fields));
  });

  it('a StatefulSet patch merges containers by name but replaces volumeClaimTemplates', () => {
    const live = {
      spec: {
        volumeClaimTemplates: [{ metadata: { name: 'a' } }, { metadata: { name: 'b' } }],
        template: { spec: { containers: [{ name: 'c1', image: 'x' }, { name: 'c2', image: 'y' }] } },
      },
    };
    const patch = {
      spec: {
        volumeClaimTemplates: [{ metadata: { name: 'b' } }],
        template: { spec: { containers: [{ name: 'c2', image: 'z' }] } },
      },
    };
    assert.deepEqual(applyStrategicMergePatch(live, patch, patchSchemaFor('apps', 'StatefulSet')), {
      spec: {
        volumeClaimTemplates: [{ metadata: { name: 'b' } }],
        template: { spec: { containers: [{ name: 'c1', image: 'x' }, { name: 'c2', image: 'z' }] } },
      },
    });
  });

  it('a Node status patch merges addresses by type', () => {
    const live = { status: { addresses: [{ type: 'InternalIP', address: '10.0.0.1' }, { type: 'Hostname', address: 'n1' }] } };
    const patch = { status: { addresses: [{ type: 'InternalIP', address: '10.0.0.2' }] } };
    assert.deepEqual(applyStrategicMergePatch(live, patch, patchSchemaFor('', 'Node')), {
      status: { addresses: [{ type: 'InternalIP', address: '10.0.0.2' }, { type: 'Hostname', address: 'n1' }] },
    });
  });
});

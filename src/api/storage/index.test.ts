import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { hasSchema } from '../../apimachinery/schema.ts';
import { persistentVolumeClaimDef, persistentVolumeDef } from '../core/storage-defs.ts';
import type { ResourceDef } from '../resource.ts';
import { storageResourceDefs } from './index.ts';

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

// resource, singular, kind, namespaced, shortNames, subresources, schema model
const EXPECTED: Array<[string, string, string, boolean, string[], string[], string]> = [
  ['persistentvolumes', 'persistentvolume', 'PersistentVolume', false, ['pv'], ['status'], 'V1PersistentVolume'],
  ['persistentvolumeclaims', 'persistentvolumeclaim', 'PersistentVolumeClaim', true, ['pvc'], ['status'], 'V1PersistentVolumeClaim'],
  ['storageclasses', 'storageclass', 'StorageClass', false, ['sc'], [], 'V1StorageClass'],
  ['volumeattachments', 'volumeattachment', 'VolumeAttachment', false, [], ['status'], 'V1VolumeAttachment'],
  ['csidrivers', 'csidriver', 'CSIDriver', false, [], [], 'V1CSIDriver'],
  ['csinodes', 'csinode', 'CSINode', false, [], [], 'V1CSINode'],
  ['csistoragecapacities', 'csistoragecapacity', 'CSIStorageCapacity', true, [], [], 'V1CSIStorageCapacity'],
  ['volumeattributesclasses', 'volumeattributesclass', 'VolumeAttributesClass', false, ['vac'], [], 'V1VolumeAttributesClass'],
];

describe('storage kinds: discovery facts', () => {
  const defs: ResourceDef[] = [persistentVolumeDef, persistentVolumeClaimDef, ...storageResourceDefs];

  it('storageResourceDefs holds the six storage.k8s.io/v1 kinds', () => {
    assert.deepEqual(
      storageResourceDefs.map((d) => `${d.group}/${d.version}/${d.kind}`),
      ['StorageClass', 'VolumeAttachment', 'CSIDriver', 'CSINode', 'CSIStorageCapacity', 'VolumeAttributesClass'].map((k) => `storage.k8s.io/v1/${k}`),
    );
  });

  for (const [resource, singular, kind, namespaced, shortNames, subresources, schemaType] of EXPECTED) {
    it(`${resource}: names, scope, verbs, subresources, schema`, () => {
      const def = defs.find((d) => d.resource === resource);
      assert.ok(def, resource);
      assert.equal(def.singular, singular);
      assert.equal(def.kind, kind);
      assert.equal(def.listKind, `${kind}List`);
      assert.equal(def.namespaced, namespaced);
      assert.deepEqual(def.shortNames, shortNames);
      assert.deepEqual(def.verbs, VERBS);
      assert.deepEqual(def.subresources.map((s) => s.name), subresources);
      for (const s of def.subresources) assert.deepEqual(s.verbs, ['get', 'patch', 'update']);
      assert.equal(def.hasStatus, subresources.includes('status'));
      assert.equal(def.schemaType, schemaType);
      assert.ok(hasSchema(schemaType), `client-node has no model ${schemaType}`);
      assert.equal(def.fieldSelector.family, 'default');
      assert.equal(def.table.columns[0].format, 'name');
    });
  }
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { KubeObject } from '../../apimachinery/index.ts';
import { deepCopy } from '../../apimachinery/index.ts';
import { create, mustCreate, row, update } from './resource-harness.ts';
import { storageClassDef as scDef } from './storage-class.ts';

const NOW = new Date('2024-05-01T10:00:00Z');

/** Seed 001 §2.3: the default NFS class. */
function seedNfsStorage(): KubeObject {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: 'nfs-storage', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
    provisioner: 'nfs-client',
    mountOptions: ['hard', 'nfsvers=4.2'],
    parameters: { archiveOnDelete: 'true' },
  };
}

/** Seed 001 §2.3.1: delayed binding for local volumes. */
function seedLocalStorage(): KubeObject {
  return {
    metadata: { name: 'local-storage' },
    provisioner: 'kubernetes.io/no-provisioner',
    volumeBindingMode: 'WaitForFirstConsumer',
  };
}

function sc(name: string, fields: Record<string, unknown>): KubeObject {
  return { metadata: { name }, ...fields };
}

describe('StorageClass: seeds, defaults and the table', () => {
  it('1-1 the default nfs class of seed 001 is valid, defaulted and marked (default)', () => {
    const stored = mustCreate(scDef, seedNfsStorage());
    assert.equal(stored.reclaimPolicy, 'Delete');
    assert.equal(stored.volumeBindingMode, 'Immediate');
    stored.metadata.creationTimestamp = '2024-05-01T09:00:00Z';
    assert.deepEqual(row(scDef, stored, NOW), {
      Name: 'nfs-storage (default)',
      Provisioner: 'nfs-client',
      ReclaimPolicy: 'Delete',
      VolumeBindingMode: 'Immediate',
      AllowVolumeExpansion: false,
      Age: '60m',
    });
  });

  it('1-2 the WaitForFirstConsumer class of seed 001 prints as kubectl showed it', () => {
    const stored = mustCreate(scDef, seedLocalStorage());
    stored.metadata.creationTimestamp = '2024-05-01T09:58:41Z';
    assert.deepEqual(scDef.table.row(stored, NOW), ['local-storage', 'kubernetes.io/no-provisioner', 'Delete', 'WaitForFirstConsumer', false, '79s']);
  });

  const defaultRows: Array<[string, Record<string, string> | undefined, boolean]> = [
    ['1-3 the GA annotation marks the default', { 'storageclass.kubernetes.io/is-default-class': 'true' }, true],
    ['1-4 the beta annotation marks the default', { 'storageclass.beta.kubernetes.io/is-default-class': 'true' }, true],
    ['1-5 only "true" counts', { 'storageclass.kubernetes.io/is-default-class': 'yes' }, false],
    ['1-6 no annotation', undefined, false],
  ];
  for (const [name, annotations, isDefault] of defaultRows) {
    it(name, () => {
      const cells = scDef.table.row({ metadata: { name: 'c', annotations }, provisioner: 'p', allowVolumeExpansion: true }, NOW);
      assert.deepEqual(cells.slice(0, 5), [isDefault ? 'c (default)' : 'c', 'p', 'Delete', 'Immediate', true]);
    });
  }

  it('1-7 explicit reclaimPolicy and volumeBindingMode are kept', () => {
    const stored = mustCreate(scDef, sc('r', { provisioner: 'p', reclaimPolicy: 'Retain', volumeBindingMode: 'WaitForFirstConsumer' }));
    assert.equal(stored.reclaimPolicy, 'Retain');
    assert.equal(stored.volumeBindingMode, 'WaitForFirstConsumer');
  });
});

describe('StorageClass: invalid creates', () => {
  const rows: Array<[string, KubeObject, string]> = [
    ['2-1 no provisioner', sc('nop', {}), 'StorageClass.storage.k8s.io "nop" is invalid: provisioner: Required value'],
    [
      '2-2 a provisioner that is not a qualified name (shown lower-cased)',
      sc('x', { provisioner: 'Example.com/Bad/Name' }),
      `StorageClass.storage.k8s.io "x" is invalid: provisioner: Invalid value: "example.com/bad/name": a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ],
    ['2-3 Recycle is not a class reclaim policy', sc('x', { provisioner: 'p', reclaimPolicy: 'Recycle' }), 'StorageClass.storage.k8s.io "x" is invalid: reclaimPolicy: Unsupported value: "Recycle": supported values: "Delete", "Retain"'],
    [
      '2-4 an unknown binding mode',
      sc('x', { provisioner: 'p', volumeBindingMode: 'Later' }),
      'StorageClass.storage.k8s.io "x" is invalid: volumeBindingMode: Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"',
    ],
    ['2-5 an empty parameter key', sc('x', { provisioner: 'p', parameters: { '': 'v' } }), 'StorageClass.storage.k8s.io "x" is invalid: parameters: Invalid value: "": field can not be empty.'],
    [
      '2-6 too many parameters',
      sc('x', { provisioner: 'p', parameters: Object.fromEntries(Array.from({ length: 513 }, (_, i) => [`k${i}`, 'v'])) }),
      'StorageClass.storage.k8s.io "x" is invalid: parameters: Too long: must have at most 512 bytes',
    ],
    [
      '2-7 allowed topologies: a requirement without values, a repeated value, a repeated term',
      sc('x', {
        provisioner: 'p',
        allowedTopologies: [
          { matchLabelExpressions: [{ key: 'zone', values: [] }] },
          { matchLabelExpressions: [{ key: 'zone', values: ['a', 'a'] }] },
          { matchLabelExpressions: [{ key: 'zone', values: ['a'] }] },
        ],
      }),
      'StorageClass.storage.k8s.io "x" is invalid: [allowedTopologies[0].matchLabelExpressions[0].values: Required value, ' +
        'allowedTopologies[1].matchLabelExpressions[0].values[1]: Duplicate value: "a", ' +
        'allowedTopologies[2].matchLabelExpressions: Duplicate value: ""]',
    ],
    [
      '2-8 a class name that is not a DNS subdomain',
      sc('Fast_SSD', { provisioner: 'p' }),
      `StorageClass.storage.k8s.io "Fast_SSD" is invalid: metadata.name: Invalid value: "Fast_SSD": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    ],
  ];
  for (const [name, obj, message] of rows) {
    it(name, () => assert.equal(create(scDef, obj).message, message));
  }
});

describe('StorageClass: updates', () => {
  const stored = mustCreate(scDef, seedNfsStorage());
  function edit(fn: (o: KubeObject) => void): KubeObject {
    const next = deepCopy(stored);
    fn(next);
    return next;
  }
  const rows: Array<[string, KubeObject, string]> = [
    ['3-1 allowVolumeExpansion, mount options and labels may change', edit((o) => Object.assign(o, { allowVolumeExpansion: true, mountOptions: [], metadata: { ...o.metadata, labels: { a: 'b' } } })), ''],
    ['3-2 parameters are fixed', edit((o) => (o.parameters = { archiveOnDelete: 'false' })), 'StorageClass.storage.k8s.io "nfs-storage" is invalid: parameters: Forbidden: updates to parameters are forbidden.'],
    ['3-3 the provisioner is fixed', edit((o) => (o.provisioner = 'other')), 'StorageClass.storage.k8s.io "nfs-storage" is invalid: provisioner: Forbidden: updates to provisioner are forbidden.'],
    ['3-4 the reclaim policy is fixed', edit((o) => (o.reclaimPolicy = 'Retain')), 'StorageClass.storage.k8s.io "nfs-storage" is invalid: reclaimPolicy: Forbidden: updates to reclaimPolicy are forbidden.'],
    [
      '3-5 the binding mode is fixed',
      edit((o) => (o.volumeBindingMode = 'WaitForFirstConsumer')),
      'StorageClass.storage.k8s.io "nfs-storage" is invalid: volumeBindingMode: Invalid value: "WaitForFirstConsumer": field is immutable',
    ],
    ['3-6 omitting the defaulted fields is no change', edit((o) => Object.assign(o, { reclaimPolicy: undefined, volumeBindingMode: undefined })), ''],
  ];
  for (const [name, desired, message] of rows) {
    it(name, () => assert.equal(update(scDef, stored, desired).message, message));
  }
});

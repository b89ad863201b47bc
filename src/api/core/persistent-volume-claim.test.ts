import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { KubeObject } from '../../apimachinery/index.ts';
import { deepCopy } from '../../apimachinery/index.ts';
import { create, mustCreate, row, update, updateStatus } from '../storage/resource-harness.ts';
import { persistentVolumeClaimDef as pvcDef } from './persistent-volume-claim.ts';

const NOW = new Date('2024-05-01T10:00:00Z');

/** Seed 001 §2.2: a claim with a label selector. */
function seedNfsPVC(): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'nfs-pvc', namespace: 'default' },
    spec: {
      accessModes: ['ReadWriteOnce'],
      volumeMode: 'Filesystem',
      resources: { requests: { storage: '5Gi' } },
      storageClassName: 'slow',
      selector: { matchLabels: { app: 'nfs' } },
    },
  };
}

function pvc(name: string, spec: Record<string, unknown>, extra: Partial<KubeObject> = {}): KubeObject {
  return { metadata: { name, namespace: 'default' }, spec, ...extra };
}

const minimal = { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } };

function edit(obj: KubeObject, fn: (o: KubeObject, spec: Record<string, unknown>) => void): KubeObject {
  const next = deepCopy(obj);
  fn(next, next.spec as Record<string, unknown>);
  return next;
}

describe('PersistentVolumeClaim: the seed is valid and prints like kubectl', () => {
  it('1-1 the nfs PVC of seed 001 is valid and Pending', () => {
    const stored = mustCreate(pvcDef, seedNfsPVC());
    assert.deepEqual(stored.status, { phase: 'Pending' });
    stored.metadata.creationTimestamp = '2024-05-01T09:58:14Z';
    assert.deepEqual(row(pvcDef, stored, NOW), {
      Name: 'nfs-pvc',
      Status: 'Pending',
      Volume: '',
      Capacity: '',
      'Access Modes': '',
      StorageClass: 'slow',
      VolumeAttributesClass: '<unset>',
      Age: '106s',
      VolumeMode: 'Filesystem',
    });
  });

  it('1-2 capacity and access modes show once a volume is named, from the status', () => {
    const bound: KubeObject = {
      metadata: { name: 'data-web-0', namespace: 'default', creationTimestamp: '2024-05-01T09:57:16Z' },
      spec: { ...minimal, volumeName: 'pvc-4e84', storageClassName: 'nfs-storage' },
      status: { phase: 'Bound', capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'] },
    };
    assert.deepEqual(pvcDef.table.row(bound, NOW), ['data-web-0', 'Bound', 'pvc-4e84', '1Gi', 'RWO', 'nfs-storage', '<unset>', '2m44s', '<unset>']);
  });

  it('1-3 a terminating claim shows Terminating; the beta annotation names the class', () => {
    const claim: KubeObject = {
      metadata: {
        name: 'c',
        namespace: 'default',
        deletionTimestamp: '2024-05-01T10:00:00Z',
        annotations: { 'volume.beta.kubernetes.io/storage-class': 'old-style' },
      },
      spec: { ...minimal, storageClassName: 'ignored', volumeAttributesClassName: 'gold', volumeMode: 'Block' },
      status: { phase: 'Bound' },
    };
    assert.deepEqual(pvcDef.table.row(claim, NOW), ['c', 'Terminating', '', '', '', 'old-style', 'gold', '<unknown>', 'Block']);
  });
});

describe('PersistentVolumeClaim: defaults and the create strategy', () => {
  it('2-1 volumeMode Filesystem, canonical requests, status reset to Pending', () => {
    const { obj, message } = create(pvcDef, pvc('c', { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1024Mi' }, limits: { storage: '2048Mi' } } }, { status: { phase: 'Bound' } }));
    assert.equal(message, '');
    assert.deepEqual(obj.spec, { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' }, limits: { storage: '2Gi' } }, volumeMode: 'Filesystem' });
    assert.deepEqual(obj.status, { phase: 'Pending' });
  });

  const dataSources: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
    [
      '2-2 a PVC dataSource is copied to dataSourceRef',
      { dataSource: { kind: 'PersistentVolumeClaim', name: 'src' } },
      { dataSource: { kind: 'PersistentVolumeClaim', name: 'src' }, dataSourceRef: { kind: 'PersistentVolumeClaim', name: 'src' } },
    ],
    [
      '2-3 a dataSourceRef without namespace is copied to dataSource',
      { dataSourceRef: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'snap' } },
      {
        dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'snap' },
        dataSourceRef: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'snap' },
      },
    ],
    ['2-4 a dataSource of another kind, given alone, is dropped', { dataSource: { apiGroup: 'example.com', kind: 'Populator', name: 'p' } }, {}],
  ];
  for (const [name, given, want] of dataSources) {
    it(name, () => {
      const { obj, message } = create(pvcDef, pvc('c', { ...minimal, ...given }));
      assert.equal(message, '');
      const spec = obj.spec as Record<string, unknown>;
      assert.deepEqual({ dataSource: spec.dataSource, dataSourceRef: spec.dataSourceRef }, { dataSource: undefined, dataSourceRef: undefined, ...want });
    });
  }
});

describe('PersistentVolumeClaim: the pvc-protection finalizer (StorageObjectInUseProtection admission)', () => {
  const withFinalizers = (finalizers: string[] | undefined): KubeObject => ({ metadata: { name: 'c', namespace: 'default', finalizers }, spec: { ...minimal } });
  const rows: Array<[string, string[] | undefined, string[]]> = [
    ['2-5 a new claim gets kubernetes.io/pvc-protection', undefined, ['kubernetes.io/pvc-protection']],
    ['2-6 a claim that already asks for it gets it once', ['kubernetes.io/pvc-protection'], ['kubernetes.io/pvc-protection']],
    ['2-7 other finalizers stay, ours is appended', ['example.com/keep'], ['example.com/keep', 'kubernetes.io/pvc-protection']],
    ['2-8 an empty list is filled', [], ['kubernetes.io/pvc-protection']],
  ];
  for (const [name, given, want] of rows) {
    it(name, () => {
      const { obj, message } = create(pvcDef, withFinalizers(given));
      assert.equal(message, '');
      assert.deepEqual(obj.metadata.finalizers, want);
    });
  }

  it('2-9 an update may remove it (only creates are admitted)', () => {
    const stored = mustCreate(pvcDef, withFinalizers(undefined));
    const { obj, message } = update(pvcDef, stored, { ...stored, metadata: { ...stored.metadata, finalizers: [] } });
    assert.equal(message, '');
    assert.deepEqual(obj.metadata.finalizers, []);
  });
});

describe('PersistentVolumeClaim: invalid creates carry the apiserver messages', () => {
  const rows: Array<[string, KubeObject, string]> = [
    [
      '3-1 no access modes and no storage request',
      pvc('x', {}),
      'PersistentVolumeClaim "x" is invalid: [spec.accessModes: Required value: at least 1 access mode is required, spec.resources[storage]: Required value]',
    ],
    ['3-2 a zero storage request', pvc('x', { ...minimal, resources: { requests: { storage: '0' } } }), 'PersistentVolumeClaim "x" is invalid: spec.resources[storage]: Invalid value: "0": must be greater than zero'],
    [
      '3-3 an unsupported access mode',
      pvc('x', { ...minimal, accessModes: ['ReadWriteSome'] }),
      'PersistentVolumeClaim "x" is invalid: spec.accessModes: Unsupported value: "ReadWriteSome": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
    ],
    [
      '3-4 a selector with a bad operator and In without values',
      pvc('x', { ...minimal, selector: { matchExpressions: [{ key: 'app', operator: 'Near' }, { key: 'tier', operator: 'In' }] } }),
      'PersistentVolumeClaim "x" is invalid: [spec.selector.matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator, ' +
        "spec.selector.matchExpressions[1].values: Required value: must be specified when `operator` is 'In' or 'NotIn']",
    ],
    [
      '3-5 an unsupported volume mode',
      pvc('x', { ...minimal, volumeMode: 'Raw' }),
      'PersistentVolumeClaim "x" is invalid: spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"',
    ],
    [
      '3-6 a dataSource of the core group must be a claim',
      pvc('x', { ...minimal, dataSource: { kind: 'Secret', name: 's' }, dataSourceRef: { kind: 'Secret', name: 's' } }),
      `PersistentVolumeClaim "x" is invalid: [spec.dataSource: Invalid value: "Secret": must be 'PersistentVolumeClaim' when referencing the default apiGroup, spec.dataSourceRef: Invalid value: "Secret": must be 'PersistentVolumeClaim' when referencing the default apiGroup]`,
    ],
    [
      '3-7 dataSource and dataSourceRef must agree (the value is the path itself)',
      pvc('x', { ...minimal, dataSource: { kind: 'PersistentVolumeClaim', name: 'a' }, dataSourceRef: { kind: 'PersistentVolumeClaim', name: 'b' } }),
      'PersistentVolumeClaim "x" is invalid: spec: Invalid value: spec.dataSource: must match dataSourceRef',
    ],
    ['3-8 a claim needs a namespace', { metadata: { name: 'x' }, spec: { ...minimal } }, 'PersistentVolumeClaim "x" is invalid: metadata.namespace: Required value'],
    [
      '3-9 a storage class name that is not a DNS subdomain',
      pvc('x', { ...minimal, storageClassName: 'Fast!' }),
      `PersistentVolumeClaim "x" is invalid: spec.storageClassName: Invalid value: "Fast!": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    ],
  ];
  for (const [name, obj, message] of rows) {
    it(name, () => assert.equal(create(pvcDef, obj).message, message));
  }
});

describe('PersistentVolumeClaim: updates', () => {
  const SPEC_IMMUTABLE =
    'spec: Forbidden: spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims';
  const pending = mustCreate(pvcDef, seedNfsPVC());
  const bound = edit(pending, (o, s) => {
    s.volumeName = 'nfs-pv';
    o.status = { phase: 'Bound', capacity: { storage: '5Gi' }, accessModes: ['ReadWriteOnce'] };
  });
  const expanding = edit(bound, (o, s) => {
    (s.resources as { requests: Record<string, string> }).requests.storage = '10Gi';
  });
  const request = (size: string) => (o: KubeObject, s: Record<string, unknown>) => {
    (s.resources as { requests: Record<string, string> }).requests.storage = size;
  };
  const nilClass = mustCreate(pvcDef, pvc('n', { ...minimal }));
  const betaClass = mustCreate(pvcDef, { ...pvc('b', { ...minimal }), metadata: { name: 'b', namespace: 'default', annotations: { 'volume.beta.kubernetes.io/storage-class': 'slow' } } });

  const rows: Array<[string, KubeObject, KubeObject, string]> = [
    ['4-1 an unbound claim may not change its request', pending, edit(pending, request('10Gi')), `PersistentVolumeClaim "nfs-pvc" is invalid: ${SPEC_IMMUTABLE}`],
    ['4-2 the PV controller may set volumeName once', pending, edit(pending, (o, s) => (s.volumeName = 'nfs-pv')), ''],
    ['4-3 a set volumeName is fixed', bound, edit(bound, (o, s) => (s.volumeName = 'other')), `PersistentVolumeClaim "nfs-pvc" is invalid: ${SPEC_IMMUTABLE}`],
    ['4-4 a bound claim may grow', bound, edit(bound, request('10Gi')), ''],
    [
      '4-5 a bound claim may not shrink to its status capacity',
      expanding,
      edit(expanding, request('5Gi')),
      'PersistentVolumeClaim "nfs-pvc" is invalid: spec.resources.requests.storage: Forbidden: field can not be less than status.capacity',
    ],
    ['4-6 after a failed expansion it may shrink back above the status capacity', expanding, edit(expanding, request('6Gi')), ''],
    ['4-7 the same request written differently is no change', pending, edit(pending, request('5120Mi')), ''],
    ['4-8 changing the storage class is refused', pending, edit(pending, (o, s) => (s.storageClassName = 'fast')), `PersistentVolumeClaim "nfs-pvc" is invalid: ${SPEC_IMMUTABLE}`],
    ['4-9 a claim without class may get one', nilClass, edit(nilClass, (o, s) => (s.storageClassName = 'fast')), ''],
    ['4-10 the beta annotation may move into storageClassName', betaClass, edit(betaClass, (o, s) => (s.storageClassName = 'slow')), ''],
    [
      '4-11 the beta annotation itself is immutable',
      betaClass,
      edit(betaClass, (o) => (o.metadata.annotations = { 'volume.beta.kubernetes.io/storage-class': 'fast' })),
      'PersistentVolumeClaim "b" is invalid: metadata.annotations.volume.beta.kubernetes.io/storage-class: Invalid value: "fast": field is immutable',
    ],
    [
      '4-12 volumeMode changes are refused twice, as upstream does',
      pending,
      edit(pending, (o, s) => (s.volumeMode = 'Block')),
      `PersistentVolumeClaim "nfs-pvc" is invalid: [${SPEC_IMMUTABLE}, volumeMode: Invalid value: "Block": field is immutable]`,
    ],
    ['4-13 a bound claim may switch its VolumeAttributesClass', edit(bound, (o, s) => (s.volumeAttributesClassName = 'gold')), edit(bound, (o, s) => (s.volumeAttributesClassName = 'silver')), ''],
    [
      '4-14 a VolumeAttributesClass may not be cleared',
      edit(bound, (o, s) => (s.volumeAttributesClassName = 'gold')),
      edit(bound, (o, s) => (s.volumeAttributesClassName = '')),
      'PersistentVolumeClaim "nfs-pvc" is invalid: spec.volumeAttributesClassName: Forbidden: update from non-nil value to an empty string is forbidden',
    ],
    ['4-15 labels may change', pending, edit(pending, (o) => (o.metadata.labels = { tier: 'db' })), ''],
  ];
  for (const [name, current, desired, message] of rows) {
    it(name, () => assert.equal(update(pvcDef, current, desired).message, message));
  }

  it('4-16 a main-resource write keeps the stored status', () => {
    const r = update(pvcDef, bound, edit(bound, (o) => (o.status = { phase: 'Lost' })));
    assert.deepEqual(r.obj.status, bound.status);
  });
});

describe('PersistentVolumeClaim: status writes', () => {
  const stored = mustCreate(pvcDef, seedNfsPVC());
  const rows: Array<[string, Record<string, unknown>, string]> = [
    ['5-1 binding: phase, capacity and access modes', { phase: 'Bound', capacity: { storage: '5Gi' }, accessModes: ['ReadWriteOnce'] }, ''],
    [
      '5-2 an unknown resize status names the resource (as upstream does)',
      { phase: 'Bound', allocatedResourceStatuses: { storage: 'Resizing' } },
      'PersistentVolumeClaim "nfs-pvc" is invalid: status.allocatedResourceStatus: Unsupported value: "storage": supported values: "ControllerResizeInProgress", "ControllerResizeInfeasible", "NodeResizeInProgress", "NodeResizeInfeasible", "NodeResizePending"',
    ],
    [
      '5-3 allocated resources other than storage are refused',
      { phase: 'Bound', allocatedResources: { cpu: '1' } },
      'PersistentVolumeClaim "nfs-pvc" is invalid: status.allocatedResources: Unsupported value: "cpu": supported values: "storage"',
    ],
    [
      '5-4 a negative capacity',
      { phase: 'Bound', capacity: { storage: '-1Gi' } },
      'PersistentVolumeClaim "nfs-pvc" is invalid: status.capacity[storage]: Invalid value: -1073741824: must be a valid resource quantity',
    ],
  ];
  for (const [name, status, message] of rows) {
    it(name, () => assert.equal(updateStatus(pvcDef, stored, { ...stored, status }).message, message));
  }

  it('5-5 a status write keeps the spec and canonicalises the capacity', () => {
    const r = updateStatus(pvcDef, stored, { ...stored, spec: {}, status: { phase: 'Bound', capacity: { storage: '5120Mi' } } });
    assert.deepEqual(r.obj.spec, stored.spec);
    assert.deepEqual(r.obj.status, { phase: 'Bound', capacity: { storage: '5Gi' } });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { KubeObject } from '../../apimachinery/index.ts';
import { deepCopy } from '../../apimachinery/index.ts';
import { create, mustCreate, row, update, updateStatus } from '../storage/resource-harness.ts';
import { accessModesAsString, createPersistentVolumeDef, persistentVolumeDef } from './persistent-volume.ts';

const CLOCK = new Date('2024-05-01T10:00:00Z');
const pvDef = createPersistentVolumeDef({ now: () => CLOCK });

/** Seed 001 §2.1, without its `metadata.label` typo (a strict-decoding matter). */
function seedNfsPV(): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name: 'nfs-pv', labels: { app: 'nfs' } },
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

/** Seed 001 §2.3.1: a local PV pinned to a node. */
function seedLocalPV(): KubeObject {
  return {
    metadata: { name: 'nginx-pv' },
    spec: {
      capacity: { storage: '5Gi' },
      volumeMode: 'Filesystem',
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Delete',
      storageClassName: 'local-storage',
      local: { path: '/data/nginx' },
      nodeAffinity: {
        required: {
          nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['k8s-node01'] }] }],
        },
      },
    },
  };
}

function pv(name: string, spec: Record<string, unknown>): KubeObject {
  return { metadata: { name }, spec };
}

const minimal = { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: '/srv/data' } };

describe('PersistentVolume: the seeds are valid and print like kubectl', () => {
  it('1-1 the nfs PV of seed 001 is valid; its row shows the status the object carries', () => {
    const stored = mustCreate(pvDef, seedNfsPV());
    const available = updateStatus(pvDef, stored, { ...stored, status: { phase: 'Available' } });
    assert.equal(available.message, '');
    const obj = { ...available.obj, metadata: { ...available.obj.metadata, creationTimestamp: '2024-05-01T09:00:00Z' } };
    assert.deepEqual(row(pvDef, obj, CLOCK), {
      Name: 'nfs-pv',
      Capacity: '5Gi',
      'Access Modes': 'RWO',
      'Reclaim Policy': 'Recycle',
      Status: 'Available',
      Claim: '',
      StorageClass: 'slow',
      VolumeAttributesClass: '<unset>',
      Reason: '',
      Age: '60m',
      VolumeMode: 'Filesystem',
    });
  });

  it('1-2 the local PV of seed 001 (with node affinity) is valid and prints as kubectl showed it', () => {
    const stored = mustCreate(pvDef, seedLocalPV());
    const available = updateStatus(pvDef, stored, { ...stored, status: { phase: 'Available' } }).obj;
    available.metadata.creationTimestamp = '2024-05-01T09:58:19Z';
    assert.deepEqual(pvDef.table.row(available, CLOCK), [
      'nginx-pv',
      '5Gi',
      'RWO',
      'Delete',
      'Available',
      '',
      'local-storage',
      '<unset>',
      '',
      '101s',
      'Filesystem',
    ]);
  });

  it('1-3 a bound, terminating PV shows Terminating, its claim and the beta class annotation', () => {
    const obj: KubeObject = {
      metadata: {
        name: 'pv-seed',
        creationTimestamp: '2024-05-01T07:00:00Z',
        deletionTimestamp: '2024-05-01T09:59:00Z',
        annotations: { 'volume.beta.kubernetes.io/storage-class': 'beta-class' },
      },
      spec: {
        capacity: { storage: '5Gi' },
        accessModes: ['ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOnce', 'ReadOnlyMany'],
        persistentVolumeReclaimPolicy: 'Delete',
        claimRef: { namespace: 'default', name: 'pvc-seed' },
        storageClassName: 'standard',
        volumeAttributesClassName: 'gold',
      },
      status: { phase: 'Bound', reason: 'Whatever' },
    };
    assert.deepEqual(pvDef.table.row(obj, CLOCK), [
      'pv-seed',
      '5Gi',
      'RWO,ROX,RWX',
      'Delete',
      'Terminating',
      'default/pvc-seed',
      'beta-class',
      'gold',
      'Whatever',
      '3h',
      '<unset>',
    ]);
  });

  it('1-4 a PV without capacity prints 0 (the zero Quantity), every cell is present', () => {
    const cells = pvDef.table.row({ metadata: { name: 'x' }, spec: {} }, CLOCK);
    assert.equal(cells.length, pvDef.table.columns.length);
    assert.equal(cells[1], '0');
    assert.equal(pvDef.table.columns[10].priority, 1);
  });
});

describe('PersistentVolume: access modes print in the fixed order', () => {
  const rows: Array<[string, unknown, string]> = [
    ['all four', ['ReadWriteOncePod', 'ReadWriteMany', 'ReadOnlyMany', 'ReadWriteOnce'], 'RWO,ROX,RWX,RWOP'],
    ['duplicates dropped', ['ReadOnlyMany', 'ReadOnlyMany'], 'ROX'],
    ['unknown ignored', ['Sometimes'], ''],
    ['absent', undefined, ''],
  ];
  for (const [name, modes, want] of rows) {
    it(name, () => assert.equal(accessModesAsString(modes), want));
  }
});

describe('PersistentVolume: defaults and the create strategy', () => {
  it('2-1 reclaim policy Retain, volumeMode Filesystem, hostPath type "" are filled in', () => {
    const { obj } = create(pvDef, pv('p', { ...minimal }));
    const spec = obj.spec as Record<string, unknown>;
    assert.equal(spec.persistentVolumeReclaimPolicy, 'Retain');
    assert.equal(spec.volumeMode, 'Filesystem');
    assert.deepEqual(spec.hostPath, { path: '/srv/data', type: '' });
  });

  it('2-2 capacities are canonical and rounded up to milli units', () => {
    const rows: Array<[string, string]> = [
      ['1024Mi', '1Gi'],
      ['1.5Gi', '1536Mi'],
      ['1000M', '1G'],
      ['1.0001', '1001m'],
      ['5Gi', '5Gi'],
    ];
    for (const [input, want] of rows) {
      const { obj } = create(pvDef, pv('p', { ...minimal, capacity: { storage: input } }));
      assert.equal((obj.spec as { capacity: { storage: string } }).capacity.storage, want, input);
    }
  });

  it('2-3 plugin defaults: rbd pool/user/keyring, iscsi interface, azureDisk, scaleIO', () => {
    const { obj } = create(pvDef, pv('p', { ...minimal, hostPath: undefined, rbd: { monitors: ['m'], image: 'i' } }));
    assert.deepEqual((obj.spec as { rbd: unknown }).rbd, { monitors: ['m'], image: 'i', pool: 'rbd', user: 'admin', keyring: '/etc/ceph/keyring' });
    const az = create(pvDef, pv('p', { ...minimal, hostPath: undefined, azureDisk: { diskName: 'd', diskURI: 'https://x/d.vhd' } }));
    assert.equal(az.message, '');
    assert.deepEqual((az.obj.spec as { azureDisk: unknown }).azureDisk, {
      diskName: 'd',
      diskURI: 'https://x/d.vhd',
      cachingMode: 'ReadWrite',
      fsType: 'ext4',
      readOnly: false,
      kind: 'Shared',
    });
    const iscsi = create(pvDef, pv('p', { ...minimal, hostPath: undefined, iscsi: { targetPortal: '10.0.0.1:3260', iqn: 'iqn.2001-04.com.example:storage', lun: 0 } }));
    assert.equal(iscsi.message, '');
    assert.equal((iscsi.obj.spec as { iscsi: { iscsiInterface: string } }).iscsi.iscsiInterface, 'default');
    const scaleIO = create(pvDef, pv('p', { ...minimal, hostPath: undefined, scaleIO: { gateway: 'g', system: 's', volumeName: 'v', secretRef: { name: 'x' } } }));
    assert.equal(scaleIO.message, '');
    assert.deepEqual((scaleIO.obj.spec as { scaleIO: unknown }).scaleIO, {
      gateway: 'g',
      system: 's',
      volumeName: 'v',
      secretRef: { name: 'x' },
      storageMode: 'ThinProvisioned',
      fsType: 'xfs',
    });
  });

  it('2-4 create resets the status to Pending with the transition time, whatever the client sent', () => {
    const { obj } = create(pvDef, { ...pv('p', { ...minimal }), status: { phase: 'Bound', message: 'hi' } });
    assert.deepEqual(obj.status, { phase: 'Pending', lastPhaseTransitionTime: '2024-05-01T10:00:00Z' });
  });

  it('2-5 the default def uses the real clock', () => {
    const before = Date.now();
    const { obj } = create(persistentVolumeDef, pv('p', { ...minimal }));
    const at = Date.parse((obj.status as { lastPhaseTransitionTime: string }).lastPhaseTransitionTime);
    assert.ok(at >= before - 1000 && at <= Date.now() + 1000);
  });
});

describe('PersistentVolume: the pv-protection finalizer (StorageObjectInUseProtection admission)', () => {
  const withFinalizers = (finalizers: string[] | undefined): KubeObject => ({ metadata: { name: 'p', finalizers }, spec: { ...minimal } });
  const rows: Array<[string, string[] | undefined, string[]]> = [
    ['2-6 a new PV gets kubernetes.io/pv-protection', undefined, ['kubernetes.io/pv-protection']],
    ['2-7 a PV that already asks for it gets it once', ['kubernetes.io/pv-protection'], ['kubernetes.io/pv-protection']],
    ['2-8 other finalizers stay, ours is appended', ['example.com/keep'], ['example.com/keep', 'kubernetes.io/pv-protection']],
    ['2-9 an empty list is filled', [], ['kubernetes.io/pv-protection']],
  ];
  for (const [name, given, want] of rows) {
    it(name, () => {
      const { obj, message } = create(pvDef, withFinalizers(given));
      assert.equal(message, '');
      assert.deepEqual(obj.metadata.finalizers, want);
    });
  }

  it('2-10 an update may remove it (only creates are admitted)', () => {
    const stored = mustCreate(pvDef, withFinalizers(undefined));
    const { obj, message } = update(pvDef, stored, { ...stored, metadata: { ...stored.metadata, finalizers: [] } });
    assert.equal(message, '');
    assert.deepEqual(obj.metadata.finalizers, []);
  });
});

describe('PersistentVolume: update and status strategies', () => {
  const stored = mustCreate(pvDef, pv('p', { ...minimal }));
  const bound = { ...stored, status: { phase: 'Bound', lastPhaseTransitionTime: '2024-01-01T00:00:00Z' } };

  it('3-1 a main-resource write keeps the stored status', () => {
    const r = update(pvDef, bound, { ...bound, status: { phase: 'Failed' }, spec: { ...minimal, persistentVolumeReclaimPolicy: 'Delete' } });
    assert.equal(r.message, '');
    assert.deepEqual(r.obj.status, bound.status);
    assert.equal((r.obj.spec as { persistentVolumeReclaimPolicy: string }).persistentVolumeReclaimPolicy, 'Delete');
  });

  it('3-2 a status write keeps the stored spec', () => {
    const r = updateStatus(pvDef, bound, { ...bound, spec: { ...minimal, capacity: { storage: '9Gi' } }, status: { phase: 'Bound' } });
    assert.equal((r.obj.spec as { capacity: { storage: string } }).capacity.storage, '1Gi');
  });

  const transitions: Array<[string, Record<string, unknown>, string | undefined]> = [
    ['3-3 a phase change without a time stamps now', { phase: 'Released' }, '2024-05-01T10:00:00Z'],
    ['3-4 the same phase without a time keeps the old one', { phase: 'Bound' }, '2024-01-01T00:00:00Z'],
    ['3-5 a phase change resending the old time stamps now', { phase: 'Released', lastPhaseTransitionTime: '2024-01-01T00:00:00Z' }, '2024-05-01T10:00:00Z'],
    ['3-6 a phase change with a new time keeps the client one', { phase: 'Released', lastPhaseTransitionTime: '2024-03-03T00:00:00Z' }, '2024-03-03T00:00:00Z'],
  ];
  for (const [name, status, want] of transitions) {
    it(name, () => {
      const r = updateStatus(pvDef, bound, { ...bound, status });
      assert.equal(r.message, '');
      assert.equal((r.obj.status as { lastPhaseTransitionTime?: string }).lastPhaseTransitionTime, want);
    });
  }
});

describe('PersistentVolume: invalid creates carry the apiserver messages', () => {
  const rows: Array<[string, KubeObject, string]> = [
    [
      '4-1 an empty spec: no access modes, no capacity, no volume type',
      pv('x', {}),
      'PersistentVolume "x" is invalid: [spec.accessModes: Required value, spec.capacity: Required value, spec.capacity: Unsupported value: core.ResourceList(nil): supported values: "storage", spec: Required value: must specify a volume type]',
    ],
    [
      '4-2 missing capacity is required and, as upstream adds, not the supported resource list',
      pv('x', { accessModes: ['ReadWriteOnce'], hostPath: { path: '/a' } }),
      'PersistentVolume "x" is invalid: [spec.capacity: Required value, spec.capacity: Unsupported value: core.ResourceList(nil): supported values: "storage"]',
    ],
    [
      '4-3 an empty capacity map prints as an empty ResourceList',
      pv('x', { ...minimal, capacity: {} }),
      'PersistentVolume "x" is invalid: [spec.capacity: Required value, spec.capacity: Unsupported value: core.ResourceList{}: supported values: "storage"]',
    ],
    [
      '4-4 capacity with another resource',
      pv('x', { ...minimal, capacity: { storage: '1Gi', cpu: '1' } }),
      'PersistentVolume "x" is invalid: spec.capacity: Unsupported value: core.ResourceList{"cpu":"1", "storage":"1Gi"}: supported values: "storage"',
    ],
    ['4-5 zero capacity', pv('x', { ...minimal, capacity: { storage: '0' } }), 'PersistentVolume "x" is invalid: spec.capacity[storage]: Invalid value: "0": must be greater than zero'],
    [
      '4-6 negative capacity is reported twice, as upstream does',
      pv('x', { ...minimal, capacity: { storage: '-1Gi' } }),
      'PersistentVolume "x" is invalid: [spec.capacity[storage]: Invalid value: -1073741824: must be a valid resource quantity, spec.capacity[storage]: Invalid value: "-1Gi": must be greater than zero]',
    ],
    [
      '4-7 an unparsable capacity gets the decoder message',
      pv('x', { ...minimal, capacity: { storage: 'lots' } }),
      `PersistentVolume "x" is invalid: spec.capacity[storage]: Invalid value: "lots": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
    ],
    ['4-8 two volume sources: the second is refused', pv('x', { ...minimal, nfs: { server: 's', path: '/p' } }), 'PersistentVolume "x" is invalid: spec.nfs: Forbidden: may not specify more than 1 volume type'],
    ['4-9 cephfs as the second source is named cephFS', pv('x', { ...minimal, cephfs: { monitors: ['m'] } }), 'PersistentVolume "x" is invalid: spec.cephFS: Forbidden: may not specify more than 1 volume type'],
    [
      '4-10 unsupported access mode',
      pv('x', { ...minimal, accessModes: ['ReadWriteSometimes'] }),
      'PersistentVolume "x" is invalid: spec.accessModes: Unsupported value: "ReadWriteSometimes": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
    ],
    [
      '4-11 ReadWriteOncePod with another mode',
      pv('x', { ...minimal, accessModes: ['ReadWriteOncePod', 'ReadWriteOnce'] }),
      'PersistentVolume "x" is invalid: spec.accessModes: Forbidden: may not use ReadWriteOncePod with other access modes',
    ],
    [
      '4-12 unsupported reclaim policy',
      pv('x', { ...minimal, persistentVolumeReclaimPolicy: 'Keep' }),
      'PersistentVolume "x" is invalid: spec.persistentVolumeReclaimPolicy: Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"',
    ],
    [
      '4-13 unsupported volume mode',
      pv('x', { ...minimal, volumeMode: 'Raw' }),
      'PersistentVolume "x" is invalid: spec.volumeMode: Unsupported value: "Raw": supported values: "Block", "Filesystem"',
    ],
    ['4-14 hostPath without a path', pv('x', { ...minimal, hostPath: {} }), 'PersistentVolume "x" is invalid: spec.hostPath.path: Required value'],
    ['4-15 hostPath with ..', pv('x', { ...minimal, hostPath: { path: '/a/../b' } }), `PersistentVolume "x" is invalid: spec.hostPath.path: Invalid value: "/a/../b": must not contain '..'`],
    [
      '4-16 hostPath with an unknown type',
      pv('x', { ...minimal, hostPath: { path: '/a', type: 'Pipe' } }),
      'PersistentVolume "x" is invalid: spec.hostPath.type: Unsupported value: "Pipe": supported values: "", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"',
    ],
    [
      '4-17 recycling a hostPath of /',
      pv('x', { ...minimal, hostPath: { path: '//' }, persistentVolumeReclaimPolicy: 'Recycle' }),
      `PersistentVolume "x" is invalid: spec.persistentVolumeReclaimPolicy: Forbidden: may not be 'recycle' for a hostPath mount of '/'`,
    ],
    [
      '4-18 local without node affinity',
      pv('x', { ...minimal, hostPath: undefined, local: { path: '/data' } }),
      'PersistentVolume "x" is invalid: spec.nodeAffinity: Required value: Local volume requires node affinity',
    ],
    [
      '4-19 node affinity without required terms',
      pv('x', { ...minimal, nodeAffinity: {} }),
      'PersistentVolume "x" is invalid: spec.nodeAffinity.required: Required value: must specify required node constraints',
    ],
    [
      '4-20 node affinity with no selector terms',
      pv('x', { ...minimal, nodeAffinity: { required: { nodeSelectorTerms: [] } } }),
      'PersistentVolume "x" is invalid: spec.nodeAffinity.required.nodeSelectorTerms: Required value: must have at least one node selector term',
    ],
    [
      '4-21 node affinity requirements: In without values, bad operator, bad value, bad field key',
      pv('x', {
        ...minimal,
        nodeAffinity: {
          required: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  { key: 'zone', operator: 'In' },
                  { key: 'zone', operator: 'Near', values: ['a'] },
                  { key: 'zone', operator: 'In', values: ['not ok'] },
                ],
                matchFields: [{ key: 'metadata.uid', operator: 'In', values: ['u'] }],
              },
            ],
          },
        },
      }),
      'PersistentVolume "x" is invalid: [' +
        "spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn', " +
        'spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[1].operator: Invalid value: "Near": not a valid selector operator, ' +
        `spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[2].values[0]: Invalid value: "not ok": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?'), ` +
        'spec.nodeAffinity.required.nodeSelectorTerms[0].matchFields[0].key: Invalid value: "metadata.uid": not a valid field selector key]',
    ],
    [
      '4-22 nfs without server and with a relative path',
      pv('x', { ...minimal, hostPath: undefined, nfs: { path: 'mnt' } }),
      'PersistentVolume "x" is invalid: [spec.nfs.server: Required value, spec.nfs.path: Invalid value: "mnt": must be an absolute path]',
    ],
    [
      '4-23 csi without driver and volume handle',
      pv('x', { ...minimal, hostPath: undefined, csi: {} }),
      'PersistentVolume "x" is invalid: [spec.csi.driver: Required value, ' +
        `spec.csi.driver: Invalid value: "": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'), ` +
        'spec.csi.volumeHandle: Required value]',
    ],
    [
      '4-24 csi secret reference without namespace',
      pv('x', { ...minimal, hostPath: undefined, csi: { driver: 'csi.example.com', volumeHandle: 'h', nodePublishSecretRef: { name: 's' } } }),
      'PersistentVolume "x" is invalid: spec.csi.nodePublishSecretRef.namespace: Required value',
    ],
    [
      '4-25 a storage class name that is not a DNS subdomain',
      pv('x', { ...minimal, storageClassName: 'Slow_Class' }),
      `PersistentVolume "x" is invalid: spec.storageClassName: Invalid value: "Slow_Class": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    ],
    [
      '4-26 a name that is not a DNS subdomain',
      pv('Bad_Name', { ...minimal }),
      `PersistentVolume "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    ],
    [
      '4-27 the mount-options annotation on a plugin that does not take it',
      { metadata: { name: 'x', annotations: { 'volume.beta.kubernetes.io/mount-options': 'ro' } }, spec: { ...minimal } },
      'PersistentVolume "x" is invalid: metadata.annotations.volume.beta.kubernetes.io/mount-options: Forbidden: may not specify mount options for this volume type',
    ],
    [
      '4-28 a volumeAttributesClassName needs a CSI volume',
      pv('x', { ...minimal, volumeAttributesClassName: 'gold' }),
      'PersistentVolume "x" is invalid: spec.csi: Required value: has to be specified when using volumeAttributesClassName',
    ],
    [
      '4-29 iscsi with a malformed iqn and lun',
      pv('x', { ...minimal, hostPath: undefined, iscsi: { targetPortal: 'p:3260', iqn: 'iqn.bad', lun: 300 } }),
      'PersistentVolume "x" is invalid: [spec.iscsi.iqn: Invalid value: "iqn.bad": must be valid format, spec.iscsi.lun: Invalid value: 300: must be between 0 and 255, inclusive]',
    ],
    [
      '4-30 gcePersistentDisk errors are reported under persistentDisk, as upstream does',
      pv('x', { ...minimal, hostPath: undefined, gcePersistentDisk: {} }),
      'PersistentVolume "x" is invalid: spec.persistentDisk.pdName: Required value',
    ],
  ];
  for (const [name, obj, message] of rows) {
    it(name, () => assert.equal(create(pvDef, obj).message, message));
  }

  it('4-31 every cause keeps its field and reason', () => {
    const r = create(pvDef, pv('x', { accessModes: ['ReadWriteOnce'], hostPath: { path: '/a' } }));
    assert.deepEqual(
      r.errors.map((e) => [e.type, e.field]),
      [
        ['FieldValueRequired', 'spec.capacity'],
        ['FieldValueNotSupported', 'spec.capacity'],
      ],
    );
  });
});

describe('PersistentVolume: updates', () => {
  const nfs = mustCreate(pvDef, seedNfsPV());
  const local = mustCreate(pvDef, seedLocalPV());
  const csi = mustCreate(pvDef, pv('c', { ...minimal, hostPath: undefined, csi: { driver: 'csi.example.com', volumeHandle: 'h' } }));

  function edit(obj: KubeObject, fn: (spec: Record<string, unknown>) => void): KubeObject {
    const next = deepCopy(obj);
    fn(next.spec as Record<string, unknown>);
    return next;
  }

  const rows: Array<[string, KubeObject, KubeObject, string]> = [
    ['5-1 capacity, reclaim policy and class may change', nfs, edit(nfs, (s) => Object.assign(s, { capacity: { storage: '10Gi' }, persistentVolumeReclaimPolicy: 'Retain', storageClassName: 'fast' })), ''],
    [
      '5-2 the volume source is immutable',
      nfs,
      edit(nfs, (s) => Object.assign(s, { nfs: { path: '/mnt/other', server: '192.168.3.103' } })),
      'PersistentVolume "nfs-pv" is invalid: spec.persistentvolumesource: Forbidden: spec.persistentvolumesource is immutable after creation',
    ],
    ['5-3 volumeMode is immutable (at the bare path upstream uses)', nfs, edit(nfs, (s) => Object.assign(s, { volumeMode: 'Block' })), 'PersistentVolume "nfs-pv" is invalid: volumeMode: Invalid value: "Block": field is immutable'],
    [
      '5-4 resending an equal node affinity is not a change',
      local,
      edit(local, (s) =>
        Object.assign(s, { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['k8s-node01'] }] }] } } }),
      ),
      '',
    ],
    ['5-5 a CSI volume may gain a controllerExpandSecretRef', csi, edit(csi, (s) => Object.assign(s.csi as object, { controllerExpandSecretRef: { name: 'x', namespace: 'y' } })), ''],
    ['5-6 a spec error found on update is reported once', nfs, edit(nfs, (s) => Object.assign(s, { accessModes: [] })), 'PersistentVolume "nfs-pv" is invalid: spec.accessModes: Required value'],
    ['5-7 volumeAttributesClassName may not be removed', edit(csi, (s) => Object.assign(s, { volumeAttributesClassName: 'gold' })), csi, 'PersistentVolume "c" is invalid: spec.volumeAttributesClassName: Forbidden: update from non-nil value to nil is forbidden'],
    ['5-9 a zero value sent explicitly (readOnly: false) is no change to the source', nfs, edit(nfs, (s) => Object.assign(s.nfs as object, { readOnly: false })), ''],
  ];
  for (const [name, current, desired, message] of rows) {
    it(name, () => assert.equal(update(pvDef, current, desired).message, message));
  }

  it('5-8 a node affinity key may move from a beta label to its GA name, and nothing else may change', () => {
    const betaPV = mustCreate(pvDef, edit(seedLocalPV(), (s) => Object.assign(s, { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'failure-domain.beta.kubernetes.io/zone', operator: 'In', values: ['a'] }] }] } } })));
    const toGA = edit(betaPV, (s) => Object.assign(s, { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['a'] }] }] } } }));
    assert.equal(update(pvDef, betaPV, toGA).message, '');
    const otherNode = edit(local, (s) => Object.assign(s, { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['k8s-node02'] }] }] } } }));
    const message = update(pvDef, local, otherNode).message;
    assert.match(message, /^PersistentVolume "nginx-pv" is invalid: nodeAffinity: Invalid value: \{.*k8s-node02.*\}: field is immutable, except for updating from beta label to GA$/);
  });
});

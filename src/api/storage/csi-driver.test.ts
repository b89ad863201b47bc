import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { KubeObject } from '../../apimachinery/index.ts';
import { deepCopy } from '../../apimachinery/index.ts';
import { csiDriverDef } from './csi-driver.ts';
import { create, mustCreate, row, update } from './resource-harness.ts';

const NOW = new Date('2024-05-01T10:00:00Z');

function driver(name: string, spec?: Record<string, unknown>): KubeObject {
  const obj: KubeObject = { metadata: { name } };
  if (spec !== undefined) obj.spec = spec;
  return obj;
}

describe('CSIDriver: defaults and the table', () => {
  it('1-1 an empty spec gets every default the apiserver writes', () => {
    const { obj, message } = create(csiDriverDef, driver('hostpath.csi.volplane.io'));
    assert.equal(message, '');
    assert.deepEqual(obj.spec, {
      attachRequired: true,
      podInfoOnMount: false,
      storageCapacity: false,
      fsGroupPolicy: 'ReadWriteOnceWithFSType',
      volumeLifecycleModes: ['Persistent'],
      requiresRepublish: false,
      seLinuxMount: false,
    });
  });

  it('1-2 the row shows booleans, token audiences and modes', () => {
    const stored = mustCreate(
      csiDriverDef,
      driver('secrets.csi.k8s.io', {
        attachRequired: false,
        podInfoOnMount: true,
        tokenRequests: [{ audience: 'vault' }, { audience: 'aws', expirationSeconds: 3600 }],
        volumeLifecycleModes: ['Ephemeral', 'Persistent'],
      }),
    );
    stored.metadata.creationTimestamp = '2024-04-30T10:00:00Z';
    assert.deepEqual(row(csiDriverDef, stored, NOW), {
      Name: 'secrets.csi.k8s.io',
      AttachRequired: false,
      PodInfoOnMount: true,
      StorageCapacity: false,
      TokenRequests: 'vault,aws',
      RequiresRepublish: false,
      Modes: 'Ephemeral,Persistent',
      Age: '24h',
    });
  });

  it('1-3 an undefaulted object prints the printer defaults, <unset> and <none>', () => {
    assert.deepEqual(csiDriverDef.table.row(driver('d'), NOW), ['d', true, false, false, '<unset>', false, '<none>', '<unknown>']);
  });

  it('1-4 spec changes bump the generation (the registry does it for hasGeneration kinds)', () => {
    assert.equal(csiDriverDef.hasGeneration, true);
  });
});

describe('CSIDriver: validation', () => {
  const rows: Array<[string, KubeObject, string]> = [
    [
      '2-1 an unknown fsGroupPolicy',
      driver('d', { fsGroupPolicy: 'Sometimes' }),
      'CSIDriver.storage.k8s.io "d" is invalid: spec.fsGroupPolicy: Unsupported value: "Sometimes": supported values: "File", "None", "ReadWriteOnceWithFSType"',
    ],
    [
      '2-2 an unknown lifecycle mode',
      driver('d', { volumeLifecycleModes: ['Persistent', 'Forever'] }),
      'CSIDriver.storage.k8s.io "d" is invalid: spec.volumeLifecycleModes: Unsupported value: "Forever": supported values: "Persistent", "Ephemeral"',
    ],
    [
      '2-3 token requests: a repeated audience and too short a lifetime',
      driver('d', { tokenRequests: [{ audience: 'a', expirationSeconds: 60 }, { audience: 'a' }] }),
      'CSIDriver.storage.k8s.io "d" is invalid: [spec.tokenRequests[0].expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes, spec.tokenRequests[1].audience: Duplicate value: "a"]',
    ],
    [
      '2-4 the name must be a DNS subdomain',
      driver('Bad_Driver'),
      `CSIDriver.storage.k8s.io "Bad_Driver" is invalid: metadata.name: Invalid value: "Bad_Driver": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    ],
  ];
  for (const [name, obj, message] of rows) {
    it(name, () => assert.equal(create(csiDriverDef, obj).message, message));
  }
});

describe('CSIDriver: updates', () => {
  const stored = mustCreate(csiDriverDef, driver('d', { volumeLifecycleModes: ['Persistent'] }));
  function edit(fn: (spec: Record<string, unknown>) => void): KubeObject {
    const next = deepCopy(stored);
    fn(next.spec as Record<string, unknown>);
    return next;
  }
  const rows: Array<[string, KubeObject, string]> = [
    ['3-1 podInfoOnMount, storageCapacity, fsGroupPolicy and tokens may change', edit((s) => Object.assign(s, { podInfoOnMount: true, storageCapacity: true, fsGroupPolicy: 'File', tokenRequests: [{ audience: 'x' }] })), ''],
    ['3-2 attachRequired is fixed (reported at upstream\'s spec.attachedRequired)', edit((s) => (s.attachRequired = false)), 'CSIDriver.storage.k8s.io "d" is invalid: spec.attachedRequired: Invalid value: false: field is immutable'],
    [
      '3-3 the lifecycle modes are fixed, printed as the Go slice',
      edit((s) => (s.volumeLifecycleModes = ['Persistent', 'Ephemeral'])),
      'CSIDriver.storage.k8s.io "d" is invalid: spec.volumeLifecycleModes: Invalid value: []storage.VolumeLifecycleMode{"Persistent", "Ephemeral"}: field is immutable',
    ],
    ['3-4 omitting defaulted fields is no change', edit((s) => Object.assign(s, { attachRequired: undefined, volumeLifecycleModes: undefined })), ''],
  ];
  for (const [name, desired, message] of rows) {
    it(name, () => assert.equal(update(csiDriverDef, stored, desired).message, message));
  }
});

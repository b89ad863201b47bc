import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { KubeObject } from '../../apimachinery/index.ts';
import { create, mustCreate, row, update } from './resource-harness.ts';
import { volumeAttributesClassDef as vacDef } from './volume-attributes-class.ts';

const NOW = new Date('2024-05-01T10:00:00Z');

function vac(fields: Record<string, unknown>, annotations?: Record<string, string>): KubeObject {
  return { metadata: { name: 'gold', annotations }, ...fields };
}

const gold = { driverName: 'hostpath.csi.volplane.io', parameters: { iops: '3000' } };

describe('VolumeAttributesClass', () => {
  it('1-1 a valid class prints NAME DRIVERNAME AGE', () => {
    const stored = mustCreate(vacDef, vac(gold));
    stored.metadata.creationTimestamp = '2024-05-01T09:59:00Z';
    assert.deepEqual(row(vacDef, stored, NOW), { Name: 'gold', DriverName: 'hostpath.csi.volplane.io', Age: '60s' });
    assert.deepEqual(vacDef.shortNames, ['vac']);
  });

  it('1-2 the alpha default annotation marks the default', () => {
    const cells = vacDef.table.row(vac(gold, { 'volumeattributesclass.alpha.kubernetes.io/is-default-class': 'true' }), NOW);
    assert.equal(cells[0], 'gold (default)');
  });

  const rows: Array<[string, KubeObject, string]> = [
    [
      '2-1 a driver and at least one parameter are required',
      vac({}),
      'VolumeAttributesClass.storage.k8s.io "gold" is invalid: [driverName: Required value, parameters: Required value: must contain at least one key/value pair]',
    ],
  ];
  for (const [name, obj, message] of rows) {
    it(name, () => assert.equal(create(vacDef, obj).message, message));
  }

  const stored = mustCreate(vacDef, vac(gold));
  const updates: Array<[string, KubeObject, string]> = [
    ['3-1 labels may change', { ...vac(gold), metadata: { name: 'gold', labels: { tier: 'a' } } }, ''],
    ['3-2 parameters are fixed', vac({ ...gold, parameters: { iops: '6000' } }), 'VolumeAttributesClass.storage.k8s.io "gold" is invalid: parameters: Forbidden: updates to parameters are forbidden.'],
    [
      '3-3 the driver is fixed; an emptied class is also reported as such',
      vac({ driverName: 'other.example.com', parameters: {} }),
      'VolumeAttributesClass.storage.k8s.io "gold" is invalid: [driverName: Forbidden: updates to driverName are forbidden., parameters: Forbidden: updates to parameters are forbidden., parameters: Required value: must contain at least one key/value pair]',
    ],
  ];
  for (const [name, desired, message] of updates) {
    it(name, () => assert.equal(update(vacDef, stored, desired).message, message));
  }
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import type { KubeObject } from '../../apimachinery/index.ts';
import { leaseDef } from './lease.ts';

function lease(spec: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'node-1', namespace: 'kube-node-lease', creationTimestamp: '2024-05-01T11:00:00Z' },
    spec,
  };
}

describe('lease', () => {
  it('1-1 row shows the holder', () => {
    assert.deepEqual(leaseDef.table.row(lease({ holderIdentity: 'node-1' }), new Date('2024-05-01T12:00:00Z')), ['node-1', 'node-1', '60m']);
    assert.deepEqual(leaseDef.table.row(lease({}), new Date('2024-05-01T12:00:00Z')), ['node-1', '', '60m']);
  });

  const rows: { name: string; spec: Record<string, unknown>; want: string[] }[] = [
    { name: '2-1 a node heartbeat', spec: { holderIdentity: 'node-1', leaseDurationSeconds: 40, renewTime: '2024-05-01T11:59:59.000000Z' }, want: [] },
    { name: '2-2 zero duration', spec: { leaseDurationSeconds: 0 }, want: ['spec.leaseDurationSeconds: must be greater than 0'] },
    { name: '2-3 negative transitions', spec: { leaseTransitions: -1 }, want: ['spec.leaseTransitions: must be greater than or equal to 0'] },
    { name: '2-4 preferred holder without strategy', spec: { preferredHolder: 'x' }, want: ['spec.preferredHolder: may only be specified if `strategy` is defined'] },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const errs = leaseDef.validate?.(lease(row.spec), undefined) ?? [];
      assert.deepEqual(errs.map((e) => `${e.field}: ${e.detail ?? ''}`), row.want);
    });
  }
});

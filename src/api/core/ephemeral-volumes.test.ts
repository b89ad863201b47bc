import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../apimachinery/index.ts';
import { ephemeralClaimName, volumeIsForPod } from './ephemeral-volumes.ts';

const pod: KubeObject = { metadata: { name: 'app', namespace: 'ns', uid: 'pod-uid' } };
const claim = (uid: string, controller: boolean): KubeObject => ({
  metadata: { name: 'app-scratch', ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'app', uid, controller }] },
});

describe('ephemeral volumes', () => {
  it('1 the claim of volume V of pod P is P-V', () => assert.equal(ephemeralClaimName(pod, { name: 'scratch' }), 'app-scratch'));

  const rows: { name: string; claim: KubeObject; want: boolean }[] = [
    { name: '2 controlled by the pod: the pod\'s', claim: claim('pod-uid', true), want: true },
    { name: '3 owned but not controlled by the pod: not the pod\'s', claim: claim('pod-uid', false), want: false },
    { name: '4 controlled by another pod of the same name: not the pod\'s', claim: claim('older-uid', true), want: false },
    { name: '5 no owners: not the pod\'s', claim: { metadata: { name: 'app-scratch' } }, want: false },
  ];
  for (const row of rows) it(row.name, () => assert.equal(volumeIsForPod(pod, row.claim), row.want));
});

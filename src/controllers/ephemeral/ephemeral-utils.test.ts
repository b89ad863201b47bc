import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { claimNotForPod, ephemeralClaimName, newEphemeralClaim, podNeedsWork, type Pod } from './ephemeral-utils.ts';

const pod: Pod = {
  metadata: { name: 'app', namespace: 'ns', uid: 'pod-uid' },
  spec: {
    volumes: [
      { name: 'scratch', ephemeral: { volumeClaimTemplate: { metadata: { labels: { a: 'b' } }, spec: { accessModes: ['ReadWriteOnce'] } } } },
      { name: 'tmp', emptyDir: {} },
    ],
  },
};

describe('ephemeral-utils', () => {
  it('1 the claim is <pod>-<volume>, from the template, controlled by the pod', () => {
    const v = pod.spec!.volumes![0];
    assert.equal(ephemeralClaimName(pod, v), 'app-scratch');
    assert.deepEqual(newEphemeralClaim(pod, v), {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: 'app-scratch',
        namespace: 'ns',
        labels: { a: 'b' },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'app', uid: 'pod-uid', controller: true, blockOwnerDeletion: true }],
      },
      spec: { accessModes: ['ReadWriteOnce'] },
    });
  });
  it('2 only pods with ephemeral volumes that are not being deleted need work', () => {
    assert.equal(podNeedsWork(pod), true);
    assert.equal(podNeedsWork({ ...pod, metadata: { ...pod.metadata, deletionTimestamp: '2025-01-01T00:00:00Z' } }), false);
    assert.equal(podNeedsWork({ metadata: { name: 'x' }, spec: { volumes: [{ name: 'tmp', emptyDir: {} }] } }), false);
  });
  it('3 a claim is the pod\'s only when the pod is its controller', () => {
    const claim = { metadata: { name: 'app-scratch', namespace: 'ns', ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'app', uid: 'pod-uid', controller: true }] } };
    assert.equal(claimNotForPod(pod, claim), undefined);
    assert.equal(
      claimNotForPod(pod, { metadata: { name: 'app-scratch', namespace: 'ns', ownerReferences: [{ ...claim.metadata.ownerReferences[0], controller: false }] } }),
      'PVC ns/app-scratch was not created for pod ns/app (pod is not owner)',
    );
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../apimachinery/index.ts';
import { claimsFor, computeStatus, desiredClaimOwnerRefs, newStatefulSetPod, parentAndOrdinal, revisionName, type Pod, type RetentionPolicy, type StatefulSet } from './stateful-set-utils.ts';

function set(replicas: number, policy?: RetentionPolicy): StatefulSet {
  return {
    metadata: { name: 'web', namespace: 'default', uid: 'set-uid', generation: 2 },
    spec: {
      replicas,
      serviceName: 'nginx',
      selector: { matchLabels: { app: 'nginx' } },
      template: { metadata: { labels: { app: 'nginx' } }, spec: { containers: [{ name: 'c' }], volumes: [{ name: 'data', emptyDir: {} }, { name: 'cfg', emptyDir: {} }] } },
      volumeClaimTemplates: [{ metadata: { name: 'data', labels: { tier: 'db' } }, spec: { accessModes: ['ReadWriteOnce'] } }],
      persistentVolumeClaimRetentionPolicy: policy,
    },
  };
}

const pod = (name: string, uid: string): KubeObject => ({ metadata: { name, uid } });
const claim = (refs: KubeObject['metadata']['ownerReferences'] = []): KubeObject => ({ metadata: { name: 'data-web-1', ownerReferences: refs } });
const setRef = { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'set-uid', controller: true, blockOwnerDeletion: true };
const podRef = (uid: string) => ({ apiVersion: 'v1', kind: 'Pod', name: 'web-1', uid, controller: true, blockOwnerDeletion: true });

describe('names and the pod', () => {
  it('1 parses ordinals from names', () => {
    assert.deepEqual(parentAndOrdinal({ metadata: { name: 'my-web-12' } }), { parent: 'my-web', ordinal: 12 });
    assert.equal(parentAndOrdinal({ metadata: { name: 'web' } }).ordinal, -1);
  });
  it('2 the pod of ordinal 1 has its identity, and a claim volume replacing the template volume of that name', () => {
    const p = newStatefulSetPod(set(3), 1, 'web-abc');
    assert.equal(p.metadata.name, 'web-1');
    assert.deepEqual(p.metadata.labels, {
      app: 'nginx',
      'statefulset.kubernetes.io/pod-name': 'web-1',
      'apps.kubernetes.io/pod-index': '1',
      'controller-revision-hash': 'web-abc',
    });
    assert.deepEqual(p.spec?.volumes, [{ name: 'data', persistentVolumeClaim: { claimName: 'data-web-1' } }, { name: 'cfg', emptyDir: {} }]);
    assert.equal(p.spec?.hostname, 'web-1');
    assert.equal(p.spec?.subdomain, 'nginx');
  });
  it('3 claims carry the template labels plus the selector', () => {
    const c = claimsFor(set(3), 2).get('data');
    assert.equal(c?.metadata.name, 'data-web-2');
    assert.deepEqual(c?.metadata.labels, { tier: 'db', app: 'nginx' });
  });
  it('4 the revision changes with the template, not with collisionCount absent vs 0', () => {
    const a = set(1);
    assert.equal(revisionName(a), revisionName({ ...a, status: { replicas: 0, availableReplicas: 0, collisionCount: 0 } }));
    const b = set(1);
    b.spec!.template!.metadata!.labels = { app: 'nginx', v: '2' };
    assert.notEqual(revisionName(a), revisionName(b));
    assert.match(revisionName(a), /^web-[bcdfghjklmnpqrstvwxz2456789]+$/);
  });
});

describe('desiredClaimOwnerRefs', () => {
  const rows: { name: string; policy?: RetentionPolicy; replicas: number; claim: KubeObject; want: unknown }[] = [
    { name: '1 Retain/Retain, no refs: nothing to do', replicas: 3, claim: claim(), want: undefined },
    { name: '2 Retain/Retain removes a ref we left', replicas: 3, claim: claim([setRef]), want: [] },
    { name: '3 whenDeleted Delete: the set controls the claim', policy: { whenDeleted: 'Delete', whenScaled: 'Retain' }, replicas: 3, claim: claim(), want: [setRef] },
    { name: '4 whenDeleted Delete, already so', policy: { whenDeleted: 'Delete', whenScaled: 'Retain' }, replicas: 3, claim: claim([setRef]), want: undefined },
    { name: '5 whenScaled Delete, in range: no refs', policy: { whenDeleted: 'Retain', whenScaled: 'Delete' }, replicas: 3, claim: claim(), want: undefined },
    { name: '6 whenScaled Delete, scaled away: the pod controls the claim', policy: { whenDeleted: 'Retain', whenScaled: 'Delete' }, replicas: 1, claim: claim(), want: [podRef('pod-uid')] },
    { name: '7 both Delete, scaled away: the set ref gives way to the pod', policy: { whenDeleted: 'Delete', whenScaled: 'Delete' }, replicas: 1, claim: claim([setRef]), want: [podRef('pod-uid')] },
    { name: '8 a stale ref to an older pod of that name: left alone', policy: { whenDeleted: 'Retain', whenScaled: 'Delete' }, replicas: 1, claim: claim([podRef('old-uid')]), want: undefined },
    {
      name: '9 another controller: not taken over',
      policy: { whenDeleted: 'Delete', whenScaled: 'Retain' },
      replicas: 3,
      claim: claim([{ apiVersion: 'v1', kind: 'Pod', name: 'other', uid: 'x', controller: true }]),
      want: undefined,
    },
  ];
  for (const row of rows) it(row.name, () => assert.deepEqual(desiredClaimOwnerRefs(row.claim, set(row.replicas, row.policy), pod('web-1', 'pod-uid')), row.want));
});

describe('computeStatus', () => {
  const ready = (name: string, rev: string): Pod => ({
    metadata: { name, labels: { 'controller-revision-hash': rev } },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  });
  it('1 all updated and ready: the update revision becomes current', () => {
    const s = computeStatus(set(2), [ready('web-0', 'new'), ready('web-1', 'new')], 'old', 'new', 0);
    assert.deepEqual(s, { observedGeneration: 2, replicas: 2, readyReplicas: 2, currentReplicas: 2, updatedReplicas: 2, availableReplicas: 2, currentRevision: 'new', updateRevision: 'new', collisionCount: 0 });
  });
  it('2 a pending pod: counted in replicas only', () => {
    const s = computeStatus(set(2), [ready('web-0', 'r'), { metadata: { name: 'web-1', labels: { 'controller-revision-hash': 'r' } }, status: { phase: 'Pending' } }], 'r', 'r', 0);
    assert.equal(s.replicas, 2);
    assert.equal(s.readyReplicas, 1);
    assert.equal(s.currentReplicas, 2);
    assert.equal(s.availableReplicas, 1);
  });
});

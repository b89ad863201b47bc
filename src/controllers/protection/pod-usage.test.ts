// The rules that decide whether a pod holds a claim, row by row.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KubeObject } from '../../apimachinery/index.ts';
import { podPvcIndexValues, podUsesPVC, type Pod, type PodVolume } from './pod-usage.ts';

const claimVolume = (name: string, claimName: string): PodVolume => ({ name, persistentVolumeClaim: { claimName } });
const ephemeralVolume = (name: string): PodVolume => ({ name, ephemeral: { volumeClaimTemplate: { spec: {} } } });

function pod(volumes: PodVolume[], extra: { phase?: string; nodeName?: string; deletionTimestamp?: string; grace?: number; namespace?: string } = {}): Pod {
  return {
    metadata: {
      name: 'web',
      namespace: extra.namespace ?? 'ns',
      uid: 'pod-uid',
      deletionTimestamp: extra.deletionTimestamp,
      deletionGracePeriodSeconds: extra.grace,
    },
    spec: { nodeName: extra.nodeName, volumes },
    status: { phase: extra.phase ?? 'Running' },
  };
}

function claim(name: string, ownerUid?: string, controller = true): KubeObject {
  return {
    metadata: {
      name,
      namespace: 'ns',
      ownerReferences: ownerUid === undefined ? undefined : [{ apiVersion: 'v1', kind: 'Pod', name: 'web', uid: ownerUid, controller }],
    },
  };
}

describe('podUsesPVC', () => {
  const rows: Array<[string, Pod, KubeObject, boolean]> = [
    ['1 a running pod with a persistentVolumeClaim volume uses the claim', pod([claimVolume('data', 'c1')]), claim('c1'), true],
    ['2 a pod does not use a claim it does not name', pod([claimVolume('data', 'c1')]), claim('c2'), false],
    ['3 a Pending, unscheduled pod uses it (it may still start)', pod([claimVolume('data', 'c1')], { phase: 'Pending' }), claim('c1'), true],
    ['4 a Succeeded pod no longer uses it', pod([claimVolume('data', 'c1')], { phase: 'Succeeded', nodeName: 'n1' }), claim('c1'), false],
    ['5 a Failed pod no longer uses it', pod([claimVolume('data', 'c1')], { phase: 'Failed', nodeName: 'n1' }), claim('c1'), false],
    ['6 a pod in its grace period still uses it', pod([claimVolume('data', 'c1')], { nodeName: 'n1', deletionTimestamp: '2024-05-01T10:00:00Z', grace: 30 }), claim('c1'), true],
    ['7 a pod shut down (deleted with grace 0) no longer uses it', pod([claimVolume('data', 'c1')], { nodeName: 'n1', deletionTimestamp: '2024-05-01T10:00:00Z', grace: 0 }), claim('c1'), false],
    ['8 a pod in another namespace does not use it', pod([claimVolume('data', 'c1')], { namespace: 'other' }), claim('c1'), false],
    ['9 an ephemeral volume uses <pod>-<volume> when the pod owns the claim', pod([ephemeralVolume('scratch')]), claim('web-scratch', 'pod-uid'), true],
    ['10 an ephemeral volume does not use a same-named claim owned by another object', pod([ephemeralVolume('scratch')]), claim('web-scratch', 'someone-else'), false],
    ['11 an ephemeral volume does not use a same-named claim without an owner', pod([ephemeralVolume('scratch')]), claim('web-scratch'), false],
    ['12 an owner reference that is not the controller does not count', pod([ephemeralVolume('scratch')]), claim('web-scratch', 'pod-uid', false), false],
    ['13 a Succeeded pod no longer uses its ephemeral claim', pod([ephemeralVolume('scratch')], { phase: 'Succeeded' }), claim('web-scratch', 'pod-uid'), false],
    ['14 other volume kinds use no claim', pod([{ name: 'tmp' }, { name: 'cfg' }]), claim('tmp'), false],
    ['15 the claim is found among several volumes', pod([{ name: 'tmp' }, claimVolume('a', 'c0'), claimVolume('b', 'c1')]), claim('c1'), true],
  ];
  for (const [name, p, c, want] of rows) it(name, () => assert.equal(podUsesPVC(p, c), want));
});

describe('podPvcIndexValues', () => {
  const rows: Array<[string, Pod, string[]]> = [
    ['1 one value per claim volume, namespaced', pod([claimVolume('a', 'c1'), claimVolume('b', 'c2')]), ['ns/c1', 'ns/c2']],
    ['2 an ephemeral volume is indexed under <pod>-<volume>', pod([ephemeralVolume('scratch')]), ['ns/web-scratch']],
    ['3 other volumes and empty claim names are not indexed', pod([{ name: 'tmp' }, claimVolume('x', '')]), []],
    ['4 a terminated pod is still indexed (the rules are checked at lookup)', pod([claimVolume('a', 'c1')], { phase: 'Succeeded' }), ['ns/c1']],
    ['5 a pod without volumes has no values', { metadata: { name: 'p', namespace: 'ns' } }, []],
  ];
  for (const [name, p, want] of rows) it(name, () => assert.deepEqual(podPvcIndexValues(p), want));
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject, OwnerReference } from '../../apimachinery/index.ts';
import { controllerRefOf, isControlledBy, newControllerRef } from './owner-references.ts';

const ref = (uid: string, controller?: boolean): OwnerReference => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `rs-${uid}`, uid, ...(controller === undefined ? {} : { controller }) });
const obj = (uid: string | undefined, ownerReferences?: OwnerReference[]): KubeObject => ({ metadata: { name: 'x', uid, ownerReferences } });

describe('controllerRefOf', () => {
  const rows: { name: string; refs?: OwnerReference[]; want: string | undefined }[] = [
    { name: '1 no ownerReferences: none', refs: undefined, want: undefined },
    { name: '2 owners without controller: none', refs: [ref('a'), ref('b', false)], want: undefined },
    { name: '3 the one with controller: true', refs: [ref('a'), ref('b', true)], want: 'b' },
  ];
  for (const row of rows) it(row.name, () => assert.equal(controllerRefOf(obj('x', row.refs))?.uid, row.want));
});

describe('newControllerRef', () => {
  it('1 names the owner, sets controller and blockOwnerDeletion', () => {
    assert.deepEqual(newControllerRef({ metadata: { name: 'web', uid: 'u1' } }, 'apps/v1', 'StatefulSet'), {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      name: 'web',
      uid: 'u1',
      controller: true,
      blockOwnerDeletion: true,
    });
  });
});

describe('isControlledBy', () => {
  const rows: { name: string; refs?: OwnerReference[]; owner: string | undefined; want: boolean }[] = [
    { name: '1 the controller reference names the owner', refs: [ref('p', true)], owner: 'p', want: true },
    { name: '2 the owner is only a non-controlling owner', refs: [ref('p'), ref('q', true)], owner: 'p', want: false },
    { name: '3 no controller at all', refs: [ref('p')], owner: 'p', want: false },
    { name: '4 an owner without a uid controls nothing', refs: [ref('', true)], owner: undefined, want: false },
  ];
  for (const row of rows) it(row.name, () => assert.equal(isControlledBy(obj('c', row.refs), obj(row.owner)), row.want));
});

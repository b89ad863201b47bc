// The watch cache's key order: every prefix lists what a sorted scan of all
// keys would, and a new key moves only the later keys of its own resource.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SortedKeyIndex } from './sorted-key-index.ts';

const KEYS = [
  '/registry/core/persistentvolumes/pv-b',
  '/registry/core/persistentvolumes/pv-a',
  '/registry/core/persistentvolumeclaims/default/data',
  '/registry/core/persistentvolumeclaims/other/data',
  '/registry/core/persistentvolumeclaims/default/logs',
  '/registry/core/pods/default/web-0',
  '/registry/core/podtemplates/default/t',
  '/registry/storage.k8s.io/storageclasses/fast',
  '/registry/coordination.k8s.io/leases/kube-system/volplane',
  // Shorter keys than the API server writes (as the storage conformance tests use).
  '/registry/pods/a',
  '/registry/pods/ns/b',
  '/short',
];

describe('SortedKeyIndex lists a prefix as a sorted scan of every key would', () => {
  const prefixes = [
    ['a resource', '/registry/core/persistentvolumes/'],
    ['a namespace of a resource', '/registry/core/persistentvolumeclaims/default/'],
    ['a group, across its resources', '/registry/core/'],
    ['a prefix ending inside a resource name', '/registry/core/pod'],
    ['everything', '/registry/'],
    ['the root', '/'],
    ['short keys', '/registry/pods/'],
    ['nothing there', '/registry/apps/deployments/'],
  ] as const;
  for (const [name, prefix] of prefixes) {
    it(name, () => {
      const index = new SortedKeyIndex();
      for (const key of KEYS) index.insert(key);
      const want = KEYS.filter((k) => k.startsWith(prefix)).sort();
      assert.deepEqual(index.keys(prefix), want);
    });
  }

  it('after removals, and with a key inserted twice', () => {
    const index = new SortedKeyIndex();
    for (const key of KEYS) index.insert(key);
    index.insert(KEYS[0]!);
    index.remove('/registry/core/persistentvolumeclaims/default/data');
    index.remove('/registry/core/nothing/here');
    assert.deepEqual(
      index.keys('/registry/core/persistentvolumeclaims/'),
      ['/registry/core/persistentvolumeclaims/default/logs', '/registry/core/persistentvolumeclaims/other/data'],
    );
    assert.equal(index.keys('/registry/core/persistentvolumes/').length, 2);
  });
});

describe('SortedKeyIndex moves only the keys of one resource', () => {
  it('claims created beside 10,000 volumes move no volume', () => {
    const index = new SortedKeyIndex();
    for (let i = 0; i < 10_000; i++) index.insert(`/registry/core/persistentvolumes/pv-${String(i).padStart(5, '0')}`);
    const before = index.moved;
    // `persistentvolumeclaims` sorts before `persistentvolumes`, in the same group.
    for (let i = 0; i < 100; i++) index.insert(`/registry/core/persistentvolumeclaims/default/claim-${String(i).padStart(3, '0')}`);
    assert.equal(index.moved - before, 0);
    assert.equal(index.keys('/registry/core/').length, 10_100);
  });
});

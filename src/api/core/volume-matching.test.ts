import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VolumeIndex, checkNodeAffinity, checkVolumeSatisfyClaim, findMatchingVolume, type MatchOptions } from './volume-matching.ts';
import type { PersistentVolume, PersistentVolumeAccessMode, PersistentVolumeClaim } from './volume-types.ts';

interface VolumeOpts {
  phase?: 'Pending' | 'Available' | 'Bound' | 'Released' | 'Failed';
  klass?: string;
  modes?: PersistentVolumeAccessMode[];
  volumeMode?: 'Filesystem' | 'Block';
  labels?: Record<string, string>;
  claimRef?: { name: string; namespace?: string; uid?: string };
  node?: string;
  deleting?: boolean;
}

function pv(name: string, size: string, o: VolumeOpts = {}): PersistentVolume {
  return {
    metadata: { name, labels: o.labels, ...(o.deleting === true ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: {
      capacity: { storage: size },
      accessModes: o.modes ?? ['ReadWriteOnce'],
      storageClassName: o.klass ?? '',
      ...(o.volumeMode === undefined ? {} : { volumeMode: o.volumeMode }),
      ...(o.claimRef === undefined ? {} : { claimRef: { namespace: 'ns', ...o.claimRef } }),
      ...(o.node === undefined
        ? {}
        : { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [o.node] }] }] } } }),
      hostPath: { path: `/tmp/${name}` },
    },
    status: { phase: o.phase ?? 'Available' },
  };
}

interface ClaimOpts {
  klass?: string | null;
  modes?: PersistentVolumeAccessMode[];
  volumeMode?: 'Filesystem' | 'Block';
  selector?: Record<string, string>;
}

function pvc(name: string, size: string, o: ClaimOpts = {}): PersistentVolumeClaim {
  return {
    metadata: { name, namespace: 'ns', uid: `uid-${name}` },
    spec: {
      accessModes: o.modes ?? ['ReadWriteOnce'],
      resources: { requests: { storage: size } },
      ...(o.klass === null ? {} : { storageClassName: o.klass ?? '' }),
      ...(o.volumeMode === undefined ? {} : { volumeMode: o.volumeMode }),
      ...(o.selector === undefined ? {} : { selector: { matchLabels: o.selector } }),
    },
  };
}

const node1 = { name: 'node1', labels: { 'kubernetes.io/hostname': 'node1' } };

describe('findBestMatchForClaim', () => {
  const rows: { name: string; volumes: PersistentVolume[]; claim: PersistentVolumeClaim; options?: MatchOptions; want: string | undefined }[] = [
    { name: 'smallest volume that fits wins', volumes: [pv('10g', '10Gi'), pv('1g', '1Gi'), pv('5g', '5Gi')], claim: pvc('c', '2Gi'), want: '5g' },
    { name: 'exact size fits', volumes: [pv('1g', '1Gi')], claim: pvc('c', '1Gi'), want: '1g' },
    { name: 'nothing large enough', volumes: [pv('1g', '1Gi')], claim: pvc('c', '10Gi'), want: undefined },
    { name: 'quantities compare by value, not text', volumes: [pv('a', '1000Mi'), pv('b', '1G')], claim: pvc('c', '1000M'), want: 'b' },
    { name: 'class must match', volumes: [pv('small', '1Gi'), pv('gold', '10Gi', { klass: 'gold' })], claim: pvc('c', '1Gi', { klass: 'gold' }), want: 'gold' },
    { name: 'no class binds only class-less volumes', volumes: [pv('gold', '1Gi', { klass: 'gold' }), pv('plain', '10Gi')], claim: pvc('c', '1Gi', { klass: null }), want: 'plain' },
    { name: 'access modes must all be offered', volumes: [pv('rwo', '1Gi'), pv('rwx', '5Gi', { modes: ['ReadWriteOnce', 'ReadWriteMany'] })], claim: pvc('c', '1Gi', { modes: ['ReadWriteMany'] }), want: 'rwx' },
    {
      name: 'fewer access modes preferred over smaller size',
      volumes: [pv('many', '1Gi', { modes: ['ReadWriteOnce', 'ReadOnlyMany', 'ReadWriteMany'] }), pv('one', '5Gi')],
      claim: pvc('c', '1Gi'),
      want: 'one',
    },
    { name: 'block claim does not take a filesystem volume', volumes: [pv('fs', '1Gi')], claim: pvc('c', '1Gi', { volumeMode: 'Block' }), want: undefined },
    { name: 'block claim takes a block volume', volumes: [pv('fs', '1Gi'), pv('blk', '1Gi', { volumeMode: 'Block' })], claim: pvc('c', '1Gi', { volumeMode: 'Block' }), want: 'blk' },
    { name: 'selector filters labels', volumes: [pv('a', '1Gi'), pv('b', '2Gi', { labels: { tier: 'fast' } })], claim: pvc('c', '1Gi', { selector: { tier: 'fast' } }), want: 'b' },
    { name: 'selector that matches nothing', volumes: [pv('a', '1Gi')], claim: pvc('c', '1Gi', { selector: { tier: 'fast' } }), want: undefined },
    { name: 'only Available volumes', volumes: [pv('p', '1Gi', { phase: 'Pending' }), pv('r', '1Gi', { phase: 'Released' }), pv('f', '1Gi', { phase: 'Failed' })], claim: pvc('c', '1Gi'), want: undefined },
    { name: 'volume being deleted is skipped', volumes: [pv('d', '1Gi', { deleting: true })], claim: pvc('c', '1Gi'), want: undefined },
    { name: 'volume pre-bound to another claim is skipped', volumes: [pv('other', '1Gi', { claimRef: { name: 'other' } })], claim: pvc('c', '1Gi'), want: undefined },
    { name: 'pre-bound volume wins over a smaller one', volumes: [pv('mine', '10Gi', { claimRef: { name: 'c' } }), pv('small', '1Gi')], claim: pvc('c', '1Gi'), want: 'mine' },
    { name: 'pre-bound by uid wins', volumes: [pv('mine', '10Gi', { claimRef: { name: 'c', uid: 'uid-c' } }), pv('small', '1Gi')], claim: pvc('c', '1Gi'), want: 'mine' },
    { name: 'pre-bound to an older claim of the same name is skipped', volumes: [pv('old', '10Gi', { claimRef: { name: 'c', uid: 'uid-old' } })], claim: pvc('c', '1Gi'), want: undefined },
    { name: 'pre-bound ignores class and phase', volumes: [pv('mine', '1Gi', { claimRef: { name: 'c' }, klass: 'gold', phase: 'Pending' })], claim: pvc('c', '1Gi'), want: 'mine' },
    { name: 'pre-bound still needs the size', volumes: [pv('mine', '1Gi', { claimRef: { name: 'c' } })], claim: pvc('c', '2Gi'), want: undefined },
    { name: 'delayed binding without a node: only pre-bound', volumes: [pv('a', '1Gi')], claim: pvc('c', '1Gi'), options: { delayBinding: true }, want: undefined },
    { name: 'delayed binding, pre-bound volume', volumes: [pv('a', '1Gi', { claimRef: { name: 'c' } })], claim: pvc('c', '1Gi'), options: { delayBinding: true }, want: 'a' },
    { name: 'node affinity checked when the node is known', volumes: [pv('n2', '1Gi', { node: 'node2' }), pv('n1', '5Gi', { node: 'node1' })], claim: pvc('c', '1Gi'), options: { delayBinding: true, node: node1 }, want: 'n1' },
    { name: 'node affinity ignored when no node is known', volumes: [pv('n2', '1Gi', { node: 'node2' })], claim: pvc('c', '1Gi'), want: 'n2' },
    { name: 'pre-bound volume on another node does not fit', volumes: [pv('a', '1Gi', { node: 'node2', claimRef: { name: 'c' } })], claim: pvc('c', '1Gi'), options: { node: node1 }, want: undefined },
  ];
  for (const row of rows) {
    it(`${row.name} (index)`, () => {
      const index = new VolumeIndex();
      for (const v of row.volumes) index.put(v);
      assert.equal(index.findBestMatchForClaim(row.claim, row.options)?.metadata.name, row.want);
    });
    it(`${row.name} (scan)`, () => {
      assert.equal(findMatchingVolume(row.claim, row.volumes, row.options)?.metadata.name, row.want);
    });
  }
});

describe('VolumeIndex updates', () => {
  it('a volume that becomes Bound leaves the available set, and comes back when Available again', () => {
    const index = new VolumeIndex();
    index.put(pv('a', '1Gi'));
    assert.equal(index.findBestMatchForClaim(pvc('c', '1Gi'))?.metadata.name, 'a');
    index.put(pv('a', '1Gi', { phase: 'Bound', claimRef: { name: 'x', uid: 'u' } }));
    assert.equal(index.findBestMatchForClaim(pvc('c', '1Gi')), undefined);
    index.put(pv('a', '1Gi'));
    assert.equal(index.findBestMatchForClaim(pvc('c', '1Gi'))?.metadata.name, 'a');
    index.remove('a');
    assert.equal(index.findBestMatchForClaim(pvc('c', '1Gi')), undefined);
    assert.equal(index.size, 0);
  });

  it('a bulk load out of order is sorted once, and removals still find their entries', () => {
    const index = new VolumeIndex();
    for (let i = 3000; i >= 1; i--) index.put(pv(`v${i}`, `${i}Mi`));
    index.remove('v100');
    index.put(pv('v101', '101Mi', { phase: 'Bound', claimRef: { name: 'x', uid: 'u' } }));
    assert.equal(index.findBestMatchForClaim(pvc('c', '100Mi'))?.metadata.name, 'v102');
    index.remove('v1');
    assert.equal(index.findBestMatchForClaim(pvc('c', '1'))?.metadata.name, 'v2');
  });

  it('a resized volume moves within its group', () => {
    const index = new VolumeIndex();
    index.put(pv('a', '1Gi'));
    index.put(pv('b', '2Gi'));
    index.put(pv('a', '3Gi'));
    assert.equal(index.findBestMatchForClaim(pvc('c', '1Gi'))?.metadata.name, 'b');
  });
});

describe('VolumeIndex reservations', () => {
  const rows: { name: string; volumes: PersistentVolume[]; reserve: [string, string][]; release?: [string, string][]; claim: PersistentVolumeClaim; want: string | undefined }[] = [
    { name: 'R-1 a volume reserved for another claim is skipped for the next best', volumes: [pv('1g', '1Gi'), pv('2g', '2Gi')], reserve: [['1g', 'ns/other']], claim: pvc('c', '1Gi'), want: '2g' },
    { name: 'R-2 the claim holding the reservation still gets the volume', volumes: [pv('1g', '1Gi'), pv('2g', '2Gi')], reserve: [['1g', 'ns/c']], claim: pvc('c', '1Gi'), want: '1g' },
    { name: 'R-3 every fitting volume reserved: no match', volumes: [pv('a', '1Gi'), pv('b', '1Gi')], reserve: [['a', 'ns/x'], ['b', 'ns/y']], claim: pvc('c', '1Gi'), want: undefined },
    { name: 'R-4 released by its holder: a candidate again', volumes: [pv('1g', '1Gi'), pv('2g', '2Gi')], reserve: [['1g', 'ns/other']], release: [['1g', 'ns/other']], claim: pvc('c', '1Gi'), want: '1g' },
    { name: 'R-5 a release by a claim that does not hold it changes nothing', volumes: [pv('1g', '1Gi'), pv('2g', '2Gi')], reserve: [['1g', 'ns/other']], release: [['1g', 'ns/c']], claim: pvc('c', '1Gi'), want: '2g' },
    { name: 'R-6 a volume pre-bound to the claim but reserved for another is skipped', volumes: [pv('mine', '10Gi', { claimRef: { name: 'c' } }), pv('small', '1Gi')], reserve: [['mine', 'ns/other']], claim: pvc('c', '1Gi'), want: 'small' },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const index = new VolumeIndex();
      for (const v of row.volumes) index.put(v);
      for (const [name, claim] of row.reserve) assert.equal(index.reserve(name, claim), true);
      for (const [name, claim] of row.release ?? []) index.release(name, claim);
      assert.equal(index.findBestMatchForClaim(row.claim)?.metadata.name, row.want);
    });
  }

  it('R-7 a second claim cannot reserve a held volume; the holder may again; put() keeps the reservation', () => {
    const index = new VolumeIndex();
    index.put(pv('a', '1Gi'));
    assert.equal(index.reserve('a', 'ns/x'), true);
    assert.equal(index.reserve('a', 'ns/y'), false);
    assert.equal(index.reserve('a', 'ns/x'), true);
    assert.equal(index.reservedFor('a'), 'ns/x');
    // The informer's update of the still-Available volume must not free it.
    index.put(pv('a', '1Gi', { labels: { changed: 'yes' } }));
    assert.equal(index.findBestMatchForClaim(pvc('y', '1Gi')), undefined);
    index.release('a', 'ns/x');
    assert.equal(index.reservations, 0);
    assert.equal(index.findBestMatchForClaim(pvc('y', '1Gi'))?.metadata.name, 'a');
  });

  it('R-8 choosing and reserving in turn hands out distinct volumes, smallest first, at O(log n) plus one step per reservation', () => {
    const index = new VolumeIndex();
    const count = 10_000;
    for (let i = 0; i < count; i++) index.put(pv(`v${String(i).padStart(5, '0')}`, `${1 + (i % 100)}Mi`));
    const inFlight = 16;
    const chosen: string[] = [];
    let worst = 0;
    for (let k = 0; k < inFlight; k++) {
      index.resetComparisons();
      const match = index.findBestMatchForClaim(pvc(`c${k}`, '1Mi'));
      worst = Math.max(worst, index.comparisons);
      assert.ok(match !== undefined && index.reserve(match.metadata.name ?? '', `ns/c${k}`));
      chosen.push(match.metadata.name ?? '');
    }
    assert.equal(new Set(chosen).size, inFlight);
    // 100 volumes of each size: the 16 smallest are all 1Mi.
    assert.ok(chosen.every((n) => index.get(n)?.spec.capacity?.storage === '1Mi'));
    assert.ok(worst <= Math.ceil(Math.log2(count)) + 1 + inFlight, `a lookup took ${worst} comparisons`);
  });
});

describe('VolumeIndex at scale', () => {
  it('matching one claim among 100,000 volumes looks at far fewer than 100,000', () => {
    const index = new VolumeIndex();
    const count = 100_000;
    for (let i = 0; i < count; i++) {
      const klass = i % 4 === 0 ? 'gold' : '';
      index.put(pv(`v${i}`, `${1 + (i % 5000)}Mi`, { klass, labels: { rack: String(i % 100) } }));
    }
    index.resetComparisons();
    const match = index.findBestMatchForClaim(pvc('c', '4000Mi'));
    assert.equal(match?.spec.capacity?.storage, '4000Mi');
    assert.ok(index.comparisons < 40, `plain claim took ${index.comparisons} comparisons`);

    // A selector narrows further: scan upward from the first fitting size, still far from a full scan.
    index.resetComparisons();
    const selected = index.findBestMatchForClaim(pvc('c', '4000Mi', { selector: { rack: '7' } }));
    assert.equal(selected?.metadata.labels?.rack, '7');
    assert.ok(index.comparisons < 2_000, `selector claim took ${index.comparisons} comparisons`);

    // The scan finds the same volume as the index (the reference implementation).
    assert.equal(findMatchingVolume(pvc('c', '4000Mi'), index.list())?.spec.capacity?.storage, '4000Mi');
  });

  // The binding benchmark's pattern at 20,000 volumes: volumes turn Available
  // in no particular order, and each claim's lookup is followed by its volume
  // leaving the available set. Re-sorting a whole group per update made this
  // quadratic and stalled the PV controller.
  it('updates out of order interleaved with lookups do not re-sort the whole group each time', () => {
    const index = new VolumeIndex();
    const count = 5_000;
    const name = (i: number): string => `v${String(i).padStart(5, '0')}`;
    // Arrive out of name order (equal sizes sort by name), then the claims come.
    for (let i = 0; i < count; i++) index.put(pv(name((i * 7919) % count), '1Gi'));
    index.resetComparisons();
    const bound = new Set<string>();
    for (let i = 0; i < count; i++) {
      // One more volume turns Available out of order, a claim looks, and its volume gets bound.
      index.put(pv(name(count + ((i * 7919) % count)), '1Gi'));
      const match = index.findBestMatchForClaim(pvc(`c${i}`, '1Gi'));
      const matched = match?.metadata.name ?? '';
      assert.ok(matched !== '' && !bound.has(matched), `claim ${i} got ${JSON.stringify(matched)}`);
      bound.add(matched);
      index.put(pv(matched, '1Gi', { phase: 'Bound', claimRef: { name: `c${i}`, uid: `u${i}` } }));
    }
    // Equal sizes: the smallest name wins, so the first count volumes went first.
    assert.equal(index.findBestMatchForClaim(pvc('next', '1Gi'))?.metadata.name, name(count));
    // A re-sort per round would be about count² = 25,000,000 comparisons.
    assert.ok(index.orderingComparisons < 100 * count, `keeping the groups in order took ${index.orderingComparisons} comparisons`);
  });

  // Removals in a large group only mark entries dead (a splice would move every later entry);
  // lookups skip them and drop those they walked over once they have passed 64.
  const deadRows: { name: string; count: number; order: 'front' | 'scattered'; reput: boolean }[] = [
    { name: 'volumes bound in the order lookups find them (dead entries pile up in front)', count: 20_000, order: 'front', reput: false },
    { name: 'volumes leaving in a scattered order', count: 20_000, order: 'scattered', reput: false },
    { name: 'a volume removed and put again under the same name and size', count: 2_000, order: 'scattered', reput: true },
    { name: 'the same below the size where removals splice', count: 500, order: 'scattered', reput: true },
  ];
  for (const row of deadRows) {
    it(`D ${row.name}: lookups match the full scan at O(log n) plus a bounded walk`, () => {
      const index = new VolumeIndex();
      const name = (i: number): string => `v${String(i).padStart(6, '0')}`;
      for (let i = 0; i < row.count; i++) index.put(pv(name(i), '1Gi'));
      const leaving = (k: number): number => (row.order === 'front' ? k : (k * 7919) % row.count);
      let worst = 0;
      for (let k = 0; k < row.count / 2; k++) {
        const gone = name(leaving(k));
        if (row.order === 'front') {
          index.resetComparisons();
          const match = index.findBestMatchForClaim(pvc(`c${k}`, '1Gi'));
          worst = Math.max(worst, index.comparisons);
          assert.equal(match?.metadata.name, gone);
        }
        index.put(pv(gone, '1Gi', { phase: 'Bound', claimRef: { name: `c${k}`, uid: `u${k}` } }));
        if (row.reput && k % 3 === 0) {
          // Released and made Available again: the same name and size as the entry that just died.
          index.put(pv(gone, '1Gi'));
          index.remove(gone);
        }
      }
      const expected = findMatchingVolume(pvc('last', '1Gi'), index.list())?.metadata.name;
      index.resetComparisons();
      assert.equal(index.findBestMatchForClaim(pvc('last', '1Gi'))?.metadata.name, expected);
      worst = Math.max(worst, index.comparisons);
      assert.equal(index.get(name(leaving(0)))?.status?.phase, row.reput ? undefined : 'Bound');
      // At worst: a binary search and a walk over 64 dead entries (then dropped), with room to spare.
      assert.ok(worst <= 2 * (Math.ceil(Math.log2(row.count)) + 1) + 64, `a lookup took ${worst} comparisons`);
    });
  }

  // A resync puts every volume again as the informer has it. Unchanged
  // volumes keep their entries; a changed one is seen as it is now.
  const reputRows: { name: string; change: (i: number) => PersistentVolume | undefined; want: string }[] = [
    { name: 'every volume unchanged', change: () => undefined, want: 'v000000' },
    { name: 'the smallest relabelled so a selector no longer fits it', change: (i) => (i === 0 ? pv('v000000', '1Gi', { labels: { rack: 'other' } }) : undefined), want: 'v000001' },
    { name: 'the smallest grown above the rest', change: (i) => (i === 0 ? pv('v000000', '2Gi', { labels: { rack: 'a' } }) : undefined), want: 'v000001' },
    { name: 'the smallest bound meanwhile', change: (i) => (i === 0 ? pv('v000000', '1Gi', { phase: 'Bound', claimRef: { name: 'x', uid: 'u' } }) : undefined), want: 'v000001' },
  ];
  for (const row of reputRows) {
    it(`P a resync putting 20,000 volumes again, ${row.name}: the next lookup does no re-sorting and sees the volumes as they are now`, () => {
      const index = new VolumeIndex();
      const count = 20_000;
      const name = (i: number): string => `v${String(i).padStart(6, '0')}`;
      const original = (i: number): PersistentVolume => pv(name(i), '1Gi', { labels: { rack: 'a' } });
      for (let i = 0; i < count; i++) index.put(original(i));
      const claim = pvc('c', '1Gi', { selector: { rack: 'a' } });
      assert.equal(index.findBestMatchForClaim(claim)?.metadata.name, name(0));
      index.resetComparisons();
      for (let i = 0; i < count; i++) index.put(row.change(i) ?? original(i));
      const got = index.findBestMatchForClaim(claim)?.metadata.name;
      assert.equal(got, row.want);
      assert.equal(got, findMatchingVolume(claim, index.list())?.metadata.name);
      // Re-inserting every entry would cost a sort of 20,000 (about 280,000 comparisons).
      assert.ok(index.orderingComparisons <= 32, `keeping the group in order took ${index.orderingComparisons} comparisons`);
      assert.ok(index.comparisons <= 2 * (Math.ceil(Math.log2(count)) + 1) + 64, `the lookup took ${index.comparisons} comparisons`);
    });
  }

  it('a large group under random puts, binds and removals matches as the full scan does', () => {
    const index = new VolumeIndex();
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const names = 3_000; // above the size where out-of-order inserts wait unsorted
    for (let i = 0; i < names; i++) index.put(pv(`v${rand(names)}`, `${1 + rand(50)}Mi`));
    for (let step = 0; step < 600; step++) {
      const target = `v${rand(names)}`;
      const op = rand(4);
      if (op === 0) index.put(pv(target, `${1 + rand(50)}Mi`));
      else if (op === 1) index.put(pv(target, `${1 + rand(50)}Mi`, { phase: 'Bound', claimRef: { name: 'x', uid: 'u' } }));
      else if (op === 2) index.remove(target);
      const claim = pvc(`c${step}`, `${1 + rand(50)}Mi`);
      // Several volumes may share the best size; the size is what must agree.
      const got = index.findBestMatchForClaim(claim);
      assert.equal(got?.spec.capacity?.storage, findMatchingVolume(claim, index.list())?.spec.capacity?.storage, `step ${step}`);
      assert.ok(got === undefined || index.get(got.metadata.name ?? '') === got, `step ${step}: matched a volume the index no longer holds`);
    }
  });
});

describe('checkVolumeSatisfyClaim', () => {
  const rows: [string, PersistentVolume, PersistentVolumeClaim, string | undefined][] = [
    ['fits', pv('a', '1Gi'), pvc('c', '1Gi'), undefined],
    ['too small', pv('a', '1Gi'), pvc('c', '2Gi'), 'requested PV is too small'],
    ['class differs', pv('a', '1Gi', { klass: 'gold' }), pvc('c', '1Gi'), 'storageClassName does not match'],
    ['volume mode differs', pv('a', '1Gi', { volumeMode: 'Block' }), pvc('c', '1Gi'), 'incompatible volumeMode'],
    ['access mode missing', pv('a', '1Gi'), pvc('c', '1Gi', { modes: ['ReadWriteMany'] }), 'incompatible accessMode'],
    ['being deleted', pv('a', '1Gi', { deleting: true }), pvc('c', '1Gi'), 'the volume is marked for deletion "a"'],
  ];
  for (const [name, volume, claim, want] of rows) it(name, () => assert.equal(checkVolumeSatisfyClaim(volume, claim), want));
});

describe('checkNodeAffinity', () => {
  it('no affinity fits every node; a term must hold entirely', () => {
    assert.equal(checkNodeAffinity(pv('a', '1Gi'), node1), true);
    assert.equal(checkNodeAffinity(pv('a', '1Gi', { node: 'node1' }), node1), true);
    assert.equal(checkNodeAffinity(pv('a', '1Gi', { node: 'node2' }), node1), false);
    const twoTerms = pv('a', '1Gi', { node: 'node2' });
    twoTerms.spec.nodeAffinity!.required!.nodeSelectorTerms.push({ matchExpressions: [{ key: 'zone', operator: 'Exists' }] });
    assert.equal(checkNodeAffinity(twoTerms, node1), false);
    assert.equal(checkNodeAffinity(twoTerms, { name: 'x', labels: { zone: 'z' } }), true);
  });
});

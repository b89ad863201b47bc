import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject, OwnerReference } from '../../apimachinery/index.ts';
import {
  classifyReferences,
  DependencyGraph,
  propagationPolicyFor,
  withoutOwners,
  type GraphActions,
  type ObjectIdentity,
} from './graph.ts';

function ref(uid: string, extra: Partial<OwnerReference> = {}): OwnerReference {
  return { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `rs-${uid}`, uid, ...extra };
}

function obj(uid: string, meta: Partial<KubeObject['metadata']> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'ns', name: `pod-${uid}`, uid, ...meta } };
}

function id(o: KubeObject): ObjectIdentity {
  return {
    apiVersion: o.apiVersion ?? '',
    kind: o.kind ?? '',
    namespace: o.metadata.namespace ?? '',
    name: o.metadata.name ?? '',
    uid: o.metadata.uid ?? '',
  };
}

const none: GraphActions = { attemptToDelete: [], attemptToOrphan: [] };
const sorted = (a: GraphActions): GraphActions => ({ attemptToDelete: [...a.attemptToDelete].sort(), attemptToOrphan: [...a.attemptToOrphan].sort() });

interface Row {
  name: string;
  /** Objects observed before the step (their actions are ignored). */
  before: KubeObject[];
  step: (g: DependencyGraph) => GraphActions;
  want: GraphActions;
  check?: (g: DependencyGraph) => void;
}

const rows: Row[] = [
  {
    name: '1-1 dependent of an unseen owner creates a virtual owner and queues it',
    before: [],
    step: (g) => g.observe(obj('p1', { ownerReferences: [ref('o1')] }), id(obj('p1'))),
    want: { attemptToDelete: ['o1'], attemptToOrphan: [] },
    check: (g) => {
      assert.equal(g.get('o1')?.observed, false);
      assert.equal(g.get('o1')?.dependents.size, 1);
    },
  },
  {
    name: '1-2 dependent of an observed owner queues nothing',
    before: [obj('o1')],
    step: (g) => g.observe(obj('p1', { ownerReferences: [ref('o1')] }), id(obj('p1'))),
    want: none,
  },
  {
    name: '1-3 virtual owner observed later becomes real and keeps its dependents',
    before: [obj('p1', { ownerReferences: [ref('o1')] })],
    step: (g) => g.observe(obj('o1'), id(obj('o1'))),
    want: none,
    check: (g) => {
      assert.equal(g.get('o1')?.observed, true);
      assert.equal(g.get('o1')?.dependents.size, 1);
    },
  },
  {
    name: '1-4 owner deleted: its dependents are queued',
    before: [obj('o1'), obj('p1', { ownerReferences: [ref('o1')] }), obj('p2', { ownerReferences: [ref('o1')] })],
    step: (g) => g.remove('o1'),
    want: { attemptToDelete: ['p1', 'p2'], attemptToOrphan: [] },
    check: (g) => assert.equal(g.get('o1'), undefined),
  },
  {
    name: '1-5 owner starts foreground deletion: dependents and owner are queued',
    before: [obj('o1'), obj('p1', { ownerReferences: [ref('o1', { blockOwnerDeletion: true })] })],
    step: (g) => g.observe(obj('o1', { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['foregroundDeletion'] }), id(obj('o1'))),
    want: { attemptToDelete: ['o1', 'p1'], attemptToOrphan: [] },
    check: (g) => assert.equal(g.get('o1')?.deletingDependents, true),
  },
  {
    name: '1-6 foreground owner seen again: no second transition',
    before: [obj('o1', { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['foregroundDeletion'] })],
    step: (g) => g.observe(obj('o1', { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['foregroundDeletion'], resourceVersion: '9' }), id(obj('o1'))),
    want: none,
  },
  {
    name: '1-7 blocking dependent of a foreground owner deleted: the owner is queued',
    before: [
      obj('o1', { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['foregroundDeletion'] }),
      obj('p1', { ownerReferences: [ref('o1', { blockOwnerDeletion: true })] }),
    ],
    step: (g) => g.remove('p1'),
    want: { attemptToDelete: ['o1'], attemptToOrphan: [] },
    check: (g) => assert.deepEqual(g.get('o1')?.blockingDependents(), []),
  },
  {
    name: '1-8 blockOwnerDeletion dropped on a dependent: the foreground owner is queued',
    before: [
      obj('o1', { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['foregroundDeletion'] }),
      obj('p1', { ownerReferences: [ref('o1', { blockOwnerDeletion: true })] }),
    ],
    step: (g) => g.observe(obj('p1', { ownerReferences: [ref('o1', { blockOwnerDeletion: false })] }), id(obj('p1'))),
    want: { attemptToDelete: ['o1'], attemptToOrphan: [] },
    check: (g) => assert.deepEqual(g.get('o1')?.blockingDependents(), []),
  },
  {
    name: '1-9 owner starts orphan deletion: it is queued for orphaning',
    before: [obj('o1'), obj('p1', { ownerReferences: [ref('o1')] })],
    step: (g) => g.observe(obj('o1', { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['orphan'] }), id(obj('o1'))),
    want: { attemptToDelete: [], attemptToOrphan: ['o1'] },
  },
  {
    name: '1-10 reference removed from a dependent: edge gone, unused virtual owner dropped',
    before: [obj('p1', { ownerReferences: [ref('o1')] })],
    step: (g) => g.observe(obj('p1', { ownerReferences: [] }), id(obj('p1'))),
    want: none,
    check: (g) => assert.equal(g.get('o1'), undefined),
  },
  {
    name: '1-11 dependent appears under an owner already deleting in the foreground: it is queued',
    before: [obj('o1', { deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['foregroundDeletion'] })],
    step: (g) => g.observe(obj('p1', { ownerReferences: [ref('o1', { blockOwnerDeletion: true })] }), id(obj('p1'))),
    want: { attemptToDelete: ['p1'], attemptToOrphan: [] },
  },
  {
    name: '1-12 removing an unknown uid is a no-op',
    before: [obj('o1')],
    step: (g) => g.remove('nope'),
    want: none,
  },
];

describe('DependencyGraph', () => {
  for (const row of rows) {
    it(row.name, () => {
      const g = new DependencyGraph();
      for (const o of row.before) g.observe(o, id(o));
      const got = row.step(g);
      assert.deepEqual(sorted(got), sorted(row.want));
      row.check?.(g);
    });
  }
});

describe('classifyReferences', () => {
  const owners = new Map<string, KubeObject>([
    ['alive', obj('u-alive', { name: 'alive' })],
    ['renamed', obj('u-new', { name: 'renamed' })],
    ['fg', obj('u-fg', { name: 'fg', deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['foregroundDeletion'] })],
    ['bg', obj('u-bg', { name: 'bg', deletionTimestamp: '2026-01-01T00:00:00Z', finalizers: ['other'] })],
  ]);
  const lookup = async (r: OwnerReference): Promise<KubeObject | undefined> => owners.get(r.name);
  const cases: { name: string; refs: OwnerReference[]; want: [string[], string[], string[]] }[] = [
    { name: '2-1 existing owner with matching uid is solid', refs: [ref('u-alive', { name: 'alive' })], want: [['u-alive'], [], []] },
    { name: '2-2 missing owner is dangling', refs: [ref('u-gone', { name: 'gone' })], want: [[], ['u-gone'], []] },
    { name: '2-3 owner name held by another uid is dangling', refs: [ref('u-old', { name: 'renamed' })], want: [[], ['u-old'], []] },
    { name: '2-4 owner deleting in the foreground is waiting', refs: [ref('u-fg', { name: 'fg' })], want: [[], [], ['u-fg']] },
    { name: '2-5 owner being deleted without foregroundDeletion is still solid', refs: [ref('u-bg', { name: 'bg' })], want: [['u-bg'], [], []] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const got = await classifyReferences(c.refs, lookup);
      assert.deepEqual(
        [got.solid.map((r) => r.uid), got.dangling.map((r) => r.uid), got.waitingForDependentsDeletion.map((r) => r.uid)],
        c.want,
      );
    });
  }
});

describe('propagationPolicyFor and withoutOwners', () => {
  it('3-1 an object carrying orphan is deleted with Orphan, foregroundDeletion with Foreground, else Background', () => {
    assert.equal(propagationPolicyFor(obj('a', { finalizers: ['orphan'] })), 'Orphan');
    assert.equal(propagationPolicyFor(obj('a', { finalizers: ['foregroundDeletion'] })), 'Foreground');
    assert.equal(propagationPolicyFor(obj('a')), 'Background');
  });
  it('3-2 withoutOwners keeps the other references in order', () => {
    assert.deepEqual(withoutOwners([ref('a'), ref('b'), ref('c')], new Set(['b'])).map((r) => r.uid), ['a', 'c']);
  });
});

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { emptyReport, updateConditions, type DeletionReport, type NamespaceCondition } from './status-conditions.ts';

const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:01:00Z';

function report(fill: Partial<DeletionReport>): DeletionReport {
  return { ...emptyReport(), ...fill };
}

function byType(cs: NamespaceCondition[]): Record<string, NamespaceCondition> {
  return Object.fromEntries(cs.map((c) => [c.type, c]));
}

describe('updateConditions', () => {
  it('1 an empty namespace gets all five conditions in their ok variant', () => {
    const { conditions, changed } = updateConditions(undefined, emptyReport(), T0);
    assert.equal(changed, true);
    assert.deepEqual(
      conditions.map((c) => [c.type, c.status, c.reason]),
      [
        ['NamespaceDeletionDiscoveryFailure', 'False', 'ResourcesDiscovered'],
        ['NamespaceDeletionGroupVersionParsingFailure', 'False', 'ParsedGroupVersions'],
        ['NamespaceDeletionContentFailure', 'False', 'ContentDeleted'],
        ['NamespaceContentRemaining', 'False', 'ContentRemoved'],
        ['NamespaceFinalizersRemaining', 'False', 'ContentHasNoFinalizers'],
      ],
    );
  });

  it('2 remaining content and finalizers are named, sorted, in upstream wording', () => {
    const r = report({
      remaining: new Map([['pods.', 2], ['configmaps.', 1]]),
      finalizers: new Map([['example.com/b', 1], ['example.com/a', 2]]),
    });
    const c = byType(updateConditions(undefined, r, T0).conditions);
    assert.equal(c.NamespaceContentRemaining.status, 'True');
    assert.equal(c.NamespaceContentRemaining.reason, 'SomeResourcesRemain');
    assert.equal(c.NamespaceContentRemaining.message, 'Some resources are remaining: configmaps. has 1 resource instances, pods. has 2 resource instances');
    assert.equal(c.NamespaceFinalizersRemaining.reason, 'SomeFinalizersRemain');
    assert.equal(
      c.NamespaceFinalizersRemaining.message,
      'Some content in the namespace has finalizers remaining: example.com/a in 2 resource instances, example.com/b in 1 resource instances',
    );
  });

  it('3 discovery and content failures become True conditions', () => {
    const c = byType(updateConditions(undefined, report({ discoveryError: 'boom', contentErrors: ['b: x', 'a: y'] }), T0).conditions);
    assert.deepEqual([c.NamespaceDeletionDiscoveryFailure.status, c.NamespaceDeletionDiscoveryFailure.reason], ['True', 'DiscoveryFailed']);
    assert.equal(c.NamespaceDeletionContentFailure.message, 'Failed to delete all resource types, 2 remaining: a: y, b: x');
  });

  it('4 the same report again changes nothing and keeps the transition times', () => {
    const first = updateConditions(undefined, emptyReport(), T0).conditions;
    const { conditions, changed } = updateConditions(first, emptyReport(), T1);
    assert.equal(changed, false);
    assert.ok(conditions.every((c) => c.lastTransitionTime === T0));
  });

  it('5 a flip of status moves lastTransitionTime; a message change alone does not', () => {
    const first = updateConditions(undefined, report({ remaining: new Map([['pods.', 2]]) }), T0).conditions;
    const msgOnly = updateConditions(first, report({ remaining: new Map([['pods.', 1]]) }), T1);
    assert.equal(msgOnly.changed, true);
    assert.equal(byType(msgOnly.conditions).NamespaceContentRemaining.lastTransitionTime, T0);
    const flipped = updateConditions(msgOnly.conditions, emptyReport(), T1);
    assert.equal(byType(flipped.conditions).NamespaceContentRemaining.lastTransitionTime, T1);
    assert.equal(byType(flipped.conditions).NamespaceContentRemaining.status, 'False');
  });

  it('6 conditions of other types are kept and the input is not modified', () => {
    const existing: NamespaceCondition[] = [{ type: 'SomethingElse', status: 'True', reason: 'X' }];
    const { conditions } = updateConditions(existing, emptyReport(), T0);
    assert.equal(conditions[0].type, 'SomethingElse');
    assert.equal(existing.length, 1);
  });
});

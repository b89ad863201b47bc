import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyExistsError, RevisionConflictError } from './interface.ts';
import type { LogRow, WriteOp } from './revision-log.ts';
import { decodeOutcomes, decodeWrites, encodeOutcomes, encodeWrites } from './sqlite-protocol.ts';

const row = (over: Partial<LogRow>): LogRow => ({
  id: 10,
  name: '/registry/pods/a',
  created: false,
  deleted: false,
  createRevision: 1,
  prevRevision: 5,
  value: 'NEW',
  oldValue: 'OLD',
  ...over,
});

test('sqlite protocol: a batch of writes survives the flat encoding', () => {
  const ops: WriteOp[] = [
    { kind: 'create', key: '/registry/pods/a', value: '{"a":1}' },
    { kind: 'update', key: '/registry/pods/b', value: '{"b":2}', expectedRevision: 7 },
    { kind: 'delete', key: '/registry/pods/c', expectedRevision: undefined },
    { kind: 'delete', key: '/registry/pods/d', expectedRevision: 9 },
    // Preconditions that can never hold must still arrive as preconditions.
    { kind: 'delete', key: '/registry/pods/e', expectedRevision: 0 },
    { kind: 'delete', key: '/registry/pods/f', expectedRevision: -1 },
  ];
  assert.deepEqual(decodeWrites(structuredClone(encodeWrites(ops))), ops);
});

const outcomeRows: { name: string; outcome: LogRow; wantOldValue: string | null }[] = [
  { name: 'a create comes back without values', outcome: row({ created: true, prevRevision: 0, oldValue: null }), wantOldValue: null },
  { name: 'an update comes back with the replaced value only', outcome: row({}), wantOldValue: 'OLD' },
  { name: 'a delete comes back with the replaced value (it is also the tombstone value)', outcome: row({ deleted: true, value: 'OLD' }), wantOldValue: 'OLD' },
];

for (const r of outcomeRows) {
  test(`sqlite protocol: ${r.name}`, () => {
    const result = structuredClone(encodeOutcomes(3, [r.outcome]));
    const { transaction, outcomes } = decodeOutcomes(result);
    assert.equal(transaction, 3);
    assert.deepEqual(outcomes, [
      {
        id: r.outcome.id,
        created: r.outcome.created,
        deleted: r.outcome.deleted,
        createRevision: r.outcome.createRevision,
        prevRevision: r.outcome.prevRevision,
        oldValue: r.wantOldValue,
      },
    ]);
    // The new value never goes back: the main thread sent it.
    assert.ok(!JSON.stringify({ ...result, rows: [...result.rows] }).includes('NEW'));
  });
}

test('sqlite protocol: refused writes keep their place and their error class among appended rows', () => {
  const outcomes = [
    new KeyExistsError('/registry/pods/x'),
    row({ id: 11, prevRevision: 6, oldValue: 'O6' }),
    new RevisionConflictError('/registry/pods/y', 3, 4),
    row({ id: 12, created: true, prevRevision: 0, oldValue: null }),
    row({ id: 13, prevRevision: 8, oldValue: 'O8' }),
  ];
  const decoded = decodeOutcomes(structuredClone(encodeOutcomes(1, outcomes)));
  assert.equal(decoded.outcomes.length, 5);
  const [e0, r1, e2, r3, r4] = decoded.outcomes;
  assert.ok(e0 instanceof KeyExistsError && e0.key === '/registry/pods/x');
  assert.ok(e2 instanceof RevisionConflictError && e2.expected === 3 && e2.actual === 4);
  assert.ok(!(r1 instanceof Error) && r1.id === 11 && r1.oldValue === 'O6');
  assert.ok(!(r3 instanceof Error) && r3.id === 12 && r3.created && r3.oldValue === null);
  assert.ok(!(r4 instanceof Error) && r4.id === 13 && r4.oldValue === 'O8');
});

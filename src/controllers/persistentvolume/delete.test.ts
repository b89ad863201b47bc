// Reclaim policy Delete, numbered as upstream's delete_test.go (sets 8 and 9).
// The deleter is the fake in-tree provisioner named in the volume's
// `pv.kubernetes.io/provisioned-by` annotation.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FAKE_PROVISIONER, runRow, startHarness, type Harness, type Row } from './test-framework.ts';

const BBC = { 'pv.kubernetes.io/bound-by-controller': 'yes' };
const BC = { 'pv.kubernetes.io/bind-completed': 'yes' };
const OURS = { 'pv.kubernetes.io/provisioned-by': FAKE_PROVISIONER };
const EXTERNAL = { 'pv.kubernetes.io/provisioned-by': 'external.io/test' };

const rows: Row[] = [
  {
    name: '8-1 successful delete',
    volumes: [{ name: 'volume8-1', claim: 'claim8-1', uid: 'other', phase: 'Bound', policy: 'Delete', ann: { ...BBC, ...OURS } }],
    expectedVolumes: [{ name: 'volume8-1', gone: true }],
    expectedClaims: [],
    events: [],
    check: (w) => assert.deepEqual(w.provisioner.deleteCalls, ['volume8-1']),
  },
  {
    name: '8-2 successful delete with prebound volume',
    volumes: [{ name: 'volume8-2', claim: 'claim8-2', uid: 'other', phase: 'Bound', policy: 'Delete', ann: OURS }],
    expectedVolumes: [{ name: 'volume8-2', gone: true }],
    expectedClaims: [],
    events: [],
  },
  {
    name: '8-3 plugin not found',
    volumes: [{ name: 'volume8-3', claim: 'claim8-3', uid: 'other', phase: 'Bound', policy: 'Delete' }],
    expectedVolumes: [
      {
        name: 'volume8-3',
        phase: 'Failed',
        claim: 'claim8-3',
        uid: 'other',
        message: 'Error getting deleter volume plugin for volume "volume8-3": no volume plugin matched',
      },
    ],
    expectedClaims: [],
    events: ['Warning VolumeFailedDelete'],
    idle: false,
  },
  // 8-4 (newDeleter returns error) has no counterpart: a Provisioner is not built per call.
  {
    name: '8-5 delete returns error',
    volumes: [{ name: 'volume8-5', claim: 'claim8-5', uid: 'other', phase: 'Bound', policy: 'Delete', ann: OURS }],
    provisioner: { deleteAlwaysFails: true },
    expectedVolumes: [{ name: 'volume8-5', phase: 'Failed', claim: 'claim8-5', uid: 'other', ann: OURS, message: 'Mock delete error' }],
    expectedClaims: [],
    events: ['Warning VolumeFailedDelete'],
    idle: false,
  },
  // 8-6 and 8-7 inject a change between the sync and the operation; the operation re-reads the
  // volume from the server, which 8-9 and 8-11 exercise.
  {
    name: '8-9 prebound volume is deleted while the claim exists',
    volumes: [{ name: 'volume8-9', claim: 'claim8-9', uid: 'other', phase: 'Bound', policy: 'Delete', ann: OURS }],
    claims: [{ name: 'claim8-9', size: '10Gi' }],
    expectedVolumes: [{ name: 'volume8-9', gone: true }],
    expectedClaims: [{ name: 'claim8-9', phase: 'Pending' }],
    events: ['Normal FailedBinding'],
  },
  {
    name: '8-10 external deleter',
    volumes: [{ name: 'volume8-10', claim: 'claim8-10', uid: 'other', phase: 'Bound', policy: 'Delete', ann: { ...BBC, ...EXTERNAL } }],
    expectedVolumes: [{ name: 'volume8-10', phase: 'Released', claim: 'claim8-10', uid: 'other', ann: { ...BBC, ...EXTERNAL } }],
    expectedClaims: [],
    events: [],
    check: (w) => assert.equal(w.provisioner.deleteCalls.length, 0),
  },
  {
    name: '8-11 two PVs provisioned for a single claim',
    volumes: [
      { name: 'volume8-11-1', claim: 'claim8-11', phase: 'Bound', policy: 'Delete', ann: OURS },
      { name: 'volume8-11-2', claim: 'claim8-11', phase: 'Bound', policy: 'Delete', ann: OURS },
    ],
    // The claim is bound to volume8-11-2: volume8-11-1 lost the race and is deleted.
    claims: [{ name: 'claim8-11', size: '1Gi', volumeName: 'volume8-11-2', phase: 'Bound' }],
    expectedVolumes: [
      { name: 'volume8-11-1', gone: true },
      { name: 'volume8-11-2', phase: 'Bound', claim: 'claim8-11', ann: OURS, finalizer: true },
    ],
    expectedClaims: [{ name: 'claim8-11', phase: 'Bound', volumeName: 'volume8-11-2', ann: BC }],
    events: [],
  },
  {
    name: '8-12 two PVs externally provisioned for a single claim',
    volumes: [
      { name: 'volume8-12-1', claim: 'claim8-12', phase: 'Bound', policy: 'Delete', ann: EXTERNAL },
      { name: 'volume8-12-2', claim: 'claim8-12', phase: 'Bound', policy: 'Delete', ann: OURS },
    ],
    claims: [{ name: 'claim8-12', size: '1Gi', volumeName: 'volume8-12-2', phase: 'Bound' }],
    expectedVolumes: [
      { name: 'volume8-12-1', phase: 'Released', claim: 'claim8-12', ann: EXTERNAL },
      { name: 'volume8-12-2', phase: 'Bound', claim: 'claim8-12', ann: OURS },
    ],
    expectedClaims: [{ name: 'claim8-12', phase: 'Bound', volumeName: 'volume8-12-2', ann: BC }],
    events: [],
  },
  {
    name: '9-1 delete returns error, the controller tries again',
    volumes: [{ name: 'volume9-1', claim: 'claim9-1', uid: 'other', phase: 'Bound', policy: 'Delete', ann: OURS }],
    provisioner: { delete: ['fail', 'ok'] },
    expectedVolumes: [{ name: 'volume9-1', gone: true }],
    expectedClaims: [],
    events: ['Warning VolumeFailedDelete'],
    check: (w) => assert.deepEqual(w.provisioner.deleteCalls, ['volume9-1', 'volume9-1']),
  },
  {
    // Ours: the finalizer is kept exactly on the volumes whose storage this controller deletes.
    name: '9-2 the deletion finalizer is added to a provisioned Delete volume and removed from a Retain one',
    volumes: [
      { name: 'volume9-2-1', phase: 'Available', policy: 'Delete', ann: OURS },
      { name: 'volume9-2-2', phase: 'Available', policy: 'Retain', ann: OURS, finalizers: ['kubernetes.io/pv-controller'] },
      { name: 'volume9-2-3', phase: 'Available', policy: 'Delete', ann: EXTERNAL },
    ],
    expectedVolumes: [
      { name: 'volume9-2-1', phase: 'Available', ann: OURS, finalizer: true },
      { name: 'volume9-2-2', phase: 'Available', ann: OURS, finalizer: false },
      { name: 'volume9-2-3', phase: 'Available', ann: EXTERNAL, finalizer: false },
    ],
    expectedClaims: [],
    events: [],
  },
];

describe('PV controller: reclaim policy Delete (delete_test.go scenarios)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });
  for (const row of rows) it(row.name, () => runRow(h, row));
});

// Provisioning scenarios, numbered as upstream's provision_test.go (set 11),
// plus default classes, WaitForFirstConsumer and the real hostpath
// provisioner end to end. The in-tree provisioner of most rows is a fake at
// the host boundary (FakeProvisioner); API failures are injected by a client
// that fails PV creates.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PersistentVolume, PersistentVolumeClaim } from '../../api/core/volume-types.ts';
import { waitFor } from '../../base/index.ts';
import { resourcePath, resources } from '../../client/index.ts';
import { HostPathProvisioner } from '../../volume/provisioners/hostpath/index.ts';
import { FAKE_PROVISIONER, pvcVolume, rowEvents, runRow, startHarness, storageClass, type Harness, type Row } from './test-framework.ts';

const BBC = { 'pv.kubernetes.io/bound-by-controller': 'yes' };
const BC = { 'pv.kubernetes.io/bind-completed': 'yes' };
const SELECTED_NODE = 'volume.kubernetes.io/selected-node';
const provisionerAnn = (name: string): Record<string, string> => ({
  'volume.kubernetes.io/storage-provisioner': name,
  'volume.beta.kubernetes.io/storage-provisioner': name,
});
const PROVISIONED = { ...BBC, 'pv.kubernetes.io/provisioned-by': FAKE_PROVISIONER };
const BOUND_CLAIM_ANN = { ...BBC, ...BC, ...provisionerAnn(FAKE_PROVISIONER) };

const rows: Row[] = [
  {
    name: '11-1 successful provision',
    claims: [{ name: 'claim11-1', klass: 'gold' }],
    expectedVolumes: [{ name: pvcVolume('claim11-1'), phase: 'Bound', claim: 'claim11-1', ann: PROVISIONED, finalizer: true, policy: 'Delete' }],
    expectedClaims: [{ name: 'claim11-1', phase: 'Bound', volumeName: pvcVolume('claim11-1'), ann: BOUND_CLAIM_ANN, capacity: '1Gi' }],
    events: ['Normal ProvisioningSucceeded'],
    check: (w) => assert.equal(w.provisioner.provisionCalls.length, 1),
  },
  {
    // Upstream's "plugin not found": the class names an in-tree provisioner volplane lacks.
    name: '11-2 plugin not found',
    claims: [{ name: 'claim11-2', klass: 'unknown-internal' }],
    expectedVolumes: [],
    expectedClaims: [{ name: 'claim11-2', phase: 'Pending' }],
    events: ['Warning ProvisioningFailed'],
    eventMessages: ['no volume plugin matched name: kubernetes.io/unknown'],
  },
  // 11-3 (newProvisioner failure) has no counterpart: a Provisioner is not built per call.
  {
    name: '11-4 provision failure',
    claims: [{ name: 'claim11-4', klass: 'gold' }],
    provisioner: { provisionAlwaysFails: true },
    expectedVolumes: [],
    expectedClaims: [{ name: 'claim11-4', phase: 'Pending', ann: provisionerAnn(FAKE_PROVISIONER) }],
    events: ['Warning ProvisioningFailed'],
    eventMessages: ['Failed to provision volume with StorageClass "gold": Mock provisioning error'],
    idle: false,
  },
  {
    name: '11-5 provision failure, then success on retry',
    claims: [{ name: 'claim11-5', klass: 'gold' }],
    provisioner: { provision: ['fail'] },
    expectedVolumes: [{ name: pvcVolume('claim11-5'), phase: 'Bound', claim: 'claim11-5', ann: PROVISIONED }],
    expectedClaims: [{ name: 'claim11-5', phase: 'Bound', volumeName: pvcVolume('claim11-5'), ann: BOUND_CLAIM_ANN }],
    events: ['Warning ProvisioningFailed', 'Normal ProvisioningSucceeded'],
  },
  {
    name: '11-6 provisioning when there is a volume available',
    volumes: [{ name: 'volume11-6', phase: 'Available', klass: 'gold' }],
    claims: [{ name: 'claim11-6', klass: 'gold' }],
    expectedVolumes: [{ name: 'volume11-6', phase: 'Bound', claim: 'claim11-6', ann: BBC }],
    expectedClaims: [{ name: 'claim11-6', phase: 'Bound', volumeName: 'volume11-6', ann: { ...BBC, ...BC } }],
    events: [],
    check: (w) => assert.equal(w.provisioner.provisionCalls.length, 0),
  },
  {
    // Another controller provisioned first: the PV of the deterministic name exists.
    name: '11-7 claim is bound before provisioning',
    volumes: [{ name: pvcVolume('claim11-7'), claim: 'claim11-7', phase: 'Bound', policy: 'Delete', klass: 'gold', ann: PROVISIONED }],
    claims: [{ name: 'claim11-7', klass: 'gold' }],
    expectedVolumes: [{ name: pvcVolume('claim11-7'), phase: 'Bound', claim: 'claim11-7', ann: PROVISIONED }],
    expectedClaims: [{ name: 'claim11-7', phase: 'Bound', volumeName: pvcVolume('claim11-7'), ann: { ...BBC, ...BC } }],
    events: [],
    check: (w) => assert.equal(w.provisioner.provisionCalls.length, 0),
  },
  {
    name: '11-8 cannot save provisioned volume',
    claims: [{ name: 'claim11-8', klass: 'gold' }],
    failVolumeCreates: 1,
    expectedVolumes: [{ name: pvcVolume('claim11-8'), phase: 'Bound', claim: 'claim11-8', ann: PROVISIONED }],
    expectedClaims: [{ name: 'claim11-8', phase: 'Bound', volumeName: pvcVolume('claim11-8'), ann: BOUND_CLAIM_ANN }],
    events: ['Normal ProvisioningSucceeded'],
  },
  {
    name: '11-9 cannot save provisioned volume, delete succeeds',
    claims: [{ name: 'claim11-9', klass: 'gold' }],
    failVolumeCreates: 5,
    expectedVolumes: [{ name: pvcVolume('claim11-9'), gone: true }],
    expectedClaims: [{ name: 'claim11-9', phase: 'Pending', ann: provisionerAnn(FAKE_PROVISIONER) }],
    events: ['Warning ProvisioningFailed'],
    check: (w) => {
      assert.equal(w.provisioner.deleteCalls.length, 1);
      assert.equal(w.provisioner.volumes.size, 0);
    },
  },
  // 11-10 (no delete plugin) cannot happen: the provisioner that created a volume deletes it.
  {
    name: '11-11 cannot save provisioned volume, deleter fails',
    claims: [{ name: 'claim11-11', klass: 'gold' }],
    failVolumeCreates: 5,
    provisioner: { deleteAlwaysFails: true },
    expectedVolumes: [],
    expectedClaims: [{ name: 'claim11-11', phase: 'Pending', ann: provisionerAnn(FAKE_PROVISIONER) }],
    events: ['Warning ProvisioningFailed', 'Warning ProvisioningCleanupFailed'],
    check: (w) => assert.equal(w.provisioner.deleteCalls.length, 5),
  },
  {
    name: '11-12 cannot save provisioned volume, delete succeeds 2nd time',
    claims: [{ name: 'claim11-12', klass: 'gold' }],
    failVolumeCreates: 5,
    provisioner: { delete: ['fail', 'ok'] },
    expectedVolumes: [],
    expectedClaims: [{ name: 'claim11-12', phase: 'Pending', ann: provisionerAnn(FAKE_PROVISIONER) }],
    events: ['Warning ProvisioningFailed'],
    check: (w) => {
      assert.equal(w.provisioner.deleteCalls.length, 2);
      assert.equal(w.provisioner.volumes.size, 0);
    },
  },
  {
    name: '11-13 successful provision with storage class 2',
    claims: [{ name: 'claim11-13', klass: 'silver' }],
    expectedVolumes: [{ name: pvcVolume('claim11-13'), phase: 'Bound', claim: 'claim11-13', ann: PROVISIONED, policy: 'Retain', finalizer: false }],
    expectedClaims: [{ name: 'claim11-13', phase: 'Bound', volumeName: pvcVolume('claim11-13'), ann: BOUND_CLAIM_ANN }],
    events: ['Normal ProvisioningSucceeded'],
    check: async (w) => {
      const pv = await w.getVolume(pvcVolume('claim11-13'));
      assert.deepEqual(pv?.spec.mountOptions, ['hard', 'nfsvers=4.2']);
      assert.equal(pv?.spec.storageClassName, 'silver');
    },
  },
  {
    name: '11-14 fail due to non-existing class',
    claims: [{ name: 'claim11-14', klass: 'non-existing' }],
    expectedVolumes: [],
    expectedClaims: [{ name: 'claim11-14', phase: 'Pending' }],
    events: ['Warning ProvisioningFailed'],
    eventMessages: ['storageclass.storage.k8s.io "non-existing" not found'],
  },
  {
    name: "11-15 no provisioning with class=''",
    claims: [{ name: 'claim11-15', klass: '' }],
    expectedVolumes: [],
    expectedClaims: [{ name: 'claim11-15', phase: 'Pending' }],
    events: ['Normal FailedBinding'],
  },
  {
    name: '11-16 no provisioning with class=nil and no default class',
    claims: [{ name: 'claim11-16' }],
    expectedVolumes: [],
    expectedClaims: [{ name: 'claim11-16', phase: 'Pending' }],
    events: ['Normal FailedBinding'],
    check: (w) => assert.equal(w.provisioner.provisionCalls.length, 0),
  },
  {
    name: '11-17 external provisioner',
    claims: [{ name: 'claim11-17', klass: 'external' }],
    expectedVolumes: [],
    expectedClaims: [{ name: 'claim11-17', phase: 'Pending', ann: provisionerAnn('vendor.com/my-volume') }],
    events: ['Normal ExternalProvisioning'],
    eventMessages: [
      "Waiting for a volume to be created either by the external provisioner 'vendor.com/my-volume' or manually by the system administrator. If volume creation is delayed, please verify that the provisioner is running and correctly registered.",
    ],
  },
  {
    name: '11-18 unknown internal provisioner',
    claims: [{ name: 'claim11-18', klass: 'unknown-internal' }],
    expectedVolumes: [],
    expectedClaims: [{ name: 'claim11-18', phase: 'Pending' }],
    events: ['Warning ProvisioningFailed'],
  },
  {
    // Ours: what an external provisioner does next — create the PV pre-bound to the claim.
    name: '11-19 external provisioner creates the volume, the controller binds it',
    claims: [{ name: 'claim11-19', klass: 'external', ann: provisionerAnn('vendor.com/my-volume') }],
    action: async (w) => {
      await w.client.create(resourcePath(resources.persistentVolumes), {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: 'external-11-19', annotations: { 'pv.kubernetes.io/provisioned-by': 'vendor.com/my-volume' } },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadWriteOnce'],
          persistentVolumeReclaimPolicy: 'Delete',
          storageClassName: 'external',
          csi: { driver: 'vendor.com', volumeHandle: 'h-11-19' },
          claimRef: { namespace: w.namespace, name: 'claim11-19', uid: w.claimUids.get('claim11-19') },
        },
      });
    },
    expectedVolumes: [{ name: 'external-11-19', phase: 'Bound', claim: 'claim11-19', ann: { 'pv.kubernetes.io/provisioned-by': 'vendor.com/my-volume' }, finalizer: false }],
    expectedClaims: [{ name: 'claim11-19', phase: 'Bound', volumeName: 'external-11-19', ann: { ...BBC, ...BC, ...provisionerAnn('vendor.com/my-volume') } }],
    events: ['Normal ExternalProvisioning'],
  },

  // Default StorageClass.
  {
    name: '15-1 a claim without a class gets the default class and is provisioned',
    classes: [storageClass('default-15-1', FAKE_PROVISIONER, { metadata: { name: 'default-15-1', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } })],
    claims: [{ name: 'claim15-1' }],
    expectedVolumes: [{ name: pvcVolume('claim15-1'), phase: 'Bound', claim: 'claim15-1', ann: PROVISIONED }],
    expectedClaims: [{ name: 'claim15-1', phase: 'Bound', volumeName: pvcVolume('claim15-1'), ann: BOUND_CLAIM_ANN, klass: 'default-15-1' }],
    events: ['Normal ProvisioningSucceeded'],
  },
  {
    name: "15-2 a claim with class '' is not given the default class",
    classes: [storageClass('default-15-2', FAKE_PROVISIONER, { metadata: { name: 'default-15-2', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } } })],
    claims: [{ name: 'claim15-2', klass: '' }],
    expectedVolumes: [],
    expectedClaims: [{ name: 'claim15-2', phase: 'Pending', klass: '' }],
    events: ['Normal FailedBinding'],
  },
  {
    // Retroactive assignment (1.28+): the default class appears after the claim.
    name: '15-3 a Pending claim without a class gets a default class created later',
    claims: [{ name: 'claim15-3' }],
    action: async (w) => {
      await waitFor('the first FailedBinding', async () => (await rowEvents(w)).some((e) => e.reason === 'FailedBinding'));
      await w.client.create(resourcePath(resources.storageClasses), {
        apiVersion: 'storage.k8s.io/v1',
        kind: 'StorageClass',
        metadata: { name: 'default-15-3', annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
        provisioner: FAKE_PROVISIONER,
      });
    },
    classes: [],
    expectedVolumes: [{ name: pvcVolume('claim15-3'), phase: 'Bound', claim: 'claim15-3', ann: PROVISIONED }],
    expectedClaims: [{ name: 'claim15-3', phase: 'Bound', volumeName: pvcVolume('claim15-3'), ann: BOUND_CLAIM_ANN, klass: 'default-15-3' }],
    events: ['Normal FailedBinding', 'Normal ProvisioningSucceeded'],
  },

  // WaitForFirstConsumer.
  {
    name: '16-1 delayed provisioning waits for the first consumer',
    claims: [{ name: 'claim16-1', klass: 'wait-fake' }],
    expectedVolumes: [],
    expectedClaims: [{ name: 'claim16-1', phase: 'Pending' }],
    events: ['Normal WaitForFirstConsumer'],
    check: (w) => assert.equal(w.provisioner.provisionCalls.length, 0),
  },
  {
    name: '16-2 delayed provisioning on the selected node',
    claims: [{ name: 'claim16-2', klass: 'wait-fake', ann: { [SELECTED_NODE]: 'node1' } }],
    expectedVolumes: [{ name: pvcVolume('claim16-2'), phase: 'Bound', claim: 'claim16-2', ann: PROVISIONED }],
    expectedClaims: [{ name: 'claim16-2', phase: 'Bound', volumeName: pvcVolume('claim16-2'), ann: { ...BOUND_CLAIM_ANN, [SELECTED_NODE]: 'node1' } }],
    events: ['Normal ProvisioningSucceeded'],
    check: async (w) => {
      assert.equal(w.provisioner.provisionCalls[0]?.selectedNode, 'node1');
      const pv = await w.getVolume(pvcVolume('claim16-2'));
      assert.deepEqual(pv?.spec.nodeAffinity?.required?.nodeSelectorTerms[0]?.matchExpressions?.[0]?.values, ['node1']);
    },
  },
  {
    // A failed provision on the chosen node hands the choice back to the scheduler.
    name: '16-3 failed delayed provisioning clears the selected node',
    claims: [{ name: 'claim16-3', klass: 'wait-fake', ann: { [SELECTED_NODE]: 'node1' } }],
    provisioner: { provision: ['fail'] },
    expectedVolumes: [],
    expectedClaims: [{ name: 'claim16-3', phase: 'Pending', ann: provisionerAnn(FAKE_PROVISIONER) }],
    events: ['Warning ProvisioningFailed', 'Normal WaitForFirstConsumer'],
  },
];

describe('PV controller: provisioning (provision_test.go scenarios)', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
    const classes = [
      storageClass('gold', FAKE_PROVISIONER),
      storageClass('silver', FAKE_PROVISIONER, { reclaimPolicy: 'Retain', mountOptions: ['hard', 'nfsvers=4.2'], parameters: { param1: 'value1' } }),
      storageClass('external', 'vendor.com/my-volume'),
      storageClass('unknown-internal', 'kubernetes.io/unknown'),
      storageClass('wait-fake', FAKE_PROVISIONER, { volumeBindingMode: 'WaitForFirstConsumer' }),
    ];
    for (const sc of classes) await h.client.create(resourcePath(resources.storageClasses), { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', ...sc });
  });
  after(async () => {
    // 15-3 creates its class itself.
    await h.client.delete(resourcePath(resources.storageClasses, undefined, 'default-15-3')).catch(() => undefined);
    await h.close();
  });
  for (const row of rows) {
    it(row.name, async () => {
      try {
        await runRow(h, row);
      } finally {
        if (row.name.startsWith('15-3')) await h.client.delete(resourcePath(resources.storageClasses, undefined, 'default-15-3')).catch(() => undefined);
      }
    });
  }

  it('17-1 the hostpath provisioner end to end: provision, bind, release, delete the directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'volplane-pvc-hostpath-'));
    const hostpath = new HostPathProvisioner({ dataDir: dir, defaultNode: 'node1' });
    try {
      await runRow(
        h,
        {
          name: '17-1 hostpath',
          classes: [storageClass('hostpath-17-1', hostpath.name)],
          claims: [{ name: 'claim17-1', klass: 'hostpath-17-1' }],
          expectedVolumes: [{ name: pvcVolume('claim17-1'), phase: 'Bound', claim: 'claim17-1', finalizer: true, ann: { ...BBC, 'pv.kubernetes.io/provisioned-by': hostpath.name } }],
          expectedClaims: [{ name: 'claim17-1', phase: 'Bound', volumeName: pvcVolume('claim17-1'), ann: { ...BBC, ...BC, ...provisionerAnn(hostpath.name) } }],
          events: ['Normal ProvisioningSucceeded'],
          check: async (w) => {
            const pvName = w.resolveVolumeName(pvcVolume('claim17-1'));
            const pv = (await w.getVolume(pvName)) as PersistentVolume;
            assert.equal(pv.spec.hostPath?.path, join(dir, 'hostpath-volumes', pvName));
            assert.ok((await stat(pv.spec.hostPath!.path)).isDirectory());
            // No pv-protection controller runs here: drop its finalizer, as it would once the claim is gone.
            const pvPath = resourcePath(resources.persistentVolumes, undefined, pvName);
            await w.client.patch(pvPath, { metadata: { finalizers: (pv.metadata.finalizers ?? []).filter((f) => f !== 'kubernetes.io/pv-protection') } });
            // Delete the claim: the volume is Released, its directory deleted, then the PV.
            const claimPath = resourcePath(resources.persistentVolumeClaims, w.namespace, 'claim17-1');
            await w.client.patch(claimPath, { metadata: { finalizers: null } });
            await w.client.delete(claimPath);
            await waitFor('the provisioned PV to be deleted', async () => (await w.getVolume(pvName)) === undefined);
            await assert.rejects(stat(pv.spec.hostPath!.path), { code: 'ENOENT' });
            assert.deepEqual((await readdir(join(dir, 'hostpath-volumes'))).filter((n) => !n.startsWith('.')), []);
          },
        },
        [hostpath],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('17-2 a provisioned PV deleted before its claim: the storage goes first (the finalizer holds the PV)', async () => {
    await runRow(h, {
      name: '17-2 finalizer',
      claims: [{ name: 'claim17-2', klass: 'gold' }],
      expectedVolumes: [{ name: pvcVolume('claim17-2'), phase: 'Bound', claim: 'claim17-2', ann: PROVISIONED, finalizer: true }],
      expectedClaims: [{ name: 'claim17-2', phase: 'Bound', volumeName: pvcVolume('claim17-2'), ann: BOUND_CLAIM_ANN }],
      events: ['Normal ProvisioningSucceeded'],
      check: async (w) => {
        const pvName = w.resolveVolumeName(pvcVolume('claim17-2'));
        const pvPath = resourcePath(resources.persistentVolumes, undefined, pvName);
        // Drop the API's own protection so only our finalizer holds the PV, then delete it first.
        const pv = await w.client.get<PersistentVolume>(pvPath);
        await w.client.patch(pvPath, { metadata: { finalizers: (pv.metadata.finalizers ?? []).filter((f) => f !== 'kubernetes.io/pv-protection') } });
        await w.client.delete(pvPath);
        const deleting = await w.client.get<PersistentVolume>(pvPath);
        assert.ok(deleting.metadata.deletionTimestamp !== undefined, 'the finalizer keeps the PV');
        assert.equal(w.provisioner.deleteCalls.length, 0, 'bound: the storage stays');
        const claimPath = resourcePath(resources.persistentVolumeClaims, w.namespace, 'claim17-2');
        await w.client.patch<PersistentVolumeClaim>(claimPath, { metadata: { finalizers: null } });
        await w.client.delete(claimPath);
        await waitFor('the PV to go', async () => (await w.getVolume(pvName)) === undefined);
        assert.deepEqual(w.provisioner.deleteCalls, [pvName]);
      },
    });
  });
});

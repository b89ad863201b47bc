// The external provisioner against a real API server, the PV controller and
// the REAL volplane driver (loop volumes and directories in a temp dir).
// Rows are numbered like upstream's scenarios: each creates its own class and
// claim in its own namespace, then waits for the PV (or the failure event).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../apimachinery/index.ts';
import type { PersistentVolume, PersistentVolumeClaim } from '../../api/core/volume-types.ts';
import { resourcePath, resources, type RestClient } from '../../client/index.ts';
import { TOPOLOGY_KEY } from '../../drivers/volplane/index.ts';
import { waitForState } from '../../testing/index.ts';
import { DRIVER, NODE, OTHER_NODE, startSidecarEnv, type SidecarEnv } from './test-framework.ts';
import { PROVISIONER_FINALIZER } from './index.ts';

interface Row {
  name: string;
  class: { parameters?: Record<string, string>; volumeBindingMode?: string; reclaimPolicy?: string; mountOptions?: string[] };
  claim: { storage: string; volumeMode?: 'Block' | 'Filesystem'; selectedNode?: string };
  /** What must hold of the bound PV (undefined = fine). */
  wantPV?: (pv: PersistentVolume, claim: PersistentVolumeClaim) => string | undefined;
  /** A ProvisioningFailed message the claim must get instead. */
  wantFailure?: RegExp;
  /** Runs in the row's namespace before the class and claim exist. */
  setup?: (client: RestClient, ns: string) => Promise<void>;
}

const SECRET_PARAMS = {
  'csi.storage.k8s.io/provisioner-secret-name': '${pvc.name}-creds',
  'csi.storage.k8s.io/provisioner-secret-namespace': '${pvc.namespace}',
  'csi.storage.k8s.io/node-publish-secret-name': 'publish-${pv.name}',
  'csi.storage.k8s.io/node-publish-secret-namespace': 'secrets',
};

const affinityOn = (node: string) => ({ required: { nodeSelectorTerms: [{ matchExpressions: [{ key: TOPOLOGY_KEY, operator: 'In', values: [node] }] }] } });

const rows: Row[] = [
  {
    name: '1-1 immediate class: directory volume, PV with csi source, node affinity, pre-bound claimRef, bound by the PV controller',
    class: { parameters: { kind: 'directory', 'csi.storage.k8s.io/fstype': '' }, reclaimPolicy: 'Delete', mountOptions: ['noatime'] },
    claim: { storage: '10Mi' },
    wantPV: (pv, claim) => {
      const csi = pv.spec.csi;
      if (csi?.driver !== DRIVER) return `csi.driver ${String(csi?.driver)}`;
      if (csi.volumeHandle === '') return 'no volumeHandle';
      if (csi.fsType !== undefined) return `fsType ${String(csi.fsType)} on a directory volume`;
      if ((csi.volumeAttributes as Record<string, string> | undefined)?.['volplane.io/kind'] !== 'directory') return `volumeAttributes ${JSON.stringify(csi.volumeAttributes)}`;
      assert.equal(pv.metadata.name, `pvc-${claim.metadata.uid}`);
      assert.deepEqual(pv.spec.capacity, { storage: '10Mi' });
      assert.deepEqual(pv.spec.accessModes, ['ReadWriteOnce']);
      assert.equal(pv.spec.volumeMode, 'Filesystem');
      assert.equal(pv.spec.persistentVolumeReclaimPolicy, 'Delete');
      assert.deepEqual(pv.spec.mountOptions, ['noatime']);
      assert.equal(pv.spec.claimRef?.uid, claim.metadata.uid);
      assert.deepEqual(pv.spec.nodeAffinity, affinityOn(NODE));
      assert.equal(pv.metadata.annotations?.['pv.kubernetes.io/provisioned-by'], DRIVER);
      assert.ok(pv.metadata.finalizers?.includes(PROVISIONER_FINALIZER), `finalizers ${JSON.stringify(pv.metadata.finalizers)}`);
      return undefined;
    },
  },
  {
    name: '1-2 WaitForFirstConsumer with selected-node: loop volume with the class fsType on that node',
    class: { parameters: { 'csi.storage.k8s.io/fstype': 'ext4' }, volumeBindingMode: 'WaitForFirstConsumer' },
    claim: { storage: '20Mi', selectedNode: NODE },
    wantPV: (pv) => {
      const csi = pv.spec.csi;
      if (csi?.fsType !== 'ext4') return `fsType ${String(csi?.fsType)}`;
      assert.equal((csi.volumeAttributes as Record<string, string>)['volplane.io/kind'], 'loop');
      assert.deepEqual(pv.spec.capacity, { storage: '20Mi' });
      assert.deepEqual(pv.spec.nodeAffinity, affinityOn(NODE));
      return undefined;
    },
  },
  {
    name: '1-3 WaitForFirstConsumer on a node the driver does not serve: the requisite topology reaches the driver, which refuses',
    class: { volumeBindingMode: 'WaitForFirstConsumer' },
    claim: { storage: '10Mi', selectedNode: OTHER_NODE },
    wantFailure: /^failed to provision volume with StorageClass "[^"]+": rpc error: code = ResourceExhausted desc = volumes can only be provisioned on the nodes of this machine: node-a$/,
  },
  {
    name: '1-4 Block claim: loop volume, PV volumeMode Block without fsType',
    class: { parameters: { 'csi.storage.k8s.io/fstype': 'xfs' } },
    claim: { storage: '16Mi', volumeMode: 'Block' },
    wantPV: (pv) => {
      if (pv.spec.volumeMode !== 'Block') return `volumeMode ${String(pv.spec.volumeMode)}`;
      assert.equal(pv.spec.csi?.fsType, undefined);
      assert.equal((pv.spec.csi?.volumeAttributes as Record<string, string>)['volplane.io/kind'], 'loop');
      return undefined;
    },
  },
  {
    name: '1-5 a capacity the driver refuses: ProvisioningFailed with the driver message, no PV',
    class: { parameters: { kind: 'loop' } },
    claim: { storage: '1Ei' },
    wantFailure: /^failed to provision volume with StorageClass "[^"]+": rpc error: code = OutOfRange desc = requested capacity \d+ exceeds the free space/,
  },
  {
    name: '1-6 parameters the driver rejects: ProvisioningFailed with InvalidArgument',
    class: { parameters: { kind: 'tape' } },
    claim: { storage: '10Mi' },
    wantFailure: /rpc error: code = InvalidArgument desc = parameter kind must be "directory" or "loop", not "tape"$/,
  },
  {
    name: '1-7 secrets: the provisioner secret is read (templates filled in) and remembered for DeleteVolume; publish secret refs land in the PV',
    class: { parameters: SECRET_PARAMS },
    claim: { storage: '10Mi' },
    setup: async (client, ns) => {
      await client.create(resourcePath(resources.secrets, ns), { metadata: { name: 'claim-creds', namespace: ns }, data: { token: Buffer.from('t').toString('base64') } });
    },
    wantPV: (pv) => {
      assert.equal(pv.metadata.annotations?.['volume.kubernetes.io/provisioner-deletion-secret-name'], 'claim-creds');
      assert.equal(pv.metadata.annotations?.['volume.kubernetes.io/provisioner-deletion-secret-namespace'], pv.spec.claimRef?.namespace);
      assert.deepEqual(pv.spec.csi?.nodePublishSecretRef, { name: `publish-${pv.metadata.name}`, namespace: 'secrets' });
      assert.equal(pv.spec.csi?.controllerPublishSecretRef, undefined);
      return undefined;
    },
  },
  {
    name: '1-8 a missing provisioner secret: ProvisioningFailed naming it',
    class: { parameters: SECRET_PARAMS },
    claim: { storage: '10Mi' },
    wantFailure: /^failed to provision volume with StorageClass "[^"]+": failed to get secret p-\d+\/claim-creds: /,
  },
];

async function events(client: RestClient, ns: string, object: string): Promise<{ reason: string; message: string }[]> {
  const list = await client.get<{ items: (KubeObject & { reason: string; message: string; involvedObject: { name: string } })[] }>(resourcePath(resources.events, ns));
  return list.items.filter((e) => e.involvedObject.name === object).map((e) => ({ reason: e.reason, message: e.message }));
}

async function getOrUndefined<T>(client: RestClient, path: string): Promise<T | undefined> {
  try {
    return await client.get<T>(path);
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

async function createClass(client: RestClient, name: string, c: Row['class']): Promise<void> {
  await client.create(resourcePath(resources.storageClasses), {
    metadata: { name },
    provisioner: DRIVER,
    parameters: c.parameters ?? {},
    reclaimPolicy: c.reclaimPolicy ?? 'Delete',
    volumeBindingMode: c.volumeBindingMode ?? 'Immediate',
    ...(c.mountOptions === undefined ? {} : { mountOptions: c.mountOptions }),
  });
}

async function createClaim(client: RestClient, ns: string, name: string, cls: string, c: Row['claim']): Promise<PersistentVolumeClaim> {
  return await client.create<PersistentVolumeClaim>(resourcePath(resources.persistentVolumeClaims, ns), {
    metadata: { name, namespace: ns, ...(c.selectedNode === undefined ? {} : { annotations: { 'volume.kubernetes.io/selected-node': c.selectedNode } }) },
    spec: { accessModes: ['ReadWriteOnce'], storageClassName: cls, volumeMode: c.volumeMode ?? 'Filesystem', resources: { requests: { storage: c.storage } } },
  });
}

describe('external provisioner', () => {
  let s: SidecarEnv;
  before(async () => {
    s = await startSidecarEnv(false);
  });
  after(async () => {
    const leaks = await s.close();
    assert.deepEqual(leaks, [], 'loop devices or mounts left behind');
  });

  rows.forEach((row, i) => {
    it(row.name, async () => {
      const { client } = s.env;
      const ns = `p-${i + 1}`;
      const cls = `class-${i + 1}`;
      await s.env.createNamespace(ns);
      await row.setup?.(client, ns);
      await createClass(client, cls, row.class);
      const claim = await createClaim(client, ns, 'claim', cls, row.claim);
      const pvPath = resourcePath(resources.persistentVolumes, undefined, `pvc-${claim.metadata.uid}`);
      const claimPath = resourcePath(resources.persistentVolumeClaims, ns, 'claim');
      if (row.wantFailure !== undefined) {
        await waitForState(
          'ProvisioningFailed event',
          () => events(client, ns, 'claim'),
          (evs) => (evs.some((e) => e.reason === 'ProvisioningFailed' && row.wantFailure!.test(e.message)) ? undefined : `events: ${JSON.stringify(evs)}`),
          { timeoutMs: 20_000 },
        );
        assert.equal(await getOrUndefined(client, pvPath), undefined, 'no PV for a failed provision');
        return;
      }
      const { pv } = await waitForState(
        'PV provisioned and claim bound',
        async () => ({ pv: await getOrUndefined<PersistentVolume>(client, pvPath), claim: await client.get<PersistentVolumeClaim>(claimPath) }),
        (w) => {
          if (w.pv === undefined) return 'no PV yet';
          if (w.claim.status?.phase !== 'Bound') return `claim ${String(w.claim.status?.phase)}`;
          if (w.claim.spec.volumeName !== w.pv.metadata.name) return `claim volumeName ${String(w.claim.spec.volumeName)}`;
          return row.wantPV?.(w.pv, w.claim);
        },
        { timeoutMs: 30_000 },
      );
      const evs = await waitForState(
        'Provisioning and ProvisioningSucceeded events',
        () => events(client, ns, 'claim'),
        (e) => (e.some((x) => x.reason === 'ProvisioningSucceeded') ? undefined : JSON.stringify(e)),
      );
      assert.ok(evs.some((e) => e.reason === 'Provisioning' && e.message === `External provisioner is provisioning volume for claim "${ns}/claim"`));
      assert.ok(evs.some((e) => e.reason === 'ProvisioningSucceeded' && e.message === `Successfully provisioned volume ${pv!.metadata.name}`));
    });
  });

  it('1-9 WaitForFirstConsumer without selected-node waits; once the node is selected the volume is provisioned', async () => {
    const { client } = s.env;
    await s.env.createNamespace('p-9');
    await createClass(client, 'class-9', { volumeBindingMode: 'WaitForFirstConsumer' });
    await createClass(client, 'class-9i', {});
    const waiting = await createClaim(client, 'p-9', 'waiting', 'class-9', { storage: '10Mi' });
    const marker = await createClaim(client, 'p-9', 'marker', 'class-9i', { storage: '10Mi' });
    // The immediate claim, created after, is provisioned: by then the waiting one had its chance.
    await waitForState('marker provisioned', () => getOrUndefined(client, resourcePath(resources.persistentVolumes, undefined, `pvc-${marker.metadata.uid}`)), (pv) => (pv === undefined ? 'no PV' : undefined));
    const waitingPV = resourcePath(resources.persistentVolumes, undefined, `pvc-${waiting.metadata.uid}`);
    assert.equal(await getOrUndefined(client, waitingPV), undefined, 'a WaitForFirstConsumer claim without a node must wait');
    await client.patch(resourcePath(resources.persistentVolumeClaims, 'p-9', 'waiting'), { metadata: { annotations: { 'volume.kubernetes.io/selected-node': NODE } } });
    await waitForState('waiting claim provisioned', () => getOrUndefined(client, waitingPV), (pv) => (pv === undefined ? 'no PV' : undefined), { timeoutMs: 20_000 });
  });

  it('1-10 claim deleted: PV Released → DeleteVolume → finalizer removed → PV gone, the volume is gone from the driver', async () => {
    const { client } = s.env;
    await s.env.createNamespace('p-10');
    await createClass(client, 'class-10', { parameters: { 'csi.storage.k8s.io/fstype': 'ext4' } });
    const claim = await createClaim(client, 'p-10', 'claim', 'class-10', { storage: '16Mi' });
    const pvPath = resourcePath(resources.persistentVolumes, undefined, `pvc-${claim.metadata.uid}`);
    const pv = await waitForState('PV bound', () => getOrUndefined<PersistentVolume>(client, pvPath), (v) => (v?.status?.phase === 'Bound' ? undefined : `PV ${String(v?.status?.phase)}`), { timeoutMs: 30_000 });
    const handle = pv!.spec.csi!.volumeHandle;
    assert.ok((await s.csi.controller.ListVolumes({})).entries.some((e) => e.volume.volume_id === handle), 'the driver has the volume');
    await client.delete(resourcePath(resources.persistentVolumeClaims, 'p-10', 'claim'));
    await waitForState('PV deleted', () => getOrUndefined<PersistentVolume>(client, pvPath), (v) => (v === undefined ? undefined : `PV still there: ${JSON.stringify({ meta: v.metadata, status: v.status })}`), { timeoutMs: 30_000 });
    assert.ok(!(await s.csi.controller.ListVolumes({})).entries.some((e) => e.volume.volume_id === handle), 'DeleteVolume was called');
  });

  it('1-11 claim deleted while the driver creates the volume: the new volume is deleted again, no PV', async () => {
    const { client } = s.env;
    await s.env.createNamespace('p-11');
    await createClass(client, 'class-11', {});
    const claimPath = resourcePath(resources.persistentVolumeClaims, 'p-11', 'claim');
    let hookRan = false;
    s.beforeCreateVolume = async (volumeName) => {
      if (!volumeName.startsWith('pvc-') || hookRan) return;
      hookRan = true;
      await client.delete(claimPath);
      await waitForState('claim gone', () => getOrUndefined(client, claimPath), (c) => (c === undefined ? undefined : 'claim still there'));
    };
    try {
      const claim = await createClaim(client, 'p-11', 'claim', 'class-11', { storage: '10Mi' });
      const volumeName = `pvc-${claim.metadata.uid}`;
      await waitForState('volume created and deleted again', async () => ({ created: s.createdVolumes.has(volumeName), vol: s.driver.state.volumeByName(volumeName) }), (w) =>
        !w.created ? 'CreateVolume has not returned yet' : w.vol !== undefined ? 'the driver still has the volume' : undefined,
      );
      assert.equal(await getOrUndefined(client, resourcePath(resources.persistentVolumes, undefined, volumeName)), undefined, 'no PV');
    } finally {
      s.beforeCreateVolume = undefined;
    }
  });
});

// The external attacher against a real API server and the REAL volplane
// driver with attachRequired (ControllerPublishVolume sets up a loop device).
// The volume comes from the external provisioner, as in a cluster; each row
// then writes VolumeAttachments by hand, as the AD controller would.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { PersistentVolume, PersistentVolumeClaim } from '../../api/core/volume-types.ts';
import { resourcePath, resources, type RestClient } from '../../client/index.ts';
import { waitForState } from '../../testing/index.ts';
import { DRIVER, NODE, OTHER_NODE, startSidecarEnv, type SidecarEnv } from './test-framework.ts';
import { attacherFinalizer, type VolumeAttachment } from './index.ts';

const FINALIZER = 'external-attacher/csi-volplane-io';

async function getOrUndefined<T>(client: RestClient, path: string): Promise<T | undefined> {
  try {
    return await client.get<T>(path);
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

const vaPath = (name: string): string => resourcePath(resources.volumeAttachments, undefined, name);

async function createVA(client: RestClient, name: string, node: string, pv: string, attacher = DRIVER): Promise<void> {
  await client.create(resourcePath(resources.volumeAttachments), { metadata: { name }, spec: { attacher, nodeName: node, source: { persistentVolumeName: pv } } });
}

describe('external attacher', () => {
  let s: SidecarEnv;
  let pvName = '';
  let handle = '';
  before(async () => {
    s = await startSidecarEnv(true);
    const { client } = s.env;
    await s.env.createNamespace('a');
    await client.create(resourcePath(resources.storageClasses), {
      metadata: { name: 'loop' },
      provisioner: DRIVER,
      parameters: { 'csi.storage.k8s.io/fstype': 'ext4' },
      reclaimPolicy: 'Delete',
    });
    const claim = await client.create<PersistentVolumeClaim>(resourcePath(resources.persistentVolumeClaims, 'a'), {
      metadata: { name: 'claim', namespace: 'a' },
      spec: { accessModes: ['ReadWriteOnce'], storageClassName: 'loop', resources: { requests: { storage: '16Mi' } } },
    });
    pvName = `pvc-${claim.metadata.uid}`;
    const pv = await waitForState(
      'PV bound',
      () => getOrUndefined<PersistentVolume>(client, resourcePath(resources.persistentVolumes, undefined, pvName)),
      (v) => (v?.status?.phase === 'Bound' ? undefined : `PV ${String(v?.status?.phase)}`),
      { timeoutMs: 30_000 },
    );
    handle = pv!.spec.csi!.volumeHandle;
  });
  after(async () => {
    const leaks = await s.close();
    assert.deepEqual(leaks, [], 'loop devices or mounts left behind');
  });

  it('0 the finalizer name is upstream GetFinalizerName', () => {
    assert.equal(attacherFinalizer(DRIVER), FINALIZER);
    assert.equal(attacherFinalizer('example.com/'), 'external-attacher/example-com-X');
  });

  it('2-1 VolumeAttachment → ControllerPublishVolume → attached with metadata, finalizers on the attachment and the PV', async () => {
    const { client } = s.env;
    await createVA(client, 'va-1', NODE, pvName);
    const va = await waitForState(
      'attached',
      () => client.get<VolumeAttachment>(vaPath('va-1')),
      (v) => (v.status?.attached === true ? undefined : `status ${JSON.stringify(v.status)}`),
      { timeoutMs: 30_000 },
    );
    assert.match(va.status?.attachmentMetadata?.devicePath ?? '', /^\/dev\/loop\d+$/);
    assert.ok(va.metadata.finalizers?.includes(FINALIZER));
    const pv = await client.get<PersistentVolume>(resourcePath(resources.persistentVolumes, undefined, pvName));
    assert.ok(pv.metadata.finalizers?.includes(FINALIZER), `PV finalizers ${JSON.stringify(pv.metadata.finalizers)}`);
    const { entries } = await s.csi.controller.ListVolumes({});
    assert.deepEqual(entries.find((e) => e.volume.volume_id === handle)?.status?.published_node_ids, [NODE]);
  });

  it('2-2 deleting the attachment → ControllerUnpublishVolume → finalizers dropped → gone', async () => {
    const { client } = s.env;
    await client.delete(vaPath('va-1'));
    await waitForState('attachment gone', () => getOrUndefined(client, vaPath('va-1')), (v) => (v === undefined ? undefined : 'still there'), { timeoutMs: 30_000 });
    await waitForState(
      'PV finalizer dropped',
      () => client.get<PersistentVolume>(resourcePath(resources.persistentVolumes, undefined, pvName)),
      (pv) => (pv.metadata.finalizers?.includes(FINALIZER) === true ? `finalizers ${JSON.stringify(pv.metadata.finalizers)}` : undefined),
    );
    const { entries } = await s.csi.controller.ListVolumes({});
    assert.deepEqual(entries.find((e) => e.volume.volume_id === handle)?.status?.published_node_ids, []);
  });

  const failures: { name: string; node: string; want: RegExp }[] = [
    { name: '2-3 a node without a CSINode entry: attachError, not attached', node: 'node-c', want: /^CSINode node-c does not contain driver csi\.volplane\.io$/ },
    {
      name: '2-4 the driver refuses the node: attachError with the driver message',
      node: OTHER_NODE,
      want: /^rpc error: code = NotFound desc = node node-b does not exist; this driver serves node node-a and the node-only instances recorded in \S+\/nodes$/,
    },
  ];
  failures.forEach((row, i) => {
    it(row.name, async () => {
      const { client } = s.env;
      const name = `va-fail-${i}`;
      await createVA(client, name, row.node, pvName);
      const va = await waitForState(
        'attachError',
        () => client.get<VolumeAttachment>(vaPath(name)),
        (v) => (row.want.test(v.status?.attachError?.message ?? '') ? undefined : `status ${JSON.stringify(v.status)}`),
        { timeoutMs: 20_000 },
      );
      assert.equal(va.status?.attached, false);
      assert.match(va.status?.attachError?.time ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    });
  });

  it('2-5 an attachment for another attacher is left alone', async () => {
    const { client } = s.env;
    await createVA(client, 'va-other', NODE, pvName, 'other.example.com');
    // An attachment of ours created after it gets an answer; by then the other one had its chance.
    await createVA(client, 'va-marker', 'node-c', pvName);
    await waitForState('marker answered', () => client.get<VolumeAttachment>(vaPath('va-marker')), (v) => (v.status?.attachError === undefined ? 'no answer' : undefined));
    const other = await client.get<VolumeAttachment>(vaPath('va-other'));
    assert.equal(other.metadata.finalizers, undefined);
    assert.equal(other.status?.attachError, undefined);
    assert.equal(other.status?.attached, false);
  });
});

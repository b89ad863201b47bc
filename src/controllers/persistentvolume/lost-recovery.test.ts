// A claim whose volume vanished is Lost; when the volume comes back with a
// claimRef naming the claim (its uid included), the claim is Bound again at
// once, not at the next periodic resync. The resync here is a minute, far
// longer than the deadline, so only the volume event can have done it.
//
// Upstream: syncBoundClaim rebinds a Lost claim whose volume is back ("all is
// well" → bind, status Bound, no event of its own); upstream reaches it on its
// resync, volplane queues the claim from syncVolume's "bound to each other"
// branch.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { KubeList } from '../../apimachinery/index.ts';
import type { PersistentVolume, PersistentVolumeClaim } from '../../api/core/volume-types.ts';
import { waitFor } from '../../base/index.ts';
import { ApiError, resourcePath, resources, type CoreEvent } from '../../client/index.ts';
import { startControllerEnv, type ControllerEnv } from '../../testing/index.ts';
import { startPersistentVolumeController } from './index.ts';

const NS = 'lost';
const RESYNC_MS = 60_000;
const DEADLINE_MS = 5_000;

let env: ControllerEnv;

before(async () => {
  env = await startControllerEnv((ctx, signal) => startPersistentVolumeController({ ...ctx, provisioners: new Map() }, signal, { resyncMs: RESYNC_MS }));
  await env.createNamespace(NS);
});

after(async () => {
  await env.close();
});

const pvPath = (name?: string): string => resourcePath(resources.persistentVolumes, undefined, name);
const pvcPath = (name?: string): string => resourcePath(resources.persistentVolumeClaims, NS, name);

function volume(name: string, claimRef?: PersistentVolume['spec']['claimRef']): PersistentVolume {
  return {
    metadata: { name },
    spec: {
      capacity: { storage: '1Gi' },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: 'lost',
      hostPath: { path: `/tmp/${name}` },
      ...(claimRef === undefined ? {} : { claimRef }),
    },
  } as PersistentVolume;
}

async function claimPhase(name: string): Promise<string | undefined> {
  return (await env.client.get<PersistentVolumeClaim>(pvcPath(name))).status?.phase;
}

async function deleteVolume(name: string): Promise<void> {
  // Nothing here runs pv-protection, but strip any finalizer so the delete is immediate.
  const pv = await env.client.get<PersistentVolume>(pvPath(name));
  if ((pv.metadata.finalizers ?? []).length > 0) await env.client.update(pvPath(name), { ...pv, metadata: { ...pv.metadata, finalizers: [] } });
  await env.client.request('DELETE', pvPath(name));
  await waitFor('the volume is gone', async () => {
    try {
      await env.client.get(pvPath(name));
      return false;
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return true;
      throw err;
    }
  }, { timeoutMs: DEADLINE_MS });
}

async function claimEvents(uid: string): Promise<CoreEvent[]> {
  const list = await env.client.get<KubeList<CoreEvent>>(resourcePath(resources.events, NS));
  return list.items.filter((e) => e.involvedObject.uid === uid);
}

test('lost 1: claim Bound, its volume deleted → Lost; the volume re-created with the claimRef → Bound again without a resync', async () => {
  await env.client.create(pvPath(), volume('lost-pv-1'));
  // The controller matches claims against the volumes it has seen Available.
  await waitFor('the volume is Available', async () => (await env.client.get<PersistentVolume>(pvPath('lost-pv-1'))).status?.phase === 'Available', {
    timeoutMs: DEADLINE_MS,
  });
  const created = await env.client.create<PersistentVolumeClaim>(pvcPath(), {
    metadata: { name: 'lost-1' },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'lost' },
  });
  const uid = created.metadata.uid ?? '';
  await waitFor('the claim is Bound', async () => (await claimPhase('lost-1')) === 'Bound', { timeoutMs: DEADLINE_MS });

  await deleteVolume('lost-pv-1');
  await waitFor('the claim is Lost', async () => (await claimPhase('lost-1')) === 'Lost', { timeoutMs: DEADLINE_MS });
  // The recorder writes events in the background.
  let lost: CoreEvent[] = [];
  await waitFor('the ClaimLost event', async () => {
    lost = await claimEvents(uid);
    return lost.some((e) => e.type === 'Warning' && e.reason === 'ClaimLost' && e.message === 'Bound claim has lost its PersistentVolume. Data on the volume is lost!');
  }, { timeoutMs: DEADLINE_MS });

  const started = Date.now();
  await env.client.create(
    pvPath(),
    volume('lost-pv-1', { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: NS, name: 'lost-1', uid }),
  );
  await waitFor('the claim is Bound again', async () => (await claimPhase('lost-1')) === 'Bound', { timeoutMs: DEADLINE_MS });
  assert.ok(Date.now() - started < RESYNC_MS, 'recovered before any resync could have run');

  const claim = await env.client.get<PersistentVolumeClaim>(pvcPath('lost-1'));
  assert.equal(claim.spec.volumeName, 'lost-pv-1');
  assert.deepEqual(claim.status?.capacity, { storage: '1Gi' });
  assert.deepEqual(claim.status?.accessModes, ['ReadWriteOnce']);
  await waitFor('the volume is Bound', async () => (await env.client.get<PersistentVolume>(pvPath('lost-pv-1'))).status?.phase === 'Bound', {
    timeoutMs: DEADLINE_MS,
  });
  // As upstream, the recovery itself records no event: the ClaimLost warning stays the only one.
  const after = await claimEvents(uid);
  assert.deepEqual(after.map((e) => e.reason).sort(), lost.map((e) => e.reason).sort());
});

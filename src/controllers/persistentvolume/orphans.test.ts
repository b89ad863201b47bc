// Storage provisioned for a claim whose PV was never saved (a crash between
// the two) is deleted once nothing refers to it; storage of a live claim or of
// an existing PV is left alone.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../../base/index.ts';
import { resourcePath, resources } from '../../client/index.ts';
import { startControllerEnv, type ControllerEnv } from '../../testing/index.ts';
import { HostPathProvisioner } from '../../volume/provisioners/hostpath/index.ts';
import { startPersistentVolumeController } from './index.ts';

const exists = (path: string): Promise<boolean> => stat(path).then(() => true, () => false);

let root: string;
let env: ControllerEnv;
const liveClaimUid = { value: '' };

/** Lays down what the provisioner leaves behind for a PV name: the directory and its record. */
async function provisioned(name: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'data'), 'x');
  await mkdir(join(root, '.volplane'), { recursive: true });
  await writeFile(join(root, '.volplane', `${name}.json`), JSON.stringify({ archiveOnDelete: false }));
  return dir;
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'volplane-orphans-'));
  const provisioner = new HostPathProvisioner({ root, defaultNode: 'n1' });
  env = await startControllerEnv(
    (ctx, signal) => startPersistentVolumeController({ ...ctx, provisioners: new Map([[provisioner.name, provisioner]]) }, signal, { resyncMs: 200 }),
    {
      beforeStart: async (e) => {
        const claim = await e.client.create<{ metadata: { uid: string } }>(resourcePath(resources.persistentVolumeClaims, 'default'), {
          metadata: { name: 'alive' },
          spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'none-such' },
        });
        liveClaimUid.value = claim.metadata.uid;
      },
    },
  );
});

after(async () => {
  await env.close();
  await rm(root, { recursive: true, force: true });
});

test('orphans 1: storage of a vanished claim with no PV is deleted', async () => {
  const dir = await provisioned('pvc-00000000-0000-0000-0000-000000000001');
  await waitFor('the orphaned directory is deleted', async () => !(await exists(dir)), { timeoutMs: 15_000 });
  assert.equal(await exists(join(root, '.volplane', 'pvc-00000000-0000-0000-0000-000000000001.json')), false);
});

test('orphans 2: storage of a live claim and of an existing PV is kept', async () => {
  const forClaim = await provisioned(`pvc-${liveClaimUid.value}`);
  const withPv = await provisioned('pvc-00000000-0000-0000-0000-000000000002');
  await env.client.create(resourcePath(resources.persistentVolumes), {
    metadata: { name: 'pvc-00000000-0000-0000-0000-000000000002' },
    spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: withPv }, persistentVolumeReclaimPolicy: 'Retain' },
  });
  // A third orphan laid down after the two proves a sweep has run over all of them.
  const marker = await provisioned('pvc-00000000-0000-0000-0000-000000000003');
  await waitFor('a later orphan is deleted', async () => !(await exists(marker)), { timeoutMs: 15_000 });
  assert.equal(await exists(forClaim), true, 'the live claim keeps its storage');
  assert.equal(await exists(withPv), true, 'an existing PV keeps its storage');
});

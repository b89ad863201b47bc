// "Any spec-following CSI driver plugs in" (issue 6): a cluster with a node
// and the controllers but none of volplane's CSI stack, and a CSI driver run
// the way a third-party one is installed — its own process (`volplane
// csi-driver`, which knows nothing of Kubernetes), its own socket, found by
// the node only through the registration socket it serves in the node's
// `plugins_registry`. The control-plane sidecars (external provisioner and
// attacher) run here in the test against that socket, as a driver's
// Deployment would run them, and the test creates the CSIDriver and the
// StorageClass an admin would. Then the whole flow: claim + pod → CSINode
// entry, PV, VolumeAttachment, staged and published, the container writes;
// and back: pod and claim deleted → volume gone, nothing mounted or attached.
//
// Needs root (mounts, loop devices, namespaces) and kubectl; skips otherwise.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { findLeaks, hasKubectl, mountTargetsBelow, startTestCluster, waitForState } from '../src/testing/index.ts';
import { Child, claimAndPodManifest, createCsiSidecars, csiLoopClassManifest, deleteAllPodsAndClaims, deletePodAndClaim, kubectlOf, sh } from './e2e-helpers.ts';

const isRoot = process.getuid?.() === 0;
const DRIVER = 'csi.volplane.io';
const CLASS = 'separate-driver-ext4';

const manifests = `${csiLoopClassManifest(DRIVER, CLASS)}---\n${claimAndPodManifest({ claim: 'data', pod: 'app', storageClass: CLASS, command: 'echo from-a-separate-driver > /data/out && sleep 86400' })}`;

test('a CSI driver in its own process, registered only through plugins_registry, serves the whole flow', { skip: (!isRoot && 'needs root') || (!hasKubectl() && 'kubectl is not installed'), timeout: 180_000 }, async (t) => {
  const cluster = await startTestCluster({ node: true, csi: false, controllers: true });
  const kubectl = kubectlOf(cluster);
  const tmp = dirname(cluster.dataDir);
  const nodeRoot = join(cluster.dataDir, 'node');
  const driverDir = join(tmp, 'separate-driver');
  const endpoint = `unix://${join(driverDir, 'csi.sock')}`;
  await mkdir(driverDir, { recursive: true });
  const nodeName = (await kubectl(['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();

  const driver = Child.volplane('driver', ['csi-driver', '--endpoint', endpoint, '--node-id', nodeName, '--data-dir', driverDir, '--attach-required', '--registration-dir', join(nodeRoot, 'plugins_registry'), '--log-level', 'warn']);
  const sidecars = createCsiSidecars(cluster.kubeconfigPath, endpoint, DRIVER);

  t.after(async () => {
    await deleteAllPodsAndClaims(cluster);
    await sidecars.close();
    await driver.stop();
    await cluster.close();
  });

  await driver.waitForLine(/^volplane csi-driver serving /m, 20_000);
  sidecars.start();

  let pv = '';
  let handle = '';

  await t.test('1 the node registers the driver from its plugins_registry socket alone: CSINode entry', async () => {
    assert.ok(existsSync(join(nodeRoot, 'plugins_registry', `${DRIVER}-reg.sock`)));
    await waitForState(
      'the CSINode entry',
      () => kubectl(['get', 'csinode', nodeName, '-o', 'jsonpath={range .spec.drivers[*]}{.name} {.nodeID} {.topologyKeys}{"\\n"}{end}']).catch((e: Error) => e.message),
      (s) => (s.trim() === `${DRIVER} ${nodeName} ["topology.volplane.io/node"]` ? undefined : s),
      { timeoutMs: 20_000, intervalMs: 200 },
    );
  });

  await t.test('2 a claim and a pod: PV provisioned, VolumeAttachment attached, pod Running with its file written', async () => {
    await kubectl(['apply', '-f', '-'], manifests);
    await waitForState('app Running', () => kubectl(['get', 'pod', 'app', '--no-headers']), (s) => (/^app\s+1\/1\s+Running\s/.test(s) ? undefined : `${s}\n${driver.tail(20)}`), {
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    pv = (await kubectl(['get', 'pvc', 'data', '-o', 'jsonpath={.spec.volumeName}'])).trim();
    handle = (await kubectl(['get', 'pv', pv, '-o', 'jsonpath={.spec.csi.driver} {.spec.csi.volumeHandle}'])).trim();
    assert.match(handle, new RegExp(`^${DRIVER.replaceAll('.', '\\.')} \\S+$`));
    handle = handle.split(' ')[1];
    assert.equal((await kubectl(['get', 'volumeattachments', '-o', 'jsonpath={range .items[*]}{.spec.source.persistentVolumeName} {.spec.nodeName} {.status.attached}{"\\n"}{end}'])).trim(), `${pv} ${nodeName} true`);
    assert.equal(await kubectl(['exec', 'app', '--', 'cat', '/data/out']), 'from-a-separate-driver\n');
    // The driver's backend holds the volume as an ext4 image behind one loop device.
    const image = join(driverDir, 'volumes', `${handle}.img`);
    assert.equal((await sh('blkid', ['-o', 'value', '-s', 'TYPE', image])).trim(), 'ext4');
    assert.equal((await sh('losetup', ['-j', image])).trim().split('\n').length, 1);
    const mounts = await mountTargetsBelow(nodeRoot);
    assert.ok(mounts.some((m) => m.endsWith('/globalmount')), `staged: ${mounts.join('\n')}`);
    assert.ok(mounts.some((m) => m.endsWith(`/kubernetes.io~csi/${pv}/mount`)), `published: ${mounts.join('\n')}`);
  });

  await t.test('3 pod and claim deleted: detached, volume deleted in the driver, nothing left mounted or attached', async () => {
    await deletePodAndClaim(kubectl, 'app', 'data');
    assert.deepEqual((await readdir(join(driverDir, 'volumes')).catch(() => [] as string[])).filter((f) => f.includes(handle)), []);
    assert.deepEqual(await mountTargetsBelow(tmp), []);
    assert.deepEqual((await findLeaks()).filter((l) => l.includes(tmp) || l.includes(handle)), []);
  });
});

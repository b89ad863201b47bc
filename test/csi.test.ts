// Issue 6's first "done when", with the real kubectl against the in-process
// volplane that `volplane up` is (node, CSI driver and sidecars, controllers):
// a claim of the `volplane-csi` class (loop-backed ext4, WaitForFirstConsumer)
// and a pod using it go through every step of the CSI lifecycle — the
// external provisioner's PV with a `csi` source and node affinity, the AD
// controller's VolumeAttachment attached by the external attacher, the
// kubelet's NodeStageVolume at the global mount and NodePublishVolume into the
// pod — and the container's write lands on the volume. The node reports the
// volume in volumesAttached and volumesInUse, and its CSINode lists the
// driver.
//
// Then the pod moves to a second node agent on the same machine: a startNode()
// with `csiDriver`, i.e. a node-only instance of volplane's driver that works
// on the volumes the first instance's controller made (it is started before
// the claim, so the volume's accessible topology includes it; the first pod
// is pinned to the first node). Last, the claim is deleted: the volume's
// image file goes from the driver's data dir, and nothing of it is left in
// the mount table or the loop-device list.
//
// Needs root (mounts, loop devices, namespaces) and kubectl; skips otherwise.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { silentLogger } from '../src/base/index.ts';
import { hasKubectl, mountTargetsBelow, startTestCluster, waitForState, type TestCluster } from '../src/testing/index.ts';
import { startNode, type VolplaneNode } from '../src/cli/node.ts';
import { csiControllerDataDir } from '../src/cli/csi-stack.ts';
import { kubectlOf, loopsOf, sh } from './e2e-helpers.ts';

const isRoot = process.getuid?.() === 0;
const DRIVER = 'csi.volplane.io';
const SECOND_NODE = 'csi-node-2';
const NS = 'default';

/** findmnt rows (TARGET SOURCE) whose target or source contains `needle`. */
async function findmntRows(needle: string): Promise<string[]> {
  const out = await sh('findmnt', ['-rn', '-o', 'TARGET,SOURCE']);
  return out.split('\n').filter((l) => l.includes(needle));
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

const claimManifest = `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: csi-claim
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: volplane-csi
  resources:
    requests:
      storage: 64Mi
`;

const podManifest = (name: string, node: string, command: string): string => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  terminationGracePeriodSeconds: 1
  nodeSelector:
    kubernetes.io/hostname: ${node}
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', ${JSON.stringify(command)}]
    volumeMounts:
    - name: data
      mountPath: /data
  volumes:
  - name: data
    persistentVolumeClaim:
      claimName: csi-claim
`;

interface PvJson {
  metadata: { name: string };
  spec: {
    csi?: { driver: string; volumeHandle: string; fsType?: string; volumeAttributes?: Record<string, string> };
    nodeAffinity?: { required?: { nodeSelectorTerms?: { matchExpressions?: { key: string; operator: string; values?: string[] }[] }[] } };
    claimRef?: { name?: string };
  };
}
interface VaJson {
  metadata: { name: string };
  spec: { attacher: string; nodeName: string; source: { persistentVolumeName?: string } };
  status?: { attached?: boolean };
}

test('a CSI volume of volplane-csi through its whole lifecycle with kubectl, across two node agents', { skip: (!isRoot && 'needs root') || (!hasKubectl() && 'kubectl is not installed'), timeout: 240_000 }, async (t) => {
  const cluster: TestCluster = await startTestCluster({ node: true, csi: true, controllers: true });
  const kubectl = kubectlOf(cluster);
  const json = async <T>(args: readonly string[]): Promise<T> => JSON.parse(await kubectl([...args, '-o', 'json'])) as T;
  const nodeRoot = join(cluster.dataDir, 'node');
  const driverDir = csiControllerDataDir(cluster.dataDir);
  const secondRoot = join(cluster.dataDir, '..', 'node2');
  let second: VolplaneNode | undefined;
  const nodeName = (await kubectl(['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();

  t.after(async () => {
    // Pods first, while the nodes can still tear their volumes down; then the claim.
    await cluster.kubectl(['delete', 'pod', '--all', '--grace-period=1', '--wait=true', '--timeout=30s'], { allowFail: true });
    await cluster.kubectl(['delete', 'pvc', '--all', '--wait=true', '--timeout=30s'], { allowFail: true });
    await second?.stop();
    await cluster.close();
  });

  {
    // Started before the claim: CreateVolume's accessible topology lists the nodes of this machine it knows then.
    const caCert = await readFile(join(cluster.dataDir, 'pki', 'ca.crt'), 'utf8');
    const token = (await readFile(join(cluster.dataDir, 'join-token'), 'utf8')).trim();
    second = await startNode({
      client: { server: cluster.url, caCert, token },
      nodeName: SECOND_NODE,
      root: secondRoot,
      logger: silentLogger(),
      port: 0,
      csiDriver: { controllerDataDir: driverDir },
    });
    await waitForState('the second node Ready with the driver in its CSINode', () => kubectl(['get', 'csinode', SECOND_NODE, '-o', 'jsonpath={.spec.drivers[*].name}']).catch((e: Error) => e.message), (s) => (s.trim() === DRIVER ? undefined : s), {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
  }

  let pv!: PvJson;
  let podUid = '';

  await t.test('1 the pod with a volplane-csi claim runs; the PV has a csi source and node affinity', async () => {
    await kubectl(['apply', '-f', '-'], claimManifest);
    await kubectl(['apply', '-f', '-'], podManifest('writer', nodeName, 'echo written-on-node-1 > /data/hello && sync && sleep 86400'));
    await waitForState('writer Running', () => kubectl(['get', 'pod', 'writer', '--no-headers']), (s) => (/^writer\s+1\/1\s+Running\s/.test(s) ? undefined : s), { timeoutMs: 60_000, intervalMs: 250 });
    const claim = await json<{ spec: { volumeName?: string }; status: { phase?: string } }>(['get', 'pvc', 'csi-claim']);
    assert.equal(claim.status.phase, 'Bound');
    assert.ok(claim.spec.volumeName);
    pv = await json<PvJson>(['get', 'pv', claim.spec.volumeName]);
    assert.equal(pv.spec.csi?.driver, DRIVER);
    assert.equal(pv.spec.csi?.fsType, 'ext4');
    assert.ok(pv.spec.csi?.volumeHandle);
    const terms = pv.spec.nodeAffinity?.required?.nodeSelectorTerms ?? [];
    const affinityNodes = terms.flatMap((term) => term.matchExpressions ?? []).filter((e) => e.key === 'topology.volplane.io/node' && e.operator === 'In').flatMap((e) => e.values ?? []);
    assert.ok(affinityNodes.includes(nodeName), `the PV's node affinity names ${nodeName}: ${JSON.stringify(terms)}`);
    // The node-only instance recorded itself with the controller before the claim: the volume is reachable from it too.
    assert.ok(affinityNodes.includes(SECOND_NODE), `the PV's node affinity names ${SECOND_NODE}: ${JSON.stringify(terms)}`);
    podUid = (await kubectl(['get', 'pod', 'writer', '-o', 'jsonpath={.metadata.uid}'])).trim();
  });

  await t.test('2 the VolumeAttachment is attached to the node', async () => {
    const vas = await json<{ items: VaJson[] }>(['get', 'volumeattachments']);
    const mine = vas.items.filter((v) => v.spec.source.persistentVolumeName === pv.metadata.name);
    assert.equal(mine.length, 1, JSON.stringify(vas.items.map((v) => v.spec)));
    assert.equal(mine[0].spec.attacher, DRIVER);
    assert.equal(mine[0].spec.nodeName, nodeName);
    assert.equal(mine[0].status?.attached, true);
    assert.equal(mine[0].metadata.name, `csi-${sha256(`${pv.spec.csi!.volumeHandle}${DRIVER}${nodeName}`)}`);
  });

  await t.test('3 staged at the global mount (a loop device with ext4) and published into the pod', async () => {
    const globalMount = join(nodeRoot, 'plugins', 'kubernetes.io', 'csi', DRIVER, sha256(pv.spec.csi!.volumeHandle), 'globalmount');
    const staged = await findmntRows(globalMount);
    assert.equal(staged.length, 1, `one mount at ${globalMount}: ${staged.join('\n')}`);
    assert.match(staged[0], /\s\/dev\/loop\d+$/);
    const fstype = (await sh('findmnt', ['-rn', '-o', 'FSTYPE', globalMount])).trim();
    assert.equal(fstype, 'ext4');
    const published = join(nodeRoot, 'pods', podUid, 'volumes', 'kubernetes.io~csi', pv.metadata.name, 'mount');
    assert.equal((await findmntRows(published)).length, 1, `published at ${published}`);
    // The backend's image file is behind exactly one loop device.
    const image = pv.spec.csi!.volumeAttributes?.['volplane.io/path'] ?? join(driverDir, 'volumes', `${pv.spec.csi!.volumeHandle}.img`);
    assert.ok(existsSync(image), `the image ${image} exists`);
    assert.equal((await loopsOf(image)).length, 1);
  });

  await t.test('4 the container wrote its file onto the volume', async () => {
    assert.equal(await kubectl(['exec', 'writer', '--', 'cat', '/data/hello']), 'written-on-node-1\n');
    const globalMount = join(nodeRoot, 'plugins', 'kubernetes.io', 'csi', DRIVER, sha256(pv.spec.csi!.volumeHandle), 'globalmount');
    assert.equal(await readFile(join(globalMount, 'hello'), 'utf8'), 'written-on-node-1\n');
  });

  await t.test('5 the CSINode lists the driver; the Node reports the volume attached and in use', async () => {
    const csinode = await json<{ spec: { drivers: { name: string; nodeID: string; topologyKeys?: string[] }[] } }>(['get', 'csinode', nodeName]);
    const entry = csinode.spec.drivers.find((d) => d.name === DRIVER);
    assert.ok(entry, JSON.stringify(csinode.spec));
    assert.equal(entry.nodeID, nodeName);
    assert.deepEqual(entry.topologyKeys, ['topology.volplane.io/node']);
    const unique = `kubernetes.io/csi/${DRIVER}^${pv.spec.csi!.volumeHandle}`;
    await waitForState(
      'volumesAttached and volumesInUse on the Node',
      () => json<{ status: { volumesAttached?: { name: string; devicePath: string }[]; volumesInUse?: string[] } }>(['get', 'node', nodeName]),
      (n) => {
        const problems: string[] = [];
        if (!(n.status.volumesAttached ?? []).some((v) => v.name === unique)) problems.push(`volumesAttached: ${JSON.stringify(n.status.volumesAttached)}`);
        if (!(n.status.volumesInUse ?? []).includes(unique)) problems.push(`volumesInUse: ${JSON.stringify(n.status.volumesInUse)}`);
        return problems;
      },
      { timeoutMs: 15_000, intervalMs: 200 },
    );
  });

  await t.test('6 the pod recreated on the other node agent finds the file', async () => {
    await kubectl(['delete', 'pod', 'writer', '--grace-period=1', '--wait=true', '--timeout=30s']);
    const globalMount = join(nodeRoot, 'plugins', 'kubernetes.io', 'csi', DRIVER, sha256(pv.spec.csi!.volumeHandle), 'globalmount');
    await waitForState('node 1 unstaged the volume', () => findmntRows(globalMount), (rows) => (rows.length === 0 ? undefined : rows), { timeoutMs: 30_000, intervalMs: 200 });
    await kubectl(['apply', '-f', '-'], podManifest('reader', SECOND_NODE, 'cat /data/hello; sleep 86400'));
    try {
      await waitForState('reader Running on the second node', () => kubectl(['get', 'pod', 'reader', '--no-headers', '-o', 'wide']), (s) => (new RegExp(`^reader\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+\\S+\\s+${SECOND_NODE}\\s`).test(s) ? undefined : s), {
        timeoutMs: 60_000,
        intervalMs: 250,
      });
    } catch (err) {
      const describe = await cluster.kubectl(['describe', 'pod', 'reader'], { allowFail: true });
      const affinity = await cluster.kubectl(['get', 'pv', pv.metadata.name, '-o', 'jsonpath={.spec.nodeAffinity}'], { allowFail: true });
      throw new Error(`${(err as Error).message}\n--- describe pod reader ---\n${describe.stdout}\n--- PV node affinity ---\n${affinity.stdout}`, { cause: err });
    }
    assert.equal(await kubectl(['exec', 'reader', '--', 'cat', '/data/hello']), 'written-on-node-1\n');
    const vas = await json<{ items: VaJson[] }>(['get', 'volumeattachments']);
    assert.deepEqual(
      vas.items.filter((v) => v.spec.source.persistentVolumeName === pv.metadata.name).map((v) => [v.spec.nodeName, v.status?.attached]),
      [[SECOND_NODE, true]],
      'attached to the second node only',
    );
    const secondGlobal = join(secondRoot, 'plugins', 'kubernetes.io', 'csi', DRIVER, sha256(pv.spec.csi!.volumeHandle), 'globalmount');
    assert.equal((await findmntRows(secondGlobal)).length, 1, `staged on the second node at ${secondGlobal}`);
    await kubectl(['delete', 'pod', 'reader', '--grace-period=1', '--wait=true', '--timeout=30s']);
  });

  await t.test('7 deleting the pod and then the claim deletes the volume on the backend and leaves no mount or loop device', async () => {
    await kubectl(['delete', 'pod', '--all', '--grace-period=1', '--wait=true', '--timeout=30s']);
    const image = pv.spec.csi!.volumeAttributes?.['volplane.io/path'] ?? join(driverDir, 'volumes', `${pv.spec.csi!.volumeHandle}.img`);
    await waitForState('the VolumeAttachment gone', () => json<{ items: VaJson[] }>(['get', 'volumeattachments']), (l) => (l.items.length === 0 ? undefined : l.items.map((v) => v.metadata.name)), {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    await kubectl(['delete', 'pvc', 'csi-claim', '--wait=true', '--timeout=30s']);
    await waitForState('the PV gone', () => kubectl(['get', 'pv', '-o', 'name']), (s) => (s.trim() === '' ? undefined : s), { timeoutMs: 30_000, intervalMs: 200 });
    await waitForState('the image file gone from the driver data dir', async () => existsSync(image), (present) => (present ? `${image} still there` : undefined), { timeoutMs: 15_000, intervalMs: 200 });
    const left = (await readdir(join(driverDir, 'volumes')).catch(() => [] as string[])).filter((f) => f.includes(pv.spec.csi!.volumeHandle));
    assert.deepEqual(left, []);
    assert.deepEqual(await findmntRows(pv.spec.csi!.volumeHandle), []);
    assert.deepEqual(await findmntRows(sha256(pv.spec.csi!.volumeHandle)), []);
    assert.deepEqual(await findmntRows(pv.metadata.name), []);
    const losetup = await sh('losetup', ['-a']);
    assert.ok(!losetup.includes(pv.spec.csi!.volumeHandle), `losetup -a still names the volume:\n${losetup}`);
    assert.deepEqual(await mountTargetsBelow(join(nodeRoot, 'pods')), []);
    assert.deepEqual(await mountTargetsBelow(join(nodeRoot, 'plugins')), []);
  });
});

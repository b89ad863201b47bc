// "Killing the driver or the node agent in the middle of operations and
// restarting: calls are retried idempotently, nothing is formatted twice,
// nothing leaks" (issue 6), over real processes: the API server and the
// controllers in-process (startTestCluster without a node), and as child
// processes volplane's CSI driver (`volplane csi-driver --attach-required`,
// registered through the node's plugins_registry) and the node agent
// (`volplane node`). The external provisioner and attacher run in the test
// against the driver's socket. Only a child process can be killed with
// SIGKILL, which runs no cleanup at all: that is the state a restarted
// driver or kubelet has to recover from.
//
// Driver rows: a claim and a pod are created, and the driver is killed at a
// point of the pod's volume set-up (the VolumeAttachment just attached — the
// loop device exists, staging is next; the global mount just made —
// publishing is next), then started again on the same data dir and socket.
// The pod must come up; the ext4 UUID of the image (blkid) must be the one it
// had before the kill, if it had been formatted by then; the image must sit
// behind exactly one loop device (losetup -j); and after the pod and the
// claim are deleted nothing of the volume is mounted, attached or stored.
//
// Node row: with a CSI pod running, the node agent is killed and started on
// the same root. Its volume manager must adopt the staged and published
// volume — the same mounts, by mount ID, before and after, not unmounted and
// made again — and deleting the pod must then tear everything down.
//
// Needs root (mounts, loop devices, namespaces) and kubectl; skips otherwise.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { waitFor } from '../src/base/index.ts';
import { hasKubectl, mountTargetsBelow, startTestCluster, waitForState } from '../src/testing/index.ts';
import { Child, claimAndPodManifest, createCsiSidecars, csiLoopClassManifest, deleteAllPodsAndClaims, deletePodAndClaim, killContainersLeft, kubectlOf, loopsOf, sh } from './e2e-helpers.ts';

const isRoot = process.getuid?.() === 0;
const DRIVER = 'csi.volplane.io';
const CLASS = 'kill-ext4';
const NODE = 'csi-kill-node';
/** The children's log level (their output is shown when a wait fails). */
const CHILD_LOG_LEVEL = process.env.VOLPLANE_TEST_LOG_LEVEL ?? 'warn';

/** The filesystem UUID blkid reads from the image, or undefined while it holds no filesystem. */
async function uuidOf(image: string): Promise<string | undefined> {
  const out = await sh('blkid', ['-p', '-o', 'value', '-s', 'UUID', image]).catch(() => '');
  return out.trim() === '' ? undefined : out.trim();
}

/** `ID TARGET` of every mount below `dir`: a mount made again gets a new ID. */
async function mountIdsBelow(dir: string): Promise<string[]> {
  const out = await sh('findmnt', ['-rn', '-o', 'ID,TARGET']);
  return out
    .split('\n')
    .filter((l) => {
      const target = l.slice(l.indexOf(' ') + 1);
      return target.startsWith(`${dir}/`);
    })
    .sort();
}

const claimAndPod = (name: string): string => claimAndPodManifest({ claim: name, pod: name, storageClass: CLASS, command: `echo ${name} >> /data/log && sleep 86400` });

const setupManifest = csiLoopClassManifest(DRIVER, CLASS);

interface VaList {
  items: { spec: { source: { persistentVolumeName?: string } }; status?: { attached?: boolean } }[];
}

test('killing the CSI driver or the node agent mid-operation and restarting them', { skip: (!isRoot && 'needs root') || (!hasKubectl() && 'kubectl is not installed'), timeout: 300_000 }, async (t) => {
  const cluster = await startTestCluster({ controllers: true });
  const kubectl = kubectlOf(cluster);
  const tmp = dirname(cluster.dataDir);
  const nodeRoot = join(tmp, 'node');
  const driverDir = join(tmp, 'driver');
  const endpoint = `unix://${join(driverDir, 'csi.sock')}`;
  await mkdir(driverDir, { recursive: true });
  await mkdir(join(nodeRoot, 'plugins_registry'), { recursive: true });
  const token = (await readFile(join(cluster.dataDir, 'join-token'), 'utf8')).trim();
  const caCert = join(cluster.dataDir, 'pki', 'ca.crt');

  const children: Child[] = [];
  const startDriver = async (): Promise<Child> => {
    const c = Child.volplane('csi-driver', ['csi-driver', '--endpoint', endpoint, '--node-id', NODE, '--data-dir', driverDir, '--attach-required', '--registration-dir', join(nodeRoot, 'plugins_registry'), '--log-level', CHILD_LOG_LEVEL]);
    children.push(c);
    await c.waitForLine(/^volplane csi-driver serving /m);
    return c;
  };
  const startNodeAgent = async (): Promise<Child> => {
    const c = Child.volplane(NODE, ['node', '--server', cluster.url, '--token', token, '--name', NODE, '--root', nodeRoot, '--ca-cert', caCert, '--port', '0', '--log-level', CHILD_LOG_LEVEL]);
    children.push(c);
    await c.waitForLine(new RegExp(`^volplane node ${NODE} joined `, 'm'));
    return c;
  };

  const sidecars = createCsiSidecars(cluster.kubeconfigPath, endpoint, DRIVER);
  const { client } = sidecars;

  t.after(async () => {
    if (children.some((c) => !c.done)) await deleteAllPodsAndClaims(cluster);
    await sidecars.close();
    for (const c of [...children].reverse()) await c.stop();
    // Containers outlive their node agent by design: end any the test left behind.
    const containersLeft = killContainersLeft(nodeRoot);
    const left = await mountTargetsBelow(tmp);
    for (const m of [...left].reverse()) await sh('umount', ['-l', m]).catch(() => '');
    const images = (await readdir(join(driverDir, 'volumes')).catch(() => [] as string[])).map((f) => join(driverDir, 'volumes', f));
    const loops = (await Promise.all(images.map(loopsOf))).flat();
    for (const l of loops) await sh('losetup', ['-d', l.slice(0, l.indexOf(':'))]).catch(() => '');
    await cluster.close();
    assert.deepEqual(left, [], 'mounts left under the test directory (unmounted by the cleanup)');
    assert.deepEqual(loops, [], 'loop devices left (detached by the cleanup)');
    assert.equal(containersLeft, false, 'containers left running (killed by the cleanup)');
  });

  let driver = await startDriver();
  let node = await startNodeAgent();
  sidecars.start();
  await kubectl(['apply', '-f', '-'], setupManifest);
  await waitForState('the node Ready with the driver in its CSINode', () => kubectl(['get', 'csinode', NODE, '-o', 'jsonpath={.spec.drivers[*].name}']).catch((e: Error) => e.message), (s) => (s.trim() === DRIVER ? undefined : s), {
    timeoutMs: 30_000,
    intervalMs: 200,
  });

  /** The claim's PV and the image file behind it, once provisioned. */
  const volumeOf = async (claim: string): Promise<{ pv: string; handle: string; image: string }> => {
    const pv = await waitForState('the claim Bound', () => kubectl(['get', 'pvc', claim, '-o', 'jsonpath={.spec.volumeName}']), (s) => (s.trim() === '' ? 'not bound yet' : undefined), { timeoutMs: 30_000, intervalMs: 50 });
    const handle = (await kubectl(['get', 'pv', pv.trim(), '-o', 'jsonpath={.spec.csi.volumeHandle}'])).trim();
    return { pv: pv.trim(), handle, image: join(driverDir, 'volumes', `${handle}.img`) };
  };
  const podRunning = (name: string): Promise<string> =>
    waitForState(`${name} Running`, () => kubectl(['get', 'pod', name, '--no-headers']), (s) => (new RegExp(`^${name}\\s+1/1\\s+Running\\s`).test(s) ? undefined : `${s}\n${driver.tail(8)}\n${node.tail(8)}`), {
      timeoutMs: 90_000,
      intervalMs: 250,
    });
  /** Deletes the pod and the claim; the volume must go from the backend and leave nothing mounted or attached. */
  const deleteAndCheckClean = async (name: string, vol: { pv: string; handle: string; image: string }): Promise<void> => {
    await deletePodAndClaim(kubectl, name, name);
    assert.equal(existsSync(vol.image), false, `${vol.image} deleted`);
    assert.deepEqual(await mountTargetsBelow(tmp), []);
    const losetup = await sh('losetup', ['-a']);
    assert.ok(!losetup.includes(vol.handle), `no loop device of the volume:\n${losetup}`);
  };

  const attached = (pv: string) => async (): Promise<boolean> => {
    const vas = await client.get<VaList>('/apis/storage.k8s.io/v1/volumeattachments');
    return vas.items.some((v) => v.spec.source.persistentVolumeName === pv && v.status?.attached === true);
  };
  const driverRows: { name: string; killWhen: (vol: { pv: string; handle: string; image: string }) => () => Promise<boolean> }[] = [
    { name: 'the VolumeAttachment just attached (staging next)', killWhen: (vol) => attached(vol.pv) },
    {
      name: 'the global mount just made (publishing next)',
      killWhen: () => async () => (await mountTargetsBelow(join(nodeRoot, 'plugins', 'kubernetes.io', 'csi', DRIVER))).some((m) => m.endsWith('/globalmount')),
    },
  ];
  for (const [i, row] of driverRows.entries()) {
    await t.test(`${i + 1} the driver SIGKILLed with ${row.name} and restarted: the pod comes up, formatted once, one loop device, clean teardown`, async (st) => {
      const name = `kill-${i + 1}`;
      await kubectl(['apply', '-f', '-'], claimAndPod(name));
      const vol = await volumeOf(name);
      await waitFor(`the moment to kill: ${row.name}`, row.killWhen(vol), { timeoutMs: 60_000, intervalMs: 10 });
      await driver.kill();
      const uuidBefore = await uuidOf(vol.image);
      const loopsBefore = await loopsOf(vol.image);
      st.diagnostic(`at the kill: ${uuidBefore === undefined ? 'not formatted yet' : `ext4 ${uuidBefore}`}, ${loopsBefore.length} loop device(s)`);
      driver = await startDriver();
      await podRunning(name);
      assert.equal(await kubectl(['exec', name, '--', 'cat', '/data/log']), `${name}\n`, 'the container started once, on a fresh filesystem');
      const uuidAfter = await uuidOf(vol.image);
      assert.ok(uuidAfter !== undefined, 'formatted');
      if (uuidBefore !== undefined) assert.equal(uuidAfter, uuidBefore, 'not formatted a second time');
      const loops = await loopsOf(vol.image);
      assert.equal(loops.length, 1, `one loop device for the image:\n${loops.join('\n')}`);
      if (loopsBefore.length === 1) assert.equal(loops[0].split(':')[0], loopsBefore[0].split(':')[0], 'the loop device from before the kill is reused');
      await deleteAndCheckClean(name, vol);
    });
  }

  await t.test(`${driverRows.length + 1} the node agent SIGKILLed with a CSI pod running and restarted adopts the volume; deleting the pod cleans everything`, async () => {
    const name = 'node-kill';
    await kubectl(['apply', '-f', '-'], claimAndPod(name));
    const vol = await volumeOf(name);
    await podRunning(name);
    const mountsBefore = await mountIdsBelow(nodeRoot);
    assert.ok(mountsBefore.some((m) => m.endsWith('/globalmount')) && mountsBefore.some((m) => m.endsWith(`/kubernetes.io~csi/${vol.pv}/mount`)), `staged and published:\n${mountsBefore.join('\n')}`);
    const uuid = await uuidOf(vol.image);

    const renewTime = (): Promise<string> => kubectl(['get', 'lease', '-n', 'kube-node-lease', NODE, '-o', 'jsonpath={.spec.renewTime}']);
    await node.kill();
    const renewedBefore = await renewTime();
    node = await startNodeAgent();
    await waitForState('the restarted agent renews its lease', renewTime, (s) => (s !== '' && s !== renewedBefore ? undefined : `renewTime still ${s}`), { timeoutMs: 20_000, intervalMs: 250 });
    await waitForState('exec through the restarted node', () => kubectl(['exec', name, '--', 'cat', '/data/log']).catch((e: Error) => e.message), (s) => (s === `${name}\n` ? undefined : s), { timeoutMs: 20_000, intervalMs: 250 });
    // Reconstruction and the reconciler run in the background: the mounts must hold for a while.
    const holdUntil = Date.now() + 4_000;
    while (Date.now() < holdUntil) {
      assert.deepEqual(await mountIdsBelow(nodeRoot), mountsBefore, `the same mounts (by mount ID): adopted, not staged or published again\n${node.tail(60)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(await uuidOf(vol.image), uuid);
    assert.equal((await loopsOf(vol.image)).length, 1);
    assert.match(await kubectl(['get', 'pod', name, '--no-headers']), new RegExp(`^${name}\\s+1/1\\s+Running\\s+0\\s`));
    await deleteAndCheckClean(name, vol);
  });
});

// `volumeMode: Block` end to end, with the real kubectl against the
// in-process volplane (node, CSI driver and sidecars, controllers): a claim
// of the `volplane-csi` class asking for a raw block volume is provisioned as
// a loop device without a filesystem; the kubelet stages it and publishes it
// as a device node (NodePublishVolume onto a file under
// plugins/kubernetes.io/csi/volumeDevices/publish), and the runtime binds
// that node at the container's `volumeDevices[].devicePath`. The container
// writes bytes to /dev/xvda with dd and reads them back; the pod is deleted
// and a new pod reads the same bytes from the same device.
//
// Then upstream's refusals, which leave the volume untouched: a Block claim
// named in volumeMounts, and a Filesystem claim named in volumeDevices, each
// give the pod a FailedMount event and keep it Pending. Last, everything is
// deleted and nothing of the volumes is left in findmnt or losetup.
//
// Needs root (mounts, loop devices, namespaces) and kubectl; skips otherwise.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hasKubectl, mountTargetsBelow, startTestCluster, waitForState, type TestCluster } from '../src/testing/index.ts';
import { sh } from './e2e-helpers.ts';

const isRoot = process.getuid?.() === 0;
const DRIVER = 'csi.volplane.io';
/** Where on the device the pods write: past the first sectors, in case anything probes them. */
const SEEK_SECTORS = 8;
const PAYLOAD = 'volplane-raw-block-bytes';

/** findmnt rows (TARGET SOURCE) whose target or source contains `needle`. */
async function findmntRows(needle: string): Promise<string[]> {
  const out = await sh('findmnt', ['-rn', '-o', 'TARGET,SOURCE']);
  return out.split('\n').filter((l) => l.includes(needle));
}

const claimManifest = (name: string, mode: 'Block' | 'Filesystem'): string => `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: ${name}
spec:
  accessModes: [ReadWriteOnce]
  volumeMode: ${mode}
  storageClassName: volplane-csi
  resources:
    requests:
      storage: 16Mi
`;

/** A busybox pod using `claim` either as a device at /dev/xvda or (to be refused) mounted at /data. */
const podManifest = (name: string, claim: string, use: 'device' | 'mount', command: string): string => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', ${JSON.stringify(command)}]
${
  use === 'device'
    ? `    volumeDevices:
    - name: data
      devicePath: /dev/xvda`
    : `    volumeMounts:
    - name: data
      mountPath: /data`
}
  volumes:
  - name: data
    persistentVolumeClaim:
      claimName: ${claim}
`;

/** Reads the payload's sector back and prints it without the zero padding. */
const READ_BACK = `dd if=/dev/xvda bs=512 skip=${SEEK_SECTORS} count=1 2>/dev/null | tr -d '\\000'`;

interface PvJson {
  metadata: { name: string };
  spec: { volumeMode?: string; csi?: { driver: string; volumeHandle: string; fsType?: string } };
}

test('a volumeMode Block claim of volplane-csi is a device node in the container, kept across pods', { skip: (!isRoot && 'needs root') || (!hasKubectl() && 'kubectl is not installed'), timeout: 240_000 }, async (t) => {
  const cluster: TestCluster = await startTestCluster({ controllers: true, node: true, csi: true });
  const kubectl = async (args: readonly string[], input?: string): Promise<string> => (await cluster.kubectl(args, input === undefined ? {} : { input })).stdout;
  const json = async <T>(args: readonly string[]): Promise<T> => JSON.parse(await kubectl([...args, '-o', 'json'])) as T;
  const nodeRoot = join(cluster.dataDir, 'node');
  const pvs: PvJson[] = [];

  t.after(async () => {
    await cluster.kubectl(['delete', 'pod', '--all', '--grace-period=1', '--wait=true', '--timeout=30s'], { allowFail: true });
    await cluster.kubectl(['delete', 'pvc', '--all', '--wait=true', '--timeout=30s'], { allowFail: true });
    await cluster.close();
  });

  const waitRunning = async (name: string): Promise<void> => {
    try {
      await waitForState(`${name} Running`, () => kubectl(['get', 'pod', name, '--no-headers']), (s) => (new RegExp(`^${name}\\s+1/1\\s+Running\\s`).test(s) ? undefined : s), {
        timeoutMs: 60_000,
        intervalMs: 250,
      });
    } catch (err) {
      const describe = await cluster.kubectl(['describe', 'pod', name], { allowFail: true });
      throw new Error(`${(err as Error).message}\n--- describe pod ${name} ---\n${describe.stdout}`, { cause: err });
    }
  };
  const pvOf = async (claim: string): Promise<PvJson> => {
    const c = await json<{ spec: { volumeName?: string } }>(['get', 'pvc', claim]);
    assert.ok(c.spec.volumeName, `${claim} is bound`);
    return json<PvJson>(['get', 'pv', c.spec.volumeName]);
  };

  let pv!: PvJson;

  await t.test('1 the pod writes bytes to /dev/xvda with dd and reads them back', async () => {
    await kubectl(['apply', '-f', '-'], claimManifest('blk-claim', 'Block'));
    const write = `printf '${PAYLOAD}' | dd of=/dev/xvda bs=512 seek=${SEEK_SECTORS} conv=sync,fsync 2>/dev/null && ${READ_BACK} && echo && sleep 86400`;
    await kubectl(['apply', '-f', '-'], podManifest('blk-writer', 'blk-claim', 'device', write));
    await waitRunning('blk-writer');
    pv = await pvOf('blk-claim');
    pvs.push(pv);
    assert.equal(pv.spec.volumeMode, 'Block');
    assert.equal(pv.spec.csi?.driver, DRIVER);
    await waitForState('the writer logged what it read back', () => kubectl(['logs', 'blk-writer']), (s) => (s === `${PAYLOAD}\n` ? undefined : JSON.stringify(s)), { timeoutMs: 15_000, intervalMs: 200 });
    assert.match(await kubectl(['exec', 'blk-writer', '--', 'stat', '-c', '%F', '/dev/xvda']), /^block special file$/m);
    assert.equal(await kubectl(['exec', 'blk-writer', '--', 'sh', '-c', READ_BACK]), PAYLOAD);
  });

  await t.test('2 on the host: published as a device node under volumeDevices/publish, backed by a loop device', async () => {
    const podUid = (await kubectl(['get', 'pod', 'blk-writer', '-o', 'jsonpath={.metadata.uid}'])).trim();
    const published = join(nodeRoot, 'plugins', 'kubernetes.io', 'csi', 'volumeDevices', 'publish', pv.metadata.name, podUid);
    assert.ok(existsSync(published), `${published} exists`);
    assert.ok(statSync(published).isBlockDevice(), `${published} is a block device node`);
    const rows = await findmntRows(published);
    assert.equal(rows.length, 1, `one mount at ${published}: ${rows.join('\n')}`);
    assert.match(rows[0], /\s\S*\/loop\d+\]?$/, 'a loop device bound onto the file');
    // Nothing of the container shows in the host's mount table: its bind lives in its own namespace.
    assert.deepEqual(await findmntRows('/dev/xvda'), []);
  });

  await t.test('3 the pod deleted, a new pod sees the same bytes', async () => {
    await kubectl(['delete', 'pod', 'blk-writer', '--grace-period=1', '--wait=true', '--timeout=30s']);
    await kubectl(['apply', '-f', '-'], podManifest('blk-reader', 'blk-claim', 'device', `${READ_BACK}; echo; sleep 86400`));
    await waitRunning('blk-reader');
    await waitForState('the reader logged the bytes', () => kubectl(['logs', 'blk-reader']), (s) => (s === `${PAYLOAD}\n` ? undefined : JSON.stringify(s)), { timeoutMs: 15_000, intervalMs: 200 });
    assert.equal(await kubectl(['exec', 'blk-reader', '--', 'sh', '-c', READ_BACK]), PAYLOAD);
  });

  await t.test('4 a Block claim in volumeMounts and a Filesystem claim in volumeDevices are refused with FailedMount', async () => {
    await kubectl(['apply', '-f', '-'], claimManifest('fs-claim', 'Filesystem'));
    await kubectl(['apply', '-f', '-'], podManifest('blk-mounted', 'blk-claim', 'mount', 'sleep 86400'));
    await kubectl(['apply', '-f', '-'], podManifest('fs-mapped', 'fs-claim', 'device', 'sleep 86400'));
    const rows = [
      { pod: 'blk-mounted', message: 'volume data has volumeMode Block, but is specified in volumeMounts' },
      { pod: 'fs-mapped', message: 'volume data has volumeMode Filesystem, but is specified in volumeDevices' },
    ];
    for (const row of rows) {
      await waitForState(
        `a FailedMount event for ${row.pod}`,
        () => json<{ items: { reason?: string; message?: string }[] }>(['get', 'events', '--field-selector', `involvedObject.name=${row.pod}`]),
        (l) => (l.items.some((e) => e.reason === 'FailedMount' && (e.message ?? '').includes(row.message)) ? undefined : JSON.stringify(l.items.map((e) => [e.reason, e.message]))),
        { timeoutMs: 30_000, intervalMs: 250 },
      );
      const status = await kubectl(['get', 'pod', row.pod, '--no-headers']);
      assert.match(status, new RegExp(`^${row.pod}\\s+0/1\\s+ContainerCreating\\s`), status);
      const uid = (await kubectl(['get', 'pod', row.pod, '-o', 'jsonpath={.metadata.uid}'])).trim();
      assert.deepEqual(await mountTargetsBelow(join(nodeRoot, 'pods', uid)), [], `nothing mounted for ${row.pod}`);
    }
    // The reader still has its device.
    assert.equal(await kubectl(['exec', 'blk-reader', '--', 'sh', '-c', READ_BACK]), PAYLOAD);
    pvs.push(await pvOf('fs-claim'));
  });

  await t.test('5 pods and claims deleted: the volumes are gone and nothing is left in findmnt or losetup', async () => {
    await kubectl(['delete', 'pod', '--all', '--grace-period=1', '--wait=true', '--timeout=30s']);
    await waitForState('the VolumeAttachments gone', () => json<{ items: { metadata: { name: string } }[] }>(['get', 'volumeattachments']), (l) => (l.items.length === 0 ? undefined : l.items.map((v) => v.metadata.name)), {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    await kubectl(['delete', 'pvc', '--all', '--wait=true', '--timeout=30s']);
    await waitForState('the PVs gone', () => kubectl(['get', 'pv', '-o', 'name']), (s) => (s.trim() === '' ? undefined : s), { timeoutMs: 30_000, intervalMs: 200 });
    const losetup = await sh('losetup', ['-a']);
    for (const v of pvs) {
      const handle = v.spec.csi!.volumeHandle;
      assert.deepEqual(await findmntRows(handle), [], `findmnt names ${handle}`);
      assert.deepEqual(await findmntRows(v.metadata.name), [], `findmnt names ${v.metadata.name}`);
      assert.ok(!losetup.includes(handle), `losetup -a still names ${handle}:\n${losetup}`);
    }
    assert.deepEqual(await mountTargetsBelow(join(nodeRoot, 'pods')), []);
    assert.deepEqual(await mountTargetsBelow(join(nodeRoot, 'plugins')), []);
  });
});

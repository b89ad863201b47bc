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
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger, waitFor } from '../src/base/index.ts';
import { EventRecorder, RestClient, SharedInformerFactory } from '../src/client/index.ts';
import { createCsiClient } from '../src/csi/index.ts';
import { startExternalAttacher, startExternalProvisioner, type SidecarContext } from '../src/csi/sidecars/index.ts';
import { findLeaks, hasKubectl, mountTargetsBelow, startTestCluster, waitForState } from '../src/testing/index.ts';

const isRoot = process.getuid?.() === 0;
const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const MAIN = join(REPO, 'src', 'cli', 'main.ts');
const DRIVER = 'csi.volplane.io';
const CLASS = 'separate-driver-ext4';

function sh(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, [...args], { encoding: 'utf8', timeout: 15_000 }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout);
      else reject(new Error(`${file} ${args.join(' ')}: ${err.message} ${stderr}`, { cause: err }));
    });
  });
}

/** The driver process and what it printed. */
class DriverProcess {
  readonly proc: ChildProcess;
  readonly exited: Promise<void>;
  #output = '';
  #done = false;
  constructor(args: readonly string[]) {
    this.proc = spawn(process.execPath, [MAIN, 'csi-driver', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString('utf8')).slice(-131_072);
    };
    this.proc.stdout?.on('data', keep);
    this.proc.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.proc.once('exit', () => {
        this.#done = true;
        resolve();
      });
    });
  }
  tail(): string {
    return this.#output.trimEnd().split('\n').slice(-20).join('\n');
  }
  async ready(): Promise<void> {
    await waitFor(
      'the driver to print that it serves',
      () => {
        if (/^volplane csi-driver serving /m.test(this.#output)) return true;
        if (this.#done) throw new Error(`the driver exited:\n${this.tail()}`);
        return false;
      },
      { timeoutMs: 20_000, intervalMs: 50 },
    );
  }
  async stop(): Promise<void> {
    if (this.#done) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 8_000);
    await this.exited;
    clearTimeout(timer);
  }
}

const manifests = `apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata:
  name: ${DRIVER}
spec:
  attachRequired: true
  podInfoOnMount: true
  volumeLifecycleModes: [Persistent]
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: ${CLASS}
provisioner: ${DRIVER}
parameters:
  kind: loop
  csi.storage.k8s.io/fstype: ext4
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ${CLASS}
  resources:
    requests:
      storage: 32Mi
---
apiVersion: v1
kind: Pod
metadata:
  name: app
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ['sh', '-c', 'echo from-a-separate-driver > /data/out && sleep 86400']
    volumeMounts:
    - name: data
      mountPath: /data
  volumes:
  - name: data
    persistentVolumeClaim:
      claimName: data
`;

test('a CSI driver in its own process, registered only through plugins_registry, serves the whole flow', { skip: (!isRoot && 'needs root') || (!hasKubectl() && 'kubectl is not installed'), timeout: 180_000 }, async (t) => {
  const cluster = await startTestCluster({ node: true, csi: false, controllers: true });
  const kubectl = async (args: readonly string[], input?: string): Promise<string> => (await cluster.kubectl(args, input === undefined ? {} : { input })).stdout;
  const tmp = dirname(cluster.dataDir);
  const nodeRoot = join(cluster.dataDir, 'node');
  const driverDir = join(tmp, 'separate-driver');
  const endpoint = `unix://${join(driverDir, 'csi.sock')}`;
  await mkdir(driverDir, { recursive: true });
  const nodeName = (await kubectl(['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();

  const driver = new DriverProcess(['--endpoint', endpoint, '--node-id', nodeName, '--data-dir', driverDir, '--attach-required', '--registration-dir', join(nodeRoot, 'plugins_registry'), '--log-level', 'warn']);
  const client = RestClient.fromKubeconfig(cluster.kubeconfigPath);
  const csi = createCsiClient(endpoint, { defaultTimeoutMs: 60_000 });
  const stopSidecars = new AbortController();
  const informers = new SharedInformerFactory({ client, logger: silentLogger() });
  const recorder = new EventRecorder({ client, component: 'test-sidecars', host: hostname(), logger: silentLogger() });
  let sidecars: Promise<unknown> = Promise.resolve();

  t.after(async () => {
    await cluster.kubectl(['delete', 'pod', '--all', '--grace-period=1', '--wait=true', '--timeout=30s'], { allowFail: true });
    await cluster.kubectl(['delete', 'pvc', '--all', '--wait=true', '--timeout=30s'], { allowFail: true });
    await waitFor('PVs gone', async () => (await kubectl(['get', 'pv', '-o', 'name'])).trim() === '', { timeoutMs: 20_000, intervalMs: 200 }).catch(() => undefined);
    stopSidecars.abort();
    await sidecars;
    recorder.dispose();
    csi.close();
    client.close();
    await driver.stop();
    await cluster.close();
  });

  await driver.ready();
  const ctx = (component: string): SidecarContext => ({ client, informers, recorder: recorder.withComponent(component), logger: silentLogger(), csi, driverName: DRIVER });
  sidecars = Promise.allSettled([
    startExternalProvisioner(ctx(`${DRIVER}_external-provisioner`), stopSidecars.signal, { baseDelayMs: 100, maxDelayMs: 2_000 }),
    startExternalAttacher(ctx('external-attacher'), stopSidecars.signal, { baseDelayMs: 100, maxDelayMs: 2_000 }),
  ]);
  informers.start(stopSidecars.signal);

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
    await waitForState('app Running', () => kubectl(['get', 'pod', 'app', '--no-headers']), (s) => (/^app\s+1\/1\s+Running\s/.test(s) ? undefined : `${s}\n--- driver ---\n${driver.tail()}`), {
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
    await kubectl(['delete', 'pod', 'app', '--grace-period=1', '--wait=true', '--timeout=30s']);
    await waitForState('the VolumeAttachment gone', () => kubectl(['get', 'volumeattachments', '-o', 'name']), (s) => (s.trim() === '' ? undefined : s), { timeoutMs: 30_000, intervalMs: 200 });
    await kubectl(['delete', 'pvc', 'data', '--wait=true', '--timeout=30s']);
    await waitForState('the PV gone', () => kubectl(['get', 'pv', '-o', 'name']), (s) => (s.trim() === '' ? undefined : s), { timeoutMs: 30_000, intervalMs: 200 });
    assert.deepEqual((await readdir(join(driverDir, 'volumes')).catch(() => [] as string[])).filter((f) => f.includes(handle)), []);
    assert.deepEqual(await mountTargetsBelow(tmp), []);
    assert.deepEqual((await findLeaks()).filter((l) => l.includes(tmp) || l.includes(handle)), []);
  });
});

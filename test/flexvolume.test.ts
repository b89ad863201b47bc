// End to end: FlexVolume as seed 001 §4.2–4.4 describes it, on `volplane up` with every
// controller, the in-process node and volplane's CSI driver, driven only through the real
// kubectl (and `volplane migrate` as its own process), observed through the API, the drivers'
// own call log, and the host (findmnt, losetup).
//
//   F1  a PV of type flexVolume (driver volplane/loop, fsType ext4, options) and a claim bound
//       to it; a busybox pod writes a file: the AD controller attaches, the node runs
//       waitforattach → mountdevice → mount; the loop device is mounted at the global path and
//       bound at the pod path; the Node reports it attached and in use; SuccessfulAttachVolume.
//       Deleting the pod runs unmount → unmountdevice → detach and leaves nothing behind.
//   F2  (seed 004) that PV migrated to csi.volplane.io with `volplane migrate flexvolume`: a new
//       pod of the same claim reads the same file through the CSI driver.
//   F3  a mount-only driver (volplane/bind) as an inline pod volume: mount and unmount only.
//   F4  a driver removed while its volume is mounted: a new pod cannot use it (FailedMount),
//       deleting the old pod still unmounts (the plugin's default unmount).
//   F5  drivers whose mount prints garbage, answers Failure, or crashes with a message on
//       stderr: FailedMount events carrying the driver's words; a good pod beside them runs.
//   F6  a driver whose mount hangs: killed at the 2-minute call deadline, a FailedMount saying
//       so; meanwhile every row above ran on the same node. The hanging pod is created
//       in before() so its deadline passes while the other rows run.
//
// The example drivers are installed behind a small wrapper that appends each call's argv to a
// log (the call order is the point of F1) and points the loop driver's state at the test's own
// directory. Needs root (mounts, loop devices, namespaces) and kubectl.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../src/base/index.ts';
import { findLeaks, hasKubectl, mountTargetsBelow, startTestCluster, type KubectlOptions, type KubectlResult, type TestCluster } from '../src/testing/index.ts';
import { podQueries, type EventRow } from './e2e-helpers.ts';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot ? 'needs root: loop devices, mounts, and the node runs containers in namespaces' : !hasKubectl() ? 'kubectl is not installed' : false;

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const EXAMPLES = join(REPO, 'examples', 'flexvolume');
const NODE_BIN = process.execPath;
const MAIN = join(REPO, 'src', 'cli', 'main.ts');

/** How long a pod gets to start, or a change to reach the node. Generous: the machine is shared. */
const REACT_MS = 60_000;
/** The deadline for one driver call the cluster is started with (the default, 2 minutes, would make the hang row slow). */
const DRIVER_CALL_TIMEOUT_MS = 15_000;

/** The calls that make up a volume's lifecycle (init, getvolumename and isattached are bookkeeping). */
const LIFECYCLE = new Set(['attach', 'waitforattach', 'mountdevice', 'mount', 'unmount', 'unmountdevice', 'detach']);

let cluster: TestCluster;
let work: string;
let flexDir: string;
let nodeName: string;

function kubectl(args: readonly string[], options?: KubectlOptions): Promise<KubectlResult> {
  return cluster.kubectl(args, options);
}

const { podRow, describePod, waitForPodRow, podUid, eventsFor } = podQueries(kubectl, { reactMs: REACT_MS, missingPodIsEmpty: true });

const apply = (manifest: string): Promise<KubectlResult> => kubectl(['apply', '-f', '-'], { input: manifest });

// ---- drivers ----------------------------------------------------------------------------------

/** Writes `<flexDir>/<dirName>/<driver>` atomically (the prober may look at any moment). */
async function installDriver(dirName: string, script: string): Promise<void> {
  const dir = join(flexDir, dirName);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${dirName}.tmp`);
  await writeFile(tmp, script);
  await chmod(tmp, 0o755);
  await rename(tmp, join(dir, dirName.split('~')[1]!));
}

/** An example driver behind a wrapper that logs each call's argv (tab-separated) to `log`. */
function loggingWrapper(example: string, log: string, env: Record<string, string> = {}): string {
  const exports = Object.entries(env).map(([k, v]) => `export ${k}='${v}'\n`).join('');
  return `#!/bin/sh
(IFS='\t'; printf '%s\\n' "$*") >>'${log}'
${exports}exec '${join(EXAMPLES, example)}' "$@"
`;
}

/** A mount-only driver whose mount runs `mountBody`; everything else but init is "Not supported". */
function misbehavingDriver(mountBody: string): string {
  return `#!/bin/sh
case "$1" in
init) echo '{"status":"Success","capabilities":{"attach":false,"selinuxRelabel":false}}' ;;
mount) ${mountBody} ;;
*) echo '{"status":"Not supported"}' ;;
esac
`;
}

/** The logged calls, as argv arrays. */
async function calls(log: string): Promise<string[][]> {
  const text = existsSync(log) ? await readFile(log, 'utf8') : '';
  return text.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

/** The lifecycle calls from index `from` on, by command name. */
async function lifecycleSince(log: string, from: number): Promise<string[]> {
  return (await calls(log)).slice(from).map((c) => c[0]!).filter((c) => LIFECYCLE.has(c));
}

async function waitForCalls(log: string, from: number, want: readonly string[], what: string): Promise<void> {
  let seen: string[] = [];
  try {
    await waitFor(what, async () => {
      seen = await lifecycleSince(log, from);
      return seen.length >= want.length;
    }, { timeoutMs: REACT_MS, intervalMs: 200 });
  } catch {
    assert.fail(`${what}: the driver saw ${JSON.stringify(seen)}, wanted ${JSON.stringify(want)}`);
  }
  assert.deepEqual(seen, want, what);
}

// ---- host ---------------------------------------------------------------------------------------

function run(file: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, [...args], { encoding: 'utf8', timeout: options.timeoutMs ?? 20_000, env: options.env ?? process.env }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** `findmnt` of exactly `target`: its SOURCE and FSTYPE, or undefined when nothing is mounted there. */
async function findmnt(target: string): Promise<{ source: string; fstype: string } | undefined> {
  const r = await run('findmnt', ['-rn', '-o', 'SOURCE,FSTYPE', '--mountpoint', target]);
  const line = r.stdout.split('\n')[0]?.trim() ?? '';
  if (r.code !== 0 || line === '') return undefined;
  const [source, fstype] = line.split(' ');
  return { source: source!, fstype: fstype! };
}

async function loopDevicesOf(file: string): Promise<string[]> {
  return (await run('losetup', ['-j', file])).stdout.split('\n').filter((l) => l !== '').map((l) => l.split(':')[0]!);
}

// ---- pods and objects ---------------------------------------------------------------------------

async function waitForEvent(name: string, reason: string, matches: (message: string) => boolean, timeoutMs = REACT_MS): Promise<EventRow> {
  let seen: EventRow[] = [];
  try {
    return await waitFor(`${reason} on ${name}`, async () => {
      seen = await eventsFor(name);
      return seen.find((e) => e.reason === reason && matches(e.message));
    }, { timeoutMs, intervalMs: 500 });
  } catch {
    assert.fail(`no matching ${reason} event on pod ${name}; its events: ${JSON.stringify(seen, null, 1)}`);
  }
}

/** Deletes pod `name` (grace 1 s: PID 1 ignores SIGTERM) and waits until nothing is mounted below its directory. */
async function deletePod(name: string): Promise<void> {
  const uid = await podUid(name);
  await kubectl(['delete', 'pod', name, '--grace-period=1', '--wait=true'], { timeoutMs: 90_000 });
  const podDir = join(cluster.dataDir, 'node', 'pods', uid);
  let left: string[] = [];
  try {
    await waitFor(`pod ${name} unmounted`, async () => (left = await mountTargetsBelow(podDir)).length === 0, { timeoutMs: 15_000, intervalMs: 250 });
  } catch {
    assert.fail(`after deleting ${name} (uid ${uid}) still mounted: ${left.join(', ')}`);
  }
}

interface NodeVolumes {
  attached: { name: string; devicePath: string }[];
  inUse: string[];
}

async function nodeVolumes(): Promise<NodeVolumes> {
  const node = JSON.parse((await kubectl(['get', 'node', nodeName, '-o', 'json'])).stdout) as {
    status?: { volumesAttached?: { name: string; devicePath: string }[]; volumesInUse?: string[] };
  };
  return { attached: node.status?.volumesAttached ?? [], inUse: node.status?.volumesInUse ?? [] };
}

const busyboxPod = (name: string, volume: string, command: string): string => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  containers:
  - name: busybox
    image: busybox
    command: ["sh", "-c", ${JSON.stringify(command)}]
    volumeMounts:
    - name: data
      mountPath: /data
  volumes:
  - name: data
${volume}`;

const inlineFlex = (driver: string, options: Record<string, string> = {}): string =>
  `    flexVolume:\n      driver: "${driver}"\n${Object.keys(options).length === 0 ? '' : `      options:\n${Object.entries(options).map(([k, v]) => `        ${k}: "${v}"\n`).join('')}`}`;

// ---- the suite ----------------------------------------------------------------------------------

describe('seed 001 §4: FlexVolume drivers through the whole lifecycle, with the real kubectl', { skip }, () => {
  const PV = 'pv-flex-loop';
  const CLAIM = 'flex-claim';
  const TEXT = 'written through FlexVolume';
  let loopLog: string;
  let bindLog: string;
  let loopData: string;
  let loopState: string;
  let hangRelease: string;
  let hangPodCreatedAt = 0;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'volplane-flex-e2e-'));
    loopLog = join(work, 'loop-calls.log');
    bindLog = join(work, 'bind-calls.log');
    loopData = join(work, 'loop-volumes');
    loopState = join(work, 'loop-state');
    hangRelease = join(work, 'hang-release');
    cluster = await startTestCluster({ controllers: true, node: true, csi: true, flexVolumeCallTimeoutMs: DRIVER_CALL_TIMEOUT_MS });
    flexDir = join(cluster.dataDir, 'node', 'flexvolume');
    nodeName = (await kubectl(['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}'])).stdout.trim();

    // The hanging driver first: its mount is killed at the node's 2-minute deadline while the
    // other rows run on the same node. After the release file appears it fails at once instead.
    await installDriver('test~hang', misbehavingDriver(
      `while [ ! -e '${hangRelease}' ]; do sleep 0.2; done; echo '{"status":"Failure","message":"released by the test"}'; exit 1`,
    ));
    await installDriver('volplane~loop', loggingWrapper('volplane~loop/loop', loopLog, { VOLPLANE_LOOP_STATE_DIR: loopState }));
    await installDriver('volplane~bind', loggingWrapper('volplane~bind/bind', bindLog));
    // Every driver is found without a restart; `init` is the first thing each is asked.
    await waitFor('init of the loop and bind drivers', async () => (await calls(loopLog)).some((c) => c[0] === 'init') && (await calls(bindLog)).some((c) => c[0] === 'init'), {
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    await apply(busyboxPod('flex-hang', inlineFlex('test/hang'), 'sleep 86400'));
    hangPodCreatedAt = Date.now();
  });

  async function cleanUpWork(): Promise<void> {
    if (work === undefined) return;
    for (const dev of await loopDevicesOf(join(loopData, `${PV}.img`))) await run('losetup', ['-d', dev]);
    if ((await mountTargetsBelow(work)).length === 0) await rm(work, { recursive: true, force: true });
  }

  after(async () => {
    // Only what this suite made counts: other suites may be mounting beside it on this machine.
    const ours = [work, cluster === undefined ? undefined : dirname(cluster.dataDir)].filter((d): d is string => d !== undefined);
    if (cluster !== undefined) {
      await writeFile(hangRelease, '').catch(() => {});
      await kubectl(['delete', 'pods', '--all', '--grace-period=0', '--force', '--wait=true'], { allowFail: true, timeoutMs: 90_000 });
      await kubectl(['delete', 'pvc', '--all', '--wait=true'], { allowFail: true, timeoutMs: 60_000 });
      await kubectl(['delete', 'pv', '--all', '--wait=true'], { allowFail: true, timeoutMs: 60_000 });
      // A forced delete returns before the node has torn the pod down: wait for its unmounts and detaches.
      const podsDir = join(cluster.dataDir, 'node', 'pods');
      await waitFor('nothing mounted or attached', async () => (await mountTargetsBelow(podsDir)).length === 0 && (await nodeVolumes()).attached.length === 0, {
        timeoutMs: 60_000,
        intervalMs: 250,
      }).catch(() => {});
      try {
        await cluster.close();
      } finally {
        await cleanUpWork();
      }
    } else {
      await cleanUpWork();
    }
    assert.deepEqual((await findLeaks()).filter((l) => ours.some((d) => l.includes(d))), [], 'mounts or loop devices left behind');
  });

  it('F1 §4.2–4.4: a flexVolume PV with driver, fsType and options — attach → waitforattach → mountdevice → mount, and back', async () => {
    const image = join(loopData, `${PV}.img`);
    await apply(`apiVersion: v1
kind: PersistentVolume
metadata:
  name: ${PV}
spec:
  capacity:
    storage: 64Mi
  accessModes:
  - ReadWriteOnce
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  flexVolume:
    driver: "volplane/loop"
    fsType: "ext4"
    options:
      dir: "${loopData}"
      size: "64Mi"
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: ${CLAIM}
spec:
  accessModes:
  - ReadWriteOnce
  storageClassName: ""
  resources:
    requests:
      storage: 64Mi
`);
    await waitFor('claim Bound', async () => /^Bound$/.test((await kubectl(['get', 'pvc', CLAIM, '-o', 'jsonpath={.status.phase}'])).stdout), { timeoutMs: REACT_MS, intervalMs: 250 });
    assert.equal((await kubectl(['get', 'pvc', CLAIM, '-o', 'jsonpath={.spec.volumeName}'])).stdout, PV);

    const from = (await calls(loopLog)).length;
    await apply(busyboxPod('flex-writer', `    persistentVolumeClaim:\n      claimName: ${CLAIM}\n`, `echo '${TEXT}' > /data/hello.txt && sleep 86400`));
    await waitForPodRow('flex-writer', '1/1', 'Running');
    await waitForCalls(loopLog, from, ['attach', 'waitforattach', 'mountdevice', 'mount'], 'the calls that set the volume up');
    assert.equal((await kubectl(['exec', 'flex-writer', '--', 'cat', '/data/hello.txt'])).stdout, `${TEXT}\n`);

    // What each call was given: the node name, the device attach answered, the global path, the pod path.
    const uid = await podUid('flex-writer');
    const root = join(cluster.dataDir, 'node');
    const globalPath = join(root, 'plugins', 'kubernetes.io', 'flexvolume', 'volplane', 'loop', 'mounts', PV);
    const podPath = join(root, 'pods', uid, 'volumes', 'volplane~loop', PV);
    const byCommand = new Map((await calls(loopLog)).slice(from).map((c) => [c[0]!, c.slice(1)] as const));
    const [device] = await loopDevicesOf(image);
    assert.match(device ?? '', /^\/dev\/loop\d+$/, `the image ${image} is on a loop device`);
    const attachOptions = JSON.parse(byCommand.get('attach')![0]!) as Record<string, string>;
    assert.deepEqual(attachOptions, { dir: loopData, 'kubernetes.io/fsType': 'ext4', 'kubernetes.io/pvOrVolumeName': PV, 'kubernetes.io/readwrite': 'rw', size: '64Mi' });
    assert.equal(byCommand.get('attach')![1], nodeName);
    assert.equal(byCommand.get('waitforattach')![0], device);
    assert.deepEqual(byCommand.get('mountdevice')!.slice(0, 2), [globalPath, device]);
    assert.equal(byCommand.get('mount')![0], podPath);
    const mountOptions = JSON.parse(byCommand.get('mount')![1]!) as Record<string, string>;
    assert.equal(mountOptions['kubernetes.io/pod.name'], 'flex-writer');
    assert.equal(mountOptions['kubernetes.io/pod.uid'], uid);

    // The seed's `mount | grep`: the device at the global path, and the same filesystem bound at the pod path.
    assert.deepEqual(await findmnt(globalPath), { source: device, fstype: 'ext4' });
    assert.deepEqual(await findmnt(podPath), { source: device, fstype: 'ext4' });
    assert.equal(await readFile(join(globalPath, 'hello.txt'), 'utf8'), `${TEXT}\n`);

    const unique = `flexvolume-volplane/loop/${PV}`;
    const node = await nodeVolumes();
    assert.deepEqual(node.attached, [{ name: unique, devicePath: device }]);
    // Only the loop volume is attached; volumesInUse may also list mount-only volumes (see the report).
    assert.ok(node.inUse.includes(unique), `volumesInUse ${JSON.stringify(node.inUse)} lists ${unique}`);
    await waitForEvent('flex-writer', 'SuccessfulAttachVolume', (m) => m === `AttachVolume.Attach succeeded for volume "${PV}"`);
    assert.deepEqual((await eventsFor('flex-writer')).filter((e) => e.type === 'Warning'), [], 'no warnings on the way up');

    const beforeDelete = (await calls(loopLog)).length;
    await deletePod('flex-writer');
    await waitForCalls(loopLog, beforeDelete, ['unmount', 'unmountdevice', 'detach'], 'the calls that tear the volume down');
    assert.equal(await findmnt(podPath), undefined);
    assert.equal(await findmnt(globalPath), undefined);
    assert.deepEqual(await loopDevicesOf(image), [], 'losetup -j: the loop device is released');
    await waitFor('the Node lists the volume neither attached nor in use', async () => {
      const v = await nodeVolumes();
      return v.attached.length === 0 && !v.inUse.includes(unique);
    }, { timeoutMs: REACT_MS, intervalMs: 250 });
    assert.deepEqual(await mountTargetsBelow(root).then((m) => m.filter((t) => t.includes('flexvolume') || t.includes('volplane~loop'))), []);
  });

  it('F2 seed 004: the PV migrated to csi.volplane.io keeps its data; a new pod of the same claim reads the same file', async () => {
    const backup = join(work, 'migrate-backup');
    const migrate = await run(NODE_BIN, [
      MAIN, 'migrate', 'flexvolume', '--driver', 'volplane/loop', '--to', 'csi.volplane.io', '--pv', PV,
      '--kubeconfig', cluster.kubeconfigPath, '--csi-endpoint', `unix://${join(cluster.dataDir, 'csi', 'csi.sock')}`, '--backup-dir', backup,
    ], { timeoutMs: 120_000 });
    assert.equal(migrate.code, 0, `volplane migrate failed:\n${migrate.stdout}\n${migrate.stderr}`);
    assert.match(migrate.stdout, new RegExp(`^${PV}: migrated$`, 'm'));

    const pv = JSON.parse((await kubectl(['get', 'pv', PV, '-o', 'json'])).stdout) as {
      spec: { csi?: { driver: string; volumeHandle: string; fsType?: string }; flexVolume?: unknown; claimRef?: { name: string } };
    };
    assert.equal(pv.spec.flexVolume, undefined);
    assert.equal(pv.spec.csi?.driver, 'csi.volplane.io');
    assert.equal(pv.spec.claimRef?.name, CLAIM);
    await waitFor('claim Bound to the migrated PV', async () => (await kubectl(['get', 'pvc', CLAIM, '-o', 'jsonpath={.status.phase}/{.spec.volumeName}'])).stdout === `Bound/${PV}`, {
      timeoutMs: REACT_MS,
      intervalMs: 250,
    });

    const loopFrom = (await calls(loopLog)).length;
    await apply(busyboxPod('csi-reader', `    persistentVolumeClaim:\n      claimName: ${CLAIM}\n`, 'sleep 86400'));
    await waitForPodRow('csi-reader', '1/1', 'Running');
    assert.equal((await kubectl(['exec', 'csi-reader', '--', 'cat', '/data/hello.txt'])).stdout, `${TEXT}\n`);
    const uid = await podUid('csi-reader');
    const csiPodPath = join(cluster.dataDir, 'node', 'pods', uid, 'volumes', 'kubernetes.io~csi', PV, 'mount');
    assert.equal((await findmnt(csiPodPath))?.fstype, 'ext4', `the CSI driver published the volume at ${csiPodPath}`);
    const attachments = JSON.parse((await kubectl(['get', 'volumeattachments', '-o', 'json'])).stdout) as {
      items: { spec: { attacher: string; nodeName: string; source: { persistentVolumeName?: string } }; status?: { attached?: boolean } }[];
    };
    const mine = attachments.items.filter((a) => a.spec.source.persistentVolumeName === PV);
    assert.equal(mine.length, 1, JSON.stringify(attachments.items));
    assert.equal(mine[0]!.spec.attacher, 'csi.volplane.io');
    assert.equal(mine[0]!.spec.nodeName, nodeName);
    assert.equal(mine[0]!.status?.attached, true);
    assert.deepEqual(await lifecycleSince(loopLog, loopFrom), [], 'the FlexVolume driver is not involved any more');

    await deletePod('csi-reader');
    await waitFor('the VolumeAttachment is gone', async () => !(await kubectl(['get', 'volumeattachments', '-o', 'name'])).stdout.includes('/'), { timeoutMs: REACT_MS, intervalMs: 250 });
    await kubectl(['delete', 'pvc', CLAIM, '--wait=true']);
    await kubectl(['delete', 'pv', PV, '--wait=true']);
    assert.deepEqual(await loopDevicesOf(join(loopData, `${PV}.img`)), []);
  });

  it('F3 a mount-only driver (volplane/bind) as an inline pod volume: mount and unmount, nothing else', async () => {
    const src = join(work, 'bind-src');
    await mkdir(src, { recursive: true });
    const from = (await calls(bindLog)).length;
    await apply(busyboxPod('flex-bind', inlineFlex('volplane/bind', { path: src }), 'echo hi > /data/from-pod && sleep 86400'));
    await waitForPodRow('flex-bind', '1/1', 'Running');
    await waitFor('the pod wrote through the bind', () => existsSync(join(src, 'from-pod')), { timeoutMs: REACT_MS, intervalMs: 200 });
    assert.equal(await readFile(join(src, 'from-pod'), 'utf8'), 'hi\n');
    const uid = await podUid('flex-bind');
    const podPath = join(cluster.dataDir, 'node', 'pods', uid, 'volumes', 'volplane~bind', 'data');
    assert.notEqual(await findmnt(podPath), undefined, `${podPath} is mounted`);
    assert.deepEqual(await lifecycleSince(bindLog, from), ['mount']);
    assert.equal((await calls(bindLog)).slice(from).find((c) => c[0] === 'mount')?.[1], podPath);
    assert.deepEqual((await nodeVolumes()).attached, [], 'a mount-only driver attaches nothing');

    await deletePod('flex-bind');
    await waitForCalls(bindLog, from, ['mount', 'unmount'], 'mount, then unmount');
    assert.equal(await findmnt(podPath), undefined);
    assert.ok(existsSync(join(src, 'from-pod')), 'the source keeps the file');
  });

  it('F4 a driver removed while its volume is mounted: new pods get FailedMount, deleting the old pod still unmounts', async () => {
    const src = join(work, 'vanish-src');
    await mkdir(src, { recursive: true });
    await installDriver('test~vanish', await readFile(join(EXAMPLES, 'volplane~bind', 'bind'), 'utf8'));
    // The prober notices the new driver by itself; until it has, the volume manager retries the mount.
    await apply(busyboxPod('flex-vanish', inlineFlex('test/vanish', { path: src }), 'sleep 86400'));
    await waitForPodRow('flex-vanish', '1/1', 'Running');
    const uid = await podUid('flex-vanish');
    const podPath = join(cluster.dataDir, 'node', 'pods', uid, 'volumes', 'test~vanish', 'data');
    assert.notEqual(await findmnt(podPath), undefined);

    await rm(join(flexDir, 'test~vanish'), { recursive: true });
    // The node notices without a restart: a new pod of that driver finds no plugin.
    await apply(busyboxPod('flex-vanish-2', inlineFlex('test/vanish', { path: src }), 'sleep 86400'));
    // Which words depend on whether the prober has seen the removal yet: upstream's "no volume plugin
    // matched" once it has, the failed start of the executable if the mount came first.
    await waitForEvent('flex-vanish-2', 'FailedMount', (m) =>
      m === 'no volume plugin matched' || (m.startsWith('MountVolume.SetUp failed for volume "data" : driver executable ') && m.includes('test~vanish')),
    );
    assert.match(await podRow('flex-vanish-2'), /^flex-vanish-2\s+0\/1\s+ContainerCreating\s/);

    await deletePod('flex-vanish');
    assert.equal(await findmnt(podPath), undefined, 'unmounted without the driver');
    await deletePod('flex-vanish-2');
  });

  it('F5 drivers that print garbage, answer Failure, or crash: FailedMount with their words; a good pod beside them runs', async () => {
    await installDriver('test~garbage', misbehavingDriver(`echo 'mounted it, trust me'`));
    await installDriver('test~failure', misbehavingDriver(`echo '{"status":"Failure","message":"share //nas/x is offline"}'; exit 1`));
    await installDriver('test~crash', misbehavingDriver(`echo 'panic: cannot reach the storage array' >&2; exit 3`));
    const src = join(work, 'good-src');
    await mkdir(src, { recursive: true });
    const rows: { pod: string; driver: string; event: (m: string) => boolean }[] = [
      { pod: 'flex-garbage', driver: 'test/garbage', event: (m) => m.startsWith('MountVolume.SetUp failed for volume "data" : ') && m.includes('mount command returned invalid output (not JSON)') && m.includes('mounted it, trust me') },
      { pod: 'flex-failure', driver: 'test/failure', event: (m) => m === 'MountVolume.SetUp failed for volume "data" : mount command failed, status: Failure, reason: share //nas/x is offline' },
      { pod: 'flex-crash', driver: 'test/crash', event: (m) => m.startsWith('MountVolume.SetUp failed for volume "data" : mount command failed') && m.includes('panic: cannot reach the storage array') },
    ];
    for (const r of rows) await apply(busyboxPod(r.pod, inlineFlex(r.driver), 'sleep 86400'));
    await apply(busyboxPod('flex-good', inlineFlex('volplane/bind', { path: src }), 'sleep 86400'));
    for (const r of rows) await waitForEvent(r.pod, 'FailedMount', r.event);
    await waitForPodRow('flex-good', '1/1', 'Running');
    for (const r of rows) assert.match(await podRow(r.pod), new RegExp(`^${r.pod}\\s+0/1\\s+ContainerCreating\\s`));
    for (const r of [...rows.map((x) => x.pod), 'flex-good']) await deletePod(r);
  });

  it('F6 a driver whose mount hangs is killed at the deadline with a FailedMount; everything above ran meanwhile', async () => {
    assert.match(await podRow('flex-hang'), /^flex-hang\s+0\/1\s+ContainerCreating\s/);
    const left = DRIVER_CALL_TIMEOUT_MS - (Date.now() - hangPodCreatedAt);
    await waitForEvent('flex-hang', 'FailedMount', (m) => m === `MountVolume.SetUp failed for volume "data" : mount command timed out after ${DRIVER_CALL_TIMEOUT_MS} ms and was killed`, Math.max(left, 0) + REACT_MS);
    assert.match(await podRow('flex-hang'), /^flex-hang\s+0\/1\s+ContainerCreating\s/);
    await writeFile(hangRelease, '');
    await deletePod('flex-hang');
  });
});

// End to end: volumeMounts' subPath and subPathExpr on `volplane up` with every controller and
// the in-process node, driven through the real kubectl and checked on the host (the mount table,
// the hostPath directory).
//
//   1 subPath into an emptyDir: an init container plants `dir/file` and a symlink
//     `escape -> /etc`; `subPath: dir` works, `subPath: escape` must not start
//     (CVE-2017-1002101): the container waits with CreateContainerConfigError, a Warning
//     event says why, and nothing under the data dir is a bind of the host's /etc;
//   2 `subPath: ../x` (and an absolute one) is refused by the API server's validation (422);
//   3 subPathExpr `$(POD_NAME)` from a downward-API env var gives each pod its own directory.
//
// Upstream's kubelet (pkg/kubelet/kubelet_pods.go, makeMounts) deliberately does not show the
// user why a subPath was refused — the reason (subpath_linux.go's "subpath %q not within
// volume path %q") names host paths and goes only to the kubelet's log; the container status
// and the event say `failed to prepare subPath for volumeMount "<vol>" of container "<c>"`.
// Row 1 checks that wording last, so the rest of the behaviour is checked either way.
//
// One cluster for the file; rows run in order and each deletes what it created. Needs root
// and kubectl. busybox `sleep` ignores SIGTERM as PID 1, so pods go with --grace-period=1.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../src/base/index.ts';
import { findLeaks, hasKubectl, mountsBelow, startTestCluster, type MountRow, type KubectlOptions, type KubectlResult, type TestCluster } from '../src/testing/index.ts';
import { podQueries, type EventRow } from './e2e-helpers.ts';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot
  ? 'needs root: the node runs containers in mount and PID namespaces and mounts their volumes'
  : !hasKubectl()
    ? 'kubectl is not installed'
    : false;

/** How long a pod gets to start, or a change to reach the node. Generous: the machine is shared. */
const REACT_MS = 30_000;

// ---- manifests --------------------------------------------------------------------------------

/**
 * A pod whose init container fills the emptyDir `vol` with `dir/file` and `escape -> /etc`,
 * and whose container `name` mounts `vol` with `subPath` at /data.
 */
const plantedPod = (pod: string, container: string, subPath: string): string => `apiVersion: v1
kind: Pod
metadata:
  name: ${pod}
spec:
  initContainers:
  - name: plant
    image: busybox
    command: ["sh", "-c", "mkdir -p /vol/dir && echo hello > /vol/dir/file && ln -s /etc /vol/escape"]
    volumeMounts:
    - name: vol
      mountPath: /vol
  containers:
  - name: ${container}
    image: busybox
    command: ["sleep", "86400"]
    volumeMounts:
    - name: vol
      mountPath: /data
      subPath: ${subPath}
  volumes:
  - name: vol
    emptyDir: {}
`;

const subPathPod = (pod: string, subPath: string): string => `apiVersion: v1
kind: Pod
metadata:
  name: ${pod}
spec:
  containers:
  - name: c
    image: busybox
    command: ["sleep", "86400"]
    volumeMounts:
    - name: vol
      mountPath: /data
      subPath: ${JSON.stringify(subPath)}
  volumes:
  - name: vol
    emptyDir: {}
`;

/** Each pod writes its own name into `/out/whoami`, /out being `$(POD_NAME)` of a shared hostPath. */
const exprPod = (pod: string, hostDir: string): string => `apiVersion: v1
kind: Pod
metadata:
  name: ${pod}
spec:
  containers:
  - name: c
    image: busybox
    command: ["sh", "-c", "echo $POD_NAME > /out/whoami; exec sleep 86400"]
    env:
    - name: POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
    volumeMounts:
    - name: shared
      mountPath: /out
      subPathExpr: $(POD_NAME)
  volumes:
  - name: shared
    hostPath:
      path: ${hostDir}
      type: Directory
`;

// ---- helpers ----------------------------------------------------------------------------------

let cluster: TestCluster;
let hostDir: string | undefined;

function kubectl(args: readonly string[], options?: KubectlOptions): Promise<KubectlResult> {
  return cluster.kubectl(args, options);
}

const { podRow, describePod, waitForPodRow, eventsFor } = podQueries(kubectl, { reactMs: REACT_MS });

interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: { reason?: string; exitCode?: number };
}

interface PodJson {
  metadata: { uid: string };
  status?: { containerStatuses?: { name: string; state?: ContainerState; ready?: boolean }[] };
}

async function getPod(name: string): Promise<PodJson> {
  return JSON.parse((await kubectl(['get', 'pod', name, '-o', 'json'])).stdout) as PodJson;
}

/** Deletes pod `name` (grace 1 s) and waits until nothing is mounted below its pod directory. */
async function deletePodAndCheck(name: string): Promise<void> {
  const uid = (await getPod(name)).metadata.uid;
  await kubectl(['delete', 'pod', name, '--grace-period=1', '--wait=true'], { timeoutMs: 60_000 });
  const podDir = join(cluster.dataDir, 'node', 'pods', uid);
  let left: MountRow[] = [];
  try {
    await waitFor(
      `pod ${name} unmounted`,
      async () => {
        left = await mountsBelow(podDir);
        return left.length === 0;
      },
      { timeoutMs: 15_000, intervalMs: 250 },
    );
  } catch {
    assert.fail(`after deleting ${name} (uid ${uid}), still mounted: ${left.map((m) => m.target).join('; ')}`);
  }
}

// ---- the rows ---------------------------------------------------------------------------------

describe('subPath and subPathExpr on a real node', { skip }, () => {
  before(async () => {
    // The harness waits for its node to be Ready.
    cluster = await startTestCluster({ controllers: true, node: true });
  });

  after(async () => {
    if (cluster !== undefined) {
      await kubectl(['delete', 'pods', '--all', '--grace-period=0', '--force', '--wait=true'], { allowFail: true, timeoutMs: 60_000 });
      await cluster.close();
    }
    if (hostDir !== undefined && (await mountsBelow(hostDir)).length === 0) await rm(hostDir, { recursive: true, force: true });
    assert.deepEqual(await findLeaks(), [], 'mounts or loop devices left behind');
  });

  it('1-1 subPath: dir — the container sees only the directory planted by the init container', async () => {
    await kubectl(['apply', '-f', '-'], { input: plantedPod('subpath-dir', 'main', 'dir') });
    await waitForPodRow('subpath-dir', '1/1', 'Running');
    assert.equal((await kubectl(['exec', 'subpath-dir', '--', 'ls', '-A', '/data'])).stdout, 'file\n');
    assert.equal((await kubectl(['exec', 'subpath-dir', '--', 'cat', '/data/file'])).stdout, 'hello\n');
    // The container's /data is a bind of the volume's dir, not of anything outside the pod.
    const uid = (await getPod('subpath-dir')).metadata.uid;
    const binds = await mountsBelow(join(cluster.dataDir, 'node', 'pods', uid, 'volume-subpaths'));
    assert.equal(binds.length, 1, `one subPath bind: ${JSON.stringify(binds)}`);
    // FSROOT is relative to the filesystem holding the data dir, so compare the pod's part only.
    const source = `/pods/${uid}/volumes/kubernetes.io~empty-dir/vol/dir`;
    assert.ok(binds[0].fsroot.endsWith(source), `the bind's source is the volume's dir: ${JSON.stringify(binds[0])}`);
    await deletePodAndCheck('subpath-dir');
  });

  it('1-2 subPath: escape (a symlink to /etc) — the container never starts, CreateContainerConfigError', async () => {
    await kubectl(['apply', '-f', '-'], { input: plantedPod('subpath-escape', 'escape', 'escape') });
    let pod: PodJson | undefined;
    let waiting: { reason?: string; message?: string } | undefined;
    try {
      waiting = await waitFor(
        'escape container waiting with CreateContainerConfigError',
        async () => {
          pod = await getPod('subpath-escape');
          const w = pod.status?.containerStatuses?.find((c) => c.name === 'escape')?.state?.waiting;
          return w?.reason === 'CreateContainerConfigError' ? w : undefined;
        },
        { timeoutMs: REACT_MS, intervalMs: 250 },
      );
    } catch {
      assert.fail(`the escape container never showed CreateContainerConfigError: ${JSON.stringify(pod?.status)}; ${await describePod('subpath-escape')}`);
    }
    // kubectl get shows the waiting reason as the pod's STATUS.
    assert.match(await podRow('subpath-escape'), /^subpath-escape\s+0\/1\s+CreateContainerConfigError\s+0\s/);

    let seen: EventRow[] = [];
    let event: EventRow | undefined;
    try {
      event = await waitFor(
        'a Warning Failed event about the subPath',
        async () => {
          seen = await eventsFor('subpath-escape');
          return seen.find((e) => e.type === 'Warning' && e.reason === 'Failed' && /subpath/i.test(e.message));
        },
        { timeoutMs: REACT_MS, intervalMs: 250 },
      );
    } catch {
      assert.fail(`no Warning Failed event about the subPath; events: ${JSON.stringify(seen)}`);
    }

    // Still refused on the retries, never running, and nothing anywhere under the data dir is
    // a bind of the host's /etc.
    const again = await getPod('subpath-escape');
    const state = again.status?.containerStatuses?.find((c) => c.name === 'escape')?.state;
    assert.equal(state?.running, undefined, `the escape container is not running: ${JSON.stringify(state)}`);
    assert.equal(state?.waiting?.reason, 'CreateContainerConfigError');
    const etcBinds = (await mountsBelow(cluster.dataDir)).filter((m) => m.fsroot === '/etc' || m.fsroot.startsWith('/etc/'));
    assert.deepEqual(etcBinds, [], 'no mount under the data dir binds the host /etc');
    const exec = await kubectl(['exec', 'subpath-escape', '-c', 'escape', '--', 'ls', '/data'], { allowFail: true });
    assert.notEqual(exec.code, 0, `exec into the escape container must fail, it printed ${JSON.stringify(exec.stdout)}`);

    await deletePodAndCheck('subpath-escape');

    // Upstream's wording (kubelet_pods.go makeMounts): the detail stays in the kubelet's log.
    const upstream = 'failed to prepare subPath for volumeMount "vol" of container "escape"';
    assert.equal(waiting?.message, upstream, 'the waiting message is upstream\'s and names no host path');
    assert.equal(event?.message, `Error: ${upstream}`, 'the event is upstream\'s and names no host path');
  });

  it('2-1 subPath with .. is refused at create: 422, spec.containers[0].volumeMounts[0].subPath must not contain ..', async () => {
    const res = await kubectl(['create', '-f', '-', '-v=6'], { input: subPathPod('dotdot', '../x'), allowFail: true });
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /422 Unprocessable Entity/, 'the API server answered 422');
    assert.match(
      res.stderr,
      /^The Pod "dotdot" is invalid: spec\.containers\[0\]\.volumeMounts\[0\]\.subPath: Invalid value: "\.\.\/x": must not contain '\.\.'$/m,
    );
    assert.equal((await kubectl(['get', 'pod', 'dotdot'], { allowFail: true })).code, 1, 'nothing was created');
  });

  it('2-2 an absolute subPath is refused at create: must be a relative path', async () => {
    const res = await kubectl(['create', '-f', '-'], { input: subPathPod('abs', '/etc'), allowFail: true });
    assert.equal(res.code, 1, res.stderr);
    assert.match(
      res.stderr,
      /^The Pod "abs" is invalid: spec\.containers\[0\]\.volumeMounts\[0\]\.subPath: Invalid value: "\/etc": must be a relative path$/m,
    );
  });

  it('3-1 subPathExpr $(POD_NAME): each pod gets its own directory of a shared hostPath', async () => {
    hostDir = await mkdtemp(join(tmpdir(), 'volplane-subpathexpr-'));
    await kubectl(['apply', '-f', '-'], { input: exprPod('expr-a', hostDir) + '---\n' + exprPod('expr-b', hostDir) });
    await waitForPodRow('expr-a', '1/1', 'Running');
    await waitForPodRow('expr-b', '1/1', 'Running');
    const dir = hostDir;
    let files: string[] = [];
    try {
      await waitFor(
        'both pods wrote whoami',
        () => {
          files = ['expr-a', 'expr-b'].filter((p) => existsSync(join(dir, p, 'whoami')));
          return files.length === 2;
        },
        { timeoutMs: REACT_MS, intervalMs: 250 },
      );
    } catch {
      assert.fail(`per-pod files on the host: ${JSON.stringify(files)}; host dir: ${JSON.stringify(await readdir(dir))}`);
    }
    assert.deepEqual((await readdir(dir)).sort(), ['expr-a', 'expr-b']);
    assert.equal(await readFile(join(dir, 'expr-a', 'whoami'), 'utf8'), 'expr-a\n');
    assert.equal(await readFile(join(dir, 'expr-b', 'whoami'), 'utf8'), 'expr-b\n');
    // Inside, each pod sees only its own directory.
    assert.equal((await kubectl(['exec', 'expr-a', '--', 'ls', '-A', '/out'])).stdout, 'whoami\n');
    assert.equal((await kubectl(['exec', 'expr-b', '--', 'cat', '/out/whoami'])).stdout, 'expr-b\n');
    await deletePodAndCheck('expr-a');
    await deletePodAndCheck('expr-b');
  });

  it('4-1 after the last delete nothing is mounted under the data dir', async () => {
    const leftover = (await kubectl(['get', 'pods', '-o', 'name'])).stdout.trim();
    if (leftover !== '') await kubectl(['delete', 'pods', '--all', '--grace-period=1', '--wait=true'], { timeoutMs: 60_000 });
    let left: MountRow[] = [];
    try {
      await waitFor(
        'nothing mounted under the data dir',
        async () => {
          left = await mountsBelow(cluster.dataDir);
          return left.length === 0;
        },
        { timeoutMs: 15_000, intervalMs: 250 },
      );
    } catch {
      assert.fail(`still mounted under ${cluster.dataDir}: ${left.map((m) => `${m.target} (${m.fsroot})`).join('; ')}`);
    }
    assert.equal(leftover, '', 'every row deleted its own pods');
  });
});

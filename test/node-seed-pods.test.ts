// End to end: the pod examples of seed 001 §1 ("卷") on `volplane up` with every controller and
// the in-process node (kubelet, runtime, volume manager), driven and observed only through the
// real kubectl, as a reader of the seed types them, plus the host's own view (files under the
// hostPath, the mount table, /proc) for what the seed checks on the node.
//
//   §1.1 emptyDir     two containers share one directory;
//   §1.2 hostPath     a file written in the container is on the host; a wrong `type` is a FailedMount;
//   §1.4 configMap    the ..data symlink layout, the contents, live updates, a missing key;
//   §1.5 downwardAPI  `kubectl logs` prints the pod's labels and annotations;
//   and deleting each pod leaves no mount, no process and no container state behind.
//
// One cluster for the whole file (the node is the expensive part); the rows run in order and
// each deletes what it created. Needs root (the runtime uses namespaces and mounts) and kubectl.
// The seed's `sleep` (and `sh` loop) containers ignore SIGTERM as PID 1, so pods are deleted
// with --grace-period=1.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../src/base/index.ts';
import { findLeaks, hasKubectl, mountTargetsBelow, startTestCluster, type KubectlOptions, type KubectlResult, type TestCluster } from '../src/testing/index.ts';
import { podQueries, type EventRow } from './e2e-helpers.ts';

const isRoot = process.getuid?.() === 0;
const skip = !isRoot
  ? 'needs root: the node runs containers in mount and PID namespaces and mounts their volumes'
  : !hasKubectl()
    ? 'kubectl is not installed'
    : false;

/** How long a pod gets to start, or a change to reach the node. Generous: the machine is shared. */
const REACT_MS = 30_000;

// ---- the seed's manifests ---------------------------------------------------------------------

const EMPTYDIR_POD = `# volume-emptyDir.yml
apiVersion: v1 
kind: Pod 
metadata:
  name: emptydir-pod 
spec:
  containers:
  - image: busybox
    name: c1
    command: ["sleep", "86400"]
    volumeMounts:
    - mountPath: /path1 
      name: cache-volume
  - image: busybox
    name: c2
    command: ["sleep", "86400"]
    volumeMounts:
    - mountPath: /path2
      name: cache-volume
  volumes:
  - name: cache-volume 
    emptyDir: {}
`;

/** The seed's hostPath pod; only the host path differs (a temp dir, not the machine's /data). */
const hostPathPod = (name: string, path: string, type: string): string => `# volume-hostPath.yml
apiVersion: v1 
kind: Pod 
metadata:
  name: ${name}
spec:
  containers:
  - image: busybox
    name: busybox
    command: ["sleep", "86400"]
    volumeMounts:
    - name: data-volume
      mountPath: /data  
  volumes:
  - name: data-volume 
    hostPath: 
      path: ${path}
      type: ${type}
`;

const LOG_CONFIG = (logLevel: string): string => `apiVersion: v1
kind: ConfigMap
metadata:
  name: log-config
data:
  log_level: "${logLevel}"
  ui.properties: |
    color.good=purple
    color.bad=yellow
    allow.textmode=true
    how.nice.to.look=fairlyNice
`;

const configMapPod = (name: string, keys: readonly string[]): string => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  containers:
    - name: busybox
      image: busybox
      command: ["sleep", "86400"]
      volumeMounts:
        - name: config-vol
          mountPath: /etc/config
  volumes:
    - name: config-vol
      configMap:
        name: log-config
        items:
${keys.map((k) => `          - key: ${k}\n            path: ${k}`).join('\n')}
`;

// # volume-configmap.yml, verbatim.
const CONFIGMAP_SEED = `${LOG_CONFIG('INFO')}---\n${configMapPod('configmap-pod', ['log_level', 'ui.properties'])}`;

// Two changes from the seed, both forced:
// - `version: 1.1` is a YAML number, and kubectl itself refuses it before sending anything
//   (`error: unable to decode "STDIN": json: cannot unmarshal number into Go struct field
//   ObjectMeta.metadata.labels of type string`), so it is quoted here; the seed's own output
//   shows the value as "1.1".
// - the image: volplane's node has no registry (busybox is built from the host; anything else
//   must be imported), so `e2eteam/dnsutils:1.1` becomes busybox, whose sh runs the same loop.
const DWAPI_POD = `# volume-downwardApi.pod
apiVersion: v1
kind: Pod
metadata:
  name: dwapi-pod
  labels:
    app: dnsutils
    version: "1.1"
  annotations:
    prometheus.io/scrape: "true"
    prometheus.io/scheme: "http"
    prometheus.io/port: "80"
spec:
  containers:
    - name: dnsutils
      image: busybox
      command: ["sh", "-c"]
      args:
      - while true; do
          if [[ -e /etc/podinfo/labels ]]; then
            echo -en '\\n\\n'; cat /etc/podinfo/labels; fi;
          if [[ -e /etc/podinfo/annotations ]]; then
            echo -en '\\n\\n'; cat /etc/podinfo/annotations; fi;
          sleep 5;
        done;
      volumeMounts:
        - name: podinfo
          mountPath: /etc/podinfo
  volumes:
    - name: podinfo
      downwardAPI:
        items:
          - path: "labels"
            fieldRef:
              fieldPath: metadata.labels
          - path: "annotations"
            fieldRef:
              fieldPath: metadata.annotations
`;

// ---- helpers ----------------------------------------------------------------------------------

let cluster: TestCluster;
let hostDir: string | undefined;

function kubectl(args: readonly string[], options?: KubectlOptions): Promise<KubectlResult> {
  return cluster.kubectl(args, options);
}

const { podRow, describePod, waitForPodRow, podUid, eventsFor } = podQueries(kubectl, { reactMs: REACT_MS });

/** Waits for a Warning FailedMount event on pod `name` whose message is `message` (or passes `message`). */
async function waitForFailedMount(name: string, message: string | ((m: string) => boolean)): Promise<EventRow> {
  const matches = typeof message === 'string' ? (m: string) => m === message : message;
  let seen: EventRow[] = [];
  try {
    return await waitFor(
      `FailedMount on ${name}`,
      async () => {
        seen = await eventsFor(name);
        return seen.find((e) => e.type === 'Warning' && e.reason === 'FailedMount' && matches(e.message));
      },
      { timeoutMs: REACT_MS, intervalMs: 250 },
    );
  } catch {
    assert.fail(`no FailedMount ${typeof message === 'string' ? JSON.stringify(message) : 'matching'} on ${name}; events: ${JSON.stringify(seen)}`);
  }
}

/**
 * Processes of this cluster's containers: their command line names a path under the data
 * directory (the shim, the init wrapper), or their root is a container rootfs under it
 * (the container's own processes, whose command line is just e.g. `sleep 86400`).
 * With `uid`, only those whose command line names that pod's directory.
 */
async function containerProcesses(uid?: string): Promise<string[]> {
  const found: string[] = [];
  const dataDir = cluster.dataDir;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').join(' ').trim();
      if (uid !== undefined) {
        if (cmdline.includes(`/pods/${uid}/`)) found.push(`${entry} ${cmdline}`);
        continue;
      }
      const root = await readlink(`/proc/${entry}/root`).catch(() => '');
      if (cmdline.includes(dataDir) || root.startsWith(`${dataDir}/`)) found.push(`${entry} ${cmdline} (root ${root})`);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/** Container state directories of the runtime that belong to pod `uid`. */
async function runtimeStateOf(uid: string): Promise<string[]> {
  const dir = join(cluster.dataDir, 'node', 'containers');
  const found: string[] = [];
  for (const id of existsSync(dir) ? await readdir(dir) : []) {
    const state = await readFile(join(dir, id, 'state.json'), 'utf8').catch(() => '');
    if (state.includes(uid)) found.push(id);
  }
  return found;
}

/**
 * Deletes pod `name` (grace 1 s: PID 1 ignores SIGTERM) and checks the node let go of it:
 * no mount below its pod directory, no process naming it, no container state for it.
 */
async function deletePodAndCheck(name: string): Promise<void> {
  const uid = await podUid(name);
  await kubectl(['delete', 'pod', name, '--grace-period=1', '--wait=true'], { timeoutMs: 60_000 });
  const podDir = join(cluster.dataDir, 'node', 'pods', uid);
  let left: string[] = [];
  try {
    await waitFor(
      `pod ${name} cleaned up`,
      async () => {
        left = [
          ...(await mountTargetsBelow(podDir)).map((m) => `mount ${m}`),
          ...(await containerProcesses(uid)).map((p) => `process ${p}`),
          ...(await runtimeStateOf(uid)).map((c) => `container state ${c}`),
        ];
        return left.length === 0;
      },
      { timeoutMs: 15_000, intervalMs: 250 },
    );
  } catch {
    assert.fail(`after deleting ${name} (uid ${uid}), left behind: ${left.join('; ')}`);
  }
}

// ---- the rows ---------------------------------------------------------------------------------

describe('seed 001 §1: volume examples on a real node', { skip }, () => {
  before(async () => {
    // The harness waits for its node to be Ready.
    cluster = await startTestCluster({ controllers: true, node: true });
  });

  after(async () => {
    if (cluster !== undefined) {
      // Whatever a failed row left: its volumes stay mounted otherwise.
      await kubectl(['delete', 'pods', '--all', '--grace-period=0', '--force', '--wait=true'], { allowFail: true, timeoutMs: 60_000 });
      await cluster.close();
    }
    if (hostDir !== undefined && (await mountTargetsBelow(hostDir)).length === 0) await rm(hostDir, { recursive: true, force: true });
    assert.deepEqual(await findLeaks(), [], 'mounts or loop devices left behind');
  });

  it('1.1 emptyDir: a file touched in c1 shows in c2', async () => {
    await kubectl(['apply', '-f', '-'], { input: EMPTYDIR_POD });
    await waitForPodRow('emptydir-pod', '2/2', 'Running');
    await kubectl(['exec', 'emptydir-pod', '-c', 'c1', '--', 'touch', '/path1/abc.txt']);
    const ls = await kubectl(['exec', 'emptydir-pod', '-c', 'c2', '--', 'ls', '/path2']);
    assert.equal(ls.stdout, 'abc.txt\n');
    await deletePodAndCheck('emptydir-pod');
  });

  it('1.2 hostPath type Directory: a file touched in the container is on the host', async () => {
    hostDir = await mkdtemp(join(tmpdir(), 'volplane-hostpath-'));
    await kubectl(['apply', '-f', '-'], { input: hostPathPod('hostpath-pod', hostDir, 'Directory') });
    const row = await waitForPodRow('hostpath-pod', '1/1', 'Running');
    assert.match(row, /^hostpath-pod\s+1\/1\s+Running\s+0\s+\S+$/);
    await kubectl(['exec', 'hostpath-pod', '--', 'touch', '/data/abc.txt']);
    // The seed's `ls -l /data` on the node: -rw-r--r-- 1 root root 0 … abc.txt
    const st = await stat(join(hostDir, 'abc.txt'));
    assert.ok(st.isFile(), 'abc.txt is a regular file on the host');
    assert.equal(st.size, 0);
    assert.equal(st.uid, 0);
    assert.equal(st.mode & 0o777, 0o644);
    await deletePodAndCheck('hostpath-pod');
    assert.ok(existsSync(join(hostDir, 'abc.txt')), 'the host keeps the file after the pod is gone');
  });

  it('1.2 hostPath type File on a directory: ContainerCreating with a FailedMount naming the type check', async () => {
    assert.ok(hostDir !== undefined);
    await kubectl(['apply', '-f', '-'], { input: hostPathPod('hostpath-wrong-type', hostDir, 'File') });
    const upstream = `MountVolume.SetUp failed for volume "data-volume" : hostPath type check failed: ${hostDir} is not a file`;
    const event = await waitForFailedMount('hostpath-wrong-type', (m) => m.startsWith(upstream));
    assert.match(await podRow('hostpath-wrong-type'), /^hostpath-wrong-type\s+0\/1\s+ContainerCreating\s+0\s/);
    await deletePodAndCheck('hostpath-wrong-type');
    // Last, so the behaviour above is checked either way: upstream's text ends at "is not a file".
    assert.equal(event.message, upstream);
  });

  it('1.4 configMap: ..data symlinks, contents, and an update reaching the running pod', async () => {
    await kubectl(['apply', '-f', '-'], { input: CONFIGMAP_SEED });
    await waitForPodRow('configmap-pod', '1/1', 'Running');

    // As the seed shows it: one symlink per key into ..data/ (busybox ls -l; sizes are the link lengths).
    const ls = (await kubectl(['exec', 'configmap-pod', '--', 'ls', '-l', '/etc/config'])).stdout;
    const lines = ls.trimEnd().split('\n');
    assert.equal(lines[0], 'total 0');
    assert.equal(lines.length, 3, ls);
    assert.match(lines[1], /^lrwxrwxrwx\s+1 root\s+root\s+16 .+ log_level -> \.\.data\/log_level$/);
    assert.match(lines[2], /^lrwxrwxrwx\s+1 root\s+root\s+20 .+ ui\.properties -> \.\.data\/ui\.properties$/);
    // And the hidden part of the layout: ..data is itself a symlink to a timestamped directory.
    const all = (await kubectl(['exec', 'configmap-pod', '--', 'ls', '-la', '/etc/config'])).stdout;
    assert.match(all, /^lrwxrwxrwx\s.* \.\.data -> \.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+$/m);

    assert.equal((await kubectl(['exec', 'configmap-pod', '--', 'cat', '/etc/config/log_level'])).stdout, 'INFO');
    assert.equal(
      (await kubectl(['exec', 'configmap-pod', '--', 'cat', '/etc/config/ui.properties'])).stdout,
      'color.good=purple\ncolor.bad=yellow\nallow.textmode=true\nhow.nice.to.look=fairlyNice\n',
    );

    await kubectl(['apply', '-f', '-'], { input: LOG_CONFIG('DEBUG') });
    let last = '';
    try {
      await waitFor(
        'log_level DEBUG in the pod',
        async () => {
          last = (await kubectl(['exec', 'configmap-pod', '--', 'cat', '/etc/config/log_level'])).stdout;
          return last === 'DEBUG';
        },
        { timeoutMs: 90_000, intervalMs: 1_000 },
      );
    } catch {
      assert.fail(`the updated ConfigMap never reached the pod: /etc/config/log_level is still ${JSON.stringify(last)}`);
    }
    await deletePodAndCheck('configmap-pod');
  });

  it('1.4 configMap with a key the ConfigMap lacks: ContainerCreating with a FailedMount', async () => {
    await kubectl(['apply', '-f', '-'], { input: configMapPod('configmap-missing-key', ['log_level', 'no_such_key']) });
    await waitForFailedMount('configmap-missing-key', 'MountVolume.SetUp failed for volume "config-vol" : configmap references non-existent config key: no_such_key');
    assert.match(await podRow('configmap-missing-key'), /^configmap-missing-key\s+0\/1\s+ContainerCreating\s+0\s/);
    await deletePodAndCheck('configmap-missing-key');
    await kubectl(['delete', 'configmap', 'log-config']);
  });

  it('1.5 downwardAPI: kubectl logs prints the labels and the annotations', async () => {
    await kubectl(['apply', '-f', '-'], { input: DWAPI_POD });
    await waitForPodRow('dwapi-pod', '1/1', 'Running');
    const lastApplied = JSON.parse((await kubectl(['get', 'pod', 'dwapi-pod', '-o', 'json'])).stdout) as {
      metadata: { annotations: Record<string, string> };
    };
    const applied = lastApplied.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'];
    assert.ok(applied !== undefined, 'kubectl apply recorded the last applied configuration');

    // Each file is key="value" lines sorted by key (values quoted as Go's %q does: JSON's
    // escaping for these ASCII values), no final newline; the loop prints a blank line before each.
    const labels = 'app="dnsutils"\nversion="1.1"';
    const fromApi = [
      `kubectl.kubernetes.io/last-applied-configuration=${JSON.stringify(applied)}`,
      'prometheus.io/port="80"',
      'prometheus.io/scheme="http"',
      'prometheus.io/scrape="true"',
    ];
    let logs = '';
    try {
      await waitFor(
        'two rounds of the loop in the logs',
        async () => {
          logs = (await kubectl(['logs', 'dwapi-pod'])).stdout;
          // The second round's start proves the first round (both files) is complete.
          return logs.split(`\n\n${labels}\n\n`).length >= 3;
        },
        { timeoutMs: REACT_MS, intervalMs: 1_000 },
      );
    } catch {
      assert.fail(`kubectl logs dwapi-pod never showed two rounds: ${JSON.stringify(logs)}`);
    }
    assert.ok(logs.startsWith(`\n\n${labels}\n\n`), `logs start with the labels file: ${JSON.stringify(logs.slice(0, 200))}`);
    const annotationBlock = logs.slice(`\n\n${labels}\n\n`.length).split('\n\n')[0].split('\n');
    const kubeletOwn = (line: string): boolean => line.startsWith('kubernetes.io/config.');
    assert.deepEqual(annotationBlock.filter((l) => !kubeletOwn(l)), fromApi, 'the pod\'s own annotations, sorted');
    await deletePodAndCheck('dwapi-pod');

    // Last, so the rest is checked either way: the kubelet adds two annotations of its own to
    // the pods it runs, and the seed's file shows them in their sorted place (the seed's output
    // stops before prometheus.io/scrape; the file goes on).
    assert.deepEqual(
      annotationBlock.slice(1, 3).map((l) => l.replace(/^(kubernetes\.io\/config\.seen=)"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})"$/, '$1"<time>"')),
      ['kubernetes.io/config.seen="<time>"', 'kubernetes.io/config.source="api"'],
      `annotations file: ${JSON.stringify(annotationBlock.slice(0, 1).map((l) => l.slice(0, 60) + '…').concat(annotationBlock.slice(1)))}`,
    );
  });

  it('deleting the last pod left nothing: no mount under the data dir, no container process', async () => {
    // A row that failed before its own delete leaves its pod: delete it the ordinary way first,
    // so this row still says whether the node cleans up.
    const leftover = (await kubectl(['get', 'pods', '-o', 'name'])).stdout.trim();
    if (leftover !== '') await kubectl(['delete', 'pods', '--all', '--grace-period=1', '--wait=true'], { timeoutMs: 60_000 });
    const containersDir = join(cluster.dataDir, 'node', 'containers');
    let left: string[] = [];
    try {
      await waitFor(
        'nothing left on the node',
        async () => {
          left = [
            ...(await mountTargetsBelow(cluster.dataDir)).map((m) => `mount ${m}`),
            ...(await containerProcesses()).map((p) => `process ${p}`),
            ...(existsSync(containersDir) ? await readdir(containersDir) : []).map((c) => `container state ${c}`),
          ];
          return left.length === 0;
        },
        { timeoutMs: 15_000, intervalMs: 250 },
      );
    } catch {
      assert.fail(`left on the node: ${left.join('; ')}`);
    }
  });
});

// Seed 001 §2.3.1 (a StorageClass with WaitForFirstConsumer and a local PV
// pinned to k8s-node01) over real processes: `volplane up --no-node` and two
// node agents, k8s-node01 and k8s-node02, each a child process with a root
// of its own, all driven by the real kubectl. Then the node agent that runs
// the pod is killed with SIGKILL and started again on the same root: the
// container must be adopted (same PID 1, same start time), its volume must
// stay mounted, and deleting the pod must leave no mount behind.
//
// Why child processes and not startNode() in-process: a node that dies with
// SIGKILL runs no cleanup at all, which is exactly the state a restarted
// kubelet has to recover from; only a real process can be killed that way.
//
// The kubelet server of every node listens on one fixed port unless told
// otherwise; two nodes on one machine need distinct ports. When `volplane
// node` accepts `--port`, the test passes `--port 0`; otherwise it runs each
// node through a small launcher that calls startNode() with port 0 — the same
// code `volplane node` runs, minus argument parsing.
//
// Needs root (namespaces, mounts) and kubectl; skips itself otherwise.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../src/base/index.ts';
import { hasKubectl, kubectlPath, mountTargetsBelow, waitForState } from '../src/testing/index.ts';
import { freePort } from '../bench/server-process.ts';
import { Child, containerStates, killContainersLeft, MAIN, REPO, startTimeOf } from './e2e-helpers.ts';

const isRoot = process.getuid?.() === 0;
const NODE_TS = join(REPO, 'src', 'cli', 'node.ts');
const HELLO = '<h1>hello storage class</h1>';

function run(file: string, args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(file, [...args], { env: options.env ?? process.env, timeout: 30_000, maxBuffer: 8 << 20 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1;
      resolve({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}


/** Mount entries (mountinfo without the first two ids) at the pod's mountPath, as the container with PID 1 `pid` sees them. */
async function containerVolumeMounts(pid: number): Promise<string[]> {
  const info = await readFile(`/proc/${pid}/mountinfo`, 'utf8');
  return info
    .split('\n')
    .filter((l) => (l.split(' ')[4] ?? '').endsWith('/usr/share/nginx/html'))
    .map((l) => l.split(' ').slice(2).join(' '));
}

const storageManifest = (pvPath: string): string => `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local-storage
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: nginx-pv
spec:
  capacity:
    storage: 5Gi
  volumeMode: Filesystem
  accessModes:
  - ReadWriteOnce
  persistentVolumeReclaimPolicy: Delete
  storageClassName: local-storage
  local:
    path: ${pvPath}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - key: kubernetes.io/hostname
          operator: In
          values:
          - k8s-node01
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: nginx-pvc
spec:
  accessModes:
  - ReadWriteOnce
  resources:
    requests:
      storage: 5Gi
  storageClassName: local-storage
`;

const deploymentManifest = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: nginx-deploy
spec:
  replicas: 1
  selector:
    matchLabels:
      appname: nginx
  template:
    metadata:
      name: nginx
      labels:
        appname: nginx
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: nginx
        image: busybox
        command: ['sh', '-c', 'cat /usr/share/nginx/html/index.html; sleep 86400']
        volumeMounts:
          - name: data
            mountPath : /usr/share/nginx/html
      volumes:
        - name: data
          persistentVolumeClaim:
            claimName: nginx-pvc
`;

/** Runs startNode() like `volplane node` does, but with the kubelet server on a free port. */
const launcherSource = `import { readFileSync } from 'node:fs';
import { createLogger } from ${JSON.stringify(join(REPO, 'src', 'base', 'index.ts'))};
import { startNode } from ${JSON.stringify(NODE_TS)};
const [server, token, name, root, caFile] = process.argv.slice(2);
const logger = createLogger({});
const node = await startNode({ client: { server, caCert: readFileSync(caFile, 'utf8'), token }, nodeName: name, root, logger, port: 0 });
process.stdout.write('volplane node ' + name + ' joined ' + server + ', state in ' + root + '\\n');
let stopping = false;
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => {
  if (stopping) return;
  stopping = true;
  node.stop().then(() => process.exit(0), () => process.exit(1));
});
`;

test('seed 001 §2.3.1 with two node agents, and a node agent killed and restarted', { skip: (!isRoot && 'needs root') || (!hasKubectl() && 'kubectl is not installed'), timeout: 150_000 }, async (t) => {
  const tmp = await mkdtemp(join(tmpdir(), 'volplane-multinode-'));
  const dataDir = join(tmp, 'data');
  const pvPath = join(tmp, 'pv', 'nginx');
  const roots = { 'k8s-node01': join(tmp, 'node01'), 'k8s-node02': join(tmp, 'node02') };
  await mkdir(pvPath, { recursive: true });
  await writeFile(join(pvPath, 'index.html'), `${HELLO}\n`);
  const children: Child[] = [];
  const kubeconfig = join(dataDir, 'kubeconfig');
  const kubectl = async (args: readonly string[], input?: string): Promise<string> => {
    const r = await run(kubectlPath() ?? 'kubectl', args, { env: { ...process.env, KUBECONFIG: kubeconfig }, ...(input === undefined ? {} : { input }) });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  };

  t.after(async () => {
    let failed = false;
    // The pods first, while the nodes still run and can tear their volumes down.
    if (children.some((c) => !c.done)) {
      await run(kubectlPath() ?? 'kubectl', ['delete', 'deployment,pod', '--all', '--grace-period=1', '--wait=true', '--timeout=20s'], {
        env: { ...process.env, KUBECONFIG: kubeconfig },
      });
    }
    for (const child of [...children].reverse()) await child.stop();
    // Containers outlive their node agent by design: end any the test left behind.
    for (const root of Object.values(roots)) if (killContainersLeft(root)) failed = true;
    const left = await mountTargetsBelow(tmp);
    if (left.length > 0) {
      failed = true;
      for (const m of left.reverse()) await run('umount', ['-l', m]);
    }
    const stillMounted = await mountTargetsBelow(tmp);
    // Never rm -rf across a mount.
    if (stillMounted.length === 0) await rm(tmp, { recursive: true, force: true });
    assert.deepEqual(left, [], 'mounts left behind under the temp dir (unmounted by the cleanup)');
    assert.equal(failed, false, 'containers left running after the test (killed by the cleanup)');
  });

  // The server, with no node of its own.
  const apiPort = await freePort();
  const server = new Child('volplane up', process.execPath, [MAIN, 'up', '--data-dir', dataDir, '--api-port', String(apiPort), '--no-node']);
  children.push(server);
  await server.waitForLine(/^volplane is ready: /m);
  const url = `https://127.0.0.1:${apiPort}`;
  const token = (await readFile(join(dataDir, 'join-token'), 'utf8')).trim();
  const caCert = join(dataDir, 'pki', 'ca.crt');
  const help = await run(process.execPath, [MAIN, 'help']);
  const hasPortFlag = /^\s+--port\b/m.test(help.stdout);
  const launcher = join(tmp, 'node-launcher.mjs');
  if (!hasPortFlag) await writeFile(launcher, launcherSource);

  const startNodeAgent = async (name: keyof typeof roots): Promise<Child> => {
    const args = hasPortFlag
      ? [MAIN, 'node', '--server', url, '--token', token, '--name', name, '--root', roots[name], '--ca-cert', caCert, '--port', '0']
      : [launcher, url, token, name, roots[name], caCert];
    const child = new Child(name, process.execPath, args);
    children.push(child);
    await child.waitForLine(new RegExp(`^volplane node ${name} joined `, 'm'));
    return child;
  };

  const nodeReady = (name: string) => (s: string) => (new RegExp(`^${name}\\s+Ready\\s`, 'm').test(s) ? undefined : `${name} not Ready:\n${s}`);
  let node01 = await startNodeAgent('k8s-node01');
  await startNodeAgent('k8s-node02');
  let podName = '';

  await t.test('1 both nodes are Ready in kubectl get nodes', async () => {
    await waitForState('both nodes Ready', () => kubectl(['get', 'nodes']), (s) => nodeReady('k8s-node01')(s) ?? nodeReady('k8s-node02')(s), { timeoutMs: 20_000, intervalMs: 200 });
  });

  await t.test('2 the PVC waits for its first consumer: Pending, with the WaitForFirstConsumer event', async () => {
    await kubectl(['apply', '-f', '-'], storageManifest(pvPath));
    assert.match(await kubectl(['get', 'storageclasses']), /^local-storage\s+kubernetes\.io\/no-provisioner\s+Delete\s+WaitForFirstConsumer\s+false\s/m);
    await waitForState('nginx-pv Available', () => kubectl(['get', 'pv', 'nginx-pv']), (s) => (/^nginx-pv\s+5Gi\s+RWO\s+Delete\s+Available\s+local-storage\s/m.test(s) ? undefined : s), { intervalMs: 200 });
    await waitForState(
      'the WaitForFirstConsumer event on nginx-pvc',
      () => kubectl(['describe', 'pvc', 'nginx-pvc']),
      (s) =>
        /^Status:\s+Pending$/m.test(s) &&
        /^\s+Normal\s+WaitForFirstConsumer\s+.*persistentvolume-controller\s+waiting for first consumer to be created before binding$/m.test(s)
          ? undefined
          : s,
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    assert.match(await kubectl(['get', 'pvc', 'nginx-pvc']), /^nginx-pvc\s+Pending\s+local-storage\s/m);
  });

  await t.test('3 the Deployment\'s pod binds the PVC to nginx-pv and runs on k8s-node01', async () => {
    await kubectl(['apply', '-f', '-'], deploymentManifest);
    await waitForState('nginx-pvc Bound', () => kubectl(['get', 'pvc', 'nginx-pvc']), (s) => (/^nginx-pvc\s+Bound\s+nginx-pv\s+5Gi\s+RWO\s+local-storage\s/m.test(s) ? undefined : s), {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    const wide = await waitForState(
      'the pod Running on k8s-node01',
      () => kubectl(['get', 'pods', '-l', 'appname=nginx', '-o', 'wide']),
      (s) => (/^nginx-deploy-\S+\s+1\/1\s+Running\s+0\s+\S+\s+\S+\s+k8s-node01\s/m.test(s) ? undefined : s),
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    podName = /^(nginx-deploy-\S+)\s/m.exec(wide)?.[1] ?? '';
    assert.notEqual(podName, '');
  });

  await t.test('4 kubectl logs prints the index.html line', async () => {
    await waitForState('the container log', () => kubectl(['logs', podName]), (s) => (s === `${HELLO}\n` ? undefined : JSON.stringify(s)), { intervalMs: 200 });
  });

  await t.test('5 kubectl exec cat prints index.html', async () => {
    assert.equal(await kubectl(['exec', podName, '--', 'cat', '/usr/share/nginx/html/index.html']), `${HELLO}\n`);
  });

  await t.test('6 a node agent killed with SIGKILL and restarted adopts the running container and keeps its volume mounted', async (t6) => {
    const before = containerStates(roots['k8s-node01']).filter((c) => c.podName === podName && c.name === 'nginx');
    assert.equal(before.length, 1, `one container record for ${podName}`);
    const init = before[0].init;
    assert.ok(init !== undefined, 'the container record names its PID 1');
    assert.equal(startTimeOf(init.pid), init.startTime, 'the container PID 1 runs before the kill');
    // The local plugin mounts nothing on the host (the runtime bind-mounts the path inside the
    // container's own mount namespace), so the volume is looked for where the container sees it.
    const volumeMounts = await containerVolumeMounts(init.pid);
    assert.equal(volumeMounts.length, 1, `the volume is mounted once in the container's mount namespace:\n${await readFile(`/proc/${init.pid}/mountinfo`, 'utf8')}`);
    const hostMounts = await mountTargetsBelow(tmp);
    t6.diagnostic(`host mounts under the temp dir while the pod runs: ${hostMounts.length === 0 ? 'none' : hostMounts.join(', ')}`);

    await node01.kill('SIGKILL');
    assert.equal(startTimeOf(init.pid), init.startTime, 'the container survives its node agent');
    // The Node object stays Ready for a while after its agent dies, so "Ready again" alone
    // would prove nothing: the restarted agent must also renew the node's lease.
    const renewTime = (): Promise<string> => kubectl(['get', 'lease', '-n', 'kube-node-lease', 'k8s-node01', '-o', 'jsonpath={.spec.renewTime}']);
    const renewedBeforeRestart = await renewTime();
    node01 = await startNodeAgent('k8s-node01');
    await waitForState('the restarted agent to renew its lease', renewTime, (s) => (s !== '' && s !== renewedBeforeRestart ? undefined : `renewTime still ${JSON.stringify(s)}`), { timeoutMs: 20_000, intervalMs: 250 });
    await waitForState('k8s-node01 Ready again', () => kubectl(['get', 'node', 'k8s-node01']), nodeReady('k8s-node01'), { timeoutMs: 20_000, intervalMs: 200 });
    // Exec goes through the new agent's kubelet server, so it answering shows the agent is serving.
    await waitForState('exec through the restarted node', () => kubectl(['exec', podName, '--', 'cat', '/usr/share/nginx/html/index.html']).catch((e: Error) => e.message), (s) => (s === `${HELLO}\n` ? undefined : s), {
      timeoutMs: 20_000,
      intervalMs: 250,
    });

    // The restarted volume manager reconstructs and reconciles in the background: the
    // mount, the container and the pod must all hold steady for a while, not just once.
    const holdUntil = Date.now() + 4_000;
    while (Date.now() < holdUntil) {
      assert.deepEqual(await containerVolumeMounts(init.pid), volumeMounts, 'the volume stays mounted in the running container');
      assert.deepEqual(await mountTargetsBelow(tmp), hostMounts, 'no host mount under the temp dir comes or goes');
      assert.equal(startTimeOf(init.pid), init.startTime, 'the same container process keeps running');
      await new Promise((r) => setTimeout(r, 250));
    }
    const after = containerStates(roots['k8s-node01']).filter((c) => c.podName === podName && c.name === 'nginx');
    assert.deepEqual(
      after.map((c) => ({ id: c.id, init: c.init })),
      [{ id: before[0].id, init }],
      'the restarted runtime adopted the container: same id, same PID 1',
    );
    assert.match(await kubectl(['get', 'pod', podName, '-o', 'wide']), new RegExp(`^${podName}\\s+1/1\\s+Running\\s+0\\s+\\S+\\s+\\S+\\s+k8s-node01\\s`, 'm'));
    assert.equal(await kubectl(['exec', podName, '--', 'cat', '/usr/share/nginx/html/index.html']), `${HELLO}\n`);
    assert.equal(await kubectl(['logs', podName]), `${HELLO}\n`);
  });

  await t.test('7 deleting the pods leaves no mount under the temp dir', async () => {
    const init = containerStates(roots['k8s-node01']).find((c) => c.podName === podName)?.init;
    await kubectl(['delete', 'deployment', 'nginx-deploy']);
    await kubectl(['delete', 'pod', '--all', '--grace-period=1', '--wait=true', '--timeout=30s']);
    await waitForState('no pods left', () => kubectl(['get', 'pods', '-o', 'name']), (s) => (s.trim() === '' ? undefined : s), { timeoutMs: 30_000, intervalMs: 250 });
    await waitForState('no mounts under the temp dir', () => mountTargetsBelow(tmp), (m) => (m.length === 0 ? undefined : m.join('\n')), { timeoutMs: 20_000, intervalMs: 250 });
    if (init !== undefined) {
      await waitFor('the container process to end', () => startTimeOf(init.pid) !== init.startTime, { timeoutMs: 10_000, intervalMs: 100 });
    }
  });
});

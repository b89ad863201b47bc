// A real node end to end: the kubelet with the real container runtime and
// volume manager (src/cli/node.ts, as `volplane node` and `volplane up` run
// it) against an in-process API server, driven by kubectl. Needs root (the
// runtime uses namespaces and mounts) and kubectl; skips itself otherwise.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode } from '../src/cli/node.ts';
import { hasKubectl, mountTargetsBelow, startControllerEnv, waitForState } from '../src/testing/index.ts';

const isRoot = process.getuid?.() === 0;

/** PIDs of processes whose environment carries `marker` (the test's own containers, nobody else's). */
async function pidsWithMarker(marker: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = await readFile(`/proc/${entry}/environ`, 'utf8');
      if (environ.split('\0').includes(marker)) pids.push(Number(entry));
    } catch {
      // Gone meanwhile, or not readable.
    }
  }
  return pids;
}


test('a real node runs busybox', { skip: (!isRoot && 'needs root') || (!hasKubectl() && 'kubectl is not installed') }, async (t) => {
  const env = await startControllerEnv();
  const root = await mkdtemp(join(tmpdir(), 'volplane-node-'));
  const node = await startNode({ client: env.client.config, nodeName: 'e2e-node', root, logger: env.logger });
  t.after(async () => {
    await env.cluster.kubectl(['delete', 'pod', '--all', '--grace-period=1', '--wait=true'], { allowFail: true });
    await node.stop();
    await env.close();
    const left = await mountTargetsBelow(root);
    // Never rm -rf across a mount.
    if (left.length === 0) await rm(root, { recursive: true, force: true });
    assert.deepEqual(left, [], 'mounts left behind under the node root');
  });
  const marker = `VOLPLANE_E2E=${process.pid}-${Date.now()}`;
  const manifest = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'sleeper', namespace: 'default' },
    spec: {
      nodeName: 'e2e-node',
      terminationGracePeriodSeconds: 1,
      volumes: [{ name: 'scratch', emptyDir: {} }],
      containers: [
        {
          name: 'main',
          image: 'busybox',
          command: ['sleep', '86400'],
          env: [{ name: marker.split('=')[0], value: marker.split('=')[1] }],
          volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
        },
      ],
    },
  };

  await t.test('1 the node is Ready in kubectl get nodes', async () => {
    const out = await waitForState('node ready', async () => (await env.cluster.kubectl(['get', 'nodes'])).stdout, (s) => (/^e2e-node\s+Ready\s+<none>\s+\S+\s+v1\.32\.0-volplane/m.test(s) ? undefined : s));
    assert.match(out, /e2e-node/);
  });

  await t.test('2 a busybox pod sleeping becomes Running with READY 1/1', async () => {
    await env.cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(manifest) });
    await waitForState(
      'pod running',
      async () => (await env.cluster.kubectl(['get', 'pod', 'sleeper'])).stdout,
      (s) => (/^sleeper\s+1\/1\s+Running\s+0\s/m.test(s) ? undefined : s),
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const pids = await pidsWithMarker(marker);
    assert.equal(pids.length, 1, 'exactly one process of the container');
    const describe = await env.cluster.kubectl(['describe', 'pod', 'sleeper']);
    assert.match(describe.stdout, /Container ID:\s+volplane:\/\//);
    assert.match(describe.stdout, /Started\s+.*Started container main/);
  });

  await t.test('3 deleting the pod stops the process and unmounts its volume', async () => {
    await env.cluster.kubectl(['delete', 'pod', 'sleeper', '--wait=true'], { timeoutMs: 60_000 });
    await waitForState('process gone', () => pidsWithMarker(marker), (p) => (p.length === 0 ? undefined : `pids ${p.join(',')} still there`), { timeoutMs: 20_000 });
    await waitForState('pod volume unmounted', () => mountTargetsBelow(join(root, 'pods')), (m) => (m.length === 0 ? undefined : m.join(', ')), { timeoutMs: 20_000 });
  });
});

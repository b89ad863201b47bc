// Acceptance: deletion as kubectl users see it — cascading deletes through ownerReferences
// (background, foreground, orphan), namespace termination, finalizers holding an object in
// Terminating, and every `kubectl wait --for=` form (delete, jsonpath, condition, create).
//
// No workload controllers are needed: each Deployment → ReplicaSet → Pod chain is created by
// hand with ownerReferences, so only the garbage collector and the namespace controller act.
// Where a row must observe a transient state (foregroundDeletion, Terminating), a Pod or
// ConfigMap carries a finalizer of ours (`test.volplane/hold`) that keeps that state until the
// row removes it, so nothing depends on timing.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '../src/base/index.ts';
import { findLeaks, hasKubectl, kubectlPath, startTestCluster, type KubectlResult, type TestCluster } from '../src/testing/index.ts';

const kubectlAvailable = hasKubectl();

const HOLD = 'test.volplane/hold';
/** kubectl's `-v=6` log: the watch a `wait --for=delete|condition` sits on is open. */
const WATCH_OPEN = /watch=true.* 200 OK/;
/** kubectl's `-v=6` log: `wait --for=create` has looked once and found nothing. */
const LOOKED_ONCE = / 404 Not Found/;

/** Long enough for a controller on a busy 2-core machine; failures print what was left. */
const GC_TIMEOUT_MS = 20_000;

interface Meta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  finalizers?: string[];
  deletionTimestamp?: string;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean; blockOwnerDeletion?: boolean }[];
}
interface Obj {
  metadata: Meta;
  status?: { phase?: string };
}

/**
 * stderr without client-go's klog lines (`W1123 05:06:55.117180 …`): a watch cut short by
 * kubectl's own --timeout logs one, against any server.
 */
function errors(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ /.test(l))
    .join('\n');
}

function show(args: readonly string[], r: KubectlResult): string {
  return `kubectl ${args.join(' ')} → exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

describe('kubectl delete and wait', { skip: kubectlAvailable ? false : 'kubectl not on PATH' }, () => {
  let cluster: TestCluster;
  let scratch: string;
  const background = new Set<ChildProcess>();

  /**
   * Starts a long-running kubectl (`wait`) with `-v=6`, so the test can see in its request log
   * that it is waiting before it changes the object — no race, no sleep.
   */
  function startKubectl(args: string[]): { logged(pattern: RegExp): Promise<void>; done: Promise<KubectlResult> } {
    const path = kubectlPath();
    assert.ok(path !== undefined);
    const env = { ...process.env, KUBECONFIG: cluster.kubeconfigPath, HOME: scratch };
    const child = spawn(path, [`--cache-dir=${join(scratch, 'cache')}`, '-v=6', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    background.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const done = new Promise<KubectlResult>((resolve) => {
      child.on('close', (code) => {
        background.delete(child);
        resolve({ code: code ?? 128, stdout, stderr });
      });
    });
    return {
      logged: async (pattern) => {
        await waitFor(`kubectl ${args.join(' ')} logs ${pattern}`, () => stderr.split('\n').some((l) => pattern.test(l)) || child.exitCode !== null, { timeoutMs: 15_000 });
      },
      done,
    };
  }

  before(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'volplane-deletion-'));
    // The two controllers deletion depends on; no workload controllers (the chains are built by hand).
    cluster = await startTestCluster({ controllers: ['garbagecollector', 'namespace'] });
  });

  after(async () => {
    for (const child of background) child.kill('SIGKILL');
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
    const dataDir = cluster?.dataDir;
    await cluster?.close();
    if (dataDir !== undefined) assert.deepEqual((await findLeaks()).filter((l) => l.includes(dataDir)), []);
  });

  async function run(args: string[], input?: string): Promise<KubectlResult> {
    return cluster.kubectl(args, { allowFail: true, ...(input === undefined ? {} : { input }) });
  }

  async function ok(args: string[], input?: string): Promise<string> {
    const r = await run(args, input);
    assert.equal(r.code, 0, show(args, r));
    return r.stdout;
  }

  async function getObj(target: string, ns: string): Promise<Obj | undefined> {
    const r = await run(['get', target, '-n', ns, '-o', 'json', '--ignore-not-found']);
    assert.equal(r.code, 0, show(['get', target], r));
    return r.stdout.trim() === '' ? undefined : (JSON.parse(r.stdout) as Obj);
  }

  /** `kubectl get <kinds> -n ns -o name` as a sorted list. */
  async function names(kinds: string, ns: string): Promise<string[]> {
    return (await ok(['get', kinds, '-n', ns, '-o', 'name'])).split('\n').filter((l) => l !== '').sort();
  }

  async function createNamespace(ns: string): Promise<void> {
    await ok(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }));
  }

  /**
   * Deployment `name` → ReplicaSet `name-rs` → Pods `name-rs-0..n-1`, linked by ownerReferences
   * as the deployment and replicaset controllers would link them. Pods listed in `held` carry
   * the HOLD finalizer.
   */
  async function createChain(ns: string, name: string, pods: number, held: number[] = []): Promise<{ deployment: Obj; rs: Obj }> {
    const labels = { app: name };
    const deployment = JSON.parse(
      await ok(['create', '-o', 'json', '-f', '-'], JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name, namespace: ns, labels },
        spec: { replicas: pods, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'busybox:1.36' }] } } },
      })),
    ) as Obj;
    const rs = JSON.parse(
      await ok(['create', '-o', 'json', '-f', '-'], JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: `${name}-rs`,
          namespace: ns,
          labels,
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name, uid: deployment.metadata.uid, controller: true, blockOwnerDeletion: true }],
        },
        spec: { replicas: pods, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'busybox:1.36' }] } } },
      })),
    ) as Obj;
    for (let i = 0; i < pods; i++) {
      await ok(['create', '-f', '-'], JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `${name}-rs-${i}`,
          namespace: ns,
          labels,
          ...(held.includes(i) ? { finalizers: [HOLD] } : {}),
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name}-rs`, uid: rs.metadata.uid, controller: true, blockOwnerDeletion: true }],
        },
        spec: { containers: [{ name: 'app', image: 'busybox:1.36' }] },
      }));
    }
    return { deployment, rs };
  }

  async function release(target: string, ns: string): Promise<void> {
    await ok(['patch', target, '-n', ns, '--type=json', '-p', JSON.stringify([{ op: 'remove', path: '/metadata/finalizers' }])]);
  }

  // ---- 1. cascading deletion ------------------------------------------------------------------

  describe('1 cascading deletion through ownerReferences', () => {
    const ns = 'cascade';
    before(async () => {
      await createNamespace(ns);
    });

    it('1-1 background (the default): the Deployment goes at once, its ReplicaSet and Pods follow', async () => {
      await createChain(ns, 'bg', 2);
      assert.deepEqual(await names('deployments,replicasets,pods', ns), ['deployment.apps/bg', 'pod/bg-rs-0', 'pod/bg-rs-1', 'replicaset.apps/bg-rs']);
      const out = await ok(['delete', 'deployment', 'bg', '-n', ns]);
      assert.equal(out.trim(), 'deployment.apps "bg" deleted');
      await waitFor(
        'the garbage collector deletes the ReplicaSet and Pods of a deleted Deployment',
        async () => (await names('replicasets,pods', ns)).length === 0,
        { timeoutMs: GC_TIMEOUT_MS, intervalMs: 200 },
      ).catch(async (err: unknown) => {
        throw new Error(`still there: ${(await names('replicasets,pods', ns)).join(', ')}`, { cause: err });
      });
    });

    it('1-2 foreground: the Deployment stays with the foregroundDeletion finalizer while a dependent remains', async () => {
      await createChain(ns, 'fg', 2, [1]);
      const out = await ok(['delete', 'deployment', 'fg', '-n', ns, '--cascade=foreground', '--wait=false']);
      assert.equal(out.trim(), 'deployment.apps "fg" deleted');
      const d = await getObj('deployment/fg', ns);
      assert.ok(d !== undefined, 'the Deployment is still there while its dependents are deleted');
      assert.ok(d.metadata.deletionTimestamp !== undefined, 'it carries a deletionTimestamp');
      assert.deepEqual(d.metadata.finalizers, ['foregroundDeletion']);
      // The held pod keeps the chain up: the free pod goes, the RS waits in foreground deletion too.
      await waitFor('the unheld pod is deleted', async () => (await getObj('pod/fg-rs-0', ns)) === undefined, { timeoutMs: GC_TIMEOUT_MS, intervalMs: 200 });
      const held = await getObj('pod/fg-rs-1', ns);
      assert.ok(held?.metadata.deletionTimestamp !== undefined, 'the held pod is being deleted');
      const rs = await getObj('replicaset/fg-rs', ns);
      assert.ok(rs !== undefined && rs.metadata.finalizers?.includes('foregroundDeletion'), `the RS waits for its pod: ${JSON.stringify(rs?.metadata)}`);
      // The Deployment describer prints no finalizers; the printed JSON is what users see.
      assert.equal(await ok(['get', 'deployment', 'fg', '-n', ns, '-o', 'jsonpath={.metadata.finalizers}']), '["foregroundDeletion"]');
    });

    it('1-3 foreground: once the last dependent is gone, the ReplicaSet and then the Deployment go', async () => {
      await release('pod/fg-rs-1', ns);
      await waitFor('the foreground-deleted Deployment disappears', async () => (await getObj('deployment/fg', ns)) === undefined, { timeoutMs: GC_TIMEOUT_MS, intervalMs: 200 });
      assert.deepEqual((await names('deployments,replicasets,pods', ns)).filter((n) => n.includes('fg')), []);
    });

    it('1-4 orphan: the Deployment goes, the ReplicaSet and Pods stay and the RS loses its ownerReference', async () => {
      await createChain(ns, 'or', 2);
      const out = await ok(['delete', 'deployment', 'or', '-n', ns, '--cascade=orphan']);
      assert.equal(out.trim(), 'deployment.apps "or" deleted');
      assert.equal(await getObj('deployment/or', ns), undefined, 'kubectl waited for the Deployment to go');
      const rs = await waitFor(
        'the orphaned ReplicaSet loses its ownerReference',
        async () => {
          const o = await getObj('replicaset/or-rs', ns);
          return o !== undefined && (o.metadata.ownerReferences ?? []).length === 0 ? o : undefined;
        },
        { timeoutMs: GC_TIMEOUT_MS, intervalMs: 200 },
      );
      assert.equal(rs.metadata.deletionTimestamp, undefined);
      assert.deepEqual((await names('pods', ns)).filter((n) => n.startsWith('pod/or-')), ['pod/or-rs-0', 'pod/or-rs-1']);
      const pod = await getObj('pod/or-rs-0', ns);
      assert.equal(pod?.metadata.ownerReferences?.[0]?.uid, rs.metadata.uid, 'pods keep their (living) owner');
    });

    it('1-5 deleting the orphaned ReplicaSet afterwards still cascades to its Pods', async () => {
      await ok(['delete', 'replicaset', 'or-rs', '-n', ns]);
      await waitFor('the pods of the deleted RS go', async () => (await names('pods', ns)).filter((n) => n.startsWith('pod/or-')).length === 0, {
        timeoutMs: GC_TIMEOUT_MS,
        intervalMs: 200,
      });
    });

    it('1-6 a dependent whose owner never existed is collected', async () => {
      await ok(['create', '-f', '-'], JSON.stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'stray', namespace: ns, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'ghost', uid: '00000000-0000-0000-0000-000000000001' }] },
      }));
      await waitFor('a dependent of a missing owner is deleted', async () => (await getObj('configmap/stray', ns)) === undefined, { timeoutMs: GC_TIMEOUT_MS, intervalMs: 200 });
    });
  });

  // ---- 2. finalizers and kubectl wait --for=delete -----------------------------------------------

  describe('2 finalizers and wait --for=delete', () => {
    const ns = 'finalizers';
    before(async () => {
      await createNamespace(ns);
      await ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'held', namespace: ns, finalizers: [HOLD] } }));
    });

    it('2-1 delete --wait=false of an object with a finalizer leaves it Terminating (deletionTimestamp set)', async () => {
      assert.equal((await ok(['delete', 'configmap', 'held', '-n', ns, '--wait=false'])).trim(), 'configmap "held" deleted');
      const o = await getObj('configmap/held', ns);
      assert.ok(o?.metadata.deletionTimestamp !== undefined, 'deletionTimestamp set');
      assert.deepEqual(o.metadata.finalizers, [HOLD]);
    });

    it('2-2 delete with a timeout waits and then fails: `timed out waiting for the condition`', async () => {
      const args = ['delete', 'configmap', 'held', '-n', ns, '--timeout=1s'];
      const r = await run(args);
      assert.equal(r.code, 1, show(args, r));
      assert.equal(r.stdout.trim(), 'configmap "held" deleted', show(args, r));
      assert.equal(errors(r.stderr), 'error: timed out waiting for the condition on configmaps/held', show(args, r));
    });

    it('2-3 wait --for=delete times out while the finalizer is there', async () => {
      const args = ['wait', '--for=delete', 'configmap/held', '-n', ns, '--timeout=1s'];
      const r = await run(args);
      assert.equal(r.code, 1, show(args, r));
      assert.equal(errors(r.stderr), 'error: timed out waiting for the condition on configmaps/held', show(args, r));
    });

    it('2-4 wait --for=delete returns `condition met` once the finalizer is removed', async () => {
      const waiting = startKubectl(['wait', '--for=delete', 'configmap/held', '-n', ns, '--timeout=30s']);
      await waiting.logged(WATCH_OPEN);
      await release('configmap/held', ns);
      const r = await waiting.done;
      assert.equal(r.code, 0, show(['wait', '--for=delete'], r));
      assert.equal(r.stdout.trim(), 'configmap/held condition met', show(['wait', '--for=delete'], r));
      assert.equal(await getObj('configmap/held', ns), undefined);
    });

    it('2-5 an object being deleted cannot get a new finalizer', async () => {
      await ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'closing', namespace: ns, finalizers: [HOLD] } }));
      await ok(['delete', 'configmap', 'closing', '-n', ns, '--wait=false']);
      const before = await getObj('configmap/closing', ns);
      const args = ['patch', 'configmap', 'closing', '-n', ns, '--type=json', '-p', JSON.stringify([{ op: 'add', path: '/metadata/finalizers/-', value: 'test.volplane/another' }])];
      const r = await run(args);
      assert.equal(r.code, 1, show(args, r));
      assert.match(r.stderr, /metadata\.finalizers: Forbidden: no new finalizers can be added if the object is being deleted/, show(args, r));
      assert.deepEqual(await getObj('configmap/closing', ns), before);
      await release('configmap/closing', ns);
      await waitFor('released configmap goes', async () => (await getObj('configmap/closing', ns)) === undefined);
    });
  });

  // ---- 3. namespace termination ---------------------------------------------------------------

  describe('3 kubectl delete namespace', () => {
    const ns = 'doomed';
    before(async () => {
      await createNamespace(ns);
      await ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: ns }, data: { k: 'v' } }));
      await ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: ns }, stringData: { k: 'v' } }));
      await createChain(ns, 'app', 1);
      await ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'held', namespace: ns, finalizers: [HOLD] } }));
    });

    it('3-1 delete ns --wait=false: the namespace is Terminating (kubectl wait --for=jsonpath sees it)', async () => {
      assert.equal((await ok(['delete', 'namespace', ns, '--wait=false'])).trim(), `namespace "${ns}" deleted`);
      const out = await ok(['wait', `--for=jsonpath={.status.phase}=Terminating`, `namespace/${ns}`, '--timeout=10s']);
      assert.equal(out.trim(), `namespace/${ns} condition met`);
      const row = (await ok(['get', 'namespace', ns, '--no-headers'])).trim().split(/\s+/);
      assert.equal(row[1], 'Terminating', 'get ns prints STATUS Terminating');
      const o = await getObj(`namespace/${ns}`, ns);
      assert.ok(o?.metadata.deletionTimestamp !== undefined);
    });

    it('3-2 creating in a Terminating namespace is Forbidden', async () => {
      const args = ['create', 'configmap', 'late', '-n', ns, '--dry-run=client', '-o', 'json'];
      const manifest = await ok(args);
      const r = await run(['create', '-f', '-'], manifest);
      assert.equal(r.code, 1, show(['create', '-f', '-'], r));
      assert.match(
        r.stderr,
        new RegExp(`^Error from server \\(Forbidden\\): error when creating "STDIN": configmaps "late" is forbidden: unable to create new content in namespace ${ns} because it is being terminated`),
        show(['create'], r),
      );
    });

    it('3-3 the namespace controller deletes everything in it; the held object keeps the namespace', async () => {
      await waitFor(
        'the namespace controller empties the namespace down to the held object',
        async () => {
          const left = await names('configmaps,secrets,deployments,replicasets,pods', ns);
          return left.length === 1 && left[0] === 'configmap/held' ? left : undefined;
        },
        { timeoutMs: GC_TIMEOUT_MS, intervalMs: 250 },
      ).catch(async (err: unknown) => {
        throw new Error(`left in ${ns}: ${(await names('configmaps,secrets,deployments,replicasets,pods', ns)).join(', ')}`, { cause: err });
      });
      const o = await getObj(`namespace/${ns}`, ns);
      assert.equal(o?.status?.phase, 'Terminating');
      const described = await ok(['describe', 'namespace', ns]);
      assert.match(described, /^Status:\s+Terminating$/m);
    });

    it('3-4 once the last finalizer goes, the namespace goes (wait --for=delete)', async () => {
      const waiting = startKubectl(['wait', '--for=delete', `namespace/${ns}`, '--timeout=30s']);
      await waiting.logged(WATCH_OPEN);
      await release('configmap/held', ns);
      const r = await waiting.done;
      assert.equal(r.code, 0, show(['wait', '--for=delete', `namespace/${ns}`], r));
      assert.equal(r.stdout.trim(), `namespace/${ns} condition met`);
      const g = await run(['get', 'namespace', ns]);
      assert.equal(g.stderr.trim(), `Error from server (NotFound): namespaces "${ns}" not found`);
    });

    it('3-5 a plain `kubectl delete ns` waits until the namespace is gone', async () => {
      await createNamespace('quick');
      await ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'quick' } }));
      const r = await cluster.kubectl(['delete', 'namespace', 'quick', '--timeout=30s'], { allowFail: true, timeoutMs: 60_000 });
      assert.equal(r.code, 0, show(['delete', 'namespace', 'quick'], r));
      assert.equal(r.stdout.trim(), 'namespace "quick" deleted');
      const g = await run(['get', 'namespace', 'quick']);
      assert.equal(g.stderr.trim(), 'Error from server (NotFound): namespaces "quick" not found');
    });
  });

  // ---- 4. kubectl wait: condition and create --------------------------------------------------

  describe('4 kubectl wait --for=condition and --for=create', () => {
    const ns = 'waiting';
    before(async () => {
      await createNamespace(ns);
      await ok(['create', '-f', '-'], JSON.stringify({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'cond', namespace: ns },
        spec: { replicas: 0, selector: { matchLabels: { app: 'cond' } }, template: { metadata: { labels: { app: 'cond' } }, spec: { containers: [{ name: 'app', image: 'busybox:1.36' }] } } },
      }));
    });

    it('4-1 wait --for=condition=Available times out before the condition is there', async () => {
      const args = ['wait', '--for=condition=Available', 'deployment/cond', '-n', ns, '--timeout=1s'];
      const r = await run(args);
      assert.equal(r.code, 1, show(args, r));
      assert.equal(errors(r.stderr), 'error: timed out waiting for the condition on deployments/cond', show(args, r));
    });

    it('4-2 patch --subresource=status sets the condition and a waiting kubectl reports `condition met`', async () => {
      const waiting = startKubectl(['wait', '--for=condition=Available', 'deployment/cond', '-n', ns, '--timeout=30s']);
      await waiting.logged(WATCH_OPEN);
      const status = { status: { conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'set by the test' }] } };
      const out = await ok(['patch', 'deployment', 'cond', '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]);
      assert.equal(out.trim(), 'deployment.apps/cond patched');
      const r = await waiting.done;
      assert.equal(r.code, 0, show(['wait', '--for=condition=Available'], r));
      assert.equal(r.stdout.trim(), 'deployment.apps/cond condition met');
    });

    it('4-3 a status patch through the main resource is ignored (status is a subresource)', async () => {
      const before = await getObj('deployment/cond', ns);
      const out = await ok(['patch', 'deployment', 'cond', '-n', ns, '--type=merge', '-p', JSON.stringify({ status: { conditions: [] } })]);
      assert.equal(out.trim(), 'deployment.apps/cond patched (no change)');
      assert.deepEqual(await getObj('deployment/cond', ns), before);
    });

    it('4-4 wait --for=condition=Available=false and --for=jsonpath on the status', async () => {
      const args = ['wait', '--for=condition=Available=false', 'deployment/cond', '-n', ns, '--timeout=1s'];
      const r = await run(args);
      assert.equal(r.code, 1, show(args, r));
      const out = await ok(['wait', `--for=jsonpath={.status.conditions[0].reason}=MinimumReplicasAvailable`, 'deployment/cond', '-n', ns, '--timeout=10s']);
      assert.equal(out.trim(), 'deployment.apps/cond condition met');
    });

    it('4-5 wait --for=create returns once the object is created', async () => {
      const waiting = startKubectl(['wait', '--for=create', 'configmap/later', '-n', ns, '--timeout=30s']);
      await waiting.logged(LOOKED_ONCE);
      await ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'later', namespace: ns } }));
      const r = await waiting.done;
      assert.equal(r.code, 0, show(['wait', '--for=create'], r));
      assert.equal(r.stdout.trim(), 'configmap/later condition met');
    });

    it('4-6 wait --for=create times out for an object that never comes', async () => {
      const args = ['wait', '--for=create', 'configmap/never', '-n', ns, '--timeout=1s'];
      const r = await run(args);
      assert.equal(r.code, 1, show(args, r));
      assert.match(r.stderr, /timed out waiting for the condition/, show(args, r));
    });
  });
});

// Acceptance: Events written by volplane's own EventRecorder (src/client) show up where kubectl
// users look for them — the `Events:` table of `kubectl describe` for a PV, a PVC and a Pod
// (with `(xN over …)` for repeats), `kubectl get events` with field selectors, the
// events.k8s.io/v1 view of the same objects, and `kubectl get events -w` as they happen.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../src/apimachinery/index.ts';
import { silentLogger, waitFor } from '../src/base/index.ts';
import { EventRecorder, RestClient } from '../src/client/index.ts';
import { findLeaks, hasKubectl, kubectlPath, startTestCluster, type KubectlResult, type TestCluster } from '../src/testing/index.ts';

const kubectlAvailable = hasKubectl();

const NS = 'events-test';
const COMPONENT = 'volplane-e2e';

const PV = { apiVersion: 'v1', kind: 'PersistentVolume', metadata: { name: 'ev-pv' }, spec: { capacity: { storage: '1Gi' }, accessModes: ['ReadWriteOnce'], hostPath: { path: '/tmp/ev-pv' } } };
const PVC = {
  apiVersion: 'v1',
  kind: 'PersistentVolumeClaim',
  metadata: { name: 'ev-pvc', namespace: NS },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, storageClassName: 'nope' },
};
const POD = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'ev-pod', namespace: NS }, spec: { containers: [{ name: 'app', image: 'busybox:1.36' }] } };

function show(args: readonly string[], r: KubectlResult): string {
  return `kubectl ${args.join(' ')} → exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

/** The lines of describe's `Events:` block after its header, and the header itself. */
function eventsBlock(describe: string): { header: string; rows: string[] } {
  const lines = describe.split('\n');
  const at = lines.findIndex((l) => l.startsWith('Events:'));
  assert.ok(at >= 0, `no Events: block in\n${describe}`);
  const header = lines[at + 1] ?? '';
  const rows = lines.slice(at + 3).filter((l) => l.startsWith('  ') && l.trim() !== '');
  return { header, rows };
}

describe('events recorded by the EventRecorder, seen through kubectl', { skip: kubectlAvailable ? false : 'kubectl not on PATH' }, () => {
  let cluster: TestCluster;
  let client: RestClient;
  let recorder: EventRecorder;
  let scratch: string;
  const objects: Record<string, KubeObject> = {};
  const watchers = new Set<ChildProcess>();

  async function ok(args: string[], input?: string): Promise<string> {
    const r = await cluster.kubectl(args, { allowFail: true, ...(input === undefined ? {} : { input }) });
    assert.equal(r.code, 0, show(args, r));
    return r.stdout;
  }

  before(async () => {
    cluster = await startTestCluster();
    scratch = await mkdtemp(join(tmpdir(), 'volplane-events-'));
    client = RestClient.fromKubeconfig(cluster.kubeconfigPath);
    recorder = new EventRecorder({ client, component: COMPONENT, host: 'e2e-host', logger: silentLogger() });
    await ok(['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }));
    for (const [key, manifest] of Object.entries({ pv: PV, pvc: PVC, pod: POD })) {
      objects[key] = JSON.parse(await ok(['create', '-o', 'json', '-f', '-'], JSON.stringify(manifest))) as KubeObject;
    }
    recorder.event(objects.pv, 'Normal', 'VolumeReady', 'volume ev-pv is ready for binding');
    recorder.event(objects.pvc, 'Warning', 'ProvisioningFailed', 'storageclass.storage.k8s.io "nope" not found');
    for (let i = 0; i < 5; i++) recorder.event(objects.pod, 'Normal', 'Scheduled', 'Successfully assigned events-test/ev-pod to node-a');
    await recorder.flush();
  });

  after(async () => {
    for (const w of watchers) w.kill('SIGKILL');
    await recorder?.dispose();
    client?.close();
    const dataDir = cluster?.dataDir;
    await cluster?.close();
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
    if (dataDir !== undefined) assert.deepEqual((await findLeaks()).filter((l) => l.includes(dataDir)), []);
  });

  const describeRows: { name: string; args: string[]; row: RegExp }[] = [
    {
      name: '1-1 describe pv shows the PV event (cluster-scoped object, event in default)',
      args: ['describe', 'pv', 'ev-pv'],
      row: /^ {2}Normal\s+VolumeReady\s+\d+[smhd]\s+volplane-e2e(, e2e-host)?\s+volume ev-pv is ready for binding$/,
    },
    {
      name: '1-2 describe pvc shows the Warning',
      args: ['describe', 'pvc', 'ev-pvc', '-n', NS],
      row: /^ {2}Warning\s+ProvisioningFailed\s+\d+[smhd]\s+volplane-e2e(, e2e-host)?\s+storageclass\.storage\.k8s\.io "nope" not found$/,
    },
    {
      name: '1-3 describe pod folds 5 identical events into one row: (x5 over …)',
      args: ['describe', 'pod', 'ev-pod', '-n', NS],
      row: /^ {2}Normal\s+Scheduled\s+\d+[smhd] \(x5 over \d+[smhd]\)\s+volplane-e2e(, e2e-host)?\s+Successfully assigned events-test\/ev-pod to node-a$/,
    },
  ];

  for (const row of describeRows) {
    it(row.name, async () => {
      const out = await ok(row.args);
      const block = eventsBlock(out);
      assert.match(block.header, /^ {2}Type\s+Reason\s+Age\s+From\s+Message$/, out);
      assert.equal(block.rows.length, 1, `one event row\n${out}`);
      assert.match(block.rows[0], row.row, out);
    });
  }

  it('1-4 the 5 identical pod events are one Event object with count 5', async () => {
    const list = JSON.parse(await ok(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=ev-pod', '-o', 'json'])) as {
      items: { count: number; reason: string; source: { component: string }; involvedObject: { uid: string; kind: string } }[];
    };
    assert.equal(list.items.length, 1);
    assert.equal(list.items[0].count, 5);
    assert.equal(list.items[0].source.component, COMPONENT);
    assert.equal(list.items[0].involvedObject.kind, 'Pod');
    assert.equal(list.items[0].involvedObject.uid, objects.pod.metadata.uid);
  });

  it('2-1 get events --field-selector involvedObject.name=X,reason=Y lists exactly that event', async () => {
    const out = await ok(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=ev-pvc,reason=ProvisioningFailed']);
    const lines = out.split('\n').filter((l) => l !== '');
    assert.match(lines[0], /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/, out);
    assert.equal(lines.length, 2, out);
    assert.match(lines[1], /^\d+[smhd]\s+Warning\s+ProvisioningFailed\s+persistentvolumeclaim\/ev-pvc\s+storageclass\.storage\.k8s\.io "nope" not found$/, out);
    const none = await cluster.kubectl(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=ev-pvc,reason=Other']);
    assert.equal(none.stdout, '', show(['get', 'events'], none));
    assert.equal(none.stderr.trim(), `No resources found in ${NS} namespace.`);
  });

  it('2-2 get events --field-selector type=Warning and the PV event in default', async () => {
    const warnings = await ok(['get', 'events', '-A', '--field-selector', 'type=Warning', '-o', 'name']);
    assert.equal(warnings.split('\n').filter((l) => l !== '').length, 1, warnings);
    const pvEvents = await ok(['get', 'events', '-n', 'default', '--field-selector', 'involvedObject.kind=PersistentVolume,involvedObject.name=ev-pv', '--no-headers']);
    assert.match(pvEvents, /VolumeReady\s+persistentvolume\/ev-pv\s+volume ev-pv is ready for binding/);
  });

  it('3-1 events.events.k8s.io is a second view of the same objects', async () => {
    const core = JSON.parse(await ok(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=ev-pod', '-o', 'json'])) as {
      items: { metadata: { name: string; resourceVersion: string } }[];
    };
    const list = JSON.parse(await ok(['get', 'events.events.k8s.io', '-n', NS, '--field-selector', 'regarding.name=ev-pod', '-o', 'json'])) as {
      items: {
        apiVersion: string;
        metadata: { name: string; resourceVersion: string };
        regarding: { name: string; kind: string };
        note: string;
        reason: string;
        type: string;
        deprecatedCount: number;
        reportingController: string;
        deprecatedSource: { component: string };
      }[];
    };
    assert.equal(list.items.length, 1, JSON.stringify(list));
    const e = list.items[0];
    assert.equal(e.apiVersion, 'events.k8s.io/v1');
    assert.equal(e.metadata.name, core.items[0].metadata.name);
    assert.equal(e.metadata.resourceVersion, core.items[0].metadata.resourceVersion);
    assert.deepEqual([e.regarding.kind, e.regarding.name, e.reason, e.type, e.note], ['Pod', 'ev-pod', 'Scheduled', 'Normal', 'Successfully assigned events-test/ev-pod to node-a']);
    assert.equal(e.deprecatedCount, 5);
    assert.equal(e.reportingController, COMPONENT);
    assert.equal(e.deprecatedSource.component, COMPONENT);
    const table = await ok(['get', 'events.events.k8s.io', '-n', NS]);
    assert.match(table, /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/m);
    assert.match(table, /Warning\s+ProvisioningFailed\s+persistentvolumeclaim\/ev-pvc\s+storageclass/);
  });

  it('3-2 events.k8s.io refuses the involvedObject.* field selector', async () => {
    const args = ['get', 'events.events.k8s.io', '-n', NS, '--field-selector', 'involvedObject.name=ev-pod'];
    const r = await cluster.kubectl(args, { allowFail: true });
    assert.equal(r.code, 1, show(args, r));
    assert.match(r.stderr, /^Error from server \(BadRequest\): .*involvedObject\.name/, show(args, r));
  });

  it('4-1 get events -w prints a new event as it is recorded', async () => {
    const path = kubectlPath();
    assert.ok(path !== undefined);
    const env = { ...process.env, KUBECONFIG: cluster.kubeconfigPath, HOME: scratch };
    const child = spawn(path, [`--cache-dir=${join(scratch, 'cache')}`, '-v=6', 'get', 'events', '-n', NS, '-w'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    watchers.add(child);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
    try {
      await waitFor('kubectl get -w has its watch open', () => err.split('\n').some((l) => l.includes('watch=true') && l.includes('200 OK')), { timeoutMs: 15_000 });
      assert.match(out, /ProvisioningFailed/, 'the initial list came first');
      assert.doesNotMatch(out, /Watched/);
      recorder.event(objects.pvc, 'Normal', 'Watched', 'seen live by kubectl get -w');
      await recorder.flush();
      await waitFor('kubectl get -w prints the new event', () => /Normal\s+Watched\s+persistentvolumeclaim\/ev-pvc\s+seen live by kubectl get -w/.test(out), { timeoutMs: 10_000 });
    } finally {
      child.kill('SIGTERM');
      await exited;
      watchers.delete(child);
    }
  });

  it('4-2 a repeated event updates the same Event: describe counts it', async () => {
    recorder.event(objects.pvc, 'Warning', 'ProvisioningFailed', 'storageclass.storage.k8s.io "nope" not found');
    await recorder.flush();
    const block = eventsBlock(await ok(['describe', 'pvc', 'ev-pvc', '-n', NS]));
    assert.ok(block.rows.some((r) => /Warning\s+ProvisioningFailed\s+\S+ \(x2 over \S+\)/.test(r)), block.rows.join('\n'));
  });
});

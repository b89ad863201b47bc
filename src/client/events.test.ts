// The event recorder against a real API server: deduplication into counts,
// aggregation of similar events, the spam filter, the write path's recovery
// when an Event vanished, and the result as `kubectl describe` shows it.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { KubeList, KubeObject } from '../apimachinery/index.ts';
import { silentLogger, waitFor } from '../base/index.ts';
import { hasKubectl, startTestCluster, type TestCluster } from '../testing/index.ts';
import { EventRecorder, type CoreEvent } from './events.ts';
import { resourcePath, resources } from './paths.ts';
import { RestClient } from './rest.ts';

let cluster: TestCluster;
let client: RestClient;
let recorder: EventRecorder;

before(async () => {
  cluster = await startTestCluster();
  client = RestClient.fromKubeconfig(cluster.kubeconfigPath);
  recorder = new EventRecorder({ client, component: 'test-controller', host: 'node-a', logger: silentLogger() });
});

after(async () => {
  await recorder?.dispose();
  client?.close();
  await cluster?.close();
});

let counter = 0;
async function namespace(): Promise<string> {
  const name = `ev-${++counter}`;
  await client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return name;
}

async function configMap(ns: string, name: string): Promise<KubeObject> {
  return client.create(resourcePath(resources.configMaps, ns), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: {} });
}

async function eventsAbout(ns: string, name: string): Promise<CoreEvent[]> {
  const q = new URLSearchParams({ fieldSelector: `involvedObject.name=${name}` });
  const l = await client.get<KubeList<CoreEvent>>(`${resourcePath(resources.events, ns)}?${q}`);
  return l.items.sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
}

describe('EventRecorder', () => {
  test('1 twenty identical events become one Event with count 20', async () => {
    const ns = await namespace();
    const cm = await configMap(ns, 'cm');
    for (let i = 0; i < 20; i++) recorder.event(cm, 'Warning', 'FailedSync', 'could not sync: boom');
    const [ev] = await waitFor('one Event with count 20', async () => {
      const evs = await eventsAbout(ns, 'cm');
      return evs.length === 1 && evs[0].count === 20 && evs;
    });
    assert.match(ev.metadata.name!, /^cm\.[0-9a-f]{16}$/);
    assert.equal(ev.metadata.namespace, ns);
    assert.deepEqual(ev.involvedObject, {
      kind: 'ConfigMap',
      namespace: ns,
      name: 'cm',
      uid: cm.metadata.uid,
      apiVersion: 'v1',
      resourceVersion: cm.metadata.resourceVersion,
    });
    assert.deepEqual(ev.source, { component: 'test-controller', host: 'node-a' });
    assert.equal(ev.reportingComponent, 'test-controller');
    assert.equal(ev.reportingInstance, 'node-a');
    assert.equal(ev.type, 'Warning');
    assert.equal(ev.reason, 'FailedSync');
    assert.equal(ev.message, 'could not sync: boom');
    assert.ok(ev.firstTimestamp <= ev.lastTimestamp);
  });

  test('2 more than ten similar events are combined into one', async () => {
    const ns = await namespace();
    const cm = await configMap(ns, 'similar');
    for (let i = 0; i < 12; i++) recorder.event(cm, 'Normal', 'Retrying', `attempt ${i}`);
    await recorder.flush();
    const evs = await eventsAbout(ns, 'similar');
    const plain = evs.filter((e) => !e.message.startsWith('(combined'));
    const combined = evs.filter((e) => e.message.startsWith('(combined'));
    assert.deepEqual(plain.map((e) => e.message).sort(), Array.from({ length: 9 }, (_, i) => `attempt ${i}`).sort());
    assert.equal(combined.length, 1);
    assert.equal(combined[0].message, '(combined from similar events): attempt 11');
    assert.equal(combined[0].count, 3);
  });

  test('3 the spam filter lets 25 events about one object through', async () => {
    const ns = await namespace();
    const cm = await configMap(ns, 'spam');
    for (let i = 0; i < 30; i++) recorder.event(cm, 'Normal', `Reason${i}`, 'same message');
    await recorder.flush();
    assert.equal((await eventsAbout(ns, 'spam')).length, 25);
  });

  test('4 a cluster-scoped object gets its events in default', async () => {
    const ns = await namespace();
    const nsObj = await client.get(resourcePath(resources.namespaces, undefined, ns));
    recorder.event(nsObj, 'Normal', 'Looked', 'at the namespace');
    await recorder.flush();
    const [ev] = await eventsAbout('default', ns);
    assert.equal(ev?.involvedObject.kind, 'Namespace');
    assert.equal(ev.involvedObject.namespace, undefined);
    assert.equal(ev.metadata.namespace, 'default');
  });

  test('5 a counted Event deleted meanwhile is created again with its count', async () => {
    const ns = await namespace();
    const cm = await configMap(ns, 'gone');
    recorder.event(cm, 'Normal', 'Once', 'hello');
    await recorder.flush();
    const [first] = await eventsAbout(ns, 'gone');
    await client.delete(resourcePath(resources.events, ns, first.metadata.name));
    recorder.event(cm, 'Normal', 'Once', 'hello');
    await recorder.flush();
    const again = await eventsAbout(ns, 'gone');
    assert.deepEqual(again.map((e) => [e.metadata.name, e.count]), [[first.metadata.name, 2]]);
  });

  test('6 recorders for other components share the writer; event() never throws', async () => {
    const ns = await namespace();
    const cm = await configMap(ns, 'shared');
    const child = recorder.withComponent('other-controller');
    child.event(cm, 'Normal', 'Hello', 'from the other one');
    recorder.event(cm, 'Normal', 'Hello', 'from the other one');
    child.event({ metadata: {} }, 'Normal', 'NoName', 'dropped');
    await child.flush();
    const evs = await eventsAbout(ns, 'shared');
    assert.deepEqual(evs.map((e) => e.source.component).sort(), ['other-controller', 'test-controller']);
    await child.dispose();
    child.event(cm, 'Normal', 'AfterDispose', 'ignored');
    recorder.event(cm, 'Normal', 'StillWorks', 'the owner keeps writing');
    await recorder.flush();
    assert.deepEqual((await eventsAbout(ns, 'shared')).map((e) => e.reason).sort(), ['Hello', 'Hello', 'StillWorks']);
  });

  test('7 the event shows in kubectl describe', { skip: !hasKubectl() && 'kubectl not installed' }, async () => {
    const ns = await namespace();
    const cm = await configMap(ns, 'described');
    for (let i = 0; i < 3; i++) recorder.event(cm, 'Warning', 'ProvisioningFailed', 'no capacity left');
    await recorder.flush();
    const out = (await cluster.kubectl(['describe', 'configmap', 'described', '-n', ns])).stdout;
    assert.match(out, /Events:\s*\n\s*Type\s+Reason\s+Age\s+From\s+Message/);
    assert.match(out, /Warning\s+ProvisioningFailed\s+\S+ \(x3 over \S+\)\s+test-controller\s+no capacity left/);
  });
});

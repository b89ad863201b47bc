// The shared informer factory against a real API server.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../base/index.ts';
import { startTestCluster, type TestCluster } from '../testing/index.ts';
import { resourcePath, resources } from './paths.ts';
import { RestClient } from './rest.ts';
import { SharedInformerFactory } from './shared-informer-factory.ts';

let cluster: TestCluster;
let client: RestClient;
const running = new Set<AbortController>();

before(async () => {
  cluster = await startTestCluster();
  client = RestClient.fromKubeconfig(cluster.kubeconfigPath);
});

after(async () => {
  for (const ac of running) ac.abort();
  client?.close();
  await cluster?.close();
});

async function namespace(name: string): Promise<string> {
  await client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  return name;
}

async function configMap(ns: string, name: string, data: Record<string, string>): Promise<void> {
  await client.create(resourcePath(resources.configMaps, ns), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data });
}

describe('SharedInformerFactory', () => {
  test('1 the factory shares one informer per resource and namespace, and starts late ones', async () => {
    const ns = await namespace('factory-1');
    await configMap(ns, 'one', {});
    const factory = new SharedInformerFactory({ client, logger: silentLogger() });
    const a = factory.informerFor(resources.configMaps, ns);
    assert.equal(factory.informerFor(resources.configMaps, ns), a);
    assert.notEqual(factory.informerFor(resources.configMaps), a, 'all namespaces is another informer');
    const ac = new AbortController();
    running.add(ac);
    factory.start(ac.signal);
    await factory.waitForSync();
    const late = factory.informerFor(resources.namespaces);
    await late.waitForSync();
    assert.ok(late.get(ns) !== undefined, 'a late informer is started and syncs');
    assert.ok(a.get(`${ns}/one`) !== undefined);
    ac.abort();
    await factory.stopped();
    assert.equal(a.state, 'stopped');
    assert.equal(late.state, 'stopped');
  });

});

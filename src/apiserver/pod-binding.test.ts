import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, RestClient } from '../client/index.ts';
import { startTestCluster, type TestCluster } from '../testing/index.ts';

let cluster: TestCluster;
let client: RestClient;
const pods = '/api/v1/namespaces/default/pods';

before(async () => {
  cluster = await startTestCluster();
  client = RestClient.fromKubeconfig(cluster.kubeconfigPath);
});

after(async () => {
  client.close();
  await cluster.close();
});

const pod = (name: string): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name },
  spec: { containers: [{ name: 'c', image: 'busybox' }] },
});

const binding = (name: string, node: string, annotations?: Record<string, string>): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Binding',
  metadata: annotations ? { name, annotations } : { name },
  target: { apiVersion: 'v1', kind: 'Node', name: node },
});

test('binding 1: assigns the node, adds annotations and PodScheduled', async () => {
  await client.create(pods, pod('b1'));
  const status = await client.request<{ status: string; code: number }>('POST', `${pods}/b1/binding`, { body: binding('b1', 'node-a', { 'x/y': 'z' }) });
  assert.equal(status.status, 'Success');
  const bound = await client.get<{ spec: { nodeName: string }; metadata: { annotations: Record<string, string> }; status: { conditions: { type: string; status: string }[] } }>(`${pods}/b1`);
  assert.equal(bound.spec.nodeName, 'node-a');
  assert.equal(bound.metadata.annotations['x/y'], 'z');
  assert.deepEqual(bound.status.conditions.filter((c) => c.type === 'PodScheduled').map((c) => c.status), ['True']);
});

const refused: { name: string; setup?: () => Promise<void>; pod: string; body: Record<string, unknown>; code: number; message: RegExp }[] = [
  {
    name: 'binding 2: a pod already assigned is Conflict',
    setup: async () => {
      await client.create(pods, pod('b2'));
      await client.request('POST', `${pods}/b2/binding`, { body: binding('b2', 'node-a') });
    },
    pod: 'b2',
    body: binding('b2', 'node-b'),
    code: 409,
    message: /pod b2 is already assigned to node "node-a"/,
  },
  { name: 'binding 3: a missing pod is NotFound', pod: 'ghost', body: binding('ghost', 'node-a'), code: 404, message: /pods "ghost" not found/ },
  {
    name: 'binding 4: a target without a name is Invalid',
    setup: async () => {
      await client.create(pods, pod('b4'));
    },
    pod: 'b4',
    body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'b4' }, target: { kind: 'Node' } },
    code: 422,
    message: /target.name: Required value/,
  },
];

for (const row of refused) {
  test(row.name, async () => {
    await row.setup?.();
    await assert.rejects(client.request('POST', `${pods}/${row.pod}/binding`, { body: row.body }), (err) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.code, row.code);
      assert.match(err.message, row.message);
      return true;
    });
  });
}

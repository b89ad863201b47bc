import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger, waitFor } from '../base/index.ts';
import { resourcePath, resources, RestClient } from '../client/index.ts';
import { startTestCluster, type TestCluster } from '../testing/index.ts';
import { readMachineInfo, type MachineInfo } from './machine-info.ts';
import { desiredNodeStatus, NodeStatusManager, nodeStatusChanged, type Node, type NodeStatus } from './node-status.ts';

const info: MachineInfo = {
  architecture: 'amd64',
  operatingSystem: 'linux',
  cpus: 2,
  memoryBytes: 4 * 1024 ** 3,
  ephemeralStorageBytes: 10 * 1024 ** 3,
  internalIP: '10.0.0.1',
  hostname: 'h',
  machineID: 'm',
  systemUUID: 's',
  bootID: 'b',
  kernelVersion: 'k',
  osImage: 'o',
};

describe('nodeStatusChanged: volumesInUse', () => {
  const now = new Date('2026-01-01T00:00:00Z');
  const base = desiredNodeStatus(info, 10250, undefined, now);
  const rows: { name: string; stored: unknown; wanted: unknown; changed: boolean }[] = [
    { name: '1 not known yet (absent in wanted): the stored list is left alone', stored: ['a'], wanted: undefined, changed: false },
    { name: '2 a new name is a change', stored: ['a'], wanted: ['a', 'b'], changed: true },
    { name: '3 the same names in another order are no change', stored: ['b', 'a'], wanted: ['a', 'b'], changed: false },
    { name: '4 null (none) against an absent field is no change', stored: undefined, wanted: null, changed: false },
    { name: '5 null (none) against a stored name is a change', stored: ['a'], wanted: null, changed: true },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const stored: Partial<NodeStatus> = { ...base, ...(row.stored === undefined ? {} : { volumesInUse: row.stored }) };
      const wanted: NodeStatus = { ...base, ...(row.wanted === undefined ? {} : { volumesInUse: row.wanted }) };
      assert.equal(nodeStatusChanged(stored, wanted), row.changed);
    });
  }
});

describe('NodeStatusManager: volumesInUse', () => {
  let cluster: TestCluster;
  let client: RestClient;
  let root: string;
  before(async () => {
    cluster = await startTestCluster();
    client = RestClient.fromKubeconfig(cluster.kubeconfigPath);
    root = await mkdtemp(join(tmpdir(), 'volplane-ns-'));
  });
  after(async () => {
    client.close();
    await cluster.close();
    await rm(root, { recursive: true, force: true });
  });

  it('6 written soon after requestSync, left alone while unknown, removed when empty; volumesAttached untouched', async () => {
    const nodeName = `node-${randomUUID().slice(0, 8)}`;
    let inUse: string[] | undefined;
    const mgr = new NodeStatusManager({
      client,
      nodeName,
      info: await readMachineInfo(root, '127.0.0.1'),
      port: 10250,
      logger: silentLogger(),
      // A long tick: only requestSync can explain a prompt write.
      updateFrequencyMs: 60_000,
      volumesInUse: () => inUse,
    });
    await mgr.register();
    const path = resourcePath(resources.nodes, undefined, nodeName);
    const stored = async (): Promise<Partial<NodeStatus>> => (await client.get<Node>(path)).status ?? {};
    await client.patch(`${path}/status`, { status: { volumesAttached: [{ name: 'x/v1', devicePath: '/dev/loop7' }], volumesInUse: ['x/v0'] } });
    const ctl = new AbortController();
    const running = mgr.run(ctl.signal);
    try {
      // Unknown: a status check keeps what is stored.
      assert.equal(await mgr.syncStatus(), false);
      assert.deepEqual((await stored()).volumesInUse, ['x/v0']);

      inUse = ['x/v2', 'x/v1'];
      mgr.requestSync();
      await waitFor('volumesInUse written', async () => JSON.stringify((await stored()).volumesInUse) === '["x/v1","x/v2"]', { timeoutMs: 3_000 });

      inUse = [];
      mgr.requestSync();
      await waitFor('volumesInUse removed', async () => (await stored()).volumesInUse === undefined, { timeoutMs: 3_000 });
      assert.deepEqual((await stored()).volumesAttached, [{ name: 'x/v1', devicePath: '/dev/loop7' }], 'the AD controller\'s field is not ours');
    } finally {
      ctl.abort();
      await running;
    }
  });
});

// The controller manager's wiring, against a real in-process API server: the
// attach/detach controller it runs attaches FlexVolume volumes with the
// drivers of --flex-volume-plugin-dir (a FlexVolumeProber it starts).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../base/index.ts';
import { loadKubeconfig, resourcePath, resources, RestClient } from '../client/index.ts';
import type { KubeObject } from '../apimachinery/index.ts';
import { startTestCluster, waitForState, type TestCluster } from '../testing/index.ts';
import { startControllerManager } from './controller-manager.ts';

interface NodeObj extends KubeObject {
  status?: { volumesAttached?: { name: string; devicePath: string }[] };
}

/** Attaches everything as /dev/flex-cm and logs each command name. */
function driver(log: string): string {
  return `#!/bin/sh
printf '%s\\n' "$1" >> '${log}'
case "$1" in
init) echo '{"status":"Success","capabilities":{"attach":true}}' ;;
attach) echo '{"status":"Success","device":"/dev/flex-cm"}' ;;
*) echo '{"status":"Not supported"}' ;;
esac
`;
}

describe('controller manager', () => {
  let cluster: TestCluster;
  let client: RestClient;
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'cm-flex-'));
    cluster = await startTestCluster();
    client = RestClient.fromKubeconfig(cluster.kubeconfigPath);
  });
  after(async () => {
    client?.close();
    await cluster?.close();
    if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
  });

  async function readyNode(name: string): Promise<void> {
    await client.create(resourcePath(resources.nodes), { metadata: { name } });
    const now = new Date().toISOString();
    await client.patch(resourcePath(resources.nodes, undefined, name, 'status'), {
      status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: now, lastTransitionTime: now }] },
    });
  }

  it('1 flexVolumePluginDir: the attach/detach controller attaches with the drivers found there', async () => {
    const pluginDir = join(tmp, 'flex');
    const log = join(tmp, 'calls');
    await mkdir(join(pluginDir, 'cmtest~drv'), { recursive: true });
    await writeFile(join(pluginDir, 'cmtest~drv', 'drv'), driver(log), { mode: 0o755 });
    const manager = startControllerManager({
      client: loadKubeconfig(cluster.kubeconfigPath),
      dataDir: join(tmp, 'data'),
      logger: silentLogger(),
      controllers: ['attachdetach'],
      flexVolumePluginDir: pluginDir,
      flexVolumeCallTimeoutMs: 5000,
      identity: 'cm-test-1',
    });
    try {
      await client.create(resourcePath(resources.namespaces), { metadata: { name: 'cm-1' } });
      await readyNode('cm-node-1');
      await client.create(resourcePath(resources.pods, 'cm-1'), {
        metadata: { name: 'p1' },
        spec: { nodeName: 'cm-node-1', containers: [{ name: 'c', image: 'busybox' }], volumes: [{ name: 'data', flexVolume: { driver: 'cmtest/drv' } }] },
      });
      await waitForState(
        'the node reports the FlexVolume volume attached',
        () => client.get<NodeObj>(resourcePath(resources.nodes, undefined, 'cm-node-1')),
        (node) => {
          const have = JSON.stringify(node.status?.volumesAttached ?? []);
          const want = JSON.stringify([{ name: 'flexvolume-cmtest/drv/data', devicePath: '/dev/flex-cm' }]);
          return have === want ? '' : `volumesAttached ${have}`;
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      assert.ok((await readFile(log, 'utf8')).split('\n').includes('attach'), 'the driver was asked to attach');
    } finally {
      await manager.stop();
    }
  });
});

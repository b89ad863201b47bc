import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../base/index.ts';
import { createCsiClient } from '../csi/index.ts';
import { CsiDriverUsageError, parseCsiDriverArgs, startCsiDriver } from './csi-driver.ts';

describe('volplane csi-driver command', () => {
  it('1: flags parse into driver arguments, with the socket under the data dir by default', () => {
    const args = parseCsiDriverArgs(['--data-dir', '/tmp/volplane-x', '--node-id', 'n1', '--attach-required', '--max-volumes-per-node', '5']);
    assert.deepEqual(args, { endpoint: 'unix:///tmp/volplane-x/csi.sock', nodeId: 'n1', dataDir: '/tmp/volplane-x', attachRequired: true, maxVolumesPerNode: 5 });
    assert.equal(parseCsiDriverArgs(['--help']), undefined);
  });

  const bad: [string, string[]][] = [
    ['an unknown flag', ['--nope']],
    ['a negative volume limit', ['--max-volumes-per-node', '-1']],
    ['a TCP endpoint', ['--endpoint', 'tcp://127.0.0.1:1']],
  ];
  for (const [name, argv] of bad) {
    it(`2: ${name} is a usage error`, () => {
      assert.throws(() => parseCsiDriverArgs(argv), CsiDriverUsageError);
    });
  }

  it('3: the started driver answers on its socket and closes cleanly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'volplane-csi-cli-'));
    try {
      const args = parseCsiDriverArgs(['--data-dir', dir, '--node-id', 'n1'])!;
      const running = await startCsiDriver(args, silentLogger());
      const client = createCsiClient(args.endpoint);
      try {
        assert.equal((await client.identity.GetPluginInfo({})).name, 'csi.volplane.io');
        assert.equal((await client.node.NodeGetInfo({})).node_id, 'n1');
      } finally {
        client.close();
        await running.close();
        await running.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

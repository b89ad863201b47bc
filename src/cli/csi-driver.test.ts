import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../base/index.ts';
import { existsSync } from 'node:fs';
import { createCsiClient } from '../csi/index.ts';
import { createRegistrationClient } from '../csi/registration/index.ts';
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
    ['an empty registration dir', ['--registration-dir', '']],
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

  it('4: with --registration-dir the driver serves DIR/csi.volplane.io-reg.sock pointing at its CSI socket, and removes it on close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'volplane-csi-cli-'));
    try {
      const args = parseCsiDriverArgs(['--data-dir', dir, '--node-id', 'n1', '--registration-dir', join(dir, 'plugins_registry')])!;
      assert.equal(args.registrationDir, join(dir, 'plugins_registry'));
      const running = await startCsiDriver(args, silentLogger());
      const regPath = join(dir, 'plugins_registry', 'csi.volplane.io-reg.sock');
      const client = createRegistrationClient(regPath);
      try {
        assert.equal(running.registration?.socketPath, regPath);
        assert.deepEqual(await client.getInfo(), { type: 'CSIPlugin', name: 'csi.volplane.io', endpoint: running.socketPath, supported_versions: ['1.0.0'] });
      } finally {
        client.close();
        await running.close();
      }
      assert.equal(existsSync(regPath), false);
      assert.equal(existsSync(running.socketPath), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

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
import { startCsiNodeDriver } from './csi-stack.ts';

describe('volplane csi-driver command', () => {
  it('1: flags parse into driver arguments, with the socket under the data dir by default', () => {
    const args = parseCsiDriverArgs(['--data-dir', '/tmp/volplane-x', '--node-id', 'n1', '--attach-required', '--max-volumes-per-node', '5']);
    assert.deepEqual(args, { endpoint: 'unix:///tmp/volplane-x/csi.sock', nodeId: 'n1', dataDir: '/tmp/volplane-x', attachRequired: true, maxVolumesPerNode: 5 });
    assert.equal(parseCsiDriverArgs(['--help']), undefined);
    const node = parseCsiDriverArgs(['--data-dir', '/tmp/volplane-y', '--node-id', 'n2', '--mode', 'node', '--controller-data-dir', '/tmp/volplane-x']);
    assert.equal(node?.mode, 'node');
    assert.equal(node?.controllerDataDir, '/tmp/volplane-x');
  });

  const bad: [string, string[]][] = [
    ['an unknown flag', ['--nope']],
    ['a negative volume limit', ['--max-volumes-per-node', '-1']],
    ['a TCP endpoint', ['--endpoint', 'tcp://127.0.0.1:1']],
    ['an empty registration dir', ['--registration-dir', '']],
    ['an unknown mode', ['--mode', 'controller']],
    ['a controller data dir without node mode', ['--controller-data-dir', '/tmp/x']],
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

  it('5: startCsiNodeDriver serves a node-only driver under the node root, registered in its plugins_registry and known to the controller', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'volplane-csi-cli-'));
    try {
      const controllerArgs = parseCsiDriverArgs(['--data-dir', join(dir, 'ctl'), '--node-id', 'n1', '--attach-required'])!;
      const controller = await startCsiDriver(controllerArgs, silentLogger());
      const node = await startCsiNodeDriver({ nodeName: 'n2', root: join(dir, 'n2'), controllerDataDir: join(dir, 'ctl'), logger: silentLogger() });
      const ctl = createCsiClient(controllerArgs.endpoint);
      const csi = createCsiClient(`unix://${node.socketPath}`);
      const reg = createRegistrationClient(node.registrationSocketPath);
      try {
        assert.equal(node.registrationSocketPath, join(dir, 'n2', 'plugins_registry', 'csi.volplane.io-reg.sock'));
        assert.equal((await reg.getInfo()).endpoint, node.socketPath);
        assert.equal((await csi.node.NodeGetInfo({})).node_id, 'n2');
        const services = (await csi.identity.GetPluginCapabilities({})).capabilities.map((c) => c.service?.type);
        assert.ok(!services.includes('CONTROLLER_SERVICE'));
        const cap = { mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' as const } };
        const id = (await ctl.controller.CreateVolume({ name: 'v', volume_capabilities: [cap] })).volume.volume_id;
        await ctl.controller.ControllerPublishVolume({ volume_id: id, node_id: 'n2', volume_capability: cap });
        await ctl.controller.ControllerUnpublishVolume({ volume_id: id, node_id: 'n2' });
        await ctl.controller.DeleteVolume({ volume_id: id });
      } finally {
        reg.close();
        csi.close();
        ctl.close();
        await node.stop();
        await node.stop();
        await controller.close();
      }
      assert.equal(existsSync(node.registrationSocketPath), false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// The server scaffold and the client over a real unix socket: framing, the
// status mapping, per-volume ABORTED, INTERNAL for unknown errors (logged
// once with its stack), secrets redacted from logs, required-field checks,
// deadlines and the stale-socket rule.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Logger } from '../base/index.ts';
import {
  CsiError,
  EndpointInUseError,
  createCsiClient,
  serveCsiDriver,
  type CallContext,
  type ControllerService,
  type CsiClient,
  type CsiServerHandle,
  type IdentityService,
  type NodeService,
} from './index.ts';

function captureLogger(): { logger: Logger; lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void chunks.push(s) });
  return {
    logger,
    text: () => chunks.join(''),
    lines: () => chunks.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('csi server scaffold', () => {
  let dir: string;
  let server: CsiServerHandle;
  let client: CsiClient;
  const logs = captureLogger();
  const release = deferred();
  let entered = deferred();
  let lastSignal: AbortSignal | undefined;

  const identity: IdentityService = {
    GetPluginInfo: async () => ({ name: 'test.csi.volplane.io', vendor_version: '1.2.3', manifest: { a: 'b' } }),
    GetPluginCapabilities: async () => ({ capabilities: [{ service: { type: 'CONTROLLER_SERVICE' } }] }),
    Probe: async () => ({ ready: { value: true } }),
  };
  const controller: ControllerService = {
    ControllerGetCapabilities: async () => ({ capabilities: [{ rpc: { type: 'CREATE_DELETE_VOLUME' } }] }),
    CreateVolume: async (req) => {
      entered.resolve();
      await release.promise;
      return { volume: { volume_id: `id-${req.name}`, capacity_bytes: req.capacity_range?.required_bytes ?? 0 } };
    },
    DeleteVolume: async (req) => {
      if (req.volume_id === 'explode') throw new TypeError('driver bug: cannot read properties of undefined');
      throw new CsiError('NOT_FOUND', `volume ${req.volume_id} not found`);
    },
    ControllerPublishVolume: async (_req, ctx: CallContext) => {
      lastSignal = ctx.signal;
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      return {};
    },
  };
  const node: NodeService = {
    NodeGetCapabilities: async () => ({ capabilities: [] }),
    NodeGetInfo: async () => ({ node_id: 'n1', max_volumes_per_node: 7 }),
    NodeStageVolume: async () => ({}),
    NodePublishVolume: async () => ({}),
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'volplane-csi-server-'));
    server = await serveCsiDriver({ endpoint: `unix://${join(dir, 'csi.sock')}`, identity, controller, node, logger: logs.logger });
    client = createCsiClient(`unix://${server.socketPath}`, { defaultTimeoutMs: 5_000 });
  });
  after(async () => {
    release.resolve();
    client.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('1: identity and node calls round-trip over the socket with maps and int64', async () => {
    const info = await client.identity.GetPluginInfo({});
    assert.equal(info.name, 'test.csi.volplane.io');
    assert.deepEqual(info.manifest, { a: 'b' });
    const nodeInfo = await client.node.NodeGetInfo({});
    assert.equal(nodeInfo.max_volumes_per_node, 7);
    const probe = await client.identity.Probe({});
    assert.equal(probe.ready?.value, true);
  });

  it('2: a second call on a volume name already in flight answers ABORTED', async () => {
    entered = deferred();
    const first = client.controller.CreateVolume({
      name: 'pvc-1',
      capacity_range: { required_bytes: 1 << 20 },
      volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }],
    });
    await entered.promise;
    await assert.rejects(
      client.controller.CreateVolume({ name: 'pvc-1', volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] }),
      (err: unknown) =>
        err instanceof CsiError && err.codeName === 'ABORTED' && err.message === 'an operation with the given Volume ID pvc-1 already exists',
    );
    release.resolve();
    const res = await first;
    assert.equal(res.volume.volume_id, 'id-pvc-1');
    assert.equal(res.volume.capacity_bytes, 1 << 20);
    // The lock is released once the first call finished.
    const again = await client.controller.CreateVolume({ name: 'pvc-1', volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] });
    assert.equal(again.volume.volume_id, 'id-pvc-1');
  });

  it('3: an unknown error becomes INTERNAL and is logged once with its stack', async () => {
    await assert.rejects(client.controller.DeleteVolume({ volume_id: 'explode' }), (err: unknown) => {
      return err instanceof CsiError && err.codeName === 'INTERNAL' && err.code === 13 && /driver bug/.test(err.message);
    });
    const errors = logs.lines().filter((l) => l.level === 50);
    assert.equal(errors.length, 1);
    const logged = errors[0]!.err as { stack?: string; type?: string };
    assert.equal(logged.type, 'TypeError');
    assert.match(logged.stack ?? '', /server\.test\.ts/);
  });

  it('4: a thrown CsiError keeps its code and message', async () => {
    await assert.rejects(client.controller.DeleteVolume({ volume_id: 'v9' }), (err: unknown) => {
      return err instanceof CsiError && err.codeName === 'NOT_FOUND' && err.message === 'volume v9 not found';
    });
  });

  it('5: secrets never reach the log, in any request', async () => {
    await assert.rejects(client.controller.DeleteVolume({ volume_id: 'v10', secrets: { password: 'hunter2-very-secret' } }));
    const text = logs.text();
    assert.ok(text.includes('v10'), 'the request was logged');
    assert.ok(!text.includes('hunter2-very-secret'), 'the secret value leaked into the log');
    assert.ok(text.includes('***stripped***'));
  });

  const missing: [string, () => Promise<unknown>, string][] = [
    ['DeleteVolume without volume_id', () => client.controller.DeleteVolume({}), 'Volume ID missing in request'],
    ['CreateVolume without name', () => client.controller.CreateVolume({ volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] }), 'Name missing in request'],
    ['CreateVolume without capabilities', () => client.controller.CreateVolume({ name: 'x' }), 'Volume Capabilities missing in request'],
    ['CreateVolume with a capability without access mode', () => client.controller.CreateVolume({ name: 'x', volume_capabilities: [{ mount: {} }] }), 'Volume capability access mode missing in request'],
    ['CreateVolume with a negative capacity', () => client.controller.CreateVolume({ name: 'x', capacity_range: { required_bytes: -1 }, volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] }), 'Capacity range must not be negative'],
    ['NodeStageVolume without staging path', () => client.node.NodeStageVolume({ volume_id: 'v', volume_capability: { mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } } }), 'Staging target path missing in request'],
    ['NodePublishVolume without capability', () => client.node.NodePublishVolume({ volume_id: 'v', target_path: '/x' }), 'Volume Capability missing in request'],
  ];
  for (const [name, call, message] of missing) {
    it(`6: ${name} → INVALID_ARGUMENT`, async () => {
      await assert.rejects(call(), (err: unknown) => err instanceof CsiError && err.codeName === 'INVALID_ARGUMENT' && err.message === message);
    });
  }

  it('7: a method the driver left out answers UNIMPLEMENTED', async () => {
    await assert.rejects(client.controller.ListVolumes({}), (err: unknown) => err instanceof CsiError && err.codeName === 'UNIMPLEMENTED');
    await assert.rejects(client.node.NodeExpandVolume({ volume_id: 'v', volume_path: '/p' }), (err: unknown) => err instanceof CsiError && err.codeName === 'UNIMPLEMENTED');
  });

  it('8: a client deadline ends the call with DEADLINE_EXCEEDED and aborts the handler', async () => {
    await assert.rejects(
      client.controller.ControllerPublishVolume({ volume_id: 'slow', node_id: 'n1', volume_capability: { mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } } }, { timeoutMs: 200 }),
      (err: unknown) => err instanceof CsiError && err.codeName === 'DEADLINE_EXCEEDED',
    );
    const { waitFor } = await import('../base/index.ts');
    await waitFor('handler signal aborted', () => lastSignal?.aborted === true);
  });
});

describe('csi server socket handling', () => {
  const ident: IdentityService = {
    GetPluginInfo: async () => ({ name: 'x.volplane.io', vendor_version: '1' }),
    GetPluginCapabilities: async () => ({ capabilities: [] }),
    Probe: async () => ({}),
  };

  it('9: a stale socket file is removed, a live one is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'volplane-csi-sock-'));
    const path = join(dir, 'csi.sock');
    try {
      // A live listener on the path: refused.
      const live: Server = createServer();
      await new Promise<void>((resolve) => live.listen(path, resolve));
      await assert.rejects(serveCsiDriver({ endpoint: `unix://${path}`, identity: ident, logger: pino({ level: 'silent' }) }), EndpointInUseError);
      // Closing a unix listener removes its file; leave a stale socket behind instead.
      const stale: Server = createServer();
      await new Promise<void>((resolve) => stale.listen(path + '.2', resolve));
      live.close();
      const { rename } = await import('node:fs/promises');
      await rename(path + '.2', path);
      stale.close();
      const server = await serveCsiDriver({ endpoint: `unix://${path}`, identity: ident, logger: pino({ level: 'silent' }) });
      const client = createCsiClient(path);
      try {
        assert.equal((await client.identity.GetPluginInfo({})).name, 'x.volplane.io');
      } finally {
        client.close();
        await server.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// The registration API over real unix sockets: what a driver's registration
// server answers, what it records of the kubelet's verdicts, the socket file
// rules, a client against something that is not gRPC, and registrar mode in
// front of a driver that starts late.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { CancelledError, silentLogger, type Logger } from '../../base/index.ts';
import { CsiError, serveCsiDriver, type IdentityService } from '../index.ts';
import {
  CSI_PLUGIN_TYPE,
  createRegistrationClient,
  RegistrationSocketInUseError,
  serveRegistration,
  startRegistrar,
  type RegistrationStatus,
} from './index.ts';

function captureLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void chunks.push(s) });
  return { logger, lines: () => chunks.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('plugin registration API', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'volplane-reg-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('1: GetInfo answers type CSIPlugin, the name, the endpoint as a path and the versions', async () => {
    const server = await serveRegistration({ socketPath: join(dir, 'a-reg.sock'), driverName: 'a.csi.test', endpoint: 'unix:///run/a/csi.sock', logger: silentLogger() });
    const client = createRegistrationClient(server.socketPath);
    try {
      assert.deepEqual(await client.getInfo(), { type: CSI_PLUGIN_TYPE, name: 'a.csi.test', endpoint: '/run/a/csi.sock', supported_versions: ['1.0.0'] });
      assert.equal(statSync(server.socketPath).mode & 0o777, 0o600);
    } finally {
      client.close();
      await server.close();
    }
  });

  it('2: verdicts are recorded in order; a refusal is logged as an error with its text', async () => {
    const logs = captureLogger();
    const server = await serveRegistration({ socketPath: join(dir, 'b-reg.sock'), driverName: 'b.csi.test', endpoint: '/run/b.sock', versions: ['1.5.0', '1.0.0'], logger: logs.logger });
    const heard: RegistrationStatus[] = [];
    const sub = server.onStatus((s) => heard.push(s));
    const client = createRegistrationClient(server.socketPath);
    try {
      assert.deepEqual((await client.getInfo()).supported_versions, ['1.5.0', '1.0.0']);
      assert.equal(server.registered, false);
      await client.notifyRegistrationStatus({ plugin_registered: true, error: '' });
      assert.equal(server.registered, true);
      await client.notifyRegistrationStatus({ plugin_registered: false, error: 'RegisterPlugin error -- nope' });
      assert.equal(server.registered, false);
      const expected = [
        { plugin_registered: true, error: '' },
        { plugin_registered: false, error: 'RegisterPlugin error -- nope' },
      ];
      assert.deepEqual(server.statuses(), expected);
      assert.deepEqual(heard, expected);
      const refusal = logs.lines().find((l) => l.level === 50);
      assert.equal(refusal?.error, 'RegisterPlugin error -- nope');
    } finally {
      sub.dispose();
      client.close();
      await server.close();
    }
  });

  it('3: close removes the socket; a stale socket is replaced; a live one is refused', async () => {
    const path = join(dir, 'c-reg.sock');
    // A stale socket: its server killed, the file left behind (a clean close would unlink it).
    const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
    assert.equal(lstatSync(path).isSocket(), true);
    const first = await serveRegistration({ socketPath: path, driverName: 'c.csi.test', endpoint: '/x', logger: silentLogger() });
    await assert.rejects(serveRegistration({ socketPath: path, driverName: 'c.csi.test', endpoint: '/x', logger: silentLogger() }), RegistrationSocketInUseError);
    await first.close();
    await first.close();
    assert.equal(existsSync(path), false);
  });

  it('4: a client against a socket that does not speak gRPC fails within its deadline', async () => {
    const path = join(dir, 'garbage.sock');
    const garbage = createServer((sock) => {
      sock.on('error', () => {});
      sock.write('HTTP/1.1 400 Bad Request\r\n\r\nthis is not gRPC', () => sock.destroy());
    });
    await new Promise<void>((r) => garbage.listen(path, r));
    const client = createRegistrationClient(path);
    const started = Date.now();
    try {
      await assert.rejects(client.getInfo({ timeoutMs: 1_000 }), CsiError);
      assert.ok(Date.now() - started < 5_000);
    } finally {
      client.close();
      await new Promise<void>((r) => garbage.close(() => r()));
    }
  });

  it('5: registrar mode waits for the driver, then serves <dir>/<name>-reg.sock pointing at the kubelet-side path', async () => {
    const csiPath = join(dir, 'late-driver.sock');
    const regDir = join(dir, 'plugins_registry');
    const registrarDone = startRegistrar({
      csiAddress: `unix://${csiPath}`,
      kubeletRegistrationPath: '/var/lib/kubelet/plugins/late/csi.sock',
      pluginRegistrationDir: regDir,
      retryIntervalMs: 50,
      logger: silentLogger(),
    });
    const identity: IdentityService = {
      GetPluginInfo: async () => ({ name: 'late.csi.test', vendor_version: '1' }),
      GetPluginCapabilities: async () => ({ capabilities: [] }),
      Probe: async () => ({}),
    };
    const driver = await serveCsiDriver({ endpoint: csiPath, identity, logger: silentLogger() });
    const registrar = await registrarDone;
    const client = createRegistrationClient(registrar.socketPath);
    try {
      assert.equal(registrar.driverName, 'late.csi.test');
      assert.equal(registrar.socketPath, join(regDir, 'late.csi.test-reg.sock'));
      assert.deepEqual(await client.getInfo(), { type: 'CSIPlugin', name: 'late.csi.test', endpoint: '/var/lib/kubelet/plugins/late/csi.sock', supported_versions: ['1.0.0'] });
    } finally {
      client.close();
      await registrar.close();
      await driver.close();
    }
    assert.equal(existsSync(registrar.socketPath), false);
  });

  it('6: a registrar stopped before the driver answers rejects with CancelledError and serves nothing', async () => {
    const stop = new AbortController();
    const regDir = join(dir, 'never');
    const pending = startRegistrar({ csiAddress: join(dir, 'nobody.sock'), kubeletRegistrationPath: '/x', pluginRegistrationDir: regDir, retryIntervalMs: 20, signal: stop.signal, logger: silentLogger() });
    setTimeout(() => stop.abort(), 100);
    await assert.rejects(pending, CancelledError);
    assert.equal(existsSync(regDir), false);
  });
});

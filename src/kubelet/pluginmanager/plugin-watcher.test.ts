// The watcher alone over a real directory: which files become plugins to
// register, and how removal and re-creation show in the desired state.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, waitFor } from '../../base/index.ts';
import { DesiredStateOfWorld } from './desired-state-of-world.ts';
import { PluginWatcher } from './plugin-watcher.ts';

async function listen(path: string): Promise<Server> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(path, r));
  return server;
}

function close(server: Server): Promise<void> {
  return new Promise((r) => server.close(() => r()));
}

describe('plugin watcher', () => {
  let dir: string;
  let watcher: PluginWatcher;
  const dsw = new DesiredStateOfWorld();
  let changes = 0;
  const servers: Server[] = [];

  before(async () => {
    dir = join(await mkdtemp(join(tmpdir(), 'volplane-watcher-')), 'plugins_registry');
    watcher = new PluginWatcher({ path: dir, dsw, logger: silentLogger(), rescanIntervalMs: 60_000, onChange: () => changes++ });
    await watcher.start();
  });
  after(async () => {
    await watcher.dispose();
    for (const s of servers) await close(s).catch(() => {});
    await rm(join(dir, '..'), { recursive: true, force: true });
  });

  const paths = (): string[] => dsw.getPluginsToRegister().map((p) => p.socketPath);

  it('1: sockets at any depth are found through the watch; dot-files and plain files are not', async () => {
    await mkdir(join(dir, 'vendor'));
    servers.push(await listen(join(dir, 'a-reg.sock')), await listen(join(dir, 'vendor', 'b-reg.sock')), await listen(join(dir, '.hidden.sock')));
    await writeFile(join(dir, 'notes.txt'), 'not a socket');
    // Only the watch can tell: the periodic rescan is a minute away.
    await waitFor('both sockets', () => paths().length === 2);
    assert.deepEqual(paths(), [join(dir, 'a-reg.sock'), join(dir, 'vendor', 'b-reg.sock')]);
    assert.ok(changes > 0);
  });

  it('2: a removed socket leaves the desired state; one recreated at the same path gets another timestamp', async () => {
    const before = dsw.getPluginsToRegister().find((p) => p.socketPath === join(dir, 'a-reg.sock'))?.timestamp;
    await close(servers[0]);
    await waitFor('a-reg.sock gone', () => !paths().includes(join(dir, 'a-reg.sock')));
    servers[0] = await listen(join(dir, 'a-reg.sock'));
    const after = await waitFor('a-reg.sock back', () => dsw.getPluginsToRegister().find((p) => p.socketPath === join(dir, 'a-reg.sock'))?.timestamp);
    assert.notEqual(after, before);
  });

  it('3: a rescan finds the same state again without reporting a change', async () => {
    const before = changes;
    const snapshot = dsw.getPluginsToRegister();
    await watcher.scan();
    assert.deepEqual(dsw.getPluginsToRegister(), snapshot);
    assert.equal(changes, before);
  });
});

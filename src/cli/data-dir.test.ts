import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirLockedError, defaultDataDir, ensureDataDir, lockDataDir } from './data-dir.ts';

test('defaultDataDir', async (t) => {
  const rows: { name: string; env: NodeJS.ProcessEnv; uid: number; want: string }[] = [
    { name: 'root uses /var/lib/volplane', env: { XDG_DATA_HOME: '/x' }, uid: 0, want: '/var/lib/volplane' },
    { name: 'a user with XDG_DATA_HOME', env: { XDG_DATA_HOME: '/data/me' }, uid: 1000, want: '/data/me/volplane' },
    { name: 'a user without XDG_DATA_HOME', env: {}, uid: 1000, want: '/home/me/.local/share/volplane' },
    { name: 'a relative XDG_DATA_HOME is ignored', env: { XDG_DATA_HOME: 'data' }, uid: 1000, want: '/home/me/.local/share/volplane' },
  ];
  for (const row of rows) await t.test(row.name, () => assert.equal(defaultDataDir(row.env, row.uid, '/home/me'), row.want));
});

test('data directory lock', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'volplane-datadir-test-'));
  t.after(() => rm(root, { recursive: true, force: true }));

  await t.test('a new data directory is private', async () => {
    const dir = join(root, 'new', 'data');
    await ensureDataDir(dir);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
  });

  await t.test('a second lock while the first is held fails; after release it succeeds', async () => {
    const dir = join(root, 'held');
    await ensureDataDir(dir);
    const lock = await lockDataDir(dir);
    assert.equal((await readFile(join(dir, 'volplane.pid'), 'utf8')).trim(), String(process.pid));
    await assert.rejects(lockDataDir(dir), (err: unknown) => err instanceof DataDirLockedError && err.pid === process.pid);
    await lock.release();
    await lock.release();
    const again = await lockDataDir(dir);
    await again.release();
  });

  await t.test('a lock left by a process that is gone is taken over', async () => {
    const dir = join(root, 'stale');
    await ensureDataDir(dir);
    const child = spawn(process.execPath, ['-e', '']);
    const deadPid = await new Promise<number>((resolve) => child.on('exit', () => resolve(child.pid!)));
    await writeFile(join(dir, 'volplane.pid'), `${deadPid}\n`);
    const lock = await lockDataDir(dir);
    assert.equal((await readFile(join(dir, 'volplane.pid'), 'utf8')).trim(), String(process.pid));
    await lock.release();
  });
});

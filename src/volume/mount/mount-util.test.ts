import assert from 'node:assert/strict';
import { readFile, writeFile, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CancelledError } from '../../base/index.ts';
import { makeTempDir, removeTempDir } from '../test-framework.ts';
import { runCommand } from './exec.ts';
import { HostMountUtil, MountError, MountTimeoutError, parseMountInfo } from './index.ts';

describe('parseMountInfo', () => {
  const rows: { name: string; line: string; want: Partial<ReturnType<typeof parseMountInfo>[number]> | undefined }[] = [
    {
      name: '1 tmpfs with propagation field and superblock options',
      line: '36 35 0:45 / /tmp/volplane-x/vol rw,relatime shared:20 - tmpfs tmpfs rw,size=1024k',
      want: { id: 36, parentId: 35, mountPoint: '/tmp/volplane-x/vol', fsType: 'tmpfs', source: 'tmpfs', optionalFields: ['shared:20'], superOptions: ['rw', 'size=1024k'] },
    },
    {
      name: '2 octal escapes in paths are decoded',
      line: '40 35 8:1 /data\\040dir /mnt/with\\040space rw - ext4 /dev/sda1 rw',
      want: { root: '/data dir', mountPoint: '/mnt/with space', optionalFields: [] },
    },
    { name: '3 a malformed line is skipped', line: '1 2 3', want: undefined },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const got = parseMountInfo(row.line + '\n');
      if (row.want === undefined) assert.deepEqual(got, []);
      else assert.partialDeepStrictEqual(got[0], row.want);
    });
  }
});

describe('runCommand', () => {
  it('1 a command past its deadline is killed with its process group and reported', async () => {
    const started = Date.now();
    // sh forks sleep: the group kill must take the child too, or close would wait 30 s.
    await assert.rejects(runCommand('sh', ['-c', 'sleep 30; true'], { timeoutMs: 300 }), (err: unknown) => {
      assert.ok(err instanceof MountTimeoutError);
      assert.equal(err.afterMs, 300);
      assert.match(err.message, /timed out after 300 ms/);
      return true;
    });
    assert.ok(Date.now() - started < 5_000, 'returned promptly');
  });

  it('2 an abort kills the command and rejects with CancelledError', async () => {
    const ac = new AbortController();
    const p = runCommand('sleep', ['30'], { timeoutMs: 60_000, signal: ac.signal });
    ac.abort();
    await assert.rejects(p, CancelledError);
  });

  it('3 a failing command carries its exit status and output', async () => {
    await assert.rejects(runCommand('sh', ['-c', 'echo boom >&2; exit 3'], { timeoutMs: 5_000 }), (err: unknown) => {
      assert.ok(err instanceof MountError);
      assert.equal(err.exitCode, 3);
      assert.equal(err.output, 'boom');
      assert.match(err.message, /^sh failed: exit status 3\nMounting command: sh\n/);
      return true;
    });
  });

  it('4 a missing binary is a MountError without exit status', async () => {
    await assert.rejects(runCommand('/nonexistent/mount', [], { timeoutMs: 5_000 }), (err: unknown) => {
      assert.ok(err instanceof MountError);
      assert.equal(err.exitCode, undefined);
      return true;
    });
  });
});

describe('HostMountUtil (real mounts)', () => {
  const util = new HostMountUtil({ timeoutMs: 20_000 });
  let dir = '';
  before(async () => {
    dir = await makeTempDir('mount');
  });
  after(async () => {
    await removeTempDir(dir);
  });

  it('1 mounts a tmpfs with options, sees it, and unmounts it', async () => {
    const target = join(dir, 'tmpfs');
    await mkdir(target);
    assert.equal(await util.isMountPoint(target), false);
    await util.mount('tmpfs', target, 'tmpfs', ['size=1m']);
    assert.equal(await util.isMountPoint(target), true);
    const info = (await util.listMounts()).find((m) => m.mountPoint === target);
    assert.equal(info?.fsType, 'tmpfs');
    assert.ok(info?.superOptions.includes('size=1024k'), `superOptions ${info?.superOptions.join(',')}`);
    await util.unmount(target);
    assert.equal(await util.isMountPoint(target), false);
  });

  it('2 a read-only bind mount refuses writes; the source stays writable', async () => {
    const src = join(dir, 'src');
    const target = join(dir, 'ro-bind');
    await mkdir(src);
    await mkdir(target);
    await writeFile(join(src, 'f'), 'hello');
    await util.bindMount(src, target, true);
    try {
      assert.equal(await readFile(join(target, 'f'), 'utf8'), 'hello');
      await assert.rejects(writeFile(join(target, 'g'), 'x'), { code: 'EROFS' });
      await writeFile(join(src, 'g'), 'x');
    } finally {
      await util.unmount(target);
    }
  });

  it('3 unmounting something not mounted fails with MountError', async () => {
    const target = join(dir, 'plain');
    await mkdir(target);
    await assert.rejects(util.unmount(target), MountError);
  });

  it('4 cleanupMountPoint unmounts stacked mounts and removes the directory; a missing path is fine', async () => {
    const target = join(dir, 'stacked');
    await mkdir(target);
    await util.mount('tmpfs', target, 'tmpfs', []);
    await util.mount('tmpfs', target, 'tmpfs', []);
    await util.cleanupMountPoint(target);
    await assert.rejects(stat(target), { code: 'ENOENT' });
    await util.cleanupMountPoint(target);
  });

  it('5 isMountPoint is false for a missing path', async () => {
    assert.equal(await util.isMountPoint(join(dir, 'nope')), false);
  });
});

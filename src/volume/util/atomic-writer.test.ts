import assert from 'node:assert/strict';
import { lstat, readdir, readFile, readlink, stat, symlink, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { lsL, makeTempDir, removeTempDir } from '../test-framework.ts';
import { AtomicWriter, InvalidPayloadPathError, timestampDirPrefix, type FileProjection } from './atomic-writer.ts';

const f = (text: string, mode = 0o644): FileProjection => ({ data: Buffer.from(text), mode });
const TS_DIR = /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+$/;

async function versionDirs(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => TS_DIR.test(n));
}

describe('AtomicWriter', () => {
  let root = '';
  let n = 0;
  const fresh = async (): Promise<string> => {
    const d = join(root, `t${n++}`);
    await mkdir(d);
    return d;
  };
  before(async () => {
    root = await makeTempDir('atomic');
  });
  after(async () => {
    await removeTempDir(root);
  });

  it('1 create: the seed\'s `ls -l` shape — ..data -> ..<timestamp>, key -> ..data/key', async () => {
    const dir = await fresh();
    const changed = await new AtomicWriter(dir).write({ log_level: f('INFO'), 'ui.properties': f('color.good=purple\n') });
    assert.equal(changed, true);
    const ls = await lsL(dir);
    const [ts] = await versionDirs(dir);
    assert.deepEqual(ls, [
      { name: ts, type: 'd' },
      { name: '..data', type: 'l', target: ts },
      { name: 'log_level', type: 'l', target: '..data/log_level' },
      { name: 'ui.properties', type: 'l', target: '..data/ui.properties' },
    ]);
    assert.equal(await readFile(join(dir, 'log_level'), 'utf8'), 'INFO');
    assert.equal((await stat(join(dir, ts))).mode & 0o777, 0o755);
    assert.equal((await stat(join(dir, 'log_level'))).mode & 0o777, 0o644);
  });

  it('2 the version directory is named as upstream: ..2006_01_02_15_04_05.<random>, UTC', () => {
    assert.equal(timestampDirPrefix(new Date(Date.UTC(2024, 1, 18, 6, 27, 5))), '..2024_02_18_06_27_05.');
  });

  it('3 update: new content is swapped in and the old version directory removed', async () => {
    const dir = await fresh();
    const w = new AtomicWriter(dir);
    await w.write({ a: f('1') });
    const [oldTs] = await versionDirs(dir);
    assert.equal(await w.write({ a: f('2') }), true);
    const dirs = await versionDirs(dir);
    assert.equal(dirs.length, 1);
    assert.notEqual(dirs[0], oldTs);
    assert.equal(await readlink(join(dir, '..data')), dirs[0]);
    assert.equal(await readFile(join(dir, 'a'), 'utf8'), '2');
    await assert.rejects(lstat(join(dir, '..data_tmp')), { code: 'ENOENT' });
  });

  it('4 remove a key: its visible link goes', async () => {
    const dir = await fresh();
    const w = new AtomicWriter(dir);
    await w.write({ a: f('1'), b: f('2') });
    assert.equal(await w.write({ a: f('1') }), true);
    assert.deepEqual((await lsL(dir)).filter((e) => !e.name.startsWith('..')).map((e) => e.name), ['a']);
  });

  it('5 no-op: the same payload changes nothing', async () => {
    const dir = await fresh();
    const w = new AtomicWriter(dir);
    await w.write({ a: f('1') });
    const before = await versionDirs(dir);
    assert.equal(await w.write({ a: f('1') }), false);
    assert.deepEqual(await versionDirs(dir), before);
  });

  it('6 nested paths: only the top-level directory is linked; a removed nested file disappears', async () => {
    const dir = await fresh();
    const w = new AtomicWriter(dir);
    await w.write({ 'conf/app/x.yaml': f('x'), 'conf/y': f('y', 0o600), top: f('t') });
    const ls = (await lsL(dir)).filter((e) => !e.name.startsWith('..'));
    assert.deepEqual(ls, [
      { name: 'conf', type: 'l', target: '..data/conf' },
      { name: 'top', type: 'l', target: '..data/top' },
    ]);
    assert.equal(await readFile(join(dir, 'conf/app/x.yaml'), 'utf8'), 'x');
    assert.equal((await stat(join(dir, 'conf/y'))).mode & 0o777, 0o600);
    await w.write({ 'conf/y': f('y', 0o600), top: f('t') });
    await assert.rejects(stat(join(dir, 'conf/app')), { code: 'ENOENT' });
    assert.equal(await readFile(join(dir, 'conf/y'), 'utf8'), 'y');
  });

  it('7 leftovers of a crashed write (..data_tmp, a stale version dir) are cleaned up', async () => {
    const dir = await fresh();
    const w = new AtomicWriter(dir);
    await w.write({ a: f('1') });
    await mkdir(join(dir, '..2001_01_01_00_00_00.42'));
    await symlink('..2001_01_01_00_00_00.42', join(dir, '..data_tmp'));
    await w.write({ a: f('2') });
    assert.equal((await versionDirs(dir)).length, 1);
    await assert.rejects(lstat(join(dir, '..data_tmp')), { code: 'ENOENT' });
  });

  const invalid: { name: string; path: string; message: string }[] = [
    { name: '8a empty path', path: '', message: 'invalid path: must not be empty: ""' },
    { name: '8b absolute path', path: '/etc/passwd', message: 'invalid path: must be relative path: /etc/passwd' },
    { name: '8c a .. element', path: 'a/../../b', message: "invalid path: must not contain '..': a/../../b" },
    { name: '8d a leading ..', path: '..data', message: "invalid path: must not start with '..': ..data" },
    { name: '8e a file name over 255 characters', path: 'x'.repeat(256), message: 'invalid path: filenames must be less than or equal to 255 characters' },
    { name: '8f a path over 4096 characters', path: 'a/'.repeat(2049), message: 'invalid path: must be less than or equal to 4096 characters' },
  ];
  for (const row of invalid) {
    it(`${row.name} is refused before anything is written`, async () => {
      const dir = await fresh();
      await assert.rejects(new AtomicWriter(dir).write({ ok: f('1'), [row.path]: f('x') }), (err: unknown) => {
        assert.ok(err instanceof InvalidPayloadPathError);
        assert.equal(err.message, row.message);
        return true;
      });
      assert.deepEqual(await readdir(dir), []);
    });
  }

  it('9 setPerms runs on the new version before it becomes visible', async () => {
    const dir = await fresh();
    let seen = '';
    await new AtomicWriter(dir).write({ a: f('1') }, {
      setPerms: async (versionDir) => {
        seen = versionDir;
        await assert.rejects(lstat(join(dir, '..data')), { code: 'ENOENT' });
      },
    });
    assert.equal(join(dir, await readlink(join(dir, '..data'))), seen);
  });
});

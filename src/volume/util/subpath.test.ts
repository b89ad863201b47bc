import assert from 'node:assert/strict';
import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HostMountUtil } from '../mount/index.ts';
import { makeTempDir, mountsUnder, removeTempDir } from '../test-framework.ts';
import { cleanSubPaths, prepareSubPath, safeOpen, SubPathError, subPathBindTarget, type SubPath } from './subpath.ts';

describe('subPath (CVE-2017-1002101)', () => {
  const util = new HostMountUtil({ timeoutMs: 20_000 });
  let root = '';
  let podDir = '';
  let vol = '';
  let index = 0;
  const sp = (subPath: string): SubPath => ({ volumePath: vol, subPath, podDir, volumeName: 'data', containerName: 'c1', volumeMountIndex: index++ });

  before(async () => {
    root = await makeTempDir('subpath');
    podDir = join(root, 'pods', 'uid-1');
    vol = join(podDir, 'volumes', 'kubernetes.io~empty-dir', 'data');
    await mkdir(join(vol, 'app/conf'), { recursive: true });
    await writeFile(join(vol, 'app/conf/settings'), 'ok');
    await symlink('/etc', join(vol, 'evil'));
    await symlink('/etc/passwd', join(vol, 'evil-file'));
    await symlink('app/conf', join(vol, 'inner-link'));
    await mkdir(join(vol, 'via'));
    await symlink('/', join(vol, 'via/root'));
  });
  after(async () => {
    await cleanSubPaths(util, podDir, 'data').catch(() => {});
    await removeTempDir(root);
  });

  const refused: { name: string; subPath: string; message: (volReal: string) => RegExp | string }[] = [
    { name: '1 a symlink to /etc inside the volume', subPath: 'evil', message: (v) => `subpath "/etc" not within volume path "${v}"` },
    { name: '2 a symlink to a host file', subPath: 'evil-file', message: (v) => `subpath "/etc/passwd" not within volume path "${v}"` },
    { name: '3 a path through a symlink to /', subPath: 'via/root/etc', message: (v) => `subpath "/etc" not within volume path "${v}"` },
    { name: '4 an absolute path', subPath: '/etc', message: () => 'error SubPath `/etc` must not be an absolute path' },
    { name: '5 a .. component', subPath: 'app/../../..', message: () => "unable to provision SubPath `app/../../..`: must not contain '..'" },
  ];
  for (const row of refused) {
    it(`${row.name} is refused and nothing is mounted`, async () => {
      await assert.rejects(prepareSubPath(util, sp(row.subPath)), (err: unknown) => {
        assert.ok(err instanceof SubPathError);
        assert.equal(err.message, row.message(vol));
        return true;
      });
      assert.deepEqual(await mountsUnder(root), []);
    });
  }

  it('6 safeOpen finds a symlink swapped in after resolution instead of following it', async () => {
    await assert.rejects(safeOpen(join(vol, 'evil'), vol), { name: 'SubPathError', message: `unexpected symlink found ${join(vol, 'evil')}` });
  });

  it('7 a directory subPath is bind-mounted at volume-subpaths/<vol>/<container>/<index>; repeating is a no-op', async () => {
    const req = sp('app/conf');
    const target = await prepareSubPath(util, req);
    assert.equal(target, subPathBindTarget(req));
    assert.equal(target, join(podDir, 'volume-subpaths', 'data', 'c1', String(req.volumeMountIndex)));
    assert.equal(await readFile(join(target, 'settings'), 'utf8'), 'ok');
    assert.equal(await prepareSubPath(util, req), target);
    assert.equal((await util.listMounts()).filter((m) => m.mountPoint === target).length, 1);
  });

  it('8 a file subPath and a symlink that stays inside the volume are allowed', async () => {
    const fileTarget = await prepareSubPath(util, sp('app/conf/settings'));
    assert.equal(await readFile(fileTarget, 'utf8'), 'ok');
    const linkTarget = await prepareSubPath(util, sp('inner-link'));
    assert.equal(await readFile(join(linkTarget, 'settings'), 'utf8'), 'ok');
  });

  it('9 a missing subPath is created with the volume\'s mode before binding', async () => {
    const target = await prepareSubPath(util, sp('new/dir'));
    const st = await stat(join(vol, 'new/dir'));
    assert.ok(st.isDirectory());
    assert.equal(st.mode & 0o777, (await stat(vol)).mode & 0o777);
    assert.ok((await stat(target)).isDirectory());
  });

  it('10 cleanSubPaths unmounts every target of the volume and removes volume-subpaths', async () => {
    assert.notDeepEqual(await mountsUnder(root), []);
    await cleanSubPaths(util, podDir, 'data');
    assert.deepEqual(await mountsUnder(root), []);
    await assert.rejects(stat(join(podDir, 'volume-subpaths')), { code: 'ENOENT' });
    assert.equal(await readFile(join(vol, 'app/conf/settings'), 'utf8'), 'ok');
    await cleanSubPaths(util, podDir, 'data');
  });
});

import assert from 'node:assert/strict';
import { chmod, chown, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { requiresPermissionChange, setVolumeOwnership, type FsGroupChangePolicy } from './volume-ownership.ts';

const FS_GROUP = 4321;
const isRoot = process.getuid?.() === 0;

describe('volume ownership (fsGroup)', { skip: isRoot ? false : 'chown to another group needs root' }, () => {
  let base: string;
  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'volplane-ownership-'));
  });
  after(async () => {
    await rm(base, { recursive: true, force: true });
  });

  /** A volume root with one file; `prepared` gives the root the group, setgid and group rwx already. */
  async function volume(name: string, prepared: boolean): Promise<{ root: string; file: string }> {
    const root = join(base, name);
    await mkdir(root);
    const file = join(root, 'data');
    await writeFile(file, 'x');
    await chmod(file, 0o600);
    if (prepared) {
      await chown(root, 0, FS_GROUP);
      await chmod(root, 0o2770);
    } else {
      await chmod(root, 0o700);
    }
    return { root, file };
  }

  const rows: { name: string; policy: FsGroupChangePolicy | undefined; prepared: boolean; fileChanged: boolean }[] = [
    { name: 'Always walks an unprepared volume', policy: 'Always', prepared: false, fileChanged: true },
    { name: 'Always walks a volume whose root already matches', policy: 'Always', prepared: true, fileChanged: true },
    { name: 'the default is Always', policy: undefined, prepared: true, fileChanged: true },
    { name: 'OnRootMismatch walks a volume whose root does not match', policy: 'OnRootMismatch', prepared: false, fileChanged: true },
    { name: 'OnRootMismatch skips a volume whose root already matches', policy: 'OnRootMismatch', prepared: true, fileChanged: false },
  ];
  for (const [i, row] of rows.entries()) {
    test(row.name, async () => {
      const { root, file } = await volume(`v${i}`, row.prepared);
      await setVolumeOwnership(root, FS_GROUP, false, row.policy);
      const st = await stat(file);
      assert.equal(st.gid === FS_GROUP, row.fileChanged, `file group ${st.gid}`);
      assert.equal((st.mode & 0o060) === 0o060, row.fileChanged, `file mode ${(st.mode & 0o7777).toString(8)}`);
      const rootSt = await stat(root);
      assert.equal(rootSt.gid, FS_GROUP);
      assert.equal(await requiresPermissionChange(root, FS_GROUP, false), false);
    });
  }

  test('a root missing setgid or group write needs a change', async () => {
    const { root } = await volume('partial', true);
    await chmod(root, 0o770);
    assert.equal(await requiresPermissionChange(root, FS_GROUP, false), true);
    await chmod(root, 0o2750);
    assert.equal(await requiresPermissionChange(root, FS_GROUP, false), true);
    assert.equal(await requiresPermissionChange(root, FS_GROUP, true), false);
    assert.equal(await requiresPermissionChange(root, FS_GROUP + 1, true), true);
  });
});

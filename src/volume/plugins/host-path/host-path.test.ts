import assert from 'node:assert/strict';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { VolumeSetupError } from '../../plugin.ts';
import { makeTempDir, removeTempDir, testHost, testPod } from '../../test-framework.ts';
import { checkHostPathType, HostPathPlugin, HostPathTypeError } from './index.ts';

const signal = new AbortController().signal;

/** Some block device of this machine, for the BlockDevice rows (they skip without one). */
async function findBlockDevice(): Promise<string | undefined> {
  for (const name of (await readdir('/dev')).sort()) {
    const st = await stat(join('/dev', name)).catch(() => undefined);
    if (st?.isBlockDevice()) return join('/dev', name);
  }
  return undefined;
}

describe('hostPath type checks (seed 001 §1.2)', () => {
  let dir = '';
  let socketPath = '';
  let server: Server | undefined;
  let blockDevice: string | undefined;
  before(async () => {
    dir = await makeTempDir('hostpath');
    await mkdir(join(dir, 'a-dir'));
    await writeFile(join(dir, 'a-file'), 'x');
    socketPath = join(dir, 'a-socket');
    server = createServer();
    await new Promise<void>((resolve) => server!.listen(socketPath, resolve));
    blockDevice = await findBlockDevice();
  });
  after(async () => {
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
    await removeTempDir(dir);
  });

  const p = (name: string): string => join(dir, name);
  const rows: { name: string; path: () => string | undefined; type: string; error?: (path: string) => string }[] = [
    { name: '1 "" does no check, even for a missing path', path: () => p('missing-1'), type: '' },
    { name: '2 Directory accepts a directory', path: () => p('a-dir'), type: 'Directory' },
    { name: '3 Directory refuses a file', path: () => p('a-file'), type: 'Directory', error: (x) => `hostPath type check failed: ${x} is not a directory` },
    { name: '4 Directory refuses a missing path', path: () => p('missing-4'), type: 'Directory', error: (x) => `hostPath ${x} doesn't exist` },
    { name: '5 File accepts a file', path: () => p('a-file'), type: 'File' },
    { name: '6 File refuses a directory', path: () => p('a-dir'), type: 'File', error: (x) => `hostPath type check failed: ${x} is not a file` },
    { name: '7 Socket accepts a unix socket', path: () => socketPath, type: 'Socket' },
    { name: '8 Socket refuses a file', path: () => p('a-file'), type: 'Socket', error: (x) => `hostPath type check failed: ${x} is not a socket file` },
    { name: '9 CharDevice accepts /dev/null', path: () => '/dev/null', type: 'CharDevice' },
    { name: '10 CharDevice refuses a directory', path: () => p('a-dir'), type: 'CharDevice', error: (x) => `hostPath type check failed: ${x} is not a character device` },
    { name: '11 BlockDevice accepts a block device', path: () => blockDevice, type: 'BlockDevice' },
    { name: '12 BlockDevice refuses /dev/null', path: () => '/dev/null', type: 'BlockDevice', error: (x) => `hostPath type check failed: ${x} is not a block device` },
    { name: '13 DirectoryOrCreate accepts an existing directory', path: () => p('a-dir'), type: 'DirectoryOrCreate' },
    { name: '14 DirectoryOrCreate refuses an existing file', path: () => p('a-file'), type: 'DirectoryOrCreate', error: (x) => `hostPath type check failed: ${x} is not a directory` },
    { name: '15 FileOrCreate accepts an existing file', path: () => p('a-file'), type: 'FileOrCreate' },
    { name: '16 FileOrCreate refuses an existing directory', path: () => p('a-dir'), type: 'FileOrCreate', error: (x) => `hostPath type check failed: ${x} is not a file` },
    { name: '17 an unknown type is refused', path: () => p('a-dir'), type: 'Folder', error: () => 'Folder is an invalid volume type' },
  ];
  for (const row of rows) {
    it(row.name, async (t) => {
      const path = row.path();
      if (path === undefined) {
        t.skip('no block device on this machine');
        return;
      }
      if (row.error === undefined) {
        await checkHostPathType(path, row.type);
        return;
      }
      await assert.rejects(checkHostPathType(path, row.type), (err: unknown) => {
        assert.ok(err instanceof HostPathTypeError);
        assert.equal(err.message, row.error!(path));
        return true;
      });
    });
  }

  it('18 DirectoryOrCreate creates missing directories with mode 0755', async () => {
    const path = p('made/deep/dir');
    await checkHostPathType(path, 'DirectoryOrCreate');
    const st = await stat(path);
    assert.ok(st.isDirectory());
    assert.equal(st.mode & 0o7777, 0o755);
  });

  it('19 FileOrCreate creates an empty 0644 file when the parent exists', async () => {
    const path = p('a-dir/new-file');
    await checkHostPathType(path, 'FileOrCreate');
    const st = await stat(path);
    assert.ok(st.isFile());
    assert.equal(st.size, 0);
    assert.equal(st.mode & 0o7777, 0o644);
  });

  it('20 FileOrCreate does not create a missing parent', async () => {
    await assert.rejects(checkHostPathType(p('no-parent/f'), 'FileOrCreate'), { code: 'ENOENT' });
    await assert.rejects(stat(p('no-parent')), { code: 'ENOENT' });
  });

  it('21 the mounter path is the host path; a failed check is a FailedMount VolumeSetupError; teardown leaves the data', async () => {
    const plugin = new HostPathPlugin(testHost(dir));
    const m = plugin.newMounter({ volume: { name: 'data', hostPath: { path: p('a-file'), type: 'Directory' } }, readOnly: false }, testPod());
    assert.equal(m.getPath(), p('a-file'));
    await assert.rejects(m.setUp({ signal }), (err: unknown) => {
      assert.ok(err instanceof VolumeSetupError);
      assert.equal(err.reason, 'FailedMount');
      assert.equal(err.message, `hostPath type check failed: ${p('a-file')} is not a directory`);
      return true;
    });
    await plugin.newUnmounter('data', 'uid').tearDown(signal);
    assert.ok((await stat(p('a-file'))).isFile());
  });

  it('22 a path with .. is refused', async () => {
    const m = new HostPathPlugin().newMounter({ volume: { name: 'd', hostPath: { path: `${dir}/../etc` } }, readOnly: false }, testPod());
    await assert.rejects(m.setUp({ signal }), /must not contain '\.\.'/);
  });
});

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { makeTempDir, removeTempDir, testPod } from '../../test-framework.ts';
import { LocalVolumePlugin } from './index.ts';

const signal = new AbortController().signal;

describe('local volume', () => {
  let dir = '';
  before(async () => {
    dir = await makeTempDir('local');
    await writeFile(join(dir, 'file'), '');
  });
  after(async () => {
    await removeTempDir(dir);
  });
  const pv = (path: string) => ({ persistentVolume: { metadata: { name: 'local-pv' }, spec: { local: { path } } }, readOnly: false });

  it('1 the mounter path is the local path; an existing directory sets up', async () => {
    const m = new LocalVolumePlugin().newMounter(pv(dir), testPod());
    assert.equal(m.getPath(), dir);
    await m.setUp({ signal });
  });
  it('2 a missing path fails setUp', async () => {
    await assert.rejects(new LocalVolumePlugin().newMounter(pv(join(dir, 'gone')), testPod()).setUp({ signal }), {
      name: 'VolumeSetupError',
      message: `path "${join(dir, 'gone')}" does not exist`,
    });
  });
  it('3 a file is not a local volume', async () => {
    await assert.rejects(new LocalVolumePlugin().newMounter(pv(join(dir, 'file')), testPod()).setUp({ signal }), { name: 'VolumeSetupError' });
  });
});

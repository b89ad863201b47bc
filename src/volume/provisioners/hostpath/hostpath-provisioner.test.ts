import assert from 'node:assert/strict';
import { mkdtemp, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../../../api/core/volume-types.ts';
import { DeleteError, ProvisionError } from '../../provisioner.ts';
import { HostPathProvisioner, UnsafeVolumeNameError, validateVolumeName } from './index.ts';

const claim: PersistentVolumeClaim = {
  metadata: { name: 'data', namespace: 'default', uid: '1234' },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
};

function storageClass(parameters?: Record<string, string>): StorageClass {
  return { metadata: { name: 'local' }, provisioner: 'volplane.io/hostpath', ...(parameters === undefined ? {} : { parameters }) };
}

function volumeFor(name: string, path: string): PersistentVolume {
  return { metadata: { name }, spec: { hostPath: { path, type: 'DirectoryOrCreate' } } };
}

describe('HostPathProvisioner', () => {
  let dir: string;
  let root: string;
  const signal = new AbortController().signal;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'volplane-hostpath-'));
    root = join(dir, 'hostpath-volumes');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('provisions a directory under <dataDir>/hostpath-volumes pinned to the selected node', async () => {
    const p = new HostPathProvisioner({ dataDir: dir, defaultNode: 'host' });
    const v = await p.provision({ pvName: 'pvc-1', claim, storageClass: storageClass(), selectedNode: 'node-a' }, signal);
    assert.deepEqual(v.source, { hostPath: { path: join(root, 'pvc-1'), type: 'DirectoryOrCreate' } });
    assert.equal(v.capacity, '1Gi');
    assert.deepEqual(v.nodeAffinity?.required?.nodeSelectorTerms[0]?.matchExpressions, [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-a'] }]);
    assert.ok((await stat(join(root, 'pvc-1'))).isDirectory());
    // Repeating a finished provision succeeds and keeps the contents.
    await writeFile(join(root, 'pvc-1', 'f'), 'x');
    await p.provision({ pvName: 'pvc-1', claim, storageClass: storageClass() }, signal);
    assert.deepEqual(await readdir(join(root, 'pvc-1')), ['f']);
  });

  it('without a selected node uses the default node', async () => {
    const p = new HostPathProvisioner({ root, defaultNode: 'host' });
    const v = await p.provision({ pvName: 'pvc-2', claim, storageClass: storageClass() }, signal);
    assert.deepEqual(v.nodeAffinity?.required?.nodeSelectorTerms[0]?.matchExpressions?.[0]?.values, ['host']);
  });

  it('delete removes the directory; deleting again succeeds', async () => {
    const p = new HostPathProvisioner({ root });
    await p.provision({ pvName: 'pvc-3', claim, storageClass: storageClass() }, signal);
    await writeFile(join(root, 'pvc-3', 'f'), 'x');
    await p.delete(volumeFor('pvc-3', join(root, 'pvc-3')), signal);
    await assert.rejects(stat(join(root, 'pvc-3')), { code: 'ENOENT' });
    await p.delete(volumeFor('pvc-3', join(root, 'pvc-3')), signal);
  });

  it('archiveOnDelete renames the directory to archived-<name>', async () => {
    const p = new HostPathProvisioner({ root });
    await p.provision({ pvName: 'pvc-4', claim, storageClass: storageClass({ archiveOnDelete: 'true' }) }, signal);
    await writeFile(join(root, 'pvc-4', 'keep'), 'data');
    await p.delete(volumeFor('pvc-4', join(root, 'pvc-4')), signal);
    await assert.rejects(stat(join(root, 'pvc-4')), { code: 'ENOENT' });
    assert.deepEqual(await readdir(join(root, 'archived-pvc-4')), ['keep']);
  });

  it('archiveOnDelete "false" deletes', async () => {
    const p = new HostPathProvisioner({ root });
    await p.provision({ pvName: 'pvc-5', claim, storageClass: storageClass({ archiveOnDelete: 'false' }) }, signal);
    await p.delete(volumeFor('pvc-5', join(root, 'pvc-5')), signal);
    await assert.rejects(stat(join(root, 'archived-pvc-5')), { code: 'ENOENT' });
  });

  describe('never leaves the root', () => {
    const bad = ['', '..', '../etc', 'a/b', 'a..b', '.hidden', 'UPPER', 'a\\b'];
    for (const name of bad) {
      it(`refuses the name ${JSON.stringify(name)}`, async () => {
        assert.throws(() => validateVolumeName(name), UnsafeVolumeNameError);
        const p = new HostPathProvisioner({ root });
        await assert.rejects(p.provision({ pvName: name, claim, storageClass: storageClass() }, signal), ProvisionError);
      });
    }

    it('refuses to delete a path outside the root, and leaves it alone', async () => {
      const p = new HostPathProvisioner({ root });
      const outside = join(dir, 'precious');
      await mkdir(outside, { recursive: true });
      await assert.rejects(p.delete(volumeFor('x', outside), signal), DeleteError);
      await assert.rejects(p.delete(volumeFor('x', join(root, 'a', 'b')), signal), DeleteError);
      await assert.rejects(p.delete(volumeFor('x', join(root, '..', 'precious')), signal), DeleteError);
      await assert.rejects(p.delete(volumeFor('x', root), signal), DeleteError);
      assert.ok((await stat(outside)).isDirectory());
    });
  });
});

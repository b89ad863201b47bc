// The driver state survives a restart: every change is written through, a
// fresh load rebuilds the same records, writes never leave temp files, and a
// state file that cannot be read stops the driver instead of being replaced.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DriverState, StateFileError, type VolumeRecord } from './state.ts';

function volume(id: string, name: string): VolumeRecord {
  return { id, name, kind: 'loop', path: `/x/${id}.img`, capacityBytes: 1 << 24, fsType: 'ext4', parameters: {}, createdAtMs: 1, attachments: [], publications: [] };
}

describe('driver state', () => {
  it('1: a missing file is an empty state', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'volplane-state-'));
    try {
      const state = await DriverState.load(join(dir, 'state.json'));
      assert.equal(state.volumes.size, 0);
      assert.equal(state.snapshots.size, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('2: changes written through are rebuilt by a fresh load, and no temp file remains', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'volplane-state-'));
    try {
      const file = join(dir, 'state.json');
      const state = await DriverState.load(file);
      const a = volume('a', 'pvc-a');
      state.volumes.set('a', a);
      const first = state.persist();
      a.staging = { path: '/staging/a', block: false };
      state.volumes.set('b', volume('b', 'pvc-b'));
      // Two writes racing: the later one wins on disk.
      await Promise.all([first, state.persist()]);
      state.snapshots.set('s', { id: 's', name: 'snap', sourceVolumeId: 'a', kind: 'loop', path: '/x/s.img', sizeBytes: 1, createdAtMs: 2 });
      await state.persist();
      const again = await DriverState.load(file);
      assert.deepEqual([...again.volumes.keys()].sort(), ['a', 'b']);
      assert.deepEqual(again.volumes.get('a')?.staging, { path: '/staging/a', block: false });
      assert.equal(again.volumeByName('pvc-b')?.id, 'b');
      assert.equal(again.snapshotByName('snap')?.sourceVolumeId, 'a');
      assert.deepEqual((await readdir(dir)).sort(), ['node-state.json', 'state.json']);
      // The controller's file holds no node-side records.
      const controllerFile = JSON.parse(await readFile(file, 'utf8')) as { volumes: VolumeRecord[] };
      assert.equal(controllerFile.volumes.find((v) => v.id === 'a')?.staging, undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('3: an unreadable state file is an error, not an empty state', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'volplane-state-'));
    try {
      await writeFile(join(dir, 'state.json'), '{"version": 1, "volumes": [');
      await assert.rejects(DriverState.load(join(dir, 'state.json')), StateFileError);
      await writeFile(join(dir, 'state.json'), '{"version": 7}');
      await assert.rejects(DriverState.load(join(dir, 'state.json')), StateFileError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('4: persistNode writes only the node file; a torn node file reads as nothing staged, the volumes stay', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'volplane-state-'));
    try {
      const file = join(dir, 'state.json');
      const state = await DriverState.load(file);
      const a = volume('a', 'pvc-a');
      state.volumes.set('a', a);
      await state.persist();
      const before = await readFile(file, 'utf8');
      a.staging = { path: '/staging/a', block: false };
      a.publications.push({ targetPath: '/pods/x', readonly: false, block: false });
      state.contextVolumes.set('ctx', { ...volume('ctx', 'ctx'), staging: { path: '/staging/ctx', block: false } });
      await state.persistNode();
      assert.equal(await readFile(file, 'utf8'), before, 'state.json untouched by a node-side change');
      const again = await DriverState.load(file);
      assert.deepEqual(again.volumes.get('a')?.staging, { path: '/staging/a', block: false });
      assert.equal(again.volumes.get('a')?.publications.length, 1);
      assert.deepEqual(again.contextVolumes.get('ctx')?.staging, { path: '/staging/ctx', block: false });
      await writeFile(join(dir, 'node-state.json'), '');
      const torn = await DriverState.load(file);
      assert.ok(torn.nodeFileProblem !== undefined);
      assert.equal(torn.volumes.get('a')?.staging, undefined);
      assert.equal(torn.contextVolumes.size, 0);
      assert.equal(torn.volumeByName('pvc-a')?.id, 'a');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('5: a state.json from before the split keeps its stagings until the node file exists', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'volplane-state-'));
    try {
      const file = join(dir, 'state.json');
      const old = { ...volume('a', 'pvc-a'), staging: { path: '/staging/a', block: false } };
      await writeFile(file, JSON.stringify({ version: 1, volumes: [old], snapshots: [] }));
      const state = await DriverState.load(file);
      assert.deepEqual(state.volumes.get('a')?.staging, { path: '/staging/a', block: false });
      await state.persist();
      const again = await DriverState.load(file);
      assert.deepEqual(again.volumes.get('a')?.staging, { path: '/staging/a', block: false });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

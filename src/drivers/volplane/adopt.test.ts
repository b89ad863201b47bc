// Adoption of existing image files by CreateVolume (adopt.ts), over the real
// gRPC socket and the real driver, with real images made by mkfs. Rows: A1–A4
// what is adopted and how, A5 the refusals, A6 what DeleteVolume does to an
// adopted file. Each row detaches what it attached; the suite checks that
// nothing under its temp dir is left mounted or on a loop device.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../base/index.ts';
import {
  CsiError,
  createCsiClient,
  serveCsiDriver,
  type CreateVolumeRequest,
  type CsiClient,
  type CsiServerHandle,
  type GrpcCodeName,
  type VolumeCapability,
} from '../../csi/index.ts';
import { findLeaks } from '../../testing/leak-check.ts';
import { PARAM_ADOPT_FILE } from './adopt.ts';
import { createVolplaneDriver, type VolplaneDriver } from './index.ts';

const MiB = 1024 * 1024;
const MOUNT: VolumeCapability = { mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
const isRoot = process.getuid?.() === 0;

describe('volplane driver: adopting an existing image (CreateVolume volplane.io/adopt-file)', { skip: isRoot ? false : 'needs root (mkfs on loop devices, mounts)' }, () => {
  let dir: string;
  let driver: VolplaneDriver;
  let server: CsiServerHandle;
  let client: CsiClient;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'volplane-adopt-'));
    await mkdir(join(dir, 'images'));
    driver = await createVolplaneDriver({ nodeId: 'node-a', dataDir: join(dir, 'data'), attachRequired: false, logger: silentLogger() });
    const endpoint = `unix://${join(dir, 'csi.sock')}`;
    server = await serveCsiDriver({ endpoint, identity: driver.identity, controller: driver.controller, node: driver.node, logger: silentLogger() });
    client = createCsiClient(endpoint);
  });

  after(async () => {
    client.close();
    await server.close();
    await driver.dispose();
    const leaks = (await findLeaks()).filter((l) => l.includes(dir));
    await rm(dir, { recursive: true, force: true });
    assert.deepEqual(leaks, [], 'left mounted or attached');
  });

  const image = async (name: string, fs: 'ext4' | 'blank' | 'garbage', sizeMiB = 32): Promise<string> => {
    const file = join(dir, 'images', `${name}.img`);
    execFileSync('truncate', ['-s', `${sizeMiB}M`, file]);
    if (fs === 'ext4') execFileSync('mkfs.ext4', ['-q', '-F', '-m', '0', file]);
    if (fs === 'garbage') await writeFile(file, Buffer.alloc(64 * 1024, 0xab), { flag: 'r+' });
    return file;
  };
  const adopt = (name: string, file: string, extra: Partial<CreateVolumeRequest> = {}, params: Record<string, string> = {}) =>
    client.controller.CreateVolume({ name, volume_capabilities: [MOUNT], ...extra, parameters: { [PARAM_ADOPT_FILE]: file, ...params } });

  it('A1: an ext4 image is adopted in place with its size and filesystem, and repeating the call returns the same volume', async () => {
    const file = await image('a1', 'ext4');
    const first = (await adopt('a1', file)).volume;
    assert.equal(first.capacity_bytes, 32 * MiB);
    assert.equal(first.volume_context?.['volplane.io/fsType'], 'ext4');
    assert.equal(first.volume_context?.['volplane.io/kind'], 'loop');
    const again = (await adopt('a1', file)).volume;
    assert.equal(again.volume_id, first.volume_id);
    const record = driver.state.volumes.get(first.volume_id);
    assert.equal(record?.path, file, 'the file is not moved');
    assert.equal((await stat(file)).size, 32 * MiB);
  });

  it('A2: data written to the image before adoption is seen after staging and publishing it', async () => {
    const file = await image('a2', 'ext4');
    const mnt = join(dir, 'pre');
    await mkdir(mnt);
    execFileSync('mount', ['-o', 'loop', file, mnt]);
    try {
      await writeFile(join(mnt, 'hello.txt'), 'from before\n');
    } finally {
      execFileSync('umount', ['-d', mnt]);
    }
    const vol = (await adopt('a2', file)).volume;
    const staging = join(dir, 'staging-a2');
    const target = join(dir, 'target-a2');
    const cap: VolumeCapability = { mount: { fs_type: 'ext4' }, access_mode: { mode: 'SINGLE_NODE_WRITER' } };
    await client.node.NodeStageVolume({ volume_id: vol.volume_id, staging_target_path: staging, volume_capability: cap });
    try {
      await client.node.NodePublishVolume({ volume_id: vol.volume_id, staging_target_path: staging, target_path: target, volume_capability: cap, readonly: false });
      try {
        assert.equal(await readFile(join(target, 'hello.txt'), 'utf8'), 'from before\n');
      } finally {
        await client.node.NodeUnpublishVolume({ volume_id: vol.volume_id, target_path: target });
      }
    } finally {
      await client.node.NodeUnstageVolume({ volume_id: vol.volume_id, staging_target_path: staging });
    }
  });

  it('A3: a file that was never written is adopted blank, with the requested filesystem for its first stage', async () => {
    const file = await image('a3', 'blank');
    const vol = (await adopt('a3', file, {}, { 'csi.storage.k8s.io/fstype': 'ext4' })).volume;
    assert.equal(vol.volume_context?.['volplane.io/fsType'], 'ext4');
  });

  it('A4: a capacity range the file satisfies is accepted', async () => {
    const file = await image('a4', 'ext4');
    const vol = (await adopt('a4', file, { capacity_range: { required_bytes: 16 * MiB, limit_bytes: 64 * MiB } })).volume;
    assert.equal(vol.capacity_bytes, 32 * MiB);
  });

  const refusals: { name: string; code: GrpcCodeName; setup: () => Promise<{ req: () => Promise<unknown>; cleanup?: () => void }> }[] = [
    { name: 'a missing file is NOT_FOUND', code: 'NOT_FOUND', setup: async () => ({ req: () => adopt('r1', join(dir, 'images', 'nope.img')) }) },
    { name: 'a relative path is INVALID_ARGUMENT', code: 'INVALID_ARGUMENT', setup: async () => ({ req: () => adopt('r2', 'images/x.img') }) },
    {
      name: 'a symbolic link is INVALID_ARGUMENT',
      code: 'INVALID_ARGUMENT',
      setup: async () => {
        const file = await image('r3-target', 'ext4');
        const link = join(dir, 'images', 'r3.img');
        await symlink(file, link);
        return { req: () => adopt('r3', link) };
      },
    },
    {
      name: 'data without a filesystem is INVALID_ARGUMENT (no arbitrary file is taken over)',
      code: 'INVALID_ARGUMENT',
      setup: async () => {
        const file = await image('r4', 'garbage');
        return { req: () => adopt('r4', file) };
      },
    },
    {
      name: 'a file on a loop device (still attached by its old driver) is FAILED_PRECONDITION',
      code: 'FAILED_PRECONDITION',
      setup: async () => {
        const file = await image('r5', 'ext4');
        const device = execFileSync('losetup', ['--find', '--show', file], { encoding: 'utf8' }).trim();
        return { req: () => adopt('r5', file), cleanup: () => execFileSync('losetup', ['-d', device]) };
      },
    },
    {
      name: 'a file inside the driver data dir is INVALID_ARGUMENT',
      code: 'INVALID_ARGUMENT',
      setup: async () => {
        const file = join(dir, 'data', 'r6.img');
        execFileSync('truncate', ['-s', '32M', file]);
        execFileSync('mkfs.ext4', ['-q', '-F', file]);
        return { req: () => adopt('r6', file) };
      },
    },
    {
      name: 'a file that belongs to another volume is ALREADY_EXISTS',
      code: 'ALREADY_EXISTS',
      setup: async () => ({ req: () => adopt('r7', join(dir, 'images', 'a1.img')) }),
    },
    {
      name: 'a name that holds another file is ALREADY_EXISTS',
      code: 'ALREADY_EXISTS',
      setup: async () => {
        const file = await image('r8', 'ext4');
        return { req: () => adopt('a1', file) };
      },
    },
    {
      name: 'asking for another filesystem than the file holds is INVALID_ARGUMENT',
      code: 'INVALID_ARGUMENT',
      setup: async () => {
        const file = await image('r9', 'ext4');
        return { req: () => adopt('r9', file, { volume_capabilities: [{ mount: { fs_type: 'xfs' }, access_mode: { mode: 'SINGLE_NODE_WRITER' } }] }) };
      },
    },
    {
      name: 'kind directory is INVALID_ARGUMENT',
      code: 'INVALID_ARGUMENT',
      setup: async () => {
        const file = await image('r10', 'ext4');
        return { req: () => adopt('r10', file, {}, { kind: 'directory' }) };
      },
    },
    {
      name: 'a required capacity above the file size is OUT_OF_RANGE (an adopted file is not resized)',
      code: 'OUT_OF_RANGE',
      setup: async () => {
        const file = await image('r11', 'ext4');
        return { req: () => adopt('r11', file, { capacity_range: { required_bytes: 64 * MiB } }) };
      },
    },
  ];
  for (const row of refusals) {
    it(`A5: ${row.name}`, async () => {
      const before = driver.state.volumes.size;
      const { req, cleanup } = await row.setup();
      try {
        await assert.rejects(req(), (err: unknown) => err instanceof CsiError && err.codeName === row.code);
      } finally {
        cleanup?.();
      }
      assert.equal(driver.state.volumes.size, before, 'nothing recorded');
    });
  }

  it('A6: DeleteVolume of an adopted volume removes its file: from adoption on, the file is the driver\'s', async () => {
    const file = await image('a6', 'ext4');
    const vol = (await adopt('a6', file)).volume;
    await client.controller.DeleteVolume({ volume_id: vol.volume_id });
    await assert.rejects(stat(file), { code: 'ENOENT' });
  });
});

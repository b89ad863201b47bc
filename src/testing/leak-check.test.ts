import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findLeaks, isOurs } from './leak-check.ts';

const execFileAsync = promisify(execFile);
const exec = async (file: string, args: string[]): Promise<string> => (await execFileAsync(file, args, { encoding: 'utf8' })).stdout;

test('isOurs', async (t) => {
  const rows: { name: string; line: string; want: boolean }[] = [
    { name: 'anything under a volplane directory', line: '/tmp/volplane-test-Ab12/data/staging/pv-1', want: true },
    { name: 'the default data directory, any case', line: '/var/lib/VolPlane/x', want: true },
    {
      name: 'a pod volume directory',
      line: '/var/lib/kubelet/pods/0c9d1c4e-8f2a-4b9e-9d0e-5a1b2c3d4e5f/volumes/kubernetes.io~csi/pv-1/mount',
      want: true,
    },
    { name: 'a kubelet plugin directory', line: '/var/lib/kubelet/plugins/kubernetes.io/csi/pv/x/globalmount', want: true },
    { name: 'a loop device backed by a volplane image', line: '/dev/loop3: []: (/var/lib/volplane/disks/pv-1.img)', want: true },
    { name: 'system mounts are not ours', line: '/proc', want: false },
    { name: 'a pods directory without a uid is not ours', line: '/srv/pods/cache/volumes', want: false },
    { name: 'an unrelated loop device is not ours', line: '/dev/loop0: []: (/var/lib/snapd/snaps/core.snap)', want: false },
  ];
  for (const row of rows) await t.test(row.name, () => assert.equal(isOurs(row.line), row.want));
});

const isRoot = process.getuid?.() === 0;

test('findLeaks sees a mount and a loop device of ours, and not after cleanup', { skip: !isRoot && 'needs root to mount' }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'volplane-leak-test-'));
  const target = join(dir, 'mnt');
  const image = join(dir, 'disk.img');
  await mkdir(target);
  await writeFile(image, Buffer.alloc(0));
  await truncate(image, 1024 * 1024);
  let mounted = false;
  let loop: string | undefined;
  t.after(async () => {
    if (mounted) await exec('umount', [target]);
    if (loop !== undefined) await exec('losetup', ['-d', loop]);
    await rm(dir, { recursive: true, force: true });
  });

  await exec('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'volplane-leak-test', target]);
  mounted = true;
  loop = (await exec('losetup', ['--find', '--show', image])).trim();

  const leaks = await findLeaks();
  assert.ok(leaks.includes(`mount: ${target}`), `mount missing from ${JSON.stringify(leaks)}`);
  assert.ok(leaks.some((l) => l.startsWith(`loop: ${loop}:`) && l.includes(image)), `loop missing from ${JSON.stringify(leaks)}`);

  await exec('umount', [target]);
  mounted = false;
  await exec('losetup', ['-d', loop]);
  const detached = loop;
  loop = undefined;
  const after = await findLeaks();
  assert.ok(!after.some((l) => l.includes(target) || l.includes(image) || l.startsWith(`loop: ${detached}:`)), JSON.stringify(after));
});

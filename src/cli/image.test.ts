import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile, copyFile, chmod, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const MAIN = resolve(import.meta.dirname, 'main.ts');
let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'volplane-image-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code: code ?? 1, stdout, stderr }));
  });
}

test('image 1: import a root filesystem directory, then list it', { skip: !existsSync('/usr/bin/busybox') && 'needs /usr/bin/busybox' }, async () => {
  const rootfs = join(dir, 'rootfs');
  await mkdir(join(rootfs, 'bin'), { recursive: true });
  await copyFile('/usr/bin/busybox', join(rootfs, 'bin', 'busybox'));
  await chmod(join(rootfs, 'bin', 'busybox'), 0o755);
  await symlink('busybox', join(rootfs, 'bin', 'sh'));
  await writeFile(join(rootfs, 'hello.txt'), 'from my image\n');
  const nodeRoot = join(dir, 'node');
  const imported = await run(['image', 'import', 'example.com/tools:1.0', rootfs, '--root', nodeRoot]);
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, /image example.com\/tools:1.0 imported/);
  const listed = await run(['image', 'list', '--root', nodeRoot]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /example\.com\/tools:1\.0/);
});

const usage: { name: string; args: string[] }[] = [
  { name: 'image 2: no verb is a usage error', args: ['image'] },
  { name: 'image 3: import without a source is a usage error', args: ['image', 'import', 'x'] },
  { name: 'image 4: an unknown flag is a usage error', args: ['image', 'list', '--nope'] },
];
for (const row of usage) {
  test(row.name, async () => {
    const r = await run([...row.args, '--root', join(dir, 'unused')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Usage: volplane image/);
  });
}

test('image 5: a missing source fails with a clear message', async () => {
  const r = await run(['image', 'import', 'nothing', join(dir, 'does-not-exist'), '--root', join(dir, 'node2')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /importing nothing from/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../base/index.ts';
import { ImageNotFoundError } from './types.ts';
import { InvalidImageReferenceError, createImageStore, parseImageReference } from './image-store.ts';

test('parseImageReference normalises Docker Hub names', () => {
  const rows: [string, string, { name: string; tag: string }][] = [
    ['bare name is latest', 'busybox', { name: 'busybox', tag: 'latest' }],
    ['tag kept', 'busybox:1.36', { name: 'busybox', tag: '1.36' }],
    ['docker.io/library prefix dropped', 'docker.io/library/busybox:1.36', { name: 'busybox', tag: '1.36' }],
    ['library/ prefix dropped', 'library/busybox', { name: 'busybox', tag: 'latest' }],
    ['digest ignored', 'busybox@sha256:abc', { name: 'busybox', tag: 'latest' }],
    ['registry with port', 'localhost:5000/team/app:v1', { name: 'localhost:5000/team/app', tag: 'v1' }],
    ['other registry kept', 'registry.k8s.io/pause:3.9', { name: 'registry.k8s.io/pause', tag: '3.9' }],
    ['user repo on docker hub', 'e2eteam/dnsutils:1.1', { name: 'e2eteam/dnsutils', tag: '1.1' }],
  ];
  for (const [name, image, want] of rows) assert.deepEqual(parseImageReference(image), want, name);
  for (const bad of ['', 'UPPER', '../etc', 'a/../b', 'busybox:bad/tag']) {
    assert.throws(() => parseImageReference(bad), InvalidImageReferenceError, bad);
  }
});

function store(): { dir: string; images: ReturnType<typeof createImageStore>; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'volplane-images-'));
  const images = createImageStore({ dir: join(dir, 'images'), busyboxPath: '/usr/bin/busybox', logger: silentLogger() });
  return { dir, images, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}

test('busybox is built on first use, for any tag and spelling', { skip: !existsSync('/usr/bin/busybox') }, () => {
  const s = store();
  try {
    assert.deepEqual(s.images.list(), [], 'nothing before first use');
    assert.equal(s.images.has('docker.io/library/busybox:1.36'), true);
    const rootfs = s.images.rootfs('busybox');
    assert.equal(rootfs, join(s.dir, 'images/busybox/latest/rootfs'));
    assert.ok(statSync(join(rootfs, 'bin/busybox')).isFile(), 'busybox binary copied');
    assert.equal(readlinkSync(join(rootfs, 'bin/sh')), 'busybox', '/bin/sh is an applet link');
    assert.ok(lstatSync(join(rootfs, 'bin/sleep')).isSymbolicLink(), 'applets in /bin');
    assert.equal(statSync(join(rootfs, 'tmp')).mode & 0o7777, 0o1777, '/tmp is sticky and world-writable');
    for (const d of ['proc', 'dev', 'sys']) assert.ok(statSync(join(rootfs, d)).isDirectory(), `/${d}`);
    assert.match(readFileSync(join(rootfs, 'etc/passwd'), 'utf8'), /^root:x:0:0:/);
    for (const f of ['etc/group', 'etc/hosts', 'etc/hostname', 'etc/resolv.conf']) assert.ok(existsSync(join(rootfs, f)), f);
    assert.equal(readFileSync(join(rootfs, 'etc/resolv.conf'), 'utf8'), '');
    // A shell in the image really works.
    assert.equal(execFileSync('/usr/sbin/chroot', [rootfs, '/bin/sh', '-c', 'echo $((6*7))'], { encoding: 'utf8' }), '42\n');
    s.images.rootfs('docker.io/library/busybox:1.36');
    assert.deepEqual(s.images.list(), ['busybox:1.36', 'busybox:latest']);
  } finally {
    s.dispose();
  }
});

test('an unknown image is not found', () => {
  const s = store();
  try {
    assert.equal(s.images.has('nginx'), false);
    assert.throws(() => s.images.rootfs('nginx:1.25'), ImageNotFoundError);
    assert.throws(() => s.images.rootfs('not a reference'), ImageNotFoundError);
  } finally {
    s.dispose();
  }
});

test('import takes a directory or a tarball', () => {
  const s = store();
  const src = join(s.dir, 'src');
  mkdirSync(join(src, 'etc'), { recursive: true });
  writeFileSync(join(src, 'etc/os-release'), 'ID=test\n');
  execFileSync('tar', ['-czf', join(s.dir, 'img.tar.gz'), '-C', src, '.']);
  const rows: [string, string, string][] = [
    ['from a directory', 'example.com/dir-image:v1', src],
    ['from a tar.gz', 'e2eteam/dnsutils:1.1', join(s.dir, 'img.tar.gz')],
  ];
  return (async () => {
    try {
      for (const [name, image, source] of rows) {
        await s.images.import(image, source);
        assert.equal(s.images.has(image), true, name);
        assert.equal(readFileSync(join(s.images.rootfs(image), 'etc/os-release'), 'utf8'), 'ID=test\n', name);
      }
      // Importing again replaces the image.
      writeFileSync(join(src, 'etc/os-release'), 'ID=again\n');
      await s.images.import('example.com/dir-image:v1', src);
      assert.equal(readFileSync(join(s.images.rootfs('example.com/dir-image:v1'), 'etc/os-release'), 'utf8'), 'ID=again\n');
      assert.deepEqual(s.images.list(), ['e2eteam/dnsutils:1.1', 'example.com/dir-image:v1']);
    } finally {
      s.dispose();
    }
  })();
});

// The node's local image store: one root filesystem directory per image
// name and tag, `<root>/images/<name>/<tag>/rootfs`. There is no registry:
// `busybox` (any tag, any docker.io spelling) is built on first use from the
// host's static busybox, and anything else arrives through `import` from a
// directory or a tarball. Containers never write here; they get an overlay
// (or a private copy) on top of the rootfs.
//
// Every image appears atomically: it is assembled in a temporary sibling and
// renamed into place, so a crash mid-build leaves no half image behind.

import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { execFileSync } from 'node:child_process';
import { posix } from 'node:path';
import type { Logger } from '../../base/index.ts';
import { ImageNotFoundError, type ImageStore } from './types.ts';
import { findTool, runTool } from './host.ts';

export interface ImageReference {
  /** Repository path without the docker.io/library prefix, e.g. `busybox`, `registry.k8s.io/pause`. */
  name: string;
  tag: string;
}

export class InvalidImageReferenceError extends Error {
  override readonly name = 'InvalidImageReferenceError';
  readonly image: string;
  constructor(image: string, why: string) {
    super(`invalid image reference "${image}": ${why}`);
    this.image = image;
  }
}

const COMPONENT = /^[a-z0-9][a-z0-9._-]*(:[0-9]+)?$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;

/**
 * Normalises an image reference the way Docker Hub names work: `busybox`,
 * `library/busybox`, `docker.io/library/busybox:1.36` are all `busybox`;
 * a missing tag is `latest`; a digest is ignored (there is one copy per tag).
 */
export function parseImageReference(image: string): ImageReference {
  let rest = image.trim();
  const at = rest.indexOf('@');
  if (at >= 0) rest = rest.slice(0, at);
  let tag = 'latest';
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  for (const prefix of ['docker.io/', 'index.docker.io/', 'registry-1.docker.io/']) {
    if (rest.startsWith(prefix)) {
      rest = rest.slice(prefix.length);
      break;
    }
  }
  if (rest.startsWith('library/') && rest.split('/').length === 2) rest = rest.slice('library/'.length);
  if (rest === '') throw new InvalidImageReferenceError(image, 'empty name');
  const parts = rest.split('/');
  if (!parts.every((p) => COMPONENT.test(p) && p !== '..')) throw new InvalidImageReferenceError(image, 'bad name component');
  if (!TAG.test(tag)) throw new InvalidImageReferenceError(image, 'bad tag');
  return { name: rest, tag };
}

export interface ImageStoreOptions {
  /** `<node root>/images`. */
  dir: string;
  /** The static busybox that `busybox` images are built from. */
  busyboxPath: string;
  logger: Logger;
}

export function createImageStore(options: ImageStoreOptions): ImageStore {
  const { dir, busyboxPath, logger } = options;
  mkdirSync(dir, { recursive: true });

  const rootfsOf = (ref: ImageReference): string => posix.join(dir, ref.name, ref.tag, 'rootfs');
  const canBuildBusybox = (ref: ImageReference): boolean => ref.name === 'busybox' && existsSync(busyboxPath);

  const resolve = (image: string): ImageReference | undefined => {
    try {
      return parseImageReference(image);
    } catch {
      return undefined;
    }
  };

  return {
    has(image) {
      const ref = resolve(image);
      if (ref === undefined) return false;
      return existsSync(rootfsOf(ref)) || canBuildBusybox(ref);
    },

    rootfs(image) {
      const ref = resolve(image);
      if (ref === undefined) throw new ImageNotFoundError(image);
      const rootfs = rootfsOf(ref);
      if (existsSync(rootfs)) return rootfs;
      if (!canBuildBusybox(ref)) throw new ImageNotFoundError(image);
      buildBusyboxRootfs(rootfs, busyboxPath);
      logger.info({ image, rootfs }, 'built busybox image from the host binary');
      return rootfs;
    },

    async import(name, source) {
      const ref = parseImageReference(name);
      const target = rootfsOf(ref);
      const tmp = `${target}.import-${randomBytes(6).toString('hex')}`;
      mkdirSync(tmp, { recursive: true });
      try {
        if (statSync(source).isDirectory()) {
          await runTool(findTool('cp'), ['-a', '--', source.replace(/\/$/, '') + '/.', tmp + '/']);
        } else {
          // GNU tar detects gzip/xz/zstd on its own with -x.
          await runTool(findTool('tar'), ['-xf', source, '-C', tmp, '--numeric-owner']);
        }
        // Replace a previous copy of the same tag: move it aside first so the
        // name never points at a half-removed tree.
        if (existsSync(target)) {
          const old = `${target}.old-${randomBytes(6).toString('hex')}`;
          renameSync(target, old);
          renameSync(tmp, target);
          rmSync(old, { recursive: true, force: true });
        } else {
          renameSync(tmp, target);
        }
        logger.info({ image: `${ref.name}:${ref.tag}`, source }, 'imported image');
      } catch (err) {
        rmSync(tmp, { recursive: true, force: true });
        throw err;
      }
    },

    list() {
      const out: string[] = [];
      const walk = (rel: string): void => {
        let entries: string[];
        try {
          entries = readdirSync(posix.join(dir, rel));
        } catch {
          return;
        }
        for (const entry of entries) {
          const sub = rel === '' ? entry : `${rel}/${entry}`;
          if (existsSync(posix.join(dir, sub, 'rootfs')) && rel !== '') out.push(`${rel}:${entry}`);
          else if (!entry.includes('.import-') && !entry.includes('.old-')) walk(sub);
        }
      };
      walk('');
      return out.sort();
    },
  };
}

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n';
const GROUP = 'root:x:0:\nnobody:x:65534:\n';
const HOSTS = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';

/** Assembles a busybox root filesystem next to `rootfs` and renames it into place. */
function buildBusyboxRootfs(rootfs: string, busyboxPath: string): void {
  const tmp = `${rootfs}.import-${randomBytes(6).toString('hex')}`;
  try {
    for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'root', 'home', 'var', 'proc', 'dev', 'sys', 'run']) {
      mkdirSync(posix.join(tmp, d), { recursive: true, mode: 0o755 });
    }
    mkdirSync(posix.join(tmp, 'tmp'));
    chmodSync(posix.join(tmp, 'tmp'), 0o1777);
    chmodSync(posix.join(tmp, 'root'), 0o700);
    // A copy, not a hard link: nothing a container does can then reach the host's binary.
    copyFileSync(busyboxPath, posix.join(tmp, 'bin/busybox'));
    chmodSync(posix.join(tmp, 'bin/busybox'), 0o755);
    const applets = execFileSync(busyboxPath, ['--list-full'], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.includes('..'));
    const placed = new Set<string>(['bin/busybox']);
    for (const applet of applets) {
      // Every applet also goes to /bin, the one directory every PATH has.
      for (const rel of [applet, `bin/${posix.basename(applet)}`]) {
        if (placed.has(rel)) continue;
        placed.add(rel);
        mkdirSync(posix.join(tmp, posix.dirname(rel)), { recursive: true });
        symlinkSync(posix.relative(posix.dirname(posix.join('/', rel)), '/bin/busybox'), posix.join(tmp, rel));
      }
    }
    if (!placed.has('bin/sh')) symlinkSync('busybox', posix.join(tmp, 'bin/sh'));
    writeFileSync(posix.join(tmp, 'etc/passwd'), PASSWD);
    writeFileSync(posix.join(tmp, 'etc/group'), GROUP);
    writeFileSync(posix.join(tmp, 'etc/hosts'), HOSTS);
    writeFileSync(posix.join(tmp, 'etc/hostname'), 'localhost\n');
    writeFileSync(posix.join(tmp, 'etc/resolv.conf'), '');
    mkdirSync(posix.dirname(rootfs), { recursive: true });
    renameSync(tmp, rootfs);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    // Another runtime on the same root may have won the race; its copy is as good as ours.
    if (existsSync(rootfs)) return;
    throw err;
  }
}

// `volplane image import NAME SOURCE [--root DIR]` and `volplane image list [--root DIR]`:
// the node's local image store. SOURCE is a directory or a tar(.gz) holding a root
// filesystem; pods then run it as `image: NAME`. The default root is the in-process
// node of `volplane up` (`<default data dir>/node`).

import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../base/index.ts';
import { createImageStore } from '../kubelet/runtime/index.ts';
import { defaultDataDir } from './data-dir.ts';

export const IMAGE_USAGE = `Usage: volplane image import NAME SOURCE [--root DIR]
       volplane image list [--root DIR]

  NAME     an image reference, e.g. nginx or registry.example/app:1.2 (the tag defaults to latest)
  SOURCE   a directory or a .tar / .tar.gz of a root filesystem
  --root   the node's root (default: ${join(defaultDataDir(), 'node')})
`;

/** Runs the image command; returns the exit code (2 for usage errors). */
export async function runImageCommand(argv: readonly string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: { root: { type: 'string' } } });
  } catch (err) {
    process.stderr.write(`volplane image: ${(err as Error).message}\n${IMAGE_USAGE}`);
    return 2;
  }
  const [verb, ...rest] = parsed.positionals;
  const root = resolve(parsed.values.root ?? join(defaultDataDir(), 'node'));
  const store = createImageStore({ dir: join(root, 'images'), busyboxPath: '/usr/bin/busybox', logger: createLogger({ level: 'warn' }) });
  if (verb === 'list' && rest.length === 0) {
    for (const name of store.list()) process.stdout.write(`${name}\n`);
    return 0;
  }
  if (verb === 'import' && rest.length === 2) {
    const [name, source] = rest;
    try {
      await store.import(name, resolve(source));
    } catch (err) {
      process.stderr.write(`volplane image: importing ${name} from ${source}: ${(err as Error).message}\n`);
      return 1;
    }
    process.stdout.write(`image ${name} imported into ${join(root, 'images')}\n`);
    return 0;
  }
  process.stderr.write(IMAGE_USAGE);
  return 2;
}

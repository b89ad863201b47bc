// Whole-file writes for credentials: readers see the old file or the new one,
// never a half-written key or kubeconfig.

import { randomBytes } from 'node:crypto';
import { chmod, rename, rm, writeFile } from 'node:fs/promises';

/**
 * Writes `data` to `path` through a temporary file and a rename, so readers see the old or
 * the new content, never half of it; the mode is set at creation, so a key is never readable
 * by others even for a moment.
 */
export async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    await chmod(tmp, mode); // the umask applies at creation; make the mode exact
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

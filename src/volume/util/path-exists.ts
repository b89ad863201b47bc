// One question the volume plugins and provisioners ask before set-up and
// teardown steps: is there anything at this path? Only "not there" (ENOENT)
// is an answer of no; any other failure (EACCES, EIO, a stale mount) is an
// error the caller must see, not a reason to skip a step.
import { stat } from 'node:fs/promises';

/** Whether `path` exists (following links); rejects on errors other than ENOENT. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

// fsGroup: making a volume's files usable by the pod's supplemental group,
// as upstream's SetVolumeOwnership does. Every file and directory gets the
// group; files gain group read (and write unless the volume is read-only),
// directories also gain setgid and group execute so new files inherit the
// group. Symlinks are re-grouped but never chmod'ed (that would follow them).

import { chmod, lchown, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

const RW_MASK = 0o660;
const RO_MASK = 0o440;
const EXEC_MASK = 0o110;
const SETGID = 0o2000;

/** Applies fsGroup to `dir` and everything below it. A no-op without fsGroup. */
export async function setVolumeOwnership(dir: string, fsGroup: number | undefined, readOnly: boolean): Promise<void> {
  if (fsGroup === undefined) return;
  const visit = async (path: string): Promise<void> => {
    const st = await lstat(path);
    await lchown(path, -1, fsGroup);
    if (st.isSymbolicLink()) return;
    let mask = readOnly ? RO_MASK : RW_MASK;
    if (st.isDirectory()) mask |= SETGID | EXEC_MASK;
    await chmod(path, (st.mode & 0o7777) | mask);
    if (st.isDirectory()) {
      for (const name of await readdir(path)) await visit(join(path, name));
    }
  };
  await visit(dir);
}

// fsGroup: making a volume's files usable by the pod's supplemental group,
// as upstream's SetVolumeOwnership does. Every file and directory gets the
// group; files gain group read (and write unless the volume is read-only),
// directories also gain setgid and group execute so new files inherit the
// group. Symlinks are re-grouped but never chmod'ed (that would follow them).
//
// The pod's `securityContext.fsGroupChangePolicy` decides whether the walk
// happens at all: `Always` (the default) walks every time the volume is set
// up; `OnRootMismatch` skips it when the volume's root already has the group,
// setgid and the group permissions the walk would give it — upstream's
// requiresPermissionChange — so a large volume is not re-walked on every
// mount.

import { chmod, lchown, lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

const RW_MASK = 0o660;
const RO_MASK = 0o440;
const EXEC_MASK = 0o110;
const SETGID = 0o2000;

export type FsGroupChangePolicy = 'Always' | 'OnRootMismatch';

/** Whether the root of a volume lacks the group, setgid or group permissions fsGroup asks for. */
export async function requiresPermissionChange(dir: string, fsGroup: number, readOnly: boolean): Promise<boolean> {
  const st = await lstat(dir);
  if (st.gid !== fsGroup) return true;
  if (!st.isDirectory()) return (st.mode & (readOnly ? RO_MASK : RW_MASK)) !== (readOnly ? RO_MASK : RW_MASK);
  if ((st.mode & SETGID) === 0) return true;
  const wanted = (readOnly ? RO_MASK : RW_MASK) | EXEC_MASK;
  return (st.mode & wanted) !== wanted;
}

/**
 * Applies fsGroup to `dir` and everything below it. A no-op without fsGroup,
 * and with policy `OnRootMismatch` when the root already matches.
 */
export async function setVolumeOwnership(dir: string, fsGroup: number | undefined, readOnly: boolean, policy: FsGroupChangePolicy = 'Always'): Promise<void> {
  if (fsGroup === undefined) return;
  if (policy === 'OnRootMismatch' && !(await requiresPermissionChange(dir, fsGroup, readOnly))) return;
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

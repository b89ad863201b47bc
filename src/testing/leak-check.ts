// Finds what volplane (or a test) left mounted or attached on this machine.
// The patterns are the ones the project's before-stop hook uses: anything with
// "volplane" in its path, a pod volume directory (/pods/<uid>/volumes) and the
// kubelet plugin directories (plugins/kubernetes.io).
//
// A missing tool (findmnt, losetup) is not a leak: that source is skipped.

import { execFile, execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';

const OURS = /volplane|\/pods\/[0-9a-f-]{36}\/volumes|plugins\/kubernetes\.io/i;

/** Whether a mount target or a `losetup -a` line looks like something of ours. */
export function isOurs(line: string): boolean {
  return OURS.test(line);
}

/** Mount targets and loop devices of ours, e.g. `mount: /tmp/volplane-test-x/…` and `loop: /dev/loop3: […]`. */
export async function findLeaks(): Promise<string[]> {
  const [mounts, loops] = await Promise.all([
    run('findmnt', ['-rn', '-o', 'TARGET']),
    run('losetup', ['-a']),
  ]);
  return [
    ...lines(mounts).filter(isOurs).map((target) => `mount: ${target}`),
    ...lines(loops).filter(isOurs).map((device) => `loop: ${device}`),
  ];
}

/**
 * The leaks (as findLeaks words them) whose line names `dir`, undone before
 * they are returned: mounts lazily unmounted, innermost first, then loop
 * devices detached. A failed row or benchmark must not leave the machine
 * dirty, yet the caller still reports what it found.
 */
export async function undoLeaksUnder(dir: string): Promise<string[]> {
  const leaks = (await findLeaks()).filter((l) => l.includes(dir));
  for (const leak of leaks.filter((l) => l.startsWith('mount: ')).reverse()) {
    try {
      execFileSync('umount', ['-l', leak.slice('mount: '.length)]);
    } catch {
      // best effort; the leak is reported either way
    }
  }
  for (const leak of leaks.filter((l) => l.startsWith('loop: '))) {
    try {
      execFileSync('losetup', ['-d', leak.slice('loop: '.length).split(':')[0]!]);
    } catch {
      // best effort
    }
  }
  return leaks;
}

function lines(text: string | undefined): string[] {
  return (text ?? '').split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

/** stdout of the command, or undefined when it is not installed. Other failures are errors. */
function run(file: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: 'utf8', timeout: 10_000 }, (err, stdout) => {
      if (err === null) resolve(stdout);
      else if ((err as NodeJS.ErrnoException).code === 'ENOENT') resolve(undefined);
      else reject(new Error(`${file} ${args.join(' ')} failed: ${err.message}`, { cause: err }));
    });
  });
}

/** A mount from this process's mount table: where it is, and which directory of its filesystem it shows. */
export interface MountRow {
  target: string;
  /** The mounted filesystem's directory shown at `target` (a bind mount's source within its filesystem). */
  fsroot: string;
}

/** Undoes mountinfo's octal escapes (`\040` for a space). */
const unescapeMountinfo = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));

/** Mounts at or below `dir`, from /proc/self/mountinfo (none where there is no such file). */
export async function mountsBelow(dir: string): Promise<MountRow[]> {
  let info: string;
  try {
    info = await readFile('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  // Fields: id, parent id, major:minor, root, mount point, ...
  return info
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const fields = line.split(' ');
      return { target: unescapeMountinfo(fields[4] ?? ''), fsroot: unescapeMountinfo(fields[3] ?? '') };
    })
    .filter((m) => m.target === dir || m.target.startsWith(`${dir}/`));
}

/** The targets of mountsBelow(dir). */
export async function mountTargetsBelow(dir: string): Promise<string[]> {
  return (await mountsBelow(dir)).map((m) => m.target);
}

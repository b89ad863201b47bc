// Host-facing helpers of the runtime: process identity from /proc, locating
// host tools, running a tool with an argv array, and resolving a path inside
// a container root without letting a symlink in the image or in a volume
// lead outside it. Kept apart so the runtime's decisions read without them.

import { execFile } from 'node:child_process';
import { accessSync, constants, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';

/** A process as the kernel identifies it across pid reuse: pid plus start time in clock ticks. */
export interface ProcessIdentity {
  pid: number;
  startTime: number;
}

/** Field 22 of /proc/<pid>/stat (start time since boot, in clock ticks); undefined when gone or a zombie. */
export function processStartTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may contain spaces; fields after it are plain.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
  const start = Number(rest[19]);
  return Number.isFinite(start) ? start : undefined;
}

/**
 * The argv of a process (from /proc/<pid>/cmdline); undefined when it is
 * gone. Empty for a zombie, and for a process in the middle of an execve
 * (its new memory is in place, its arguments not yet).
 */
export function processArgv(pid: number): string[] | undefined {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
  if (raw === '') return [];
  return (raw.endsWith('\0') ? raw.slice(0, -1) : raw).split('\0');
}

/** Whether the very process `p` names still runs (a recycled pid does not count). */
export function isAlive(p: ProcessIdentity | undefined): boolean {
  if (p === undefined) return false;
  return processStartTime(p.pid) === p.startTime;
}

/** Sends `sig` to `p` if it is still that process; false when it was gone. */
export function signalProcess(p: ProcessIdentity, sig: NodeJS.Signals): boolean {
  if (!isAlive(p)) return false;
  try {
    process.kill(p.pid, sig);
    return true;
  } catch {
    return false;
  }
}

export class HostToolNotFoundError extends Error {
  override readonly name = 'HostToolNotFoundError';
  readonly tool: string;
  constructor(tool: string) {
    super(`host tool "${tool}" not found in PATH or the usual system directories`);
    this.tool = tool;
  }
}

/** Absolute path of a host executable; the kubelet may run with a thin PATH, so system dirs are tried too. */
export function findTool(name: string): string {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = posix.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next directory
    }
  }
  throw new HostToolNotFoundError(name);
}

export class HostCommandError extends Error {
  override readonly name = 'HostCommandError';
  readonly file: string;
  readonly args: readonly string[];
  readonly stderr: string;
  constructor(file: string, args: readonly string[], stderr: string, cause: unknown) {
    super(`${file} ${args.join(' ')} failed: ${stderr.trim() || String(cause)}`, { cause });
    this.file = file;
    this.args = args;
    this.stderr = stderr;
  }
}

/** Runs a host tool with an argv array (never a shell); resolves with stdout. */
export function runTool(file: string, args: readonly string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout);
      else reject(new HostCommandError(file, args, stderr, err));
    });
  });
}

export class UnsafePathError extends Error {
  override readonly name = 'UnsafePathError';
  readonly path: string;
  constructor(path: string, why: string) {
    super(`path ${JSON.stringify(path)}: ${why}`);
    this.path = path;
  }
}

/** Where a container path lives on the host, given what is mounted where. */
export type HostLocator = (containerPath: string) => string;

/**
 * Resolves `containerPath` the way the container will see it: every symlink
 * in the existing prefix is followed *inside* the container root (an
 * absolute target restarts at the container's `/`, `..` stops at `/`). The
 * result has no symlink in its existing part, so creating the missing rest
 * and mounting onto it from the host stays inside the container.
 */
export function resolveInContainer(containerPath: string, locate: HostLocator): string {
  if (!containerPath.startsWith('/')) throw new UnsafePathError(containerPath, 'must be absolute');
  if (containerPath.includes('\0')) throw new UnsafePathError(containerPath, 'contains a NUL byte');
  const pending = containerPath.split('/').filter((p) => p !== '' && p !== '.');
  const resolved: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift() as string;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    resolved.push(part);
    let isLink = false;
    const host = locate('/' + resolved.join('/'));
    try {
      isLink = lstatSync(host).isSymbolicLink();
    } catch {
      continue; // missing: created later as a plain directory or file
    }
    if (!isLink) continue;
    if (++hops > 40) throw new UnsafePathError(containerPath, 'too many levels of symbolic links');
    const target = readlinkSync(host);
    resolved.pop();
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
  }
  return '/' + resolved.join('/');
}

/** A locator over an image root plus bind mounts (longest containerPath prefix wins). */
export function locatorFor(rootfs: string, mounts: readonly { containerPath: string; hostPath: string }[]): HostLocator {
  return (containerPath) => {
    let best: { containerPath: string; hostPath: string } | undefined;
    for (const m of mounts) {
      const under = containerPath === m.containerPath || containerPath.startsWith(m.containerPath === '/' ? '/' : m.containerPath + '/');
      if (under && (best === undefined || m.containerPath.length > best.containerPath.length)) best = m;
    }
    if (best === undefined) return posix.join(rootfs, containerPath);
    return posix.join(best.hostPath, containerPath.slice(best.containerPath.length));
  };
}

/** Mount targets on the host under `dir` (from /proc/self/mountinfo; octal escapes decoded). */
export function hostMountsUnder(dir: string): string[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (field === undefined) continue;
    const target = field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
    if (target === dir || target.startsWith(dir.endsWith('/') ? dir : dir + '/')) out.push(target);
  }
  return out;
}

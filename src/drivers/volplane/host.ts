// Everything the volplane driver does to the machine, in one small module:
// loop devices (losetup), filesystems (blkid, mkfs, resize2fs, xfs_growfs),
// mounts (mount, umount, /proc/self/mountinfo) and statfs. The servers decide
// what to do; this module only does it, so a reader can see every command the
// driver runs in one place.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { lstat, readFile, statfs } from 'node:fs/promises';

/** A host command that exited non-zero (or could not start). */
export class HostCommandError extends Error {
  override readonly name = 'HostCommandError';
  readonly command: string;
  readonly exitCode: number | undefined;
  readonly stderr: string;
  constructor(command: string, exitCode: number | undefined, stderr: string, options?: ErrorOptions) {
    super(`${command} failed${exitCode === undefined ? '' : ` (exit ${exitCode})`}: ${stderr.trim() || 'no output'}`, options);
    this.command = command;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

export function run(file: string, args: readonly string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err === null) {
        resolve(stdout);
        return;
      }
      const code = typeof err.code === 'number' ? err.code : undefined;
      reject(new HostCommandError(`${file} ${args.join(' ')}`, code, stderr || err.message, { cause: err }));
    });
  });
}

// ------------------------------------------------------- the quick runner
//
// Spawning a process from Node costs a few milliseconds (the whole runtime is
// forked first); mount and umount are on every publish and unpublish, so
// they go through one long-lived /bin/sh that forks them instead, for about
// a millisecond each. One command at a time: a command that arrives while
// the shell is busy is simply spawned from Node as before, so calls never
// queue behind each other. The shell is started on first use, does not keep
// the process alive, and is replaced when it dies or a command times out.
// Output is only an error message here (stdout and stderr merged); commands
// whose output is parsed use run().

interface QuickShell {
  child: ChildProcess;
  busy: boolean;
  buffer: string;
  pending: { marker: string; resolve: (r: { code: number; output: string }) => void; reject: (err: Error) => void } | undefined;
}

let shell: QuickShell | undefined;

function quickShell(): QuickShell | undefined {
  if (shell !== undefined && shell.child.exitCode === null && shell.child.signalCode === null) return shell;
  let child: ChildProcess;
  try {
    child = spawn('/bin/sh', [], { stdio: ['pipe', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
  const s: QuickShell = { child, busy: false, buffer: '', pending: undefined };
  const fail = (err: Error): void => {
    if (shell === s) shell = undefined;
    const p = s.pending;
    s.pending = undefined;
    p?.reject(err);
  };
  child.on('error', fail);
  child.on('exit', () => fail(new Error('the quick shell exited')));
  child.stdin?.on('error', () => {});
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    s.buffer += chunk;
    const p = s.pending;
    if (p === undefined) return;
    const at = s.buffer.indexOf(`\n${p.marker} `);
    if (at < 0) return;
    const end = s.buffer.indexOf('\n', at + 1);
    if (end < 0) return;
    const code = Number(s.buffer.slice(at + p.marker.length + 2, end));
    const output = s.buffer.slice(0, at);
    s.buffer = s.buffer.slice(end + 1);
    s.pending = undefined;
    p.resolve({ code, output });
  });
  idle(s);
  shell = s;
  return s;
}

/** Lets the process exit while the shell waits for work. */
function idle(s: QuickShell): void {
  s.child.unref();
  (s.child.stdout as { unref?: () => void } | null)?.unref?.();
  (s.child.stdin as { unref?: () => void } | null)?.unref?.();
}

function busy(s: QuickShell): void {
  s.child.ref();
  (s.child.stdout as { ref?: () => void } | null)?.ref?.();
  (s.child.stdin as { ref?: () => void } | null)?.ref?.();
}

const shellQuote = (arg: string): string => `'${arg.replaceAll("'", `'\\''`)}'`;

/** Runs a command whose output does not matter beyond an error message; see above. */
export async function runQuick(file: string, args: readonly string[], timeoutMs = 120_000): Promise<void> {
  const s = quickShell();
  if (s === undefined || s.busy) {
    await run(file, args, timeoutMs);
    return;
  }
  s.busy = true;
  busy(s);
  const marker = `__volplane_${randomUUID()}`;
  const command = [file, ...args].map(shellQuote).join(' ');
  let timer: NodeJS.Timeout | undefined;
  try {
    const result = await new Promise<{ code: number; output: string }>((resolve, reject) => {
      s.pending = { marker, resolve, reject };
      timer = setTimeout(() => {
        s.child.kill('SIGKILL');
        reject(new HostCommandError(`${file} ${args.join(' ')}`, undefined, `timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      // The leading newline makes the marker line unambiguous even after output without one.
      s.child.stdin?.write(`${command} </dev/null 2>&1; printf '\\n%s %d\\n' ${marker} $?\n`, (err) => {
        if (err) reject(err);
      });
    });
    if (result.code !== 0) throw new HostCommandError(`${file} ${args.join(' ')}`, result.code, result.output);
  } catch (err) {
    if (err instanceof HostCommandError) throw err;
    throw new HostCommandError(`${file} ${args.join(' ')}`, undefined, (err as Error).message, { cause: err });
  } finally {
    clearTimeout(timer);
    s.busy = false;
    idle(s);
  }
}

// ------------------------------------------------------------ loop devices

/** Loop devices backed by `file` (normally zero or one). */
export async function loopDevicesOf(file: string): Promise<string[]> {
  const out = await run('losetup', ['--list', '--noheadings', '--output', 'NAME', '--associated', file]);
  return out.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

/** Attaches `file` to a free loop device and returns the device path. */
export async function attachLoop(file: string): Promise<string> {
  return (await run('losetup', ['--find', '--show', file])).trim();
}

export async function detachLoop(device: string): Promise<void> {
  await run('losetup', ['--detach', device]);
}

/** Makes the loop device pick up a new size of its backing file. */
export async function refreshLoopCapacity(device: string): Promise<void> {
  await run('losetup', ['--set-capacity', device]);
}

// ------------------------------------------------------------- filesystems

/** The filesystem type found on `device`, or undefined when it holds none. */
export async function filesystemOf(device: string): Promise<string | undefined> {
  try {
    const out = await run('blkid', ['-p', '-s', 'TYPE', '-o', 'value', device]);
    return out.trim() || undefined;
  } catch (err) {
    // blkid exits 2 when it finds nothing to report.
    if (err instanceof HostCommandError && err.exitCode === 2) return undefined;
    throw err;
  }
}

export async function makeFilesystem(device: string, fsType: string): Promise<void> {
  if (fsType === 'ext4') await run('mkfs.ext4', ['-q', '-F', '-m', '0', device]);
  else if (fsType === 'xfs') await run('mkfs.xfs', ['-q', '-f', device]);
  else throw new Error(`unsupported filesystem ${fsType}`);
}

/** Grows the filesystem mounted at `mountPath` on `device` to the device's size. */
export async function growFilesystem(fsType: string, device: string, mountPath: string): Promise<void> {
  if (fsType === 'ext4') await run('resize2fs', [device]);
  else if (fsType === 'xfs') await run('xfs_growfs', [mountPath]);
  else throw new Error(`cannot grow filesystem ${fsType}`);
}

// ------------------------------------------------------------------ mounts

export interface MountEntry {
  target: string;
  source: string;
  fsType: string;
  options: string[];
}

/** The mount table of this process's namespace; `\040`-style escapes decoded. */
export async function readMounts(): Promise<MountEntry[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const fields = left.split(' ');
    const [fsType, source] = right.split(' ');
    entries.push({
      target: unescapeMount(fields[4] ?? ''),
      source: unescapeMount(source ?? ''),
      fsType: fsType ?? '',
      options: (fields[5] ?? '').split(','),
    });
  }
  return entries;
}

/** The topmost mount at exactly `path`, if any. */
export async function mountAt(path: string): Promise<MountEntry | undefined> {
  return (await mountsAt(path)).at(-1);
}

/** Every mount stacked at exactly `path`, bottom first (one read of the mount table). */
export async function mountsAt(path: string): Promise<MountEntry[]> {
  return (await readMounts()).filter((m) => m.target === path);
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export async function mountFilesystem(device: string, target: string, fsType: string, flags: readonly string[]): Promise<void> {
  const args = ['-t', fsType];
  if (flags.length > 0) args.push('-o', flags.join(','));
  await runQuick('mount', [...args, device, target]);
}

/** Bind-mounts `source` at `target`; read-only takes a second remount, as the kernel requires. */
export async function bindMount(source: string, target: string, readonly: boolean): Promise<void> {
  await runQuick('mount', ['--bind', source, target]);
  if (readonly) {
    try {
      await runQuick('mount', ['-o', 'remount,bind,ro', target]);
    } catch (err) {
      await unmount(target).catch(() => {});
      throw err;
    }
  }
}

export async function unmount(target: string): Promise<void> {
  await runQuick('umount', [target]);
}

// ------------------------------------------------------------------ statfs

export interface FsUsage {
  totalBytes: number;
  availableBytes: number;
  usedBytes: number;
  totalInodes: number;
  freeInodes: number;
  usedInodes: number;
}

export async function fsUsage(path: string): Promise<FsUsage> {
  const s = await statfs(path);
  return {
    totalBytes: s.blocks * s.bsize,
    availableBytes: s.bavail * s.bsize,
    usedBytes: (s.blocks - s.bfree) * s.bsize,
    totalInodes: s.files,
    freeInodes: s.ffree,
    usedInodes: s.files - s.ffree,
  };
}

/** Copies a file keeping holes, or a directory tree with owners and modes. */
export async function copyData(source: string, target: string, kind: 'file' | 'directory'): Promise<void> {
  if (kind === 'file') await run('cp', ['--sparse=always', '--reflink=auto', source, target]);
  else await run('cp', ['-a', `${source}/.`, target]);
}

/** Whether anything exists at `path` (a dangling mount point counts). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Size in bytes of a block device. */
export async function deviceSize(device: string): Promise<number> {
  return Number((await run('blockdev', ['--getsize64', device])).trim());
}

/** Size in bytes of the ext2/3/4 filesystem on `device`, from its superblock. */
export async function extFilesystemSize(device: string): Promise<number> {
  const out = await run('dumpe2fs', ['-h', device]);
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s*(\\d+)$`, 'm').exec(out)?.[1] ?? NaN);
  const size = field('Block count') * field('Block size');
  if (!Number.isFinite(size)) throw new Error(`cannot read the filesystem size of ${device}`);
  return size;
}

/** Grows an unmounted ext4 filesystem to its device: resize2fs wants a forced check first. */
export async function growExtOffline(device: string): Promise<void> {
  try {
    await run('e2fsck', ['-f', '-p', device]);
  } catch (err) {
    // Exit 1 means "errors corrected": the filesystem is fine to resize now.
    if (!(err instanceof HostCommandError && err.exitCode === 1)) throw err;
  }
  await run('resize2fs', [device]);
}

/**
 * Whether this process may grow a mounted ext4 filesystem: the kernel wants
 * CAP_SYS_RESOURCE for that, and containers and sandboxes often drop it.
 */
export async function canResizeExtOnline(): Promise<boolean> {
  const status = await readFile('/proc/self/status', 'utf8');
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (hex === undefined) return false;
  const CAP_SYS_RESOURCE = 24n;
  return ((BigInt(`0x${hex}`) >> CAP_SYS_RESOURCE) & 1n) === 1n;
}

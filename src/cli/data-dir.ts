// Where volplane keeps its state, and the lock that keeps two volplanes from
// sharing it (two processes writing one SQLite revision log would each serve a
// cache the other does not update).

import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The default `--data-dir`: /var/lib/volplane for root (like /var/lib/kubelet), otherwise
 * $XDG_DATA_HOME/volplane, or ~/.local/share/volplane when XDG_DATA_HOME is unset.
 */
export function defaultDataDir(
  env: NodeJS.ProcessEnv = process.env,
  uid: number | undefined = process.getuid?.(),
  home: string = homedir(),
): string {
  if (uid === 0) return '/var/lib/volplane';
  const xdg = env.XDG_DATA_HOME;
  // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  if (xdg !== undefined && xdg.startsWith('/')) return join(xdg, 'volplane');
  return join(home, '.local', 'share', 'volplane');
}

/** Creates the data directory if needed; a new one is private to its owner (it will hold keys and Secrets). */
export async function ensureDataDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

/** Thrown when another live process holds the data directory. */
export class DataDirLockedError extends Error {
  override readonly name = 'DataDirLockedError';
  readonly dataDir: string;
  readonly pid: number;
  constructor(dataDir: string, pid: number) {
    super(
      `${dataDir} is in use by another volplane (pid ${pid}); stop it first, or pick another --data-dir` +
        ` (if no such process is running, delete ${join(dataDir, LOCK_FILE)})`,
    );
    this.dataDir = dataDir;
    this.pid = pid;
  }
}

const LOCK_FILE = 'volplane.pid';

export interface DataDirLock {
  /** Removes the lock file. Idempotent. */
  release(): Promise<void>;
}

/**
 * Takes `<dir>/volplane.pid`. A lock left by a process that no longer exists (a crash, a
 * SIGKILL) is taken over; a lock of a live process — this one included — is a
 * DataDirLockedError.
 */
export async function lockDataDir(dir: string): Promise<DataDirLock> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const file = await open(path, 'wx', 0o644);
      try {
        await file.writeFile(`${process.pid}\n`);
      } finally {
        await file.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
    }
    const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) throw new DataDirLockedError(dir, holder);
    await unlink(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await unlink(path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

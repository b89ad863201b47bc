// AtomicWriter: projects a set of files into a directory so that a reader
// (a container) sees either the whole old set or the whole new set, never a
// mix. It is upstream's atomic_writer.go; configMap, secret, downwardAPI and
// projected volumes write through it.
//
// The scheme, as a container's `ls -la` shows it:
//   ..2024_02_18_06_27_15.3104652876/   the real files of one version
//   ..data -> ..2024_02_18_06_27_15.3104652876
//   log_level -> ..data/log_level        one symlink per top-level name
//   conf -> ..data/conf                  (nested paths: the top directory)
// An update writes a new timestamped directory, then swaps `..data` by
// renaming a freshly made `..data_tmp` symlink over it — rename(2) is atomic —
// and only then prunes user-visible names that went away and the old version.
// Names starting with `..` are reserved for this machinery, so payload paths
// may not start with `..`.
//
// Writes to one target directory are serialised within the process; two
// processes writing the same directory must coordinate themselves.

import { randomInt } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, normalize } from 'node:path';

export const DATA_DIR_NAME = '..data';
export const NEW_DATA_DIR_NAME = '..data_tmp';
const MAX_FILE_NAME_LENGTH = 255;
const MAX_PATH_LENGTH = 4096;
/** `..2006_01_02_15_04_05.<digits>`: the timestamped version directories. */
const TS_DIR_RE = /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+$/;

export interface FileProjection {
  data: Buffer;
  /** Permission bits of the file (e.g. 0o644). */
  mode: number;
}

/** path (relative, `/`-separated) → file. */
export type Payload = Map<string, FileProjection>;

/** A payload path the writer refuses; the message is upstream's. */
export class InvalidPayloadPathError extends Error {
  override readonly name = 'InvalidPayloadPathError';
  readonly path: string;
  constructor(path: string, message: string) {
    super(message);
    this.path = path;
  }
}

/** Throws InvalidPayloadPathError unless `p` is a safe relative payload path. */
export function validatePayloadPath(p: string): void {
  if (p === '') throw new InvalidPayloadPathError(p, `invalid path: must not be empty: ""`);
  if (isAbsolute(p)) throw new InvalidPayloadPathError(p, `invalid path: must be relative path: ${p}`);
  if (p.length > MAX_PATH_LENGTH) {
    throw new InvalidPayloadPathError(p, `invalid path: must be less than or equal to ${MAX_PATH_LENGTH} characters`);
  }
  const items = p.split('/');
  for (const item of items) {
    if (item === '..') throw new InvalidPayloadPathError(p, `invalid path: must not contain '..': ${p}`);
    if (item.length > MAX_FILE_NAME_LENGTH) {
      throw new InvalidPayloadPathError(p, `invalid path: filenames must be less than or equal to ${MAX_FILE_NAME_LENGTH} characters`);
    }
  }
  if (items[0].startsWith('..') && items[0].length > 2) {
    throw new InvalidPayloadPathError(p, `invalid path: must not start with '..': ${p}`);
  }
}

/** Validates every path and returns the payload keyed by cleaned paths (`a//b/` → `a/b`). */
export function cleanPayload(payload: Payload | Record<string, FileProjection>): Payload {
  const entries = payload instanceof Map ? [...payload] : Object.entries(payload);
  const clean: Payload = new Map();
  for (const [p, file] of entries) {
    validatePayloadPath(p);
    clean.set(normalize(p).replace(/\/+$/, ''), file);
  }
  return clean;
}

/** `..2006_01_02_15_04_05.` for `now`, in UTC — the prefix of a version directory. */
export function timestampDirPrefix(now: Date): string {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `..${p(now.getUTCFullYear(), 4)}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_` +
    `${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}.`;
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

const queues = new Map<string, Promise<unknown>>();

export interface WriteOptions {
  /** Called on the new version directory before it becomes visible (fsGroup ownership). */
  setPerms?: (versionDir: string) => Promise<void>;
}

export class AtomicWriter {
  readonly targetDir: string;

  /** `targetDir` must exist when write() is called. */
  constructor(targetDir: string) {
    this.targetDir = targetDir;
  }

  /**
   * Makes the target directory hold exactly `payload`. Returns false when
   * nothing had to change (same content, no removed paths), true after a
   * swap. Throws InvalidPayloadPathError before touching anything, or the
   * file-system error of a failed step (the old version stays visible).
   */
  write(payload: Payload | Record<string, FileProjection>, options: WriteOptions = {}): Promise<boolean> {
    let clean: Payload;
    try {
      clean = cleanPayload(payload);
    } catch (err) {
      return Promise.reject(err);
    }
    const prev = queues.get(this.targetDir) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(() => this.#write(clean, options));
    queues.set(this.targetDir, next);
    const forget = (): void => {
      if (queues.get(this.targetDir) === next) queues.delete(this.targetDir);
    };
    next.then(forget, forget);
    return next;
  }

  async #write(payload: Payload, options: WriteOptions): Promise<boolean> {
    const dataDirPath = join(this.targetDir, DATA_DIR_NAME);
    let oldTsDir = '';
    try {
      oldTsDir = await readlink(dataDirPath);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    const oldTsPath = oldTsDir === '' ? '' : join(this.targetDir, oldTsDir);

    let toRemove = new Set<string>();
    if (oldTsPath !== '') {
      toRemove = await this.#pathsToRemove(payload, oldTsPath);
      if (toRemove.size === 0 && !(await shouldWritePayload(payload, oldTsPath))) {
        await this.#removeStaleVersions(oldTsDir);
        return false;
      }
    }

    const tsDir = await this.#newTimestampDir();
    const tsDirName = tsDir.slice(this.targetDir.length + 1);
    try {
      await writePayloadToDir(payload, tsDir);
      if (options.setPerms !== undefined) await options.setPerms(tsDir);
      await this.#createUserVisibleFiles(payload);
      const newDataDirPath = join(this.targetDir, NEW_DATA_DIR_NAME);
      // A crash between symlink and rename leaves ..data_tmp behind.
      await rm(newDataDirPath, { force: true });
      await symlink(tsDirName, newDataDirPath);
      try {
        await rename(newDataDirPath, dataDirPath);
      } catch (err) {
        await rm(newDataDirPath, { force: true });
        throw err;
      }
    } catch (err) {
      await rm(tsDir, { recursive: true, force: true });
      throw err;
    }

    for (const p of toRemove) {
      // Only top-level names are user-visible symlinks; deeper ones vanished with the old version.
      if (p.includes('/')) continue;
      await rm(join(this.targetDir, p), { force: true });
    }
    await this.#removeStaleVersions(tsDirName);
    return true;
  }

  async #pathsToRemove(payload: Payload, oldTsPath: string): Promise<Set<string>> {
    const existing: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      for (const e of entries) {
        const rel = prefix === '' ? e.name : `${prefix}/${e.name}`;
        existing.push(rel);
        if (e.isDirectory()) await walk(join(dir, e.name), rel);
      }
    };
    await walk(oldTsPath, '');
    const keep = new Set<string>();
    for (const p of payload.keys()) {
      // Keep every ancestor too, so no directory that still has content is removed.
      for (let sub = p; sub !== '' && sub !== '.'; sub = dirname(sub) === '.' ? '' : dirname(sub)) keep.add(sub);
    }
    return new Set(existing.filter((p) => !keep.has(p)));
  }

  async #newTimestampDir(): Promise<string> {
    const prefix = timestampDirPrefix(new Date());
    for (let attempt = 0; ; attempt++) {
      const dir = join(this.targetDir, `${prefix}${randomInt(0, 2 ** 32 - 1)}`);
      try {
        await mkdir(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 10) continue;
        throw err;
      }
      // 0755 regardless of umask, so group and others can traverse to the files.
      await chmod(dir, 0o755);
      return dir;
    }
  }

  async #createUserVisibleFiles(payload: Payload): Promise<void> {
    const tops = new Set([...payload.keys()].map((p) => p.split('/')[0]));
    for (const top of tops) {
      const visible = join(this.targetDir, top);
      try {
        await readlink(visible);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        await symlink(join(DATA_DIR_NAME, top), visible);
      }
    }
  }

  /** Removes every version directory except `current` (old ones, and leftovers of crashed writes). */
  async #removeStaleVersions(current: string): Promise<void> {
    for (const name of await readdir(this.targetDir)) {
      if (name !== current && TS_DIR_RE.test(name)) {
        await rm(join(this.targetDir, name), { recursive: true, force: true });
      }
    }
  }
}

async function shouldWritePayload(payload: Payload, oldTsPath: string): Promise<boolean> {
  for (const [p, file] of payload) {
    let onDisk: Buffer;
    try {
      onDisk = await readFile(join(oldTsPath, p));
    } catch (err) {
      if (isNotFound(err)) return true;
      throw err;
    }
    if (!onDisk.equals(file.data)) return true;
  }
  return false;
}

async function writePayloadToDir(payload: Payload, dir: string): Promise<void> {
  for (const [p, file] of payload) {
    const full = join(dir, p);
    await mkdir(dirname(full), { recursive: true, mode: 0o755 });
    await writeFile(full, file.data, { mode: file.mode });
    // writeFile's mode is filtered by the umask; the payload's mode must hold exactly.
    await chmod(full, file.mode);
  }
}

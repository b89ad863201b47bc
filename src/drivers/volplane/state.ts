// The driver's own record of what it created, attached, staged and published,
// written through to `<dataDir>/state.json` on every change (write to a temp
// file, then rename, so a crash leaves the old or the new file, never half of
// one). On start the driver reads it back and checks it against the machine
// (loop-device list and mount table) before serving calls; see driver.ts.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export type VolumeKind = 'directory' | 'loop';

export interface Attachment {
  nodeId: string;
  readonly: boolean;
}

export interface Staging {
  path: string;
  /** Staged for block access: the device is ready, nothing is mounted. */
  block: boolean;
}

export interface Publication {
  targetPath: string;
  readonly: boolean;
  block: boolean;
}

export interface VolumeRecord {
  id: string;
  name: string;
  kind: VolumeKind;
  /** The directory, or the sparse image file behind the loop device. */
  path: string;
  capacityBytes: number;
  /** Filesystem a loop volume gets when first staged for mount access. */
  fsType?: string;
  parameters: Record<string, string>;
  contentSource?: { snapshotId: string } | { volumeId: string };
  createdAtMs: number;
  attachments: Attachment[];
  staging?: Staging;
  publications: Publication[];
  /** Last loop device seen for `path`; checked against losetup before use. */
  device?: string;
}

export interface SnapshotRecord {
  id: string;
  name: string;
  sourceVolumeId: string;
  kind: VolumeKind;
  path: string;
  sizeBytes: number;
  fsType?: string;
  createdAtMs: number;
}

interface StateFile {
  version: 1;
  volumes: VolumeRecord[];
  snapshots: SnapshotRecord[];
}

/** Thrown when state.json exists but cannot be understood; the driver refuses to start. */
export class StateFileError extends Error {
  override readonly name = 'StateFileError';
  readonly path: string;
  constructor(path: string, message: string, options?: ErrorOptions) {
    super(`driver state ${path}: ${message}`, options);
    this.path = path;
  }
}

export class DriverState {
  readonly file: string;
  readonly volumes = new Map<string, VolumeRecord>();
  readonly snapshots = new Map<string, SnapshotRecord>();
  #writes: Promise<void> = Promise.resolve();

  private constructor(file: string) {
    this.file = file;
  }

  /** Reads `file` (a missing file is an empty state). */
  static async load(file: string): Promise<DriverState> {
    const state = new DriverState(file);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return state;
      throw err;
    }
    let parsed: StateFile;
    try {
      parsed = JSON.parse(text) as StateFile;
    } catch (err) {
      throw new StateFileError(file, 'not valid JSON', { cause: err });
    }
    if (parsed.version !== 1 || !Array.isArray(parsed.volumes) || !Array.isArray(parsed.snapshots)) {
      throw new StateFileError(file, 'unknown format');
    }
    for (const v of parsed.volumes) state.volumes.set(v.id, v);
    for (const s of parsed.snapshots) state.snapshots.set(s.id, s);
    return state;
  }

  volumeByName(name: string): VolumeRecord | undefined {
    for (const v of this.volumes.values()) if (v.name === name) return v;
    return undefined;
  }

  snapshotByName(name: string): SnapshotRecord | undefined {
    for (const s of this.snapshots.values()) if (s.name === name) return s;
    return undefined;
  }

  /**
   * Writes the current in-memory state. Writes are queued so two changes
   * never interleave on disk; the promise settles when this change is durable.
   */
  persist(): Promise<void> {
    const snapshot: StateFile = {
      version: 1,
      volumes: [...this.volumes.values()],
      snapshots: [...this.snapshots.values()],
    };
    const text = JSON.stringify(snapshot, null, 2);
    const next = this.#writes.then(async () => {
      await mkdir(dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${randomUUID()}.tmp`;
      await writeFile(tmp, text, { mode: 0o600, flush: true });
      await rename(tmp, this.file);
    });
    // A failed write must not block later ones; the caller sees its own failure.
    this.#writes = next.catch(() => {});
    return next;
  }
}

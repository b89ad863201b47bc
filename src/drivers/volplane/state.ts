// The driver's own record of what it created, attached, staged and published.
// Two files, because they need different care:
//
//   state.json       the controller's records: volumes, snapshots, attachments.
//                    Written with fsync before the rename: a volume the CO was
//                    told exists must still exist after a power cut.
//   node-state.json  the node's records: stagings and publications, and the
//                    volumes this node knows only from what CSI passed it
//                    (volume_context in node-only mode, ephemeral inline
//                    volumes). Renamed into place without fsync: everything
//                    it describes is a mount, and mounts do not outlive the
//                    kernel, so a write lost with the page cache describes
//                    mounts that are gone too. A process crash still leaves
//                    the old or the new file (the rename is atomic), and the
//                    start-up reconciliation checks every record against the
//                    mount table anyway; a node file the kernel left empty or
//                    torn is read as "nothing staged" (see loadNodeFile).
//
// A file whose text did not change is not written again. Every write
// replaces a whole file through a temp file and a rename, and
// writes are queued so two never interleave. A state.json written before the
// split (stagings and publications inside it) is read as before and the node
// part moves to node-state.json on the next write.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

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
  /** Segments CreateVolume answered with; unset on records older than multi-node support (this node only). */
  accessibleTopology?: Record<string, string>[];
  /** A CSI ephemeral inline volume: made by NodePublishVolume, removed by NodeUnpublishVolume. */
  ephemeral?: boolean;
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

interface NodeFile {
  version: 1;
  /** Node-side records of controller volumes (in state.json). */
  stagings: { id: string; staging?: Staging; publications: Publication[] }[];
  /** Volumes known only from CSI calls to this node (whole records). */
  contextVolumes: VolumeRecord[];
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
  readonly nodeFile: string;
  /** The controller's volumes (state.json). */
  readonly volumes = new Map<string, VolumeRecord>();
  readonly snapshots = new Map<string, SnapshotRecord>();
  /**
   * Volumes this node serves without a controller record here: known from a
   * NodeStage/NodePublish volume_context (node-only mode) or ephemeral.
   * The controller never sees them; they go when nothing is staged or
   * published any more.
   */
  readonly contextVolumes = new Map<string, VolumeRecord>();
  /** Set when node-state.json was present but unreadable (read as empty). */
  nodeFileProblem: string | undefined;
  #writes: Promise<void> = Promise.resolve();
  /** What each file holds on disk, as far as this process wrote it: an unchanged file is not rewritten. */
  readonly #onDisk = new Map<string, string>();

  private constructor(file: string) {
    this.file = file;
    this.nodeFile = join(dirname(file), 'node-state.json');
  }

  /** Reads `file` and node-state.json beside it (missing files are an empty state). */
  static async load(file: string): Promise<DriverState> {
    const state = new DriverState(file);
    const text = await readIfExists(file);
    if (text !== undefined) {
      let parsed: StateFile;
      try {
        parsed = JSON.parse(text) as StateFile;
      } catch (err) {
        throw new StateFileError(file, 'not valid JSON', { cause: err });
      }
      if (parsed.version !== 1 || !Array.isArray(parsed.volumes) || !Array.isArray(parsed.snapshots)) {
        throw new StateFileError(file, 'unknown format');
      }
      for (const v of parsed.volumes) state.volumes.set(v.id, { ...v, publications: v.publications ?? [] });
      for (const s of parsed.snapshots) state.snapshots.set(s.id, s);
    }
    await state.#loadNodeFile();
    return state;
  }

  async #loadNodeFile(): Promise<void> {
    let parsed: NodeFile;
    try {
      const text = await readIfExists(this.nodeFile);
      if (text === undefined) return; // none yet: stagings, if any, came from an old state.json
      parsed = JSON.parse(text) as NodeFile;
      if (parsed.version !== 1 || !Array.isArray(parsed.stagings) || !Array.isArray(parsed.contextVolumes)) throw new Error('unknown format');
    } catch (err) {
      // Only a kernel crash leaves this file torn, and then none of the
      // mounts it described exist either: start with nothing staged.
      this.nodeFileProblem = (err as Error).message;
      for (const v of this.volumes.values()) {
        delete v.staging;
        v.publications = [];
      }
      return;
    }
    // The node file is the newer word on stagings.
    for (const v of this.volumes.values()) {
      delete v.staging;
      v.publications = [];
    }
    for (const s of parsed.stagings) {
      const v = this.volumes.get(s.id);
      if (v === undefined) continue; // deleted by the controller since
      if (s.staging !== undefined) v.staging = s.staging;
      v.publications = s.publications;
    }
    for (const v of parsed.contextVolumes) this.contextVolumes.set(v.id, v);
  }

  volumeByName(name: string): VolumeRecord | undefined {
    for (const v of this.volumes.values()) if (v.name === name) return v;
    return undefined;
  }

  snapshotByName(name: string): SnapshotRecord | undefined {
    for (const s of this.snapshots.values()) if (s.name === name) return s;
    return undefined;
  }

  /** A volume the node may work on: a controller record, else a context record. */
  nodeVolume(id: string): VolumeRecord | undefined {
    return this.volumes.get(id) ?? this.contextVolumes.get(id);
  }

  /** Every volume the node may hold a staging or publication of. */
  *allVolumes(): Iterable<VolumeRecord> {
    yield* this.volumes.values();
    yield* this.contextVolumes.values();
  }

  /**
   * Writes both files: state.json durably, then node-state.json. The promise
   * settles when this change is on disk; writes are queued, never interleaved.
   */
  persist(): Promise<void> {
    const controller: StateFile = {
      version: 1,
      volumes: [...this.volumes.values()].map(({ staging: _s, publications: _p, ...rest }) => ({ ...rest, publications: [] })),
      snapshots: [...this.snapshots.values()],
    };
    return this.#enqueue([
      { file: this.file, text: JSON.stringify(controller, null, 2), durable: true },
      { file: this.nodeFile, text: this.#nodeText(), durable: false },
    ]);
  }

  /** Writes node-state.json only (stagings, publications, context volumes): no fsync, see the top of this file. */
  persistNode(): Promise<void> {
    return this.#enqueue([{ file: this.nodeFile, text: this.#nodeText(), durable: false }]);
  }

  #nodeText(): string {
    const node: NodeFile = {
      version: 1,
      stagings: [...this.volumes.values()]
        .filter((v) => v.staging !== undefined || v.publications.length > 0)
        .map((v) => ({ id: v.id, ...(v.staging === undefined ? {} : { staging: v.staging }), publications: v.publications })),
      contextVolumes: [...this.contextVolumes.values()],
    };
    return JSON.stringify(node);
  }

  #enqueue(writes: { file: string; text: string; durable: boolean }[]): Promise<void> {
    const next = this.#writes.then(async () => {
      for (const w of writes) {
        if (this.#onDisk.get(w.file) === w.text) continue;
        if (!this.#onDisk.has(w.file)) await mkdir(dirname(w.file), { recursive: true });
        const tmp = `${w.file}.${randomUUID()}.tmp`;
        try {
          await writeFile(tmp, w.text, { mode: 0o600, flush: w.durable });
          await rename(tmp, w.file);
          this.#onDisk.set(w.file, w.text);
        } catch (err) {
          this.#onDisk.delete(w.file);
          await unlink(tmp).catch(() => {});
          throw err;
        }
      }
    });
    // A failed write must not block later ones; the caller sees its own failure.
    this.#writes = next.catch(() => {});
    return next;
  }

  /** Settles once every write queued so far has finished. */
  flushed(): Promise<void> {
    return this.#writes;
  }
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

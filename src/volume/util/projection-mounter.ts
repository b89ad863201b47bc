// The mounter shared by the projection volumes (configMap, secret,
// downwardAPI, projected). Upstream wraps each in an emptyDir — on disk for
// configMap and downwardAPI, in memory (tmpfs) for secret and projected, so
// secret bytes never reach the node's disk — and writes the computed payload
// through the AtomicWriter. Calling setUp again recomputes the payload and
// swaps the new version in when it changed: that is how updated configMaps
// reach running pods.
//
// Order matters: the payload is computed first, so a missing object or key
// fails setUp before anything exists on disk; a failed first setUp removes
// what it created, so the next attempt starts clean.

import type { Mounter, NewMounterOptions, SetUpArgs, VolumeHost } from '../plugin.ts';
import { throwIfAborted, wrapSetup } from '../plugin.ts';
import { AtomicWriter, type Payload } from './atomic-writer.ts';
import { setupDir, setupTmpfs, tearDownPodDir } from './pod-dir.ts';
import { setVolumeOwnership } from './volume-ownership.ts';
import { pathExists } from './path-exists.ts';

/** Upstream's default for defaultMode: 0644 (420 in decimal, as it appears in YAML). */
export const DEFAULT_PROJECTION_MODE = 0o644;
const WRAPPED_DIR_MODE = 0o777;

export interface ProjectionMounterConfig {
  host: VolumeHost;
  plugin: string;
  volName: string;
  dir: string;
  /** Back the directory with tmpfs (secret, projected). */
  memory: boolean;
  /** Computes the files; throws with the message the event should carry. */
  computePayload(signal: AbortSignal): Promise<Payload>;
  opts: NewMounterOptions;
}

export class ProjectionMounter implements Mounter {
  readonly #c: ProjectionMounterConfig;

  constructor(config: ProjectionMounterConfig) {
    this.#c = config;
  }

  getPath(): string {
    return this.#c.dir;
  }

  setUp(args: SetUpArgs): Promise<void> {
    const c = this.#c;
    return wrapSetup(c.plugin, c.volName, async () => {
      const payload = await c.computePayload(args.signal);
      throwIfAborted(args.signal);
      const existed = await pathExists(c.dir);
      let ok = false;
      try {
        await setupDir(c.dir, WRAPPED_DIR_MODE);
        if (c.memory) {
          await setupTmpfs(c.host.mountUtil, c.dir, undefined, { signal: args.signal, timeoutMs: c.opts.mountTimeoutMs });
        }
        await new AtomicWriter(c.dir).write(payload, {
          // The whole volume, not only the new version: the first write also creates the visible links.
          setPerms: () => setVolumeOwnership(c.dir, args.fsGroup, true),
        });
        ok = true;
      } finally {
        if (!ok && !existed) await tearDownPodDir(c.host.mountUtil, c.dir).catch(() => {});
      }
    });
  }
}

/** Upstream's aggregate error text: one error as is, several as `[a, b]`. */
export function aggregateError(errors: readonly Error[]): Error | undefined {
  if (errors.length === 0) return undefined;
  if (errors.length === 1) return errors[0];
  return new AggregateError(errors, `[${errors.map((e) => e.message).join(', ')}]`);
}

export function modeOr(mode: number | undefined, fallback: number | undefined): number {
  return mode ?? fallback ?? DEFAULT_PROJECTION_MODE;
}

/** A listed key is not in the ConfigMap or Secret. */
export class MissingKeyError extends Error {
  override readonly name = 'MissingKeyError';
  readonly key: string;
  constructor(message: string, key: string) {
    super(message);
    this.key = key;
  }
}

/** The referenced ConfigMap or Secret does not exist (and the volume is not optional). */
export class ObjectNotFoundError extends Error {
  override readonly name = 'ObjectNotFoundError';
  readonly kind: string;
  readonly objectName: string;
  constructor(kind: 'configmap' | 'secret', objectName: string) {
    super(`${kind} ${JSON.stringify(objectName)} not found`);
    this.kind = kind;
    this.objectName = objectName;
  }
}

/** The string-valued entries of a `data`-like field. */
export function stringMap(value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object') return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) if (typeof v === 'string') out[k] = v;
  return out;
}

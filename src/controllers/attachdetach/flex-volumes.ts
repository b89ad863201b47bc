// FlexVolume volumes as the AD controller sees them (upstream: the
// flexVolumeAttachablePlugin seen through attachdetach/util and the
// operation generator). A FlexVolume driver that answered `init` with
// `"attach": true` is attached by this controller itself: it runs the
// driver's `attach <json> <node>` in the controller-manager process and
// reports the device path it printed in the node's `status.volumesAttached`,
// and later runs `detach <volume name> <node>`. There is no
// VolumeAttachment: the node status is the only record, which is why a
// restarted controller rebuilds these attachments from node statuses.
//
// Names, carried over exactly (they must match the kubelet's):
//   - unique volume name `flexvolume-<vendor>/<driver>/<name>`, where
//     <name> is the driver's `getvolumename` answer (the spec's name when
//     the driver has none) — flexUniqueVolumeName;
//   - `detach` gets <name> alone, as upstream passes the plugin's
//     GetVolumeName (or, without a spec, the unique name's last part).
//
// The spec is built as the kubelet builds it: an inline pod volume with its
// own readOnly; a claim's PV with the claim reference's readOnly (false for
// a generic ephemeral volume). The driver sees the options JSON of that spec
// and nothing else: upstream's attach, detach and getvolumename calls carry
// no pod keys and no secrets (secrets go to `mount` only, on the node).
//
// `getvolumename` is a process, so the populator cannot call it inline. The
// FlexVolumeNameResolver runs it in the background, once per distinct
// (driver, options) — the call's whole input — and remembers the answer; the
// populator asks again on its next pass. Until a pod's volume is resolved
// the populator says so (hasUnresolved), and the reconciler detaches
// nothing of that driver on that node: a volume that is only not-yet-named
// must not look unwanted.

import type { Disposable, Logger } from '../../base/index.ts';
import { CancelledError, toError } from '../../base/index.ts';
import type { PodVolume, VolumeSpec } from '../../volume/index.ts';
import {
  encodeDriverOptions,
  newOptionsForDriver,
  type AttachableFlexVolume,
  type FlexProbeEvent,
  type FlexVolumePlugin,
} from '../../volume/plugins/flexvolume/index.ts';
import { isMultiAttachAllowed, resolvePersistentVolume, type Pod, type VolumeLookup } from './csi-volumes.ts';

/** The prefix of every FlexVolume plugin name upstream (`flexvolume-<vendor>/<driver>`). */
export const FLEX_PLUGIN_NAME_PREFIX = 'flexvolume-';

/** Where the controller finds FlexVolume drivers: a FlexVolumeProber, or anything shaped like one. */
export interface FlexVolumePluginSource {
  /** The ready plugin named `<vendor>/<driver>`, or undefined. */
  getPlugin(name: string): FlexVolumePlugin | undefined;
  /** The plugin whatever its state, or undefined when the driver was never seen. */
  getPluginAnyState(name: string): FlexVolumePlugin | undefined;
  onDidChange(listener: (e: FlexProbeEvent) => void): Disposable;
}

/** What a desired FlexVolume volume carries beyond the common fields: how to call `attach`. */
export interface FlexVolumeToAttach {
  /** The spec `attach` is given. */
  spec: VolumeSpec;
  /** The spec's name (pod volume or PV name): what events call the volume. */
  specName: string;
}

/** What an attached FlexVolume volume carries: how to call `detach`. */
export interface FlexAttachment {
  /** The driver's name for the volume (the unique name's last part). */
  driverVolumeName: string;
}

/** No attachable FlexVolume plugin for a driver the controller must call. */
export class FlexPluginNotFoundError extends Error {
  override readonly name = 'FlexPluginNotFoundError';
  readonly driver: string;
  constructor(driver: string) {
    super(`no attachable FlexVolume plugin found for driver ${JSON.stringify(driver)}`);
    this.driver = driver;
  }
}

/**
 * Splits `flexvolume-<vendor>/<driver>/<name>` into the driver and the
 * driver's volume name; undefined for any other plugin's name. The driver's
 * volume name never holds a slash (it names a directory), so the last slash
 * separates the two whatever the driver name looks like.
 */
export function parseFlexVolumeName(uniqueName: string): { driver: string; driverVolumeName: string } | undefined {
  if (!uniqueName.startsWith(FLEX_PLUGIN_NAME_PREFIX)) return undefined;
  const rest = uniqueName.slice(FLEX_PLUGIN_NAME_PREFIX.length);
  const sep = rest.lastIndexOf('/');
  if (sep <= 0 || sep === rest.length - 1) return undefined;
  return { driver: rest.slice(0, sep), driverVolumeName: rest.slice(sep + 1) };
}

/**
 * The key of a FlexVolume attachment in both states of world (CSI uses the
 * VolumeAttachment name there; FlexVolume has no object, so the key is
 * made of the two things that identify the attachment).
 */
export function flexAttachmentKey(volumeName: string, nodeName: string): string {
  return `flexvolume@${nodeName}:${volumeName}`;
}

/** A FlexVolume pod volume, with the spec the driver will be called with. */
export interface FlexCandidate {
  driver: string;
  spec: VolumeSpec;
  /** The PV's name; "" for an inline volume. */
  pvName: string;
  multiAttachAllowed: boolean;
}

function isFlexSource(v: unknown): v is { driver: string; readOnly?: boolean } {
  return typeof v === 'object' && v !== null && typeof (v as { driver?: unknown }).driver === 'string' && (v as { driver: string }).driver !== '';
}

/**
 * The FlexVolume volumes of `pod` that resolve now (a claim to its bound
 * PV, as for CSI), each with its spec. Whether the driver attaches is not
 * decided here.
 */
export function flexCandidatesOfPod(pod: Pod, lookup: VolumeLookup): FlexCandidate[] {
  const out: FlexCandidate[] = [];
  for (const v of pod.spec?.volumes ?? []) {
    if (isFlexSource(v.flexVolume)) {
      // Inline: the spec is the pod volume; only its own source says read-only.
      const volume: PodVolume = { name: v.name, flexVolume: v.flexVolume };
      out.push({ driver: v.flexVolume.driver, spec: { volume, readOnly: v.flexVolume.readOnly === true }, pvName: '', multiAttachAllowed: true });
      continue;
    }
    const resolved = resolvePersistentVolume(pod, v, lookup);
    if (resolved === undefined) continue;
    const flex = resolved.pv.spec?.flexVolume;
    if (!isFlexSource(flex)) continue;
    // The driver is told the PV's name and its flexVolume source; nothing else of it matters here.
    const persistentVolume = { metadata: resolved.pv.metadata, spec: { flexVolume: flex } };
    out.push({
      driver: flex.driver,
      spec: { persistentVolume, readOnly: resolved.readOnly },
      pvName: resolved.pvName,
      multiAttachAllowed: isMultiAttachAllowed(resolved.pv),
    });
  }
  return out;
}

const RESOLVE_BACKOFF_INITIAL_MS = 1000;
const RESOLVE_BACKOFF_MAX_MS = 2 * 60 * 1000;

interface NameEntry {
  driver: string;
  /** The driver's answer, once it came. */
  name: string | undefined;
  pending: boolean;
  failures: number;
  retryAt: number;
}

export interface FlexVolumeNameResolverOptions {
  /** Called when a name was resolved, or a failed one may be retried: run a populate pass. */
  onChange(): void;
  logger: Logger;
  now?: () => number;
}

/**
 * Remembers the drivers' `getvolumename` answers and asks for missing ones
 * in the background. Lifetime: dispose() cancels running calls and timers.
 */
export class FlexVolumeNameResolver {
  readonly #o: FlexVolumeNameResolverOptions;
  readonly #now: () => number;
  readonly #entries = new Map<string, NameEntry>();
  readonly #touched = new Set<string>();
  readonly #running = new Set<Promise<void>>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #abort = new AbortController();

  constructor(options: FlexVolumeNameResolverOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The driver's name for the volume of `spec`, or undefined while it is
   * being asked for or backing off after a failure (a call is started when
   * none is running or due). Never throws.
   */
  resolve(plugin: FlexVolumePlugin, spec: VolumeSpec): string | undefined {
    if (this.#abort.signal.aborted) return undefined;
    const key = `${plugin.name}\n${encodeDriverOptions(newOptionsForDriver(spec))}`;
    this.#touched.add(key);
    let e = this.#entries.get(key);
    if (e === undefined) {
      e = { driver: plugin.name, name: undefined, pending: false, failures: 0, retryAt: 0 };
      this.#entries.set(key, e);
    }
    if (e.name !== undefined) return e.name;
    if (e.pending || e.retryAt > this.#now()) return undefined;
    this.#start(key, e, plugin, spec);
    return undefined;
  }

  /** Forgets every answer of `driver` (its executable changed or went). Running calls' answers are dropped. */
  forget(driver: string): void {
    for (const [key, e] of this.#entries) if (e.driver === driver) this.#entries.delete(key);
  }

  /** Drops the answers no resolve() asked for since the last sweep (volumes no pod uses any more). */
  sweep(): void {
    for (const [key, e] of this.#entries) if (!this.#touched.has(key) && !e.pending) this.#entries.delete(key);
    this.#touched.clear();
  }

  /** Resolves when no call is running. */
  async drain(): Promise<void> {
    while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
  }

  /** Cancels running calls and retry timers; resolve() answers only what it knows from then on. */
  dispose(): void {
    this.#abort.abort();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #start(key: string, e: NameEntry, plugin: FlexVolumePlugin, spec: VolumeSpec): void {
    e.pending = true;
    const p = (async () => {
      try {
        const name = await plugin.getVolumeName(spec, this.#abort.signal);
        // Forgotten meanwhile (driver changed): the answer may be stale.
        if (this.#entries.get(key) !== e) return;
        e.name = name;
        e.failures = 0;
        this.#o.onChange();
      } catch (err) {
        if (err instanceof CancelledError || this.#abort.signal.aborted || this.#entries.get(key) !== e) return;
        const delayMs = Math.min(RESOLVE_BACKOFF_INITIAL_MS * 2 ** e.failures, RESOLVE_BACKOFF_MAX_MS);
        e.failures++;
        e.retryAt = this.#now() + delayMs;
        this.#o.logger.warn({ driver: plugin.name, volume: specNameOf(spec), delayMs, err: toError(err) }, 'FlexVolume getvolumename failed; will retry');
        const t = setTimeout(() => {
          this.#timers.delete(t);
          this.#o.onChange();
        }, delayMs);
        t.unref();
        this.#timers.add(t);
      } finally {
        e.pending = false;
      }
    })();
    this.#running.add(p);
    void p.finally(() => this.#running.delete(p));
  }
}

function specNameOf(spec: VolumeSpec): string {
  return spec.volume?.name ?? spec.persistentVolume?.metadata.name ?? '';
}

/** The attach half of a ready plugin whose driver attaches; undefined otherwise. */
export function attacherFor(plugins: FlexVolumePluginSource, driver: string): AttachableFlexVolume | undefined {
  return plugins.getPlugin(driver)?.attacher;
}

/**
 * The attach half for a detach: the plugin may be marked removed (its
 * executable gone for now — the call then fails and is retried), but it must
 * have answered `init` once, or its capabilities are only defaults.
 */
export function detacherFor(plugins: FlexVolumePluginSource, driver: string): AttachableFlexVolume | undefined {
  const plugin = plugins.getPluginAnyState(driver);
  if (plugin === undefined || plugin.state === 'uninitialized') return undefined;
  return plugin.attacher;
}

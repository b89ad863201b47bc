// The desired state of world populator: turns the volumes of desired pods
// into resolved specs with a plugin each, and keeps the content versions of
// projection volumes current.
//
// Resolution (upstream createVolumeSpec):
//   - a pod volume is its own spec;
//   - `persistentVolumeClaim`: GET the claim — being deleted, or not Bound
//     with a volumeName, is an error — then GET the PV, which must point back
//     at the claim's UID; the spec is the PV, read-only when the pod's claim
//     source says so;
//   - `ephemeral`: the claim `<pod>-<volume>`, which must be controlled by
//     the pod (else it belongs to someone else and must not be used).
// A device-mountable plugin (FlexVolume, CSI) is also asked for the
// volume's unique name and whether it is attached and device-mounted; those
// answers decide the reconciler's device steps and the node's volumesInUse.
// A failure is recorded on the pod (waitForAttachAndMount lists it), told
// the user as a FailedMount event, and retried with the executor's
// exponential backoff — one event per step, not one per pass.
//
// Content versions: a configMap/secret/downwardAPI/projected volume's content
// follows API objects. Its version is the resourceVersions of the objects it
// reads (and the pod's own for downward API items). The populator re-reads
// the objects' versions every `sourceCheckIntervalMs` (upstream watches them;
// one GET per object per second is cheap on one machine) and the reconciler
// re-runs setUp on a mounted volume whose version moved.

import type { PersistentVolume, PersistentVolumeClaim } from '../../api/core/volume-types.ts';
import type { Logger } from '../../base/index.ts';
import { toError } from '../../base/index.ts';
import type { EventRecorder, RestClient } from '../../client/index.ts';
import { ApiError, resourcePath, resources } from '../../client/index.ts';
import type { DeviceMountableVolumePlugin, Pod, PodVolume, VolumePluginManager, VolumeSpec } from '../../volume/index.ts';
import { isDeviceMountable, volumeSpecName } from '../../volume/index.ts';
import type { DesiredDevice, DesiredStateOfWorld } from './cache/desired-state-of-world.ts';
import { podSpecVolumes } from './cache/desired-state-of-world.ts';
import type { ExponentialBackoff } from './operation-executor.ts';
import { volumeKey } from './operation-executor.ts';

/** A volume's spec could not be resolved; the message goes into a FailedMount event. */
export class VolumeSpecError extends Error {
  override readonly name = 'VolumeSpecError';
  readonly volumeName: string;
  constructor(volumeName: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.volumeName = volumeName;
  }
}

/** An API object a volume's content is read from. */
interface ContentSource {
  resource: 'configmaps' | 'secrets';
  name: string;
}

/** The objects a projection volume reads, and whether it reads the pod itself (downward API). */
export function contentSources(volume: PodVolume): { objects: ContentSource[]; pod: boolean } {
  const objects: ContentSource[] = [];
  let pod = false;
  if (volume.configMap?.name !== undefined) objects.push({ resource: 'configmaps', name: volume.configMap.name });
  if (volume.secret?.secretName !== undefined) objects.push({ resource: 'secrets', name: volume.secret.secretName });
  if (volume.downwardAPI !== undefined) pod = true;
  for (const s of volume.projected?.sources ?? []) {
    if (s.configMap?.name !== undefined) objects.push({ resource: 'configmaps', name: s.configMap.name });
    if (s.secret?.name !== undefined) objects.push({ resource: 'secrets', name: s.secret.name });
    if (s.downwardAPI !== undefined) pod = true;
  }
  return { objects, pod };
}

const PROJECTION_SOURCES = ['configMap', 'secret', 'downwardAPI', 'projected'] as const;

/** Whether a pod volume's own source asks for read-only (projections are always read-only to containers). */
function podVolumeReadOnly(volume: PodVolume): boolean {
  if (PROJECTION_SOURCES.some((s) => volume[s] !== undefined)) return true;
  for (const [field, value] of Object.entries(volume)) {
    if (field === 'name' || typeof value !== 'object' || value === null) continue;
    if ((value as { readOnly?: unknown }).readOnly === true) return true;
  }
  return false;
}

function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.code === 404;
}

export interface PopulatorOptions {
  dsw: DesiredStateOfWorld;
  client: RestClient;
  plugins: VolumePluginManager;
  logger: Logger;
  recorder: EventRecorder;
  backoff: ExponentialBackoff;
  /** The DSW changed: wake the reconciler. */
  onChange: () => void;
  sourceCheckIntervalMs: number;
  now: () => number;
}

export class DesiredStateOfWorldPopulator {
  readonly #o: PopulatorOptions;
  readonly #inFlight = new Set<string>();
  /** The configMap/secret part of each resolved projection volume's version, by volume key. */
  readonly #objectVersions = new Map<string, string>();
  #lastSourceCheck = 0;

  constructor(options: PopulatorOptions) {
    this.#o = options;
  }

  /**
   * One pass: resolves every unresolved volume of every desired pod that is
   * neither being resolved nor backing off, refreshes content versions, and
   * resolves when those resolutions have finished. Never throws.
   */
  async populate(signal: AbortSignal): Promise<void> {
    const { dsw } = this.#o;
    const work: Promise<void>[] = [];
    const desiredKeys = new Set<string>();
    for (const uid of dsw.podUids()) {
      const pod = dsw.getPod(uid);
      if (pod === undefined) continue;
      for (const volume of podSpecVolumes(pod).values()) {
        const key = volumeKey(uid, volume.name);
        desiredKeys.add(key);
        if (dsw.getVolume(uid, volume.name) !== undefined) continue;
        if (this.#inFlight.has(key) || this.#o.backoff.isBackingOff(`${key}|resolve`)) continue;
        work.push(this.#resolve(uid, pod, volume, signal));
      }
    }
    for (const key of [...this.#objectVersions.keys()]) if (!desiredKeys.has(key)) this.#objectVersions.delete(key);
    await Promise.all(work);
    if (this.#o.now() - this.#lastSourceCheck >= this.#o.sourceCheckIntervalMs) {
      this.#lastSourceCheck = this.#o.now();
      await this.#refreshObjectVersions(signal);
    }
    this.#updateContentVersions();
  }

  /** Forgets per-pod state (backoff) of a pod that went away. */
  forgetPod(uid: string): void {
    this.#o.backoff.resetPrefix(`${uid}/`);
  }

  async #resolve(uid: string, pod: Pod, volume: PodVolume, signal: AbortSignal): Promise<void> {
    const key = volumeKey(uid, volume.name);
    this.#inFlight.add(key);
    try {
      const spec = await this.createVolumeSpec(pod, volume, signal);
      const plugin = this.#o.plugins.findPluginBySpec(spec);
      const device = isDeviceMountable(plugin) ? await resolveDevice(plugin, spec, volume.name, signal) : undefined;
      let objectVersion = '';
      if (plugin.requiresRemount === true && spec.volume !== undefined) {
        objectVersion = await this.#objectVersion(pod, spec.volume, signal);
      }
      // The pod may have been removed (or lost the volume) while we were asking the API.
      const added = this.#o.dsw.addPodVolume({
        podUid: uid,
        outerName: volume.name,
        innerName: volumeSpecName(spec),
        spec,
        plugin,
        contentVersion: this.#contentVersion(pod, volume, objectVersion),
        ...(device === undefined ? {} : { device }),
      });
      if (!added) return;
      if (plugin.requiresRemount === true) this.#objectVersions.set(key, objectVersion);
      this.#o.backoff.reset(`${key}|resolve`);
      this.#o.onChange();
    } catch (err) {
      if (signal.aborted) return;
      const e = toError(err);
      const delayMs = this.#o.backoff.recordFailure(`${key}|resolve`);
      if (!this.#o.dsw.isVolumeReferenced(uid, volume.name)) return;
      this.#o.dsw.setVolumeError(uid, volume.name, e.message);
      this.#o.logger.warn({ pod: `${pod.metadata.namespace}/${pod.metadata.name}`, volume: volume.name, delayMs, err: e }, 'resolving volume failed');
      this.#o.recorder.event(podRef(pod), 'Warning', 'FailedMount', e.message);
      this.#o.onChange();
    } finally {
      this.#inFlight.delete(key);
    }
  }

  /** The spec of one pod volume; claims are looked up. Throws VolumeSpecError or the API's error. */
  async createVolumeSpec(pod: Pod, volume: PodVolume, signal: AbortSignal): Promise<VolumeSpec> {
    const ns = pod.metadata.namespace ?? '';
    if (volume.persistentVolumeClaim !== undefined) {
      const claim = await this.#getBoundClaim(ns, volume.persistentVolumeClaim.claimName, volume.name, signal);
      const pv = await this.#getPV(claim, volume.name, signal);
      return { persistentVolume: pv, readOnly: volume.persistentVolumeClaim.readOnly === true };
    }
    if (volume.ephemeral !== undefined && volume.ephemeral !== null) {
      const claimName = `${pod.metadata.name ?? ''}-${volume.name}`;
      const claim = await this.#getBoundClaim(ns, claimName, volume.name, signal);
      const controller = claim.metadata.ownerReferences?.find((r) => r.controller === true);
      if (controller?.uid !== pod.metadata.uid) {
        throw new VolumeSpecError(volume.name, `PVC ${ns}/${claimName} was not created for pod ${ns}/${pod.metadata.name ?? ''} (pod is not owner)`);
      }
      const pv = await this.#getPV(claim, volume.name, signal);
      return { persistentVolume: pv, readOnly: false };
    }
    return { volume, readOnly: podVolumeReadOnly(volume) };
  }

  async #getBoundClaim(ns: string, name: string, volName: string, signal: AbortSignal): Promise<PersistentVolumeClaim> {
    let claim: PersistentVolumeClaim;
    try {
      claim = await this.#o.client.get<PersistentVolumeClaim>(resourcePath(resources.persistentVolumeClaims, ns, name), { signal });
    } catch (err) {
      if (isNotFound(err)) throw new VolumeSpecError(volName, `persistentvolumeclaim "${name}" not found`, { cause: err });
      throw new VolumeSpecError(volName, `error processing PVC ${ns}/${name}: failed to fetch PVC from API server: ${toError(err).message}`, { cause: err });
    }
    if (claim.metadata.deletionTimestamp !== undefined) {
      throw new VolumeSpecError(volName, `error processing PVC ${ns}/${name}: PVC is being deleted`);
    }
    if (claim.status?.phase !== 'Bound' || (claim.spec.volumeName ?? '') === '') {
      throw new VolumeSpecError(volName, `PVC ${ns}/${name} is not bound`);
    }
    return claim;
  }

  async #getPV(claim: PersistentVolumeClaim, volName: string, signal: AbortSignal): Promise<PersistentVolume> {
    const ns = claim.metadata.namespace ?? '';
    const claimName = claim.metadata.name ?? '';
    const pvName = claim.spec.volumeName ?? '';
    let pv: PersistentVolume;
    try {
      pv = await this.#o.client.get<PersistentVolume>(resourcePath(resources.persistentVolumes, undefined, pvName), { signal });
    } catch (err) {
      throw new VolumeSpecError(volName, `error processing PVC ${ns}/${claimName}: failed to fetch PV ${pvName} from API server: ${toError(err).message}`, { cause: err });
    }
    const ref = pv.spec.claimRef;
    if (ref === undefined || ref === null) {
      throw new VolumeSpecError(volName, `error processing PVC ${ns}/${claimName}: found PV object ${pvName} but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim`);
    }
    if (ref.uid !== claim.metadata.uid) {
      throw new VolumeSpecError(volName, `error processing PVC ${ns}/${claimName}: found PV object ${pvName} but its pv.Spec.ClaimRef.UID ${ref.uid ?? ''} does not point to claim.UID ${claim.metadata.uid ?? ''}`);
    }
    return pv;
  }

  /** `configmaps/a=12,secrets/b=absent`: the versions of the objects a volume reads. Throws on API errors other than 404. */
  async #objectVersion(pod: Pod, volume: PodVolume, signal: AbortSignal): Promise<string> {
    const ns = pod.metadata.namespace ?? '';
    const parts: string[] = [];
    for (const src of contentSources(volume).objects) {
      const ref = src.resource === 'configmaps' ? resources.configMaps : resources.secrets;
      let rv: string;
      try {
        const obj = await this.#o.client.get(resourcePath(ref, ns, src.name), { signal });
        rv = obj.metadata.resourceVersion ?? '';
      } catch (err) {
        if (!isNotFound(err)) throw err;
        rv = 'absent';
      }
      parts.push(`${src.resource}/${src.name}=${rv}`);
    }
    return parts.join(',');
  }

  #contentVersion(pod: Pod, volume: PodVolume, objectVersion: string): string {
    return contentSources(volume).pod ? `${objectVersion}|pod=${pod.metadata.resourceVersion ?? ''}` : objectVersion;
  }

  async #refreshObjectVersions(signal: AbortSignal): Promise<void> {
    const { dsw } = this.#o;
    await Promise.all([...this.#objectVersions.keys()].map(async (key) => {
      const [uid, name] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
      const pod = dsw.getPod(uid);
      const volume = dsw.getVolume(uid, name)?.spec.volume;
      if (pod === undefined || volume === undefined || contentSources(volume).objects.length === 0) return;
      try {
        const v = await this.#objectVersion(pod, volume, signal);
        if (this.#objectVersions.has(key)) this.#objectVersions.set(key, v);
      } catch (err) {
        // Keep the old version: a failed check must not trigger a remount.
        if (!signal.aborted) this.#o.logger.debug({ key, err: toError(err) }, 'checking volume sources failed');
      }
    }));
  }

  #updateContentVersions(): void {
    const { dsw } = this.#o;
    let changed = false;
    for (const [key, objectVersion] of this.#objectVersions) {
      const uid = key.slice(0, key.indexOf('/'));
      const name = key.slice(key.indexOf('/') + 1);
      const pod = dsw.getPod(uid);
      const v = dsw.getVolume(uid, name);
      if (pod === undefined || v?.spec.volume === undefined) continue;
      const version = this.#contentVersion(pod, v.spec.volume, objectVersion);
      if (version !== v.contentVersion) {
        dsw.setContentVersion(uid, name, version);
        changed = true;
      }
    }
    if (changed) this.#o.onChange();
  }
}

/** A device-mountable plugin's answers about `spec`. Throws VolumeSpecError with upstream's wording. */
async function resolveDevice(plugin: DeviceMountableVolumePlugin, spec: VolumeSpec, outerName: string, signal: AbortSignal): Promise<DesiredDevice> {
  let uniqueVolumeName: string;
  try {
    uniqueVolumeName = await plugin.getUniqueVolumeName(spec, signal);
  } catch (err) {
    throw new VolumeSpecError(
      outerName,
      `failed to GetUniqueVolumeNameFromSpec for volumeSpec "${volumeSpecName(spec)}" using volume plugin "${plugin.name}" err=${toError(err).message}`,
      { cause: err },
    );
  }
  try {
    const [requiresAttach, requiresDeviceMount] = await Promise.all([plugin.requiresAttach(spec, signal), plugin.requiresDeviceMount(spec, signal)]);
    return { uniqueVolumeName, requiresAttach, requiresDeviceMount };
  } catch (err) {
    throw new VolumeSpecError(outerName, `failed to check whether volume "${volumeSpecName(spec)}" is attachable using volume plugin "${plugin.name}": ${toError(err).message}`, {
      cause: err,
    });
  }
}

/** The pod as an event's involved object (pods handed to addPod may lack kind and apiVersion). */
export function podRef(pod: Pod): Pod {
  return { ...pod, kind: pod.kind ?? 'Pod', apiVersion: pod.apiVersion ?? 'v1' };
}

// What a FlexVolume driver is told about a volume: the flexVolume source of
// a pod volume or a PersistentVolume, and the options JSON built from it the
// way upstream's NewOptionsForDriver and addSecretsToOptions build it
// (driver-call.go, util.go). The implicit keys come first and the volume's
// own `options` last, so a volume cannot be overridden by the kubelet but
// can shadow an implicit key — upstream's order, kept on purpose.
//
// Which call gets which keys (as upstream):
//   every call with options   kubernetes.io/fsType, kubernetes.io/readwrite, kubernetes.io/pvOrVolumeName, options…
//   `mount` in addition       kubernetes.io/pod.{name,namespace,uid}, kubernetes.io/serviceAccount.name,
//                             kubernetes.io/mounterArgs.FsGroup (when set), kubernetes.io/secret/<key>…
//
// Secrets: `secretRef` names a Secret whose `type` must be the driver name
// (`<vendor>/<driver>`); each data key becomes `kubernetes.io/secret/<key>`
// with the value base64-encoded, exactly as the Secret's wire form.

import { Buffer } from 'node:buffer';
import type { KubeObject } from '../../../apimachinery/index.ts';
import type { ObjectSource, VolumeSpec } from '../../plugin.ts';
import { volumeSpecName } from '../../plugin.ts';
import type { DriverOptions } from './driver-call.ts';
import { OPTION_KEY_SECRET_PREFIX } from './driver-call.ts';

export const OPTION_FS_TYPE = 'kubernetes.io/fsType';
export const OPTION_READ_WRITE = 'kubernetes.io/readwrite';
export const OPTION_KEY_SECRET = 'kubernetes.io/secret';
/**
 * Upstream's key since Kubernetes 1.15 (an accidental rename of the older
 * `kubernetes.io/fsGroup` that drivers have since adapted to).
 */
export const OPTION_FS_GROUP = 'kubernetes.io/mounterArgs.FsGroup';
export const OPTION_PV_OR_VOLUME_NAME = 'kubernetes.io/pvOrVolumeName';
export const OPTION_KEY_POD_NAME = 'kubernetes.io/pod.name';
export const OPTION_KEY_POD_NAMESPACE = 'kubernetes.io/pod.namespace';
export const OPTION_KEY_POD_UID = 'kubernetes.io/pod.uid';
export const OPTION_KEY_SERVICE_ACCOUNT_NAME = 'kubernetes.io/serviceAccount.name';

/** `flexVolume` of a pod volume (secretRef in the pod's namespace). */
export interface FlexVolumeSource {
  driver: string;
  fsType?: string;
  secretRef?: { name?: string } | null;
  readOnly?: boolean;
  options?: Record<string, string>;
}

/** `flexVolume` of a PersistentVolume (secretRef may name another namespace). */
export interface FlexPersistentVolumeSource {
  driver: string;
  fsType?: string;
  secretRef?: { name?: string; namespace?: string } | null;
  readOnly?: boolean;
  options?: Record<string, string>;
}

function isFlexSource(v: unknown): v is FlexPersistentVolumeSource {
  return typeof v === 'object' && v !== null && typeof (v as { driver?: unknown }).driver === 'string';
}

/** The flexVolume source of a spec, with where it came from; undefined when it has none. */
export function flexSourceOf(spec: VolumeSpec): { source: FlexPersistentVolumeSource; fromPV: boolean } | undefined {
  const fromPod = spec.volume?.flexVolume;
  if (spec.volume !== undefined) return isFlexSource(fromPod) ? { source: fromPod, fromPV: false } : undefined;
  const fromPV = spec.persistentVolume?.spec.flexVolume;
  return isFlexSource(fromPV) ? { source: fromPV, fromPV: true } : undefined;
}

/** The driver a spec names (`<vendor>/<driver>`), or undefined. */
export function driverOf(spec: VolumeSpec): string | undefined {
  return flexSourceOf(spec)?.source.driver;
}

/** Read-only: a pod volume's own flag; for a PV, the claim/pod's (upstream: spec.ReadOnly). */
export function readOnlyOf(spec: VolumeSpec): boolean {
  const found = flexSourceOf(spec);
  if (found === undefined) return spec.readOnly;
  if (found.fromPV) return spec.readOnly;
  return found.source.readOnly === true || spec.readOnly;
}

export function fsTypeOf(spec: VolumeSpec): string {
  return flexSourceOf(spec)?.source.fsType ?? '';
}

/** The options every call that takes a spec gets, plus `extra` (the volume's own options win). */
export function newOptionsForDriver(spec: VolumeSpec, extra: DriverOptions = {}): DriverOptions {
  const options: DriverOptions = {
    [OPTION_FS_TYPE]: fsTypeOf(spec),
    [OPTION_READ_WRITE]: readOnlyOf(spec) ? 'ro' : 'rw',
    [OPTION_PV_OR_VOLUME_NAME]: volumeSpecName(spec),
  };
  for (const [k, v] of Object.entries(extra)) options[k] = v;
  for (const [k, v] of Object.entries(flexSourceOf(spec)?.source.options ?? {})) {
    if (typeof v === 'string') options[k] = v;
  }
  return options;
}

/** The secretRef could not be turned into options. Never carries secret values. */
export class FlexSecretError extends Error {
  override readonly name = 'FlexSecretError';
  readonly namespace: string;
  readonly secretName: string;
  constructor(namespace: string, secretName: string, reason: string, options?: ErrorOptions) {
    super(`couldn't get secret ${namespace}/${secretName} err: ${reason}`, options);
    this.namespace = namespace;
    this.secretName = secretName;
  }
}

/** Secret name and namespace of a spec's secretRef ("" name: none). */
export function secretRefOf(spec: VolumeSpec, podNamespace: string): { name: string; namespace: string } {
  const found = flexSourceOf(spec);
  const ref = found?.source.secretRef;
  if (found === undefined || ref === undefined || ref === null) return { name: '', namespace: '' };
  const namespace = found.fromPV && ref.namespace !== undefined && ref.namespace !== '' ? ref.namespace : podNamespace;
  return { name: ref.name ?? '', namespace };
}

/**
 * Adds `kubernetes.io/secret/<key>` for every key of the spec's secretRef
 * Secret. No secretRef: no-op. Throws FlexSecretError (missing Secret, wrong
 * type, no object source) or CancelledError.
 */
export async function addSecretsToOptions(
  options: DriverOptions,
  spec: VolumeSpec,
  podNamespace: string,
  driverName: string,
  objects: ObjectSource | undefined,
  signal?: AbortSignal,
): Promise<void> {
  const { name, namespace } = secretRefOf(spec, podNamespace);
  if (name === '' || namespace === '') return;
  if (objects === undefined) throw new FlexSecretError(namespace, name, 'cannot get kube client');
  const secret: KubeObject | undefined = await objects.getSecret(namespace, name, signal);
  if (secret === undefined) throw new FlexSecretError(namespace, name, `secrets "${name}" not found`);
  if (secret.type !== driverName) throw new FlexSecretError(namespace, name, `cannot get secret of type ${driverName}`);
  const data = secret.data;
  if (typeof data !== 'object' || data === null) return;
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    if (typeof value !== 'string') continue;
    // Decode and re-encode: upstream encodes the raw bytes, so the value is canonical base64.
    options[`${OPTION_KEY_SECRET_PREFIX}${key}`] = Buffer.from(value, 'base64').toString('base64');
  }
}

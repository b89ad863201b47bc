// Which of a pod's volumes the AD controller attaches, and the names a CSI
// attachment goes by (upstream: pkg/volume/csi/csi_attacher.go and
// csi_plugin.go, and the volume-spec lookup of attachdetach/util).
//
// CSI persistent volumes are attachable when a pod volume names a claim
// (directly or as a generic ephemeral volume), whose claim is bound to a PV
// with `spec.csi`, whose driver requires attaching. (FlexVolume volumes are
// the other attachable kind: flex-volumes.ts, which shares the claim → PV
// resolution below.) A CSIDriver object
// that is missing counts as "attach required", as upstream's skipAttach
// does: attaching is the safe default for a driver that has not said
// otherwise. Inline `csi` volumes never go through ControllerPublish.
//
// Names, carried over exactly:
//   - unique volume name `kubernetes.io/csi/<driver>^<volumeHandle>`, the
//     form the kubelet reports in `status.volumesInUse` and reads in
//     `status.volumesAttached`;
//   - VolumeAttachment name `csi-<hex sha256(volumeHandle + driver + node)>`,
//     so any attacher, kubelet or restarted controller finds the same object.

import { createHash } from 'node:crypto';
import type { KubeObject } from '../../apimachinery/index.ts';
import { ephemeralClaimName, volumeIsForPod } from '../../api/core/ephemeral-volumes.ts';
import type { FlexVolumeToAttach } from './flex-volumes.ts';

export const CSI_PLUGIN_NAME = 'kubernetes.io/csi';
const VOLUME_NAME_SEP = '^';

export interface PodVolumeSource {
  name: string;
  persistentVolumeClaim?: { claimName?: string; readOnly?: boolean };
  ephemeral?: unknown;
  csi?: unknown;
  flexVolume?: unknown;
}

export interface Pod extends KubeObject {
  spec?: { nodeName?: string; volumes?: PodVolumeSource[] };
  status?: { phase?: string };
}

export interface Claim extends KubeObject {
  spec?: { volumeName?: string };
}

export interface PersistentVolume extends KubeObject {
  spec?: {
    csi?: { driver?: string; volumeHandle?: string };
    flexVolume?: unknown;
    claimRef?: { uid?: string; name?: string; namespace?: string };
    accessModes?: string[];
  };
}

export interface CsiDriver extends KubeObject {
  spec?: { attachRequired?: boolean };
}

export interface AttachmentStatus {
  attached?: boolean;
  attachError?: { message?: string; time?: string };
  detachError?: { message?: string; time?: string };
}

export interface VolumeAttachment extends KubeObject {
  spec?: { attacher?: string; nodeName?: string; source?: { persistentVolumeName?: string; inlineVolumeSpec?: unknown } };
  status?: AttachmentStatus;
}

/** An attachable volume resolved from a pod: everything needed to attach it to a node. */
export interface AttachableVolume {
  /** `kubernetes.io/csi/<driver>^<handle>`, or `flexvolume-<vendor>/<driver>/<name>`. */
  volumeName: string;
  /** The PV's name; "" for an inline FlexVolume volume. */
  pvName: string;
  /** The CSI driver, or the FlexVolume driver `<vendor>/<driver>`. */
  driver: string;
  /** The CSI volume handle, or the FlexVolume driver's name for the volume. */
  volumeHandle: string;
  /** The volume may be attached to several nodes at once (ReadWriteMany, ReadOnlyMany, no access modes, inline). */
  multiAttachAllowed: boolean;
  /** Set for a FlexVolume volume, which this controller attaches itself. */
  flex?: FlexVolumeToAttach;
}

/** The unique volume name of a CSI volume (upstream GetUniqueVolumeNameFromSpec for the CSI plugin). */
export function csiVolumeName(driver: string, volumeHandle: string): string {
  return `${CSI_PLUGIN_NAME}/${driver}${VOLUME_NAME_SEP}${volumeHandle}`;
}

/** Splits a unique CSI volume name; undefined for any other plugin's name. */
export function parseCsiVolumeName(volumeName: string): { driver: string; volumeHandle: string } | undefined {
  const prefix = `${CSI_PLUGIN_NAME}/`;
  if (!volumeName.startsWith(prefix)) return undefined;
  const rest = volumeName.slice(prefix.length);
  const sep = rest.indexOf(VOLUME_NAME_SEP);
  if (sep <= 0) return undefined;
  return { driver: rest.slice(0, sep), volumeHandle: rest.slice(sep + 1) };
}

/** The VolumeAttachment name upstream's CSI attacher uses (getAttachmentName). */
export function attachmentName(volumeHandle: string, driver: string, nodeName: string): string {
  return `csi-${createHash('sha256').update(`${volumeHandle}${driver}${nodeName}`).digest('hex')}`;
}

/** The caches resolution reads; each returns undefined for an object it does not hold. */
export interface VolumeLookup {
  claim(namespace: string, name: string): Claim | undefined;
  volume(name: string): PersistentVolume | undefined;
  driver(name: string): CsiDriver | undefined;
}

/** Whether `driver` needs a VolumeAttachment: its CSIDriver says attachRequired, or there is no CSIDriver. */
export function attachRequired(lookup: VolumeLookup, driver: string): boolean {
  return lookup.driver(driver)?.spec?.attachRequired !== false;
}

/**
 * The attachable volumes of `pod` that resolve now. A volume that does not
 * resolve yet (claim missing or unbound, PV missing or bound to another
 * claim) is left out without error: a later claim or PV event brings it in.
 */
export function attachableVolumesOfPod(pod: Pod, lookup: VolumeLookup): AttachableVolume[] {
  const out = new Map<string, AttachableVolume>();
  for (const v of pod.spec?.volumes ?? []) {
    const resolved = resolvePersistentVolume(pod, v, lookup);
    if (resolved === undefined) continue;
    const { pv, pvName } = resolved;
    const csi = pv.spec?.csi;
    if (csi?.driver === undefined || csi.volumeHandle === undefined) continue;
    if (!attachRequired(lookup, csi.driver)) continue;
    const volumeName = csiVolumeName(csi.driver, csi.volumeHandle);
    out.set(volumeName, { volumeName, pvName, driver: csi.driver, volumeHandle: csi.volumeHandle, multiAttachAllowed: isMultiAttachAllowed(pv) });
  }
  return [...out.values()];
}

/**
 * The PV a pod volume's claim (or generic ephemeral volume's claim) is bound
 * to, and the read-only flag the volume's spec gets (the claim reference's;
 * false for an ephemeral volume), as the kubelet builds it. Undefined when
 * the volume names no claim or it does not resolve yet.
 */
export function resolvePersistentVolume(
  pod: Pod,
  v: PodVolumeSource,
  lookup: VolumeLookup,
): { pv: PersistentVolume; pvName: string; readOnly: boolean } | undefined {
  let claimName: string | undefined;
  if (v.persistentVolumeClaim !== undefined) claimName = v.persistentVolumeClaim.claimName;
  else if (v.ephemeral !== undefined) claimName = ephemeralClaimName(pod, v);
  if (claimName === undefined || claimName === '') return undefined;
  const claim = lookup.claim(pod.metadata.namespace ?? '', claimName);
  if (claim === undefined) return undefined;
  // A generic ephemeral volume's claim must be the one made for this pod.
  if (v.ephemeral !== undefined && !volumeIsForPod(pod, claim)) return undefined;
  const pvName = claim.spec?.volumeName ?? '';
  if (pvName === '') return undefined;
  const pv = lookup.volume(pvName);
  if (pv === undefined) return undefined;
  // Half-bound (the PV points elsewhere): not this claim's volume yet.
  if (pv.spec?.claimRef?.uid !== undefined && pv.spec.claimRef.uid !== claim.metadata.uid) return undefined;
  return { pv, pvName, readOnly: v.persistentVolumeClaim?.readOnly === true };
}

/**
 * Whether `pv` may be attached to more than one node (upstream
 * isMultiAttachAllowed): a PV without access modes gives no reason to refuse;
 * otherwise only ReadWriteMany and ReadOnlyMany allow it.
 */
export function isMultiAttachAllowed(pv: PersistentVolume): boolean {
  const modes = pv.spec?.accessModes ?? [];
  return modes.length === 0 || modes.includes('ReadWriteMany') || modes.includes('ReadOnlyMany');
}

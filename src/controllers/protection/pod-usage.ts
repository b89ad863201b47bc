// Which pods use which claims: the pure rules the pvc-protection controller
// decides with (upstream: pkg/controller/volume/common's PodPVCIndexFunc,
// component-helpers/storage/ephemeral, and podUsesPVC in
// pvc_protection_controller.go). No I/O, so every rule is tested alone.
//
// A pod refers to a claim in two ways: a `persistentVolumeClaim` volume names
// it, or a generic ephemeral volume implies it — the claim the ephemeral
// volume controller creates for it is called `<pod>-<volume>` and is owned
// (controller reference) by the pod. A claim that merely has that name but
// belongs to someone else is not the pod's: the kubelet refuses to use it.
//
// A referring pod *uses* the claim while it may still have the volume
// mounted: until it reaches a terminal phase (Succeeded, Failed), or until it
// is shut down (a deletionTimestamp with a zero grace period: the kubelet has
// finished with it, or it was force-deleted). Unscheduled pods count too —
// see the design comment of pvc-protection-controller.ts for why that is
// stricter than upstream.

import type { KubeObject } from '../../apimachinery/index.ts';
import { ephemeralClaimName, volumeIsForPod } from '../../api/core/ephemeral-volumes.ts';
import { isPodTerminated } from '../../api/core/pod-helpers.ts';

/** The fields of a pod the protection rules read. */
export interface Pod extends KubeObject {
  spec?: {
    nodeName?: string;
    volumes?: PodVolume[];
  };
  status?: { phase?: string };
}

export interface PodVolume {
  name: string;
  persistentVolumeClaim?: { claimName?: string; readOnly?: boolean } | null;
  ephemeral?: { volumeClaimTemplate?: unknown } | null;
}

/** The name of the pods informer's index from `namespace/claim` to the pods that refer to it (upstream's name). */
export const POD_PVC_INDEX = 'pod-pvc-index';

/**
 * The claim name a volume refers to, or undefined for a volume of another
 * kind. An ephemeral volume refers to `<pod>-<volume>` by name only; whether
 * that claim really is the pod's is volumeIsForPod's question.
 */
export function volumeClaimName(pod: Pod, volume: PodVolume): string | undefined {
  const claimName = volume.persistentVolumeClaim?.claimName;
  if (volume.persistentVolumeClaim != null) return claimName === undefined || claimName === '' ? undefined : claimName;
  if (volume.ephemeral != null) return ephemeralClaimName(pod, volume);
  return undefined;
}

/** The POD_PVC_INDEX values of a pod: `namespace/claim` for every claim it refers to. */
export function podPvcIndexValues(pod: Pod): string[] {
  const ns = pod.metadata.namespace ?? '';
  const out: string[] = [];
  for (const volume of pod.spec?.volumes ?? []) {
    const claimName = volumeClaimName(pod, volume);
    if (claimName !== undefined) out.push(`${ns}/${claimName}`);
  }
  return out;
}

/**
 * Being deleted with a zero grace period: the kubelet has finished with the
 * pod (it deletes with grace 0 after tearing the volumes down), or the pod
 * was force-deleted. It only waits for its own finalizers now.
 */
export function podIsShutDown(pod: Pod): boolean {
  return Boolean(pod.metadata.deletionTimestamp) && pod.metadata.deletionGracePeriodSeconds === 0;
}

/** Whether a pod that refers to claims still counts as using them. */
export function podMayUseVolumes(pod: Pod): boolean {
  return !isPodTerminated(pod) && !podIsShutDown(pod);
}

/** Whether `pod` uses `claim` now (same namespace, refers to it, and may still have it mounted). */
export function podUsesPVC(pod: Pod, claim: Pick<KubeObject, 'metadata'>): boolean {
  if ((pod.metadata.namespace ?? '') !== (claim.metadata.namespace ?? '')) return false;
  if (!podMayUseVolumes(pod)) return false;
  const claimName = claim.metadata.name ?? '';
  for (const volume of pod.spec?.volumes ?? []) {
    if (volume.persistentVolumeClaim != null) {
      if (volume.persistentVolumeClaim.claimName === claimName) return true;
    } else if (volume.ephemeral != null) {
      if (ephemeralClaimName(pod, volume) === claimName && volumeIsForPod(pod, claim)) return true;
    }
  }
  return false;
}

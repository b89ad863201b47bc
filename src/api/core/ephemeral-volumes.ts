// The naming and ownership rules of generic ephemeral volumes (upstream:
// k8s.io/component-helpers/storage/ephemeral), shared by the ephemeral volume
// controller that creates the claims and the pvc-protection controller that
// must tell whether a pod uses one: the claim of volume V of pod P is
// `<P>-<V>`, and it is P's only when P is its controller.

import type { KubeObject } from '../../apimachinery/index.ts';
import { isControlledBy } from './owner-references.ts';

/** `<pod>-<volume>` (upstream VolumeClaimName). */
export function ephemeralClaimName(pod: Pick<KubeObject, 'metadata'>, volume: { name: string }): string {
  return `${pod.metadata.name ?? ''}-${volume.name}`;
}

/** Whether `claim` was created for an ephemeral volume of `pod`: the pod is its controller (upstream VolumeIsForPod). */
export function volumeIsForPod(pod: Pick<KubeObject, 'metadata'>, claim: Pick<KubeObject, 'metadata'>): boolean {
  return isControlledBy(claim, pod);
}

// The rules of generic ephemeral volumes, free of I/O (upstream:
// k8s.io/component-helpers/storage/ephemeral): the claim of pod volume V of
// pod P is `<P>-<V>`, created from the volume's template and controlled by
// the pod, and a claim of that name the pod does not control is not its
// claim, whatever it contains.

import type { KubeObject } from '../../apimachinery/index.ts';
import { deepCopy } from '../../apimachinery/index.ts';
import { ephemeralClaimName, volumeIsForPod } from '../../api/core/ephemeral-volumes.ts';
import { newControllerRef } from '../../api/core/owner-references.ts';

export { ephemeralClaimName };

export interface ClaimTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
}

export interface EphemeralVolume {
  name: string;
  ephemeral?: { volumeClaimTemplate?: ClaimTemplate };
  [source: string]: unknown;
}

export interface Pod extends KubeObject {
  spec?: { volumes?: EphemeralVolume[]; [field: string]: unknown };
}

/** The pod's volumes that are generic ephemeral volumes. */
export function ephemeralVolumes(pod: Pod): EphemeralVolume[] {
  return (pod.spec?.volumes ?? []).filter((v) => v.ephemeral !== undefined && v.ephemeral !== null);
}

/** Whether the controller has anything to do for `pod`: ephemeral volumes, and not being deleted. */
export function podNeedsWork(pod: Pod): boolean {
  return pod.metadata.deletionTimestamp === undefined && ephemeralVolumes(pod).length > 0;
}

/** The claim to create for `volume` of `pod`: the template's labels, annotations and spec, controlled by the pod. */
export function newEphemeralClaim(pod: Pod, volume: EphemeralVolume): KubeObject {
  const template = volume.ephemeral?.volumeClaimTemplate ?? {};
  const owner = newControllerRef(pod, 'v1', 'Pod');
  const metadata: KubeObject['metadata'] = { name: ephemeralClaimName(pod, volume), namespace: pod.metadata.namespace, ownerReferences: [owner] };
  if (template.metadata?.labels !== undefined) metadata.labels = { ...template.metadata.labels };
  if (template.metadata?.annotations !== undefined) metadata.annotations = { ...template.metadata.annotations };
  return { apiVersion: 'v1', kind: 'PersistentVolumeClaim', metadata, spec: deepCopy(template.spec ?? {}) };
}

/** Why `claim` is not the pod's ephemeral claim (upstream's wording), or undefined when it is. */
export function claimNotForPod(pod: KubeObject, claim: KubeObject): string | undefined {
  if (volumeIsForPod(pod, claim)) return undefined;
  return `PVC ${claim.metadata.namespace}/${claim.metadata.name} was not created for pod ${pod.metadata.namespace}/${pod.metadata.name} (pod is not owner)`;
}

// Controller references (upstream metav1.GetControllerOf / NewControllerRef):
// the one ownerReference with `controller: true` that says which object
// manages another. Every workload controller, the ephemeral volume controller
// and the protection controllers read or write these the same way, so they
// live here rather than in any one of them.

import type { KubeObject, OwnerReference } from '../../apimachinery/index.ts';

/** The ownerReference with `controller: true`, if any. */
export function controllerRefOf(obj: Pick<KubeObject, 'metadata'>): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

/** The owner reference a controller puts on what it creates or adopts (controller and blockOwnerDeletion set). */
export function newControllerRef(owner: Pick<KubeObject, 'metadata'>, apiVersion: string, kind: string): OwnerReference {
  return { apiVersion, kind, name: owner.metadata.name ?? '', uid: owner.metadata.uid ?? '', controller: true, blockOwnerDeletion: true };
}

/** Whether `owner` (which must have a uid) is the controller of `obj`. */
export function isControlledBy(obj: Pick<KubeObject, 'metadata'>, owner: Pick<KubeObject, 'metadata'>): boolean {
  const ref = controllerRefOf(obj);
  return ref !== undefined && owner.metadata.uid !== undefined && ref.uid === owner.metadata.uid;
}

// Where a resource lives on the wire and how objects are named in caches and
// queues. Every controller talks about objects by key (`namespace/name`, or
// `name` for cluster-scoped ones) exactly as client-go's
// MetaNamespaceKeyFunc does, so keys are interchangeable with upstream logs.

import type { KubeObject } from '../apimachinery/index.ts';

/** One resource of one group/version, as discovery names it. */
export interface ResourceRef {
  /** '' for the core group. */
  group: string;
  version: string;
  /** The plural, lower-case resource name (`persistentvolumeclaims`). */
  resource: string;
  namespaced: boolean;
}

/** A path that cannot be built from its parts (a programming error, not an API answer). */
export class ResourcePathError extends Error {
  override readonly name = 'ResourcePathError';
  readonly resource: string;
  constructor(resource: string, message: string) {
    super(`${resource}: ${message}`);
    this.resource = resource;
  }
}

/** A key that is neither `name` nor `namespace/name`. */
export class InvalidKeyError extends Error {
  override readonly name = 'InvalidKeyError';
  readonly key: string;
  constructor(key: string) {
    super(`unexpected key format: ${JSON.stringify(key)}`);
    this.key = key;
  }
}

/**
 * The URL path of a collection (`name` unset), an object, or an object's
 * subresource. A namespaced resource without a namespace is the all-namespaces
 * collection; naming an object of it then throws, as does a namespace on a
 * cluster-scoped resource or a subresource without a name.
 */
export function resourcePath(ref: ResourceRef, namespace?: string, name?: string, subresource?: string): string {
  const base = ref.group === '' ? `/api/${ref.version}` : `/apis/${ref.group}/${ref.version}`;
  const ns = namespace ?? '';
  if (!ref.namespaced && ns !== '') throw new ResourcePathError(ref.resource, `cluster-scoped, but namespace ${JSON.stringify(ns)} given`);
  if (ref.namespaced && ns === '' && name !== undefined) throw new ResourcePathError(ref.resource, `namespaced, but no namespace given for ${JSON.stringify(name)}`);
  if (subresource !== undefined && name === undefined) throw new ResourcePathError(ref.resource, `subresource ${subresource} without an object name`);
  let path = ns === '' ? `${base}/${ref.resource}` : `${base}/namespaces/${encodeURIComponent(ns)}/${ref.resource}`;
  if (name !== undefined) path += `/${encodeURIComponent(name)}`;
  if (subresource !== undefined) path += `/${subresource}`;
  return path;
}

/** `namespace/name`, or `name` for an object without a namespace. */
export function objectKey(obj: Pick<KubeObject, 'metadata'>): string {
  const ns = obj.metadata.namespace ?? '';
  const name = obj.metadata.name ?? '';
  return ns === '' ? name : `${ns}/${name}`;
}

/** The inverse of objectKey; `namespace` is '' for a cluster-scoped key. Throws InvalidKeyError. */
export function splitKey(key: string): { namespace: string; name: string } {
  const parts = key.split('/');
  if (parts.length === 1 && parts[0] !== '') return { namespace: '', name: parts[0] };
  if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') return { namespace: parts[0], name: parts[1] };
  throw new InvalidKeyError(key);
}

/** The resources volplane's components watch, spelled once. */
export const resources = {
  namespaces: { group: '', version: 'v1', resource: 'namespaces', namespaced: false },
  nodes: { group: '', version: 'v1', resource: 'nodes', namespaced: false },
  pods: { group: '', version: 'v1', resource: 'pods', namespaced: true },
  persistentVolumes: { group: '', version: 'v1', resource: 'persistentvolumes', namespaced: false },
  persistentVolumeClaims: { group: '', version: 'v1', resource: 'persistentvolumeclaims', namespaced: true },
  configMaps: { group: '', version: 'v1', resource: 'configmaps', namespaced: true },
  secrets: { group: '', version: 'v1', resource: 'secrets', namespaced: true },
  events: { group: '', version: 'v1', resource: 'events', namespaced: true },
  storageClasses: { group: 'storage.k8s.io', version: 'v1', resource: 'storageclasses', namespaced: false },
  volumeAttachments: { group: 'storage.k8s.io', version: 'v1', resource: 'volumeattachments', namespaced: false },
  csiDrivers: { group: 'storage.k8s.io', version: 'v1', resource: 'csidrivers', namespaced: false },
  csiNodes: { group: 'storage.k8s.io', version: 'v1', resource: 'csinodes', namespaced: false },
  leases: { group: 'coordination.k8s.io', version: 'v1', resource: 'leases', namespaced: true },
} as const satisfies Record<string, ResourceRef>;

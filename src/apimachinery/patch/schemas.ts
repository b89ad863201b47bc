// Strategic-merge-patch metadata for the built-in kinds volplane serves: the
// `patchStrategy` / `patchMergeKey` struct tags of k8s.io/api (1.32), written
// out as PatchSchema trees. Only fields that differ from the defaults (maps
// merge, lists are replaced) appear. Lists that look mergeable but carry no
// tag, and are therefore replaced whole, include: Pod tolerations, container
// command/args/envFrom/resizePolicy, PVC and PV accessModes, Node spec.taints
// and status.images/volumesAttached, StatefulSet volumeClaimTemplates,
// StorageClass mountOptions/allowedTopologies, RBAC rules and subjects,
// Namespace spec.finalizers.
//
// Kinds not in the table get ObjectMeta's metadata only; the API server
// decides on its own whether a kind accepts strategic merge patch at all
// (custom resources must answer 415).

import type { PatchSchema } from './strategic-merge-patch.ts';

function mergeBy(patchMergeKey: string, fields?: Record<string, PatchSchema>): PatchSchema {
  return fields === undefined ? { patchStrategy: 'merge', patchMergeKey } : { patchStrategy: 'merge', patchMergeKey, fields };
}

/** `patchStrategy:"merge,retainKeys"` lists. */
function mergeRetainingBy(patchMergeKey: string): PatchSchema {
  return { patchStrategy: 'merge', patchMergeKey, retainKeys: true };
}

const mergeSet: PatchSchema = { patchStrategy: 'merge' };
const conditionsByType = mergeBy('type');

// metav1.ObjectMeta: finalizers `patchStrategy:"merge"` (a set of strings);
// ownerReferences `patchStrategy:"merge" patchMergeKey:"uid"`.
const objectMeta: PatchSchema = {
  fields: {
    finalizers: mergeSet,
    ownerReferences: mergeBy('uid'),
  },
};

// core/v1 Container and EphemeralContainerCommon carry the same tags.
const containerFields: Record<string, PatchSchema> = {
  ports: mergeBy('containerPort'),
  env: mergeBy('name'),
  volumeMounts: mergeBy('mountPath'),
  volumeDevices: mergeBy('devicePath'),
};

const podSpec: PatchSchema = {
  fields: {
    volumes: mergeRetainingBy('name'),
    initContainers: mergeBy('name', containerFields),
    containers: mergeBy('name', containerFields),
    ephemeralContainers: mergeBy('name', containerFields),
    imagePullSecrets: mergeBy('name'),
    hostAliases: mergeBy('ip'),
    topologySpreadConstraints: mergeBy('topologyKey'),
    schedulingGates: mergeBy('name'),
    resourceClaims: mergeRetainingBy('name'),
  },
};

const podStatus: PatchSchema = {
  fields: {
    conditions: conditionsByType,
    podIPs: mergeBy('ip'),
    hostIPs: mergeBy('ip'),
    resourceClaimStatuses: mergeRetainingBy('name'),
  },
};

const podTemplateSpec: PatchSchema = { fields: { metadata: objectMeta, spec: podSpec } };

/** A kind's schema: ObjectMeta plus the given top-level fields. */
function kind(fields: Record<string, PatchSchema> = {}): PatchSchema {
  return { fields: { metadata: objectMeta, ...fields } };
}

const statusWithConditions: PatchSchema = { fields: { conditions: conditionsByType } };

/** Workloads whose spec embeds a pod template (`spec.template`). */
function workload(specFields: Record<string, PatchSchema> = {}): PatchSchema {
  return kind({ spec: { fields: { template: podTemplateSpec, ...specFields } }, status: statusWithConditions });
}

const table = new Map<string, PatchSchema>([
  // core/v1
  ['/Pod', kind({ spec: podSpec, status: podStatus })],
  ['/PodTemplate', kind({ template: podTemplateSpec })],
  ['/Node', kind({
    spec: { fields: { podCIDRs: mergeSet } },
    status: { fields: { addresses: mergeBy('type'), conditions: conditionsByType } },
  })],
  ['/PersistentVolume', kind()],
  ['/PersistentVolumeClaim', kind({ status: statusWithConditions })],
  ['/Namespace', kind({ status: statusWithConditions })],
  ['/ConfigMap', kind()],
  ['/Secret', kind()],
  ['/Event', kind()],
  ['/ServiceAccount', kind({ secrets: mergeBy('name') })],
  // apps/v1
  ['apps/Deployment', workload({ strategy: { retainKeys: true } })],
  ['apps/ReplicaSet', workload()],
  ['apps/StatefulSet', workload()],
  ['apps/DaemonSet', workload()],
  // batch/v1
  ['batch/Job', workload()],
  ['batch/CronJob', kind({
    spec: { fields: { jobTemplate: { fields: { metadata: objectMeta, spec: { fields: { template: podTemplateSpec } } } } } },
  })],
  // storage.k8s.io/v1
  ['storage.k8s.io/StorageClass', kind()],
  ['storage.k8s.io/VolumeAttachment', kind()],
  ['storage.k8s.io/CSIDriver', kind()],
  ['storage.k8s.io/CSINode', kind({ spec: { fields: { drivers: mergeBy('name') } } })],
  ['storage.k8s.io/CSIStorageCapacity', kind()],
  ['storage.k8s.io/VolumeAttributesClass', kind()],
  // events.k8s.io/v1, coordination.k8s.io/v1, rbac.authorization.k8s.io/v1
  ['events.k8s.io/Event', kind()],
  ['coordination.k8s.io/Lease', kind()],
  ['rbac.authorization.k8s.io/Role', kind()],
  ['rbac.authorization.k8s.io/ClusterRole', kind()],
  ['rbac.authorization.k8s.io/RoleBinding', kind()],
  ['rbac.authorization.k8s.io/ClusterRoleBinding', kind()],
]);

const metadataOnly: PatchSchema = kind();

function deepFreeze(schema: PatchSchema): PatchSchema {
  if (schema.fields !== undefined) {
    for (const child of Object.values(schema.fields)) deepFreeze(child);
    Object.freeze(schema.fields);
  }
  return Object.freeze(schema);
}

for (const schema of table.values()) deepFreeze(schema);
deepFreeze(metadataOnly);

/**
 * The strategic-merge-patch schema of a kind (`group` is '' for core).
 * Unknown kinds get a schema covering ObjectMeta only. The result is frozen
 * and shared.
 */
export function patchSchemaFor(group: string, kind: string): PatchSchema {
  return table.get(`${group}/${kind}`) ?? metadataOnly;
}

/** Whether the table describes this kind (as opposed to the ObjectMeta-only fallback). */
export function hasPatchSchema(group: string, kind: string): boolean {
  return table.has(`${group}/${kind}`);
}

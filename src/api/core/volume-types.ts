// Typed views of the PersistentVolume, PersistentVolumeClaim and StorageClass
// fields that the storage components (PV controller, scheduler, provisioners)
// read and write. The wire is plain JSON, so timestamps are strings and every
// field is optional as the server may omit it; only fields somebody uses are
// listed. The annotation keys are Kubernetes' own, spelled once here.

import type { KubeObject } from '../../apimachinery/index.ts';
import type { LabelSelectorObject } from '../../apimachinery/labels.ts';
import type { PersistentVolumeAccessMode, PersistentVolumePhase, PersistentVolumeReclaimPolicy } from './persistent-volume.ts';
import type { PersistentVolumeClaimPhase } from './persistent-volume-claim.ts';

export type { PersistentVolumeAccessMode, PersistentVolumePhase, PersistentVolumeReclaimPolicy, PersistentVolumeClaimPhase };
export type PersistentVolumeMode = 'Filesystem' | 'Block';

/** Set on a claim once the PV controller finished binding it (the two-step bind is complete). */
export const ANN_BIND_COMPLETED = 'pv.kubernetes.io/bind-completed';
/** Set on a PV or claim whose binding the controller (not the user) chose. */
export const ANN_BOUND_BY_CONTROLLER = 'pv.kubernetes.io/bound-by-controller';
/** The provisioner (in-tree plugin or external) that created a PV. */
export const ANN_DYNAMICALLY_PROVISIONED = 'pv.kubernetes.io/provisioned-by';
/** The provisioner a claim waits for. */
export const ANN_STORAGE_PROVISIONER = 'volume.kubernetes.io/storage-provisioner';
/** The deprecated spelling of ANN_STORAGE_PROVISIONER, still written for old external provisioners. */
export const ANN_BETA_STORAGE_PROVISIONER = 'volume.beta.kubernetes.io/storage-provisioner';
/** The node the scheduler chose for a WaitForFirstConsumer claim. */
export const ANN_SELECTED_NODE = 'volume.kubernetes.io/selected-node';
/** The finalizer that makes the PV controller delete the backing volume before the PV object goes. */
export const PV_DELETION_IN_TREE_PROTECTION_FINALIZER = 'kubernetes.io/pv-controller';
/** The provisioner name of classes that only bind pre-created (local) volumes. */
export const NO_PROVISIONER = 'kubernetes.io/no-provisioner';
export const HOSTNAME_LABEL = 'kubernetes.io/hostname';

export interface ObjectReference {
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiVersion?: string;
  resourceVersion?: string;
}

export interface NodeSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';
  values?: string[];
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

export interface VolumeNodeAffinity {
  required?: { nodeSelectorTerms: NodeSelectorTerm[] };
}

/** The volume sources the controller and the in-tree provisioners know; others pass through untouched. */
export interface VolumeSources {
  hostPath?: { path: string; type?: string };
  nfs?: { server: string; path: string; readOnly?: boolean };
  local?: { path: string; fsType?: string };
  csi?: { driver: string; volumeHandle: string; [field: string]: unknown };
}

export interface PersistentVolumeSpec extends VolumeSources {
  capacity?: Record<string, string>;
  accessModes?: PersistentVolumeAccessMode[];
  claimRef?: ObjectReference | null;
  persistentVolumeReclaimPolicy?: PersistentVolumeReclaimPolicy | string;
  storageClassName?: string;
  mountOptions?: string[];
  volumeMode?: PersistentVolumeMode;
  nodeAffinity?: VolumeNodeAffinity;
  [field: string]: unknown;
}

export interface PersistentVolume extends KubeObject {
  spec: PersistentVolumeSpec;
  status?: { phase?: PersistentVolumePhase; message?: string; reason?: string; lastPhaseTransitionTime?: string };
}

export interface PersistentVolumeClaimSpec {
  accessModes?: PersistentVolumeAccessMode[];
  selector?: LabelSelectorObject | null;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeName?: string;
  storageClassName?: string | null;
  volumeMode?: PersistentVolumeMode;
  dataSource?: unknown;
  dataSourceRef?: unknown;
  [field: string]: unknown;
}

export interface PersistentVolumeClaim extends KubeObject {
  spec: PersistentVolumeClaimSpec;
  status?: {
    phase?: PersistentVolumeClaimPhase;
    accessModes?: PersistentVolumeAccessMode[];
    capacity?: Record<string, string>;
    [field: string]: unknown;
  };
}

export interface StorageClass extends KubeObject {
  provisioner: string;
  parameters?: Record<string, string>;
  reclaimPolicy?: 'Delete' | 'Retain';
  mountOptions?: string[];
  volumeBindingMode?: 'Immediate' | 'WaitForFirstConsumer';
  allowVolumeExpansion?: boolean;
  allowedTopologies?: { matchLabelExpressions?: { key: string; values: string[] }[] }[];
}

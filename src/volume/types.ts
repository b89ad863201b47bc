// Typed views of the pod fields the node-side volume plugins read: the pod's
// volumes (one source each), the few pod fields the downward API exposes, and
// container resources for resourceFieldRef. The wire is plain JSON, so every
// field is optional and unknown fields pass through; only what a plugin reads
// is listed. PersistentVolume comes from api/core.

import type { KubeObject } from '../apimachinery/index.ts';

export interface KeyToPath {
  key: string;
  path: string;
  /** File mode bits (0–0777); the source's defaultMode when absent. */
  mode?: number;
}

export interface EmptyDirVolumeSource {
  /** "" (node disk) or "Memory" (tmpfs). HugePages media are not supported here. */
  medium?: string;
  sizeLimit?: string;
}

export interface HostPathVolumeSource {
  path: string;
  type?: string;
}

export interface NFSVolumeSource {
  server: string;
  path: string;
  readOnly?: boolean;
}

export interface ConfigMapVolumeSource {
  name?: string;
  items?: KeyToPath[];
  defaultMode?: number;
  optional?: boolean;
}

export interface SecretVolumeSource {
  secretName?: string;
  items?: KeyToPath[];
  defaultMode?: number;
  optional?: boolean;
}

export interface ObjectFieldSelector {
  apiVersion?: string;
  fieldPath: string;
}

export interface ResourceFieldSelector {
  containerName?: string;
  resource: string;
  divisor?: string | number;
}

export interface DownwardAPIVolumeFile {
  path: string;
  fieldRef?: ObjectFieldSelector;
  resourceFieldRef?: ResourceFieldSelector;
  mode?: number;
}

export interface DownwardAPIVolumeSource {
  items?: DownwardAPIVolumeFile[];
  defaultMode?: number;
}

export interface VolumeProjection {
  secret?: { name?: string; items?: KeyToPath[]; optional?: boolean };
  configMap?: { name?: string; items?: KeyToPath[]; optional?: boolean };
  downwardAPI?: { items?: DownwardAPIVolumeFile[] };
  serviceAccountToken?: { path: string; audience?: string; expirationSeconds?: number };
  [field: string]: unknown;
}

export interface ProjectedVolumeSource {
  sources?: VolumeProjection[];
  defaultMode?: number;
}

/** One entry of `pod.spec.volumes`. */
export interface PodVolume {
  name: string;
  emptyDir?: EmptyDirVolumeSource;
  hostPath?: HostPathVolumeSource;
  nfs?: NFSVolumeSource;
  configMap?: ConfigMapVolumeSource;
  secret?: SecretVolumeSource;
  downwardAPI?: DownwardAPIVolumeSource;
  projected?: ProjectedVolumeSource;
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  [field: string]: unknown;
}

export interface ResourceRequirements {
  limits?: Record<string, string | number>;
  requests?: Record<string, string | number>;
}

export interface PodContainer {
  name: string;
  resources?: ResourceRequirements;
  [field: string]: unknown;
}

export interface Pod extends KubeObject {
  spec?: {
    nodeName?: string;
    serviceAccountName?: string;
    volumes?: PodVolume[];
    containers?: PodContainer[];
    initContainers?: PodContainer[];
    securityContext?: { fsGroup?: number; [field: string]: unknown };
    [field: string]: unknown;
  };
  status?: {
    podIP?: string;
    podIPs?: { ip: string }[];
    hostIP?: string;
    [field: string]: unknown;
  };
}

// Typed views of the Pod, Node and CSINode fields the scheduler reads and
// writes. The wire is plain JSON: every field is optional because the server
// may omit it, and only fields somebody here uses are listed. PV, PVC and
// StorageClass shapes are api/core/volume-types.ts, shared with the PV
// controller.

import type { KubeObject } from '../apimachinery/index.ts';
import type { NodeSelectorRequirement, NodeSelectorTerm } from '../api/core/volume-types.ts';

export type { NodeSelectorRequirement, NodeSelectorTerm };

export type TaintEffect = 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';

export interface Taint {
  key: string;
  value?: string;
  effect: TaintEffect | string;
  timeAdded?: string;
}

export interface Toleration {
  key?: string;
  operator?: 'Equal' | 'Exists' | string;
  value?: string;
  effect?: TaintEffect | string;
  tolerationSeconds?: number;
}

export interface PodVolume {
  name: string;
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  ephemeral?: { volumeClaimTemplate?: unknown };
  csi?: { driver: string; [field: string]: unknown };
  [source: string]: unknown;
}

export interface PodCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastProbeTime?: string | null;
  lastTransitionTime?: string | null;
}

export interface PodSpec {
  nodeName?: string;
  schedulerName?: string;
  nodeSelector?: Record<string, string>;
  affinity?: {
    nodeAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: NodeSelectorTerm[] };
      [field: string]: unknown;
    };
    [field: string]: unknown;
  };
  tolerations?: Toleration[];
  volumes?: PodVolume[];
  priority?: number;
  [field: string]: unknown;
}

export interface Pod extends KubeObject {
  spec: PodSpec;
  status?: {
    phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';
    conditions?: PodCondition[];
    nominatedNodeName?: string;
    [field: string]: unknown;
  };
}

export interface NodeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
}

export interface Node extends KubeObject {
  spec?: { unschedulable?: boolean; taints?: Taint[]; [field: string]: unknown };
  status?: { conditions?: NodeCondition[]; [field: string]: unknown };
}

export interface CSINodeDriver {
  name: string;
  nodeID?: string;
  topologyKeys?: string[] | null;
  allocatable?: { count?: number };
}

export interface CSINode extends KubeObject {
  spec: { drivers?: CSINodeDriver[] | null };
}

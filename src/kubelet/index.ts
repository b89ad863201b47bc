// The node agent: registers the Node, heartbeats through its Lease, and runs
// the pods bound to it through a container runtime and a volume manager.
// See kubelet.ts. The runtime (./runtime) and the volume manager
// (./volumemanager) have their own entry points.
export { startKubelet, type Kubelet, type KubeletOptions, type KubeletTiming } from './kubelet.ts';
export { CONTAINER_RUNTIME_VERSION, DEFAULT_KUBELET_PORT, KUBELET_VERSION, MAX_PODS, desiredNodeStatus, nodeLabels, nodeStatusChanged } from './node-status.ts';
export { NODE_LEASE_DURATION_SECONDS, NODE_LEASE_NAMESPACE } from './node-lease.ts';
export { readMachineInfo, goArch, prettyName, defaultNodeIP, type MachineInfo } from './machine-info.ts';
export { generatePodStatus, podPhase, imageIDOf, CONTAINER_ID_PREFIX, type PodStatusInput, type WaitingReason } from './pod-status.ts';
export { Backoff, DEFAULT_BACKOFF, goDuration, type BackoffOptions } from './backoff.ts';
export { ContainerConfigError, expand, makeEnvironment } from './container-env.ts';
export type { Pod, PodStatus, ContainerStatus, Container } from './types.ts';

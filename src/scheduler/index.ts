// The scheduler's public entry: the controller manager (or a test) calls
// startScheduler with the process's shared client, informers and recorder.
export {
  BindError,
  DEFAULT_SCHEDULER_NAME,
  Scheduler,
  startScheduler,
  type SchedulerContext,
  type SchedulerOptions,
} from './scheduler.ts';
export { FitError, fitErrorMessage, NO_NODES_AVAILABLE, type Diagnosis } from './fit-error.ts';
export {
  effectiveTaints,
  ERR_REASON_MAX_VOLUME_COUNT,
  ERR_REASON_NODE_AFFINITY,
  ERR_REASON_NODE_NAME,
  ERR_REASON_RWOP_CONFLICT,
  ERR_REASON_UNSCHEDULABLE,
  filterCsiVolumeLimits,
  filterNodeAffinity,
  filterNodeName,
  filterNodeUnschedulable,
  filterReadWriteOncePod,
  filterTaintToleration,
  toleratesTaint,
  type FilterStatus,
  type StatusCode,
} from './filters.ts';
export {
  ERR_REASON_BIND_CONFLICT,
  ERR_REASON_NODE_CONFLICT,
  ERR_REASON_PV_NOT_EXIST,
  ERR_REASON_UNBOUND_IMMEDIATE,
  checkBindings,
  findPodVolumes,
  getPodVolumeClaims,
  VolumeBindingError,
  type PodVolumeClaims,
  type PodVolumes,
  type VolumeLookup,
} from './volume-binding.ts';
export { SchedulingQueue, type SchedulingQueueOptions } from './scheduling-queue.ts';
export type { CSINode, Node, Pod, Taint, Toleration } from './types.ts';

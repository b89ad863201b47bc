// The node lifecycle controller: nodes whose kubelet stopped renewing its
// Lease become Ready=Unknown and get the unreachable NoSchedule taint.
export {
  KUBELET_CONDITION_TYPES,
  NODE_LEASE_NAMESPACE,
  NODE_STATUS_UNKNOWN_MESSAGE,
  NODE_STATUS_UNKNOWN_REASON,
  TAINT_NODE_NOT_READY,
  TAINT_NODE_UNREACHABLE,
  markConditionsUnknown,
  reconcileNoScheduleTaints,
  startNodeLifecycleController,
  type NodeLifecycleControllerOptions,
} from './node-lifecycle-controller.ts';

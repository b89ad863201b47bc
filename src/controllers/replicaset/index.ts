// The ReplicaSet controller: keeps a ReplicaSet's pods at spec.replicas and
// reports their readiness. See replica-set.ts.
export { PodWriteError, REPLICA_SETS, startReplicaSetController, type ReplicaSetControllerContext, type ReplicaSetControllerOptions } from './replica-set.ts';

// coordination.k8s.io/v1.

export { COORDINATION_GROUP, NODE_LEASE_NAMESPACE, leaseDef } from './lease.ts';

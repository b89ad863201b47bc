// apps/v1: the workload kinds volplane serves (their controllers live in
// controllers/workloads).

import type { ResourceDef } from '../resource.ts';
import { deploymentDef } from './deployment.ts';
import { replicaSetDef } from './replica-set.ts';
import { statefulSetDef } from './stateful-set.ts';

export { deploymentDef } from './deployment.ts';
export { replicaSetDef } from './replica-set.ts';
export { statefulSetDef } from './stateful-set.ts';
export { formatSelector, selectorString } from './workload.ts';

export const appsResourceDefs: readonly ResourceDef[] = [deploymentDef, replicaSetDef, statefulSetDef];

// The StatefulSet controller: ordered pods `<set>-<ordinal>` with their claims
// `<template>-<set>-<ordinal>`. See stateful-set.ts and stateful-set-control.ts.
export { startStatefulSetController, type StatefulSetControllerContext, type StatefulSetControllerOptions } from './stateful-set.ts';
export { ClaimNotReadyError, STATEFUL_SETS } from './stateful-set-control.ts';
export { POD_INDEX_LABEL, POD_NAME_LABEL, REVISION_LABEL, claimName, podName, revisionName } from './stateful-set-utils.ts';

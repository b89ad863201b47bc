// The client library every volplane component is built on: the REST client,
// resource paths and keys, informers (shared per process), the work queue and
// its worker loop, the event recorder and leader election.
export * from './rest.ts';
export * from './paths.ts';
export {
  Informer,
  InformerAlreadyStartedError,
  type InformerEventHandler,
  type InformerOptions,
  type InformerState,
} from './informer.ts';
export { SharedInformerFactory, type SharedInformerFactoryOptions } from './shared-informer-factory.ts';
export {
  BucketRateLimiter,
  ItemExponentialRateLimiter,
  MaxOfRateLimiter,
  WorkQueue,
  defaultControllerRateLimiter,
  isConflict,
  runWorkers,
  type RateLimiter,
  type RunWorkersOptions,
  type WorkQueueOptions,
} from './workqueue.ts';
export {
  claimObjects,
  patchOwnerReferences,
  startInformersAndSync,
  type ClaimOptions,
  type ControllerContext,
} from './controller-utils.ts';
export { EventRecorder, type CoreEvent, type EventRecorderOptions, type EventType } from './events.ts';
export {
  LeaderElectionConfigError,
  runLeaderElection,
  type Lease,
  type LeaseSpec,
  type LeaderElectionOptions,
} from './leader-election.ts';

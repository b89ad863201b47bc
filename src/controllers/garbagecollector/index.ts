// The garbage collector: deletes objects whose owners are gone and carries out
// foreground and orphan deletion. See garbagecollector.ts.
export {
  NamespacedOwnerOfClusterScopedObjectError,
  OrphanDependentsError,
  startGarbageCollectorController,
  type GarbageCollectorContext,
} from './garbagecollector.ts';
export { FINALIZER_DELETE_DEPENDENTS, FINALIZER_ORPHAN_DEPENDENTS } from './graph.ts';
export { UnknownKindError } from './discovery.ts';

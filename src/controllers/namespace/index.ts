// The namespace controller: empties a Terminating namespace, then removes the
// `kubernetes` finalizer. See namespace-controller.ts.
export {
  FINALIZER_KUBERNETES,
  NamespaceContentDeletionError,
  startNamespaceController,
  type NamespaceControllerContext,
  type NamespaceControllerOptions,
} from './namespace-controller.ts';
export type { NamespaceCondition, NamespaceConditionType } from './status-conditions.ts';

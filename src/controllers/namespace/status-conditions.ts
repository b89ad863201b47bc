// The status conditions the namespace controller keeps on a Terminating
// namespace, so that `kubectl describe ns` says why it is still there
// (upstream: pkg/controller/namespace/deletion/status_condition_utils.go).
// Every pass writes all five types: a failing variant (status True) when
// something is wrong or left, the "ok" variant (status False) otherwise.
// Types, reasons and message formats are upstream's, so tools that parse
// them keep working.

export type NamespaceConditionType =
  | 'NamespaceDeletionDiscoveryFailure'
  | 'NamespaceDeletionGroupVersionParsingFailure'
  | 'NamespaceDeletionContentFailure'
  | 'NamespaceContentRemaining'
  | 'NamespaceFinalizersRemaining';

export interface NamespaceCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

/** The order upstream maintains them in. */
export const CONDITION_TYPES: readonly NamespaceConditionType[] = [
  'NamespaceDeletionDiscoveryFailure',
  'NamespaceDeletionGroupVersionParsingFailure',
  'NamespaceDeletionContentFailure',
  'NamespaceContentRemaining',
  'NamespaceFinalizersRemaining',
];

const OK: Record<NamespaceConditionType, { reason: string; message: string }> = {
  NamespaceDeletionDiscoveryFailure: { reason: 'ResourcesDiscovered', message: 'All resources successfully discovered' },
  NamespaceDeletionGroupVersionParsingFailure: { reason: 'ParsedGroupVersions', message: 'All legacy kube types successfully parsed' },
  NamespaceDeletionContentFailure: { reason: 'ContentDeleted', message: 'All content successfully deleted, may be waiting on finalization' },
  NamespaceContentRemaining: { reason: 'ContentRemoved', message: 'All content successfully removed' },
  NamespaceFinalizersRemaining: { reason: 'ContentHasNoFinalizers', message: 'All content-preserving finalizers finished' },
};

/** What one pass over a namespace's content found. */
export interface DeletionReport {
  /** Discovery failed (the pass may still have deleted what it could find). */
  discoveryError?: string;
  /** One message per resource whose content could not be deleted or listed. */
  contentErrors: string[];
  /** `resource.group` → objects left (the core group gives `pods.`, as upstream prints it). */
  remaining: Map<string, number>;
  /** finalizer → objects left carrying it. */
  finalizers: Map<string, number>;
}

export function emptyReport(): DeletionReport {
  return { contentErrors: [], remaining: new Map(), finalizers: new Map() };
}

/** "Some resources are remaining: …", or undefined when nothing is left. */
export function remainingResourcesMessage(report: DeletionReport): string | undefined {
  const parts = [...report.remaining].filter(([, n]) => n > 0).map(([gr, n]) => `${gr} has ${n} resource instances`);
  if (parts.length === 0) return undefined;
  return `Some resources are remaining: ${parts.sort().join(', ')}`;
}

/** "Some content in the namespace has finalizers remaining: …", or undefined. */
export function remainingFinalizersMessage(report: DeletionReport): string | undefined {
  const parts = [...report.finalizers].filter(([, n]) => n > 0).map(([f, n]) => `${f} in ${n} resource instances`);
  if (parts.length === 0) return undefined;
  return `Some content in the namespace has finalizers remaining: ${parts.sort().join(', ')}`;
}

/** The failing conditions a report calls for; types not listed get their "ok" variant in updateConditions. */
export function failingConditions(report: DeletionReport): Map<NamespaceConditionType, { reason: string; message: string }> {
  const out = new Map<NamespaceConditionType, { reason: string; message: string }>();
  if (report.discoveryError !== undefined) {
    out.set('NamespaceDeletionDiscoveryFailure', { reason: 'DiscoveryFailed', message: report.discoveryError });
  }
  if (report.contentErrors.length > 0) {
    const msgs = [...report.contentErrors].sort();
    out.set('NamespaceDeletionContentFailure', {
      reason: 'ContentDeletionFailed',
      message: `Failed to delete all resource types, ${msgs.length} remaining: ${msgs.join(', ')}`,
    });
  }
  const resources = remainingResourcesMessage(report);
  if (resources !== undefined) out.set('NamespaceContentRemaining', { reason: 'SomeResourcesRemain', message: resources });
  const finalizers = remainingFinalizersMessage(report);
  if (finalizers !== undefined) out.set('NamespaceFinalizersRemaining', { reason: 'SomeFinalizersRemain', message: finalizers });
  return out;
}

/**
 * Merges the conditions a report calls for into `existing` (which is not
 * modified). A condition keeps its lastTransitionTime unless its status flips;
 * conditions of other types are kept as they are. `changed` says whether a
 * status write is needed.
 */
export function updateConditions(
  existing: readonly NamespaceCondition[] | undefined,
  report: DeletionReport,
  now: string,
): { conditions: NamespaceCondition[]; changed: boolean } {
  const conditions = (existing ?? []).map((c) => ({ ...c }));
  const failing = failingConditions(report);
  let changed = false;
  for (const type of CONDITION_TYPES) {
    const f = failing.get(type);
    const want: NamespaceCondition = f === undefined
      ? { type, status: 'False', lastTransitionTime: now, ...OK[type] }
      : { type, status: 'True', lastTransitionTime: now, ...f };
    const old = conditions.find((c) => c.type === type);
    if (old === undefined) {
      conditions.push(want);
      changed = true;
    } else if (old.status !== want.status || old.reason !== want.reason || old.message !== want.message) {
      if (old.status !== want.status) old.lastTransitionTime = now;
      old.status = want.status;
      old.reason = want.reason;
      old.message = want.message;
      changed = true;
    }
  }
  return { conditions, changed };
}

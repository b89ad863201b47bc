// The message of a pod that fits no node, worded as upstream's FitError and
// default preemption put it, because that is the text users paste into
// search engines:
//
//   0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector,
//   1 node(s) had volume node affinity conflict. preemption: 0/2 nodes are
//   available: 2 Preemption is not helpful for scheduling.
//
// Each node contributes the reasons of the first filter that rejected it;
// equal reasons are counted and the "<count> <reason>" strings sorted
// bytewise (so counts order first, then the text). A pre-filter failure (a
// missing claim, unbound immediate claims) rejects the pod on every node and
// its message replaces the histogram. The preemption half is what upstream's
// dry run reports when no victim helps: nodes rejected as unresolvable are
// "Preemption is not helpful for scheduling", the others "No preemption
// victims found for incoming pod" — volplane never evicts.

import type { FilterStatus } from './filters.ts';

export const NO_NODES_AVAILABLE = 'no nodes available to schedule pods';

export interface Diagnosis {
  numAllNodes: number;
  /** Set when a pre-filter rejected the pod (then every node counts as unresolvable). */
  preFilter?: FilterStatus;
  /** Node name → the status of the filter that rejected it. */
  nodeStatuses: Map<string, FilterStatus>;
  /** The pod's spec.preemptionPolicy. */
  preemptionPolicy?: string;
}

function histogram(counts: Map<string, number>): string[] {
  const out = [...counts].map(([reason, n]) => `${n} ${reason}`);
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function preemptionMessage(d: Diagnosis): string {
  if (d.preemptionPolicy === 'Never') return 'preemption: not eligible due to preemptionPolicy=Never';
  const counts = new Map<string, number>();
  const add = (r: string): void => void counts.set(r, (counts.get(r) ?? 0) + 1);
  if (d.preFilter !== undefined) {
    for (let i = 0; i < d.numAllNodes; i++) add('Preemption is not helpful for scheduling');
  } else {
    for (const s of d.nodeStatuses.values()) {
      add(s.code === 'UnschedulableAndUnresolvable' ? 'Preemption is not helpful for scheduling' : 'No preemption victims found for incoming pod');
    }
  }
  return `preemption: 0/${d.numAllNodes} nodes are available: ${histogram(counts).join(', ')}`;
}

/** FitError.Error(), with the PostFilter (preemption) message appended. */
export function fitErrorMessage(d: Diagnosis): string {
  if (d.numAllNodes === 0) return NO_NODES_AVAILABLE;
  let msg = `0/${d.numAllNodes} nodes are available:`;
  if (d.preFilter !== undefined) {
    msg += ` ${d.preFilter.reasons.join(', ')}.`;
  } else {
    const counts = new Map<string, number>();
    for (const s of d.nodeStatuses.values()) for (const r of s.reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
    const sorted = histogram(counts);
    if (sorted.length > 0) msg += ` ${sorted.join(', ')}.`;
  }
  return `${msg} ${preemptionMessage(d)}.`;
}

/** The pod fits no node; `message` is the FailedScheduling event's text. */
export class FitError extends Error {
  override readonly name = 'FitError';
  readonly pod: string;
  readonly diagnosis: Diagnosis;
  constructor(pod: string, diagnosis: Diagnosis) {
    super(fitErrorMessage(diagnosis));
    this.pod = pod;
    this.diagnosis = diagnosis;
  }
}

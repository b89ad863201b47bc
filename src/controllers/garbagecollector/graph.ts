// The garbage collector's dependency graph: every object the informers have
// shown us that owns or is owned, as a node keyed by uid, with edges from
// owners to dependents (upstream's uidToNode, graph.go + graph_builder.go).
//
// The graph holds no I/O. Informer events are applied to it one at a time
// (JavaScript runs event handlers one after another, which is what upstream's
// single graphChanges worker buys it), and each change answers with the uids
// that now need a worker's attention: `attemptToDelete` (check whether this
// object has lost all its owners, or, for an owner deleting in the
// foreground, whether its blocking dependents are gone) and
// `attemptToOrphan` (strip this owner from its dependents).
//
// An owner that is referenced but not yet observed gets a *virtual* node: it
// may exist (its informer is behind, or we do not watch its kind) or not (it
// was deleted before we started). A worker settles the question with a live
// GET and, if it is gone, removes the virtual node, which queues its
// dependents. Owners are never judged from the graph alone; a cache that is a
// moment behind must not cause a live object's dependents to be deleted.

import type { KubeObject, OwnerReference } from '../../apimachinery/index.ts';

/** Finalizer that makes the apiserver keep an owner until its dependents are deleted. */
export const FINALIZER_DELETE_DEPENDENTS = 'foregroundDeletion';
/** Finalizer that makes the apiserver keep an owner until its dependents are orphaned. */
export const FINALIZER_ORPHAN_DEPENDENTS = 'orphan';

/** Who an object is. For a virtual node `namespace` is the dependent's (a namespaced owner lives there). */
export interface ObjectIdentity {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
}

export class GraphNode {
  identity: ObjectIdentity;
  /** The object's own ownerReferences as last observed. */
  owners: OwnerReference[] = [];
  readonly dependents = new Set<GraphNode>();
  /** False while the node only exists because something names it as owner. */
  observed: boolean;
  /** The object has a deletionTimestamp. */
  beingDeleted = false;
  /** Being deleted with the foregroundDeletion finalizer: waits for blocking dependents. */
  deletingDependents = false;
  /** Being deleted with the orphan finalizer. */
  orphaningDependents = false;

  constructor(identity: ObjectIdentity, observed: boolean) {
    this.identity = identity;
    this.observed = observed;
  }

  /** Dependents whose reference to this node has blockOwnerDeletion: true. */
  blockingDependents(): GraphNode[] {
    const uid = this.identity.uid;
    return [...this.dependents].filter((d) => d.owners.some((o) => o.uid === uid && o.blockOwnerDeletion === true));
  }

  toString(): string {
    const id = this.identity;
    const name = id.namespace === '' ? id.name : `${id.namespace}/${id.name}`;
    return `${id.kind} ${name} (uid ${id.uid}${this.observed ? '' : ', virtual'})`;
  }
}

/** Work a graph change asks for: uids to queue. */
export interface GraphActions {
  attemptToDelete: string[];
  attemptToOrphan: string[];
}

function hasFinalizer(obj: KubeObject, finalizer: string): boolean {
  return (obj.metadata.finalizers ?? []).includes(finalizer);
}

export class DependencyGraph {
  readonly #nodes = new Map<string, GraphNode>();

  get(uid: string): GraphNode | undefined {
    return this.#nodes.get(uid);
  }

  get size(): number {
    return this.#nodes.size;
  }

  /**
   * An object was added or changed (`identity` names it; the informer knows its
   * kind even when a list item does not carry one). Creates or updates its node,
   * wires it to its owners (virtual ones are created and queued for a check),
   * and reports the transitions into foreground or orphan deletion.
   */
  observe(obj: KubeObject, identity: ObjectIdentity): GraphActions {
    const actions: GraphActions = { attemptToDelete: [], attemptToOrphan: [] };
    const uid = identity.uid;
    const newOwners = obj.metadata.ownerReferences ?? [];
    let node = this.#nodes.get(uid);
    let oldOwners: OwnerReference[] = [];
    if (node === undefined) {
      node = new GraphNode(identity, true);
      this.#nodes.set(uid, node);
    } else {
      // A virtual node becomes real, or a real one changed.
      oldOwners = node.owners;
      node.identity = identity;
      node.observed = true;
    }
    node.owners = newOwners.map((o) => ({ ...o }));

    // Owners added: wire up, create and check virtual owners.
    const oldByUid = new Map(oldOwners.map((o) => [o.uid, o]));
    const newByUid = new Map(newOwners.map((o) => [o.uid, o]));
    for (const ref of newOwners) {
      let owner = this.#nodes.get(ref.uid);
      if (owner === undefined) {
        owner = new GraphNode(
          { apiVersion: ref.apiVersion, kind: ref.kind, namespace: identity.namespace, name: ref.name, uid: ref.uid },
          false,
        );
        this.#nodes.set(ref.uid, owner);
        actions.attemptToDelete.push(ref.uid);
      }
      owner.dependents.add(node);
      // A dependent that shows up while its owner deletes in the foreground is deleted too.
      if (owner.deletingDependents && !oldByUid.has(ref.uid)) actions.attemptToDelete.push(uid);
    }
    // Owners removed, or no longer blocked on: an owner waiting for its
    // dependents may be free to go now.
    for (const ref of oldOwners) {
      const owner = this.#nodes.get(ref.uid);
      if (owner === undefined) continue;
      const now = newByUid.get(ref.uid);
      if (now === undefined) {
        owner.dependents.delete(node);
        this.#dropIfUnused(owner);
      }
      const unblocked = now === undefined || (ref.blockOwnerDeletion === true && now.blockOwnerDeletion !== true);
      if (unblocked && owner.deletingDependents) actions.attemptToDelete.push(owner.identity.uid);
    }

    // Transitions of the object itself.
    const beingDeleted = obj.metadata.deletionTimestamp !== undefined && obj.metadata.deletionTimestamp !== '';
    const orphaning = beingDeleted && hasFinalizer(obj, FINALIZER_ORPHAN_DEPENDENTS);
    const deletingDependents = beingDeleted && hasFinalizer(obj, FINALIZER_DELETE_DEPENDENTS);
    node.beingDeleted = beingDeleted;
    if (orphaning && !node.orphaningDependents) actions.attemptToOrphan.push(uid);
    node.orphaningDependents = orphaning;
    if (deletingDependents && !node.deletingDependents) {
      for (const dep of node.dependents) actions.attemptToDelete.push(dep.identity.uid);
      actions.attemptToDelete.push(uid);
    }
    node.deletingDependents = deletingDependents;
    return actions;
  }

  /**
   * The object with `uid` is gone (informer delete, or a live GET found nothing
   * or another uid under its name). Its dependents are queued (they may have
   * lost their last owner), and so are owners waiting for it in the foreground.
   * A no-op for an unknown uid.
   */
  remove(uid: string): GraphActions {
    const actions: GraphActions = { attemptToDelete: [], attemptToOrphan: [] };
    const node = this.#nodes.get(uid);
    if (node === undefined) return actions;
    this.#nodes.delete(uid);
    for (const dep of node.dependents) actions.attemptToDelete.push(dep.identity.uid);
    for (const ref of node.owners) {
      const owner = this.#nodes.get(ref.uid);
      if (owner === undefined) continue;
      owner.dependents.delete(node);
      if (owner.deletingDependents) actions.attemptToDelete.push(owner.identity.uid);
      this.#dropIfUnused(owner);
    }
    return actions;
  }

  /** A virtual node nobody refers to any more has nothing left to tell. */
  #dropIfUnused(node: GraphNode): void {
    if (!node.observed && node.dependents.size === 0) this.#nodes.delete(node.identity.uid);
  }
}

/** How a dependent's owner references stand (upstream's classifyReferences). */
export interface ClassifiedReferences {
  /** The owner exists and is not deleting in the foreground. */
  solid: OwnerReference[];
  /** No object of that name, or one with another uid. */
  dangling: OwnerReference[];
  /** The owner exists, is being deleted and carries foregroundDeletion. */
  waitingForDependentsDeletion: OwnerReference[];
}

/** What the live API said about one owner reference: undefined = not found. */
export type OwnerLookup = (ref: OwnerReference) => Promise<KubeObject | undefined>;

export async function classifyReferences(refs: readonly OwnerReference[], lookup: OwnerLookup): Promise<ClassifiedReferences> {
  const result: ClassifiedReferences = { solid: [], dangling: [], waitingForDependentsDeletion: [] };
  for (const ref of refs) {
    const owner = await lookup(ref);
    if (owner === undefined || owner.metadata.uid !== ref.uid) {
      result.dangling.push(ref);
    } else if (owner.metadata.deletionTimestamp && hasFinalizer(owner, FINALIZER_DELETE_DEPENDENTS)) {
      result.waitingForDependentsDeletion.push(ref);
    } else {
      result.solid.push(ref);
    }
  }
  return result;
}

/** The propagation policy a garbage object is deleted with: its own finalizers are honoured. */
export function propagationPolicyFor(obj: KubeObject): 'Orphan' | 'Foreground' | 'Background' {
  if (hasFinalizer(obj, FINALIZER_ORPHAN_DEPENDENTS)) return 'Orphan';
  if (hasFinalizer(obj, FINALIZER_DELETE_DEPENDENTS)) return 'Foreground';
  return 'Background';
}

/** `refs` without the references to `uids`. */
export function withoutOwners(refs: readonly OwnerReference[], uids: ReadonlySet<string>): OwnerReference[] {
  return refs.filter((r) => !uids.has(r.uid));
}

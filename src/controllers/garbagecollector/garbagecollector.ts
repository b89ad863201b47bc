// The garbage collector: deletes objects whose owners are gone, and carries
// out the two deletion modes the apiserver can only start — foreground
// (an owner marked with the `foregroundDeletion` finalizer waits until its
// blocking dependents are deleted) and orphan (an owner marked with `orphan`
// has itself removed from its dependents' ownerReferences first). Upstream:
// pkg/controller/garbagecollector (garbagecollector.go, graph_builder.go),
// much shortened.
//
// Shape: discovery names every resource that supports list, watch and delete;
// one informer per resource feeds the dependency graph (graph.ts), which
// answers each change with uids to queue. Two queues, two kinds of worker:
//
//   attemptToDelete  (uid) → attemptToDeleteItem: GET the object live; if it is
//                    gone the node goes too (its dependents are queued). An
//                    owner deleting in the foreground waits for its blocking
//                    dependents, then loses the finalizer. Otherwise each owner
//                    reference is checked with a live GET: one solid owner keeps
//                    the object (dangling references are pruned); none deletes
//                    it (preconditions.uid, so a same-named successor is safe).
//   attemptToOrphan  (uid) → strip the owner from every dependent it has in the
//                    graph, then remove the `orphan` finalizer.
//
// Writes that pin a resourceVersion or uid may answer 409: an ordinary,
// quiet requeue (runWorkers does that). 404 on DELETE means someone else
// finished the job. Any other error requeues with per-key backoff.
//
// Deliberately left out (for now): the absent-owner cache, resyncing
// discovery when new resources appear, and the unblock-ownerReferences cycle
// breaker for dependents that are themselves deleting in the foreground.

import type { KubeObject, OwnerReference } from '../../apimachinery/index.ts';
import { apiVersionOf } from '../../apimachinery/index.ts';
import { delay, DisposableStore, toError, type Logger } from '../../base/index.ts';
import {
  ApiError,
  isConflict,
  resourcePath,
  runWorkers,
  startInformersAndSync,
  WorkQueue,
  type ControllerContext,
  type EventRecorder,
  type ResourceRef,
  type RestClient,
  type SharedInformerFactory,
} from '../../client/index.ts';
import { discoverDeletableResources, KindMapper, type DiscoveredResource } from './discovery.ts';
import {
  classifyReferences,
  DependencyGraph,
  FINALIZER_DELETE_DEPENDENTS,
  FINALIZER_ORPHAN_DEPENDENTS,
  propagationPolicyFor,
  withoutOwners,
  type ClassifiedReferences,
  type GraphActions,
  type GraphNode,
  type ObjectIdentity,
} from './graph.ts';

export type GarbageCollectorContext = ControllerContext;

const DELETE_WORKERS = 5;
const ORPHAN_WORKERS = 2;
const DISCOVERY_RETRY_MS = 2_000;

/** A cluster-scoped object names a namespaced owner: it can never resolve, so it is not retried. */
export class NamespacedOwnerOfClusterScopedObjectError extends Error {
  override readonly name = 'NamespacedOwnerOfClusterScopedObjectError';
  readonly owner: OwnerReference;
  constructor(owner: OwnerReference) {
    super(`cluster-scoped object refers to namespaced owner ${owner.kind} ${owner.name}`);
    this.owner = owner;
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.code === 404;
}

/**
 * Runs the garbage collector until `signal` aborts. Discovery is retried
 * until it succeeds; workers start once every informer has synced.
 */
export async function startGarbageCollectorController(ctx: GarbageCollectorContext, signal: AbortSignal): Promise<void> {
  const logger = ctx.logger.child({ component: 'garbage-collector' });
  let resources: DiscoveredResource[] | undefined;
  while (resources === undefined) {
    try {
      resources = await discoverDeletableResources(ctx.client, signal);
    } catch (err) {
      if (signal.aborted) return;
      logger.warn({ err: toError(err).message }, 'discovery failed, retrying');
      try {
        await delay(DISCOVERY_RETRY_MS, signal);
      } catch {
        return;
      }
    }
  }
  const gc = new GarbageCollector(ctx, resources, logger);
  await gc.run(signal);
}

class GarbageCollector {
  readonly #client: RestClient;
  readonly #informers: SharedInformerFactory;
  readonly #recorder: EventRecorder;
  readonly #logger: Logger;
  readonly #resources: readonly DiscoveredResource[];
  readonly #mapper: KindMapper;
  readonly #graph = new DependencyGraph();
  readonly #attemptToDelete = new WorkQueue<string>({ name: 'garbage_collector_attempt_to_delete' });
  readonly #attemptToOrphan = new WorkQueue<string>({ name: 'garbage_collector_attempt_to_orphan' });

  constructor(ctx: GarbageCollectorContext, resources: readonly DiscoveredResource[], logger: Logger) {
    this.#client = ctx.client;
    this.#informers = ctx.informers;
    this.#recorder = ctx.recorder;
    this.#logger = logger;
    this.#resources = resources;
    this.#mapper = new KindMapper(resources);
  }

  async run(signal: AbortSignal): Promise<void> {
    // The informers are shared and may outlive us: our handlers go when we stop.
    const handlers = new DisposableStore();
    try {
      await this.#runWith(handlers, signal);
    } finally {
      await handlers.dispose();
    }
  }

  async #runWith(handlers: DisposableStore, signal: AbortSignal): Promise<void> {
    for (const r of this.#resources) {
      const informer = this.#informers.informerFor<KubeObject>(r.ref);
      handlers.add(informer.addEventHandler({
        onAdd: (obj) => this.#observe(r, obj),
        onUpdate: (old, obj) => {
          // Same name, another object: the informer missed the delete in between.
          if (old.metadata.uid !== obj.metadata.uid && old.metadata.uid !== undefined) this.#apply(this.#graph.remove(old.metadata.uid));
          this.#observe(r, obj);
        },
        onDelete: (obj) => {
          if (obj.metadata.uid !== undefined) this.#apply(this.#graph.remove(obj.metadata.uid));
        },
      }));
    }
    if (!(await startInformersAndSync(this.#informers, signal))) return;
    this.#logger.info({ resources: this.#resources.length, nodes: this.#graph.size }, 'garbage collector synced');
    const onError = (uid: string, err: Error): void => this.#recordFailure(uid, err);
    await Promise.all([
      runWorkers(this.#attemptToDelete, DELETE_WORKERS, (uid) => this.#attemptToDeleteItem(uid), { signal, logger: this.#logger, onError }),
      runWorkers(this.#attemptToOrphan, ORPHAN_WORKERS, (uid) => this.#attemptToOrphanItem(uid), { signal, logger: this.#logger, onError }),
    ]);
  }

  #observe(r: DiscoveredResource, obj: KubeObject): void {
    const uid = obj.metadata.uid;
    if (uid === undefined || uid === '') return;
    const identity: ObjectIdentity = {
      apiVersion: apiVersionOf(r.ref),
      kind: r.kind,
      namespace: obj.metadata.namespace ?? '',
      name: obj.metadata.name ?? '',
      uid,
    };
    this.#apply(this.#graph.observe(obj, identity));
  }

  #apply(actions: GraphActions): void {
    for (const uid of actions.attemptToDelete) this.#attemptToDelete.add(uid);
    for (const uid of actions.attemptToOrphan) this.#attemptToOrphan.add(uid);
  }

  #recordFailure(uid: string, err: Error): void {
    const node = this.#graph.get(uid);
    if (node === undefined || !node.observed) return;
    this.#recorder.event(this.#refObject(node.identity), 'Warning', 'FailedGarbageCollection', err.message);
  }

  #refObject(id: ObjectIdentity): KubeObject {
    return {
      apiVersion: id.apiVersion,
      kind: id.kind,
      metadata: { name: id.name, uid: id.uid, ...(id.namespace === '' ? {} : { namespace: id.namespace }) },
    };
  }

  /** Where the object a node names lives; throws UnknownKindError. */
  #pathOf(id: ObjectIdentity): string {
    const ref = this.#mapper.resourceFor(id.apiVersion, id.kind);
    return resourcePath(ref, ref.namespaced ? id.namespace : undefined, id.name);
  }

  async #getLive(id: ObjectIdentity): Promise<KubeObject | undefined> {
    try {
      return await this.#client.get<KubeObject>(this.#pathOf(id));
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** The object named by `id` no longer exists (or another has its name): drop its node. */
  #virtualDelete(node: GraphNode): void {
    this.#logger.debug({ item: node.toString() }, 'item not found, removing it from the graph');
    this.#apply(this.#graph.remove(node.identity.uid));
  }

  async #attemptToDeleteItem(uid: string): Promise<void> {
    const item = this.#graph.get(uid);
    if (item === undefined) {
      // Removed from the graph since it was queued: nothing left to decide.
      return;
    }
    if (item.beingDeleted && !item.deletingDependents) {
      // Already on its way out; its dependents are handled when it is gone.
      return;
    }
    const latest = await this.#getLive(item.identity);
    if (latest === undefined || latest.metadata.uid !== uid) {
      // Gone, or replaced by a namesake.
      this.#virtualDelete(item);
      return;
    }
    if (item.deletingDependents) {
      await this.#processDeletingDependentsItem(item, latest);
      return;
    }
    const ownerReferences = latest.metadata.ownerReferences ?? [];
    if (ownerReferences.length === 0) {
      // No owners (a virtual node that turned out to exist, or its references were removed).
      return;
    }

    let classified: ClassifiedReferences;
    try {
      classified = await classifyReferences(ownerReferences, (ref) => this.#lookupOwner(item, ref));
    } catch (err) {
      if (err instanceof NamespacedOwnerOfClusterScopedObjectError) {
        this.#recorder.event(latest, 'Warning', 'OwnerRefInvalidNamespace', `ownerRef [${err.owner.apiVersion}/${err.owner.kind}, name: ${err.owner.name}, uid: ${err.owner.uid}] is namespaced, but ${item.identity.kind} ${item.identity.name} is cluster-scoped`);
        return;
      }
      throw err;
    }
    const { solid, dangling, waitingForDependentsDeletion } = classified;

    if (solid.length > 0) {
      // At least one owner lives: keep the object, prune references that can never resolve.
      if (dangling.length === 0 && waitingForDependentsDeletion.length === 0) return;
      const drop = new Set([...dangling, ...waitingForDependentsDeletion].map((r) => r.uid));
      this.#logger.info({ item: item.toString(), drop: [...drop] }, 'removing dangling and waiting owner references');
      await this.#client.patch(this.#pathOf(item.identity), {
        metadata: { uid, resourceVersion: latest.metadata.resourceVersion, ownerReferences: withoutOwners(ownerReferences, drop) },
      });
      return;
    }

    if (waitingForDependentsDeletion.length > 0 && item.dependents.size > 0) {
      // An owner deletes in the foreground and this object has dependents of its own:
      // delete it in the foreground too, so the chain is taken down leaves first.
      this.#logger.info({ item: item.toString() }, 'owner deletes in the foreground; deleting item in the foreground');
      await this.#deleteObject(item, 'Foreground');
      return;
    }

    // No owner left that keeps it: garbage.
    const policy = propagationPolicyFor(latest);
    this.#logger.info({ item: item.toString(), policy }, 'deleting garbage');
    await this.#deleteObject(item, policy);
  }

  async #lookupOwner(item: GraphNode, ref: OwnerReference): Promise<KubeObject | undefined> {
    // An unserved kind throws UnknownKindError: as upstream, the dependent is kept and retried with backoff.
    const resource: ResourceRef = this.#mapper.resourceFor(ref.apiVersion, ref.kind);
    if (resource.namespaced && item.identity.namespace === '') throw new NamespacedOwnerOfClusterScopedObjectError(ref);
    const path = resourcePath(resource, resource.namespaced ? item.identity.namespace : undefined, ref.name);
    try {
      return await this.#client.get<KubeObject>(path);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async #deleteObject(item: GraphNode, policy: 'Orphan' | 'Foreground' | 'Background'): Promise<void> {
    try {
      await this.#client.delete(this.#pathOf(item.identity), {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        propagationPolicy: policy,
        preconditions: { uid: item.identity.uid },
      });
    } catch (err) {
      if (isNotFound(err)) {
        this.#virtualDelete(item);
        return;
      }
      throw err;
    }
  }

  /** An owner deleting in the foreground: wait for blocking dependents, then let it go. */
  async #processDeletingDependentsItem(item: GraphNode, latest: KubeObject): Promise<void> {
    const blocking = item.blockingDependents();
    if (blocking.length === 0) {
      this.#logger.info({ item: item.toString() }, 'no blocking dependents left; removing the foregroundDeletion finalizer');
      await this.#removeFinalizer(item, latest, FINALIZER_DELETE_DEPENDENTS);
      return;
    }
    // Their deletion events requeue this owner.
    for (const dep of blocking) {
      if (!dep.deletingDependents) this.#attemptToDelete.add(dep.identity.uid);
    }
  }

  async #attemptToOrphanItem(uid: string): Promise<void> {
    const owner = this.#graph.get(uid);
    if (owner === undefined) return;
    const failures: string[] = [];
    let conflict: Error | undefined;
    for (const dep of [...owner.dependents]) {
      try {
        await this.#removeOwnerReference(dep, uid);
      } catch (err) {
        if (isNotFound(err)) continue;
        if (isConflict(err)) conflict = toError(err);
        else failures.push(`${dep.toString()}: ${toError(err).message}`);
      }
    }
    if (failures.length > 0) throw new OrphanDependentsError(owner.toString(), failures);
    // Only conflicts: requeue quietly, the next pass reads fresh dependents.
    if (conflict !== undefined) throw conflict;
    const latest = await this.#getLive(owner.identity);
    if (latest === undefined || latest.metadata.uid !== uid) return;
    await this.#removeFinalizer(owner, latest, FINALIZER_ORPHAN_DEPENDENTS);
  }

  async #removeOwnerReference(dep: GraphNode, ownerUid: string): Promise<void> {
    const latest = await this.#getLive(dep.identity);
    if (latest === undefined || latest.metadata.uid !== dep.identity.uid) return;
    const refs = latest.metadata.ownerReferences ?? [];
    if (!refs.some((r) => r.uid === ownerUid)) return;
    this.#logger.info({ dependent: dep.toString(), owner: ownerUid }, 'orphaning dependent');
    await this.#client.patch(this.#pathOf(dep.identity), {
      metadata: { uid: dep.identity.uid, resourceVersion: latest.metadata.resourceVersion, ownerReferences: withoutOwners(refs, new Set([ownerUid])) },
    });
  }

  /** Removes `finalizer` with a resourceVersion-pinned merge patch (409 → requeue). */
  async #removeFinalizer(item: GraphNode, latest: KubeObject, finalizer: string): Promise<void> {
    const finalizers = latest.metadata.finalizers ?? [];
    if (!finalizers.includes(finalizer)) return;
    try {
      await this.#client.patch(this.#pathOf(item.identity), {
        metadata: { uid: item.identity.uid, resourceVersion: latest.metadata.resourceVersion, finalizers: finalizers.filter((f) => f !== finalizer) },
      });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }
}

/** Some dependents could not be orphaned; the owner keeps its finalizer and is retried. */
export class OrphanDependentsError extends Error {
  override readonly name = 'OrphanDependentsError';
  readonly owner: string;
  readonly failures: readonly string[];
  constructor(owner: string, failures: readonly string[]) {
    super(`failed to orphan dependents of ${owner}: ${failures.join('; ')}`);
    this.owner = owner;
    this.failures = failures;
  }
}

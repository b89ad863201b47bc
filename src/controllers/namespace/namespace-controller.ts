// The namespace controller: empties a namespace that is being deleted, then
// releases it (upstream: pkg/controller/namespace/namespace_controller.go and
// deletion/namespaced_resources_deleter.go).
//
// Deleting a namespace only marks it: the apiserver sets deletionTimestamp
// and `status.phase: Terminating`, and the `kubernetes` entry in
// spec.finalizers keeps it from going. This controller owns that entry.
//
// informer (namespaces) → key (the name, only for namespaces with a
// deletionTimestamp) → queue → workers → syncNamespace:
//   1. GET the namespace live: gone, or not being deleted → nothing to do.
//   2. phase not Terminating yet → write it (status subresource).
//   3. `kubernetes` already off spec.finalizers → our part is done.
//   4. discovery, then one pass over every namespaced resource: delete the
//      collection, list what is left (namespaced-resources-deleter.ts).
//   5. write the five deletion conditions when they changed (status-conditions.ts).
//   6. a failure (discovery, a resource's delete or list) → requeue with backoff;
//      content left (finalizers, pods in their grace period) → an Event on the
//      namespace saying what is left, and a recheck after the estimate;
//      nothing left → PUT /finalize without `kubernetes`, and the apiserver
//      deletes the namespace once spec.finalizers is empty.
//
// Every write pins the resourceVersion read in step 1 (or returned by the
// previous write): a 409 means someone else changed the namespace and the
// key is requeued quietly. Nothing is deleted in a namespace that is not
// marked, and the finalizer is removed only after a pass that found the
// namespace empty, so a crash anywhere just repeats the pass.

import type { KubeObject } from '../../apimachinery/index.ts';
import { formatTime } from '../../apimachinery/index.ts';
import type { Logger } from '../../base/index.ts';
import { toError } from '../../base/index.ts';
import {
  ApiError,
  resourcePath,
  resources,
  runWorkers,
  startInformersAndSync,
  WorkQueue,
  type ControllerContext,
  type EventRecorder,
  type Informer,
  type RestClient,
  type SharedInformerFactory,
} from '../../client/index.ts';
import { discoverNamespacedResources } from './discovery.ts';
import { deleteAllContent } from './namespaced-resources-deleter.ts';
import {
  emptyReport,
  remainingFinalizersMessage,
  remainingResourcesMessage,
  updateConditions,
  type NamespaceCondition,
} from './status-conditions.ts';

/** The spec.finalizers entry this controller removes when the namespace is empty. */
export const FINALIZER_KUBERNETES = 'kubernetes';

export type NamespaceControllerContext = ControllerContext;

export interface NamespaceControllerOptions {
  /** Concurrent syncs (upstream's --concurrent-namespace-syncs; default 5). */
  workers?: number;
  /** Upper bound of the recheck delay while content remains (default 15 s). */
  maxRecheckMs?: number;
}

interface Namespace extends KubeObject {
  spec?: { finalizers?: string[] };
  status?: { phase?: string; conditions?: NamespaceCondition[] };
}

/** The namespace's content could not all be discovered or deleted; the key is retried with backoff. */
export class NamespaceContentDeletionError extends Error {
  override readonly name = 'NamespaceContentDeletionError';
  readonly namespace: string;
  readonly failures: readonly string[];
  constructor(namespace: string, failures: readonly string[]) {
    super(`namespace ${namespace}: ${failures.join('; ')}`);
    this.namespace = namespace;
    this.failures = failures;
  }
}

const NAMESPACES = resources.namespaces;

/** Runs the namespace controller until `signal` aborts. */
export async function startNamespaceController(
  ctx: NamespaceControllerContext,
  signal: AbortSignal,
  options: NamespaceControllerOptions = {},
): Promise<void> {
  const controller = new NamespaceController(ctx, options);
  await controller.run(signal);
}

class NamespaceController {
  readonly #client: RestClient;
  readonly #informers: SharedInformerFactory;
  readonly #recorder: EventRecorder;
  readonly #logger: Logger;
  readonly #workers: number;
  readonly #maxRecheckMs: number;
  // Upstream's namespace queue backs off from 5 ms to 60 s.
  readonly #queue = new WorkQueue<string>({ name: 'namespace', baseDelayMs: 5, maxDelayMs: 60_000 });
  /** The last "what is left" message recorded per namespace, so a long wait is one Event, not one per pass. */
  readonly #lastReported = new Map<string, string>();

  constructor(ctx: NamespaceControllerContext, options: NamespaceControllerOptions) {
    this.#client = ctx.client;
    this.#informers = ctx.informers;
    this.#recorder = ctx.recorder;
    this.#logger = ctx.logger.child({ component: 'namespace-controller' });
    this.#workers = options.workers ?? 5;
    this.#maxRecheckMs = options.maxRecheckMs ?? 15_000;
  }

  async run(signal: AbortSignal): Promise<void> {
    const informer = this.#informers.informerFor<Namespace>(NAMESPACES);
    // The informer is shared and may outlive us: our handler goes when we stop.
    const handler = informer.addEventHandler({
      onAdd: (ns) => this.#enqueue(ns),
      onUpdate: (_old, ns) => this.#enqueue(ns),
      onDelete: (ns) => this.#lastReported.delete(ns.metadata.name ?? ''),
    });
    try {
      await this.#runWorkers(informer, signal);
    } finally {
      handler.dispose();
    }
  }

  async #runWorkers(informer: Informer<Namespace>, signal: AbortSignal): Promise<void> {
    if (!(await startInformersAndSync(this.#informers, signal, [informer]))) return;
    await runWorkers(this.#queue, this.#workers, (name, s) => this.syncNamespace(name, s), {
      signal,
      logger: this.#logger,
      onError: (name, err) => {
        const ns = informer.get(name);
        if (ns !== undefined) this.#recorder.event(ns, 'Warning', 'NamespaceDeletionFailed', err.message);
      },
    });
  }

  #enqueue(ns: Namespace): void {
    // Only namespaces being deleted have work; the sync re-reads the live object anyway.
    if (ns.metadata.deletionTimestamp && ns.metadata.name) this.#queue.add(ns.metadata.name);
  }

  #path(name: string, sub?: string): string {
    return resourcePath(NAMESPACES, undefined, name, sub);
  }

  async syncNamespace(name: string, signal: AbortSignal): Promise<void> {
    let ns: Namespace;
    try {
      ns = await this.#client.get<Namespace>(this.#path(name), { signal });
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) {
        // Gone: finalized by us or another deleter.
        this.#lastReported.delete(name);
        return;
      }
      throw err;
    }
    if (!ns.metadata.deletionTimestamp) {
      // Not being deleted (a stale key): nothing to do.
      return;
    }

    if (ns.status?.phase !== 'Terminating') {
      // Marked for deletion but not yet Terminating (written by an older server): say so first.
      ns = await this.#client.update<Namespace>(this.#path(name, 'status'), { ...ns, status: { ...(ns.status ?? {}), phase: 'Terminating' } });
    }

    if (!(ns.spec?.finalizers ?? []).includes(FINALIZER_KUBERNETES)) {
      // Our finalizer is off; the namespace waits only for others' finalizers.
      return;
    }

    // One pass over the content.
    let report = emptyReport();
    let estimateSeconds = 0;
    try {
      const namespaced = await discoverNamespacedResources(this.#client, signal);
      ({ report, estimateSeconds } = await deleteAllContent(this.#client, namespaced, name, signal));
    } catch (err) {
      if (signal.aborted) throw err;
      report.discoveryError = toError(err).message;
    }

    const { conditions, changed } = updateConditions(ns.status?.conditions, report, formatTime(new Date()));
    if (changed) {
      ns = await this.#client.update<Namespace>(this.#path(name, 'status'), { ...ns, status: { ...(ns.status ?? {}), conditions } });
    }

    const failures = [...(report.discoveryError === undefined ? [] : [report.discoveryError]), ...report.contentErrors];
    if (failures.length > 0) {
      // Discovery or a resource failed: the content may not be all gone, keep the finalizer.
      throw new NamespaceContentDeletionError(name, failures);
    }

    const resourcesLeft = remainingResourcesMessage(report);
    if (resourcesLeft !== undefined) {
      // Content remains (finalizers, pods in their grace period): tell, and look again later.
      const finalizersLeft = remainingFinalizersMessage(report);
      const message = finalizersLeft === undefined ? resourcesLeft : `${resourcesLeft}. ${finalizersLeft}`;
      if (this.#lastReported.get(name) !== message) {
        this.#lastReported.set(name, message);
        this.#recorder.event(ns, 'Normal', finalizersLeft === undefined ? 'SomeResourcesRemain' : 'SomeFinalizersRemain', message);
      }
      const delayMs = Math.min(this.#maxRecheckMs, Math.max(1_000, (estimateSeconds * 1000) / 2));
      this.#logger.debug({ namespace: name, remaining: message, recheckMs: delayMs }, 'content remains');
      this.#queue.addAfter(name, delayMs);
      return;
    }

    // Empty: release the namespace.
    this.#logger.info({ namespace: name }, 'namespace empty, removing the kubernetes finalizer');
    const finalizers = (ns.spec?.finalizers ?? []).filter((f) => f !== FINALIZER_KUBERNETES);
    try {
      await this.#client.update(this.#path(name, 'finalize'), {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name, uid: ns.metadata.uid, resourceVersion: ns.metadata.resourceVersion },
        spec: { ...(ns.spec ?? {}), finalizers },
      });
    } catch (err) {
      // Finalized and deleted by someone else in the meantime.
      if (err instanceof ApiError && err.code === 404) return;
      throw err;
    }
    this.#lastReported.delete(name);
  }
}

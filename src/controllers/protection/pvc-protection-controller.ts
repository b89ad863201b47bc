// The pvc-protection controller: a claim that is deleted while a pod still
// uses it stays (Terminating) until no pod does (upstream:
// pkg/controller/volume/pvcprotection/pvc_protection_controller.go).
//
// The apiserver gives every new claim the `kubernetes.io/pvc-protection`
// finalizer (the StorageObjectInUseProtection admission step, in
// api/core/persistent-volume-claim.ts), so deleting a claim only marks it.
// This controller owns that finalizer: it removes it from a marked claim once
// no pod uses the claim, and adds it to an unmarked claim that lacks it
// (claims created before the admission step, or stripped by hand).
//
// informers (claims, pods + an index pod → `namespace/claim`) → key
// (`namespace/name` of a claim) → queue → workers → syncClaim:
//   - claim events enqueue claims that are deletion candidates or lack the
//     finalizer; pod events enqueue the claims of a pod that stopped using
//     them (deleted, terminal, shut down), and of the pod an update replaced
//     (same name, new uid), whatever the new pod does;
//   - syncClaim reads the claim from the informer cache: gone → done; being
//     deleted with our finalizer → in use? keep it : remove the finalizer;
//     not being deleted and without it → add it.
//
// "In use" is asked twice, as upstream does: first the pod cache through the
// index (a user found there settles it without a request), then — only when
// the cache knows no user — a live LIST of the namespace's pods, because a
// pod created a moment ago may not have reached the cache yet, and removing
// the finalizer is the one decision that cannot be taken back. Keeping it is
// always safe: a claim kept wrongly is synced again by the pod's next event.
//
// Which pods use a claim is pod-usage.ts. Where we differ from upstream, on
// purpose: a pod in a terminal phase (Succeeded, Failed) no longer holds its
// claims (upstream keeps them until the pod object is gone, see
// kubernetes#120756), and an unscheduled pod does hold them (upstream ignores
// pods without spec.nodeName because its scheduler refuses to place a pod
// whose claim is being deleted; volplane's scheduler may not, so we do not
// rely on it).
//
// Every write is a PUT of the cached claim with its resourceVersion: a 409
// means the cache was behind, and the key is requeued quietly; a 404 means
// the claim is gone, which is what we wanted. A crash between deciding and
// writing just repeats the decision on the next start.

import type { KubeList, KubeObject } from '../../apimachinery/index.ts';
import { PVC_PROTECTION_FINALIZER } from '../../api/core/persistent-volume-claim.ts';
import type { Disposable, Logger } from '../../base/index.ts';
import {
  ApiError,
  objectKey,
  resourcePath,
  resources,
  runWorkers,
  splitKey,
  startInformersAndSync,
  WorkQueue,
  type ControllerContext,
  type EventRecorder,
  type Informer,
  type RestClient,
  type SharedInformerFactory,
} from '../../client/index.ts';
import { POD_PVC_INDEX, podMayUseVolumes, podPvcIndexValues, podUsesPVC, volumeClaimName, type Pod } from './pod-usage.ts';
import { isDeletionCandidate, needToAddFinalizer, withFinalizer, withoutFinalizer } from './protection-util.ts';

export type ProtectionControllerContext = ControllerContext;

export interface ProtectionControllerOptions {
  /** Concurrent syncs (default 1, as kube-controller-manager runs these controllers). */
  workers?: number;
}

type Claim = KubeObject;

const CLAIMS = resources.persistentVolumeClaims;
const PODS = resources.pods;

/** Runs the pvc-protection controller until `signal` aborts. */
export async function startPvcProtectionController(
  ctx: ProtectionControllerContext,
  signal: AbortSignal,
  options: ProtectionControllerOptions = {},
): Promise<void> {
  const controller = new PvcProtectionController(ctx, options);
  await controller.run(signal);
}

/**
 * The controller object. Constructing it registers its handlers and the pod
 * index on the shared informers; run() starts them and the workers, and
 * removes the handlers when it returns. Exported for tests that call
 * syncClaim() directly; components use startPvcProtectionController.
 */
export class PvcProtectionController {
  readonly #client: RestClient;
  readonly #informers: SharedInformerFactory;
  readonly #recorder: EventRecorder;
  readonly #logger: Logger;
  readonly #workers: number;
  readonly #claims: Informer<Claim>;
  readonly #pods: Informer<Pod>;
  readonly #handlers: Disposable[] = [];
  readonly queue = new WorkQueue<string>({ name: 'pvcprotection' });

  constructor(ctx: ProtectionControllerContext, options: ProtectionControllerOptions = {}) {
    this.#client = ctx.client;
    this.#informers = ctx.informers;
    this.#recorder = ctx.recorder;
    this.#logger = ctx.logger.child({ component: 'pvc-protection-controller' });
    this.#workers = options.workers ?? 1;
    this.#claims = ctx.informers.informerFor<Claim>(CLAIMS);
    this.#pods = ctx.informers.informerFor<Pod>(PODS);
    addPodPvcIndex(this.#pods);
    this.#handlers.push(
      this.#claims.addEventHandler({
        onAdd: (claim) => this.#claimAddedUpdated(claim),
        onUpdate: (_old, claim) => this.#claimAddedUpdated(claim),
      }),
      this.#pods.addEventHandler({
        onAdd: (pod) => this.#podAddedDeletedUpdated(undefined, pod, false),
        onUpdate: (old, pod) => this.#podAddedDeletedUpdated(old, pod, false),
        onDelete: (pod) => this.#podAddedDeletedUpdated(undefined, pod, true),
      }),
    );
  }

  /** Starts the informers, waits for their first lists, and syncs claims until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    try {
      if (!(await startInformersAndSync(this.#informers, signal, [this.#claims, this.#pods]))) return;
      this.#logger.info('started');
      await runWorkers(this.queue, this.#workers, (key, s) => this.syncClaim(key, s), {
        signal,
        logger: this.#logger,
        onError: (key, err) => {
          const claim = this.#claims.get(key);
          if (claim !== undefined) this.#recorder.event(claim, 'Warning', 'FailedProtectionSync', err.message);
        },
      });
    } finally {
      this.queue.shutDown();
      this.dispose();
    }
  }

  /** Removes the informer handlers (the index stays: other users of the pod informer may share it). */
  dispose(): void {
    for (const h of this.#handlers.splice(0)) h.dispose();
  }

  /** One decision about the claim `namespace/name`. Throws what the API throws; the worker requeues. */
  async syncClaim(key: string, signal: AbortSignal): Promise<void> {
    const claim = this.#claims.get(key);
    if (claim === undefined) {
      // Gone (or not created yet): nothing holds it.
      return;
    }
    if (isDeletionCandidate(claim, PVC_PROTECTION_FINALIZER)) {
      // Being deleted, our finalizer on: let go only when no pod uses it.
      const user = await this.#findUser(claim, signal);
      if (user !== undefined) {
        this.#logger.debug({ claim: key, pod: user }, 'keeping claim: in use');
        return;
      }
      await this.#write(withoutFinalizer(claim, PVC_PROTECTION_FINALIZER), signal);
      this.#logger.debug({ claim: key }, 'removed protection finalizer: claim unused');
      return;
    }
    if (needToAddFinalizer(claim, PVC_PROTECTION_FINALIZER)) {
      // Live and unprotected (created before the admission step): protect it.
      await this.#write(withFinalizer(claim, PVC_PROTECTION_FINALIZER), signal);
      this.#logger.debug({ claim: key }, 'added protection finalizer');
    }
  }

  /** The name of a pod that uses `claim`, asking the cache first and the apiserver second; undefined when none does. */
  async #findUser(claim: Claim, signal: AbortSignal): Promise<string | undefined> {
    const key = objectKey(claim);
    for (const pod of this.#pods.byIndex(POD_PVC_INDEX, key)) {
      // The index is by name; the rules (phase, ephemeral ownership) are checked here.
      if (podUsesPVC(pod, claim)) return pod.metadata.name;
    }
    const ns = claim.metadata.namespace ?? '';
    const live = await this.#client.get<KubeList<Pod>>(resourcePath(PODS, ns), { signal });
    for (const pod of live.items ?? []) {
      if (podUsesPVC(pod, claim)) return pod.metadata.name;
    }
    return undefined;
  }

  /** PUTs `claim` (carrying the cached resourceVersion). A claim that is gone is not an error. */
  async #write(claim: Claim, signal: AbortSignal): Promise<void> {
    const { namespace, name } = splitKey(objectKey(claim));
    try {
      await this.#client.request('PUT', resourcePath(CLAIMS, namespace, name), { body: claim, signal });
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return;
      throw err;
    }
  }

  #claimAddedUpdated(claim: Claim): void {
    if (isDeletionCandidate(claim, PVC_PROTECTION_FINALIZER) || needToAddFinalizer(claim, PVC_PROTECTION_FINALIZER)) {
      this.queue.add(objectKey(claim));
    }
  }

  #podAddedDeletedUpdated(old: Pod | undefined, pod: Pod, deleted: boolean): void {
    this.#enqueueClaims(pod, deleted);
    // An update can hide a delete and a create under the same name: the old
    // pod may have held claims the new one does not refer to.
    if (old !== undefined && old.metadata.uid !== pod.metadata.uid) this.#enqueueClaims(old, true);
  }

  #enqueueClaims(pod: Pod, deleted: boolean): void {
    // A pod that still uses its claims cannot free any of them.
    if (!deleted && podMayUseVolumes(pod)) return;
    const ns = pod.metadata.namespace ?? '';
    for (const volume of pod.spec?.volumes ?? []) {
      const claimName = volumeClaimName(pod, volume);
      if (claimName !== undefined) this.queue.add(`${ns}/${claimName}`);
    }
  }
}

/** Adds the pod → claim index unless the (shared) pod informer already has it. */
function addPodPvcIndex(pods: Informer<Pod>): void {
  try {
    pods.byIndex(POD_PVC_INDEX, '');
    return;
  } catch {
    // Not there yet.
  }
  pods.addIndexer(POD_PVC_INDEX, podPvcIndexValues);
}

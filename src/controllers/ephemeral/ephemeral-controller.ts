// The ephemeral volume controller: creates the PersistentVolumeClaim behind
// each generic ephemeral volume of a pod (upstream:
// pkg/controller/volume/ephemeral/controller.go).
//
// A pod volume with `ephemeral.volumeClaimTemplate` is a claim whose life is
// the pod's: this controller creates `<pod>-<volume>` from the template with
// the pod as its controller (ownerReference controller: true,
// blockOwnerDeletion: true), so the garbage collector deletes the claim with
// the pod. From then on the claim is an ordinary one: the PV controller binds
// it, the scheduler and kubelet wait for it.
//
// informers (pods, persistentvolumeclaims) → key (`namespace/name` of a pod
// with ephemeral volumes) → queue → workers → syncPod:
//   1. The pod from the cache; gone or being deleted → nothing.
//   2. For each ephemeral volume: the claim exists and the pod controls it →
//      done; it exists and the pod does not control it → a Warning event on
//      the pod (FailedBinding) and a retry with backoff (someone else's claim
//      is never taken over; the pod cannot start until it is removed); it does
//      not exist → create it (AlreadyExists means the cache was behind: read
//      it and judge it as above).
// Claim deletions enqueue the pods that use the claim (an index of pods by
// the claims their ephemeral volumes name), so a claim deleted under a live
// pod is created again.

import type { KubeObject } from '../../apimachinery/index.ts';
import type { Logger } from '../../base/index.ts';
import { toError } from '../../base/index.ts';
import {
  ApiError,
  objectKey,
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
import { claimNotForPod, ephemeralClaimName, ephemeralVolumes, newEphemeralClaim, podNeedsWork, type Pod } from './ephemeral-utils.ts';

const PODS = resources.pods;
const CLAIMS = resources.persistentVolumeClaims;
/** Pods by the `namespace/name` of the claims their ephemeral volumes need. */
const CLAIM_INDEX = 'ephemeral-controller:claims';

export type EphemeralVolumeControllerContext = ControllerContext;

export interface EphemeralVolumeControllerOptions {
  /** Concurrent syncs (upstream --concurrent-ephemeralvolume-syncs, default 5). */
  workers?: number;
}

/** A claim named like the pod's ephemeral claim exists but belongs to someone else. */
export class EphemeralClaimConflictError extends Error {
  override readonly name = 'EphemeralClaimConflictError';
  readonly pod: string;
  readonly claim: string;
  constructor(pod: string, claim: string, message: string) {
    super(message);
    this.pod = pod;
    this.claim = claim;
  }
}

/** Runs the ephemeral volume controller until `signal` aborts. */
export async function startEphemeralVolumeController(
  ctx: EphemeralVolumeControllerContext,
  signal: AbortSignal,
  options: EphemeralVolumeControllerOptions = {},
): Promise<void> {
  await new EphemeralVolumeController(ctx, options).run(signal);
}

class EphemeralVolumeController {
  readonly #client: RestClient;
  readonly #informers: SharedInformerFactory;
  readonly #recorder: EventRecorder;
  readonly #logger: Logger;
  readonly #workers: number;
  readonly #queue = new WorkQueue<string>({ name: 'ephemeral_volume' });
  #podInformer!: Informer<Pod>;
  #claimInformer!: Informer<KubeObject>;

  constructor(ctx: EphemeralVolumeControllerContext, options: EphemeralVolumeControllerOptions) {
    this.#client = ctx.client;
    this.#informers = ctx.informers;
    // Upstream's component name for this controller's events.
    this.#recorder = ctx.recorder.withComponent('ephemeral_volume');
    this.#logger = ctx.logger.child({ component: 'ephemeral-volume-controller' });
    this.#workers = options.workers ?? 5;
  }

  async run(signal: AbortSignal): Promise<void> {
    this.#podInformer = this.#informers.informerFor<Pod>(PODS);
    this.#claimInformer = this.#informers.informerFor<KubeObject>(CLAIMS);
    this.#podInformer.addIndexer(CLAIM_INDEX, (pod) => ephemeralVolumes(pod).map((v) => `${pod.metadata.namespace}/${ephemeralClaimName(pod, v)}`));
    const enqueue = (pod: Pod): void => {
      if (podNeedsWork(pod)) this.#queue.add(objectKey(pod));
    };
    this.#podInformer.addEventHandler({ onAdd: enqueue, onUpdate: (_old, pod) => enqueue(pod) });
    this.#claimInformer.addEventHandler({
      onDelete: (claim) => {
        for (const pod of this.#podInformer.byIndex(CLAIM_INDEX, objectKey(claim))) enqueue(pod);
      },
    });
    if (!(await startInformersAndSync(this.#informers, signal, [this.#podInformer, this.#claimInformer]))) return;
    await runWorkers(this.#queue, this.#workers, (key) => this.syncPod(key), { signal, logger: this.#logger });
  }

  async syncPod(key: string): Promise<void> {
    const pod = this.#podInformer.get(key);
    if (pod === undefined || !podNeedsWork(pod)) return;
    for (const volume of ephemeralVolumes(pod)) {
      try {
        await this.#handleVolume(pod, volume);
      } catch (err) {
        const e = toError(err);
        this.#recorder.event(pod, 'Warning', 'FailedBinding', `ephemeral volume ${volume.name}: ${e.message}`);
        throw e;
      }
    }
  }

  async #handleVolume(pod: Pod, volume: ReturnType<typeof ephemeralVolumes>[number]): Promise<void> {
    const name = ephemeralClaimName(pod, volume);
    const ns = pod.metadata.namespace ?? '';
    let existing = this.#claimInformer.get(`${ns}/${name}`);
    if (existing === undefined) {
      try {
        await this.#client.create(resourcePath(CLAIMS, ns), newEphemeralClaim(pod, volume));
        return;
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 409 && err.status?.reason === 'AlreadyExists')) {
          throw new Error(`create PVC ${name}: ${toError(err).message}`, { cause: err });
        }
        existing = await this.#client.get<KubeObject>(resourcePath(CLAIMS, ns, name));
      }
    }
    const problem = claimNotForPod(pod, existing);
    if (problem !== undefined) throw new EphemeralClaimConflictError(objectKey(pod), name, problem);
  }
}

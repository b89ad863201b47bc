// The pv-protection controller: a PersistentVolume that is deleted while it
// is bound to a claim stays (Terminating) until it is not (upstream:
// pkg/controller/volume/pvprotection/pv_protection_controller.go).
//
// The apiserver gives every new PV the `kubernetes.io/pv-protection`
// finalizer (the StorageObjectInUseProtection admission step, in
// api/core/persistent-volume.ts). This controller owns it: it removes it from
// a PV being deleted once the PV is no longer bound, and adds it to a live PV
// that lacks it (PVs created before the admission step, or stripped by hand).
//
// informer (PVs) → key (the PV's name, for deletion candidates and PVs
// lacking the finalizer) → queue → workers → syncVolume, which reads the PV
// from the cache: gone → done; being deleted with our finalizer → bound? keep
// it : remove the finalizer; not being deleted and without it → add it.
//
// "Bound" is what the PV controller wrote: status.phase Bound, exactly
// upstream's test (it does not look at spec.claimRef: a Bound PV without a
// claimRef is a state the PV controller corrects, and the status update that
// follows — Released or Available — brings the PV back here). No second
// source is asked: unlike a pod's use of a claim, the phase is on the PV
// itself, and the update that changes it is the event that requeues it.
//
// Writes are PUTs of the cached PV with its resourceVersion: a 409 is a quiet
// requeue, a 404 means the PV is gone.

import { PV_PROTECTION_FINALIZER } from '../../api/core/persistent-volume.ts';
import type { KubeObject } from '../../apimachinery/index.ts';
import type { Disposable, Logger } from '../../base/index.ts';
import {
  ApiError,
  resourcePath,
  resources,
  runWorkers,
  startInformersAndSync,
  WorkQueue,
  type EventRecorder,
  type Informer,
  type RestClient,
  type SharedInformerFactory,
} from '../../client/index.ts';
import { isDeletionCandidate, needToAddFinalizer, withFinalizer, withoutFinalizer } from './protection-util.ts';
import type { ProtectionControllerContext, ProtectionControllerOptions } from './pvc-protection-controller.ts';

/** The fields of a PV this controller reads. */
interface Volume extends KubeObject {
  status?: { phase?: string };
}

const VOLUMES = resources.persistentVolumes;

/** Runs the pv-protection controller until `signal` aborts. */
export async function startPvProtectionController(
  ctx: ProtectionControllerContext,
  signal: AbortSignal,
  options: ProtectionControllerOptions = {},
): Promise<void> {
  const controller = new PvProtectionController(ctx, options);
  await controller.run(signal);
}

/** upstream's isBeingUsed: the PV controller has it Bound. */
export function isVolumeInUse(pv: Volume): boolean {
  return pv.status?.phase === 'Bound';
}

/**
 * The controller object. Constructing it registers its handler on the shared
 * PV informer; run() starts the informers and the workers and removes the
 * handler when it returns. Exported for tests; components use
 * startPvProtectionController.
 */
export class PvProtectionController {
  readonly #client: RestClient;
  readonly #informers: SharedInformerFactory;
  readonly #recorder: EventRecorder;
  readonly #logger: Logger;
  readonly #workers: number;
  readonly #volumes: Informer<Volume>;
  readonly #handler: Disposable;
  readonly queue = new WorkQueue<string>({ name: 'pvprotection' });

  constructor(ctx: ProtectionControllerContext, options: ProtectionControllerOptions = {}) {
    this.#client = ctx.client;
    this.#informers = ctx.informers;
    this.#recorder = ctx.recorder;
    this.#logger = ctx.logger.child({ component: 'pv-protection-controller' });
    this.#workers = options.workers ?? 1;
    this.#volumes = ctx.informers.informerFor<Volume>(VOLUMES);
    this.#handler = this.#volumes.addEventHandler({
      onAdd: (pv) => this.#volumeAddedUpdated(pv),
      onUpdate: (_old, pv) => this.#volumeAddedUpdated(pv),
    });
  }

  /** Starts the informers, waits for the first list, and syncs PVs until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    try {
      if (!(await startInformersAndSync(this.#informers, signal, [this.#volumes]))) return;
      this.#logger.info('started');
      await runWorkers(this.queue, this.#workers, (name, s) => this.syncVolume(name, s), {
        signal,
        logger: this.#logger,
        onError: (name, err) => {
          const pv = this.#volumes.get(name);
          if (pv !== undefined) this.#recorder.event(pv, 'Warning', 'FailedProtectionSync', err.message);
        },
      });
    } finally {
      this.queue.shutDown();
      this.dispose();
    }
  }

  /** Removes the informer handler. */
  dispose(): void {
    this.#handler.dispose();
  }

  /** One decision about the PV `name`. Throws what the API throws; the worker requeues. */
  async syncVolume(name: string, signal: AbortSignal): Promise<void> {
    const pv = this.#volumes.get(name);
    if (pv === undefined) {
      // Gone: nothing to protect.
      return;
    }
    if (isDeletionCandidate(pv, PV_PROTECTION_FINALIZER)) {
      // Being deleted, our finalizer on: let go unless it is still bound.
      if (isVolumeInUse(pv)) {
        this.#logger.debug({ pv: name }, 'keeping PV: bound');
        return;
      }
      await this.#write(name, withoutFinalizer(pv, PV_PROTECTION_FINALIZER), signal);
      this.#logger.debug({ pv: name, phase: pv.status?.phase }, 'removed protection finalizer: PV not bound');
      return;
    }
    if (needToAddFinalizer(pv, PV_PROTECTION_FINALIZER)) {
      // Live and unprotected (created before the admission step): protect it.
      await this.#write(name, withFinalizer(pv, PV_PROTECTION_FINALIZER), signal);
      this.#logger.debug({ pv: name }, 'added protection finalizer');
    }
  }

  async #write(name: string, pv: Volume, signal: AbortSignal): Promise<void> {
    try {
      await this.#client.request('PUT', resourcePath(VOLUMES, undefined, name), { body: pv, signal });
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return;
      throw err;
    }
  }

  #volumeAddedUpdated(pv: Volume): void {
    if (isDeletionCandidate(pv, PV_PROTECTION_FINALIZER) || needToAddFinalizer(pv, PV_PROTECTION_FINALIZER)) {
      this.queue.add(pv.metadata.name ?? '');
    }
  }
}

// The machinery around the PV controller's two sync functions, as upstream's
// pv_controller_base.go: informers feed two caches and two work queues;
// claim workers and volume workers take keys and call syncClaim/syncVolume.
//
// - Several workers per queue (upstream runs one of each): a bind is four
//   API writes in a row, each a round trip with a durable commit, so one
//   worker spends its time waiting and the store commits one write at a
//   time. The work queue never hands one key to two workers at once, so each
//   claim (and each volume) is still synced by one worker at a time, in
//   order; what runs side by side are different claims. Two of them choosing
//   the same volume is prevented by a reservation in the VolumeIndex (see
//   pv-controller.ts, "Binding"), and anything the reservation cannot see (an
//   edit behind the controller's back, a second controller) ends in a 409
//   Conflict that runWorkers requeues with the queue's rate limiter.
//
// - Event handlers only store the object and enqueue its key. The workers
//   read the informer again to tell an update from a delete.
// - The controller keeps its own caches (a VolumeIndex and a claim map)
//   besides the informers', because it writes objects and must act on what it
//   wrote before the watch echoes it back. An older resourceVersion never
//   overwrites a newer one (storeObjectUpdate), and the same one is not
//   stored again.
// - Long operations (provision, delete, recycle) run beside the workers, one
//   per name at a time (upstream's goroutinemap); a failed one requeues its
//   object with backoff.
// - Every resyncMs all claims and volumes are queued again, which is how
//   upstream retries what no event will trigger (a volume appearing that a
//   Pending claim could use, an external provisioner that never came). The
//   keys go in slices of RESYNC_SLICE spread over half the period rather
//   than all at once: each sync runs on the one event loop, and 100,000
//   volumes queued together kept the workers busy for a second or two,
//   delaying every bind that came meanwhile by tens of milliseconds.
//
// - Storage an in-tree provisioner created for a claim whose PV was never
//   saved (the process died in between, then the claim went away) is found on
//   start and at every resync through Provisioner.listVolumes and deleted:
//   no PV in the cache or the API, and no claim with the uid in its name.
//
// isIdle() is for tests: no key queued, waiting for a backoff or being
// synced, and no operation running.

import type { KubeObject } from '../../apimachinery/index.ts';
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../../api/core/volume-types.ts';
import { VolumeIndex } from '../../api/core/volume-matching.ts';
import type { Logger } from '../../base/index.ts';
import { CancelledError, toError } from '../../base/index.ts';
import {
  ApiError,
  EventRecorder,
  Informer,
  SharedInformerFactory,
  WorkQueue,
  objectKey,
  resourcePath,
  resources,
  runWorkers,
  type RestClient,
} from '../../client/index.ts';
import type { Provisioner } from '../../volume/provisioner.ts';
import type { Recycler } from './recycler.ts';

export interface PersistentVolumeControllerContext {
  client: RestClient;
  informers: SharedInformerFactory;
  recorder: EventRecorder;
  logger: Logger;
  /** In-tree provisioners by name; any other provisioner name is left to an external provisioner. */
  provisioners: Map<string, Provisioner>;
  /** How Recycle scrubs volumes (default: HostRecycler, on this machine). */
  recycler?: Recycler;
}

export interface PersistentVolumeControllerOptions {
  /** Period of the full resync (default 15 s, as kube-controller-manager's pvclaimbinder-sync-period). */
  resyncMs?: number;
  /** Attempts to save a provisioned PV, and to delete the volume when saving failed (default 5). */
  createProvisionedPVRetryCount?: number;
  /** Pause between those attempts (default 10 s). */
  createProvisionedPVIntervalMs?: number;
  /** Claim workers syncing different claims at once (default 16). */
  claimWorkers?: number;
  /** Volume workers syncing different volumes at once (default 4). */
  volumeWorkers?: number;
}

/**
 * Claim workers by default. One worker leaves the server waiting on each
 * round trip and commits one write at a time; with 16 binds in flight it
 * batches their commits. bench/binding.ts at N = 2,000 on a loaded 2-core
 * machine: 1 worker 20 binds/s, 4 → 69, 16 → 105, 32 → 116, 64 → 93 (the
 * server, not the controller, is then the limit).
 */
const DEFAULT_CLAIM_WORKERS = 16;
/** Volume syncs rarely write (phase changes, reclaim starts); a few keep up with PV creation. */
const DEFAULT_VOLUME_WORKERS = 4;
/** Keys a resync queues at a time; the slices are spread over half the resync period. */
const RESYNC_SLICE = 500;

/**
 * Whether the cache should keep `cached` over `incoming`: it holds the same
 * resourceVersion or a newer one. Numeric resourceVersions compare as
 * numbers; anything else never keeps the cached object.
 */
function keepCached(incoming: string | undefined, cached: string | undefined): boolean {
  if (incoming === undefined || cached === undefined || !/^\d+$/.test(incoming) || !/^\d+$/.test(cached)) return false;
  return incoming.length !== cached.length ? incoming.length < cached.length : incoming <= cached;
}

export abstract class PersistentVolumeControllerBase {
  protected readonly client: RestClient;
  protected readonly recorder: EventRecorder;
  protected readonly logger: Logger;
  protected readonly provisioners: Map<string, Provisioner>;
  readonly #informers: SharedInformerFactory;
  protected readonly options: Required<PersistentVolumeControllerOptions>;

  /** The controller's view of volumes: every PV, and the available ones indexed for matching. */
  protected readonly volumes = new VolumeIndex();
  /** The controller's view of claims by `namespace/name`. */
  protected readonly claims = new Map<string, PersistentVolumeClaim>();

  protected readonly volumeInformer: Informer<PersistentVolume>;
  protected readonly claimInformer: Informer<PersistentVolumeClaim>;
  protected readonly classInformer: Informer<StorageClass>;
  protected readonly podInformer: Informer<KubeObject>;
  protected readonly nodeInformer: Informer<KubeObject>;

  readonly #claimQueue = new WorkQueue<string>({ name: 'claims' });
  readonly #volumeQueue = new WorkQueue<string>({ name: 'volumes' });
  /** Keys added and not yet synced (including those waiting out a backoff). */
  readonly #pendingClaims = new Set<string>();
  readonly #pendingVolumes = new Set<string>();
  #activeSyncs = 0;
  readonly #operations = new Map<string, Promise<void>>();
  #signal: AbortSignal | undefined;
  #running: Promise<void> | undefined;
  #sweeping = false;
  /** The timer of the running resync pass's next slice. */
  #resyncSlice: NodeJS.Timeout | undefined;

  constructor(ctx: PersistentVolumeControllerContext, options: PersistentVolumeControllerOptions = {}) {
    this.client = ctx.client;
    this.recorder = ctx.recorder;
    this.logger = ctx.logger.child({ component: 'persistentvolume-controller' });
    this.provisioners = ctx.provisioners;
    this.#informers = ctx.informers;
    this.options = {
      resyncMs: options.resyncMs ?? 15_000,
      createProvisionedPVRetryCount: options.createProvisionedPVRetryCount ?? 5,
      createProvisionedPVIntervalMs: options.createProvisionedPVIntervalMs ?? 10_000,
      claimWorkers: Math.max(1, Math.floor(options.claimWorkers ?? DEFAULT_CLAIM_WORKERS)),
      volumeWorkers: Math.max(1, Math.floor(options.volumeWorkers ?? DEFAULT_VOLUME_WORKERS)),
    };
    this.volumeInformer = ctx.informers.informerFor<PersistentVolume>(resources.persistentVolumes);
    this.claimInformer = ctx.informers.informerFor<PersistentVolumeClaim>(resources.persistentVolumeClaims);
    this.classInformer = ctx.informers.informerFor<StorageClass>(resources.storageClasses);
    this.podInformer = ctx.informers.informerFor(resources.pods);
    this.nodeInformer = ctx.informers.informerFor(resources.nodes);
  }

  protected abstract syncClaim(claim: PersistentVolumeClaim, signal: AbortSignal): Promise<void>;
  protected abstract syncVolume(volume: PersistentVolume, signal: AbortSignal): Promise<void>;

  /**
   * Starts the controller: registers handlers, waits for the caches, starts
   * the workers and the resync. Resolves once running; stopped() resolves
   * after `signal` aborted and every worker and operation returned.
   */
  async start(signal: AbortSignal): Promise<void> {
    if (this.#signal !== undefined) throw new Error('the PV controller was already started');
    this.#signal = signal;
    const handlers = [
      this.volumeInformer.addEventHandler({
        onAdd: (pv) => this.#onVolume(pv),
        onUpdate: (_old, pv) => this.#onVolume(pv),
        onDelete: (pv) => this.#onVolumeDeleted(pv),
      }),
      this.claimInformer.addEventHandler({
        onAdd: (pvc) => this.#onClaim(pvc),
        onUpdate: (_old, pvc) => this.#onClaim(pvc),
        onDelete: (pvc) => this.#onClaimDeleted(pvc),
      }),
      // A new or changed class (a default appearing, say) may unblock Pending claims.
      this.classInformer.addEventHandler({
        onAdd: () => this.#enqueueUnboundClaims(),
        onUpdate: () => this.#enqueueUnboundClaims(),
      }),
    ];
    signal.addEventListener('abort', () => handlers.forEach((h) => h.dispose()), { once: true });

    // Starting the shared factory is idempotent; whoever else uses it may have started it already.
    this.#informers.start(signal);
    await Promise.all(
      [this.volumeInformer, this.claimInformer, this.classInformer, this.podInformer, this.nodeInformer].map((i) => i.waitForSync(signal)),
    );
    // Upstream's initializeCaches: start from a full list, then the workers.
    for (const pv of this.volumeInformer.list()) this.storeVolume(pv);
    for (const pvc of this.claimInformer.list()) this.storeClaim(pvc);

    this.#sweepOrphanedStorage(signal);
    const resync = setInterval(() => {
      this.#resync(signal);
      this.#sweepOrphanedStorage(signal);
    }, this.options.resyncMs);
    resync.unref();
    signal.addEventListener(
      'abort',
      () => {
        clearInterval(resync);
        clearTimeout(this.#resyncSlice);
      },
      { once: true },
    );

    const workerOptions = { signal, logger: this.logger };
    this.#running = Promise.all([
      runWorkers(this.#volumeQueue, this.options.volumeWorkers, (key) => this.#volumeWorker(key, signal), workerOptions),
      runWorkers(this.#claimQueue, this.options.claimWorkers, (key) => this.#claimWorker(key, signal), workerOptions),
    ])
      .then(() => this.#drainOperations())
      .catch((err: unknown) => this.logger.error({ err: toError(err) }, 'the PV controller stopped with an error'));
    this.logger.info('started');
  }

  /** Resolves when the controller has stopped (never before `signal` aborted). */
  async stopped(): Promise<void> {
    await this.#running;
  }

  /** Nothing queued, backing off, syncing or running as an operation. */
  isIdle(): boolean {
    return this.#pendingClaims.size === 0 && this.#pendingVolumes.size === 0 && this.#activeSyncs === 0 && this.#operations.size === 0;
  }

  // -------------------------------------------------------------------------
  // Queues

  protected enqueueClaim(key: string): void {
    if (this.#claimQueue.shuttingDown) return;
    this.#pendingClaims.add(key);
    this.#claimQueue.add(key);
  }

  protected enqueueVolume(name: string): void {
    if (this.#volumeQueue.shuttingDown) return;
    this.#pendingVolumes.add(name);
    this.#volumeQueue.add(name);
  }

  #requeueClaimWithBackoff(key: string): void {
    if (this.#claimQueue.shuttingDown) return;
    this.#pendingClaims.add(key);
    this.#claimQueue.addRateLimited(key);
  }

  #requeueVolumeWithBackoff(name: string): void {
    if (this.#volumeQueue.shuttingDown) return;
    this.#pendingVolumes.add(name);
    this.#volumeQueue.addRateLimited(name);
  }

  #enqueueUnboundClaims(): void {
    for (const [key, pvc] of this.claims) if ((pvc.spec.volumeName ?? '') === '') this.enqueueClaim(key);
  }

  /** Starts a sweep for provisioned storage without a PV unless one is running; never throws. */
  #sweepOrphanedStorage(signal: AbortSignal): void {
    if (this.#sweeping || signal.aborted) return;
    this.#sweeping = true;
    this.#deleteOrphanedStorage(signal)
      .catch((err: unknown) => {
        if (!signal.aborted) this.logger.warn({ err: toError(err) }, 'sweeping provisioned storage without a volume failed');
      })
      .finally(() => {
        this.#sweeping = false;
      });
  }

  async #deleteOrphanedStorage(signal: AbortSignal): Promise<void> {
    const liveClaimUids = new Set([...this.claims.values()].map((c) => c.metadata.uid));
    for (const provisioner of this.provisioners.values()) {
      if (provisioner.listVolumes === undefined) continue;
      for (const { pvName, source } of await provisioner.listVolumes(signal)) {
        if (this.volumeInformer.get(pvName) !== undefined) continue;
        // Dynamically provisioned volumes are named pvc-<claim uid>; while the claim
        // lives, its provisioning will finish or be retried.
        if (!pvName.startsWith('pvc-') || liveClaimUids.has(pvName.slice('pvc-'.length))) continue;
        if (await this.#volumeExists(pvName, signal)) continue;
        const orphan = { metadata: { name: pvName }, spec: { ...source } } as PersistentVolume;
        await provisioner.delete(orphan, signal);
        this.logger.info({ volume: pvName, provisioner: provisioner.name }, 'deleted provisioned storage whose volume was never saved');
      }
    }
  }

  /** Whether the API has the PV (the cache may lag behind a create). */
  async #volumeExists(name: string, signal: AbortSignal): Promise<boolean> {
    try {
      await this.client.request('GET', resourcePath(resources.persistentVolumes, undefined, name), { signal });
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return false;
      throw err;
    }
  }

  /**
   * Queues every claim and volume again, RESYNC_SLICE keys at a time, the
   * slices spread evenly over half the period. A pass still running when the
   * next period comes is replaced by a new one from a fresh list.
   */
  #resync(signal: AbortSignal): void {
    clearTimeout(this.#resyncSlice);
    const claims = this.claimInformer.list().map((pvc) => objectKey(pvc));
    const volumes = this.volumeInformer.list().map((pv) => pv.metadata.name ?? '');
    const total = claims.length + volumes.length;
    const slices = Math.ceil(total / RESYNC_SLICE);
    const gapMs = slices <= 1 ? 0 : this.options.resyncMs / 2 / slices;
    let next = 0;
    const queueSlice = (): void => {
      if (signal.aborted) return;
      const end = Math.min(total, next + RESYNC_SLICE);
      for (; next < end; next++) {
        if (next < claims.length) this.enqueueClaim(claims[next]!);
        else this.enqueueVolume(volumes[next - claims.length]!);
      }
      if (next < total) {
        this.#resyncSlice = setTimeout(queueSlice, gapMs);
        this.#resyncSlice.unref();
      }
    };
    queueSlice();
  }

  // -------------------------------------------------------------------------
  // Event handlers: store and enqueue, nothing else

  #onVolume(pv: PersistentVolume): void {
    this.storeVolume(pv);
    this.enqueueVolume(pv.metadata.name ?? '');
  }

  #onVolumeDeleted(pv: PersistentVolume): void {
    this.volumes.remove(pv.metadata.name ?? '');
    // A bound claim whose volume vanished becomes Lost.
    const ref = pv.spec.claimRef;
    if (ref?.name !== undefined) this.enqueueClaim(`${ref.namespace ?? ''}/${ref.name}`);
  }

  #onClaim(pvc: PersistentVolumeClaim): void {
    this.storeClaim(pvc);
    this.enqueueClaim(objectKey(pvc));
  }

  #onClaimDeleted(pvc: PersistentVolumeClaim): void {
    this.claims.delete(objectKey(pvc));
    // Its volume is Released now (and reclaimed).
    const volumeName = pvc.spec.volumeName ?? '';
    if (volumeName !== '') this.enqueueVolume(volumeName);
  }

  // -------------------------------------------------------------------------
  // Caches

  /**
   * Stores `pv` unless the cache already holds this version or a newer one
   * (a resync hands every volume over again, unchanged). Returns the cached object.
   */
  protected storeVolume(pv: PersistentVolume): PersistentVolume {
    const name = pv.metadata.name ?? '';
    const cached = this.volumes.get(name);
    if (cached !== undefined && keepCached(pv.metadata.resourceVersion, cached.metadata.resourceVersion)) return cached;
    this.volumes.put(pv);
    return pv;
  }

  protected storeClaim(pvc: PersistentVolumeClaim): PersistentVolumeClaim {
    const key = objectKey(pvc);
    const cached = this.claims.get(key);
    if (cached !== undefined && keepCached(pvc.metadata.resourceVersion, cached.metadata.resourceVersion)) return cached;
    this.claims.set(key, pvc);
    return pvc;
  }

  // -------------------------------------------------------------------------
  // Workers: the informer tells an update from a delete

  async #volumeWorker(name: string, signal: AbortSignal): Promise<void> {
    this.#pendingVolumes.delete(name);
    this.#activeSyncs++;
    try {
      const fromInformer = this.volumeInformer.get(name);
      if (fromInformer === undefined) {
        this.volumes.remove(name);
        return;
      }
      const pv = this.storeVolume(fromInformer);
      await this.syncVolume(pv, signal);
    } catch (err) {
      // runWorkers requeues with backoff; count the key as pending until then.
      if (!signal.aborted) this.#pendingVolumes.add(name);
      throw err;
    } finally {
      this.#activeSyncs--;
    }
  }

  async #claimWorker(key: string, signal: AbortSignal): Promise<void> {
    this.#pendingClaims.delete(key);
    this.#activeSyncs++;
    try {
      const fromInformer = this.claimInformer.get(key);
      if (fromInformer === undefined) {
        this.claims.delete(key);
        return;
      }
      const pvc = this.storeClaim(fromInformer);
      await this.syncClaim(pvc, signal);
    } catch (err) {
      if (!signal.aborted) this.#pendingClaims.add(key);
      throw err;
    } finally {
      this.#activeSyncs--;
    }
  }

  // -------------------------------------------------------------------------
  // Operations

  /**
   * Runs `fn` in the background unless an operation of the same name is still
   * running (then this is a no-op). When it fails, `retry` says which object
   * to sync again after a backoff.
   */
  protected scheduleOperation(name: string, retry: { claim: string } | { volume: string }, fn: (signal: AbortSignal) => Promise<void>): void {
    const signal = this.#signal;
    if (signal === undefined || signal.aborted || this.#operations.has(name)) return;
    const op = (async () => {
      try {
        await fn(signal);
      } catch (thrown) {
        const err = toError(thrown);
        if (signal.aborted || err instanceof CancelledError) return;
        this.logger.info({ operation: name, err: err.message }, 'operation failed, retrying with backoff');
        if ('claim' in retry) this.#requeueClaimWithBackoff(retry.claim);
        else this.#requeueVolumeWithBackoff(retry.volume);
      }
    })().finally(() => this.#operations.delete(name));
    this.#operations.set(name, op);
  }

  async #drainOperations(): Promise<void> {
    while (this.#operations.size > 0) await Promise.all([...this.#operations.values()]);
    this.logger.info('stopped');
  }
}

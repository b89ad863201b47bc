// The kubelet's volume manager (seed 001 §3.2.3, seed 002; upstream
// pkg/kubelet/volumemanager): it makes the volumes of the pods assigned to
// this node appear under `<root>/pods/<uid>/volumes/…` before their
// containers start, and takes them away after the pods are gone.
//
// Three parts around two caches, as upstream:
//
//   kubelet ──addPod/removePod──▶ desired state of world ◀── populator
//                                        │                  (claims → PVs,
//                                        ▼                   content versions)
//                                    reconciler ──ops──▶ operation executor
//                                        ▲                   (one op per volume,
//                                        │                    backoff, events)
//   waitForAttachAndMount ◀── actual state of world ◀──────────┘
//
// - The desired state is what the kubelet asked for; the populator resolves
//   each volume's spec and plugin (see desired-state-of-world-populator.ts).
// - The actual state is what the operations did, including *uncertain*
//   mounts that are neither mounted nor absent (cache/actual-state-of-world.ts).
// - The reconciler runs a pass every 100 ms, or as soon as something changes
//   (addPod, removePod, an operation finishing, a resolved volume): tear down
//   first, then set up, then remount projections (reconciler.ts).
// - Before the first pass the actual state is rebuilt from disk and the mount
//   table (reconstruct.ts), so a restart adopts what is mounted instead of
//   mounting it again, and cleans up after pods deleted meanwhile. Until the
//   API answers the node's pod list, no pass runs: tearing down on a guess
//   could delete a running pod's emptyDir.
//
// Attachable volumes: the manager watches its own Node (an informer on
// `metadata.name=<node>`) for `status.volumesAttached` — the AD controller's
// word that a volume is attached, with its device path — and
// `status.volumesInUse` as stored; a change wakes the reconciler. It does not
// write the Node: getVolumesInUse() says what the kubelet's status updater
// should report there, and onVolumesInUseChange() says when to do it soon.
//
// Waiters subscribe to the actual state; their deadlines are timers, not
// polls. Lifetimes: run(signal) owns both loops and resolves only after every
// operation in flight has settled.

import type { KubeObject } from '../../apimachinery/index.ts';
import type { Disposable, Logger } from '../../base/index.ts';
import { CancelledError, delay, toDisposable, toError } from '../../base/index.ts';
import type { EventRecorder, RestClient } from '../../client/index.ts';
import { Informer, resources } from '../../client/index.ts';
import type { MountUtil, Pod, VolumePluginManager } from '../../volume/index.ts';
import { ActualStateOfWorld } from './cache/actual-state-of-world.ts';
import { DesiredStateOfWorld, podSpecVolumes } from './cache/desired-state-of-world.ts';
import { DesiredStateOfWorldPopulator } from './desired-state-of-world-populator.ts';
import { DEFAULT_INITIAL_BACKOFF_MS, DEFAULT_MAX_BACKOFF_MS, ExponentialBackoff, Notifier, OperationExecutor } from './operation-executor.ts';
import { DEFAULT_WAIT_FOR_ATTACH_TIMEOUT_MS, Reconciler, type NodeVolumes } from './reconciler.ts';
import { reconstruct } from './reconstruct.ts';
import type { MountedVolume, VolumeManager } from './types.ts';
import { VolumeMountTimeoutError, VolumeUnmountTimeoutError } from './types.ts';

export interface VolumeManagerOptions {
  client: RestClient;
  /** This node's name: reconstruction asks the API for the pods assigned to it. */
  nodeName: string;
  /** The kubelet root directory (pods/ and plugins/ live below it). */
  root: string;
  plugins: VolumePluginManager;
  mountUtil: MountUtil;
  logger: Logger;
  /** Events go out as this recorder's component (the kubelet's). */
  recorder: EventRecorder;
  /** Time between reconcile passes when nothing wakes the reconciler (default 100 ms). */
  reconcileIntervalMs?: number;
  /** Projection volumes are set up again at least this often (default 60 s, upstream's sync period). */
  remountPeriodMs?: number;
  /** How often the configMaps/secrets of mounted volumes are checked for changes (default 1 s). */
  sourceCheckIntervalMs?: number;
  /** First retry delay of a failed operation, doubling up to maxBackoffMs (defaults 500 ms, 2 min). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Delay between attempts to list the node's pods for reconstruction (default 1 s). */
  reconstructRetryMs?: number;
  /** Deadline of a plugin's waitForAttach (default 10 min, upstream's). */
  waitForAttachTimeoutMs?: number;
}

/** The part of a Node the volume manager reads. */
interface NodeView extends KubeObject {
  status?: {
    volumesAttached?: { name?: string; devicePath?: string }[] | null;
    volumesInUse?: string[] | null;
  };
}

const NO_NODE_VOLUMES: NodeVolumes = { attached: new Map(), reportedInUse: new Set() };

function nodeVolumesOf(node: NodeView | undefined): NodeVolumes {
  if (node === undefined) return NO_NODE_VOLUMES;
  const attached = new Map<string, string>();
  for (const v of node.status?.volumesAttached ?? []) if (v.name !== undefined && v.name !== '') attached.set(v.name, v.devicePath ?? '');
  return { attached, reportedInUse: new Set(node.status?.volumesInUse ?? []) };
}

/** run() was called on a volume manager that is running or has stopped. */
export class VolumeManagerStateError extends Error {
  override readonly name = 'VolumeManagerStateError';
  readonly state: VolumeManagerState;
  constructor(state: VolumeManagerState) {
    super(`volume manager cannot run: it is ${state}`);
    this.state = state;
  }
}

export type VolumeManagerState = 'new' | 'reconstructing' | 'running' | 'stopped';

const TIMED_OUT = 'timed out waiting for the condition';

function podUidOf(pod: KubeObject): string {
  return pod.metadata.uid ?? '';
}

export function createVolumeManager(options: VolumeManagerOptions): VolumeManager {
  return new VolumeManagerImpl(options);
}

class VolumeManagerImpl implements VolumeManager {
  readonly #o: VolumeManagerOptions;
  readonly #dsw = new DesiredStateOfWorld();
  readonly #asw = new ActualStateOfWorld();
  readonly #reconcilerWake = new Notifier();
  readonly #populatorWake = new Notifier();
  readonly #executor: OperationExecutor;
  readonly #populator: DesiredStateOfWorldPopulator;
  readonly #reconciler: Reconciler;
  readonly #node: Informer<NodeView>;
  #nodeVolumes: NodeVolumes = NO_NODE_VOLUMES;
  readonly #inUseListeners = new Set<() => void>();
  /** getVolumesInUse() and the synced flag as last announced, to tell listeners only of changes. */
  #lastInUse = '';
  #synced = false;
  #state: VolumeManagerState = 'new';

  constructor(o: VolumeManagerOptions) {
    this.#o = o;
    const now = Date.now;
    const backoff = new ExponentialBackoff(o.initialBackoffMs ?? DEFAULT_INITIAL_BACKOFF_MS, o.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS, now);
    const logger = o.logger.child({ component: 'volumemanager' });
    this.#executor = new OperationExecutor({ logger, backoff, onSettled: () => this.#reconcilerWake.notify() });
    this.#populator = new DesiredStateOfWorldPopulator({
      dsw: this.#dsw,
      client: o.client,
      plugins: o.plugins,
      logger,
      recorder: o.recorder,
      backoff,
      onChange: () => {
        this.#reconcilerWake.notify();
        this.#checkVolumesInUse();
      },
      sourceCheckIntervalMs: o.sourceCheckIntervalMs ?? 1000,
      now,
    });
    this.#reconciler = new Reconciler({
      dsw: this.#dsw,
      asw: this.#asw,
      executor: this.#executor,
      plugins: o.plugins,
      mountUtil: o.mountUtil,
      root: o.root,
      logger,
      recorder: o.recorder,
      remountPeriodMs: o.remountPeriodMs ?? 60_000,
      now,
      nodeVolumes: () => this.#nodeVolumes,
      waitForAttachTimeoutMs: o.waitForAttachTimeoutMs ?? DEFAULT_WAIT_FOR_ATTACH_TIMEOUT_MS,
    });
    this.#node = new Informer<NodeView>({ client: o.client, resource: resources.nodes, fieldSelector: `metadata.name=${o.nodeName}`, logger });
    const nodeChanged = (): void => {
      this.#nodeVolumes = nodeVolumesOf(this.#node.list()[0]);
      this.#reconcilerWake.notify();
    };
    this.#node.addEventHandler({ onAdd: nodeChanged, onUpdate: nodeChanged, onDelete: nodeChanged });
    // Not disposed: the manager owns its actual state for its whole life.
    this.#asw.onChange(() => this.#checkVolumesInUse());
  }

  getVolumesInUse(): string[] {
    const names = this.#dsw.uniqueVolumeNames();
    for (const d of this.#asw.allDevices()) names.add(d.uniqueVolumeName);
    for (const v of this.#asw.allVolumes()) {
      if (v.uniqueVolumeName === undefined) continue;
      // A FlexVolume pod volume without a device mount is a mount-only driver's: never attached.
      if (v.uniqueVolumeName.startsWith('flexvolume-') && this.#asw.getDevice(v.uniqueVolumeName) === undefined) continue;
      names.add(v.uniqueVolumeName);
    }
    return [...names].sort();
  }

  reconcilerStatesHasBeenSynced(): boolean {
    return this.#synced;
  }

  onVolumesInUseChange(listener: () => void): Disposable {
    this.#inUseListeners.add(listener);
    return toDisposable(() => this.#inUseListeners.delete(listener));
  }

  #checkVolumesInUse(): void {
    const now = `${this.#synced}|${this.getVolumesInUse().join(',')}`;
    if (now === this.#lastInUse) return;
    this.#lastInUse = now;
    for (const l of [...this.#inUseListeners]) {
      try {
        l();
      } catch (err) {
        this.#o.logger.error({ err: toError(err) }, 'volumesInUse listener threw');
      }
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    if (this.#state !== 'new') throw new VolumeManagerStateError(this.#state);
    this.#state = 'reconstructing';
    const logger = this.#o.logger.child({ component: 'volumemanager' });
    const nodeWatch = this.#node.run(signal).catch((err: unknown) => {
      if (!signal.aborted) logger.error({ err: toError(err) }, 'watching the node failed');
    });
    try {
      for (;;) {
        if (signal.aborted) return;
        try {
          await reconstruct({
            root: this.#o.root,
            nodeName: this.#o.nodeName,
            client: this.#o.client,
            plugins: this.#o.plugins,
            mountUtil: this.#o.mountUtil,
            dsw: this.#dsw,
            asw: this.#asw,
            logger,
            addPod: (pod) => this.addPod(pod),
            populate: (s) => this.#populator.populate(s),
            now: Date.now,
            signal,
          });
          break;
        } catch (err) {
          if (signal.aborted) return;
          logger.warn({ err: toError(err) }, 'reconstructing volumes failed; retrying');
          await delay(this.#o.reconstructRetryMs ?? 1000, signal).catch(() => {});
        }
      }
      this.#state = 'running';
      this.#synced = true;
      this.#checkVolumesInUse();
      await Promise.all([this.#populatorLoop(signal), this.#reconcilerLoop(signal)]);
    } finally {
      await this.#executor.drain();
      await nodeWatch;
      this.#state = 'stopped';
    }
  }

  async #populatorLoop(signal: AbortSignal): Promise<void> {
    const interval = this.#o.reconcileIntervalMs ?? 100;
    while (!signal.aborted) {
      await this.#populator.populate(signal);
      await this.#populatorWake.wait(interval, signal);
    }
  }

  async #reconcilerLoop(signal: AbortSignal): Promise<void> {
    const interval = this.#o.reconcileIntervalMs ?? 100;
    while (!signal.aborted) {
      this.#reconciler.reconcile(signal);
      await this.#reconcilerWake.wait(interval, signal);
    }
  }

  addPod(pod: KubeObject): void {
    const uid = podUidOf(pod);
    if (uid === '') {
      this.#o.logger.warn({ pod: pod.metadata.name }, 'volume manager ignores a pod without a UID');
      return;
    }
    this.#dsw.addPod(uid, pod as Pod);
    this.#populatorWake.notify();
    this.#reconcilerWake.notify();
  }

  removePod(podUid: string): void {
    if (!this.#dsw.hasPod(podUid)) return;
    this.#dsw.deletePod(podUid);
    this.#populator.forgetPod(podUid);
    this.#reconcilerWake.notify();
    this.#checkVolumesInUse();
  }

  mountedVolumes(podUid: string): Map<string, MountedVolume> {
    const out = new Map<string, MountedVolume>();
    for (const v of this.#asw.volumesForPod(podUid)) {
      if (v.state !== 'Mounted') continue;
      out.set(v.outerName, { name: v.outerName, path: v.path, readOnly: v.readOnly, plugin: v.pluginName });
    }
    return out;
  }

  waitForAttachAndMount(pod: KubeObject, timeoutMs: number, signal?: AbortSignal): Promise<Map<string, MountedVolume>> {
    const uid = podUidOf(pod);
    if (!this.#dsw.hasPod(uid)) this.addPod(pod);
    const names = [...podSpecVolumes(pod as Pod).keys()];
    const unmounted = (): string[] => names.filter((n) => this.#asw.getVolume(uid, n)?.state !== 'Mounted').sort();
    return this.#waitUntil(
      () => unmounted().length === 0,
      () => this.mountedVolumes(uid),
      () => {
        const errors = this.#dsw.volumeErrors(uid);
        const failed = [...errors.keys()].filter((n) => this.#asw.getVolume(uid, n)?.state !== 'Mounted').sort();
        const unattached = names.filter((n) => {
          const d = this.#dsw.getVolume(uid, n);
          return d !== undefined && this.#asw.getVolume(uid, n)?.state !== 'Mounted' && this.#reconciler.isUnattached(d);
        }).sort();
        return new VolumeMountTimeoutError(uid, unmounted(), TIMED_OUT, failed, unattached);
      },
      timeoutMs,
      signal,
    );
  }

  waitForUnmount(podUid: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return this.#waitUntil(
      () => this.#asw.volumesForPod(podUid).length === 0,
      () => undefined,
      () => new VolumeUnmountTimeoutError(podUid, this.#asw.volumesForPod(podUid).map((v) => v.outerName).sort(), TIMED_OUT),
      timeoutMs,
      signal,
    );
  }

  /** Resolves with result() once done() holds, re-checked on every actual-state change; rejects with timeout() or CancelledError. */
  #waitUntil<T>(done: () => boolean, result: () => T, timeout: () => Error, timeoutMs: number, signal: AbortSignal | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) {
        reject(new CancelledError());
        return;
      }
      if (done()) {
        resolve(result());
        return;
      }
      let sub: Disposable | undefined;
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        sub?.dispose();
        settle();
      };
      const onAbort = (): void => finish(() => reject(new CancelledError()));
      const timer = setTimeout(() => finish(() => reject(timeout())), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      sub = this.#asw.onChange(() => {
        if (done()) finish(() => resolve(result()));
      });
    });
  }
}

// Pod workers (upstream: pod_workers.go, kubelet.go SyncPod/SyncTerminatingPod,
// kuberuntime_manager.go computePodActions, status/status_manager.go — one
// small file instead of four).
//
// One worker per pod UID, fed by an informer on `spec.nodeName=<node>` and by
// the runtime's container changes. A worker is a loop that runs one sync at a
// time; anything that happens while a sync runs marks the worker dirty and
// causes one more sync afterwards, so updates are never lost and never run
// concurrently for one pod. A sync is level-based — it looks at the pod as
// now cached and the runtime's containers, and does the next thing:
//
//   pod being deleted, or gone → terminate: stop running containers with the
//     grace period (Killing), remove them, drop the pod from the volume
//     manager and wait for its volumes to be unmounted, then — if the pod
//     still exists — DELETE it with grace 0 and a uid precondition. The
//     worker then ends.
//   pod terminal (Succeeded/Failed) → release its volumes; nothing starts.
//   otherwise →
//     1. volumes: addPod + waitForAttachAndMount (2 min; FailedMount and try
//        again). Images are looked at only after this, as upstream does.
//        Until the volumes are ready, the volumeMode of each claim the pod
//        uses is first checked against how its containers use it
//        (volumeMounts need Filesystem, volumeDevices need Block): a
//        mismatch is FailedMount, the pod is not handed to the volume
//        manager and nothing is mounted. Upstream refuses in the DSW
//        populator; the outcome for the pod is the same.
//     2. init containers one at a time, each to successful completion; a
//        failed one is restarted unless restartPolicy is Never (then the pod
//        fails).
//     3. regular containers: start what never ran; restart what exited when
//        the restart policy says so — at once the first time, later after a
//        back-off of 10 s doubling to 5 min (CrashLoopBackOff).
//     4. status: generatePodStatus, written through /status only when it
//        differs from the newest status known (ours or the cache's).
//
// Adoption after a restart needs no code path of its own: the runtime lists
// the containers it started before, a running one is "running" to the sync
// and is left alone. Containers of pods no longer assigned here are torn down
// once the informer has synced.

import { stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { PersistentVolumeClaim } from '../api/core/volume-types.ts';
import { formatTime } from '../apimachinery/index.ts';
import type { Logger } from '../base/index.ts';
import { toError } from '../base/index.ts';
import { ApiError, Informer, objectKey, resourcePath, resources, type EventRecorder, type RestClient } from '../client/index.ts';
import { prepareSubPath, SubPathError, type MountUtil } from '../volume/index.ts';
import { Backoff, goDuration, type BackoffOptions, DEFAULT_BACKOFF } from './backoff.ts';
import {
  claimVolumes,
  ContainerConfigError,
  expand,
  expandCommand,
  makeEnvironment,
  volumeDevicesOf,
  volumeModeErrors,
  volumeUse,
  type VolumeMode,
} from './container-env.ts';
import { generatePodStatus, initContainersDone, restartPolicyOf, sameStatus, type WaitingReason } from './pod-status.ts';
import { ImageNotFoundError, type Runtime, type RuntimeContainer, type RuntimeDevice, type RuntimeMount } from './runtime/types.ts';
import { VolumeMountTimeoutError, type MountedVolume, type VolumeManager } from './volumemanager/types.ts';
import type { Container, Pod, PodStatus } from './types.ts';

export const VOLUME_MOUNT_TIMEOUT_MS = 120_000;
/** Upstream's minimum grace when a pod is torn down without one (minimumGracePeriodInSeconds). */
/** Annotations the kubelet adds to the pods it runs (upstream's ConfigFirstSeenAnnotationKey and ConfigSourceAnnotationKey). */
export const CONFIG_SEEN_ANNOTATION = 'kubernetes.io/config.seen';
export const CONFIG_SOURCE_ANNOTATION = 'kubernetes.io/config.source';

const MINIMUM_GRACE_SECONDS = 2;
const RESYNC_MS = 30_000;
/** How soon a pod refused for a volumeMode mismatch is looked at again (upstream's pod worker back-off). */
const VOLUME_MODE_RETRY_MS = 10_000;

export interface PodWorkersOptions {
  client: RestClient;
  nodeName: string;
  nodeIP: string;
  root: string;
  runtime: Runtime;
  volumeManager: VolumeManager;
  recorder: EventRecorder;
  logger: Logger;
  /** For subPath bind mounts; without one, subPath is refused with an event. */
  mountUtil?: MountUtil;
  /** Container restart back-off (default 10 s → 5 min). */
  restartBackoff?: BackoffOptions;
  /** Image pull back-off (default 10 s → 5 min). */
  imageBackoff?: BackoffOptions;
  /** How long a worker waits for volumes before FailedMount (default 2 min). */
  volumeMountTimeoutMs?: number;
}

/** `name_namespace(uid)`, upstream's format.Pod. */
function formatPod(pod: Pod): string {
  return `${pod.metadata.name ?? ''}_${pod.metadata.namespace ?? ''}(${pod.metadata.uid ?? ''})`;
}

/** The runtime's containers of one pod, by container name, oldest attempt first. */
function containersOf(runtime: Runtime, podUid: string): Map<string, RuntimeContainer[]> {
  const byName = new Map<string, RuntimeContainer[]>();
  for (const c of runtime.listContainers()) {
    if (c.podUid !== podUid) continue;
    const list = byName.get(c.name) ?? [];
    list.push(c);
    byName.set(c.name, list);
  }
  for (const list of byName.values()) list.sort((a, b) => a.restartCount - b.restartCount);
  return byName;
}

function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.code === 404;
}

export class PodWorkers {
  readonly #o: PodWorkersOptions;
  readonly #informer: Informer<Pod>;
  readonly #workers = new Map<string, PodWorker>();
  readonly #restartBackoff: Backoff;
  readonly #imageBackoff: Backoff;
  readonly #running = new Set<Promise<void>>();
  #signal: AbortSignal | undefined;

  constructor(options: PodWorkersOptions) {
    this.#o = options;
    this.#restartBackoff = new Backoff(options.restartBackoff ?? DEFAULT_BACKOFF);
    this.#imageBackoff = new Backoff(options.imageBackoff ?? DEFAULT_BACKOFF);
    this.#informer = new Informer<Pod>({
      client: options.client,
      resource: resources.pods,
      fieldSelector: `spec.nodeName=${options.nodeName}`,
      logger: options.logger,
    });
  }

  get options(): PodWorkersOptions {
    return this.#o;
  }
  get restartBackoff(): Backoff {
    return this.#restartBackoff;
  }
  get imageBackoff(): Backoff {
    return this.#imageBackoff;
  }

  /** The pod as cached now (undefined when it is gone). */
  cachedPod(key: string): Pod | undefined {
    return this.#informer.get(key);
  }

  /** Runs until `signal` aborts; containers keep running when it does (a kubelet restart adopts them). */
  async run(signal: AbortSignal): Promise<void> {
    this.#signal = signal;
    this.#informer.addEventHandler({
      onAdd: (pod) => this.#update(pod),
      onUpdate: (_old, pod) => this.#update(pod),
      onDelete: (pod) => this.#workers.get(pod.metadata.uid ?? '')?.gone(pod),
    });
    const changes = this.#o.runtime.onChange((c) => this.#workers.get(c.podUid)?.wake());
    const informer = this.#informer.run(signal);
    try {
      await this.#informer.waitForSync(signal);
      this.#teardownOrphans();
    } catch (err) {
      if (!signal.aborted) throw err;
    }
    await informer;
    changes.dispose();
    await Promise.all([...this.#running]);
  }

  /** When each pod was first seen, for the `kubernetes.io/config.seen` annotation. */
  readonly #firstSeen = new Map<string, string>();

  /**
   * The pod as the kubelet works with it: with the annotations the kubelet adds to every
   * pod it takes from a config source (`kubernetes.io/config.seen`, `kubernetes.io/config.source`),
   * which the downward API shows. They are not written back to the API.
   */
  #withConfigAnnotations(pod: Pod): Pod {
    const uid = pod.metadata.uid ?? '';
    let seen = this.#firstSeen.get(uid);
    if (seen === undefined) {
      seen = new Date().toISOString().replace(/(\.\d{3})Z$/, '$1000000Z');
      this.#firstSeen.set(uid, seen);
    }
    return {
      ...pod,
      metadata: {
        ...pod.metadata,
        annotations: { ...(pod.metadata.annotations ?? {}), [CONFIG_SEEN_ANNOTATION]: seen, [CONFIG_SOURCE_ANNOTATION]: 'api' },
      },
    };
  }

  #update(apiPod: Pod): void {
    const uid = apiPod.metadata.uid;
    if (uid === undefined || this.#signal === undefined) return;
    const pod = this.#withConfigAnnotations(apiPod);
    let w = this.#workers.get(uid);
    if (w === undefined) {
      this.#o.logger.debug({ pod: objectKey(pod), podUid: uid }, 'pod worker started');
      w = new PodWorker(this, pod);
      this.#workers.set(uid, w);
      const done = w.run(this.#signal).finally(() => {
        this.#workers.delete(uid);
        this.#firstSeen.delete(uid);
        this.#running.delete(done);
      });
      this.#running.add(done);
    } else {
      w.update(pod);
    }
  }

  /** Containers of pods this node no longer runs (deleted while the kubelet was down): one terminating worker each. */
  #teardownOrphans(): void {
    const known = new Set(this.#informer.list().map((p) => p.metadata.uid));
    const orphanUids = new Set(this.#o.runtime.listContainers().map((c) => c.podUid).filter((uid) => !known.has(uid)));
    for (const uid of orphanUids) {
      if (this.#workers.has(uid) || this.#signal === undefined) continue;
      const sample = this.#o.runtime.listContainers().find((c) => c.podUid === uid)!;
      const ghost: Pod = { metadata: { uid, name: sample.name, namespace: '' }, spec: { containers: [], terminationGracePeriodSeconds: MINIMUM_GRACE_SECONDS } };
      const w = new PodWorker(this, ghost);
      w.gone(ghost);
      this.#workers.set(uid, w);
      const done = w.run(this.#signal).finally(() => {
        this.#workers.delete(uid);
        this.#firstSeen.delete(uid);
        this.#running.delete(done);
      });
      this.#running.add(done);
    }
  }
}

class PodWorker {
  readonly #parent: PodWorkers;
  readonly #o: PodWorkersOptions;
  readonly #log: Logger;
  #pod: Pod;
  #gone = false;
  #dirty = true;
  #kick: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #due = 0;
  /** Aborted when the pod starts terminating, so a long volume wait ends at once. */
  #syncAbort = new AbortController();
  #volumesReady = false;
  #volumesReleased = false;
  readonly #waiting = new Map<string, WaitingReason>();
  /** The newest status we wrote, with the resourceVersion the write returned. */
  #written: { rv: string; status: PodStatus } | undefined;

  constructor(parent: PodWorkers, pod: Pod) {
    this.#parent = parent;
    this.#o = parent.options;
    this.#pod = pod;
    this.#log = this.#o.logger.child({ pod: objectKey(pod), podUid: pod.metadata.uid });
  }

  #terminating(): boolean {
    return this.#gone || this.#pod.metadata.deletionTimestamp !== undefined;
  }

  update(pod: Pod): void {
    this.#pod = pod;
    if (this.#terminating()) this.#syncAbort.abort();
    this.wake();
  }

  gone(lastKnown: Pod): void {
    this.#pod = lastKnown;
    this.#gone = true;
    this.#syncAbort.abort();
    this.wake();
  }

  wake(): void {
    this.#dirty = true;
    const kick = this.#kick;
    this.#kick = undefined;
    kick?.();
  }

  /** Wakes the worker after `ms`, unless an earlier wake-up is already set. */
  #wakeAfter(ms: number): void {
    const due = Date.now() + Math.max(1, ms);
    if (this.#timer !== undefined && this.#due <= due) return;
    clearTimeout(this.#timer);
    this.#due = due;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.wake();
    }, due - Date.now());
    this.#timer.unref();
  }

  async run(signal: AbortSignal): Promise<void> {
    const onAbort = (): void => {
      this.#syncAbort.abort();
      this.wake();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    let failures = 0;
    try {
      while (!signal.aborted) {
        if (!this.#dirty) await new Promise<void>((resolve) => (this.#kick = resolve));
        if (signal.aborted) return;
        this.#dirty = false;
        const terminating = this.#terminating();
        try {
          if (terminating) {
            await this.#terminate(signal);
            return;
          }
          if (this.#syncAbort.signal.aborted) this.#syncAbort = new AbortController();
          await this.#sync(this.#syncAbort.signal);
          failures = 0;
        } catch (err) {
          if (signal.aborted) return;
          // A sync cut short because the pod started terminating: the termination runs next (wake set #dirty).
          if (!terminating && this.#terminating()) continue;
          failures++;
          this.#log.warn({ err: toError(err).message, failures }, 'pod sync failed, retrying');
          this.#wakeAfter(Math.min(500 * 2 ** (failures - 1), 30_000));
        }
      }
    } finally {
      clearTimeout(this.#timer);
      signal.removeEventListener('abort', onAbort);
    }
  }

  // ---- sync of a live pod -------------------------------------------------

  async #sync(signal: AbortSignal): Promise<void> {
    const pod = this.#pod;
    const uid = pod.metadata.uid!;
    const { runtime, volumeManager } = this.#o;
    // Every sync decides afresh when it needs the next one.
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#wakeAfter(RESYNC_MS);

    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') {
      // Finished for good: its volumes go, its exited containers stay for logs.
      if (!this.#volumesReleased) {
        volumeManager.removePod(uid);
        this.#volumesReleased = true;
      }
      return;
    }

    // 1. Volumes, before anything about images.
    // The Pending status goes out while the volumes are mounted and the
    // containers start, not before: it is a round trip to the API server
    // that nothing here depends on. Status writes stay in order (#writeStatus
    // queues them); its failure still fails this sync, at step 4.
    const pendingWrite = this.#volumesReady ? undefined : this.#writeStatus(signal);
    pendingWrite?.catch(() => {});
    if (!this.#volumesReady) {
      const refused = await this.#volumeModeRefusal(pod, signal);
      if (refused !== undefined) {
        this.#o.recorder.event(pod, 'Warning', 'FailedMount', `Unable to attach or mount volumes: ${refused}`);
        this.#wakeAfter(VOLUME_MODE_RETRY_MS);
        await pendingWrite;
        return;
      }
    }
    volumeManager.addPod(pod);
    let mounted: Map<string, MountedVolume>;
    try {
      mounted = await volumeManager.waitForAttachAndMount(pod, this.#o.volumeMountTimeoutMs ?? VOLUME_MOUNT_TIMEOUT_MS, signal);
    } catch (err) {
      if (err instanceof VolumeMountTimeoutError) {
        this.#o.recorder.event(pod, 'Warning', 'FailedMount', `Unable to attach or mount volumes: ${err.message}`);
        this.wake();
        await pendingWrite;
        return;
      }
      throw err;
    }
    if (!this.#volumesReady) this.#log.debug('volumes attached and mounted');
    this.#volumesReady = true;

    // 2. Init containers, one at a time.
    const policy = restartPolicyOf(pod);
    let containers = containersOf(runtime, uid);
    if (!initContainersDone(pod, containers)) {
      for (const c of pod.spec.initContainers ?? []) {
        const latest = containers.get(c.name)?.at(-1);
        if (latest === undefined) {
          await this.#start(c, 0, undefined, mounted, signal);
          break;
        }
        if (latest.status.state === 'running') break;
        if (latest.status.exitCode === 0) continue;
        if (policy !== 'Never') await this.#start(c, latest.restartCount + 1, latest, mounted, signal);
        break;
      }
    } else {
      // 3. Regular containers.
      for (const c of pod.spec.containers) {
        const latest = containers.get(c.name)?.at(-1);
        if (latest === undefined) {
          await this.#start(c, 0, undefined, mounted, signal);
          continue;
        }
        if (latest.status.state === 'running') {
          this.#waiting.delete(c.name);
          continue;
        }
        const restart = policy === 'Always' || (policy === 'OnFailure' && latest.status.exitCode !== 0);
        if (!restart) {
          this.#waiting.delete(c.name);
          continue;
        }
        await this.#start(c, latest.restartCount + 1, latest, mounted, signal);
      }
    }
    containers = containersOf(runtime, uid);
    this.#pruneOldAttempts(containers);

    // 4. Status.
    await pendingWrite;
    await this.#writeStatus(signal);
  }

  /** Keeps the latest two attempts of each container (the latest and its lastState). */
  #pruneOldAttempts(containers: Map<string, RuntimeContainer[]>): void {
    for (const list of containers.values()) {
      for (const old of list.slice(0, -2)) {
        if (old.status.state === 'exited') {
          this.#o.runtime.removeContainer(old.id).catch((err: unknown) => this.#log.debug({ err: toError(err).message }, 'removing an old container failed'));
        }
      }
    }
  }

  /** Starts `c` (attempt `restartCount`), unless a back-off or a failure says wait; records why in #waiting. */
  async #start(c: Container, restartCount: number, exited: RuntimeContainer | undefined, mounted: Map<string, MountedVolume>, signal: AbortSignal): Promise<void> {
    const pod = this.#pod;
    const { recorder, runtime } = this.#o;
    const now = Date.now();
    const key = `${pod.metadata.uid}/${c.name}`;
    if (exited !== undefined && exited.status.state === 'exited') {
      const left = this.#parent.restartBackoff.remainingSince(key, Date.parse(exited.status.finishedAt), now);
      if (left > 0) {
        const current = goDuration(this.#parent.restartBackoff.get(key, now));
        this.#waiting.set(c.name, { reason: 'CrashLoopBackOff', message: `back-off ${current} restarting failed container=${c.name} pod=${formatPod(pod)}` });
        recorder.event(pod, 'Warning', 'BackOff', `Back-off restarting failed container ${c.name} in pod ${formatPod(pod)}`);
        this.#wakeAfter(left);
        return;
      }
      this.#parent.restartBackoff.next(key, now);
    }

    if (!this.#ensureImage(c)) return;

    let spec;
    try {
      const env = await makeEnvironment(this.#o.client, pod, c, this.#o.nodeIP);
      const { command, args } = expandCommand(c, env);
      const mounts = await this.#mounts(c, env, mounted, signal);
      const devices = await this.#devices(c, mounted);
      spec = {
        podUid: pod.metadata.uid!,
        podName: pod.metadata.name ?? '',
        podNamespace: pod.metadata.namespace ?? '',
        hostname: pod.spec.hostname ?? pod.metadata.name ?? '',
        name: c.name,
        image: c.image,
        command,
        args,
        env,
        ...(c.workingDir === undefined ? {} : { workingDir: c.workingDir }),
        mounts,
        ...(devices.length > 0 ? { devices } : {}),
        restartCount,
      };
    } catch (err) {
      if (!(err instanceof ContainerConfigError || err instanceof SubPathError)) throw err;
      this.#waiting.set(c.name, { reason: 'CreateContainerConfigError', message: err.message });
      recorder.event(pod, 'Warning', 'Failed', `Error: ${err.message}`);
      this.#wakeAfter(this.#parent.imageBackoff.get(key) || 10_000);
      return;
    }

    try {
      this.#log.debug({ container: c.name, restartCount }, 'starting container');
      const started = await runtime.startContainer(spec, signal);
      recorder.event(pod, 'Normal', 'Created', `Created container: ${c.name}`);
      recorder.event(pod, 'Normal', 'Started', `Started container ${c.name}`);
      this.#waiting.delete(c.name);
      this.#log.debug({ container: c.name, id: started.id, restartCount }, 'container started');
    } catch (err) {
      if (signal.aborted) throw err;
      if (err instanceof ImageNotFoundError) {
        this.#pullFailed(c, err);
        return;
      }
      const message = toError(err).message;
      this.#waiting.set(c.name, { reason: 'RunContainerError', message });
      recorder.event(pod, 'Warning', 'Failed', `Error: ${message}`);
      // A start that fails counts as a crash for the back-off.
      if (exited === undefined) this.#parent.restartBackoff.next(key, now);
      this.#wakeAfter(this.#parent.restartBackoff.get(key) || 10_000);
    }
  }

  /** Whether `c`'s image is in the local store; otherwise sets ErrImagePull / ImagePullBackOff as upstream's image manager does. */
  #ensureImage(c: Container): boolean {
    const pod = this.#pod;
    const { recorder, runtime } = this.#o;
    if (runtime.images.has(c.image)) {
      recorder.event(pod, 'Normal', 'Pulled', `Container image "${c.image}" already present on machine`);
      return true;
    }
    if (c.imagePullPolicy === 'Never') {
      const message = `Container image "${c.image}" is not present with pull policy of Never`;
      this.#waiting.set(c.name, { reason: 'ErrImageNeverPull', message });
      recorder.event(pod, 'Warning', 'ErrImageNeverPull', message);
      recorder.event(pod, 'Warning', 'Failed', 'Error: ErrImageNeverPull');
      this.#wakeAfter(DEFAULT_BACKOFF.initialMs);
      return false;
    }
    const key = `${pod.metadata.uid}_${c.image}`;
    const left = this.#parent.imageBackoff.remainingSinceUpdate(key);
    if (left > 0) {
      this.#waiting.set(c.name, { reason: 'ImagePullBackOff', message: `Back-off pulling image "${c.image}"` });
      recorder.event(pod, 'Normal', 'BackOff', `Back-off pulling image "${c.image}"`);
      recorder.event(pod, 'Warning', 'Failed', 'Error: ImagePullBackOff');
      this.#wakeAfter(left);
      return false;
    }
    this.#pullFailed(c, new ImageNotFoundError(c.image));
    return false;
  }

  /** A pull attempt failed (there is no registry to pull from: the image is not in the local store). */
  #pullFailed(c: Container, err: ImageNotFoundError): void {
    const pod = this.#pod;
    const key = `${pod.metadata.uid}_${c.image}`;
    const message = `failed to pull image "${c.image}": ${err.message} and volplane does not pull from registries`;
    this.#o.recorder.event(pod, 'Warning', 'Failed', `Failed to pull image "${c.image}": ${message}`);
    this.#o.recorder.event(pod, 'Warning', 'Failed', 'Error: ErrImagePull');
    this.#parent.imageBackoff.next(key);
    this.#waiting.set(c.name, { reason: 'ErrImagePull', message });
    this.#wakeAfter(this.#parent.imageBackoff.remainingSinceUpdate(key));
  }

  /** One RuntimeMount per volumeMount; subPaths prepared through the volume layer's safe helper. */
  async #mounts(c: Container, env: readonly { name: string; value: string }[], mounted: Map<string, MountedVolume>, signal: AbortSignal): Promise<RuntimeMount[]> {
    const pod = this.#pod;
    const vars = new Map(env.map((e) => [e.name, e.value]));
    const out: RuntimeMount[] = [];
    const mountsOf = c.volumeMounts ?? [];
    for (let i = 0; i < mountsOf.length; i++) {
      const vm = mountsOf[i];
      const volume = mounted.get(vm.name);
      if (volume === undefined) throw new ContainerConfigError(c.name, `cannot find volume "${vm.name}" to mount into container "${c.name}"`);
      let hostPath = volume.path;
      let subPath = vm.subPath ?? '';
      if (vm.subPathExpr !== undefined && vm.subPathExpr !== '') subPath = expand(vm.subPathExpr, (n) => vars.get(n));
      if (subPath !== '') {
        const mountUtil = this.#o.mountUtil;
        if (mountUtil === undefined) throw new ContainerConfigError(c.name, `subPath ${JSON.stringify(subPath)} is not supported on this node (no mount utility)`);
        try {
          hostPath = await prepareSubPath(
            mountUtil,
            {
              volumePath: volume.path,
              subPath,
              podDir: join(this.#o.root, 'pods', pod.metadata.uid!),
              volumeName: vm.name,
              containerName: c.name,
              volumeMountIndex: i,
            },
            signal,
          );
        } catch (err) {
          if (!(err instanceof SubPathError)) throw err;
          // As the kubelet: the detail names host paths, so it goes to the log only.
          this.#log.warn({ err: err.message, volumeMount: vm.name, container: c.name }, 'subPath refused');
          throw new ContainerConfigError(c.name, `failed to prepare subPath for volumeMount "${vm.name}" of container "${c.name}"`);
        }
      }
      out.push({ hostPath, containerPath: vm.mountPath, readOnly: vm.readOnly === true || volume.readOnly });
    }
    return out;
  }

  /**
   * Why the pod's volumes must not be set up, in the words of upstream's
   * WaitForAttachAndMount error, or undefined when every claim's volumeMode
   * fits how the containers use it. Reads the claims the pod's containers
   * use (one GET each); a claim that cannot be read is left to the volume
   * manager, which reports it.
   */
  async #volumeModeRefusal(pod: Pod, signal: AbortSignal): Promise<string | undefined> {
    const { claims, ephemeral } = claimVolumes(pod);
    const modes = new Map<string, VolumeMode>(ephemeral);
    await Promise.all(
      [...claims].map(async ([volume, claimName]) => {
        try {
          const claim = await this.#o.client.get<PersistentVolumeClaim>(resourcePath(resources.persistentVolumeClaims, pod.metadata.namespace, claimName), { signal });
          modes.set(volume, claim.spec.volumeMode === 'Block' ? 'Block' : 'Filesystem');
        } catch (err) {
          if (signal.aborted) throw err;
          this.#log.debug({ err: toError(err).message, claim: claimName }, 'cannot read the claim to check its volumeMode');
        }
      }),
    );
    // Sources other than claims are filesystems.
    const errors = volumeModeErrors(pod, (name) => (claims.has(name) ? modes.get(name) : (modes.get(name) ?? 'Filesystem')));
    if (errors.size === 0) return undefined;
    const { mounted, mapped } = volumeUse(pod);
    const used = new Set([...mounted, ...mapped]);
    const failed = [...errors.keys()].sort();
    return `unmounted volumes=[${[...used].sort().join(' ')}], unattached volumes=[], failed to process volumes=[${failed.join(' ')}]: ${failed.map((n) => errors.get(n)).join('; ')}`;
  }

  /**
   * One RuntimeDevice per volumeDevice (upstream makeBlockVolumes): the
   * volume's published path, which for a block volume is a device node.
   * Anything else is a volume that was never mapped as a block device.
   */
  async #devices(c: Container, mounted: Map<string, MountedVolume>): Promise<RuntimeDevice[]> {
    const out: RuntimeDevice[] = [];
    for (const d of volumeDevicesOf(c)) {
      if (!isAbsolute(d.devicePath)) throw new ContainerConfigError(c.name, `error DevicePath \`${d.devicePath}\` must be an absolute path`);
      const volume = mounted.get(d.name);
      const isBlock = volume !== undefined && (await stat(volume.path).then((st) => st.isBlockDevice(), () => false));
      if (volume === undefined || !isBlock) {
        this.#log.warn({ container: c.name, device: d, path: volume?.path }, 'volumeDevice is not a mapped block volume');
        throw new ContainerConfigError(c.name, `cannot find volume "${d.name}" to pass into container "${c.name}"`);
      }
      out.push({ hostPath: volume.path, containerPath: d.devicePath, readOnly: volume.readOnly });
    }
    return out;
  }

  /** The status writes of this pod, one after another: each starts from what the one before it wrote. */
  #statusWrites: Promise<void> = Promise.resolve();

  #writeStatus(signal: AbortSignal): Promise<void> {
    const write = this.#statusWrites.then(() => this.#writeStatusNow(signal));
    this.#statusWrites = write.catch(() => {});
    return write;
  }

  async #writeStatusNow(signal: AbortSignal): Promise<void> {
    const cached = this.#parent.cachedPod(objectKey(this.#pod));
    if (cached === undefined || cached.metadata.uid !== this.#pod.metadata.uid) return;
    // The newest status known: the cache's, unless our own last write is newer than it.
    let base = cached;
    if (this.#written !== undefined && BigInt(this.#written.rv || '0') > BigInt(cached.metadata.resourceVersion || '0')) {
      base = { ...cached, status: this.#written.status };
    }
    const status = generatePodStatus({
      pod: base,
      containers: containersOf(this.#o.runtime, this.#pod.metadata.uid!),
      waiting: this.#waiting,
      volumesReady: this.#volumesReady,
      hostIP: this.#o.nodeIP,
      now: new Date(),
    });
    if (sameStatus(status, base.status)) return;
    const path = resourcePath(resources.pods, this.#pod.metadata.namespace, this.#pod.metadata.name, 'status');
    try {
      const written = await this.#o.client.request<Pod>('PATCH', path, {
        body: { status },
        contentType: 'application/merge-patch+json',
        signal,
      });
      this.#written = { rv: written.metadata.resourceVersion ?? '0', status: written.status ?? status };
      this.#log.debug({ phase: status.phase }, 'status written');
      if (status.phase !== base.status?.phase) this.#log.info({ phase: status.phase }, 'pod phase changed');
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }

  // ---- termination --------------------------------------------------------

  async #terminate(signal: AbortSignal): Promise<void> {
    const pod = this.#pod;
    const uid = pod.metadata.uid!;
    const { runtime, volumeManager, recorder, client } = this.#o;
    const grace = Math.max(
      this.#gone && pod.metadata.deletionGracePeriodSeconds === undefined ? MINIMUM_GRACE_SECONDS : 0,
      pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30,
    );
    const containers = runtime.listContainers().filter((c) => c.podUid === uid);
    await Promise.all(
      containers
        .filter((c) => c.status.state === 'running')
        .map((c) => {
          if (!this.#gone) recorder.event(pod, 'Normal', 'Killing', `Stopping container ${c.name}`);
          return runtime.stopContainer(c.id, grace);
        }),
    );
    if (!this.#gone) await this.#writeStatus(signal).catch((err: unknown) => this.#log.debug({ err: toError(err).message }, 'final status write failed'));
    for (const c of containers) {
      await runtime.removeContainer(c.id).catch((err: unknown) => this.#log.warn({ err: toError(err).message, container: c.name }, 'removing a container failed'));
    }
    volumeManager.removePod(uid);
    await volumeManager.waitForUnmount(uid, VOLUME_MOUNT_TIMEOUT_MS, signal);
    if (this.#gone || signal.aborted) return;
    try {
      await client.delete(resourcePath(resources.pods, pod.metadata.namespace, pod.metadata.name), {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        gracePeriodSeconds: 0,
        preconditions: { uid },
      });
      this.#log.info({ deletedAt: formatTime(new Date()) }, 'pod deleted after its containers stopped');
    } catch (err) {
      // Gone already, or a new pod of the same name: nothing of ours left to delete.
      if (isNotFound(err) || (err instanceof ApiError && err.code === 409)) return;
      throw err;
    }
  }
}

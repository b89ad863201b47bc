// Stateful in-memory stand-ins for the container runtime and the volume
// manager, for the kubelet's own unit tests only (the end-to-end test uses the
// real ones). They keep the contracts' promises — a started container is
// running until it exits or is stopped, listContainers survives a kubelet
// restart, volumes are "mounted" only after addPod — and let a test steer
// exits and mounts.

import type { KubeObject } from '../apimachinery/index.ts';
import { waitFor } from '../base/index.ts';
import {
  ContainerNotFoundError,
  ImageNotFoundError,
  type ExecStreams,
  type ImageStore,
  type Runtime,
  type RuntimeContainer,
  type RuntimeContainerSpec,
} from './runtime/types.ts';
import { VolumeMountTimeoutError, type MountedVolume, type VolumeManager } from './volumemanager/types.ts';

/**
 * A container's scripted behaviour, from its command: `['exit', 'N']` exits
 * with N at once, `['exit-after', 'MS', 'N']` after MS ms, `['ignore-term']`
 * runs until SIGKILL (stop waits its grace period); anything else runs until
 * stopped, and SIGTERM ends it at once.
 */
export class FakeRuntime implements Runtime {
  readonly images: ImageStore;
  readonly started: RuntimeContainerSpec[] = [];
  readonly stopped: { id: string; graceSeconds: number }[] = [];
  readonly #containers = new Map<string, RuntimeContainer>();
  readonly #ignoreTerm = new Set<string>();
  readonly #listeners = new Set<(c: RuntimeContainer) => void>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #next = 1;

  constructor(images: readonly string[] = ['busybox']) {
    const known = new Set(images.map((i) => i.replace(/:latest$/, '')));
    this.images = {
      has: (image) => known.has(image.replace(/:latest$/, '')),
      rootfs: (image) => {
        if (!known.has(image.replace(/:latest$/, ''))) throw new ImageNotFoundError(image);
        return `/fake/images/${image}`;
      },
      import: async (name) => {
        known.add(name);
      },
      list: () => [...known],
    };
  }

  async startContainer(spec: RuntimeContainerSpec): Promise<RuntimeContainer> {
    if (!this.images.has(spec.image)) throw new ImageNotFoundError(spec.image);
    const id = `fake${String(this.#next++).padStart(4, '0')}`;
    const c: RuntimeContainer = {
      id,
      podUid: spec.podUid,
      name: spec.name,
      image: spec.image,
      restartCount: spec.restartCount,
      status: { state: 'running', pid: 10_000 + this.#next, startedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z') },
    };
    this.#containers.set(id, c);
    this.started.push(structuredClone(spec));
    const argv = [...spec.command, ...spec.args];
    if (argv[0] === 'exit') this.#later(1, () => this.exit(id, Number(argv[1])));
    else if (argv[0] === 'exit-after') this.#later(Number(argv[1]), () => this.exit(id, Number(argv[2])));
    else if (argv[0] === 'ignore-term') this.#ignoreTerm.add(id);
    return structuredClone(c);
  }

  #later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  /** Makes a running container exit with `exitCode` (the test's "the process ended"). */
  exit(id: string, exitCode: number, signal?: string): void {
    const c = this.#containers.get(id);
    if (c === undefined || c.status.state !== 'running') return;
    c.status = {
      state: 'exited',
      exitCode,
      ...(signal === undefined ? {} : { signal }),
      startedAt: c.status.startedAt,
      finishedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      reason: exitCode === 0 ? 'Completed' : 'Error',
    };
    for (const l of [...this.#listeners]) l(structuredClone(c));
  }

  async stopContainer(id: string, graceSeconds: number): Promise<void> {
    const c = this.#containers.get(id);
    if (c === undefined) throw new ContainerNotFoundError(id);
    if (c.status.state !== 'running') return;
    this.stopped.push({ id, graceSeconds });
    if (this.#ignoreTerm.has(id)) await new Promise((r) => setTimeout(r, graceSeconds * 1000));
    this.exit(id, this.#ignoreTerm.has(id) ? 137 : 143, this.#ignoreTerm.has(id) ? 'SIGKILL' : 'SIGTERM');
  }

  async removeContainer(id: string): Promise<void> {
    const c = this.#containers.get(id);
    if (c?.status.state === 'running') throw new Error(`container ${id} is running`);
    this.#containers.delete(id);
  }

  listContainers(): RuntimeContainer[] {
    return [...this.#containers.values()].map((c) => structuredClone(c));
  }

  onChange(listener: (c: RuntimeContainer) => void): { dispose(): void } {
    this.#listeners.add(listener);
    return { dispose: () => this.#listeners.delete(listener) };
  }

  async exec(_id: string, _command: string[], _streams: ExecStreams): Promise<number> {
    return 0;
  }

  logPath(podUid: string, containerName: string, restartCount: number): string {
    return `/fake/pods/${podUid}/${containerName}/${restartCount}.log`;
  }

  async close(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }
}

/**
 * Mounts every volume of an added pod at once, at
 * `<root>/pods/<uid>/volumes/fake/<name>`, except those named in `blocked`
 * (never mounted: waitForAttachAndMount times out) or `slow` (mounted after
 * `slowMs`). removePod unmounts at once.
 */
export class FakeVolumeManager implements VolumeManager {
  readonly blocked = new Set<string>();
  readonly slow = new Set<string>();
  slowMs = 300;
  readonly added: string[] = [];
  readonly removed: string[] = [];
  readonly #root: string;
  readonly #mounted = new Map<string, Map<string, MountedVolume>>();
  readonly #desired = new Map<string, KubeObject>();
  readonly #addedAt = new Map<string, number>();
  running = false;

  constructor(root = '/fake-root') {
    this.#root = root;
  }

  async run(signal: AbortSignal): Promise<void> {
    this.running = true;
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    this.running = false;
  }

  addPod(pod: KubeObject): void {
    const uid = pod.metadata.uid ?? '';
    if (!this.#desired.has(uid)) {
      this.added.push(uid);
      this.#addedAt.set(uid, Date.now());
    }
    this.#desired.set(uid, pod);
  }

  removePod(podUid: string): void {
    this.removed.push(podUid);
    this.#desired.delete(podUid);
    this.#mounted.delete(podUid);
  }

  #reconcile(uid: string): void {
    const pod = this.#desired.get(uid);
    if (pod === undefined) return;
    const volumes = ((pod.spec as { volumes?: { name: string }[] } | undefined)?.volumes ?? []).map((v) => v.name);
    const m = this.#mounted.get(uid) ?? new Map<string, MountedVolume>();
    for (const name of volumes) {
      if (this.blocked.has(name) || m.has(name)) continue;
      if (this.slow.has(name) && Date.now() - (this.#addedAt.get(uid) ?? 0) < this.slowMs) continue;
      m.set(name, { name, path: `${this.#root}/pods/${uid}/volumes/fake/${name}`, readOnly: false, plugin: 'kubernetes.io/fake' });
    }
    this.#mounted.set(uid, m);
  }

  async waitForAttachAndMount(pod: KubeObject, timeoutMs: number, signal?: AbortSignal): Promise<Map<string, MountedVolume>> {
    const uid = pod.metadata.uid ?? '';
    const volumes = ((pod.spec as { volumes?: { name: string }[] } | undefined)?.volumes ?? []).map((v) => v.name);
    try {
      return await waitFor(
        'volumes',
        () => {
          this.#reconcile(uid);
          const m = this.#mounted.get(uid);
          return m !== undefined && volumes.every((v) => m.has(v)) ? new Map(m) : undefined;
        },
        { timeoutMs, intervalMs: 10, ...(signal === undefined ? {} : { signal }) },
      );
    } catch (err) {
      if (signal?.aborted) throw err;
      const m = this.#mounted.get(uid) ?? new Map();
      throw new VolumeMountTimeoutError(uid, volumes.filter((v) => !m.has(v)).sort(), 'timed out waiting for the condition');
    }
  }

  async waitForUnmount(podUid: string): Promise<void> {
    this.#mounted.delete(podUid);
  }

  mountedVolumes(podUid: string): Map<string, MountedVolume> {
    return new Map(this.#mounted.get(podUid) ?? []);
  }
}

// The container runtime contract the kubelet's pod workers use. A container
// is a real process in its own mount and PID namespaces with a root
// filesystem from the local image store; volumes are bind-mounted at their
// mount paths, and raw block volumes (volumeDevices) at their device paths,
// before the process starts.

import type { Writable, Readable } from 'node:stream';

export interface RuntimeMount {
  /** What to bind-mount: a volume's host path (or a prepared subPath). */
  hostPath: string;
  /** Where it appears inside the container. */
  containerPath: string;
  readOnly: boolean;
}

/**
 * A block device the container gets at `containerPath` (a pod's
 * volumeDevices entry; upstream's DeviceInfo). The runtime creates an empty
 * file there and bind-mounts `hostPath` onto it: a bind mount of a device
 * node is a usable device node, with the same major:minor.
 */
export interface RuntimeDevice {
  /** A block device node on the host: the volume's published path (itself a bind mount of e.g. /dev/loopN). */
  hostPath: string;
  /** Absolute path inside the container, e.g. `/dev/xvda`. */
  containerPath: string;
  /**
   * Bind-mounted read-only. This does not stop writes to the device itself:
   * the kernel checks a mount's read-only flag for files, not for I/O to a
   * device node, and without a device cgroup nothing else enforces it.
   */
  readOnly: boolean;
}

export interface RuntimeContainerSpec {
  /** Pod UID; containers of one pod share a pod directory. */
  podUid: string;
  podName: string;
  podNamespace: string;
  /** Hostname inside the container (the pod name, or spec.hostname). */
  hostname: string;
  name: string;
  image: string;
  command: string[];
  args: string[];
  env: { name: string; value: string }[];
  workingDir?: string;
  mounts: RuntimeMount[];
  /** Block devices (volumeDevices); optional so that older callers and fakes still fit. */
  devices?: RuntimeDevice[];
  /** Which attempt this is (0 for the first start); selects the log file. */
  restartCount: number;
}

export type ContainerState =
  | { state: 'running'; pid: number; startedAt: string }
  | {
      state: 'exited';
      exitCode: number;
      signal?: string;
      startedAt: string;
      finishedAt: string;
      reason: 'Completed' | 'Error' | 'OOMKilled' | 'ContainerCannotRun';
      /** Why, when the runtime knows more than the exit code (e.g. the mount that failed). */
      message?: string;
    };

export interface RuntimeContainer {
  /** Stable id, unique on this node (also written to the pod directory for adoption). */
  id: string;
  podUid: string;
  name: string;
  image: string;
  restartCount: number;
  status: ContainerState;
}

export interface ExecStreams {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  tty: boolean;
}

export class ImageNotFoundError extends Error {
  override readonly name = 'ImageNotFoundError';
  readonly image: string;
  constructor(image: string) {
    super(`image "${image}" not found in the local image store`);
    this.image = image;
  }
}

export class ContainerNotFoundError extends Error {
  override readonly name = 'ContainerNotFoundError';
  readonly id: string;
  constructor(id: string) {
    super(`container ${id} not found`);
    this.id = id;
  }
}

export interface ImageStore {
  /** True when `image` (e.g. `busybox`, `busybox:latest`, `docker.io/library/busybox:1.36`) resolves locally. */
  has(image: string): boolean;
  /** The root filesystem directory of `image`; throws ImageNotFoundError. */
  rootfs(image: string): string;
  /** Adds an image from a directory or a tar(.gz) of a root filesystem. */
  import(name: string, source: string): Promise<void>;
  list(): string[];
}

export interface Runtime {
  readonly images: ImageStore;
  /** Starts a container and returns once its process runs. Throws ImageNotFoundError before touching anything. */
  startContainer(spec: RuntimeContainerSpec, signal?: AbortSignal): Promise<RuntimeContainer>;
  /** SIGTERM, then SIGKILL after `graceSeconds`; resolves when the process is gone. No-op for an exited container. */
  stopContainer(id: string, graceSeconds: number): Promise<void>;
  /** Forgets an exited container and removes its private state (not its logs). */
  removeContainer(id: string): Promise<void>;
  /** Every container this runtime knows, including ones started before a restart of the kubelet (adopted). */
  listContainers(): RuntimeContainer[];
  /** Calls `listener` whenever a container's state changes (e.g. it exits). */
  onChange(listener: (c: RuntimeContainer) => void): { dispose(): void };
  /** Runs `command` inside a running container's namespaces; resolves with its exit code. */
  exec(id: string, command: string[], streams: ExecStreams, signal?: AbortSignal): Promise<number>;
  /** The log file of a container attempt: `<root>/pods/<uid>/containers/<name>/<restartCount>.log`-like. */
  logPath(podUid: string, containerName: string, restartCount: number): string;
  close(): Promise<void>;
}

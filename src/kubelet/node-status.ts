// Node registration and status (upstream: pkg/kubelet/kubelet_node_status.go
// and nodestatus/setters.go, shortened).
//
// The kubelet registers its Node once with the status filled in, then every
// nodeStatusUpdateFrequency (10 s) recomputes the status and compares it with
// the node *as stored* (not with what it last sent): only a difference — or
// nodeStatusReportFrequency (5 min) without a write — costs a PATCH of
// /status. Reading the stored node is what brings a node back after the node
// lifecycle controller marked it Unknown: the stored Ready differs from ours.
// Liveness itself is the Lease's job (node-lease.ts), so heartbeat times alone
// never trigger a write.
//
// `status.volumesInUse` (the unique names of the attachable / device-mounted
// volumes this node uses, from the volume manager) rides along: a change of
// it is a difference like any other, and requestSync() runs a check at once
// instead of at the next tick, because the volume manager waits for the
// stored list before it mounts an attached volume (and the AD controller
// waits for a name to leave it before it detaches). While the volume manager
// has not rebuilt its state after a start, the field is left as stored.

import type { KubeObject } from '../apimachinery/index.ts';
import { canonicalQuantity, formatTime } from '../apimachinery/index.ts';
import type { Logger } from '../base/index.ts';
import { ApiError, resourcePath, resources, type RestClient } from '../client/index.ts';
import type { MachineInfo } from './machine-info.ts';
import type { VolumeManager } from './volumemanager/types.ts';

export const KUBELET_VERSION = 'v1.32.0-volplane';
export const CONTAINER_RUNTIME_VERSION = 'volplane://0.1.0';
export const DEFAULT_KUBELET_PORT = 10250;
export const MAX_PODS = 110;
/** Upstream's default hard eviction thresholds, subtracted from capacity to give allocatable. */
const EVICTION_MEMORY_BYTES = 100 * 1024 * 1024;
const EVICTION_NODEFS_FRACTION = 0.1;

export interface NodeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
}

export interface NodeStatus {
  capacity: Record<string, string>;
  allocatable: Record<string, string>;
  conditions: NodeCondition[];
  addresses: { type: string; address: string }[];
  daemonEndpoints: { kubeletEndpoint: { Port: number } };
  nodeInfo: Record<string, string>;
  [field: string]: unknown;
}

export interface Node extends KubeObject {
  spec?: Record<string, unknown>;
  status?: Partial<NodeStatus>;
}

/** The labels a kubelet puts on its node (upstream's initialNode). */
export function nodeLabels(nodeName: string, info: MachineInfo): Record<string, string> {
  return {
    'beta.kubernetes.io/arch': info.architecture,
    'beta.kubernetes.io/os': info.operatingSystem,
    'kubernetes.io/arch': info.architecture,
    'kubernetes.io/hostname': nodeName,
    'kubernetes.io/os': info.operatingSystem,
  };
}

const KI = 1024;

/** The conditions a healthy kubelet reports, in upstream's order, without times. */
function healthyConditions(): NodeCondition[] {
  return [
    { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' },
    { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' },
    { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available' },
    { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' },
  ];
}

/**
 * The status this kubelet wants its node to have. Condition times are
 * carried over from `old` when the condition's status did not change (a
 * transition gets `now`); every heartbeat is `now`.
 */
export function desiredNodeStatus(info: MachineInfo, port: number, old: Partial<NodeStatus> | undefined, now: Date): NodeStatus {
  const ts = formatTime(now);
  const conditions = healthyConditions().map((c) => {
    const before = old?.conditions?.find((o) => o.type === c.type);
    const sameStatus = before !== undefined && before.status === c.status && before.lastTransitionTime !== undefined;
    return { ...c, lastHeartbeatTime: ts, lastTransitionTime: sameStatus ? before.lastTransitionTime : ts };
  });
  const memoryKi = Math.floor(info.memoryBytes / KI);
  const storageKi = Math.floor(info.ephemeralStorageBytes / KI);
  const capacity: Record<string, string> = {
    cpu: String(info.cpus),
    'ephemeral-storage': `${storageKi}Ki`,
    memory: `${memoryKi}Ki`,
    pods: String(MAX_PODS),
  };
  const allocatable: Record<string, string> = {
    cpu: String(info.cpus),
    'ephemeral-storage': String(Math.floor(info.ephemeralStorageBytes * (1 - EVICTION_NODEFS_FRACTION))),
    memory: `${Math.max(0, memoryKi - EVICTION_MEMORY_BYTES / KI)}Ki`,
    pods: String(MAX_PODS),
  };
  return {
    capacity,
    allocatable,
    conditions,
    addresses: [
      { type: 'InternalIP', address: info.internalIP },
      { type: 'Hostname', address: info.hostname },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: port } },
    nodeInfo: {
      machineID: info.machineID,
      systemUUID: info.systemUUID,
      bootID: info.bootID,
      kernelVersion: info.kernelVersion,
      osImage: info.osImage,
      containerRuntimeVersion: CONTAINER_RUNTIME_VERSION,
      kubeletVersion: KUBELET_VERSION,
      kubeProxyVersion: '',
      operatingSystem: info.operatingSystem,
      architecture: info.architecture,
    },
  };
}

/** The part of a status that matters for "changed?": everything but heartbeats. */
function comparable(status: Partial<NodeStatus> | undefined): unknown {
  if (status === undefined) return undefined;
  // The server stores quantities canonically (16384Ki → 16Mi): compare them the same way.
  const normQuantities = (m: Record<string, string> | undefined): Record<string, string> | undefined =>
    m === undefined ? undefined : Object.fromEntries(Object.entries(m).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, canonicalOrSelf(v)]));
  return {
    capacity: normQuantities(status.capacity),
    allocatable: normQuantities(status.allocatable),
    conditions: status.conditions?.map((c) => [c.type, c.status, c.reason, c.message, c.lastTransitionTime]),
    addresses: status.addresses,
    daemonEndpoints: status.daemonEndpoints,
    nodeInfo: status.nodeInfo,
  };
}

function canonicalOrSelf(v: string): string {
  try {
    return canonicalQuantity(v);
  } catch {
    return v;
  }
}

/** A string list field as a sorted list ([] for absent or null). */
function listField(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').sort() : [];
}

/**
 * Whether the stored status differs from the wanted one in anything but
 * heartbeat times. `volumesInUse` counts only when `wanted` has the field
 * (null meaning "none"); absent means "not ours to say yet".
 */
export function nodeStatusChanged(stored: Partial<NodeStatus> | undefined, wanted: NodeStatus): boolean {
  if (JSON.stringify(comparable(stored)) !== JSON.stringify(comparable(wanted))) return true;
  if (!('volumesInUse' in wanted)) return false;
  return JSON.stringify(listField(stored?.volumesInUse)) !== JSON.stringify(listField(wanted.volumesInUse));
}

/**
 * The `volumesInUse` option for a volume manager: its list once it has
 * rebuilt its state, undefined before (upstream's VolumesInUse setter with
 * its synced check). undefined for a volume manager without the methods.
 */
export function volumesInUseOf(vm: Pick<VolumeManager, 'getVolumesInUse' | 'reconcilerStatesHasBeenSynced'>): (() => string[] | undefined) | undefined {
  if (vm.getVolumesInUse === undefined) return undefined;
  return () => (vm.reconcilerStatesHasBeenSynced?.() === false ? undefined : vm.getVolumesInUse?.());
}

export interface NodeStatusManagerOptions {
  client: RestClient;
  nodeName: string;
  info: MachineInfo;
  port: number;
  logger: Logger;
  /** Default 10 s (upstream nodeStatusUpdateFrequency). */
  updateFrequencyMs?: number;
  /** Default 5 min (upstream nodeStatusReportFrequency). */
  reportFrequencyMs?: number;
  /**
   * `status.volumesInUse`, sorted; undefined while it is not known (the
   * volume manager has not rebuilt its state yet), which leaves the stored
   * field alone. Unset: the field is never written.
   */
  volumesInUse?: () => string[] | undefined;
}

/** Registers the node, then keeps its status current until `signal` aborts. */
export class NodeStatusManager {
  readonly #o: NodeStatusManagerOptions;
  readonly #path: string;
  #lastReport = 0;
  /** A check was asked for (requestSync) and not started yet. */
  #syncRequested = false;
  #wake: (() => void) | undefined;
  /** The registered node's uid (for the Lease's owner reference). */
  uid: string | undefined;

  constructor(options: NodeStatusManagerOptions) {
    this.#o = options;
    this.#path = resourcePath(resources.nodes, undefined, options.nodeName);
  }

  /**
   * Creates the Node, or — when it exists (a restart, or someone created it
   * first) — makes sure it carries our labels; the status follows at once.
   * Throws what the API answers other than AlreadyExists.
   */
  async register(): Promise<Node> {
    const { client, nodeName, info } = this.#o;
    const labels = nodeLabels(nodeName, info);
    const status = desiredNodeStatus(info, this.#o.port, undefined, new Date());
    try {
      const created = await client.create<Node>(resourcePath(resources.nodes), {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: nodeName, labels },
        spec: {},
        status,
      });
      this.#lastReport = Date.now();
      this.uid = created.metadata.uid;
      this.#o.logger.info({ node: nodeName }, 'node registered');
      return created;
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 409)) throw err;
    }
    let existing = await client.get<Node>(this.#path);
    const missing = Object.entries(labels).filter(([k, v]) => existing.metadata.labels?.[k] !== v);
    if (missing.length > 0) {
      existing = await client.patch<Node>(this.#path, { metadata: { labels: Object.fromEntries(missing) } });
    }
    this.uid = existing.metadata.uid;
    this.#o.logger.info({ node: nodeName }, 'node already registered, taking it over');
    await this.syncStatus();
    return existing;
  }

  /** One status check: write only when the stored status differs, or the report interval passed. */
  async syncStatus(): Promise<boolean> {
    const stored = await this.#o.client.get<Node>(this.#path);
    this.uid = stored.metadata.uid;
    const now = new Date();
    const wanted = desiredNodeStatus(this.#o.info, this.#o.port, stored.status, now);
    const inUse = this.#o.volumesInUse?.();
    // Merge patch: null removes the field, as upstream's omitempty leaves it out.
    if (inUse !== undefined) wanted.volumesInUse = inUse.length === 0 ? null : [...inUse].sort();
    const due = now.getTime() - this.#lastReport >= (this.#o.reportFrequencyMs ?? 300_000);
    if (!due && !nodeStatusChanged(stored.status, wanted)) return false;
    await this.#o.client.patch(`${this.#path}/status`, { status: wanted });
    this.#lastReport = now.getTime();
    return true;
  }

  /** Runs a status check as soon as the loop is free (a volumesInUse change), rather than at the next tick. */
  requestSync(): void {
    this.#syncRequested = true;
    this.#wake?.();
  }

  async run(signal: AbortSignal): Promise<void> {
    const every = this.#o.updateFrequencyMs ?? 10_000;
    while (!signal.aborted) {
      if (!this.#syncRequested) {
        const woken = new AbortController();
        this.#wake = () => woken.abort();
        await sleep(every, AbortSignal.any([signal, woken.signal]));
        this.#wake = undefined;
      }
      this.#syncRequested = false;
      if (signal.aborted) return;
      try {
        await this.syncStatus();
      } catch (err) {
        if (signal.aborted) return;
        this.#o.logger.warn({ err: (err as Error).message }, 'updating node status failed, will retry');
        // A node deleted under us is registered again, as upstream's kubelet does after a restart.
        if (err instanceof ApiError && err.code === 404) await this.register().catch(() => {});
      }
    }
  }
}

/** Resolves after `ms` or when `signal` aborts — never rejects. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

// The node lifecycle controller (upstream:
// pkg/controller/nodelifecycle/node_lifecycle_controller.go, the health
// monitoring and NoSchedule-tainting halves; no eviction).
//
// A kubelet proves it is alive by renewing its Lease in kube-node-lease (and,
// less often, by posting node status). This controller notes *when it saw*
// either change — its own clock, never the kubelet's, so clock skew between
// machines cannot make a node look dead — and every monitor period asks of
// each node: seen alive within the grace period?
//   - no  → every node condition the kubelet owns (Ready, MemoryPressure,
//           DiskPressure, PIDPressure) becomes Unknown with reason
//           NodeStatusUnknown, "Kubelet stopped posting node status.";
//   - yes → nothing: the kubelet itself puts Ready back to True on its next
//           status check (it compares with the node as stored).
// Independently, the NoSchedule taints follow the Ready condition, as
// upstream's doNoScheduleTaintingPass: Ready=False → node.kubernetes.io/not-ready,
// Ready=Unknown → node.kubernetes.io/unreachable, Ready=True (or no Ready
// condition yet) → neither. The scheduler keeps new pods off tainted nodes.
//
// A node first seen gets a full grace period from that moment, so a control
// plane that restarts does not declare every node dead at once.

import type { KubeObject } from '../../apimachinery/index.ts';
import { formatTime } from '../../apimachinery/index.ts';
import type { Logger } from '../../base/index.ts';
import { delay, CancelledError } from '../../base/index.ts';
import {
  ApiError,
  resourcePath,
  resources,
  runWorkers,
  startInformersAndSync,
  WorkQueue,
  type ControllerContext,
  type Informer,
  type Lease,
  type RestClient,
  type SharedInformerFactory,
} from '../../client/index.ts';

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
export const TAINT_NODE_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_NODE_NOT_READY = 'node.kubernetes.io/not-ready';
export const NODE_STATUS_UNKNOWN_REASON = 'NodeStatusUnknown';
export const NODE_STATUS_UNKNOWN_MESSAGE = 'Kubelet stopped posting node status.';
/** The conditions a kubelet maintains, and that go Unknown when it is silent. */
export const KUBELET_CONDITION_TYPES: readonly string[] = ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'];

export interface NodeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string | null;
  lastTransitionTime?: string | null;
}

export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  timeAdded?: string;
}

export interface Node extends KubeObject {
  spec?: { taints?: Taint[]; unschedulable?: boolean; [k: string]: unknown };
  status?: { conditions?: NodeCondition[]; [k: string]: unknown };
}

export interface NodeLifecycleControllerOptions {
  /** How long a node may stay silent before it is Unknown (upstream --node-monitor-grace-period, 40 s). */
  gracePeriodMs?: number;
  /** How often every node is checked (upstream --node-monitor-period, 5 s). */
  monitorPeriodMs?: number;
  /** The clock (tests). */
  now?: () => number;
}

/** Runs the node lifecycle controller until `signal` aborts. */
export async function startNodeLifecycleController(
  ctx: ControllerContext,
  signal: AbortSignal,
  options: NodeLifecycleControllerOptions = {},
): Promise<void> {
  await new NodeLifecycleController(ctx, options).run(signal);
}

/** What the controller last observed of a node's liveness signals, by its own clock. */
interface Health {
  probeTimestamp: number;
  readyHeartbeat: string | undefined;
  leaseRenewTime: string | undefined;
}

/**
 * The NoSchedule taints `node` should carry given its Ready condition, with
 * every taint that is not ours kept as it is. Returns undefined when the
 * node's taints are already right.
 */
export function reconcileNoScheduleTaints(node: Node, now: Date): Taint[] | undefined {
  const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
  // No Ready condition yet means nothing to go by (the monitor turns it Unknown after the grace period).
  const wanted = ready?.status === 'False' ? TAINT_NODE_NOT_READY : ready?.status === 'Unknown' ? TAINT_NODE_UNREACHABLE : undefined;
  const ours = (t: Taint): boolean => (t.key === TAINT_NODE_NOT_READY || t.key === TAINT_NODE_UNREACHABLE) && t.effect === 'NoSchedule';
  const current = node.spec?.taints ?? [];
  const have = current.filter(ours).map((t) => t.key);
  if ((wanted === undefined && have.length === 0) || (wanted !== undefined && have.length === 1 && have[0] === wanted)) return undefined;
  const next = current.filter((t) => !ours(t));
  if (wanted !== undefined) next.push({ key: wanted, effect: 'NoSchedule', timeAdded: formatTime(now) });
  return next;
}

/**
 * The conditions of a node whose kubelet went silent: each kubelet-owned
 * condition becomes Unknown (a missing one is added), keeping its heartbeat.
 * Returns undefined when they all are Unknown already.
 */
export function markConditionsUnknown(node: Node, now: Date): NodeCondition[] | undefined {
  const conditions = (node.status?.conditions ?? []).map((c) => ({ ...c }));
  let changed = false;
  const ts = formatTime(now);
  for (const type of KUBELET_CONDITION_TYPES) {
    const c = conditions.find((x) => x.type === type);
    if (c === undefined) {
      conditions.push({ type, status: 'Unknown', reason: 'NodeStatusNeverUpdated', message: 'Kubelet never posted node status.', lastHeartbeatTime: ts, lastTransitionTime: ts });
      changed = true;
    } else if (c.status !== 'Unknown') {
      c.status = 'Unknown';
      c.reason = NODE_STATUS_UNKNOWN_REASON;
      c.message = NODE_STATUS_UNKNOWN_MESSAGE;
      c.lastTransitionTime = ts;
      changed = true;
    }
  }
  return changed ? conditions : undefined;
}

class NodeLifecycleController {
  readonly #client: RestClient;
  readonly #informers: SharedInformerFactory;
  readonly #logger: Logger;
  readonly #nodes: Informer<Node>;
  readonly #leases: Informer<Lease>;
  readonly #queue = new WorkQueue<string>({ name: 'node_lifecycle_controller' });
  readonly #health = new Map<string, Health>();
  readonly #gracePeriodMs: number;
  readonly #monitorPeriodMs: number;
  readonly #now: () => number;

  constructor(ctx: ControllerContext, options: NodeLifecycleControllerOptions) {
    this.#client = ctx.client;
    this.#informers = ctx.informers;
    this.#logger = ctx.logger;
    this.#gracePeriodMs = options.gracePeriodMs ?? 40_000;
    this.#monitorPeriodMs = options.monitorPeriodMs ?? 5_000;
    this.#now = options.now ?? Date.now;
    this.#nodes = ctx.informers.informerFor<Node>(resources.nodes);
    this.#leases = ctx.informers.informerFor<Lease>(resources.leases, NODE_LEASE_NAMESPACE);
    const enqueue = (obj: KubeObject): void => {
      if (obj.metadata.name !== undefined) this.#queue.add(obj.metadata.name);
    };
    this.#nodes.addEventHandler({ onAdd: enqueue, onUpdate: (_o, n) => enqueue(n), onDelete: (n) => this.#health.delete(n.metadata.name ?? '') });
    // A lease is named after its node.
    this.#leases.addEventHandler({ onAdd: enqueue, onUpdate: (_o, n) => enqueue(n) });
  }

  async run(signal: AbortSignal): Promise<void> {
    if (!(await startInformersAndSync(this.#informers, signal, [this.#nodes, this.#leases]))) return;
    const monitor = (async () => {
      while (!signal.aborted) {
        for (const node of this.#nodes.list()) if (node.metadata.name !== undefined) this.#queue.add(node.metadata.name);
        await delay(this.#monitorPeriodMs, signal).catch((err: unknown) => {
          if (!(err instanceof CancelledError)) throw err;
        });
      }
    })();
    await Promise.all([runWorkers(this.#queue, 1, (name) => this.#syncNode(name), { signal, logger: this.#logger }), monitor]);
  }

  /** Updates what was seen of the node's liveness and returns whether it is within its grace period. */
  #observe(node: Node): boolean {
    const name = node.metadata.name ?? '';
    const now = this.#now();
    const readyHeartbeat = node.status?.conditions?.find((c) => c.type === 'Ready')?.lastHeartbeatTime ?? undefined;
    const leaseRenewTime = this.#leases.get(`${NODE_LEASE_NAMESPACE}/${name}`)?.spec?.renewTime;
    let h = this.#health.get(name);
    if (h === undefined) {
      h = { probeTimestamp: now, readyHeartbeat, leaseRenewTime };
      this.#health.set(name, h);
    } else if (h.readyHeartbeat !== readyHeartbeat || h.leaseRenewTime !== leaseRenewTime) {
      h.probeTimestamp = now;
      h.readyHeartbeat = readyHeartbeat;
      h.leaseRenewTime = leaseRenewTime;
    }
    // Re-check exactly when the grace period would run out, not a monitor period later.
    const left = h.probeTimestamp + this.#gracePeriodMs - now;
    if (left > 0) this.#queue.addAfter(name, left + 1);
    return left > 0;
  }

  async #syncNode(name: string): Promise<void> {
    const cached = this.#nodes.get(name);
    if (cached === undefined) return;
    const alive = this.#observe(cached);
    const now = new Date(this.#now());
    let node = cached;
    if (!alive) {
      const conditions = markConditionsUnknown(node, now);
      if (conditions !== undefined) {
        // Silent: the node's health is ours to report now.
        this.#logger.info({ node: name }, 'node stopped posting status, marking it Unknown');
        node = await this.#patch<Node>(resourcePath(resources.nodes, undefined, name, 'status'), {
          metadata: { resourceVersion: node.metadata.resourceVersion },
          status: { conditions },
        }) ?? node;
      }
    }
    const taints = reconcileNoScheduleTaints(node, now);
    if (taints !== undefined) {
      await this.#patch(resourcePath(resources.nodes, undefined, name), {
        metadata: { resourceVersion: node.metadata.resourceVersion },
        spec: { taints },
      });
    }
  }

  /** A merge patch pinned to a resourceVersion; undefined when the node is gone (409 requeues through runWorkers). */
  async #patch<T>(path: string, body: unknown): Promise<T | undefined> {
    try {
      return await this.#client.patch<T>(path, body);
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return undefined;
      throw err;
    }
  }
}

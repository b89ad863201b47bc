// The scheduler: puts pods on nodes, and for pods whose claims bind on first
// consumer (WaitForFirstConsumer) chooses the volumes together with the node
// (seed 001 §2.3.1: the claim stays Pending until the pod is scheduled). It
// reads like upstream's schedule_one.go with the default plugins folded in,
// much shorter:
//
// 1. Queue (scheduling-queue.ts). Every pod with no spec.nodeName whose
//    schedulerName is ours (or unset) is queued; failures go to backoff or,
//    when no node fits, to the unschedulable pool until the cluster changes.
//
// 2. Scheduling cycle, one pod at a time, all from informer caches:
//    pre-filter (the pod's claims: missing, Lost, unbound Immediate → the pod
//    fits nowhere), then per node the filters in upstream's order —
//    NodeUnschedulable, NodeName, TaintToleration (node readiness included),
//    NodeAffinity, VolumeRestrictions, NodeVolumeLimits, VolumeBinding — the
//    first failing one giving the node's reasons (filters.ts,
//    volume-binding.ts). No node fits → FailedScheduling event with
//    upstream's FitError text (fit-error.ts) and PodScheduled=False. Else the
//    node with the fewest pods wins (ties by name), and the pod is *assumed*
//    there: later cycles count it on that node, and the PVs chosen for it are
//    reserved in the scheduler's own VolumeIndex so no other pod takes them.
//
// 3. Binding cycle, in the background so the next pod need not wait:
//    PreBind writes the reservations — the chosen PV's claimRef (with
//    `pv.kubernetes.io/bound-by-controller`, as upstream's binder) or the
//    claim's `volume.kubernetes.io/selected-node` for provisioning — and
//    waits until the PV controller has bound every claim. Upstream polls the
//    API every second; here checkBindings runs on every PV, PVC and pod event
//    the informers deliver, so the pod moves on as soon as the claim is
//    Bound. After bindTimeoutSeconds (default 600, as upstream) or a failure
//    (the pod deleted, the provisioner giving the node back), the
//    reservations still in place and unbound are rolled back — upstream
//    leaves them — and the pod is retried after a backoff. Then Bind: POST
//    pods/<name>/binding (falling back to setting spec.nodeName by update on
//    a server that does not serve the subresource), and a `Scheduled` event.
//
// Assumed pods leave the assumption when the informer shows them bound, or
// when their binding cycle fails. The scheduler writes only PVs, PVCs, pod
// bindings, pod status conditions and events; binding claims to volumes and
// provisioning stay the PV controller's job.

import { isDeepStrictEqual } from 'node:util';
import { VolumeIndex } from '../api/core/volume-matching.ts';
import type { PersistentVolume, PersistentVolumeClaim, StorageClass } from '../api/core/volume-types.ts';
import { ANN_BOUND_BY_CONTROLLER, ANN_SELECTED_NODE } from '../api/core/volume-types.ts';
import { deepCopy, formatTime } from '../apimachinery/index.ts';
import type { Logger } from '../base/index.ts';
import { CancelledError, toError } from '../base/index.ts';
import {
  ApiError,
  EventRecorder,
  Informer,
  objectKey,
  resourcePath,
  resources,
  runWorkers,
  SharedInformerFactory,
  startInformersAndSync,
  type ControllerContext,
  type RestClient,
} from '../client/index.ts';
import { FitError, type Diagnosis } from './fit-error.ts';
import {
  filterCsiVolumeLimits,
  filterNodeAffinity,
  filterNodeName,
  filterNodeUnschedulable,
  filterReadWriteOncePod,
  filterTaintToleration,
  nodeInfoOf,
  type CsiVolumes,
  type FilterStatus,
} from './filters.ts';
import { SchedulingQueue } from './scheduling-queue.ts';
import type { CSINode, Node, Pod, PodCondition } from './types.ts';
import {
  checkBindings,
  claimWithSelectedNode,
  findPodVolumes,
  getPodVolumeClaims,
  isClaimFullyBound,
  isOlderVersion,
  podClaimRefs,
  podCsiVolumes,
  VolumeBindingError,
  volumeReservedFor,
  type PodVolumes,
  type VolumeLookup,
} from './volume-binding.ts';

export const DEFAULT_SCHEDULER_NAME = 'default-scheduler';

/** What the scheduler is started with: the same context as every controller. */
export type SchedulerContext = ControllerContext;

export interface SchedulerOptions {
  /** Pods whose spec.schedulerName is this (or unset) are ours (default `default-scheduler`). */
  schedulerName?: string;
  /** How long PreBind waits for the PV controller to bind the pod's claims (default 600 s, as upstream). */
  bindTimeoutSeconds?: number;
  /** Backoff of a failed pod: initial (default 1 s), doubling to the max (default 10 s). */
  podInitialBackoffMs?: number;
  podMaxBackoffMs?: number;
  /** An unschedulable pod is retried after this long even if nothing changed (default 5 min). */
  podMaxInUnschedulableMs?: number;
}

/** The pod binding (or its fallback) failed. */
export class BindError extends Error {
  override readonly name = 'BindError';
  readonly pod: string;
  readonly node: string;
  constructor(pod: string, node: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.pod = pod;
    this.node = node;
  }
}

const BY_NODE_INDEX = 'scheduler/byNode';
const BY_CLAIM_INDEX = 'scheduler/byClaim';

interface Assumed {
  node: string;
  pod: Pod;
}

function isTerminal(pod: Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

function isAssigned(pod: Pod): boolean {
  return (pod.spec?.nodeName ?? '') !== '';
}

/** Adds an index to a shared informer unless a previous scheduler on the same factory did. */
function ensureIndexer<T extends Pod>(informer: Informer<T>, name: string, fn: (obj: T) => string[]): void {
  try {
    informer.addIndexer(name, fn);
  } catch {
    // Already there: the same function under the same name.
  }
}

export class Scheduler {
  readonly #client: RestClient;
  readonly #informers: SharedInformerFactory;
  readonly #recorder: EventRecorder;
  readonly #logger: Logger;
  readonly #schedulerName: string;
  readonly #bindTimeoutMs: number;
  readonly #queue: SchedulingQueue;

  readonly #pods: Informer<Pod>;
  readonly #nodes: Informer<Node>;
  readonly #pvs: Informer<PersistentVolume>;
  readonly #pvcs: Informer<PersistentVolumeClaim>;
  readonly #classes: Informer<StorageClass>;
  readonly #csiNodes: Informer<CSINode>;

  /** Every PV, with the scheduler's own reservations applied until the informer catches up. */
  readonly #volumes = new VolumeIndex();
  readonly #assumed = new Map<string, Assumed>();
  /** Re-evaluated on every PV, PVC and pod event: the PreBind waits. */
  readonly #bindingWaiters = new Set<() => void>();
  readonly #bindingCycles = new Set<Promise<void>>();
  #started = false;

  constructor(ctx: SchedulerContext, options: SchedulerOptions = {}) {
    this.#client = ctx.client;
    this.#informers = ctx.informers;
    this.#schedulerName = options.schedulerName ?? DEFAULT_SCHEDULER_NAME;
    // Events come "From default-scheduler", as in Kubernetes.
    this.#recorder = ctx.recorder.withComponent(this.#schedulerName);
    this.#logger = ctx.logger.child({ component: 'scheduler' });
    this.#bindTimeoutMs = (options.bindTimeoutSeconds ?? 600) * 1000;
    this.#queue = new SchedulingQueue({
      initialBackoffMs: options.podInitialBackoffMs ?? 1000,
      maxBackoffMs: options.podMaxBackoffMs ?? 10_000,
      maxUnschedulableMs: options.podMaxInUnschedulableMs ?? 300_000,
    });
    this.#pods = ctx.informers.informerFor<Pod>(resources.pods);
    this.#nodes = ctx.informers.informerFor<Node>(resources.nodes);
    this.#pvs = ctx.informers.informerFor<PersistentVolume>(resources.persistentVolumes);
    this.#pvcs = ctx.informers.informerFor<PersistentVolumeClaim>(resources.persistentVolumeClaims);
    this.#classes = ctx.informers.informerFor<StorageClass>(resources.storageClasses);
    this.#csiNodes = ctx.informers.informerFor<CSINode>(resources.csiNodes);
    ensureIndexer(this.#pods, BY_NODE_INDEX, (p) => (isAssigned(p) ? [p.spec.nodeName!] : []));
    ensureIndexer(this.#pods, BY_CLAIM_INDEX, (p) => podClaimRefs(p).map((r) => `${p.metadata.namespace ?? ''}/${r.claimName}`));
  }

  /**
   * Runs until `signal` aborts: registers handlers, waits for the caches,
   * schedules. Starts the informer factory if nobody has. Resolves once
   * every worker and binding cycle has stopped.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.#started) throw new Error('the scheduler was already started');
    this.#started = true;
    const moveAll = (): void => this.#queue.moveAllToActiveOrBackoff();
    const handlers = [
      this.#pods.addEventHandler({
        onAdd: (p) => this.#onPodAdd(p),
        onUpdate: (o, p) => this.#onPodUpdate(o, p),
        onDelete: (p) => this.#onPodDelete(p),
      }),
      this.#nodes.addEventHandler({ onAdd: moveAll, onUpdate: (o, n) => this.#nodeChanged(o, n) && moveAll() }),
      this.#pvs.addEventHandler({
        onAdd: (pv) => this.#onVolume(pv, true),
        onUpdate: (_o, pv) => this.#onVolume(pv, true),
        onDelete: (pv) => {
          this.#volumes.remove(pv.metadata.name ?? '');
          this.#notifyWaiters();
        },
      }),
      this.#pvcs.addEventHandler({
        onAdd: () => this.#onClaim(),
        onUpdate: () => this.#onClaim(),
        onDelete: () => this.#notifyWaiters(),
      }),
      this.#classes.addEventHandler({ onAdd: moveAll, onUpdate: moveAll }),
      this.#csiNodes.addEventHandler({ onAdd: moveAll, onUpdate: moveAll }),
    ];
    try {
      const synced = await startInformersAndSync(this.#informers, signal, [this.#pods, this.#nodes, this.#pvs, this.#pvcs, this.#classes, this.#csiNodes]);
      if (!synced) return;
      for (const pv of this.#pvs.list()) this.#onVolume(pv, false);
      this.#queue.start();
      this.#logger.info({ schedulerName: this.#schedulerName }, 'started');
      await runWorkers(this.#queue.active, 1, (key) => this.#scheduleOne(key, signal), { signal, logger: this.#logger });
    } catch (err) {
      if (!(err instanceof CancelledError && signal.aborted)) throw err;
    } finally {
      this.#queue.shutDown();
      while (this.#bindingCycles.size > 0) await Promise.all([...this.#bindingCycles]);
      for (const h of handlers) h.dispose();
      this.#logger.info('stopped');
    }
  }

  // ---------------------------------------------------------------------------
  // Event handlers: cheap, they only queue

  #isOurPendingPod(pod: Pod): boolean {
    const name = pod.spec?.schedulerName ?? '';
    if (name !== '' && name !== this.#schedulerName) return false;
    if (isAssigned(pod) || isTerminal(pod) || pod.metadata.deletionTimestamp !== undefined) return false;
    // Scheduling gates hold the pod back until removed (upstream's PreEnqueue).
    const gates = pod.spec.schedulingGates;
    return !(Array.isArray(gates) && gates.length > 0);
  }

  #onPodAdd(pod: Pod): void {
    const key = objectKey(pod);
    if (isAssigned(pod)) this.#assumed.delete(key);
    else if (this.#isOurPendingPod(pod)) this.#queue.add(key);
    this.#notifyWaiters();
  }

  #onPodUpdate(old: Pod, pod: Pod): void {
    const key = objectKey(pod);
    if (isAssigned(pod)) {
      this.#assumed.delete(key);
      this.#queue.delete(key);
      // A pod that finished frees its ReadWriteOncePod claims and volume slots.
      if (isTerminal(pod) && !isTerminal(old)) this.#queue.moveAllToActiveOrBackoff();
    } else if (this.#isOurPendingPod(pod)) {
      // Our own status writes must not count as a change of the pod.
      const changed =
        !isDeepStrictEqual(old.spec, pod.spec) ||
        !isDeepStrictEqual(old.metadata.labels, pod.metadata.labels) ||
        !isDeepStrictEqual(old.metadata.annotations, pod.metadata.annotations);
      if (changed) this.#queue.podUpdated(key);
      else this.#queue.add(key);
    } else {
      this.#queue.delete(key);
    }
    this.#notifyWaiters();
  }

  #onPodDelete(pod: Pod): void {
    const key = objectKey(pod);
    this.#queue.delete(key);
    const wasAssumed = this.#assumed.delete(key);
    if ((isAssigned(pod) || wasAssumed) && !isTerminal(pod)) this.#queue.moveAllToActiveOrBackoff();
    this.#notifyWaiters();
  }

  #nodeChanged(old: Node, node: Node): boolean {
    const ready = (n: Node): string | undefined => n.status?.conditions?.find((c) => c.type === 'Ready')?.status;
    return (
      !isDeepStrictEqual(old.metadata.labels, node.metadata.labels) ||
      !isDeepStrictEqual(old.spec?.taints, node.spec?.taints) ||
      old.spec?.unschedulable !== node.spec?.unschedulable ||
      ready(old) !== ready(node)
    );
  }

  #onVolume(pv: PersistentVolume, move: boolean): void {
    const cached = this.#volumes.get(pv.metadata.name ?? '');
    if (cached === undefined || !isOlderVersion(pv.metadata.resourceVersion, cached.metadata.resourceVersion)) this.#volumes.put(pv);
    if (!move) return;
    this.#queue.moveAllToActiveOrBackoff();
    this.#notifyWaiters();
  }

  #onClaim(): void {
    this.#queue.moveAllToActiveOrBackoff();
    this.#notifyWaiters();
  }

  #notifyWaiters(): void {
    for (const w of [...this.#bindingWaiters]) w();
  }

  // ---------------------------------------------------------------------------
  // Scheduling cycle

  #lookup(): VolumeLookup {
    return {
      claim: (ns, name) => this.#pvcs.get(`${ns}/${name}`),
      storageClass: (name) => this.#classes.get(name),
      volumes: this.#volumes,
    };
  }

  /** The pods counted on a node: those bound there (not finished) and those assumed there. */
  #podsOnNode(node: string): Pod[] {
    const out = this.#pods.byIndex(BY_NODE_INDEX, node).filter((p) => !isTerminal(p));
    for (const [key, a] of this.#assumed) {
      if (a.node === node && this.#pods.get(key)?.spec.nodeName !== node) out.push(a.pod);
    }
    return out;
  }

  /** How many other scheduled or assumed pods use the claim `namespace/name`. */
  #claimUsers(claimKey: string, self: string): number {
    let n = 0;
    for (const p of this.#pods.byIndex(BY_CLAIM_INDEX, claimKey)) {
      const key = objectKey(p);
      if (key === self || isTerminal(p)) continue;
      if (isAssigned(p) || this.#assumed.has(key)) n++;
    }
    return n;
  }

  #csiVolumesOnNode(node: string, lookup: VolumeLookup): CsiVolumes {
    const out: CsiVolumes = new Map();
    for (const p of this.#podsOnNode(node)) for (const [k, d] of podCsiVolumes(p, lookup)) out.set(k, d);
    return out;
  }

  /** Filters and scores: the chosen node and what PreBind must do there. Throws FitError. */
  schedulePod(pod: Pod): { node: string; podVolumes: PodVolumes } {
    const key = objectKey(pod);
    const nodes = this.#nodes.list().sort((a, b) => ((a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1));
    const diagnosis: Diagnosis = {
      numAllNodes: nodes.length,
      nodeStatuses: new Map(),
      ...(typeof pod.spec.preemptionPolicy === 'string' ? { preemptionPolicy: pod.spec.preemptionPolicy } : {}),
    };
    if (nodes.length === 0) throw new FitError(key, diagnosis);
    const lookup = this.#lookup();
    const pre = getPodVolumeClaims(pod, lookup);
    if ('status' in pre) {
      diagnosis.preFilter = pre.status;
      for (const n of nodes) diagnosis.nodeStatuses.set(n.metadata.name ?? '', pre.status);
      throw new FitError(key, diagnosis);
    }
    const rwop = filterReadWriteOncePod(pre.claims.all, (claimKey) => this.#claimUsers(claimKey, key));
    const newCsi = podCsiVolumes(pod, lookup);

    const feasible: { name: string; pods: number; podVolumes: PodVolumes }[] = [];
    for (const node of nodes) {
      const name = node.metadata.name ?? '';
      let podVolumes: PodVolumes | undefined;
      const volumeBinding = (): FilterStatus | undefined => {
        const found = findPodVolumes(pre.claims, nodeInfoOf(node), lookup);
        podVolumes = found.podVolumes;
        return found.reasons.length === 0 ? undefined : { plugin: 'VolumeBinding', code: 'UnschedulableAndUnresolvable', reasons: found.reasons };
      };
      const status =
        filterNodeUnschedulable(pod, node) ??
        filterNodeName(pod, node) ??
        filterTaintToleration(pod, node) ??
        filterNodeAffinity(pod, node) ??
        rwop ??
        filterCsiVolumeLimits(newCsi, this.#csiVolumesOnNode(name, lookup), this.#csiNodes.get(name)) ??
        volumeBinding();
      if (status !== undefined) diagnosis.nodeStatuses.set(name, status);
      else feasible.push({ name, pods: this.#podsOnNode(name).length, podVolumes: podVolumes! });
    }
    if (feasible.length === 0) throw new FitError(key, diagnosis);
    // Least requested, by pod count; the name breaks ties so that runs repeat.
    feasible.sort((a, b) => a.pods - b.pods || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { node: feasible[0]!.name, podVolumes: feasible[0]!.podVolumes };
  }

  async #scheduleOne(key: string, signal: AbortSignal): Promise<void> {
    const pod = this.#pods.get(key);
    if (pod === undefined || !this.#isOurPendingPod(pod) || this.#assumed.has(key)) return;
    const cycle = this.#queue.moveRequestCycle;
    this.#logger.debug({ pod: key }, 'attempting to schedule pod');
    let result: { node: string; podVolumes: PodVolumes };
    try {
      result = this.schedulePod(pod);
    } catch (thrown) {
      const err = toError(thrown);
      if (err instanceof FitError) {
        this.#logger.info({ pod: key, reason: err.message }, 'unable to schedule pod');
        this.#queue.addUnschedulable(key, cycle);
        await this.#recordFailure(pod, 'Unschedulable', err.message);
      } else {
        this.#logger.error({ pod: key, err }, 'scheduling cycle failed');
        this.#queue.addBackoff(key);
        await this.#recordFailure(pod, 'SchedulerError', err.message);
      }
      return;
    }
    // Assume (upstream's Reserve): the node counts the pod, and the chosen PVs are taken.
    this.#assumed.set(key, { node: result.node, pod });
    for (const b of result.podVolumes.staticBindings) {
      const reserved = volumeReservedFor(b.pv, b.pvc);
      if (reserved !== undefined) this.#volumes.put(reserved);
    }
    const cyclePromise = this.#bindingCycle(pod, result.node, result.podVolumes, signal).finally(() => this.#bindingCycles.delete(cyclePromise));
    this.#bindingCycles.add(cyclePromise);
  }

  // ---------------------------------------------------------------------------
  // Binding cycle

  async #bindingCycle(pod: Pod, node: string, podVolumes: PodVolumes, signal: AbortSignal): Promise<void> {
    const key = objectKey(pod);
    const written: PodVolumes = { staticBindings: [], dynamicProvisions: [] };
    try {
      if (podVolumes.staticBindings.length > 0 || podVolumes.dynamicProvisions.length > 0) {
        try {
          await this.#bindPodVolumes(key, node, podVolumes, written, signal);
        } catch (err) {
          if (err instanceof CancelledError) throw err;
          throw new BindError(key, node, `running PreBind plugin "VolumeBinding": binding volumes: ${toError(err).message}`, { cause: err });
        }
      }
      await this.bindPod(pod, node);
      this.#queue.forget(key);
      this.#recorder.event(pod, 'Normal', 'Scheduled', `Successfully assigned ${key} to ${node}`);
      this.#logger.info({ pod: key, node }, 'pod bound');
    } catch (thrown) {
      const err = toError(thrown);
      this.#assumed.delete(key);
      this.#revertAssumedVolumes(podVolumes);
      if (signal.aborted) return;
      await this.#rollBack(key, node, written);
      this.#logger.info({ pod: key, node, err: err.message }, 'binding cycle failed');
      this.#queue.addBackoff(key);
      const current = this.#pods.get(key);
      if (current !== undefined) await this.#recordFailure(current, 'SchedulerError', err.message);
    }
  }

  /** PreBind: write the reservations, then wait until the PV controller has bound every claim. */
  async #bindPodVolumes(key: string, node: string, podVolumes: PodVolumes, written: PodVolumes, signal: AbortSignal): Promise<void> {
    const nodeObj = this.#nodes.get(node);
    const nodeInfo = nodeObj === undefined ? { name: node, labels: {} } : nodeInfoOf(nodeObj);
    const expected: PodVolumes = { staticBindings: [], dynamicProvisions: [] };
    for (const b of podVolumes.staticBindings) {
      const next = volumeReservedFor(b.pv, b.pvc);
      if (next === undefined) {
        expected.staticBindings.push(b);
        continue;
      }
      const pv = await this.#client.update<PersistentVolume>(resourcePath(resources.persistentVolumes, undefined, next.metadata.name), next);
      this.#onVolume(pv, false);
      written.staticBindings.push({ pv, pvc: b.pvc });
      expected.staticBindings.push({ pv, pvc: b.pvc });
      this.#logger.info({ pod: key, pv: pv.metadata.name, claim: objectKey(b.pvc), node }, 'volume reserved for claim');
    }
    for (const claim of podVolumes.dynamicProvisions) {
      const next = claimWithSelectedNode(claim, node);
      if (next === undefined) {
        expected.dynamicProvisions.push(claim);
        continue;
      }
      const pvc = await this.#client.update<PersistentVolumeClaim>(
        resourcePath(resources.persistentVolumeClaims, claim.metadata.namespace, claim.metadata.name),
        next,
      );
      written.dynamicProvisions.push(pvc);
      expected.dynamicProvisions.push(pvc);
      this.#logger.info({ pod: key, claim: objectKey(pvc), node }, 'node selected for provisioning');
    }
    const [namespace, name] = key.split('/') as [string, string];
    await this.#waitFor(
      () =>
        checkBindings(key, nodeInfo, expected, {
          claim: (ns, n) => this.#pvcs.get(`${ns}/${n}`),
          volume: (n) => this.#pvs.get(n),
          podExists: () => this.#pods.get(`${namespace}/${name}`) !== undefined,
        }),
      signal,
    );
  }

  /** Resolves when `check` returns true, re-run on every relevant informer event; rejects when it throws or on timeout. */
  #waitFor(check: () => boolean, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (err?: Error): void => {
        this.#bindingWaiters.delete(evaluate);
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        if (err === undefined) resolve();
        else reject(err);
      };
      const evaluate = (): void => {
        try {
          if (check()) finish();
        } catch (err) {
          finish(toError(err));
        }
      };
      const onAbort = (): void => finish(new CancelledError());
      if (signal.aborted) {
        onAbort();
        return;
      }
      signal.addEventListener('abort', onAbort, { once: true });
      timer = setTimeout(() => finish(new VolumeBindingError('', 'timed out waiting for the condition')), this.#bindTimeoutMs);
      timer.unref();
      this.#bindingWaiters.add(evaluate);
      evaluate();
    });
  }

  /** Undoes the in-memory reservation of PVs (the informer's copy is the truth again). */
  #revertAssumedVolumes(podVolumes: PodVolumes): void {
    for (const b of podVolumes.staticBindings) {
      const name = b.pv.metadata.name ?? '';
      const fromInformer = this.#pvs.get(name);
      if (fromInformer === undefined) this.#volumes.remove(name);
      else this.#volumes.put(fromInformer);
    }
  }

  /**
   * Takes back the reservations this attempt wrote, where they are still ours
   * and unbound: a PV's claimRef, a claim's selected node. A write that
   * conflicts means somebody moved on (the PV controller bound it); that is
   * left alone.
   */
  async #rollBack(key: string, node: string, written: PodVolumes): Promise<void> {
    for (const { pv: mine, pvc } of written.staticBindings) {
      const pv = this.#pvs.get(mine.metadata.name ?? '');
      const claim = this.#pvcs.get(objectKey(pvc));
      if (pv === undefined || pv.spec.claimRef?.uid !== pvc.metadata.uid) continue;
      if (claim !== undefined && isClaimFullyBound(claim)) continue;
      const next = deepCopy(pv);
      next.spec.claimRef = null;
      const annotations = { ...(next.metadata.annotations ?? {}) };
      delete annotations[ANN_BOUND_BY_CONTROLLER];
      next.metadata.annotations = annotations;
      await this.#tryWrite(key, 'release reserved volume', () =>
        this.#client.update(resourcePath(resources.persistentVolumes, undefined, pv.metadata.name), next),
      );
    }
    for (const mine of written.dynamicProvisions) {
      const claim = this.#pvcs.get(objectKey(mine));
      if (claim === undefined || claim.metadata.annotations?.[ANN_SELECTED_NODE] !== node || (claim.spec.volumeName ?? '') !== '') continue;
      const next = deepCopy(claim);
      const annotations = { ...(next.metadata.annotations ?? {}) };
      delete annotations[ANN_SELECTED_NODE];
      next.metadata.annotations = annotations;
      await this.#tryWrite(key, 'clear selected node', () =>
        this.#client.update(resourcePath(resources.persistentVolumeClaims, claim.metadata.namespace, claim.metadata.name), next),
      );
    }
  }

  async #tryWrite(key: string, what: string, write: () => Promise<unknown>): Promise<void> {
    try {
      await write();
    } catch (err) {
      this.#logger.info({ pod: key, err: toError(err).message }, `failed to ${what}`);
    }
  }

  /**
   * Bind: POST pods/<name>/binding, as upstream's DefaultBinder. On a server
   * that does not serve the subresource (404/405) the pod's spec.nodeName is
   * set by a merge patch instead, and PodScheduled=True written through
   * /status (the binding subresource does that itself). Throws BindError.
   */
  async bindPod(pod: Pod, node: string): Promise<void> {
    const key = objectKey(pod);
    const name = pod.metadata.name ?? '';
    const namespace = pod.metadata.namespace ?? '';
    const binding = { apiVersion: 'v1', kind: 'Binding', metadata: { name }, target: { kind: 'Node', name: node } };
    try {
      await this.#client.create(resourcePath(resources.pods, namespace, name, 'binding'), binding);
      return;
    } catch (err) {
      // 404 without an object name is the path not being served; with one, the pod is gone.
      const notServed = err instanceof ApiError && (err.code === 405 || (err.code === 404 && (err.status?.details?.name ?? '') === ''));
      if (!notServed) {
        throw new BindError(key, node, `running Bind plugin "DefaultBinder": ${toError(err).message}`, { cause: err });
      }
    }
    try {
      const patch = { metadata: { uid: pod.metadata.uid }, spec: { nodeName: node } };
      const bound = await this.#client.patch<Pod>(resourcePath(resources.pods, namespace, name), patch);
      await this.#setPodScheduledCondition(bound, { type: 'PodScheduled', status: 'True' });
    } catch (err) {
      throw new BindError(key, node, `running Bind plugin "DefaultBinder": ${toError(err).message}`, { cause: err });
    }
  }

  // ---------------------------------------------------------------------------
  // Reporting

  async #recordFailure(pod: Pod, reason: 'Unschedulable' | 'SchedulerError', message: string): Promise<void> {
    this.#recorder.event(pod, 'Warning', 'FailedScheduling', message);
    await this.#setPodScheduledCondition(pod, { type: 'PodScheduled', status: 'False', reason, message });
  }

  /** Writes the PodScheduled condition through /status unless it already says the same. Never throws. */
  async #setPodScheduledCondition(pod: Pod, condition: PodCondition): Promise<void> {
    const key = objectKey(pod);
    let current: Pod | undefined = this.#pods.get(key) ?? pod;
    for (let attempt = 0; attempt < 3 && current !== undefined; attempt++) {
      const conditions = current.status?.conditions ?? [];
      const existing = conditions.find((c) => c.type === 'PodScheduled');
      if (existing !== undefined && existing.status === condition.status && existing.reason === condition.reason && existing.message === condition.message) return;
      const next = deepCopy(current);
      const changed = existing === undefined || existing.status !== condition.status;
      const written: PodCondition = {
        ...condition,
        lastProbeTime: null,
        lastTransitionTime: changed ? formatTime(new Date()) : (existing?.lastTransitionTime ?? formatTime(new Date())),
      };
      next.status = { ...(next.status ?? {}), conditions: [...conditions.filter((c) => c.type !== 'PodScheduled'), written] };
      const path = resourcePath(resources.pods, pod.metadata.namespace, pod.metadata.name, 'status');
      try {
        await this.#client.update(path, next);
        return;
      } catch (err) {
        if (err instanceof ApiError && err.code === 409) {
          current = await this.#client.get<Pod>(resourcePath(resources.pods, pod.metadata.namespace, pod.metadata.name)).catch(() => undefined);
          continue;
        }
        if (!(err instanceof ApiError && err.code === 404)) this.#logger.info({ pod: key, err: toError(err).message }, 'failed to update the PodScheduled condition');
        return;
      }
    }
  }
}

/**
 * Starts the scheduler and runs it until `signal` aborts; resolves when it
 * has stopped.
 */
export async function startScheduler(ctx: SchedulerContext, signal: AbortSignal, options: SchedulerOptions = {}): Promise<void> {
  await new Scheduler(ctx, options).run(signal);
}

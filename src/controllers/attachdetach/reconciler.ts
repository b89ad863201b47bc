// The reconcile pass (upstream reconciler/reconciler.go): make the actual
// state of world match the desired one, detaching first, then attaching,
// then writing the node statuses that changed.
//
// Detach first, because a volume moving between nodes (single-attach) must
// leave the old node before it can reach the new one. A volume attached to a
// node but no longer desired there is detached only once the node no longer
// reports it in `status.volumesInUse` — the kubelet has unmounted it — or,
// when the node is unhealthy (gone or not Ready), after maxWaitForUnmount
// (6 min) has passed since the detach was first wanted; a node tainted
// `node.kubernetes.io/out-of-service` is detached at once. A healthy node
// that keeps a volume mounted keeps it attached, however long: that is
// upstream's behaviour since force-detach on timeout was restricted to
// unhealthy nodes. Before the VolumeAttachment is deleted the volume is
// taken off the node's `status.volumesAttached` (and the write must
// succeed), so the kubelet cannot start mounting a volume on its way out.
//
// Attach: a desired volume with no VolumeAttachment gets one, named as the
// CSI attacher names it; the external attacher then sets `status.attached`
// and the controller's VolumeAttachment handler moves the volume to
// attached (see attach-detach-controller.ts). The pass never waits for an
// attacher. A volume whose PV allows one node only (no ReadWriteMany or
// ReadOnlyMany) is not attached while it is still on another node in any
// state; its pods get one Multi-Attach FailedAttachVolume event per node.
//
// The pass itself only decides and starts API calls; a volume whose call is
// still running or backing off (500 ms doubling to 2 min 2 s, as upstream's
// exponential backoff) is skipped quietly, and picked up by a later pass.

import type { Logger } from '../../base/index.ts';
import { toError } from '../../base/index.ts';
import { ApiError, resourcePath, resources, type EventRecorder, type RestClient } from '../../client/index.ts';
import type { ActualStateOfWorld, AttachedVolume } from './actual-state-of-world.ts';
import type { DesiredStateOfWorld, PodRef, VolumeToAttach } from './desired-state-of-world.ts';
import type { NodeStatusUpdater } from './node-status-updater.ts';

/** Upstream's maxWaitForUnmountDuration. */
export const MAX_WAIT_FOR_UNMOUNT_MS = 6 * 60 * 1000;
const BACKOFF_INITIAL_MS = 500;
const BACKOFF_MAX_MS = 2 * 60 * 1000 + 2 * 1000;

export interface ReconcilerOptions {
  dsw: DesiredStateOfWorld;
  asw: ActualStateOfWorld;
  client: RestClient;
  recorder: EventRecorder;
  statusUpdater: NodeStatusUpdater;
  /** The node exists and its Ready condition is True. */
  nodeIsHealthy(nodeName: string): boolean;
  /** The node carries the `node.kubernetes.io/out-of-service` taint. */
  nodeIsOutOfService(nodeName: string): boolean;
  logger: Logger;
  maxWaitForUnmountMs?: number;
  now?: () => number;
}

/** Runs at most one API call per attachment at a time, with exponential backoff after failures. */
class Operations {
  readonly #pending = new Map<string, Promise<void>>();
  readonly #backoff = new Map<string, { until: number; delayMs: number }>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  /** Whether `key` has a call running or is waiting out a backoff. */
  busy(key: string): boolean {
    if (this.#pending.has(key)) return true;
    const b = this.#backoff.get(key);
    return b !== undefined && b.until > this.#now();
  }

  /** Starts `op` for `key` (the caller checked busy()); a failure starts or doubles the key's backoff. */
  start(key: string, op: () => Promise<void>, onError: (err: Error) => void): void {
    const p = (async () => {
      try {
        await op();
        this.#backoff.delete(key);
      } catch (err) {
        const prev = this.#backoff.get(key)?.delayMs;
        const delayMs = prev === undefined ? BACKOFF_INITIAL_MS : Math.min(prev * 2, BACKOFF_MAX_MS);
        this.#backoff.set(key, { until: this.#now() + delayMs, delayMs });
        onError(toError(err));
      } finally {
        this.#pending.delete(key);
      }
    })();
    this.#pending.set(key, p);
  }

  /** Resolves when every running call has finished. */
  async drain(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending.values()]);
  }
}

/** The pod as an event's involved object. */
export function podObject(pod: PodRef): { apiVersion: string; kind: string; metadata: { namespace: string; name: string; uid: string } } {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: pod.namespace, name: pod.name, uid: pod.uid } };
}

export class Reconciler {
  readonly #o: ReconcilerOptions;
  readonly #ops: Operations;
  readonly #now: () => number;
  readonly #maxWaitForUnmountMs: number;

  constructor(options: ReconcilerOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#maxWaitForUnmountMs = options.maxWaitForUnmountMs ?? MAX_WAIT_FOR_UNMOUNT_MS;
    this.#ops = new Operations(this.#now);
  }

  /** One pass: start the detaches and attaches that are due, then write flagged node statuses. Never throws. */
  async reconcile(signal: AbortSignal): Promise<void> {
    const { dsw, asw } = this.#o;
    const desired = new Map<string, VolumeToAttach>();
    for (const v of dsw.getVolumesToAttach()) desired.set(v.attachmentName, v);

    for (const a of asw.getAttachedVolumes()) {
      if (signal.aborted) return;
      if (desired.has(a.attachmentName)) continue;
      // Attached (or attaching) and no longer wanted there.
      if (a.detaching || this.#ops.busy(a.attachmentName)) continue;
      await this.#maybeDetach(a, signal);
    }

    for (const v of desired.values()) {
      if (signal.aborted) return;
      const a = asw.get(v.attachmentName);
      if (a !== undefined) {
        // Known in some state: attaching waits for the attacher, detaching for the object to go.
        asw.resetDetachRequestTime(v.attachmentName);
        continue;
      }
      if (this.#ops.busy(v.attachmentName)) continue;
      if (!v.multiAttachAllowed) {
        const elsewhere = asw.getNodesForVolume(v.volumeName).filter((n) => n !== v.nodeName);
        if (elsewhere.length > 0) {
          // Single-attach volume still on another node: wait for its detach.
          if (!v.multiAttachErrorReported) this.#reportMultiAttachError(v, elsewhere);
          continue;
        }
      }
      this.#attach(v);
    }

    await this.#o.statusUpdater.updateNodeStatuses(signal);
  }

  /** Resolves when every API call started by a pass has finished. */
  drain(): Promise<void> {
    return this.#ops.drain();
  }

  async #maybeDetach(a: AttachedVolume, signal: AbortSignal): Promise<void> {
    const { asw, logger } = this.#o;
    const elapsed = asw.setDetachRequestTime(a.attachmentName, this.#now());
    const forceDetach = elapsed > this.#maxWaitForUnmountMs && !this.#o.nodeIsHealthy(a.nodeName);
    const outOfService = this.#o.nodeIsOutOfService(a.nodeName);
    if (a.mountedByNode && !forceDetach && !outOfService) {
      if (elapsed === 0) logger.info({ volume: a.volumeName, node: a.nodeName }, 'cannot detach volume because it is still mounted');
      return;
    }
    if (a.mountedByNode) {
      logger.warn({ volume: a.volumeName, node: a.nodeName, elapsedMs: elapsed, outOfService }, 'detaching a volume the node still reports in use');
    }
    // Off the node's list first; if that write fails the detach waits for the next pass.
    asw.markVolumeAsDetaching(a.attachmentName);
    try {
      await this.#o.statusUpdater.updateNodeStatusForNode(a.nodeName, signal);
    } catch (err) {
      asw.cancelDetach(a.attachmentName);
      logger.warn({ volume: a.volumeName, node: a.nodeName, err: toError(err) }, 'could not update node status before detach; will retry');
      return;
    }
    this.#ops.start(
      a.attachmentName,
      async () => {
        try {
          await this.#o.client.request('DELETE', resourcePath(resources.volumeAttachments, undefined, a.attachmentName), { signal });
        } catch (err) {
          // Already gone: detached, as far as this controller is concerned.
          if (err instanceof ApiError && err.code === 404) {
            asw.deleteVolumeNode(a.attachmentName);
            return;
          }
          throw err;
        }
        logger.info({ volume: a.volumeName, node: a.nodeName, attachment: a.attachmentName }, 'detach requested: VolumeAttachment deleted');
      },
      (err) => {
        if (signal.aborted) return;
        asw.cancelDetach(a.attachmentName);
        logger.error({ volume: a.volumeName, node: a.nodeName, err }, 'DetachVolume.Detach failed');
      },
    );
  }

  /**
   * Tells the pods waiting for `v` why it is not attached (upstream
   * reportMultiAttachError): the pods in their namespace that hold it on
   * the other node(s) are named; pods of other namespaces are not.
   */
  #reportMultiAttachError(v: VolumeToAttach, otherNodes: string[]): void {
    const { dsw, recorder, logger } = this.#o;
    const others: PodRef[] = [];
    for (const d of dsw.getVolumesToAttach()) {
      if (d.volumeName === v.volumeName && otherNodes.includes(d.nodeName)) others.push(...d.pods.values());
    }
    for (const pod of v.pods.values()) {
      const names = others.filter((o) => o.namespace === pod.namespace).map((o) => o.name).sort();
      const why = names.length > 0 ? `Volume is already used by pod(s) ${names.join(', ')}` : "Volume is already exclusively attached to one node and can't be attached to another";
      recorder.event(podObject(pod), 'Warning', 'FailedAttachVolume', `Multi-Attach error for volume ${JSON.stringify(v.pvName)} ${why}`);
    }
    this.#o.dsw.setMultiAttachError(v.volumeName, v.nodeName);
    logger.warn({ volume: v.volumeName, node: v.nodeName, attachedTo: otherNodes }, 'Multi-Attach error');
  }

  #attach(v: VolumeToAttach): void {
    const { asw, client, recorder, logger } = this.#o;
    const info = { attachmentName: v.attachmentName, nodeName: v.nodeName, pvName: v.pvName, driver: v.driver, volumeName: v.volumeName };
    this.#ops.start(
      v.attachmentName,
      async () => {
        try {
          await client.create(resourcePath(resources.volumeAttachments), {
            apiVersion: 'storage.k8s.io/v1',
            kind: 'VolumeAttachment',
            metadata: { name: v.attachmentName },
            spec: { attacher: v.driver, nodeName: v.nodeName, source: { persistentVolumeName: v.pvName } },
          });
          logger.info({ volume: v.volumeName, node: v.nodeName, attachment: v.attachmentName }, 'attach requested: VolumeAttachment created');
        } catch (err) {
          // Someone (an earlier run) made it already: the same request.
          if (!(err instanceof ApiError && err.code === 409)) throw err;
        }
        asw.markVolumeAsAttaching(info);
      },
      (err) => {
        for (const pod of v.pods.values()) {
          recorder.event(podObject(pod), 'Warning', 'FailedAttachVolume', `AttachVolume.Attach failed for volume ${JSON.stringify(v.pvName)} : ${err.message}`);
        }
        logger.error({ volume: v.volumeName, node: v.nodeName, err }, 'AttachVolume.Attach failed');
      },
    );
  }
}

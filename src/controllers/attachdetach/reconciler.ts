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
// FlexVolume (flex-volumes.ts): the controller is the attacher. Attach runs
// the driver's `attach` in the background; success marks the volume
// attached with the driver's device path (reported in the node's status,
// SuccessfulAttachVolume on its pods), failure leaves it uncertain
// (attaching: detached like an attached one if no longer wanted, attached
// again if still wanted) with a FailedAttachVolume Warning carrying the
// driver's message. Detach follows the same rules as CSI — not while the
// node reports the volume in use, off the node's list first — then runs the
// driver's `detach` and forgets the volume when it succeeds. Two FlexVolume
// rules of our own: a volume is not detached from a node while a pod there
// has a volume of the same driver whose name is not resolved yet (it may be
// this one), and, when the controller was given no FlexVolume plugins, a
// FlexVolume attachment found in a node's status is left alone.
//
// The pass itself only decides and starts API calls and driver calls; a
// volume whose call is still running or backing off (500 ms doubling to
// 2 min 2 s, as upstream's exponential backoff) is skipped quietly, and
// picked up by a later pass.

import type { Logger } from '../../base/index.ts';
import { toError } from '../../base/index.ts';
import { ApiError, resourcePath, resources, type EventRecorder, type RestClient } from '../../client/index.ts';
import type { ActualStateOfWorld, AttachedVolume } from './actual-state-of-world.ts';
import type { DesiredStateOfWorld, PodRef, VolumeToAttach } from './desired-state-of-world.ts';
import type { NodeStatusUpdater } from './node-status-updater.ts';
import { FlexPluginNotFoundError } from './flex-volumes.ts';
import type { AttachableFlexVolume } from '../../volume/plugins/flexvolume/index.ts';

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
  /**
   * FlexVolume support: the attach half of driver `driver` to attach with
   * (ready plugins whose driver attaches), and to detach with (also a
   * removed plugin, whose call then fails and is retried). Without it
   * FlexVolume attachments are neither made nor detached.
   */
  flex?: {
    attacher(driver: string): AttachableFlexVolume | undefined;
    detacher(driver: string): AttachableFlexVolume | undefined;
    /** A pod on `nodeName` has a volume of `driver` whose unique name is not known yet. */
    hasUnresolved(nodeName: string, driver: string): boolean;
  };
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
      if (a.flex !== undefined) {
        // Not ours to detach without plugins; maybe still wanted while a name is unknown.
        const flex = this.#o.flex;
        if (flex === undefined || flex.hasUnresolved(a.nodeName, a.driver)) continue;
      }
      await this.#maybeDetach(a, signal);
    }

    for (const v of desired.values()) {
      if (signal.aborted) return;
      const a = asw.get(v.attachmentName);
      if (v.flex !== undefined) {
        // The controller is the attacher: attached is done, uncertain is attached again.
        if (this.#ops.busy(v.attachmentName) || a?.detaching === true) continue;
        if (a?.attached === true) {
          asw.resetDetachRequestTime(v.attachmentName);
          continue;
        }
      } else if (a !== undefined) {
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
      if (v.flex !== undefined) this.#attachFlex(v, signal);
      else this.#attach(v);
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
    if (a.flex !== undefined) {
      this.#detachFlex(a, a.flex.driverVolumeName, signal);
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

  /** Runs the driver's `detach`; the volume is already off the node's list. */
  #detachFlex(a: AttachedVolume, driverVolumeName: string, signal: AbortSignal): void {
    const { asw, logger } = this.#o;
    this.#ops.start(
      a.attachmentName,
      async () => {
        const detacher = this.#o.flex?.detacher(a.driver);
        if (detacher === undefined) throw new FlexPluginNotFoundError(a.driver);
        await detacher.detach(driverVolumeName, a.nodeName, signal);
        asw.deleteVolumeNode(a.attachmentName);
        logger.info({ volume: a.volumeName, node: a.nodeName }, 'DetachVolume.Detach succeeded');
      },
      (err) => {
        if (signal.aborted) return;
        asw.cancelDetach(a.attachmentName);
        logger.error({ volume: a.volumeName, node: a.nodeName, err }, 'DetachVolume.Detach failed');
      },
    );
  }

  /** Runs the driver's `attach` (upstream's in-tree attach in the operation generator). */
  #attachFlex(v: VolumeToAttach, signal: AbortSignal): void {
    const { asw, recorder, logger } = this.#o;
    const flex = v.flex!;
    const info = {
      attachmentName: v.attachmentName,
      nodeName: v.nodeName,
      pvName: v.pvName,
      driver: v.driver,
      volumeName: v.volumeName,
      flex: { driverVolumeName: v.volumeHandle },
    };
    this.#ops.start(
      v.attachmentName,
      async () => {
        const attacher = this.#o.flex?.attacher(v.driver);
        if (attacher === undefined) throw new FlexPluginNotFoundError(v.driver);
        let devicePath: string;
        try {
          devicePath = await attacher.attach(flex.spec, v.nodeName, signal);
        } catch (err) {
          // The driver may have attached before it failed or timed out: uncertain.
          if (!signal.aborted) asw.markVolumeAsAttaching(info);
          throw err;
        }
        if (asw.markVolumeAsAttached(info, devicePath)) {
          logger.info({ volume: v.volumeName, node: v.nodeName, devicePath }, 'AttachVolume.Attach succeeded');
          for (const pod of v.pods.values()) {
            recorder.event(podObject(pod), 'Normal', 'SuccessfulAttachVolume', `AttachVolume.Attach succeeded for volume ${JSON.stringify(flex.specName)}`);
          }
        }
      },
      (err) => {
        if (signal.aborted) return;
        for (const pod of v.pods.values()) {
          recorder.event(podObject(pod), 'Warning', 'FailedAttachVolume', `AttachVolume.Attach failed for volume ${JSON.stringify(flex.specName)} : ${err.message}`);
        }
        logger.error({ volume: v.volumeName, node: v.nodeName, err }, 'AttachVolume.Attach failed');
      },
    );
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

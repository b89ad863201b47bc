// The attach/detach (AD) controller (upstream
// pkg/controller/volume/attachdetach/attach_detach_controller.go): attaches
// the volumes pods need to the nodes they run on, and detaches them once no
// pod there needs them and the node has unmounted them. Two kinds of volume
// are attachable here:
//   - CSI: attaching is a VolumeAttachment object that the driver's
//     external attacher turns into ControllerPublishVolume, and reports back
//     in its status;
//   - FlexVolume drivers that attach (flex-volumes.ts), when the controller
//     is given their plugins (a FlexVolumeProber on the controller-manager's
//     --flex-volume-plugin-dir): the controller runs the driver's `attach`
//     and `detach` itself, as upstream does for in-tree attachable plugins.
//
// The parts, each in its own file as upstream:
//   desired-state-of-world.ts   managed nodes → volumes → pods needing them
//   actual-state-of-world.ts    attachments (attaching/attached/detaching),
//                               mounted-by-node, nodes needing a status write
//   desired-state-of-world-populator.ts  pods → desired state
//   reconciler.ts               detach, attach, node statuses; every 100 ms
//                               or as soon as something changed
//   node-status-updater.ts      Node status.volumesAttached
//
// Informers feed the two states; only the reconciler writes to the API:
//   - pods: add/remove their volumes in the desired state;
//   - claims, PVs, CSIDrivers, nodes becoming managed: a full populate pass
//     before the next reconcile (a claim bound late still gets attached);
//   - nodes: managed once Ready (or carrying upstream's
//     `volumes.kubernetes.io/controller-managed-attach-detach: "true"`) and
//     until the Node is deleted — a node that is NotReady for a while keeps
//     its volumes; `status.volumesInUse` sets mounted-by-node;
//   - VolumeAttachments: the actual state. `status.attached` true moves an
//     attachment to attached (SuccessfulAttachVolume on its pods); a new
//     `status.attachError` is a FailedAttachVolume Warning on them; a
//     deletionTimestamp means detaching; the object gone means detached;
//   - FlexVolume plugins appearing, changing or going (the prober's events):
//     a full populate pass (a changed driver's volume names are asked for
//     again). A FlexVolume attach or detach the reconciler ran changes the
//     actual state directly.
//
// Start-up, as upstream: wait for every cache, then rebuild the actual
// state from the VolumeAttachments that exist, and — FlexVolume having no
// object — from the `flexvolume-…` entries of the nodes'
// `status.volumesAttached`, with their device paths (and mounted-by-node
// from the nodes), then populate the desired state from all pods — all
// before the first pass, so a restart neither re-creates, re-attaches nor
// detaches anything that is still wanted, and still detaches what a pod
// deleted meanwhile left attached. Transitions seen during the rebuild
// raise no events.

import type { KubeObject } from '../../apimachinery/index.ts';
import type { Disposable, Logger } from '../../base/index.ts';
import { resources, startInformersAndSync, type ControllerContext, type EventRecorder, type Informer } from '../../client/index.ts';
import { ActualStateOfWorld, type AttachmentInfo } from './actual-state-of-world.ts';
import {
  attachmentName,
  csiVolumeName,
  parseCsiVolumeName,
  type Claim,
  type CsiDriver,
  type PersistentVolume,
  type Pod,
  type VolumeAttachment,
  type VolumeLookup,
} from './csi-volumes.ts';
import { DesiredStateOfWorld } from './desired-state-of-world.ts';
import { DesiredStateOfWorldPopulator } from './desired-state-of-world-populator.ts';
import {
  attacherFor,
  detacherFor,
  flexAttachmentKey,
  FlexVolumeNameResolver,
  parseFlexVolumeName,
  type FlexVolumePluginSource,
} from './flex-volumes.ts';
import { NodeStatusUpdater } from './node-status-updater.ts';
import { podObject, Reconciler } from './reconciler.ts';

/** Set by a kubelet that leaves attach/detach to this controller. */
export const CONTROLLER_MANAGED_ATTACH_DETACH_ANNOTATION = 'volumes.kubernetes.io/controller-managed-attach-detach';
/** The taint that lets volumes of a dead node go without waiting for unmount. */
export const OUT_OF_SERVICE_TAINT = 'node.kubernetes.io/out-of-service';
/** Upstream's reconcilerLoopPeriod. */
export const RECONCILER_LOOP_PERIOD_MS = 100;

export interface Node extends KubeObject {
  spec?: { taints?: { key?: string; effect?: string }[] };
  status?: {
    conditions?: { type?: string; status?: string }[];
    volumesInUse?: string[];
    volumesAttached?: { name?: string; devicePath?: string }[];
  };
}

export interface AttachDetachControllerOptions {
  /** Between reconcile passes when nothing changed (default 100 ms). */
  loopPeriodMs?: number;
  /** How long an unhealthy node may keep a volume mounted before it is detached anyway (default 6 min). */
  maxWaitForUnmountMs?: number;
  /**
   * The FlexVolume drivers to attach with (a started FlexVolumeProber).
   * Without it FlexVolume volumes are not attached, and FlexVolume
   * attachments found in node statuses are kept as they are.
   */
  flexVolumePlugins?: FlexVolumePluginSource;
}

/** Runs the attach/detach controller until `signal` aborts. */
export async function startAttachDetachController(
  ctx: ControllerContext,
  signal: AbortSignal,
  options: AttachDetachControllerOptions = {},
): Promise<void> {
  await new AttachDetachController(ctx, options).run(signal);
}

function isNodeReady(node: Node | undefined): boolean {
  return node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

function isNodeManaged(node: Node): boolean {
  return isNodeReady(node) || node.metadata.annotations?.[CONTROLLER_MANAGED_ATTACH_DETACH_ANNOTATION] === 'true';
}

/**
 * The controller object: constructing it registers its informer handlers;
 * run() syncs, rebuilds and reconciles until the signal aborts, then waits
 * for its API calls and removes the handlers.
 */
export class AttachDetachController {
  readonly #recorder: EventRecorder;
  readonly #logger: Logger;
  readonly #informers: ControllerContext['informers'];
  readonly #pods: Informer<Pod>;
  readonly #nodes: Informer<Node>;
  readonly #claims: Informer<Claim>;
  readonly #volumes: Informer<PersistentVolume>;
  readonly #drivers: Informer<CsiDriver>;
  readonly #attachments: Informer<VolumeAttachment>;
  readonly #handlers: Disposable[] = [];
  readonly #loopPeriodMs: number;

  readonly dsw = new DesiredStateOfWorld();
  readonly asw = new ActualStateOfWorld();
  readonly #populator: DesiredStateOfWorldPopulator;
  readonly #reconciler: Reconciler;
  readonly #flexNames: FlexVolumeNameResolver | undefined;

  /** Until the rebuild is done, handlers only record; they neither populate nor raise events. */
  #started = false;
  /** A full populate pass is due before the next reconcile. */
  #dirty = false;
  #wake: (() => void) | undefined;

  constructor(ctx: ControllerContext, options: AttachDetachControllerOptions = {}) {
    this.#recorder = ctx.recorder;
    this.#logger = ctx.logger.child({ component: 'attachdetach-controller' });
    this.#informers = ctx.informers;
    this.#loopPeriodMs = options.loopPeriodMs ?? RECONCILER_LOOP_PERIOD_MS;
    this.#pods = ctx.informers.informerFor<Pod>(resources.pods);
    this.#nodes = ctx.informers.informerFor<Node>(resources.nodes);
    this.#claims = ctx.informers.informerFor<Claim>(resources.persistentVolumeClaims);
    this.#volumes = ctx.informers.informerFor<PersistentVolume>(resources.persistentVolumes);
    this.#drivers = ctx.informers.informerFor<CsiDriver>(resources.csiDrivers);
    this.#attachments = ctx.informers.informerFor<VolumeAttachment>(resources.volumeAttachments);

    const lookup: VolumeLookup = {
      claim: (ns, name) => this.#claims.get(`${ns}/${name}`),
      volume: (name) => this.#volumes.get(name),
      driver: (name) => this.#drivers.get(name),
    };
    const changed = (): void => {
      this.#dirty = true;
      this.#poke();
    };
    const flexPlugins = options.flexVolumePlugins;
    const flexNames = flexPlugins === undefined ? undefined : new FlexVolumeNameResolver({ onChange: changed, logger: this.#logger });
    this.#flexNames = flexNames;
    this.#populator = new DesiredStateOfWorldPopulator({
      dsw: this.dsw,
      lookup,
      pod: (key) => this.#pods.get(key),
      pods: () => this.#pods.list(),
      logger: this.#logger,
      flex: flexPlugins === undefined || flexNames === undefined ? undefined : { plugins: flexPlugins, names: flexNames },
    });
    const statusUpdater = new NodeStatusUpdater({
      client: ctx.client,
      asw: this.asw,
      nodeExists: (name) => this.#nodes.get(name) !== undefined,
      logger: this.#logger,
    });
    this.#reconciler = new Reconciler({
      dsw: this.dsw,
      asw: this.asw,
      client: ctx.client,
      recorder: ctx.recorder,
      statusUpdater,
      nodeIsHealthy: (name) => isNodeReady(this.#nodes.get(name)),
      nodeIsOutOfService: (name) => this.#nodes.get(name)?.spec?.taints?.some((t) => t.key === OUT_OF_SERVICE_TAINT) ?? false,
      logger: this.#logger,
      maxWaitForUnmountMs: options.maxWaitForUnmountMs,
      flex:
        flexPlugins === undefined
          ? undefined
          : {
              attacher: (driver) => attacherFor(flexPlugins, driver),
              detacher: (driver) => detacherFor(flexPlugins, driver),
              hasUnresolved: (nodeName, driver) => this.#populator.hasUnresolved(nodeName, driver),
            },
    });

    if (flexPlugins !== undefined) {
      this.#handlers.push(
        flexPlugins.onDidChange((e) => {
          // A new or changed executable may name volumes differently.
          if (e.type !== 'failed') flexNames?.forget(e.plugin.name);
          changed();
        }),
      );
    }
    this.#handlers.push(
      this.#pods.addEventHandler({
        onAdd: (pod) => this.#podChanged(pod, false),
        onUpdate: (old, pod) => {
          if (old.metadata.uid !== pod.metadata.uid) this.#podChanged(old, true);
          this.#podChanged(pod, false);
        },
        onDelete: (pod) => this.#podChanged(pod, true),
      }),
      this.#claims.addEventHandler({ onAdd: changed, onUpdate: changed, onDelete: changed }),
      this.#volumes.addEventHandler({ onAdd: changed, onUpdate: changed, onDelete: changed }),
      this.#drivers.addEventHandler({ onAdd: changed, onUpdate: changed, onDelete: changed }),
      this.#nodes.addEventHandler({
        onAdd: (node) => this.#nodeChanged(node, true),
        onUpdate: (_old, node) => this.#nodeChanged(node, false),
        onDelete: (node) => {
          if (!this.#started) return;
          this.dsw.deleteNode(node.metadata.name ?? '');
          this.#poke();
        },
      }),
      this.#attachments.addEventHandler({
        onAdd: (va) => this.#attachmentChanged(va),
        onUpdate: (_old, va) => this.#attachmentChanged(va),
        onDelete: (va) => {
          if (!this.#started) return;
          this.asw.deleteVolumeNode(va.metadata.name ?? '');
          this.#poke();
        },
      }),
    );
  }

  /** Syncs the caches, rebuilds both states and reconciles until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    try {
      const caches = [this.#pods, this.#nodes, this.#claims, this.#volumes, this.#drivers, this.#attachments];
      if (!(await startInformersAndSync(this.#informers, signal, caches))) return;
      this.#rebuild();
      this.#logger.info('started');
      while (!signal.aborted) {
        if (this.#dirty) {
          this.#dirty = false;
          this.#populator.populate();
        }
        await this.#reconciler.reconcile(signal);
        await this.#sleep(signal);
      }
    } finally {
      this.dispose();
      this.#poke();
      this.#flexNames?.dispose();
      await Promise.all([this.#reconciler.drain(), this.#flexNames?.drain()]);
    }
  }

  /** Removes the informer handlers. */
  dispose(): void {
    for (const h of this.#handlers.splice(0)) h.dispose();
  }

  /** Both states from the caches, quietly (upstream populateActualStateOfWorld / populateDesiredStateOfWorld). */
  #rebuild(): void {
    for (const node of this.#nodes.list()) if (isNodeManaged(node)) this.dsw.addNode(node.metadata.name ?? '');
    for (const va of this.#attachments.list()) this.#recordAttachment(va, false);
    for (const node of this.#nodes.list()) {
      const name = node.metadata.name ?? '';
      this.#recordFlexAttachments(node);
      this.asw.setVolumesMountedByNode(name, new Set(node.status?.volumesInUse ?? []));
      // Write only what the node's status does not say already.
      const entry = (v: { name?: string; devicePath?: string }): string => `${v.name ?? ''}\0${v.devicePath ?? ''}`;
      const want = this.asw.getVolumesToReportAttached(name).map(entry);
      const have = (node.status?.volumesAttached ?? []).map(entry).sort();
      if (want.join('\n') !== have.join('\n')) this.asw.setNodeStatusUpdateNeeded(name);
    }
    this.#populator.populate();
    this.#dirty = false;
    this.#started = true;
  }

  /**
   * FlexVolume attachments have no object: the node's status is their
   * record (upstream populateActualStateOfWorld). Each `flexvolume-…` entry
   * is attached there with its device path, whether or not its driver is
   * known now — forgetting it would drop it from the node's status.
   */
  #recordFlexAttachments(node: Node): void {
    const nodeName = node.metadata.name ?? '';
    for (const v of node.status?.volumesAttached ?? []) {
      const parsed = parseFlexVolumeName(v.name ?? '');
      if (parsed === undefined) continue;
      const volumeName = v.name!;
      this.asw.markVolumeAsAttached(
        {
          attachmentName: flexAttachmentKey(volumeName, nodeName),
          nodeName,
          pvName: '',
          driver: parsed.driver,
          volumeName,
          flex: { driverVolumeName: parsed.driverVolumeName },
        },
        v.devicePath ?? '',
      );
    }
  }

  #podChanged(pod: Pod, deleted: boolean): void {
    if (!this.#started) return;
    this.#populator.processPod(pod, deleted);
    this.#poke();
  }

  #nodeChanged(node: Node, added: boolean): void {
    if (!this.#started) return;
    const name = node.metadata.name ?? '';
    if (!this.dsw.nodeExists(name) && isNodeManaged(node)) {
      this.dsw.addNode(name);
      this.#dirty = true;
    }
    this.asw.setVolumesMountedByNode(name, new Set(node.status?.volumesInUse ?? []));
    // A recreated Node object starts without our volumesAttached.
    if (added) this.asw.setNodeStatusUpdateNeeded(name);
    this.#poke();
  }

  #attachmentChanged(va: VolumeAttachment): void {
    if (!this.#started) return;
    this.#recordAttachment(va, true);
    this.#poke();
  }

  /** Folds one VolumeAttachment into the actual state; `live` raises the events of a transition. */
  #recordAttachment(va: VolumeAttachment, live: boolean): void {
    const info = this.#attachmentInfo(va);
    if (info === undefined) return;
    const status = va.status ?? {};
    if (va.metadata.deletionTimestamp !== undefined) {
      // Being deleted (by us or anyone): on its way out, whatever its status says.
      this.asw.markVolumeAsAttaching(info);
      this.asw.markVolumeAsDetaching(info.attachmentName);
      return;
    }
    if (status.attached === true) {
      if (this.asw.markVolumeAsAttached(info) && live) {
        this.#podEvents(info.attachmentName, 'Normal', 'SuccessfulAttachVolume', `AttachVolume.Attach succeeded for volume ${JSON.stringify(info.pvName)}`);
      }
      return;
    }
    this.asw.markVolumeAsAttaching(info);
    const err = status.attachError;
    if (err !== undefined && this.asw.setAttachError(info.attachmentName, `${err.time ?? ''}/${err.message ?? ''}`) && live) {
      this.#podEvents(info.attachmentName, 'Warning', 'FailedAttachVolume', `AttachVolume.Attach failed for volume ${JSON.stringify(info.pvName)} : ${err.message ?? ''}`);
    }
  }

  /** The actual-state key of a VolumeAttachment; undefined for one this controller would never make. */
  #attachmentInfo(va: VolumeAttachment): AttachmentInfo | undefined {
    const name = va.metadata.name ?? '';
    const nodeName = va.spec?.nodeName ?? '';
    const driver = va.spec?.attacher ?? '';
    const pvName = va.spec?.source?.persistentVolumeName ?? '';
    if (name === '' || nodeName === '' || driver === '' || pvName === '') return undefined;
    return { attachmentName: name, nodeName, pvName, driver, volumeName: this.#volumeNameOf(name, pvName, driver, nodeName) };
  }

  /**
   * The unique volume name behind an attachment: from its PV, or — the PV
   * deleted meanwhile — from the node's reported volumes whose name hashes
   * to this attachment. Undefined when neither knows it.
   */
  #volumeNameOf(name: string, pvName: string, driver: string, nodeName: string): string | undefined {
    const csi = this.#volumes.get(pvName)?.spec?.csi;
    if (csi?.driver === driver && csi.volumeHandle !== undefined && attachmentName(csi.volumeHandle, driver, nodeName) === name) {
      return csiVolumeName(driver, csi.volumeHandle);
    }
    for (const v of this.#nodes.get(nodeName)?.status?.volumesAttached ?? []) {
      const parsed = parseCsiVolumeName(v.name ?? '');
      if (parsed?.driver === driver && attachmentName(parsed.volumeHandle, driver, nodeName) === name) return v.name;
    }
    return undefined;
  }

  #podEvents(attachment: string, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const desired = this.dsw.getByAttachmentName(attachment);
    for (const pod of desired?.pods.values() ?? []) this.#recorder.event(podObject(pod), type, reason, message);
  }

  #poke(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Waits one loop period, or less when something changed or `signal` aborted. Never rejects. */
  #sleep(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      // A plain timer: this runs ten times a second, so no AbortController or CancelledError per pass.
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, this.#loopPeriodMs);
      signal.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }
}

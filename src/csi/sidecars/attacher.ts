// The external attacher (kubernetes-csi/external-attacher,
// pkg/controller/csi_handler.go, much shortened): turns the AD controller's
// VolumeAttachments for this driver into ControllerPublishVolume and
// ControllerUnpublishVolume calls, and reports the outcome in their status.
//
// Attach: a VolumeAttachment of ours, not being deleted and not yet attached →
// put our finalizer on it and on its PV (so neither object can go while the
// volume may still be published) → ControllerPublishVolume with the PV's
// volume handle and the node's id for this driver from its CSINode → status
// `attached: true` with the publish context as attachmentMetadata. A failure
// is written as `status.attachError` and retried with backoff.
//
// Detach: a VolumeAttachment being deleted that still has our finalizer →
// ControllerUnpublishVolume → drop the finalizer (the API server then removes
// the object). A failure is `status.detachError`. The PV's finalizer is
// dropped once no VolumeAttachment of ours refers to the PV any more.
//
// Only PV-backed attachments are handled; inline (migrated) volumes are not.

import type { PersistentVolume } from '../../api/core/volume-types.ts';
import { toError } from '../../base/index.ts';
import { Informer, WorkQueue, objectKey, resourcePath, resources, runWorkers } from '../../client/index.ts';
import type { AccessModeName, VolumeCapability } from '../index.ts';
import { attacherFinalizer, errorText, isNotFound, readSecret, type CSINode, type SidecarContext, type VolumeAttachment } from './types.ts';

export interface ExternalAttacherOptions {
  /** Workers (default 2; upstream --worker-threads is 10). */
  workers?: number;
  /** Per-key backoff of failed attachments (default 100 ms → 5 min). */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** An attachment the attacher cannot turn into a CSI call (missing PV, CSINode, inline source). */
export class AttachError extends Error {
  override readonly name = 'AttachError';
  readonly attachment: string;
  constructor(attachment: string, message: string) {
    super(message);
    this.attachment = attachment;
  }
}

/**
 * Runs the external attacher for `ctx.driverName` until `signal` aborts;
 * resolves once its workers have returned.
 */
export async function startExternalAttacher(ctx: SidecarContext, signal: AbortSignal, options: ExternalAttacherOptions = {}): Promise<void> {
  const a = new ExternalAttacher(ctx, options);
  await a.run(signal);
}

class ExternalAttacher {
  readonly #ctx: SidecarContext;
  readonly #driver: string;
  readonly #finalizer: string;
  readonly #logger: SidecarContext['logger'];
  readonly #workers: number;
  readonly #attachments: Informer<VolumeAttachment>;
  readonly #volumes: Informer<PersistentVolume>;
  readonly #csiNodes: Informer<CSINode>;
  readonly #queue: WorkQueue<string>;
  readonly #pvQueue: WorkQueue<string>;

  constructor(ctx: SidecarContext, options: ExternalAttacherOptions) {
    this.#ctx = ctx;
    this.#driver = ctx.driverName;
    this.#finalizer = attacherFinalizer(ctx.driverName);
    this.#logger = ctx.logger.child({ component: 'external-attacher', driver: ctx.driverName });
    this.#workers = options.workers ?? 2;
    const backoff = { baseDelayMs: options.baseDelayMs ?? 100, maxDelayMs: options.maxDelayMs ?? 300_000 };
    this.#queue = new WorkQueue<string>({ name: 'attacher-volumeattachments', ...backoff });
    this.#pvQueue = new WorkQueue<string>({ name: 'attacher-persistentvolumes', ...backoff });
    this.#attachments = ctx.informers.informerFor<VolumeAttachment>(resources.volumeAttachments);
    this.#volumes = ctx.informers.informerFor<PersistentVolume>(resources.persistentVolumes);
    this.#csiNodes = ctx.informers.informerFor<CSINode>(resources.csiNodes);
  }

  async run(signal: AbortSignal): Promise<void> {
    const onVA = (va: VolumeAttachment): void => {
      if (va.spec.attacher !== this.#driver) return;
      this.#queue.add(objectKey(va));
      const pvName = va.spec.source.persistentVolumeName;
      if (pvName !== undefined) this.#pvQueue.add(pvName);
    };
    const handlers = [
      this.#attachments.addEventHandler({ onAdd: onVA, onUpdate: (_o, va) => onVA(va), onDelete: onVA }),
      this.#volumes.addEventHandler({
        onAdd: (pv) => this.#pvQueue.add(objectKey(pv)),
        onUpdate: (_o, pv) => this.#pvQueue.add(objectKey(pv)),
      }),
    ];
    signal.addEventListener('abort', () => handlers.forEach((h) => h.dispose()), { once: true });
    this.#ctx.informers.start(signal);
    try {
      await Promise.all([this.#attachments, this.#volumes, this.#csiNodes].map((i) => i.waitForSync(signal)));
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    this.#logger.info('started');
    const opts = { signal, logger: this.#logger };
    await Promise.all([
      runWorkers(this.#queue, this.#workers, (key) => this.#syncAttachment(key, signal), opts),
      runWorkers(this.#pvQueue, 1, (key) => this.#syncVolume(key), opts),
    ]);
  }

  async #syncAttachment(name: string, signal: AbortSignal): Promise<void> {
    const va = this.#attachments.get(name);
    if (va === undefined || va.spec.attacher !== this.#driver) return;
    if (va.metadata.deletionTimestamp !== undefined) {
      if ((va.metadata.finalizers ?? []).includes(this.#finalizer)) await this.#detach(va, signal);
      return;
    }
    if (va.status?.attached === true) return;
    await this.#attach(va, signal);
  }

  async #attach(va: VolumeAttachment, signal: AbortSignal): Promise<void> {
    let current = va;
    try {
      // Finalizers first: once published, neither object may disappear unnoticed.
      current = (await this.#addFinalizer(va)) ?? va;
      const { pv, nodeId, capability, secrets } = await this.#callArguments(current, true);
      await this.#addPVFinalizer(pv);
      const res = await this.#ctx.csi.controller.ControllerPublishVolume(
        {
          volume_id: pv.spec.csi?.volumeHandle ?? '',
          node_id: nodeId,
          volume_capability: capability,
          readonly: pv.spec.csi?.readOnly === true,
          secrets,
          volume_context: (pv.spec.csi?.volumeAttributes as Record<string, string> | undefined) ?? {},
        },
        { signal },
      );
      await this.#writeStatus(current, { attached: true, attachmentMetadata: res.publish_context ?? {}, attachError: null });
      this.#logger.info({ va: va.metadata.name, node: va.spec.nodeName }, 'attached');
    } catch (thrown) {
      const err = toError(thrown);
      if (signal.aborted) throw err;
      await this.#writeStatus(current, { attachError: { time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), message: errorText(err) } }).catch(() => {});
      throw err;
    }
  }

  async #detach(va: VolumeAttachment, signal: AbortSignal): Promise<void> {
    try {
      const { pv, nodeId, secrets } = await this.#callArguments(va, false);
      await this.#ctx.csi.controller.ControllerUnpublishVolume({ volume_id: pv.spec.csi?.volumeHandle ?? '', node_id: nodeId, secrets }, { signal });
    } catch (thrown) {
      const err = toError(thrown);
      if (signal.aborted) throw err;
      await this.#writeStatus(va, { detachError: { time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), message: errorText(err) } }).catch(() => {});
      throw err;
    }
    // Detached: mark it, then let the object go.
    const marked = (await this.#writeStatus(va, { attached: false, attachmentMetadata: null, detachError: null }).catch(() => undefined)) ?? va;
    try {
      await this.#ctx.client.patch(resourcePath(resources.volumeAttachments, undefined, va.metadata.name), {
        metadata: { resourceVersion: marked.metadata.resourceVersion, finalizers: (marked.metadata.finalizers ?? []).filter((f) => f !== this.#finalizer) },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    this.#logger.info({ va: va.metadata.name, node: va.spec.nodeName }, 'detached');
    const pvName = va.spec.source.persistentVolumeName;
    if (pvName !== undefined) this.#pvQueue.add(pvName);
  }

  /** The PV, the node's id for this driver, the capability and the publish secrets. */
  async #callArguments(
    va: VolumeAttachment,
    needCapability: boolean,
  ): Promise<{ pv: PersistentVolume; nodeId: string; capability: VolumeCapability; secrets: Record<string, string> }> {
    const name = va.metadata.name ?? '';
    const pvName = va.spec.source.persistentVolumeName;
    if (pvName === undefined) throw new AttachError(name, 'inline volumes are not supported by this attacher');
    const pv = this.#volumes.get(pvName) ?? (await this.#ctx.client.get<PersistentVolume>(resourcePath(resources.persistentVolumes, undefined, pvName)));
    if (pv.spec.csi === undefined || pv.spec.csi.driver !== this.#driver) throw new AttachError(name, `persistent volume ${pvName} is not a ${this.#driver} volume`);
    const entry = this.#csiNodes.get(va.spec.nodeName)?.spec.drivers?.find((d) => d.name === this.#driver);
    if (entry === undefined) throw new AttachError(name, `CSINode ${va.spec.nodeName} does not contain driver ${this.#driver}`);
    const block = pv.spec.volumeMode === 'Block';
    const mode = pv.spec.accessModes?.[0];
    const accessMode: AccessModeName =
      mode === 'ReadOnlyMany' ? 'MULTI_NODE_READER_ONLY' : mode === 'ReadWriteMany' ? 'MULTI_NODE_MULTI_WRITER' : 'SINGLE_NODE_WRITER';
    const fsType = typeof pv.spec.csi.fsType === 'string' ? pv.spec.csi.fsType : '';
    const capability: VolumeCapability = needCapability
      ? { ...(block ? { block: {} } : { mount: { fs_type: fsType, mount_flags: pv.spec.mountOptions ?? [] } }), access_mode: { mode: accessMode } }
      : {};
    const ref = pv.spec.csi.controllerPublishSecretRef as { name?: string; namespace?: string } | undefined;
    const secrets = ref?.name !== undefined && ref.namespace !== undefined ? await readSecret(this.#ctx, ref.namespace, ref.name) : {};
    return { pv, nodeId: entry.nodeID, capability, secrets };
  }

  async #addFinalizer(va: VolumeAttachment): Promise<VolumeAttachment | undefined> {
    const finalizers = va.metadata.finalizers ?? [];
    if (finalizers.includes(this.#finalizer)) return va;
    return await this.#ctx.client.patch<VolumeAttachment>(resourcePath(resources.volumeAttachments, undefined, va.metadata.name), {
      metadata: { resourceVersion: va.metadata.resourceVersion, finalizers: [...finalizers, this.#finalizer] },
    });
  }

  async #addPVFinalizer(pv: PersistentVolume): Promise<void> {
    const finalizers = pv.metadata.finalizers ?? [];
    if (finalizers.includes(this.#finalizer)) return;
    await this.#ctx.client.patch(resourcePath(resources.persistentVolumes, undefined, pv.metadata.name), {
      metadata: { resourceVersion: pv.metadata.resourceVersion, finalizers: [...finalizers, this.#finalizer] },
    });
  }

  /** Drops the PV's finalizer once no attachment of ours names the PV. */
  async #syncVolume(name: string): Promise<void> {
    const pv = this.#volumes.get(name);
    if (pv === undefined || !(pv.metadata.finalizers ?? []).includes(this.#finalizer)) return;
    const inUse = this.#attachments.list().some((va) => va.spec.attacher === this.#driver && va.spec.source.persistentVolumeName === name);
    if (inUse) return;
    try {
      await this.#ctx.client.patch(resourcePath(resources.persistentVolumes, undefined, name), {
        metadata: { resourceVersion: pv.metadata.resourceVersion, finalizers: (pv.metadata.finalizers ?? []).filter((f) => f !== this.#finalizer) },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** A merge patch of the status subresource; resolves the written object. */
  async #writeStatus(va: VolumeAttachment, status: Record<string, unknown>): Promise<VolumeAttachment> {
    return await this.#ctx.client.patch<VolumeAttachment>(resourcePath(resources.volumeAttachments, undefined, va.metadata.name, 'status'), { status });
  }
}

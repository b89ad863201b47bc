// The external provisioner (kubernetes-csi/external-provisioner,
// pkg/controller/controller.go, much shortened): turns claims that the PV
// controller left to this driver into CreateVolume calls and pre-bound PVs,
// and turns Released PVs it created back into DeleteVolume calls.
//
// Claims: a claim is ours when `volume.kubernetes.io/storage-provisioner`
// names the driver, it is Pending with no volumeName, its class names the
// driver, and — for WaitForFirstConsumer — the scheduler has chosen a node
// (`volume.kubernetes.io/selected-node`). The volume is named `pvc-<uid>` so
// a retried or restarted provision asks the driver for the same volume
// (CreateVolume is idempotent by name) and finds the PV it already saved.
//
// Write order: CreateVolume, then the PV with claimRef set (the PV controller
// finishes the bind). If the claim went away while the driver worked, or the
// PV cannot be saved after a few tries, the new volume is deleted again so
// nothing is left that no object points to.
//
// Volumes: a PV with `pv.kubernetes.io/provisioned-by: <driver>` that is
// Released (or being deleted) with reclaim policy Delete → DeleteVolume →
// drop our finalizer → delete the PV. Retain only drops the finalizer once
// the PV is being deleted.
//
// Failures requeue with the work queue's per-key backoff; each failed
// CreateVolume is a ProvisioningFailed event with the driver's message.

import { hostname } from 'node:os';
import type { KubeObject } from '../../apimachinery/index.ts';
import { parseQuantity, quantityString } from '../../apimachinery/index.ts';
import {
  ANN_BETA_STORAGE_PROVISIONER,
  ANN_DYNAMICALLY_PROVISIONED,
  ANN_SELECTED_NODE,
  ANN_STORAGE_PROVISIONER,
  type NodeSelectorTerm,
  type PersistentVolume,
  type PersistentVolumeClaim,
  type StorageClass,
} from '../../api/core/volume-types.ts';
import { toError } from '../../base/index.ts';
import {
  Informer,
  WorkQueue,
  objectKey,
  resourcePath,
  resources,
  runWorkers,
} from '../../client/index.ts';
import type { CreateVolumeRequest, Topology, VolumeCapability, AccessModeName } from '../index.ts';
import {
  ANN_DELETION_SECRET_NAME,
  ANN_DELETION_SECRET_NAMESPACE,
  CSI_PARAMETER_PREFIX,
  PARAM_FSTYPE,
  PROVISIONER_FINALIZER,
  errorText,
  isAlreadyExists,
  isNotFound,
  readSecret,
  type CSINode,
  type SidecarContext,
} from './types.ts';

export interface ExternalProvisionerOptions {
  /** Workers per queue (default 2; upstream --worker-threads is 100). */
  workers?: number;
  /** Attempts to save the PV before the volume is deleted again (default 5). */
  createPVRetries?: number;
  /** Per-key backoff of failed claims and volumes (default 100 ms → 5 min; upstream 1 s → 5 min). */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** A claim the provisioner cannot make a request from (bad size, unknown access mode, missing node). */
export class ProvisioningError extends Error {
  override readonly name = 'ProvisioningError';
  readonly claim: string;
  constructor(claim: string, message: string) {
    super(message);
    this.claim = claim;
  }
}

type SecretKind = 'provisioner' | 'controller-publish' | 'node-stage' | 'node-publish' | 'controller-expand' | 'node-expand';
const PV_SECRET_FIELDS: [SecretKind, string][] = [
  ['controller-publish', 'controllerPublishSecretRef'],
  ['node-stage', 'nodeStageSecretRef'],
  ['node-publish', 'nodePublishSecretRef'],
  ['controller-expand', 'controllerExpandSecretRef'],
  ['node-expand', 'nodeExpandSecretRef'],
];

const CLAIM_KIND = { kind: 'PersistentVolumeClaim', apiVersion: 'v1' } as const;

/**
 * Runs the external provisioner for `ctx.driverName` until `signal` aborts;
 * resolves once its workers have returned. Starts the shared informers it
 * uses (idempotent) and waits for their caches first.
 */
export async function startExternalProvisioner(ctx: SidecarContext, signal: AbortSignal, options: ExternalProvisionerOptions = {}): Promise<void> {
  const p = new ExternalProvisioner(ctx, options);
  await p.run(signal);
}

class ExternalProvisioner {
  readonly #ctx: SidecarContext;
  readonly #driver: string;
  readonly #logger: SidecarContext['logger'];
  readonly #recorder: SidecarContext['recorder'];
  readonly #options: Required<ExternalProvisionerOptions>;
  readonly #claims: Informer<PersistentVolumeClaim>;
  readonly #volumes: Informer<PersistentVolume>;
  readonly #classes: Informer<StorageClass>;
  readonly #csiNodes: Informer<CSINode>;
  readonly #nodes: Informer<KubeObject>;
  readonly #claimQueue: WorkQueue<string>;
  readonly #volumeQueue: WorkQueue<string>;
  #topologySupported = false;

  constructor(ctx: SidecarContext, options: ExternalProvisionerOptions) {
    this.#ctx = ctx;
    this.#driver = ctx.driverName;
    this.#logger = ctx.logger.child({ component: 'external-provisioner', driver: ctx.driverName });
    // Events come from the provisioner's identity, `<driver>_<host>` (upstream adds a uuid).
    this.#recorder = ctx.recorder.withComponent(`${ctx.driverName}_${hostname()}`);
    this.#options = {
      workers: options.workers ?? 2,
      createPVRetries: options.createPVRetries ?? 5,
      baseDelayMs: options.baseDelayMs ?? 100,
      maxDelayMs: options.maxDelayMs ?? 300_000,
    };
    const backoff = { baseDelayMs: this.#options.baseDelayMs, maxDelayMs: this.#options.maxDelayMs };
    this.#claimQueue = new WorkQueue<string>({ name: 'provisioner-claims', ...backoff });
    this.#volumeQueue = new WorkQueue<string>({ name: 'provisioner-volumes', ...backoff });
    this.#claims = ctx.informers.informerFor<PersistentVolumeClaim>(resources.persistentVolumeClaims);
    this.#volumes = ctx.informers.informerFor<PersistentVolume>(resources.persistentVolumes);
    this.#classes = ctx.informers.informerFor<StorageClass>(resources.storageClasses);
    this.#csiNodes = ctx.informers.informerFor<CSINode>(resources.csiNodes);
    this.#nodes = ctx.informers.informerFor(resources.nodes);
  }

  async run(signal: AbortSignal): Promise<void> {
    // Upstream asks the driver once whether it reports topology; without it no requirements are sent.
    const caps = await this.#ctx.csi.identity.GetPluginCapabilities({}, { signal });
    this.#topologySupported = caps.capabilities.some((c) => c.service?.type === 'VOLUME_ACCESSIBILITY_CONSTRAINTS');

    const handlers = [
      this.#claims.addEventHandler({
        onAdd: (c) => this.#claimQueue.add(objectKey(c)),
        onUpdate: (_o, c) => this.#claimQueue.add(objectKey(c)),
      }),
      this.#volumes.addEventHandler({
        onAdd: (v) => this.#volumeQueue.add(objectKey(v)),
        onUpdate: (_o, v) => this.#volumeQueue.add(objectKey(v)),
      }),
      // A class created after its claims (or changed) may make them ours.
      this.#classes.addEventHandler({
        onAdd: (c) => this.#enqueueClaimsOf(c),
        onUpdate: (_o, c) => this.#enqueueClaimsOf(c),
      }),
    ];
    signal.addEventListener('abort', () => handlers.forEach((h) => h.dispose()), { once: true });
    this.#ctx.informers.start(signal);
    try {
      await Promise.all([this.#claims, this.#volumes, this.#classes, this.#csiNodes, this.#nodes].map((i) => i.waitForSync(signal)));
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    this.#logger.info('started');
    const opts = { signal, logger: this.#logger };
    await Promise.all([
      runWorkers(this.#claimQueue, this.#options.workers, (key) => this.#syncClaim(key, signal), opts),
      runWorkers(this.#volumeQueue, this.#options.workers, (key) => this.#syncVolume(key, signal), opts),
    ]);
  }

  // -------------------------------------------------------------------------
  // Claims

  #enqueueClaimsOf(cls: StorageClass): void {
    if (cls.provisioner !== this.#driver) return;
    for (const claim of this.#claims.list()) if (claim.spec.storageClassName === cls.metadata.name) this.#claimQueue.add(objectKey(claim));
  }

  /** The class of a claim this provisioner should act on now, or undefined. */
  #shouldProvision(claim: PersistentVolumeClaim): StorageClass | undefined {
    const ann = claim.metadata.annotations ?? {};
    const provisioner = ann[ANN_STORAGE_PROVISIONER] ?? ann[ANN_BETA_STORAGE_PROVISIONER];
    if (provisioner !== this.#driver) return undefined;
    if ((claim.spec.volumeName ?? '') !== '') return undefined;
    if ((claim.status?.phase ?? 'Pending') !== 'Pending') return undefined;
    if (claim.metadata.deletionTimestamp !== undefined) return undefined;
    const cls = this.#classes.get(claim.spec.storageClassName ?? '');
    if (cls === undefined || cls.provisioner !== this.#driver) return undefined;
    if (cls.volumeBindingMode === 'WaitForFirstConsumer' && (ann[ANN_SELECTED_NODE] ?? '') === '') return undefined;
    return cls;
  }

  async #syncClaim(key: string, signal: AbortSignal): Promise<void> {
    const claim = this.#claims.get(key);
    if (claim === undefined) return; // deleted; a volume created meanwhile is cleaned up by #provision
    const cls = this.#shouldProvision(claim);
    if (cls === undefined) return;
    const pvName = `pvc-${claim.metadata.uid ?? ''}`;
    // A PV saved by an earlier attempt (maybe by a previous process): nothing to do.
    if (this.#volumes.get(pvName) !== undefined) return;
    try {
      await this.#ctx.client.get(resourcePath(resources.persistentVolumes, undefined, pvName));
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    await this.#provision(claim, cls, pvName, signal);
  }

  async #provision(claim: PersistentVolumeClaim, cls: StorageClass, pvName: string, signal: AbortSignal): Promise<void> {
    const claimKey = objectKey(claim);
    const claimRef = { ...claim, ...CLAIM_KIND };
    this.#recorder.event(claimRef, 'Normal', 'Provisioning', `External provisioner is provisioning volume for claim "${claimKey}"`);
    const fail = (err: Error): Error => {
      this.#recorder.event(claimRef, 'Warning', 'ProvisioningFailed', `failed to provision volume with StorageClass "${cls.metadata.name ?? ''}": ${errorText(err)}`);
      return err;
    };

    let req: CreateVolumeRequest;
    let fsType: string;
    try {
      ({ req, fsType } = await this.#buildRequest(claim, cls, pvName));
    } catch (err) {
      throw fail(toError(err));
    }
    let volume;
    try {
      ({ volume } = await this.#ctx.csi.controller.CreateVolume(req, { signal }));
    } catch (err) {
      throw fail(toError(err));
    }
    const deleteAgain = async (why: string): Promise<void> => {
      this.#logger.info({ claim: claimKey, volumeId: volume.volume_id }, `deleting the new volume: ${why}`);
      await this.#ctx.csi.controller.DeleteVolume({ volume_id: volume.volume_id, secrets: req.secrets ?? {} }, { signal });
    };

    // The claim may have gone (or been replaced by a namesake) while the driver worked.
    try {
      const now = await this.#ctx.client.get<PersistentVolumeClaim>(resourcePath(resources.persistentVolumeClaims, claim.metadata.namespace, claim.metadata.name));
      if (now.metadata.uid !== claim.metadata.uid) {
        await deleteAgain('the claim was replaced');
        return;
      }
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await deleteAgain('the claim was deleted');
      return;
    }

    const pv = await this.#buildVolume(claim, cls, pvName, volume, fsType, req);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#ctx.client.create(resourcePath(resources.persistentVolumes), pv);
        break;
      } catch (err) {
        if (isAlreadyExists(err)) break;
        if (attempt >= this.#options.createPVRetries) {
          this.#recorder.event(claimRef, 'Warning', 'ProvisioningFailed', `Error creating provisioned PV object for claim ${claimKey}: ${toError(err).message}. Deleting the volume.`);
          await deleteAgain('the PV could not be saved');
          throw err;
        }
        this.#logger.warn({ claim: claimKey, err: toError(err).message, attempt }, 'saving the PV failed, retrying');
      }
    }
    this.#recorder.event(claimRef, 'Normal', 'ProvisioningSucceeded', `Successfully provisioned volume ${pvName}`);
  }

  async #buildRequest(claim: PersistentVolumeClaim, cls: StorageClass, pvName: string): Promise<{ req: CreateVolumeRequest; fsType: string }> {
    const claimKey = objectKey(claim);
    const params = cls.parameters ?? {};
    const requested = claim.spec.resources?.requests?.storage;
    if (requested === undefined) throw new ProvisioningError(claimKey, 'claim has no storage request');
    const q = parseQuantity(requested);
    // Round a fractional byte count up, as upstream's Quantity.Value().
    const bytes = Number(q.scale >= 0 ? q.unscaled * 10n ** BigInt(q.scale) : (q.unscaled + 10n ** BigInt(-q.scale) - 1n) / 10n ** BigInt(-q.scale));

    const block = claim.spec.volumeMode === 'Block';
    let fsType = '';
    for (const [k, v] of Object.entries(params)) {
      if (k.toLowerCase() === PARAM_FSTYPE) fsType = v;
      else if (k.toLowerCase() === 'fstype' && fsType === '') fsType = v; // the deprecated spelling
    }
    if (block) fsType = '';
    const modes = claim.spec.accessModes ?? [];
    if (modes.length === 0) throw new ProvisioningError(claimKey, 'claim has no access modes');
    const capabilities: VolumeCapability[] = modes.map((m) => ({
      ...(block ? { block: {} } : { mount: { fs_type: fsType, mount_flags: cls.mountOptions ?? [] } }),
      access_mode: { mode: csiAccessMode(claimKey, m) },
    }));

    const parameters: Record<string, string> = {};
    for (const [k, v] of Object.entries(params)) if (!k.startsWith(CSI_PARAMETER_PREFIX)) parameters[k] = v;

    const req: CreateVolumeRequest = {
      name: pvName,
      capacity_range: { required_bytes: bytes },
      volume_capabilities: capabilities,
      parameters,
    };
    const secretRef = secretReference(params, 'provisioner', claim, pvName);
    if (secretRef !== undefined) req.secrets = await readSecret(this.#ctx, secretRef.namespace, secretRef.name);
    if (this.#topologySupported) {
      const requirements = this.#topologyRequirement(claim, cls);
      if (requirements !== undefined) req.accessibility_requirements = requirements;
    }
    return { req, fsType };
  }

  /**
   * requisite/preferred (upstream GenerateAccessibilityRequirements, simplified):
   * the selected node's segment when there is one; else the class's
   * allowedTopologies; else every segment a node of this driver reports.
   */
  #topologyRequirement(claim: PersistentVolumeClaim, cls: StorageClass): { requisite: Topology[]; preferred: Topology[] } | undefined {
    const selected = claim.metadata.annotations?.[ANN_SELECTED_NODE] ?? '';
    if (selected !== '') {
      const segment = this.#segmentOf(selected);
      if (segment === undefined) throw new ProvisioningError(objectKey(claim), `topology labels of node "${selected}" for driver ${this.#driver} not found (no CSINode entry or missing node labels)`);
      return { requisite: [segment], preferred: [segment] };
    }
    const allowed = cls.allowedTopologies ?? [];
    if (allowed.length > 0) {
      const terms: Topology[] = [];
      for (const term of allowed) {
        let combos: Record<string, string>[] = [{}];
        for (const expr of term.matchLabelExpressions ?? []) combos = combos.flatMap((c) => expr.values.map((v) => ({ ...c, [expr.key]: v })));
        terms.push(...combos.map((segments) => ({ segments })));
      }
      return { requisite: terms, preferred: terms };
    }
    const all = new Map<string, Topology>();
    for (const csiNode of this.#csiNodes.list()) {
      const segment = this.#segmentOf(csiNode.metadata.name ?? '');
      if (segment !== undefined) all.set(JSON.stringify(segment.segments), segment);
    }
    if (all.size === 0) return undefined;
    const list = [...all.values()];
    return { requisite: list, preferred: list };
  }

  /** The node's values of the topology keys its CSINode lists for this driver. */
  #segmentOf(nodeName: string): Topology | undefined {
    const entry = this.#csiNodes.get(nodeName)?.spec.drivers?.find((d) => d.name === this.#driver);
    const node = this.#nodes.get(nodeName);
    if (entry === undefined || node === undefined) return undefined;
    const labels = node.metadata.labels ?? {};
    const segments: Record<string, string> = {};
    for (const key of entry.topologyKeys ?? []) {
      const value = labels[key];
      if (value === undefined) return undefined;
      segments[key] = value;
    }
    return Object.keys(segments).length === 0 ? undefined : { segments };
  }

  async #buildVolume(
    claim: PersistentVolumeClaim,
    cls: StorageClass,
    pvName: string,
    volume: { volume_id: string; capacity_bytes?: number; volume_context?: Record<string, string>; accessible_topology?: Topology[] },
    fsType: string,
    req: CreateVolumeRequest,
  ): Promise<PersistentVolume> {
    const params = cls.parameters ?? {};
    const csi: Record<string, unknown> = { driver: this.#driver, volumeHandle: volume.volume_id };
    if (fsType !== '') csi.fsType = fsType;
    if (volume.volume_context !== undefined && Object.keys(volume.volume_context).length > 0) csi.volumeAttributes = volume.volume_context;
    for (const [kind, field] of PV_SECRET_FIELDS) {
      const ref = secretReference(params, kind, claim, pvName);
      if (ref !== undefined) csi[field] = ref;
    }
    // A driver that reports no size gets the requested one (upstream does the same).
    const capacityBytes = volume.capacity_bytes !== undefined && volume.capacity_bytes > 0 ? volume.capacity_bytes : (req.capacity_range?.required_bytes ?? 0);
    const annotations: Record<string, string> = { [ANN_DYNAMICALLY_PROVISIONED]: this.#driver };
    const deletionSecret = secretReference(params, 'provisioner', claim, pvName);
    if (deletionSecret !== undefined) {
      annotations[ANN_DELETION_SECRET_NAME] = deletionSecret.name;
      annotations[ANN_DELETION_SECRET_NAMESPACE] = deletionSecret.namespace;
    }
    const pv: PersistentVolume = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: pvName, annotations, finalizers: [PROVISIONER_FINALIZER] },
      spec: {
        csi: csi as PersistentVolume['spec']['csi'],
        capacity: { storage: quantityString({ unscaled: BigInt(capacityBytes), scale: 0, format: 'BinarySI' }) },
        accessModes: claim.spec.accessModes ?? [],
        volumeMode: claim.spec.volumeMode ?? 'Filesystem',
        claimRef: {
          kind: 'PersistentVolumeClaim',
          apiVersion: 'v1',
          namespace: claim.metadata.namespace,
          name: claim.metadata.name,
          uid: claim.metadata.uid,
          resourceVersion: claim.metadata.resourceVersion,
        },
        storageClassName: cls.metadata.name,
        persistentVolumeReclaimPolicy: cls.reclaimPolicy ?? 'Delete',
      },
    };
    if ((cls.mountOptions ?? []).length > 0) pv.spec.mountOptions = cls.mountOptions;
    const terms: NodeSelectorTerm[] = (volume.accessible_topology ?? [])
      .filter((t) => Object.keys(t.segments ?? {}).length > 0)
      .map((t) => ({ matchExpressions: Object.entries(t.segments ?? {}).map(([key, value]) => ({ key, operator: 'In' as const, values: [value] })) }));
    if (this.#topologySupported && terms.length > 0) pv.spec.nodeAffinity = { required: { nodeSelectorTerms: terms } };
    return pv;
  }

  // -------------------------------------------------------------------------
  // Volumes

  async #syncVolume(name: string, signal: AbortSignal): Promise<void> {
    const pv = this.#volumes.get(name);
    if (pv === undefined) return;
    if (pv.metadata.annotations?.[ANN_DYNAMICALLY_PROVISIONED] !== this.#driver) return;
    if (pv.spec.csi?.driver !== this.#driver) return;
    const deleting = pv.metadata.deletionTimestamp !== undefined;
    // Released, or an unbound PV object deleted by hand (upstream's HonorPVReclaimPolicy).
    const released = pv.status?.phase === 'Released' || (deleting && pv.status?.phase !== 'Bound');
    const hasFinalizer = (pv.metadata.finalizers ?? []).includes(PROVISIONER_FINALIZER);
    if (pv.spec.persistentVolumeReclaimPolicy !== 'Delete') {
      // Retain (or Recycle): the storage stays; only let a deleted PV object go.
      if (deleting && hasFinalizer) await this.#removeFinalizer(pv);
      return;
    }
    if (!released) return;

    // volume Released with reclaim Delete: the storage goes, then the object.
    const pvRef = { ...pv, kind: 'PersistentVolume', apiVersion: 'v1' };
    try {
      const secrets = await this.#deletionSecrets(pv);
      await this.#ctx.csi.controller.DeleteVolume({ volume_id: pv.spec.csi.volumeHandle, secrets }, { signal });
    } catch (err) {
      this.#recorder.event(pvRef, 'Warning', 'VolumeFailedDelete', errorText(toError(err)));
      throw err;
    }
    this.#logger.info({ pv: name, volumeId: pv.spec.csi.volumeHandle }, 'deleted volume');
    const updated = hasFinalizer ? await this.#removeFinalizer(pv) : pv;
    if (updated === undefined) return;
    try {
      await this.#ctx.client.delete(resourcePath(resources.persistentVolumes, undefined, name), {
        preconditions: { uid: pv.metadata.uid },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async #deletionSecrets(pv: PersistentVolume): Promise<Record<string, string>> {
    const ann = pv.metadata.annotations ?? {};
    const name = ann[ANN_DELETION_SECRET_NAME];
    const namespace = ann[ANN_DELETION_SECRET_NAMESPACE];
    if (name === undefined || namespace === undefined || name === '') return {};
    return await readSecret(this.#ctx, namespace, name);
  }

  /** Drops our finalizer with a patch pinned to the PV's resourceVersion; undefined when the PV is gone. */
  async #removeFinalizer(pv: PersistentVolume): Promise<PersistentVolume | undefined> {
    try {
      return await this.#ctx.client.patch<PersistentVolume>(resourcePath(resources.persistentVolumes, undefined, pv.metadata.name), {
        metadata: {
          resourceVersion: pv.metadata.resourceVersion,
          finalizers: (pv.metadata.finalizers ?? []).filter((f) => f !== PROVISIONER_FINALIZER),
        },
      });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err; // a conflict requeues quietly
    }
  }
}

/** The CSI access mode of a Kubernetes one (without SINGLE_NODE_MULTI_WRITER support, as upstream's default). */
function csiAccessMode(claimKey: string, mode: string): AccessModeName {
  switch (mode) {
    case 'ReadWriteOnce':
    case 'ReadWriteOncePod':
      return 'SINGLE_NODE_WRITER';
    case 'ReadOnlyMany':
      return 'MULTI_NODE_READER_ONLY';
    case 'ReadWriteMany':
      return 'MULTI_NODE_MULTI_WRITER';
    default:
      throw new ProvisioningError(claimKey, `unknown access mode ${mode}`);
  }
}

/**
 * The `<kind>-secret-name`/`-namespace` class parameters with their templates
 * filled in (`${pv.name}`, `${pvc.namespace}`, `${pvc.name}`); undefined when
 * the class names no such secret.
 */
function secretReference(
  params: Record<string, string>,
  kind: SecretKind,
  claim: PersistentVolumeClaim,
  pvName: string,
): { name: string; namespace: string } | undefined {
  const name = params[`${CSI_PARAMETER_PREFIX}${kind}-secret-name`];
  const namespace = params[`${CSI_PARAMETER_PREFIX}${kind}-secret-namespace`];
  if (name === undefined || namespace === undefined) return undefined;
  const fill = (s: string): string =>
    s
      .replaceAll('${pv.name}', pvName)
      .replaceAll('${pvc.namespace}', claim.metadata.namespace ?? '')
      .replaceAll('${pvc.name}', claim.metadata.name ?? '');
  return { name: fill(name), namespace: fill(namespace) };
}

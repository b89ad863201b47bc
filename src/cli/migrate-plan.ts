// The decisions of `volplane migrate flexvolume`, without I/O: which PVs can
// move from a FlexVolume driver to a CSI driver, what the CSI driver is asked
// to adopt, what the replacement PV looks like, and how a plan reads.
// migrate.ts does the talking (API server, CSI socket).
//
// Kubernetes semantics this follows: a PV's volume source is immutable, so a
// PV cannot be edited from flexVolume to csi. It is replaced instead — same
// name, same claimRef (uid included), capacity, access modes, class, mount
// options, node affinity, volume mode, labels and annotations — and the claim,
// which refers to the PV only by name, stays bound to it. Only the source
// changes, plus an annotation recording where the volume came from (enough
// to put the old PV back by hand).
//
// A PV is refused while anything may have it mounted: a pod that uses its
// claim and has not finished, or a node that still lists it in
// status.volumesInUse / volumesAttached (the kubelet or the attach/detach
// controller has not let go of it yet). Moving a mounted volume between
// drivers would leave the old driver's mount and loop device behind.

import type { PersistentVolume } from '../api/core/volume-types.ts';
import type { KubeObject } from '../apimachinery/index.ts';
import type { AccessModeName, CreateVolumeRequest, Volume } from '../csi/index.ts';

/** The annotation on a migrated PV: JSON of the FlexVolume source it replaced. */
export const ANN_MIGRATED_FROM = 'volplane.io/migrated-from';
/**
 * The annotation the migration puts on a bound claim: the CSI driver that now
 * serves its volume. Writing it is also what makes the PV controller look at
 * the claim at once (a claim it marked Lost while the PV was gone is bound
 * again by its next sync), instead of at its next periodic resync.
 */
export const ANN_CLAIM_MIGRATED_TO = 'volplane.io/volume-migrated-to';
/** CreateVolume parameter of volplane's driver that takes over an existing image (src/drivers/volplane/adopt.ts). */
export const PARAM_ADOPT_FILE = 'volplane.io/adopt-file';
/** Finalizers the migration removes from the old PV so it can go while its claim is bound. */
export const REMOVABLE_FINALIZERS: readonly string[] = ['kubernetes.io/pv-protection', 'kubernetes.io/pv-controller'];

export interface FlexVolumeSource {
  driver: string;
  fsType?: string;
  options?: Record<string, string>;
  readOnly?: boolean;
  secretRef?: { name?: string; namespace?: string } | null;
}

/** How one FlexVolume driver's volumes map onto one CSI driver. */
export interface FlexTranslation {
  flexDriver: string;
  csiDriver: string;
  /** The CreateVolume request that makes the CSI driver take the volume over; throws MigrationRefusedError. */
  adoptRequest(pv: PersistentVolume, flex: FlexVolumeSource): { file: string; request: CreateVolumeRequest };
  /** What the new PV's spec.csi takes from CreateVolume's answer. */
  csiFields(volume: Volume): CsiVolumeFields;
}

/** A PV that cannot (or must not) be migrated now; `reason` is the whole explanation. */
export class MigrationRefusedError extends Error {
  override readonly name = 'MigrationRefusedError';
  readonly pv: string;
  readonly reason: string;
  constructor(pv: string, reason: string) {
    super(`PersistentVolume ${pv}: ${reason}`);
    this.pv = pv;
    this.reason = reason;
  }
}

const ACCESS_MODES: Record<string, AccessModeName> = {
  ReadWriteOnce: 'SINGLE_NODE_WRITER',
  ReadOnlyMany: 'MULTI_NODE_READER_ONLY',
  ReadWriteMany: 'MULTI_NODE_MULTI_WRITER',
  ReadWriteOncePod: 'SINGLE_NODE_SINGLE_WRITER',
};

/**
 * volplane/loop (examples/flexvolume/volplane~loop/loop) keeps a volume as
 * `<options.dir>/<PV name>.img` — the driver names the file after
 * `kubernetes.io/pvOrVolumeName`, which is the PV's name — and volplane's
 * CSI driver adopts that file in place.
 */
export const VOLPLANE_LOOP_TO_CSI: FlexTranslation = {
  flexDriver: 'volplane/loop',
  csiDriver: 'csi.volplane.io',
  adoptRequest(pv, flex) {
    const name = pv.metadata.name ?? '';
    const dir = flex.options?.dir ?? '';
    if (dir === '' || !dir.startsWith('/')) {
      throw new MigrationRefusedError(name, `flexVolume option "dir" must be an absolute directory, not ${JSON.stringify(dir)}`);
    }
    const file = `${dir.replace(/\/+$/, '')}/${name}.img`;
    const modes = (pv.spec.accessModes ?? ['ReadWriteOnce']).map((m) => ACCESS_MODES[m] ?? 'SINGLE_NODE_WRITER');
    const block = pv.spec.volumeMode === 'Block';
    return {
      file,
      request: {
        name,
        parameters: { [PARAM_ADOPT_FILE]: file, kind: 'loop' },
        // No fs_type: the driver keeps whatever filesystem the file holds and tells us.
        volume_capabilities: modes.map((mode) => (block ? { block: {}, access_mode: { mode } } : { mount: { fs_type: '', mount_flags: [] }, access_mode: { mode } })),
      },
    };
  },
  csiFields(volume) {
    const attributes = { ...(volume.volume_context ?? {}) };
    const fsType = attributes['volplane.io/fsType'];
    return { volumeHandle: volume.volume_id ?? '', ...(fsType === undefined || fsType === '' ? {} : { fsType }), volumeAttributes: attributes };
  },
};

export const TRANSLATIONS: readonly FlexTranslation[] = [VOLPLANE_LOOP_TO_CSI];

export function findTranslation(flexDriver: string, csiDriver: string): FlexTranslation | undefined {
  return TRANSLATIONS.find((t) => t.flexDriver === flexDriver && t.csiDriver === csiDriver);
}

export function flexSourceOf(pv: PersistentVolume): FlexVolumeSource | undefined {
  const src = pv.spec.flexVolume;
  if (src === null || typeof src !== 'object') return undefined;
  return src as FlexVolumeSource;
}

/** The name the kubelet and attach/detach controller use for a FlexVolume PV (flexUniqueVolumeName, getvolumename unsupported). */
export function flexUniqueName(flexDriver: string, pvName: string): string {
  return `flexvolume-${flexDriver}/${pvName}`;
}

export interface UsageWorld {
  pods: readonly KubeObject[];
  nodes: readonly KubeObject[];
}

/** Who still uses `pv`: pods of its claim that have not finished, nodes that list it in use or attached. */
export function volumeUsers(pv: PersistentVolume, flexDriver: string, world: UsageWorld): { pods: string[]; nodes: string[] } {
  const ref = pv.spec.claimRef;
  const pods: string[] = [];
  if (ref !== undefined && ref !== null && (ref.name ?? '') !== '') {
    for (const pod of world.pods) {
      if ((pod.metadata.namespace ?? '') !== (ref.namespace ?? '')) continue;
      const phase = (pod.status as { phase?: string } | undefined)?.phase;
      if (phase === 'Succeeded' || phase === 'Failed') continue;
      const volumes = ((pod.spec as { volumes?: { name: string; persistentVolumeClaim?: { claimName?: string }; ephemeral?: unknown }[] } | undefined)?.volumes ?? []);
      const uses = volumes.some(
        (v) => v.persistentVolumeClaim?.claimName === ref.name || (v.ephemeral !== undefined && `${pod.metadata.name ?? ''}-${v.name}` === ref.name),
      );
      if (uses) pods.push(`${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`);
    }
  }
  const unique = flexUniqueName(flexDriver, pv.metadata.name ?? '');
  const nodes: string[] = [];
  for (const node of world.nodes) {
    const status = node.status as { volumesInUse?: string[]; volumesAttached?: { name: string }[] } | undefined;
    const inUse = (status?.volumesInUse ?? []).includes(unique);
    const attached = (status?.volumesAttached ?? []).some((a) => a.name === unique);
    if (inUse || attached) nodes.push(`${node.metadata.name ?? ''} (${[inUse ? 'in use' : '', attached ? 'attached' : ''].filter(Boolean).join(', ')})`);
  }
  return { pods: pods.sort(), nodes: nodes.sort() };
}

/** One PV's migration, as planned before anything changes. */
export interface VolumeMigration {
  pvName: string;
  /** The PV as read when planning; execution checks it has not changed since. */
  old: PersistentVolume;
  flex: FlexVolumeSource;
  translation: FlexTranslation;
  /** The image file the CSI driver takes over. */
  file: string;
  createVolume: CreateVolumeRequest;
  /** Finalizers to remove from the old PV once it is deleted. */
  finalizers: string[];
  /** Things the user should know that do not stop the migration. */
  notes: string[];
}

/** Plans the migration of `pv`; throws MigrationRefusedError when it must not happen now. */
export function planVolumeMigration(pv: PersistentVolume, translation: FlexTranslation, world: UsageWorld): VolumeMigration {
  const name = pv.metadata.name ?? '';
  const flex = flexSourceOf(pv);
  if (flex === undefined) throw new MigrationRefusedError(name, 'is not a FlexVolume PV');
  if (flex.driver !== translation.flexDriver) {
    throw new MigrationRefusedError(name, `uses FlexVolume driver ${flex.driver}, not ${translation.flexDriver}`);
  }
  if (pv.metadata.deletionTimestamp !== undefined) throw new MigrationRefusedError(name, 'is being deleted');
  const users = volumeUsers(pv, translation.flexDriver, world);
  if (users.pods.length > 0) {
    throw new MigrationRefusedError(
      name,
      `is in use by pod${users.pods.length > 1 ? 's' : ''} ${users.pods.join(', ')}; delete ${users.pods.length > 1 ? 'them' : 'it'} (or scale the owner down) and run the migration again`,
    );
  }
  if (users.nodes.length > 0) {
    throw new MigrationRefusedError(name, `is still held by node ${users.nodes.join(', ')}; wait until the node unmounts and detaches it`);
  }
  const unknown = (pv.metadata.finalizers ?? []).filter((f) => !REMOVABLE_FINALIZERS.includes(f));
  if (unknown.length > 0) {
    throw new MigrationRefusedError(name, `has finalizer ${unknown.join(', ')} of another controller; migrate it once that is gone`);
  }
  const { file, request } = translation.adoptRequest(pv, flex);
  const notes: string[] = [];
  if (flex.secretRef !== undefined && flex.secretRef !== null) {
    notes.push(`flexVolume.secretRef ${flex.secretRef.name ?? ''} is not carried over (${translation.csiDriver} takes no secrets)`);
  }
  const policy = pv.spec.persistentVolumeReclaimPolicy ?? 'Retain';
  if (policy === 'Delete') {
    // No pv.kubernetes.io/provisioned-by is added: nobody provisioned this volume, so, as
    // with FlexVolume (which has no deleter), a released PV goes Failed and the file stays.
    notes.push(`reclaim policy Delete is kept; as before, no provisioner deletes ${file} when the claim goes (the PV goes Failed instead)`);
  }
  return { pvName: name, old: pv, flex, translation, file, createVolume: request, finalizers: pv.metadata.finalizers ?? [], notes };
}

export interface CsiVolumeFields {
  volumeHandle: string;
  fsType?: string;
  volumeAttributes: Record<string, string>;
}

/**
 * The PV that replaces `old`: the same object with `spec.flexVolume` swapped
 * for `spec.csi` and the server-owned metadata dropped. The reclaim policy is
 * the one the user had (the migration sets Retain on the old object only).
 */
export function replacementVolume(plan: VolumeMigration, csi: CsiVolumeFields): PersistentVolume {
  const old = plan.old;
  const spec = structuredClone(old.spec);
  delete spec.flexVolume;
  spec.csi = {
    driver: plan.translation.csiDriver,
    volumeHandle: csi.volumeHandle,
    ...(csi.fsType === undefined ? {} : { fsType: csi.fsType }),
    ...(plan.flex.readOnly === true ? { readOnly: true } : {}),
    volumeAttributes: { ...csi.volumeAttributes },
  };
  const ref = spec.claimRef;
  if (ref !== undefined && ref !== null) delete ref.resourceVersion;
  const from: Record<string, unknown> = { flexVolume: plan.flex, uid: old.metadata.uid };
  const annotations = { ...(old.metadata.annotations ?? {}), [ANN_MIGRATED_FROM]: JSON.stringify(from) };
  const metadata: PersistentVolume['metadata'] = { name: plan.pvName, annotations };
  if (old.metadata.labels !== undefined) metadata.labels = { ...old.metadata.labels };
  return { apiVersion: 'v1', kind: 'PersistentVolume', metadata, spec };
}

/** The placeholder a dry run shows for what only the CSI driver can say. */
export const FROM_CREATE_VOLUME = '<from CreateVolume>';

/** A diff-like account of one planned migration (the dry run prints it; the real run too, before acting). */
export function renderPlan(plan: VolumeMigration): string {
  const old = plan.old;
  const ref = old.spec.claimRef;
  const claim = ref === undefined || ref === null ? 'no claim' : `claim ${ref.namespace ?? ''}/${ref.name ?? ''} (uid ${ref.uid ?? 'unset'})`;
  const policy = old.spec.persistentVolumeReclaimPolicy ?? 'Retain';
  const preview = replacementVolume(plan, { volumeHandle: FROM_CREATE_VOLUME, fsType: plan.flex.fsType ?? 'ext4', volumeAttributes: {} });
  const lines = [
    `PersistentVolume ${plan.pvName}: ${old.status?.phase ?? 'Pending'}, ${claim}`,
    `  ${plan.translation.csiDriver} adopts ${plan.file}: CreateVolume name=${plan.pvName} parameters=${JSON.stringify(plan.createVolume.parameters ?? {})}`,
    `  ~ spec.persistentVolumeReclaimPolicy: ${policy} -> Retain on the old object while it is replaced${policy === 'Retain' ? ' (already)' : `, ${policy} again on the new one`}`,
  ];
  if (plan.finalizers.length > 0) lines.push(`  - metadata.finalizers: ${plan.finalizers.join(', ')} (removed after the delete, so the bound PV can go)`);
  lines.push(`  delete PersistentVolume ${plan.pvName} (uid ${old.metadata.uid ?? ''}) and create it again:`);
  lines.push(`  - spec.flexVolume: ${JSON.stringify(plan.flex)}`);
  const csi = preview.spec.csi as Record<string, unknown>;
  lines.push(
    `  + spec.csi: ${JSON.stringify({ ...csi, fsType: `<as found in the file; the PV says ${plan.flex.fsType ?? 'nothing (ext4)'}>`, volumeAttributes: FROM_CREATE_VOLUME })}`,
  );
  lines.push(`  + metadata.annotations[${JSON.stringify(ANN_MIGRATED_FROM)}]: ${preview.metadata.annotations?.[ANN_MIGRATED_FROM] ?? ''}`);
  const kept = ['capacity', 'accessModes', 'claimRef', 'storageClassName', 'mountOptions', 'nodeAffinity', 'volumeMode'].filter(
    (f) => old.spec[f] !== undefined && old.spec[f] !== null,
  );
  lines.push(`  = kept: ${[...kept.map((f) => `spec.${f}`), 'labels', 'annotations'].join(', ')}`);
  if (ref !== undefined && ref !== null) lines.push(`  = claim ${ref.namespace ?? ''}/${ref.name ?? ''} stays bound to ${plan.pvName} (it may show Lost until the new PV exists)`);
  for (const note of plan.notes) lines.push(`  ! ${note}`);
  return lines.join('\n');
}

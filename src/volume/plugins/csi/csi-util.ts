// Names, paths, on-disk records and errors of the CSI volume plugin — the
// parts of upstream's csi_util.go, csi_attacher.go (makeDeviceMountPath,
// getAttachmentName) and csi_block.go (the volumeDevices layout) that carry
// over exactly, because a reader, a restarted node agent and other
// components must find the same names and files.
//
// Layout under the kubelet root:
//   plugins/kubernetes.io/csi/<driver>/<sha256(handle)>/globalmount     staging target (filesystem)
//   plugins/kubernetes.io/csi/<driver>/<sha256(handle)>/vol_data.json   what unstage needs
//   plugins/kubernetes.io/csi/volumeDevices/staging/<pv>                staging target (block)
//   plugins/kubernetes.io/csi/volumeDevices/<pv>/data/vol_data.json     what unstage needs (block)
//   plugins/kubernetes.io/csi/volumeDevices/publish/<pv>/<podUID>       publish target (block): a device file
//   pods/<uid>/volumes/kubernetes.io~csi/<name>/mount                   publish target (filesystem)
//   pods/<uid>/volumes/kubernetes.io~csi/<name>/vol_data.json           what unpublish and reconstruction need

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeObject } from '../../../apimachinery/index.ts';
import type { FSGroupPolicy, VolumeLifecycleMode } from '../../../api/storage/csi-driver.ts';
import type { AccessModeName, CsiError, GrpcCodeName } from '../../../csi/index.ts';
import { pluginDir, podVolumeDir, volumeSpecName, type VolumeSpec } from '../../plugin.ts';

export const CSI_PLUGIN_NAME = 'kubernetes.io/csi';
export const VOL_DATA_FILE_NAME = 'vol_data.json';
export const GLOBAL_MOUNT_DIR = 'globalmount';
/** Upstream's csiTimeout: the deadline of every node call. */
export const DEFAULT_CSI_TIMEOUT_MS = 2 * 60_000;
const VOLUME_NAME_SEP = '^';

/** Keys of vol_data.json, spelled as upstream (volDataKey). `volumeMode` is ours: block volumes publish elsewhere. */
export const VOL_DATA_KEY = {
  specVolID: 'specVolID',
  volHandle: 'volumeHandle',
  driverName: 'driverName',
  nodeName: 'nodeName',
  attachmentID: 'attachmentID',
  volumeLifecycleMode: 'volumeLifecycleMode',
  volumeMode: 'volumeMode',
} as const;

/** volume_context keys set when the CSIDriver asks for podInfoOnMount. */
export const POD_INFO_KEY = {
  podName: 'csi.storage.k8s.io/pod.name',
  podNamespace: 'csi.storage.k8s.io/pod.namespace',
  podUid: 'csi.storage.k8s.io/pod.uid',
  serviceAccountName: 'csi.storage.k8s.io/serviceAccount.name',
  ephemeral: 'csi.storage.k8s.io/ephemeral',
} as const;

// ------------------------------------------------------------------ names

/** `kubernetes.io/csi/<driver>^<volumeHandle>` (same as the AD controller's csiVolumeName). */
export function csiUniqueVolumeName(driver: string, volumeHandle: string): string {
  return `${CSI_PLUGIN_NAME}/${driver}${VOLUME_NAME_SEP}${volumeHandle}`;
}

/**
 * The per-pod unique name of an inline (ephemeral) CSI volume, upstream's
 * GetUniqueVolumeNameFromSpecWithPod: `kubernetes.io/csi/<podUID>-<volName>`.
 * Inline volumes are never shared, attached or staged.
 */
export function csiInlineUniqueVolumeName(podUid: string, volName: string): string {
  return `${CSI_PLUGIN_NAME}/${podUid}-${volName}`;
}

/** What getUniqueVolumeName answers for an inline volume, which has no node-wide name (see there). */
export function csiEphemeralVolumeName(driver: string, volName: string): string {
  return `${CSI_PLUGIN_NAME}/ephemeral-${driver}-${volName}`;
}

/** The VolumeAttachment name: `csi-<hex sha256(handle + driver + node)>` (getAttachmentName). */
export function csiAttachmentName(volumeHandle: string, driver: string, nodeName: string): string {
  return `csi-${sha256(`${volumeHandle}${driver}${nodeName}`)}`;
}

/** An inline volume's handle: `csi-<hex sha256(podUID + volName)>` (makeVolumeHandle). */
export function inlineVolumeHandle(podUid: string, volName: string): string {
  return `csi-${sha256(`${podUid}${volName}`)}`;
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

// ------------------------------------------------------------------ paths

/** `<root>/plugins/kubernetes.io/csi/<driver>/<sha256(handle)>/globalmount`. */
export function csiDeviceMountPath(rootDir: string, driver: string, volumeHandle: string): string {
  return join(pluginDir(rootDir, CSI_PLUGIN_NAME), driver, sha256(volumeHandle), GLOBAL_MOUNT_DIR);
}

/** `<root>/plugins/kubernetes.io/csi/volumeDevices`. */
export function volumeDevicesDir(rootDir: string): string {
  return join(pluginDir(rootDir, CSI_PLUGIN_NAME), 'volumeDevices');
}

/** `<root>/plugins/kubernetes.io/csi/volumeDevices/staging/<pv>`. */
export function blockStagingPath(rootDir: string, specName: string): string {
  return join(volumeDevicesDir(rootDir), 'staging', specName);
}

/** `<root>/plugins/kubernetes.io/csi/volumeDevices/<pv>/data`: the block staging's vol_data.json. */
export function blockDataDir(rootDir: string, specName: string): string {
  return join(volumeDevicesDir(rootDir), specName, 'data');
}

/** `<root>/plugins/kubernetes.io/csi/volumeDevices/publish/<pv>/<podUID>`: the device file a pod gets. */
export function blockPublishPath(rootDir: string, specName: string, podUid: string): string {
  return join(volumeDevicesDir(rootDir), 'publish', specName, podUid);
}

/** `<root>/pods/<uid>/volumes/kubernetes.io~csi/<name>`. */
export function csiPodVolumeDir(rootDir: string, podUid: string, volName: string): string {
  return podVolumeDir(rootDir, podUid, CSI_PLUGIN_NAME, volName);
}

// ----------------------------------------------------------------- volume data

export type VolumeData = Record<string, string>;

/** Writes vol_data.json in `dir` (whole or not at all), in Go's encoding: sorted keys, one line. */
export async function saveVolumeData(dir: string, data: VolumeData): Promise<void> {
  const sorted: VolumeData = {};
  for (const k of Object.keys(data).sort()) sorted[k] = data[k]!;
  const file = join(dir, VOL_DATA_FILE_NAME);
  const tmp = `${file}.tmp`;
  await writeFile(tmp, `${JSON.stringify(sorted)}\n`, { mode: 0o640 });
  await rename(tmp, file);
}

/** vol_data.json of `dir`; undefined when there is none. A file that is not a string map throws. */
export async function loadVolumeData(dir: string): Promise<VolumeData | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, VOL_DATA_FILE_NAME), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseVolumeData(join(dir, VOL_DATA_FILE_NAME), text);
}

/** As loadVolumeData, for the few places that must answer synchronously. Unreadable → undefined. */
export function loadVolumeDataSync(dir: string): VolumeData | undefined {
  try {
    return parseVolumeData(join(dir, VOL_DATA_FILE_NAME), readFileSync(join(dir, VOL_DATA_FILE_NAME), 'utf8'));
  } catch {
    return undefined;
  }
}

function parseVolumeData(file: string, text: string): VolumeData {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`volume data file ${file} is not a JSON object`);
  }
  const out: VolumeData = {};
  for (const [k, v] of Object.entries(parsed)) if (typeof v === 'string') out[k] = v;
  return out;
}

// ------------------------------------------------------------------ specs

export interface SecretReference {
  name?: string;
  namespace?: string;
}

/** spec.csi of a PersistentVolume (CSIPersistentVolumeSource). */
export interface CsiPersistentVolumeSource {
  driver: string;
  volumeHandle: string;
  readOnly?: boolean;
  fsType?: string;
  volumeAttributes?: Record<string, string>;
  nodeStageSecretRef?: SecretReference;
  nodePublishSecretRef?: SecretReference;
  controllerPublishSecretRef?: SecretReference;
  controllerExpandSecretRef?: SecretReference;
  nodeExpandSecretRef?: SecretReference;
}

/** `csi` of a pod volume (CSIVolumeSource, an inline ephemeral volume). */
export interface CsiVolumeSource {
  driver: string;
  readOnly?: boolean;
  fsType?: string;
  volumeAttributes?: Record<string, string>;
  /** Only a name: the secret is in the pod's namespace. */
  nodePublishSecretRef?: { name?: string };
}

/** The CSI view of a VolumeSpec: one of the two sources, never both. */
export type CsiSource =
  | { kind: 'persistent'; pv: CsiPersistentVolumeSource; specName: string }
  | { kind: 'ephemeral'; inline: CsiVolumeSource; specName: string };

/** Thrown for a spec that has no usable CSI source (a bug in the caller, or an invalid object). */
export class CsiSpecError extends Error {
  override readonly name = 'CsiSpecError';
}

export function csiSourceOf(spec: VolumeSpec): CsiSource {
  const pvSource = spec.persistentVolume?.spec.csi as CsiPersistentVolumeSource | undefined;
  if (pvSource !== undefined) {
    if (typeof pvSource.driver !== 'string' || pvSource.driver === '') throw new CsiSpecError('CSI source driver name is empty');
    if (typeof pvSource.volumeHandle !== 'string' || pvSource.volumeHandle === '') {
      throw new CsiSpecError('CSIPersistentVolumeSource volume handle is empty');
    }
    return { kind: 'persistent', pv: pvSource, specName: volumeSpecName(spec) };
  }
  const inline = spec.volume?.csi as CsiVolumeSource | undefined;
  if (inline !== undefined && inline !== null && typeof inline === 'object') {
    if (typeof inline.driver !== 'string' || inline.driver === '') throw new CsiSpecError('CSI source driver name is empty');
    return { kind: 'ephemeral', inline, specName: volumeSpecName(spec) };
  }
  throw new CsiSpecError('volume source not found in volume.Spec');
}

export function driverOf(source: CsiSource): string {
  return source.kind === 'persistent' ? source.pv.driver : source.inline.driver;
}

export function lifecycleModeOf(source: CsiSource): VolumeLifecycleMode {
  return source.kind === 'persistent' ? 'Persistent' : 'Ephemeral';
}

/** Whether the PV asks for raw block access (volumeMode: Block). Inline volumes are always filesystems. */
export function isBlockSpec(spec: VolumeSpec): boolean {
  return spec.persistentVolume?.spec.volumeMode === 'Block';
}

// --------------------------------------------------------------- CSIDriver

/** The fields of storage.k8s.io/v1 CSIDriver the plugin reads. */
export interface CsiDriverSpec {
  attachRequired?: boolean;
  podInfoOnMount?: boolean;
  fsGroupPolicy?: FSGroupPolicy | '';
  volumeLifecycleModes?: VolumeLifecycleMode[];
  requiresRepublish?: boolean;
}

export function csiDriverSpec(obj: KubeObject | undefined): CsiDriverSpec | undefined {
  if (obj === undefined) return undefined;
  const spec = (obj as { spec?: unknown }).spec;
  return typeof spec === 'object' && spec !== null ? (spec as CsiDriverSpec) : {};
}

/** The fields of storage.k8s.io/v1 VolumeAttachment the plugin reads. */
export interface VolumeAttachmentView {
  deletionTimestamp?: string;
  attached: boolean;
  attachmentMetadata: Record<string, string>;
  attachError?: string;
}

export function volumeAttachmentView(obj: KubeObject): VolumeAttachmentView {
  const status = (obj as { status?: { attached?: boolean; attachmentMetadata?: Record<string, string>; attachError?: { message?: string } } }).status;
  return {
    deletionTimestamp: obj.metadata.deletionTimestamp ?? undefined,
    attached: status?.attached === true,
    attachmentMetadata: { ...(status?.attachmentMetadata ?? {}) },
    attachError: status?.attachError === undefined || status.attachError === null ? undefined : (status.attachError.message ?? ''),
  };
}

// ------------------------------------------------------------ access modes

/**
 * Kubernetes access mode → CSI access mode (upstream asCSIAccessModeV1). With
 * SINGLE_NODE_MULTI_WRITER the driver can tell ReadWriteOnce (many pods of one
 * node) from ReadWriteOncePod (exactly one).
 */
export function csiAccessMode(mode: string | undefined, singleNodeMultiWriter: boolean): AccessModeName {
  switch (mode ?? 'ReadWriteOnce') {
    case 'ReadWriteOnce':
      return singleNodeMultiWriter ? 'SINGLE_NODE_MULTI_WRITER' : 'SINGLE_NODE_WRITER';
    case 'ReadOnlyMany':
      return 'MULTI_NODE_READER_ONLY';
    case 'ReadWriteMany':
      return 'MULTI_NODE_MULTI_WRITER';
    case 'ReadWriteOncePod':
      return singleNodeMultiWriter ? 'SINGLE_NODE_SINGLE_WRITER' : 'SINGLE_NODE_WRITER';
    default:
      return 'UNKNOWN';
  }
}

// ------------------------------------------------------------------ errors

/** gRPC code names as Go prints them (codes.Code.String()), for upstream's `rpc error: code = … desc = …`. */
const GO_CODE_NAMES: Record<GrpcCodeName, string> = {
  OK: 'OK',
  CANCELLED: 'Canceled',
  UNKNOWN: 'Unknown',
  INVALID_ARGUMENT: 'InvalidArgument',
  DEADLINE_EXCEEDED: 'DeadlineExceeded',
  NOT_FOUND: 'NotFound',
  ALREADY_EXISTS: 'AlreadyExists',
  PERMISSION_DENIED: 'PermissionDenied',
  RESOURCE_EXHAUSTED: 'ResourceExhausted',
  FAILED_PRECONDITION: 'FailedPrecondition',
  ABORTED: 'Aborted',
  OUT_OF_RANGE: 'OutOfRange',
  UNIMPLEMENTED: 'Unimplemented',
  INTERNAL: 'Internal',
  UNAVAILABLE: 'Unavailable',
  DATA_LOSS: 'DataLoss',
  UNAUTHENTICATED: 'Unauthenticated',
};

/** Codes after which the driver may still be working on (or may have finished) the call (upstream isFinalError). */
const NOT_FINAL: ReadonlySet<GrpcCodeName> = new Set(['CANCELLED', 'DEADLINE_EXCEEDED', 'UNAVAILABLE', 'RESOURCE_EXHAUSTED', 'ABORTED']);

/**
 * A CSI call answered with a non-OK status. The message is what upstream's
 * kubelet shows (`rpc error: code = NotFound desc = …`). `final` is false when
 * the outcome is uncertain — the call may have taken effect — so the caller
 * must keep what it set up and treat the volume as possibly mounted.
 */
export class CsiRpcError extends Error {
  override readonly name = 'CsiRpcError';
  readonly method: string;
  readonly codeName: GrpcCodeName;
  readonly final: boolean;
  constructor(method: string, err: CsiError) {
    super(`rpc error: code = ${GO_CODE_NAMES[err.codeName]} desc = ${err.message}`, { cause: err });
    this.method = method;
    this.codeName = err.codeName;
    this.final = !NOT_FINAL.has(err.codeName);
  }
}

/** The driver named by a volume is not registered on this node (a transient failure: it may register later). */
export class CsiDriverNotRegisteredError extends Error {
  override readonly name = 'CsiDriverNotRegisteredError';
  readonly driver: string;
  constructor(driver: string) {
    super(`driver name ${driver} not found in the list of registered CSI drivers`);
    this.driver = driver;
  }
}

/**
 * Whether `err` (or an error in its cause chain) leaves the volume in an
 * uncertain state: a NodeStage/NodePublish that timed out, was cancelled or
 * was refused as busy may still have mounted. The volume manager then records
 * the mount as uncertain and tears it down if the pod goes away.
 */
export function isUncertainCsiError(err: unknown): boolean {
  for (let e: unknown = err, i = 0; e instanceof Error && i < 8; e = e.cause, i++) {
    if (e instanceof CsiRpcError) return !e.final;
  }
  return false;
}

/** Upstream's log(): messages of the plugin start with `kubernetes.io/csi: `. */
export function csiLog(message: string): string {
  return `${CSI_PLUGIN_NAME}: ${message}`;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The plugin operation a CsiVolumeError came from (upstream's method names). */
export type CsiOperation = 'WaitForAttach' | 'MountDevice' | 'UnmountDevice' | 'SetUp' | 'TearDown';

/**
 * A failed plugin operation, with upstream's message (`kubernetes.io/csi:
 * attacher.MountDevice failed: rpc error: …`). The gRPC failure, when there
 * was one, is in the cause chain (see isUncertainCsiError).
 */
export class CsiVolumeError extends Error {
  override readonly name = 'CsiVolumeError';
  readonly operation: CsiOperation;
  constructor(operation: CsiOperation, message: string, options?: ErrorOptions) {
    super(message, options);
    this.operation = operation;
  }
}

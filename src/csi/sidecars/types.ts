// What the control-plane sidecars share: the context they start with, typed
// views of the storage.k8s.io objects they read and write (only the fields
// somebody uses), the annotation/parameter keys of kubernetes-csi spelled
// once, and the helpers both need (gRPC error text as Go prints it, secrets
// from a namespace/name reference).

import type { KubeObject } from '../../apimachinery/index.ts';
import type { ControllerContext } from '../../client/index.ts';
import { ApiError, resourcePath, resources } from '../../client/index.ts';
import { CsiError, type CsiClient, type GrpcCodeName } from '../index.ts';

/** What every sidecar is started with: the controller context plus the driver's socket client and name. */
export type SidecarContext = ControllerContext & { csi: CsiClient; driverName: string };

/** The provisioner's finalizer on the PVs it created: the backing volume goes before the PV object. */
export const PROVISIONER_FINALIZER = 'external-provisioner.volume.kubernetes.io/finalizer';
/** Where a PV remembers the secret DeleteVolume needs (the class may be gone by then). */
export const ANN_DELETION_SECRET_NAME = 'volume.kubernetes.io/provisioner-deletion-secret-name';
export const ANN_DELETION_SECRET_NAMESPACE = 'volume.kubernetes.io/provisioner-deletion-secret-namespace';
/** StorageClass parameters with this prefix are for the sidecars, never passed to the driver. */
export const CSI_PARAMETER_PREFIX = 'csi.storage.k8s.io/';
export const PARAM_FSTYPE = 'csi.storage.k8s.io/fstype';

/** `external-attacher/<driver>` with every character outside [a-zA-Z0-9-] made `-` (upstream GetFinalizerName). */
export function attacherFinalizer(driverName: string): string {
  let name = driverName.replace(/[^a-zA-Z0-9-]/g, '-');
  if (name.endsWith('-')) name += 'X';
  return `external-attacher/${name}`;
}

export interface VolumeError {
  time?: string;
  message?: string;
}

export interface VolumeAttachment extends KubeObject {
  spec: {
    attacher: string;
    nodeName: string;
    source: { persistentVolumeName?: string; inlineVolumeSpec?: unknown };
  };
  status?: {
    attached?: boolean;
    attachmentMetadata?: Record<string, string>;
    attachError?: VolumeError | null;
    detachError?: VolumeError | null;
  };
}

export interface CSINode extends KubeObject {
  spec: { drivers?: { name: string; nodeID: string; topologyKeys?: string[] | null }[] | null };
}

export interface CSIDriver extends KubeObject {
  spec: { attachRequired?: boolean; storageCapacity?: boolean; [field: string]: unknown };
}

export interface CSIStorageCapacity extends KubeObject {
  storageClassName: string;
  nodeTopology?: { matchLabels?: Record<string, string> };
  capacity?: string;
  maximumVolumeSize?: string;
}

/** The gRPC code as Go's codes.Code prints it (`OutOfRange`, `Canceled`). */
function goCodeName(code: GrpcCodeName): string {
  if (code === 'CANCELLED') return 'Canceled';
  if (code === 'OK') return 'OK';
  return code
    .toLowerCase()
    .split('_')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

/** An error as the Go sidecars print it: `rpc error: code = OutOfRange desc = …` for a CSI call. */
export function errorText(err: Error): string {
  if (err instanceof CsiError) return `rpc error: code = ${goCodeName(err.codeName)} desc = ${err.message}`;
  return err.message;
}

/** Thrown when a secret a class or PV names cannot be read. */
export class SecretReferenceError extends Error {
  override readonly name = 'SecretReferenceError';
  readonly namespace: string;
  readonly secretName: string;
  constructor(namespace: string, secretName: string, message: string) {
    super(`failed to get secret ${namespace}/${secretName}: ${message}`);
    this.namespace = namespace;
    this.secretName = secretName;
  }
}

/** The decoded data of a Secret. Throws SecretReferenceError. */
export async function readSecret(ctx: SidecarContext, namespace: string, name: string): Promise<Record<string, string>> {
  let secret: KubeObject & { data?: Record<string, string>; stringData?: Record<string, string> };
  try {
    secret = await ctx.client.get(resourcePath(resources.secrets, namespace, name));
  } catch (err) {
    throw new SecretReferenceError(namespace, name, err instanceof ApiError ? err.message : String(err));
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  return out;
}

/** Whether `err` is an API 404. */
export function isNotFound(err: unknown): boolean {
  return err instanceof ApiError && err.code === 404;
}

export function isAlreadyExists(err: unknown): boolean {
  return err instanceof ApiError && err.code === 409 && err.status?.reason === 'AlreadyExists';
}

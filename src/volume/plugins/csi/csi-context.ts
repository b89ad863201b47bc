// What the CSI plugin's parts (plugin, device mounter, mounter) share: the
// node's CSI host, the driver clients, the operation deadline, and the
// lookups every operation makes — CSIDriver, VolumeAttachment (publish
// context), secrets — with upstream's error messages.

import type { Logger } from '../../../base/index.ts';
import type { CsiVolumeHost, VolumeHost } from '../../plugin.ts';
import type { CsiDriverClients, OperationContext } from './csi-clients.ts';
import {
  csiAttachmentName,
  csiDriverSpec,
  volumeAttachmentView,
  type CsiDriverSpec,
  type SecretReference,
} from './csi-util.ts';

export interface CsiPluginContext {
  readonly host: VolumeHost;
  readonly csi: CsiVolumeHost;
  readonly clients: CsiDriverClients;
  /** Deadline of one plugin operation (all of its gRPC calls together). */
  readonly timeoutMs: number;
  /** First interval between VolumeAttachment polls in waitForAttach (it grows to 2 s). */
  readonly attachPollIntervalMs: number;
  readonly log: Logger;
}

export function newOperation(ctx: CsiPluginContext, signal: AbortSignal): OperationContext {
  return { signal, deadline: Date.now() + ctx.timeoutMs };
}

/** The node's name; the attachment name and vol_data.json need it. */
export function nodeNameOf(ctx: CsiPluginContext): string {
  const name = ctx.host.nodeName;
  if (name === undefined || name === '') throw new Error('kubernetes.io/csi: the volume host has no node name');
  return name;
}

/** The CSIDriver's spec, or undefined when there is no CSIDriver object (a valid state: it is optional). */
export async function getCsiDriverSpec(ctx: CsiPluginContext, driver: string, signal: AbortSignal): Promise<CsiDriverSpec | undefined> {
  return csiDriverSpec(await ctx.csi.getCsiDriver(driver, signal));
}

/** Upstream skipAttach, negated: a missing CSIDriver means attach is required. */
export async function attachRequired(ctx: CsiPluginContext, driver: string, signal: AbortSignal): Promise<boolean> {
  return (await getCsiDriverSpec(ctx, driver, signal))?.attachRequired !== false;
}

/**
 * The VolumeAttachment's status.attachmentMetadata — CSI's publish_context —
 * or {} when the driver does not attach (upstream getPublishContext). A
 * missing VolumeAttachment throws with the API's not-found message.
 */
export async function getPublishContext(
  ctx: CsiPluginContext,
  volumeHandle: string,
  driver: string,
  signal: AbortSignal,
): Promise<Record<string, string>> {
  if (!(await attachRequired(ctx, driver, signal))) return {};
  const name = csiAttachmentName(volumeHandle, driver, nodeNameOf(ctx));
  const attachment = await ctx.csi.getVolumeAttachment(name, signal);
  if (attachment === undefined) throw new Error(`volumeattachments.storage.k8s.io "${name}" not found`);
  return volumeAttachmentView(attachment).attachmentMetadata;
}

/** A secret's data, decoded (upstream getCredentialsFromSecret). Missing → `secrets "x" not found`. */
export async function getCredentials(ctx: CsiPluginContext, ref: SecretReference, signal: AbortSignal): Promise<Record<string, string>> {
  const objects = ctx.host.objects;
  if (objects === undefined) throw new Error('the volume host has no source of secrets');
  const secret = await objects.getSecret(ref.namespace ?? '', ref.name ?? '', signal);
  if (secret === undefined) throw new Error(`secrets "${ref.name ?? ''}" not found`);
  const data = (secret as { data?: Record<string, string> }).data ?? {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) out[k] = Buffer.from(v, 'base64').toString('utf8');
  return out;
}

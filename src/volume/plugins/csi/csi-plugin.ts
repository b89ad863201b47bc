// kubernetes.io/csi on the node: every CSI volume a pod uses — a PV with
// `spec.csi`, or an inline `csi` pod volume (CSI ephemeral inline) — goes
// through this one plugin, which speaks CSI to the driver the volume names
// over the socket the driver registered (upstream pkg/volume/csi:
// csi_plugin.go, csi_attacher.go, csi_mounter.go, csi_block.go).
//
// The lifecycle, and who calls what:
//
//   AD controller + external attacher   VolumeAttachment csi-<sha256(handle+driver+node)>
//                                        → ControllerPublishVolume → status.attached, attachmentMetadata
//   volume manager   waitForAttach       until that VolumeAttachment is attached (when attach is required)
//                    mountDevice         NodeStageVolume at plugins/kubernetes.io/csi/<driver>/<sha256(handle)>/globalmount
//                                        (block: plugins/kubernetes.io/csi/volumeDevices/staging/<pv>)
//                    setUp               NodePublishVolume at pods/<uid>/volumes/kubernetes.io~csi/<name>/mount
//                                        (block: plugins/kubernetes.io/csi/volumeDevices/publish/<pv>/<uid>)
//   teardown, in reverse: tearDown = NodeUnpublishVolume, unmountDevice = NodeUnstageVolume.
//
// The publish_context of stage and publish is the VolumeAttachment's
// status.attachmentMetadata. Whether a driver attaches comes from its
// CSIDriver object (no object: it does); whether it stages, from its
// NodeGetCapabilities (asked once per registration). Inline volumes never
// attach or stage: each pod gets its own volume, handle
// `csi-<sha256(podUID+volName)>`, and only when the CSIDriver lists the
// Ephemeral lifecycle mode.
//
// What the plugin needs from the node comes through VolumeHost.csi (the
// driver registry, CSIDriver and VolumeAttachment lookups) and
// VolumeHost.objects (secrets). It holds one gRPC channel per registered
// driver; dispose() closes them.
//
// Failure: every gRPC call is bounded by the operation deadline (default two
// minutes, upstream's csiTimeout) and the caller's AbortSignal, so a hung
// driver never hangs the reconciler. Messages are upstream's
// (`rpc error: code = Internal desc = …`), and isUncertainCsiError() tells a
// caller when a failed stage or publish may nevertheless have taken effect.

import { silentLogger, type Logger } from '../../../base/index.ts';
import type {
  DeviceMountableVolumePlugin,
  DeviceMounter,
  DeviceUnmounter,
  Mounter,
  NewMounterOptions,
  ReconstructedDeviceMount,
  Unmounter,
  VolumeHost,
  VolumeSpec,
} from '../../plugin.ts';
import { VolumeSetupError, volumeSpecName } from '../../plugin.ts';
import type { Pod } from '../../types.ts';
import { CsiDeviceMounter } from './csi-attacher.ts';
import { CsiDriverClients } from './csi-clients.ts';
import { attachRequired, newOperation, type CsiPluginContext } from './csi-context.ts';
import { CsiMounter, CsiUnmounter } from './csi-mounter.ts';
import {
  blockStagingPath,
  csiDeviceMountPath,
  CSI_PLUGIN_NAME,
  csiLog,
  csiPodVolumeDir,
  csiEphemeralVolumeName,
  csiSourceOf,
  csiUniqueVolumeName,
  CsiVolumeError,
  DEFAULT_CSI_TIMEOUT_MS,
  errorMessage,
  loadVolumeData,
  VOL_DATA_KEY,
} from './csi-util.ts';

export interface CsiVolumePluginOptions {
  /** Deadline of the gRPC calls of one operation, together (default 2 minutes). */
  timeoutMs?: number;
  /** First interval between VolumeAttachment polls in waitForAttach (default 500 ms, growing to 2 s). */
  attachPollIntervalMs?: number;
  logger?: Logger;
}

/** The VolumeHost has no `csi` part, so the plugin cannot reach drivers or the API. */
export class CsiHostMissingError extends Error {
  override readonly name = 'CsiHostMissingError';
  constructor() {
    super('kubernetes.io/csi needs VolumeHost.csi (the CSI driver registry and CSIDriver/VolumeAttachment lookups)');
  }
}

export class CsiVolumePlugin implements DeviceMountableVolumePlugin {
  readonly name = CSI_PLUGIN_NAME;
  readonly deviceMountable = true as const;
  readonly requiresRemount = false;
  readonly #ctx: CsiPluginContext;
  readonly #deviceMounter: CsiDeviceMounter;

  constructor(host: VolumeHost, options: CsiVolumePluginOptions = {}) {
    if (host.csi === undefined) throw new CsiHostMissingError();
    this.#ctx = {
      host,
      csi: host.csi,
      clients: new CsiDriverClients(host.csi.registry),
      timeoutMs: options.timeoutMs ?? DEFAULT_CSI_TIMEOUT_MS,
      attachPollIntervalMs: options.attachPollIntervalMs ?? 500,
      log: (options.logger ?? silentLogger()).child({ plugin: CSI_PLUGIN_NAME }),
    };
    this.#deviceMounter = new CsiDeviceMounter(this.#ctx);
  }

  canSupport(spec: VolumeSpec): boolean {
    const pvSource = spec.persistentVolume?.spec.csi;
    if (pvSource !== undefined && pvSource !== null) return true;
    const inline = spec.volume?.csi;
    return inline !== undefined && inline !== null;
  }

  /**
   * `kubernetes.io/csi/<driver>^<volumeHandle>` for a PV. An inline volume
   * has no node-wide name — its handle depends on the pod, which this call
   * does not get — so it is named `kubernetes.io/csi/ephemeral-<driver>-<volName>`:
   * shared by every pod's same-named inline volume of that driver, which
   * only serialises their operations (they are never attached or staged).
   * Upstream names such volumes per pod (csiInlineUniqueVolumeName), as for
   * any volume that is neither attached nor device-mounted; a caller that
   * knows the pod should prefer that.
   */
  async getUniqueVolumeName(spec: VolumeSpec, _signal?: AbortSignal): Promise<string> {
    const source = csiSourceOf(spec);
    if (source.kind === 'ephemeral') return csiEphemeralVolumeName(source.inline.driver, source.specName);
    return csiUniqueVolumeName(source.pv.driver, source.pv.volumeHandle);
  }

  /** A PV whose driver's CSIDriver does not say attachRequired: false (or has none). Inline volumes: never. */
  async requiresAttach(spec: VolumeSpec, signal: AbortSignal): Promise<boolean> {
    const source = csiSourceOf(spec);
    if (source.kind === 'ephemeral') return false;
    return attachRequired(this.#ctx, source.pv.driver, signal);
  }

  /**
   * A PV whose driver advertises STAGE_UNSTAGE_VOLUME. A PV of a driver that is not
   * registered (yet) counts as device-mountable, as upstream counts every persistent
   * volume: MountDevice and UnmountDevice ask the driver again and skip the stage call
   * when it has no such capability. Not throwing matters after a node agent restart,
   * when the volume manager reconstructs before the plugin watcher has found the
   * drivers: a volume it could not resolve would be torn down and set up again.
   */
  async requiresDeviceMount(spec: VolumeSpec, signal: AbortSignal): Promise<boolean> {
    const source = csiSourceOf(spec);
    if (source.kind === 'ephemeral') return false;
    if (this.#ctx.csi.registry.get(source.pv.driver) === undefined) return true;
    try {
      const caps = await this.#ctx.clients.nodeCapabilities(source.pv.driver, newOperation(this.#ctx, signal));
      return caps.has('STAGE_UNSTAGE_VOLUME');
    } catch (err) {
      throw new CsiVolumeError('MountDevice', csiLog(`failed to check whether driver ${source.pv.driver} has STAGE_UNSTAGE_VOLUME: ${errorMessage(err)}`), {
        cause: err,
      });
    }
  }

  newDeviceMounter(): DeviceMounter {
    return this.#deviceMounter;
  }

  newDeviceUnmounter(): DeviceUnmounter {
    return this.#deviceMounter;
  }

  newMounter(spec: VolumeSpec, pod: Pod, opts: NewMounterOptions = {}): Mounter {
    let source;
    try {
      source = csiSourceOf(spec);
    } catch (err) {
      throw new VolumeSetupError(CSI_PLUGIN_NAME, volumeSpecName(spec), csiLog(errorMessage(err)), { cause: err });
    }
    return new CsiMounter(this.#ctx, spec, source, pod, opts);
  }

  newUnmounter(volName: string, podUid: string): Unmounter {
    return new CsiUnmounter(this.#ctx, volName, podUid);
  }

  /**
   * From the pod volume directory's vol_data.json: the PV's unique name and
   * staging path. undefined for inline volumes (nothing staged) and for a
   * directory without vol_data.json.
   */
  async reconstructDeviceMount(podUid: string, innerName: string, _signal?: AbortSignal): Promise<ReconstructedDeviceMount | undefined> {
    const data = await loadVolumeData(csiPodVolumeDir(this.#ctx.host.rootDir, podUid, innerName));
    if (data === undefined || data[VOL_DATA_KEY.volumeLifecycleMode] === 'Ephemeral') return undefined;
    const driver = data[VOL_DATA_KEY.driverName];
    const handle = data[VOL_DATA_KEY.volHandle];
    if (driver === undefined || driver === '' || handle === undefined || handle === '') return undefined;
    const root = this.#ctx.host.rootDir;
    return {
      uniqueVolumeName: csiUniqueVolumeName(driver, handle),
      deviceMountPath:
        data[VOL_DATA_KEY.volumeMode] === 'Block'
          ? blockStagingPath(root, data[VOL_DATA_KEY.specVolID] ?? innerName)
          : csiDeviceMountPath(root, driver, handle),
    };
  }

  /** Closes the gRPC channels to the drivers. Idempotent; the plugin must not be used afterwards. */
  dispose(): void {
    this.#ctx.clients.dispose();
  }
}

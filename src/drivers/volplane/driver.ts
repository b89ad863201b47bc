// volplane's own CSI driver: Identity, Controller and Node services over the
// driver state in <dataDir>/state.json and node-state.json. It knows CSI, not
// Kubernetes objects, and imports only base and csi.
//
// Layout of dataDir:
//   state.json           what exists, who is attached (state.ts)
//   node-state.json      what this node staged and published (state.ts)
//   volumes/<id>/        directory volumes
//   volumes/<id>.img     loop volumes: sparse images, formatted on first stage
//   snapshots/<id>[.img] point-in-time copies
//   nodes/<node>.json    node-only instances on this machine (nodes.ts)
//   ephemeral/<id>/      CSI ephemeral inline volumes while published
//
// Modes. 'controller-node' (the default) serves all three services for one
// node. 'node' serves Identity and Node only, for a further node agent on the
// same machine: it stages and publishes the controller instance's volumes
// from the volume_context and publish_context CSI passes it, keeps only its
// own stagings and publications in its own dataDir, and records itself in
// the controller's nodes/ so ControllerPublishVolume accepts its node id.
//
// Restart: the state is read back, then checked against the machine before
// the first call is served — a loop volume's device is looked up again with
// `losetup -j`, stagings and publications are kept only where the mount table
// still shows them, and a loop device that nothing holds any more is
// detached. A staged volume therefore survives a driver restart: unpublish
// and unstage work afterwards, and its filesystem is never made twice.
import type { Logger } from '../../base/index.ts';
import type {
  ControllerService,
  GetPluginCapabilitiesResponse,
  GetPluginInfoResponse,
  IdentityService,
  NodeService,
  ProbeResponse,
} from '../../csi/index.ts';
import { join } from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import { createControllerServer } from './controller-server.ts';
import { canResizeExtOnline, loopDevicesOf, mountAt } from './host.ts';
import { createNodeServer } from './node-server.ts';
import { DriverState } from './state.ts';
import { registerNode } from './nodes.ts';
import { DRIVER_NAME, DRIVER_VERSION, releaseLoopDevice, type DriverContext, type DriverMode } from './volumes.ts';

export interface VolplaneDriverOptions {
  /** The node this driver instance serves (reported by NodeGetInfo, used as topology). */
  nodeId: string;
  /** Where volumes, snapshots and state.json live. */
  dataDir: string;
  /** Whether volumes need ControllerPublishVolume before staging (an attach step). */
  attachRequired: boolean;
  /** Reported by NodeGetInfo and enforced by ControllerPublishVolume; 0 or unset means no limit. */
  maxVolumesPerNode?: number;
  /** 'controller-node' (default): all services. 'node': Identity and Node only, see the top of this file. */
  mode?: DriverMode;
  /**
   * Node mode: the controller instance's dataDir. The node records itself in
   * its nodes/ (so the controller attaches to it) and finds the files of
   * volumes whose volume_context carries no path there. Ignored otherwise.
   */
  controllerDataDir?: string;
  logger: Logger;
}

export interface VolplaneDriver {
  readonly identity: IdentityService;
  readonly mode: DriverMode;
  /**
   * In node mode a stand-in with no capabilities whose every other call is
   * UNIMPLEMENTED; serve it only when `mode` is 'controller-node'.
   */
  readonly controller: ControllerService;
  readonly node: NodeService;
  readonly state: DriverState;
  /** Drops nothing on the machine: mounts and devices stay for the next instance to find. */
  dispose(): Promise<void>;
}

export async function createVolplaneDriver(options: VolplaneDriverOptions): Promise<VolplaneDriver> {
  const mode = options.mode ?? 'controller-node';
  const logger = options.logger.child({ component: 'volplane-csi-driver', nodeId: options.nodeId, mode });
  await mkdir(options.dataDir, { recursive: true });
  const state = await DriverState.load(join(options.dataDir, 'state.json'));
  if (state.nodeFileProblem !== undefined) {
    logger.warn({ file: state.nodeFile, problem: state.nodeFileProblem }, 'node state unreadable (left by a kernel crash?); starting with nothing staged');
  }
  const ctx: DriverContext = {
    nodeId: options.nodeId,
    dataDir: options.dataDir,
    attachRequired: options.attachRequired,
    maxVolumesPerNode: options.maxVolumesPerNode ?? 0,
    mode,
    controllerDataDir: mode === 'node' ? options.controllerDataDir : options.dataDir,
    state,
    logger,
  };
  await reconcileWithHost(ctx);
  if (mode === 'node' && options.controllerDataDir !== undefined) {
    await registerNode(options.controllerDataDir, {
      nodeId: options.nodeId,
      dataDir: options.dataDir,
      maxVolumesPerNode: ctx.maxVolumesPerNode,
      registeredAtMs: Date.now(),
    });
  }
  // xfs grows while mounted with the privileges we have; ext4 needs
  // CAP_SYS_RESOURCE, so without it only offline expansion is promised.
  const onlineExpansion = await canResizeExtOnline();

  const identity: IdentityService = {
    async GetPluginInfo(): Promise<GetPluginInfoResponse> {
      return { name: DRIVER_NAME, vendor_version: DRIVER_VERSION };
    },
    async GetPluginCapabilities(): Promise<GetPluginCapabilitiesResponse> {
      return {
        capabilities: [
          ...(mode === 'node' ? [] : [{ service: { type: 'CONTROLLER_SERVICE' as const } }]),
          { service: { type: 'VOLUME_ACCESSIBILITY_CONSTRAINTS' } },
          { volume_expansion: { type: onlineExpansion ? 'ONLINE' : 'OFFLINE' } },
        ],
      };
    },
    async Probe(): Promise<ProbeResponse> {
      return { ready: { value: true } };
    },
  };

  return {
    identity,
    mode,
    controller: mode === 'node' ? { ControllerGetCapabilities: async () => ({ capabilities: [] }) } : createControllerServer(ctx),
    node: createNodeServer(ctx),
    state,
    async dispose() {
      // Wait for the last state write; everything else belongs to the machine.
      await state.flushed();
    },
  };
}

/** Brings the recorded state in line with the loop-device list and the mount table. */
async function reconcileWithHost(ctx: DriverContext): Promise<void> {
  let changed = false;
  for (const vol of [...ctx.state.allVolumes()]) {
    const kept = [];
    for (const pub of vol.publications) {
      if ((await mountAt(pub.targetPath)) !== undefined) kept.push(pub);
      else changed = true;
    }
    vol.publications = kept;
    if (vol.kind !== 'loop') continue;
    const devices = await loopDevicesOf(vol.path).catch(() => []);
    const device = devices[0];
    if (device !== vol.device) {
      changed = true;
      if (device === undefined) delete vol.device;
      else vol.device = device;
    }
    if (vol.staging !== undefined && !vol.staging.block) {
      const mounted = await mountAt(vol.staging.path);
      if (mounted === undefined || device === undefined || mounted.source !== device) {
        ctx.logger.warn({ volumeId: vol.id, stagingPath: vol.staging.path }, 'staged volume is no longer mounted; forgetting the staging');
        delete vol.staging;
        changed = true;
      }
    } else if (vol.staging?.block === true && device === undefined) {
      delete vol.staging;
      changed = true;
    }
    if (vol.publications.length === 0 && vol.staging === undefined && vol.attachments.length === 0 && device !== undefined) {
      await releaseLoopDevice(ctx, vol);
      changed = true;
    }
  }
  // Context records (node-only volumes, ephemeral volumes) nothing holds any more go.
  for (const vol of [...ctx.state.contextVolumes.values()]) {
    if (vol.staging !== undefined || vol.publications.length > 0) continue;
    if (vol.ephemeral === true) await rm(vol.path, { recursive: true, force: true });
    ctx.state.contextVolumes.delete(vol.id);
    changed = true;
  }
  if (changed) await (ctx.mode === 'node' ? ctx.state.persistNode() : ctx.state.persist());
  ctx.logger.info({ volumes: ctx.state.volumes.size, snapshots: ctx.state.snapshots.size }, 'driver state loaded');
}

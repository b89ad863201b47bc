// The CSI stack `volplane up` runs for volplane's own driver, the way a
// cluster admin installs a CSI driver: the driver process (here in-process,
// served on a unix socket like any driver), its control-plane sidecars — the
// external provisioner with its capacity publisher and the external attacher,
// API clients that hold one Lease between them so two control planes never
// both provision — and the objects that come with a driver: its CSIDriver and
// a StorageClass. The node side finds the driver only through its
// registration socket in the node's plugins_registry directory, exactly as it
// finds a third-party driver.
//
// Objects are created when missing and never overwritten: an admin's edits to
// the class or the CSIDriver survive a restart.
//
// Further node agents on the same machine (`volplane node --name n2 --root
// DIR`) run the driver in node-only mode (startCsiNodeDriver): its Node
// service on a socket under their root, its registration socket in their
// `<root>/plugins_registry`, node ID = node name. They stage and publish the
// volumes of the one controller instance above, and record themselves in
// its data dir (`<dataDir>/csi/nodes/`) so the external attacher's
// ControllerPublishVolume accepts their node IDs.

import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../apimachinery/index.ts';
import { DisposableStore, toError, type Logger } from '../base/index.ts';
import {
  ApiError,
  EventRecorder,
  resourcePath,
  resources,
  RestClient,
  runLeaderElection,
  SharedInformerFactory,
  type ClientConfig,
} from '../client/index.ts';
import { createCsiClient } from '../csi/index.ts';
import { startCapacityPublisher, startExternalAttacher, startExternalProvisioner, type SidecarContext } from '../csi/sidecars/index.ts';
import { startCsiDriver, type CsiDriverArguments } from './csi-driver.ts';

export const VOLPLANE_CSI_DRIVER = 'csi.volplane.io';
/** The StorageClass of loop-backed ext4 volumes (capacity enforced by the filesystem). */
export const VOLPLANE_CSI_STORAGE_CLASS = 'volplane-csi';
/** The StorageClass of directory-backed volumes (fast, no size limit). */
export const VOLPLANE_CSI_DIR_STORAGE_CLASS = 'volplane-csi-dir';
/** The StorageClass of the in-tree `volplane.io/hostpath` provisioner. */
export const VOLPLANE_HOSTPATH_STORAGE_CLASS = 'volplane-hostpath';

export interface CsiStackOptions {
  client: ClientConfig;
  /** volplane's data directory; the driver keeps its volumes in `<dataDir>/csi`. */
  dataDir: string;
  /** The node the driver serves (its NodeGetInfo node ID). */
  nodeName: string;
  /** The node's `<root>/plugins_registry`, where the driver's registration socket goes. */
  registrationDir: string;
  logger: Logger;
}

/** Where `volplane up` keeps the controller instance's volumes and state, given its --data-dir. */
export function csiControllerDataDir(dataDir: string): string {
  return join(dataDir, 'csi');
}

export interface CsiNodeDriverOptions {
  /** The node's name: the driver's node ID (NodeGetInfo, ControllerPublishVolume). */
  nodeName: string;
  /** The node root (`volplane node --root`): the driver lives in `<root>/plugins/csi.volplane.io`, registers in `<root>/plugins_registry`. */
  root: string;
  /**
   * The controller instance's data dir (csiControllerDataDir(<up's --data-dir>)).
   * Without it the controller does not know this node and cannot attach to it.
   */
  controllerDataDir?: string;
  /** Reported by NodeGetInfo and enforced by the controller on attach; default 0 (no limit). */
  maxVolumesPerNode?: number;
  logger: Logger;
}

export interface CsiNodeDriver {
  /** The driver's CSI socket. */
  readonly socketPath: string;
  /** The registration socket the node's plugin watcher finds. */
  readonly registrationSocketPath: string;
  /** Removes the registration socket, then stops serving; mounts and devices stay. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Runs volplane's driver in node-only mode for one further node agent on
 * this machine. Call it after the node's plugin watcher runs (or before: the
 * watcher finds a socket already there when it starts).
 */
export async function startCsiNodeDriver(options: CsiNodeDriverOptions): Promise<CsiNodeDriver> {
  const dir = join(options.root, 'plugins', VOLPLANE_CSI_DRIVER);
  const registrationDir = join(options.root, 'plugins_registry');
  await mkdir(registrationDir, { recursive: true });
  const args: CsiDriverArguments = {
    endpoint: `unix://${join(dir, 'csi.sock')}`,
    nodeId: options.nodeName,
    dataDir: dir,
    attachRequired: true,
    maxVolumesPerNode: options.maxVolumesPerNode ?? 0,
    registrationDir,
    mode: 'node',
  };
  if (options.controllerDataDir !== undefined) args.controllerDataDir = options.controllerDataDir;
  else options.logger.warn({ node: options.nodeName }, 'CSI node driver without the controller data dir: volumes cannot be attached to this node');
  const driver = await startCsiDriver(args, options.logger.child({ component: 'csi-node-driver', driver: VOLPLANE_CSI_DRIVER }));
  return {
    socketPath: driver.socketPath,
    registrationSocketPath: driver.registration?.socketPath ?? join(registrationDir, `${VOLPLANE_CSI_DRIVER}-reg.sock`),
    stop: () => driver.close(),
  };
}

export interface CsiStack {
  readonly socketPath: string;
  stop(): Promise<void>;
}

/** The cluster objects that come with volplane's driver. */
export function csiStackObjects(): KubeObject[] {
  return [
    {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'CSIDriver',
      metadata: { name: VOLPLANE_CSI_DRIVER },
      spec: {
        attachRequired: true,
        podInfoOnMount: true,
        fsGroupPolicy: 'ReadWriteOnceWithFSType',
        volumeLifecycleModes: ['Persistent', 'Ephemeral'],
        storageCapacity: false,
        requiresRepublish: false,
      },
    },
    storageClass(VOLPLANE_CSI_STORAGE_CLASS, VOLPLANE_CSI_DRIVER, { kind: 'loop', 'csi.storage.k8s.io/fstype': 'ext4' }),
    storageClass(VOLPLANE_CSI_DIR_STORAGE_CLASS, VOLPLANE_CSI_DRIVER, { kind: 'directory' }),
    storageClass(VOLPLANE_HOSTPATH_STORAGE_CLASS, 'volplane.io/hostpath', {}),
  ];
}

function storageClass(name: string, provisioner: string, parameters: Record<string, string>): KubeObject {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name },
    provisioner,
    parameters,
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'WaitForFirstConsumer',
    allowVolumeExpansion: provisioner === VOLPLANE_CSI_DRIVER,
  };
}

/** Creates each object unless one of that name exists. */
export async function ensureObjects(client: RestClient, objects: readonly KubeObject[]): Promise<void> {
  for (const obj of objects) {
    const resource = obj.kind === 'CSIDriver' ? resources.csiDrivers : resources.storageClasses;
    try {
      await client.create(resourcePath(resource), obj);
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 409)) throw err;
    }
  }
}

export async function startCsiStack(options: CsiStackOptions): Promise<CsiStack> {
  const logger = options.logger.child({ component: 'csi-stack', driver: VOLPLANE_CSI_DRIVER });
  const store = new DisposableStore();
  try {
    const dir = csiControllerDataDir(options.dataDir);
    await mkdir(options.registrationDir, { recursive: true });
    const args: CsiDriverArguments = {
      endpoint: `unix://${join(dir, 'csi.sock')}`,
      nodeId: options.nodeName,
      dataDir: dir,
      attachRequired: true,
      maxVolumesPerNode: 0,
      registrationDir: options.registrationDir,
    };
    const driver = await startCsiDriver(args, options.logger);
    store.add({ dispose: () => driver.close() });

    const client = new RestClient(options.client);
    store.add({ dispose: () => client.close() });
    await ensureObjects(client, csiStackObjects());

    const csi = createCsiClient(args.endpoint, { defaultTimeoutMs: 60_000 });
    store.add({ dispose: () => csi.close() });
    const recorder = new EventRecorder({ client, component: VOLPLANE_CSI_DRIVER, host: hostname(), logger });
    store.add({ dispose: () => recorder.dispose() });

    const stop = new AbortController();
    const lead = async (leading: AbortSignal): Promise<void> => {
      const informers = new SharedInformerFactory({ client, logger });
      const ctx = (component: string): SidecarContext => ({
        client,
        informers,
        recorder: recorder.withComponent(component),
        logger: logger.child({ sidecar: component }),
        csi,
        driverName: VOLPLANE_CSI_DRIVER,
      });
      const sidecars = [
        startExternalProvisioner(ctx(`${VOLPLANE_CSI_DRIVER}_external-provisioner`), leading),
        startExternalAttacher(ctx('external-attacher'), leading),
        startCapacityPublisher(ctx('external-provisioner-capacity'), leading),
      ].map((p) =>
        p.catch((err: unknown) => {
          if (!leading.aborted) logger.error({ err: toError(err) }, 'CSI sidecar failed');
        }),
      );
      informers.start(leading);
      await Promise.all(sidecars);
      await informers.stopped();
    };
    // Upstream's sidecars name their lease after the driver, dots made dashes.
    const identity = `${hostname()}_${createHash('sha256').update(options.dataDir).digest('hex').slice(0, 12)}`;
    const elected = (async () => {
      while (!stop.signal.aborted) {
        await runLeaderElection({ client, name: VOLPLANE_CSI_DRIVER.replaceAll('.', '-'), identity, signal: stop.signal, logger, onStartedLeading: lead }).catch(
          (err: unknown) => logger.error({ err: toError(err) }, 'leader election failed'),
        );
      }
    })();
    store.add({
      dispose: async () => {
        stop.abort();
        await elected;
      },
    });
    logger.info({ socket: driver.socketPath }, 'CSI driver and sidecars running');
    return {
      socketPath: driver.socketPath,
      stop: () => store.dispose(),
    };
  } catch (err) {
    await store.dispose();
    throw err;
  }
}

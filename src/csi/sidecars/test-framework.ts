// The world the sidecar tests run in: a real API server (startControllerEnv),
// the PV controller, the external provisioner, attacher and capacity
// publisher, and the REAL volplane CSI driver served on a unix socket in a
// temp dir named `volplane-sidecars-…`. Node `node-a` is the driver's node;
// `node-b` has a CSINode entry for the driver but is not served by it.
//
// close() stops everything, then deletes every volume the driver still holds
// (unpublishing first) and reports loop devices or mounts of ours left
// behind, so a test can assert the machine is clean.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { resourcePath, resources } from '../../client/index.ts';
import { PersistentVolumeController } from '../../controllers/persistentvolume/index.ts';
import { TOPOLOGY_KEY, createVolplaneDriver, type VolplaneDriver } from '../../drivers/volplane/index.ts';
import { findLeaks } from '../../testing/leak-check.ts';
import { startControllerEnv, type ControllerEnv } from '../../testing/index.ts';
import { createCsiClient, serveCsiDriver, type ControllerService, type CsiClient, type CsiServerHandle } from '../index.ts';
import { startCapacityPublisher, startExternalAttacher, startExternalProvisioner } from './index.ts';

export const DRIVER = 'csi.volplane.io';
export const NODE = 'node-a';
export const OTHER_NODE = 'node-b';
/** Where the capacity publisher writes; the CSIDriver starts with storageCapacity false. */
export const CAPACITY_NAMESPACE = 'kube-system';

export interface SidecarEnv {
  readonly env: ControllerEnv;
  readonly csi: CsiClient;
  readonly driver: VolplaneDriver;
  readonly dir: string;
  /** Runs before the driver's CreateVolume (e.g. to delete the claim while the driver works). */
  beforeCreateVolume: ((volumeName: string) => Promise<void>) | undefined;
  /** Names of the volumes CreateVolume returned (whether or not they still exist). */
  readonly createdVolumes: ReadonlySet<string>;
  /** Stops everything, deletes every driver volume; resolves the leaks (loop devices, mounts) still under `dir`. */
  close(): Promise<string[]>;
}

export async function startSidecarEnv(attachRequired: boolean): Promise<SidecarEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'volplane-sidecars-'));
  const logger = pino({ level: process.env.VOLPLANE_TEST_LOG ?? 'silent' });
  const endpoint = `unix://${join(dir, 'csi.sock')}`;
  const driver = await createVolplaneDriver({ nodeId: NODE, dataDir: join(dir, 'data'), attachRequired, logger });
  const hooks: { beforeCreateVolume: ((volumeName: string) => Promise<void>) | undefined } = { beforeCreateVolume: undefined };
  const createVolume = driver.controller.CreateVolume!;
  const createdVolumes = new Set<string>();
  const controller: ControllerService = {
    ...driver.controller,
    async CreateVolume(req, call) {
      await hooks.beforeCreateVolume?.(req.name ?? '');
      const res = await createVolume(req, call);
      createdVolumes.add(req.name ?? '');
      return res;
    },
  };
  const server: CsiServerHandle = await serveCsiDriver({ endpoint, identity: driver.identity, controller, node: driver.node, logger });
  const csi = createCsiClient(endpoint, { defaultTimeoutMs: 60_000 });

  const env = await startControllerEnv(
    (ctx, signal) => {
      const sidecar = { ...ctx, csi, driverName: DRIVER };
      const pvController = (async () => {
        const c = new PersistentVolumeController({ ...ctx, provisioners: new Map() }, { resyncMs: 1_000 });
        await c.start(signal);
        await c.stopped();
      })();
      return [
        pvController,
        startExternalProvisioner(sidecar, signal, { baseDelayMs: 50, maxDelayMs: 2_000 }),
        startExternalAttacher(sidecar, signal, { baseDelayMs: 50, maxDelayMs: 2_000 }),
        startCapacityPublisher(sidecar, signal, { namespace: CAPACITY_NAMESPACE, pollIntervalMs: 2_000 }),
      ];
    },
    {
      component: 'sidecars-test',
      // The protection finalizers the API server adds need their controllers for deletes to finish.
      clusterOptions: { controllers: ['pvc-protection', 'pv-protection'] },
      beforeStart: async (e) => {
        for (const name of [NODE, OTHER_NODE]) {
          await e.client.create(resourcePath(resources.nodes), { metadata: { name, labels: { [TOPOLOGY_KEY]: name, 'kubernetes.io/hostname': name } } });
          await e.client.create(resourcePath(resources.csiNodes), {
            metadata: { name },
            spec: { drivers: [{ name: DRIVER, nodeID: name, topologyKeys: [TOPOLOGY_KEY] }] },
          });
        }
        await e.client.create(resourcePath(resources.csiDrivers), { metadata: { name: DRIVER }, spec: { attachRequired, storageCapacity: false } });
      },
    },
  );

  let closed: Promise<string[]> | undefined;
  return {
    env,
    csi,
    driver,
    dir,
    createdVolumes,
    get beforeCreateVolume() {
      return hooks.beforeCreateVolume;
    },
    set beforeCreateVolume(hook) {
      hooks.beforeCreateVolume = hook;
    },
    close() {
      closed ??= (async () => {
        try {
          await env.close();
          const { entries } = await csi.controller.ListVolumes({});
          for (const { volume, status } of entries) {
            for (const node of status?.published_node_ids ?? []) await csi.controller.ControllerUnpublishVolume({ volume_id: volume.volume_id, node_id: node });
            await csi.controller.DeleteVolume({ volume_id: volume.volume_id });
          }
          return (await findLeaks()).filter((l) => l.includes(dir));
        } finally {
          csi.close();
          await server.close();
          await driver.dispose();
          await rm(dir, { recursive: true, force: true });
        }
      })();
      return closed;
    },
  };
}

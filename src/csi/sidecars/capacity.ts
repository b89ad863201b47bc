// CSIStorageCapacity publishing (kubernetes-csi/external-provisioner,
// pkg/capacity/capacity.go, much shortened): tells the scheduler how much a
// driver can still provision where, so WaitForFirstConsumer claims land on a
// node whose storage fits them.
//
// Desired state: one object per (StorageClass of this driver × topology
// segment), the segments being the distinct values of the driver's topology
// keys over the nodes whose CSINode lists the driver. Only while the
// CSIDriver object says `storageCapacity: true`; otherwise every object of
// ours is removed.
//
// Unlike upstream's per-item queue, every change (class, CSINode, node,
// CSIDriver, one of our objects) and every poll interval triggers one full
// pass: GetCapacity per item, create or update its object, delete objects of
// ours that no item wants. A pass is cheap at volplane's scale and one pass at
// a time (a single-key queue) leaves no two writers racing.

import { quantityString, type KubeObject } from '../../apimachinery/index.ts';
import type { StorageClass } from '../../api/core/volume-types.ts';
import { WorkQueue, resourcePath, resources, runWorkers, type ResourceRef } from '../../client/index.ts';
import type { Topology } from '../index.ts';
import { isNotFound, type CSIDriver, type CSINode, type CSIStorageCapacity, type SidecarContext } from './types.ts';

export const DRIVER_NAME_LABEL = 'csi.storage.k8s.io/drivername';
export const MANAGED_BY_LABEL = 'csi.storage.k8s.io/managed-by';
export const MANAGED_BY = 'external-provisioner';

const csiStorageCapacities: ResourceRef = { group: 'storage.k8s.io', version: 'v1', resource: 'csistoragecapacities', namespaced: true };

export interface CapacityPublisherOptions {
  /** Where the objects live (default `kube-system`; upstream uses the provisioner's own namespace). */
  namespace?: string;
  /** How often capacity is asked for again without any change (default 60 s, upstream --capacity-poll-interval). */
  pollIntervalMs?: number;
}

/**
 * Publishes CSIStorageCapacity objects for `ctx.driverName` until `signal`
 * aborts; resolves once its worker has returned.
 */
export async function startCapacityPublisher(ctx: SidecarContext, signal: AbortSignal, options: CapacityPublisherOptions = {}): Promise<void> {
  const namespace = options.namespace ?? 'kube-system';
  const logger = ctx.logger.child({ component: 'external-provisioner-capacity', driver: ctx.driverName });
  const classes = ctx.informers.informerFor<StorageClass>(resources.storageClasses);
  const csiNodes = ctx.informers.informerFor<CSINode>(resources.csiNodes);
  const nodes = ctx.informers.informerFor<KubeObject>(resources.nodes);
  const drivers = ctx.informers.informerFor<CSIDriver>(resources.csiDrivers);
  const capacities = ctx.informers.informerFor<CSIStorageCapacity>(csiStorageCapacities, namespace);
  const queue = new WorkQueue<string>({ name: 'capacity', baseDelayMs: 500, maxDelayMs: 60_000 });
  const PASS = 'pass';
  const trigger = (): void => queue.add(PASS);
  const onAny = { onAdd: trigger, onUpdate: trigger, onDelete: trigger };
  const handlers = [
    classes.addEventHandler(onAny),
    csiNodes.addEventHandler(onAny),
    nodes.addEventHandler(onAny),
    drivers.addEventHandler(onAny),
    capacities.addEventHandler(onAny),
  ];
  const poll = setInterval(trigger, options.pollIntervalMs ?? 60_000);
  poll.unref();
  signal.addEventListener(
    'abort',
    () => {
      clearInterval(poll);
      handlers.forEach((h) => h.dispose());
    },
    { once: true },
  );
  ctx.informers.start(signal);
  try {
    await Promise.all([classes, csiNodes, nodes, drivers, capacities].map((i) => i.waitForSync(signal)));
  } catch (err) {
    if (signal.aborted) return;
    throw err;
  }

  const ours = (c: CSIStorageCapacity): boolean =>
    c.metadata.labels?.[DRIVER_NAME_LABEL] === ctx.driverName && c.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY;

  /** The distinct segments of the driver's topology keys over the nodes that run it. */
  const segments = (): Record<string, string>[] => {
    const found = new Map<string, Record<string, string>>();
    for (const csiNode of csiNodes.list()) {
      const entry = csiNode.spec.drivers?.find((d) => d.name === ctx.driverName);
      const labels = nodes.get(csiNode.metadata.name ?? '')?.metadata.labels;
      if (entry === undefined || labels === undefined) continue;
      const segment: Record<string, string> = {};
      let complete = true;
      for (const key of entry.topologyKeys ?? []) {
        if (labels[key] === undefined) complete = false;
        else segment[key] = labels[key];
      }
      if (complete && Object.keys(segment).length > 0) found.set(JSON.stringify(Object.entries(segment).sort()), segment);
    }
    return [...found.values()];
  };

  const pass = async (): Promise<void> => {
    const enabled = drivers.get(ctx.driverName)?.spec.storageCapacity === true;
    const existing = capacities.list().filter(ours);
    const kept = new Set<string>();
    if (enabled) {
      for (const cls of classes.list().filter((c) => c.provisioner === ctx.driverName)) {
        for (const segment of segments()) {
          const topology: Topology = { segments: segment };
          // Capacity is taken to be independent of the capability, but one must be
          // sent. Upstream sends mode UNKNOWN; volplane's driver refuses that, so a
          // plain single-node writer it is.
          const res = await ctx.csi.controller.GetCapacity(
            { parameters: cls.parameters ?? {}, volume_capabilities: [{ mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } }], accessible_topology: topology },
            { signal },
          );
          const capacity = quantityString({ unscaled: BigInt(res.available_capacity), scale: 0, format: 'BinarySI' });
          const maximumVolumeSize =
            res.maximum_volume_size == null ? undefined : quantityString({ unscaled: BigInt(res.maximum_volume_size.value), scale: 0, format: 'BinarySI' });
          const current = existing.find((c) => c.storageClassName === cls.metadata.name && sameLabels(c.nodeTopology?.matchLabels ?? {}, segment));
          if (current === undefined) {
            const created = await ctx.client.create<CSIStorageCapacity>(resourcePath(csiStorageCapacities, namespace), {
              apiVersion: 'storage.k8s.io/v1',
              kind: 'CSIStorageCapacity',
              metadata: { generateName: 'csisc-', namespace, labels: { [DRIVER_NAME_LABEL]: ctx.driverName, [MANAGED_BY_LABEL]: MANAGED_BY } },
              storageClassName: cls.metadata.name,
              nodeTopology: { matchLabels: segment },
              capacity,
              ...(maximumVolumeSize === undefined ? {} : { maximumVolumeSize }),
            });
            kept.add(created.metadata.name ?? '');
          } else {
            kept.add(current.metadata.name ?? '');
            if (current.capacity !== capacity || current.maximumVolumeSize !== maximumVolumeSize) {
              await ctx.client.update(resourcePath(csiStorageCapacities, namespace, current.metadata.name), { ...current, capacity, maximumVolumeSize });
            }
          }
        }
      }
    }
    for (const c of existing) {
      if (kept.has(c.metadata.name ?? '')) continue;
      try {
        await ctx.client.delete(resourcePath(csiStorageCapacities, namespace, c.metadata.name));
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  };

  logger.info({ namespace }, 'started');
  trigger();
  await runWorkers(queue, 1, () => pass(), { signal, logger });
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

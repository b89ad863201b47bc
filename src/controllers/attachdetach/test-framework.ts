// The world the AD controller's tests build on a real in-process API server:
// the controller started and stopped as a unit, a Ready node, pods on it, a
// PV pre-bound to a claim with the volume source a row needs, and the
// node's volumesInUse written as the kubelet would write it. Shared by the
// CSI rows (attach-detach-controller.test.ts) and the FlexVolume rows
// (flex-volumes.test.ts), which differ only in the volume source.
import type { KubeObject } from '../../apimachinery/index.ts';
import { resourcePath, resources, SharedInformerFactory, type RestClient } from '../../client/index.ts';
import type { ControllerEnv } from '../../testing/index.ts';
import type { FlexVolumeProber } from '../../volume/index.ts';
import { AttachDetachController } from './index.ts';

/** What the helpers need of a row's world. */
export interface WorldBase {
  client: RestClient;
  ns: string;
  node: string;
}

/** The running controller under test, restartable. */
export interface RunningController {
  stop(): Promise<void>;
}

export function startController(env: ControllerEnv, flexVolumePlugins?: FlexVolumeProber): RunningController {
  const stop = new AbortController();
  const informers = new SharedInformerFactory({ client: env.client, logger: env.logger });
  const controller = new AttachDetachController({ ...env.ctx, informers }, flexVolumePlugins === undefined ? {} : { flexVolumePlugins });
  const running = controller.run(stop.signal);
  return {
    async stop() {
      stop.abort();
      await running;
      await informers.stopped();
    },
  };
}

/** A node named `name` (default the row's), labelled with its hostname and Ready. */
export async function createNode(w: WorldBase, name = w.node): Promise<void> {
  await w.client.create(resourcePath(resources.nodes), { metadata: { name, labels: { 'kubernetes.io/hostname': name } } });
  const now = new Date().toISOString();
  await w.client.patch(resourcePath(resources.nodes, undefined, name, 'status'), {
    status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: now, lastTransitionTime: now }] },
  });
}

/** Plays the kubelet: the row's node reports `volumes` in use (none clears the field). */
export async function setVolumesInUse(w: WorldBase, volumes: string[]): Promise<void> {
  await w.client.patch(resourcePath(resources.nodes, undefined, w.node, 'status'), { status: { volumesInUse: volumes.length === 0 ? null : volumes } });
}

export async function createPod(w: WorldBase, name: string, volumes: unknown[], nodeName = w.node): Promise<void> {
  await w.client.create(resourcePath(resources.pods, w.ns), {
    metadata: { name },
    spec: { nodeName, containers: [{ name: 'c', image: 'busybox' }], volumes },
  });
}

export async function deletePod(w: WorldBase, name: string): Promise<void> {
  await w.client.delete(resourcePath(resources.pods, w.ns, name), { gracePeriodSeconds: 0 });
}

/**
 * A PV with `source` (e.g. `{ csi: … }`, `{ flexVolume: … }`), a claim
 * `<pod>-claim` bound to it, and pod `pod` on the row's node using the claim.
 * Returns the PV's name.
 */
export async function createPodWithPV(w: WorldBase, pod: string, source: Record<string, unknown>, options: { readOnly?: boolean } = {}): Promise<string> {
  const pvName = `${w.ns}-${pod}-pv`;
  const claim = await w.client.create<KubeObject>(resourcePath(resources.persistentVolumeClaims, w.ns), {
    metadata: { name: `${pod}-claim` },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } }, volumeName: pvName, storageClassName: '' },
  });
  await w.client.create(resourcePath(resources.persistentVolumes), {
    metadata: { name: pvName },
    spec: {
      capacity: { storage: '1Gi' },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName: '',
      claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: w.ns, name: `${pod}-claim`, uid: claim.metadata.uid },
      ...source,
    },
  });
  const claimSource = options.readOnly === true ? { claimName: `${pod}-claim`, readOnly: true } : { claimName: `${pod}-claim` };
  await createPod(w, pod, [{ name: 'data', persistentVolumeClaim: claimSource }]);
  return pvName;
}

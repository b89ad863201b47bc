// A volplane node: the kubelet with the real container runtime and volume
// manager, wired together (design.md: cli is the only place components meet).
// `volplane node` runs one against any volplane API server with a join token;
// `volplane up` runs one in-process, named after the host.
//
// Start order: runtime (checks root and host tools; RuntimeUnavailableError
// says why a node cannot run here) → volume plugins (the in-tree ones,
// FlexVolume drivers, kubernetes.io/csi over the node's CSI driver registry)
// and volume manager → kubelet (registers the Node) → plugin manager, which
// watches `<root>/plugins_registry` for drivers' registration sockets, fills
// the registry and writes the node's CSINode. With `csiDriver`, volplane's own
// driver runs node-only for this node (before the plugin manager, so it is
// found at once), serving the volumes of the `volplane up` on this machine.
// stop() reverses it: plugin manager, driver, kubelet, event writes, runtime,
// client. Registered drivers stay in
// the CSINode across a restart, as with upstream's kubelet. Containers and mounts outlive stop(): the next start on
// the same root adopts them, as a restarted kubelet does.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeObject } from '../apimachinery/index.ts';
import { DisposableStore, silentLogger, type Logger } from '../base/index.ts';
import { ApiError, EventRecorder, Informer, resourcePath, resources, RestClient, type ClientConfig } from '../client/index.ts';
import { defaultNodeIP, DEFAULT_KUBELET_PORT, startKubelet } from '../kubelet/index.ts';
import { allowClientCommonName, startKubeletServer, type FoundContainer, type KubeletServerTls } from '../kubelet/server/index.ts';
import type { Runtime } from '../kubelet/runtime/index.ts';
import { createCertificateAuthority, issueServingCertificate, KUBELET_CLIENT_USER } from '../apiserver/authn/index.ts';
import { createRuntime } from '../kubelet/runtime/index.ts';
import { createVolumeManager } from '../kubelet/volumemanager/index.ts';
import { startNodePluginManager } from '../kubelet/pluginmanager/index.ts';
import {
  builtinVolumePlugins,
  CsiDriverRegistry,
  CsiVolumePlugin,
  FlexVolumeProber,
  HostMountUtil,
  VolumePluginManager,
  type CsiVolumeHost,
  type ObjectSource,
} from '../volume/index.ts';

/** The user a join token authenticates as, and its group (as kubeadm's bootstrap nodes). */
export { JOIN_TOKEN_USER, NODES_GROUP } from './defaults.ts';

export interface NodeOptions {
  client: ClientConfig;
  nodeName: string;
  /** The node root: images, containers, pods/ and plugins/ below it. */
  root: string;
  logger: Logger;
  /** The node's InternalIP (default: the first non-loopback IPv4 address). */
  address?: string;
  port?: number;
  /**
   * The kubelet's serving certificate and the CA that API-server client certificates
   * chain to. Without it the node makes itself a certificate (the API server does not
   * verify kubelets' serving certificates) and trusts `client.caCert` for clients.
   */
  serving?: KubeletServerTls;
  /**
   * Where FlexVolume drivers live (`<vendor>~<driver>/<driver>`); default `<root>/flexvolume`
   * (Kubernetes' default is /usr/libexec/kubernetes/kubelet-plugins/volume/exec/).
   */
  flexVolumePluginDir?: string;
  /** Deadline of each FlexVolume driver call (default 2 minutes, upstream's). */
  flexVolumeCallTimeoutMs?: number;
  /**
   * Run volplane's CSI driver in node-only mode for this node (startCsiNodeDriver): for a
   * further node agent on the machine where `volplane up` runs the driver's controller.
   * `controllerDataDir` is that instance's data dir (csiControllerDataDir(<up's --data-dir>));
   * without it the controller cannot attach volumes to this node. Default: no driver (the
   * node uses whatever drivers register in its plugins_registry).
   */
  csiDriver?: { controllerDataDir?: string; maxVolumesPerNode?: number };
}

export interface VolplaneNode {
  readonly nodeName: string;
  readonly root: string;
  /** The CSI drivers registered on this node through `<root>/plugins_registry`. */
  readonly csiDrivers: CsiDriverRegistry;
  /** Stops the kubelet, the runtime's watch of its containers and the client; containers keep running. Idempotent. */
  stop(): Promise<void>;
}

function objectSource(client: RestClient): ObjectSource {
  const get = async (ref: typeof resources.configMaps | typeof resources.secrets, ns: string, name: string, signal?: AbortSignal): Promise<KubeObject | undefined> => {
    try {
      return await client.get(resourcePath(ref, ns, name), signal === undefined ? {} : { signal });
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return undefined;
      throw err;
    }
  };
  return {
    getConfigMap: (ns, name, signal) => get(resources.configMaps, ns, name, signal),
    getSecret: (ns, name, signal) => get(resources.secrets, ns, name, signal),
  };
}

/** CSIDriver and VolumeAttachment lookups for kubernetes.io/csi, straight from the API. */
function csiVolumeHost(client: RestClient, registry: CsiDriverRegistry): CsiVolumeHost {
  const get = async (ref: typeof resources.csiDrivers | typeof resources.volumeAttachments, name: string, signal?: AbortSignal): Promise<KubeObject | undefined> => {
    try {
      return await client.get(resourcePath(ref, undefined, name), signal === undefined ? {} : { signal });
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return undefined;
      throw err;
    }
  };
  return {
    registry,
    getCsiDriver: (name, signal) => get(resources.csiDrivers, name, signal),
    getVolumeAttachment: (name, signal) => get(resources.volumeAttachments, name, signal),
  };
}

/**
 * Maps `namespace/pod/container` to the runtime's container of the current attempt (and
 * the restart count of the previous one), through an informer of the pods on this node.
 */
function containerFinder(
  client: RestClient,
  runtime: Runtime,
  nodeName: string,
  lifetime: DisposableStore,
): (namespace: string, pod: string, container: string) => FoundContainer | undefined {
  const stop = new AbortController();
  const pods = new Informer<KubeObject>({ client, resource: resources.pods, fieldSelector: `spec.nodeName=${nodeName}`, logger: silentLogger() });
  const running = pods.run(stop.signal);
  lifetime.add({
    dispose: async () => {
      stop.abort();
      await running;
    },
  });
  return (namespace, pod, container) => {
    const uid = pods.get(`${namespace}/${pod}`)?.metadata.uid;
    if (uid === undefined) return undefined;
    const attempts = runtime
      .listContainers()
      .filter((c) => c.podUid === uid && c.name === container)
      .sort((a, b) => b.restartCount - a.restartCount);
    if (attempts.length === 0) return undefined;
    const found: FoundContainer = { id: attempts[0].id, podUid: uid, restartCount: attempts[0].restartCount };
    if (attempts.length > 1) found.previousRestartCount = attempts[1].restartCount;
    return found;
  };
}

/** A serving certificate the node signs itself, trusting `caCert` for client certificates. */
async function selfServing(nodeName: string, caCert: string): Promise<KubeletServerTls> {
  const issuer = await createCertificateAuthority({ commonName: `${nodeName}-kubelet-ca` });
  const leaf = await issueServingCertificate(issuer, { commonName: `system:node:${nodeName}`, dnsNames: [nodeName], ips: [defaultNodeIP()] });
  return { cert: leaf.cert, key: leaf.key, ca: caCert };
}

export async function startNode(options: NodeOptions): Promise<VolplaneNode> {
  const logger = options.logger;
  const resources_ = new DisposableStore();
  try {
    await mkdir(options.root, { recursive: true, mode: 0o750 });
    const client = new RestClient(options.client);
    resources_.add({ dispose: () => client.close() });
    const runtime = await createRuntime({ root: options.root, logger });
    resources_.add({ dispose: () => runtime.close() });
    const recorder = new EventRecorder({ client, component: 'kubelet', host: options.nodeName, logger });
    resources_.add({ dispose: () => recorder.dispose() });
    const mountUtil = new HostMountUtil();
    const csiDrivers = new CsiDriverRegistry();
    const host = { rootDir: options.root, mountUtil, objects: objectSource(client), nodeName: options.nodeName, csi: csiVolumeHost(client, csiDrivers) };
    const csiPlugin = new CsiVolumePlugin(host, { logger });
    resources_.add({ dispose: () => csiPlugin.dispose() });
    const plugins = new VolumePluginManager([...builtinVolumePlugins(host), csiPlugin]);
    // FlexVolume drivers are found in the plugin directory while the node runs.
    const flex = new FlexVolumeProber({
      host,
      pluginDir: options.flexVolumePluginDir ?? join(options.root, 'flexvolume'),
      logger,
      ...(options.flexVolumeCallTimeoutMs === undefined ? {} : { callTimeoutMs: options.flexVolumeCallTimeoutMs }),
    });
    await flex.start();
    resources_.add({ dispose: () => flex.dispose() });
    flex.registerWith(plugins);
    const volumeManager = createVolumeManager({
      client,
      nodeName: options.nodeName,
      root: options.root,
      plugins,
      mountUtil,
      logger,
      recorder,
    });
    let port = options.port;
    const serving = options.serving ?? (await selfServing(options.nodeName, options.client.caCert));
    {
      const server = await startKubeletServer({
        runtime,
        nodeName: options.nodeName,
        host: '0.0.0.0',
        port: options.port ?? DEFAULT_KUBELET_PORT,
        tls: serving,
        authorize: allowClientCommonName(KUBELET_CLIENT_USER),
        logger,
        findContainer: containerFinder(client, runtime, options.nodeName, resources_),
      });
      resources_.add({ dispose: () => server.close() });
      port = server.port;
    }
    const kubelet = await startKubelet({
      client,
      nodeName: options.nodeName,
      root: options.root,
      runtime,
      volumeManager,
      logger,
      recorder,
      mountUtil,
      ...(options.address === undefined ? {} : { address: options.address }),
      ...(port === undefined ? {} : { port }),
    });
    resources_.add({ dispose: () => kubelet.stop() });
    if (options.csiDriver !== undefined) {
      // Started before the plugin watcher and stopped after it, so that a node stopping keeps
      // the driver in its CSINode (a restart registers it again), as upstream's kubelet does.
      // Loaded only here: the driver brings gRPC, which a node without it does not need.
      const { startCsiNodeDriver } = await import('./csi-stack.ts');
      const driver = await startCsiNodeDriver({
        nodeName: options.nodeName,
        root: options.root,
        logger,
        ...(options.csiDriver.controllerDataDir === undefined ? {} : { controllerDataDir: options.csiDriver.controllerDataDir }),
        ...(options.csiDriver.maxVolumesPerNode === undefined ? {} : { maxVolumesPerNode: options.csiDriver.maxVolumesPerNode }),
      });
      resources_.add({ dispose: () => driver.stop() });
    }
    const pluginManager = await startNodePluginManager({ client, nodeName: options.nodeName, root: options.root, registry: csiDrivers, logger });
    resources_.add({ dispose: () => pluginManager.dispose() });
    let stopping: Promise<void> | undefined;
    return {
      nodeName: options.nodeName,
      root: options.root,
      csiDrivers,
      stop() {
        stopping ??= resources_.dispose();
        return stopping;
      },
    };
  } catch (err) {
    await resources_.dispose().catch(() => {});
    throw err;
  }
}

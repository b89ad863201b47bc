// The controller manager of the all-in-one volplane: one API client, one
// shared informer factory and one event recorder for every control-plane
// controller, as kube-controller-manager shares them. Controllers run only
// while this process holds the `volplane-controller-manager` Lease, so two
// control planes on one store have one active set of controllers.
//
// Every controller talks to the API server over HTTPS like any other client;
// none of them sees the store. The one exception to "API only" is upstream's
// too: the attach/detach controller runs FlexVolume drivers' attach/detach
// in this process, found in --flex-volume-plugin-dir by a FlexVolumeProber
// that lives as long as the controller (while this process leads).

import { hostname } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { toError, type Logger } from '../base/index.ts';
import {
  EventRecorder,
  RestClient,
  runLeaderElection,
  SharedInformerFactory,
  type ClientConfig,
} from '../client/index.ts';
import { startGarbageCollectorController } from '../controllers/garbagecollector/index.ts';
import { startNamespaceController } from '../controllers/namespace/index.ts';
import { startPersistentVolumeController } from '../controllers/persistentvolume/index.ts';
import { startPvcProtectionController, startPvProtectionController } from '../controllers/protection/index.ts';
import { startDeploymentController } from '../controllers/deployment/index.ts';
import { startReplicaSetController } from '../controllers/replicaset/index.ts';
import { startStatefulSetController } from '../controllers/statefulset/index.ts';
import { startEphemeralVolumeController } from '../controllers/ephemeral/index.ts';
import { startNodeLifecycleController } from '../controllers/nodelifecycle/index.ts';
import { startScheduler } from '../scheduler/index.ts';
import { startAttachDetachController } from '../controllers/attachdetach/index.ts';
import type { Provisioner } from '../volume/provisioner.ts';
import { HostPathProvisioner } from '../volume/provisioners/hostpath/index.ts';

export interface ControllerContext {
  client: RestClient;
  informers: SharedInformerFactory;
  recorder: EventRecorder;
  logger: Logger;
}

interface ControllerDescriptor {
  name: string;
  /** The event source Kubernetes' controller of the same job reports (`persistentvolume-controller`). */
  component: string;
  start(ctx: ControllerContext, signal: AbortSignal, options: ControllerManagerOptions): Promise<void>;
}

export interface ControllerManagerOptions {
  client: ClientConfig;
  dataDir: string;
  logger: Logger;
  /** Names of controllers to run; default all. */
  controllers?: readonly string[];
  /** The node volumes of in-tree provisioners land on when a claim names none. */
  nodeName?: string;
  /**
   * Where FlexVolume drivers live (`<vendor>~<driver>/<driver>`, upstream's
   * --flex-volume-plugin-dir); the attach/detach controller attaches the
   * volumes of the drivers there that attach. It must hold the same drivers
   * as the nodes' plugin directories. Unset: no FlexVolume attaching (and no
   * directory is created).
   */
  flexVolumePluginDir?: string;
  /** Deadline of each FlexVolume driver call (default: the driver-call default, 2 min). */
  flexVolumeCallTimeoutMs?: number;
  /**
   * The leader-election identity. Stable per host and data directory, so a restarted
   * volplane takes its own lease back at once instead of waiting for it to expire (the
   * data directory's lock already keeps two processes off one directory).
   */
  identity?: string;
}

export interface ControllerManager {
  /** Names of the controllers this manager runs. */
  readonly controllers: readonly string[];
  stop(): Promise<void>;
}

/** volplane's in-tree provisioners, by provisioner name. */
function inTreeProvisioners(options: ControllerManagerOptions): Map<string, Provisioner> {
  const hostpath = new HostPathProvisioner({ dataDir: options.dataDir, defaultNode: options.nodeName ?? hostname() });
  return new Map<string, Provisioner>([[hostpath.name, hostpath]]);
}

const CONTROLLERS: readonly ControllerDescriptor[] = [
  { name: 'garbagecollector', component: 'garbage-collector-controller', start: (ctx, signal) => startGarbageCollectorController(ctx, signal) },
  { name: 'namespace', component: 'namespace-controller', start: (ctx, signal) => startNamespaceController(ctx, signal) },
  { name: 'deployment', component: 'deployment-controller', start: (ctx, signal) => startDeploymentController(ctx, signal) },
  { name: 'replicaset', component: 'replicaset-controller', start: (ctx, signal) => startReplicaSetController(ctx, signal) },
  { name: 'statefulset', component: 'statefulset-controller', start: (ctx, signal) => startStatefulSetController(ctx, signal) },
  { name: 'ephemeral-volume', component: 'ephemeral_volume', start: (ctx, signal) => startEphemeralVolumeController(ctx, signal) },
  { name: 'nodelifecycle', component: 'node-controller', start: (ctx, signal) => startNodeLifecycleController(ctx, signal) },
  // Kubernetes runs the scheduler as its own process with its own lease; here it shares ours.
  { name: 'scheduler', component: 'default-scheduler', start: (ctx, signal) => startScheduler(ctx, signal) },
  { name: 'attachdetach', component: 'attachdetach-controller', start: (ctx, signal, options) => runAttachDetachController(ctx, signal, options) },
  { name: 'pvc-protection', component: 'pvc-protection-controller', start: (ctx, signal) => startPvcProtectionController(ctx, signal) },
  { name: 'pv-protection', component: 'pv-protection-controller', start: (ctx, signal) => startPvProtectionController(ctx, signal) },
  {
    name: 'persistentvolume-binder',
    component: 'persistentvolume-controller',
    start: (ctx, signal, options) =>
      startPersistentVolumeController({ ...ctx, provisioners: inTreeProvisioners(options) }, signal),
  },
];

/**
 * The attach/detach controller, with a FlexVolumeProber on the plugin
 * directory when one is configured. The controller does not wait for the
 * drivers' `init`: until a driver is probed its volumes are unresolved,
 * which holds back their detach, and the probe's result starts a new pass.
 */
async function runAttachDetachController(ctx: ControllerContext, signal: AbortSignal, options: ControllerManagerOptions): Promise<void> {
  const pluginDir = options.flexVolumePluginDir;
  if (pluginDir === undefined) {
    await startAttachDetachController(ctx, signal);
    return;
  }
  // Loaded only when used: the volume plugins are node-side code.
  const { FlexVolumeProber, HostMountUtil } = await import('../volume/index.ts');
  const prober = new FlexVolumeProber({
    // A scratch root: the controller never mounts, but a VolumeHost needs one.
    host: { rootDir: join(options.dataDir, 'controller-manager'), mountUtil: new HostMountUtil() },
    pluginDir,
    callTimeoutMs: options.flexVolumeCallTimeoutMs,
    logger: ctx.logger,
  });
  const probing = prober.start().catch((err: unknown) => {
    ctx.logger.error({ err: toError(err), pluginDir }, 'FlexVolume plugin directory unusable: no FlexVolume driver will be attached');
  });
  try {
    await startAttachDetachController(ctx, signal, { flexVolumePlugins: prober });
  } finally {
    await prober.dispose();
    await probing;
  }
}

export const ALL_CONTROLLERS: readonly string[] = CONTROLLERS.map((d) => d.name);

export function startControllerManager(options: ControllerManagerOptions): ControllerManager {
  const logger = options.logger.child({ component: 'controller-manager' });
  const wanted = new Set(options.controllers ?? ALL_CONTROLLERS);
  const selected = CONTROLLERS.filter((d) => wanted.has(d.name));
  const client = new RestClient(options.client);
  const recorder = new EventRecorder({ client, component: 'volplane-controller-manager', host: hostname(), logger });
  const stop = new AbortController();

  const lead = async (leading: AbortSignal): Promise<void> => {
    const informers = new SharedInformerFactory({ client, logger });
    const running: Promise<void>[] = [];
    for (const d of selected) {
      const ctx: ControllerContext = { client, informers, recorder: recorder.withComponent(d.component), logger: logger.child({ controller: d.name }) };
      running.push(
        d.start(ctx, leading, options).catch((err: unknown) => {
          if (!leading.aborted) logger.error({ err: toError(err), controller: d.name }, 'controller failed');
        }),
      );
    }
    informers.start(leading);
    logger.info({ controllers: selected.map((d) => d.name) }, 'controllers started');
    await Promise.all(running);
    await new Promise<void>((resolve) => {
      if (leading.aborted) resolve();
      else leading.addEventListener('abort', () => resolve(), { once: true });
    });
    await informers.stopped();
  };

  const identity = options.identity ?? `${hostname()}_${createHash('sha256').update(options.dataDir).digest('hex').slice(0, 12)}`;
  const elected = (async () => {
    while (!stop.signal.aborted) {
      await runLeaderElection({
        client,
        name: 'volplane-controller-manager',
        identity,
        signal: stop.signal,
        logger,
        onStartedLeading: lead,
      }).catch((err: unknown) => logger.error({ err: toError(err) }, 'leader election failed'));
    }
  })();

  return {
    controllers: selected.map((d) => d.name),
    async stop() {
      stop.abort();
      await elected;
      await recorder.dispose();
      client.close();
    },
  };
}

// The node agent (upstream: pkg/kubelet/kubelet.go Run, much shorter). It
// owns nothing on the machine itself: the container runtime and the volume
// manager are handed in (the command builds the real ones, tests build fakes),
// and the kubelet ties them to the API:
//
//   registration + status  (node-status.ts)  Node with labels, capacity,
//                                            conditions, addresses, nodeInfo,
//                                            volumesInUse (from the volume
//                                            manager, written soon after it changes)
//   heartbeat              (node-lease.ts)   Lease in kube-node-lease, 10 s
//   volume manager         run(signal)       mounts what pods need
//   pod workers            (pod-workers.ts)  pods bound here → containers,
//                                            status, deletion
//
// Start order: machine facts → register the Node (retried until the API
// answers, so a node can start before its control plane) → lease, status loop,
// volume manager and pod workers together. stop() aborts them all and waits;
// containers keep running, so a restarted kubelet adopts them.

import { mkdir } from 'node:fs/promises';
import type { Logger } from '../base/index.ts';
import { delay, toError } from '../base/index.ts';
import type { EventRecorder, RestClient } from '../client/index.ts';
import type { MountUtil } from '../volume/index.ts';
import type { BackoffOptions } from './backoff.ts';
import { readMachineInfo, type MachineInfo } from './machine-info.ts';
import { NodeLease } from './node-lease.ts';
import { DEFAULT_KUBELET_PORT, NodeStatusManager, volumesInUseOf } from './node-status.ts';
import { PodWorkers } from './pod-workers.ts';
import type { Runtime } from './runtime/types.ts';
import type { VolumeManager } from './volumemanager/types.ts';

export interface KubeletOptions {
  client: RestClient;
  nodeName: string;
  /** The node root (pods/, plugins/ and the runtime's state below it). */
  root: string;
  runtime: Runtime;
  volumeManager: VolumeManager;
  logger: Logger;
  /** Events go out as this recorder's component (`kubelet`). */
  recorder: EventRecorder;
  /** The node's InternalIP (default: the first non-loopback IPv4 address). */
  address?: string;
  /** The kubelet port reported in daemonEndpoints (default 10250). */
  port?: number;
  /** For subPath bind mounts (the volume layer's safe subPath helper needs it). */
  mountUtil?: MountUtil;
  /** Timings, for tests; defaults are upstream's. */
  timing?: KubeletTiming;
}

export interface KubeletTiming {
  /** Node status check interval (10 s). */
  nodeStatusUpdateFrequencyMs?: number;
  /** Lease renewal interval (10 s). */
  leaseRenewIntervalMs?: number;
  /** CrashLoopBackOff (10 s doubling to 5 min). */
  restartBackoff?: BackoffOptions;
  /** ImagePullBackOff (10 s doubling to 5 min). */
  imageBackoff?: BackoffOptions;
  /** Wait for a pod's volumes before FailedMount (2 min). */
  volumeMountTimeoutMs?: number;
}

export interface Kubelet {
  readonly nodeName: string;
  readonly machine: MachineInfo;
  /** Stops every loop and waits for them; containers and mounts stay. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Registers the node and starts the kubelet's loops. Resolves once the Node
 * exists; rejects only if `signal` aborts first (CancelledError) or the
 * machine cannot be read.
 */
export async function startKubelet(options: KubeletOptions, signal?: AbortSignal): Promise<Kubelet> {
  const logger = options.logger.child({ component: 'kubelet', node: options.nodeName });
  const stop = new AbortController();
  const onOuterAbort = (): void => stop.abort();
  signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (signal?.aborted) stop.abort();

  await mkdir(options.root, { recursive: true, mode: 0o750 });
  const machine = await readMachineInfo(options.root, options.address);
  const port = options.port ?? DEFAULT_KUBELET_PORT;
  const timing = options.timing ?? {};
  const vm = options.volumeManager;
  const volumesInUse = volumesInUseOf(vm);
  const nodeStatus = new NodeStatusManager({
    client: options.client,
    nodeName: options.nodeName,
    info: machine,
    port,
    logger,
    ...(timing.nodeStatusUpdateFrequencyMs === undefined ? {} : { updateFrequencyMs: timing.nodeStatusUpdateFrequencyMs }),
    ...(volumesInUse === undefined ? {} : { volumesInUse }),
  });

  // Registration is retried like upstream's registerWithAPIServer (100 ms doubling to 7 s).
  for (let wait = 100; ; wait = Math.min(wait * 2, 7_000)) {
    try {
      await nodeStatus.register();
      break;
    } catch (err) {
      if (stop.signal.aborted) {
        signal?.removeEventListener('abort', onOuterAbort);
        throw err;
      }
      logger.warn({ err: toError(err).message }, 'registering the node failed, retrying');
      await delay(wait, stop.signal).catch(() => {});
      if (stop.signal.aborted) {
        signal?.removeEventListener('abort', onOuterAbort);
        throw toError(err);
      }
    }
  }

  const lease = new NodeLease({
    client: options.client,
    nodeName: options.nodeName,
    logger,
    nodeUid: () => nodeStatus.uid,
    ...(timing.leaseRenewIntervalMs === undefined ? {} : { renewIntervalMs: timing.leaseRenewIntervalMs }),
  });
  const workers = new PodWorkers({
    client: options.client,
    nodeName: options.nodeName,
    nodeIP: machine.internalIP,
    root: options.root,
    runtime: options.runtime,
    volumeManager: options.volumeManager,
    recorder: options.recorder,
    logger,
    ...(options.mountUtil === undefined ? {} : { mountUtil: options.mountUtil }),
    ...(timing.restartBackoff === undefined ? {} : { restartBackoff: timing.restartBackoff }),
    ...(timing.imageBackoff === undefined ? {} : { imageBackoff: timing.imageBackoff }),
    ...(timing.volumeMountTimeoutMs === undefined ? {} : { volumeMountTimeoutMs: timing.volumeMountTimeoutMs }),
  });

  const inUseSubscription = vm.onVolumesInUseChange?.(() => nodeStatus.requestSync());
  const loop = (name: string, p: Promise<void>): Promise<void> =>
    p.catch((err: unknown) => {
      if (!stop.signal.aborted) logger.error({ err: toError(err), loop: name }, 'kubelet loop failed');
    });
  const running = [
    loop('lease', lease.run(stop.signal)),
    loop('node-status', nodeStatus.run(stop.signal)),
    loop('volume-manager', options.volumeManager.run(stop.signal)),
    loop('pod-workers', workers.run(stop.signal)),
  ];
  logger.info({ address: machine.internalIP, port }, 'kubelet started');

  let stopped: Promise<void> | undefined;
  return {
    nodeName: options.nodeName,
    machine,
    stop() {
      stopped ??= (async () => {
        stop.abort();
        signal?.removeEventListener('abort', onOuterAbort);
        await Promise.all(running);
        inUseSubscription?.dispose();
        logger.info('kubelet stopped');
      })();
      return stopped;
    },
  };
}

// The world a controller test runs in: an in-process cluster, a client from
// its kubeconfig, the shared informers and event recorder every controller
// takes, and the controllers under test started with one AbortSignal. close()
// takes it all down in the reverse order (abort, wait for the controllers,
// the informers, the recorder's last writes, the client, the cluster), so no
// test file repeats that sequence or gets it subtly wrong.
//
// waitForState() is the step check the controller tests share: poll the
// world until nothing is wrong with it, and fail with what was still wrong.

import assert from 'node:assert/strict';
import { silentLogger, waitFor, type Logger, type WaitForOptions } from '../base/index.ts';
import { EventRecorder, resourcePath, resources, RestClient, SharedInformerFactory, type ControllerContext } from '../client/index.ts';
import { startTestCluster, type TestCluster, type TestClusterOptions } from './cluster.ts';

/**
 * Starts the controllers under test; returns what resolves once they have
 * stopped (after `signal` aborts): one promise, or one per controller.
 */
export type StartControllers = (ctx: ControllerContext, signal: AbortSignal) => Promise<void> | readonly Promise<void>[];

export interface ControllerEnvOptions {
  /** Passed to startTestCluster (e.g. controllers `volplane up` should run beside the one under test). */
  clusterOptions?: TestClusterOptions;
  /** The EventRecorder's component (default `test`). */
  component?: string;
  /**
   * Runs after the client exists and before the controllers start: probes of
   * the server that must not race a controller, or the test's own informer
   * handlers. A failure closes the environment and is thrown.
   */
  beforeStart?: (env: ControllerEnv) => Promise<void> | void;
}

export interface ControllerEnv {
  readonly cluster: TestCluster;
  readonly client: RestClient;
  readonly informers: SharedInformerFactory;
  readonly recorder: EventRecorder;
  readonly logger: Logger;
  /** What a controller's start function takes: client, informers, recorder, logger. */
  readonly ctx: ControllerContext;
  /** Aborted by close(); for informers or controllers a test runs by hand. */
  readonly signal: AbortSignal;
  /** Creates a namespace (a row's own little world). */
  createNamespace(name: string): Promise<void>;
  /** Stops the controllers and takes everything down. Idempotent. */
  close(): Promise<void>;
}

export async function startControllerEnv(start?: StartControllers, options: ControllerEnvOptions = {}): Promise<ControllerEnv> {
  const cluster = await startTestCluster(options.clusterOptions);
  const client = RestClient.fromKubeconfig(cluster.kubeconfigPath);
  const logger = silentLogger();
  const informers = new SharedInformerFactory({ client, logger });
  const recorder = new EventRecorder({ client, component: options.component ?? 'test', logger });
  const ctx: ControllerContext = { client, informers, recorder, logger };
  const stop = new AbortController();
  let running: readonly Promise<void>[] = [];
  let closed: Promise<void> | undefined;

  const env: ControllerEnv = {
    cluster,
    client,
    informers,
    recorder,
    logger,
    ctx,
    signal: stop.signal,
    async createNamespace(name) {
      await client.create(resourcePath(resources.namespaces), { metadata: { name } });
    },
    close() {
      closed ??= (async () => {
        stop.abort();
        try {
          await Promise.all(running);
          await informers.stopped();
          await recorder.dispose();
        } finally {
          client.close();
          await cluster.close();
        }
      })();
      return closed;
    },
  };

  try {
    await options.beforeStart?.(env);
    if (start !== undefined) {
      const started = start(ctx, stop.signal);
      running = started instanceof Promise ? [started] : started;
    }
  } catch (err) {
    await env.close().catch(() => {});
    throw err;
  }
  return env;
}

/**
 * Polls `observe` until `problems` finds nothing wrong with what it saw (no
 * message, an empty string or an empty list) and returns that observation.
 * When the deadline passes the test fails with `what` and the problems last
 * found, so a row says what it was still waiting for.
 */
export async function waitForState<T>(
  what: string,
  observe: () => Promise<T>,
  problems: (state: T) => string | readonly string[] | undefined,
  options: WaitForOptions = {},
): Promise<T> {
  let last: readonly string[] = [];
  try {
    return await waitFor(
      what,
      async () => {
        const state = await observe();
        const found = problems(state);
        last = found === undefined ? [] : typeof found === 'string' ? (found === '' ? [] : [found]) : found.filter((m) => m !== '');
        return last.length === 0 ? { state } : undefined;
      },
      options,
    ).then((r) => r.state);
  } catch (err) {
    assert.fail(`${what}: ${last.join('; ')} (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** What a row's steps act on: the client, the cluster (for kubectl) and the row's own namespace. */
export interface RowEnv {
  client: RestClient;
  cluster: TestCluster;
  ns: string;
}

/** One step of a row: an optional action, then the state the world must reach. */
export interface WorldStep<E, W> {
  what: string;
  act?: (env: E, world: W) => Promise<void>;
  /** undefined when the world is as wanted, else what is wrong. */
  want: (world: W) => string | undefined;
}

/**
 * Runs a row's steps in order: each one's action (given the world as last
 * observed), then waitForState until its `want` holds.
 */
export async function runSteps<E, W>(env: E, steps: readonly WorldStep<E, W>[], observe: () => Promise<W>, options: WaitForOptions = {}): Promise<void> {
  let world = await observe();
  for (const step of steps) {
    if (step.act !== undefined) await step.act(env, world);
    world = await waitForState(step.what, observe, step.want, options);
  }
}

// An in-process volplane for end-to-end tests: the same startVolplane() the
// command runs, on a fresh temporary data directory, a free port, real SQLite
// and real HTTPS, plus a kubectl runner that cannot be confused by the
// developer's own kubectl state (its own KUBECONFIG, HOME and discovery cache,
// all inside the temporary directory).

import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createLogger, silentLogger, TimeoutError, waitFor, type Logger } from '../base/index.ts';
import { RestClient } from '../client/index.ts';
import { mountTargetsBelow } from './leak-check.ts';
import { startVolplane, type Volplane } from '../cli/up.ts';

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  /** Written to kubectl's stdin (e.g. a manifest for `apply -f -`). */
  input?: string;
  /** Resolve with the result instead of throwing KubectlError on a non-zero exit. */
  allowFail?: boolean;
  /** Kill kubectl and throw TimeoutError after this long (default 60 s). */
  timeoutMs?: number;
  /** More environment for kubectl (KUBECTL_* switches, TMPDIR, …), over the cluster's. */
  env?: NodeJS.ProcessEnv;
}

/** kubectl exited non-zero (and the caller did not allow it). */
export class KubectlError extends Error {
  override readonly name = 'KubectlError';
  readonly args: readonly string[];
  readonly result: KubectlResult;
  constructor(args: readonly string[], result: KubectlResult) {
    super(`kubectl ${args.join(' ')} exited with ${result.code}:\n${result.stderr || result.stdout}`);
    this.args = args;
    this.result = result;
  }
}

/** kubectl is not installed; end-to-end tests skip themselves when hasKubectl() is false. */
export class KubectlNotFoundError extends Error {
  override readonly name = 'KubectlNotFoundError';
  constructor() {
    super('kubectl not found on PATH (on Debian: apt-get install kubernetes-client)');
  }
}

export interface TestCluster {
  /** The API's URL, e.g. https://127.0.0.1:41234. */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  readonly kubeconfigPath: string;
  /** Runs kubectl against this cluster. */
  kubectl(args: readonly string[], options?: KubectlOptions): Promise<KubectlResult>;
  /** Stops volplane and starts it again on the same data directory and port. */
  restart(): Promise<void>;
  /** Stops volplane and removes the temporary directory. Idempotent. */
  close(): Promise<void>;
}

export interface TestClusterOptions {
  /**
   * Log level for the cluster's components. Default: silent, or the
   * VOLPLANE_TEST_LOG_LEVEL environment variable (logs go to stderr).
   */
  logLevel?: string;
  /**
   * Run the control-plane controllers as `volplane up` does: `true` for all, or their
   * names. Default none, so a test can run the controller it is testing by itself.
   */
  controllers?: boolean | readonly string[];
  /**
   * Also run the in-process node (kubelet, container runtime, volume manager)
   * as `volplane up` does. Default false. Needs root: startTestCluster throws
   * NodeNeedsRootError otherwise, because volplane itself would only warn and
   * run without a node, leaving pods Pending; suites check for root and skip.
   * Delete the pods before close(): a node's volumes stay mounted when it stops,
   * and close() then keeps the directory rather than remove files through a mount.
   */
  node?: boolean;
  /** With `node`: also run volplane's CSI driver and sidecars, with its CSIDriver and StorageClasses. */
  csi?: boolean;
  /** Deadline of each FlexVolume driver call (default 2 minutes). */
  flexVolumeCallTimeoutMs?: number;
}

/** `node: true` was asked for by a process that is not root. */
export class NodeNeedsRootError extends Error {
  override readonly name = 'NodeNeedsRootError';
  constructor() {
    super('a test cluster with a node needs root (the runtime uses mount and PID namespaces and mounts volumes)');
  }
}

/** close() found mounts under the test directory, so it left the directory in place. */
export class MountsLeftError extends Error {
  override readonly name = 'MountsLeftError';
  readonly mounts: readonly string[];
  constructor(root: string, mounts: readonly string[]) {
    super(`mounts left under ${root}, not removing it: ${mounts.join(', ')}`);
    this.mounts = mounts;
  }
}

export async function startTestCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  const node = options.node === true;
  if (node && process.getuid?.() !== 0) throw new NodeNeedsRootError();
  const root = await mkdtemp(join(tmpdir(), 'volplane-test-'));
  const dataDir = join(root, 'data');
  const home = join(root, 'home');
  const cacheDir = join(root, 'kube-cache');
  const level = options.logLevel ?? process.env.VOLPLANE_TEST_LOG_LEVEL;
  const logger: Logger = level === undefined || level === 'silent' ? silentLogger() : createLogger({ level });

  const controllers = options.controllers === true ? undefined : options.controllers === false || options.controllers === undefined ? [] : options.controllers;
  const flexTimeout = options.flexVolumeCallTimeoutMs === undefined ? {} : { flexVolumeCallTimeoutMs: options.flexVolumeCallTimeoutMs };
  let volplane: Volplane | undefined;
  try {
    await mkdir(home, { recursive: true });
    volplane = await startVolplane({ dataDir, apiPort: 0, logger, controllers, node, csi: options.csi === true, ...flexTimeout });
    if (node) await waitForReadyNode(volplane.kubeconfigPath);
  } catch (err) {
    await volplane?.close().catch(() => {});
    await rm(root, { recursive: true, force: true });
    throw err;
  }
  const port = volplane.port;
  let closed: Promise<void> | undefined;

  return {
    get url() {
      return volplane!.url;
    },
    port,
    dataDir,
    kubeconfigPath: volplane.kubeconfigPath,
    kubectl(args, kubectlOptions = {}) {
      const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: volplane!.kubeconfigPath, HOME: home, ...kubectlOptions.env };
      // Global flags go before the command so they never end up after a `--` (exec).
      return runKubectl(['--cache-dir', cacheDir, ...args], env, kubectlOptions);
    },
    async restart() {
      if (closed !== undefined) throw new Error('restart() after close()');
      await volplane!.close();
      volplane = undefined;
      volplane = await startVolplane({ dataDir, apiPort: port, logger, controllers, node, csi: options.csi === true, ...flexTimeout });
      if (node) await waitForReadyNode(volplane.kubeconfigPath);
    },
    close() {
      closed ??= (async () => {
        try {
          await volplane?.close();
        } finally {
          // A recursive rm follows bind mounts into whatever they show (a hostPath is the host's own directory).
          const left = await mountTargetsBelow(root);
          if (left.length > 0) throw new MountsLeftError(root, left);
          await rm(root, { recursive: true, force: true });
        }
      })();
      return closed;
    },
  };
}

interface NodeList {
  items: { metadata: { name?: string }; status?: { conditions?: { type: string; status: string }[] } }[];
}

/** volplane only warns when its node cannot start; a cluster asked to have one waits until it is Ready. */
async function waitForReadyNode(kubeconfigPath: string): Promise<void> {
  const client = RestClient.fromKubeconfig(kubeconfigPath);
  let seen = '(no nodes)';
  try {
    await waitFor(
      'a Ready node',
      async () => {
        const nodes = await client.get<NodeList>('/api/v1/nodes');
        seen = nodes.items.map((n) => n.metadata.name).join(', ') || '(no nodes)';
        return nodes.items.some((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  } catch (err) {
    throw new Error(`the test cluster's node never became Ready; nodes: ${seen}`, { cause: err });
  } finally {
    client.close();
  }
}

/** The kubectl tests use: $VOLPLANE_KUBECTL if set (to try another version), else the first on PATH. */
export function kubectlPath(): string | undefined {
  const override = process.env.VOLPLANE_KUBECTL;
  if (override !== undefined && override !== '') return isExecutable(override) ? override : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'kubectl');
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

export function hasKubectl(): boolean {
  return kubectlPath() !== undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function runKubectl(args: readonly string[], env: NodeJS.ProcessEnv, options: KubectlOptions): Promise<KubectlResult> {
  const path = kubectlPath();
  if (path === undefined) return Promise.reject(new KubectlNotFoundError());
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(path, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) {
        const err = new TimeoutError(`kubectl ${args.join(' ')}`, timeoutMs);
        err.cause = { stdout, stderr };
        reject(err);
        return;
      }
      const result: KubectlResult = { code: code ?? (signal === null ? 1 : 128), stdout, stderr };
      if (result.code !== 0 && options.allowFail !== true) reject(new KubectlError(args, result));
      else resolve(result);
    });
    // kubectl may exit before reading its input (EPIPE); its exit status tells the story.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

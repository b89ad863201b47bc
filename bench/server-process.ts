// Starts `volplane up` as a child process for the benchmarks, so the server
// and the load generator each get a core of their own instead of sharing one
// event loop. The server gets a fresh temporary data directory and a free
// port; it counts as ready once it has written `<data-dir>/kubeconfig` (the
// CLI writes it last, after the listener is up) and answers /healthz.
// stop() sends SIGTERM, waits for the exit (SIGKILL after a grace period) and
// removes the directory; it is safe to call more than once and after a
// failed start.
//
// With `{ node: true }` the server also runs its in-process node (kubelet,
// container runtime, volume manager; needs root), and start waits until that
// node is registered and Ready. Such a server can leave mounts under its data
// directory, so stop() then checks the mount table after the exit and, if
// anything is still mounted there, keeps the directory (removing it would
// reach through the mounts) and rejects with LeftoverMountsError.
//
// BENCH_SERVER_NODE_ARGS adds Node flags to the server, e.g.
// `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../src/base/index.ts';
import { RestClient } from '../src/client/index.ts';
import { mountTargetsBelow } from '../src/testing/leak-check.ts';

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const MAIN = join(REPO, 'src', 'cli', 'main.ts');
const START_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;

/** The server process exited or never became ready. */
export class ServerProcessError extends Error {
  override readonly name = 'ServerProcessError';
  readonly output: string;
  constructor(message: string, output: string, options?: ErrorOptions) {
    super(`${message}${output.trim() === '' ? '' : `\n--- server output (last lines) ---\n${lastLines(output, 30)}`}`, options);
    this.output = output;
  }
}

/** Mounts under a node server's data directory were still there after it stopped. */
export class LeftoverMountsError extends Error {
  override readonly name = 'LeftoverMountsError';
  readonly dataDir: string;
  readonly mounts: readonly string[];
  constructor(dataDir: string, mounts: readonly string[]) {
    super(`${mounts.length} mount(s) left under ${dataDir} (directory kept): ${mounts.slice(0, 5).join(', ')}${mounts.length > 5 ? ', …' : ''}`);
    this.dataDir = dataDir;
    this.mounts = mounts;
  }
}

export interface ServerProcessOptions {
  /** Run the in-process node too (default false: `--no-node`). Needs root. */
  node?: boolean;
}

export interface ServerProcess {
  readonly pid: number;
  readonly port: number;
  readonly dataDir: string;
  readonly kubeconfigPath: string;
  /** The in-process node's name, when started with `node: true`. */
  readonly nodeName: string | undefined;
  /** A new client for the server; the caller closes it. */
  client(options?: { maxSockets?: number }): RestClient;
  /** Everything the server wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM, wait for exit, remove the data directory. Idempotent. With a node, rejects with LeftoverMountsError (and keeps the directory) when something is still mounted under it. */
  stop(): Promise<void>;
}

/** A port nobody listens on right now: listen on port 0, note it, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('could not find a free port'))));
    });
  });
}

/** Mount points at or below `dir` (the tests' helper). */
export const mountsUnder = mountTargetsBelow;

interface NodeList {
  items: { metadata: { name?: string }; status?: { conditions?: { type: string; status: string }[] } }[];
}

export async function startServerProcess(options: ServerProcessOptions = {}): Promise<ServerProcess> {
  const withNode = options.node === true;
  const dataDir = mkdtempSync(join(tmpdir(), 'volplane-bench-'));
  const kubeconfigPath = join(dataDir, 'kubeconfig');
  const extraArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== '');
  let child: ChildProcess | undefined;
  let output = '';
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let exitPromise: Promise<void> = Promise.resolve();
  let stopping: Promise<void> | undefined;

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child !== undefined && exited === undefined) {
        child.kill('SIGTERM');
        const killTimer = setTimeout(() => child?.kill('SIGKILL'), STOP_GRACE_MS);
        await exitPromise;
        clearTimeout(killTimer);
      }
      if (withNode) {
        const left = await mountsUnder(dataDir);
        if (left.length > 0) throw new LeftoverMountsError(dataDir, left);
      }
      rmSync(dataDir, { recursive: true, force: true });
    })();
    return stopping;
  };

  try {
    const port = await freePort();
    // No node unless asked: most benchmarks measure the API server and the control
    // plane, and a node's runtime and mounts would only add noise (and need cleaning up).
    const nodeArgs = withNode ? [] : ['--no-node'];
    child = spawn(process.execPath, [...extraArgs, MAIN, 'up', '--data-dir', dataDir, '--api-port', String(port), ...nodeArgs], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      // The malloc arena limit the `volplane` executable (bin/volplane.mjs) starts the server with.
      env: { MALLOC_ARENA_MAX: '2', ...process.env },
    });
    const proc = child;
    exitPromise = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        exited = { code, signal };
        resolve();
      });
      proc.once('error', (err) => {
        output += `\nspawn error: ${err.message}\n`;
        exited ??= { code: null, signal: null };
        resolve();
      });
    });
    // Keep at most the last 64 KiB: the server may log per request.
    const keep = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (output.length > 65_536) output = output.slice(-65_536);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);

    let probe: RestClient | undefined;
    let nodeName: string | undefined;
    try {
      await waitFor(
        'the volplane server to write its kubeconfig and answer /healthz',
        async () => {
          if (exited !== undefined) {
            throw new ServerProcessError(`the server exited during start (code ${exited.code}, signal ${exited.signal})`, output);
          }
          if (!existsSync(kubeconfigPath)) return false;
          probe ??= RestClient.fromKubeconfig(kubeconfigPath);
          const r = await probe.raw('GET', '/healthz');
          return r.code === 200;
        },
        { timeoutMs: START_TIMEOUT_MS, intervalMs: 50 },
      );
      if (withNode) {
        // `up` goes on without a node when it cannot start one (it only logs a warning), so ask the API.
        probe ??= RestClient.fromKubeconfig(kubeconfigPath);
        const client = probe;
        nodeName = await waitFor(
          'the in-process node to register and become Ready',
          async () => {
            if (exited !== undefined) {
              throw new ServerProcessError(`the server exited during start (code ${exited.code}, signal ${exited.signal})`, output);
            }
            const nodes = await client.get<NodeList>('/api/v1/nodes');
            const ready = nodes.items.find((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
            return ready?.metadata.name;
          },
          { timeoutMs: START_TIMEOUT_MS, intervalMs: 50 },
        );
      }
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof ServerProcessError ? err.cause : err;
      if (cause instanceof ServerProcessError) throw cause;
      throw new ServerProcessError('the server did not become ready', output, { cause: err });
    } finally {
      probe?.close();
    }

    return {
      pid: proc.pid ?? 0,
      port,
      dataDir,
      kubeconfigPath,
      nodeName,
      client: (options) => RestClient.fromKubeconfig(kubeconfigPath, options),
      output: () => output,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

/**
 * Runs `bench` against a server of its own and stops it after. When the run
 * fails the server is still stopped (and, with a node, its mounts checked);
 * if that fails too, both errors are reported together.
 */
export async function withServerProcess<R>(options: ServerProcessOptions, bench: (server: ServerProcess) => Promise<R>): Promise<R> {
  const server = await startServerProcess(options);
  let result: R;
  try {
    result = await bench(server);
  } catch (err) {
    try {
      await server.stop();
    } catch (stopErr) {
      throw new AggregateError([err, stopErr], `${err instanceof Error ? err.message : String(err)}; and stopping the server: ${stopErr instanceof Error ? stopErr.message : String(stopErr)}`);
    }
    throw err;
  }
  await server.stop();
  return result;
}

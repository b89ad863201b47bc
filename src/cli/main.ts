// The `volplane` command. It only parses arguments, turns known failures into
// one clear line on stderr, and runs the process lifetime around
// startVolplane(); the wiring itself is in up.ts so tests can run it in-process.
//
// Output contract of `volplane up`: logs (JSON lines) go to stderr; stdout
// gets exactly one line, when the API is ready to serve. SIGINT, SIGTERM and
// SIGHUP stop it cleanly (exit 0). Repeated signals do not cut the shutdown
// short — `npm start` and a terminal both deliver Ctrl-C, so one keypress can
// arrive twice — but a shutdown that hangs is ended by a watchdog (exit 1).

import { parseArgs } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createLogger, type Logger } from '../base/index.ts';
import { DataDirLockedError, defaultDataDir } from './data-dir.ts';
import { DEFAULT_API_HOST, DEFAULT_API_PORT } from './defaults.ts';
import { PortInUseError, hasErrorCode } from './errors.ts';
import type { Volplane } from './up.ts';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const SHUTDOWN_TIMEOUT_MS = 15_000;

/** Bad command-line usage: reported with a pointer to --help, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

function usage(): string {
  return `Usage: volplane <command> [flags]

Commands:
  up        Start volplane: the Kubernetes API over HTTPS, backed by SQLite, with an admin kubeconfig.
  node      Run a node (kubelet, container runtime, volume manager) that joins a volplane API server.
  csi-driver  Run volplane's CSI driver (csi.volplane.io) on a unix socket.
  csi-registrar  Register any CSI driver with a node (node-driver-registrar): serves its plugins_registry socket.
  image     Import a root filesystem into a node's image store (volplane image import NAME DIR|TARBALL).
  migrate   Move FlexVolume PVs to a CSI driver, keeping the data (volplane migrate flexvolume --help).
  version   Print the volplane version.
  help      Show this help.

Flags for "up":
  --data-dir DIR          State, certificates and kubeconfig (default: ${defaultDataDir()})
  --api-host HOST         Address to listen on (default: ${DEFAULT_API_HOST}; 0.0.0.0 for every interface)
  --api-port PORT         Port to listen on (default: ${DEFAULT_API_PORT}; 0 picks a free one)
  --token-auth-file FILE  Also accept bearer tokens from a CSV file: token,user,uid,"group1,group2"
  --log-level LEVEL       ${LOG_LEVELS.join(', ')} (default: info; or VOLPLANE_LOG_LEVEL)
  --no-node               Do not run a node in this process (by default one runs, named after the host)

Flags for "node":
  --server URL            The API server, e.g. https://10.0.0.1:6443 (required)
  --token TOKEN           The join token from the server's <data-dir>/join-token (required)
  --name NAME             The node's name (required)
  --root DIR              Node state: images, containers, pod volumes (default: /var/lib/volplane-node-<name>)
  --ca-cert FILE          The server's CA certificate (default: <default data dir>/pki/ca.crt)
  --port PORT             The kubelet's port for logs and exec (default: 10250; 0 picks a free port)
  --csi-controller-data-dir DIR
                          The <data-dir>/csi of "volplane up" on this machine: the node also runs
                          volplane's CSI driver (node service) for the volumes created there
                          (default: <default data dir>/csi when it exists)
  --no-csi-driver         Do not run volplane's CSI driver on this node
  --log-level LEVEL       as for "up"
`;
}

export interface UpArguments {
  dataDir: string;
  apiHost: string;
  apiPort: number;
  tokenAuthFile?: string;
  logLevel?: string;
  /** --no-node: run no node in-process. */
  noNode?: boolean;
}

export interface NodeArguments {
  server: string;
  token: string;
  name: string;
  root: string;
  caCertFile: string;
  /** The kubelet server's port (default 10250; 0 picks a free one). */
  port?: number;
  /** `volplane up`'s CSI data directory on this machine; the node runs the driver's node service for it. */
  csiControllerDataDir?: string;
  logLevel?: string;
}

export type Command = { name: 'help' } | { name: 'version' } | { name: 'up'; args: UpArguments } | { name: 'node'; args: NodeArguments };

/** Parses argv (without node and the script) into a command; throws UsageError. */
export function parseCommand(argv: readonly string[]): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        'data-dir': { type: 'string' },
        'api-host': { type: 'string' },
        'api-port': { type: 'string' },
        'token-auth-file': { type: 'string' },
        'log-level': { type: 'string' },
        'no-node': { type: 'boolean' },
        server: { type: 'string' },
        token: { type: 'string' },
        name: { type: 'string' },
        root: { type: 'string' },
        'ca-cert': { type: 'string' },
        port: { type: 'string' },
        'csi-controller-data-dir': { type: 'string' },
        'no-csi-driver': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { name: 'help' };
  if (values.version === true) return { name: 'version' };
  const [name, ...rest] = positionals;
  if (rest.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(rest[0])}`);
  switch (name) {
    case undefined:
    case 'help':
      return { name: 'help' };
    case 'version':
      return { name: 'version' };
    case 'up':
      break;
    case 'node':
      return { name: 'node', args: parseNodeArguments(values) };
    default:
      throw new UsageError(`unknown command ${JSON.stringify(name)}`);
  }

  for (const flag of ['server', 'token', 'name', 'root', 'ca-cert', 'port', 'csi-controller-data-dir', 'no-csi-driver'] as const) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} is a flag of "volplane node", not of "up"`);
  }
  const args: UpArguments = {
    dataDir: resolve(values['data-dir'] ?? defaultDataDir()),
    apiHost: values['api-host'] ?? DEFAULT_API_HOST,
    apiPort: DEFAULT_API_PORT,
  };
  if (values['data-dir'] === '') throw new UsageError('--data-dir must not be empty');
  if (values['api-port'] !== undefined) {
    const port = Number(values['api-port']);
    if (!/^\d+$/.test(values['api-port']) || !Number.isInteger(port) || port > 65535) {
      throw new UsageError(`--api-port must be a number from 0 to 65535, got ${JSON.stringify(values['api-port'])}`);
    }
    args.apiPort = port;
  }
  if (values['log-level'] !== undefined) {
    if (!LOG_LEVELS.includes(values['log-level'])) {
      throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(values['log-level'])}`);
    }
    args.logLevel = values['log-level'];
  }
  if (values['token-auth-file'] !== undefined) args.tokenAuthFile = resolve(values['token-auth-file']);
  if (values['no-node'] === true) args.noNode = true;
  return { name: 'up', args };
}

function parseNodeArguments(values: Record<string, string | boolean | undefined>): NodeArguments {
  const str = (flag: string): string | undefined => {
    const v = values[flag];
    return typeof v === 'string' ? v : undefined;
  };
  const required = (flag: string): string => {
    const v = str(flag);
    if (v === undefined || v === '') throw new UsageError(`node: --${flag} is required`);
    return v;
  };
  const server = required('server');
  if (!/^https:\/\//.test(server)) throw new UsageError(`--server must be an https:// URL, got ${JSON.stringify(server)}`);
  const name = required('name');
  if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(name)) throw new UsageError(`--name must be a lower-case DNS name, got ${JSON.stringify(name)}`);
  const args: NodeArguments = {
    server,
    token: required('token'),
    name,
    root: resolve(str('root') ?? `/var/lib/volplane-node-${name}`),
    caCertFile: resolve(str('ca-cert') ?? `${defaultDataDir()}/pki/ca.crt`),
  };
  const port = str('port');
  if (port !== undefined) {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--port must be a port number (0 picks a free one), got ${JSON.stringify(port)}`);
    args.port = n;
  }
  const level = str('log-level');
  if (level !== undefined) {
    if (!LOG_LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
    args.logLevel = level;
  }
  const csiDir = str('csi-controller-data-dir');
  if (values['no-csi-driver'] === true) {
    if (csiDir !== undefined) throw new UsageError('--csi-controller-data-dir and --no-csi-driver contradict each other');
  } else if (csiDir !== undefined) {
    if (csiDir === '') throw new UsageError('--csi-controller-data-dir must not be empty');
    args.csiControllerDataDir = resolve(csiDir);
  } else if (existsSync(join(defaultDataDir(), 'csi'))) {
    // The driver's volumes are files of this machine: a node next to `volplane up` can serve them.
    args.csiControllerDataDir = join(defaultDataDir(), 'csi');
  }
  return args;
}

/** The one line `volplane up` prints on stdout when ready; everything after `#` is a shell comment. */
export function readyLine(volplane: Pick<Volplane, 'url' | 'dataDir' | 'kubeconfigPath'>): string {
  return (
    `volplane is ready: export KUBECONFIG=${volplane.kubeconfigPath}; kubectl get pv,pvc,sc` +
    `   # API ${volplane.url}, data in ${volplane.dataDir}, Ctrl-C to stop`
  );
}

async function up(args: UpArguments): Promise<number> {
  const logger = createLogger(args.logLevel === undefined ? {} : { level: args.logLevel });
  // Loaded here, not at the top, so that help, version and usage errors work without the whole stack.
  const { startVolplane } = await import('./up.ts');
  const { PkiError, TokenFileError } = await import('../apiserver/authn/index.ts');
  let volplane: Volplane;
  try {
    volplane = await startVolplane({
      dataDir: args.dataDir,
      apiHost: args.apiHost,
      apiPort: args.apiPort,
      logger,
      node: args.noNode !== true,
      csi: args.noNode !== true,
      ...(args.tokenAuthFile === undefined ? {} : { tokenAuthFile: args.tokenAuthFile }),
    });
  } catch (err) {
    logger.debug({ err }, 'start failed');
    await flush(logger);
    if (err instanceof PortInUseError || err instanceof DataDirLockedError || err instanceof PkiError || err instanceof TokenFileError) {
      process.stderr.write(`volplane: ${err.message}\n`);
    } else if (hasErrorCode(err, 'EACCES') || hasErrorCode(err, 'EPERM')) {
      process.stderr.write(
        `volplane: ${(err as Error).message}\n` +
          `  (as a normal user, use a data directory you own with --data-dir and a port above 1023)\n`,
      );
    } else {
      process.stderr.write(`volplane: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    }
    return 1;
  }

  // Loaded before the ready line: from that line on, a signal must find its handler installed.
  const { startIdleMemoryTrimmer } = await import('./idle-memory.ts');
  process.stdout.write(`${readyLine(volplane)}\n`);
  // Start-up leaves V8's young generation at its largest; give it back once idle.
  const trimmer = startIdleMemoryTrimmer({ logger });

  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.info({ signal }, 'already stopping');
        return;
      }
      stopping = true;
      trimmer.dispose();
      logger.info({ signal }, 'stopping');
      const watchdog = setTimeout(() => {
        process.stderr.write(`volplane: did not stop within ${SHUTDOWN_TIMEOUT_MS / 1000} s; exiting anyway\n`);
        resolveExit(1);
      }, SHUTDOWN_TIMEOUT_MS);
      watchdog.unref();
      volplane.close().then(
        () => {
          clearTimeout(watchdog);
          resolveExit(0);
        },
        (err: unknown) => {
          clearTimeout(watchdog);
          logger.error({ err }, 'stopping failed');
          resolveExit(1);
        },
      );
    };
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  }).then(async (code) => {
    await flush(logger);
    return code;
  });
}

/** `volplane node`: runs until a signal, like `up`. */
async function node(args: NodeArguments): Promise<number> {
  const logger = createLogger(args.logLevel === undefined ? {} : { level: args.logLevel });
  const { startNode } = await import('./node.ts');
  let caCert: string;
  try {
    caCert = readFileSync(args.caCertFile, 'utf8');
  } catch (err) {
    process.stderr.write(`volplane: cannot read the CA certificate ${args.caCertFile}: ${(err as Error).message}\n  (copy <data-dir>/pki/ca.crt from the server and pass it with --ca-cert)\n`);
    return 1;
  }
  let running: Awaited<ReturnType<typeof startNode>>;
  try {
    running = await startNode({
      client: { server: args.server, caCert, token: args.token },
      nodeName: args.name,
      root: args.root,
      logger,
      ...(args.port === undefined ? {} : { port: args.port }),
      ...(args.csiControllerDataDir === undefined ? {} : { csiDriver: { controllerDataDir: args.csiControllerDataDir } }),
    });
  } catch (err) {
    await flush(logger);
    process.stderr.write(`volplane: the node could not start: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  process.stdout.write(`volplane node ${args.name} joined ${args.server}, state in ${args.root}\n`);
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping');
      const watchdog = setTimeout(() => resolveExit(1), SHUTDOWN_TIMEOUT_MS);
      watchdog.unref();
      running.stop().then(
        () => {
          clearTimeout(watchdog);
          resolveExit(0);
        },
        (err: unknown) => {
          clearTimeout(watchdog);
          logger.error({ err }, 'stopping failed');
          resolveExit(1);
        },
      );
    };
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  }).then(async (code) => {
    await flush(logger);
    return code;
  });
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return `volplane ${pkg.version ?? 'unknown'}`;
}

export async function main(argv: readonly string[]): Promise<number> {
  // Loaded only when asked for: `up` should not carry gRPC or the image store in memory.
  if (argv[0] === 'csi-driver') return (await import('./csi-driver.ts')).runCsiDriverCommand(argv.slice(1));
  if (argv[0] === 'csi-registrar') return (await import('./csi-registrar.ts')).runCsiRegistrarCommand(argv.slice(1));
  if (argv[0] === 'image') return (await import('./image.ts')).runImageCommand(argv.slice(1));
  if (argv[0] === 'migrate') return (await import('./migrate.ts')).runMigrateCommand(argv.slice(1));
  let command: Command;
  try {
    command = parseCommand(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`volplane: ${err.message}\nRun "volplane help" for usage.\n`);
    return 2;
  }
  switch (command.name) {
    case 'help':
      process.stdout.write(usage());
      return 0;
    case 'version':
      process.stdout.write(`${version()}\n`);
      return 0;
    case 'up':
      return up(command.args);
    case 'node':
      return node(command.args);
  }
}

function flush(logger: Logger): Promise<void> {
  return new Promise((resolveFlush) => logger.flush(() => resolveFlush()));
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`volplane: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}

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
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
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
  version   Print the volplane version.
  help      Show this help.

Flags for "up":
  --data-dir DIR          State, certificates and kubeconfig (default: ${defaultDataDir()})
  --api-host HOST         Address to listen on (default: ${DEFAULT_API_HOST}; 0.0.0.0 for every interface)
  --api-port PORT         Port to listen on (default: ${DEFAULT_API_PORT}; 0 picks a free one)
  --token-auth-file FILE  Also accept bearer tokens from a CSV file: token,user,uid,"group1,group2"
  --log-level LEVEL       ${LOG_LEVELS.join(', ')} (default: info; or VOLPLANE_LOG_LEVEL)
`;
}

export interface UpArguments {
  dataDir: string;
  apiHost: string;
  apiPort: number;
  tokenAuthFile?: string;
  logLevel?: string;
}

export type Command = { name: 'help' } | { name: 'version' } | { name: 'up'; args: UpArguments };

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
    default:
      throw new UsageError(`unknown command ${JSON.stringify(name)}`);
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
  return { name: 'up', args };
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

  process.stdout.write(`${readyLine(volplane)}\n`);

  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.info({ signal }, 'already stopping');
        return;
      }
      stopping = true;
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

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return `volplane ${pkg.version ?? 'unknown'}`;
}

export async function main(argv: readonly string[]): Promise<number> {
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

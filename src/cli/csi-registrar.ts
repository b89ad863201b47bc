// `volplane csi-registrar`: node-driver-registrar for any CSI driver. It asks
// the driver at --csi-address for its name, then serves the kubelet
// registration socket `<plugin-registration-dir>/<name>-reg.sock`, announcing
// --kubelet-registration-path (the driver's socket as the kubelet sees it;
// the same path unless the two run in different mount namespaces).
//
// Output contract: logs (JSON lines) on stderr; one line on stdout once the
// registration socket serves. SIGINT/SIGTERM/SIGHUP remove the socket (the
// kubelet then deregisters the driver) and exit 0.
import { parseArgs } from 'node:util';
import { CancelledError, createLogger } from '../base/index.ts';
import { startRegistrar, type RunningRegistrar } from '../csi/registration/index.ts';
import { flushLogger, onStopSignal, parseCommandArgs } from './command-run.ts';

export interface CsiRegistrarArguments {
  csiAddress: string;
  kubeletRegistrationPath: string;
  pluginRegistrationDir: string;
  timeoutMs: number;
  logLevel?: string;
}

/** Thrown for bad `csi-registrar` flags (exit status 2). */
export class CsiRegistrarUsageError extends Error {
  override readonly name = 'CsiRegistrarUsageError';
}

const DEFAULT_CSI_ADDRESS = '/run/csi/socket';

export function csiRegistrarUsage(): string {
  return `Usage: volplane csi-registrar [flags]

Registers a CSI driver with a volplane (or Kubernetes) node: serves the kubelet
registration socket DIR/<driver name>-reg.sock for the driver at --csi-address.

Flags:
  --csi-address SOCK                 the driver's CSI socket (default: ${DEFAULT_CSI_ADDRESS})
  --kubelet-registration-path PATH   the driver's socket as the kubelet sees it (required)
  --plugin-registration-dir DIR      the kubelet's plugins_registry directory, e.g. <node root>/plugins_registry
                                     (required; --plugin-registration-path is accepted as upstream spells it)
  --timeout DURATION                 deadline of each call to the driver, e.g. 1s, 500ms (default: 1s)
  --log-level LEVEL                  fatal, error, warn, info, debug, trace, silent (default: info)
`;
}

function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text);
  if (m === null) return undefined;
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000);
}

/** Parses the flags after `csi-registrar`; throws CsiRegistrarUsageError. Returns undefined for --help. */
export function parseCsiRegistrarArgs(argv: readonly string[]): CsiRegistrarArguments | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        'csi-address': { type: 'string' },
        'kubelet-registration-path': { type: 'string' },
        'plugin-registration-dir': { type: 'string' },
        'plugin-registration-path': { type: 'string' },
        timeout: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new CsiRegistrarUsageError((err as Error).message);
  }
  if (values.help === true) return undefined;
  const kubeletRegistrationPath = values['kubelet-registration-path'];
  if (kubeletRegistrationPath === undefined || kubeletRegistrationPath === '') throw new CsiRegistrarUsageError('--kubelet-registration-path is required');
  const dir = values['plugin-registration-dir'] ?? values['plugin-registration-path'];
  if (dir === undefined || dir === '') throw new CsiRegistrarUsageError('--plugin-registration-dir is required');
  const timeoutMs = parseDuration(values.timeout ?? '1s');
  if (timeoutMs === undefined || timeoutMs <= 0) throw new CsiRegistrarUsageError(`--timeout must be a duration such as 1s or 500ms, got ${JSON.stringify(values.timeout)}`);
  const args: CsiRegistrarArguments = {
    csiAddress: values['csi-address'] ?? DEFAULT_CSI_ADDRESS,
    kubeletRegistrationPath,
    pluginRegistrationDir: dir,
    timeoutMs,
  };
  if (values['log-level'] !== undefined) args.logLevel = values['log-level'];
  return args;
}

/** The `csi-registrar` command: returns the exit status once a signal stopped it. */
export async function runCsiRegistrarCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommandArgs('csi-registrar', argv, parseCsiRegistrarArgs, csiRegistrarUsage, CsiRegistrarUsageError);
  if (typeof args === 'number') return args;
  const logger = createLogger(args.logLevel === undefined ? {} : { level: args.logLevel });
  const stop = onStopSignal();
  let running: RunningRegistrar;
  try {
    running = await startRegistrar({
      csiAddress: args.csiAddress,
      kubeletRegistrationPath: args.kubeletRegistrationPath,
      pluginRegistrationDir: args.pluginRegistrationDir,
      timeoutMs: args.timeoutMs,
      signal: stop.signal,
      logger,
    });
  } catch (err) {
    await flushLogger(logger);
    if (err instanceof CancelledError) return 0;
    process.stderr.write(`volplane csi-registrar: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  process.stdout.write(`volplane csi-registrar: registration socket ${running.socketPath} serves ${running.driverName} at ${args.kubeletRegistrationPath}\n`);
  await stop.stopped;
  await running.close();
  await flushLogger(logger);
  return 0;
}

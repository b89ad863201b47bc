// `volplane csi-driver`: runs volplane's own CSI driver (Identity, Controller
// and Node services) on a unix socket, as a separate process the way a real
// CSI driver runs beside kubelet and the sidecars. Only wiring lives here:
// the driver is in src/drivers/volplane, the gRPC boundary in src/csi.
//
// With --registration-dir the driver also serves its kubelet registration
// socket `<dir>/csi.volplane.io-reg.sock` (node-driver-registrar's naming), so
// a node finds it without a separate registrar process.
//
// --mode node runs the Node service only, for a further node agent on a
// machine whose controller instance runs elsewhere (`volplane up`): it
// stages and publishes that instance's volumes and, with
// --controller-data-dir, records itself there so the controller attaches
// volumes to it (src/drivers/volplane/driver.ts).
//
// Output contract: logs (JSON lines) on stderr; one line on stdout once the
// socket accepts calls. SIGINT/SIGTERM/SIGHUP close the socket and exit 0;
// mounts and loop devices stay for the next instance to find.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger, type Logger } from '../base/index.ts';
import { serveCsiDriver, socketPath } from '../csi/index.ts';
import { registrationSocketName, serveRegistration, type RegistrationServerHandle } from '../csi/registration/index.ts';
import { createVolplaneDriver, DRIVER_NAME, type DriverMode } from '../drivers/volplane/index.ts';
import { flushLogger, onStopSignal, parseCommandArgs } from './command-run.ts';
import { defaultDataDir } from './data-dir.ts';

export interface CsiDriverArguments {
  endpoint: string;
  nodeId: string;
  dataDir: string;
  attachRequired: boolean;
  maxVolumesPerNode: number;
  /** The kubelet's plugins_registry directory: also serve the registration socket there. */
  registrationDir?: string;
  /** 'controller-node' when unset: all services; 'node': Identity and Node only. */
  mode?: DriverMode;
  /** Node mode: the controller instance's data dir (node registration, volume files). */
  controllerDataDir?: string;
  logLevel?: string;
}

export interface RunningCsiDriver {
  readonly socketPath: string;
  /** The registration server, when the driver serves one (--registration-dir): its socket and the kubelet's verdicts. */
  readonly registration?: RegistrationServerHandle;
  /** Stops serving (the registration socket first); leaves mounts and devices in place. Idempotent. */
  close(): Promise<void>;
}

/** Thrown for bad `csi-driver` flags (exit status 2). */
export class CsiDriverUsageError extends Error {
  override readonly name = 'CsiDriverUsageError';
}

export function csiDriverUsage(): string {
  const dataDir = join(defaultDataDir(), 'csi-driver');
  return `Usage: volplane csi-driver [flags]

Runs volplane's CSI driver (csi.volplane.io) on a unix socket.

Flags:
  --endpoint URL               unix:///path/csi.sock (default: unix://<data-dir>/csi.sock)
  --node-id ID                 the node this driver serves (default: the host name, ${hostname()})
  --data-dir DIR               volumes, snapshots and driver state (default: ${dataDir})
  --attach-required            volumes need ControllerPublishVolume before staging
  --max-volumes-per-node N     reported by NodeGetInfo and enforced on attach (default: 0, no limit)
  --registration-dir DIR       also serve the kubelet registration socket DIR/${DRIVER_NAME}-reg.sock
                               (a node's <root>/plugins_registry; default: none)
  --mode MODE                  controller-node (default): Identity, Controller and Node services;
                               node: Identity and Node only, for a further node on this machine
  --controller-data-dir DIR    with --mode node: the controller instance's --data-dir; the node
                               records itself there so volumes can be attached to it
  --log-level LEVEL            fatal, error, warn, info, debug, trace, silent (default: info)
`;
}

/** Parses the flags after `csi-driver`; throws CsiDriverUsageError. Returns undefined for --help. */
export function parseCsiDriverArgs(argv: readonly string[]): CsiDriverArguments | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        endpoint: { type: 'string' },
        'node-id': { type: 'string' },
        'data-dir': { type: 'string' },
        'attach-required': { type: 'boolean' },
        'max-volumes-per-node': { type: 'string' },
        'registration-dir': { type: 'string' },
        mode: { type: 'string' },
        'controller-data-dir': { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new CsiDriverUsageError((err as Error).message);
  }
  if (values.help === true) return undefined;
  const dataDir = values['data-dir'] ?? join(defaultDataDir(), 'csi-driver');
  const max = Number(values['max-volumes-per-node'] ?? '0');
  if (!Number.isInteger(max) || max < 0) throw new CsiDriverUsageError('--max-volumes-per-node must be a whole number ≥ 0');
  const endpoint = values.endpoint ?? `unix://${join(dataDir, 'csi.sock')}`;
  try {
    socketPath(endpoint);
  } catch (err) {
    throw new CsiDriverUsageError((err as Error).message);
  }
  const args: CsiDriverArguments = {
    endpoint,
    nodeId: values['node-id'] ?? hostname(),
    dataDir,
    attachRequired: values['attach-required'] === true,
    maxVolumesPerNode: max,
  };
  if (values['registration-dir'] !== undefined) {
    if (values['registration-dir'] === '') throw new CsiDriverUsageError('--registration-dir must not be empty');
    args.registrationDir = values['registration-dir'];
  }
  const mode = values.mode;
  if (mode !== undefined) {
    if (mode !== 'controller-node' && mode !== 'node') throw new CsiDriverUsageError(`--mode must be controller-node or node, not ${JSON.stringify(mode)}`);
    args.mode = mode;
  }
  if (values['controller-data-dir'] !== undefined) {
    if (mode !== 'node') throw new CsiDriverUsageError('--controller-data-dir needs --mode node');
    if (values['controller-data-dir'] === '') throw new CsiDriverUsageError('--controller-data-dir must not be empty');
    args.controllerDataDir = values['controller-data-dir'];
  }
  if (values['log-level'] !== undefined) args.logLevel = values['log-level'];
  return args;
}

/** Starts the driver and serves it; for in-process use and tests. */
export async function startCsiDriver(args: CsiDriverArguments, logger: Logger): Promise<RunningCsiDriver> {
  const driver = await createVolplaneDriver({
    nodeId: args.nodeId,
    dataDir: args.dataDir,
    attachRequired: args.attachRequired,
    maxVolumesPerNode: args.maxVolumesPerNode,
    ...(args.mode === undefined ? {} : { mode: args.mode }),
    ...(args.controllerDataDir === undefined ? {} : { controllerDataDir: args.controllerDataDir }),
    logger,
  });
  const server = await serveCsiDriver({
    endpoint: args.endpoint,
    identity: driver.identity,
    ...(driver.mode === 'node' ? {} : { controller: driver.controller }),
    node: driver.node,
    logger,
  });
  let registration: RegistrationServerHandle | undefined;
  if (args.registrationDir !== undefined) {
    try {
      registration = await serveRegistration({
        socketPath: join(args.registrationDir, registrationSocketName(DRIVER_NAME)),
        driverName: DRIVER_NAME,
        endpoint: server.socketPath,
        logger,
      });
    } catch (err) {
      await server.close();
      await driver.dispose();
      throw err;
    }
  }
  let closing: Promise<void> | undefined;
  return {
    socketPath: server.socketPath,
    ...(registration === undefined ? {} : { registration }),
    close() {
      // The kubelet deregisters the driver before its CSI socket goes away.
      closing ??= (registration?.close() ?? Promise.resolve()).then(() => server.close()).then(() => driver.dispose());
      return closing;
    },
  };
}

/** The `csi-driver` command: returns the exit status once a signal stopped it. */
export async function runCsiDriverCommand(argv: readonly string[]): Promise<number> {
  const args = parseCommandArgs('csi-driver', argv, parseCsiDriverArgs, csiDriverUsage, CsiDriverUsageError);
  if (typeof args === 'number') return args;
  if (process.getuid?.() !== 0) {
    process.stderr.write('volplane csi-driver: not running as root; loop devices and mounts will fail (directory volumes still work for the controller).\n');
  }
  if (args.mode === 'node' && args.controllerDataDir === undefined) {
    process.stderr.write('volplane csi-driver: --mode node without --controller-data-dir: the controller will not know this node and cannot attach volumes to it.\n');
  }
  const logger = createLogger(args.logLevel === undefined ? {} : { level: args.logLevel });
  const running = await startCsiDriver(args, logger);
  const registered = running.registration === undefined ? '' : `, registration socket ${running.registration.socketPath}`;
  process.stdout.write(`volplane csi-driver serving csi.volplane.io${args.mode === 'node' ? ' (node only)' : ''} for node ${args.nodeId} on unix://${running.socketPath}${registered}\n`);
  await onStopSignal().stopped;
  await running.close();
  await flushLogger(logger);
  return 0;
}

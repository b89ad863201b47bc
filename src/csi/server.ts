// The gRPC boundary every CSI driver in volplane sits behind. A driver
// implements typed Identity/Controller/Node methods; this scaffold owns what
// must be the same for all of them:
//
//  - the socket: a stale socket file left by a dead driver is removed, a live
//    one is refused (two drivers on one socket would steal each other's calls);
//  - required fields: where the spec says a field MUST be set, the call is
//    refused with INVALID_ARGUMENT before the driver sees it;
//  - per-key locks: the CO should not send two calls for one volume at once,
//    but after a CO restart it can. A second mutating call on a volume id (or
//    a CreateVolume name, or a snapshot) that is already in flight answers
//    ABORTED at once and the CO retries with backoff, as the spec allows;
//  - errors: a thrown CsiError becomes its status; anything else is a bug in
//    the driver and becomes INTERNAL, logged once here with its stack;
//  - logs: every request is logged with `secrets` replaced, at debug level.
import * as grpc from '@grpc/grpc-js';
import { toError, type Logger } from '../base/index.ts';
import { bindUnixSocket, prepareSocketPath, removeSocketFile, shutdownServer } from './grpc-unix.ts';
import { csiServices, socketPath } from './proto.ts';
import {
  CsiError,
  type CallContext,
  type ControllerService,
  type CsiServiceName,
  type IdentityService,
  type NodeService,
} from './types.ts';

export interface ServeCsiDriverOptions {
  /** `unix:///path/csi.sock` (or a bare absolute path). */
  endpoint: string;
  identity: IdentityService;
  controller?: ControllerService;
  node?: NodeService;
  logger: Logger;
}

export interface CsiServerHandle {
  /** The socket path the server listens on. */
  readonly socketPath: string;
  /** Stops accepting calls, lets running ones finish briefly, removes the socket. Idempotent. */
  close(): Promise<void>;
}

/** Thrown when the endpoint's socket is already served by a live process. */
export class EndpointInUseError extends Error {
  override readonly name = 'EndpointInUseError';
  readonly path: string;
  constructor(path: string) {
    super(`CSI endpoint ${path} is already served by another process`);
    this.path = path;
  }
}

// ------------------------------------------------------------- validation

type Req = Record<string, unknown>;

interface FieldRule {
  field: string;
  message: string;
  kind: 'string' | 'list' | 'message';
}

const VOLUME_ID: FieldRule = { field: 'volume_id', message: 'Volume ID missing in request', kind: 'string' };

/** Fields the spec marks REQUIRED, per method, with upstream-style messages. */
const REQUIRED: Record<string, FieldRule[]> = {
  CreateVolume: [
    { field: 'name', message: 'Name missing in request', kind: 'string' },
    { field: 'volume_capabilities', message: 'Volume Capabilities missing in request', kind: 'list' },
  ],
  DeleteVolume: [VOLUME_ID],
  ControllerPublishVolume: [
    VOLUME_ID,
    { field: 'node_id', message: 'Node ID missing in request', kind: 'string' },
    { field: 'volume_capability', message: 'Volume Capability missing in request', kind: 'message' },
  ],
  ControllerUnpublishVolume: [VOLUME_ID],
  ValidateVolumeCapabilities: [
    VOLUME_ID,
    { field: 'volume_capabilities', message: 'Volume Capabilities missing in request', kind: 'list' },
  ],
  CreateSnapshot: [
    { field: 'name', message: 'Name missing in request', kind: 'string' },
    { field: 'source_volume_id', message: 'Source Volume ID missing in request', kind: 'string' },
  ],
  DeleteSnapshot: [{ field: 'snapshot_id', message: 'Snapshot ID missing in request', kind: 'string' }],
  ControllerExpandVolume: [
    VOLUME_ID,
    { field: 'capacity_range', message: 'Capacity range not provided', kind: 'message' },
  ],
  NodeStageVolume: [
    VOLUME_ID,
    { field: 'staging_target_path', message: 'Staging target path missing in request', kind: 'string' },
    { field: 'volume_capability', message: 'Volume Capability missing in request', kind: 'message' },
  ],
  NodeUnstageVolume: [
    VOLUME_ID,
    { field: 'staging_target_path', message: 'Staging target path missing in request', kind: 'string' },
  ],
  NodePublishVolume: [
    VOLUME_ID,
    { field: 'target_path', message: 'Target path missing in request', kind: 'string' },
    { field: 'volume_capability', message: 'Volume Capability missing in request', kind: 'message' },
  ],
  NodeUnpublishVolume: [VOLUME_ID, { field: 'target_path', message: 'Target path missing in request', kind: 'string' }],
  NodeGetVolumeStats: [VOLUME_ID, { field: 'volume_path', message: 'Volume path missing in request', kind: 'string' }],
  NodeExpandVolume: [VOLUME_ID, { field: 'volume_path', message: 'Volume path missing in request', kind: 'string' }],
};

/** Throws INVALID_ARGUMENT for the first REQUIRED field the request lacks. Exported for tests. */
export function validateRequired(method: string, request: Req): void {
  for (const rule of REQUIRED[method] ?? []) {
    const value = request[rule.field];
    const missing =
      rule.kind === 'string'
        ? typeof value !== 'string' || value === ''
        : rule.kind === 'list'
          ? !Array.isArray(value) || value.length === 0
          : value === null || value === undefined || typeof value !== 'object';
    if (missing) throw new CsiError('INVALID_ARGUMENT', rule.message);
  }
  // Each capability MUST name its access type and carry an access mode.
  const caps: unknown[] = [];
  if (Array.isArray(request.volume_capabilities)) caps.push(...request.volume_capabilities);
  if (request.volume_capability !== null && typeof request.volume_capability === 'object') caps.push(request.volume_capability);
  for (const cap of caps) {
    const c = cap as Req;
    const hasBlock = c.block !== null && c.block !== undefined;
    const hasMount = c.mount !== null && c.mount !== undefined;
    if (!hasBlock && !hasMount) throw new CsiError('INVALID_ARGUMENT', 'Volume capability access type missing in request');
    const mode = (c.access_mode as Req | null | undefined)?.mode;
    if (mode === undefined || mode === 'UNKNOWN' || mode === 0) {
      throw new CsiError('INVALID_ARGUMENT', 'Volume capability access mode missing in request');
    }
  }
  const range = request.capacity_range as Req | null | undefined;
  if (range !== null && range !== undefined) {
    if (Number(range.required_bytes ?? 0) < 0 || Number(range.limit_bytes ?? 0) < 0) {
      throw new CsiError('INVALID_ARGUMENT', 'Capacity range must not be negative');
    }
  }
}

// ------------------------------------------------------------------ locks

/** Calls that only read: they never take a lock, so a stats poll cannot abort a stage. */
const READ_ONLY = new Set([
  'ValidateVolumeCapabilities',
  'ListVolumes',
  'GetCapacity',
  'ListSnapshots',
  'NodeGetVolumeStats',
]);

interface LockKey {
  key: string;
  message: string;
}

/** The keys a call must hold exclusively. Exported for tests. */
export function lockKeys(method: string, request: Req): LockKey[] {
  if (READ_ONLY.has(method)) return [];
  const keys: LockKey[] = [];
  const volume = (id: unknown): void => {
    if (typeof id === 'string' && id !== '') {
      keys.push({ key: `volume:${id}`, message: `an operation with the given Volume ID ${id} already exists` });
    }
  };
  if (method === 'CreateVolume') {
    const name = request.name;
    if (typeof name === 'string' && name !== '') {
      keys.push({ key: `volume-name:${name}`, message: `an operation with the given Volume ID ${name} already exists` });
    }
  } else if (method === 'CreateSnapshot') {
    const name = request.name;
    if (typeof name === 'string' && name !== '') {
      keys.push({ key: `snapshot-name:${name}`, message: `an operation with the given Snapshot ID ${name} already exists` });
    }
    volume(request.source_volume_id);
  } else if (method === 'DeleteSnapshot') {
    const id = request.snapshot_id;
    if (typeof id === 'string' && id !== '') {
      keys.push({ key: `snapshot:${id}`, message: `an operation with the given Snapshot ID ${id} already exists` });
    }
  } else {
    volume(request.volume_id);
  }
  return keys;
}

// -------------------------------------------------------------- redaction

/**
 * Keys whose values are credentials wherever they appear: `secrets` (the
 * fields the spec marks csi_secret) and the service-account tokens Kubernetes
 * hands a driver in NodePublishVolume's volume_context.
 */
const SECRET_KEYS = new Set(['secrets', 'csi.storage.k8s.io/serviceAccount.tokens']);

/** A deep copy of `value` with every secret-bearing field replaced, for logs. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    out[key] = SECRET_KEYS.has(key) ? (v !== null && typeof v === 'object' && Object.keys(v).length === 0 ? {} : '***stripped***') : redactSecrets(v);
  }
  return out;
}

// ----------------------------------------------------------------- server

type AnyHandler = (request: Req, ctx: CallContext) => Promise<unknown>;

/**
 * Serves a driver's services on a unix socket. Resolves once the socket
 * accepts calls; rejects with EndpointInUseError when another live process
 * serves the same socket.
 */
export async function serveCsiDriver(options: ServeCsiDriverOptions): Promise<CsiServerHandle> {
  const path = socketPath(options.endpoint);
  const logger = options.logger.child({ component: 'csi-server' });
  await prepareSocketPath(path, 'CSI endpoint', (p) => new EndpointInUseError(p));

  const inFlight = new Set<string>();
  const server = new grpc.Server();
  const services = csiServices();
  const impls: [CsiServiceName, object | undefined][] = [
    ['Identity', options.identity],
    ['Controller', options.controller],
    ['Node', options.node],
  ];
  for (const [serviceName, impl] of impls) {
    if (impl === undefined) continue;
    const definition = services[serviceName].service;
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const [methodName, method] of Object.entries(definition)) {
      const fn = (impl as Record<string, unknown>)[methodName];
      handlers[methodName] = makeHandler(
        method.path,
        methodName,
        typeof fn === 'function' ? (fn.bind(impl) as AnyHandler) : undefined,
        inFlight,
        logger,
      );
    }
    server.addService(definition, handlers);
  }

  await bindUnixSocket(server, path);
  logger.info({ endpoint: path }, 'CSI driver listening');

  let closing: Promise<void> | undefined;
  return {
    socketPath: path,
    close() {
      closing ??= (async () => {
        await shutdownServer(server, 2_000);
        await removeSocketFile(path);
      })();
      return closing;
    },
  };
}

function makeHandler(
  path: string,
  methodName: string,
  fn: AnyHandler | undefined,
  inFlight: Set<string>,
  logger: Logger,
): grpc.handleUnaryCall<Req, unknown> {
  return (call, callback) => {
    const request = call.request;
    const started = Date.now();
    logger.debug({ method: path, request: redactSecrets(request) }, 'CSI call');
    const fail = (err: unknown): void => {
      let status: { code: grpc.status; details: string };
      if (err instanceof CsiError) {
        status = { code: err.code as number as grpc.status, details: err.message };
        logger.debug({ method: path, code: err.codeName, message: err.message, ms: Date.now() - started }, 'CSI call failed');
      } else {
        const e = toError(err);
        logger.error({ method: path, request: redactSecrets(request), err: e }, 'CSI call failed with an unexpected error');
        status = { code: grpc.status.INTERNAL, details: e.message };
      }
      callback(status);
    };
    if (fn === undefined) {
      fail(new CsiError('UNIMPLEMENTED', `${methodName} is not implemented`));
      return;
    }
    let keys: LockKey[];
    try {
      validateRequired(methodName, request);
      keys = lockKeys(methodName, request);
    } catch (err) {
      fail(err);
      return;
    }
    const busy = keys.find((k) => inFlight.has(k.key));
    if (busy !== undefined) {
      fail(new CsiError('ABORTED', busy.message));
      return;
    }
    for (const k of keys) inFlight.add(k.key);

    const abort = new AbortController();
    const onCancel = (): void => abort.abort(new CsiError('CANCELLED', 'call cancelled by the client'));
    call.on('cancelled', onCancel);
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
    let timer: NodeJS.Timeout | undefined;
    if (Number.isFinite(deadlineMs)) {
      timer = setTimeout(
        () => abort.abort(new CsiError('DEADLINE_EXCEEDED', 'deadline exceeded')),
        Math.max(0, deadlineMs - Date.now()),
      );
    }
    const ctx: CallContext = { signal: abort.signal, method: path };
    let promise: Promise<unknown>;
    try {
      promise = fn(request, ctx);
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise
      .then(
        (response) => {
          logger.debug({ method: path, ms: Date.now() - started }, 'CSI call done');
          callback(null, response ?? {});
        },
        fail,
      )
      .finally(() => {
        if (timer !== undefined) clearTimeout(timer);
        call.off('cancelled', onCancel);
        for (const k of keys) inFlight.delete(k.key);
      })
      .catch((err: unknown) => logger.error({ err: toError(err) }, 'CSI handler bookkeeping failed'));
  };
}


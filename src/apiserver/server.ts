// The volplane API server: HTTPS on a loopback address, Kubernetes paths and
// semantics, backed by a storage Backend through a watch cache.
//
// Request pipeline: authenticate (client certificate or bearer token; a few
// health and version paths are public, as with kube-apiserver's default
// RBAC) → parse the path into a RequestInfo → discovery / OpenAPI /
// resource handler → any error becomes a Kubernetes Status. Unknown errors
// are logged with their stack and answered 500 in one place.

import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { ResourceDef } from '../api/index.ts';
import { builtinNamespaces, defaultRegistry, type ResourceRegistry } from '../api/registry.ts';
import {
  newInternalError,
  newMethodNotAllowed,
  newBadRequest,
  newNotFoundPath,
  newUnauthorized,
  StatusError,
  type KubeObject,
} from '../apimachinery/index.ts';
import { toError, type Disposable, type Logger } from '../base/index.ts';
import { Cacher, type Backend } from '../storage/index.ts';
import type { Authenticator, ServingCertificates, UserInfo } from './authn/types.ts';
import {
  aggregatedDiscovery,
  aggregatedVersion,
  AGGREGATED_V2,
  AGGREGATED_V2BETA1,
  legacyApiGroup,
  legacyApiGroupList,
  legacyApiVersions,
  legacyResourceList,
  OpenApi,
  OPENAPI_V2_PROTOBUF,
  VERSION_INFO,
} from './discovery.ts';
import {
  handleCreate,
  handleDelete,
  handleDeleteCollection,
  handleGet,
  handleList,
  handlePatch,
  handleUpdate,
  handleWatch,
  writeJson,
  type RequestContext,
} from './handlers.ts';
import { startCompactor, type CompactorOptions } from './compactor.ts';
import { startEventTtl, type EventTtlOptions } from './event-ttl.ts';
import { DEFAULT_MAX_REQUEST_BYTES, parseAccept } from './negotiation.ts';
import { handleBinding } from './pod-binding.ts';
import { isExecUpgrade, PodProxy, writeStatusOnSocket, type KubeletClientConfig } from './pod-proxy.ts';
import { RegistryStore, storageKey } from './registry/store.ts';
import { parseRequestInfo, type ResourceRequestInfo } from './request-info.ts';

export interface ApiServerOptions {
  backend: Backend;
  host: string;
  /** 0 picks a free port. */
  port: number;
  certificates: ServingCertificates;
  authenticator: Authenticator;
  logger: Logger;
  maxRequestBytes?: number;
  registry?: ResourceRegistry;
  /** Store history retention; see compactor.ts. */
  compaction?: CompactorOptions;
  /** Event expiry; see event-ttl.ts. */
  eventTtl?: EventTtlOptions;
  /** Credentials for pods/log and pods/exec calls to kubelets; see pod-proxy.ts. */
  kubeletClient?: KubeletClientConfig;
}

export interface ApiServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Paths anyone may read, as kube-apiserver's `system:public-info-viewer` role allows. */
const PUBLIC_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version']);

type ServerState = 'starting' | 'serving' | 'stopping' | 'stopped';

class VolplaneApiServer implements ApiServer {
  readonly #options: ApiServerOptions;
  readonly #registry: ResourceRegistry;
  readonly #cacher: Cacher<KubeObject>;
  readonly #store: RegistryStore;
  readonly #openapi: OpenApi;
  readonly #log: Logger;
  readonly #maxRequestBytes: number;
  readonly #podProxy: PodProxy | undefined;
  #server: Server | undefined;
  #compactor: Disposable | undefined;
  #eventTtl: Disposable | undefined;
  #state: ServerState = 'starting';
  #port = 0;

  constructor(options: ApiServerOptions) {
    this.#options = options;
    this.#registry = options.registry ?? defaultRegistry;
    this.#log = options.logger.child({ component: 'apiserver' });
    this.#maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    this.#cacher = new Cacher<KubeObject>(options.backend, {
      decode: (kv) => {
        const obj = JSON.parse(kv.value) as KubeObject;
        obj.metadata.resourceVersion = String(kv.modRevision);
        return obj;
      },
    });
    this.#store = new RegistryStore(options.backend, this.#cacher);
    this.#openapi = new OpenApi(this.#registry);
    const podDef = this.#registry.lookup('', 'v1', 'pods');
    const nodeDef = this.#registry.lookup('', 'v1', 'nodes');
    this.#podProxy =
      podDef === undefined || nodeDef === undefined
        ? undefined
        : new PodProxy({ store: this.#store, podDef, nodeDef, kubeletClient: options.kubeletClient, logger: this.#log });
  }

  get port(): number {
    return this.#port;
  }

  get url(): string {
    const host = this.#options.host.includes(':') ? `[${this.#options.host}]` : this.#options.host;
    return `https://${host}:${this.#port}`;
  }

  async start(): Promise<void> {
    await this.#cacher.start();
    await this.#ensureNamespaces();
    const server = createServer(
      {
        cert: this.#options.certificates.servingCert,
        key: this.#options.certificates.servingKey,
        ca: this.#options.certificates.caCert,
        requestCert: true,
        rejectUnauthorized: false,
        // Exec upgrades (WebSocket, or SPDY/3.1 for kubectl before 1.30) take the 'upgrade'
        // path; any other upgrade arrives as an ordinary request and gets a Status answer.
        shouldUpgradeCallback: isExecUpgrade,
      },
      (req, res) => {
        this.#handle(req, res).catch((err: unknown) => this.#fail(res, err));
      },
    );
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.#handleUpgrade(req, socket, head).catch((err: unknown) => {
        const status = err instanceof StatusError ? err : newInternalError(toError(err));
        if (!(err instanceof StatusError)) this.#log.error({ err }, 'upgrade failed');
        writeStatusOnSocket(socket, status);
      });
    });
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 70_000;
    server.requestTimeout = 0;
    server.on('tlsClientError', (err) => this.#log.debug({ err: err.message }, 'TLS handshake failed'));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#options.port, this.#options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#compactor = startCompactor(this.#options.backend, this.#log, this.#options.compaction);
    this.#eventTtl = startEventTtl(this.#options.backend, this.#cacher, this.#log, this.#options.eventTtl);
    this.#state = 'serving';
  }

  async #ensureNamespaces(): Promise<void> {
    const def = this.#registry.lookup('', 'v1', 'namespaces');
    if (def === undefined) return;
    for (const name of builtinNamespaces) {
      if (this.#cacher.get(storageKey(def, '', name)) !== undefined) continue;
      await this.#store.create(def, '', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }, { dryRun: false });
    }
  }

  async close(): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'stopping') return;
    this.#state = 'stopping';
    this.#compactor?.dispose();
    this.#eventTtl?.dispose();
    this.#podProxy?.close();
    const server = this.#server;
    if (server !== undefined) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    }
    this.#cacher.stop();
    this.#state = 'stopped';
  }

  #fail(res: ServerResponse, err: unknown): void {
    let status: StatusError;
    if (err instanceof StatusError) {
      status = err;
    } else {
      const e = toError(err);
      this.#log.error({ err: e }, 'request failed');
      status = newInternalError(e);
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // An unread body (413) would be parsed as the next request on a kept-alive connection.
    if (status.code === 413) res.shouldKeepAlive = false;
    writeJson({ res, warnings: [] }, status.code, status.toStatus());
  }

  /** A WebSocket upgrade: only pods/exec speaks WebSocket here. */
  async #handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://localhost');
    if (this.#options.authenticator.authenticate(req) === undefined) throw newUnauthorized();
    const info = parseRequestInfo(req.method ?? 'GET', url.pathname, url.searchParams);
    const isPodExec =
      info.isResourceRequest && info.group === '' && info.version === 'v1' && info.resource === 'pods' && info.subresource === 'exec';
    if (!isPodExec || this.#podProxy === undefined || (info.verb !== 'get' && info.verb !== 'create')) {
      throw newBadRequest('this server accepts WebSocket upgrades only for pods/exec');
    }
    await this.#podProxy.handleExecUpgrade(req, socket, head, info.namespace, info.name, url.searchParams);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const path = url.pathname;
    const user = this.#options.authenticator.authenticate(req);
    if (user === undefined && !PUBLIC_PATHS.has(path)) throw newUnauthorized();

    const info = parseRequestInfo(req.method ?? 'GET', path, url.searchParams);
    if (!info.isResourceRequest) {
      this.#handleNonResource(req, res, path);
      return;
    }
    await this.#handleResource(req, res, info, url.searchParams, user);
  }

  #handleNonResource(req: IncomingMessage, res: ServerResponse, path: string): void {
    const ctx = { res, warnings: [] as string[] };
    if ((req.method ?? 'GET') !== 'GET' && req.method !== 'HEAD') throw newMethodNotAllowed();
    const accept = parseAccept(req.headers.accept);
    switch (path) {
      case '/healthz':
      case '/livez':
      case '/readyz':
        res.writeHead(this.#state === 'serving' ? 200 : 503, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(this.#state === 'serving' ? 'ok' : 'not ready');
        return;
      case '/version':
        writeJson(ctx, 200, VERSION_INFO);
        return;
      case '/api':
      case '/apis': {
        const which = path === '/api' ? 'api' : 'apis';
        const version = aggregatedVersion(accept);
        if (version !== undefined) {
          res.setHeader('Vary', 'Accept');
          writeJson(ctx, 200, aggregatedDiscovery(this.#registry, which, version), version === 'v2' ? AGGREGATED_V2 : AGGREGATED_V2BETA1);
        } else if (which === 'api') {
          writeJson(ctx, 200, legacyApiVersions(`${this.#options.host}:${this.#port}`));
        } else {
          writeJson(ctx, 200, legacyApiGroupList(this.#registry));
        }
        return;
      }
      case '/openapi/v2':
        res.writeHead(200, { 'Content-Type': OPENAPI_V2_PROTOBUF, 'Content-Length': '0' });
        res.end();
        return;
      case '/openapi/v3':
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(this.#openapi.index());
        return;
    }
    if (path.startsWith('/openapi/v3/')) {
      const doc = this.#openapi.document(path.slice('/openapi/v3/'.length));
      if (doc === undefined) throw newNotFoundPath();
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(doc);
      return;
    }
    const parts = path.replace(/^\/+|\/+$/g, '').split('/');
    if (parts[0] === 'api' && parts.length === 2) {
      const list = legacyResourceList(this.#registry, '', parts[1]);
      if (list === undefined) throw newNotFoundPath();
      writeJson(ctx, 200, list);
      return;
    }
    if (parts[0] === 'apis' && parts.length === 2) {
      const group = legacyApiGroup(this.#registry, parts[1]);
      if (group === undefined) throw newNotFoundPath();
      writeJson(ctx, 200, group);
      return;
    }
    if (parts[0] === 'apis' && parts.length === 3) {
      const list = legacyResourceList(this.#registry, parts[1], parts[2]);
      if (list === undefined) throw newNotFoundPath();
      writeJson(ctx, 200, list);
      return;
    }
    throw newNotFoundPath();
  }

  async #handleResource(
    req: IncomingMessage,
    res: ServerResponse,
    info: ResourceRequestInfo,
    query: URLSearchParams,
    _user: UserInfo | undefined,
  ): Promise<void> {
    const def: ResourceDef | undefined = this.#registry.lookup(info.group, info.version, info.resource);
    if (def === undefined) throw newNotFoundPath();
    if (!def.namespaced && info.namespace !== '') throw newNotFoundPath();
    const ctx: RequestContext = {
      req,
      res,
      info,
      def,
      query,
      accept: parseAccept(req.headers.accept),
      store: this.#store,
      logger: this.#log,
      maxRequestBytes: this.#maxRequestBytes,
      warnings: [],
    };
    if (info.subresource !== '' && !def.subresources.some((s) => s.name === info.subresource)) {
      throw newNotFoundPath();
    }
    const verbAllowed = def.verbs.includes(info.verb) || info.subresource !== '';
    if (!verbAllowed) throw newMethodNotAllowed();
    if (def.group === '' && def.resource === 'pods' && this.#podProxy !== undefined) {
      if (info.subresource === 'log') {
        if (info.verb !== 'get') throw newMethodNotAllowed();
        return this.#podProxy.handleLog(req, res, info.namespace, info.name, query);
      }
      if (info.subresource === 'exec') {
        if (info.verb !== 'get' && info.verb !== 'create') throw newMethodNotAllowed();
        this.#podProxy.handleExecWithoutWebSocket(req, info.namespace, info.name, query);
      }
    }
    switch (info.verb) {
      case 'list':
        return handleList(ctx);
      case 'watch':
        return handleWatch(ctx);
      case 'get':
        if (info.subresource !== '' && info.subresource !== 'status') throw newNotFoundPath();
        return handleGet(ctx);
      case 'create':
        if (info.subresource === 'binding' && def.group === '' && def.resource === 'pods') return handleBinding(ctx, def);
        if (info.subresource !== '') throw newNotFoundPath();
        return handleCreate(ctx);
      case 'update':
        return handleUpdate(ctx);
      case 'patch':
        return handlePatch(ctx);
      case 'delete':
        return handleDelete(ctx);
      case 'deletecollection':
        return handleDeleteCollection(ctx);
    }
  }
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const server = new VolplaneApiServer(options);
  await server.start();
  return server;
}


// pods/log and pods/exec: the API server checks the request against the pod
// it stores, then hands the work to the kubelet of the pod's node and streams
// the answer back, as kube-apiserver's pod REST "connect" storage does.
//
//   GET pods/{name}/log  → GET https://<node>:<port>/containerLogs/{ns}/{name}/{container}?…
//                          the body is streamed back chunked (kept open with follow).
//   GET|POST pods/{name}/exec with a WebSocket upgrade
//                        → the same upgrade to /exec/{ns}/{name}/{container}?…; after
//                          the kubelet's 101 the two sockets are spliced byte for byte
//                          (frames, masks and pings pass through untouched), so the
//                          subprotocol is whatever the kubelet chose among the
//                          client's offers.
//   POST pods/{name}/exec with `Upgrade: SPDY/3.1` (kubectl before 1.30, and the
//                          fallback of later ones)
//                        → a WebSocket of our own to the same kubelet endpoint; only
//                          once the kubelet answered 101 does the client get its 101
//                          (so every kubelet refusal reaches it as a Status), then
//                          spdy/ terminates SPDY and bridges its streams onto the
//                          kubelet's channels.
//
// Where the kubelet is: the node named in spec.nodeName, its InternalIP (else
// Hostname) and status.daemonEndpoints.kubeletEndpoint.Port (default 10250).
// The API server authenticates with its kubelet-client certificate and, when
// given a CA, verifies the kubelet's serving certificate.
//
// kubectl 1.30+ tries a WebSocket first and, on any non-101 answer, retries the
// same exec as a SPDY POST and prints the error of that second answer; both
// paths run the same checks, so the two answers agree.

import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import type { ResourceDef } from '../api/index.ts';
import {
  fieldErrors,
  newBadRequest,
  newInternalError,
  newInvalid,
  newServiceUnavailable,
  StatusError,
  type FieldError,
  type KubeObject,
} from '../apimachinery/index.ts';
import { toError, type Logger } from '../base/index.ts';
import type { RegistryStore } from './registry/store.ts';
import {
  bridgeSpdyExec,
  KUBELET_WEBSOCKET_PROTOCOLS,
  negotiateSpdyProtocol,
  negotiationFailureMessage,
  offeredStreamProtocols,
} from './spdy/index.ts';

/** The API server's credentials towards kubelets (PEM). */
export interface KubeletClientConfig {
  cert: string;
  key: string;
  /** Verifies the kubelets' serving certificates. */
  ca: string;
}

export const DEFAULT_KUBELET_PORT = 10250;

// ---- the parts of a Pod and a Node we read ----------------------------------------------------

interface ContainerSpec {
  name: string;
}

interface ContainerStateShape {
  running?: { startedAt?: string };
  terminated?: { exitCode?: number; reason?: string; containerID?: string };
  waiting?: { reason?: string; message?: string };
}

interface ContainerStatus {
  name: string;
  state?: ContainerStateShape;
  lastState?: ContainerStateShape;
  containerID?: string;
}

interface PodShape {
  metadata: { name: string; namespace?: string };
  spec?: {
    nodeName?: string;
    containers?: ContainerSpec[];
    initContainers?: ContainerSpec[];
    ephemeralContainers?: ContainerSpec[];
  };
  status?: {
    phase?: string;
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
    ephemeralContainerStatuses?: ContainerStatus[];
  };
}

interface NodeShape {
  metadata: { name: string };
  status?: {
    addresses?: { type: string; address: string }[];
    daemonEndpoints?: { kubeletEndpoint?: { Port?: number } };
  };
}

function names(list: ContainerSpec[] | undefined): string[] {
  return (list ?? []).map((c) => c.name);
}

/**
 * The container a request is about: `requested` when the pod has it, else the only container.
 * Throws BadRequest with kube-apiserver's wording otherwise.
 */
export function resolveContainer(pod: KubeObject, requested: string): string {
  const p = pod as unknown as PodShape;
  const name = p.metadata.name;
  const containers = names(p.spec?.containers);
  const init = names(p.spec?.initContainers);
  const ephemeral = names(p.spec?.ephemeralContainers);
  if (requested === '') {
    if (containers.length === 1) return containers[0];
    if (containers.length === 0) throw newBadRequest(`a container name must be specified for pod ${name}`);
    let message = `a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`;
    if (init.length > 0) message += ` or one of the init containers: [${init.join(' ')}]`;
    if (ephemeral.length > 0) message += ` or one of the ephemeral containers: [${ephemeral.join(' ')}]`;
    throw newBadRequest(message);
  }
  if (![...containers, ...init, ...ephemeral].includes(requested)) {
    throw newBadRequest(`container ${requested} is not valid for pod ${name}`);
  }
  return requested;
}

/**
 * Whether the container has logs to read (current, or the previous attempt with `previous`),
 * judged from the pod status the kubelet reported; BadRequest with the kubelet's wording if not.
 */
export function validateContainerLogStatus(pod: KubeObject, container: string, previous: boolean): void {
  const p = pod as unknown as PodShape;
  const podName = p.metadata.name;
  const status = [
    ...(p.status?.containerStatuses ?? []),
    ...(p.status?.initContainerStatuses ?? []),
    ...(p.status?.ephemeralContainerStatuses ?? []),
  ].find((s) => s.name === container);
  const subject = `container "${container}" in pod "${podName}"`;
  if (status === undefined) {
    // No status yet: the kubelet has not reported this container (it is being created).
    if (previous) throw newBadRequest(`previous terminated ${subject} not found`);
    throw newBadRequest(`${subject} is waiting to start: ContainerCreating`);
  }
  const state = status.state ?? {};
  const last = status.lastState ?? {};
  if (previous) {
    if (last.terminated === undefined) throw newBadRequest(`previous terminated ${subject} not found`);
    return;
  }
  if (state.running !== undefined || state.terminated !== undefined || last.terminated !== undefined) return;
  if (state.waiting !== undefined) {
    switch (state.waiting.reason) {
      case 'ErrImagePull':
        throw newBadRequest(`${subject} is waiting to start: image can't be pulled`);
      case 'ImagePullBackOff':
        throw newBadRequest(`${subject} is waiting to start: trying and failing to pull image`);
      default:
        throw newBadRequest(`${subject} is waiting to start: ${state.waiting.reason ?? ''}`);
    }
  }
  throw newBadRequest(`${subject} is waiting to start - no logs yet`);
}

/** Exec needs a pod that has not finished (kubectl checks this itself, other clients may not). */
export function checkPodCanExec(pod: KubeObject): void {
  const phase = (pod as unknown as PodShape).status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') {
    throw newBadRequest(`cannot exec into a container in a completed pod; current phase is ${phase}`);
  }
}

/** Where the node's kubelet listens. */
export function kubeletAddress(node: KubeObject): { host: string; port: number } {
  const n = node as unknown as NodeShape;
  const addresses = n.status?.addresses ?? [];
  const host =
    addresses.find((a) => a.type === 'InternalIP')?.address ??
    addresses.find((a) => a.type === 'Hostname')?.address ??
    addresses.find((a) => a.type === 'ExternalIP')?.address;
  if (host === undefined || host === '') {
    throw newServiceUnavailable(`node "${n.metadata.name}" has no address to reach its kubelet`);
  }
  const port = n.status?.daemonEndpoints?.kubeletEndpoint?.Port;
  return { host, port: typeof port === 'number' && port > 0 ? port : DEFAULT_KUBELET_PORT };
}

/** Go's strconv.ParseBool; anything else is a decoding error. */
function queryBool(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  if (v === null || v === '') return false;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(v)) return false;
  throw newBadRequest(`${name}: invalid value ${JSON.stringify(v)}: must be a boolean`);
}

function queryInt(query: URLSearchParams, name: string): number | undefined {
  const v = query.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw newBadRequest(`${name}: invalid value ${JSON.stringify(v)}: must be an integer`);
  return Number(v);
}

/** The PodLogOptions query, validated as ValidatePodLogOptions does; returns the kubelet's query. */
export function podLogQuery(query: URLSearchParams, podName: string): { previous: boolean; kubeletQuery: URLSearchParams } {
  const follow = queryBool(query, 'follow');
  const previous = queryBool(query, 'previous');
  const timestamps = queryBool(query, 'timestamps');
  const tailLines = queryInt(query, 'tailLines');
  const limitBytes = queryInt(query, 'limitBytes');
  const sinceSeconds = queryInt(query, 'sinceSeconds');
  const sinceTime = query.get('sinceTime') ?? '';
  if (sinceTime !== '' && (!/^\d{4}-\d{2}-\d{2}T/.test(sinceTime) || Number.isNaN(Date.parse(sinceTime)))) {
    throw newBadRequest(`sinceTime: invalid value ${JSON.stringify(sinceTime)}: must be an RFC 3339 time`);
  }
  const errs: FieldError[] = [];
  if (tailLines !== undefined && tailLines < 0) errs.push(fieldErrors.invalid('tailLines', tailLines, 'must be greater than or equal to 0'));
  if (limitBytes !== undefined && limitBytes < 1) errs.push(fieldErrors.invalid('limitBytes', limitBytes, 'must be greater than 0'));
  if (sinceSeconds !== undefined && sinceTime !== '') {
    errs.push(fieldErrors.forbidden('', 'at most one of `sinceTime` or `sinceSeconds` may be specified'));
  } else if (sinceSeconds !== undefined && sinceSeconds < 1) {
    errs.push(fieldErrors.invalid('sinceSeconds', sinceSeconds, 'must be greater than 0'));
  }
  if (errs.length > 0) throw newInvalid({ group: '', kind: 'PodLogOptions' }, podName, errs);

  const out = new URLSearchParams();
  if (follow) out.set('follow', 'true');
  if (previous) out.set('previous', 'true');
  if (timestamps) out.set('timestamps', 'true');
  if (tailLines !== undefined) out.set('tailLines', String(tailLines));
  if (limitBytes !== undefined) out.set('limitBytes', String(limitBytes));
  if (sinceSeconds !== undefined) out.set('sinceSeconds', String(sinceSeconds));
  if (sinceTime !== '') out.set('sinceTime', sinceTime);
  return { previous, kubeletQuery: out };
}

/** The exec query for the kubelet: commands, and the stream flags as "1" when set. */
export function execQuery(query: URLSearchParams): URLSearchParams {
  const out = new URLSearchParams();
  for (const c of query.getAll('command')) out.append('command', c);
  for (const flag of ['stdin', 'stdout', 'stderr', 'tty']) {
    if (queryBool(query, flag)) out.set(flag, '1');
  }
  return out;
}

/** Turns a kubelet's non-success answer (plain text) into a Status, as the generic response checker does. */
export function statusFromKubelet(code: number, body: string): StatusError {
  const text = body.trim();
  switch (code) {
    case 400:
      return newBadRequest(text);
    case 401:
    case 403:
      return new StatusError(
        500,
        'InternalError',
        `Internal error occurred: the kubelet refused the API server's credentials (${code}): ${text}`,
      );
    case 404:
      return new StatusError(404, 'NotFound', text === '' ? 'the server could not find the requested resource' : text, {});
    case 422:
      return new StatusError(422, 'Invalid', text);
    default:
      return newInternalError(new Error(text === '' ? `kubelet answered ${code}` : text));
  }
}

// ---- the proxy ----------------------------------------------------------------------------------

export interface PodProxyOptions {
  store: RegistryStore;
  podDef: ResourceDef;
  nodeDef: ResourceDef;
  kubeletClient?: KubeletClientConfig;
  logger: Logger;
}

const MAX_ERROR_BODY = 64 * 1024;
const DIAL_TIMEOUT_MS = 10_000;

export const UPGRADE_REQUIRED_MESSAGE =
  'exec needs a connection upgrade: a WebSocket speaking v5.channel.k8s.io or v4.channel.k8s.io, ' +
  'or SPDY/3.1 with X-Stream-Protocol-Version v4.channel.k8s.io, v3.channel.k8s.io or v2.channel.k8s.io';

interface Target {
  pod: KubeObject;
  container: string;
  host: string;
  port: number;
}

export class PodProxy {
  readonly #options: PodProxyOptions;
  readonly #log: Logger;
  /** Spliced exec sockets: the HTTP server no longer tracks them once upgraded. */
  readonly #upgraded = new Set<Duplex>();
  /** WebSockets to kubelets that SPDY sessions are bridged onto. */
  readonly #kubeletWebSockets = new Set<WebSocket>();
  #closed = false;

  constructor(options: PodProxyOptions) {
    this.#options = options;
    this.#log = options.logger.child({ component: 'pod-proxy' });
  }

  /** Ends every open exec session (the API server is stopping). */
  close(): void {
    this.#closed = true;
    for (const socket of this.#upgraded) socket.destroy();
    this.#upgraded.clear();
    for (const ws of this.#kubeletWebSockets) ws.terminate();
    this.#kubeletWebSockets.clear();
  }

  #track(socket: Duplex): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    this.#upgraded.add(socket);
    socket.once('close', () => this.#upgraded.delete(socket));
  }

  #pod(namespace: string, name: string): KubeObject {
    return this.#options.store.get(this.#options.podDef, namespace, name);
  }

  #kubelet(pod: KubeObject): { host: string; port: number } {
    const nodeName = (pod as unknown as PodShape).spec?.nodeName ?? '';
    const node = this.#options.store.get(this.#options.nodeDef, '', nodeName);
    return kubeletAddress(node);
  }

  #tls(host: string): RequestOptions {
    const client = this.#options.kubeletClient;
    const options: RequestOptions = { agent: false, timeout: DIAL_TIMEOUT_MS };
    if (client !== undefined) {
      options.cert = client.cert;
      options.key = client.key;
    }
    // As kube-apiserver without --kubelet-certificate-authority, the kubelet's serving
    // certificate is not verified: a node that joined with a token serves with a
    // certificate of its own. The kubelet verifies us (our client certificate) instead.
    options.rejectUnauthorized = false;
    if (isIP(host) === 0) options.servername = host;
    return options;
  }

  // ---- logs ---------------------------------------------------------------------------------

  async handleLog(req: IncomingMessage, res: ServerResponse, namespace: string, name: string, query: URLSearchParams): Promise<void> {
    const pod = this.#pod(namespace, name);
    const container = resolveContainer(pod, query.get('container') ?? '');
    const { previous, kubeletQuery } = podLogQuery(query, name);
    const nodeName = (pod as unknown as PodShape).spec?.nodeName ?? '';
    if (nodeName === '') {
      // Not scheduled: nothing has run, so the log is empty (as kube-apiserver answers).
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '0' });
      res.end();
      return;
    }
    validateContainerLogStatus(pod, container, previous);
    const { host, port } = this.#kubelet(pod);
    const path = `/containerLogs/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/${encodeURIComponent(container)}?${kubeletQuery}`;

    const upstream = await new Promise<IncomingMessage>((resolve, reject) => {
      const r = httpsRequest({ ...this.#tls(host), host, port, path, method: 'GET', headers: { Accept: 'text/plain' } });
      r.on('response', resolve);
      r.on('timeout', () => r.destroy(new Error(`dialing kubelet at ${host}:${port} timed out`)));
      r.on('error', (err) => reject(newInternalError(new Error(`error dialing backend: ${err.message}`))));
      // A client that leaves before the kubelet answers must not leave the dial behind.
      res.once('close', () => r.destroy());
      r.end();
    });
    if (upstream.statusCode !== 200) {
      const body = await readLimited(upstream, MAX_ERROR_BODY);
      throw statusFromKubelet(upstream.statusCode ?? 500, body);
    }
    upstream.socket.setTimeout(0);
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
    res.flushHeaders();
    await new Promise<void>((resolve) => {
      const finish = (): void => {
        upstream.destroy();
        resolve();
      };
      res.once('close', finish);
      upstream.once('error', () => {
        res.destroy();
        finish();
      });
      upstream.once('end', () => {
        res.end();
        resolve();
      });
      upstream.pipe(res, { end: false });
    });
  }

  // ---- exec ---------------------------------------------------------------------------------

  /** The checks both transports share; returns where to send the exec. */
  #execTarget(namespace: string, name: string, query: URLSearchParams): Target {
    const pod = this.#pod(namespace, name);
    checkPodCanExec(pod);
    const container = resolveContainer(pod, query.get('container') ?? '');
    const nodeName = (pod as unknown as PodShape).spec?.nodeName ?? '';
    if (nodeName === '') throw newBadRequest(`pod ${name} does not have a host assigned`);
    return { pod, container, ...this.#kubelet(pod) };
  }

  /** exec without an upgrade: the same checks, then an explanation of what is needed. */
  handleExecWithoutWebSocket(req: IncomingMessage, namespace: string, name: string, query: URLSearchParams): never {
    this.#execTarget(namespace, name, query);
    throw newBadRequest(UPGRADE_REQUIRED_MESSAGE);
  }

  /**
   * An exec upgrade on `socket`. WebSocket: checks, then the same upgrade to the kubelet, then
   * the two sockets are spliced. SPDY/3.1: checks, a WebSocket to the kubelet, then the SPDY
   * session is bridged onto it until either side ends. Errors before the client's 101 are
   * answered on the socket as a Status; later ones end the session.
   */
  async handleExecUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, namespace: string, name: string, query: URLSearchParams): Promise<void> {
    const spdy = isSpdyUpgrade(req);
    const upgraded = { done: false };
    try {
      if (spdy) await this.#proxySpdyExec(req, socket, head, namespace, name, query, upgraded);
      else await this.#proxyExecUpgrade(req, socket, head, namespace, name, query);
    } catch (err) {
      if (!(err instanceof StatusError)) this.#log.error({ err }, 'exec proxy failed');
      if (upgraded.done) {
        socket.destroy();
        return;
      }
      writeStatusOnSocket(socket, err instanceof StatusError ? err : newInternalError(toError(err)));
    }
  }

  async #proxyExecUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, namespace: string, name: string, query: URLSearchParams): Promise<void> {
    const target = this.#execTarget(namespace, name, query);
    const path = `/exec/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/${encodeURIComponent(target.container)}?${execQuery(query)}`;
    const headers: Record<string, string> = {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': headerValue(req.headers['sec-websocket-version']) ?? '13',
      // The client's key, so the kubelet's Sec-WebSocket-Accept is the one the client expects.
      'Sec-WebSocket-Key': headerValue(req.headers['sec-websocket-key']) ?? '',
    };
    const protocols = headerValue(req.headers['sec-websocket-protocol']);
    if (protocols !== undefined) headers['Sec-WebSocket-Protocol'] = protocols;

    const { host, port } = target;
    const upgraded = await new Promise<{ res: IncomingMessage; kubelet: Socket; head: Buffer }>((resolve, reject) => {
      const r = httpsRequest({ ...this.#tls(host), host, port, path, method: 'GET', headers });
      r.on('upgrade', (res, kubelet, kubeletHead) => resolve({ res, kubelet, head: kubeletHead }));
      r.on('response', (res) => {
        readLimited(res, MAX_ERROR_BODY).then(
          (body) => reject(statusFromKubelet(res.statusCode ?? 500, body)),
          (err: unknown) => reject(err),
        );
      });
      r.on('timeout', () => r.destroy(new Error(`dialing kubelet at ${host}:${port} timed out`)));
      r.on('error', (err) => reject(newInternalError(new Error(`error dialing backend: ${err.message}`))));
      socket.once('close', () => r.destroy());
      r.end();
    });

    const { res, kubelet } = upgraded;
    if (socket.destroyed) {
      kubelet.destroy();
      return;
    }
    kubelet.setTimeout(0);
    kubelet.setNoDelay(true);
    (socket as Socket).setNoDelay?.(true);
    let response = 'HTTP/1.1 101 Switching Protocols\r\n';
    for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) response += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
    socket.write(`${response}\r\n`);
    if (upgraded.head.length > 0) socket.write(upgraded.head);
    if (head.length > 0) kubelet.write(head);
    this.#track(socket);
    this.#track(kubelet);
    splice(socket, kubelet);
  }

  /** The SPDY/3.1 path (see the top of the file); `upgraded.done` once the client has its 101. */
  async #proxySpdyExec(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    namespace: string,
    name: string,
    query: URLSearchParams,
    upgraded: { done: boolean },
  ): Promise<void> {
    const target = this.#execTarget(namespace, name, query);
    const offered = offeredStreamProtocols(req.headers['x-stream-protocol-version']);
    const protocol = negotiateSpdyProtocol(offered);
    if (protocol === undefined) throw new StatusError(403, 'Forbidden', negotiationFailureMessage(offered));
    const flags = execFlags(query);
    const kubeletQuery = execQuery(query);
    const path = `/exec/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/${encodeURIComponent(target.container)}?${kubeletQuery}`;
    const kubelet = await this.#dialKubeletWebSocket(target.host, target.port, path, socket);
    if (socket.destroyed) {
      kubelet.terminate();
      return;
    }
    this.#kubeletWebSockets.add(kubelet);
    kubelet.once('close', () => this.#kubeletWebSockets.delete(kubelet));
    (socket as Socket).setNoDelay?.(true);
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\n' +
        'Connection: Upgrade\r\n' +
        'Upgrade: SPDY/3.1\r\n' +
        `X-Stream-Protocol-Version: ${protocol}\r\n\r\n`,
    );
    upgraded.done = true;
    this.#track(socket);
    this.#log.info({ namespace, name, container: target.container, protocol, kubeletProtocol: kubelet.protocol }, 'exec over SPDY/3.1');
    const result = await bridgeSpdyExec({ socket, head, kubelet, protocol, flags, logger: this.#log });
    if (result.error !== undefined) this.#log.info({ err: result.error.message, namespace, name }, 'exec over SPDY ended early');
  }

  /** A WebSocket to the kubelet's exec endpoint; kubelet refusals become Statuses. */
  #dialKubeletWebSocket(host: string, port: number, path: string, client: Duplex): Promise<WebSocket> {
    const tls = this.#tls(host);
    const authority = isIP(host) === 6 ? `[${host}]` : host;
    const ws = new WebSocket(`wss://${authority}:${port}${path}`, [...KUBELET_WEBSOCKET_PROTOCOLS], {
      cert: tls.cert,
      key: tls.key,
      rejectUnauthorized: false,
      ...(tls.servername === undefined ? {} : { servername: tls.servername }),
      handshakeTimeout: DIAL_TIMEOUT_MS,
      perMessageDeflate: false,
    });
    return new Promise<WebSocket>((resolve, reject) => {
      const onClientClose = (): void => ws.terminate();
      client.once('close', onClientClose);
      const settle = (): void => {
        client.off('close', onClientClose);
      };
      ws.once('open', () => {
        settle();
        // Nothing may be read before the bridge is listening; it resumes the socket itself.
        ws.pause();
        resolve(ws);
      });
      ws.once('unexpected-response', (_req, res) => {
        settle();
        readLimited(res, MAX_ERROR_BODY).then(
          (body) => {
            ws.terminate();
            reject(statusFromKubelet(res.statusCode ?? 500, body));
          },
          (err: unknown) => {
            ws.terminate();
            reject(newInternalError(toError(err)));
          },
        );
      });
      ws.once('error', (err) => {
        settle();
        reject(newInternalError(new Error(`error dialing backend: ${err.message}`)));
      });
    });
  }
}

/** The stream flags of an exec query (Go's ParseBool, as execQuery reads them). */
function execFlags(query: URLSearchParams): { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean } {
  return { stdin: queryBool(query, 'stdin'), stdout: queryBool(query, 'stdout'), stderr: queryBool(query, 'stderr'), tty: queryBool(query, 'tty') };
}

/** Both directions; either side ending or failing ends the other. */
function splice(a: Duplex, b: Duplex): void {
  const destroyBoth = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on('error', destroyBoth);
  b.on('error', destroyBoth);
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
  a.pipe(b);
  b.pipe(a);
}

function headerValue(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(', ') : v;
}

function readLimited(stream: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      if (size < limit) chunks.push(chunk.subarray(0, limit - size));
      size += chunk.length;
    });
    stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    stream.on('error', reject);
  });
}

const REASON_PHRASES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  422: 'Unprocessable Entity',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** A Status answer on a socket that was not upgraded. */
export function writeStatusOnSocket(socket: Duplex, error: StatusError): void {
  if (socket.destroyed) return;
  const body = Buffer.from(JSON.stringify(error.toStatus()), 'utf8');
  socket.end(
    Buffer.concat([
      Buffer.from(
        `HTTP/1.1 ${error.code} ${REASON_PHRASES[error.code] ?? 'Error'}\r\n` +
          'Content-Type: application/json\r\n' +
          'Cache-Control: no-cache, private\r\n' +
          `Content-Length: ${body.length}\r\n` +
          'Connection: close\r\n\r\n',
      ),
      body,
    ]),
  );
}

/** Whether a request asks for a WebSocket. */
function isWebSocketRequest(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

/** Whether a request asks for SPDY/3.1 (kubectl's remote-command transport before WebSockets). */
export function isSpdyUpgrade(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase() === 'spdy/3.1';
}

/** The upgrades the API server takes over (for pods/exec): WebSocket and SPDY/3.1. */
export function isExecUpgrade(req: IncomingMessage): boolean {
  return isWebSocketRequest(req) || isSpdyUpgrade(req);
}


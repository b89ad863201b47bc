// The kubelet's HTTPS server: the two endpoints the API server proxies to for
// `kubectl logs` and `kubectl exec`.
//
//   GET /containerLogs/{ns}/{pod}/{container}?follow=&previous=&tailLines=&sinceSeconds=&sinceTime=&timestamps=&limitBytes=
//       → 200 text/plain, chunked; with follow the body stays open until the
//         container exits or the client goes away.
//   GET /exec/{ns}/{pod}/{container}?command=…&stdin=&stdout=&stderr=&tty=
//       → WebSocket upgrade speaking v5/v4.channel.k8s.io (remote-command.ts).
//
// Only the API server may call: the TLS client certificate must verify
// against the cluster CA (`tls.ca`) and then pass `authorize` (normally: its
// CN is the API server's kubelet-client identity). No certificate → 401,
// a certificate that `authorize` refuses → 403. Errors are plain text, as
// the real kubelet writes them; the API server turns them into Statuses.
//
// The server knows pods only through `findContainer` (the node agent's view:
// which runtime container, which restart) and the runtime (state, log path,
// exec; log files are read with the runtime's CRI reader, readContainerLog),
// so it can be tested with a stand-in runtime.

import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer } from 'ws';
import { toError, type Logger } from '../../base/index.ts';
import { access } from 'node:fs/promises';
import { readContainerLog, type Runtime } from '../runtime/index.ts';
import {
  ExecRequestError,
  negotiateProtocol,
  offeredProtocols,
  parseExecOptions,
  serveExec,
  SUPPORTED_STREAM_PROTOCOLS,
  type ExecOptions,
} from './remote-command.ts';

/** The node agent's answer to "which container is this?". */
export interface FoundContainer {
  /** Runtime container id of the current attempt. */
  id: string;
  podUid: string;
  restartCount: number;
  /** The restart count of the previous attempt, when one exists (for `previous=true`). */
  previousRestartCount?: number;
}

export interface KubeletServerTls {
  /** The kubelet's serving certificate and key, PEM. */
  cert: string;
  key: string;
  /** CA that client certificates must chain to (the cluster CA), PEM. */
  ca: string;
}

export interface KubeletServerOptions {
  runtime: Runtime;
  nodeName: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  tls: KubeletServerTls;
  /** Called for requests whose client certificate verified against `tls.ca`; false → 403. */
  authorize: (req: IncomingMessage) => boolean;
  logger: Logger;
  findContainer(namespace: string, pod: string, container: string): FoundContainer | undefined;
}

export interface KubeletServer {
  readonly port: number;
  /** Stops listening and drops open streams. Idempotent. */
  close(): Promise<void>;
}

/** A request we refuse, with the HTTP code and the plain-text body the kubelet writes. */
export class KubeletRequestError extends Error {
  override readonly name = 'KubeletRequestError';
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/** An authorize() for the API server's client certificate: its subject CN must be `commonName`. */
export function allowClientCommonName(commonName: string): (req: IncomingMessage) => boolean {
  return (req) => {
    const socket = req.socket as Partial<TLSSocket>;
    if (typeof socket.getPeerX509Certificate !== 'function') return false;
    const cert = socket.getPeerX509Certificate();
    if (cert === undefined) return false;
    return cert.subject.split('\n').some((rdn) => rdn === `CN=${commonName}`);
  };
}

export async function startKubeletServer(options: KubeletServerOptions): Promise<KubeletServer> {
  const server = new KubeletHttpServer(options);
  await server.start();
  return server;
}

interface ContainerPath {
  namespace: string;
  pod: string;
  container: string;
}

/** `/{prefix}/{ns}/{pod}/{container}` → its parts, or undefined. */
function containerPath(path: string, prefix: string): ContainerPath | undefined {
  const parts = path.split('/');
  // ['', prefix, ns, pod, container]
  if (parts.length !== 5 || parts[0] !== '' || parts[1] !== prefix) return undefined;
  const [namespace, pod, container] = parts.slice(2).map((p) => decodeURIComponent(p));
  if (namespace === '' || pod === '' || container === '') return undefined;
  return { namespace, pod, container };
}

function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase() === 'websocket';
}

class KubeletHttpServer implements KubeletServer {
  readonly #options: KubeletServerOptions;
  readonly #log: Logger;
  readonly #wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  /** Aborted on close(): ends follows and exec sessions. */
  readonly #stopping = new AbortController();
  #server: Server | undefined;
  #port = 0;
  #closed: Promise<void> | undefined;

  constructor(options: KubeletServerOptions) {
    this.#options = options;
    this.#log = options.logger.child({ component: 'kubelet-server', node: options.nodeName });
  }

  get port(): number {
    return this.#port;
  }

  async start(): Promise<void> {
    const { tls } = this.#options;
    const server = createServer(
      {
        cert: tls.cert,
        key: tls.key,
        ca: tls.ca,
        requestCert: true,
        rejectUnauthorized: false,
        // Only WebSocket upgrades take the 'upgrade' path; anything else (SPDY) is answered normally.
        shouldUpgradeCallback: isWebSocketUpgrade,
      },
      (req, res) => {
        this.#handle(req, res).catch((err: unknown) => this.#fail(res, err));
      },
    );
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.#handleUpgrade(req, socket, head).catch((err: unknown) => this.#failUpgrade(socket, err));
    });
    server.on('tlsClientError', (err) => this.#log.debug({ err: err.message }, 'TLS handshake failed'));
    server.requestTimeout = 0;
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#options.port, this.#options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#log.info({ port: this.#port }, 'kubelet server listening');
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#stopping.abort();
      for (const client of this.#wss.clients) client.terminate();
      const server = this.#server;
      if (server === undefined) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    })();
    return this.#closed;
  }

  /** 401 without a verified client certificate, 403 when authorize() refuses it. */
  #authenticate(req: IncomingMessage): void {
    const socket = req.socket as Partial<TLSSocket>;
    if (socket.authorized !== true) throw new KubeletRequestError(401, 'Unauthorized');
    if (!this.#options.authorize(req)) throw new KubeletRequestError(403, 'Forbidden');
  }

  #fail(res: ServerResponse, err: unknown): void {
    const { code, message } = this.#errorAnswer(err);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(message)) });
    res.end(message);
  }

  #failUpgrade(socket: Duplex, err: unknown): void {
    const { code, message } = this.#errorAnswer(err);
    writeRawResponse(socket, code, message);
  }

  #errorAnswer(err: unknown): { code: number; message: string } {
    if (err instanceof KubeletRequestError) return { code: err.code, message: err.message };
    if (err instanceof ExecRequestError) return { code: 400, message: err.message };
    const e = toError(err);
    this.#log.error({ err: e }, 'kubelet request failed');
    return { code: 500, message: e.message };
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://localhost');
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('ok');
      return;
    }
    this.#authenticate(req);
    const logs = containerPath(url.pathname, 'containerLogs');
    if (logs !== undefined) {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new KubeletRequestError(405, 'Method Not Allowed');
      await this.#serveLogs(req, res, logs, url.searchParams);
      return;
    }
    if (containerPath(url.pathname, 'exec') !== undefined) {
      throw new KubeletRequestError(400, `exec needs a WebSocket upgrade offering ${SUPPORTED_STREAM_PROTOCOLS.join(' or ')}`);
    }
    throw new KubeletRequestError(404, '404 page not found');
  }

  // ---- logs ---------------------------------------------------------------------------------

  async #serveLogs(req: IncomingMessage, res: ServerResponse, where: ContainerPath, query: URLSearchParams): Promise<void> {
    const opts = parseLogOptions(query);
    const found = this.#options.findContainer(where.namespace, where.pod, where.container);
    if (found === undefined) {
      throw new KubeletRequestError(404, `container "${where.container}" not found in pod "${where.pod}"`);
    }
    let restartCount = found.restartCount;
    if (opts.previous) {
      if (found.previousRestartCount === undefined) {
        throw new KubeletRequestError(400, `previous terminated container "${where.container}" in pod "${where.pod}" not found`);
      }
      restartCount = found.previousRestartCount;
    }
    const runtime = this.#options.runtime;
    const path = runtime.logPath(found.podUid, where.container, restartCount);
    try {
      await access(path);
    } catch {
      throw new KubeletRequestError(400, `container "${where.container}" in pod "${where.pod}" has no log file yet`);
    }

    // Following ends when the container stops (after the file is drained), or at once when the
    // client goes away, the server stops, or limitBytes is reached.
    let running = runtime.listContainers().find((c) => c.id === found.id)?.status.state === 'running';
    const follow = opts.follow && !opts.previous && running;
    const stop = new AbortController();
    const onAbort = (): void => stop.abort();
    this.#stopping.signal.addEventListener('abort', onAbort, { once: true });
    res.on('close', onAbort);
    const subscription = runtime.onChange((c) => {
      if (c.id === found.id && c.status.state !== 'running') running = false;
    });

    res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
    // With follow the client must see the response start before any line arrives.
    res.flushHeaders();
    let budget = opts.limitBytes ?? Infinity;
    try {
      if (req.method !== 'HEAD') {
        await readContainerLog(path, {
          follow,
          isRunning: () => running,
          ...(opts.tailLines === undefined ? {} : { tailLines: opts.tailLines }),
          ...(opts.sinceTime === undefined ? {} : { sinceTime: opts.sinceTime }),
          timestamps: opts.timestamps,
          signal: stop.signal,
          onLine: async (line) => {
            if (res.destroyed || budget <= 0) return;
            let chunk = Buffer.from(line.text, 'utf8');
            if (chunk.length >= budget) {
              chunk = chunk.subarray(0, budget);
              stop.abort();
            }
            budget -= chunk.length;
            await writeWithBackpressure(res, chunk);
          },
        });
      }
    } finally {
      subscription.dispose();
      this.#stopping.signal.removeEventListener('abort', onAbort);
      res.off('close', onAbort);
    }
    if (!res.destroyed) res.end();
  }

  // ---- exec ---------------------------------------------------------------------------------

  async #handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    (socket as Socket).setNoDelay?.(true);
    this.#authenticate(req);
    const url = new URL(req.url ?? '/', 'https://localhost');
    const where = containerPath(url.pathname, 'exec');
    if (where === undefined) throw new KubeletRequestError(404, '404 page not found');
    const options: ExecOptions = parseExecOptions(url.searchParams);
    const protocol = negotiateProtocol(offeredProtocols(req.headers['sec-websocket-protocol']));
    if (protocol === undefined) {
      throw new KubeletRequestError(
        400,
        `none of the offered stream protocols is supported; supported: ${SUPPORTED_STREAM_PROTOCOLS.join(', ')}`,
      );
    }
    const found = this.#options.findContainer(where.namespace, where.pod, where.container);
    if (found === undefined) {
      throw new KubeletRequestError(404, `container "${where.container}" not found in pod "${where.pod}"`);
    }
    const state = this.#options.runtime.listContainers().find((c) => c.id === found.id)?.status.state;
    if (state !== 'running') {
      throw new KubeletRequestError(400, `container "${where.container}" in pod "${where.pod}" is not running`);
    }
    const log = this.#log.child({ pod: `${where.namespace}/${where.pod}`, container: where.container });
    const ws = await new Promise<import('ws').WebSocket>((resolve) => {
      this.#wss.handleUpgrade(req, socket, head, resolve);
    });
    if (ws.protocol !== protocol) log.warn({ chosen: ws.protocol }, 'unexpected stream protocol');
    log.debug({ command: options.command, protocol }, 'exec');
    const runtime = this.#options.runtime;
    await serveExec(
      ws,
      protocol,
      options,
      (streams, signal) => runtime.exec(found.id, options.command, streams, AbortSignal.any([signal, this.#stopping.signal])),
      log,
    );
  }
}

/** Writes `chunk`; when the socket's buffer is full, waits for it to drain or close. */
function writeWithBackpressure(res: ServerResponse, chunk: Buffer): Promise<void> {
  if (res.write(chunk)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  422: 'Unprocessable Entity',
  500: 'Internal Server Error',
};

/** An HTTP error answer on a socket that was about to be upgraded. */
function writeRawResponse(socket: Duplex, code: number, message: string): void {
  if (socket.destroyed) return;
  const body = Buffer.from(message, 'utf8');
  socket.end(
    Buffer.concat([
      Buffer.from(
        `HTTP/1.1 ${code} ${STATUS_TEXT[code] ?? 'Error'}\r\n` +
          'Content-Type: text/plain; charset=utf-8\r\n' +
          `Content-Length: ${body.length}\r\n` +
          'Connection: close\r\n\r\n',
      ),
      body,
    ]),
  );
}

// ---- log options ----------------------------------------------------------------------------------

export interface LogOptions {
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  tailLines?: number;
  limitBytes?: number;
  sinceTime?: Date;
}

/** Go's strconv.ParseBool, which the query decoder uses. */
function parseBool(value: string | null): boolean {
  if (value === null) return false;
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False', ''].includes(value)) return false;
  throw new KubeletRequestError(400, `{"message": "Unable to decode query."}`);
}

function parseInteger(value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  if (!/^-?\d+$/.test(value)) throw new KubeletRequestError(400, `{"message": "Unable to decode query."}`);
  return Number(value);
}

/**
 * The PodLogOptions the kubelet accepts, validated as upstream does (422 "Invalid request."
 * for negative tails, non-positive limits, both since forms). sinceSeconds becomes a time here,
 * when the request arrives.
 */
export function parseLogOptions(query: URLSearchParams, now: () => number = Date.now): LogOptions {
  // The old `tail` parameter: "all" means no limit.
  const tail = query.get('tail');
  const tailText = tail !== null && tail !== '' ? (tail === 'all' ? null : tail) : query.get('tailLines');
  const tailLines = parseInteger(tailText);
  const limitBytes = parseInteger(query.get('limitBytes'));
  const sinceSeconds = parseInteger(query.get('sinceSeconds'));
  const sinceText = query.get('sinceTime');
  let sinceTime: Date | undefined;
  if (sinceText !== null && sinceText !== '') {
    const ms = Date.parse(sinceText);
    if (!/^\d{4}-\d{2}-\d{2}T/.test(sinceText) || Number.isNaN(ms)) {
      throw new KubeletRequestError(400, `{"message": "Unable to decode query."}`);
    }
    sinceTime = new Date(ms);
  }
  const invalid =
    (tailLines !== undefined && tailLines < 0) ||
    (limitBytes !== undefined && limitBytes < 1) ||
    (sinceSeconds !== undefined && sinceSeconds < 1) ||
    (sinceSeconds !== undefined && sinceTime !== undefined);
  if (invalid) throw new KubeletRequestError(422, `{"message": "Invalid request."}`);
  if (sinceSeconds !== undefined) sinceTime = new Date(now() - sinceSeconds * 1000);
  return {
    follow: parseBool(query.get('follow')),
    previous: parseBool(query.get('previous')),
    timestamps: parseBool(query.get('timestamps')),
    ...(tailLines === undefined ? {} : { tailLines }),
    ...(limitBytes === undefined ? {} : { limitBytes }),
    ...(sinceTime === undefined ? {} : { sinceTime }),
  };
}

// A small REST client for the Kubernetes API: loads a kubeconfig, keeps a
// keep-alive HTTPS agent with the client certificate (or a bearer token), and
// speaks JSON. Watches are read line by line. Non-2xx answers throw an
// ApiError that carries the server's Status.

import { readFileSync } from 'node:fs';
import { Agent, request as httpsRequest } from 'node:https';
import type { IncomingMessage } from 'node:http';
import { createInterface } from 'node:readline';
import { parse as parseYaml } from 'yaml';
import type { KubeObject, Status } from '../apimachinery/index.ts';
import { CancelledError } from '../base/index.ts';

export interface ClientConfig {
  server: string;
  caCert: string;
  clientCert?: string;
  clientKey?: string;
  token?: string;
}

interface KubeconfigFile {
  clusters?: { name: string; cluster: { server: string; 'certificate-authority-data'?: string } }[];
  users?: { name: string; user: { 'client-certificate-data'?: string; 'client-key-data'?: string; token?: string } }[];
  contexts?: { name: string; context: { cluster: string; user: string } }[];
  'current-context'?: string;
}

const b64 = (s: string | undefined): string | undefined => (s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8'));

/** Reads the current context of a kubeconfig with embedded credentials. */
export function loadKubeconfig(path: string): ClientConfig {
  const doc = parseYaml(readFileSync(path, 'utf8')) as KubeconfigFile;
  const ctxName = doc['current-context'];
  const ctx = doc.contexts?.find((c) => c.name === ctxName)?.context;
  if (ctx === undefined) throw new Error(`kubeconfig ${path}: no current context`);
  const cluster = doc.clusters?.find((c) => c.name === ctx.cluster)?.cluster;
  const user = doc.users?.find((u) => u.name === ctx.user)?.user;
  if (cluster === undefined || user === undefined) throw new Error(`kubeconfig ${path}: context refers to a missing cluster or user`);
  return {
    server: cluster.server,
    caCert: b64(cluster['certificate-authority-data']) ?? '',
    clientCert: b64(user['client-certificate-data']),
    clientKey: b64(user['client-key-data']),
    token: user.token,
  };
}

/** A non-2xx answer. `status` is the server's Status when it sent one. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly code: number;
  readonly status: Status | undefined;
  constructor(code: number, status: Status | undefined, text: string) {
    super(status?.message ?? `HTTP ${code}: ${text.slice(0, 200)}`);
    this.code = code;
    this.status = status;
  }
}

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  accept?: string;
  signal?: AbortSignal;
}

export interface RawResponse {
  code: number;
  headers: IncomingMessage['headers'];
  text: string;
}

export interface WatchEvent<T = KubeObject> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export class RestClient {
  readonly config: ClientConfig;
  readonly #agent: Agent;
  readonly #base: URL;

  constructor(config: ClientConfig, options: { maxSockets?: number } = {}) {
    this.config = config;
    this.#base = new URL(config.server);
    this.#agent = new Agent({
      keepAlive: true,
      maxSockets: options.maxSockets ?? 64,
      ca: config.caCert,
      cert: config.clientCert,
      key: config.clientKey,
    });
  }

  static fromKubeconfig(path: string, options?: { maxSockets?: number }): RestClient {
    return new RestClient(loadKubeconfig(path), options);
  }

  #open(method: string, path: string, opts: RequestOptions): Promise<IncomingMessage> {
    const headers: Record<string, string> = { Accept: opts.accept ?? 'application/json' };
    let payload: string | undefined;
    if (opts.body !== undefined) {
      payload = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['Content-Type'] = opts.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(payload));
    }
    if (this.config.token) headers.Authorization = `Bearer ${this.config.token}`;
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        {
          protocol: 'https:',
          hostname: this.#base.hostname.replace(/^\[|\]$/g, ''),
          port: this.#base.port,
          path,
          method,
          headers,
          agent: this.#agent,
          signal: opts.signal,
        },
        resolve,
      );
      req.on('error', (err) => reject(opts.signal?.aborted ? new CancelledError() : err));
      req.end(payload);
    });
  }

  /** Sends a request and returns the raw answer, whatever its code. */
  async raw(method: string, path: string, opts: RequestOptions = {}): Promise<RawResponse> {
    const res = await this.#open(method, path, opts);
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    return { code: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') };
  }

  /** Sends a request and parses the JSON answer; non-2xx throws ApiError. */
  async request<T = KubeObject>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const r = await this.raw(method, path, opts);
    if (r.code < 200 || r.code > 299) {
      let status: Status | undefined;
      try {
        const parsed = JSON.parse(r.text) as Status;
        if (parsed.kind === 'Status') status = parsed;
      } catch {
        // Not JSON: keep the text in the message.
      }
      throw new ApiError(r.code, status, r.text);
    }
    return JSON.parse(r.text) as T;
  }

  get<T = KubeObject>(path: string, opts?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, opts);
  }

  create<T = KubeObject>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, { body });
  }

  update<T = KubeObject>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, { body });
  }

  patch<T = KubeObject>(path: string, body: unknown, contentType = 'application/merge-patch+json'): Promise<T> {
    return this.request<T>('PATCH', path, { body, contentType });
  }

  delete<T = KubeObject>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('DELETE', path, { body });
  }

  /**
   * Opens a watch and calls `onEvent` for each event until the stream ends or `signal`
   * aborts. Resolves when the stream ends; rejects with ApiError on a non-200 answer.
   */
  async watch<T = KubeObject>(
    path: string,
    onEvent: (event: WatchEvent<T>) => void,
    opts: { signal?: AbortSignal; accept?: string } = {},
  ): Promise<void> {
    const res = await this.#open('GET', path, { signal: opts.signal, accept: opts.accept });
    if (res.statusCode !== 200) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      let status: Status | undefined;
      try {
        status = JSON.parse(text) as Status;
      } catch {
        status = undefined;
      }
      throw new ApiError(res.statusCode ?? 0, status, text);
    }
    const lines = createInterface({ input: res, crlfDelay: Infinity });
    try {
      for await (const line of lines) {
        if (line.trim() === '') continue;
        onEvent(JSON.parse(line) as WatchEvent<T>);
      }
    } catch (err) {
      if (opts.signal?.aborted) return;
      throw err;
    }
  }

  close(): void {
    this.#agent.destroy();
  }
}

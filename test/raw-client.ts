// A deliberately dumb HTTPS client for the end-to-end tests: node's https
// module and the admin credentials from the kubeconfig, nothing else. The
// tests that use it check the wire protocol itself (headers, framing, event
// order), so no client library may stand between them and the bytes.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request, type RequestOptions } from 'node:https';
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { parse } from 'yaml';
import { waitFor } from '../src/base/index.ts';

export interface Endpoint {
  readonly server: URL;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** The parts of an API object the tests look at; everything else stays opaque. */
export interface WireObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    finalizers?: string[];
    deletionTimestamp?: string;
  };
  data?: Record<string, string>;
  [field: string]: unknown;
}

export interface WireList {
  metadata: { resourceVersion?: string };
  items: WireObject[];
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent {
  type: WatchEventType;
  object: WireObject;
}

interface KubeconfigDoc {
  'current-context'?: string;
  contexts?: { name: string; context: { cluster: string; user: string } }[];
  clusters?: { name: string; cluster: { server: string; 'certificate-authority-data'?: string; 'certificate-authority'?: string } }[];
  users?: {
    name: string;
    user: {
      'client-certificate-data'?: string;
      'client-certificate'?: string;
      'client-key-data'?: string;
      'client-key'?: string;
    };
  }[];
}

function pem(data: string | undefined, file: string | undefined, what: string): string {
  if (data !== undefined) return Buffer.from(data, 'base64').toString('utf8');
  if (file !== undefined) return readFileSync(file, 'utf8');
  throw new Error(`kubeconfig has no ${what}`);
}

/** Server URL and admin credentials of the kubeconfig's current context. */
export function endpointFromKubeconfig(path: string): Endpoint {
  const doc = parse(readFileSync(path, 'utf8')) as KubeconfigDoc;
  const ctx = doc.contexts?.find((c) => c.name === doc['current-context'])?.context ?? doc.contexts?.[0]?.context;
  const cluster = doc.clusters?.find((c) => c.name === ctx?.cluster)?.cluster ?? doc.clusters?.[0]?.cluster;
  const user = doc.users?.find((u) => u.name === ctx?.user)?.user ?? doc.users?.[0]?.user;
  if (cluster === undefined || user === undefined) throw new Error(`kubeconfig ${path} has no cluster or user`);
  return {
    server: new URL(cluster.server),
    ca: pem(cluster['certificate-authority-data'], cluster['certificate-authority'], 'CA'),
    cert: pem(user['client-certificate-data'], user['client-certificate'], 'client certificate'),
    key: pem(user['client-key-data'], user['client-key'], 'client key'),
  };
}

function requestOptions(ep: Endpoint, method: string, path: string, headers: Record<string, string>): RequestOptions {
  return {
    host: ep.server.hostname.replace(/^\[|\]$/g, ''),
    port: ep.server.port,
    method,
    path,
    ca: ep.ca,
    cert: ep.cert,
    key: ep.key,
    // One connection per request: nothing pooled outlives a test or a server restart.
    agent: false,
    headers,
  };
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json(): unknown;
}

/** One request; the body (if any) is sent as JSON unless a Content-Type says otherwise. */
export function call(
  ep: Endpoint,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const all: Record<string, string> = { Accept: 'application/json', ...headers };
  if (payload !== undefined) {
    all['Content-Type'] ??= 'application/json';
    all['Content-Length'] = String(Buffer.byteLength(payload));
  }
  return new Promise((resolve, reject) => {
    const req = request(requestOptions(ep, method, path, all), (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text,
          json: () => JSON.parse(text) as unknown,
        });
      });
    });
    req.setTimeout(15_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

export function expectStatus(res: Response, code: number, what: string): void {
  assert.equal(res.status, code, `${what}: expected HTTP ${code}, got ${res.status}: ${res.text.slice(0, 500)}`);
}

export function rv(obj: { metadata?: { resourceVersion?: string } }): string {
  const v = obj.metadata?.resourceVersion;
  assert.ok(typeof v === 'string' && v !== '', `object has no resourceVersion: ${JSON.stringify(obj).slice(0, 300)}`);
  return v;
}

let namespaceCounter = 0;

/** Creates a fresh namespace named after `prefix` and returns its name. */
export async function createNamespace(ep: Endpoint, prefix: string): Promise<string> {
  const name = `${prefix}-${process.pid}-${++namespaceCounter}`;
  const res = await call(ep, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  expectStatus(res, 201, `POST namespace ${name}`);
  return name;
}

export async function createConfigMap(
  ep: Endpoint,
  ns: string,
  name: string,
  data: Record<string, string>,
  labels?: Record<string, string>,
): Promise<WireObject> {
  const metadata: WireObject['metadata'] = { name };
  if (labels !== undefined) metadata.labels = labels;
  const res = await call(ep, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata, data });
  expectStatus(res, 201, `POST configmap ${ns}/${name}`);
  return res.json() as WireObject;
}

export async function listConfigMaps(ep: Endpoint, ns: string): Promise<WireList> {
  const res = await call(ep, 'GET', `/api/v1/namespaces/${ns}/configmaps`);
  expectStatus(res, 200, `GET configmaps in ${ns}`);
  return res.json() as WireList;
}

/** PUT of the whole object (carrying whatever resourceVersion it has). */
export async function replaceObject(ep: Endpoint, path: string, obj: WireObject): Promise<WireObject> {
  const res = await call(ep, 'PUT', path, obj);
  expectStatus(res, 200, `PUT ${path}`);
  return res.json() as WireObject;
}

/**
 * Deletes an object and, if finalizers hold it back (PV/PVC protection with no
 * controller running), clears them so the delete completes.
 */
export async function deleteObject(ep: Endpoint, path: string): Promise<void> {
  const res = await call(ep, 'DELETE', path);
  expectStatus(res, 200, `DELETE ${path}`);
  const body = res.json() as WireObject;
  if (body.kind !== 'Status' && (body.metadata.finalizers?.length ?? 0) > 0) {
    const patch = await call(ep, 'PATCH', path, { metadata: { finalizers: null } }, { 'Content-Type': 'application/merge-patch+json' });
    if (patch.status !== 404) expectStatus(patch, 200, `PATCH finalizers away on ${path}`);
  }
  await waitFor(`${path} to be gone`, async () => (await call(ep, 'GET', path)).status === 404, { timeoutMs: 5_000 });
}

export type WatchState = 'connecting' | 'open' | 'ended' | 'failed';

/**
 * A watch request whose events are collected as they arrive. `raw` keeps the
 * body text verbatim; lines that do not parse as JSON land in `badLines`.
 */
export class RawWatch {
  readonly events: WatchEvent[] = [];
  readonly badLines: string[] = [];
  raw = '';
  state: WatchState = 'connecting';
  status: number | undefined;
  headers: IncomingHttpHeaders = {};
  error: Error | undefined;
  /** Time the response headers arrived. */
  respondedAt: number | undefined;
  readonly #req: ClientRequest;
  #pending = '';
  #closedByUs = false;

  constructor(ep: Endpoint, path: string, query: Record<string, string>, accept = 'application/json') {
    const params = new URLSearchParams({ watch: 'true', ...query });
    this.#req = request(requestOptions(ep, 'GET', `${path}?${params.toString()}`, { Accept: accept }), (res) => this.#onResponse(res));
    this.#req.on('error', (err) => this.#fail(err));
    this.#req.end();
  }

  #onResponse(res: IncomingMessage): void {
    this.status = res.statusCode;
    this.headers = res.headers;
    this.respondedAt = Date.now();
    this.state = 'open';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      this.raw += chunk;
      this.#pending += chunk;
      let nl: number;
      while ((nl = this.#pending.indexOf('\n')) >= 0) {
        const line = this.#pending.slice(0, nl);
        this.#pending = this.#pending.slice(nl + 1);
        if (line.trim() === '') continue;
        try {
          this.events.push(JSON.parse(line) as WatchEvent);
        } catch {
          this.badLines.push(line);
        }
      }
    });
    res.on('error', (err) => this.#fail(err));
    res.on('end', () => {
      if (this.state !== 'open') return;
      if (this.#pending.trim() !== '') this.badLines.push(this.#pending);
      this.state = 'ended';
    });
    res.on('close', () => {
      // 'close' without 'end' means the connection broke mid-stream.
      if (this.state === 'open' && !res.complete) this.#fail(new Error('watch connection closed before the end of the stream'));
    });
  }

  #fail(err: Error): void {
    if (this.state === 'ended' || this.state === 'failed') return;
    if (this.#closedByUs) return;
    this.error = err;
    this.state = 'failed';
  }

  async waitForResponse(timeoutMs = 5_000): Promise<void> {
    await waitFor('watch response headers', () => this.state !== 'connecting', { timeoutMs });
    if (this.state === 'failed') throw this.error ?? new Error('watch failed');
  }

  /** Resolves with the first `count` events once that many arrived. */
  async waitForEvents(count: number, what: string, timeoutMs = 10_000): Promise<WatchEvent[]> {
    try {
      await waitFor(what, () => this.events.length >= count || this.state === 'failed' || this.state === 'ended', { timeoutMs });
    } catch (err) {
      throw new assert.AssertionError({
        message: `${what}: got ${this.events.length} of ${count} events: ${this.#describe()}`,
        actual: this.events.length,
        expected: count,
        operator: '>=',
      });
    }
    if (this.events.length < count) {
      assert.fail(`${what}: stream ${this.state} after ${this.events.length} of ${count} events: ${this.#describe()}`);
    }
    return this.events.slice(0, count);
  }

  async waitForEnd(timeoutMs = 10_000): Promise<void> {
    await waitFor('watch stream to end', () => this.state === 'ended' || this.state === 'failed', { timeoutMs });
  }

  close(): void {
    this.#closedByUs = true;
    this.#req.destroy();
  }

  #describe(): string {
    const events = this.events.map((e) => `${e.type} ${e.object?.metadata?.name ?? ''}@${e.object?.metadata?.resourceVersion ?? ''}`);
    return `status=${this.status ?? '-'} state=${this.state} error=${this.error?.message ?? '-'} events=[${events.join(', ')}] body=${JSON.stringify(this.raw.slice(0, 300))}`;
  }
}

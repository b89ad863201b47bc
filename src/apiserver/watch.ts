// The watch endpoint: newline-delimited JSON events over a chunked response.
//
// Start points (compat §6.3–6.4): no resourceVersion or "0" → a synthetic ADDED
// for every current object, then live events; "N" → every event after N, then
// live; sendInitialEvents → the current objects, a BOOKMARK marked
// `k8s.io/initial-events-end`, then live. A resourceVersion older than the
// retained history gets one ERROR event (410 Expired) and the stream closes,
// so clients relist. Objects that start or stop matching the selectors turn
// into ADDED / DELETED, as in the apiserver.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResourceDef } from '../api/index.ts';
import { apiVersionOf, newBadRequest, newResourceExpired, type KubeObject } from '../apimachinery/index.ts';
import type { Logger } from '../base/index.ts';
import { CompactedError, type CacheEvent, type Cacher } from '../storage/index.ts';
import { tableRow, type IncludeObject } from './table.ts';

/** Close a watch whose client stopped reading once this much is buffered. */
const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;
const BOOKMARK_INTERVAL_MS = 10_000;
const DEFAULT_TIMEOUT_SECONDS = 1800;

export interface WatchRequest {
  def: ResourceDef;
  prefix: string;
  resourceVersion: string | null;
  sendInitialEvents: boolean;
  allowBookmarks: boolean;
  timeoutSeconds: number | undefined;
  /** Whether an object (as presented) passes the request's selectors. */
  matches(obj: KubeObject): boolean;
  /** Stored object → as this resource presents it. */
  present(stored: KubeObject): KubeObject;
  table: { include: IncludeObject; contentType: string } | undefined;
}

type EventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export function parseResourceVersion(value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  if (!/^\d+$/.test(value)) throw newBadRequest(`invalid resource version: ${JSON.stringify(value)}`);
  return Number(value);
}

export async function serveWatch(
  req: IncomingMessage,
  res: ServerResponse,
  cacher: Cacher<KubeObject>,
  w: WatchRequest,
  logger: Logger,
): Promise<void> {
  const requested = parseResourceVersion(w.resourceVersion);
  const now = (): Date => new Date();
  let sentColumns = false;

  const encode = (type: EventType, obj: KubeObject): string => {
    let object: unknown = obj;
    if (w.table !== undefined && (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED')) {
      object = {
        kind: 'Table',
        apiVersion: 'meta.k8s.io/v1',
        metadata: { resourceVersion: obj.metadata.resourceVersion },
        columnDefinitions: sentColumns ? null : w.def.table.columns,
        rows: [tableRow(w.def, obj, w.table.include, now())],
      };
      sentColumns = true;
    }
    return `${JSON.stringify({ type, object })}\n`;
  };

  const bookmark = (revision: number, initialEventsEnd: boolean): string => {
    const metadata: Record<string, unknown> = { resourceVersion: String(revision) };
    if (initialEventsEnd) metadata.annotations = { 'k8s.io/initial-events-end': 'true' };
    return `${JSON.stringify({ type: 'BOOKMARK', object: { kind: w.def.kind, apiVersion: apiVersionOf(w.def), metadata } })}\n`;
  };

  let closed = false;
  let lastRevision = cacher.revision();
  const disposables: (() => void)[] = [];
  const finish = (): void => {
    if (closed) return;
    closed = true;
    for (const d of disposables) d();
    if (!res.writableEnded) res.end();
  };
  res.on('close', finish);
  req.on('close', () => {
    if (req.destroyed) finish();
  });

  const write = (chunk: string): void => {
    if (closed || chunk === '') return;
    res.write(chunk);
    if (res.writableLength > MAX_BUFFERED_BYTES) {
      logger.warn({ resource: w.def.resource }, 'closing a watch whose client is not reading');
      finish();
    }
  };

  // Snapshot and subscription start at the same revision: both are synchronous on the cache.
  const startRevision = cacher.revision();
  let afterRevision: number;
  let initial = '';
  const synthetic = w.sendInitialEvents || requested === undefined || requested === 0;
  if (synthetic) {
    afterRevision = startRevision;
    for (const item of cacher.list(w.prefix)) {
      const obj = w.present(item.obj);
      if (w.matches(obj)) initial += encode('ADDED', obj);
    }
    if (w.sendInitialEvents) initial += bookmark(startRevision, true);
  } else {
    afterRevision = Math.min(requested, startRevision);
  }

  res.writeHead(200, {
    'Content-Type': w.table?.contentType ?? 'application/json',
    'Cache-Control': 'no-cache, private',
    'Transfer-Encoding': 'chunked',
  });
  res.flushHeaders();
  write(initial);

  const onEvents = (events: CacheEvent<KubeObject>[]): void => {
    let out = '';
    for (const ev of events) {
      lastRevision = ev.revision;
      const obj = w.present(ev.obj);
      const now = w.matches(obj);
      if (ev.type === 'ADDED') {
        if (now) out += encode('ADDED', obj);
      } else if (ev.type === 'DELETED') {
        if (now) out += encode('DELETED', obj);
      } else {
        const before = ev.prevObj !== undefined && w.matches(w.present(ev.prevObj));
        if (now && before) out += encode('MODIFIED', obj);
        else if (now) out += encode('ADDED', obj);
        else if (before) out += encode('DELETED', obj);
      }
    }
    write(out);
  };

  try {
    const sub = await cacher.watch(w.prefix, afterRevision, onEvents);
    disposables.push(() => sub.dispose());
    if (closed) sub.dispose();
  } catch (err) {
    if (err instanceof CompactedError) {
      const status = newResourceExpired(`too old resource version: ${requested} (${err.compacted})`).toStatus();
      write(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
      finish();
      return;
    }
    throw err;
  }

  if (w.allowBookmarks) {
    const timer = setInterval(() => write(bookmark(Math.max(lastRevision, cacher.revision()), false)), BOOKMARK_INTERVAL_MS);
    timer.unref();
    disposables.push(() => clearInterval(timer));
  }
  const timeout = setTimeout(finish, (w.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000);
  timeout.unref();
  disposables.push(() => clearTimeout(timeout));
}

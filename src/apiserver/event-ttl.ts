// Events expire: kube-apiserver stores each Event with a one-hour lease
// (--event-ttl), renewed by every write. We keep the same contract with a
// periodic sweep over the watch cache: an Event whose last activity (its
// newest timestamp) is older than the TTL is deleted, and watchers see it go.

import type { KubeObject } from '../apimachinery/index.ts';
import type { Disposable, Logger } from '../base/index.ts';
import { KeyNotFoundError, RevisionConflictError, type Backend, type Cacher } from '../storage/index.ts';

export const DEFAULT_EVENT_TTL_MS = 60 * 60 * 1000;
const EVENTS_PREFIX = '/registry/core/events/';

interface EventTimes {
  lastTimestamp?: string;
  firstTimestamp?: string;
  eventTime?: string;
  series?: { lastObservedTime?: string };
}

/** The newest moment an Event was written about, in ms since the epoch. */
export function lastActivity(event: KubeObject): number {
  const e = event as KubeObject & EventTimes;
  const candidates = [e.lastTimestamp, e.series?.lastObservedTime, e.eventTime, e.firstTimestamp, event.metadata.creationTimestamp];
  let newest = 0;
  for (const c of candidates) {
    if (typeof c !== 'string') continue;
    const t = Date.parse(c);
    if (Number.isFinite(t) && t > newest) newest = t;
  }
  return newest;
}

export interface EventTtlOptions {
  ttlMs?: number;
  intervalMs?: number;
  now?: () => number;
}

/** Deletes expired Events now; returns how many went. */
export async function sweepExpiredEvents(
  backend: Backend,
  cacher: Cacher<KubeObject>,
  ttlMs: number,
  now: number,
): Promise<number> {
  let deleted = 0;
  for (const item of cacher.list(EVENTS_PREFIX)) {
    if (now - lastActivity(item.obj) < ttlMs) continue;
    try {
      await backend.delete(item.key, item.modRevision);
      deleted++;
    } catch (err) {
      // Written or deleted meanwhile: the next sweep looks again.
      if (err instanceof RevisionConflictError || err instanceof KeyNotFoundError) continue;
      throw err;
    }
  }
  return deleted;
}

export function startEventTtl(backend: Backend, cacher: Cacher<KubeObject>, logger: Logger, options: EventTtlOptions = {}): Disposable {
  const ttlMs = options.ttlMs ?? DEFAULT_EVENT_TTL_MS;
  const now = options.now ?? Date.now;
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepExpiredEvents(backend, cacher, ttlMs, now())
      .then((n) => {
        if (n > 0) logger.debug({ deleted: n }, 'expired events deleted');
      })
      .catch((err: unknown) => logger.warn({ err }, 'event expiry sweep failed'))
      .finally(() => {
        running = false;
      });
  }, options.intervalMs ?? 60_000);
  timer.unref();
  return { dispose: () => clearInterval(timer) };
}

// A watch that starts "now" (from the collection's current resourceVersion)
// for benchmarks that count objects reaching a state. `failed` rejects only
// when the stream ends or breaks while it should still be running, so a
// benchmark can race its waits against it instead of waiting out a deadline
// on a dead stream; after `signal` aborts it never settles.

import type { KubeObject } from '../src/apimachinery/index.ts';
import type { RestClient, WatchEvent } from '../src/client/index.ts';

export interface WithPhase {
  status?: { phase?: string };
}

/** A watch stream closed while the benchmark still relied on it. */
export class WatchEndedError extends Error {
  override readonly name = 'WatchEndedError';
  readonly collection: string;
  constructor(collection: string) {
    super(`the watch on ${collection} ended early`);
    this.collection = collection;
  }
}

export interface WatchStream {
  /** Settles (never rejects) once the stream has ended. */
  done: Promise<void>;
  /** Rejects when the stream ended before `signal` aborted. */
  failed: Promise<never>;
}

export async function watchFromNow(
  client: RestClient,
  collection: string,
  onEvent: (event: WatchEvent<KubeObject & WithPhase>) => void,
  signal: AbortSignal,
): Promise<WatchStream> {
  const list = await client.get<{ metadata: { resourceVersion?: string } }>(`${collection}?limit=1`);
  const rv = encodeURIComponent(list.metadata.resourceVersion ?? '');
  const done = client.watch(`${collection}?watch=true&resourceVersion=${rv}`, onEvent, { signal });
  const failed = new Promise<never>((_, reject) => {
    done.then(
      () => {
        if (!signal.aborted) reject(new WatchEndedError(collection));
      },
      (err: unknown) => {
        if (!signal.aborted) reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
  failed.catch(() => undefined);
  return { done: done.catch(() => undefined), failed };
}

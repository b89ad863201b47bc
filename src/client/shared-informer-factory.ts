// One informer per resource (and namespace) for a whole process, as
// client-go's SharedInformerFactory: every controller that watches PVCs
// shares one cache and one watch connection. Informers asked for after
// start() are started at once with the same signal.

import type { KubeObject } from '../apimachinery/index.ts';
import type { Logger } from '../base/index.ts';
import { CancelledError, toError } from '../base/index.ts';
import { Informer } from './informer.ts';
import type { ResourceRef } from './paths.ts';
import type { RestClient } from './rest.ts';

export interface SharedInformerFactoryOptions {
  client: RestClient;
  logger: Logger;
  /** Resync period of every informer (off when unset). */
  resyncMs?: number;
}

export class SharedInformerFactory {
  readonly #client: RestClient;
  readonly #logger: Logger;
  readonly #resyncMs: number | undefined;
  readonly #informers = new Map<string, Informer<KubeObject>>();
  readonly #running = new Set<Promise<void>>();
  #signal: AbortSignal | undefined;

  constructor(options: SharedInformerFactoryOptions) {
    this.#client = options.client;
    this.#logger = options.logger;
    this.#resyncMs = options.resyncMs;
  }

  /**
   * The shared informer of `resource` in `namespace` ('' or unset: all
   * namespaces). The same object for the same arguments; started at once if
   * the factory is running.
   */
  informerFor<T extends KubeObject = KubeObject>(resource: ResourceRef, namespace = ''): Informer<T> {
    const key = `${resource.group}/${resource.version}/${resource.resource}/${namespace}`;
    let informer = this.#informers.get(key);
    if (informer === undefined) {
      informer = new Informer<KubeObject>({ client: this.#client, resource, namespace, logger: this.#logger, resyncMs: this.#resyncMs });
      this.#informers.set(key, informer);
      if (this.#signal !== undefined) this.#run(informer, this.#signal);
    }
    // The cache holds whatever the server sends; T is the caller's view of it.
    return informer as unknown as Informer<T>;
  }

  /** Runs every informer created so far and every one created later, until `signal` aborts. Idempotent. */
  start(signal: AbortSignal): void {
    if (this.#signal !== undefined) return;
    this.#signal = signal;
    for (const informer of this.#informers.values()) this.#run(informer, signal);
  }

  /** Resolves when every informer created so far has synced. Rejects with CancelledError on abort. */
  async waitForSync(signal?: AbortSignal): Promise<void> {
    await Promise.all([...this.#informers.values()].map((i) => i.waitForSync(signal)));
  }

  /** Resolves when every started informer has stopped (after the start signal aborted). */
  async stopped(): Promise<void> {
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  #run(informer: Informer<KubeObject>, signal: AbortSignal): void {
    const p = informer
      .run(signal)
      .catch((err: unknown) => {
        if (!(err instanceof CancelledError)) this.#logger.error({ err: toError(err) }, 'informer stopped unexpectedly');
      })
      .finally(() => this.#running.delete(p));
    this.#running.add(p);
  }
}

// The CSI plugin's connections to the drivers registered on this node: one
// gRPC client per driver endpoint, opened on first use and closed when the
// driver unregisters or re-registers elsewhere, and each driver's node
// capabilities asked once (upstream asks per operation; a driver does not
// change them without restarting, which re-registers it and clears the cache).
//
// Every call goes through `call()`, the one place where a gRPC status becomes
// CsiRpcError with upstream's message, a cancelled caller becomes
// CancelledError, and ABORTED ("an operation for this volume is already in
// progress", which the server scaffold answers when two pods publish one
// volume at the same moment) is retried with a short backoff until the
// operation's deadline. The node calls are idempotent, so repeating one is
// always safe.
//
// @grpc/grpc-js is loaded on first use, not when the volume layer is
// imported: most volplane processes that import src/volume never speak CSI.

import { CancelledError, delay, type Disposable } from '../../../base/index.ts';
import type { CsiCallOptions, CsiClient, NodeRpcType } from '../../../csi/index.ts';
import { CsiError } from '../../../csi/types.ts';
import type { CsiDriverRegistry } from './registry.ts';
import { CsiDriverNotRegisteredError, CsiRpcError } from './csi-util.ts';

interface Entry {
  endpoint: string;
  client: CsiClient;
  capabilities?: Promise<ReadonlySet<NodeRpcType>>;
}

/** A deadline shared by all calls of one plugin operation (upstream createCSIOperationContext). */
export interface OperationContext {
  signal: AbortSignal;
  /** Epoch ms after which no further call is started. */
  deadline: number;
}

const ABORTED_BACKOFF_START_MS = 50;
const ABORTED_BACKOFF_MAX_MS = 1_000;

export class CsiDriverClients {
  readonly #registry: CsiDriverRegistry;
  readonly #entries = new Map<string, Entry>();
  readonly #subscription: Disposable;
  #disposed = false;

  constructor(registry: CsiDriverRegistry) {
    this.#registry = registry;
    this.#subscription = registry.onDidChange((e) => {
      const entry = this.#entries.get(e.driver.name);
      if (entry === undefined) return;
      if (e.type === 'registered' && e.driver.endpoint === entry.endpoint) {
        // Same socket, possibly a restarted driver: keep the channel, ask capabilities again.
        delete entry.capabilities;
        return;
      }
      this.#entries.delete(e.driver.name);
      entry.client.close();
    });
  }

  /** The client of `driver`; throws CsiDriverNotRegisteredError when it is not registered. */
  async client(driver: string): Promise<CsiClient> {
    if (this.#disposed) throw new Error('the CSI plugin has been disposed');
    const registration = this.#registry.get(driver);
    if (registration === undefined) throw new CsiDriverNotRegisteredError(driver);
    let entry = this.#entries.get(driver);
    if (entry !== undefined && entry.endpoint !== registration.endpoint) {
      this.#entries.delete(driver);
      entry.client.close();
      entry = undefined;
    }
    if (entry === undefined) {
      const { createCsiClient } = await import('../../../csi/client.ts');
      // The registry may have changed while the module loaded.
      const again = this.#entries.get(driver);
      if (again !== undefined && again.endpoint === registration.endpoint) return again.client;
      entry = { endpoint: registration.endpoint, client: createCsiClient(registration.endpoint) };
      this.#entries.set(driver, entry);
    }
    return entry.client;
  }

  /** NodeGetCapabilities of `driver`, cached until it re-registers. A failed ask is not cached. */
  async nodeCapabilities(driver: string, ctx: OperationContext): Promise<ReadonlySet<NodeRpcType>> {
    const client = await this.client(driver);
    const entry = this.#entries.get(driver)!;
    if (entry.capabilities === undefined) {
      const asking = this.call('NodeGetCapabilities', ctx, (opts) => client.node.NodeGetCapabilities({}, opts)).then(
        (res) => new Set((res.capabilities ?? []).map((c) => c.rpc?.type).filter((t): t is NodeRpcType => t !== undefined)),
      );
      entry.capabilities = asking;
      asking.catch(() => {
        if (entry.capabilities === asking) delete entry.capabilities;
      });
    }
    return entry.capabilities;
  }

  /**
   * Runs one gRPC call with what is left of the operation's deadline.
   * Throws CsiRpcError for a non-OK status, CancelledError when the caller
   * gave up. With `retryAborted`, ABORTED is retried until the deadline.
   */
  async call<T>(method: string, ctx: OperationContext, fn: (opts: CsiCallOptions) => Promise<T>, retryAborted = false): Promise<T> {
    let backoff = ABORTED_BACKOFF_START_MS;
    for (;;) {
      if (ctx.signal.aborted) throw new CancelledError();
      const remaining = Math.max(1, ctx.deadline - Date.now());
      try {
        return await fn({ timeoutMs: remaining, signal: ctx.signal });
      } catch (err) {
        if (ctx.signal.aborted) throw new CancelledError(`${method} cancelled`, { cause: err });
        if (!(err instanceof CsiError)) throw err;
        if (retryAborted && err.codeName === 'ABORTED' && ctx.deadline - Date.now() > backoff) {
          await delay(backoff, ctx.signal);
          backoff = Math.min(backoff * 2, ABORTED_BACKOFF_MAX_MS);
          continue;
        }
        throw new CsiRpcError(method, err);
      }
    }
  }

  /** Closes every channel and stops following the registry. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#subscription.dispose();
    for (const entry of this.#entries.values()) entry.client.close();
    this.#entries.clear();
  }
}

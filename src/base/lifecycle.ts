// Lifetimes: everything long-running returns a Disposable (or takes an
// AbortSignal) so that whoever started it can stop it. Modelled on the
// disposable store pattern: children are disposed in reverse order of
// registration, and disposing twice is a no-op.

export interface Disposable {
  dispose(): void;
}

export interface AsyncDisposableLike {
  dispose(): Promise<void> | void;
}

export function toDisposable(fn: () => void): Disposable {
  let done = false;
  return {
    dispose() {
      if (done) return;
      done = true;
      fn();
    },
  };
}

/** Holds disposables and disposes them all, last registered first. */
export class DisposableStore implements AsyncDisposableLike {
  #items: AsyncDisposableLike[] = [];
  #disposed = false;

  get isDisposed(): boolean {
    return this.#disposed;
  }

  /** Registers `item`; if the store is already disposed, disposes it at once. */
  add<T extends AsyncDisposableLike>(item: T): T {
    if (this.#disposed) {
      void Promise.resolve(item.dispose()).catch(() => {});
      return item;
    }
    this.#items.push(item);
    return item;
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    const items = this.#items.reverse();
    this.#items = [];
    const errors: unknown[] = [];
    for (const item of items) {
      try {
        await item.dispose();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'several disposables failed');
  }
}

/** A signal that aborts when any of `signals` aborts. */
export function anySignal(...signals: (AbortSignal | undefined)[]): AbortSignal {
  return AbortSignal.any(signals.filter((s): s is AbortSignal => s !== undefined));
}

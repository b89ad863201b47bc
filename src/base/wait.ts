import { CancelledError, TimeoutError } from './errors.ts';

/** Resolves after `ms`, or rejects with CancelledError when `signal` aborts first. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new CancelledError());
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new CancelledError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export interface WaitForOptions {
  /** Give up after this many milliseconds (default 10 s). */
  timeoutMs?: number;
  /** Time between polls (default 20 ms). */
  intervalMs?: number;
  signal?: AbortSignal;
}

/**
 * Polls `condition` until it returns a value other than undefined/false, and
 * returns that value. Throws TimeoutError with `what` in its message when the
 * deadline passes. Used by tests instead of sleeps.
 */
export async function waitFor<T>(
  what: string,
  condition: () => T | undefined | false | Promise<T | undefined | false>,
  options: WaitForOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const err = new TimeoutError(what, timeoutMs);
      if (lastError !== undefined) err.cause = lastError;
      throw err;
    }
    await delay(intervalMs, options.signal);
  }
}

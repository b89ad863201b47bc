// Errors shared by every layer. Each error is an Error subclass with a stable
// `name` and typed fields, so callers can branch on the class, never on text.

/** Thrown when an operation was cancelled through its AbortSignal. */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
  constructor(message = 'operation cancelled', options?: ErrorOptions) {
    super(message, options);
  }
}

/** Thrown when a bounded wait ran out of time. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
  readonly afterMs: number;
  constructor(what: string, afterMs: number) {
    super(`timed out after ${afterMs} ms waiting for ${what}`);
    this.afterMs = afterMs;
  }
}

/** Wraps a thrown non-Error value so that everything caught is an Error. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : JSON.stringify(value));
}

/** Reports an unexpected error from a place that has no caller to return it to. */
export function onUnexpectedError(err: unknown, log: (err: Error) => void = (e) => console.error(e)): void {
  log(toError(err));
}

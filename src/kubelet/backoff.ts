// Per-key exponential back-off for restarts and image pulls (upstream:
// client-go util/flowcontrol/backoff.go, as the kubelet uses it: 10 s
// doubling to 5 min). An entry untouched for twice the maximum is forgotten,
// so a container that ran fine for a long while starts again from 10 s.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 10_000, maxMs: 300_000 };

interface Entry {
  durationMs: number;
  lastUpdate: number;
}

export class Backoff {
  readonly #o: BackoffOptions;
  readonly #entries = new Map<string, Entry>();

  constructor(options: BackoffOptions = DEFAULT_BACKOFF) {
    this.#o = options;
  }

  #live(key: string, now: number): Entry | undefined {
    const e = this.#entries.get(key);
    if (e !== undefined && now - e.lastUpdate > 2 * this.#o.maxMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }

  /** The current back-off of `key` (0 when it has none). */
  get(key: string, now: number = Date.now()): number {
    return this.#live(key, now)?.durationMs ?? 0;
  }

  /** Starts or doubles the back-off of `key`. */
  next(key: string, now: number = Date.now()): void {
    const e = this.#live(key, now);
    if (e === undefined) this.#entries.set(key, { durationMs: this.#o.initialMs, lastUpdate: now });
    else {
      e.durationMs = Math.min(e.durationMs * 2, this.#o.maxMs);
      e.lastUpdate = now;
    }
  }

  /** How much of the back-off is left, counted from `since` (e.g. when the container exited); 0 when none. */
  remainingSince(key: string, since: number, now: number = Date.now()): number {
    const e = this.#live(key, now);
    if (e === undefined) return 0;
    return Math.max(0, since + e.durationMs - now);
  }

  /** How much of the back-off is left, counted from the last next(). */
  remainingSinceUpdate(key: string, now: number = Date.now()): number {
    const e = this.#live(key, now);
    return e === undefined ? 0 : Math.max(0, e.lastUpdate + e.durationMs - now);
  }

  reset(key: string): void {
    this.#entries.delete(key);
  }
}

/** A duration as Go's time.Duration.String prints whole seconds: `10s`, `1m20s`, `5m0s`. */
export function goDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

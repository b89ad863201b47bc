// Human-readable ages as kubectl shows them (the AGE column, describe's
// "Age:"), following apimachinery's util/duration HumanDuration. The server
// computes these strings for Table rows, so the rounding steps are Kubernetes
// facts: seconds up to 2 minutes, minutes (with seconds under 10m), hours (with
// minutes under 8h), days (with hours under 8d), years (with days under 8y).

/**
 * The duration as HumanDuration prints it. A difference of up to one second in
 * the future is treated as now ("0s") to tolerate clock skew; more is
 * `<invalid>`.
 */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '<invalid>';
  // Go truncates toward zero when taking whole seconds of a Duration.
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.trunc(seconds / 3600);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    const d = Math.trunc(hours / 24);
    return h === 0 ? `${d}d` : `${d}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  const years = Math.trunc(hours / 24 / 365);
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365;
    return dy === 0 ? `${years}y` : `${years}y${dy}d`;
  }
  return `${years}y`;
}

// RFC 3339 as metav1.Time / MicroTime are written (Z or a numeric offset).
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Parses an RFC 3339 timestamp; undefined when missing or malformed. */
export function parseTimestamp(timestamp: string | undefined | null): Date | undefined {
  if (typeof timestamp !== 'string' || !RFC3339.test(timestamp)) return undefined;
  const t = Date.parse(timestamp);
  return Number.isNaN(t) ? undefined : new Date(t);
}

/** The age of a timestamp at `now`, e.g. `5m` for the AGE column; `<unknown>` when missing or invalid. */
export function age(timestamp: string | undefined, now: Date): string {
  const t = parseTimestamp(timestamp);
  if (t === undefined) return '<unknown>';
  return humanDuration(now.getTime() - t.getTime());
}

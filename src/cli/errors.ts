// Failures of the volplane command that it reports as one clear line.

/** Thrown when the API port is taken by another process. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
  readonly host: string;
  readonly port: number;
  constructor(host: string, port: number, options?: ErrorOptions) {
    super(
      `cannot listen on ${hostPort(host, port)}: the port is already in use ` +
        `(another volplane or API server?); stop it or choose another port with --api-port`,
      options,
    );
    this.host = host;
    this.port = port;
  }
}

/** Whether `err` or one of its causes is a system error with `code` (EADDRINUSE, EACCES…). */
export function hasErrorCode(err: unknown, code: string): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if ((e as NodeJS.ErrnoException).code === code) return true;
  }
  return false;
}

/** `host:port`, with an IPv6 host in brackets. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

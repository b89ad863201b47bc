// Structured logging through pino. Components take a Logger and add their own
// bindings (`component`, `resource`...). Secrets are redacted by path.
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export interface LoggerOptions {
  level?: string;
  /** Where to write; defaults to stderr. */
  destination?: NodeJS.WritableStream;
}

const REDACT = [
  'token',
  'password',
  'secret',
  'secrets',
  '*.token',
  '*.password',
  '*.secrets',
  'headers.authorization',
  '*.headers.authorization',
  'data',
  '*.data',
];

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.VOLPLANE_LOG_LEVEL ?? 'info';
  return pino(
    { level, base: undefined, redact: { paths: REDACT, censor: '[redacted]' } },
    options.destination ?? pino.destination({ dest: 2, sync: false }),
  );
}

/** A logger that drops everything; for tests and benchmarks. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

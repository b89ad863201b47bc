// The life of a long-running subcommand such as `csi-driver` or
// `csi-registrar`: bad flags print the error and a pointer to --help (exit
// 2), --help prints the usage (exit 0); once serving, the first SIGINT,
// SIGTERM or SIGHUP starts the shutdown, and the logs are flushed before the
// exit status is returned. One copy, so every such command behaves the same.
import type { Logger } from '../base/index.ts';

/**
 * Runs a command's flag parser. Returns its arguments, or the exit status to
 * return at once: 2 after a usage error (an instance of `usageError`, printed
 * to stderr), 0 after printing the usage for --help (the parser's undefined).
 * Any other error from the parser propagates.
 */
export function parseCommandArgs<A extends object>(
  command: string,
  argv: readonly string[],
  parse: (argv: readonly string[]) => A | undefined,
  usage: () => string,
  usageError: new (message: string) => Error,
): A | number {
  let args: A | undefined;
  try {
    args = parse(argv);
  } catch (err) {
    if (!(err instanceof usageError)) throw err;
    process.stderr.write(`volplane ${command}: ${err.message}\nRun "volplane ${command} --help" for usage.\n`);
    return 2;
  }
  if (args === undefined) {
    process.stdout.write(usage());
    return 0;
  }
  return args;
}

/** The stop signals of a serving command: `signal` aborts and `stopped` resolves on the first one. */
export function onStopSignal(): { signal: AbortSignal; stopped: Promise<void> } {
  const stop = new AbortController();
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (): void => {
      for (const s of signals) process.off(s, onSignal);
      stop.abort();
      resolve();
    };
    for (const s of signals) process.on(s, onSignal);
  });
  return { signal: stop.signal, stopped };
}

/** Resolves once the logger has written out what it buffered. */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise<void>((resolve) => logger.flush(() => resolve()));
}

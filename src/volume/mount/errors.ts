// Errors of the host mount utility. Each keeps the command line and its output
// so the message a kubelet event shows says what was run and what it answered,
// in the shape upstream's mount-utils uses ("mount failed: exit status 32 …").

/** A mount-related command ran and failed (non-zero exit, or could not start). */
export class MountError extends Error {
  override readonly name: string = 'MountError';
  readonly command: string;
  readonly args: readonly string[];
  /** The exit status, or undefined when the command could not be started. */
  readonly exitCode: number | undefined;
  /** stdout and stderr together, trimmed. */
  readonly output: string;
  constructor(command: string, args: readonly string[], exitCode: number | undefined, output: string, options?: ErrorOptions) {
    const what = command === 'umount' ? 'unmount' : command;
    const status = exitCode === undefined ? 'could not be started' : `exit status ${exitCode}`;
    super(
      `${what} failed: ${status}\nMounting command: ${command}\nMounting arguments: ${args.join(' ')}\nOutput: ${output}`,
      options,
    );
    this.command = command;
    this.args = args;
    this.exitCode = exitCode;
    this.output = output;
  }
}

/** A mount-related command did not finish in time and was killed (with its children). */
export class MountTimeoutError extends MountError {
  override readonly name = 'MountTimeoutError';
  readonly afterMs: number;
  constructor(command: string, args: readonly string[], afterMs: number, output: string) {
    super(command, args, undefined, output);
    this.message = `${command} ${args.join(' ')} timed out after ${afterMs} ms and was killed` +
      (output === '' ? '' : `\nOutput: ${output}`);
    this.afterMs = afterMs;
  }
}

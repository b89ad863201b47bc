// Errors of a FlexVolume driver call. Each names the driver and the call, so
// an event says which executable failed at which step; none of them carries
// the call's arguments, because the options JSON may hold secrets.

/** The calls of the FlexVolume driver contract, spelled as on the command line. */
export type FlexDriverCommand =
  | 'init'
  | 'getvolumename'
  | 'attach'
  | 'detach'
  | 'waitforattach'
  | 'isattached'
  | 'mountdevice'
  | 'unmountdevice'
  | 'mount'
  | 'unmount'
  | 'expandvolume'
  | 'expandfs';

/** Longest piece of a driver's raw output an error repeats. */
export const MAX_OUTPUT_IN_ERROR = 512;

export function truncateOutput(output: string): string {
  if (output.length <= MAX_OUTPUT_IN_ERROR) return output;
  return `${output.slice(0, MAX_OUTPUT_IN_ERROR)}… (${output.length - MAX_OUTPUT_IN_ERROR} more characters)`;
}

/** Base of every driver-call failure. */
export class FlexDriverError extends Error {
  override readonly name: string = 'FlexDriverError';
  /** `<vendor>/<driver>`. */
  readonly driver: string;
  readonly command: FlexDriverCommand;
  constructor(driver: string, command: FlexDriverCommand, message: string, options?: ErrorOptions) {
    super(message, options);
    this.driver = driver;
    this.command = command;
  }
}

/**
 * The driver answered `{"status":"Failure"}`, or exited non-zero. `message`
 * is upstream's "<cmd> command failed, status: …, reason: <driver message>".
 */
export class FlexDriverCallError extends FlexDriverError {
  override readonly name = 'FlexDriverCallError';
  /** The driver's own `message` (or its stderr when it printed no JSON message). */
  readonly driverMessage: string;
  /** The process's exit status; 0 when it exited cleanly but reported Failure. */
  readonly exitCode: number | undefined;
  constructor(driver: string, command: FlexDriverCommand, status: string, driverMessage: string, exitCode: number | undefined) {
    super(driver, command, `${command} command failed, status: ${status}, reason: ${driverMessage}`);
    this.driverMessage = driverMessage;
    this.exitCode = exitCode;
  }
}

/** stdout was not the driver-status JSON object (empty, not JSON, wrong field types, unknown status). */
export class FlexDriverOutputError extends FlexDriverError {
  override readonly name = 'FlexDriverOutputError';
  /** The raw stdout, truncated to MAX_OUTPUT_IN_ERROR characters. */
  readonly output: string;
  readonly exitCode: number | undefined;
  readonly reason: string;
  constructor(driver: string, command: FlexDriverCommand, reason: string, rawOutput: string, exitCode: number | undefined) {
    const output = truncateOutput(rawOutput);
    super(driver, command, `${command} command returned invalid output (${reason}): ${JSON.stringify(output)}`);
    this.output = output;
    this.exitCode = exitCode;
    this.reason = reason;
  }
}

/** The driver did not exit within its deadline; it was killed with its process group. */
export class FlexDriverTimeoutError extends FlexDriverError {
  override readonly name = 'FlexDriverTimeoutError';
  readonly afterMs: number;
  constructor(driver: string, command: FlexDriverCommand, afterMs: number) {
    super(driver, command, `${command} command timed out after ${afterMs} ms and was killed`);
    this.afterMs = afterMs;
  }
}

/**
 * The driver answered `{"status":"Not supported"}`. The plugin catches it and
 * falls back to Kubernetes' default behaviour for that call; callers of the
 * plugin see it only from `DriverCall` directly.
 */
export class FlexDriverNotSupportedError extends FlexDriverError {
  override readonly name = 'FlexDriverNotSupportedError';
  constructor(driver: string, command: FlexDriverCommand, driverMessage = '') {
    super(driver, command, `${command} command is not supported by the driver` + (driverMessage === '' ? '' : `: ${driverMessage}`));
  }
}

/** The executable could not be started (removed, not executable). */
export class FlexDriverMissingError extends FlexDriverError {
  override readonly name = 'FlexDriverMissingError';
  readonly execPath: string;
  readonly code: string | undefined;
  constructor(driver: string, command: FlexDriverCommand, execPath: string, code: string | undefined, options?: ErrorOptions) {
    super(driver, command, `driver executable ${execPath} could not be started${code === undefined ? '' : ` (${code})`}`, options);
    this.execPath = execPath;
    this.code = code;
  }
}

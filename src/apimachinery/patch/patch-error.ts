// The one error type every patch engine throws. The API server turns it into
// a Status: the kind decides the HTTP code, the message is passed through
// verbatim because kubectl prints it after "Error from server (...)".

export type PatchErrorKind =
  /** The body cannot be read as a patch of its type (400 BadRequest). */
  | 'invalid-patch'
  /** The patch was readable but does not apply to this object (422 Unprocessable Entity). */
  | 'apply-failed';

export class PatchError extends Error {
  override readonly name = 'PatchError';
  readonly kind: PatchErrorKind;

  constructor(kind: PatchErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.kind = kind;
  }

  /** The HTTP status kube-apiserver answers for this kind of failure. */
  get code(): 400 | 422 {
    return this.kind === 'invalid-patch' ? 400 : 422;
  }
}

export function isPatchError(err: unknown): err is PatchError {
  return err instanceof PatchError;
}

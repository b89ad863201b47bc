// Kubernetes API errors: a StatusError carries the metav1.Status that the API
// server writes on the wire, and the constructors below produce the exact
// messages a real apiserver sends (kubectl prints them verbatim).

export type StatusReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Expired'
  | 'Invalid'
  | 'MethodNotAllowed'
  | 'NotAcceptable'
  | 'RequestEntityTooLarge'
  | 'UnsupportedMediaType'
  | 'Timeout'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable';

export type CauseType =
  | 'FieldValueNotFound'
  | 'FieldValueRequired'
  | 'FieldValueDuplicate'
  | 'FieldValueInvalid'
  | 'FieldValueNotSupported'
  | 'FieldValueForbidden'
  | 'FieldValueTooLong'
  | 'FieldValueTooMany'
  | 'FieldValueTypeInvalid'
  | 'FieldManagerConflict'
  | 'UnexpectedServerResponse'
  | 'ResourceVersionTooLarge';

export interface StatusCause {
  reason?: CauseType | string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never> | { resourceVersion?: string };
  status: 'Success' | 'Failure';
  message?: string;
  reason?: StatusReason;
  details?: StatusDetails;
  code: number;
}

/** A qualified resource: `{group, resource}`; printed `resource` or `resource.group`. */
export interface GroupResource {
  group: string;
  resource: string;
}

export function qualifiedResource(gr: GroupResource): string {
  return gr.group === '' ? gr.resource : `${gr.resource}.${gr.group}`;
}

/** An error answered with a Kubernetes Status. */
export class StatusError extends Error {
  override readonly name = 'StatusError';
  readonly code: number;
  readonly reason: StatusReason;
  readonly details: StatusDetails | undefined;

  constructor(code: number, reason: StatusReason, message: string, details?: StatusDetails) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  toStatus(): Status {
    const status: Status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details !== undefined) status.details = this.details;
    return status;
  }
}

export function isStatusError(err: unknown, reason?: StatusReason): err is StatusError {
  return err instanceof StatusError && (reason === undefined || err.reason === reason);
}

function grDetails(gr: GroupResource, name: string): StatusDetails {
  const details: StatusDetails = { name, kind: gr.resource };
  if (gr.group !== '') details.group = gr.group;
  return details;
}

export function newNotFound(gr: GroupResource, name: string): StatusError {
  return new StatusError(404, 'NotFound', `${qualifiedResource(gr)} "${name}" not found`, grDetails(gr, name));
}

/** 404 for a path the server does not serve. */
export function newNotFoundPath(): StatusError {
  return new StatusError(404, 'NotFound', 'the server could not find the requested resource', {});
}

export function newAlreadyExists(gr: GroupResource, name: string): StatusError {
  return new StatusError(409, 'AlreadyExists', `${qualifiedResource(gr)} "${name}" already exists`, grDetails(gr, name));
}

export function newConflict(gr: GroupResource, name: string, reason: string): StatusError {
  return new StatusError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedResource(gr)} "${name}": ${reason}`,
    grDetails(gr, name),
  );
}

export const OBJECT_MODIFIED =
  'the object has been modified; please apply your changes to the latest version and try again';

export function newBadRequest(message: string): StatusError {
  return new StatusError(400, 'BadRequest', message);
}

export function newUnauthorized(message = 'Unauthorized'): StatusError {
  return new StatusError(401, 'Unauthorized', message);
}

export function newForbidden(message: string): StatusError {
  return new StatusError(403, 'Forbidden', message);
}

export function newMethodNotAllowed(): StatusError {
  return new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
}

export function newNotAcceptable(message: string): StatusError {
  return new StatusError(406, 'NotAcceptable', message);
}

export function newGone(message: string): StatusError {
  return new StatusError(410, 'Gone', message);
}

/** The watch ERROR for a resourceVersion older than the retained history. */
export function newResourceExpired(message: string): StatusError {
  return new StatusError(410, 'Expired', message);
}

export function newRequestEntityTooLarge(message: string): StatusError {
  return new StatusError(413, 'RequestEntityTooLarge', message);
}

export function newUnsupportedMediaType(accepted: string[]): StatusError {
  return new StatusError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
  );
}

export function newInternalError(err: Error): StatusError {
  return new StatusError(
    500,
    'InternalError',
    `Internal error occurred: ${err.message}`,
    { causes: [{ message: err.message }] },
  );
}

export function newServiceUnavailable(message: string): StatusError {
  return new StatusError(503, 'ServiceUnavailable', message);
}

/** One validation failure at a field path, as field.Error in apimachinery. */
export interface FieldError {
  type: CauseType;
  /** Dotted path with indices: `spec.accessModes[0]`. */
  field: string;
  /** The detail after the type's text, e.g. `must be no more than 63 characters`. */
  detail?: string;
  /** The offending value, printed for Invalid/NotSupported/Duplicate/Forbidden-with-value. */
  value?: unknown;
  /** For NotSupported: the accepted values. */
  supported?: string[];
}

export const fieldErrors = {
  required(field: string, detail?: string): FieldError {
    return { type: 'FieldValueRequired', field, detail };
  },
  invalid(field: string, value: unknown, detail?: string): FieldError {
    return { type: 'FieldValueInvalid', field, value, detail };
  },
  notSupported(field: string, value: unknown, supported: string[]): FieldError {
    return { type: 'FieldValueNotSupported', field, value, supported };
  },
  duplicate(field: string, value: unknown): FieldError {
    return { type: 'FieldValueDuplicate', field, value };
  },
  forbidden(field: string, detail: string): FieldError {
    return { type: 'FieldValueForbidden', field, detail };
  },
  tooLong(field: string, value: unknown, max: number): FieldError {
    return { type: 'FieldValueTooLong', field, value, detail: `must have at most ${max} bytes` };
  },
  tooMany(field: string, actual: number, max: number): FieldError {
    return { type: 'FieldValueTooMany', field, value: actual, detail: `must have at most ${max} items` };
  },
  immutable(field: string, value: unknown): FieldError {
    return { type: 'FieldValueInvalid', field, value, detail: 'field is immutable' };
  },
};

/**
 * A field-error value printed as written instead of JSON-quoted. A few upstream
 * messages embed a Go `%#v` literal as the value (`spec.capacity: Unsupported value:
 * core.ResourceList(nil): supported values: "storage"`); this reproduces them.
 */
export class GoValue {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  toJSON(): string {
    return this.text;
  }
}

function quoteValue(value: unknown): string {
  if (value instanceof GoValue) return value.text;
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** The message of a field error as apimachinery's field.Error.ErrorBody() writes it. */
export function fieldErrorBody(e: FieldError): string {
  switch (e.type) {
    case 'FieldValueRequired':
      return e.detail ? `Required value: ${e.detail}` : 'Required value';
    case 'FieldValueForbidden':
      return e.detail ? `Forbidden: ${e.detail}` : 'Forbidden';
    case 'FieldValueNotSupported': {
      let s = `Unsupported value: ${quoteValue(e.value)}`;
      if (e.supported && e.supported.length > 0) {
        s += `: supported values: ${e.supported.map((v) => JSON.stringify(v)).join(', ')}`;
      }
      return s;
    }
    case 'FieldValueDuplicate':
      return `Duplicate value: ${quoteValue(e.value)}`;
    case 'FieldValueTooLong':
      return `Too long: ${e.detail ?? ''}`.trimEnd();
    case 'FieldValueTooMany':
      return `Too many: ${quoteValue(e.value)}: ${e.detail ?? ''}`;
    case 'FieldValueNotFound':
      return `Not found: ${quoteValue(e.value)}`;
    case 'FieldValueTypeInvalid':
      return `Invalid value: ${quoteValue(e.value)}: ${e.detail ?? ''}`;
    default: {
      const v = e.value === undefined ? '' : `: ${quoteValue(e.value)}`;
      return `Invalid value${v}${e.detail ? `: ${e.detail}` : ''}`;
    }
  }
}

/**
 * 422 Invalid for a kind, as apiserver's NewInvalid: one error → `Kind.group "name" is
 * invalid: field: body`; several → `...is invalid: [a: x, b: y]`.
 */
export function newInvalid(
  kind: { group: string; kind: string },
  name: string,
  errs: FieldError[],
): StatusError {
  const causes: StatusCause[] = errs.map((e) => ({ reason: e.type, message: fieldErrorBody(e), field: e.field }));
  const qualifiedKind = kind.group === '' ? kind.kind : `${kind.kind}.${kind.group}`;
  // With no kind the apiserver's "%s %q is invalid" still starts with a space.
  const prefix = qualifiedKind === '' ? ' ' : `${qualifiedKind} `;
  const texts = errs.map((e) => (e.field ? `${e.field}: ${fieldErrorBody(e)}` : fieldErrorBody(e)));
  const joined = texts.length === 1 ? texts[0] : `[${texts.join(', ')}]`;
  const details: StatusDetails = { name, kind: kind.kind, causes };
  if (kind.group !== '') details.group = kind.group;
  return new StatusError(422, 'Invalid', `${prefix}"${name}" is invalid: ${joined}`, details);
}

// Name and metadata validation as apimachinery does it, with its exact messages.
//
// kubectl prints these messages verbatim inside 422 Invalid answers
// (`metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain
// must consist of ...`), so the wording, the quoted regular expressions and
// the examples are Kubernetes facts and must not drift. The checks themselves
// are written as linear scans rather than the quoted regular expressions: the
// JS engine backtracks where Go's RE2 does not, and names arrive from clients.
//
// The string checks return a list of messages (empty = valid) like
// k8s.io/apimachinery/pkg/util/validation; the object checks return FieldErrors.

import { fieldErrors, GoValue, type FieldError } from './errors.ts';
import type { ObjectMeta, OwnerReference } from './types.ts';

export function maxLenError(length: number): string {
  return `must be no more than ${length} characters`;
}

export function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  return `${msg} (e.g. ${examples.map((e) => `'${e}', `).join(' or ')}regex used for validation is '${fmt}')`;
}

export function emptyError(): string {
  return 'must be non-empty';
}

const DNS1123_LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_LABEL_ERR =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
export const DNS1123_LABEL_MAX_LENGTH = 63;

const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const DNS1123_SUBDOMAIN_ERR =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
export const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;

const DNS1035_LABEL_FMT = '[a-z]([-a-z0-9]*[a-z0-9])?';
const DNS1035_LABEL_ERR =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
export const DNS1035_LABEL_MAX_LENGTH = 63;

const QUALIFIED_NAME_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const QUALIFIED_NAME_ERR =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
export const QUALIFIED_NAME_MAX_LENGTH = 63;

const LABEL_VALUE_FMT = `(${QUALIFIED_NAME_FMT})?`;
const LABEL_VALUE_ERR =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
export const LABEL_VALUE_MAX_LENGTH = 63;

function isLowerAlnum(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

function isAlnum(c: string): boolean {
  return isLowerAlnum(c) || (c >= 'A' && c <= 'Z');
}

/** `[a-z0-9]([-a-z0-9]*[a-z0-9])?` */
function matchesDNS1123Label(s: string): boolean {
  if (s.length === 0 || !isLowerAlnum(s[0]) || !isLowerAlnum(s[s.length - 1])) return false;
  for (const c of s) if (c !== '-' && !isLowerAlnum(c)) return false;
  return true;
}

function matchesDNS1123Subdomain(s: string): boolean {
  return s.split('.').every(matchesDNS1123Label);
}

/** `[a-z]([-a-z0-9]*[a-z0-9])?` */
function matchesDNS1035Label(s: string): boolean {
  if (s.length === 0 || !(s[0] >= 'a' && s[0] <= 'z')) return false;
  return matchesDNS1123Label(s);
}

/** `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]` */
function matchesQualifiedNamePart(s: string): boolean {
  if (s.length === 0 || !isAlnum(s[0]) || !isAlnum(s[s.length - 1])) return false;
  for (const c of s) if (c !== '-' && c !== '_' && c !== '.' && !isAlnum(c)) return false;
  return true;
}

/** Go's len(): byte length of the UTF-8 encoding. */
function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

export function isDNS1123Label(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > DNS1123_LABEL_MAX_LENGTH) errs.push(maxLenError(DNS1123_LABEL_MAX_LENGTH));
  if (!matchesDNS1123Label(value)) {
    // A valid subdomain that is not a label can only be wrong because of dots.
    if (matchesDNS1123Subdomain(value)) errs.push('must not contain dots');
    else errs.push(regexError(DNS1123_LABEL_ERR, DNS1123_LABEL_FMT, 'my-name', '123-abc'));
  }
  return errs;
}

export function isDNS1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > DNS1123_SUBDOMAIN_MAX_LENGTH) errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX_LENGTH));
  if (!matchesDNS1123Subdomain(value)) errs.push(regexError(DNS1123_SUBDOMAIN_ERR, DNS1123_SUBDOMAIN_FMT, 'example.com'));
  return errs;
}

export function isDNS1035Label(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > DNS1035_LABEL_MAX_LENGTH) errs.push(maxLenError(DNS1035_LABEL_MAX_LENGTH));
  if (!matchesDNS1035Label(value)) errs.push(regexError(DNS1035_LABEL_ERR, DNS1035_LABEL_FMT, 'my-name', 'abc-123'));
  return errs;
}

/** A qualified name (label key, annotation key, finalizer): optional DNS subdomain prefix + '/' + name. */
export function isQualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) {
    name = parts[0];
  } else if (parts.length === 2) {
    const prefix = parts[0];
    name = parts[1];
    if (prefix.length === 0) errs.push(`prefix part ${emptyError()}`);
    else for (const msg of isDNS1123Subdomain(prefix)) errs.push(`prefix part ${msg}`);
  } else {
    return [
      `a qualified name ${regexError(QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')}` +
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) errs.push(`name part ${emptyError()}`);
  else if (byteLength(name) > QUALIFIED_NAME_MAX_LENGTH) errs.push(`name part ${maxLenError(QUALIFIED_NAME_MAX_LENGTH)}`);
  if (!matchesQualifiedNamePart(name)) {
    errs.push(`name part ${regexError(QUALIFIED_NAME_ERR, QUALIFIED_NAME_FMT, 'MyName', 'my.name', '123-abc')}`);
  }
  return errs;
}

export function isValidLabelValue(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > LABEL_VALUE_MAX_LENGTH) errs.push(maxLenError(LABEL_VALUE_MAX_LENGTH));
  if (value.length !== 0 && !matchesQualifiedNamePart(value)) {
    errs.push(regexError(LABEL_VALUE_ERR, LABEL_VALUE_FMT, 'MyValue', 'my_value', '12345'));
  }
  return errs;
}

const NAME_MAY_NOT_BE = ['.', '..'];
const NAME_MAY_NOT_CONTAIN = ['/', '%'];

/** Names that become one path segment of a URL (the default for kinds with no stricter rule). */
export function isValidPathSegmentName(name: string): string[] {
  for (const illegal of NAME_MAY_NOT_BE) if (name === illegal) return [`may not be '${illegal}'`];
  return isValidPathSegmentPrefix(name);
}

export function isValidPathSegmentPrefix(name: string): string[] {
  const errs: string[] = [];
  for (const illegal of NAME_MAY_NOT_CONTAIN) if (name.includes(illegal)) errs.push(`may not contain '${illegal}'`);
  return errs;
}

/**
 * Validates a name, or with `prefix` a generateName prefix. A prefix may end in
 * '-'; apimachinery masks that by replacing the last two characters with 'a'.
 */
export type NameValidator = (name: string, prefix: boolean) => string[];

function maskTrailingDash(name: string): string {
  if (name.length > 1 && name.endsWith('-')) return `${name.slice(0, -2)}a`;
  return name;
}

export const nameIsDNSSubdomain: NameValidator = (name, prefix) =>
  isDNS1123Subdomain(prefix ? maskTrailingDash(name) : name);

export const nameIsDNSLabel: NameValidator = (name, prefix) => isDNS1123Label(prefix ? maskTrailingDash(name) : name);

export const nameIsDNS1035Label: NameValidator = (name, prefix) =>
  isDNS1035Label(prefix ? maskTrailingDash(name) : name);

export const validatePathSegmentName: NameValidator = (name, prefix) =>
  prefix ? isValidPathSegmentPrefix(name) : isValidPathSegmentName(name);

/** Namespace names are DNS labels. */
export const validateNamespaceName: NameValidator = nameIsDNSLabel;

export type NameValidatorKind = 'subdomain' | 'label' | 'path-segment';

const NAME_VALIDATORS: Record<NameValidatorKind, NameValidator> = {
  subdomain: nameIsDNSSubdomain,
  label: nameIsDNSLabel,
  'path-segment': validatePathSegmentName,
};

/** metav1.ValidateLabels: keys are qualified names, values label values; errors are at the map's path. */
export function validateLabels(labels: Record<string, string> | undefined, fieldPath: string): FieldError[] {
  const errs: FieldError[] = [];
  if (labels === undefined || labels === null) return errs;
  for (const [k, v] of Object.entries(labels)) {
    for (const msg of isQualifiedName(k)) errs.push(fieldErrors.invalid(fieldPath, k, msg));
    if (typeof v !== 'string') continue;
    for (const msg of isValidLabelValue(v)) errs.push(fieldErrors.invalid(fieldPath, v, msg));
  }
  return errs;
}

/** The total size (keys + values, in bytes) all annotations of an object may have. */
export const TOTAL_ANNOTATION_SIZE_LIMIT_B = 256 * 1024;

/** Annotation keys are qualified names compared case-insensitively; the total size is bounded. */
export function validateAnnotations(annotations: Record<string, string> | undefined, fieldPath: string): FieldError[] {
  const errs: FieldError[] = [];
  if (annotations === undefined || annotations === null) return errs;
  let total = 0;
  for (const [k, v] of Object.entries(annotations)) {
    for (const msg of isQualifiedName(k.toLowerCase())) errs.push(fieldErrors.invalid(fieldPath, k, msg));
    total += byteLength(k) + (typeof v === 'string' ? byteLength(v) : 0);
  }
  if (total > TOTAL_ANNOTATION_SIZE_LIMIT_B) errs.push(fieldErrors.tooLong(fieldPath, '', TOTAL_ANNOTATION_SIZE_LIMIT_B));
  return errs;
}

/** Kinds that may not own other objects: core v1 Event. */
const BANNED_OWNERS = new Set(['/v1, Kind=Event']);

/** schema.FromAPIVersionAndKind: an unparsable apiVersion yields an empty group/version. */
function ownerGVK(ref: OwnerReference): { group: string; version: string; kind: string } {
  const apiVersion = ref.apiVersion ?? '';
  let group = '';
  let version = '';
  if (apiVersion !== '' && apiVersion !== '/') {
    const parts = apiVersion.split('/');
    if (parts.length === 1) version = parts[0];
    else if (parts.length === 2) [group, version] = parts;
  }
  return { group, version, kind: ref.kind ?? '' };
}

export function validateOwnerReferences(refs: OwnerReference[] | undefined, fieldPath: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!Array.isArray(refs)) return errs;
  let firstController = '';
  for (const ref of refs) {
    const gvk = ownerGVK(ref);
    // apimachinery reports these at the list's path, without an index.
    if (gvk.version === '') errs.push(fieldErrors.invalid(`${fieldPath}.apiVersion`, ref.apiVersion ?? '', 'version must not be empty'));
    if (gvk.kind === '') errs.push(fieldErrors.invalid(`${fieldPath}.kind`, ref.kind ?? '', 'must not be empty'));
    if (!ref.name) errs.push(fieldErrors.invalid(`${fieldPath}.name`, ref.name ?? '', 'must not be empty'));
    if (!ref.uid) errs.push(fieldErrors.invalid(`${fieldPath}.uid`, ref.uid ?? '', 'must not be empty'));
    const gvkString = `${gvk.group}/${gvk.version}, Kind=${gvk.kind}`;
    if (BANNED_OWNERS.has(gvkString)) errs.push(fieldErrors.invalid(fieldPath, ref, `${gvkString} is disallowed from being an owner`));
    if (ref.controller === true) {
      const current = `${ref.kind}/${ref.name}`;
      if (firstController !== '') {
        errs.push(
          fieldErrors.invalid(
            fieldPath,
            refs,
            `Only one reference can have Controller set to true. Found "true" in references for ${firstController} and ${current}`,
          ),
        );
      } else {
        firstController = current;
      }
    }
  }
  return errs;
}

/** Go's %#v of a []string, which apimachinery prints as the value of some errors. */
function goStringSlice(values: readonly string[]): string {
  return `[]string{${values.map((v) => JSON.stringify(v)).join(', ')}}`;
}

export const FINALIZER_ORPHAN_DEPENDENTS = 'orphan';
export const FINALIZER_DELETE_DEPENDENTS = 'foregroundDeletion';

export function validateFinalizers(finalizers: string[] | undefined, fieldPath: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!Array.isArray(finalizers)) return errs;
  for (const f of finalizers) {
    for (const msg of isQualifiedName(f)) errs.push(fieldErrors.invalid(fieldPath, f, msg));
  }
  if (finalizers.includes(FINALIZER_ORPHAN_DEPENDENTS) && finalizers.includes(FINALIZER_DELETE_DEPENDENTS)) {
    errs.push(
      fieldErrors.invalid(
        fieldPath,
        new GoValue(goStringSlice(finalizers)),
        `finalizer ${FINALIZER_ORPHAN_DEPENDENTS} and ${FINALIZER_DELETE_DEPENDENTS} cannot be both set`,
      ),
    );
  }
  return errs;
}

export interface ObjectMetaValidationOptions {
  namespaced: boolean;
  /** How `metadata.name` is checked; DNS subdomain unless the kind says otherwise. */
  nameValidator?: NameValidatorKind;
}

/**
 * apimachinery's ValidateObjectMeta for a create. A missing name is accepted
 * when generateName is set (the server generates it); with neither the error
 * is `metadata.name: Required value: name or generateName is required`.
 */
export function validateObjectMeta(
  meta: ObjectMeta | undefined,
  options: ObjectMetaValidationOptions,
  fieldPath = 'metadata',
): FieldError[] {
  const m: ObjectMeta = meta ?? {};
  const errs: FieldError[] = [];
  const nameFn = NAME_VALIDATORS[options.nameValidator ?? 'subdomain'];
  const child = (name: string): string => (fieldPath === '' ? name : `${fieldPath}.${name}`);

  if (m.generateName) {
    for (const msg of nameFn(m.generateName, true)) errs.push(fieldErrors.invalid(child('generateName'), m.generateName, msg));
  }
  if (!m.name) {
    if (!m.generateName) errs.push(fieldErrors.required(child('name'), 'name or generateName is required'));
  } else {
    for (const msg of nameFn(m.name, false)) errs.push(fieldErrors.invalid(child('name'), m.name, msg));
  }

  if (options.namespaced) {
    if (!m.namespace) errs.push(fieldErrors.required(child('namespace')));
    else for (const msg of validateNamespaceName(m.namespace, false)) errs.push(fieldErrors.invalid(child('namespace'), m.namespace, msg));
  } else if (m.namespace) {
    errs.push(fieldErrors.forbidden(child('namespace'), 'not allowed on this type'));
  }

  if (typeof m.generation === 'number' && m.generation < 0) {
    errs.push(fieldErrors.invalid(child('generation'), m.generation, 'must be greater than or equal to 0'));
  }
  errs.push(...validateLabels(m.labels, child('labels')));
  errs.push(...validateAnnotations(m.annotations, child('annotations')));
  errs.push(...validateOwnerReferences(m.ownerReferences, child('ownerReferences')));
  errs.push(...validateFinalizers(m.finalizers, child('finalizers')));
  return errs;
}

function sameJSON(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * apimachinery's ValidateObjectMetaUpdate: identity fields are immutable, a
 * resourceVersion is required, generation never decreases, and no finalizer
 * may be added once deletion has started. Labels, annotations, owners and
 * finalizers are validated as on create.
 */
export function validateObjectMetaUpdate(
  newMeta: ObjectMeta,
  oldMeta: ObjectMeta,
  fieldPath = 'metadata',
): FieldError[] {
  const errs: FieldError[] = [];
  const child = (name: string): string => (fieldPath === '' ? name : `${fieldPath}.${name}`);
  if (oldMeta.deletionTimestamp) {
    const old = new Set(oldMeta.finalizers ?? []);
    const extra = [...new Set(newMeta.finalizers ?? [])].filter((f) => !old.has(f)).sort();
    if (extra.length > 0) {
      errs.push(
        fieldErrors.forbidden(
          child('finalizers'),
          `no new finalizers can be added if the object is being deleted, found new finalizers ${goStringSlice(extra)}`,
        ),
      );
    }
  }
  if (!newMeta.resourceVersion) {
    errs.push(fieldErrors.invalid(child('resourceVersion'), newMeta.resourceVersion ?? '', 'must be specified for an update'));
  }
  if ((newMeta.generation ?? 0) < (oldMeta.generation ?? 0)) {
    errs.push(fieldErrors.invalid(child('generation'), newMeta.generation ?? 0, 'must not be decremented'));
  }
  const immutable: Array<keyof ObjectMeta> = [
    'name',
    'namespace',
    'uid',
    'creationTimestamp',
    'deletionTimestamp',
    'deletionGracePeriodSeconds',
  ];
  for (const key of immutable) {
    // Go compares zero values: an unset string equals "", an unset pointer is nil.
    const zero = key === 'deletionGracePeriodSeconds' ? null : '';
    const next = newMeta[key] ?? zero;
    if (!sameJSON(next, oldMeta[key] ?? zero)) errs.push(fieldErrors.immutable(child(key), next));
  }
  errs.push(...validateLabels(newMeta.labels, child('labels')));
  errs.push(...validateAnnotations(newMeta.annotations, child('annotations')));
  errs.push(...validateOwnerReferences(newMeta.ownerReferences, child('ownerReferences')));
  errs.push(...validateFinalizers(newMeta.finalizers, child('finalizers')));
  return errs;
}

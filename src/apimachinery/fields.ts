// Field selectors (`--field-selector spec.nodeName=n1,status.phase!=Running`),
// following k8s.io/apimachinery/pkg/fields.
//
// The grammar is only `field=value`, `field==value`, `field!=value`, ANDed by
// commas; values may escape `\`, `,` and `=` with a backslash. Which fields a
// resource accepts is decided by the API server from the resource definition;
// checkFieldSelector produces the two different rejection texts the real
// server uses (compat §5.6). Missing fields read as "", so `a=` selects
// objects where `a` is empty or unset.

import { newBadRequest } from './errors.ts';

export interface FieldRequirement {
  field: string;
  operator: '=' | '!=';
  value: string;
}

/** Thrown (as the message of a 400) for a selector that does not parse. */
export class FieldSelectorParseError extends Error {
  override readonly name = 'FieldSelectorParseError';
  readonly selector: string;
  constructor(selector: string, message: string) {
    super(message);
    this.selector = selector;
  }
}

/** Splits on commas that are not escaped; escapes are kept for unescapeValue. */
function splitTerms(selector: string): string[] {
  if (selector.length === 0) return [];
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (inSlash) inSlash = false;
    else if (c === '\\') inSlash = true;
    else if (c === ',') {
      terms.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(selector.slice(start));
  return terms;
}

// `==` is tried before `=` so it does not leave a leading '=' in the value.
const TERM_OPERATORS = ['!=', '==', '='] as const;

/** The left side cannot be escaped, so the first operator found splits the term. */
function splitTerm(term: string): { lhs: string; op: (typeof TERM_OPERATORS)[number]; rhs: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of TERM_OPERATORS) {
      if (term.startsWith(op, i)) return { lhs: term.slice(0, i), op, rhs: term.slice(i + op.length) };
    }
  }
  return undefined;
}

/** Undoes `\\`, `\,` and `\=`; any other escape or a bare `,`/`=` is an error (apimachinery's texts). */
export function unescapeFieldValue(s: string, selector = s): string {
  if (!/[\\,=]/.test(s)) return s;
  let out = '';
  let inSlash = false;
  for (const c of s) {
    if (inSlash) {
      if (c === '\\' || c === ',' || c === '=') out += c;
      else throw new FieldSelectorParseError(selector, `invalid field selector: invalid escape sequence: \\${c}`);
      inSlash = false;
      continue;
    }
    if (c === '\\') inSlash = true;
    // apimachinery prints the offending rune with %v, i.e. as its number.
    else if (c === ',' || c === '=') throw new FieldSelectorParseError(selector, `invalid field selector: unescaped character in value: ${c.codePointAt(0)}`);
    else out += c;
  }
  if (inSlash) throw new FieldSelectorParseError(selector, 'invalid field selector: invalid escape sequence: \\');
  return out;
}

/** Escapes a value for a field selector string. */
export function escapeFieldValue(s: string): string {
  return s.replace(/[\\,=]/g, (c) => `\\${c}`);
}

/**
 * Parses a field selector. Terms come back sorted (as apimachinery sorts them),
 * `==` normalised to `=`. Throws a 400 BadRequest StatusError with
 * apimachinery's message for bad syntax.
 */
export function parseFieldSelector(selector: string): FieldRequirement[] {
  try {
    return parseFieldSelectorTerms(selector);
  } catch (err) {
    if (err instanceof FieldSelectorParseError) throw newBadRequest(err.message);
    throw err;
  }
}

function parseFieldSelectorTerms(selector: string): FieldRequirement[] {
  const parts = splitTerms(selector).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const reqs: FieldRequirement[] = [];
  for (const part of parts) {
    if (part === '') continue;
    const term = splitTerm(part);
    if (term === undefined) throw new FieldSelectorParseError(selector, `invalid selector: '${selector}'; can't understand '${part}'`);
    const value = unescapeFieldValue(term.rhs, selector);
    reqs.push({ field: term.lhs, operator: term.op === '!=' ? '!=' : '=', value });
  }
  return reqs;
}

/** All requirements hold; `get` returns "" for a field the object does not have. */
export function matchesFields(reqs: readonly FieldRequirement[], get: (field: string) => string): boolean {
  for (const r of reqs) {
    const actual = get(r.field);
    if (r.operator === '=' ? actual !== r.value : actual === r.value) return false;
  }
  return true;
}

/** The selector as apimachinery prints it (`a=b,c!=d`, values escaped). */
export function fieldSelectorString(reqs: readonly FieldRequirement[]): string {
  return reqs.map((r) => `${r.field}${r.operator}${escapeFieldValue(r.value)}`).join(',');
}

/** The value a selector requires for `field` through an `=` term, if any. */
export function requiresExactMatch(reqs: readonly FieldRequirement[], field: string): string | undefined {
  for (const r of reqs) if (r.field === field && r.operator === '=') return r.value;
  return undefined;
}

/**
 * Which fields a resource accepts and how it rejects the rest. A `custom`
 * family (pods, nodes, namespaces, secrets, events) accepts exactly `fields`,
 * which list `metadata.name`/`metadata.namespace` themselves where supported
 * (nodes take no namespace). The `default` family always accepts those two,
 * plus any `fields` (CRD selectableFields).
 */
export interface FieldSelectorSupport {
  family: 'custom' | 'default';
  fields: string[];
}

const DEFAULT_FIELDS = ['metadata.name', 'metadata.namespace'];

/**
 * Rejects fields the resource does not support with the real apiserver's text:
 * `field label not supported: spec.foo` for the custom family,
 * `"spec.foo" is not a known field selector: only "metadata.name",
 * "metadata.namespace"` for the default family. Throws a 400 for the first
 * unsupported term.
 */
export function checkFieldSelector(reqs: readonly FieldRequirement[], def: FieldSelectorSupport): void {
  const supported = new Set(def.family === 'custom' ? def.fields : [...DEFAULT_FIELDS, ...def.fields]);
  for (const r of reqs) {
    if (supported.has(r.field)) continue;
    if (def.family === 'custom') throw newBadRequest(`field label not supported: ${r.field}`);
    throw newBadRequest(`${JSON.stringify(r.field)} is not a known field selector: only "metadata.name", "metadata.namespace"`);
  }
}

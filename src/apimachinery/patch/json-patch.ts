// JSON patch (RFC 6902), `application/json-patch+json`: what kubectl sends for
// `patch --type=json`.
//
// kube-apiserver applies these with evanphx/json-patch v4, whose behaviour
// differs from the RFC in ways clients can observe, so this module reproduces
// that library rather than the RFC:
//   - `replace` on a missing object member adds it (only a missing parent, or
//     an array index out of range, fails);
//   - `add` at the root path "" fails ("doc is missing path");
//   - array indices may be negative (counted from the end);
//   - `copy` of a missing member copies null; `test` of a missing member
//     against null succeeds;
//   - the whole patch is refused on the first failing operation, and the
//     message is the library's, word for word (kubectl prints it).
//
// Path resolution and every check are done here; the mutations themselves
// are carried out by fast-json-patch on a private copy of the target, with
// pointers already normalised (non-negative indices) so its own validation
// is not needed.

import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';

import { isPlainObject } from '../types.ts';
import { PatchError } from './patch-error.ts';
import { goAtoi, jsonTypeName } from './go-format.ts';

type JsonMap = Record<string, unknown>;

const MISSING = 'missing value';
const INVALID_INDEX = 'invalid index referenced';
const TEST_FAILED = 'test failed';

/**
 * Applies an RFC 6902 operation list to `target` and returns the result.
 * Neither input is modified.
 * @throws PatchError `invalid-patch` (400) when `ops` is not a list of objects;
 *   `apply-failed` (422) when an operation is unknown or does not apply.
 */
export function applyJsonPatch(target: unknown, ops: unknown): unknown {
  const operations = decodePatch(ops);
  let doc = structuredClone(target);
  for (const op of operations) doc = applyOperation(doc, op);
  return doc;
}

/** The decoding step: the whole body must be a list of objects before anything applies. */
function decodePatch(ops: unknown): Array<JsonMap | null> {
  // Go decodes a JSON null into an empty patch: nothing to do.
  if (ops === null || ops === undefined) return [];
  if (!Array.isArray(ops)) {
    throw new PatchError(
      'invalid-patch',
      `json: cannot unmarshal ${jsonTypeName(ops)} into Go value of type jsonpatch.Patch`,
    );
  }
  return ops.map((op) => {
    if (op === null) return null;
    if (!isPlainObject(op)) {
      throw new PatchError(
        'invalid-patch',
        `json: cannot unmarshal ${jsonTypeName(op)} into Go value of type jsonpatch.Operation`,
      );
    }
    return op;
  });
}

function fail(message: string): never {
  throw new PatchError('apply-failed', message);
}

// ---- reading the operation's fields ---------------------------------------

type FieldRead = { ok: true; value: string } | { ok: false; error: string };

function readPointer(op: JsonMap, field: 'path' | 'from'): FieldRead {
  const raw = op[field];
  if (raw === undefined || raw === null) {
    const error = field === 'path' ? `operation missing path field: ${MISSING}` : `operation, missing from field: ${MISSING}`;
    return { ok: false, error };
  }
  if (typeof raw !== 'string') {
    return { ok: false, error: `json: cannot unmarshal ${jsonTypeName(raw)} into Go value of type string` };
  }
  return { ok: true, value: raw };
}

/** The operation's value; an absent value behaves as null except in `test`. */
function valueOf(op: JsonMap): unknown {
  return op.value === undefined ? null : structuredClone(op.value);
}

// ---- resolving pointers the way the library does ----------------------------

interface Located {
  /** The object or array that holds (or will hold) the addressed member. */
  container: JsonMap | unknown[];
  /** Normalised pointer of the container ('' for the root). */
  pointer: string;
  /** The last token, unescaped. */
  key: string;
}

function unescapeToken(token: string): string {
  return token.replaceAll('~1', '/').replaceAll('~0', '~');
}

function escapeToken(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

/**
 * Array index lookup with the library's rules: decimal (sign allowed),
 * negative counts from the end, out of range is an error.
 */
function arrayIndex(arr: unknown[], key: string): { ok: true; index: number } | { ok: false; error: string } {
  const parsed = goAtoi(key);
  if (!parsed.ok) return { ok: false, error: parsed.error };
  let idx = parsed.value;
  if (idx < 0) {
    if (idx < -arr.length) return { ok: false, error: `Unable to access invalid index: ${idx}: ${INVALID_INDEX}` };
    idx += arr.length;
  }
  if (idx >= arr.length) return { ok: false, error: `Unable to access invalid index: ${idx}: ${INVALID_INDEX}` };
  return { ok: true, index: idx };
}

/**
 * Walks every token but the last. Each step must land on an object or an
 * array; a missing member, a null, a scalar or a bad index means "missing
 * path". The first token before the leading '/' is ignored, as upstream does.
 */
function locate(doc: unknown, path: string): Located | undefined {
  const tokens = path.split('/');
  if (tokens.length < 2) return undefined;
  if (!isPlainObject(doc) && !Array.isArray(doc)) return undefined;
  let container: JsonMap | unknown[] = doc;
  let pointer = '';
  for (const raw of tokens.slice(1, -1)) {
    const token = unescapeToken(raw);
    let next: unknown;
    let normalised: string;
    if (Array.isArray(container)) {
      const at = arrayIndex(container, token);
      if (!at.ok) return undefined;
      next = container[at.index];
      normalised = String(at.index);
    } else {
      next = Object.hasOwn(container, token) ? container[token] : undefined;
      normalised = token;
    }
    if (!isPlainObject(next) && !Array.isArray(next)) return undefined;
    container = next;
    pointer += `/${escapeToken(normalised)}`;
  }
  return { container, pointer, key: unescapeToken(tokens[tokens.length - 1]) };
}

/** Reads the addressed member: undefined for a missing (or null) object member. */
function getMember(at: Located): { ok: true; value: unknown; pointer: string } | { ok: false; error: string } {
  if (Array.isArray(at.container)) {
    const idx = arrayIndex(at.container, at.key);
    if (!idx.ok) return idx;
    return { ok: true, value: at.container[idx.index], pointer: `${at.pointer}/${idx.index}` };
  }
  const value = Object.hasOwn(at.container, at.key) ? at.container[at.key] : undefined;
  return { ok: true, value, pointer: `${at.pointer}/${escapeToken(at.key)}` };
}

/** Where an `add` would insert: '-' appends; an index may equal the length. */
function addTarget(at: Located): { ok: true; pointer: string } | { ok: false; error: string } {
  if (!Array.isArray(at.container)) return { ok: true, pointer: `${at.pointer}/${escapeToken(at.key)}` };
  if (at.key === '-') return { ok: true, pointer: `${at.pointer}/-` };
  const parsed = goAtoi(at.key);
  if (!parsed.ok) return { ok: false, error: `value was not a proper array index: '${at.key}': ${parsed.error}` };
  let idx = parsed.value;
  const size = at.container.length + 1;
  if (idx >= size) return { ok: false, error: `Unable to access invalid index: ${idx}: ${INVALID_INDEX}` };
  if (idx < 0) {
    if (idx < -size) return { ok: false, error: `Unable to access invalid index: ${idx}: ${INVALID_INDEX}` };
    idx += size;
  }
  return { ok: true, pointer: `${at.pointer}/${idx}` };
}

/** Where a `remove` applies; an object member must exist. */
function removeTarget(at: Located): { ok: true; pointer: string } | { ok: false; error: string } {
  if (Array.isArray(at.container)) {
    const idx = arrayIndex(at.container, at.key);
    if (!idx.ok) return idx;
    return { ok: true, pointer: `${at.pointer}/${idx.index}` };
  }
  if (!Object.hasOwn(at.container, at.key)) {
    return { ok: false, error: `Unable to remove nonexistent key: ${at.key}: ${MISSING}` };
  }
  return { ok: true, pointer: `${at.pointer}/${escapeToken(at.key)}` };
}

// ---- mutations, delegated to fast-json-patch ---------------------------------

function mutate(doc: unknown, op: Operation): unknown {
  try {
    return jsonpatch.applyOperation(doc, op, false, true).newDocument;
  } catch (err) {
    // Only reachable for paths fast-json-patch refuses on principle (`__proto__`).
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new PatchError('apply-failed', message, { cause: err });
  }
}

// ---- the six operations -------------------------------------------------------

function applyOperation(doc: unknown, op: JsonMap | null): unknown {
  const kind = op !== null && typeof op.op === 'string' ? op.op : 'unknown';
  if (op === null) fail(`Unexpected kind: ${kind}`);
  switch (kind) {
    case 'add':
      return opAdd(doc, op);
    case 'remove':
      return opRemove(doc, op);
    case 'replace':
      return opReplace(doc, op);
    case 'move':
      return opMove(doc, op);
    case 'test':
      return opTest(doc, op);
    case 'copy':
      return opCopy(doc, op);
    default:
      return fail(`Unexpected kind: ${kind}`);
  }
}

function opAdd(doc: unknown, op: JsonMap): unknown {
  const path = readPointer(op, 'path');
  if (!path.ok) fail(`add operation failed to decode path: ${MISSING}`);
  const at = locate(doc, path.value);
  if (!at) fail(`add operation does not apply: doc is missing path: "${path.value}": ${MISSING}`);
  const target = addTarget(at);
  if (!target.ok) fail(`error in add for path: '${path.value}': ${target.error}`);
  return mutate(doc, { op: 'add', path: target.pointer, value: valueOf(op) });
}

function opRemove(doc: unknown, op: JsonMap): unknown {
  const path = readPointer(op, 'path');
  if (!path.ok) fail(`remove operation failed to decode path: ${MISSING}`);
  const at = locate(doc, path.value);
  if (!at) fail(`remove operation does not apply: doc is missing path: "${path.value}": ${MISSING}`);
  const target = removeTarget(at);
  if (!target.ok) fail(`error in remove for path: '${path.value}': ${target.error}`);
  return mutate(doc, { op: 'remove', path: target.pointer });
}

function opReplace(doc: unknown, op: JsonMap): unknown {
  const path = readPointer(op, 'path');
  if (!path.ok) fail(`replace operation failed to decode path: ${path.error}`);
  if (path.value === '') {
    const value = valueOf(op);
    if (!isPlainObject(value) && !Array.isArray(value)) fail('replace operation value must be object or array');
    return value;
  }
  const at = locate(doc, path.value);
  if (!at) fail(`replace operation does not apply: doc is missing path: ${path.value}: ${MISSING}`);
  // A missing object member is not an error here (upstream only checks arrays).
  const member = getMember(at);
  if (!member.ok) fail(`replace operation does not apply: doc is missing key: ${path.value}: ${MISSING}`);
  return mutate(doc, { op: 'replace', path: member.pointer, value: valueOf(op) });
}

function opMove(doc: unknown, op: JsonMap): unknown {
  const from = readPointer(op, 'from');
  if (!from.ok) fail(`move operation failed to decode from: ${from.error}`);
  const source = locate(doc, from.value);
  if (!source) fail(`move operation does not apply: doc is missing from path: ${from.value}: ${MISSING}`);
  // Upstream names the last token, not the whole path, in these two messages.
  const member = getMember(source);
  if (!member.ok) fail(`error in move for path: '${source.key}': ${member.error}`);
  const removal = removeTarget(source);
  if (!removal.ok) fail(`error in move for path: '${source.key}': ${removal.error}`);
  const moved = member.value === undefined ? null : member.value;
  let next = mutate(doc, { op: 'remove', path: removal.pointer });

  const path = readPointer(op, 'path');
  if (!path.ok) fail(`move operation failed to decode path: ${path.error}`);
  const dest = locate(next, path.value);
  if (!dest) fail(`move operation does not apply: doc is missing destination path: ${path.value}: ${MISSING}`);
  const target = addTarget(dest);
  if (!target.ok) fail(`error in move for path: '${path.value}': ${target.error}`);
  next = mutate(next, { op: 'add', path: target.pointer, value: moved });
  return next;
}

function opCopy(doc: unknown, op: JsonMap): unknown {
  const from = readPointer(op, 'from');
  if (!from.ok) fail(`copy operation failed to decode from: ${from.error}`);
  const source = locate(doc, from.value);
  if (!source) fail(`copy operation does not apply: doc is missing from path: ${from.value}: ${MISSING}`);
  const member = getMember(source);
  if (!member.ok) fail(`error in copy for from: '${from.value}': ${member.error}`);
  const copied = member.value === undefined ? null : structuredClone(member.value);

  const path = readPointer(op, 'path');
  if (!path.ok) fail(`copy operation failed to decode path: ${MISSING}`);
  const dest = locate(doc, path.value);
  if (!dest) fail(`copy operation does not apply: doc is missing destination path: ${path.value}: ${MISSING}`);
  const target = addTarget(dest);
  if (!target.ok) fail(`error while adding value during copy: ${target.error}`);
  return mutate(doc, { op: 'add', path: target.pointer, value: copied });
}

function opTest(doc: unknown, op: JsonMap): unknown {
  const path = readPointer(op, 'path');
  if (!path.ok) fail(`test operation failed to decode path: ${path.error}`);
  const hasValue = op.value !== undefined;
  const failed = (): never => fail(`testing value ${path.value} failed: ${TEST_FAILED}`);
  if (path.value === '') {
    if (!hasValue || !jsonpatch._areEquals(doc, op.value)) failed();
    return doc;
  }
  const at = locate(doc, path.value);
  if (!at) fail(`test operation does not apply: is missing path: ${path.value}: ${MISSING}`);
  const member = getMember(at);
  if (!member.ok) fail(`error in test for path: '${path.value}': ${member.error}`);
  const actual = member.value;
  if (actual === undefined || actual === null) {
    // A missing or null member matches an absent or null value.
    if (hasValue && op.value !== null) failed();
    return doc;
  }
  if (!hasValue || !jsonpatch._areEquals(actual, op.value)) failed();
  return doc;
}

// JSON merge patch (RFC 7386), `application/merge-patch+json`: what kubectl
// sends for `patch --type=merge`, `label`, `annotate`, and for client-side
// apply of kinds it has no Go type for (custom resources).
//
// The rules follow the RFC as kube-apiserver applies it (evanphx/json-patch
// MergePatch): objects merge key by key, `null` removes a key, anything else
// (arrays included) replaces the old value. Values that land in the result
// wholesale lose their null members at any depth, including inside objects
// that sit in arrays, because the apiserver's decoder would drop them too.
// Unlike the RFC, a patch that is not an object is refused ("Invalid JSON
// Patch", 400) — an object kind can never become a scalar or a list.

import { isPlainObject } from '../types.ts';
import { PatchError } from './patch-error.ts';

type JsonMap = Record<string, unknown>;

/**
 * Returns `target` with `patch` merged in. Neither input is modified; the
 * result shares no structure with them.
 * @throws PatchError `invalid-patch` when `patch` is not a JSON object.
 */
export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) throw new PatchError('invalid-patch', 'Invalid JSON Patch');
  // A target that is not an object (absent, scalar, list) is treated as {}.
  const base: JsonMap = isPlainObject(target) ? structuredClone(target) : {};
  mergeInto(base, patch);
  return base;
}

function mergeInto(doc: JsonMap, patch: JsonMap): void {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete doc[key];
      continue;
    }
    const current = Object.hasOwn(doc, key) ? doc[key] : undefined;
    if (isPlainObject(current) && isPlainObject(value)) {
      mergeInto(current, value);
    } else {
      doc[key] = withoutNulls(value);
    }
  }
}

/** A deep copy of `value` with every null object member removed. */
function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (isPlainObject(value)) {
    const out: JsonMap = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== null) out[k] = withoutNulls(v);
    }
    return out;
  }
  return value;
}

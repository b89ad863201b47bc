// What the Deployment, ReplicaSet and StatefulSet controllers compute alike
// from their objects, free of I/O: the label selector of `spec.selector`
// (undefined when it does not parse, which each controller reports as an
// event) and the hash of a pod template that names ReplicaSets and
// StatefulSet revisions.

import type { LabelSelector, LabelSelectorObject } from '../../apimachinery/index.ts';
import { labelSelectorFromObject } from '../../apimachinery/index.ts';

/** The parsed `spec.selector` of a workload, or undefined when it is invalid. */
export function workloadSelector(obj: { spec?: object }): LabelSelector | undefined {
  try {
    return labelSelectorFromObject((obj.spec as { selector?: LabelSelectorObject } | undefined)?.selector);
  } catch {
    return undefined;
  }
}

/** JSON with object keys sorted, so equal templates hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function fnv32a(bytes: Uint8Array, hash = 0x811c9dc5): number {
  let h = hash;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const SAFE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/**
 * The hash of a pod template: FNV-32a of its canonical JSON (plus the
 * collision count, when given, as four little-endian bytes), printed in
 * decimal with each digit mapped onto the vowel-free alphabet upstream uses,
 * so a hash never spells a word. Not byte-compatible with upstream's (which
 * hashes Go's dump of the struct), but stable and of the same shape.
 */
export function computeTemplateHash(template: unknown, collisionCount?: number): string {
  let h = fnv32a(new TextEncoder().encode(canonicalJson(template)));
  if (collisionCount !== undefined) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, collisionCount >>> 0, true);
    h = fnv32a(b, h);
  }
  return [...String(h)].map((c) => SAFE_ALPHABET[c.charCodeAt(0) % SAFE_ALPHABET.length]).join('');
}

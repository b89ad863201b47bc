// Patch engines for PATCH requests: JSON patch (RFC 6902), JSON merge patch
// (RFC 7386) and Kubernetes strategic merge patch, all over plain JSON values
// and all throwing PatchError. Server-side apply lives elsewhere.

export { applyMergePatch } from './merge-patch.ts';
export { applyJsonPatch } from './json-patch.ts';
export { applyStrategicMergePatch } from './strategic-merge-patch.ts';
export type { PatchSchema } from './strategic-merge-patch.ts';
export { patchSchemaFor, hasPatchSchema } from './schemas.ts';
export { PatchError, isPatchError } from './patch-error.ts';
export type { PatchErrorKind } from './patch-error.ts';

/** The Content-Type of each patch flavour a PATCH request can carry. */
export const PATCH_CONTENT_TYPES: {
  readonly json: string;
  readonly merge: string;
  readonly strategic: string;
  readonly apply: string;
} = Object.freeze({
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
});

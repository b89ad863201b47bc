// The two questions both protection controllers ask of an object and its
// finalizer (upstream: pkg/controller/volume/protectionutil), and the
// finalizer-list edits they write. Pure; the controllers do the I/O.

import type { KubeObject } from '../../apimachinery/index.ts';

function hasFinalizer(obj: Pick<KubeObject, 'metadata'>, finalizer: string): boolean {
  return (obj.metadata.finalizers ?? []).includes(finalizer);
}

/** Being deleted and still held by `finalizer`: the controller must decide whether to let it go. */
export function isDeletionCandidate(obj: Pick<KubeObject, 'metadata'>, finalizer: string): boolean {
  return Boolean(obj.metadata.deletionTimestamp) && hasFinalizer(obj, finalizer);
}

/**
 * Not being deleted and missing `finalizer`: created before the admission
 * step existed (or the finalizer was removed by hand), so the controller adds
 * it. Never true for an object being deleted — the apiserver refuses new
 * finalizers then anyway.
 */
export function needToAddFinalizer(obj: Pick<KubeObject, 'metadata'>, finalizer: string): boolean {
  return !obj.metadata.deletionTimestamp && !hasFinalizer(obj, finalizer);
}

/** A copy of `obj` with `finalizer` appended (the input, typically a cached object, is not touched). */
export function withFinalizer<T extends KubeObject>(obj: T, finalizer: string): T {
  return { ...obj, metadata: { ...obj.metadata, finalizers: [...(obj.metadata.finalizers ?? []), finalizer] } };
}

/** A copy of `obj` without any `finalizer` entry; other finalizers keep their order. */
export function withoutFinalizer<T extends KubeObject>(obj: T, finalizer: string): T {
  return { ...obj, metadata: { ...obj.metadata, finalizers: (obj.metadata.finalizers ?? []).filter((f) => f !== finalizer) } };
}

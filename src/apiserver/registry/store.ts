// The generic registry store: Kubernetes object semantics for every resource,
// on top of a storage Backend (writes) and its Cacher (reads and watches).
//
// It owns what the apiserver's generic registry owns: system metadata (uid,
// creationTimestamp, resourceVersion, generation), spec/status separation,
// defaulting and validation through the ResourceDef, optimistic concurrency,
// and graceful deletion with finalizers.
//
// Write order and concurrency: every write is a compare-and-swap on the key's
// modRevision. A client that named a resourceVersion gets 409 Conflict when it
// is stale; server-driven retries (PUT without resourceVersion, PATCH) re-read
// the cache and try again. The cache is updated before a write's promise
// resolves, so a read after a write always sees it.
//
// Deletion: an object without finalizers goes at once (a tombstone revision
// that watchers see as DELETED). With finalizers it only gets a
// deletionTimestamp, and goes when an update removes the last finalizer.
// Pods bound to a node are deleted gracefully; namespaces wait for their
// spec finalizers.
//
// managedFields: every create and update by a named field manager records what
// it set in metadata.managedFields (an Update entry, see apimachinery/
// managedfields), computed after defaulting and before the kind's
// prepareFor* hooks, as upstream records it. Server-side apply computes the
// entries itself (the handler's update function) and the store keeps them.
//
// Copies on the update path: update() hands its function a deep copy of the
// current object (a patch edits it); replace(), the PUT, needs none, since
// the request body is the new object, and takes a fresh top level and
// metadata of the body per attempt so a retry starts from what was sent.
// Cached objects are never changed in place.

import { isDeepStrictEqual } from 'node:util';
import type { ResourceDef } from '../../api/index.ts';
import {
  apiVersionOf,
  deepCopy,
  formatTime,
  isPlainObject,
  newAlreadyExists,
  newBadRequest,
  newConflict,
  newForbidden,
  newInvalid,
  newNotFound,
  OBJECT_MODIFIED,
  StatusError,
  fieldErrors,
  type FieldError,
  type GroupResource,
  type KubeObject,
} from '../../apimachinery/index.ts';
import { FieldManager } from '../../apimachinery/managedfields/index.ts';
import { generateName, newUid } from '../../apimachinery/names.ts';
import {
  KeyExistsError,
  KeyNotFoundError,
  RevisionConflictError,
  type Backend,
  type Cacher,
  type CachedObject,
} from '../../storage/index.ts';

/** Resources whose DELETE answers with the deleted object rather than a Status. */
const RETURNS_DELETED_OBJECT = new Set(['pods', 'persistentvolumes', 'persistentvolumeclaims']);

const MAX_CONFLICT_RETRIES = 32;

export interface WriteOptions {
  dryRun: boolean;
  /**
   * The manager whose Update entry in metadata.managedFields this write records.
   * Undefined: managedFields are not tracked (a create stores none, an update
   * keeps the current ones).
   */
  fieldManager?: string;
  /**
   * The object's metadata.managedFields were computed by a server-side apply and
   * are stored as they are, without recording an Update.
   */
  applied?: boolean;
}

export interface DeleteOptions extends WriteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: string;
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface DeleteResult {
  obj: KubeObject;
  /** True when the object is gone; false when it was only marked for deletion. */
  deleted: boolean;
  returnsObject: boolean;
}

/**
 * Computes the new object from the current one. `current` is a private copy the
 * function may change. Throwing aborts the update.
 */
export type UpdateFn = (current: KubeObject) => KubeObject;

export interface UpdateOptions extends WriteOptions {
  /** `finalize` is the Namespace subresource that changes only spec.finalizers. */
  /**
   * `finalize` is the Namespace subresource that changes only spec.finalizers; `binding`
   * is a pod's assignment to a node, built by the caller and not subject to the pod
   * update rules (spec.nodeName is otherwise immutable).
   */
  subresource: '' | 'status' | 'finalize' | 'binding';
  /** True when the caller pinned no resourceVersion, so conflicts are retried here. */
  retryOnConflict: boolean;
}

export function groupResource(def: ResourceDef): GroupResource {
  return { group: def.group, resource: def.resource };
}

/** The storage identity of a resource: views share the storage of the kind they show. */
function storageIdentity(def: ResourceDef): { group: string; resource: string } {
  if (def.view) return { group: def.view.storageGroup, resource: def.view.storageResource };
  return { group: def.group, resource: def.resource };
}

export function storagePrefix(def: ResourceDef, namespace?: string): string {
  const id = storageIdentity(def);
  const base = `/registry/${id.group === '' ? 'core' : id.group}/${id.resource}/`;
  return def.namespaced && namespace ? `${base}${namespace}/` : base;
}

export function storageKey(def: ResourceDef, namespace: string, name: string): string {
  return `${storagePrefix(def, def.namespaced ? namespace : undefined)}${name}`;
}

const NAMESPACE_PREFIX = '/registry/core/namespaces/';

/** Serialises an object for storage: the resourceVersion is the store's, not part of the value. */
export function encodeForStorage(obj: KubeObject): string {
  const rv = obj.metadata.resourceVersion;
  if (rv === undefined) return JSON.stringify(obj);
  delete obj.metadata.resourceVersion;
  try {
    return JSON.stringify(obj);
  } finally {
    obj.metadata.resourceVersion = rv;
  }
}

export const FINALIZER_ORPHAN = 'orphan';
export const FINALIZER_FOREGROUND = 'foregroundDeletion';

/**
 * The garbage collector's finalizers for a deletion's propagation policy: Orphan and
 * Foreground add theirs (and drop the other), Background drops both; no policy keeps
 * whatever the object has. Returns the object itself when nothing changes.
 */
function withPropagationFinalizers(obj: KubeObject, policy: string | undefined): KubeObject {
  if (policy === undefined) return obj;
  const before = obj.metadata.finalizers ?? [];
  let after = before.filter((f) => f !== FINALIZER_ORPHAN && f !== FINALIZER_FOREGROUND);
  if (policy === 'Orphan') after = [...after, FINALIZER_ORPHAN];
  if (policy === 'Foreground') after = [...after, FINALIZER_FOREGROUND];
  if (isDeepStrictEqual(after, before)) return obj;
  const next = deepCopy(obj);
  if (after.length > 0) next.metadata.finalizers = after;
  else delete next.metadata.finalizers;
  return next;
}

/** Everything of an object but metadata and status: what `generation` tracks. */
function specOf(obj: KubeObject): Record<string, unknown> {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = obj;
  return rest;
}

/** `obj` sharing everything but a metadata without managedFields (for reading or copying). */
function withoutManagedFields(obj: KubeObject): KubeObject {
  if (obj.metadata.managedFields === undefined) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}

function sameContent(a: KubeObject, b: KubeObject): boolean {
  const ma = { ...a.metadata, resourceVersion: undefined };
  const mb = { ...b.metadata, resourceVersion: undefined };
  return isDeepStrictEqual(ma, mb) && isDeepStrictEqual({ ...a, metadata: undefined }, { ...b, metadata: undefined });
}

export class RegistryStore {
  readonly #backend: Backend;
  readonly #cacher: Cacher<KubeObject>;
  readonly #now: () => Date;

  constructor(backend: Backend, cacher: Cacher<KubeObject>, now: () => Date = () => new Date()) {
    this.#backend = backend;
    this.#cacher = cacher;
    this.#now = now;
  }

  get cacher(): Cacher<KubeObject> {
    return this.#cacher;
  }

  // One FieldManager per resource and subresource: it holds the kind's patch schema.
  readonly #fieldManagers = new WeakMap<ResourceDef, { main?: FieldManager; status?: FieldManager }>();

  #fieldManager(def: ResourceDef, subresource: '' | 'status'): FieldManager {
    let byDef = this.#fieldManagers.get(def);
    if (byDef === undefined) {
      byDef = {};
      this.#fieldManagers.set(def, byDef);
    }
    const slot = subresource === 'status' ? 'status' : 'main';
    return (byDef[slot] ??= new FieldManager({ group: def.group, version: def.version, kind: def.kind, subresource, hasStatus: def.hasStatus }));
  }

  /** Sets `obj`'s managedFields for a non-apply write (`live` undefined for a create). */
  #recordManagedFields(
    def: ResourceDef,
    subresource: '' | 'status',
    live: KubeObject | undefined,
    obj: KubeObject,
    sent: KubeObject['metadata']['managedFields'],
    options: WriteOptions,
  ): void {
    if (options.applied === true) {
      if (sent === undefined) delete obj.metadata.managedFields;
      else obj.metadata.managedFields = sent;
      return;
    }
    let entries: KubeObject['metadata']['managedFields'];
    if (options.fieldManager === undefined) {
      entries = live?.metadata.managedFields;
    } else {
      obj.metadata.managedFields = sent;
      entries = this.#fieldManager(def, subresource).update(live, obj, options.fieldManager, this.#now());
    }
    if (entries === undefined) delete obj.metadata.managedFields;
    else obj.metadata.managedFields = entries;
  }

  /** The object as this resource shows it (views convert from storage). */
  present(def: ResourceDef, stored: KubeObject): KubeObject {
    if (def.view) {
      const viewed = def.view.fromStorage(stored);
      viewed.apiVersion = apiVersionOf(def);
      viewed.kind = def.kind;
      return viewed;
    }
    return stored;
  }

  #toStorage(def: ResourceDef, obj: KubeObject): KubeObject {
    return def.view ? def.view.toStorage(obj) : obj;
  }

  namespaceState(name: string): 'missing' | 'active' | 'terminating' {
    const ns = this.#cacher.get(`${NAMESPACE_PREFIX}${name}`);
    if (ns === undefined) return 'missing';
    return ns.obj.metadata.deletionTimestamp ? 'terminating' : 'active';
  }

  get(def: ResourceDef, namespace: string, name: string): KubeObject {
    const cached = this.#cacher.get(storageKey(def, namespace, name));
    if (cached === undefined) throw newNotFound(groupResource(def), name);
    return this.present(def, cached.obj);
  }

  /** Live objects of `def` under `namespace` ('' = all), in key order. */
  list(def: ResourceDef, namespace: string): { items: readonly CachedObject<KubeObject>[]; revision: number } {
    const revision = this.#cacher.revision();
    return { items: this.#cacher.list(storagePrefix(def, def.namespaced ? namespace : undefined)), revision };
  }

  async create(def: ResourceDef, namespace: string, input: KubeObject, options: WriteOptions): Promise<KubeObject> {
    const obj = input;
    obj.apiVersion = apiVersionOf(def);
    obj.kind = def.kind;
    const meta = obj.metadata;
    if (def.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== namespace) {
        throw newBadRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = namespace;
    } else {
      delete meta.namespace;
    }
    if (meta.resourceVersion !== undefined && meta.resourceVersion !== '') {
      throw new StatusError(500, 'InternalError', 'Internal error occurred: resourceVersion should not be set on objects to be created');
    }
    if ((meta.name === undefined || meta.name === '') && meta.generateName) {
      meta.name = generateName(meta.generateName);
    }
    meta.uid = newUid();
    meta.creationTimestamp = formatTime(this.#now());
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    const sentManagedFields = meta.managedFields;
    delete meta.managedFields;
    delete meta.selfLink;
    if (def.hasGeneration) meta.generation = 1;
    else delete meta.generation;

    def.defaults?.(obj);
    this.#recordManagedFields(def, '', undefined, obj, sentManagedFields, options);
    def.prepareForCreate?.(obj);
    const errs = def.validate?.(obj, undefined) ?? [];
    if (errs.length > 0) throw newInvalid(def, meta.name ?? '', errs);

    if (def.namespaced) {
      const state = this.namespaceState(namespace);
      if (state === 'missing') throw newNotFound({ group: '', resource: 'namespaces' }, namespace);
      if (state === 'terminating') {
        throw newForbidden(
          `${def.resource}${def.group ? '.' + def.group : ''} "${meta.name}" is forbidden: unable to create new content in namespace ${namespace} because it is being terminated`,
        );
      }
    }
    const key = storageKey(def, namespace, meta.name ?? '');
    if (options.dryRun) {
      if (this.#cacher.get(key) !== undefined) throw newAlreadyExists(groupResource(def), meta.name ?? '');
      return obj;
    }

    try {
      await this.#backend.create(key, encodeForStorage(this.#toStorage(def, obj)));
    } catch (err) {
      if (err instanceof KeyExistsError) throw newAlreadyExists(groupResource(def), meta.name ?? '');
      throw err;
    }
    return this.#readBack(def, key);
  }

  #readBack(def: ResourceDef, key: string): KubeObject {
    const cached = this.#cacher.get(key);
    if (cached === undefined) {
      throw new StatusError(500, 'InternalError', `Internal error occurred: ${key} vanished after write`);
    }
    return this.present(def, cached.obj);
  }

  /**
   * Updates an existing object: `fn` turns a copy of the current object into the desired
   * one; system fields, status/spec separation, defaults and validation are applied here.
   */
  async update(def: ResourceDef, namespace: string, name: string, fn: UpdateFn, options: UpdateOptions): Promise<KubeObject> {
    return this.#update(def, namespace, name, (current) => fn(deepCopy(current)), options);
  }

  /**
   * Replaces an existing object with `desired` (a PUT): update() with a function that
   * ignores the current object, without copying it. `desired` is the caller's to give
   * away; each attempt works on a fresh top level and metadata of it, so a retry after
   * a conflict starts from what was sent.
   */
  async replace(def: ResourceDef, namespace: string, name: string, desired: KubeObject, options: UpdateOptions): Promise<KubeObject> {
    return this.#update(
      def,
      namespace,
      name,
      () => (isPlainObject(desired.metadata) ? { ...desired, metadata: { ...desired.metadata } } : { ...desired }),
      options,
    );
  }

  async #update(def: ResourceDef, namespace: string, name: string, fn: UpdateFn, options: UpdateOptions): Promise<KubeObject> {
    const key = storageKey(def, namespace, name);
    const gr = groupResource(def);
    for (let attempt = 0; ; attempt++) {
      const cached = this.#cacher.get(key);
      if (cached === undefined) throw newNotFound(gr, name);
      const current = this.present(def, cached.obj);
      const desired = fn(current);
      if (!isPlainObject(desired) || !isPlainObject(desired.metadata)) {
        throw newBadRequest('the body of the request must be an object with metadata');
      }
      const wantedRv = desired.metadata.resourceVersion;
      if (wantedRv !== undefined && wantedRv !== '' && wantedRv !== current.metadata.resourceVersion) {
        throw newConflict(gr, name, OBJECT_MODIFIED);
      }
      const next = this.#prepareUpdate(def, namespace, name, desired, current, options);
      if (sameContent(next, current)) return current;
      if (options.dryRun) return next;

      try {
        if (this.#readyToGo(def, next)) {
          await this.#backend.delete(key, cached.modRevision);
          return next;
        }
        await this.#backend.update(key, encodeForStorage(this.#toStorage(def, next)), cached.modRevision);
        return this.#readBack(def, key);
      } catch (err) {
        if (err instanceof RevisionConflictError || err instanceof KeyNotFoundError) {
          if (err instanceof KeyNotFoundError) throw newNotFound(gr, name);
          // The next attempt re-runs `fn` on the fresh object, so a pinned resourceVersion
          // inside it is checked again and turns into Conflict there.
          if (options.retryOnConflict && attempt < MAX_CONFLICT_RETRIES) continue;
          throw newConflict(gr, name, OBJECT_MODIFIED);
        }
        throw err;
      }
    }
  }

  /** An object marked for deletion whose last finalizer is gone is removed instead of updated. */
  #readyToGo(def: ResourceDef, obj: KubeObject): boolean {
    if (!obj.metadata.deletionTimestamp) return false;
    if ((obj.metadata.finalizers ?? []).length > 0) return false;
    if (def.resource === 'namespaces' && def.group === '') {
      const specFinalizers = (obj.spec as { finalizers?: string[] } | undefined)?.finalizers ?? [];
      return specFinalizers.length === 0;
    }
    if (def.resource === 'pods' && def.group === '') {
      // A graceful pod deletion completes through DELETE with grace 0, not by update.
      return (obj.metadata.deletionGracePeriodSeconds ?? 0) === 0;
    }
    return true;
  }

  #prepareUpdate(
    def: ResourceDef,
    namespace: string,
    name: string,
    desired: KubeObject,
    current: KubeObject,
    options: UpdateOptions,
  ): KubeObject {
    const subresource = options.subresource;
    const dm = desired.metadata;
    const sentManagedFields = dm.managedFields;
    if (dm.name !== undefined && dm.name !== '' && dm.name !== name) {
      throw newBadRequest(`the name of the object (${dm.name}) does not match the name on the URL (${name})`);
    }
    if (def.namespaced && dm.namespace !== undefined && dm.namespace !== '' && dm.namespace !== namespace) {
      throw newBadRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    if (dm.uid !== undefined && dm.uid !== '' && dm.uid !== current.metadata.uid) {
      throw newConflict(groupResource(def), name, `Precondition failed: UID in precondition: ${dm.uid}, UID in object meta: ${current.metadata.uid}`);
    }

    let next: KubeObject;
    if (subresource === 'status') {
      // A status write changes status only; metadata and spec stay as they are. The
      // managedFields are recomputed below, so they are not worth copying.
      next = deepCopy(withoutManagedFields(current));
      if (desired.status === undefined) delete next.status;
      else next.status = desired.status;
    } else if (subresource === 'binding') {
      next = desired;
    } else if (subresource === 'finalize') {
      // A namespace's /finalize changes its spec.finalizers only.
      next = deepCopy(current);
      const finalizers = (desired.spec as { finalizers?: unknown } | undefined)?.finalizers;
      next.spec = { ...((next.spec as object | undefined) ?? {}), finalizers: Array.isArray(finalizers) ? finalizers : [] };
    } else {
      next = desired;
      next.apiVersion = apiVersionOf(def);
      next.kind = def.kind;
      if (def.hasStatus) {
        if (current.status === undefined) delete next.status;
        else next.status = deepCopy(current.status);
      }
    }
    const cm = current.metadata;
    const nm = next.metadata;
    nm.name = name;
    if (def.namespaced) nm.namespace = namespace;
    else delete nm.namespace;
    nm.uid = cm.uid;
    nm.creationTimestamp = cm.creationTimestamp;
    nm.resourceVersion = cm.resourceVersion;
    if (cm.deletionTimestamp) nm.deletionTimestamp = cm.deletionTimestamp;
    else delete nm.deletionTimestamp;
    if (cm.deletionGracePeriodSeconds !== undefined) nm.deletionGracePeriodSeconds = cm.deletionGracePeriodSeconds;
    else delete nm.deletionGracePeriodSeconds;
    delete nm.managedFields;
    delete nm.selfLink;

    def.defaults?.(next);
    // /finalize and /binding are recorded like writes to the main resource.
    this.#recordManagedFields(def, subresource === 'status' ? 'status' : '', current, next, sentManagedFields, options);
    if (subresource === '') def.prepareForUpdate?.(next, current);
    else if (subresource === 'status') def.prepareForStatusUpdate?.(next, current);

    if (def.hasGeneration) {
      const changed = !isDeepStrictEqual(specOf(next), specOf(current));
      nm.generation = (cm.generation ?? 1) + (changed ? 1 : 0);
    } else {
      delete nm.generation;
    }

    // Metadata rules (immutable fields, no new finalizers while deleting) are part of each
    // kind's validate().
    const errs: FieldError[] = [];
    if (subresource === 'status') errs.push(...(def.validateStatus?.(next, current) ?? []));
    else if (subresource !== 'binding') errs.push(...(def.validate?.(next, current) ?? []));
    if (errs.length > 0) throw newInvalid(def, name, errs);
    return next;
  }

  async delete(def: ResourceDef, namespace: string, name: string, options: DeleteOptions): Promise<DeleteResult> {
    const key = storageKey(def, namespace, name);
    const gr = groupResource(def);
    const returnsObject = RETURNS_DELETED_OBJECT.has(def.resource) && def.group === '';
    for (let attempt = 0; ; attempt++) {
      const cached = this.#cacher.get(key);
      if (cached === undefined) throw newNotFound(gr, name);
      const current = this.present(def, cached.obj);
      const pre = options.preconditions;
      if (pre?.uid !== undefined && pre.uid !== current.metadata.uid) {
        throw newConflict(gr, name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`);
      }
      if (pre?.resourceVersion !== undefined && pre.resourceVersion !== current.metadata.resourceVersion) {
        throw newConflict(
          gr,
          name,
          `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`,
        );
      }

      const marked = this.#markForDeletion(def, current, options);
      try {
        if (marked !== undefined) {
          if (sameContent(marked, current)) return { obj: current, deleted: false, returnsObject: true };
          if (options.dryRun) return { obj: marked, deleted: false, returnsObject: true };
          await this.#backend.update(key, encodeForStorage(this.#toStorage(def, marked)), cached.modRevision);
          return { obj: this.#readBack(def, key), deleted: false, returnsObject: true };
        }
        if (options.dryRun) return { obj: current, deleted: true, returnsObject };
        const tombstone = await this.#backend.delete(key, cached.modRevision);
        const last = JSON.parse(tombstone.value) as KubeObject;
        last.metadata.resourceVersion = String(tombstone.modRevision);
        return { obj: this.present(def, last), deleted: true, returnsObject };
      } catch (err) {
        if (err instanceof KeyNotFoundError) throw newNotFound(gr, name);
        if (err instanceof RevisionConflictError && attempt < MAX_CONFLICT_RETRIES) continue;
        if (err instanceof RevisionConflictError) throw newConflict(gr, name, OBJECT_MODIFIED);
        throw err;
      }
    }
  }

  /**
   * The object marked for deletion, or undefined when it can go at once: no finalizers,
   * not a pod still running on a node, not a namespace with content to remove.
   */
  #markForDeletion(def: ResourceDef, live: KubeObject, options: DeleteOptions): KubeObject | undefined {
    const now = this.#now();
    const isCore = def.group === '';
    const current = isCore && def.resource === 'namespaces' ? live : withPropagationFinalizers(live, options.propagationPolicy);
    if (isCore && def.resource === 'pods') {
      const spec = (current.spec ?? {}) as { nodeName?: string; terminationGracePeriodSeconds?: number };
      let grace = options.gracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30;
      if (!spec.nodeName) grace = 0;
      const phase = (current.status as { phase?: string } | undefined)?.phase;
      if (phase === 'Succeeded' || phase === 'Failed') grace = 0;
      const finalizers = current.metadata.finalizers ?? [];
      if (grace > 0 || finalizers.length > 0) {
        const next = deepCopy(current);
        const existing = next.metadata.deletionGracePeriodSeconds;
        if (next.metadata.deletionTimestamp === undefined || existing === undefined || grace < existing) {
          next.metadata.deletionTimestamp = formatTime(new Date(now.getTime() + grace * 1000));
          next.metadata.deletionGracePeriodSeconds = grace;
        }
        if (grace === 0 && finalizers.length === 0) return undefined;
        return next;
      }
      return undefined;
    }
    if (isCore && def.resource === 'namespaces') {
      const specFinalizers = ((current.spec as { finalizers?: string[] } | undefined)?.finalizers ?? []).length;
      if (specFinalizers === 0 && (current.metadata.finalizers ?? []).length === 0) return undefined;
      const next = deepCopy(current);
      next.metadata.deletionTimestamp ??= formatTime(now);
      next.metadata.deletionGracePeriodSeconds ??= 0;
      next.status = { ...((next.status as object | undefined) ?? {}), phase: 'Terminating' };
      return next;
    }
    if ((current.metadata.finalizers ?? []).length === 0) return undefined;
    const next = deepCopy(current);
    next.metadata.deletionTimestamp ??= formatTime(now);
    next.metadata.deletionGracePeriodSeconds ??= 0;
    return next;
  }
}

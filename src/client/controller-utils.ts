// What every controller built on this client does the same way (upstream:
// pkg/controller/controller_utils.go and controller_ref_manager.go): the
// context it is started with, starting the shared informers and waiting for
// their caches, and claiming the objects its selector matches — adopting
// orphans and releasing what it no longer selects — through ownerReference
// patches pinned to the resourceVersion the decision was made on.

import type { KubeObject, OwnerReference } from '../apimachinery/index.ts';
import type { Logger } from '../base/index.ts';
import { controllerRefOf } from '../api/core/owner-references.ts';
import type { EventRecorder } from './events.ts';
import { resourcePath, type ResourceRef } from './paths.ts';
import { ApiError, type RestClient } from './rest.ts';
import type { SharedInformerFactory } from './shared-informer-factory.ts';

/** What a controller is started with: the API client, the process's shared informers, its event recorder and logger. */
export interface ControllerContext {
  client: RestClient;
  informers: SharedInformerFactory;
  recorder: EventRecorder;
  logger: Logger;
}

/**
 * Starts the factory's informers and waits until `synced` (default: every
 * informer the factory has created so far) have synced. Resolves false when
 * `signal` aborted first — the controller is being stopped and should just
 * return; any other failure is thrown.
 */
export async function startInformersAndSync(
  informers: SharedInformerFactory,
  signal: AbortSignal,
  synced?: readonly { waitForSync(signal?: AbortSignal): Promise<void> }[],
): Promise<boolean> {
  informers.start(signal);
  try {
    if (synced === undefined) await informers.waitForSync(signal);
    else await Promise.all(synced.map((i) => i.waitForSync(signal)));
    return true;
  } catch (err) {
    if (signal.aborted) return false;
    throw err;
  }
}

/**
 * Writes `obj`'s ownerReferences with a merge patch pinned to its
 * resourceVersion (a changed object fails with 409 rather than losing a
 * concurrent write). Resolves the patched object, or undefined when it is gone.
 */
export async function patchOwnerReferences<T extends KubeObject>(
  client: RestClient,
  resource: ResourceRef,
  obj: T,
  ownerReferences: OwnerReference[],
): Promise<T | undefined> {
  try {
    return await client.patch<T>(resourcePath(resource, obj.metadata.namespace, obj.metadata.name), {
      metadata: { resourceVersion: obj.metadata.resourceVersion, ownerReferences },
    });
  } catch (err) {
    if (err instanceof ApiError && err.code === 404) return undefined;
    throw err;
  }
}

export interface ClaimOptions<T extends KubeObject> {
  client: RestClient;
  /** The resource of the candidates (pods, ReplicaSets). */
  resource: ResourceRef;
  /** The controller claiming them. */
  owner: KubeObject;
  /** The reference put on an adopted orphan. */
  controllerRef: OwnerReference;
  /** Whether the owner wants this candidate (its selector matches, and whatever else the controller requires). */
  matches(candidate: T): boolean;
  /**
   * Asked once, before the first adoption: whether the owner may still adopt
   * (e.g. it is not a deleted-and-recreated object of the same name). Default: yes.
   */
  canAdopt?(): Promise<boolean>;
}

/**
 * The candidates `owner` controls after claiming (upstream
 * ClaimPods/ClaimReplicaSets): those it controls and still matches are kept;
 * those it controls but no longer matches are released (its reference
 * removed) unless it is being deleted; matching orphans are adopted unless
 * either side is being deleted. Objects controlled by anyone else are never
 * touched.
 */
export async function claimObjects<T extends KubeObject>(options: ClaimOptions<T>, candidates: Iterable<T>): Promise<T[]> {
  const { client, resource, owner, controllerRef } = options;
  const claimed: T[] = [];
  const uid = owner.metadata.uid;
  const deleting = owner.metadata.deletionTimestamp !== undefined;
  let canAdopt: boolean | undefined;
  for (const obj of candidates) {
    const ref = controllerRefOf(obj);
    const matched = options.matches(obj);
    if (ref !== undefined) {
      if (ref.uid !== uid) continue;
      if (matched) claimed.push(obj);
      else if (!deleting) await patchOwnerReferences(client, resource, obj, (obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid));
      continue;
    }
    if (!matched || deleting || obj.metadata.deletionTimestamp !== undefined) continue;
    canAdopt ??= options.canAdopt === undefined ? true : await options.canAdopt();
    if (!canAdopt) continue;
    const adopted = await patchOwnerReferences(client, resource, obj, [...(obj.metadata.ownerReferences ?? []), controllerRef]);
    if (adopted !== undefined) claimed.push(adopted);
  }
  return claimed;
}

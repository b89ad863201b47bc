// One pass over a Terminating namespace's content (upstream:
// deletion/namespaced_resources_deleter.go, deleteAllContent): for every
// namespaced resource, delete the collection (or, where the resource has no
// deletecollection, list and delete each object), then list what is still
// there — objects held by finalizers, pods in their grace period — and
// estimate how long they may take. The pass never stops at the first
// failure: each resource's error is collected, so one broken resource does
// not keep the others from being emptied, and the namespace's conditions can
// name every failure.

import type { KubeList, KubeObject } from '../../apimachinery/index.ts';
import { toError } from '../../base/index.ts';
import { ApiError, resourcePath, type RestClient } from '../../client/index.ts';
import type { NamespacedResource } from './discovery.ts';
import { emptyReport, type DeletionReport } from './status-conditions.ts';

/**
 * How long an object held by a finalizer is assumed to take. Upstream assumes
 * 15 s; a recheck here is a few local calls, so we look again sooner.
 */
export const FINALIZER_ESTIMATE_SECONDS = 2;

export interface ContentPass {
  report: DeletionReport;
  /** Seconds until the remaining content is expected to be gone (0 when nothing is left). */
  estimateSeconds: number;
}

/** `resource.group`, as upstream's conditions print it (`pods.` for the core group). */
function groupResource(r: NamespacedResource): string {
  return `${r.ref.resource}.${r.ref.group}`;
}

function isGone(err: unknown): boolean {
  return err instanceof ApiError && err.code === 404;
}

function unsupported(err: unknown): boolean {
  return err instanceof ApiError && (err.code === 405 || err.code === 404);
}

const BACKGROUND = { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' };

async function deleteEachItem(client: RestClient, r: NamespacedResource, namespace: string, signal: AbortSignal): Promise<void> {
  const list = await client.get<KubeList>(resourcePath(r.ref, namespace), { signal });
  for (const item of list.items) {
    if (item.metadata.deletionTimestamp) continue;
    try {
      await client.delete(resourcePath(r.ref, namespace, item.metadata.name ?? ''), {
        ...BACKGROUND,
        preconditions: { uid: item.metadata.uid },
      });
    } catch (err) {
      // Gone already, or replaced by a namesake that the next pass deletes.
      if (isGone(err) || (err instanceof ApiError && err.code === 409)) continue;
      throw err;
    }
  }
}

/** Deletes everything of one resource in `namespace`. */
async function deleteContent(client: RestClient, r: NamespacedResource, namespace: string, signal: AbortSignal): Promise<void> {
  if (r.deleteCollection) {
    try {
      await client.request('DELETE', resourcePath(r.ref, namespace), { body: BACKGROUND, signal });
      return;
    } catch (err) {
      // Discovery promised deletecollection but the server disagrees: fall back to one by one.
      if (!unsupported(err)) throw err;
    }
  }
  await deleteEachItem(client, r, namespace, signal);
}

/** Remaining seconds of a pod's graceful deletion, 0 when it is due. */
function podGraceLeft(pod: KubeObject, nowMs: number): number {
  const ts = pod.metadata.deletionTimestamp;
  if (ts === undefined) return 0;
  return Math.max(0, Math.ceil((Date.parse(ts) - nowMs) / 1000));
}

/** Deletes the namespace's content and reports what is left. Never throws for a resource's failure. */
export async function deleteAllContent(
  client: RestClient,
  resources: readonly NamespacedResource[],
  namespace: string,
  signal: AbortSignal,
  nowMs: number = Date.now(),
): Promise<ContentPass> {
  const report = emptyReport();
  let estimateSeconds = 0;
  for (const r of resources) {
    const gr = groupResource(r);
    let left: KubeObject[];
    try {
      await deleteContent(client, r, namespace, signal);
      left = (await client.get<KubeList>(resourcePath(r.ref, namespace), { signal })).items;
    } catch (err) {
      if (signal.aborted) throw err;
      report.contentErrors.push(`${gr}: ${toError(err).message}`);
      continue;
    }
    if (left.length === 0) continue;
    report.remaining.set(gr, (report.remaining.get(gr) ?? 0) + left.length);
    for (const obj of left) {
      for (const f of obj.metadata.finalizers ?? []) report.finalizers.set(f, (report.finalizers.get(f) ?? 0) + 1);
      if ((obj.metadata.finalizers ?? []).length > 0) estimateSeconds = Math.max(estimateSeconds, FINALIZER_ESTIMATE_SECONDS);
      if (r.ref.group === '' && r.ref.resource === 'pods') estimateSeconds = Math.max(estimateSeconds, podGraceLeft(obj, nowMs));
    }
    // Something is left without a finalizer or a grace period (created during the pass,
    // or its deletion is still on the way): look again soon.
    estimateSeconds = Math.max(estimateSeconds, 1);
  }
  return { report, estimateSeconds };
}

// Which resources live in a namespace and can be emptied out of it: the
// namespaced resources of each group's preferred version that support list
// and delete (upstream: ServerPreferredNamespacedResources filtered by
// SupportsAllVerbs{list, delete}). Read on every pass, so a resource served
// later is not missed; discovery is a few local GETs.

import { parseApiVersion } from '../../apimachinery/index.ts';
import type { ResourceRef, RestClient } from '../../client/index.ts';

interface APIResourceList {
  groupVersion: string;
  resources: { name: string; namespaced: boolean; kind: string; verbs: string[] }[];
}

interface APIGroupList {
  groups: { name: string; preferredVersion?: { groupVersion: string }; versions: { groupVersion: string }[] }[];
}

export interface NamespacedResource {
  ref: ResourceRef;
  /** The resource can be emptied with one DELETE on its collection. */
  deleteCollection: boolean;
}

/** Filters APIResourceLists down to the resources the namespace deleter works through. */
export function deletableNamespacedResources(lists: readonly APIResourceList[]): NamespacedResource[] {
  const out: NamespacedResource[] = [];
  for (const list of lists) {
    const { group, version } = parseApiVersion(list.groupVersion);
    for (const r of list.resources) {
      if (r.name.includes('/') || !r.namespaced) continue;
      if (!r.verbs.includes('list') || !r.verbs.includes('delete')) continue;
      out.push({ ref: { group, version, resource: r.name, namespaced: true }, deleteCollection: r.verbs.includes('deletecollection') });
    }
  }
  return out;
}

/** GETs `/api/v1`, `/apis` and each group's preferred version; throws the first failure. */
export async function discoverNamespacedResources(client: RestClient, signal?: AbortSignal): Promise<NamespacedResource[]> {
  const lists: APIResourceList[] = [await client.get<APIResourceList>('/api/v1', { signal })];
  const groups = await client.get<APIGroupList>('/apis', { signal });
  for (const g of groups.groups) {
    const gv = g.preferredVersion?.groupVersion ?? g.versions[0]?.groupVersion;
    if (gv !== undefined) lists.push(await client.get<APIResourceList>(`/apis/${gv}`, { signal }));
  }
  return deletableNamespacedResources(lists);
}

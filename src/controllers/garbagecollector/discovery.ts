// The resources the garbage collector watches and the kind → resource
// mapping it needs to GET and DELETE an owner or dependent named only by
// apiVersion and kind. Read once at start from the discovery documents
// (`/api/v1`, `/apis` and each group's preferred version), as upstream's
// GetDeletableResources does: every resource that supports list, watch and
// delete, except events (they are never owners and are many).

import { parseApiVersion } from '../../apimachinery/index.ts';
import type { ResourceRef, RestClient } from '../../client/index.ts';

interface APIResource {
  name: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
}

interface APIResourceList {
  groupVersion: string;
  resources: APIResource[];
}

interface APIGroupList {
  groups: { name: string; preferredVersion?: { groupVersion: string; version: string }; versions: { groupVersion: string; version: string }[] }[];
}

export interface DiscoveredResource {
  ref: ResourceRef;
  kind: string;
}

/** Resources that are never garbage and never own anything worth tracking. */
const IGNORED: ReadonlySet<string> = new Set(['/events', 'events.k8s.io/events']);

/** An apiVersion/kind the server does not serve. */
export class UnknownKindError extends Error {
  override readonly name = 'UnknownKindError';
  readonly apiVersion: string;
  readonly kind: string;
  constructor(apiVersion: string, kind: string) {
    super(`no resource serves kind ${kind} in ${apiVersion}`);
    this.apiVersion = apiVersion;
    this.kind = kind;
  }
}

/** Maps group + kind to the served resource (any version of the group maps to the preferred one). */
export class KindMapper {
  readonly #byGroupKind = new Map<string, DiscoveredResource>();

  constructor(resources: readonly DiscoveredResource[]) {
    for (const r of resources) this.#byGroupKind.set(`${r.ref.group}/${r.kind}`, r);
  }

  /** Throws UnknownKindError. */
  resourceFor(apiVersion: string, kind: string): ResourceRef {
    const { group } = parseApiVersion(apiVersion);
    const found = this.#byGroupKind.get(`${group}/${kind}`);
    if (found === undefined) throw new UnknownKindError(apiVersion, kind);
    return found.ref;
  }
}

/** Keeps the resources whose verbs include all of `verbs`, minus subresources and `IGNORED`. */
export function filterResources(lists: readonly APIResourceList[], verbs: readonly string[]): DiscoveredResource[] {
  const out: DiscoveredResource[] = [];
  for (const list of lists) {
    const { group, version } = parseApiVersion(list.groupVersion);
    for (const r of list.resources) {
      if (r.name.includes('/')) continue;
      if (IGNORED.has(`${group}/${r.name}`)) continue;
      if (!verbs.every((v) => r.verbs.includes(v))) continue;
      out.push({ ref: { group, version, resource: r.name, namespaced: r.namespaced }, kind: r.kind });
    }
  }
  return out;
}

/** The APIResourceLists of the core group and of each group's preferred version. */
export async function fetchPreferredResourceLists(client: RestClient, signal?: AbortSignal): Promise<APIResourceList[]> {
  const lists: APIResourceList[] = [await client.get<APIResourceList>('/api/v1', { signal })];
  const groups = await client.get<APIGroupList>('/apis', { signal });
  for (const g of groups.groups) {
    const gv = g.preferredVersion?.groupVersion ?? g.versions[0]?.groupVersion;
    if (gv === undefined) continue;
    lists.push(await client.get<APIResourceList>(`/apis/${gv}`, { signal }));
  }
  return lists;
}

/** Resources that support delete, list and watch: the ones the collector watches. */
export async function discoverDeletableResources(client: RestClient, signal?: AbortSignal): Promise<DiscoveredResource[]> {
  return filterResources(await fetchPreferredResourceLists(client, signal), ['delete', 'list', 'watch']);
}

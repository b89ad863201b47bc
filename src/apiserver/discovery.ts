// Discovery and OpenAPI documents, all derived from the resource registry.
// Aggregated discovery (apidiscovery.k8s.io v2 and v2beta1) is answered with its
// exact media type; anything else gets the legacy documents. OpenAPI is the
// minimal form that tells kubectl "the server validates fields itself"
// (compat §4.3): every resource's patch operation carries the fieldValidation
// query parameter, and /openapi/v2 is an empty protobuf document.

import { createHash } from 'node:crypto';
import type { ResourceDef } from '../api/index.ts';
import { apiVersionOf } from '../apimachinery/index.ts';
import type { MediaType } from './negotiation.ts';

export interface GroupVersions {
  group: string;
  versions: string[];
}

export interface DiscoverySource {
  all(): readonly ResourceDef[];
  groups(): GroupVersions[];
}

export const VERSION_INFO = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-volplane',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2026-11-01T00:00:00Z',
  goVersion: 'go1.23.3',
  compiler: 'gc',
  platform: 'linux/amd64',
};

export const AGGREGATED_V2 = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';
export const AGGREGATED_V2BETA1 = 'application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList';

/** Which aggregated discovery version the client accepts, if any (first match wins). */
export function aggregatedVersion(accept: MediaType[]): 'v2' | 'v2beta1' | undefined {
  for (const m of accept) {
    if (m.params.g === 'apidiscovery.k8s.io' && m.params.as === 'APIGroupDiscoveryList') {
      if (m.params.v === 'v2') return 'v2';
      if (m.params.v === 'v2beta1') return 'v2beta1';
    }
    if (m.type === 'application/json' && m.params.as === undefined) return undefined;
  }
  return undefined;
}

function defsOf(source: DiscoverySource, group: string, version: string): ResourceDef[] {
  return source.all().filter((d) => d.group === group && d.version === version);
}

function aggregatedResource(def: ResourceDef): Record<string, unknown> {
  const res: Record<string, unknown> = {
    resource: def.resource,
    responseKind: { group: def.group, version: def.version, kind: def.kind },
    scope: def.namespaced ? 'Namespaced' : 'Cluster',
    singularResource: def.singular,
    verbs: def.verbs,
  };
  if (def.shortNames.length > 0) res.shortNames = def.shortNames;
  if (def.categories.length > 0) res.categories = def.categories;
  if (def.subresources.length > 0) {
    res.subresources = def.subresources.map((s) => ({
      subresource: s.name,
      responseKind: s.responseKind ?? { group: def.group, version: def.version, kind: def.kind },
      verbs: s.verbs,
    }));
  }
  return res;
}

function aggregatedGroup(source: DiscoverySource, gv: GroupVersions): Record<string, unknown> {
  const item: Record<string, unknown> = {
    metadata: gv.group === '' ? { creationTimestamp: null } : { name: gv.group, creationTimestamp: null },
    versions: gv.versions.map((version) => ({
      version,
      resources: defsOf(source, gv.group, version).map(aggregatedResource),
      freshness: 'Current',
    })),
  };
  return item;
}

/** `/api` or `/apis` as an APIGroupDiscoveryList. */
export function aggregatedDiscovery(
  source: DiscoverySource,
  which: 'api' | 'apis',
  version: 'v2' | 'v2beta1',
): Record<string, unknown> {
  const groups = source.groups().filter((g) => (which === 'api' ? g.group === '' : g.group !== ''));
  return {
    kind: 'APIGroupDiscoveryList',
    apiVersion: `apidiscovery.k8s.io/${version}`,
    metadata: {},
    items: groups.map((g) => aggregatedGroup(source, g)),
  };
}

export function legacyApiVersions(serverAddress: string): Record<string, unknown> {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function apiGroup(gv: GroupVersions): Record<string, unknown> {
  const versions = gv.versions.map((v) => ({ groupVersion: `${gv.group}/${v}`, version: v }));
  return { name: gv.group, versions, preferredVersion: versions[0] };
}

export function legacyApiGroupList(source: DiscoverySource): Record<string, unknown> {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: source.groups().filter((g) => g.group !== '').map(apiGroup),
  };
}

export function legacyApiGroup(source: DiscoverySource, group: string): Record<string, unknown> | undefined {
  const gv = source.groups().find((g) => g.group === group && group !== '');
  if (gv === undefined) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(gv) };
}

export function legacyResourceList(
  source: DiscoverySource,
  group: string,
  version: string,
): Record<string, unknown> | undefined {
  const defs = defsOf(source, group, version);
  if (defs.length === 0) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const def of defs) {
    const r: Record<string, unknown> = {
      name: def.resource,
      singularName: def.singular,
      namespaced: def.namespaced,
      kind: def.kind,
      verbs: def.verbs,
    };
    if (def.shortNames.length > 0) r.shortNames = def.shortNames;
    if (def.categories.length > 0) r.categories = def.categories;
    resources.push(r);
    for (const sub of def.subresources) {
      const s: Record<string, unknown> = {
        name: `${def.resource}/${sub.name}`,
        singularName: '',
        namespaced: def.namespaced,
        kind: sub.responseKind?.kind ?? def.kind,
        verbs: sub.verbs,
      };
      if (sub.responseKind !== undefined && sub.responseKind.group !== def.group) {
        s.group = sub.responseKind.group;
        s.version = sub.responseKind.version;
      }
      resources.push(s);
    }
  }
  const list: Record<string, unknown> = { kind: 'APIResourceList', groupVersion: apiVersionOf({ group, version }), resources };
  if (group !== '') list.apiVersion = 'v1';
  return list;
}

function gvPath(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

/** One OpenAPI v3 document per group-version, built once. */
export class OpenApi {
  readonly #docs = new Map<string, string>();
  readonly #index: string;

  constructor(source: DiscoverySource) {
    const paths: Record<string, { serverRelativeURL: string }> = {};
    for (const gv of source.groups()) {
      for (const version of gv.versions) {
        const key = gvPath(gv.group, version);
        const doc = JSON.stringify(this.#document(source, gv.group, version));
        const hash = createHash('sha512').update(doc).digest('hex').slice(0, 16).toUpperCase();
        this.#docs.set(key, doc);
        paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${hash}` };
      }
    }
    this.#index = JSON.stringify({ paths });
  }

  index(): string {
    return this.#index;
  }

  /** The document for `api/v1` or `apis/<group>/<version>`, or undefined. */
  document(gvKey: string): string | undefined {
    return this.#docs.get(gvKey);
  }

  #document(source: DiscoverySource, group: string, version: string): Record<string, unknown> {
    const paths: Record<string, unknown> = {};
    const prefix = `/${gvPath(group, version)}`;
    for (const def of defsOf(source, group, version)) {
      const path = def.namespaced
        ? `${prefix}/namespaces/{namespace}/${def.resource}/{name}`
        : `${prefix}/${def.resource}/{name}`;
      paths[path] = {
        patch: {
          operationId: `patch${def.kind}`,
          'x-kubernetes-action': 'patch',
          'x-kubernetes-group-version-kind': { group: def.group, version: def.version, kind: def.kind },
          parameters: [
            { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
            { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } },
            { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
          ],
          responses: { '200': { description: 'OK' } },
        },
      };
    }
    return {
      openapi: '3.0.0',
      info: { title: 'Kubernetes', version: VERSION_INFO.gitVersion },
      paths,
      components: { schemas: {} },
    };
  }
}

export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';

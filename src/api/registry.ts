// The registry of every resource volplane serves: the one list the apiserver
// walks for discovery, routing, decoding and storage keys.
//
// Lookups are by group/version/resource (URLs) and by group/kind (request
// bodies, owner references). Groups are listed in the order a real apiserver
// lists them (its group priorities: core, apps, events.k8s.io, ..., rbac,
// storage.k8s.io, ..., coordination.k8s.io; groups it does not know — custom
// resources — after, by name), each with its versions newest-preferred first.
//
// Storage keys follow the apiserver's etcd layout, `/registry/<resource>/<ns>/<name>`
// (`/registry/<resource>/<name>` for cluster-scoped kinds). A view
// (events.k8s.io Events) uses the key of the resource it is a view of, so
// both groups read and watch the same objects. Two different resources that
// would share keys are refused when the registry is built.

import type { ResourceDef } from './resource.ts';
import { appsResourceDefs } from './apps/index.ts';
import { leaseDef } from './coordination/lease.ts';
import { configMapDef } from './core/configmap.ts';
import { eventDef } from './core/event.ts';
import { limitRangeDef } from './core/limit-range.ts';
import { namespaceDef } from './core/namespace.ts';
import { nodeDef } from './core/node.ts';
import { podDef } from './core/pod.ts';
import { resourceQuotaDef } from './core/resource-quota.ts';
import { secretDef } from './core/secret.ts';
import { serviceAccountDef } from './core/service-account.ts';
import { persistentVolumeClaimDef, persistentVolumeDef } from './core/storage-defs.ts';
import { eventsEventDef } from './events/event.ts';
import { rbacResourceDefs } from './rbac/index.ts';
import { storageResourceDefs } from './storage/index.ts';

/** Namespaces that exist from the start, as in every cluster. */
export const builtinNamespaces: readonly string[] = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

/** A registry built from inconsistent definitions (a programming error, found at startup). */
export class RegistryError extends Error {
  override readonly name = 'RegistryError';
  readonly resource: string;
  constructor(resource: string, message: string) {
    super(message);
    this.resource = resource;
  }
}

/** kube-apiserver's group priorities (highest first) for the groups that can appear here. */
const GROUP_ORDER: readonly string[] = [
  '',
  'apiregistration.k8s.io',
  'apps',
  'events.k8s.io',
  'authentication.k8s.io',
  'authorization.k8s.io',
  'autoscaling',
  'batch',
  'certificates.k8s.io',
  'networking.k8s.io',
  'policy',
  'rbac.authorization.k8s.io',
  'storage.k8s.io',
  'admissionregistration.k8s.io',
  'apiextensions.k8s.io',
  'scheduling.k8s.io',
  'coordination.k8s.io',
  'node.k8s.io',
  'discovery.k8s.io',
  'flowcontrol.apiserver.k8s.io',
  'resource.k8s.io',
];

function compareGroups(a: string, b: string): number {
  const ia = GROUP_ORDER.indexOf(a);
  const ib = GROUP_ORDER.indexOf(b);
  if (ia >= 0 && ib >= 0) return ia - ib;
  if (ia >= 0) return -1;
  if (ib >= 0) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

const VERSION_RE = /^v(\d+)(?:(alpha|beta)(\d+))?$/;

/**
 * Kube-aware version order, most preferred first: GA before beta before alpha,
 * higher numbers first; anything else after, by name.
 */
export function compareVersions(a: string, b: string): number {
  const ma = VERSION_RE.exec(a);
  const mb = VERSION_RE.exec(b);
  if (!ma || !mb) {
    if (ma) return -1;
    if (mb) return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  const stability = (m: RegExpExecArray): number => (m[2] === undefined ? 2 : m[2] === 'beta' ? 1 : 0);
  if (stability(ma) !== stability(mb)) return stability(mb) - stability(ma);
  if (Number(ma[1]) !== Number(mb[1])) return Number(mb[1]) - Number(ma[1]);
  return Number(mb[3] ?? 0) - Number(ma[3] ?? 0);
}

function gvrKey(group: string, version: string, resource: string): string {
  return `${group}/${version}/${resource}`;
}

function gkKey(group: string, kind: string): string {
  return `${group}/${kind}`;
}

export class ResourceRegistry {
  readonly #defs: readonly ResourceDef[];
  readonly #byGVR = new Map<string, ResourceDef>();
  /** Per group/kind, the defs in version preference order. */
  readonly #byGK = new Map<string, ResourceDef[]>();
  readonly #groups: { group: string; versions: string[] }[];

  /** Throws RegistryError for duplicate resources, dangling views or colliding storage keys. */
  constructor(defs: readonly ResourceDef[]) {
    this.#defs = [...defs];
    for (const def of defs) {
      const key = gvrKey(def.group, def.version, def.resource);
      if (this.#byGVR.has(key)) throw new RegistryError(def.resource, `resource ${key} is defined twice`);
      this.#byGVR.set(key, def);
      const gk = gkKey(def.group, def.kind);
      const list = this.#byGK.get(gk) ?? [];
      list.push(def);
      list.sort((a, b) => compareVersions(a.version, b.version));
      this.#byGK.set(gk, list);
    }
    this.#checkStorage();
    const versions = new Map<string, Set<string>>();
    for (const def of defs) {
      const set = versions.get(def.group) ?? new Set<string>();
      set.add(def.version);
      versions.set(def.group, set);
    }
    this.#groups = [...versions.keys()]
      .sort(compareGroups)
      .map((group) => ({ group, versions: [...(versions.get(group) ?? [])].sort(compareVersions) }));
  }

  #checkStorage(): void {
    // Storage resource name → the group that owns those keys.
    const owners = new Map<string, string>();
    for (const def of this.#defs) {
      if (def.view !== undefined) {
        const target = this.#defs.find(
          (d) => d.group === def.view?.storageGroup && d.resource === def.view.storageResource && d.view === undefined,
        );
        if (target === undefined) {
          throw new RegistryError(
            def.resource,
            `${def.resource}.${def.group} is a view of ${def.view.storageResource} in group "${def.view.storageGroup}", which is not registered`,
          );
        }
        if (target.namespaced !== def.namespaced) {
          throw new RegistryError(def.resource, `${def.resource}.${def.group} and its storage disagree on scope`);
        }
        continue;
      }
      const owner = owners.get(def.resource);
      if (owner !== undefined && owner !== def.group) {
        throw new RegistryError(
          def.resource,
          `resources ${def.resource} of groups "${owner}" and "${def.group}" would share the storage keys /registry/${def.resource}/`,
        );
      }
      owners.set(def.resource, def.group);
    }
  }

  all(): readonly ResourceDef[] {
    return this.#defs;
  }

  lookup(group: string, version: string, resource: string): ResourceDef | undefined {
    return this.#byGVR.get(gvrKey(group, version, resource));
  }

  /** The preferred version's def of a kind. */
  byKind(group: string, kind: string): ResourceDef | undefined {
    return this.#byGK.get(gkKey(group, kind))?.[0];
  }

  byGroupVersionKind(group: string, version: string, kind: string): ResourceDef | undefined {
    return this.#byGK.get(gkKey(group, kind))?.find((d) => d.version === version);
  }

  /** Groups in discovery order (the core group, `''`, first), versions preferred first. */
  groups(): { group: string; versions: string[] }[] {
    return this.#groups.map((g) => ({ group: g.group, versions: [...g.versions] }));
  }

  /** The resource whose keys hold this def's objects (itself, or the storage of a view). */
  storageResource(def: ResourceDef): string {
    return def.view?.storageResource ?? def.resource;
  }

  /**
   * `/registry/<resource>/<namespace>/<name>`, or `/registry/<resource>/<name>`
   * for cluster-scoped kinds (whose `namespace` is ignored). Throws RegistryError
   * when a namespaced kind gets no namespace.
   */
  storageKey(def: ResourceDef, namespace: string | undefined, name: string): string {
    const resource = this.storageResource(def);
    if (!def.namespaced) return `/registry/${resource}/${name}`;
    if (namespace === undefined || namespace === '') {
      throw new RegistryError(def.resource, `a key of namespaced resource ${def.resource} needs a namespace`);
    }
    return `/registry/${resource}/${namespace}/${name}`;
  }

  /**
   * The prefix under which all objects (of one namespace, when given and the
   * kind is namespaced) live; ends with `/` so `default` never matches `default2`.
   */
  storagePrefix(def: ResourceDef, namespace?: string): string {
    const resource = this.storageResource(def);
    if (def.namespaced && namespace !== undefined && namespace !== '') return `/registry/${resource}/${namespace}/`;
    return `/registry/${resource}/`;
  }
}

/** core/v1 kinds, in the order they are listed. */
export const coreResourceDefs: readonly ResourceDef[] = [
  namespaceDef,
  nodeDef,
  podDef,
  persistentVolumeDef,
  persistentVolumeClaimDef,
  configMapDef,
  secretDef,
  eventDef,
  serviceAccountDef,
  resourceQuotaDef,
  limitRangeDef,
];

export const builtinResourceDefs: readonly ResourceDef[] = [
  ...coreResourceDefs,
  ...appsResourceDefs,
  eventsEventDef,
  ...rbacResourceDefs,
  ...storageResourceDefs,
  leaseDef,
];

export const defaultRegistry = new ResourceRegistry(builtinResourceDefs);

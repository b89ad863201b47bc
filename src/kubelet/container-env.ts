// A container's environment, command and mounts, as the runtime needs them
// (upstream: kubelet_pods.go makeEnvironmentVariables and makeMounts,
// third_party/forked/golang/expansion). Env values come from literals,
// fieldRefs, configMap and secret keys (read through the API when the
// container starts, like upstream's direct lookups), and envFrom; `$(VAR)`
// in values, command, args and subPathExpr expands against the variables
// defined so far, `$$` is a literal `$`, and an unknown `$(VAR)` stays as
// written.
//
// Raw block volumes: a container names them in `volumeDevices` instead of
// `volumeMounts`. Which of the two a pod volume may be used with follows its
// claim's volumeMode (upstream: the DSW populator's createVolumeSpec); the
// checks and the devices a container gets live here too.

import type { KubeObject } from '../apimachinery/index.ts';
import { ApiError, resourcePath, resources, type RestClient } from '../client/index.ts';
import type { Container, Pod } from './types.ts';

/** The container's configuration could not be built; the message is upstream's and goes into the event. */
export class ContainerConfigError extends Error {
  override readonly name = 'ContainerConfigError';
  readonly container: string;
  constructor(container: string, message: string) {
    super(message);
    this.container = container;
  }
}

/** Expands `$(VAR)` references in `input` with `lookup`. */
export function expand(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (ch !== '$' || i + 1 >= input.length) {
      out += ch;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i++;
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close === -1) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, close);
      const value = lookup(name);
      out += value ?? `$(${name})`;
      i = close;
    } else {
      out += ch;
    }
  }
  return out;
}

/** The value of a downward-API field path for env (upstream podFieldSelectorRuntimeValue). */
export function fieldRefValue(pod: Pod, fieldPath: string, hostIP: string): string {
  const m = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(fieldPath);
  if (m !== null) return (m[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations)?.[m[2]] ?? '';
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata.name ?? '';
    case 'metadata.namespace':
      return pod.metadata.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'spec.nodeName':
      return pod.spec.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName ?? '';
    case 'status.hostIP':
    case 'status.hostIPs':
    case 'status.podIP':
    case 'status.podIPs':
      return hostIP;
    default:
      throw new ContainerConfigError('', `unsupported fieldPath: ${fieldPath}`);
  }
}

type Kind = 'configmap' | 'secret';

/** Reads configMaps and secrets once per container start. */
class ObjectCache {
  readonly #client: RestClient;
  readonly #ns: string;
  readonly #cache = new Map<string, KubeObject | undefined>();
  constructor(client: RestClient, namespace: string) {
    this.#client = client;
    this.#ns = namespace;
  }
  async get(kind: Kind, name: string): Promise<KubeObject | undefined> {
    const key = `${kind}/${name}`;
    if (this.#cache.has(key)) return this.#cache.get(key);
    const ref = kind === 'configmap' ? resources.configMaps : resources.secrets;
    let obj: KubeObject | undefined;
    try {
      obj = await this.#client.get(resourcePath(ref, this.#ns, name));
    } catch (err) {
      if (!(err instanceof ApiError && err.code === 404)) throw err;
      obj = undefined;
    }
    this.#cache.set(key, obj);
    return obj;
  }
}

function dataOf(kind: Kind, obj: KubeObject): Record<string, string> {
  if (kind === 'secret') {
    const data = (obj.data ?? {}) as Record<string, string>;
    return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  }
  const binary = (obj.binaryData ?? {}) as Record<string, string>;
  return { ...Object.fromEntries(Object.entries(binary).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])), ...((obj.data ?? {}) as Record<string, string>) };
}

/**
 * The container's environment in order: envFrom first, then env (later
 * names win, as in a process environment). Throws ContainerConfigError for a
 * missing non-optional configMap, secret or key.
 */
export async function makeEnvironment(client: RestClient, pod: Pod, container: Container, hostIP: string): Promise<{ name: string; value: string }[]> {
  const objects = new ObjectCache(client, pod.metadata.namespace ?? 'default');
  const vars = new Map<string, string>();
  const fail = (message: string): never => {
    throw new ContainerConfigError(container.name, message);
  };
  for (const from of container.envFrom ?? []) {
    const kind: Kind = from.configMapRef !== undefined ? 'configmap' : 'secret';
    const ref = from.configMapRef ?? from.secretRef;
    if (ref === undefined) continue;
    const obj = await objects.get(kind, ref.name ?? '');
    if (obj === undefined) {
      if (ref.optional === true) continue;
      fail(`${kind} "${ref.name ?? ''}" not found`);
    } else {
      for (const [k, v] of Object.entries(dataOf(kind, obj))) vars.set(`${from.prefix ?? ''}${k}`, v);
    }
  }
  for (const env of container.env ?? []) {
    let value: string | undefined;
    const from = env.valueFrom;
    if (from === undefined) {
      value = expand(env.value ?? '', (n) => vars.get(n));
    } else if (from.fieldRef !== undefined) {
      try {
        value = fieldRefValue(pod, from.fieldRef.fieldPath, hostIP);
      } catch (err) {
        fail((err as Error).message);
      }
    } else if (from.configMapKeyRef !== undefined || from.secretKeyRef !== undefined) {
      const kind: Kind = from.configMapKeyRef !== undefined ? 'configmap' : 'secret';
      const ref = (from.configMapKeyRef ?? from.secretKeyRef)!;
      const obj = await objects.get(kind, ref.name ?? '');
      if (obj === undefined) {
        if (ref.optional === true) continue;
        fail(`${kind} "${ref.name ?? ''}" not found`);
      } else {
        const data = dataOf(kind, obj);
        if (!(ref.key in data)) {
          if (ref.optional === true) continue;
          fail(`couldn't find key ${ref.key} in ${kind === 'configmap' ? 'ConfigMap' : 'Secret'} ${pod.metadata.namespace ?? ''}/${ref.name ?? ''}`);
        }
        value = data[ref.key];
      }
    } else {
      // resourceFieldRef: no resource accounting on this node yet; an empty value rather than a refused container.
      value = '';
    }
    if (value !== undefined) vars.set(env.name, value);
  }
  return [...vars].map(([name, value]) => ({ name, value }));
}

/** command and args with `$(VAR)` expanded from the container's environment. */
export function expandCommand(container: Container, env: readonly { name: string; value: string }[]): { command: string[]; args: string[] } {
  const vars = new Map(env.map((e) => [e.name, e.value]));
  const lookup = (n: string): string | undefined => vars.get(n);
  return {
    command: (container.command ?? []).map((c) => expand(c, lookup)),
    args: (container.args ?? []).map((a) => expand(a, lookup)),
  };
}

/** One entry of a container's `volumeDevices`. */
export interface VolumeDevice {
  name: string;
  devicePath: string;
}

function isVolumeDevice(v: unknown): v is VolumeDevice {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r.name === 'string' && typeof r.devicePath === 'string';
}

/** A container's `volumeDevices` (the kubelet's narrow Container view leaves the field untyped). */
export function volumeDevicesOf(container: Container): VolumeDevice[] {
  const raw = container.volumeDevices;
  return Array.isArray(raw) ? raw.filter(isVolumeDevice) : [];
}

export type VolumeMode = 'Filesystem' | 'Block';

/**
 * Which pod volumes the pod's containers (init and regular, upstream's
 * VisitContainers) name in volumeMounts and which in volumeDevices.
 */
export function volumeUse(pod: Pod): { mounted: Set<string>; mapped: Set<string> } {
  const mounted = new Set<string>();
  const mapped = new Set<string>();
  for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
    for (const m of c.volumeMounts ?? []) mounted.add(m.name);
    for (const d of volumeDevicesOf(c)) mapped.add(d.name);
  }
  return { mounted, mapped };
}

/**
 * The claims whose volumeMode decides how the pod may use them: for every pod
 * volume a container mounts or maps, the claim name of a
 * `persistentVolumeClaim` source, or the volumeMode an `ephemeral` source's
 * template asks for. Other sources are always Filesystem.
 */
export function claimVolumes(pod: Pod): { claims: Map<string, string>; ephemeral: Map<string, VolumeMode> } {
  const { mounted, mapped } = volumeUse(pod);
  const claims = new Map<string, string>();
  const ephemeral = new Map<string, VolumeMode>();
  for (const v of pod.spec.volumes ?? []) {
    if (!mounted.has(v.name) && !mapped.has(v.name)) continue;
    const pvc = v.persistentVolumeClaim as { claimName?: unknown } | undefined;
    if (typeof pvc?.claimName === 'string') claims.set(v.name, pvc.claimName);
    const template = (v.ephemeral as { volumeClaimTemplate?: { spec?: { volumeMode?: unknown } } } | undefined)?.volumeClaimTemplate;
    if (template !== undefined) ephemeral.set(v.name, template.spec?.volumeMode === 'Block' ? 'Block' : 'Filesystem');
  }
  return { claims, ephemeral };
}

/**
 * Upstream's refusals, by pod volume: a volume whose volumeMode is Block in a
 * volumeMounts entry, or not Block in a volumeDevices entry. `modeOf` answers
 * undefined for a volume whose mode is unknown (its claim could not be read):
 * it is not judged here, the volume manager reports the claim.
 */
export function volumeModeErrors(pod: Pod, modeOf: (volumeName: string) => VolumeMode | undefined): Map<string, string> {
  const { mounted, mapped } = volumeUse(pod);
  const errors = new Map<string, string>();
  for (const v of pod.spec.volumes ?? []) {
    if (!mounted.has(v.name) && !mapped.has(v.name)) continue;
    const mode = modeOf(v.name);
    if (mode === undefined) continue;
    if (mounted.has(v.name) && mode !== 'Filesystem') {
      errors.set(v.name, `volume ${v.name} has volumeMode ${mode}, but is specified in volumeMounts`);
    } else if (mapped.has(v.name) && mode !== 'Block') {
      errors.set(v.name, `volume ${v.name} has volumeMode ${mode}, but is specified in volumeDevices`);
    }
  }
  return errors;
}

// configMap: a ConfigMap's keys as files (seed 001 §1.4). Without `items`
// every key of `data` and `binaryData` becomes a file named after it; with
// `items` only the listed keys, at the listed paths and modes. A missing
// ConfigMap fails setUp unless the volume is `optional` (then the volume is
// empty); a listed key that does not exist fails likewise.

import { Buffer } from 'node:buffer';
import type { KubeObject } from '../../../apimachinery/index.ts';
import type { Mounter, NewMounterOptions, Unmounter, VolumeHost, VolumePlugin, VolumeSpec } from '../../plugin.ts';
import { podUidOf, podVolumeDir, VolumeSetupError } from '../../plugin.ts';
import type { KeyToPath, Pod } from '../../types.ts';
import type { Payload } from '../../util/atomic-writer.ts';
import { PodDirUnmounter } from '../../util/pod-dir.ts';
import { MissingKeyError, modeOr, ObjectNotFoundError, ProjectionMounter, stringMap } from '../../util/projection-mounter.ts';

export const CONFIG_MAP_PLUGIN_NAME = 'kubernetes.io/configmap';

/**
 * The files of a configMap volume. `configMap` undefined stands for an
 * optional ConfigMap that does not exist. Throws MissingKeyError.
 */
export function makeConfigMapPayload(
  items: readonly KeyToPath[] | undefined,
  configMap: KubeObject | undefined,
  defaultMode: number | undefined,
  optional: boolean,
): Payload {
  const data = stringMap(configMap?.data);
  const binary = stringMap(configMap?.binaryData);
  const payload: Payload = new Map();
  const lookup = (key: string): Buffer | undefined => {
    if (Object.hasOwn(data, key)) return Buffer.from(data[key], 'utf8');
    if (Object.hasOwn(binary, key)) return Buffer.from(binary[key], 'base64');
    return undefined;
  };
  if (items === undefined || items.length === 0) {
    for (const key of [...Object.keys(data), ...Object.keys(binary)]) {
      payload.set(key, { data: lookup(key)!, mode: modeOr(undefined, defaultMode) });
    }
    return payload;
  }
  for (const item of items) {
    const bytes = lookup(item.key);
    if (bytes === undefined) {
      if (optional) continue;
      throw new MissingKeyError(`configmap references non-existent config key: ${item.key}`, item.key);
    }
    payload.set(item.path, { data: bytes, mode: modeOr(item.mode, defaultMode) });
  }
  return payload;
}

/** Fetches a ConfigMap through the host; undefined when missing and optional. Throws ObjectNotFoundError. */
export async function getConfigMapForVolume(
  host: VolumeHost, namespace: string, name: string, optional: boolean, signal: AbortSignal,
): Promise<KubeObject | undefined> {
  if (host.objects === undefined) throw new Error('this node has no source for configMaps and secrets');
  const cm = await host.objects.getConfigMap(namespace, name, signal);
  if (cm === undefined && !optional) throw new ObjectNotFoundError('configmap', name);
  return cm;
}

export class ConfigMapPlugin implements VolumePlugin {
  readonly name = CONFIG_MAP_PLUGIN_NAME;
  readonly requiresRemount = true;
  readonly #host: VolumeHost;

  constructor(host: VolumeHost) {
    this.#host = host;
  }

  canSupport(spec: VolumeSpec): boolean {
    return spec.volume?.configMap !== undefined;
  }

  newMounter(spec: VolumeSpec, pod: Pod, opts: NewMounterOptions = {}): Mounter {
    const volume = spec.volume;
    const source = volume?.configMap;
    if (volume === undefined || source === undefined) {
      throw new VolumeSetupError(this.name, volume?.name ?? '', 'spec does not reference a ConfigMap volume type');
    }
    const namespace = pod.metadata.namespace ?? 'default';
    const optional = source.optional === true;
    return new ProjectionMounter({
      host: this.#host,
      plugin: this.name,
      volName: volume.name,
      dir: podVolumeDir(this.#host.rootDir, podUidOf(pod), this.name, volume.name),
      memory: false,
      opts,
      computePayload: async (signal) => {
        const cm = await getConfigMapForVolume(this.#host, namespace, source.name ?? '', optional, signal);
        return makeConfigMapPayload(source.items, cm, source.defaultMode, optional);
      },
    });
  }

  newUnmounter(volName: string, podUid: string): Unmounter {
    return new PodDirUnmounter(this.#host, this.name, volName, podVolumeDir(this.#host.rootDir, podUid, this.name, volName));
  }
}

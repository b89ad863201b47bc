// secret: a Secret's keys as files, like configMap but kept off the node's
// disk: the volume directory is a tmpfs mount (upstream wraps it in a Memory
// emptyDir), so tearing the volume down also drops the bytes from memory.
// `data` values arrive base64-encoded on the wire and are written decoded.

import { Buffer } from 'node:buffer';
import type { KubeObject } from '../../../apimachinery/index.ts';
import type { Mounter, NewMounterOptions, Unmounter, VolumeHost, VolumePlugin, VolumeSpec } from '../../plugin.ts';
import { podUidOf, podVolumeDir, VolumeSetupError } from '../../plugin.ts';
import type { KeyToPath, Pod } from '../../types.ts';
import type { Payload } from '../../util/atomic-writer.ts';
import { PodDirUnmounter } from '../../util/pod-dir.ts';
import { MissingKeyError, modeOr, ObjectNotFoundError, ProjectionMounter, stringMap } from '../../util/projection-mounter.ts';

export const SECRET_PLUGIN_NAME = 'kubernetes.io/secret';

/**
 * The files of a secret volume. `secret` undefined stands for an optional
 * Secret that does not exist. Throws MissingKeyError.
 */
export function makeSecretPayload(
  items: readonly KeyToPath[] | undefined,
  secret: KubeObject | undefined,
  defaultMode: number | undefined,
  optional: boolean,
): Payload {
  const data = stringMap(secret?.data);
  const payload: Payload = new Map();
  if (items === undefined || items.length === 0) {
    for (const [key, b64] of Object.entries(data)) {
      payload.set(key, { data: Buffer.from(b64, 'base64'), mode: modeOr(undefined, defaultMode) });
    }
    return payload;
  }
  for (const item of items) {
    if (!Object.hasOwn(data, item.key)) {
      if (optional) continue;
      throw new MissingKeyError(`references non-existent secret key: ${item.key}`, item.key);
    }
    payload.set(item.path, { data: Buffer.from(data[item.key], 'base64'), mode: modeOr(item.mode, defaultMode) });
  }
  return payload;
}

/** Fetches a Secret through the host; undefined when missing and optional. Throws ObjectNotFoundError. */
export async function getSecretForVolume(
  host: VolumeHost, namespace: string, name: string, optional: boolean, signal: AbortSignal,
): Promise<KubeObject | undefined> {
  if (host.objects === undefined) throw new Error('this node has no source for configMaps and secrets');
  const secret = await host.objects.getSecret(namespace, name, signal);
  if (secret === undefined && !optional) throw new ObjectNotFoundError('secret', name);
  return secret;
}

export class SecretPlugin implements VolumePlugin {
  readonly name = SECRET_PLUGIN_NAME;
  readonly requiresRemount = true;
  readonly #host: VolumeHost;

  constructor(host: VolumeHost) {
    this.#host = host;
  }

  canSupport(spec: VolumeSpec): boolean {
    return spec.volume?.secret !== undefined;
  }

  newMounter(spec: VolumeSpec, pod: Pod, opts: NewMounterOptions = {}): Mounter {
    const volume = spec.volume;
    const source = volume?.secret;
    if (volume === undefined || source === undefined) {
      throw new VolumeSetupError(this.name, volume?.name ?? '', 'spec does not reference a Secret volume type');
    }
    const namespace = pod.metadata.namespace ?? 'default';
    const optional = source.optional === true;
    return new ProjectionMounter({
      host: this.#host,
      plugin: this.name,
      volName: volume.name,
      dir: podVolumeDir(this.#host.rootDir, podUidOf(pod), this.name, volume.name),
      memory: true,
      opts,
      computePayload: async (signal) => {
        const secret = await getSecretForVolume(this.#host, namespace, source.secretName ?? '', optional, signal);
        return makeSecretPayload(source.items, secret, source.defaultMode, optional);
      },
    });
  }

  newUnmounter(volName: string, podUid: string): Unmounter {
    return new PodDirUnmounter(this.#host, this.name, volName, podVolumeDir(this.#host.rootDir, podUid, this.name, volName));
  }
}

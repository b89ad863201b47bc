// projected: several sources — secrets, configMaps, downwardAPI items and
// service account tokens — merged into one directory. Each source's files are
// computed as its own plugin would, with the projected volume's defaultMode;
// a later source wins a path conflict (the API rejects most of them). All
// source errors are reported together. Upstream keeps projected volumes in
// memory (a tmpfs), since they usually carry secrets and tokens.
//
// Tokens need the kubelet's TokenRequest client, given to the plugin as a
// ServiceAccountTokenSource; without one a token source fails setUp.

import { Buffer } from 'node:buffer';
import type { Mounter, NewMounterOptions, Unmounter, VolumeHost, VolumePlugin, VolumeSpec } from '../../plugin.ts';
import { podUidOf, podVolumeDir, VolumeSetupError } from '../../plugin.ts';
import type { Pod, ProjectedVolumeSource } from '../../types.ts';
import type { Payload } from '../../util/atomic-writer.ts';
import { PodDirUnmounter } from '../../util/pod-dir.ts';
import { aggregateError, modeOr, ProjectionMounter } from '../../util/projection-mounter.ts';
import { getConfigMapForVolume, makeConfigMapPayload } from '../config-map/index.ts';
import { collectDownwardAPIData } from '../downward-api/index.ts';
import { getSecretForVolume, makeSecretPayload } from '../secret/index.ts';

export const PROJECTED_PLUGIN_NAME = 'kubernetes.io/projected';

export interface ServiceAccountTokenRequest {
  pod: Pod;
  serviceAccountName: string;
  audience?: string;
  expirationSeconds: number;
}

/** How the node obtains bound service account tokens (the kubelet: TokenRequest). */
export interface ServiceAccountTokenSource {
  getToken(request: ServiceAccountTokenRequest, signal: AbortSignal): Promise<string>;
}

const DEFAULT_TOKEN_EXPIRATION_SECONDS = 3600;

/** The merged files of a projected volume. Throws one error, or an AggregateError for several. */
export async function collectProjectedData(
  source: ProjectedVolumeSource,
  pod: Pod,
  host: VolumeHost,
  tokens: ServiceAccountTokenSource | undefined,
  signal: AbortSignal,
): Promise<Payload> {
  const namespace = pod.metadata.namespace ?? 'default';
  const payload: Payload = new Map();
  const errors: Error[] = [];
  const merge = (files: Payload): void => {
    for (const [k, v] of files) payload.set(k, v);
  };
  for (const s of source.sources ?? []) {
    try {
      if (s.secret !== undefined) {
        const optional = s.secret.optional === true;
        const secret = await getSecretForVolume(host, namespace, s.secret.name ?? '', optional, signal);
        merge(makeSecretPayload(s.secret.items, secret, source.defaultMode, optional));
      } else if (s.configMap !== undefined) {
        const optional = s.configMap.optional === true;
        const cm = await getConfigMapForVolume(host, namespace, s.configMap.name ?? '', optional, signal);
        merge(makeConfigMapPayload(s.configMap.items, cm, source.defaultMode, optional));
      } else if (s.downwardAPI !== undefined) {
        merge(collectDownwardAPIData(s.downwardAPI.items, pod, host, source.defaultMode));
      } else if (s.serviceAccountToken !== undefined) {
        if (tokens === undefined) throw new Error('serviceAccountToken projection is not available on this node');
        const t = s.serviceAccountToken;
        const token = await tokens.getToken({
          pod,
          serviceAccountName: pod.spec?.serviceAccountName ?? 'default',
          audience: t.audience,
          expirationSeconds: t.expirationSeconds ?? DEFAULT_TOKEN_EXPIRATION_SECONDS,
        }, signal);
        payload.set(t.path, { data: Buffer.from(token, 'utf8'), mode: modeOr(undefined, source.defaultMode) });
      }
    } catch (err) {
      errors.push(err instanceof Error ? err : new Error(String(err)));
    }
  }
  const err = aggregateError(errors);
  if (err !== undefined) throw err;
  return payload;
}

export class ProjectedPlugin implements VolumePlugin {
  readonly name = PROJECTED_PLUGIN_NAME;
  readonly requiresRemount = true;
  readonly #host: VolumeHost;
  readonly #tokens: ServiceAccountTokenSource | undefined;

  constructor(host: VolumeHost, tokens?: ServiceAccountTokenSource) {
    this.#host = host;
    this.#tokens = tokens;
  }

  canSupport(spec: VolumeSpec): boolean {
    return spec.volume?.projected !== undefined;
  }

  newMounter(spec: VolumeSpec, pod: Pod, opts: NewMounterOptions = {}): Mounter {
    const volume = spec.volume;
    const source = volume?.projected;
    if (volume === undefined || source === undefined) {
      throw new VolumeSetupError(this.name, volume?.name ?? '', 'spec does not reference a projected volume type');
    }
    return new ProjectionMounter({
      host: this.#host,
      plugin: this.name,
      volName: volume.name,
      dir: podVolumeDir(this.#host.rootDir, podUidOf(pod), this.name, volume.name),
      memory: true,
      opts,
      computePayload: (signal) => collectProjectedData(source, pod, this.#host, this.#tokens, signal),
    });
  }

  newUnmounter(volName: string, podUid: string): Unmounter {
    return new PodDirUnmounter(this.#host, this.name, volName, podVolumeDir(this.#host.rootDir, podUid, this.name, volName));
  }
}

// downwardAPI: facts about the pod itself as files (seed 001 §1.5). A
// fieldRef names a pod field — metadata.name/namespace/uid, the labels and
// annotations (all of them as sorted `key="value"` lines, or one by
// subscript: metadata.labels['app']), spec.nodeName,
// spec.serviceAccountName, status.podIP/hostIP; a resourceFieldRef names a
// container's request or limit, scaled by a divisor and rounded up. A
// container without a limit reports the node's allocatable, as upstream.
//
// Labels and annotations change, so the volume is re-synced by setUp like
// configMaps. Errors of several items are reported together.

import { Buffer } from 'node:buffer';
import {
  parseQuantity,
  quantityMilliValue,
  quantityToBigInt,
  type Quantity,
} from '../../../apimachinery/index.ts';
import type { Mounter, NewMounterOptions, Unmounter, VolumeHost, VolumePlugin, VolumeSpec } from '../../plugin.ts';
import { podUidOf, podVolumeDir, VolumeSetupError } from '../../plugin.ts';
import type { DownwardAPIVolumeFile, Pod, PodContainer, ResourceFieldSelector } from '../../types.ts';
import type { Payload } from '../../util/atomic-writer.ts';
import { goQuote } from '../../util/go-quote.ts';
import { PodDirUnmounter } from '../../util/pod-dir.ts';
import { aggregateError, modeOr, ProjectionMounter } from '../../util/projection-mounter.ts';

export const DOWNWARD_API_PLUGIN_NAME = 'kubernetes.io/downward-api';

/** A field or resource the downward API cannot produce. */
export class DownwardAPIFieldError extends Error {
  override readonly name = 'DownwardAPIFieldError';
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

/** Upstream's FormatMap: `key="value"` lines sorted by key, no trailing newline. */
export function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((k) => `${k}=${goQuote(m![k])}`)
    .join('\n');
}

const SUBSCRIPTED = /^([^[]+)\['(.*)'\]$/;

/** The text of a fieldRef's field. Throws DownwardAPIFieldError. */
export function extractFieldPathAsString(pod: Pod, fieldPath: string): string {
  const sub = SUBSCRIPTED.exec(fieldPath);
  if (sub !== null) {
    const [, path, key] = sub;
    if (path === 'metadata.annotations') return pod.metadata.annotations?.[key] ?? '';
    if (path === 'metadata.labels') return pod.metadata.labels?.[key] ?? '';
    throw new DownwardAPIFieldError(fieldPath, `fieldPath ${goQuote(fieldPath)} does not support subscript`);
  }
  switch (fieldPath) {
    case 'metadata.annotations':
      return formatMap(pod.metadata.annotations);
    case 'metadata.labels':
      return formatMap(pod.metadata.labels);
    case 'metadata.name':
      return pod.metadata.name ?? '';
    case 'metadata.namespace':
      return pod.metadata.namespace ?? '';
    case 'metadata.uid':
      return pod.metadata.uid ?? '';
    case 'spec.nodeName':
      return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.podIP':
      return pod.status?.podIP ?? '';
    case 'status.hostIP':
      return pod.status?.hostIP ?? '';
  }
  throw new DownwardAPIFieldError(fieldPath, `unsupported fieldPath: ${fieldPath}`);
}

function findContainer(pod: Pod, name: string | undefined): PodContainer {
  const all = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  const c = all.find((x) => x.name === name);
  if (c === undefined) throw new DownwardAPIFieldError(name ?? '', `container ${name ?? ''} not found`);
  return c;
}

function quantityOf(value: string | number | undefined): Quantity | undefined {
  if (value === undefined) return undefined;
  return parseQuantity(String(value));
}

/**
 * The text of a resourceFieldRef: ceil(value / divisor), where CPU compares
 * millicores and everything else whole units. A missing limit falls back to
 * the node's allocatable (`allocatable`), a missing request to 0.
 */
export function extractResourceValue(
  ref: ResourceFieldSelector,
  pod: Pod,
  allocatable: Record<string, string> | undefined,
): string {
  const container = findContainer(pod, ref.containerName);
  const dot = ref.resource.indexOf('.');
  const kind = ref.resource.slice(0, dot);
  const resourceName = ref.resource.slice(dot + 1);
  const known = resourceName === 'cpu' || resourceName === 'memory' || resourceName === 'ephemeral-storage' ||
    resourceName.startsWith('hugepages-');
  if ((kind !== 'limits' && kind !== 'requests') || !known) {
    throw new DownwardAPIFieldError(ref.resource, `unsupported container resource : ${ref.resource}`);
  }
  let value = quantityOf(container.resources?.[kind]?.[resourceName]);
  if (value === undefined && kind === 'limits') {
    const fromNode = allocatable?.[resourceName];
    if (fromNode === undefined) {
      throw new DownwardAPIFieldError(ref.resource,
        `container ${container.name} has no ${ref.resource} and the node's allocatable ${resourceName} is unknown`);
    }
    value = parseQuantity(fromNode);
  }
  value ??= parseQuantity('0');
  let divisor = quantityOf(ref.divisor);
  if (divisor === undefined || divisor.unscaled === 0n) divisor = parseQuantity('1');
  if (resourceName === 'cpu') {
    return String(Math.ceil(Number(quantityMilliValue(value)) / Number(quantityMilliValue(divisor))));
  }
  return String(Math.ceil(Number(quantityToBigInt(value)) / Number(quantityToBigInt(divisor))));
}

/** The files of a downwardAPI volume (or projection). Throws one error, or an AggregateError for several. */
export function collectDownwardAPIData(
  items: readonly DownwardAPIVolumeFile[] | undefined,
  pod: Pod,
  host: Pick<VolumeHost, 'nodeAllocatable'>,
  defaultMode: number | undefined,
): Payload {
  const payload: Payload = new Map();
  const errors: Error[] = [];
  for (const item of items ?? []) {
    let text = '';
    try {
      if (item.fieldRef !== undefined) text = extractFieldPathAsString(pod, item.fieldRef.fieldPath);
      else if (item.resourceFieldRef !== undefined) text = extractResourceValue(item.resourceFieldRef, pod, host.nodeAllocatable?.());
    } catch (err) {
      errors.push(err instanceof Error ? err : new Error(String(err)));
      continue;
    }
    payload.set(item.path, { data: Buffer.from(text, 'utf8'), mode: modeOr(item.mode, defaultMode) });
  }
  const err = aggregateError(errors);
  if (err !== undefined) throw err;
  return payload;
}

export class DownwardAPIPlugin implements VolumePlugin {
  readonly name = DOWNWARD_API_PLUGIN_NAME;
  readonly requiresRemount = true;
  readonly #host: VolumeHost;

  constructor(host: VolumeHost) {
    this.#host = host;
  }

  canSupport(spec: VolumeSpec): boolean {
    return spec.volume?.downwardAPI !== undefined;
  }

  newMounter(spec: VolumeSpec, pod: Pod, opts: NewMounterOptions = {}): Mounter {
    const volume = spec.volume;
    const source = volume?.downwardAPI;
    if (volume === undefined || source === undefined) {
      throw new VolumeSetupError(this.name, volume?.name ?? '', 'spec does not reference a DownwardAPI volume type');
    }
    return new ProjectionMounter({
      host: this.#host,
      plugin: this.name,
      volName: volume.name,
      dir: podVolumeDir(this.#host.rootDir, podUidOf(pod), this.name, volume.name),
      memory: false,
      opts,
      // The pod given here is the kubelet's latest copy, so labels edited since are picked up.
      computePayload: async () => collectDownwardAPIData(source.items, pod, this.#host, source.defaultMode),
    });
  }

  newUnmounter(volName: string, podUid: string): Unmounter {
    return new PodDirUnmounter(this.#host, this.name, volName, podVolumeDir(this.#host.rootDir, podUid, this.name, volName));
  }
}

// What the cluster learns of the CSI drivers on this node (upstream's
// pkg/volume/csi/nodeinfomanager): for each registered driver
//
//  - the node's CSINode (created owned by the Node, as upstream, so it goes
//    with the Node) lists it in spec.drivers with its node ID, the topology
//    keys it reported and its attach limit (allocatable.count, when > 0);
//  - the Node carries the driver's topology segments as labels and its node
//    ID in the `csi.volume.kubernetes.io/nodeid` annotation, a JSON map of
//    driver name → node ID.
//
// Write order on install: the Node first, then the CSINode, as upstream —
// consumers (the scheduler, the attacher, the provisioner) read the CSINode
// entry and expect the labels it names to be on the Node already. Uninstall
// removes the CSINode entry first, then the annotation; topology labels stay
// (upstream keeps them: another driver may report the same key).
//
// Every write names the resourceVersion it read, so a concurrent writer (the
// kubelet's status loop, another driver's registration) turns it into a
// Conflict, and the read-modify-write is retried with upstream's short
// backoff (10 ms × 5ⁿ, four tries).
//
// One deliberate difference: the API server refuses any change to an
// existing spec.drivers entry, so a driver that comes back with another node
// ID, other topology keys or another attach limit has its entry removed and
// then added in two writes. Upstream updates in place (and is refused) or,
// for the limit, keeps the stale entry.
import type { KubeObject, OwnerReference } from '../../apimachinery/index.ts';
import { delay, toError, type Logger } from '../../base/index.ts';
import { ApiError, resourcePath, resources, type RestClient } from '../../client/index.ts';

/** The Node annotation with a JSON map of CSI driver name → the driver's node ID. */
export const ANNOTATION_KEY_NODE_ID = 'csi.volume.kubernetes.io/nodeid';

export interface CSINodeDriver {
  name: string;
  nodeID: string;
  topologyKeys?: string[] | null;
  allocatable?: { count?: number } | null;
}

export interface CSINode extends KubeObject {
  spec: { drivers?: CSINodeDriver[] | null };
}

interface Node extends KubeObject {
  metadata: KubeObject['metadata'] & { labels?: Record<string, string>; annotations?: Record<string, string> };
}

/** installCSIDriver or uninstallCSIDriver did not get its writes through. */
export class NodeInfoUpdateError extends Error {
  override readonly name = 'NodeInfoUpdateError';
  readonly driverName: string | undefined;
  constructor(message: string, driverName?: string, options?: ErrorOptions) {
    super(message, options);
    this.driverName = driverName;
  }
}

/** Upstream's updateBackoff: 4 steps from 10 ms, factor 5. */
const UPDATE_BACKOFF_MS = [10, 50, 250, 1250];

export interface NodeInfoManagerOptions {
  client: RestClient;
  nodeName: string;
  logger: Logger;
}

export class NodeInfoManager {
  readonly #o: NodeInfoManagerOptions;
  readonly #nodePath: string;
  readonly #csiNodePath: string;

  constructor(options: NodeInfoManagerOptions) {
    this.#o = options;
    this.#nodePath = resourcePath(resources.nodes, undefined, options.nodeName);
    this.#csiNodePath = resourcePath(resources.csiNodes, undefined, options.nodeName);
  }

  /**
   * Records the driver on the Node (annotation, topology labels) and in the
   * CSINode (created when missing). A no-op where all is already so. Throws
   * NodeInfoUpdateError (a topology label with another value, the Node
   * missing, the API failing through every retry).
   */
  async installCSIDriver(driverName: string, driverNodeID: string, maxAttachLimit: number, topology: Readonly<Record<string, string>>, signal?: AbortSignal): Promise<void> {
    if (driverNodeID === '') throw new NodeInfoUpdateError('error adding CSI driver node info: driverNodeID must not be empty', driverName);
    try {
      await this.#retry(signal, () => this.#updateNode((node) => {
          const idChanged = setNodeID(node, driverName, driverNodeID);
          const labelsChanged = setTopologyLabels(node, topology);
          return idChanged || labelsChanged;
        }));
    } catch (err) {
      throw new NodeInfoUpdateError(`error updating Node object with CSI driver node info: ${toError(err).message}`, driverName, { cause: err });
    }
    try {
      await this.#retry(signal, () => this.#installInCSINode(driverName, driverNodeID, maxAttachLimit, topology));
    } catch (err) {
      throw new NodeInfoUpdateError(`error updating CSINode object with CSI driver node info: ${toError(err).message}`, driverName, { cause: err });
    }
  }

  /** Removes the driver's CSINode entry and its node ID annotation entry; a no-op where they are gone. */
  async uninstallCSIDriver(driverName: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.#retry(signal, () => this.#uninstallFromCSINode(driverName));
    } catch (err) {
      throw new NodeInfoUpdateError(`error uninstalling CSI driver from CSINode object ${toError(err).message}`, driverName, { cause: err });
    }
    try {
      await this.#retry(signal, () => this.#updateNode((node) => removeNodeID(node, driverName)));
    } catch (err) {
      throw new NodeInfoUpdateError(`error removing CSI driver node info from Node object ${toError(err).message}`, driverName, { cause: err });
    }
  }

  /**
   * Makes sure this node's CSINode exists (upstream's InitializeCSINodeWithAnnotation,
   * without the migration annotation: volplane migrates no in-tree plugin). Throws
   * when the Node does not exist yet or the API fails.
   */
  async initializeCSINode(signal?: AbortSignal): Promise<CSINode> {
    return this.#retry(signal, async () => {
      const existing = await this.#getCSINode(signal);
      return existing ?? (await this.createCSINode(signal));
    });
  }

  /** Creates the empty CSINode owned by the Node; throws (also AlreadyExists) as the API answers. */
  async createCSINode(signal?: AbortSignal): Promise<CSINode> {
    const node = await this.#o.client.get<Node>(this.#nodePath, signal === undefined ? {} : { signal });
    const owner: OwnerReference = { apiVersion: 'v1', kind: 'Node', name: node.metadata.name ?? this.#o.nodeName, uid: node.metadata.uid ?? '' };
    const created = await this.#o.client.create<CSINode>(resourcePath(resources.csiNodes), {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'CSINode',
      metadata: { name: this.#o.nodeName, ownerReferences: [owner] },
      spec: { drivers: [] },
    });
    this.#o.logger.info({ node: this.#o.nodeName }, 'CSINode created');
    return created;
  }

  async #getCSINode(signal?: AbortSignal): Promise<CSINode | undefined> {
    try {
      return await this.#o.client.get<CSINode>(this.#csiNodePath, signal === undefined ? {} : { signal });
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return undefined;
      throw err;
    }
  }

  /** Reads the Node, lets `change` edit its metadata, and writes the difference pinned to what it read. */
  async #updateNode(change: (node: Node) => boolean): Promise<void> {
    const original = await this.#o.client.get<Node>(this.#nodePath);
    const node: Node = structuredClone(original);
    if (!change(node)) return;
    const patch = {
      metadata: {
        resourceVersion: original.metadata.resourceVersion,
        labels: mapDiff(original.metadata.labels, node.metadata.labels),
        annotations: mapDiff(original.metadata.annotations, node.metadata.annotations),
      },
    };
    await this.#o.client.patch(this.#nodePath, patch);
  }

  async #installInCSINode(driverName: string, driverNodeID: string, maxAttachLimit: number, topology: Readonly<Record<string, string>>): Promise<void> {
    let csiNode = (await this.#getCSINode()) ?? (await this.createCSINode());
    const wanted: CSINodeDriver = { name: driverName, nodeID: driverNodeID, topologyKeys: Object.keys(topology).sort() };
    if (maxAttachLimit > 0) wanted.allocatable = { count: Math.min(maxAttachLimit, 2 ** 31 - 1) };
    const drivers = csiNode.spec?.drivers ?? [];
    const existing = drivers.find((d) => d.name === driverName);
    if (existing !== undefined && sameDriverEntry(existing, wanted)) return;
    if (existing !== undefined) {
      // Entries are immutable: out with the old one first.
      csiNode = await this.#o.client.update<CSINode>(this.#csiNodePath, {
        ...csiNode,
        spec: { ...csiNode.spec, drivers: drivers.filter((d) => d.name !== driverName) },
      });
    }
    await this.#o.client.update(this.#csiNodePath, {
      ...csiNode,
      spec: { ...csiNode.spec, drivers: [...(csiNode.spec?.drivers ?? []), wanted] },
    });
  }

  async #uninstallFromCSINode(driverName: string): Promise<void> {
    const csiNode = await this.#getCSINode();
    if (csiNode === undefined) return;
    const drivers = csiNode.spec?.drivers ?? [];
    if (!drivers.some((d) => d.name === driverName)) return;
    await this.#o.client.update(this.#csiNodePath, { ...csiNode, spec: { ...csiNode.spec, drivers: drivers.filter((d) => d.name !== driverName) } });
  }

  /** Runs `fn` up to five times, pausing by upstream's backoff between failures; throws the last error. */
  async #retry<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    const errors: string[] = [];
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (signal?.aborted) throw err;
        // Data problems do not heal by retrying.
        if (err instanceof TopologyCollisionError || err instanceof NodeIdAnnotationError) throw err;
        errors.push(toError(err).message);
        if (attempt >= UPDATE_BACKOFF_MS.length) {
          throw new Error(`${errors.at(-1)} (after ${errors.length} attempts)`, { cause: err });
        }
        this.#o.logger.debug({ err: toError(err).message, attempt }, 'node info update failed, retrying');
        await delay(UPDATE_BACKOFF_MS[attempt], signal);
      }
    }
  }
}

/** A driver reported a topology value other than the Node's existing label. */
export class TopologyCollisionError extends Error {
  override readonly name = 'TopologyCollisionError';
}

/** The Node's node ID annotation is not a JSON map. */
export class NodeIdAnnotationError extends Error {
  override readonly name = 'NodeIdAnnotationError';
}

function sameDriverEntry(a: CSINodeDriver, b: CSINodeDriver): boolean {
  const keys = (d: CSINodeDriver): string => [...(d.topologyKeys ?? [])].sort().join('\n');
  const count = (d: CSINodeDriver): number | undefined => d.allocatable?.count ?? undefined;
  return a.nodeID === b.nodeID && keys(a) === keys(b) && count(a) === count(b);
}

/** A merge patch turning map `a` into map `b` (removed keys become null); undefined when equal. */
function mapDiff(a: Record<string, string> | undefined, b: Record<string, string> | undefined): Record<string, string | null> | undefined {
  const out: Record<string, string | null> = {};
  for (const [k, v] of Object.entries(b ?? {})) if (a?.[k] !== v) out[k] = v;
  for (const k of Object.keys(a ?? {})) if (b === undefined || !(k in b)) out[k] = null;
  return Object.keys(out).length === 0 ? undefined : out;
}

function nodeIDMap(node: Node): Record<string, string> {
  const value = node.metadata.annotations?.[ANNOTATION_KEY_NODE_ID];
  if (value === undefined || value === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new NodeIdAnnotationError(`failed to parse node's "${ANNOTATION_KEY_NODE_ID}" annotation value (${JSON.stringify(value)}) err=${toError(err).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new NodeIdAnnotationError(`failed to parse node's "${ANNOTATION_KEY_NODE_ID}" annotation value (${JSON.stringify(value)}): not a JSON object`);
  }
  return Object.fromEntries(Object.entries(parsed as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}

/** Go's json.Marshal of a map: keys sorted. */
function marshalSorted(map: Record<string, string>): string {
  return JSON.stringify(Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}

function setNodeID(node: Node, driverName: string, nodeID: string): boolean {
  const map = nodeIDMap(node);
  if (map[driverName] === nodeID) return false;
  map[driverName] = nodeID;
  node.metadata.annotations = { ...node.metadata.annotations, [ANNOTATION_KEY_NODE_ID]: marshalSorted(map) };
  return true;
}

function removeNodeID(node: Node, driverName: string): boolean {
  const map = nodeIDMap(node);
  if (!(driverName in map)) return false;
  delete map[driverName];
  const annotations = { ...node.metadata.annotations };
  if (Object.keys(map).length === 0) delete annotations[ANNOTATION_KEY_NODE_ID];
  else annotations[ANNOTATION_KEY_NODE_ID] = marshalSorted(map);
  node.metadata.annotations = annotations;
  return true;
}

function setTopologyLabels(node: Node, topology: Readonly<Record<string, string>>): boolean {
  const labels = node.metadata.labels ?? {};
  for (const [k, v] of Object.entries(topology)) {
    const current = labels[k];
    if (current !== undefined && current !== v) {
      throw new TopologyCollisionError(`detected topology value collision: driver reported "${k}":"${v}" but existing label is "${k}":"${current}"`);
    }
  }
  const missing = Object.entries(topology).filter(([k]) => labels[k] === undefined);
  if (missing.length === 0) return false;
  node.metadata.labels = { ...labels, ...Object.fromEntries(missing) };
  return true;
}

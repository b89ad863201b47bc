// Writes each node's `status.volumesAttached` from the actual state of world
// (upstream statusupdater/node_status_updater.go). The kubelet mounts an
// attachable volume only once the node's status lists it, and the
// reconciler takes a volume off the list before it detaches it, so the
// kubelet never starts a mount on a volume on its way out.
//
// The whole list is written every time (it carries no merge key, so a patch
// replaces it): a JSON merge patch to the node's `status` subresource.
// An empty list is written as null, which removes the field, as a Node
// without attached volumes looks upstream.

import type { Logger } from '../../base/index.ts';
import { toError } from '../../base/index.ts';
import { ApiError, resourcePath, resources, type RestClient } from '../../client/index.ts';
import type { ActualStateOfWorld } from './actual-state-of-world.ts';

export interface NodeStatusUpdaterOptions {
  client: RestClient;
  asw: ActualStateOfWorld;
  /** Whether the Node object exists (in the informer cache). */
  nodeExists(nodeName: string): boolean;
  logger: Logger;
}

export class NodeStatusUpdater {
  readonly #o: NodeStatusUpdaterOptions;

  constructor(options: NodeStatusUpdaterOptions) {
    this.#o = options;
  }

  /**
   * Writes the status of every node the actual state flagged. A node whose
   * write fails is flagged again for the next pass; never throws.
   */
  async updateNodeStatuses(signal: AbortSignal): Promise<void> {
    for (const nodeName of this.#o.asw.takeNodesToUpdate()) {
      try {
        await this.updateNodeStatusForNode(nodeName, signal);
      } catch (err) {
        if (signal.aborted) return;
        this.#o.asw.setNodeStatusUpdateNeeded(nodeName);
        this.#o.logger.warn({ node: nodeName, err: toError(err) }, 'could not update node status volumesAttached; will retry');
      }
    }
  }

  /**
   * Writes `nodeName`'s `status.volumesAttached` now. No-op when the Node
   * does not exist (there is nothing to report on); throws the API's error
   * otherwise, so the caller can decide whether to go on (a detach must not).
   */
  async updateNodeStatusForNode(nodeName: string, signal: AbortSignal): Promise<void> {
    if (!this.#o.nodeExists(nodeName)) return;
    const attached = this.#o.asw.getVolumesToReportAttached(nodeName);
    try {
      await this.#o.client.request('PATCH', resourcePath(resources.nodes, undefined, nodeName, 'status'), {
        body: { status: { volumesAttached: attached.length === 0 ? null : attached } },
        contentType: 'application/merge-patch+json',
        signal,
      });
      this.#o.logger.debug({ node: nodeName, volumesAttached: attached.map((v) => v.name) }, 'updated node status volumesAttached');
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return;
      throw err;
    }
  }
}

// The node's heartbeat (upstream: pkg/kubelet/nodelease and
// component-helpers/apimachinery/lease/controller.go): a Lease named after
// the node in kube-node-lease, holderIdentity = the node, leaseDurationSeconds
// 40, renewTime moved forward every 10 s (a quarter of the duration). A
// renewal is a PUT on the last Lease seen (so two kubelets claiming one name
// notice each other through conflicts); a conflict or a missing Lease is
// answered by reading or creating it again. The node lifecycle controller
// watches these renewals, not node status, to decide whether a node is alive.

import { formatMicroTime } from '../apimachinery/index.ts';
import type { Logger } from '../base/index.ts';
import { ApiError, resourcePath, resources, type Lease, type RestClient } from '../client/index.ts';
import { sleep } from './node-status.ts';

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
export const NODE_LEASE_DURATION_SECONDS = 40;

export interface NodeLeaseOptions {
  client: RestClient;
  nodeName: string;
  logger: Logger;
  /** The node's uid, for the Lease's owner reference (so it goes with the Node). */
  nodeUid: () => string | undefined;
  /** Default 10 s. */
  renewIntervalMs?: number;
}

export class NodeLease {
  readonly #o: NodeLeaseOptions;
  readonly #path: string;
  #latest: Lease | undefined;

  constructor(options: NodeLeaseOptions) {
    this.#o = options;
    this.#path = resourcePath(resources.leases, NODE_LEASE_NAMESPACE, options.nodeName);
  }

  #spec(): Lease['spec'] {
    return {
      holderIdentity: this.#o.nodeName,
      leaseDurationSeconds: NODE_LEASE_DURATION_SECONDS,
      renewTime: formatMicroTime(new Date()),
    };
  }

  #ownerReferences(): Lease['metadata']['ownerReferences'] {
    const uid = this.#o.nodeUid();
    return uid === undefined ? undefined : [{ apiVersion: 'v1', kind: 'Node', name: this.#o.nodeName, uid }];
  }

  /** Renews the Lease once (creating it when missing). Throws the API's error. */
  async renew(): Promise<Lease> {
    const { client } = this.#o;
    if (this.#latest === undefined) {
      try {
        this.#latest = await client.get<Lease>(this.#path);
      } catch (err) {
        if (!(err instanceof ApiError && err.code === 404)) throw err;
        const owners = this.#ownerReferences();
        this.#latest = await client.create<Lease>(resourcePath(resources.leases, NODE_LEASE_NAMESPACE), {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.#o.nodeName, namespace: NODE_LEASE_NAMESPACE, ...(owners === undefined ? {} : { ownerReferences: owners }) },
          spec: this.#spec(),
        });
        return this.#latest;
      }
    }
    const next: Lease = { ...this.#latest, spec: { ...this.#latest.spec, ...this.#spec() } };
    const owners = this.#ownerReferences();
    if ((next.metadata.ownerReferences ?? []).length === 0 && owners !== undefined) next.metadata = { ...next.metadata, ownerReferences: owners };
    try {
      this.#latest = await client.update<Lease>(this.#path, next);
      return this.#latest;
    } catch (err) {
      // Someone else wrote it, or it was deleted: start over from the server's copy next time.
      this.#latest = undefined;
      throw err;
    }
  }

  /** Renews until `signal` aborts; failures are logged and retried at the next interval (upstream retries sooner, 200 ms doubling). */
  async run(signal: AbortSignal): Promise<void> {
    const every = this.#o.renewIntervalMs ?? 10_000;
    let retryMs = 200;
    while (!signal.aborted) {
      try {
        await this.renew();
        retryMs = 200;
        await sleep(every, signal);
      } catch (err) {
        if (signal.aborted) return;
        this.#o.logger.warn({ err: (err as Error).message }, 'renewing the node lease failed');
        await sleep(Math.min(retryMs, every), signal);
        retryMs *= 2;
      }
    }
  }
}

// A typed CSI client over a unix socket, for sidecars, the kubelet's CSI
// plugin and tests. One channel carries the three services. Every call has a
// deadline (a per-call timeout or the client default) and may be cancelled
// with an AbortSignal; a non-OK status comes back as CsiError with the same
// code, so callers branch on `codeName`, never on text.
import * as grpc from '@grpc/grpc-js';
import { unaryCall } from './grpc-unix.ts';
import { csiServices, socketPath, unixTarget } from './proto.ts';
import type { CallContext, ControllerService, CsiServiceName, IdentityService, NodeService } from './types.ts';

export interface CsiCallOptions {
  /** Overrides the client's default timeout for this call. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** The client side of a service: every method, each taking call options instead of a server context. */
export type CsiServiceClient<S> = {
  [K in keyof S]-?: NonNullable<S[K]> extends (request: infer Req, ctx: CallContext) => Promise<infer Res>
    ? (request: Req, options?: CsiCallOptions) => Promise<Res>
    : never;
};

export interface CsiClient {
  readonly identity: CsiServiceClient<IdentityService>;
  readonly controller: CsiServiceClient<ControllerService>;
  readonly node: CsiServiceClient<NodeService>;
  /** Closes the channel; calls made afterwards fail. Idempotent. */
  close(): void;
}

export interface CsiClientOptions {
  /** Deadline of each call unless the call sets its own (default 30 s). */
  defaultTimeoutMs?: number;
}

/** A client for the driver at `endpoint` (`unix:///path`). Connects lazily. */
export function createCsiClient(endpoint: string, options: CsiClientOptions = {}): CsiClient {
  const target = unixTarget(socketPath(endpoint));
  const defaultTimeoutMs = options.defaultTimeoutMs ?? 30_000;
  const services = csiServices();
  const credentials = grpc.credentials.createInsecure();
  const identity = new services.Identity(target, credentials);
  const shared = { channelOverride: identity.getChannel() };
  const raw: Record<CsiServiceName, grpc.Client> = {
    Identity: identity,
    Controller: new services.Controller(target, credentials, shared),
    Node: new services.Node(target, credentials, shared),
  };

  const wrap = <S>(name: CsiServiceName): CsiServiceClient<S> => {
    const client = raw[name];
    const out: Record<string, unknown> = {};
    for (const [methodName, method] of Object.entries(services[name].service)) {
      out[methodName] = (request: object, callOptions: CsiCallOptions = {}): Promise<unknown> =>
        unaryCall(client, method, request, callOptions.timeoutMs ?? defaultTimeoutMs, callOptions.signal);
    }
    return out as CsiServiceClient<S>;
  };

  let closed = false;
  return {
    identity: wrap<IdentityService>('Identity'),
    controller: wrap<ControllerService>('Controller'),
    node: wrap<NodeService>('Node'),
    close() {
      if (closed) return;
      closed = true;
      identity.close();
    },
  };
}

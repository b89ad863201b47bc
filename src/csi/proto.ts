// Loads csi.v1 from our .proto once per process. The loader options decide
// the JS shape of every message (see types.ts): snake_case names, enums as
// names, int64 as number, defaults filled in, and a virtual field naming the
// member set in each oneof.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { CsiServiceName } from './types.ts';

const PROTO_PATH = fileURLToPath(new URL('./proto/csi.proto', import.meta.url));

export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

let cached: Record<CsiServiceName, grpc.ServiceClientConstructor> | undefined;

/** The client constructors (which also carry the service definitions) of Identity, Controller and Node. */
export function csiServices(): Record<CsiServiceName, grpc.ServiceClientConstructor> {
  if (cached === undefined) {
    const definition = protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS);
    const root = grpc.loadPackageDefinition(definition) as unknown as {
      csi: { v1: Record<CsiServiceName, grpc.ServiceClientConstructor> };
    };
    cached = { Identity: root.csi.v1.Identity, Controller: root.csi.v1.Controller, Node: root.csi.v1.Node };
  }
  return cached;
}

/** `unix:///run/x.sock` or a bare path → the socket path; throws on other schemes. */
export function socketPath(endpoint: string): string {
  if (endpoint.startsWith('unix://')) return endpoint.slice('unix://'.length);
  if (endpoint.startsWith('unix:')) return endpoint.slice('unix:'.length);
  if (endpoint.startsWith('/')) return endpoint;
  throw new Error(`unsupported CSI endpoint ${JSON.stringify(endpoint)}: only unix:///path sockets are supported`);
}

/** The gRPC target for a socket path. */
export function unixTarget(path: string): string {
  return `unix://${path}`;
}

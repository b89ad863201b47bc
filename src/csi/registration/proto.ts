// Loads the plugin-registration service once per process, with the same
// loader options as csi.v1 so messages have the same JS shape.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS } from '../proto.ts';

const PROTO_PATH = fileURLToPath(new URL('./proto/pluginregistration.proto', import.meta.url));

let cached: grpc.ServiceClientConstructor | undefined;

/** The Registration client constructor; its `.service` is the service definition. */
export function registrationService(): grpc.ServiceClientConstructor {
  if (cached === undefined) {
    const definition = protoLoader.loadSync(PROTO_PATH, LOADER_OPTIONS);
    const root = grpc.loadPackageDefinition(definition) as unknown as {
      pluginregistration: { Registration: grpc.ServiceClientConstructor };
    };
    cached = root.pluginregistration.Registration;
  }
  return cached;
}

// The kubelet side of plugin registration: a client for one registration
// socket. Every call has a deadline and may be cancelled; a failed call comes
// back as CsiError with the gRPC code (UNAVAILABLE for a socket nobody serves,
// INTERNAL or UNAVAILABLE for one that answers something other than gRPC).
import * as grpc from '@grpc/grpc-js';
import { unaryCall } from '../grpc-unix.ts';
import { unixTarget } from '../proto.ts';
import { registrationService } from './proto.ts';
import type { PluginInfo, RegistrationStatus } from './types.ts';

export interface RegistrationCallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface RegistrationClient {
  getInfo(options?: RegistrationCallOptions): Promise<PluginInfo>;
  notifyRegistrationStatus(status: RegistrationStatus, options?: RegistrationCallOptions): Promise<void>;
  /** Closes the channel. Idempotent. */
  close(): void;
}

/** Upstream's deadlines: 1 s for GetInfo, 5 s for the status notification. */
export const GET_INFO_TIMEOUT_MS = 1_000;
export const NOTIFY_TIMEOUT_MS = 5_000;

export function createRegistrationClient(socketPath: string): RegistrationClient {
  const Registration = registrationService();
  const client = new Registration(unixTarget(socketPath), grpc.credentials.createInsecure());
  const methods = Registration.service;
  let closed = false;
  return {
    async getInfo(options = {}) {
      const info = (await unaryCall(client, methods.GetInfo, {}, options.timeoutMs ?? GET_INFO_TIMEOUT_MS, options.signal)) as Partial<PluginInfo>;
      return {
        type: String(info.type ?? ''),
        name: String(info.name ?? ''),
        endpoint: String(info.endpoint ?? ''),
        supported_versions: Array.isArray(info.supported_versions) ? info.supported_versions.map(String) : [],
      };
    },
    async notifyRegistrationStatus(status, options = {}) {
      await unaryCall(client, methods.NotifyRegistrationStatus, status, options.timeoutMs ?? NOTIFY_TIMEOUT_MS, options.signal);
    },
    close() {
      if (closed) return;
      closed = true;
      client.close();
    },
  };
}

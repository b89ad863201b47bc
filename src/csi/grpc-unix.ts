// gRPC over a unix socket, the part the CSI driver scaffold and the plugin
// registration server and clients have in common. The socket file is a shared
// resource on the node: a stale one left by a dead process must be cleared
// before binding, but a live one must be refused, or two servers would take
// turns answering each other's callers. And a client call must always carry a
// deadline and honour cancellation, with failures as CsiError by gRPC code.
import { lstat, mkdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { unixTarget } from './proto.ts';
import { CsiError, type GrpcCodeNumber } from './types.ts';

/**
 * Makes `path` ready to bind: creates its directory and removes a socket file
 * nobody answers on. Throws `inUse(path)` when a live process serves it and a
 * plain Error (naming it `what`) when something other than a socket is there.
 */
export async function prepareSocketPath(path: string, what: string, inUse: (path: string) => Error): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  let stat;
  try {
    stat = await lstat(path);
  } catch {
    return;
  }
  if (!stat.isSocket()) throw new Error(`${what} ${path} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const sock = connect(path);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
  if (live) throw inUse(path);
  await unlink(path);
}

/** Binds `server` to the socket at `path`; resolves once it accepts calls. */
export function bindUnixSocket(server: grpc.Server, path: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.bindAsync(unixTarget(path), grpc.ServerCredentials.createInsecure(), (err) => (err === null ? resolve() : reject(err)));
  });
}

/** Lets running calls finish for up to `graceMs`, then cuts them off. Never rejects. */
export function shutdownServer(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Removes a socket file; a missing one is fine. */
export async function removeSocketFile(path: string): Promise<void> {
  await unlink(path).catch(() => {});
}

/**
 * One unary call with a deadline of `timeoutMs` from now; `signal` cancels it
 * (CANCELLED, also when already aborted). A non-OK status rejects as CsiError
 * with the same code.
 */
export function unaryCall(
  client: grpc.Client,
  method: grpc.MethodDefinition<object, unknown>,
  request: object,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new CsiError('CANCELLED', `${method.path} cancelled before it was sent`));
      return;
    }
    const call = client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err, response) => {
        signal?.removeEventListener('abort', onAbort);
        if (err !== null) reject(new CsiError(err.code as number as GrpcCodeNumber, err.details || err.message, { cause: err }));
        else resolve(response);
      },
    );
    const onAbort = (): void => call.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// Objects the benchmarks create, and the namespace they live in. Small but
// realistic: roughly the size of what kubectl and the controllers write.

import { ApiError, type RestClient } from '../src/client/index.ts';
import type { KubeObject } from '../src/apimachinery/index.ts';

/** Creates namespace `name`; one that already exists is fine. */
export async function ensureNamespace(client: RestClient, name: string): Promise<void> {
  try {
    await client.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  } catch (err) {
    if (!(err instanceof ApiError && err.code === 409)) throw err;
  }
}

export function configMap(name: string, data: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, labels: { app: 'volplane-bench' } },
    data,
  };
}

export function persistentVolume(name: string, storageClassName = 'bench'): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name, labels: { app: 'volplane-bench' } },
    spec: {
      capacity: { storage: '1Gi' },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Retain',
      storageClassName,
      hostPath: { path: `/tmp/volplane-bench/${name}` },
    },
  };
}

/** A ReadWriteOnce claim of class `storageClassName` for `storage` (default 1Gi), pre-bound to `volumeName` if given. */
export function persistentVolumeClaim(name: string, storageClassName: string, options: { storage?: string; volumeName?: string } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, labels: { app: 'volplane-bench' } },
    spec: {
      accessModes: ['ReadWriteOnce'],
      storageClassName,
      resources: { requests: { storage: options.storage ?? '1Gi' } },
      ...(options.volumeName === undefined ? {} : { volumeName: options.volumeName }),
    },
  };
}

/** A busybox pod that sleeps, with claim `claimName` at /data if given; deleted with grace 0. */
export function sleeperPod(name: string, claimName?: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'volplane-bench' } },
    spec: {
      terminationGracePeriodSeconds: 0,
      containers: [
        {
          name: 'main',
          image: 'busybox',
          command: ['sh', '-c', 'sleep 86400'],
          ...(claimName === undefined ? {} : { volumeMounts: [{ name: 'data', mountPath: '/data' }] }),
        },
      ],
      ...(claimName === undefined ? {} : { volumes: [{ name: 'data', persistentVolumeClaim: { claimName } }] }),
    },
  };
}

/** A short description of a failure for a report line. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) return `HTTP ${err.code}: ${err.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** A request a benchmark depends on failed: what it did, to which object, and what the server said. */
export class BenchRequestError extends Error {
  override readonly name = 'BenchRequestError';
  readonly action: 'creating' | 'deleting';
  readonly object: string;
  constructor(action: 'creating' | 'deleting', object: string, cause: unknown) {
    super(`${action} ${object}: ${describeError(cause)}`, { cause });
    this.action = action;
    this.object = object;
  }
}

/** Creates `body` at `path`; a failure becomes a BenchRequestError naming the object. */
export async function createOrFail(client: RestClient, path: string, body: KubeObject): Promise<void> {
  try {
    await client.create(path, body);
  } catch (err) {
    throw new BenchRequestError('creating', `${body.kind} ${body.metadata.name}`, err);
  }
}

/** Deletes `path` (with an optional body); a failure becomes a BenchRequestError naming `what`. */
export async function deleteOrFail(client: RestClient, path: string, what: string, body?: unknown): Promise<void> {
  try {
    await client.delete(path, body);
  } catch (err) {
    throw new BenchRequestError('deleting', what, err);
  }
}

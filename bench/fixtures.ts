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

/** A claim for 1Gi ReadWriteOnce of class `storageClassName`. */
export function persistentVolumeClaim(name: string, storageClassName: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, labels: { app: 'volplane-bench' } },
    spec: {
      accessModes: ['ReadWriteOnce'],
      storageClassName,
      resources: { requests: { storage: '1Gi' } },
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

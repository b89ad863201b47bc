// Shared by this folder's tests (not part of the public API): temporary
// kubelet roots named `volplane-…` so the runner's leak check sees anything
// left mounted, a VolumeHost over the real mount utility, an in-memory
// ObjectSource, and an `ls -l`-like listing.

import { lstat, mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject } from '../apimachinery/index.ts';
import { findLeaks } from '../testing/leak-check.ts';
import { HostMountUtil } from './mount/index.ts';
import type { ObjectSource, VolumeHost } from './plugin.ts';
import type { Pod } from './types.ts';

export async function makeTempDir(what: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `volplane-${what}-`));
}

/**
 * Removes a test directory after unmounting anything still mounted below it
 * (deepest first), so a failed test cannot leak a mount.
 */
export async function removeTempDir(dir: string): Promise<void> {
  const util = new HostMountUtil({ timeoutMs: 10_000 });
  const mounts = (await util.listMounts())
    .map((m) => m.mountPoint)
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const p of mounts) await util.unmount(p, { lazyFallback: true });
  await rm(dir, { recursive: true, force: true });
}

/** Mounts of ours under `dir` (for assertions that teardown left nothing). */
export async function mountsUnder(dir: string): Promise<string[]> {
  return (await findLeaks()).filter((l) => l.includes(dir));
}

export function mapObjectSource(objects: { configMaps?: KubeObject[]; secrets?: KubeObject[] }): ObjectSource & {
  configMaps: Map<string, KubeObject>;
  secrets: Map<string, KubeObject>;
} {
  const key = (o: KubeObject): string => `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
  const configMaps = new Map((objects.configMaps ?? []).map((o) => [key(o), o]));
  const secrets = new Map((objects.secrets ?? []).map((o) => [key(o), o]));
  return {
    configMaps,
    secrets,
    getConfigMap: async (ns, name) => configMaps.get(`${ns}/${name}`),
    getSecret: async (ns, name) => secrets.get(`${ns}/${name}`),
  };
}

export function testHost(rootDir: string, objects?: ObjectSource): VolumeHost {
  return {
    rootDir,
    mountUtil: new HostMountUtil({ timeoutMs: 20_000 }),
    objects,
    nodeName: 'node-1',
    nodeAllocatable: () => ({ cpu: '4', memory: '8Gi', 'ephemeral-storage': '100Gi' }),
  };
}

export function testPod(overrides: Partial<Pod> = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'pod-1', namespace: 'default', uid: '0b2f7c1e-5d0a-4c55-9a2e-1f1b5e2f9a01' },
    spec: { nodeName: 'node-1', containers: [{ name: 'c1' }] },
    ...overrides,
  };
}

export interface LsEntry {
  name: string;
  type: 'l' | 'd' | '-';
  /** The link text for symlinks. */
  target?: string;
}

/** What `ls -la` shows of a directory (without . and ..), sorted by name. */
export async function lsL(dir: string): Promise<LsEntry[]> {
  const names = (await readdir(dir)).sort();
  const out: LsEntry[] = [];
  for (const name of names) {
    const st = await lstat(join(dir, name));
    if (st.isSymbolicLink()) out.push({ name, type: 'l', target: await readlink(join(dir, name)) });
    else out.push({ name, type: st.isDirectory() ? 'd' : '-' });
  }
  return out;
}

// Which nodes the Controller service may attach volumes to. The controller
// instance serves its own node; every node-only instance on the same machine
// records itself as `<controllerDataDir>/nodes/<node id>.json` when it starts
// (written to a temp file and renamed, so the controller never reads half of
// one). ControllerPublishVolume, GetCapacity and CreateVolume's topology read
// these files on each call — a handful of small files, and no cache to go
// stale when a node agent joins.
//
// A record stays when its node-only instance stops: the node still exists
// (its kubelet will start the driver again), and detaching volumes because a
// driver restarts would be wrong. Removing the file forgets the node; after
// that ControllerPublishVolume answers NOT_FOUND for it, as for any node the
// driver does not know.
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface NodeRegistration {
  nodeId: string;
  /** The node-only instance's own data dir (its node-state.json). */
  dataDir: string;
  /** Its NodeGetInfo max_volumes_per_node; 0 means no limit. */
  maxVolumesPerNode: number;
  registeredAtMs: number;
}

function fileOf(controllerDataDir: string, nodeId: string): string {
  // Node ids are Kubernetes node names in practice; encode anything else.
  return join(controllerDataDir, 'nodes', `${encodeURIComponent(nodeId)}.json`);
}

/** Records (or refreshes) a node-only instance; idempotent. */
export async function registerNode(controllerDataDir: string, reg: NodeRegistration): Promise<void> {
  const file = fileOf(controllerDataDir, reg.nodeId);
  await mkdir(join(controllerDataDir, 'nodes'), { recursive: true });
  const tmp = `${file}.${randomUUID()}.tmp`;
  await writeFile(tmp, JSON.stringify(reg), { mode: 0o644, flush: true });
  await rename(tmp, file);
}

/** The registration of `nodeId`, or undefined when no node-only instance recorded it (or its file is unreadable). */
export async function registeredNode(controllerDataDir: string, nodeId: string): Promise<NodeRegistration | undefined> {
  if (nodeId === '') return undefined;
  try {
    const reg = JSON.parse(await readFile(fileOf(controllerDataDir, nodeId), 'utf8')) as NodeRegistration;
    return reg.nodeId === nodeId ? reg : undefined;
  } catch {
    return undefined;
  }
}

/** Every registered node id (sorted). */
export async function registeredNodeIds(controllerDataDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(join(controllerDataDir, 'nodes'));
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .map((n) => decodeURIComponent(n.slice(0, -'.json'.length)))
    .sort();
}

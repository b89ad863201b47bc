// The volplane CSI driver's volume lifecycle, as the kubelet and the external
// provisioner drive it: CreateVolume → NodeStageVolume → NodePublishVolume →
// NodeUnpublishVolume → NodeUnstageVolume → DeleteVolume, one volume after
// another, every call a real gRPC call over the driver's unix socket (the
// server scaffold, its validation and per-volume locks included) and every
// step doing its real work: state.json written through (fsync) on each
// controller change and node-state.json (rename, no fsync) on each node
// change, bind mounts and unmounts (mount/umount forked by the driver's
// long-lived shell), and for loop volumes a sparse image, a loop device,
// mkfs.ext4 on first stage and the device's release on unstage.
//
// Two kinds are measured: directory volumes (mount access, no filesystem of
// their own — the common case, and the one with a target) and ext4 loop
// volumes of 16 MiB, the smallest the driver makes. Each step is timed from
// just before the client call to its answer; the lifecycle from the start of
// CreateVolume to the answer of DeleteVolume. One warm-up lifecycle per kind
// is not counted. The driver runs in this process (it is I/O-bound: its time
// is spent in the kernel and in the mount/losetup/mkfs it spawns).
//
// Needs root (mounts, loop devices). Everything it mounts or attaches lives
// under one temp dir named volplane-bench-csi-… and is gone when it returns;
// a leftover is an error.
//
// Run alone: node bench/csi-driver.ts [directory-count] [loop-count]

import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../src/base/index.ts';
import { undoLeaksUnder } from '../src/testing/index.ts';
import { createCsiClient, serveCsiDriver, type CsiClient, type VolumeCapability } from '../src/csi/index.ts';
import { createVolplaneDriver } from '../src/drivers/volplane/index.ts';
import { nowMs, summarize, type Summary } from './stats.ts';

export const CSI_STEPS = ['CreateVolume', 'NodeStageVolume', 'NodePublishVolume', 'NodeUnpublishVolume', 'NodeUnstageVolume', 'DeleteVolume'] as const;
export type CsiStep = (typeof CSI_STEPS)[number];
export type CsiVolumeKind = 'directory' | 'loop';

export interface CsiDriverOptions {
  /** Measured lifecycles of directory volumes (default 100). */
  directoryCount?: number;
  /** Measured lifecycles of ext4 loop volumes (default 20; each formats a filesystem). */
  loopCount?: number;
}

export interface CsiKindResult {
  kind: CsiVolumeKind;
  count: number;
  /** Per step, ms. */
  steps: Record<CsiStep, Summary>;
  /** CreateVolume sent → DeleteVolume answered, ms. */
  lifecycle: Summary;
}

export interface CsiDriverResult {
  directory: CsiKindResult;
  loop: CsiKindResult;
}

/** Thrown when the benchmark left a mount or loop device behind, or cannot run here. */
export class CsiBenchError extends Error {
  override readonly name = 'CsiBenchError';
  readonly leaks: string[];
  constructor(message: string, leaks: string[] = []) {
    super(leaks.length === 0 ? message : `${message}: ${leaks.join(', ')}`);
    this.leaks = leaks;
  }
}

const MiB = 1024 * 1024;
const CAPABILITY: Record<CsiVolumeKind, VolumeCapability> = {
  directory: { mount: {}, access_mode: { mode: 'SINGLE_NODE_WRITER' } },
  loop: { mount: { fs_type: 'ext4' }, access_mode: { mode: 'SINGLE_NODE_WRITER' } },
};

/** One lifecycle; returns each step's time and the whole. Undoes what it did when a step fails. */
async function lifecycle(client: CsiClient, dir: string, kind: CsiVolumeKind, n: number): Promise<{ steps: Record<CsiStep, number>; total: number }> {
  const cap = CAPABILITY[kind];
  const staging = join(dir, 'plugins', `vol-${kind}-${n}`, 'globalmount');
  const target = join(dir, 'pods', `pod-${kind}-${n}`, 'volumes', 'mount');
  // The kubelet makes the staging dir and the target's parent before it calls; not timed.
  await mkdir(staging, { recursive: true });
  await mkdir(join(target, '..'), { recursive: true });
  const steps = {} as Record<CsiStep, number>;
  const timed = async <T>(step: CsiStep, call: () => Promise<T>): Promise<T> => {
    const t0 = nowMs();
    const out = await call();
    steps[step] = nowMs() - t0;
    return out;
  };
  const t0 = nowMs();
  const id = (
    await timed('CreateVolume', () =>
      client.controller.CreateVolume({
        name: `bench-${kind}-${n}`,
        capacity_range: { required_bytes: 16 * MiB },
        volume_capabilities: [cap],
      }),
    )
  ).volume.volume_id;
  let stage = 'created';
  try {
    await timed('NodeStageVolume', () => client.node.NodeStageVolume({ volume_id: id, staging_target_path: staging, volume_capability: cap }));
    stage = 'staged';
    await timed('NodePublishVolume', () =>
      client.node.NodePublishVolume({ volume_id: id, staging_target_path: staging, target_path: target, volume_capability: cap }),
    );
    stage = 'published';
    await timed('NodeUnpublishVolume', () => client.node.NodeUnpublishVolume({ volume_id: id, target_path: target }));
    stage = 'staged';
    await timed('NodeUnstageVolume', () => client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging }));
    stage = 'created';
    await timed('DeleteVolume', () => client.controller.DeleteVolume({ volume_id: id }));
    stage = 'gone';
  } finally {
    if (stage !== 'gone') {
      // Best effort, so one failed step leaves nothing mounted for the leak check to trip over.
      if (stage === 'published') await client.node.NodeUnpublishVolume({ volume_id: id, target_path: target }).catch(() => {});
      if (stage !== 'created') await client.node.NodeUnstageVolume({ volume_id: id, staging_target_path: staging }).catch(() => {});
      await client.controller.DeleteVolume({ volume_id: id }).catch(() => {});
    }
  }
  return { steps, total: nowMs() - t0 };
}

async function runKind(client: CsiClient, dir: string, kind: CsiVolumeKind, count: number): Promise<CsiKindResult> {
  await lifecycle(client, dir, kind, -1); // warm-up
  const perStep = Object.fromEntries(CSI_STEPS.map((s) => [s, [] as number[]])) as Record<CsiStep, number[]>;
  const totals: number[] = [];
  for (let n = 0; n < count; n++) {
    const { steps, total } = await lifecycle(client, dir, kind, n);
    for (const s of CSI_STEPS) perStep[s].push(steps[s]);
    totals.push(total);
  }
  return {
    kind,
    count,
    steps: Object.fromEntries(CSI_STEPS.map((s) => [s, summarize(perStep[s])])) as Record<CsiStep, Summary>,
    lifecycle: summarize(totals),
  };
}

export async function benchCsiDriver(options: CsiDriverOptions = {}): Promise<CsiDriverResult> {
  if (process.getuid?.() !== 0) throw new CsiBenchError('the CSI driver benchmark mounts and attaches loop devices: run it as root');
  const dir = await mkdtemp(join(tmpdir(), 'volplane-bench-csi-'));
  const endpoint = `unix://${join(dir, 'csi.sock')}`;
  const logger = silentLogger();
  let result: CsiDriverResult | undefined;
  let failure: unknown;
  try {
    const driver = await createVolplaneDriver({ nodeId: 'bench-node', dataDir: join(dir, 'data'), attachRequired: false, logger });
    const server = await serveCsiDriver({ endpoint, identity: driver.identity, controller: driver.controller, node: driver.node, logger });
    const client = createCsiClient(endpoint, { defaultTimeoutMs: 60_000 });
    try {
      const directory = await runKind(client, dir, 'directory', options.directoryCount ?? 100);
      const loop = await runKind(client, dir, 'loop', options.loopCount ?? 20);
      result = { directory, loop };
    } finally {
      client.close();
      await server.close();
      await driver.dispose();
    }
  } catch (err) {
    failure = err;
  }
  const leaks = await undoLeaksUnder(dir);
  await rm(dir, { recursive: true, force: true });
  if (failure !== undefined) throw failure;
  if (leaks.length > 0) throw new CsiBenchError('the CSI driver benchmark left mounts or loop devices behind', leaks);
  return result!;
}

/** "CreateVolume p50 1.2 ms, p99 3.4 ms" lines for one kind. */
export function describeCsiKind(r: CsiKindResult): string[] {
  const f = (s: Summary): string => `p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms`;
  return [
    `${r.kind} volumes, ${r.count} lifecycles: whole lifecycle ${f(r.lifecycle)}`,
    ...CSI_STEPS.map((s) => `  ${s.padEnd(20)} ${f(r.steps[s])}`),
  ];
}

if (import.meta.main) {
  const [dirArg, loopArg] = process.argv.slice(2).map(Number);
  const r = await benchCsiDriver({ directoryCount: dirArg || undefined, loopCount: loopArg || undefined });
  console.log([...describeCsiKind(r.directory), ...describeCsiKind(r.loop)].join('\n'));
}

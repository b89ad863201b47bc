// FlexVolume mount and unmount latency with the example loop driver
// (examples/flexvolume/volplane~loop), through the FlexVolume plugin exactly
// as the node's volume manager and the attach/detach controller call it —
// not the full pod path: no API server, no scheduler, no container, and the
// volume manager's own bookkeeping (in memory) is left out, so the figures are
// the driver-bound part of a pod's volume start-up and teardown:
//
//   attach    (AD controller)  attach <json> <node>: sparse 16 MiB image, losetup
//   mount     (volume manager) waitforattach → getDeviceMountPath → mountdevice
//                              (mount of the loop device at the global path) →
//                              setUp (driver `mount` answers "Not supported",
//                              so the plugin bind-mounts the global path into
//                              the pod directory, as Kubernetes does)
//   unmount   (volume manager) tearDown (umount of the pod directory) →
//                              unmountdevice (umount of the global path)
//   detach    (AD controller)  detach <volume> <node>: losetup -d
//
// Each volume is attached, mounted a first time (mountdevice formats it with
// mkfs.ext4 — reported apart as "first mount"), unmounted, mounted again (the
// filesystem is found and kept: the usual case, a pod restarting on its
// volume — the "mount" figure), unmounted again, and detached. Every driver
// call is a real process of the shell driver (sh, jq, losetup, blkid, mount),
// which is where the time goes. One warm-up volume is not counted.
//
// Needs root (loop devices, mounts). Everything lives under one temp dir named
// volplane-bench-flex-…; a mount or loop device left there is an error.
//
// Run alone: node bench/flexvolume.ts [count]   (default 20 volumes, or
// BENCH_FLEX_COUNT, which the suite's run honours too)

import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PersistentVolume } from '../src/api/core/volume-types.ts';
import { silentLogger } from '../src/base/index.ts';
import { undoLeaksUnder } from '../src/testing/index.ts';
import { FlexVolumePlugin, HostMountUtil, type Pod, type VolumeSpec } from '../src/volume/index.ts';
import { nowMs, summarize, type Summary } from './stats.ts';

const REPO = dirname(dirname(fileURLToPath(import.meta.url)));
const LOOP_DRIVER = join(REPO, 'examples', 'flexvolume', 'volplane~loop', 'loop');
const NODE = 'bench-node';
const WAIT_FOR_ATTACH_MS = 60_000;

export interface FlexVolumeOptions {
  /** Measured volumes (default BENCH_FLEX_COUNT or 20; each formats an ext4 filesystem once). */
  count?: number;
}

export interface FlexVolumeResult {
  count: number;
  /** waitforattach → mountdevice → setUp on an already formatted volume, ms. */
  mount: Summary;
  /** The same on a blank volume (mountdevice runs mkfs.ext4), ms. */
  firstMount: Summary;
  /** tearDown → unmountdevice, ms (both unmounts of every volume). */
  unmount: Summary;
  attach: Summary;
  detach: Summary;
}

/** The benchmark cannot run here, or left a mount or loop device behind. */
export class FlexBenchError extends Error {
  override readonly name = 'FlexBenchError';
  readonly leaks: string[];
  constructor(message: string, leaks: string[] = []) {
    super(leaks.length === 0 ? message : `${message}: ${leaks.join(', ')}`);
    this.leaks = leaks;
  }
}

interface Samples {
  mount: number[];
  firstMount: number[];
  unmount: number[];
  attach: number[];
  detach: number[];
}

const timed = async (into: number[], fn: () => Promise<void>): Promise<void> => {
  const t0 = nowMs();
  await fn();
  into.push(nowMs() - t0);
};

/** One volume's whole life; undoes what it did when a step fails. */
async function lifecycle(plugin: FlexVolumePlugin, dataDir: string, n: number, s: Samples): Promise<void> {
  const attacher = plugin.attacher;
  if (attacher === undefined) throw new FlexBenchError('volplane/loop did not report the attach capability');
  const pvName = `bench-flex-${n < 0 ? 'warmup' : n}`;
  const spec: VolumeSpec = {
    persistentVolume: {
      metadata: { name: pvName },
      spec: { flexVolume: { driver: 'volplane/loop', fsType: 'ext4', options: { dir: dataDir, size: '16Mi' } } },
    } as PersistentVolume,
    readOnly: false,
  };
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `pod-${pvName}`, namespace: 'default', uid: `00000000-0000-4000-8000-${String(n + 1).padStart(12, '0')}` },
    spec: { nodeName: NODE, containers: [{ name: 'c' }] },
  };
  const signal = new AbortController().signal;
  let device = '';
  let deviceMountPath = '';
  let mounted = false;
  const mount = async (): Promise<void> => {
    const dev = await attacher.waitForAttach(spec, device, WAIT_FOR_ATTACH_MS, signal);
    deviceMountPath = await attacher.getDeviceMountPath(spec, signal);
    mounted = true;
    await attacher.mountDevice(spec, dev, deviceMountPath, signal);
    await plugin.newMounter(spec, pod).setUp({ signal });
  };
  const unmount = async (): Promise<void> => {
    await plugin.newUnmounter(pvName, pod.metadata.uid!).tearDown(signal);
    await attacher.unmountDevice(deviceMountPath, signal);
    mounted = false;
  };
  const scratch: Samples = { mount: [], firstMount: [], unmount: [], attach: [], detach: [] };
  const into = n < 0 ? scratch : s;
  try {
    await timed(into.attach, async () => {
      device = await attacher.attach(spec, NODE, signal);
    });
    await timed(into.firstMount, mount);
    await timed(into.unmount, unmount);
    await timed(into.mount, mount);
    await timed(into.unmount, unmount);
  } finally {
    // Best effort on failure, so the leak check below reports the failure rather than a mount.
    if (mounted) await unmount().catch(() => {});
    await timed(into.detach, () => attacher.detach(pvName, NODE, signal));
  }
}

export async function benchFlexVolume(options: FlexVolumeOptions = {}): Promise<FlexVolumeResult> {
  if (process.getuid?.() !== 0) throw new FlexBenchError('the FlexVolume benchmark mounts and attaches loop devices: run it as root');
  const count = options.count ?? (Number(process.env.BENCH_FLEX_COUNT) || 20);
  const dir = await mkdtemp(join(tmpdir(), 'volplane-bench-flex-'));
  const pluginDir = join(dir, 'exec');
  const dataDir = join(dir, 'volumes');
  // The loop driver records attachments in $VOLPLANE_LOOP_STATE_DIR (inherited by each call); kept inside the temp dir.
  const savedStateDir = process.env.VOLPLANE_LOOP_STATE_DIR;
  process.env.VOLPLANE_LOOP_STATE_DIR = join(dir, 'loop-state');
  const s: Samples = { mount: [], firstMount: [], unmount: [], attach: [], detach: [] };
  let failure: unknown;
  try {
    await mkdir(join(pluginDir, 'volplane~loop'), { recursive: true });
    await mkdir(dataDir, { recursive: true });
    await copyFile(LOOP_DRIVER, join(pluginDir, 'volplane~loop', 'loop'));
    const host = { rootDir: join(dir, 'kubelet'), mountUtil: new HostMountUtil({ timeoutMs: 30_000 }), nodeName: NODE };
    const plugin = new FlexVolumePlugin({ host, pluginDir, dirName: 'volplane~loop', logger: silentLogger() });
    await plugin.init();
    await lifecycle(plugin, dataDir, -1, s);
    for (let n = 0; n < count; n++) await lifecycle(plugin, dataDir, n, s);
  } catch (err) {
    failure = err;
  } finally {
    if (savedStateDir === undefined) delete process.env.VOLPLANE_LOOP_STATE_DIR;
    else process.env.VOLPLANE_LOOP_STATE_DIR = savedStateDir;
  }
  const leaks = await undoLeaksUnder(dir);
  await rm(dir, { recursive: true, force: true });
  if (failure !== undefined) throw failure;
  if (leaks.length > 0) throw new FlexBenchError('the FlexVolume benchmark left mounts or loop devices behind', leaks);
  return {
    count,
    mount: summarize(s.mount),
    firstMount: summarize(s.firstMount),
    unmount: summarize(s.unmount),
    attach: summarize(s.attach),
    detach: summarize(s.detach),
  };
}

/** "mount p50 1.2 ms, p99 3.4 ms" lines. */
export function describeFlexVolume(r: FlexVolumeResult): string[] {
  const f = (x: Summary): string => `p50 ${x.p50.toFixed(1)} ms, p99 ${x.p99.toFixed(1)} ms`;
  return [
    `volplane/loop, ${r.count} ext4 volumes of 16 MiB:`,
    `  mount (waitforattach → mountdevice → setUp)   ${f(r.mount)}`,
    `  first mount (mountdevice formats)             ${f(r.firstMount)}`,
    `  unmount (tearDown → unmountdevice)            ${f(r.unmount)}`,
    `  attach                                        ${f(r.attach)}`,
    `  detach                                        ${f(r.detach)}`,
  ];
}

if (import.meta.main) {
  const [countArg] = process.argv.slice(2).map(Number);
  const r = await benchFlexVolume({ count: countArg || undefined });
  console.log(describeFlexVolume(r).join('\n'));
}

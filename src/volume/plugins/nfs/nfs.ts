// nfs: an NFS export mounted into the pod's volume directory with
// `mount -t nfs server:path` (seed 001 §1.3), from a pod volume or an nfs PV
// (whose mountOptions are passed on). The mount has a deadline: a dead server
// makes mount.nfs retry for minutes, and a kernel without NFS fails at once —
// either way setUp ends with a VolumeSetupError carrying the command and its
// output, never a hang. A failed setUp leaves no directory behind.

import { mkdir } from 'node:fs/promises';
import type { Mounter, NewMounterOptions, SetUpArgs, Unmounter, VolumeHost, VolumePlugin, VolumeSpec } from '../../plugin.ts';
import { podUidOf, podVolumeDir, VolumeSetupError, volumeSpecName, wrapSetup } from '../../plugin.ts';
import type { NFSVolumeSource, Pod } from '../../types.ts';
import { PodDirUnmounter } from '../../util/pod-dir.ts';

export const NFS_PLUGIN_NAME = 'kubernetes.io/nfs';

function sourceOf(spec: VolumeSpec): NFSVolumeSource | undefined {
  return spec.volume?.nfs ?? spec.persistentVolume?.spec.nfs;
}

/** `server:path`, with an IPv6 server in brackets as mount.nfs expects. */
export function nfsMountSource(server: string, path: string): string {
  const host = server.includes(':') && !server.startsWith('[') ? `[${server}]` : server;
  return `${host}:${path}`;
}

export class NFSPlugin implements VolumePlugin {
  readonly name = NFS_PLUGIN_NAME;
  readonly requiresRemount = false;
  readonly #host: VolumeHost;

  constructor(host: VolumeHost) {
    this.#host = host;
  }

  canSupport(spec: VolumeSpec): boolean {
    return sourceOf(spec) !== undefined;
  }

  newMounter(spec: VolumeSpec, pod: Pod, opts: NewMounterOptions = {}): Mounter {
    const source = sourceOf(spec);
    const volName = volumeSpecName(spec);
    if (source === undefined) throw new VolumeSetupError(this.name, volName, 'spec does not reference a NFS volume type');
    const options = [...(spec.persistentVolume?.spec.mountOptions ?? [])];
    if (spec.readOnly || source.readOnly === true) options.push('ro');
    const dir = podVolumeDir(this.#host.rootDir, podUidOf(pod), this.name, volName);
    const mountUtil = this.#host.mountUtil;
    const plugin = this.name;
    return {
      getPath: () => dir,
      setUp: (args: SetUpArgs) => wrapSetup(plugin, volName, async () => {
        if (await mountUtil.isMountPoint(dir)) return;
        await mkdir(dir, { recursive: true, mode: 0o750 });
        try {
          await mountUtil.mount(nfsMountSource(source.server, source.path), dir, 'nfs', options, {
            signal: args.signal,
            timeoutMs: opts.mountTimeoutMs,
          });
        } catch (err) {
          // Whatever half-happened (a mount that appeared after the timeout) goes, then the directory.
          await mountUtil.cleanupMountPoint(dir).catch(() => {});
          throw err;
        }
      }),
    };
  }

  newUnmounter(volName: string, podUid: string): Unmounter {
    return new PodDirUnmounter(this.#host, this.name, volName, podVolumeDir(this.#host.rootDir, podUid, this.name, volName));
  }
}

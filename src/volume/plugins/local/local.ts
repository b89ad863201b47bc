// local: a PersistentVolume whose storage is a directory (or mounted disk) on
// one node, reached only by pods the scheduler placed there through the PV's
// node affinity. The mounter's path is the local path itself — the runtime
// bind-mounts it into containers — so setUp only checks that it exists and is
// a directory. Block-mode local volumes are not supported yet.

import { stat } from 'node:fs/promises';
import type { Mounter, SetUpArgs, Unmounter, VolumeHost, VolumePlugin, VolumeSpec } from '../../plugin.ts';
import { VolumeSetupError, wrapSetup } from '../../plugin.ts';
import type { Pod } from '../../types.ts';

export const LOCAL_PLUGIN_NAME = 'kubernetes.io/local-volume';

export class LocalVolumePlugin implements VolumePlugin {
  readonly name = LOCAL_PLUGIN_NAME;
  readonly requiresRemount = false;

  constructor(_host?: VolumeHost) {}

  canSupport(spec: VolumeSpec): boolean {
    return spec.persistentVolume?.spec.local !== undefined;
  }

  newMounter(spec: VolumeSpec, _pod: Pod): Mounter {
    const pv = spec.persistentVolume;
    const local = pv?.spec.local;
    const volName = pv?.metadata.name ?? '';
    if (pv === undefined || local === undefined) {
      throw new VolumeSetupError(this.name, volName, 'spec does not reference a Local volume type');
    }
    if (pv.spec.volumeMode === 'Block') {
      throw new VolumeSetupError(this.name, volName, 'block mode local volumes are not supported');
    }
    const path = local.path;
    const plugin = this.name;
    return {
      getPath: () => path,
      setUp: (_args: SetUpArgs) => wrapSetup(plugin, volName, async () => {
        let isDir: boolean;
        try {
          isDir = (await stat(path)).isDirectory();
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          throw new VolumeSetupError(plugin, volName, `path "${path}" does not exist`, { cause: err });
        }
        if (!isDir) throw new VolumeSetupError(plugin, volName, `path "${path}" is not a directory`);
      }),
    };
  }

  newUnmounter(_volName: string, _podUid: string): Unmounter {
    // Nothing was mounted into the pod's directory; the local data stays.
    return { getPath: () => '', tearDown: async () => {} };
  }
}

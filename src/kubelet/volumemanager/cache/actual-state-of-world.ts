// The actual state of world: what is mounted for which pod, as far as this
// process knows. Only the reconciler's operations and the reconstruction
// write it; waiters (waitForAttachAndMount, waitForUnmount) subscribe to its
// changes instead of polling.
//
// A volume is in one of two states:
//   Mounted    setUp succeeded (or the volume was found mounted at start and
//              adopted); the runtime may use its path.
//   Uncertain  setUp timed out, was cancelled, or failed after leaving
//              something on disk; or the volume was found on disk for a pod
//              this node no longer runs. It is NOT absent: a desired one is
//              set up again (setUp is idempotent), an undesired one is torn
//              down like a mounted one. Only tearDown makes a volume absent.
//
// Beside the pod volumes it keeps the devices of device-mountable volumes,
// one per unique volume name and node (upstream's attachedVolumes with their
// deviceMountState): mounted once at the device mount path, shared by every
// pod volume that names the same unique volume. A device is
//   DeviceGloballyMounted  mountDevice succeeded (or the path was found
//                          mounted at start): later pods go straight to setUp;
//   DeviceMountUncertain   mountDevice timed out or failed leaving a mount
//                          point (or a directory was found that is not one):
//                          mountDevice runs again when the volume is wanted,
//                          unmountDevice when it is not.
// A device not recorded is not mounted. Only unmountDevice forgets one.

import type { Disposable } from '../../../base/index.ts';
import { toDisposable } from '../../../base/index.ts';

export type VolumeMountState = 'Mounted' | 'Uncertain';

export interface ActualVolume {
  podUid: string;
  /** The pod volume's name; for a volume found on disk and not matched to a pod volume, its inner name. */
  outerName: string;
  /** The name the plugin knows it by (newUnmounter's volName). */
  innerName: string;
  pluginName: string;
  /** The path setUp made ready (the runtime's bind source). */
  path: string;
  readOnly: boolean;
  state: VolumeMountState;
  /** The desired content version the last successful setUp started from ('' when unknown). */
  contentVersion: string;
  /** When the last successful setUp (or the adoption) happened, in ms since the epoch. */
  setUpAt: number;
  /** For a device-mountable plugin's volume: the unique volume name of the device it uses. */
  uniqueVolumeName?: string;
}

export type ActualVolumeInput = Omit<ActualVolume, 'state'>;

export type DeviceMountState = 'DeviceGloballyMounted' | 'DeviceMountUncertain';

export interface ActualDevice {
  /** `flexvolume-<vendor>/<driver>/<name>`, `kubernetes.io/csi/<driver>^<handle>`. */
  uniqueVolumeName: string;
  pluginName: string;
  /** What mountDevice was given ('' when unknown, e.g. after reconstruction). */
  devicePath: string;
  deviceMountPath: string;
  deviceMountState: DeviceMountState;
}

export type ActualDeviceInput = Omit<ActualDevice, 'deviceMountState'>;

export class ActualStateOfWorld {
  readonly #pods = new Map<string, Map<string, ActualVolume>>();
  readonly #devices = new Map<string, ActualDevice>();
  readonly #listeners = new Set<() => void>();

  /** Records a volume as Mounted, adding it or replacing what was recorded. */
  markVolumeAsMounted(v: ActualVolumeInput): void {
    this.#set({ ...v, state: 'Mounted' });
  }

  /**
   * Records a volume as Uncertain. A volume already Mounted stays Mounted
   * (a failed re-setUp of a projection volume leaves the old content in
   * place, still usable); anything else is added or replaced.
   */
  markVolumeMountAsUncertain(v: ActualVolumeInput): void {
    if (this.getVolume(v.podUid, v.outerName)?.state === 'Mounted') return;
    this.#set({ ...v, state: 'Uncertain' });
  }

  /** Forgets a volume after its tearDown. No-op when it is not recorded. */
  markVolumeAsUnmounted(podUid: string, outerName: string): void {
    const vols = this.#pods.get(podUid);
    if (vols === undefined || !vols.delete(outerName)) return;
    if (vols.size === 0) this.#pods.delete(podUid);
    this.#changed();
  }

  getVolume(podUid: string, outerName: string): ActualVolume | undefined {
    return this.#pods.get(podUid)?.get(outerName);
  }

  /** A pod's volumes in either state (empty for an unknown pod). */
  volumesForPod(podUid: string): ActualVolume[] {
    return [...(this.#pods.get(podUid)?.values() ?? [])];
  }

  /** Every recorded volume in either state. */
  allVolumes(): ActualVolume[] {
    return [...this.#pods.values()].flatMap((m) => [...m.values()]);
  }

  /** Records a device as globally mounted, adding it or replacing what was recorded. */
  markDeviceAsMounted(d: ActualDeviceInput): void {
    this.#setDevice({ ...d, deviceMountState: 'DeviceGloballyMounted' });
  }

  /** Records a device as uncertain (whatever it was): the next mount runs mountDevice again. */
  markDeviceAsUncertain(d: ActualDeviceInput): void {
    this.#setDevice({ ...d, deviceMountState: 'DeviceMountUncertain' });
  }

  /** Forgets a device after unmountDevice (or a definite mountDevice failure). No-op when not recorded. */
  markDeviceAsUnmounted(uniqueVolumeName: string): void {
    if (this.#devices.delete(uniqueVolumeName)) this.#changed();
  }

  getDevice(uniqueVolumeName: string): ActualDevice | undefined {
    return this.#devices.get(uniqueVolumeName);
  }

  /** Every recorded device in either state. */
  allDevices(): ActualDevice[] {
    return [...this.#devices.values()];
  }

  /** Whether some pod volume (mounted or uncertain) still uses the device `uniqueVolumeName`. */
  isDeviceUsedByPods(uniqueVolumeName: string): boolean {
    return this.allVolumes().some((v) => v.uniqueVolumeName === uniqueVolumeName);
  }

  /** Calls `listener` after every change; dispose to stop. */
  onChange(listener: () => void): Disposable {
    this.#listeners.add(listener);
    return toDisposable(() => this.#listeners.delete(listener));
  }

  #set(v: ActualVolume): void {
    let vols = this.#pods.get(v.podUid);
    if (vols === undefined) {
      vols = new Map();
      this.#pods.set(v.podUid, vols);
    }
    vols.set(v.outerName, v);
    this.#changed();
  }

  #setDevice(d: ActualDevice): void {
    const old = this.#devices.get(d.uniqueVolumeName);
    this.#devices.set(d.uniqueVolumeName, d);
    if (old === undefined || JSON.stringify(old) !== JSON.stringify(d)) this.#changed();
  }

  #changed(): void {
    for (const l of [...this.#listeners]) l();
  }
}

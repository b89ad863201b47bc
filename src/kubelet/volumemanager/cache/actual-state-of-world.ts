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
}

export type ActualVolumeInput = Omit<ActualVolume, 'state'>;

export class ActualStateOfWorld {
  readonly #pods = new Map<string, Map<string, ActualVolume>>();
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

  #changed(): void {
    for (const l of [...this.#listeners]) l();
  }
}

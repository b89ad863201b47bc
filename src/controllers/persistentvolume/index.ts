// The PV controller's public entry: `volplane up` calls
// startPersistentVolumeController with the process's shared client,
// informers and event recorder.

import { PersistentVolumeController } from './pv-controller.ts';
import type { PersistentVolumeControllerContext, PersistentVolumeControllerOptions } from './pv-controller-base.ts';

export { PersistentVolumeController, BindingError, DeleterNotFoundError, ProvisionerNotFoundError } from './pv-controller.ts';
export type { PersistentVolumeControllerContext, PersistentVolumeControllerOptions } from './pv-controller-base.ts';
export { HostRecycler, RecycleError, findNfsMount, scrubDirectory, type RecycleResult, type Recycler } from './recycler.ts';

/**
 * Starts the PV controller. Resolves once its caches have synced and its
 * workers run (the informer factory must be started, before or after this
 * call). It runs until `signal` aborts; use the PersistentVolumeController
 * class directly to also wait for it to stop.
 */
export async function startPersistentVolumeController(
  ctx: PersistentVolumeControllerContext,
  signal: AbortSignal,
  options: PersistentVolumeControllerOptions = {},
): Promise<void> {
  const controller = new PersistentVolumeController(ctx, options);
  await controller.start(signal);
}

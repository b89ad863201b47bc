// The ephemeral volume controller: creates `<pod>-<volume>` claims for generic
// ephemeral volumes, owned by the pod. See ephemeral-controller.ts.
export {
  EphemeralClaimConflictError,
  startEphemeralVolumeController,
  type EphemeralVolumeControllerContext,
  type EphemeralVolumeControllerOptions,
} from './ephemeral-controller.ts';
export { ephemeralClaimName } from './ephemeral-utils.ts';

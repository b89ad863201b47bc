// Storage-object-in-use protection: the pvc-protection and pv-protection
// controllers that own the `kubernetes.io/pvc-protection` and
// `kubernetes.io/pv-protection` finalizers the apiserver puts on new claims
// and volumes. See pvc-protection-controller.ts and pv-protection-controller.ts.
export { PVC_PROTECTION_FINALIZER } from '../../api/core/persistent-volume-claim.ts';
export { PV_PROTECTION_FINALIZER } from '../../api/core/persistent-volume.ts';
export {
  PvcProtectionController,
  startPvcProtectionController,
  type ProtectionControllerContext,
  type ProtectionControllerOptions,
} from './pvc-protection-controller.ts';
export { PvProtectionController, isVolumeInUse, startPvProtectionController } from './pv-protection-controller.ts';
export { POD_PVC_INDEX, podPvcIndexValues, podUsesPVC, type Pod, type PodVolume } from './pod-usage.ts';

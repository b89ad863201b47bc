// The attach/detach controller: attaches the volumes of scheduled pods to
// their nodes — CSI volumes through VolumeAttachments, FlexVolume volumes by
// running their driver's attach/detach — and detaches them once unmounted.
// See attach-detach-controller.ts for the design.
export {
  AttachDetachController,
  CONTROLLER_MANAGED_ATTACH_DETACH_ANNOTATION,
  OUT_OF_SERVICE_TAINT,
  RECONCILER_LOOP_PERIOD_MS,
  startAttachDetachController,
  type AttachDetachControllerOptions,
} from './attach-detach-controller.ts';
export { ActualStateOfWorld, UnknownAttachmentError, type AttachedVolume, type AttachmentInfo, type NodeAttachedVolume } from './actual-state-of-world.ts';
export { DesiredStateOfWorld, NodeNotManagedError, type PodRef, type VolumeToAttach } from './desired-state-of-world.ts';
export { MAX_WAIT_FOR_UNMOUNT_MS } from './reconciler.ts';
export { attachmentName, csiVolumeName, parseCsiVolumeName, CSI_PLUGIN_NAME } from './csi-volumes.ts';
export {
  FLEX_PLUGIN_NAME_PREFIX,
  flexAttachmentKey,
  FlexPluginNotFoundError,
  parseFlexVolumeName,
  type FlexAttachment,
  type FlexVolumePluginSource,
  type FlexVolumeToAttach,
} from './flex-volumes.ts';

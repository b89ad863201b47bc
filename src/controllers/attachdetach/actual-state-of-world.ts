// The actual state of world (upstream cache/actual_state_of_world.go): which
// volumes are attached — or being attached or detached — to which nodes,
// whether each node has said it mounted them, and which nodes need their
// `status.volumesAttached` rewritten.
//
// For CSI, "attached" is a VolumeAttachment: an entry exists from the moment
// the controller created (or found) the object until the object is gone.
// Keyed by the attachment name, which is a function of (volume, node), so
// the desired and actual states meet on one key. An entry is
//   attaching  — the object exists, the attacher has not set status.attached;
//   attached   — status.attached is true: reported in the node's status;
//   detaching  — the controller deleted the object (or someone did), it is
//                waiting for the attacher's finalizer to go; not reported.
// An attaching entry is the upstream "uncertain" attach: it is detached like
// an attached one when no longer desired, because the attacher may have
// finished without the controller seeing it.
//
// For FlexVolume the controller is the attacher (flex-volumes.ts): there is
// no object, the key is flexAttachmentKey, an entry is attaching only after
// an `attach` call failed or timed out (uncertain: it may have attached),
// attached once a call succeeded — with the device path the driver printed,
// which the node's status carries — and detaching while `detach` runs; it
// is forgotten when `detach` succeeds.
//
// mountedByNode starts true ("assume mounted until the node says
// otherwise", as upstream) and follows the node's `status.volumesInUse`
// from then on: detaching a volume the kubelet still uses would pull it
// from under a running container.

import type { FlexAttachment } from './flex-volumes.ts';

export interface AttachmentInfo {
  attachmentName: string;
  nodeName: string;
  pvName: string;
  driver: string;
  /** `kubernetes.io/csi/<driver>^<handle>`; undefined when the handle could not be learned (PV gone). */
  volumeName: string | undefined;
  /** Set for a FlexVolume attachment. */
  flex?: FlexAttachment;
}

export interface AttachedVolume extends AttachmentInfo {
  /** status.attached was seen true. */
  attached: boolean;
  /** A delete was requested (by us or anyone): no longer reported as attached. */
  detaching: boolean;
  mountedByNode: boolean;
  /** When the reconciler first found the volume no longer desired (ms since epoch). */
  detachRequestedAt: number | undefined;
  /** The last attach error reported (message and time), so each one is told once. */
  lastAttachError: string | undefined;
  /** The device path reported in the node's status ("" for CSI, and for a FlexVolume driver that names none). */
  devicePath: string;
}

/** The node status entry for an attached volume (core/v1 AttachedVolume). */
export interface NodeAttachedVolume {
  name: string;
  devicePath: string;
}

/** A method that needs an existing entry was given an unknown attachment name. */
export class UnknownAttachmentError extends Error {
  override readonly name = 'UnknownAttachmentError';
  readonly attachmentName: string;
  constructor(attachmentName: string) {
    super(`volume attachment ${JSON.stringify(attachmentName)} is not in the actual state of world`);
    this.attachmentName = attachmentName;
  }
}

function reported(v: AttachedVolume): boolean {
  return v.attached && !v.detaching && v.volumeName !== undefined;
}

export class ActualStateOfWorld {
  readonly #volumes = new Map<string, AttachedVolume>();
  readonly #nodesToUpdate = new Set<string>();

  /**
   * Records an attachment the attacher has not confirmed yet. No-op when the
   * attachment is already known (in any state); a missing volumeName is
   * filled in from `info`.
   */
  markVolumeAsAttaching(info: AttachmentInfo): void {
    const v = this.#volumes.get(info.attachmentName);
    if (v !== undefined) {
      v.volumeName ??= info.volumeName;
      return;
    }
    this.#volumes.set(info.attachmentName, {
      ...info,
      attached: false,
      detaching: false,
      mountedByNode: true,
      detachRequestedAt: undefined,
      lastAttachError: undefined,
      devicePath: '',
    });
  }

  /**
   * Records that the attacher confirmed the attachment (adding it when
   * unknown) with `devicePath` (default "") and flags its node for a status
   * update. Returns true when this call made it attached; false (a no-op)
   * when it already was, or when it is detaching — a confirmation of an
   * attachment being torn down is history.
   */
  markVolumeAsAttached(info: AttachmentInfo, devicePath = ''): boolean {
    this.markVolumeAsAttaching(info);
    const v = this.#volumes.get(info.attachmentName)!;
    if (v.attached || v.detaching) return false;
    v.attached = true;
    v.devicePath = devicePath;
    v.lastAttachError = undefined;
    if (reported(v)) this.#nodesToUpdate.add(v.nodeName);
    return true;
  }

  /**
   * Marks the attachment as being torn down: it leaves the node's reported
   * volumes (the node is flagged when it was reported). No-op when already
   * detaching. Throws UnknownAttachmentError for an unknown attachment.
   */
  markVolumeAsDetaching(name: string): void {
    const v = this.#get(name);
    if (v.detaching) return;
    if (reported(v)) this.#nodesToUpdate.add(v.nodeName);
    v.detaching = true;
  }

  /**
   * Undoes markVolumeAsDetaching after a delete that did not happen: the
   * attachment is reported again if it was attached. No-op when unknown or
   * not detaching.
   */
  cancelDetach(name: string): void {
    const v = this.#volumes.get(name);
    if (v === undefined || !v.detaching) return;
    v.detaching = false;
    if (reported(v)) this.#nodesToUpdate.add(v.nodeName);
  }

  /** Forgets the attachment (its object is gone), flagging its node when it was reported. No-op when unknown. */
  deleteVolumeNode(name: string): void {
    const v = this.#volumes.get(name);
    if (v === undefined) return;
    if (reported(v)) this.#nodesToUpdate.add(v.nodeName);
    this.#volumes.delete(name);
  }

  /**
   * Sets mountedByNode of every attachment on `nodeName` from the node's
   * `status.volumesInUse`. An attachment whose volume name is unknown cannot
   * be in use as far as anyone can tell. No-op for a node without attachments.
   */
  setVolumesMountedByNode(nodeName: string, volumesInUse: ReadonlySet<string>): void {
    for (const v of this.#volumes.values()) {
      if (v.nodeName !== nodeName) continue;
      v.mountedByNode = v.volumeName !== undefined && volumesInUse.has(v.volumeName);
    }
  }

  /**
   * Notes when a detach was first wanted and returns how long ago that was
   * (0 on the first call). Throws UnknownAttachmentError for an unknown attachment.
   */
  setDetachRequestTime(name: string, now: number): number {
    const v = this.#get(name);
    v.detachRequestedAt ??= now;
    return now - v.detachRequestedAt;
  }

  /** Clears the detach request time (the volume is wanted again). No-op when unknown. */
  resetDetachRequestTime(name: string): void {
    const v = this.#volumes.get(name);
    if (v !== undefined) v.detachRequestedAt = undefined;
  }

  /**
   * Records the attacher's latest attach error (`key` identifies it: message
   * and time). Returns true when it differs from the last one recorded, i.e.
   * it should be told. No-op (false) when unknown or the same error.
   */
  setAttachError(name: string, key: string): boolean {
    const v = this.#volumes.get(name);
    if (v === undefined || v.lastAttachError === key) return false;
    v.lastAttachError = key;
    return true;
  }

  get(name: string): AttachedVolume | undefined {
    return this.#volumes.get(name);
  }

  /** Every known attachment, in any state. */
  getAttachedVolumes(): AttachedVolume[] {
    return [...this.#volumes.values()];
  }

  /** The nodes `volumeName` is attached to or on its way to or from (any state). */
  getNodesForVolume(volumeName: string): string[] {
    const out = new Set<string>();
    for (const v of this.#volumes.values()) if (v.volumeName === volumeName) out.add(v.nodeName);
    return [...out];
  }

  /** What `nodeName`'s `status.volumesAttached` should say, sorted by name. */
  getVolumesToReportAttached(nodeName: string): NodeAttachedVolume[] {
    const out: NodeAttachedVolume[] = [];
    for (const v of this.#volumes.values()) {
      if (v.nodeName === nodeName && reported(v)) out.push({ name: v.volumeName!, devicePath: v.devicePath });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Flags `nodeName` for a status update (e.g. its Node object was recreated). */
  setNodeStatusUpdateNeeded(nodeName: string): void {
    this.#nodesToUpdate.add(nodeName);
  }

  /** Takes the flagged nodes, clearing the flags; a failed update must flag its node again. */
  takeNodesToUpdate(): string[] {
    const out = [...this.#nodesToUpdate];
    this.#nodesToUpdate.clear();
    return out;
  }

  #get(name: string): AttachedVolume {
    const v = this.#volumes.get(name);
    if (v === undefined) throw new UnknownAttachmentError(name);
    return v;
  }
}

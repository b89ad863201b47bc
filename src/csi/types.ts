// Typed shapes of the csi.v1 messages volplane uses, as @grpc/proto-loader
// hands them over with our loader options (src/csi/proto.ts): field names in
// snake_case as in the .proto, enums as their names, 64-bit integers as JS
// numbers (byte counts stay far below 2^53), and every scalar, list and map
// filled with its proto3 default on the receiving side. Fields are optional
// here because proto3 has no presence: a sender may leave any field out, and
// what the spec calls REQUIRED is checked by the server scaffold, not by the
// type system. Message-typed fields may arrive as null when unset.
//
// CsiError is the one error type of the CSI layer: drivers throw it with a
// gRPC status code, the server scaffold turns it into that status, and the
// client turns a non-OK status back into it.

/** The canonical gRPC status codes (the numbers are the wire values). */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type GrpcCodeName = keyof typeof GrpcCode;
export type GrpcCodeNumber = (typeof GrpcCode)[GrpcCodeName];

/** The name of a numeric status code (`UNKNOWN` for numbers outside the table). */
export function grpcCodeName(code: number): GrpcCodeName {
  for (const [name, value] of Object.entries(GrpcCode)) if (value === code) return name as GrpcCodeName;
  return 'UNKNOWN';
}

/** A CSI call that failed with a gRPC status. `code` is the wire number, `codeName` its name. */
export class CsiError extends Error {
  override readonly name = 'CsiError';
  readonly code: GrpcCodeNumber;
  readonly codeName: GrpcCodeName;
  constructor(code: GrpcCodeName | GrpcCodeNumber, message: string, options?: ErrorOptions) {
    super(message, options);
    this.codeName = typeof code === 'string' ? code : grpcCodeName(code);
    this.code = GrpcCode[this.codeName];
  }
}

/** Whether `err` is a CsiError with the given code. */
export function isCsiError(err: unknown, code?: GrpcCodeName): err is CsiError {
  return err instanceof CsiError && (code === undefined || err.codeName === code);
}

export type StringMap = Record<string, string>;

// ------------------------------------------------------------------ shared

export type AccessModeName =
  | 'UNKNOWN'
  | 'SINGLE_NODE_WRITER'
  | 'SINGLE_NODE_READER_ONLY'
  | 'MULTI_NODE_READER_ONLY'
  | 'MULTI_NODE_SINGLE_WRITER'
  | 'MULTI_NODE_MULTI_WRITER'
  | 'SINGLE_NODE_SINGLE_WRITER'
  | 'SINGLE_NODE_MULTI_WRITER';

export interface BlockVolume {}

export interface MountVolume {
  fs_type?: string;
  mount_flags?: string[];
  volume_mount_group?: string;
}

export interface VolumeCapability {
  block?: BlockVolume | null;
  mount?: MountVolume | null;
  access_mode?: { mode?: AccessModeName } | null;
  /** Which member of the oneof is set (filled in on decoding). */
  access_type?: 'block' | 'mount';
}

export interface CapacityRange {
  required_bytes?: number;
  limit_bytes?: number;
}

export interface Topology {
  segments?: StringMap;
}

export interface TopologyRequirement {
  requisite?: Topology[];
  preferred?: Topology[];
}

export interface VolumeContentSource {
  snapshot?: { snapshot_id?: string } | null;
  volume?: { volume_id?: string } | null;
  type?: 'snapshot' | 'volume';
}

export interface Volume {
  capacity_bytes?: number;
  volume_id: string;
  volume_context?: StringMap;
  content_source?: VolumeContentSource | null;
  accessible_topology?: Topology[];
}

export interface Timestamp {
  seconds: number;
  nanos: number;
}

export interface Snapshot {
  size_bytes?: number;
  snapshot_id: string;
  source_volume_id: string;
  creation_time?: Timestamp | null;
  ready_to_use: boolean;
  group_snapshot_id?: string;
}

export interface VolumeCondition {
  abnormal?: boolean;
  message?: string;
}

// ---------------------------------------------------------------- identity

export interface GetPluginInfoRequest {}
export interface GetPluginInfoResponse {
  name: string;
  vendor_version: string;
  manifest?: StringMap;
}

export interface GetPluginCapabilitiesRequest {}
export type PluginServiceType =
  | 'UNKNOWN'
  | 'CONTROLLER_SERVICE'
  | 'VOLUME_ACCESSIBILITY_CONSTRAINTS'
  | 'GROUP_CONTROLLER_SERVICE'
  | 'SNAPSHOT_METADATA_SERVICE';
export type VolumeExpansionType = 'UNKNOWN' | 'ONLINE' | 'OFFLINE';
export interface PluginCapability {
  service?: { type?: PluginServiceType } | null;
  volume_expansion?: { type?: VolumeExpansionType } | null;
  type?: 'service' | 'volume_expansion';
}
export interface GetPluginCapabilitiesResponse {
  capabilities: PluginCapability[];
}

export interface ProbeRequest {}
export interface ProbeResponse {
  ready?: { value: boolean } | null;
}

// -------------------------------------------------------------- controller

export interface CreateVolumeRequest {
  name?: string;
  capacity_range?: CapacityRange | null;
  volume_capabilities?: VolumeCapability[];
  parameters?: StringMap;
  secrets?: StringMap;
  volume_content_source?: VolumeContentSource | null;
  accessibility_requirements?: TopologyRequirement | null;
  mutable_parameters?: StringMap;
}
export interface CreateVolumeResponse {
  volume: Volume;
}

export interface DeleteVolumeRequest {
  volume_id?: string;
  secrets?: StringMap;
}
export interface DeleteVolumeResponse {}

export interface ControllerPublishVolumeRequest {
  volume_id?: string;
  node_id?: string;
  volume_capability?: VolumeCapability | null;
  readonly?: boolean;
  secrets?: StringMap;
  volume_context?: StringMap;
}
export interface ControllerPublishVolumeResponse {
  publish_context?: StringMap;
}

export interface ControllerUnpublishVolumeRequest {
  volume_id?: string;
  node_id?: string;
  secrets?: StringMap;
}
export interface ControllerUnpublishVolumeResponse {}

export interface ValidateVolumeCapabilitiesRequest {
  volume_id?: string;
  volume_context?: StringMap;
  volume_capabilities?: VolumeCapability[];
  parameters?: StringMap;
  secrets?: StringMap;
  mutable_parameters?: StringMap;
}
export interface ValidateVolumeCapabilitiesResponse {
  confirmed?: {
    volume_context?: StringMap;
    volume_capabilities?: VolumeCapability[];
    parameters?: StringMap;
    mutable_parameters?: StringMap;
  } | null;
  message?: string;
}

export interface ListVolumesRequest {
  max_entries?: number;
  starting_token?: string;
}
export interface ListVolumesResponse {
  entries: {
    volume: Volume;
    status?: { published_node_ids?: string[]; volume_condition?: VolumeCondition | null } | null;
  }[];
  next_token?: string;
}

export interface GetCapacityRequest {
  volume_capabilities?: VolumeCapability[];
  parameters?: StringMap;
  accessible_topology?: Topology | null;
}
export interface GetCapacityResponse {
  available_capacity: number;
  maximum_volume_size?: { value: number } | null;
  minimum_volume_size?: { value: number } | null;
}

export type ControllerRpcType =
  | 'UNKNOWN'
  | 'CREATE_DELETE_VOLUME'
  | 'PUBLISH_UNPUBLISH_VOLUME'
  | 'LIST_VOLUMES'
  | 'GET_CAPACITY'
  | 'CREATE_DELETE_SNAPSHOT'
  | 'LIST_SNAPSHOTS'
  | 'CLONE_VOLUME'
  | 'PUBLISH_READONLY'
  | 'EXPAND_VOLUME'
  | 'LIST_VOLUMES_PUBLISHED_NODES'
  | 'VOLUME_CONDITION'
  | 'GET_VOLUME'
  | 'SINGLE_NODE_MULTI_WRITER'
  | 'MODIFY_VOLUME'
  | 'GET_SNAPSHOT';
export interface ControllerGetCapabilitiesRequest {}
export interface ControllerGetCapabilitiesResponse {
  capabilities: { rpc?: { type?: ControllerRpcType } | null; type?: 'rpc' }[];
}

export interface CreateSnapshotRequest {
  source_volume_id?: string;
  name?: string;
  secrets?: StringMap;
  parameters?: StringMap;
}
export interface CreateSnapshotResponse {
  snapshot: Snapshot;
}

export interface DeleteSnapshotRequest {
  snapshot_id?: string;
  secrets?: StringMap;
}
export interface DeleteSnapshotResponse {}

export interface ListSnapshotsRequest {
  max_entries?: number;
  starting_token?: string;
  source_volume_id?: string;
  snapshot_id?: string;
  secrets?: StringMap;
}
export interface ListSnapshotsResponse {
  entries: { snapshot: Snapshot }[];
  next_token?: string;
}

export interface ControllerExpandVolumeRequest {
  volume_id?: string;
  capacity_range?: CapacityRange | null;
  secrets?: StringMap;
  volume_capability?: VolumeCapability | null;
}
export interface ControllerExpandVolumeResponse {
  capacity_bytes: number;
  node_expansion_required: boolean;
}

// -------------------------------------------------------------------- node

export interface NodeStageVolumeRequest {
  volume_id?: string;
  publish_context?: StringMap;
  staging_target_path?: string;
  volume_capability?: VolumeCapability | null;
  secrets?: StringMap;
  volume_context?: StringMap;
}
export interface NodeStageVolumeResponse {}

export interface NodeUnstageVolumeRequest {
  volume_id?: string;
  staging_target_path?: string;
}
export interface NodeUnstageVolumeResponse {}

export interface NodePublishVolumeRequest {
  volume_id?: string;
  publish_context?: StringMap;
  staging_target_path?: string;
  target_path?: string;
  volume_capability?: VolumeCapability | null;
  readonly?: boolean;
  secrets?: StringMap;
  volume_context?: StringMap;
}
export interface NodePublishVolumeResponse {}

export interface NodeUnpublishVolumeRequest {
  volume_id?: string;
  target_path?: string;
}
export interface NodeUnpublishVolumeResponse {}

export interface NodeGetVolumeStatsRequest {
  volume_id?: string;
  volume_path?: string;
  staging_target_path?: string;
}
export type VolumeUsageUnit = 'UNKNOWN' | 'BYTES' | 'INODES';
export interface VolumeUsage {
  available?: number;
  total?: number;
  used?: number;
  unit: VolumeUsageUnit;
}
export interface NodeGetVolumeStatsResponse {
  usage: VolumeUsage[];
  volume_condition?: VolumeCondition | null;
}

export interface NodeExpandVolumeRequest {
  volume_id?: string;
  volume_path?: string;
  capacity_range?: CapacityRange | null;
  staging_target_path?: string;
  volume_capability?: VolumeCapability | null;
  secrets?: StringMap;
}
export interface NodeExpandVolumeResponse {
  capacity_bytes?: number;
}

export type NodeRpcType =
  | 'UNKNOWN'
  | 'STAGE_UNSTAGE_VOLUME'
  | 'GET_VOLUME_STATS'
  | 'EXPAND_VOLUME'
  | 'VOLUME_CONDITION'
  | 'SINGLE_NODE_MULTI_WRITER'
  | 'VOLUME_MOUNT_GROUP';
export interface NodeGetCapabilitiesRequest {}
export interface NodeGetCapabilitiesResponse {
  capabilities: { rpc?: { type?: NodeRpcType } | null; type?: 'rpc' }[];
}

export interface NodeGetInfoRequest {}
export interface NodeGetInfoResponse {
  node_id: string;
  max_volumes_per_node?: number;
  accessible_topology?: Topology | null;
}

// ---------------------------------------------------------------- services

/** Per-call context the server scaffold hands to a driver method. */
export interface CallContext {
  /** Aborts when the caller cancels or its deadline passes. */
  signal: AbortSignal;
  /** The full gRPC method name, e.g. `/csi.v1.Node/NodeStageVolume`. */
  method: string;
}

type Handler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res>;

export interface IdentityService {
  GetPluginInfo: Handler<GetPluginInfoRequest, GetPluginInfoResponse>;
  GetPluginCapabilities: Handler<GetPluginCapabilitiesRequest, GetPluginCapabilitiesResponse>;
  Probe: Handler<ProbeRequest, ProbeResponse>;
}

/** A driver's Controller service; a method left out answers UNIMPLEMENTED. */
export interface ControllerService {
  CreateVolume?: Handler<CreateVolumeRequest, CreateVolumeResponse>;
  DeleteVolume?: Handler<DeleteVolumeRequest, DeleteVolumeResponse>;
  ControllerPublishVolume?: Handler<ControllerPublishVolumeRequest, ControllerPublishVolumeResponse>;
  ControllerUnpublishVolume?: Handler<ControllerUnpublishVolumeRequest, ControllerUnpublishVolumeResponse>;
  ValidateVolumeCapabilities?: Handler<ValidateVolumeCapabilitiesRequest, ValidateVolumeCapabilitiesResponse>;
  ListVolumes?: Handler<ListVolumesRequest, ListVolumesResponse>;
  GetCapacity?: Handler<GetCapacityRequest, GetCapacityResponse>;
  ControllerGetCapabilities: Handler<ControllerGetCapabilitiesRequest, ControllerGetCapabilitiesResponse>;
  CreateSnapshot?: Handler<CreateSnapshotRequest, CreateSnapshotResponse>;
  DeleteSnapshot?: Handler<DeleteSnapshotRequest, DeleteSnapshotResponse>;
  ListSnapshots?: Handler<ListSnapshotsRequest, ListSnapshotsResponse>;
  ControllerExpandVolume?: Handler<ControllerExpandVolumeRequest, ControllerExpandVolumeResponse>;
}

/** A driver's Node service; a method left out answers UNIMPLEMENTED. */
export interface NodeService {
  NodeStageVolume?: Handler<NodeStageVolumeRequest, NodeStageVolumeResponse>;
  NodeUnstageVolume?: Handler<NodeUnstageVolumeRequest, NodeUnstageVolumeResponse>;
  NodePublishVolume?: Handler<NodePublishVolumeRequest, NodePublishVolumeResponse>;
  NodeUnpublishVolume?: Handler<NodeUnpublishVolumeRequest, NodeUnpublishVolumeResponse>;
  NodeGetVolumeStats?: Handler<NodeGetVolumeStatsRequest, NodeGetVolumeStatsResponse>;
  NodeExpandVolume?: Handler<NodeExpandVolumeRequest, NodeExpandVolumeResponse>;
  NodeGetCapabilities: Handler<NodeGetCapabilitiesRequest, NodeGetCapabilitiesResponse>;
  NodeGetInfo: Handler<NodeGetInfoRequest, NodeGetInfoResponse>;
}

export type CsiServiceName = 'Identity' | 'Controller' | 'Node';

// storage.k8s.io/v1 CSIDriver: how Kubernetes should talk to one installed CSI
// driver (attach or not, pod info on mount, capacity tracking, tokens...).
//
// v1 defaults fill every boolean the rest of the system reads (attachRequired
// true, the others false), fsGroupPolicy ReadWriteOnceWithFSType and
// volumeLifecycleModes [Persistent]; validation and the update rules
// (attachRequired and volumeLifecycleModes are fixed) follow kube-apiserver
// 1.32, including its field path `spec.attachedRequired`. Spec changes bump
// metadata.generation, as upstream's strategy does.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { GoValue, fieldErrors } from '../../apimachinery/index.ts';
import type { ResourceDef, TableCell, TableColumn } from '../resource.ts';
import { ageCell, ageColumn, column, nameCell, nameColumn } from '../table.ts';
import type { JsonObject } from '../core/common.ts';
import { ALL_VERBS, arr, defaultFieldSelector, goStringSlice, rec, str, verbs } from '../core/common.ts';
import { child, dedupeErrors, immutable, index, isSet, validateMeta } from '../core/persistent-volume.ts';

export type FSGroupPolicy = 'ReadWriteOnceWithFSType' | 'File' | 'None';
export type VolumeLifecycleMode = 'Persistent' | 'Ephemeral';

const SUPPORTED_FS_GROUP_POLICIES = ['File', 'None', 'ReadWriteOnceWithFSType'];
const SUPPORTED_LIFECYCLE_MODES = ['Persistent', 'Ephemeral'];
const MIN_TOKEN_EXPIRATION_SECONDS = 10 * 60;
const MAX_TOKEN_EXPIRATION_SECONDS = 2 ** 32;
// Upstream's typo, kept: kubectl shows this path.
const ATTACH_REQUIRED_PATH = 'spec.attachedRequired';

/** SetDefaults_CSIDriver (CSIInlineVolume and SELinuxMountReadWriteOncePod on). */
export function defaultCSIDriver(driver: KubeObject): void {
  let spec = rec(driver.spec);
  if (spec === undefined) {
    spec = {};
    driver.spec = spec;
  }
  if (!isSet(spec.attachRequired)) spec.attachRequired = true;
  if (!isSet(spec.podInfoOnMount)) spec.podInfoOnMount = false;
  if (!isSet(spec.storageCapacity)) spec.storageCapacity = false;
  if (!isSet(spec.fsGroupPolicy)) spec.fsGroupPolicy = 'ReadWriteOnceWithFSType';
  if (arr(spec.volumeLifecycleModes).length === 0) spec.volumeLifecycleModes = ['Persistent'];
  if (!isSet(spec.requiresRepublish)) spec.requiresRepublish = false;
  if (!isSet(spec.seLinuxMount)) spec.seLinuxMount = false;
}

function validateTokenRequests(value: unknown, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const audiences = new Set<string>();
  arr(value).forEach((t, i) => {
    const request = rec(t) ?? {};
    const itemPath = index(path, i);
    const audience = str(request.audience);
    if (audiences.has(audience)) {
      errs.push(fieldErrors.duplicate(child(itemPath, 'audience'), audience));
      return;
    }
    audiences.add(audience);
    const seconds = request.expirationSeconds;
    if (typeof seconds !== 'number') return;
    const secondsPath = child(itemPath, 'expirationSeconds');
    if (seconds < MIN_TOKEN_EXPIRATION_SECONDS) errs.push(fieldErrors.invalid(secondsPath, seconds, 'may not specify a duration less than 10 minutes'));
    if (seconds > MAX_TOKEN_EXPIRATION_SECONDS) errs.push(fieldErrors.invalid(secondsPath, seconds, 'may not specify a duration larger than 2^32 seconds'));
  });
  return errs;
}

/** validateCSIDriverSpec. */
function validateCSIDriverSpec(spec: JsonObject): FieldError[] {
  const errs: FieldError[] = [];
  if (!isSet(spec.attachRequired)) errs.push(fieldErrors.required(ATTACH_REQUIRED_PATH));
  if (!isSet(spec.podInfoOnMount)) errs.push(fieldErrors.required('spec.podInfoOnMount'));
  if (!isSet(spec.storageCapacity)) errs.push(fieldErrors.required('spec.storageCapacity'));
  if (isSet(spec.fsGroupPolicy) && !SUPPORTED_FS_GROUP_POLICIES.includes(str(spec.fsGroupPolicy))) {
    errs.push(fieldErrors.notSupported('spec.fsGroupPolicy', spec.fsGroupPolicy, SUPPORTED_FS_GROUP_POLICIES));
  }
  errs.push(...validateTokenRequests(spec.tokenRequests, 'spec.tokenRequests'));
  for (const mode of arr(spec.volumeLifecycleModes)) {
    if (!SUPPORTED_LIFECYCLE_MODES.includes(str(mode))) {
      errs.push(fieldErrors.notSupported('spec.volumeLifecycleModes', mode, SUPPORTED_LIFECYCLE_MODES));
    }
  }
  if (!isSet(spec.seLinuxMount)) errs.push(fieldErrors.required('spec.seLinuxMount'));
  return errs;
}

function validateCSIDriver(driver: KubeObject, old: KubeObject | undefined): FieldError[] {
  const spec = rec(driver.spec) ?? {};
  const errs = [...validateMeta(driver, false), ...validateCSIDriverSpec(spec)];
  if (old !== undefined) {
    const oldSpec = rec(old.spec) ?? {};
    errs.push(...immutable(ATTACH_REQUIRED_PATH, spec.attachRequired, oldSpec.attachRequired));
    const modes = spec.volumeLifecycleModes;
    const shown = new GoValue(goStringSlice(isSet(modes) ? arr(modes) : undefined, 'storage.VolumeLifecycleMode'));
    errs.push(...immutable('spec.volumeLifecycleModes', modes, oldSpec.volumeLifecycleModes, shown));
  }
  return dedupeErrors(errs);
}

const csiDriverColumns: readonly TableColumn[] = [
  nameColumn,
  column('AttachRequired', 'boolean', 'attachRequired indicates this CSI volume driver requires an attach operation.'),
  column('PodInfoOnMount', 'boolean', 'podInfoOnMount indicates this CSI volume driver requires additional pod information during mount operations.'),
  column('StorageCapacity', 'boolean', 'storageCapacity indicates that the CSI volume driver wants pod scheduling to consider the storage capacity.'),
  column('TokenRequests', 'string', "tokenRequests indicates the CSI driver needs pods' service account tokens it is mounting volume for."),
  column('RequiresRepublish', 'boolean', 'requiresRepublish indicates the CSI driver wants `NodePublishVolume` being periodically called.'),
  column('Modes', 'string', 'volumeLifecycleModes defines what kind of volumes this CSI volume driver supports.'),
  ageColumn,
];

function boolOr(value: unknown, fallback: boolean): boolean {
  return typeof value === 'boolean' ? value : fallback;
}

function csiDriverRow(driver: KubeObject, now: Date): TableCell[] {
  const spec = rec(driver.spec) ?? {};
  const tokens = Array.isArray(spec.tokenRequests) ? spec.tokenRequests.map((t) => str(rec(t)?.audience)).join(',') : '<unset>';
  const modes = arr(spec.volumeLifecycleModes).map((m) => str(m)).join(',');
  return [
    nameCell(driver),
    boolOr(spec.attachRequired, true),
    boolOr(spec.podInfoOnMount, false),
    boolOr(spec.storageCapacity, false),
    tokens,
    boolOr(spec.requiresRepublish, false),
    modes === '' ? '<none>' : modes,
    ageCell(driver, now),
  ];
}

export const csiDriverDef: ResourceDef = {
  group: 'storage.k8s.io',
  version: 'v1',
  kind: 'CSIDriver',
  listKind: 'CSIDriverList',
  resource: 'csidrivers',
  singular: 'csidriver',
  namespaced: false,
  shortNames: [],
  categories: [],
  verbs: verbs(ALL_VERBS),
  subresources: [],
  hasStatus: false,
  // Upstream bumps the generation on spec changes (it starts from unset rather than 1).
  hasGeneration: true,
  schemaType: 'V1CSIDriver',
  fieldSelector: defaultFieldSelector(),
  table: { columns: csiDriverColumns, row: csiDriverRow },

  defaults: defaultCSIDriver,
  validate: validateCSIDriver,
};

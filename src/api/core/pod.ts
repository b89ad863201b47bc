// core/v1 Pod: the unit the scheduler places and the kubelet runs, and the
// object whose volumes drive the whole storage flow (a pod's PVC volumes are
// what the scheduler binds, the AD controller attaches and the kubelet mounts).
//
// This file owns the pod's API semantics as the apiserver applies them:
//  - defaults (SetDefaults_PodSpec / _Container / _Volume of core/v1, plus the
//    few admission-time fields every real pod carries), exported so that pod
//    templates (Deployment, ReplicaSet, StatefulSet) default the same way;
//  - validation of the spec (containers, volumes, mounts and devices — the
//    parts that matter to storage — with upstream's messages), exported for
//    templates, and the update rule that a pod spec is immutable except for
//    images, activeDeadlineSeconds and added tolerations;
//  - status reset on create (phase Pending + the QoS class);
//  - the `kubectl get pods` row, reproducing printers.go's READY/STATUS/RESTARTS
//    logic, which is what users read to see whether a volume mount worked.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { fieldErrors } from '../../apimachinery/index.ts';
import { age } from '../../apimachinery/duration.ts';
import type { Quantity } from '../../apimachinery/quantity.ts';
import { compareQuantities, isValidQuantity, parseQuantity, quantitySign } from '../../apimachinery/quantity.ts';
import { isDNS1123Label } from '../../apimachinery/validation.ts';
import type { ResourceDef, TableCell, TableColumn } from '../resource.ts';
import { ageCell, ageColumn, column, nameCell, nameColumn, wideColumn } from '../table.ts';
import type { JsonObject } from './common.ts';
import {
  ALL_VERBS,
  arr,
  canonicalizeQuantities,
  canonicalizeQuantityField,
  differingPaths,
  ensureRec,
  keepOldStatus,
  metaNameField,
  metaNamespaceField,
  notFound,
  num,
  rec,
  semanticEqual,
  setDefault,
  specOf,
  statusOf,
  statusSubresource,
  str,
  validateMeta,
  verbs,
} from './common.ts';

// ---------------------------------------------------------------------------
// Defaults

const DEFAULT_MODE = 0o644; // 420: the mode configMap/secret/projected files get

/** Volume source fields a v1 Volume can carry, in the order upstream checks them; exactly one may be set. */
export const VOLUME_SOURCE_FIELDS: readonly string[] = [
  'emptyDir', 'hostPath', 'gitRepo', 'gcePersistentDisk', 'awsElasticBlockStore', 'secret', 'nfs', 'iscsi',
  'glusterfs', 'flexVolume', 'persistentVolumeClaim', 'rbd', 'cinder', 'cephfs', 'flocker', 'downwardAPI', 'fc',
  'azureFile', 'vsphereVolume', 'quobyte', 'azureDisk', 'photonPersistentDisk', 'portworxVolume', 'projected',
  'scaleIO', 'configMap', 'storageos', 'csi', 'ephemeral', 'image',
];

/**
 * The tag the runtime would pull, as docker reference parsing sees it: the part
 * after the last `:` of the last path element; `latest` when there is neither a
 * tag nor a digest.
 */
export function imageTag(image: string): string {
  let name = image;
  let digest = false;
  const at = name.indexOf('@');
  if (at >= 0) {
    name = name.slice(0, at);
    digest = true;
  }
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  const tag = colon > slash ? name.slice(colon + 1) : '';
  return tag === '' && !digest ? 'latest' : tag;
}

function setProbeDefaults(probe: unknown): void {
  const p = rec(probe);
  if (!p) return;
  setDefault(p, 'timeoutSeconds', 1);
  setDefault(p, 'periodSeconds', 10);
  setDefault(p, 'successThreshold', 1);
  setDefault(p, 'failureThreshold', 3);
  setHandlerDefaults(p);
}

function setHandlerDefaults(handler: unknown): void {
  const h = rec(handler);
  if (!h) return;
  const httpGet = rec(h.httpGet);
  if (httpGet) {
    setDefault(httpGet, 'path', '/');
    setDefault(httpGet, 'scheme', 'HTTP');
  }
}

function setFieldRefDefaults(source: unknown): void {
  const fieldRef = rec(rec(source)?.fieldRef);
  if (fieldRef) setDefault(fieldRef, 'apiVersion', 'v1');
}

function setContainerDefaults(container: unknown): void {
  const c = rec(container);
  if (!c) return;
  if (str(c.imagePullPolicy) === '') {
    c.imagePullPolicy = imageTag(str(c.image)) === 'latest' ? 'Always' : 'IfNotPresent';
  }
  setDefault(c, 'terminationMessagePath', '/dev/termination-log');
  setDefault(c, 'terminationMessagePolicy', 'File');
  const resources = ensureRec(c, 'resources');
  canonicalizeQuantities(resources.requests);
  canonicalizeQuantities(resources.limits);
  for (const port of arr(c.ports)) {
    const p = rec(port);
    if (p) setDefault(p, 'protocol', 'TCP');
  }
  for (const env of arr(c.env)) setFieldRefDefaults(rec(env)?.valueFrom);
  setProbeDefaults(c.livenessProbe);
  setProbeDefaults(c.readinessProbe);
  setProbeDefaults(c.startupProbe);
  const lifecycle = rec(c.lifecycle);
  if (lifecycle) {
    setHandlerDefaults(lifecycle.postStart);
    setHandlerDefaults(lifecycle.preStop);
  }
}

/** PersistentVolumeClaimSpec defaults (ephemeral volumes, StatefulSet claim templates). */
export function setClaimSpecDefaults(spec: unknown): void {
  const s = rec(spec);
  if (!s) return;
  setDefault(s, 'volumeMode', 'Filesystem');
  const resources = rec(s.resources);
  if (resources) {
    canonicalizeQuantities(resources.requests);
    canonicalizeQuantities(resources.limits);
  }
}

function setDownwardItemsDefaults(items: unknown): void {
  for (const item of arr(items)) setFieldRefDefaults(item);
}

function setVolumeDefaults(volume: unknown): void {
  const v = rec(volume);
  if (!v) return;
  if (!VOLUME_SOURCE_FIELDS.some((f) => v[f] !== undefined && v[f] !== null)) v.emptyDir = {};
  const configMap = rec(v.configMap);
  if (configMap) setDefault(configMap, 'defaultMode', DEFAULT_MODE);
  const secret = rec(v.secret);
  if (secret) setDefault(secret, 'defaultMode', DEFAULT_MODE);
  const downwardAPI = rec(v.downwardAPI);
  if (downwardAPI) {
    setDefault(downwardAPI, 'defaultMode', DEFAULT_MODE);
    setDownwardItemsDefaults(downwardAPI.items);
  }
  const projected = rec(v.projected);
  if (projected) {
    setDefault(projected, 'defaultMode', DEFAULT_MODE);
    for (const source of arr(projected.sources)) {
      const s = rec(source);
      if (!s) continue;
      setDownwardItemsDefaults(rec(s.downwardAPI)?.items);
      const token = rec(s.serviceAccountToken);
      if (token) setDefault(token, 'expirationSeconds', 3600);
    }
  }
  const hostPath = rec(v.hostPath);
  if (hostPath && (hostPath.type === undefined || hostPath.type === null)) hostPath.type = '';
  const emptyDir = rec(v.emptyDir);
  if (emptyDir) canonicalizeQuantityField(emptyDir, 'sizeLimit');
  const iscsi = rec(v.iscsi);
  if (iscsi) setDefault(iscsi, 'iscsiInterface', 'default');
  const ephemeral = rec(v.ephemeral);
  if (ephemeral) setClaimSpecDefaults(rec(ephemeral.volumeClaimTemplate)?.spec);
}

/**
 * Defaults of a PodSpec, shared by pods and pod templates. Also folds the
 * deprecated `serviceAccount` into `serviceAccountName` and mirrors it back, as
 * the v1 conversion does.
 */
export function setPodSpecDefaults(spec: JsonObject): void {
  setDefault(spec, 'dnsPolicy', 'ClusterFirst');
  setDefault(spec, 'restartPolicy', 'Always');
  if (rec(spec.securityContext) === undefined) spec.securityContext = {};
  if (num(spec.terminationGracePeriodSeconds) === undefined) spec.terminationGracePeriodSeconds = 30;
  setDefault(spec, 'schedulerName', 'default-scheduler');
  for (const c of arr(spec.initContainers)) setContainerDefaults(c);
  for (const c of arr(spec.containers)) setContainerDefaults(c);
  for (const c of arr(spec.ephemeralContainers)) setContainerDefaults(c);
  for (const v of arr(spec.volumes)) setVolumeDefaults(v);
  if (str(spec.serviceAccountName) === '' && str(spec.serviceAccount) !== '') spec.serviceAccountName = spec.serviceAccount;
  if (str(spec.serviceAccountName) !== '') spec.serviceAccount = spec.serviceAccountName;
}

/** Requests default to limits for each resource that has a limit but no request (pods only, not templates). */
function defaultRequestsFromLimits(container: unknown): void {
  const c = rec(container);
  const resources = rec(c?.resources);
  const limits = rec(resources?.limits);
  if (!resources || !limits) return;
  const requests = ensureRec(resources, 'requests');
  for (const [k, v] of Object.entries(limits)) if (requests[k] === undefined) requests[k] = v;
}

/** Keeps `podIP` and `podIPs` consistent, as the v1 conversion does. */
function setPodStatusDefaults(status: JsonObject): void {
  const ips = arr(status.podIPs);
  if (ips.length === 0 && str(status.podIP) !== '') status.podIPs = [{ ip: status.podIP }];
  else if (ips.length > 0 && str(status.podIP) === '') {
    const first = str(rec(ips[0])?.ip);
    if (first !== '') status.podIP = first;
  }
}

export function setPodDefaults(pod: KubeObject): void {
  const spec = specOf(pod);
  if (spec) {
    for (const c of arr(spec.initContainers)) defaultRequestsFromLimits(c);
    for (const c of arr(spec.containers)) defaultRequestsFromLimits(c);
    setPodSpecDefaults(spec);
    if (typeof spec.enableServiceLinks !== 'boolean') spec.enableServiceLinks = true;
    // What the ServiceAccount and Priority admission plugins add to every pod.
    setDefault(spec, 'serviceAccountName', 'default');
    setDefault(spec, 'serviceAccount', spec.serviceAccountName);
    if (num(spec.priority) === undefined) spec.priority = 0;
    setDefault(spec, 'preemptionPolicy', 'PreemptLowerPriority');
  }
  const status = statusOf(pod);
  if (status) setPodStatusDefaults(status);
}

// ---------------------------------------------------------------------------
// QoS class (pkg/apis/core/helper/qos): only cpu and memory count.

const QOS_RESOURCES = ['cpu', 'memory'];

function quantityOf(value: unknown): Quantity | undefined {
  const text = typeof value === 'number' ? String(value) : value;
  return typeof text === 'string' && isValidQuantity(text) ? parseQuantity(text) : undefined;
}

function addQuantities(a: Quantity, b: Quantity): Quantity {
  const s = Math.min(a.scale, b.scale);
  const unscaled = a.unscaled * 10n ** BigInt(a.scale - s) + b.unscaled * 10n ** BigInt(b.scale - s);
  return { unscaled, scale: s, format: a.format };
}

export type PodQOSClass = 'Guaranteed' | 'Burstable' | 'BestEffort';

/** Sums cpu/memory requests and limits over all containers; only positive quantities count. */
export function computePodQOS(pod: KubeObject): PodQOSClass {
  const spec = specOf(pod) ?? {};
  const requests = new Map<string, Quantity>();
  const limits = new Map<string, Quantity>();
  const add = (into: Map<string, Quantity>, name: string, q: Quantity): void => {
    const cur = into.get(name);
    into.set(name, cur === undefined ? q : addQuantities(cur, q));
  };
  let guaranteed = true;
  for (const container of [...arr(spec.containers), ...arr(spec.initContainers)]) {
    const resources = rec(rec(container)?.resources) ?? {};
    for (const [name, value] of Object.entries(rec(resources.requests) ?? {})) {
      const q = quantityOf(value);
      if (QOS_RESOURCES.includes(name) && q !== undefined && quantitySign(q) > 0) add(requests, name, q);
    }
    const found = new Set<string>();
    for (const [name, value] of Object.entries(rec(resources.limits) ?? {})) {
      const q = quantityOf(value);
      if (QOS_RESOURCES.includes(name) && q !== undefined && quantitySign(q) > 0) {
        found.add(name);
        add(limits, name, q);
      }
    }
    if (!QOS_RESOURCES.every((r) => found.has(r))) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed) {
    for (const [name, req] of requests) {
      const lim = limits.get(name);
      if (lim === undefined || compareQuantities(lim, req) !== 0) {
        guaranteed = false;
        break;
      }
    }
  }
  return guaranteed && requests.size === limits.size ? 'Guaranteed' : 'Burstable';
}

// ---------------------------------------------------------------------------
// Validation

const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
const TERMINATION_MESSAGE_POLICIES = ['File', 'FallbackToLogsOnError'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const HOST_PATH_TYPES = ['', 'BlockDevice', 'CharDevice', 'Directory', 'DirectoryOrCreate', 'File', 'FileOrCreate', 'Socket'];

function validateLabelName(value: string, field: string): FieldError[] {
  return isDNS1123Label(value).map((msg) => fieldErrors.invalid(field, value, msg));
}

function validateDefaultMode(value: unknown, field: string): FieldError[] {
  const n = num(value);
  if (n !== undefined && (n < 0 || n > 0o777 || !Number.isInteger(n))) {
    return [fieldErrors.invalid(field, n, 'must be a number between 0 and 0777 (octal), both inclusive')];
  }
  return [];
}

function isAbsolutePath(p: string): boolean {
  return p.startsWith('/');
}

/** One source per volume; only the first one present is validated further, as upstream does. */
function validateVolumeSource(v: JsonObject, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const present = VOLUME_SOURCE_FIELDS.filter((f) => v[f] !== undefined && v[f] !== null);
  if (present.length === 0) return [fieldErrors.required(path, 'must specify a volume type')];
  for (const extra of present.slice(1)) {
    errs.push(fieldErrors.forbidden(`${path}.${extra}`, 'may not specify more than 1 volume type'));
  }
  const kind = present[0];
  const source = rec(v[kind]) ?? {};
  const at = (f: string): string => `${path}.${kind}.${f}`;
  switch (kind) {
    case 'hostPath': {
      if (str(source.path) === '') errs.push(fieldErrors.required(at('path')));
      const t = source.type;
      if (typeof t === 'string' && !HOST_PATH_TYPES.includes(t)) errs.push(fieldErrors.notSupported(at('type'), t, HOST_PATH_TYPES));
      break;
    }
    case 'persistentVolumeClaim':
      if (str(source.claimName) === '') errs.push(fieldErrors.required(at('claimName')));
      break;
    case 'configMap':
      if (str(source.name) === '') errs.push(fieldErrors.required(at('name')));
      errs.push(...validateDefaultMode(source.defaultMode, at('defaultMode')));
      break;
    case 'secret':
      if (str(source.secretName) === '') errs.push(fieldErrors.required(at('secretName')));
      errs.push(...validateDefaultMode(source.defaultMode, at('defaultMode')));
      break;
    case 'downwardAPI':
    case 'projected':
      errs.push(...validateDefaultMode(source.defaultMode, at('defaultMode')));
      break;
    case 'nfs':
      if (str(source.server) === '') errs.push(fieldErrors.required(at('server')));
      if (str(source.path) === '') errs.push(fieldErrors.required(at('path')));
      else if (!isAbsolutePath(str(source.path))) errs.push(fieldErrors.invalid(at('path'), source.path, 'must be an absolute path'));
      break;
    case 'csi':
      if (str(source.driver) === '') errs.push(fieldErrors.required(at('driver')));
      break;
    case 'ephemeral':
      if (rec(source.volumeClaimTemplate) === undefined) errs.push(fieldErrors.required(at('volumeClaimTemplate')));
      break;
    default:
      break;
  }
  return errs;
}

interface VolumeInfo {
  /** The volume can back a block device (PVC or generic ephemeral). */
  block: boolean;
}

function validateVolumes(volumes: unknown, path: string): { errs: FieldError[]; byName: Map<string, VolumeInfo> } {
  const errs: FieldError[] = [];
  const byName = new Map<string, VolumeInfo>();
  arr(volumes).forEach((volume, i) => {
    const p = `${path}[${i}]`;
    const v = rec(volume);
    if (!v) {
      errs.push(fieldErrors.required(p));
      return;
    }
    const name = str(v.name);
    if (name === '') errs.push(fieldErrors.required(`${p}.name`));
    else {
      errs.push(...validateLabelName(name, `${p}.name`));
      if (byName.has(name)) errs.push(fieldErrors.duplicate(`${p}.name`, name));
    }
    if (name !== '' && !byName.has(name)) {
      byName.set(name, { block: v.persistentVolumeClaim !== undefined || v.ephemeral !== undefined });
    }
    errs.push(...validateVolumeSource(v, p));
  });
  return { errs, byName };
}

function validateVolumeMounts(c: JsonObject, path: string, volumes: Map<string, VolumeInfo>): FieldError[] {
  const errs: FieldError[] = [];
  const deviceNames = new Set(arr(c.volumeDevices).map((d) => str(rec(d)?.name)));
  const mountPaths = new Set<string>();
  arr(c.volumeMounts).forEach((mount, i) => {
    const p = `${path}.volumeMounts[${i}]`;
    const m = rec(mount) ?? {};
    const name = str(m.name);
    if (name === '') errs.push(fieldErrors.required(`${p}.name`));
    if (!volumes.has(name)) errs.push(notFound(`${p}.name`, name));
    const mountPath = str(m.mountPath);
    if (mountPath === '') errs.push(fieldErrors.required(`${p}.mountPath`));
    if (mountPaths.has(mountPath)) errs.push(fieldErrors.invalid(`${p}.mountPath`, mountPath, 'must be unique'));
    mountPaths.add(mountPath);
    if (name !== '' && deviceNames.has(name)) {
      errs.push(fieldErrors.invalid(`${p}.name`, name, 'must not already exist in volumeDevices'));
    }
    const subPath = str(m.subPath);
    if (subPath !== '') {
      if (isAbsolutePath(subPath)) errs.push(fieldErrors.invalid(`${p}.subPath`, subPath, 'must be a relative path'));
      else if (subPath.split('/').includes('..')) errs.push(fieldErrors.invalid(`${p}.subPath`, subPath, "must not contain '..'"));
    }
  });
  const devicePaths = new Set<string>();
  const seenDevices = new Set<string>();
  arr(c.volumeDevices).forEach((device, i) => {
    const p = `${path}.volumeDevices[${i}]`;
    const d = rec(device) ?? {};
    const name = str(d.name);
    const devicePath = str(d.devicePath);
    if (name === '') errs.push(fieldErrors.required(`${p}.name`));
    if (seenDevices.has(name)) errs.push(fieldErrors.invalid(`${p}.name`, name, 'must be unique'));
    seenDevices.add(name);
    const volume = volumes.get(name);
    if (name !== '' && volume && !volume.block) {
      errs.push(fieldErrors.invalid(`${p}.name`, name, 'can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode'));
    }
    if (volume === undefined) errs.push(notFound(`${p}.name`, name));
    if (devicePath === '') errs.push(fieldErrors.required(`${p}.devicePath`));
    if (devicePaths.has(devicePath)) errs.push(fieldErrors.invalid(`${p}.devicePath`, devicePath, 'must be unique'));
    devicePaths.add(devicePath);
    if (devicePath !== '' && mountPaths.has(devicePath)) {
      errs.push(fieldErrors.invalid(`${p}.devicePath`, devicePath, 'can not be used by volumeMounts'));
    }
  });
  return errs;
}

function validateResources(c: JsonObject, path: string): FieldError[] {
  const errs: FieldError[] = [];
  const resources = rec(c.resources);
  if (!resources) return errs;
  const parsed = { limits: new Map<string, Quantity>(), requests: new Map<string, Quantity>() };
  for (const kind of ['limits', 'requests'] as const) {
    for (const [name, value] of Object.entries(rec(resources[kind]) ?? {})) {
      const field = `${path}.resources.${kind}[${name}]`;
      const q = quantityOf(value);
      if (q === undefined) errs.push(fieldErrors.invalid(field, value, 'must be a valid quantity'));
      else if (quantitySign(q) < 0) errs.push(fieldErrors.invalid(field, value, 'must be greater than or equal to 0'));
      else parsed[kind].set(name, q);
    }
  }
  for (const [name, req] of parsed.requests) {
    const lim = parsed.limits.get(name);
    if (lim !== undefined && compareQuantities(req, lim) > 0) {
      const reqText = String(rec(resources.requests)?.[name]);
      const limText = String(rec(resources.limits)?.[name]);
      errs.push(fieldErrors.invalid(`${path}.resources.requests`, reqText, `must be less than or equal to ${name} limit of ${limText}`));
    }
  }
  return errs;
}

function validateContainer(
  container: unknown,
  path: string,
  volumes: Map<string, VolumeInfo>,
  names: Set<string>,
): FieldError[] {
  const errs: FieldError[] = [];
  const c = rec(container);
  if (!c) return [fieldErrors.required(path)];
  const name = str(c.name);
  if (name === '') errs.push(fieldErrors.required(`${path}.name`));
  else {
    errs.push(...validateLabelName(name, `${path}.name`));
    if (names.has(name)) errs.push(fieldErrors.duplicate(`${path}.name`, name));
    names.add(name);
  }
  const image = str(c.image);
  if (image === '') errs.push(fieldErrors.required(`${path}.image`));
  else if (image.trim() !== image) {
    errs.push(fieldErrors.invalid(`${path}.image`, image, 'must not have leading or trailing whitespace'));
  }
  const pull = c.imagePullPolicy;
  if (typeof pull === 'string' && pull !== '' && !PULL_POLICIES.includes(pull)) {
    errs.push(fieldErrors.notSupported(`${path}.imagePullPolicy`, pull, PULL_POLICIES));
  }
  const tmp = c.terminationMessagePolicy;
  if (typeof tmp === 'string' && tmp !== '' && !TERMINATION_MESSAGE_POLICIES.includes(tmp)) {
    errs.push(fieldErrors.notSupported(`${path}.terminationMessagePolicy`, tmp, TERMINATION_MESSAGE_POLICIES));
  }
  arr(c.ports).forEach((port, i) => {
    const p = rec(port) ?? {};
    const pp = `${path}.ports[${i}]`;
    const cp = num(p.containerPort);
    if (cp === undefined) errs.push(fieldErrors.required(`${pp}.containerPort`));
    else if (cp < 1 || cp > 65535) errs.push(fieldErrors.invalid(`${pp}.containerPort`, cp, 'must be between 1 and 65535, inclusive'));
    const proto = p.protocol;
    if (typeof proto === 'string' && !PROTOCOLS.includes(proto)) {
      errs.push(fieldErrors.notSupported(`${pp}.protocol`, proto, PROTOCOLS));
    }
  });
  errs.push(...validateVolumeMounts(c, path, volumes));
  errs.push(...validateResources(c, path));
  return errs;
}

/**
 * ValidatePodSpec: `path` is where the spec sits (`spec`, `spec.template.spec`).
 * `claimVolumes` are names mounts may use besides spec.volumes (a StatefulSet's
 * volumeClaimTemplates, which become PVC volumes of its pods).
 */
export function validatePodSpec(specValue: unknown, path: string, claimVolumes: readonly string[] = []): FieldError[] {
  const spec = rec(specValue);
  if (!spec) return [fieldErrors.required(path)];
  const { errs, byName } = validateVolumes(spec.volumes, `${path}.volumes`);
  for (const name of claimVolumes) if (!byName.has(name)) byName.set(name, { block: true });
  const names = new Set<string>();
  arr(spec.initContainers).forEach((c, i) => errs.push(...validateContainer(c, `${path}.initContainers[${i}]`, byName, names)));
  const containers = arr(spec.containers);
  if (containers.length === 0) errs.push(fieldErrors.required(`${path}.containers`));
  containers.forEach((c, i) => errs.push(...validateContainer(c, `${path}.containers[${i}]`, byName, names)));
  const restartPolicy = spec.restartPolicy;
  if (typeof restartPolicy === 'string' && !RESTART_POLICIES.includes(restartPolicy)) {
    errs.push(fieldErrors.notSupported(`${path}.restartPolicy`, restartPolicy, RESTART_POLICIES));
  }
  const dnsPolicy = spec.dnsPolicy;
  if (typeof dnsPolicy === 'string' && !DNS_POLICIES.includes(dnsPolicy)) {
    errs.push(fieldErrors.notSupported(`${path}.dnsPolicy`, dnsPolicy, DNS_POLICIES));
  }
  const grace = num(spec.terminationGracePeriodSeconds);
  if (grace !== undefined && grace < 0) {
    errs.push(fieldErrors.invalid(`${path}.terminationGracePeriodSeconds`, grace, 'must be greater than or equal to 0'));
  }
  const deadline = num(spec.activeDeadlineSeconds);
  if (deadline !== undefined && deadline <= 0) {
    errs.push(fieldErrors.invalid(`${path}.activeDeadlineSeconds`, deadline, 'must be between 1 and 2147483647, inclusive'));
  }
  return errs;
}

const POD_UPDATE_FORBIDDEN =
  'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

function validateOnlyAddedTolerations(next: unknown, prev: unknown): FieldError[] {
  const nextList = arr(next);
  for (const old of arr(prev)) {
    const oldRec = rec(old) ?? {};
    const kept = nextList.some((t) => {
      const tr = rec(t) ?? {};
      return semanticEqual({ ...oldRec, tolerationSeconds: undefined }, { ...tr, tolerationSeconds: undefined });
    });
    if (!kept) return [fieldErrors.forbidden('spec.tolerations', 'existing toleration can not be modified except its tolerationSeconds')];
  }
  return [];
}

/** ValidatePodUpdate's spec rule: only images, activeDeadlineSeconds and added tolerations may change. */
function validatePodSpecUpdate(pod: KubeObject, old: KubeObject): FieldError[] {
  const spec = specOf(pod) ?? {};
  const oldSpec = specOf(old) ?? {};
  const errs: FieldError[] = [];
  for (const key of ['containers', 'initContainers'] as const) {
    if (arr(spec[key]).length !== arr(oldSpec[key]).length) {
      return [fieldErrors.forbidden(`spec.${key}`, 'pod updates may not add or remove containers')];
    }
  }
  errs.push(...validateOnlyAddedTolerations(spec.tolerations, oldSpec.tolerations));
  // Overwrite what may change with the old values, then compare the rest.
  const munged: JsonObject = structuredClone(spec);
  for (const key of ['containers', 'initContainers'] as const) {
    const oldList = arr(oldSpec[key]);
    munged[key] = arr(munged[key]).map((c, i) => {
      const r = rec(c);
      return r ? { ...r, image: rec(oldList[i])?.image } : c;
    });
  }
  munged.activeDeadlineSeconds = oldSpec.activeDeadlineSeconds;
  munged.tolerations = oldSpec.tolerations;
  munged.schedulingGates = oldSpec.schedulingGates;
  const oldGrace = num(oldSpec.terminationGracePeriodSeconds);
  if (oldGrace !== undefined && oldGrace < 0 && num(munged.terminationGracePeriodSeconds) === 1) {
    munged.terminationGracePeriodSeconds = oldGrace;
  }
  if (!semanticEqual(munged, oldSpec)) {
    const changed = differingPaths(oldSpec, munged, 'spec');
    errs.push(fieldErrors.forbidden('spec', `${POD_UPDATE_FORBIDDEN}\n  changed: ${changed.join(', ')}`));
  }
  return errs;
}

function validatePod(pod: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errs = [...validateMeta(pod, true, old), ...validatePodSpec(pod.spec, 'spec')];
  if (old !== undefined) errs.push(...validatePodSpecUpdate(pod, old));
  return errs;
}

// ---------------------------------------------------------------------------
// Table (printers.go printPod)

const podColumns: readonly TableColumn[] = [
  nameColumn,
  column('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
  column('Status', 'string', 'The aggregate status of the containers in this pod.'),
  column('Restarts', 'string', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'),
  ageColumn,
  wideColumn('IP', 'string', 'podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.'),
  wideColumn('Node', 'string', 'NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName.'),
  wideColumn('Nominated Node', 'string', 'nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.'),
  wideColumn('Readiness Gates', 'string', 'If specified, all readiness gates will be evaluated for pod readiness.'),
];

function conditionTrue(status: JsonObject, type: string): boolean {
  const c = arr(status.conditions).map((x) => rec(x) ?? {}).find((x) => x.type === type);
  return c !== undefined && c.status === 'True';
}

/** Keeps the later of two RFC 3339 timestamps. */
function later(a: string | undefined, b: unknown): string | undefined {
  const t = str(b);
  if (t === '' || Number.isNaN(Date.parse(t))) return a;
  if (a === undefined || Date.parse(t) > Date.parse(a)) return t;
  return a;
}

function terminatedText(t: JsonObject, prefix: string): string {
  const reason = str(t.reason);
  if (reason !== '') return prefix + reason;
  const signal = num(t.signal) ?? 0;
  if (signal !== 0) return `${prefix}Signal:${signal}`;
  return `${prefix}ExitCode:${num(t.exitCode) ?? 0}`;
}

export function podRow(pod: KubeObject, now: Date): TableCell[] {
  const spec = specOf(pod) ?? {};
  const status = statusOf(pod) ?? {};
  const initContainers = arr(spec.initContainers).map((c) => rec(c) ?? {});
  const restartableInit = new Set(initContainers.filter((c) => c.restartPolicy === 'Always').map((c) => str(c.name)));
  const total = arr(spec.containers).length + restartableInit.size;
  let ready = 0;
  let restarts = 0;
  let restartableInitRestarts = 0;
  let lastRestart: string | undefined;
  let lastRestartableInitRestart: string | undefined;

  const phase = str(status.phase);
  let reason = str(status.reason) !== '' ? str(status.reason) : phase;
  for (const c of arr(status.conditions).map((x) => rec(x) ?? {})) {
    if (c.type === 'PodScheduled' && c.reason === 'SchedulingGated') reason = 'SchedulingGated';
  }

  let initializing = false;
  const initStatuses = arr(status.initContainerStatuses).map((x) => rec(x) ?? {});
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i];
    const count = num(cs.restartCount) ?? 0;
    const finishedAt = rec(rec(cs.lastState)?.terminated)?.finishedAt;
    restarts += count;
    lastRestart = later(lastRestart, finishedAt);
    const isRestartable = restartableInit.has(str(cs.name));
    if (isRestartable) {
      restartableInitRestarts += count;
      lastRestartableInitRestart = later(lastRestartableInitRestart, finishedAt);
    }
    const state = rec(cs.state) ?? {};
    const terminated = rec(state.terminated);
    const waiting = rec(state.waiting);
    if (terminated && (num(terminated.exitCode) ?? 0) === 0) continue;
    if (isRestartable && cs.started === true) {
      if (cs.ready === true) ready++;
      continue;
    }
    if (terminated) reason = terminatedText(terminated, 'Init:');
    else if (waiting && str(waiting.reason) !== '' && waiting.reason !== 'PodInitializing') reason = `Init:${str(waiting.reason)}`;
    else reason = `Init:${i}/${initContainers.length}`;
    initializing = true;
    break;
  }

  if (!initializing || conditionTrue(status, 'Initialized')) {
    restarts = restartableInitRestarts;
    lastRestart = lastRestartableInitRestart;
    let hasRunning = false;
    const statuses = arr(status.containerStatuses).map((x) => rec(x) ?? {});
    for (let i = statuses.length - 1; i >= 0; i--) {
      const cs = statuses[i];
      restarts += num(cs.restartCount) ?? 0;
      lastRestart = later(lastRestart, rec(rec(cs.lastState)?.terminated)?.finishedAt);
      const state = rec(cs.state) ?? {};
      const waiting = rec(state.waiting);
      const terminated = rec(state.terminated);
      if (waiting && str(waiting.reason) !== '') reason = str(waiting.reason);
      else if (terminated) reason = terminatedText(terminated, '');
      else if (cs.ready === true && rec(state.running) !== undefined) {
        hasRunning = true;
        ready++;
      }
    }
    // A finished container next to a running one: the pod as a whole is still up.
    if (reason === 'Completed' && hasRunning) reason = conditionTrue(status, 'Ready') ? 'Running' : 'NotReady';
  }

  const deleting = pod.metadata.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null;
  if (deleting && status.reason === 'NodeLost') reason = 'Unknown';
  else if (deleting && phase !== 'Succeeded' && phase !== 'Failed') reason = 'Terminating';

  let restartsText = String(restarts);
  if (restarts !== 0 && lastRestart !== undefined) restartsText = `${restarts} (${age(lastRestart, now)} ago)`;

  let ip = str(rec(arr(status.podIPs)[0])?.ip);
  if (ip === '') ip = str(status.podIP);
  const gates = arr(spec.readinessGates).map((g) => str(rec(g)?.conditionType));
  let gatesText = '<none>';
  if (gates.length > 0) {
    const conds = arr(status.conditions).map((x) => rec(x) ?? {});
    const trueCount = gates.filter((g) => conds.find((c) => c.type === g)?.status === 'True').length;
    gatesText = `${trueCount}/${gates.length}`;
  }
  return [
    nameCell(pod),
    `${ready}/${total}`,
    reason,
    restartsText,
    ageCell(pod, now),
    ip === '' ? '<none>' : ip,
    str(spec.nodeName) || '<none>',
    str(status.nominatedNodeName) || '<none>',
    gatesText,
  ];
}

// ---------------------------------------------------------------------------
// The definition

function podIPs(pod: KubeObject): string[] {
  const status = statusOf(pod) ?? {};
  const ips = arr(status.podIPs).map((x) => str(rec(x)?.ip)).filter((x) => x !== '');
  if (ips.length === 0 && str(status.podIP) !== '') ips.push(str(status.podIP));
  return ips;
}

export const podDef: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'Pod',
  listKind: 'PodList',
  resource: 'pods',
  singular: 'pod',
  namespaced: true,
  shortNames: ['po'],
  categories: ['all'],
  verbs: verbs(ALL_VERBS),
  subresources: [
    statusSubresource(),
    { name: 'log', verbs: ['get'] },
    { name: 'exec', responseKind: { group: '', version: 'v1', kind: 'PodExecOptions' }, verbs: ['create', 'get'] },
    { name: 'attach', responseKind: { group: '', version: 'v1', kind: 'PodAttachOptions' }, verbs: ['create', 'get'] },
    { name: 'portforward', responseKind: { group: '', version: 'v1', kind: 'PodPortForwardOptions' }, verbs: ['create', 'get'] },
    { name: 'eviction', responseKind: { group: 'policy', version: 'v1', kind: 'Eviction' }, verbs: ['create'] },
    { name: 'binding', responseKind: { group: '', version: 'v1', kind: 'Binding' }, verbs: ['create'] },
  ],
  hasStatus: true,
  hasGeneration: true,
  schemaType: 'V1Pod',
  fieldSelector: {
    family: 'custom',
    fields: {
      'metadata.name': metaNameField,
      'metadata.namespace': metaNamespaceField,
      'spec.nodeName': (o) => str(specOf(o)?.nodeName),
      'spec.restartPolicy': (o) => str(specOf(o)?.restartPolicy),
      'spec.schedulerName': (o) => str(specOf(o)?.schedulerName),
      'spec.serviceAccountName': (o) => str(specOf(o)?.serviceAccountName),
      'spec.hostNetwork': (o) => String(specOf(o)?.hostNetwork === true),
      'status.phase': (o) => str(statusOf(o)?.phase),
      'status.podIP': (o) => podIPs(o)[0] ?? '',
      'status.podIPs': (o) => podIPs(o).join(','),
      'status.nominatedNodeName': (o) => str(statusOf(o)?.nominatedNodeName),
    },
    aliases: { 'spec.host': 'spec.nodeName' },
  },
  table: { columns: podColumns, row: podRow },
  defaults: setPodDefaults,
  prepareForCreate(pod) {
    pod.status = { phase: 'Pending', qosClass: computePodQOS(pod) };
    const spec = specOf(pod);
    if (spec && arr(spec.schedulingGates).length > 0) {
      (pod.status as JsonObject).conditions = [
        {
          type: 'PodScheduled',
          status: 'False',
          reason: 'SchedulingGated',
          message: 'Scheduling is blocked due to non-empty scheduling gates',
          lastProbeTime: null,
          lastTransitionTime: null,
        },
      ];
    }
  },
  prepareForUpdate: keepOldStatus,
  validate: validatePod,
};

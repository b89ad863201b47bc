// core/v1 Node. The kubelet registers its node with the status already filled
// in (capacity, addresses, nodeInfo), so — unlike most kinds with a status —
// a create keeps the status it was given (as upstream's node strategy does);
// later writes to the main resource keep the stored status, which the kubelet
// maintains through /status. The table's STATUS and ROLES cells follow
// printers.go printNode.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { fieldErrors } from '../../apimachinery/index.ts';
import type { ResourceDef, TableCell } from '../resource.ts';
import { ageCell, ageColumn, column, nameCell, nameColumn, wideColumn } from '../table.ts';
import {
  ALL_VERBS,
  arr,
  canonicalizeQuantities,
  keepOldStatus,
  metaNameField,
  rec,
  specOf,
  statusOf,
  statusSubresource,
  str,
  validateMeta,
  verbs,
} from './common.ts';

const ROLE_LABEL_PREFIX = 'node-role.kubernetes.io/';
const ROLE_LABEL = 'kubernetes.io/role';
const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

/** Roles from `node-role.kubernetes.io/<role>` (any value) and `kubernetes.io/role=<role>`, sorted. */
export function nodeRoles(node: KubeObject): string[] {
  const roles = new Set<string>();
  for (const [key, value] of Object.entries(node.metadata.labels ?? {})) {
    if (key.startsWith(ROLE_LABEL_PREFIX)) {
      const role = key.slice(ROLE_LABEL_PREFIX.length);
      if (role !== '') roles.add(role);
    } else if (key === ROLE_LABEL && value !== '') {
      roles.add(value);
    }
  }
  return [...roles].sort();
}

/** `Ready`, `NotReady` or `Unknown` from the Ready condition, plus `,SchedulingDisabled` when cordoned. */
export function nodeStatusText(node: KubeObject): string {
  const parts: string[] = [];
  const ready = arr(statusOf(node)?.conditions)
    .map((c) => rec(c) ?? {})
    .find((c) => c.type === 'Ready');
  if (ready !== undefined) parts.push(ready.status === 'True' ? 'Ready' : 'NotReady');
  else parts.push('Unknown');
  if (specOf(node)?.unschedulable === true) parts.push('SchedulingDisabled');
  return parts.join(',');
}

function address(node: KubeObject, type: string): string {
  const found = arr(statusOf(node)?.addresses)
    .map((a) => rec(a) ?? {})
    .find((a) => a.type === type);
  const value = found ? str(found.address) : '';
  return value === '' ? '<none>' : value;
}

function nodeRow(node: KubeObject, now: Date): TableCell[] {
  const info = rec(statusOf(node)?.nodeInfo) ?? {};
  const orUnknown = (v: unknown): string => (str(v) === '' ? '<unknown>' : str(v));
  const roles = nodeRoles(node);
  return [
    nameCell(node),
    nodeStatusText(node),
    roles.length === 0 ? '<none>' : roles.join(','),
    ageCell(node, now),
    str(info.kubeletVersion),
    address(node, 'InternalIP'),
    address(node, 'ExternalIP'),
    orUnknown(info.osImage),
    orUnknown(info.kernelVersion),
    orUnknown(info.containerRuntimeVersion),
  ];
}

function validateNode(node: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errs = validateMeta(node, false, old);
  arr(specOf(node)?.taints).forEach((t, i) => {
    const taint = rec(t) ?? {};
    const path = `spec.taints[${i}]`;
    if (str(taint.key) === '') errs.push(fieldErrors.required(`${path}.key`));
    const effect = str(taint.effect);
    if (effect === '') errs.push(fieldErrors.required(`${path}.effect`));
    else if (!TAINT_EFFECTS.includes(effect)) errs.push(fieldErrors.notSupported(`${path}.effect`, effect, TAINT_EFFECTS));
  });
  return errs;
}

export const nodeDef: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'Node',
  listKind: 'NodeList',
  resource: 'nodes',
  singular: 'node',
  namespaced: false,
  shortNames: ['no'],
  categories: [],
  verbs: verbs(ALL_VERBS),
  subresources: [
    statusSubresource(),
    {
      name: 'proxy',
      responseKind: { group: '', version: 'v1', kind: 'NodeProxyOptions' },
      verbs: ['create', 'delete', 'get', 'patch', 'update'],
    },
  ],
  hasStatus: true,
  hasGeneration: true,
  schemaType: 'V1Node',
  fieldSelector: {
    family: 'custom',
    fields: {
      'metadata.name': metaNameField,
      'spec.unschedulable': (o) => String(specOf(o)?.unschedulable === true),
    },
  },
  table: {
    columns: [
      nameColumn,
      column('Status', 'string', 'The status of the node'),
      column('Roles', 'string', 'The roles of the node'),
      ageColumn,
      column('Version', 'string', 'Kubelet Version reported by the node.'),
      wideColumn('Internal-IP', 'string', 'List of addresses reachable to the node. Queried from cloud provider, if available.'),
      wideColumn('External-IP', 'string', 'List of addresses reachable to the node. Queried from cloud provider, if available.'),
      wideColumn('OS-Image', 'string', 'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).'),
      wideColumn('Kernel-Version', 'string', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
      wideColumn('Container-Runtime', 'string', 'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).'),
    ],
    row: nodeRow,
  },
  defaults(node) {
    const status = statusOf(node);
    if (!status) return;
    canonicalizeQuantities(status.capacity);
    canonicalizeQuantities(status.allocatable);
    if (rec(status.allocatable) === undefined && rec(status.capacity) !== undefined) {
      status.allocatable = structuredClone(status.capacity);
    }
  },
  prepareForUpdate: keepOldStatus,
  validate: validateNode,
};

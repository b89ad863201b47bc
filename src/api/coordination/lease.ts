// coordination.k8s.io/v1 Lease: the kubelet's heartbeat (one Lease per node in
// kube-node-lease, renewed every few seconds) and the lock of leader election.
// `kubectl describe node` reads it, so it is served even when nothing else
// cares.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { fieldErrors } from '../../apimachinery/index.ts';
import type { ResourceDef, TableCell } from '../resource.ts';
import { ageCell, ageColumn, column, nameCell, nameColumn } from '../table.ts';
import { ALL_VERBS, defaultFieldSelector, num, specOf, str, validateMeta, verbs } from '../core/common.ts';

export const COORDINATION_GROUP = 'coordination.k8s.io';
/** The namespace holding one heartbeat Lease per node. */
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

const STRATEGIES = ['OldestEmulationVersion'];

function validateLease(lease: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errs = validateMeta(lease, true, old);
  const spec = specOf(lease) ?? {};
  const duration = num(spec.leaseDurationSeconds);
  if (duration !== undefined && duration <= 0) {
    errs.push(fieldErrors.invalid('spec.leaseDurationSeconds', duration, 'must be greater than 0'));
  }
  const transitions = num(spec.leaseTransitions);
  if (transitions !== undefined && transitions < 0) {
    errs.push(fieldErrors.invalid('spec.leaseTransitions', transitions, 'must be greater than or equal to 0'));
  }
  const strategy = str(spec.strategy);
  if (spec.strategy !== undefined && spec.strategy !== null && !STRATEGIES.includes(strategy)) {
    errs.push(fieldErrors.notSupported('spec.strategy', strategy, STRATEGIES));
  }
  if (str(spec.preferredHolder) !== '' && strategy === '') {
    errs.push(fieldErrors.forbidden('spec.preferredHolder', 'may only be specified if `strategy` is defined'));
  }
  return errs;
}

function leaseRow(lease: KubeObject, now: Date): TableCell[] {
  return [nameCell(lease), str(specOf(lease)?.holderIdentity), ageCell(lease, now)];
}

export const leaseDef: ResourceDef = {
  group: COORDINATION_GROUP,
  version: 'v1',
  kind: 'Lease',
  listKind: 'LeaseList',
  resource: 'leases',
  singular: 'lease',
  namespaced: true,
  shortNames: [],
  categories: [],
  verbs: verbs(ALL_VERBS),
  subresources: [],
  hasStatus: false,
  hasGeneration: true,
  schemaType: 'V1Lease',
  fieldSelector: defaultFieldSelector(),
  table: {
    columns: [nameColumn, column('Holder', 'string', 'holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.'), ageColumn],
    row: leaseRow,
  },
  validate: validateLease,
};

// core/v1 Namespace. Cluster-scoped, named by a DNS label, and the one kind
// whose deletion is a two-step dance: the `kubernetes` finalizer in
// spec.finalizers (added on create) holds the namespace in Terminating until
// the namespace controller has emptied it and removed the finalizer through
// the /finalize subresource. Plain updates therefore never touch
// spec.finalizers, and the status is only written through /status.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { fieldErrors } from '../../apimachinery/index.ts';
import type { ResourceDef, TableCell } from '../resource.ts';
import { ageCell, ageColumn, column, nameCell, nameColumn } from '../table.ts';
import {
  NAMESPACE_VERBS,
  arr,
  ensureRec,
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

export const FINALIZER_KUBERNETES = 'kubernetes';
/** The label every namespace carries with its own name (for namespace selectors). */
export const LABEL_METADATA_NAME = 'kubernetes.io/metadata.name';

export type NamespacePhase = 'Active' | 'Terminating';

function namespaceRow(ns: KubeObject, now: Date): TableCell[] {
  return [nameCell(ns), str(statusOf(ns)?.phase), ageCell(ns, now)];
}

function validateNamespace(ns: KubeObject, old: KubeObject | undefined): FieldError[] {
  const errs = validateMeta(ns, false, old, 'label');
  const name = ns.metadata.name ?? '';
  const label = ns.metadata.labels?.[LABEL_METADATA_NAME];
  if (name !== '' && label !== undefined && label !== name) {
    errs.push(fieldErrors.invalid(`metadata.labels[${LABEL_METADATA_NAME}]`, label, `must be ${name}`));
  }
  const phase = statusOf(ns)?.phase;
  if (old === undefined && typeof phase === 'string' && phase !== 'Active' && phase !== 'Terminating') {
    errs.push(fieldErrors.notSupported('status.phase', phase, ['Active', 'Terminating']));
  }
  return errs;
}

export const namespaceDef: ResourceDef = {
  group: '',
  version: 'v1',
  kind: 'Namespace',
  listKind: 'NamespaceList',
  resource: 'namespaces',
  singular: 'namespace',
  namespaced: false,
  shortNames: ['ns'],
  categories: [],
  verbs: verbs(NAMESPACE_VERBS),
  subresources: [
    statusSubresource(),
    { name: 'finalize', verbs: ['update'] },
  ],
  hasStatus: true,
  hasGeneration: true,
  schemaType: 'V1Namespace',
  fieldSelector: {
    family: 'custom',
    fields: {
      'metadata.name': metaNameField,
      'status.phase': (o) => str(statusOf(o)?.phase),
    },
  },
  table: {
    columns: [nameColumn, column('Status', 'string', 'The status of the namespace'), ageColumn],
    row: namespaceRow,
  },
  defaults(ns) {
    const name = ns.metadata.name;
    if (name) ns.metadata.labels = { ...(ns.metadata.labels ?? {}), [LABEL_METADATA_NAME]: name };
  },
  prepareForCreate(ns) {
    ns.status = { phase: 'Active' };
    // The finalizer is added here rather than in defaults: it is removed over
    // the namespace's life and must not come back on the next update.
    const spec = ensureRec(ns, 'spec');
    const finalizers = arr(spec.finalizers).map(str);
    if (!finalizers.includes(FINALIZER_KUBERNETES)) finalizers.push(FINALIZER_KUBERNETES);
    spec.finalizers = finalizers;
  },
  prepareForUpdate(ns, old) {
    keepOldStatus(ns, old);
    const oldFinalizers = specOf(old)?.finalizers;
    if (oldFinalizers === undefined) {
      const spec = rec(ns.spec);
      if (spec) delete spec.finalizers;
    } else {
      ensureRec(ns, 'spec').finalizers = structuredClone(oldFinalizers);
    }
  },
  validate: validateNamespace,
};

/**
 * A write to /finalize changes spec.finalizers (and metadata); the status stays
 * as stored. For the apiserver's finalize handler.
 */
export function prepareNamespaceFinalize(ns: KubeObject, old: KubeObject): void {
  keepOldStatus(ns, old);
}

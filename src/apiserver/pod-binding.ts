// POST pods/<name>/binding: assigns a pod to a node, as the scheduler does.
// The pod's spec.nodeName is otherwise immutable; the binding sets it once,
// adds the Binding's annotations, and marks the pod PodScheduled. A pod that
// is already assigned or being deleted answers 409, as in kube-apiserver.

import type { ResourceDef } from '../api/index.ts';
import {
  formatTime,
  isPlainObject,
  newBadRequest,
  newConflict,
  newInvalid,
  fieldErrors,
  type KubeObject,
} from '../apimachinery/index.ts';
import { decodeBody, objectBodyFormat, readBody } from './negotiation.ts';
import type { RequestContext } from './handlers.ts';
import { writeJson } from './handlers.ts';

interface Binding {
  metadata?: { name?: string; annotations?: Record<string, string> };
  target?: { kind?: string; name?: string };
}

interface PodCondition {
  type: string;
  status: string;
  lastProbeTime?: string | null;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export async function handleBinding(ctx: RequestContext, podDef: ResourceDef): Promise<void> {
  const { info } = ctx;
  const body = await readBody(ctx.req, ctx.maxRequestBytes);
  const value = decodeBody(body, objectBodyFormat(ctx.req.headers['content-type']), 'Binding in version "v1" cannot be handled as a Binding');
  if (!isPlainObject(value)) throw newBadRequest('Binding in version "v1" cannot be handled as a Binding: the body must be a JSON object');
  const binding = value as Binding;
  const bindingName = binding.metadata?.name ?? '';
  const target = binding.target ?? {};
  const errs = [];
  if (bindingName !== '' && bindingName !== info.name) {
    throw newBadRequest(`the name of the object (${bindingName}) does not match the name on the URL (${info.name})`);
  }
  if (target.kind !== undefined && target.kind !== '' && target.kind !== 'Node') {
    errs.push(fieldErrors.notSupported('target.kind', target.kind, ['Node', '<empty>']));
  }
  if (target.name === undefined || target.name === '') errs.push(fieldErrors.required('target.name'));
  if (errs.length > 0) throw newInvalid({ group: '', kind: 'Binding' }, info.name, errs);
  const node = target.name ?? '';
  const gr = { group: '', resource: 'pods/binding' };

  await ctx.store.update(
    podDef,
    info.namespace,
    info.name,
    (pod: KubeObject) => {
      const spec = (pod.spec ?? {}) as { nodeName?: string };
      if (pod.metadata.deletionTimestamp) {
        throw newConflict(gr, info.name, `pod ${info.name} is being deleted, cannot be assigned to a host`);
      }
      if (spec.nodeName !== undefined && spec.nodeName !== '') {
        throw newConflict(gr, info.name, `pod ${info.name} is already assigned to node "${spec.nodeName}"`);
      }
      pod.spec = { ...spec, nodeName: node };
      const annotations = binding.metadata?.annotations;
      if (annotations !== undefined && Object.keys(annotations).length > 0) {
        pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), ...annotations };
      }
      const status = (pod.status ?? {}) as { conditions?: PodCondition[] };
      const conditions = (status.conditions ?? []).filter((c) => c.type !== 'PodScheduled');
      conditions.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: formatTime(new Date()) });
      pod.status = { ...status, conditions };
      return pod;
    },
    { subresource: 'binding', dryRun: false, retryOnConflict: true, fieldManager: ctx.query.get('fieldManager') ?? undefined },
  );
  writeJson(ctx, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
}

// What Deployments, ReplicaSets and StatefulSets share: a label selector that
// must select the pods of their own template, a pod template that defaults and
// validates like a pod, integer-or-percent fields, and the status handling of
// kinds with /status and /scale.

import type { FieldError, KubeObject } from '../../apimachinery/index.ts';
import { fieldErrors } from '../../apimachinery/index.ts';
import type { LabelSelectorObject } from '../../apimachinery/labels.ts';
import {
  formatLabelSelector,
  isEmptySelector,
  labelSelectorFromObject,
  labelSelectorString,
  matches,
  validateLabelSelectorObject,
} from '../../apimachinery/labels.ts';
import { validateAnnotations, validateLabels } from '../../apimachinery/validation.ts';
import type { TableColumn } from '../resource.ts';
import { wideColumn } from '../table.ts';
import type { JsonObject } from '../core/common.ts';
import {
  goLabelSelector,
  goQuote,
  goStringMap,
  invalidGo,
  num,
  rec,
  semanticEqual,
  specOf,
  validateNonnegative,
} from '../core/common.ts';
import { setPodSpecDefaults, validatePodSpec } from '../core/pod.ts';

export const containersColumn: TableColumn = wideColumn('Containers', 'string', 'Names of each container in the template.');
export const imagesColumn: TableColumn = wideColumn('Images', 'string', 'Images referenced by each container in the template.');

/** Defaults of a pod template: those of its PodSpec. */
export function setTemplateDefaults(spec: JsonObject): void {
  const templateSpec = rec(rec(spec.template)?.spec);
  if (templateSpec) setPodSpecDefaults(templateSpec);
}

export function templateOf(obj: KubeObject): JsonObject {
  return rec(specOf(obj)?.template) ?? {};
}

export function templateContainers(obj: KubeObject): unknown {
  return rec(templateOf(obj).spec)?.containers;
}

function selectorObject(value: unknown): LabelSelectorObject | undefined {
  return rec(value) as LabelSelectorObject | undefined;
}

/** `selector.String()` of the selector, `<invalid>` when it does not parse (printDeployment). */
export function selectorString(value: unknown): string {
  try {
    return labelSelectorString(labelSelectorFromObject(selectorObject(value)));
  } catch {
    return '<invalid>';
  }
}

/** metav1.FormatLabelSelector (`<none>` when empty), as printReplicaSet uses. */
export function formatSelector(value: unknown): string {
  return formatLabelSelector(selectorObject(value));
}

export interface TemplateRules {
  /** The word in `empty selector is invalid for <kind>` (upstream says `deployment` for ReplicaSets too). */
  emptySelectorKind: string;
  /** Kind named in the activeDeadlineSeconds message. */
  kindName: string;
  /** StatefulSet: activeDeadlineSeconds is Forbidden rather than Invalid. */
  deadlineForbidden?: boolean;
  /** Volume names usable by mounts besides the template's volumes (StatefulSet claim templates). */
  extraVolumes?: string[];
}

/**
 * The selector must be set and non-empty and must select the template's labels;
 * the template is validated like a pod whose restartPolicy can only be Always.
 */
export function validateSelectorAndTemplate(spec: JsonObject, rules: TemplateRules): FieldError[] {
  const errs: FieldError[] = [];
  const selector = selectorObject(spec.selector);
  let selectorUsable = false;
  if (selector === undefined) {
    errs.push(fieldErrors.required('spec.selector'));
  } else {
    const selectorErrs = validateLabelSelectorObject(selector, 'spec.selector');
    errs.push(...selectorErrs);
    const count = Object.keys(rec(selector.matchLabels) ?? {}).length + (Array.isArray(selector.matchExpressions) ? selector.matchExpressions.length : 0);
    if (count === 0) {
      errs.push(invalidGo('spec.selector', goLabelSelector(selector), `empty selector is invalid for ${rules.emptySelectorKind}`));
    }
    selectorUsable = selectorErrs.length === 0;
  }
  const template = rec(spec.template);
  if (template === undefined) {
    errs.push(fieldErrors.required('spec.template'));
    return errs;
  }
  const meta = rec(template.metadata) ?? {};
  const labels = rec(meta.labels) as Record<string, string> | undefined;
  if (selectorUsable && selector !== undefined) {
    try {
      const sel = labelSelectorFromObject(selector);
      if (!isEmptySelector(sel) && !matches(sel, labels)) {
        errs.push(invalidGo('spec.template.metadata.labels', goStringMap(labels), '`selector` does not match template `labels`'));
      }
    } catch {
      errs.push(invalidGo('spec.selector', goLabelSelector(selector), 'invalid label selector'));
    }
  }
  // Upstream reports template label problems at `spec.template.labels`.
  errs.push(...validateLabels(labels, 'spec.template.labels'));
  errs.push(...validateAnnotations(rec(meta.annotations) as Record<string, string> | undefined, 'spec.template.annotations'));
  const podSpec = rec(template.spec);
  errs.push(...validatePodSpec(podSpec, 'spec.template.spec', rules.extraVolumes ?? []));
  const restartPolicy = podSpec?.restartPolicy;
  if (typeof restartPolicy === 'string' && restartPolicy !== 'Always') {
    errs.push(fieldErrors.notSupported('spec.template.spec.restartPolicy', restartPolicy, ['Always']));
  }
  const deadline = num(podSpec?.activeDeadlineSeconds);
  if (deadline !== undefined) {
    const path = 'spec.template.spec.activeDeadlineSeconds';
    const detail = `activeDeadlineSeconds in ${rules.kindName} is not Supported`;
    errs.push(rules.deadlineForbidden ? fieldErrors.forbidden(path, detail) : fieldErrors.invalid(path, deadline, detail));
  }
  return errs;
}

/** apps/v1 selectors cannot change after create. */
export function validateSelectorImmutable(spec: JsonObject, oldSpec: JsonObject): FieldError[] {
  if (semanticEqual(spec.selector, oldSpec.selector)) return [];
  return [invalidGo('spec.selector', goLabelSelector(spec.selector), 'field is immutable')];
}

export function validateReplicaCounts(spec: JsonObject): FieldError[] {
  return [
    ...validateNonnegative(spec.replicas, 'spec.replicas'),
    ...validateNonnegative(spec.minReadySeconds, 'spec.minReadySeconds'),
    ...validateNonnegative(spec.revisionHistoryLimit, 'spec.revisionHistoryLimit'),
  ];
}

// ---------------------------------------------------------------------------
// intstr.IntOrString (maxSurge, maxUnavailable)

/** `%#v` of an IntOrString value, as field.Invalid prints it. */
export function goIntOrString(value: unknown): string {
  if (typeof value === 'string') return `intstr.IntOrString{Type:1, IntVal:0, StrVal:${goQuote(value)}}`;
  return `intstr.IntOrString{Type:0, IntVal:${num(value) ?? 0}, StrVal:""}`;
}

const PERCENT_MESSAGE =
  "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";

/** ValidatePositiveIntOrPercent. */
export function validateIntOrPercent(value: unknown, path: string): FieldError[] {
  if (value === undefined || value === null) return [];
  if (typeof value === 'string') {
    return /^[0-9]+%$/.test(value) ? [] : [invalidGo(path, goIntOrString(value), PERCENT_MESSAGE)];
  }
  if (typeof value === 'number') return validateNonnegative(value, path);
  return [invalidGo(path, goIntOrString(value), "must be an integer or percentage (e.g '5%')")];
}

/** The value an IntOrString resolves to for a zero test or a percentage bound. */
export function intOrPercentValue(value: unknown): { percent: boolean; n: number } | undefined {
  if (typeof value === 'number') return { percent: false, n: value };
  if (typeof value === 'string' && /^[0-9]+%$/.test(value)) return { percent: true, n: Number(value.slice(0, -1)) };
  return undefined;
}

export function validateNotMoreThan100Percent(value: unknown, path: string): FieldError[] {
  const v = intOrPercentValue(value);
  if (v?.percent && v.n > 100) return [invalidGo(path, goIntOrString(value), 'must not be greater than 100%')];
  return [];
}

export function replicasOf(obj: KubeObject): number {
  return num(specOf(obj)?.replicas) ?? 0;
}

export function statusInt(obj: KubeObject, field: string): number {
  const v = num(rec(obj.status)?.[field]);
  return v === undefined ? 0 : Math.trunc(v);
}

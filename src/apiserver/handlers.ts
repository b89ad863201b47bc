// Resource request handlers: one function per verb, turning HTTP requests into
// RegistryStore calls and answers into JSON, Tables or watch streams.
//
// Bodies are decoded (JSON or YAML), checked against the kind's schema
// (unknown fields per `fieldValidation`, wrong types always refused) and
// pruned of unknown fields before they reach the store, so nothing the server
// does not understand is ever stored.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResourceDef } from '../api/index.ts';
import {
  apiVersionOf,
  isPlainObject,
  newBadRequest,
  newInvalid,
  newMethodNotAllowed,
  newNotFoundPath,
  newUnsupportedMediaType,
  StatusError,
  fieldErrors,
  type KubeObject,
} from '../apimachinery/index.ts';
import { matchesFields, parseFieldSelector, checkFieldSelector, type FieldRequirement } from '../apimachinery/fields.ts';
import { matches as matchesLabels, parseLabelSelector, type LabelSelector } from '../apimachinery/labels.ts';
import {
  applyJsonPatch,
  applyMergePatch,
  applyStrategicMergePatch,
  patchSchemaFor,
  PatchError,
  PATCH_CONTENT_TYPES,
} from '../apimachinery/patch/index.ts';
import {
  FIELD_MANAGER_MAX_LENGTH,
  FieldManager,
  isPrintable,
  managerFromUserAgent,
} from '../apimachinery/managedfields/index.ts';
import { checkObject, formatStrictError, formatTypeError, typeProblemText } from '../apimachinery/schema.ts';
import type { Logger } from '../base/index.ts';
import { findDuplicateFields } from './json-duplicates.ts';
import { decodeBody, objectBodyFormat, parseMediaType, readBody, wantsTable, type MediaType } from './negotiation.ts';
import type { ResourceRequestInfo } from './request-info.ts';
import { groupResource, RegistryStore, storagePrefix } from './registry/store.ts';
import { parseIncludeObject, toTable } from './table.ts';
import { parseResourceVersion, serveWatch } from './watch.ts';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  info: ResourceRequestInfo;
  def: ResourceDef;
  query: URLSearchParams;
  accept: MediaType[];
  store: RegistryStore;
  logger: Logger;
  maxRequestBytes: number;
  /** Warnings sent back as `Warning: 299 - "..."` headers. */
  warnings: string[];
}

const TABLE_CONTENT_TYPE = 'application/json;as=Table;v=v1;g=meta.k8s.io';

export function writeJson(ctx: Pick<RequestContext, 'res' | 'warnings'>, code: number, body: unknown, contentType = 'application/json'): void {
  const text = JSON.stringify(body);
  const headers: Record<string, string | string[]> = {
    'Content-Type': contentType,
    'Content-Length': String(Buffer.byteLength(text)),
    'Cache-Control': 'no-cache, private',
  };
  if (ctx.warnings.length > 0) headers.Warning = ctx.warnings.map((w) => `299 - ${JSON.stringify(w)}`);
  ctx.res.writeHead(code, headers);
  ctx.res.end(text);
}

function dryRunOf(query: URLSearchParams): boolean {
  const values = query.getAll('dryRun');
  for (const v of values) {
    if (v !== 'All') throw newBadRequest(`dryRun: Unsupported value: ${JSON.stringify(v)}: supported values: "All"`);
  }
  return values.length > 0;
}

type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

function fieldValidationOf(query: URLSearchParams): FieldValidation {
  const v = query.get('fieldValidation');
  if (v === null || v === '') return 'Warn';
  if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
  throw newBadRequest(`fieldValidation: Unsupported value: ${JSON.stringify(v)}: supported values: "Ignore", "Strict", "Warn"`);
}

/** Splits `spec.containers[0].foo` into path steps. */
function pathSteps(path: string): (string | number)[] {
  const steps: (string | number)[] = [];
  for (const part of path.split('.')) {
    const m = /^([^[]*)((?:\[\d+\])*)$/.exec(part);
    if (m === null) {
      steps.push(part);
      continue;
    }
    if (m[1] !== '') steps.push(m[1]);
    for (const idx of m[2].matchAll(/\[(\d+)\]/g)) steps.push(Number(idx[1]));
  }
  return steps;
}

function deletePath(obj: unknown, path: string): void {
  const steps = pathSteps(path);
  let cur: unknown = obj;
  for (let i = 0; i < steps.length - 1; i++) {
    if (cur === null || typeof cur !== 'object') return;
    cur = (cur as Record<string | number, unknown>)[steps[i]];
  }
  if (cur !== null && typeof cur === 'object') delete (cur as Record<string | number, unknown>)[steps[steps.length - 1]];
}

/**
 * Checks a decoded object against the kind's schema: wrong types → 400; unknown fields →
 * 400 (Strict), a warning (Warn) or nothing (Ignore); unknown fields are removed.
 */
function checkAndPrune(
  def: ResourceDef,
  value: unknown,
  validation: FieldValidation,
  warnings: string[],
  source: 'body' | 'patch' = 'body',
): KubeObject {
  if (!isPlainObject(value)) {
    throw newBadRequest(`${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: the body must be a JSON object`);
  }
  if (value.metadata === undefined || value.metadata === null) value.metadata = {};
  const problems = checkObject(def.schemaType, value, { rootKind: def.kind });
  if (problems.typeErrors.length > 0) {
    if (source === 'patch') {
      // The apiserver reports a patched object it cannot decode as an invalid `patch`.
      throw newInvalid({ group: '', kind: '' }, '', [
        fieldErrors.invalid('patch', JSON.stringify(value), typeProblemText(problems.typeErrors[0])),
      ]);
    }
    throw newBadRequest(formatTypeError(def.kind, def.version, problems.typeErrors[0]));
  }
  if (problems.unknownFields.length > 0) {
    if (validation === 'Strict') throw newBadRequest(formatStrictError(def.kind, def.version, problems.unknownFields));
    if (validation === 'Warn') for (const f of problems.unknownFields) warnings.push(`unknown field "${f}"`);
    for (const f of problems.unknownFields) deletePath(value, f);
  }
  return value as KubeObject;
}

/** apiVersion/kind in a body must name this endpoint's kind when present. */
function checkTypeMeta(def: ResourceDef, obj: KubeObject): void {
  const wantApiVersion = apiVersionOf(def);
  if (obj.kind !== undefined && obj.kind !== '' && obj.kind !== def.kind) {
    // The apiserver decodes the body as its own kind and then fails to convert it.
    const v = typeof obj.apiVersion === 'string' ? obj.apiVersion.split('/').pop() : def.version;
    throw newBadRequest(
      `${String(obj.kind)} in version "${v}" cannot be handled as a ${def.kind}: converting (${v}.${String(obj.kind)}) to (${def.version}.${def.kind}): unknown conversion`,
    );
  }
  if (obj.apiVersion !== undefined && obj.apiVersion !== '' && obj.apiVersion !== wantApiVersion) {
    throw newBadRequest(
      `the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${wantApiVersion})`,
    );
  }
}

async function decodeObjectBody(ctx: RequestContext): Promise<KubeObject> {
  const format = objectBodyFormat(ctx.req.headers['content-type']);
  const body = await readBody(ctx.req, ctx.maxRequestBytes);
  const validation = fieldValidationOf(ctx.query);
  const what = `${ctx.def.kind} in version "${ctx.def.version}" cannot be handled as a ${ctx.def.kind}`;
  const value = decodeBody(body, format, what);
  if (format === 'json' && validation !== 'Ignore') {
    const duplicates = findDuplicateFields(body.toString('utf8'));
    if (duplicates.length > 0 && validation === 'Strict') {
      throw newBadRequest(`${what}: strict decoding error: ${duplicates.map((d) => `duplicate field "${d}"`).join(', ')}`);
    }
    for (const d of duplicates) ctx.warnings.push(`duplicate field "${d}"`);
  }
  const obj = checkAndPrune(ctx.def, value, validation, ctx.warnings);
  checkTypeMeta(ctx.def, obj);
  return obj;
}

type OptionsKind = 'CreateOptions' | 'UpdateOptions' | 'PatchOptions';

function invalidOptions(kind: OptionsKind, errs: ReturnType<typeof fieldErrors.required>[]): StatusError {
  return newInvalid({ group: 'meta.k8s.io', kind }, '', errs);
}

/**
 * The field manager a write is recorded under: the `fieldManager` parameter (at most
 * 128 bytes of printable characters), else the program name of the User-Agent.
 */
function fieldManagerOf(ctx: RequestContext, kind: OptionsKind, required = false): string {
  const param = ctx.query.get('fieldManager') ?? '';
  const errs = [];
  if (required && param === '') errs.push(fieldErrors.required('fieldManager', 'is required for apply patch'));
  if (Buffer.byteLength(param, 'utf8') > FIELD_MANAGER_MAX_LENGTH) errs.push(fieldErrors.tooLong('fieldManager', '', FIELD_MANAGER_MAX_LENGTH));
  let position = 0;
  for (const ch of param) {
    if (!isPrintable(ch)) {
      const code = ch.codePointAt(0) ?? 0;
      const hex = code.toString(16).toUpperCase().padStart(4, '0');
      errs.push(fieldErrors.invalid('fieldManager', param, `invalid character U+${hex} (at position ${position})`));
    }
    position += Buffer.byteLength(ch, 'utf8');
  }
  if (errs.length > 0) throw invalidOptions(kind, errs);
  if (param !== '') return param;
  const ua = ctx.req.headers['user-agent'];
  return managerFromUserAgent(Array.isArray(ua) ? ua[0] : ua);
}

function fieldManagerFor(def: ResourceDef, subresource: '' | 'status'): FieldManager {
  return new FieldManager({ group: def.group, version: def.version, kind: def.kind, subresource, hasStatus: def.hasStatus });
}

interface Selectors {
  labels: LabelSelector | undefined;
  fields: FieldRequirement[];
}

function selectorsOf(def: ResourceDef, query: URLSearchParams): Selectors {
  const ls = query.get('labelSelector');
  const fs = query.get('fieldSelector');
  const labels = ls !== null && ls !== '' ? parseLabelSelector(ls) : undefined;
  let fields: FieldRequirement[] = [];
  if (fs !== null && fs !== '') {
    fields = parseFieldSelector(fs);
    const aliases = def.fieldSelector.aliases ?? {};
    fields = fields.map((r) => (aliases[r.field] !== undefined ? { ...r, field: aliases[r.field] } : r));
    checkFieldSelector(fields, {
      family: def.fieldSelector.family,
      fields: [...Object.keys(def.fieldSelector.fields ?? {}), ...Object.keys(aliases)],
    });
  }
  return { labels, fields };
}

function matcher(def: ResourceDef, sel: Selectors): (obj: KubeObject) => boolean {
  if (sel.labels === undefined && sel.fields.length === 0) return () => true;
  const getters = def.fieldSelector.fields ?? {};
  return (obj) => {
    if (sel.labels !== undefined && !matchesLabels(sel.labels, obj.metadata.labels)) return false;
    if (sel.fields.length === 0) return true;
    return matchesFields(sel.fields, (field) => {
      if (field === 'metadata.name') return obj.metadata.name ?? '';
      if (field === 'metadata.namespace') return obj.metadata.namespace ?? '';
      const get = getters[field];
      return get === undefined ? '' : get(obj);
    });
  };
}

interface ContinueToken {
  rv: number;
  start: string;
}

function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: t.rv, start: t.start })).toString('base64url');
}

function decodeContinue(token: string): ContinueToken {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { v?: string; rv?: number; start?: string };
    if (parsed.v !== 'meta.k8s.io/v1' || typeof parsed.rv !== 'number' || typeof parsed.start !== 'string') {
      throw new Error('bad token');
    }
    return { rv: parsed.rv, start: parsed.start };
  } catch {
    throw newBadRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  }
}

function parseLimit(query: URLSearchParams): number {
  const raw = query.get('limit');
  if (raw === null || raw === '') return 0;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw newBadRequest(`limit: Invalid value: ${JSON.stringify(raw)}`);
  return n;
}

function parseTimeoutSeconds(query: URLSearchParams): number | undefined {
  const raw = query.get('timeoutSeconds');
  if (raw === null || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw newBadRequest(`timeoutSeconds: Invalid value: ${JSON.stringify(raw)}`);
  return n;
}

function tableRequested(ctx: RequestContext): boolean {
  return wantsTable(ctx.accept);
}

export async function handleList(ctx: RequestContext): Promise<void> {
  const { def, store, query, info } = ctx;
  const sel = selectorsOf(def, query);
  const match = matcher(def, sel);
  const rv = query.get('resourceVersion');
  parseResourceVersion(rv);
  const limit = parseLimit(query);
  const cont = query.get('continue');
  const token = cont !== null && cont !== '' ? decodeContinue(cont) : undefined;

  const { items, revision } = store.list(def, info.namespace);
  const listRevision = token?.rv ?? revision;
  const out: KubeObject[] = [];
  let i = 0;
  if (token !== undefined) {
    // Binary search for the first key after the token's start key.
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (items[mid].key <= token.start) lo = mid + 1;
      else hi = mid;
    }
    i = lo;
  }
  let nextToken: string | undefined;
  let remaining: number | undefined;
  for (; i < items.length; i++) {
    const obj = store.present(def, items[i].obj);
    if (!match(obj)) continue;
    if (limit > 0 && out.length === limit) {
      nextToken = encodeContinue({ rv: listRevision, start: items[i - 1].key });
      if (sel.labels === undefined && sel.fields.length === 0) remaining = items.length - i;
      break;
    }
    out.push(obj);
  }
  // The last item taken may have been followed only by non-matching items.
  const metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number } = {
    resourceVersion: String(listRevision),
  };
  if (nextToken !== undefined) {
    metadata.continue = nextToken;
    if (remaining !== undefined) metadata.remainingItemCount = remaining;
  }

  if (tableRequested(ctx)) {
    const table = toTable(def, out, metadata, parseIncludeObject(query.get('includeObject')), new Date());
    writeJson(ctx, 200, table, TABLE_CONTENT_TYPE);
    return;
  }
  writeJson(ctx, 200, { kind: def.listKind, apiVersion: apiVersionOf(def), metadata, items: out });
}

export async function handleWatch(ctx: RequestContext): Promise<void> {
  const { def, store, query, info } = ctx;
  const sel = selectorsOf(def, query);
  let match = matcher(def, sel);
  if (info.name !== '') {
    // Deprecated `/watch/.../name` form and `?watch=true` on an object URL.
    const name = info.name;
    const inner = match;
    match = (obj) => obj.metadata.name === name && inner(obj);
  }
  const sendInitialEvents = query.get('sendInitialEvents') === 'true';
  if (sendInitialEvents && query.get('resourceVersionMatch') !== 'NotOlderThan') {
    throw newInvalid({ group: 'meta.k8s.io', kind: 'ListOptions' }, '', [
      fieldErrors.forbidden('sendInitialEvents', 'sendInitialEvents is forbidden for watch unless resourceVersionMatch is set to NotOlderThan'),
    ]);
  }
  const table = tableRequested(ctx)
    ? { include: parseIncludeObject(query.get('includeObject')), contentType: TABLE_CONTENT_TYPE }
    : undefined;
  await serveWatch(
    ctx.req,
    ctx.res,
    store.cacher,
    {
      def,
      prefix: storagePrefix(def, def.namespaced ? info.namespace : undefined),
      resourceVersion: query.get('resourceVersion'),
      sendInitialEvents,
      allowBookmarks: query.get('allowWatchBookmarks') === 'true',
      timeoutSeconds: parseTimeoutSeconds(query),
      matches: match,
      present: (stored) => store.present(def, stored),
      table,
    },
    ctx.logger,
  );
}

function respondObject(ctx: RequestContext, code: number, obj: KubeObject): void {
  if (tableRequested(ctx)) {
    const table = toTable(
      ctx.def,
      [obj],
      { resourceVersion: obj.metadata.resourceVersion },
      parseIncludeObject(ctx.query.get('includeObject')),
      new Date(),
    );
    writeJson(ctx, code, table, TABLE_CONTENT_TYPE);
    return;
  }
  writeJson(ctx, code, obj);
}

export async function handleGet(ctx: RequestContext): Promise<void> {
  const obj = ctx.store.get(ctx.def, ctx.info.namespace, ctx.info.name);
  respondObject(ctx, 200, obj);
}

export async function handleCreate(ctx: RequestContext): Promise<void> {
  const { def, info } = ctx;
  if (info.name !== '') throw newMethodNotAllowed();
  if (def.namespaced && info.namespace === '') throw newNotFoundPath();
  const fieldManager = fieldManagerOf(ctx, 'CreateOptions');
  const obj = await decodeObjectBody(ctx);
  const created = await ctx.store.create(def, info.namespace, obj, {
    dryRun: dryRunOf(ctx.query),
    fieldManager,
  });
  respondObject(ctx, 201, created);
}

export async function handleUpdate(ctx: RequestContext): Promise<void> {
  const { def, info } = ctx;
  const fieldManager = fieldManagerOf(ctx, 'UpdateOptions');
  const body = await decodeObjectBody(ctx);
  const pinned = body.metadata.resourceVersion !== undefined && body.metadata.resourceVersion !== '';
  let subresource: '' | 'status' | 'finalize' = '';
  if (info.subresource === 'status') subresource = 'status';
  else if (info.subresource === 'finalize' && def.group === '' && def.resource === 'namespaces') subresource = 'finalize';
  else if (info.subresource !== '') throw newNotFoundPath();
  const updated = await ctx.store.replace(def, info.namespace, info.name, body, {
    subresource,
    dryRun: dryRunOf(ctx.query),
    retryOnConflict: !pinned,
    fieldManager,
  });
  respondObject(ctx, 200, updated);
}

const PATCH_TYPES = [
  PATCH_CONTENT_TYPES.json,
  PATCH_CONTENT_TYPES.merge,
  PATCH_CONTENT_TYPES.strategic,
  PATCH_CONTENT_TYPES.apply,
];

function applyPatch(def: ResourceDef, type: string, current: KubeObject, patch: unknown): unknown {
  try {
    switch (type) {
      case PATCH_CONTENT_TYPES.json:
        return applyJsonPatch(current, patch);
      case PATCH_CONTENT_TYPES.merge:
        return applyMergePatch(current, patch);
      case PATCH_CONTENT_TYPES.strategic:
      case PATCH_CONTENT_TYPES.apply:
        return applyStrategicMergePatch(current, patch, patchSchemaFor(def.group, def.kind));
      default:
        throw newUnsupportedMediaType(PATCH_TYPES);
    }
  } catch (err) {
    if (err instanceof PatchError) {
      if (err.kind === 'invalid-patch') throw newBadRequest(err.message);
      // As the apiserver's generic 422 (NewGenericServerResponse): no kind, name or causes;
      // the patch engine's own message does not reach the client there either.
      throw new StatusError(422, 'Invalid', 'the server rejected our request due to an error in our request', {});
    }
    throw err;
  }
}

export async function handlePatch(ctx: RequestContext): Promise<void> {
  const { def, info, query } = ctx;
  const type = parseMediaType(ctx.req.headers['content-type'] ?? '').type;
  if (!PATCH_TYPES.includes(type)) throw newUnsupportedMediaType(PATCH_TYPES);
  let subresource: '' | 'status' = '';
  if (info.subresource === 'status') subresource = 'status';
  else if (info.subresource !== '') throw newNotFoundPath();

  const isApply = type === PATCH_CONTENT_TYPES.apply;
  const body = await readBody(ctx.req, ctx.maxRequestBytes);
  const forceParam = query.get('force');
  if (!isApply && forceParam !== null) {
    throw invalidOptions('PatchOptions', [fieldErrors.forbidden('force', 'may not be specified for non-apply patch')]);
  }
  const fieldManager = fieldManagerOf(ctx, 'PatchOptions', isApply);
  const patch = decodeBody(body, isApply ? 'yaml' : 'json', 'error decoding patch');
  const dryRun = dryRunOf(query);
  const validation = fieldValidationOf(query);

  if (isApply) {
    await serverSideApply(ctx, patch, { subresource, dryRun, validation, fieldManager, force: forceParam === 'true' });
    return;
  }

  const updated = await ctx.store.update(
    def,
    info.namespace,
    info.name,
    (current) => {
      const patched = applyPatch(def, type, current, patch);
      const obj = checkAndPrune(def, patched, validation, ctx.warnings, 'patch');
      checkTypeMeta(def, obj);
      return obj;
    },
    { subresource, dryRun, retryOnConflict: true, fieldManager },
  );
  respondObject(ctx, 200, updated);
}

interface ApplyOptions {
  subresource: '' | 'status';
  dryRun: boolean;
  validation: FieldValidation;
  fieldManager: string;
  force: boolean;
}

/**
 * Server-side apply (`application/apply-patch+yaml`): the FieldManager merges the
 * configuration into the live object and works out ownership; an absent object is
 * created from the configuration (201).
 */
async function serverSideApply(ctx: RequestContext, patch: unknown, options: ApplyOptions): Promise<void> {
  const { def, info } = ctx;
  const config = checkAndPrune(def, patch, options.validation, ctx.warnings);
  const fm = fieldManagerFor(def, options.subresource);
  let exists = true;
  try {
    ctx.store.get(def, info.namespace, info.name);
  } catch (err) {
    if (!(err instanceof StatusError && err.code === 404)) throw err;
    exists = false;
  }
  if (!exists && options.subresource === '') {
    const obj = fm.apply(undefined, config, options.fieldManager, options.force, new Date());
    if (obj.metadata.name !== undefined && obj.metadata.name !== '' && obj.metadata.name !== info.name) {
      throw newBadRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${info.name})`);
    }
    obj.metadata.name = info.name;
    try {
      const created = await ctx.store.create(def, info.namespace, obj, { dryRun: options.dryRun, applied: true });
      respondObject(ctx, 201, created);
      return;
    } catch (err) {
      // Created by someone else meanwhile: apply to that object instead.
      if (!(err instanceof StatusError && err.reason === 'AlreadyExists')) throw err;
    }
  }
  const updated = await ctx.store.update(
    def,
    info.namespace,
    info.name,
    (current) => fm.apply(current, config, options.fieldManager, options.force, new Date()),
    { subresource: options.subresource, dryRun: options.dryRun, retryOnConflict: true, applied: true },
  );
  respondObject(ctx, 200, updated);
}

interface DeleteBody {
  gracePeriodSeconds?: number;
  propagationPolicy?: string;
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: string[];
  orphanDependents?: boolean;
}

async function deleteOptionsOf(ctx: RequestContext): Promise<{ body: DeleteBody; dryRun: boolean }> {
  const raw = await readBody(ctx.req, ctx.maxRequestBytes);
  let body: DeleteBody = {};
  if (raw.length > 0 && raw.toString('utf8').trim() !== '') {
    const value = decodeBody(raw, 'json', 'error decoding DeleteOptions');
    if (!isPlainObject(value)) throw newBadRequest('DeleteOptions must be a JSON object');
    body = value as DeleteBody;
  }
  const q = ctx.query;
  const grace = q.get('gracePeriodSeconds');
  if (grace !== null && grace !== '') {
    const n = Number(grace);
    if (!Number.isInteger(n)) throw newBadRequest(`gracePeriodSeconds: Invalid value: ${JSON.stringify(grace)}`);
    body.gracePeriodSeconds = n;
  }
  const policy = q.get('propagationPolicy');
  if (policy !== null && policy !== '') body.propagationPolicy = policy;
  const dryRun = dryRunOf(q) || (Array.isArray(body.dryRun) && body.dryRun.includes('All'));
  if (body.gracePeriodSeconds !== undefined && (typeof body.gracePeriodSeconds !== 'number' || body.gracePeriodSeconds < 0)) {
    body.gracePeriodSeconds = 0;
  }
  const policyValue = body.propagationPolicy;
  if (policyValue !== undefined && !['Orphan', 'Background', 'Foreground'].includes(policyValue)) {
    throw newInvalid({ group: 'meta.k8s.io', kind: 'DeleteOptions' }, '', [
      fieldErrors.notSupported('propagationPolicy', policyValue, ['Foreground', 'Background', 'Orphan', 'nil']),
    ]);
  }
  return { body, dryRun };
}

export async function handleDelete(ctx: RequestContext): Promise<void> {
  const { def, info } = ctx;
  if (info.subresource !== '') throw newMethodNotAllowed();
  const { body, dryRun } = await deleteOptionsOf(ctx);
  const result = await ctx.store.delete(def, info.namespace, info.name, {
    dryRun,
    gracePeriodSeconds: body.gracePeriodSeconds,
    propagationPolicy: body.propagationPolicy,
    preconditions: body.preconditions,
  });
  if (result.deleted && !result.returnsObject) {
    const gr = groupResource(def);
    const details: Record<string, string> = { name: info.name, kind: gr.resource };
    if (gr.group !== '') details.group = gr.group;
    if (result.obj.metadata.uid) details.uid = result.obj.metadata.uid;
    writeJson(ctx, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details });
    return;
  }
  writeJson(ctx, 200, result.obj);
}

export async function handleDeleteCollection(ctx: RequestContext): Promise<void> {
  const { def, info, store } = ctx;
  const { body, dryRun } = await deleteOptionsOf(ctx);
  const match = matcher(def, selectorsOf(def, ctx.query));
  const { items } = store.list(def, info.namespace);
  const deleted: KubeObject[] = [];
  for (const item of items) {
    const obj = store.present(def, item.obj);
    if (!match(obj)) continue;
    try {
      const r = await store.delete(def, obj.metadata.namespace ?? '', obj.metadata.name ?? '', {
        dryRun,
        gracePeriodSeconds: body.gracePeriodSeconds,
        propagationPolicy: body.propagationPolicy,
      });
      deleted.push(r.obj);
    } catch (err) {
      if (err instanceof StatusError && err.code === 404) continue;
      throw err;
    }
  }
  writeJson(ctx, 200, {
    kind: def.listKind,
    apiVersion: apiVersionOf(def),
    metadata: { resourceVersion: String(store.cacher.revision()) },
    items: deleted,
  });
}

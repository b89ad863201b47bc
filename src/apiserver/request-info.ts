// Turns a request path into what the server needs to act on: the API group,
// version, resource, namespace, name, subresource and verb. This follows the
// apiserver's RequestInfoFactory closely, including its special cases
// (`/api/v1/namespaces/{name}/status`, the deprecated `/watch/` prefix).

export type Verb =
  | 'get'
  | 'list'
  | 'watch'
  | 'create'
  | 'update'
  | 'patch'
  | 'delete'
  | 'deletecollection';

export interface ResourceRequestInfo {
  isResourceRequest: true;
  path: string;
  verb: Verb;
  group: string;
  version: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
}

export interface NonResourceRequestInfo {
  isResourceRequest: false;
  path: string;
  /** Lower-case HTTP method. */
  verb: string;
}

export type RequestInfo = ResourceRequestInfo | NonResourceRequestInfo;

/** Subresources of a Namespace object, which share the `namespaces/{name}/X` shape. */
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

export function parseRequestInfo(method: string, path: string, query: URLSearchParams): RequestInfo {
  const lower = method.toLowerCase();
  const nonResource: NonResourceRequestInfo = { isResourceRequest: false, path, verb: lower };
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return nonResource;
  let parts = trimmed.split('/').map(decodeURIComponent);

  let group: string;
  let version: string;
  if (parts[0] === 'api') {
    if (parts.length < 3) return nonResource;
    group = '';
    version = parts[1];
    parts = parts.slice(2);
  } else if (parts[0] === 'apis') {
    if (parts.length < 4) return nonResource;
    group = parts[1];
    version = parts[2];
    parts = parts.slice(3);
  } else {
    return nonResource;
  }

  let watchPrefix = false;
  if (parts[0] === 'watch') {
    watchPrefix = true;
    parts = parts.slice(1);
    if (parts.length === 0) return nonResource;
  }

  let namespace = '';
  if (parts[0] === 'namespaces') {
    if (parts.length > 1) {
      namespace = parts[1];
      if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2])) {
        parts = parts.slice(2);
      }
    }
  }

  const resource = parts[0] ?? '';
  const name = parts[1] ?? '';
  const subresource = parts[2] ?? '';
  if (parts.length > 3 || resource === '') return nonResource;
  // For the Namespace object itself the "namespace" is its name.
  if (resource === 'namespaces' && name !== '') namespace = '';

  let verb: Verb;
  const isWatch = watchPrefix || query.get('watch') === 'true' || query.get('watch') === '1';
  switch (lower) {
    case 'get':
    case 'head':
      verb = name === '' ? (isWatch ? 'watch' : 'list') : isWatch ? 'watch' : 'get';
      break;
    case 'post':
      verb = 'create';
      break;
    case 'put':
      verb = 'update';
      break;
    case 'patch':
      verb = 'patch';
      break;
    case 'delete':
      verb = name === '' ? 'deletecollection' : 'delete';
      break;
    default:
      return nonResource;
  }

  return {
    isResourceRequest: true,
    path,
    verb,
    group,
    version,
    resource,
    subresource,
    namespace,
    name,
  };
}

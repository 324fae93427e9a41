/**
 * Request routing and the REST verbs of the stand-in: list/watch, get, create, replace,
 * patch (merge, strategic, JSON, apply), delete and deletecollection, plus the status,
 * scale and log subresources. Everything here is synchronous once the body has been read,
 * so each request sees and leaves the store in a consistent state.
 */
import type {IncomingMessage, ServerResponse} from 'node:http'
import {parse as parseYaml} from 'yaml'
import {apiGroup, apiGroupList, apiResourceList, apiVersions, KUBE_VERSION, openApiDocument, openApiIndex} from './discovery.js'
import {jsonPatch, mergePatch, strategicMergePatch} from './patch.js'
import {decodeProtobuf, PROTOBUF} from './protobuf.js'
import {ApiError, apiVersionOf, findResource, verbsOf, type ResourceType} from './resources.js'
import {fieldSelector, labelSelector, selectorString} from './selectors.js'
import type {K8sObject, ObjectStore} from './store.js'
import {toTable, wantsTable} from './table.js'
import {clone, isPlainObject} from './util.js'
import {serveWatch} from './watch.js'

export interface ApiContext {
  store: ObjectStore
  /** host:port, for /api's serverAddressByClientCIDRs. */
  address: string
  openWatches: Set<ServerResponse>
}

export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(code, {'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text)})
  res.end(text)
}

function sendText(res: ServerResponse, code: number, text: string): void {
  res.writeHead(code, {'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text)})
  res.end(text)
}

const notFound = (): ApiError => new ApiError(404, 'NotFound', 'the server could not find the requested resource')

/** Route one request whose body has already been read in full. */
export function handleRequest(ctx: ApiContext, req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  const url = new URL(req.url ?? '/', 'http://stand-in')
  const method = req.method ?? 'GET'
  const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent)
  const top = parts.join('/')

  // Non-resource endpoints.
  if (top === 'version') return sendJson(res, 200, KUBE_VERSION)
  if (['healthz', 'livez', 'readyz'].includes(top)) return sendText(res, 200, 'ok')
  if (top === 'api') return sendJson(res, 200, apiVersions(ctx.address))
  if (top === 'apis') return sendJson(res, 200, apiGroupList())
  if (top === 'openapi/v3') return sendJson(res, 200, openApiIndex())
  if (parts[0] === 'openapi' && parts[1] === 'v3') {
    const doc = openApiDocument(parts.slice(2).join('/'))
    if (!doc) throw notFound()
    return sendJson(res, 200, doc)
  }
  if (parts[0] !== 'api' && parts[0] !== 'apis') throw notFound() // includes /openapi/v2: clients fall back to v3

  const group = parts[0] === 'api' ? '' : parts[1]!
  if (parts[0] === 'apis' && parts.length === 2) {
    const g = apiGroup(group)
    if (!g) throw notFound()
    return sendJson(res, 200, g)
  }
  const version = parts[0] === 'api' ? parts[1]! : parts[2]!
  let rest = parts.slice(parts[0] === 'api' ? 2 : 3)
  if (rest.length === 0) {
    const list = apiResourceList(group, version)
    if (!list) throw notFound()
    return sendJson(res, 200, list)
  }

  // Resource paths: [watch/][namespaces/NS/]PLURAL[/NAME[/SUBRESOURCE]]
  const query = url.searchParams
  let watch = query.get('watch') === 'true' || query.get('watch') === '1'
  if (rest[0] === 'watch') {
    watch = true
    rest = rest.slice(1)
  }
  let namespace: string | undefined
  if (rest[0] === 'namespaces' && rest.length >= 3 && findResource(group, version, rest[2]!)?.namespaced) {
    namespace = rest[1]
    rest = rest.slice(2)
  }
  const r = findResource(group, version, rest[0] ?? '')
  const [, name, sub] = rest
  if (!r || rest.length > 3 || (namespace !== undefined && !r.namespaced) || (r.namespaced && name !== undefined && namespace === undefined)) throw notFound()
  if (sub !== undefined && !(r.subresources as string[] | undefined)?.includes(sub)) throw notFound()

  const verb = verbOf(method, name === undefined, watch)
  if (verb && !verbsOf(r).includes(verb)) {
    throw new ApiError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource (${verb} ${r.plural})`, {kind: r.plural, group: r.group})
  }
  // dryRun=All (kubectl --dry-run=server, helm --dry-run=server): validate and answer as if
  // applied, but store nothing and emit no watch event. The store honours it on every write.
  const dryRun = query.getAll('dryRun').includes('All')
  if (r.review && method === 'POST') return sendJson(res, 201, review(r, objectFromBody(req, body, r)))
  const table = wantsTable(req.headers.accept) && sub === undefined
  if (name === undefined) {
    if (method === 'GET' && watch) {
      const transform = table ? (o: K8sObject) => toTable(r, [o], o.metadata.resourceVersion ?? '') : undefined
      return serveWatch(ctx.store, res, {resource: r, namespace, filter: selectorsOf(query), query, transform}, ctx.openWatches)
    }
    if (method === 'GET') {
      const l = list(ctx.store, r, namespace, query)
      return sendJson(res, 200, table ? toTable(r, l.items, ctx.store.resourceVersion, l.metadata) : l)
    }
    if (method === 'POST') return sendJson(res, 201, ctx.store.create(r, objectFromBody(req, body, r, namespace), {dryRun}))
    if (method === 'DELETE') {
      const deleted = ctx.store.list(r, namespace).filter(selectorsOf(query))
      const opts = deleteOptions(req, body, query, dryRun)
      for (const o of deleted) if (ctx.store.get(r, o.metadata.namespace, o.metadata.name!)) ctx.store.delete(r, o.metadata.namespace, o.metadata.name!, opts)
      return sendJson(res, 200, {kind: `${r.kind}List`, apiVersion: apiVersionOf(r), metadata: {resourceVersion: ctx.store.resourceVersion}, items: deleted})
    }
    throw new ApiError(405, 'MethodNotAllowed', `${method} is not supported on a collection`)
  }

  switch (method) {
    case 'GET': {
      const obj = ctx.store.mustGet(r, namespace, name)
      if (sub === 'scale') return sendJson(res, 200, scaleOf(obj))
      if (sub === 'log') return sendText(res, 200, podLog(obj, query.get('container')))
      return sendJson(res, 200, table ? toTable(r, [obj], obj.metadata.resourceVersion ?? '') : obj)
    }
    case 'PUT': {
      const obj = objectFromBody(req, body, r, namespace, name)
      if (sub === 'scale') return sendJson(res, 200, scaleOf(setReplicas(ctx.store, r, namespace, name, obj, dryRun)))
      return sendJson(res, 200, ctx.store.update(r, obj, {dryRun, subresource: sub === 'status' ? 'status' : undefined}))
    }
    case 'PATCH':
      return patch(ctx.store, req, res, body, r, namespace, name, sub, dryRun)
    case 'DELETE': {
      const deleted = ctx.store.delete(r, namespace, name, deleteOptions(req, body, query, dryRun))
      // Most kinds answer a Success Status; namespaces and pods (graceful deletes) answer the object.
      if (r.kind === 'Namespace' || r.kind === 'Pod') return sendJson(res, 200, deleted)
      return sendJson(res, 200, {kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: {name, group: r.group, kind: r.plural, uid: deleted.metadata.uid}})
    }
    default:
      throw new ApiError(405, 'MethodNotAllowed', `${method} is not supported`)
  }
}

/** The RBAC verb of a request, as discovery lists them. */
function verbOf(method: string, collection: boolean, watch: boolean): string | undefined {
  switch (method) {
    case 'GET':
      return watch ? 'watch' : collection ? 'list' : 'get'
    case 'POST':
      return 'create'
    case 'PUT':
      return 'update'
    case 'PATCH':
      return 'patch'
    case 'DELETE':
      return collection ? 'deletecollection' : 'delete'
    default:
      return undefined
  }
}

/**
 * A SelfSubjectAccessReview (`kubectl auth can-i`): the sandbox authorizes everything, so the
 * answer is `allowed: true` with the request's spec echoed. Nothing is stored.
 */
function review(r: ResourceType, obj: K8sObject): K8sObject {
  const spec = isPlainObject(obj.spec) ? obj.spec : {}
  const kinds = ['resourceAttributes', 'nonResourceAttributes'].filter((k) => isPlainObject(spec[k]))
  if (kinds.length !== 1) throw ApiError.invalid(r, '', 'spec: Invalid value: exactly one of nonResourceAttributes or resourceAttributes must be specified')
  return {apiVersion: apiVersionOf(r), kind: r.kind, metadata: {}, spec, status: {allowed: true}}
}

function selectorsOf(query: URLSearchParams): (o: K8sObject) => boolean {
  const labels = labelSelector(query.get('labelSelector') ?? undefined)
  const fields = fieldSelector(query.get('fieldSelector') ?? undefined)
  return (o) => labels(o) && fields(o)
}

/** A list, paged by `limit` with an opaque `continue` token (the offset into the sorted list). */
function list(
  store: ObjectStore,
  r: ResourceType,
  namespace: string | undefined,
  query: URLSearchParams,
): {kind: string; apiVersion: string; metadata: Record<string, unknown>; items: K8sObject[]} {
  const all = store.list(r, namespace).filter(selectorsOf(query))
  const start = query.get('continue') ? Number(Buffer.from(query.get('continue')!, 'base64url').toString()) || 0 : 0
  const limit = Number(query.get('limit') ?? 0)
  const end = limit > 0 ? start + limit : all.length
  const items = all.slice(start, end)
  const metadata: Record<string, unknown> = {resourceVersion: store.resourceVersion}
  if (end < all.length) {
    metadata.continue = Buffer.from(String(end)).toString('base64url')
    metadata.remainingItemCount = all.length - end
  }
  return {kind: `${r.kind}List`, apiVersion: apiVersionOf(r), metadata, items}
}

/** Parse a request body: protobuf (typed client-go clients), YAML or JSON. */
function parseBody(req: IncomingMessage, body: Buffer): unknown {
  if (body.length === 0) return undefined
  const type = req.headers['content-type'] ?? ''
  if (type.startsWith(PROTOBUF)) return decodeProtobuf(body)
  const text = body.toString('utf8')
  try {
    return JSON.parse(text)
  } catch (error) {
    if (!type.includes('yaml')) throw ApiError.badRequest(`invalid JSON body: ${(error as Error).message}`)
    return parseYaml(text)
  }
}

/** The object in a POST/PUT body, checked against the kind, namespace and name in the URL. */
function objectFromBody(req: IncomingMessage, body: Buffer, r: ResourceType, namespace?: string, name?: string): K8sObject {
  const obj = parseBody(req, body)
  if (!isPlainObject(obj)) throw ApiError.badRequest('the request body must be an object')
  const o = obj as K8sObject
  o.metadata = isPlainObject(o.metadata) ? o.metadata : {}
  if (o.kind && o.kind !== r.kind && o.kind !== 'Scale') throw ApiError.badRequest(`the body is a ${o.kind}, not a ${r.kind}`)
  if (r.namespaced) {
    if (o.metadata.namespace && namespace && o.metadata.namespace !== namespace) {
      throw ApiError.badRequest('the namespace of the provided object does not match the namespace sent on the request')
    }
    o.metadata.namespace = namespace ?? o.metadata.namespace
  }
  if (name !== undefined) {
    if (o.metadata.name && o.metadata.name !== name) throw ApiError.badRequest(`the name of the object (${o.metadata.name}) does not match the name on the URL (${name})`)
    o.metadata.name = name
  }
  return o
}

/**
 * DeleteOptions from a JSON or protobuf body, or the query string. kubectl sends a delete's
 * dryRun in the body (`"dryRun": ["All"]`), not in the query as for other verbs.
 */
function deleteOptions(
  req: IncomingMessage,
  body: Buffer,
  query: URLSearchParams,
  dryRun: boolean,
): {propagationPolicy?: string; preconditions?: {uid?: string; resourceVersion?: string}; dryRun: boolean} {
  const opts = (parseBody(req, body) ?? {}) as {propagationPolicy?: string; orphanDependents?: boolean; preconditions?: {uid?: string; resourceVersion?: string}; dryRun?: string[]}
  const policy = opts.propagationPolicy ?? query.get('propagationPolicy') ?? (opts.orphanDependents || query.get('orphanDependents') === 'true' ? 'Orphan' : undefined)
  return {propagationPolicy: policy, preconditions: opts.preconditions, dryRun: dryRun || (Array.isArray(opts.dryRun) && opts.dryRun.includes('All'))}
}

function patch(
  store: ObjectStore,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  r: ResourceType,
  namespace: string | undefined,
  name: string,
  sub: string | undefined,
  dryRun: boolean,
): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim()
  const existing = store.get(r, namespace, name)
  const p = parseBody(req, body)

  if (type === 'application/apply-patch+yaml') {
    if (!isPlainObject(p)) throw ApiError.badRequest('an apply patch must be an object')
    const applied = p as K8sObject
    applied.metadata = {...(isPlainObject(applied.metadata) ? applied.metadata : {}), name, ...(r.namespaced && {namespace})}
    if (!existing) {
      if (sub) throw ApiError.notFound(r, name)
      return sendJson(res, 201, store.create(r, applied, {dryRun}))
    }
    if (sub === 'status') return sendJson(res, 200, store.update(r, {...existing, status: mergePatch(existing.status, applied.status)}, {dryRun, subresource: 'status'}))
    return sendJson(res, 200, store.update(r, serverSideApply(existing, applied), {dryRun}))
  }

  if (!existing) throw ApiError.notFound(r, name)
  const target = sub === 'scale' ? scaleOf(existing) : existing
  let patched: unknown
  if (type === 'application/merge-patch+json') patched = mergePatch(target, p)
  else if (type === 'application/strategic-merge-patch+json') patched = strategicMergePatch(target, p)
  else if (type === 'application/json-patch+json') patched = jsonPatch(target, p)
  else
    throw new ApiError(
      415,
      'UnsupportedMediaType',
      `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
    )
  const obj = patched as K8sObject
  obj.metadata = {...obj.metadata, name, namespace}
  if (sub === 'scale') return sendJson(res, 200, scaleOf(setReplicas(store, r, namespace, name, obj, dryRun)))
  sendJson(res, 200, store.update(r, obj, {dryRun, subresource: sub === 'status' ? 'status' : undefined}))
}

/**
 * Server-side apply, approximated: the applied object replaces the stored one. That is
 * right while one field manager (helm, or `kubectl apply --server-side`) owns the object;
 * uid, creationTimestamp and status are kept by the store, ownerReferences and finalizers
 * when the applied object has none, and the annotations controllers write.
 */
function serverSideApply(existing: K8sObject, applied: K8sObject): K8sObject {
  const next = clone(applied)
  const meta = existing.metadata
  const kept = Object.fromEntries(Object.entries(meta.annotations ?? {}).filter(([k]) => k.startsWith('deployment.kubernetes.io/')))
  next.metadata = {
    ...next.metadata,
    ...(Object.keys(kept).length > 0 && {annotations: {...kept, ...next.metadata.annotations}}),
    ownerReferences: next.metadata.ownerReferences ?? meta.ownerReferences,
    finalizers: next.metadata.finalizers ?? meta.finalizers,
  }
  return next
}

/** The autoscaling/v1 Scale view of a Deployment or ReplicaSet (`kubectl scale`). */
function scaleOf(obj: K8sObject): K8sObject {
  const m = obj.metadata
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp},
    spec: {replicas: obj.spec?.replicas ?? 0},
    status: {replicas: obj.status?.replicas ?? 0, selector: selectorString(obj.spec?.selector)},
  }
}

function setReplicas(store: ObjectStore, r: ResourceType, namespace: string | undefined, name: string, scale: K8sObject, dryRun: boolean): K8sObject {
  const obj = store.mustGet(r, namespace, name)
  const rv = scale.metadata.resourceVersion
  if (rv && rv !== obj.metadata.resourceVersion) throw ApiError.conflict(r, name)
  return store.update(r, {...obj, spec: {...obj.spec, replicas: Number(scale.spec?.replicas ?? 0)}}, {dryRun})
}

/** The sandbox runs no containers; logs say so, and crash-looping pods show an error. */
function podLog(pod: K8sObject, container: string | null): string {
  const statuses: Array<{name: string; state?: {waiting?: {reason?: string}}}> = pod.status?.containerStatuses ?? []
  const cs = statuses.find((s) => s.name === container) ?? statuses[0]
  const who = `${pod.metadata.name}/${cs?.name ?? container ?? 'main'}`
  if (cs?.state?.waiting?.reason === 'CrashLoopBackOff') return `sandbox: ${who} starting\nsandbox: ${who} fatal error, exiting with code 1\n`
  return `sandbox: ${who} started (the sandbox runs no real containers)\n`
}

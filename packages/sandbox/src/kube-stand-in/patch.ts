/**
 * The patch flavours clients send: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
 * Kubernetes strategic merge patch. Server-side apply is approximated in server.ts.
 */
import {ApiError} from './resources.js'
import {clone, deepEqual, isPlainObject} from './util.js'

type Json = unknown

/** RFC 7386: objects merge recursively, null deletes, everything else replaces. */
export function mergePatch(target: Json, patch: Json): Json {
  if (!isPlainObject(patch)) return clone(patch)
  const out: Record<string, Json> = isPlainObject(target) ? {...target} : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = mergePatch(out[k], v)
  }
  return out
}

/**
 * Strategic merge patch. Without the Go structs' patch tags, the merge key of a list is
 * taken from its field name (containers and env merge by `name`, container ports by
 * `containerPort`, service ports by `port`, ...); other lists are replaced, as the real
 * server does for lists without a patch strategy. Directives: `$patch: replace|delete`,
 * `$retainKeys`; `$setElementOrder/...` and `$deleteFromPrimitiveList/...` are honoured loosely.
 */
export function strategicMergePatch(target: Json, patch: Json, path: string[] = []): Json {
  if (!isPlainObject(patch)) return clone(patch)
  const directive = patch.$patch
  if (directive === 'delete') return undefined
  const base: Record<string, Json> = directive === 'replace' || !isPlainObject(target) ? {} : {...target}
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith('$setElementOrder/')) continue
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length)
      if (Array.isArray(base[field]) && Array.isArray(v)) base[field] = (base[field] as Json[]).filter((x) => !v.some((d) => deepEqual(d, x)))
      continue
    }
    if (v === null) {
      delete base[k]
      continue
    }
    if (Array.isArray(v)) base[k] = mergeList(base[k], v, [...path, k])
    else if (isPlainObject(v)) {
      const merged = strategicMergePatch(base[k], v, [...path, k])
      if (merged === undefined) delete base[k]
      else base[k] = merged
    } else base[k] = v
  }
  if (Array.isArray(patch.$retainKeys)) {
    const keep = new Set(patch.$retainKeys as string[])
    for (const k of Object.keys(base)) if (!keep.has(k)) delete base[k]
  }
  return base
}

function mergeKey(path: string[]): string | undefined {
  const field = path[path.length - 1]!
  const parent = path[path.length - 2]
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'env':
    case 'volumes':
    case 'imagePullSecrets':
      return 'name'
    case 'ports':
      return parent === 'spec' && !path.includes('containers') && !path.includes('initContainers') ? 'port' : 'containerPort'
    case 'volumeMounts':
      return 'mountPath'
    case 'volumeDevices':
      return 'devicePath'
    case 'conditions':
      return 'type'
    case 'ownerReferences':
      return 'uid'
    case 'topologySpreadConstraints':
      return 'topologyKey'
    case 'hostAliases':
      return 'ip'
    default:
      return undefined
  }
}

/** Lists of primitives that the real API merges as sets. */
const PRIMITIVE_MERGE = new Set(['finalizers'])

function mergeList(target: Json, patch: Json[], path: string[]): Json[] {
  const current = Array.isArray(target) ? target : []
  if (patch.some((e) => isPlainObject(e) && e.$patch === 'replace')) {
    return patch.filter((e) => !(isPlainObject(e) && e.$patch === 'replace')).map((e) => clone(e))
  }
  const field = path[path.length - 1]!
  if (patch.every((e) => !isPlainObject(e))) {
    if (!PRIMITIVE_MERGE.has(field)) return clone(patch)
    return [...current, ...patch.filter((e) => !current.some((c) => deepEqual(c, e)))]
  }
  const mk = mergeKey(path)
  if (!mk) return patch.filter((e) => !(isPlainObject(e) && e.$patch)).map((e) => clone(e))
  const out: Json[] = current.map((e) => clone(e))
  for (const item of patch) {
    if (!isPlainObject(item)) continue
    const index = out.findIndex((e) => isPlainObject(e) && e[mk] === item[mk])
    if (item.$patch === 'delete') {
      if (index >= 0) out.splice(index, 1)
    } else if (index >= 0) out[index] = strategicMergePatch(out[index], item, path)
    else out.push(strategicMergePatch({}, item, path))
  }
  return out
}

interface JsonPatchOp {
  op: string
  path: string
  from?: string
  value?: Json
}

/** RFC 6902 JSON patch (add, remove, replace, move, copy, test). */
export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw ApiError.badRequest('a JSON patch must be an array of operations')
  let doc = clone(target)
  for (const op of ops as JsonPatchOp[]) {
    switch (op.op) {
      case 'add':
        doc = setAt(doc, op.path, clone(op.value), 'add')
        break
      case 'replace':
        doc = setAt(doc, op.path, clone(op.value), 'replace')
        break
      case 'remove':
        doc = setAt(doc, op.path, undefined, 'remove')
        break
      case 'move':
      case 'copy': {
        const value = clone(getAt(doc, op.from ?? ''))
        if (op.op === 'move') doc = setAt(doc, op.from ?? '', undefined, 'remove')
        doc = setAt(doc, op.path, value, 'add')
        break
      }
      case 'test':
        if (!deepEqual(getAt(doc, op.path), op.value)) throw new ApiError(422, 'Invalid', `JSON patch test failed at ${op.path}`)
        break
      default:
        throw ApiError.badRequest(`unknown JSON patch operation ${String(op.op)}`)
    }
  }
  return doc
}

function pointer(path: string): string[] {
  if (path === '') return []
  return path
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
}

function getAt(doc: Json, path: string | string[]): Json {
  let cur = doc
  for (const seg of typeof path === 'string' ? pointer(path) : path) {
    if (Array.isArray(cur)) cur = cur[Number(seg)]
    else if (isPlainObject(cur)) cur = cur[seg]
    else throw new ApiError(422, 'Invalid', `JSON patch path ${String(path)} does not exist`)
  }
  return cur
}

function setAt(doc: Json, path: string, value: Json, mode: 'add' | 'replace' | 'remove'): Json {
  const segs = pointer(path)
  if (segs.length === 0) return value
  const parent = getAt(doc, segs.slice(0, -1))
  const last = segs[segs.length - 1]!
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last)
    if (mode === 'add') parent.splice(index, 0, value)
    else if (mode === 'replace') parent[index] = value
    else parent.splice(index, 1)
  } else if (isPlainObject(parent)) {
    if (mode !== 'add' && !(last in parent)) throw new ApiError(422, 'Invalid', `JSON patch path ${path} does not exist`)
    if (mode === 'remove') delete parent[last]
    else parent[last] = value
  } else throw new ApiError(422, 'Invalid', `JSON patch path ${path} does not exist`)
  return doc
}

/**
 * Kubernetes manifests as helm renders them (`helm get manifest`, the `.manifest` of
 * `helm upgrade --dry-run=server -o json`): multi-document YAML, parsed into objects keyed by
 * `apiVersion/kind/namespace/name`, and diffed into what a change review needs — resources
 * added, removed, and changed with dotted field paths:
 *
 *   spec.replicas                                     2 → 3
 *   spec.template.spec.containers[name=web].image     nginx:1.27 → nginx:1.29
 *   metadata.annotations["checksum/config"]           ab12… → cd34…
 *
 * Lists of objects that all carry a distinct `name` (containers, env, ports, volumes) are
 * matched by name, so inserting a container does not show every later one as changed; other
 * lists of objects by position; lists of scalars (args, command) compare whole.
 *
 * Pure functions: no I/O, no helm.
 */
import {parseAllDocuments} from 'yaml'

export interface Ref {
  apiVersion: string
  kind: string
  /** Undefined for cluster-scoped kinds. */
  namespace?: string
  name: string
}

export interface FieldChange {
  path: string
  before: unknown
  after: unknown
}

export interface ResourceChange {
  ref: Ref
  fields: FieldChange[]
}

export interface ManifestDiff {
  added: Ref[]
  removed: Ref[]
  changed: ResourceChange[]
}

export interface ManifestObject {
  ref: Ref
  object: Record<string, unknown>
}

/** Kinds that live outside namespaces: they get no default namespace. */
const CLUSTER_SCOPED = new Set([
  'APIService',
  'CSIDriver',
  'CSINode',
  'CertificateSigningRequest',
  'ClusterIssuer',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'IngressClass',
  'MutatingWebhookConfiguration',
  'Namespace',
  'Node',
  'PersistentVolume',
  'PriorityClass',
  'RuntimeClass',
  'StorageClass',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'ValidatingWebhookConfiguration',
  'VolumeAttachment',
  'VolumeSnapshotClass',
])

export function refKey(ref: Ref): string {
  return `${ref.apiVersion}/${ref.kind}/${ref.namespace ?? ''}/${ref.name}`
}

/** `Deployment/apps/web`, or `ClusterRole/web` for cluster-scoped kinds: how plans name a resource. */
export function refTarget(ref: Ref): string {
  return ref.namespace ? `${ref.kind}/${ref.namespace}/${ref.name}` : `${ref.kind}/${ref.name}`
}

/**
 * Parse a multi-document manifest. Empty documents (helm leaves `---` between templates that
 * render to nothing) are skipped, and `kind: List` documents expand to their items. Namespaced
 * objects without a namespace get `namespace` (the release's: helm applies them there).
 */
export function parseManifest(text: string, opts: {namespace?: string} = {}): Map<string, ManifestObject> {
  const out = new Map<string, ManifestObject>()
  const docs = parseAllDocuments(text)
  const list = Array.isArray(docs) ? docs : [docs]
  list.forEach((doc, i) => {
    if (doc.errors.length > 0) throw new Error(`manifest document ${i + 1} is not valid YAML: ${doc.errors[0]!.message}`)
    const value: unknown = doc.toJS()
    if (value === null || value === undefined) return
    const objects = isObject(value) && value.kind === 'List' && Array.isArray(value.items) ? value.items : [value]
    for (const o of objects) {
      if (!isObject(o) || typeof o.kind !== 'string' || typeof o.apiVersion !== 'string' || !isObject(o.metadata) || typeof o.metadata.name !== 'string') {
        throw new Error(`manifest document ${i + 1} is not a Kubernetes object (it needs apiVersion, kind and metadata.name)`)
      }
      const explicit = typeof o.metadata.namespace === 'string' && o.metadata.namespace !== '' ? o.metadata.namespace : undefined
      const namespace = CLUSTER_SCOPED.has(o.kind) ? undefined : (explicit ?? opts.namespace)
      const ref: Ref = {apiVersion: o.apiVersion, kind: o.kind, ...(namespace !== undefined && {namespace}), name: o.metadata.name}
      out.set(refKey(ref), {ref, object: o})
    }
  })
  return out
}

/** What changes from the `before` manifest to the `after` one (text or parsed). Order: as the objects appear. */
export function diffManifests(before: string | Map<string, ManifestObject>, after: string | Map<string, ManifestObject>, opts: {namespace?: string} = {}): ManifestDiff {
  const a = typeof before === 'string' ? parseManifest(before, opts) : before
  const b = typeof after === 'string' ? parseManifest(after, opts) : after
  const diff: ManifestDiff = {added: [], removed: [], changed: []}
  for (const [key, o] of b) {
    const old = a.get(key)
    if (!old) diff.added.push(o.ref)
    else {
      const fields = diffObjects(old.object, o.object)
      if (fields.length > 0) diff.changed.push({ref: o.ref, fields})
    }
  }
  for (const [key, o] of a) if (!b.has(key)) diff.removed.push(o.ref)
  return diff
}

export function isEmptyDiff(d: ManifestDiff): boolean {
  return d.added.length === 0 && d.removed.length === 0 && d.changed.length === 0
}

type Segment = string | {index: number} | {name: string}

/** The changed leaves of two objects, noise left out (see NOISE). */
export function diffObjects(before: unknown, after: unknown): FieldChange[] {
  const out: FieldChange[] = []
  walk(before, after, [], out)
  return out
}

function walk(before: unknown, after: unknown, path: Segment[], out: FieldChange[]): void {
  if (isNoise(path)) return
  const x = normal(before)
  const y = normal(after)
  if (deepEqual(x, y)) return
  // Maps recurse key by key, also when one side is missing: a new label shows as that label.
  // (An empty map against none is a change of its own: `emptyDir: {}` means something.)
  const empty = (v: unknown) => isObject(v) && Object.keys(v).length === 0
  if ((isObject(x) || x === undefined) && (isObject(y) || y === undefined) && !empty(x) && !empty(y)) {
    const keys = new Set([...Object.keys(x ?? {}), ...Object.keys(y ?? {})])
    for (const k of keys) walk(x?.[k], y?.[k], [...path, k], out)
    return
  }
  if (Array.isArray(x) && Array.isArray(y) && [...x, ...y].every(isObject)) {
    const byName = namedItems(x) && namedItems(y)
    if (byName) {
      const names = [...new Set([...x.map((e) => e.name as string), ...y.map((e) => e.name as string)])]
      for (const name of names) {
        const [p, q] = [x.find((e) => e.name === name), y.find((e) => e.name === name)]
        // A whole item added or removed is one change, not one per field.
        if (p === undefined || q === undefined) out.push({path: formatPath([...path, {name}]), before: p, after: q})
        else walk(p, q, [...path, {name}], out)
      }
    } else {
      for (let i = 0; i < Math.max(x.length, y.length); i++) {
        if (i >= x.length || i >= y.length) out.push({path: formatPath([...path, {index: i}]), before: x[i], after: y[i]})
        else walk(x[i], y[i], [...path, {index: i}], out)
      }
    }
    return
  }
  out.push({path: formatPath(path), before: x, after: y})
}

/** Every item is an object with a string `name`, and no name repeats. */
function namedItems(items: Record<string, unknown>[]): boolean {
  const names = items.map((e) => e.name)
  return names.every((n) => typeof n === 'string' && n !== '') && new Set(names).size === names.length
}

/**
 * Fields that differ without meaning a change the operator must review:
 *
 * - what the API server writes (status, uid, resourceVersion, generation, creationTimestamp,
 *   managedFields) and what helm or kubectl stamp on at apply time (`meta.helm.sh/release-*`,
 *   `last-applied-configuration`, the Deployment controller's revision annotation). Rendered
 *   manifests do not carry them, but a caller diffing live objects would see them on one side.
 * - the `helm.sh/chart` label (chart name-version) in an object's own metadata: every chart
 *   version bump changes it on every resource, which would bury the real changes. The chart
 *   version is compared and shown on its own. In a pod template the same label is NOT ignored:
 *   changing it restarts every pod, and a review must show that.
 */
const NOISE_METADATA = new Set(['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'selfLink', 'deletionTimestamp', 'deletionGracePeriodSeconds'])
const NOISE_ANNOTATIONS = new Set([
  'meta.helm.sh/release-name',
  'meta.helm.sh/release-namespace',
  'kubectl.kubernetes.io/last-applied-configuration',
  'deployment.kubernetes.io/revision',
])

function isNoise(path: Segment[]): boolean {
  const [first, second, third] = path
  if (path.length === 1 && first === 'status') return true
  if (first !== 'metadata') return false
  if (path.length === 2 && typeof second === 'string' && NOISE_METADATA.has(second)) return true
  if (path.length === 3 && second === 'annotations' && typeof third === 'string' && NOISE_ANNOTATIONS.has(third)) return true
  return path.length === 3 && second === 'labels' && third === 'helm.sh/chart'
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/

export function formatPath(path: Segment[]): string {
  let out = ''
  for (const s of path) {
    if (typeof s === 'string') out += IDENTIFIER.test(s) ? `${out ? '.' : ''}${s}` : `[${JSON.stringify(s)}]`
    else if ('name' in s) out += `[name=${s.name}]`
    else out += `[${s.index}]`
  }
  return out
}

/** A value for one line of text: scalars plain, structures as compact JSON (shortened), absence as "(none)". */
export function formatValue(v: unknown, max = 80): string {
  if (v === undefined || v === null) return '(none)'
  const text = typeof v === 'string' ? (v === '' ? '""' : v) : JSON.stringify(v)
  const oneLine = text.replace(/\s*\n\s*/g, ' ')
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine
}

export function formatField(c: FieldChange): string {
  return `${c.path} ${formatValue(c.before)} → ${formatValue(c.after)}`
}

/** JSON null means "unset" in Kubernetes objects. */
function normal(v: unknown): unknown {
  return v === null ? undefined : v
}

function isObject(v: unknown): v is Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function deepEqual(a: unknown, b: unknown): boolean {
  a = normal(a)
  b = normal(b)
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === undefined || b === undefined) return false
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]))
  const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)])
  return [...keys].every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
}

/**
 * The generic object store behind the stand-in: objects keyed by (group, plural, namespace,
 * name), one global resourceVersion counter, and an event log that backs watches.
 *
 * Every write bumps the counter and appends an event, like etcd's revision: a watch that
 * resumes from resourceVersion N replays the log after N, and a watch-list snapshots the
 * store and then streams live events, without a gap because both happen in one tick.
 */
import {randomUUID} from 'node:crypto'
import {ApiError, RESOURCES, apiVersionOf, resourceForKind, type ResourceType} from './resources.js'
import {clone, deepEqual, isPlainObject, prune, randomSuffix, timestamp} from './util.js'

export interface OwnerReference {
  apiVersion: string
  kind: string
  name: string
  uid: string
  controller?: boolean
  blockOwnerDeletion?: boolean
}

export interface ObjectMeta {
  name?: string
  generateName?: string
  namespace?: string
  uid?: string
  resourceVersion?: string
  generation?: number
  creationTimestamp?: string
  deletionTimestamp?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
  ownerReferences?: OwnerReference[]
  finalizers?: string[]
  [key: string]: unknown
}

/** A stored object. Spec and status stay loosely typed: the stand-in serves many kinds. */
export interface K8sObject {
  apiVersion?: string
  kind?: string
  metadata: ObjectMeta
  spec?: any
  status?: any
  [key: string]: unknown
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED'

export interface StoreEvent {
  type: EventType
  resource: ResourceType
  object: K8sObject
  rv: number
}

export interface WriteOptions {
  dryRun?: boolean
}

export interface DeleteOptions extends WriteOptions {
  propagationPolicy?: string
  preconditions?: {uid?: string; resourceVersion?: string}
}

const PROTECTED_NAMESPACES = new Set(['default', 'kube-system', 'kube-public'])

const NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/

export class ObjectStore {
  private readonly byResource = new Map<ResourceType, Map<string, K8sObject>>()
  private readonly log: StoreEvent[] = []
  private readonly listeners = new Set<(e: StoreEvent) => void>()
  private counter = 0
  private nextServiceIp = 1
  private nextNodePort = 80

  constructor(private readonly logLimit = 20_000) {
    for (const r of RESOURCES) this.byResource.set(r, new Map())
  }

  /** The newest resourceVersion, as a string like the API returns it. */
  get resourceVersion(): string {
    return String(this.counter)
  }

  get(r: ResourceType, namespace: string | undefined, name: string): K8sObject | undefined {
    const o = this.table(r).get(key(r, namespace, name))
    return o && clone(o)
  }

  mustGet(r: ResourceType, namespace: string | undefined, name: string): K8sObject {
    const o = this.get(r, namespace, name)
    if (!o) throw ApiError.notFound(r, name)
    return o
  }

  /** Objects of one resource, in one namespace or (namespace undefined) all, sorted like etcd keys. */
  list(r: ResourceType, namespace?: string): K8sObject[] {
    const out: K8sObject[] = []
    for (const o of this.table(r).values()) if (namespace === undefined || !r.namespaced || o.metadata.namespace === namespace) out.push(clone(o))
    return out.sort((a, b) => key(r, a.metadata.namespace, a.metadata.name!).localeCompare(key(r, b.metadata.namespace, b.metadata.name!)))
  }

  create(r: ResourceType, input: K8sObject, opts: WriteOptions = {}): K8sObject {
    const obj = prune(input)
    obj.metadata ??= {}
    const meta = obj.metadata
    if (!meta.name && meta.generateName) meta.name = meta.generateName + randomSuffix()
    const name = meta.name
    if (!name) throw ApiError.invalid(r, '', 'metadata.name: Required value: name or generateName is required')
    if (!NAME_RE.test(name) || name.length > 253) throw ApiError.invalid(r, name, `metadata.name: Invalid value: "${name}": must be a lowercase RFC 1123 subdomain`)
    if (r.namespaced) {
      meta.namespace ||= 'default'
      if (!this.table(namespacesResource()).has(key(namespacesResource(), undefined, meta.namespace))) {
        throw new ApiError(404, 'NotFound', `namespaces "${meta.namespace}" not found`, {name: meta.namespace, kind: 'namespaces'})
      }
    } else delete meta.namespace
    if (this.table(r).has(key(r, meta.namespace, name))) throw ApiError.alreadyExists(r, name)
    obj.apiVersion = apiVersionOf(r)
    obj.kind = r.kind
    meta.uid = randomUUID()
    meta.creationTimestamp = timestamp()
    delete meta.resourceVersion
    delete meta.deletionTimestamp
    if (r.generation) meta.generation = 1
    else delete meta.generation
    this.admit(r, obj, undefined, opts.dryRun)
    if (opts.dryRun) return obj
    return this.commit('ADDED', r, obj)
  }

  /**
   * Replace an object (PUT). A resourceVersion in the body is a precondition (409 Conflict
   * when stale), which is what makes Lease-based locking safe. On the main resource the
   * status is kept (it changes only through /status); on /status only the status changes.
   */
  update(r: ResourceType, input: K8sObject, opts: WriteOptions & {subresource?: 'status'} = {}): K8sObject {
    const ns = r.namespaced ? input.metadata?.namespace || 'default' : undefined
    const name = input.metadata?.name ?? ''
    const existing = this.table(r).get(key(r, ns, name))
    if (!existing) throw ApiError.notFound(r, name)
    const rv = input.metadata.resourceVersion
    if (rv && rv !== existing.metadata.resourceVersion) throw ApiError.conflict(r, name)

    let next: K8sObject
    if (opts.subresource === 'status') {
      next = clone(existing)
      next.status = prune(input.status)
    } else {
      next = prune(input)
      next.metadata = {...next.metadata, name, namespace: ns, uid: existing.metadata.uid, creationTimestamp: existing.metadata.creationTimestamp}
      if (!r.namespaced) delete next.metadata.namespace
      if (existing.metadata.deletionTimestamp) next.metadata.deletionTimestamp = existing.metadata.deletionTimestamp
      if (r.subresources?.includes('status')) next.status = clone(existing.status)
    }
    next.apiVersion = apiVersionOf(r)
    next.kind = r.kind
    this.admit(r, next, existing, opts.dryRun)
    if (r.generation) {
      const gen = existing.metadata.generation ?? 1
      next.metadata.generation = deepEqual(specOf(existing), specOf(next)) ? gen : gen + 1
    }
    next.metadata.resourceVersion = existing.metadata.resourceVersion
    // A write that changes nothing is a no-op: no new resourceVersion, no watch event.
    if (deepEqual(next, existing)) return clone(existing)
    if (opts.dryRun) return next
    return this.commit('MODIFIED', r, next)
  }

  /**
   * Delete an object at once (no finalizers are honoured) and garbage-collect its dependents:
   * objects whose ownerReferences name its uid are deleted too, or orphaned with
   * propagationPolicy=Orphan. Deleting a namespace deletes everything in it.
   */
  delete(r: ResourceType, namespace: string | undefined, name: string, opts: DeleteOptions = {}): K8sObject {
    const ns = r.namespaced ? namespace || 'default' : undefined
    const existing = this.table(r).get(key(r, ns, name))
    if (!existing) throw ApiError.notFound(r, name)
    if (r.kind === 'Namespace' && PROTECTED_NAMESPACES.has(name)) {
      throw new ApiError(403, 'Forbidden', `namespaces "${name}" is forbidden: this namespace may not be deleted`, {name, kind: 'namespaces'})
    }
    const pre = opts.preconditions
    if ((pre?.uid && pre.uid !== existing.metadata.uid) || (pre?.resourceVersion && pre.resourceVersion !== existing.metadata.resourceVersion)) {
      throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${r.plural} "${name}": the precondition failed`, {name, group: r.group, kind: r.plural})
    }
    if (opts.dryRun) return clone(existing)
    this.table(r).delete(key(r, ns, name))
    const gone = clone(existing)
    const deleted = this.emit('DELETED', r, gone)

    if (r.kind === 'Namespace') {
      for (const other of RESOURCES) {
        if (!other.namespaced) continue
        for (const o of this.list(other, name)) if (this.table(other).has(key(other, name, o.metadata.name!))) this.delete(other, name, o.metadata.name!)
      }
    }
    for (const other of RESOURCES) {
      for (const o of [...this.table(other).values()]) {
        if (!o.metadata.ownerReferences?.some((ref) => ref.uid === existing.metadata.uid)) continue
        if (opts.propagationPolicy === 'Orphan') {
          const orphan = clone(o)
          orphan.metadata.ownerReferences = orphan.metadata.ownerReferences!.filter((ref) => ref.uid !== existing.metadata.uid)
          this.update(other, orphan)
        } else if (this.table(other).has(key(other, o.metadata.namespace, o.metadata.name!))) {
          this.delete(other, o.metadata.namespace, o.metadata.name!, {propagationPolicy: opts.propagationPolicy})
        }
      }
    }
    return deleted
  }

  /** Create or replace an object by its apiVersion and kind, ignoring resourceVersion (for seeding). */
  put(input: K8sObject): K8sObject {
    const r = this.resourceOf(input)
    const existing = this.get(r, input.metadata?.namespace, input.metadata?.name ?? '')
    if (!existing) {
      const created = this.create(r, input)
      return input.status === undefined ? created : this.update(r, {...created, status: input.status}, {subresource: 'status'})
    }
    const replaced = this.update(r, {...clone(input), metadata: {...input.metadata, resourceVersion: undefined}})
    return input.status === undefined ? replaced : this.update(r, {...replaced, status: input.status}, {subresource: 'status'})
  }

  find(apiVersion: string, kind: string, namespace: string | undefined, name: string): K8sObject | undefined {
    const r = resourceForKind(apiVersion, kind)
    return r && this.get(r, namespace, name)
  }

  resourceOf(obj: {apiVersion?: string; kind?: string}): ResourceType {
    const r = resourceForKind(obj.apiVersion ?? '', obj.kind ?? '')
    if (!r) throw ApiError.badRequest(`the stand-in does not serve ${obj.apiVersion ?? '?'} ${obj.kind ?? '?'}`)
    return r
  }

  /** Listen to every committed change, synchronously; returns the unsubscribe function. */
  subscribe(listener: (e: StoreEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Events after resourceVersion `rv`, or undefined when the log no longer reaches back that far (410 Gone). */
  eventsAfter(rv: number): StoreEvent[] | undefined {
    if (rv >= this.counter) return []
    const first = this.log[0]
    if (!first || first.rv > rv + 1) return undefined
    return this.log.filter((e) => e.rv > rv)
  }

  private table(r: ResourceType): Map<string, K8sObject> {
    return this.byResource.get(r)!
  }

  private commit(type: EventType, r: ResourceType, obj: K8sObject): K8sObject {
    this.table(r).set(key(r, obj.metadata.namespace, obj.metadata.name!), obj)
    return this.emit(type, r, obj)
  }

  /** Assign the next resourceVersion, log the event and tell the listeners. */
  private emit(type: EventType, r: ResourceType, obj: K8sObject): K8sObject {
    this.counter += 1
    obj.metadata.resourceVersion = String(this.counter)
    const event: StoreEvent = {type, resource: r, object: clone(obj), rv: this.counter}
    this.log.push(event)
    if (this.log.length > this.logLimit) this.log.splice(0, this.log.length - this.logLimit)
    for (const listener of [...this.listeners]) listener(event)
    return clone(obj)
  }

  /**
   * Defaulting and the little validation the real API server would do on every write. A dry
   * run is admitted the same way (so it fails where the write would) but allocates nothing.
   */
  private admit(r: ResourceType, obj: K8sObject, existing: K8sObject | undefined, dryRun = false): void {
    if (dryRun) {
      const counters = {ip: this.nextServiceIp, port: this.nextNodePort}
      try {
        this.admit(r, obj, existing)
      } finally {
        this.nextServiceIp = counters.ip
        this.nextNodePort = counters.port
      }
      return
    }
    const name = obj.metadata.name!
    switch (r.kind) {
      case 'Namespace': {
        obj.metadata.labels = {...obj.metadata.labels, 'kubernetes.io/metadata.name': name}
        obj.spec = {finalizers: ['kubernetes'], ...obj.spec}
        obj.status = {phase: 'Active', ...(existing?.status ?? obj.status)}
        break
      }
      case 'Secret': {
        obj.type ??= 'Opaque'
        const stringData = obj.stringData as Record<string, string> | undefined
        if (stringData) {
          const data: Record<string, string> = {...(obj.data as Record<string, string> | undefined)}
          for (const [k, v] of Object.entries(stringData)) data[k] = Buffer.from(String(v)).toString('base64')
          obj.data = data
          delete obj.stringData
        }
        break
      }
      case 'Service': {
        const spec = (obj.spec ??= {})
        spec.type ??= 'ClusterIP'
        spec.sessionAffinity ??= 'None'
        if (spec.type !== 'ExternalName') {
          // The cluster IP is immutable: keep the allocated one across PUT and apply.
          if (!spec.clusterIP) spec.clusterIP = existing?.spec?.clusterIP || `10.96.${Math.floor(this.nextServiceIp / 250)}.${(this.nextServiceIp++ % 250) + 1}`
          if (spec.clusterIP !== 'None') spec.clusterIPs = [spec.clusterIP]
          spec.ipFamilies ??= ['IPv4']
          spec.ipFamilyPolicy ??= 'SingleStack'
          spec.internalTrafficPolicy ??= 'Cluster'
        }
        const oldPorts: Array<{port: number; nodePort?: number}> = existing?.spec?.ports ?? []
        for (const p of spec.ports ?? []) {
          p.protocol ??= 'TCP'
          p.targetPort ??= p.port
          if ((spec.type === 'NodePort' || spec.type === 'LoadBalancer') && !p.nodePort) {
            p.nodePort = oldPorts.find((o) => o.port === p.port)?.nodePort ?? 30000 + (this.nextNodePort++ % 2768)
          }
        }
        obj.status ??= {loadBalancer: {}}
        break
      }
      case 'Deployment': {
        const spec = (obj.spec ??= {})
        spec.replicas ??= 1
        spec.revisionHistoryLimit ??= 10
        spec.progressDeadlineSeconds ??= 600
        if (!spec.strategy?.type) spec.strategy = {type: 'RollingUpdate', ...spec.strategy}
        if (spec.strategy.type === 'RollingUpdate') spec.strategy.rollingUpdate = {maxSurge: '25%', maxUnavailable: '25%', ...spec.strategy.rollingUpdate}
        const labels = spec.template?.metadata?.labels ?? {}
        const matchLabels: Record<string, string> = spec.selector?.matchLabels ?? {}
        if (!spec.selector) throw ApiError.invalid(r, name, 'spec.selector: Required value')
        if (Object.entries(matchLabels).some(([k, v]) => labels[k] !== v)) {
          throw ApiError.invalid(r, name, 'spec.template.metadata.labels: Invalid value: `selector` does not match template `labels`')
        }
        if (!Array.isArray(spec.template?.spec?.containers) || spec.template.spec.containers.length === 0) {
          throw ApiError.invalid(r, name, 'spec.template.spec.containers: Required value')
        }
        break
      }
      case 'Job': {
        // The real API labels the pod template with the Job's uid and selects on it.
        const spec = (obj.spec ??= {})
        const uid = obj.metadata.uid!
        spec.completions ??= 1
        spec.parallelism ??= 1
        spec.backoffLimit ??= 6
        spec.completionMode ??= 'NonIndexed'
        spec.suspend ??= false
        spec.selector ??= {matchLabels: {'batch.kubernetes.io/controller-uid': uid}}
        spec.template ??= {}
        spec.template.metadata = {
          ...spec.template.metadata,
          labels: {...spec.template.metadata?.labels, 'batch.kubernetes.io/controller-uid': uid, 'batch.kubernetes.io/job-name': name, 'controller-uid': uid, 'job-name': name},
        }
        spec.template.spec = {restartPolicy: 'Never', ...spec.template.spec}
        break
      }
      case 'Pod': {
        obj.spec ??= {}
        obj.spec.restartPolicy ??= 'Always'
        break
      }
      case 'RoleBinding':
      case 'ClusterRoleBinding': {
        const ref = obj.roleRef as {apiGroup?: string; kind?: string; name?: string} | undefined
        if (!ref?.kind || !ref.name) throw ApiError.invalid(r, name, 'roleRef.kind, roleRef.name: Required value')
        if (ref.kind !== 'ClusterRole' && (ref.kind !== 'Role' || r.kind === 'ClusterRoleBinding')) {
          throw ApiError.invalid(r, name, `roleRef.kind: Unsupported value: "${ref.kind}": supported values: ${r.kind === 'RoleBinding' ? '"Role", ' : ''}"ClusterRole"`)
        }
        ref.apiGroup ??= 'rbac.authorization.k8s.io'
        if (existing && !deepEqual(existing.roleRef, ref)) throw ApiError.invalid(r, name, 'roleRef: Invalid value: cannot change roleRef')
        for (const s of (obj.subjects ?? []) as Array<{kind?: string; apiGroup?: string}>) s.apiGroup ??= s.kind === 'ServiceAccount' ? '' : 'rbac.authorization.k8s.io'
        break
      }
      case 'Role':
      case 'ClusterRole': {
        const rules = (obj.rules ?? []) as Array<{verbs?: string[]}>
        const bad = rules.findIndex((rule) => !rule.verbs?.length)
        if (bad >= 0) throw ApiError.invalid(r, name, `rules[${bad}].verbs: Required value: verbs must contain at least one value`)
        break
      }
      case 'NetworkPolicy': {
        const spec = (obj.spec ??= {})
        if (!isPlainObject(spec.podSelector)) throw ApiError.invalid(r, name, 'spec.podSelector: Required value')
        spec.policyTypes ??= ['Ingress', ...(spec.egress ? ['Egress'] : [])]
        break
      }
      case 'ResourceQuota': {
        obj.spec ??= {}
        break
      }
    }
  }
}

function key(r: ResourceType, namespace: string | undefined, name: string): string {
  return r.namespaced ? `${namespace}/${name}` : name
}

function namespacesResource(): ResourceType {
  return RESOURCES.find((r) => r.kind === 'Namespace')!
}

/** What counts as "spec" for generation: everything except metadata and status. */
function specOf(o: K8sObject): unknown {
  const {metadata: _m, status: _s, ...rest} = o
  return rest
}

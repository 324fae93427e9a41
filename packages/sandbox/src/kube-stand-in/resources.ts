/**
 * The resource kinds the Kubernetes stand-in knows, and the Status errors it answers with.
 *
 * One table drives discovery, OpenAPI, routing and the store, so adding a kind is one entry.
 */

export interface ResourceType {
  group: string // '' for the core group
  version: string
  plural: string
  singular: string
  kind: string
  namespaced: boolean
  shortNames?: string[]
  /** `kubectl get all` expands the `all` category from discovery. */
  categories?: string[]
  /** Subresources served besides the object itself. */
  subresources?: Array<'status' | 'scale' | 'log'>
  /** Kinds whose metadata.generation counts spec changes (and whose status has observedGeneration). */
  generation?: boolean
  /** The verbs served, when not all of VERBS (e.g. create-only reviews). */
  verbs?: string[]
  /**
   * A review kind (SelfSubjectAccessReview): create-only, answered from the request and never
   * stored, like the real API's authorization.k8s.io endpoints.
   */
  review?: boolean
}

const ALL = ['all']

export const RESOURCES: ResourceType[] = [
  {group: '', version: 'v1', plural: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false, shortNames: ['ns'], subresources: ['status']},
  {group: '', version: 'v1', plural: 'nodes', singular: 'node', kind: 'Node', namespaced: false, shortNames: ['no'], subresources: ['status']},
  {group: '', version: 'v1', plural: 'pods', singular: 'pod', kind: 'Pod', namespaced: true, shortNames: ['po'], categories: ALL, subresources: ['status', 'log']},
  {group: '', version: 'v1', plural: 'services', singular: 'service', kind: 'Service', namespaced: true, shortNames: ['svc'], categories: ALL, subresources: ['status']},
  {group: '', version: 'v1', plural: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true, shortNames: ['cm']},
  {group: '', version: 'v1', plural: 'secrets', singular: 'secret', kind: 'Secret', namespaced: true},
  {group: '', version: 'v1', plural: 'events', singular: 'event', kind: 'Event', namespaced: true, shortNames: ['ev']},
  {
    group: 'apps',
    version: 'v1',
    plural: 'deployments',
    singular: 'deployment',
    kind: 'Deployment',
    namespaced: true,
    shortNames: ['deploy'],
    categories: ALL,
    subresources: ['status', 'scale'],
    generation: true,
  },
  {
    group: 'apps',
    version: 'v1',
    plural: 'replicasets',
    singular: 'replicaset',
    kind: 'ReplicaSet',
    namespaced: true,
    shortNames: ['rs'],
    categories: ALL,
    subresources: ['status', 'scale'],
    generation: true,
  },
  {group: 'batch', version: 'v1', plural: 'jobs', singular: 'job', kind: 'Job', namespaced: true, categories: ALL, subresources: ['status'], generation: true},
  {
    group: 'autoscaling',
    version: 'v2',
    plural: 'horizontalpodautoscalers',
    singular: 'horizontalpodautoscaler',
    kind: 'HorizontalPodAutoscaler',
    namespaced: true,
    shortNames: ['hpa'],
    categories: ALL,
    subresources: ['status'],
    generation: true,
  },
  {
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'ingresses',
    singular: 'ingress',
    kind: 'Ingress',
    namespaced: true,
    shortNames: ['ing'],
    subresources: ['status'],
    generation: true,
  },
  {group: 'coordination.k8s.io', version: 'v1', plural: 'leases', singular: 'lease', kind: 'Lease', namespaced: true},
  // What `helm create` charts and the seeds' layout (namespace, RBAC, network policy, quota) need.
  {group: '', version: 'v1', plural: 'serviceaccounts', singular: 'serviceaccount', kind: 'ServiceAccount', namespaced: true, shortNames: ['sa']},
  {group: '', version: 'v1', plural: 'resourcequotas', singular: 'resourcequota', kind: 'ResourceQuota', namespaced: true, shortNames: ['quota'], subresources: ['status']},
  {
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'networkpolicies',
    singular: 'networkpolicy',
    kind: 'NetworkPolicy',
    namespaced: true,
    shortNames: ['netpol'],
    generation: true,
  },
  {group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'roles', singular: 'role', kind: 'Role', namespaced: true},
  {group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'rolebindings', singular: 'rolebinding', kind: 'RoleBinding', namespaced: true},
  {group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterroles', singular: 'clusterrole', kind: 'ClusterRole', namespaced: false},
  {group: 'rbac.authorization.k8s.io', version: 'v1', plural: 'clusterrolebindings', singular: 'clusterrolebinding', kind: 'ClusterRoleBinding', namespaced: false},
  {
    group: 'authorization.k8s.io',
    version: 'v1',
    plural: 'selfsubjectaccessreviews',
    singular: 'selfsubjectaccessreview',
    kind: 'SelfSubjectAccessReview',
    namespaced: false,
    verbs: ['create'],
    review: true,
  },
]

export const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch']

export function verbsOf(r: ResourceType): string[] {
  return r.verbs ?? VERBS
}

export function apiVersionOf(r: ResourceType): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`
}

export function findResource(group: string, version: string, plural: string): ResourceType | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural)
}

export function resourceForKind(apiVersion: string, kind: string): ResourceType | undefined {
  return RESOURCES.find((r) => apiVersionOf(r) === apiVersion && r.kind === kind)
}

/** Group versions in discovery order ('' first = the legacy /api/v1). */
export function groupVersions(): Array<{group: string; version: string}> {
  const seen = new Map<string, {group: string; version: string}>()
  for (const r of RESOURCES) seen.set(`${r.group}/${r.version}`, {group: r.group, version: r.version})
  return [...seen.values()]
}

/**
 * An error answered as a Kubernetes `Status` object. helm and kubectl read `reason`
 * (AlreadyExists, Conflict, NotFound) to decide what to do next, so it must be right.
 */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: {name?: string; group?: string; kind?: string; causes?: Array<{reason: string; message: string; field?: string}>},
  ) {
    super(message)
  }

  toStatus(): object {
    return {kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, details: this.details, code: this.code}
  }

  static notFound(r: ResourceType, name: string): ApiError {
    return new ApiError(404, 'NotFound', `${qualified(r)} "${name}" not found`, {name, group: r.group, kind: r.plural})
  }

  static alreadyExists(r: ResourceType, name: string): ApiError {
    return new ApiError(409, 'AlreadyExists', `${qualified(r)} "${name}" already exists`, {name, group: r.group, kind: r.plural})
  }

  static conflict(r: ResourceType, name: string): ApiError {
    return new ApiError(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${qualified(r)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      {name, group: r.group, kind: r.plural},
    )
  }

  static badRequest(message: string): ApiError {
    return new ApiError(400, 'BadRequest', message)
  }

  /**
   * 422 Invalid. `message` reads "field: what is wrong"; the field also goes into the causes,
   * which is what kubectl prints under "The Deployment "web" is invalid:".
   */
  static invalid(r: ResourceType, name: string, message: string): ApiError {
    const m = /^([\w.[\]"/-]+(?:, [\w.[\]"/-]+)*): (.*)$/s.exec(message)
    const causes = [{reason: 'FieldValueInvalid', message: m ? m[2]! : message, ...(m && {field: m[1]})}]
    return new ApiError(422, 'Invalid', `${r.kind} "${name}" is invalid: ${message}`, {name, group: r.group, kind: r.kind, causes})
  }
}

function qualified(r: ResourceType): string {
  return r.group === '' ? r.plural : `${r.plural}.${r.group}`
}

/**
 * Which AWS service and operation an HTTP request is, from the wire alone.
 *
 * The request log built on this is how tests prove that a dry run sent no mutating call, so the
 * rules are strict and, where unsure, err towards "mutating".
 */
import type {IncomingHttpHeaders} from 'node:http'
import * as backupSdk from '@aws-sdk/client-backup'
import * as eksSdk from '@aws-sdk/client-eks'
import * as route53Sdk from '@aws-sdk/client-route-53'

/** The wire protocols we answer errors in. */
export type AwsProtocol = 'rest-xml' | 'rest-json' | 'json' | 'query' | 'ec2'

export interface OperationInfo {
  /** The SigV4 signing name: route53, rds, eks, backup, monitoring (CloudWatch), sts, ec2, ... */
  service: string
  /** The API operation name, e.g. ChangeResourceRecordSets; `METHOD /path` when it cannot be told. */
  operation: string
  protocol: AwsProtocol
  mutating: boolean
  /** The region from the credential scope (us-east-1 when unsigned). */
  region: string
  /** Path labels of a REST operation, e.g. {Id: 'Z123'} for GetHostedZone. */
  params: Record<string, string>
  /** The query-string parameters, decoded. */
  query: URLSearchParams
}

export interface RequestParts {
  method: string
  /** The request target as received: path plus query string. */
  url: string
  headers: IncomingHttpHeaders
  /** The body, when it had to be read to tell the operation (form-encoded query-protocol calls). */
  body?: Buffer
}

/** Other names people use for a service, mapped to the signing name the log uses. */
export const SERVICE_ALIASES: Record<string, string> = {
  cloudwatch: 'monitoring',
  'route-53': 'route53',
  route_53: 'route53',
  'aws-backup': 'backup',
}

export function canonicalService(name: string): string {
  const lower = name.toLowerCase()
  return SERVICE_ALIASES[lower] ?? lower
}

// Read-only verbs. Anything else counts as mutating: a false "mutating" makes a dry-run test fail
// loudly, a false "read-only" would let a real change slip through unseen.
// (Not "Test", "Verify" or "Detect": ElastiCache's TestFailover fails a node over, SES's
// VerifyEmailIdentity creates an identity.)
const READ_ONLY_PREFIXES = [
  'Describe',
  'List',
  'Get',
  'Search',
  'Lookup',
  'Check',
  'Validate',
  'Estimate',
  'Preview',
  'Query',
  'Scan',
  'Head',
  'Select',
  'Filter',
  'Simulate',
  'Evaluate',
  'Decode',
  'Download',
  'View',
  'Assume',
]
const READ_ONLY_OPERATIONS = new Set(['TestDNSAnswer'])

/** True for operations that change state (Create*, Delete*, Update*, Put*, Change*, Start*, ...). */
export function isMutatingOperation(operation: string): boolean {
  // A REST call we could not name: judge by method.
  const unnamed = /^([A-Z]+) \//.exec(operation)
  if (unnamed) return !['GET', 'HEAD', 'OPTIONS'].includes(unnamed[1]!)
  if (READ_ONLY_OPERATIONS.has(operation)) return false
  const name = operation.startsWith('Batch') ? operation.slice('Batch'.length) : operation
  return !READ_ONLY_PREFIXES.some((p) => name.startsWith(p) && (name.length === p.length || /[A-Z]/.test(name[p.length]!)))
}

// --- REST route tables, taken from the installed SDK clients' own operation schemas -------------

interface RestRoute {
  operation: string
  method: string
  /** Path segments; `{Label}` for a label, `{Label+}` for a greedy one. */
  segments: string[]
  /** Query keys the route's URI template requires (e.g. `?delete`). */
  queryKeys: string[]
  literalCount: number
}

/** Service signing name -> routes, for the REST services the sandbox knows. */
const REST_SERVICES: Record<string, {protocol: AwsProtocol; sdk: Record<string, unknown>}> = {
  route53: {protocol: 'rest-xml', sdk: route53Sdk},
  eks: {protocol: 'rest-json', sdk: eksSdk},
  backup: {protocol: 'rest-json', sdk: backupSdk},
}

let routeTables: Map<string, RestRoute[]> | undefined

/**
 * The SDK exports every operation as a static schema `[9, namespace, name, {http: [METHOD, uri, code]}, ...]`.
 * Reading the tables from there keeps them complete and exact for the installed clients.
 */
export function restRoutes(service: string): RestRoute[] {
  if (!routeTables) {
    routeTables = new Map()
    for (const [name, {sdk}] of Object.entries(REST_SERVICES)) {
      const routes: RestRoute[] = []
      for (const value of Object.values(sdk)) {
        if (!Array.isArray(value) || value[0] !== 9 || typeof value[2] !== 'string') continue
        const http = (value[3] as {http?: [string, string, number]} | undefined)?.http
        if (!http) continue
        const [pathPart, queryPart = ''] = http[1].split('?')
        const segments = splitPath(pathPart!)
        routes.push({
          operation: value[2],
          method: http[0],
          segments,
          queryKeys: queryPart ? queryPart.split('&').map((kv) => kv.split('=')[0]!) : [],
          literalCount: segments.filter((s) => !s.startsWith('{')).length,
        })
      }
      // Most literal segments first, so /backup/template/plans beats /backup/plans/{Id}.
      routes.sort((a, b) => b.literalCount - a.literalCount || b.queryKeys.length - a.queryKeys.length)
      routeTables.set(name, routes)
    }
  }
  return routeTables.get(service) ?? []
}

function splitPath(path: string): string[] {
  // Clients differ on trailing slashes (the AWS CLI posts to .../rrset/), so ignore empty segments.
  return path.split('/').filter((s) => s !== '')
}

function matchRoute(routes: RestRoute[], method: string, segments: string[], query: URLSearchParams): {route: RestRoute; params: Record<string, string>} | undefined {
  for (const route of routes) {
    if (route.method !== method) continue
    if (!route.queryKeys.every((k) => query.has(k))) continue
    const params = matchSegments(route.segments, segments)
    if (params) return {route, params}
  }
  return undefined
}

function matchSegments(template: string[], actual: string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {}
  for (let i = 0; i < template.length; i++) {
    const t = template[i]!
    if (t.startsWith('{') && t.endsWith('+}')) {
      // Greedy label: takes the rest of the path.
      if (i >= actual.length) return undefined
      params[t.slice(1, -2)] = actual.slice(i).join('/')
      return params
    }
    const a = actual[i]
    if (a === undefined) return undefined
    if (t.startsWith('{')) params[t.slice(1, -1)] = a
    else if (t !== a) return undefined
  }
  return template.length === actual.length ? params : undefined
}

// --- identification ----------------------------------------------------------------------------

const SCOPE_RE = /Credential=[^/,\s]+\/\d{8}\/([^/,\s]+)\/([^/,\s]+)\/aws4_request/

/** Region and service from the SigV4 credential scope (header, or query string when presigned). */
export function credentialScope(headers: IncomingHttpHeaders, query: URLSearchParams): {region: string; service: string} | undefined {
  const auth = headerValue(headers, 'authorization')
  const m = auth ? SCOPE_RE.exec(auth) : undefined
  if (m) return {region: m[1]!, service: m[2]!}
  const cred = query.get('X-Amz-Credential')
  if (cred) {
    const parts = cred.split('/')
    if (parts.length >= 5) return {region: parts[2]!, service: parts[3]!}
  }
  return undefined
}

export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name]
  return Array.isArray(v) ? v[0] : v
}

export function isFormEncoded(headers: IncomingHttpHeaders): boolean {
  return (headerValue(headers, 'content-type') ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')
}

/** Whether the body must be read before the operation can be told (query protocol posts). */
export function needsBodyToIdentify(parts: RequestParts): boolean {
  return parts.method === 'POST' && isFormEncoded(parts.headers) && !new URL(parts.url, 'http://x').searchParams.has('Action')
}

// JSON-protocol target prefixes of services whose requests may come unsigned.
const TARGET_PREFIX_SERVICE: Record<string, string> = {
  GraniteServiceVersion20100801: 'monitoring',
}

// API versions of the query-protocol services the sandbox fronts.
const QUERY_API_VERSIONS: Record<string, string> = {
  '2011-06-15': 'sts',
  '2014-10-31': 'rds',
  '2010-08-01': 'monitoring',
  '2016-11-15': 'ec2',
}

export function identifyOperation(parts: RequestParts): OperationInfo {
  const url = new URL(parts.url, 'http://front.invalid')
  const query = url.searchParams
  const method = parts.method.toUpperCase()
  const scope = credentialScope(parts.headers, query)
  const region = scope?.region ?? 'us-east-1'
  const segments = splitPath(url.pathname).map(safeDecode)

  // JSON protocols name the operation in X-Amz-Target: "Prefix.Operation".
  const target = headerValue(parts.headers, 'x-amz-target')
  if (target) {
    const dot = target.lastIndexOf('.')
    const operation = dot >= 0 ? target.slice(dot + 1) : target
    const service = scope?.service ?? TARGET_PREFIX_SERVICE[target.slice(0, Math.max(dot, 0))] ?? 'unknown'
    return {service, operation, protocol: 'json', mutating: isMutatingOperation(operation), region, params: {}, query}
  }

  // Query protocol: Action= in the query string or the form body.
  const form = parts.body && isFormEncoded(parts.headers) ? new URLSearchParams(parts.body.toString('utf8')) : undefined
  const action = query.get('Action') ?? form?.get('Action')
  if (action) {
    // Unsigned calls (STS AssumeRoleWithWebIdentity) still carry the API version.
    const service = scope?.service ?? QUERY_API_VERSIONS[query.get('Version') ?? form?.get('Version') ?? ''] ?? 'unknown'
    return {service, operation: action, protocol: service === 'ec2' ? 'ec2' : 'query', mutating: isMutatingOperation(action), region, params: {}, query}
  }

  // REST protocols: method + path against the SDK's route table.
  const service = scope?.service ?? guessRestService(segments)
  const known = REST_SERVICES[service]
  if (known) {
    const hit = matchRoute(restRoutes(service), method, segments, query)
    if (hit) {
      return {service, operation: hit.route.operation, protocol: known.protocol, mutating: isMutatingOperation(hit.route.operation), region, params: hit.params, query}
    }
  }
  const operation = `${method} ${url.pathname}`
  return {service, operation, protocol: known?.protocol ?? 'rest-json', mutating: isMutatingOperation(operation), region, params: {}, query}
}

function guessRestService(segments: string[]): string {
  // Unsigned REST calls are rare (moto does not need signatures, some tools skip them): go by path.
  if (segments[0] === '2013-04-01') return 'route53'
  const first = segments[0] ?? ''
  if (first === 'clusters' || first === 'cluster-registrations' || first === 'addons' || first === 'eks-anywhere-subscriptions') return 'eks'
  if (['backup-vaults', 'backup', 'backup-jobs', 'restore-jobs', 'recovery-points', 'resources', 'copy-jobs', 'legal-holds', 'audit'].includes(first)) return 'backup'
  return 'unknown'
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

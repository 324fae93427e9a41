/**
 * The weighted DNS pair at the heart of the cutover: read it, judge it, and change both weights
 * in one change batch. A change DELETEs the exact live record and CREATEs the new one, so that
 * Route 53 itself refuses the batch (InvalidChangeBatch) when someone else edited the record
 * since we read it: an optimistic lock that needs no service beyond Route 53.
 *
 * Facts that hold (Route 53): weight 0–255; weight 0 is served only if all are 0, and all-zero
 * means an equal split, so it is never written; a weighted record cannot sit beside a simple
 * record of the same name and type; alias records have no TTL of their own (an ELB's is 60 s).
 */
import type {Change as R53Change, ResourceRecordSet, Route53Client} from '@aws-sdk/client-route-53'
import type {Environment, WeightedTarget} from '../config/schema.js'
import {RunFailedError, UsageError} from '../errors.js'
import {awsClient, awsErrorName} from './clients.js'

export type Role = 'legacy' | 'kubernetes'
export const ROLES: Role[] = ['legacy', 'kubernetes']
export type Weights = Record<Role, number>

export interface DnsConfig {
  zoneId: string
  name: string
  type: 'A' | 'AAAA' | 'CNAME'
  ttl: number
  maxTtl: number
  targets: Record<Role, WeightedTarget>
}

export function dnsConfig(env: Environment | undefined): DnsConfig {
  const dns = env?.dns
  if (!dns) throw new UsageError('This environment has no "dns" section in clipper-ops.yaml (hostedZoneId, record, targets).', {code: 'NO_DNS'})
  return {
    zoneId: dns.hostedZoneId,
    name: fqdn(dns.record.name),
    type: dns.record.type,
    ttl: dns.record.ttl,
    maxTtl: dns.maxTtl,
    targets: dns.targets,
  }
}

export function fqdn(name: string): string {
  return (name.endsWith('.') ? name : `${name}.`).toLowerCase()
}

/** Route 53 returns names with octal escapes (\052 for *); compare in one form. */
function sameName(a: string | undefined, b: string): boolean {
  return !!a && fqdn(a.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)))) === fqdn(b)
}

export interface LivePair {
  /** Every record set of this name and type. */
  all: ResourceRecordSet[]
  /** A non-weighted record of the same name and type, if any (must not sit beside weighted ones). */
  simple?: ResourceRecordSet
  byRole: Partial<Record<Role, ResourceRecordSet>>
  /** Weighted records whose SetIdentifier is neither target's. */
  strangers: ResourceRecordSet[]
}

export async function route53(env: Environment | undefined, maxAttempts = 5): Promise<Route53Client> {
  return awsClient('route53', env, {maxAttempts})
}

export async function readPair(client: Route53Client, cfg: DnsConfig, signal?: AbortSignal): Promise<LivePair> {
  const {ListResourceRecordSetsCommand} = await import('@aws-sdk/client-route-53')
  const all: ResourceRecordSet[] = []
  let start: {name?: string; type?: string; id?: string} = {name: cfg.name, type: cfg.type}
  for (let page = 0; page < 20; page++) {
    const r = await client.send(
      new ListResourceRecordSetsCommand({
        HostedZoneId: cfg.zoneId,
        StartRecordName: start.name,
        StartRecordType: start.type as never,
        StartRecordIdentifier: start.id,
        MaxItems: 100,
      }),
      {abortSignal: signal},
    )
    let pastUs = false
    for (const rr of r.ResourceRecordSets ?? []) {
      if (sameName(rr.Name, cfg.name) && rr.Type === cfg.type) all.push(rr)
      else if (all.length > 0 || !sameName(rr.Name, cfg.name)) pastUs = true
    }
    if (!r.IsTruncated || pastUs) break
    start = {name: r.NextRecordName, type: r.NextRecordType, id: r.NextRecordIdentifier}
  }
  const byRole: LivePair['byRole'] = {}
  const strangers: ResourceRecordSet[] = []
  let simple: ResourceRecordSet | undefined
  for (const rr of all) {
    if (rr.SetIdentifier === undefined) simple = rr
    else {
      const role = ROLES.find((r) => cfg.targets[r].setIdentifier === rr.SetIdentifier)
      if (role) byRole[role] = rr
      else strangers.push(rr)
    }
  }
  return {all, simple, byRole, strangers}
}

export function liveWeights(pair: LivePair): Partial<Weights> {
  const out: Partial<Weights> = {}
  for (const r of ROLES) if (pair.byRole[r]?.Weight !== undefined) out[r] = pair.byRole[r]!.Weight
  return out
}

/** Share of traffic each weighted record gets (Route 53: weight / sum; all-zero is an equal split). */
export function shares(weights: number[]): number[] {
  const total = weights.reduce((a, b) => a + b, 0)
  if (total === 0) return weights.map(() => 1 / weights.length)
  return weights.map((w) => w / total)
}

/** How a target is meant to look, from the config. */
export function desiredRecord(cfg: DnsConfig, role: Role, weight: number): ResourceRecordSet {
  const t = cfg.targets[role]
  const rr: ResourceRecordSet = {Name: cfg.name, Type: cfg.type, SetIdentifier: t.setIdentifier, Weight: weight}
  if (t.alias) {
    rr.AliasTarget = {DNSName: fqdn(t.alias.dnsName), HostedZoneId: t.alias.hostedZoneId, EvaluateTargetHealth: t.alias.evaluateTargetHealth}
  } else {
    rr.TTL = cfg.ttl
    rr.ResourceRecords = t.values!.map((Value) => ({Value}))
  }
  if (t.healthCheckId) rr.HealthCheckId = t.healthCheckId
  return rr
}

/** Seconds that resolvers may keep serving the old answer after a change. */
export function effectiveTtl(cfg: DnsConfig, pair?: LivePair): number {
  let ttl = 0
  for (const role of ROLES) {
    const live = pair?.byRole[role]
    const t = cfg.targets[role]
    // An alias record has no TTL of its own; its target's answers live as long as the target says
    // (an ELB/ALB: 60 s; configurable as alias.ttl).
    const own = live?.TTL ?? (t.alias ? t.alias.ttl : live?.AliasTarget ? 60 : cfg.ttl)
    ttl = Math.max(ttl, own)
  }
  return ttl
}

export interface PairProblem {
  level: 'error' | 'warning'
  message: string
}

/** Is the live pair safe to shift, and consistent with the config? */
export function judgePair(cfg: DnsConfig, pair: LivePair): PairProblem[] {
  const out: PairProblem[] = []
  const name = `${cfg.name} ${cfg.type}`
  if (pair.simple)
    out.push({
      level: 'error',
      message: `${name} has a simple (non-weighted) record beside the weighted ones; Route 53 does not allow both (convert it with dns-weights convert: true)`,
    })
  for (const role of ROLES) {
    const live = pair.byRole[role]
    const t = cfg.targets[role]
    if (!live) {
      out.push({level: 'error', message: `${name}: no weighted record with SetIdentifier "${t.setIdentifier}" (${role})`})
      continue
    }
    if (t.alias && !live.AliasTarget) out.push({level: 'error', message: `${role} record "${t.setIdentifier}" is a plain record; the config says alias ${t.alias.dnsName}`})
    if (t.alias && live.AliasTarget && fqdn(live.AliasTarget.DNSName ?? '') !== fqdn(t.alias.dnsName)) {
      out.push({level: 'error', message: `${role} record "${t.setIdentifier}" aliases ${live.AliasTarget.DNSName}; the config says ${t.alias.dnsName}`})
    }
    if (t.values) {
      const liveValues = (live.ResourceRecords ?? []).map((r) => r.Value).sort()
      if (JSON.stringify(liveValues) !== JSON.stringify([...t.values].sort())) {
        out.push({level: 'error', message: `${role} record "${t.setIdentifier}" has values ${liveValues.join(', ') || '(none)'}; the config says ${t.values.join(', ')}`})
      }
    }
    if (live.TTL !== undefined && live.TTL > cfg.maxTtl) {
      out.push({level: 'error', message: `${role} record "${t.setIdentifier}" has TTL ${live.TTL}s, above the allowed ${cfg.maxTtl}s (a long TTL makes a rollback slow)`})
    }
  }
  const weights = ROLES.map((r) => pair.byRole[r]?.Weight).filter((w): w is number => w !== undefined)
  if (weights.length === 2 && weights.every((w) => w === 0)) out.push({level: 'error', message: `both weights are 0: Route 53 then splits traffic equally`})
  for (const s of pair.strangers) out.push({level: 'warning', message: `another weighted record "${s.SetIdentifier}" (weight ${s.Weight}) also answers for ${name}`})
  return out
}

export function validateWeights(w: Weights): void {
  for (const role of ROLES) {
    const v = w[role]
    if (!Number.isInteger(v) || v < 0 || v > 255) throw new UsageError(`weight for ${role} must be a whole number from 0 to 255, got ${v}`, {code: 'BAD_WEIGHT'})
  }
  if (w.legacy === 0 && w.kubernetes === 0) {
    throw new UsageError('weights 0 and 0: Route 53 treats all-zero as an equal split, so clipper-ops never writes it; give one target a weight', {code: 'ALL_ZERO'})
  }
}

/**
 * The change batch that moves the live pair to `want`: for each record whose weight differs,
 * DELETE exactly what is live, then CREATE it with the new weight. Empty when nothing differs.
 */
export function shiftChanges(cfg: DnsConfig, pair: LivePair, want: Weights, opts: {convert?: boolean} = {}): R53Change[] {
  validateWeights(want)
  const changes: R53Change[] = []
  if (pair.simple) {
    if (!opts.convert) {
      throw new RunFailedError(`${cfg.name} ${cfg.type} is a simple record; converting it to the weighted pair needs convert: true (DELETE it and CREATE both in one batch)`, {
        code: 'SIMPLE_RECORD',
      })
    }
    changes.push({Action: 'DELETE', ResourceRecordSet: pair.simple})
  }
  for (const role of ROLES) {
    const live = pair.byRole[role]
    if (live && live.Weight === want[role] && !pair.simple) continue
    if (live) changes.push({Action: 'DELETE', ResourceRecordSet: live})
    const next = live ? {...live, Weight: want[role]} : desiredRecord(cfg, role, want[role])
    changes.push({Action: 'CREATE', ResourceRecordSet: next})
  }
  return changes
}

/** Apply a batch to a pair without calling AWS (for dry-run projections). */
export function projectPair(pair: LivePair, changes: R53Change[], cfg: DnsConfig): LivePair {
  let all = [...pair.all]
  for (const c of changes) {
    const rr = c.ResourceRecordSet!
    if (c.Action === 'DELETE') all = all.filter((x) => !(x.SetIdentifier === rr.SetIdentifier))
    else all.push(rr)
  }
  const byRole: LivePair['byRole'] = {}
  for (const rr of all) {
    const role = ROLES.find((r) => cfg.targets[r].setIdentifier === rr.SetIdentifier)
    if (role) byRole[role] = rr
  }
  return {all, simple: all.find((x) => x.SetIdentifier === undefined), byRole, strangers: pair.strangers}
}

export interface Retrying {
  log?: (line: string) => void
  signal?: AbortSignal
  attempts?: number
}

const RETRYABLE = new Set([
  'Throttling',
  'ThrottlingException',
  'PriorRequestNotComplete',
  'ServiceUnavailable',
  'InternalFailure',
  'InternalError',
  'TimeoutError',
  'RequestTimeout',
])

export function isRetryable(error: unknown): boolean {
  const e = error as {name?: string; code?: string; $metadata?: {httpStatusCode?: number}; $retryable?: unknown}
  if (e.name && RETRYABLE.has(e.name)) return true
  const status = e.$metadata?.httpStatusCode
  if (status !== undefined && status >= 500) return true
  const code = e.code ?? (e as {cause?: {code?: string}}).cause?.code ?? ''
  return ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET'].includes(code)
}

/** Retry what AWS says to retry (throttling, a prior request not complete, 5xx), with jittered backoff. */
export async function withRetry<T>(what: string, fn: () => Promise<T>, o: Retrying = {}): Promise<T> {
  const attempts = o.attempts ?? 8
  let delay = 200
  for (let i = 1; ; i++) {
    try {
      return await fn()
    } catch (error) {
      if (o.signal?.aborted) throw o.signal.reason
      if (i >= attempts || !isRetryable(error)) throw error
      const wait = Math.round(delay * (0.5 + Math.random()))
      o.log?.(`${what}: ${awsErrorName(error)}; retrying in ${wait}ms (attempt ${i + 1} of ${attempts})`)
      await new Promise((r) => setTimeout(r, wait))
      delay = Math.min(delay * 2, 5000)
    }
  }
}

export async function submitChanges(client: Route53Client, cfg: DnsConfig, changes: R53Change[], comment: string, o: Retrying = {}): Promise<{changeId: string; status: string}> {
  const {ChangeResourceRecordSetsCommand} = await import('@aws-sdk/client-route-53')
  const r = await withRetry(
    'ChangeResourceRecordSets',
    () => client.send(new ChangeResourceRecordSetsCommand({HostedZoneId: cfg.zoneId, ChangeBatch: {Comment: comment, Changes: changes}}), {abortSignal: o.signal}),
    o,
  )
  return {changeId: r.ChangeInfo!.Id!.replace(/^\/change\//, ''), status: r.ChangeInfo!.Status!}
}

/** Poll GetChange with backoff until INSYNC. */
export async function waitInsync(client: Route53Client, changeId: string, o: Retrying & {timeoutMs: number}): Promise<number> {
  const {GetChangeCommand} = await import('@aws-sdk/client-route-53')
  const started = Date.now()
  let delay = 250
  for (;;) {
    const r = await withRetry('GetChange', () => client.send(new GetChangeCommand({Id: changeId}), {abortSignal: o.signal}), o)
    if (r.ChangeInfo?.Status === 'INSYNC') return Date.now() - started
    if (Date.now() - started > o.timeoutMs) {
      throw new RunFailedError(
        `change ${changeId} is still ${r.ChangeInfo?.Status} after ${Math.round(o.timeoutMs / 1000)}s; Route 53 has accepted it, it is just not everywhere yet`,
        {code: 'NOT_INSYNC'},
      )
    }
    o.log?.(`change ${changeId} is ${r.ChangeInfo?.Status}; asking again in ${delay}ms`)
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, delay)
      o.signal?.addEventListener('abort', () => (clearTimeout(t), reject(o.signal!.reason)), {once: true})
    })
    // Most changes are INSYNC within a minute: ask every second at first (well under Route 53's
    // five requests a second), then back off.
    delay = Math.min(delay * 2, Date.now() - started < 30_000 ? 1000 : 5000)
  }
}

export function describeRecord(rr: ResourceRecordSet | undefined): string {
  if (!rr) return '(none)'
  const target = rr.AliasTarget ? `alias ${rr.AliasTarget.DNSName}` : (rr.ResourceRecords ?? []).map((r) => r.Value).join(',')
  return `${rr.SetIdentifier ?? 'simple'} weight=${rr.Weight ?? '-'} ${target}${rr.TTL !== undefined ? ` ttl=${rr.TTL}` : ''}`
}

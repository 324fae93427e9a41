/**
 * What `dns status` reports: the weighted pair as it is live, each record's share of traffic,
 * target, TTL and health-check status, and whether the pair is safe to shift.
 */
import type {Environment} from '../config/schema.js'
import {dnsConfig, effectiveTtl, judgePair, readPair, ROLES, route53, shares, withRetry, type PairProblem, type Role} from './route53.js'

export interface DnsRecordStatus {
  role: Role | null
  setIdentifier: string | null
  weight: number | null
  share: number | null
  values?: string[]
  alias?: {dnsName: string; hostedZoneId: string; evaluateTargetHealth: boolean}
  ttl: number | null
  healthCheckId: string | null
  health: 'healthy' | 'unhealthy' | 'unknown' | null
  healthDetail?: string
}

export interface DnsStatus {
  record: {name: string; type: string; hostedZoneId: string}
  records: DnsRecordStatus[]
  safe: boolean
  problems: PairProblem[]
  /** Seconds a change takes to reach everyone after INSYNC. */
  effectiveTtlSeconds: number
}

async function healthOf(client: Awaited<ReturnType<typeof route53>>, id: string, signal?: AbortSignal): Promise<{health: DnsRecordStatus['health']; detail?: string}> {
  const {GetHealthCheckStatusCommand} = await import('@aws-sdk/client-route-53')
  try {
    const r = await withRetry('GetHealthCheckStatus', () => client.send(new GetHealthCheckStatusCommand({HealthCheckId: id}), {abortSignal: signal}))
    const obs = r.HealthCheckObservations ?? []
    const ok = obs.filter((o) => o.StatusReport?.Status?.startsWith('Success')).length
    // Route 53 calls an endpoint healthy when more than 18% of its checkers do.
    return {health: obs.length === 0 ? 'unknown' : ok / obs.length > 0.18 ? 'healthy' : 'unhealthy', detail: obs[0]?.StatusReport?.Status}
  } catch (error) {
    return {health: 'unknown', detail: (error as Error).message}
  }
}

export async function dnsStatus(env: Environment | undefined, signal?: AbortSignal): Promise<DnsStatus> {
  const cfg = dnsConfig(env)
  const client = await route53(env)
  const pair = await withRetry('ListResourceRecordSets', () => readPair(client, cfg, signal), {signal})
  const problems = judgePair(cfg, pair)
  const weighted = pair.all.filter((r) => r.SetIdentifier !== undefined)
  const split = shares(weighted.map((r) => r.Weight ?? 0))
  // The health checks are asked at once: one round trip to Route 53 instead of one per record.
  const healths = await Promise.all(pair.all.map((rr) => (rr.HealthCheckId ? healthOf(client, rr.HealthCheckId, signal) : {health: null})))
  const records = pair.all.map((rr, n) => {
    const role = ROLES.find((r) => cfg.targets[r].setIdentifier === rr.SetIdentifier) ?? null
    const i = weighted.indexOf(rr)
    const h = healths[n]!
    return {
      role,
      setIdentifier: rr.SetIdentifier ?? null,
      weight: rr.Weight ?? null,
      share: i >= 0 ? Math.round(split[i]! * 1000) / 10 : null,
      ...(rr.ResourceRecords ? {values: rr.ResourceRecords.map((v) => v.Value ?? '')} : {}),
      ...(rr.AliasTarget
        ? {alias: {dnsName: rr.AliasTarget.DNSName ?? '', hostedZoneId: rr.AliasTarget.HostedZoneId ?? '', evaluateTargetHealth: Boolean(rr.AliasTarget.EvaluateTargetHealth)}}
        : {}),
      ttl: rr.TTL ?? (role && cfg.targets[role].alias ? cfg.targets[role].alias!.ttl : null),
      healthCheckId: rr.HealthCheckId ?? null,
      ...h,
      ...(h.health !== null && 'detail' in h ? {healthDetail: h.detail} : {}),
    } as DnsRecordStatus
  })
  return {
    record: {name: cfg.name, type: cfg.type, hostedZoneId: cfg.zoneId},
    records,
    safe: !problems.some((p) => p.level === 'error'),
    problems,
    effectiveTtlSeconds: effectiveTtl(cfg, pair),
  }
}

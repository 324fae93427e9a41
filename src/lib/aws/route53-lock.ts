/**
 * The environment lock, kept in Route 53 itself: a TXT record beside the public name
 * (_clipper-ops-lock.clpr.tv) holding the holder, run id and expiry. Two operators on two
 * laptops share it. Route 53 is the compare-and-set: a CREATE of an existing record fails, and
 * a DELETE must match the live record exactly, so take (CREATE), renew (DELETE old + CREATE
 * new, one batch) and release (DELETE) each succeed only if nobody else moved the lock.
 */
import type {ResourceRecordSet} from '@aws-sdk/client-route-53'
import type {Environment} from '../config/schema.js'
import type {LeaseInBatch, LockBackend, LockInfo} from '../engine/lock.js'
import {dnsConfig, fqdn, route53, withRetry, type DnsConfig} from './route53.js'

const PREFIX = 'cops1:'

/** TXT strings are at most 255 characters: the lock is base64url JSON in quoted chunks. */
export function encodeLock(info: LockInfo): string {
  const b64 = PREFIX + Buffer.from(JSON.stringify(info)).toString('base64url')
  const chunks = b64.match(/.{1,250}/g) ?? []
  return chunks.map((c) => `"${c}"`).join(' ')
}

export function decodeLock(value: string): LockInfo | undefined {
  const joined = [...value.matchAll(/"([^"]*)"/g)].map((m) => m[1]).join('')
  if (!joined.startsWith(PREFIX)) return undefined
  try {
    return JSON.parse(Buffer.from(joined.slice(PREFIX.length), 'base64url').toString('utf8')) as LockInfo
  } catch {
    return undefined
  }
}

export class Route53LockBackend implements LockBackend {
  private readonly cfg: DnsConfig
  /** The exact record each lock we read or wrote was stored as: a DELETE must repeat it. */
  private readonly stored = new WeakMap<LockInfo, ResourceRecordSet>()

  constructor(private readonly env: Environment) {
    this.cfg = dnsConfig(env)
  }

  private name(): string {
    return `_clipper-ops-lock.${fqdn(this.cfg.name)}`
  }

  where(): string {
    return `Route 53 TXT ${this.name()} in zone ${this.cfg.zoneId}`
  }

  private record(info: LockInfo): ResourceRecordSet {
    return this.stored.get(info) ?? {Name: this.name(), Type: 'TXT', TTL: 1, ResourceRecords: [{Value: encodeLock(info)}]}
  }

  async read(): Promise<LockInfo | undefined> {
    const client = await route53(this.env)
    const {ListResourceRecordSetsCommand} = await import('@aws-sdk/client-route-53')
    const r = await withRetry('ListResourceRecordSets', () =>
      client.send(new ListResourceRecordSetsCommand({HostedZoneId: this.cfg.zoneId, StartRecordName: this.name(), StartRecordType: 'TXT', MaxItems: 1})),
    )
    const rr = r.ResourceRecordSets?.[0]
    if (!rr || fqdn(rr.Name ?? '') !== this.name() || rr.Type !== 'TXT') return undefined
    const info = decodeLock(rr.ResourceRecords?.[0]?.Value ?? '')
    if (info) this.stored.set(info, rr)
    return info
  }

  /** One batch; false when Route 53 refuses it because the lock is not as we expected. */
  private async change(changes: {Action: 'CREATE' | 'DELETE'; ResourceRecordSet: ResourceRecordSet}[]): Promise<boolean> {
    const client = await route53(this.env)
    const {ChangeResourceRecordSetsCommand} = await import('@aws-sdk/client-route-53')
    try {
      await withRetry('ChangeResourceRecordSets (lock)', () =>
        client.send(new ChangeResourceRecordSetsCommand({HostedZoneId: this.cfg.zoneId, ChangeBatch: {Comment: 'clipper-ops lock', Changes: changes}})),
      )
      return true
    } catch (error) {
      if ((error as {name?: string}).name === 'InvalidChangeBatch') return false
      throw error
    }
  }

  async create(info: LockInfo): Promise<{ok: true} | {ok: false; holder?: LockInfo}> {
    const rr = this.record(info)
    if (await this.change([{Action: 'CREATE', ResourceRecordSet: rr}])) {
      this.stored.set(info, rr)
      return {ok: true}
    }
    return {ok: false, holder: await this.read()}
  }

  async replace(expected: LockInfo, next: LockInfo): Promise<boolean> {
    const rr = this.record(next)
    const ok = await this.change([
      {Action: 'DELETE', ResourceRecordSet: this.record(expected)},
      {Action: 'CREATE', ResourceRecordSet: rr},
    ])
    if (ok) this.stored.set(next, rr)
    return ok
  }

  inBatch(expected: LockInfo, next: LockInfo): LeaseInBatch {
    const rr = this.record(next)
    this.stored.set(next, rr)
    return {
      zoneId: this.cfg.zoneId,
      changes: [
        {Action: 'DELETE', ResourceRecordSet: this.record(expected)},
        {Action: 'CREATE', ResourceRecordSet: rr},
      ],
    }
  }

  async remove(expected: LockInfo): Promise<boolean> {
    return this.change([{Action: 'DELETE', ResourceRecordSet: this.record(expected)}])
  }
}

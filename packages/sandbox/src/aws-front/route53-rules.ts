/**
 * Route 53 rules that moto 5.2.1 does not enforce, checked by the front before a change batch
 * reaches moto, and change status that goes PENDING -> INSYNC over time as on AWS.
 *
 * Measured with the AWS CLI against moto 5.2.1: it accepts a CREATE of an existing record (adding
 * a second one), a DELETE whose values do not match (and deletes the record), a weight of 300, a
 * TTL of 2^31, a weighted record without SetIdentifier, a record without TTL, a CNAME beside an A
 * record or at the zone apex, an alias to a name that does not exist, and it answers every change
 * INSYNC at once under one and the same change id.
 */
import {randomBytes} from 'node:crypto'
import {GetHostedZoneCommand, ListResourceRecordSetsCommand, type ResourceRecordSet, type Route53Client} from '@aws-sdk/client-route-53'
import {XMLParser} from 'fast-xml-parser'
import {renderError, xmlEscape, type HttpAnswer} from './wire-errors.js'

export const ROUTE53_NS = 'https://route53.amazonaws.com/doc/2013-04-01/'

/** A resource record set in one comparable form, whether it came from a request or from moto. */
export interface RecordSet {
  /** Lower case, trailing dot, `\052` written as `*`. */
  name: string
  type: string
  setIdentifier?: string
  weight?: number
  ttl?: number
  values?: string[]
  alias?: {hostedZoneId: string; dnsName: string; evaluateTargetHealth: boolean}
  healthCheckId?: string
  trafficPolicyInstanceId?: string
  /** The other routing fields (Region, Failover, GeoLocation, ...) as canonical JSON, for equality. */
  routing: string
}

export interface Change {
  action: string
  record: RecordSet
  /** Raw numbers as sent, for range errors worded like AWS's. */
  rawWeight?: string
  rawTtl?: string
  hasResourceRecords: boolean
}

export type Verdict = {ok: true} | {ok: false; code: 'InvalidInput' | 'InvalidChangeBatch'; message: string; messages: string[]}

const ROUTING_FIELDS = ['Region', 'Failover', 'MultiValueAnswer', 'GeoLocation', 'CidrRoutingConfig', 'GeoProximityLocation'] as const

export function normalizeName(name: string): string {
  // Route 53 lists names in lower case with a trailing dot and octal escapes (\052 for *).
  let n = name
    .trim()
    .replace(/\\(\d{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)))
    .toLowerCase()
  if (!n.endsWith('.')) n += '.'
  return n
}

export function stripZoneId(id: string): string {
  return id.replace(/^\/?hostedzone\//, '')
}

/** Canonical JSON with every leaf as a string, so "true" from XML equals true from the SDK. */
function canon(value: unknown): string {
  if (value === undefined || value === null) return ''
  if (typeof value !== 'object') return JSON.stringify(String(value))
  if (Array.isArray(value)) return `[${value.map(canon).join(',')}]`
  const obj = value as Record<string, unknown>
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined && obj[k] !== null)
    .sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canon(obj[k])}`).join(',')}}`
}

function routingOf(src: Record<string, unknown>): string {
  const picked: Record<string, unknown> = {}
  for (const f of ROUTING_FIELDS) if (src[f] !== undefined && src[f] !== '') picked[f] = src[f]
  return canon(picked)
}

/** From a record set as the SDK returns it (ListResourceRecordSets against moto). */
export function fromSdkRecord(r: ResourceRecordSet): RecordSet {
  const rec: RecordSet = {name: normalizeName(r.Name ?? ''), type: String(r.Type ?? ''), routing: routingOf(r as unknown as Record<string, unknown>)}
  if (r.SetIdentifier !== undefined) rec.setIdentifier = r.SetIdentifier
  if (r.Weight !== undefined) rec.weight = Number(r.Weight)
  // moto lists alias records with TTL 0; AWS gives them none (their TTL is the target's).
  if (r.TTL !== undefined && !r.AliasTarget) rec.ttl = Number(r.TTL)
  if (r.ResourceRecords?.length) rec.values = r.ResourceRecords.map((v) => v.Value ?? '')
  if (r.AliasTarget) {
    rec.alias = {
      hostedZoneId: stripZoneId(r.AliasTarget.HostedZoneId ?? ''),
      dnsName: normalizeName(r.AliasTarget.DNSName ?? ''),
      evaluateTargetHealth: Boolean(r.AliasTarget.EvaluateTargetHealth),
    }
  }
  if (r.HealthCheckId) rec.healthCheckId = r.HealthCheckId
  if (r.TrafficPolicyInstanceId) rec.trafficPolicyInstanceId = r.TrafficPolicyInstanceId
  return rec
}

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: true,
  isArray: (name) => name === 'Change' || name === 'ResourceRecord',
})

type XmlNode = Record<string, unknown>

/** The changes of a ChangeResourceRecordSets body; undefined when it is not one (moto then answers). */
export function parseChangeBatch(xml: string): {changes: Change[]; comment?: string} | undefined {
  let doc: XmlNode
  try {
    doc = parser.parse(xml) as XmlNode
  } catch {
    return undefined
  }
  const batch = (doc.ChangeResourceRecordSetsRequest as XmlNode | undefined)?.ChangeBatch as XmlNode | undefined
  const list = (batch?.Changes as XmlNode | undefined)?.Change
  if (!Array.isArray(list)) return undefined
  const changes: Change[] = []
  for (const c of list as XmlNode[]) {
    const rrs = c.ResourceRecordSet as XmlNode | undefined
    if (typeof c.Action !== 'string' || !rrs || typeof rrs.Name !== 'string' || typeof rrs.Type !== 'string') return undefined
    const rec: RecordSet = {name: normalizeName(rrs.Name), type: rrs.Type, routing: routingOf(rrs)}
    const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)
    const setId = str(rrs.SetIdentifier)
    if (setId !== undefined) rec.setIdentifier = setId
    const rawWeight = str(rrs.Weight)
    if (rawWeight !== undefined) rec.weight = Number(rawWeight)
    const rawTtl = str(rrs.TTL)
    if (rawTtl !== undefined) rec.ttl = Number(rawTtl)
    const rrList = (rrs.ResourceRecords as XmlNode | undefined)?.ResourceRecord
    const values = Array.isArray(rrList) ? (rrList as XmlNode[]).map((v) => String(v.Value ?? '')) : []
    if (values.length) rec.values = values
    const alias = rrs.AliasTarget as XmlNode | undefined
    if (alias && typeof alias === 'object') {
      rec.alias = {
        hostedZoneId: stripZoneId(String(alias.HostedZoneId ?? '')),
        dnsName: normalizeName(String(alias.DNSName ?? '')),
        evaluateTargetHealth: String(alias.EvaluateTargetHealth) === 'true',
      }
    }
    const hc = str(rrs.HealthCheckId)
    if (hc) rec.healthCheckId = hc
    const tp = str(rrs.TrafficPolicyInstanceId)
    if (tp) rec.trafficPolicyInstanceId = tp
    changes.push({action: c.Action, record: rec, hasResourceRecords: values.length > 0, ...(rawWeight === undefined ? {} : {rawWeight}), ...(rawTtl === undefined ? {} : {rawTtl})})
  }
  const comment = typeof batch?.Comment === 'string' ? batch.Comment : undefined
  return comment === undefined ? {changes} : {changes, comment}
}

const key = (r: Pick<RecordSet, 'name' | 'type' | 'setIdentifier'>): string => `${r.name}|${r.type}|${r.setIdentifier ?? ''}`

/** How Route 53 names a record set in its messages. */
function describe(r: RecordSet): string {
  return `[name='${r.name}', type='${r.type}'${r.setIdentifier === undefined ? '' : `, set-identifier='${r.setIdentifier}'`}]`
}

function changeRef(c: Change): string {
  return `Change with [Action=${c.action}, Name=${c.record.name}, Type=${c.record.type}, SetIdentifier=${c.record.setIdentifier ?? 'null'}]`
}

/** Whether a DELETE's record set is exactly the live one (all values, in any order). */
export function sameRecord(a: RecordSet, b: RecordSet): boolean {
  const sorted = (v?: string[]): string => JSON.stringify([...(v ?? [])].sort())
  return (
    a.name === b.name &&
    a.type === b.type &&
    a.setIdentifier === b.setIdentifier &&
    a.weight === b.weight &&
    a.ttl === b.ttl &&
    sorted(a.values) === sorted(b.values) &&
    canon(a.alias) === canon(b.alias) &&
    (a.healthCheckId ?? '') === (b.healthCheckId ?? '') &&
    (a.trafficPolicyInstanceId ?? '') === (b.trafficPolicyInstanceId ?? '') &&
    a.routing === b.routing
  )
}

/** Field checks Route 53 answers with InvalidInput before it looks at the zone. */
function checkInput(c: Change): string | undefined {
  const range = (raw: string | undefined, value: number | undefined, max: number, type: string): string | undefined => {
    if (raw === undefined || value === undefined) return undefined
    if (!Number.isInteger(value)) return `Invalid XML ; cvc-datatype-valid.1.2.1: '${raw}' is not a valid value for 'integer'.`
    if (value < 0) return `Invalid XML ; cvc-minInclusive-valid: Value '${raw}' is not facet-valid with respect to minInclusive '0' for type '${type}'.`
    if (value > max) return `Invalid XML ; cvc-maxInclusive-valid: Value '${raw}' is not facet-valid with respect to maxInclusive '${max}' for type '${type}'.`
    return undefined
  }
  const bad = range(c.rawWeight, c.record.weight, 255, 'ResourceRecordSetWeight') ?? range(c.rawTtl, c.record.ttl, 2147483647, 'TTL')
  if (bad) return bad
  const forms = [c.record.alias !== undefined, c.record.ttl !== undefined && c.hasResourceRecords, c.record.trafficPolicyInstanceId !== undefined].filter(Boolean).length
  const expected = 'Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId]'
  if (forms === 0) return `${expected}, but found none in ${changeRef(c)}`
  if (forms > 1) return `${expected}, but found more than one in ${changeRef(c)}`
  if (c.record.weight !== undefined && c.record.setIdentifier === undefined) return `Invalid request: Missing field 'SetIdentifier' in ${changeRef(c)}`
  return undefined
}

export interface ZoneView {
  id: string
  /** Normalised zone name, e.g. example.com. */
  name: string
  records: RecordSet[]
}

/**
 * Checks a whole batch against the zone as it is, applying the changes in order to a copy so a
 * DELETE then CREATE of the same record passes. Nothing is applied unless every change is valid.
 * `otherZone` looks up zones that alias targets point into.
 */
export async function validateChangeBatch(zone: ZoneView, changes: Change[], otherZone: (id: string) => Promise<ZoneView | undefined>): Promise<Verdict> {
  for (const c of changes) {
    const bad = checkInput(c)
    if (bad) return {ok: false, code: 'InvalidInput', message: bad, messages: [bad]}
  }

  const messages: string[] = []
  const state = new Map(zone.records.map((r) => [key(r), r]))
  const written: RecordSet[] = []
  for (const c of changes) {
    const r = c.record
    if (r.name !== zone.name && !r.name.endsWith(`.${zone.name}`)) {
      messages.push(`RRSet with DNS name ${r.name} is not permitted in zone ${zone.name}`)
      continue
    }
    const live = state.get(key(r))
    switch (c.action) {
      case 'CREATE':
        if (live) messages.push(`Tried to create resource record set ${describe(r)} but it already exists`)
        else {
          state.set(key(r), r)
          written.push(r)
        }
        break
      case 'DELETE':
        if (!live) messages.push(`Tried to delete resource record set ${describe(r)} but it was not found`)
        else if (!sameRecord(live, r)) messages.push(`Tried to delete resource record set ${describe(r)} but the values provided do not match the current values`)
        else state.delete(key(r))
        break
      case 'UPSERT':
        state.set(key(r), r)
        written.push(r)
        break
      default:
        return {ok: false, code: 'InvalidInput', message: `Invalid request: unknown Action ${c.action} in ${changeRef(c)}`, messages: []}
    }
  }

  // Conflicts are judged on the zone as the batch would leave it.
  const final = [...state.values()]
  for (const r of written) {
    if (state.get(key(r)) !== r) continue
    const sameName = final.filter((o) => o !== r && o.name === r.name)
    if (r.type === 'CNAME' && r.name === zone.name) {
      messages.push(`RRSet of type CNAME with DNS name ${r.name} is not permitted at apex in zone ${zone.name}`)
    } else if (r.type === 'CNAME' && sameName.some((o) => o.type !== 'CNAME')) {
      messages.push(`RRSet of type CNAME with DNS name ${r.name} is not permitted as it conflicts with other records with the same DNS name in zone ${zone.name}`)
    } else if (r.type !== 'CNAME' && sameName.some((o) => o.type === 'CNAME')) {
      messages.push(
        `RRSet of type ${r.type} with DNS name ${r.name} is not permitted because a conflicting RRSet of type CNAME with the same DNS name already exists in zone ${zone.name}`,
      )
    }
    const sameSet = sameName.filter((o) => o.type === r.type)
    if (r.weight !== undefined && sameSet.some((o) => o.setIdentifier === undefined)) {
      messages.push(`RRSet with DNS name ${r.name}, type ${r.type}, SetIdentifier ${r.setIdentifier} cannot be created as a non-weighted set exists with the same name and type.`)
    } else if (r.setIdentifier === undefined && sameSet.some((o) => o.setIdentifier !== undefined)) {
      messages.push(`RRSet with DNS name ${r.name}, type ${r.type} cannot be created as other RRSets exist with the same name and type.`)
    }
    if (r.alias) {
      const problem = await checkAliasTarget(r, zone, final, otherZone)
      if (problem) messages.push(problem)
    }
  }

  if (messages.length) return {ok: false, code: 'InvalidChangeBatch', message: `[${messages.join(', ')}]`, messages}
  return {ok: true}
}

async function checkAliasTarget(r: RecordSet, zone: ZoneView, final: RecordSet[], otherZone: (id: string) => Promise<ZoneView | undefined>): Promise<string | undefined> {
  const alias = r.alias!
  // Only zones moto hosts can be checked; ELB, CloudFront and S3 zones are taken on trust.
  const target = alias.hostedZoneId === zone.id ? {...zone, records: final} : await otherZone(alias.hostedZoneId)
  if (!target) return undefined
  const head = `Tried to create an alias that targets ${alias.dnsName}, type ${r.type} in zone ${alias.hostedZoneId}`
  if (alias.dnsName !== target.name && !alias.dnsName.endsWith(`.${target.name}`)) return `${head}, but the alias target name does not lie within the target zone`
  if (!target.records.some((o) => o.name === alias.dnsName && o.type === r.type)) return `${head}, but that target was not found`
  return undefined
}

/** Reads a zone and all its record sets from moto, following pagination. */
export async function readZone(client: Route53Client, zoneId: string): Promise<ZoneView | undefined> {
  const id = stripZoneId(zoneId)
  let name: string
  try {
    const z = await client.send(new GetHostedZoneCommand({Id: id}))
    name = normalizeName(z.HostedZone?.Name ?? '')
  } catch (e) {
    if ((e as {name?: string}).name === 'NoSuchHostedZone') return undefined
    throw e
  }
  const records: RecordSet[] = []
  let start: {StartRecordName?: string; StartRecordType?: string; StartRecordIdentifier?: string} = {}
  for (let page = 0; page < 1000; page++) {
    const out = await client.send(new ListResourceRecordSetsCommand({HostedZoneId: id, ...(start as object)}))
    for (const r of out.ResourceRecordSets ?? []) records.push(fromSdkRecord(r))
    if (!out.IsTruncated) break
    start = {StartRecordName: out.NextRecordName, StartRecordType: out.NextRecordType, StartRecordIdentifier: out.NextRecordIdentifier}
  }
  return {id, name, records}
}

export function route53Error(code: string, message: string, status = 400): HttpAnswer {
  return renderError('rest-xml', 'route53', {status, code, message})
}

// --- change status ------------------------------------------------------------------------------

interface TrackedChange {
  id: string
  submittedAt: Date
  comment?: string
}

/**
 * Change ids the front hands out. Moto gives every change the same id and says INSYNC at once;
 * AWS gives each change its own id and takes a while to say INSYNC, which clients poll for.
 */
export class ChangeTracker {
  private readonly changes = new Map<string, TrackedChange>()
  constructor(private readonly delayMs: number) {}

  mint(comment?: string): TrackedChange {
    const id = `C${randomBytes(10).toString('hex').toUpperCase().slice(0, 20)}`
    const change: TrackedChange = {id, submittedAt: new Date(), ...(comment === undefined ? {} : {comment})}
    this.changes.set(id, change)
    return change
  }

  status(change: TrackedChange): 'PENDING' | 'INSYNC' {
    return Date.now() - change.submittedAt.getTime() >= this.delayMs ? 'INSYNC' : 'PENDING'
  }

  /** GetChange for an id we handed out; undefined for others (moto answers those). */
  getChange(rawId: string): HttpAnswer | undefined {
    const change = this.changes.get(rawId.replace(/^\/?change\//, ''))
    if (!change) return undefined
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<GetChangeResponse xmlns="${ROUTE53_NS}">${this.changeInfoXml(change)}</GetChangeResponse>`
    return {status: 200, headers: {'content-type': 'text/xml'}, body}
  }

  changeInfoXml(change: TrackedChange): string {
    const comment = change.comment === undefined ? '' : `<Comment>${xmlEscape(change.comment)}</Comment>`
    return `<ChangeInfo><Id>/change/${change.id}</Id><Status>${this.status(change)}</Status><SubmittedAt>${change.submittedAt.toISOString()}</SubmittedAt>${comment}</ChangeInfo>`
  }

  /** Replaces the ChangeInfo in a moto response with a fresh, PENDING change of our own. */
  rewriteChangeInfo(xml: string, comment?: string): string {
    if (!/<ChangeInfo>[\s\S]*?<\/ChangeInfo>/.test(xml)) return xml
    const change = this.mint(comment)
    return xml.replace(/<ChangeInfo>[\s\S]*?<\/ChangeInfo>/, this.changeInfoXml(change))
  }
}

/** Serialises work per key (per hosted zone), so two batches cannot both pass against the same state. */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>()

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve()
    const next = prev.then(fn, fn)
    const tail = next.catch(() => undefined)
    this.tails.set(key, tail)
    try {
      return await next
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key)
    }
  }
}

/**
 * ListResourceRecordSets as AWS answers it: moto gives alias records a TTL of 0 and their
 * DNSName without the trailing dot; AWS gives them no TTL and a fully qualified name.
 */
export function rewriteRecordList(xml: string): string {
  return xml.replace(/<ResourceRecordSet>([\s\S]*?)<\/ResourceRecordSet>/g, (whole: string, inner: string) => {
    if (!inner.includes('<AliasTarget>')) return whole
    const fixed = inner
      .replace(/<TTL>\d+<\/TTL>/, '')
      .replace(/<DNSName>([^<]*?)<\/DNSName>/, (m: string, name: string) => (name.endsWith('.') ? m : `<DNSName>${name}.</DNSName>`))
    return `<ResourceRecordSet>${fixed}</ResourceRecordSet>`
  })
}

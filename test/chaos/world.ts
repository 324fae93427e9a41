/**
 * The chaos campaign's view of the world, read and written straight at moto (behind the sandbox's
 * logging front), as a colleague with the AWS CLI would: the weights, the lock record, and the
 * change batches the front saw.
 */
import {readFileSync} from 'node:fs'
import type {TestSandbox} from '../helpers/sandbox.js'

export type Weights = {legacy: number; kubernetes: number}

const ROLE_BY_SET: Record<string, keyof Weights> = {compose: 'legacy', k8s: 'kubernetes'}
const LOCK_NAME = '_clipper-ops-lock.clpr.tv.'

export interface World {
  weights: Weights
  /** The lock TXT record's value, if one is in the zone. */
  lock?: string
}

export class WorldView {
  private clients = new Map<string, Promise<{client: import('@aws-sdk/client-route-53').Route53Client; zoneId: string; m: typeof import('@aws-sdk/client-route-53')}>>()

  constructor(private readonly sb: TestSandbox) {}

  /** moto itself, or (viaFront) the sandbox's Route 53 as the AWS CLI sees it: logged, one batch at a time per zone. */
  private async route53(viaFront = false) {
    const key = viaFront ? 'front' : 'moto'
    if (!this.clients.has(key)) {
      this.clients.set(
        key,
        (async () => {
          const m = await import('@aws-sdk/client-route-53')
          const now = JSON.parse(readFileSync(`${this.sb.stateDir}/sandbox/sandbox.json`, 'utf8')) as {motoUrl: string; awsEndpoint: string; hostedZoneId: string}
          const endpoint = viaFront ? now.awsEndpoint : now.motoUrl
          const client = new m.Route53Client({region: 'us-east-1', endpoint, credentials: {accessKeyId: 'chaos', secretAccessKey: 'chaos'}, maxAttempts: 5})
          return {client, zoneId: now.hostedZoneId, m}
        })(),
      )
    }
    return this.clients.get(key)!
  }

  private async records() {
    const {client, zoneId, m} = await this.route53()
    return (await client.send(new m.ListResourceRecordSetsCommand({HostedZoneId: zoneId}))).ResourceRecordSets ?? []
  }

  async read(): Promise<World> {
    const records = await this.records()
    const weights = {legacy: -1, kubernetes: -1}
    for (const r of records) if (r.Name === 'clpr.tv.' && r.SetIdentifier && ROLE_BY_SET[r.SetIdentifier]) weights[ROLE_BY_SET[r.SetIdentifier]!] = r.Weight ?? -1
    const lock = records.find((r) => r.Name === LOCK_NAME && r.Type === 'TXT')?.ResourceRecords?.[0]?.Value
    return {weights, ...(lock ? {lock} : {})}
  }

  /** Set the weights in one UPSERT batch: around the front (not in its request log), or through it as a colleague would. */
  async setWeights(w: Weights, viaFront = false): Promise<void> {
    const {client, zoneId, m} = await this.route53(viaFront)
    const pair = (await this.records()).filter((r) => r.Name === 'clpr.tv.' && r.SetIdentifier && ROLE_BY_SET[r.SetIdentifier])
    await client.send(
      new m.ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: {Changes: pair.map((r) => ({Action: 'UPSERT', ResourceRecordSet: {...r, Weight: w[ROLE_BY_SET[r.SetIdentifier!]!]}}))},
      }),
    )
  }

  /** Remove a lock record left by a run the scenario killed on purpose. */
  async clearLock(): Promise<void> {
    const {client, zoneId, m} = await this.route53()
    const lock = (await this.records()).find((r) => r.Name === LOCK_NAME && r.Type === 'TXT')
    if (lock) await client.send(new m.ChangeResourceRecordSetsCommand({HostedZoneId: zoneId, ChangeBatch: {Changes: [{Action: 'DELETE', ResourceRecordSet: lock}]}}))
  }
}

/** A lock record's holder, decoded (see src/lib/aws/route53-lock.ts). */
export function lockHolder(value: string | undefined): {runId?: string; token?: string} | undefined {
  if (!value) return undefined
  const joined = [...value.matchAll(/"([^"]*)"/g)].map((m) => m[1]).join('')
  try {
    return JSON.parse(Buffer.from(joined.replace(/^cops1:/, ''), 'base64url').toString('utf8')) as {runId?: string}
  } catch {
    return {}
  }
}

export const sameWeights = (a: Weights | undefined, b: Weights | undefined) => !!a && !!b && a.legacy === b.legacy && a.kubernetes === b.kubernetes
export const fmt = (w: Weights | undefined) => (w ? `${w.legacy}/${w.kubernetes}` : '?')

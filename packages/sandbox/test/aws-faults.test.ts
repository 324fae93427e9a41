import {BackupClient, CreateBackupVaultCommand, ListRecoveryPointsByBackupVaultCommand} from '@aws-sdk/client-backup'
import {CloudWatchClient, ListMetricsCommand} from '@aws-sdk/client-cloudwatch'
import {EKSClient, ListClustersCommand} from '@aws-sdk/client-eks'
import {DescribeDBInstancesCommand, RDSClient} from '@aws-sdk/client-rds'
import {ChangeResourceRecordSetsCommand, CreateHostedZoneCommand, ListHostedZonesCommand, ListResourceRecordSetsCommand, Route53Client} from '@aws-sdk/client-route-53'
import {GetCallerIdentityCommand, STSClient} from '@aws-sdk/client-sts'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {FaultController} from '../src/aws-front/faults.js'
import {awsCli, startSandbox, type Sandbox} from './aws-helpers.js'

interface SdkError {
  name: string
  message: string
  $fault?: string
  code?: string
  $metadata?: {httpStatusCode?: number; attempts?: number}
}

async function failure(p: Promise<unknown>): Promise<SdkError> {
  try {
    await p
  } catch (e) {
    return e as SdkError
  }
  throw new Error('expected the call to fail')
}

describe('FaultController', () => {
  it('fires count rules the next N times, then expires them', () => {
    const f = new FaultController()
    const id = f.add({service: 'route53', operation: 'ChangeResourceRecordSets', kind: 'throttle', count: 2})
    expect(f.take('route53', 'ListHostedZones')).toEqual([])
    expect(f.take('route53', 'ChangeResourceRecordSets').map((r) => r.id)).toEqual([id])
    expect(f.list()[0]).toMatchObject({hits: 1, remaining: 1})
    expect(f.take('route53', 'ChangeResourceRecordSets')).toHaveLength(1)
    expect(f.take('route53', 'ChangeResourceRecordSets')).toEqual([])
    expect(f.list()).toEqual([])
  })

  it('fires by probability, accepts service aliases and *, and stacks latency with one answering fault', () => {
    const f = new FaultController()
    f.add({service: 'cloudwatch', operation: '*', kind: 'http503', probability: 0.5})
    expect(f.take('monitoring', 'PutMetricData', () => 0.7)).toEqual([])
    expect(f.take('monitoring', 'PutMetricData', () => 0.2)).toHaveLength(1)
    f.clear()
    f.add({service: '*', operation: '*', kind: 'latency', latencyMs: 10})
    f.add({service: '*', operation: '*', kind: 'throttle'})
    f.add({service: '*', operation: '*', kind: 'http500'})
    expect(f.take('rds', 'DescribeDBInstances').map((r) => r.kind)).toEqual(['latency', 'throttle'])
  })

  it('refuses rules that make no sense', () => {
    const f = new FaultController()
    expect(() => f.add({service: 'rds', operation: '*', kind: 'explode' as never})).toThrow(/kind must be one of/)
    expect(() => f.add({service: 'rds', operation: '*', kind: 'throttle', count: 0})).toThrow(/count/)
    expect(() => f.add({service: 'rds', operation: '*', kind: 'throttle', probability: 2})).toThrow(/probability/)
    expect(() => f.add({service: 'rds', operation: '*', kind: 'latency'})).toThrow(/latencyMs/)
  })
})

describe('faults as SDK clients and the AWS CLI see them', () => {
  let sb: Sandbox
  let zoneId: string
  beforeAll(async () => {
    sb = await startSandbox()
    const zone = await new Route53Client(sb.client).send(new CreateHostedZoneCommand({Name: 'faults.example.com', CallerReference: 'faults'}))
    zoneId = zone.HostedZone!.Id!
  })
  afterEach(() => {
    sb.front.faults.clear()
  })
  afterAll(async () => {
    await sb?.stop()
  })

  const attemptsOf = (operation: string, from: number) => sb.front.requestLog.slice(from).filter((e) => e.operation === operation)

  it('Route 53 Throttling: HTTP 400, retried by the standard retry strategy', async () => {
    sb.front.faults.add({service: 'route53', operation: 'ListHostedZones', kind: 'throttle', count: 1})
    const from = sb.front.requestLog.length
    const out = await new Route53Client(sb.client).send(new ListHostedZonesCommand({}))
    expect(out.HostedZones?.length).toBeGreaterThan(0)
    expect(out.$metadata.attempts).toBe(2)
    expect(attemptsOf('ListHostedZones', from).map((e) => [e.status, e.fault])).toEqual([
      [400, 'throttle'],
      [200, undefined],
    ])

    sb.front.faults.add({service: 'route53', operation: 'ListHostedZones', kind: 'throttle', count: 1})
    const err = await failure(new Route53Client({...sb.client, maxAttempts: 1}).send(new ListHostedZonesCommand({})))
    expect(err.name).toBe('Throttling')
    expect(err.message).toBe('Rate exceeded')
    expect(err.$metadata?.httpStatusCode).toBe(400)
  })

  it('Route 53 PriorRequestNotComplete: HTTP 400, retried', async () => {
    const change = () =>
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: {Changes: [{Action: 'UPSERT', ResourceRecordSet: {Name: 'p.faults.example.com', Type: 'A', TTL: 60, ResourceRecords: [{Value: '10.0.0.9'}]}}]},
      })
    sb.front.faults.add({service: 'route53', operation: 'ChangeResourceRecordSets', kind: 'priorRequestNotComplete', count: 1})
    const from = sb.front.requestLog.length
    const out = await new Route53Client(sb.client).send(change())
    expect(out.ChangeInfo?.Status).toBe('PENDING')
    expect(attemptsOf('ChangeResourceRecordSets', from).map((e) => [e.status, e.fault])).toEqual([
      [400, 'priorRequestNotComplete'],
      [200, undefined],
    ])

    sb.front.faults.add({service: 'route53', operation: 'ChangeResourceRecordSets', kind: 'priorRequestNotComplete', count: 1})
    const err = await failure(new Route53Client({...sb.client, maxAttempts: 1}).send(change()))
    expect(err.name).toBe('PriorRequestNotComplete')
    expect(err.$metadata?.httpStatusCode).toBe(400)
  })

  it('throttling in the JSON and query protocols carries each service’s own code', async () => {
    const once = {maxAttempts: 1}
    sb.front.faults.add({service: '*', operation: '*', kind: 'throttle'})
    expect((await failure(new RDSClient({...sb.client, ...once}).send(new DescribeDBInstancesCommand({})))).name).toBe('Throttling')
    expect((await failure(new STSClient({...sb.client, ...once}).send(new GetCallerIdentityCommand({})))).name).toBe('Throttling')
    expect((await failure(new EKSClient({...sb.client, ...once}).send(new ListClustersCommand({})))).name).toBe('ThrottlingException')
    expect((await failure(new CloudWatchClient({...sb.client, ...once}).send(new ListMetricsCommand({})))).name).toBe('Throttling')
    expect((await failure(new BackupClient({...sb.client, ...once}).send(new ListRecoveryPointsByBackupVaultCommand({BackupVaultName: 'v'})))).name).toBe('ThrottlingException')
  })

  it('HTTP 500 and 503 are server faults, retried as transient', async () => {
    const once = new RDSClient({...sb.client, maxAttempts: 1})
    sb.front.faults.add({service: 'rds', operation: 'DescribeDBInstances', kind: 'http500', count: 1})
    const e500 = await failure(once.send(new DescribeDBInstancesCommand({})))
    expect(e500.$fault).toBe('server')
    expect(e500.$metadata?.httpStatusCode).toBe(500)

    const r53 = new Route53Client({...sb.client, maxAttempts: 1})
    sb.front.faults.add({service: 'route53', operation: 'ListHostedZones', kind: 'http503', count: 1})
    const e503 = await failure(r53.send(new ListHostedZonesCommand({})))
    expect(e503.$fault).toBe('server')
    expect(e503.name).toBe('ServiceUnavailable')
    expect(e503.$metadata?.httpStatusCode).toBe(503)

    sb.front.faults.add({service: 'eks', operation: 'ListClusters', kind: 'http503', count: 1})
    const out = await new EKSClient(sb.client).send(new ListClustersCommand({}))
    expect(out.$metadata.attempts).toBe(2)
  })

  it('latency delays the answer by at least latencyMs', async () => {
    const sts = new STSClient(sb.client)
    await sts.send(new GetCallerIdentityCommand({}))
    sb.front.faults.add({service: 'sts', operation: 'GetCallerIdentity', kind: 'latency', latencyMs: 400, count: 1})
    const t0 = performance.now()
    const out = await sts.send(new GetCallerIdentityCommand({}))
    expect(performance.now() - t0).toBeGreaterThanOrEqual(390)
    expect(out.Account).toBe('123456789012')
    expect(sb.front.requestLog.at(-1)).toMatchObject({operation: 'GetCallerIdentity', status: 200, fault: 'latency:400ms'})
  })

  it('drop destroys the connection: the client sees a network error', async () => {
    sb.front.faults.add({service: 'sts', operation: '*', kind: 'drop', count: 1})
    const err = await failure(new STSClient({...sb.client, maxAttempts: 1}).send(new GetCallerIdentityCommand({})))
    expect(err.$metadata?.httpStatusCode).toBeUndefined()
    expect(`${err.name} ${err.code ?? ''} ${err.message}`).toMatch(/ECONNRESET|socket hang up|EPIPE/i)
    // Logged with status 0 and the fault.
    await new Promise((r) => setTimeout(r, 20))
    expect(sb.front.requestLog.at(-1)).toMatchObject({service: 'sts', status: 0, fault: 'drop'})
  })

  it('lostResponse: the batch takes effect, then the connection drops before the answer', async () => {
    const r53 = new Route53Client({...sb.client, maxAttempts: 1})
    const set = (value: string) =>
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: {Changes: [{Action: 'UPSERT', ResourceRecordSet: {Name: 'lost.faults.example.com', Type: 'A', TTL: 60, ResourceRecords: [{Value: value}]}}]},
      })
    sb.front.faults.add({service: 'route53', operation: 'ChangeResourceRecordSets', kind: 'lostResponse', count: 1})
    const err = await failure(r53.send(set('10.0.0.7')))
    expect(err.$metadata?.httpStatusCode).toBeUndefined()
    expect(`${err.name} ${err.code ?? ''} ${err.message}`).toMatch(/ECONNRESET|socket hang up|EPIPE/i)
    // The client could not know, but Route 53 applied it: the log keeps the status AWS answered.
    const live = await r53.send(new ListResourceRecordSetsCommand({HostedZoneId: zoneId, StartRecordName: 'lost.faults.example.com', StartRecordType: 'A', MaxItems: 1}))
    expect(live.ResourceRecordSets?.[0]?.ResourceRecords).toEqual([{Value: '10.0.0.7'}])
    expect(sb.front.requestLog.findLast((e) => e.operation === 'ChangeResourceRecordSets')).toMatchObject({status: 200, fault: 'lostResponse'})
  })

  it('lateResponse: the change is live while its answer is still held back', async () => {
    const r53 = new Route53Client(sb.client)
    sb.front.faults.add({service: 'route53', operation: 'ChangeResourceRecordSets', kind: 'lateResponse', latencyMs: 800, count: 1})
    const t0 = performance.now()
    const answer = r53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: {Changes: [{Action: 'UPSERT', ResourceRecordSet: {Name: 'late.faults.example.com', Type: 'A', TTL: 60, ResourceRecords: [{Value: '10.0.0.8'}]}}]},
      }),
    )
    let seenAt: number | undefined
    while (seenAt === undefined && performance.now() - t0 < 5000) {
      const live = await r53.send(new ListResourceRecordSetsCommand({HostedZoneId: zoneId, StartRecordName: 'late.faults.example.com', StartRecordType: 'A', MaxItems: 1}))
      if (live.ResourceRecordSets?.[0]?.Name === 'late.faults.example.com.') seenAt = performance.now()
    }
    const out = await answer
    const answeredAt = performance.now()
    expect(out.ChangeInfo?.Status).toBe('PENDING')
    expect(seenAt).toBeDefined()
    expect(seenAt!).toBeLessThan(answeredAt)
    expect(sb.front.requestLog.findLast((e) => e.operation === 'ChangeResourceRecordSets')).toMatchObject({status: 200, fault: 'lateResponse:800ms'})
  })

  it('the AWS CLI retries an injected Route 53 throttle too', async () => {
    sb.front.faults.add({service: 'route53', operation: 'ListHostedZones', kind: 'throttle', count: 1})
    const from = sb.front.requestLog.length
    const out = (await awsCli(sb.front, ['route53', 'list-hosted-zones'])) as {HostedZones: unknown[]}
    expect(out.HostedZones.length).toBeGreaterThan(0)
    expect(attemptsOf('ListHostedZones', from).map((e) => e.status)).toEqual([400, 200])
  })

  it('faults can be set, listed and cleared over HTTP by another process', async () => {
    const base = `${sb.front.url}/_sandbox/faults`
    const post = await fetch(base, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({service: 'backup', operation: '*', kind: 'http500', count: 3}),
    })
    expect(post.status).toBe(201)
    const {id} = (await post.json()) as {id: string}
    const many = await fetch(base, {
      method: 'POST',
      body: JSON.stringify([
        {service: 'rds', operation: '*', kind: 'latencyMs', latencyMs: 5},
        {service: 'sts', operation: '*', kind: 'drop', probability: 0.1},
      ]),
    })
    expect(((await many.json()) as {ids: string[]}).ids).toHaveLength(2)
    const listed = (await (await fetch(base)).json()) as {faults: Array<{id: string; kind: string; remaining?: number}>}
    expect(listed.faults.map((f) => f.kind)).toEqual(['http500', 'latency', 'drop'])
    expect(listed.faults[0]).toMatchObject({id, remaining: 3})

    const err = await failure(new BackupClient({...sb.client, maxAttempts: 1}).send(new CreateBackupVaultCommand({BackupVaultName: 'x'})))
    expect(err.$metadata?.httpStatusCode).toBe(500)

    expect((await fetch(`${base}/${id}`, {method: 'DELETE'})).status).toBe(200)
    expect((await fetch(`${base}/${id}`, {method: 'DELETE'})).status).toBe(404)
    expect((await fetch(base, {method: 'POST', body: JSON.stringify({kind: 'nope'})})).status).toBe(400)
    expect((await fetch(base, {method: 'DELETE'})).status).toBe(200)
    expect(sb.front.faults.list()).toEqual([])
  })
})

import {
  ChangeResourceRecordSetsCommand,
  CreateHostedZoneCommand,
  GetChangeCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
  type Change,
  type ResourceRecordSet,
  type RRType,
} from '@aws-sdk/client-route-53'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {normalizeName, parseChangeBatch, sameRecord} from '../src/aws-front/route53-rules.js'
import {CREDENTIALS, REGION, startSandbox, type Sandbox} from './aws-helpers.js'

// Long enough that a loaded machine still sees PENDING first.
const DELAY_MS = 1000

describe('Route 53 change-batch helpers', () => {
  it('normalises names as Route 53 lists them', () => {
    expect(normalizeName('WWW.Example.com')).toBe('www.example.com.')
    expect(normalizeName('\\052.example.com.')).toBe('*.example.com.')
  })

  it('parses a change batch and compares record sets exactly, values in any order', () => {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?><ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Comment>c</Comment><Changes>' +
      '<Change><Action>DELETE</Action><ResourceRecordSet><Name>x.example.com</Name><Type>A</Type><SetIdentifier>k8s</SetIdentifier><Weight>100</Weight><TTL>60</TTL>' +
      '<ResourceRecords><ResourceRecord><Value>10.0.0.2</Value></ResourceRecord><ResourceRecord><Value>10.0.0.1</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change>' +
      '</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>'
    const parsed = parseChangeBatch(xml)!
    expect(parsed.comment).toBe('c')
    const rec = parsed.changes[0]!.record
    expect(rec).toMatchObject({name: 'x.example.com.', type: 'A', setIdentifier: 'k8s', weight: 100, ttl: 60, values: ['10.0.0.2', '10.0.0.1']})
    expect(sameRecord(rec, {...rec, values: ['10.0.0.1', '10.0.0.2']})).toBe(true)
    expect(sameRecord(rec, {...rec, weight: 107})).toBe(false)
    expect(sameRecord(rec, {...rec, ttl: 300})).toBe(false)
    expect(parseChangeBatch('<not-a-batch/>')).toBeUndefined()
  })
})

describe('Route 53 rules moto does not enforce, enforced by the front', () => {
  let sb: Sandbox
  let r53: Route53Client
  let zoneId: string
  let otherZoneId: string
  const ZONE = 'rules.example.com'

  beforeAll(async () => {
    sb = await startSandbox({route53ChangeDelayMs: DELAY_MS})
    r53 = new Route53Client(sb.client)
    zoneId = (await r53.send(new CreateHostedZoneCommand({Name: ZONE, CallerReference: 'rules'}))).HostedZone!.Id!
    otherZoneId = (await r53.send(new CreateHostedZoneCommand({Name: 'other.example.org', CallerReference: 'other'}))).HostedZone!.Id!
  })
  afterAll(async () => {
    await sb?.stop()
  })

  const rrs = (name: string, value: string | string[], extra: Partial<ResourceRecordSet> = {}): ResourceRecordSet => ({
    Name: `${name}.${ZONE}`,
    Type: 'A',
    TTL: 60,
    ResourceRecords: (Array.isArray(value) ? value : [value]).map((Value) => ({Value})),
    ...extra,
  })
  const change = (changes: Change[], zone = zoneId) => r53.send(new ChangeResourceRecordSetsCommand({HostedZoneId: zone, ChangeBatch: {Changes: changes}}))
  const records = async (name: string): Promise<ResourceRecordSet[]> => {
    const all: ResourceRecordSet[] = []
    let start: {StartRecordName?: string; StartRecordType?: RRType; StartRecordIdentifier?: string} = {}
    for (;;) {
      const out = await r53.send(new ListResourceRecordSetsCommand({HostedZoneId: zoneId, ...start}))
      all.push(...(out.ResourceRecordSets ?? []))
      if (!out.IsTruncated) break
      start = {StartRecordName: out.NextRecordName, StartRecordType: out.NextRecordType, StartRecordIdentifier: out.NextRecordIdentifier}
    }
    return all.filter((r) => r.Name === `${name}.${ZONE}.`)
  }
  const rejection = async (changes: Change[], zone = zoneId): Promise<{name: string; message: string; status?: number}> => {
    try {
      await change(changes, zone)
    } catch (e) {
      const err = e as {name: string; message: string; $metadata?: {httpStatusCode?: number}}
      return {name: err.name, message: err.message, status: err.$metadata?.httpStatusCode}
    }
    throw new Error('expected the change batch to be refused')
  }

  it('refuses a CREATE of an existing record, and changes nothing', async () => {
    await change([{Action: 'CREATE', ResourceRecordSet: rrs('dup', '10.0.0.1')}])
    const err = await rejection([{Action: 'CREATE', ResourceRecordSet: rrs('dup', '10.0.0.2')}])
    expect(err).toEqual({name: 'InvalidChangeBatch', status: 400, message: `[Tried to create resource record set [name='dup.${ZONE}.', type='A'] but it already exists]`})
    expect(await records('dup')).toEqual([{Name: `dup.${ZONE}.`, Type: 'A', TTL: 60, ResourceRecords: [{Value: '10.0.0.1'}]}])
  })

  it('refuses a DELETE whose weight, TTL or values do not match the live record', async () => {
    const live = rrs('w', '10.0.1.1', {SetIdentifier: 'k8s', Weight: 100})
    await change([{Action: 'CREATE', ResourceRecordSet: live}])
    const mismatch = `[Tried to delete resource record set [name='w.${ZONE}.', type='A', set-identifier='k8s'] but the values provided do not match the current values]`
    expect(await rejection([{Action: 'DELETE', ResourceRecordSet: {...live, Weight: 107}}])).toMatchObject({name: 'InvalidChangeBatch', message: mismatch})
    expect(await rejection([{Action: 'DELETE', ResourceRecordSet: {...live, TTL: 300}}])).toMatchObject({message: mismatch})
    expect(await rejection([{Action: 'DELETE', ResourceRecordSet: {...live, ResourceRecords: [{Value: '10.9.9.9'}]}}])).toMatchObject({message: mismatch})
    expect(await rejection([{Action: 'DELETE', ResourceRecordSet: {...live, SetIdentifier: 'other'}}])).toMatchObject({
      message: `[Tried to delete resource record set [name='w.${ZONE}.', type='A', set-identifier='other'] but it was not found]`,
    })
    expect(await records('w')).toHaveLength(1)
    // The exact record deletes.
    await change([{Action: 'DELETE', ResourceRecordSet: live}])
    expect(await records('w')).toEqual([])
  })

  it('applies none of a batch with one bad change, and reports every problem', async () => {
    await change([{Action: 'CREATE', ResourceRecordSet: rrs('keep', '10.0.2.1')}])
    const err = await rejection([
      {Action: 'CREATE', ResourceRecordSet: rrs('new1', '10.0.2.2')},
      {Action: 'UPSERT', ResourceRecordSet: rrs('new2', '10.0.2.3')},
      {Action: 'CREATE', ResourceRecordSet: rrs('keep', '10.0.2.4')},
      {Action: 'DELETE', ResourceRecordSet: rrs('ghost', '10.0.2.5')},
    ])
    expect(err.name).toBe('InvalidChangeBatch')
    expect(err.message).toBe(
      `[Tried to create resource record set [name='keep.${ZONE}.', type='A'] but it already exists, ` +
        `Tried to delete resource record set [name='ghost.${ZONE}.', type='A'] but it was not found]`,
    )
    expect(await records('new1')).toEqual([])
    expect(await records('new2')).toEqual([])
  })

  it('applies a correct DELETE + CREATE batch (a value swap)', async () => {
    await change([{Action: 'CREATE', ResourceRecordSet: rrs('swap', '10.0.3.1', {SetIdentifier: 'blue', Weight: 100})}])
    const out = await change([
      {Action: 'DELETE', ResourceRecordSet: rrs('swap', '10.0.3.1', {SetIdentifier: 'blue', Weight: 100})},
      {Action: 'CREATE', ResourceRecordSet: rrs('swap', '10.0.3.2', {SetIdentifier: 'blue', Weight: 0})},
    ])
    expect(out.ChangeInfo?.Status).toBe('PENDING')
    expect(await records('swap')).toEqual([{Name: `swap.${ZONE}.`, Type: 'A', SetIdentifier: 'blue', Weight: 0, TTL: 60, ResourceRecords: [{Value: '10.0.3.2'}]}])
  })

  it('refuses a weighted record beside a non-weighted one of the same name and type, unless the batch deletes it', async () => {
    await change([{Action: 'CREATE', ResourceRecordSet: rrs('mix', '10.0.4.1')}])
    expect(await rejection([{Action: 'CREATE', ResourceRecordSet: rrs('mix', '10.0.4.2', {SetIdentifier: 'green', Weight: 10})}])).toMatchObject({
      name: 'InvalidChangeBatch',
      message: `[RRSet with DNS name mix.${ZONE}., type A, SetIdentifier green cannot be created as a non-weighted set exists with the same name and type.]`,
    })
    await change([{Action: 'CREATE', ResourceRecordSet: rrs('mix2', '10.0.4.3', {SetIdentifier: 'green', Weight: 10})}])
    expect(await rejection([{Action: 'UPSERT', ResourceRecordSet: rrs('mix2', '10.0.4.4')}])).toMatchObject({
      message: `[RRSet with DNS name mix2.${ZONE}., type A cannot be created as other RRSets exist with the same name and type.]`,
    })
    // Simple -> weighted in one batch is how a cut-over starts; that is allowed.
    await change([
      {Action: 'DELETE', ResourceRecordSet: rrs('mix', '10.0.4.1')},
      {Action: 'CREATE', ResourceRecordSet: rrs('mix', '10.0.4.1', {SetIdentifier: 'blue', Weight: 100})},
      {Action: 'CREATE', ResourceRecordSet: rrs('mix', '10.0.4.2', {SetIdentifier: 'green', Weight: 0})},
    ])
    expect((await records('mix')).map((r) => r.SetIdentifier).sort()).toEqual(['blue', 'green'])
  })

  it('checks weights (0-255), TTLs and required fields with InvalidInput', async () => {
    expect(await rejection([{Action: 'CREATE', ResourceRecordSet: rrs('big', '10.0.5.1', {SetIdentifier: 'a', Weight: 256})}])).toEqual({
      name: 'InvalidInput',
      status: 400,
      message: "Invalid XML ; cvc-maxInclusive-valid: Value '256' is not facet-valid with respect to maxInclusive '255' for type 'ResourceRecordSetWeight'.",
    })
    expect(await rejection([{Action: 'CREATE', ResourceRecordSet: rrs('ttl', '10.0.5.1', {TTL: 2147483648})}])).toMatchObject({
      name: 'InvalidInput',
      message: "Invalid XML ; cvc-maxInclusive-valid: Value '2147483648' is not facet-valid with respect to maxInclusive '2147483647' for type 'TTL'.",
    })
    expect(await rejection([{Action: 'CREATE', ResourceRecordSet: rrs('noid', '10.0.5.1', {Weight: 10})}])).toMatchObject({
      name: 'InvalidInput',
      message: `Invalid request: Missing field 'SetIdentifier' in Change with [Action=CREATE, Name=noid.${ZONE}., Type=A, SetIdentifier=null]`,
    })
    expect(await rejection([{Action: 'CREATE', ResourceRecordSet: {Name: `nottl.${ZONE}`, Type: 'A', ResourceRecords: [{Value: '10.0.5.1'}]}}])).toMatchObject({
      name: 'InvalidInput',
      message: `Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with [Action=CREATE, Name=nottl.${ZONE}., Type=A, SetIdentifier=null]`,
    })
    await change([
      {Action: 'CREATE', ResourceRecordSet: rrs('edge', '10.0.5.1', {SetIdentifier: 'max', Weight: 255})},
      {Action: 'CREATE', ResourceRecordSet: rrs('edge', '10.0.5.2', {SetIdentifier: 'min', Weight: 0})},
    ])
    expect(await records('edge')).toHaveLength(2)
  })

  it('refuses CNAME conflicts and a CNAME at the apex', async () => {
    await change([{Action: 'CREATE', ResourceRecordSet: rrs('host', '10.0.6.1')}])
    expect(
      await rejection([{Action: 'CREATE', ResourceRecordSet: {Name: `host.${ZONE}`, Type: 'CNAME', TTL: 60, ResourceRecords: [{Value: 'elsewhere.example.net'}]}}]),
    ).toMatchObject({
      message: `[RRSet of type CNAME with DNS name host.${ZONE}. is not permitted as it conflicts with other records with the same DNS name in zone ${ZONE}.]`,
    })
    expect(await rejection([{Action: 'UPSERT', ResourceRecordSet: {Name: ZONE, Type: 'CNAME', TTL: 60, ResourceRecords: [{Value: 'elsewhere.example.net'}]}}])).toMatchObject({
      message: `[RRSet of type CNAME with DNS name ${ZONE}. is not permitted at apex in zone ${ZONE}.]`,
    })
  })

  it('refuses an alias to a target that does not exist in the target zone', async () => {
    const zone = zoneId.replace('/hostedzone/', '')
    const alias = (name: string, target: string, hz = zone): ResourceRecordSet => ({
      Name: `${name}.${ZONE}`,
      Type: 'A',
      AliasTarget: {HostedZoneId: hz, DNSName: target, EvaluateTargetHealth: false},
    })
    expect(await rejection([{Action: 'CREATE', ResourceRecordSet: alias('al', `missing.${ZONE}`)}])).toMatchObject({
      name: 'InvalidChangeBatch',
      message: `[Tried to create an alias that targets missing.${ZONE}., type A in zone ${zone}, but that target was not found]`,
    })
    expect(await rejection([{Action: 'CREATE', ResourceRecordSet: alias('al', 'www.other.example.org', zone)}])).toMatchObject({
      message: `[Tried to create an alias that targets www.other.example.org., type A in zone ${zone}, but the alias target name does not lie within the target zone]`,
    })
    // A target created in the same batch counts; so do zones moto does not host (ELB, CloudFront).
    await change([
      {Action: 'CREATE', ResourceRecordSet: rrs('target', '10.0.7.1')},
      {Action: 'CREATE', ResourceRecordSet: alias('al', `target.${ZONE}`)},
      {Action: 'CREATE', ResourceRecordSet: alias('lb', 'my-lb-123.us-east-1.elb.amazonaws.com', 'Z35SXDOTRQ7X7K')},
    ])
    // (moto keeps the alias DNSName as sent, without the trailing dot AWS adds)
    expect((await records('al'))[0]?.AliasTarget?.DNSName?.replace(/\.$/, '')).toBe(`target.${ZONE}`)
    expect(otherZoneId).toBeTruthy()
  })

  it('reads every page of the live records before judging', async () => {
    const many: Change[] = Array.from({length: 320}, (_, i) => ({Action: 'CREATE', ResourceRecordSet: rrs(`bulk-${String(i).padStart(3, '0')}`, '10.1.0.1')}))
    await change(many)
    expect(await rejection([{Action: 'CREATE', ResourceRecordSet: rrs('bulk-319', '10.1.0.2')}])).toMatchObject({
      message: `[Tried to create resource record set [name='bulk-319.${ZONE}.', type='A'] but it already exists]`,
    })
  })

  it('judges concurrent batches one at a time: of two identical CREATEs one wins', async () => {
    const results = await Promise.allSettled([
      change([{Action: 'CREATE', ResourceRecordSet: rrs('race', '10.0.8.1')}]),
      change([{Action: 'CREATE', ResourceRecordSet: rrs('race', '10.0.8.1')}]),
    ])
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
    expect(await records('race')).toHaveLength(1)
  })

  it('reports a change PENDING until route53ChangeDelayMs has passed, then INSYNC', async () => {
    const first = await change([{Action: 'UPSERT', ResourceRecordSet: rrs('sync', '10.0.9.1')}])
    expect(first.ChangeInfo?.Status).toBe('PENDING')
    const id = first.ChangeInfo!.Id!
    expect((await r53.send(new GetChangeCommand({Id: id}))).ChangeInfo?.Status).toBe('PENDING')
    const second = await change([{Action: 'UPSERT', ResourceRecordSet: rrs('sync', '10.0.9.2')}])
    expect(second.ChangeInfo?.Id).not.toBe(id)
    const t0 = Date.now()
    let status: string | undefined
    while (Date.now() - t0 < 5_000) {
      status = (await r53.send(new GetChangeCommand({Id: id}))).ChangeInfo?.Status
      if (status === 'INSYNC') break
      await new Promise((r) => setTimeout(r, 50))
    }
    expect(status).toBe('INSYNC')
    expect(Date.now() - first.ChangeInfo!.SubmittedAt!.getTime()).toBeGreaterThanOrEqual(DELAY_MS - 20)
  })

  it('the AWS CLI gets InvalidChangeBatch too', async () => {
    const res = await execa(
      'aws',
      [
        '--endpoint-url',
        sb.front.url,
        'route53',
        'change-resource-record-sets',
        '--hosted-zone-id',
        zoneId,
        '--change-batch',
        JSON.stringify({Changes: [{Action: 'CREATE', ResourceRecordSet: {Name: `dup.${ZONE}`, Type: 'A', TTL: 60, ResourceRecords: [{Value: '10.0.0.1'}]}}]}),
      ],
      {
        reject: false,
        env: {
          AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
          AWS_DEFAULT_REGION: REGION,
          AWS_CONFIG_FILE: '/dev/null',
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        },
      },
    )
    expect(res.exitCode).not.toBe(0)
    expect(res.stderr).toContain('An error occurred (InvalidChangeBatch) when calling the ChangeResourceRecordSets operation')
    expect(res.stderr).toContain(`Tried to create resource record set [name='dup.${ZONE}.', type='A'] but it already exists`)
  })

  it('lists a weighted alias record as AWS does (no TTL, a fully qualified target) and lets it be deleted exactly as listed', async () => {
    const alias = (weight: number): ResourceRecordSet => ({
      Name: `alias.${ZONE}`,
      Type: 'A',
      SetIdentifier: 'k8s',
      Weight: weight,
      AliasTarget: {DNSName: 'k8s-clipper-1.us-east-1.elb.amazonaws.com', HostedZoneId: 'Z35SXDOTRQ7X7K', EvaluateTargetHealth: false},
    })
    await change([{Action: 'CREATE', ResourceRecordSet: alias(0)}])
    // moto lists TTL 0 and no trailing dot; AWS lists neither a TTL nor a bare name.
    const [listed] = await records('alias')
    expect(listed!.TTL).toBeUndefined()
    expect(listed!.AliasTarget!.DNSName).toBe('k8s-clipper-1.us-east-1.elb.amazonaws.com.')
    await change([
      {Action: 'DELETE', ResourceRecordSet: listed!},
      {Action: 'CREATE', ResourceRecordSet: {...listed!, Weight: 50}},
    ])
    expect((await records('alias'))[0]!.Weight).toBe(50)
    const stale = await rejection([{Action: 'DELETE', ResourceRecordSet: listed!}])
    expect(stale.name).toBe('InvalidChangeBatch')
  })

  it('measures health-check status (moto says Success for anything): a live endpoint passes, a closed port fails', async () => {
    const {CreateHealthCheckCommand, GetHealthCheckStatusCommand} = await import('@aws-sdk/client-route-53')
    const http = await import('node:http')
    const server = http.createServer((_req, res) => res.end('ok'))
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    const port = (server.address() as {port: number}).port
    const check = async () => {
      const hc = await r53.send(
        new CreateHealthCheckCommand({CallerReference: `hc-${Math.random()}`, HealthCheckConfig: {Type: 'HTTP', IPAddress: '127.0.0.1', Port: port, ResourcePath: '/health'}}),
      )
      return (await r53.send(new GetHealthCheckStatusCommand({HealthCheckId: hc.HealthCheck!.Id!}))).HealthCheckObservations!
    }
    const up = await check()
    expect(up.length).toBeGreaterThan(0)
    expect(up[0]!.StatusReport!.Status).toBe('Success: HTTP Status Code 200, OK')
    await new Promise<void>((r) => server.close(() => r()))
    const down = await check()
    expect(down[0]!.StatusReport!.Status).toMatch(/^Failure: Connection refused/)
  })

  it('moves weights back to where they were (moto alone refuses a CREATE identical to one in its history)', async () => {
    const plain = (w: number): ResourceRecordSet => ({Name: `back.${ZONE}`, Type: 'A', SetIdentifier: 'compose', Weight: w, TTL: 5, ResourceRecords: [{Value: '127.0.0.1'}]})
    const alias = (w: number): ResourceRecordSet => ({
      Name: `back.${ZONE}`,
      Type: 'A',
      SetIdentifier: 'k8s',
      Weight: w,
      AliasTarget: {DNSName: 'k8s-back.us-east-1.elb.amazonaws.com.', HostedZoneId: 'Z35SXDOTRQ7X7K', EvaluateTargetHealth: false},
    })
    await change([
      {Action: 'CREATE', ResourceRecordSet: plain(100)},
      {Action: 'CREATE', ResourceRecordSet: alias(0)},
    ])
    for (const [a, b] of [
      [50, 50],
      [0, 100],
      [100, 0],
      [0, 100],
    ] as const) {
      const live = await records('back')
      const cur = (id: string) => live.find((r) => r.SetIdentifier === id)!
      await change([
        {Action: 'DELETE', ResourceRecordSet: cur('compose')},
        {Action: 'CREATE', ResourceRecordSet: plain(a)},
        {Action: 'DELETE', ResourceRecordSet: cur('k8s')},
        {Action: 'CREATE', ResourceRecordSet: alias(b)},
      ])
      expect((await records('back')).map((r) => [r.SetIdentifier, r.Weight])).toEqual([
        ['compose', a],
        ['k8s', b],
      ])
    }
  })
})

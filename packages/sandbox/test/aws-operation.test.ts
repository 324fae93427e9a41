import {BackupClient, CreateBackupVaultCommand, ListBackupVaultsCommand, ListRecoveryPointsByBackupVaultCommand} from '@aws-sdk/client-backup'
import {CloudWatchClient, ListMetricsCommand, PutMetricDataCommand} from '@aws-sdk/client-cloudwatch'
import {CreateClusterCommand, DescribeClusterCommand, EKSClient, ListClustersCommand} from '@aws-sdk/client-eks'
import {CreateDBInstanceCommand, DescribeDBInstancesCommand, RDSClient} from '@aws-sdk/client-rds'
import {
  ChangeResourceRecordSetsCommand,
  CreateHealthCheckCommand,
  CreateHostedZoneCommand,
  GetChangeCommand,
  GetHostedZoneCommand,
  ListHealthChecksCommand,
  ListHostedZonesByNameCommand,
  ListHostedZonesCommand,
  ListResourceRecordSetsCommand,
  Route53Client,
} from '@aws-sdk/client-route-53'
import {GetCallerIdentityCommand, STSClient} from '@aws-sdk/client-sts'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {identifyOperation, isMutatingOperation, restRoutes} from '../src/aws-front/operation.js'
import {awsCli, logSince, startSandbox, type Sandbox} from './aws-helpers.js'

const auth = (service: string, region = 'us-east-1') => ({
  authorization: `AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/${region}/${service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc`,
})

describe('identifyOperation (wire only)', () => {
  it('reads the service and region from the SigV4 credential scope', () => {
    const info = identifyOperation({method: 'GET', url: '/2013-04-01/hostedzone', headers: auth('route53', 'eu-west-1')})
    expect(info).toMatchObject({service: 'route53', region: 'eu-west-1', operation: 'ListHostedZones', mutating: false, protocol: 'rest-xml'})
  })

  it('names JSON-protocol calls from X-Amz-Target', () => {
    const info = identifyOperation({method: 'POST', url: '/', headers: {...auth('monitoring'), 'x-amz-target': 'GraniteServiceVersion20100801.PutMetricData'}})
    expect(info).toMatchObject({service: 'monitoring', operation: 'PutMetricData', mutating: true, protocol: 'json'})
  })

  it('names query-protocol calls from Action= in the query string or the form body', () => {
    expect(identifyOperation({method: 'GET', url: '/?Action=DescribeDBInstances&Version=2014-10-31', headers: auth('rds')})).toMatchObject({
      service: 'rds',
      operation: 'DescribeDBInstances',
      mutating: false,
      protocol: 'query',
    })
    const body = Buffer.from('Action=ModifyDBInstance&Version=2014-10-31&DBInstanceIdentifier=db1')
    expect(identifyOperation({method: 'POST', url: '/', headers: {...auth('rds'), 'content-type': 'application/x-www-form-urlencoded; charset=utf-8'}, body})).toMatchObject({
      operation: 'ModifyDBInstance',
      mutating: true,
    })
    expect(
      identifyOperation({method: 'POST', url: '/', headers: {...auth('ec2'), 'content-type': 'application/x-www-form-urlencoded'}, body: Buffer.from('Action=RunInstances')}),
    ).toMatchObject({
      service: 'ec2',
      protocol: 'ec2',
      mutating: true,
    })
  })

  it('matches REST paths, with trailing slashes and encoded ARNs', () => {
    const cases: Array<[string, string, string, string, boolean]> = [
      ['route53', 'POST', '/2013-04-01/hostedzone/Z123/rrset/', 'ChangeResourceRecordSets', true],
      ['route53', 'GET', '/2013-04-01/hostedzone/Z123/rrset?maxitems=100', 'ListResourceRecordSets', false],
      ['route53', 'GET', '/2013-04-01/change/C123', 'GetChange', false],
      ['route53', 'GET', '/2013-04-01/hostedzone/Z123', 'GetHostedZone', false],
      ['route53', 'GET', '/2013-04-01/hostedzonesbyname?dnsname=example.com', 'ListHostedZonesByName', false],
      ['route53', 'POST', '/2013-04-01/hostedzone', 'CreateHostedZone', true],
      ['route53', 'POST', '/2013-04-01/healthcheck', 'CreateHealthCheck', true],
      ['route53', 'GET', '/2013-04-01/healthcheck/hc-1/status', 'GetHealthCheckStatus', false],
      ['route53', 'GET', '/2013-04-01/healthcheck', 'ListHealthChecks', false],
      ['route53', 'DELETE', '/2013-04-01/hostedzone/Z123', 'DeleteHostedZone', true],
      ['eks', 'GET', '/clusters', 'ListClusters', false],
      ['eks', 'POST', '/clusters', 'CreateCluster', true],
      ['eks', 'GET', '/clusters/prod', 'DescribeCluster', false],
      ['eks', 'POST', '/clusters/prod/updates', 'UpdateClusterVersion', true],
      ['eks', 'GET', '/clusters/prod/node-groups/ng1', 'DescribeNodegroup', false],
      ['backup', 'GET', '/backup-vaults/', 'ListBackupVaults', false],
      ['backup', 'PUT', '/backup-vaults/v1', 'CreateBackupVault', true],
      ['backup', 'GET', '/backup-vaults/v1/recovery-points/', 'ListRecoveryPointsByBackupVault', false],
      ['backup', 'GET', '/backup-vaults/v1/recovery-points/arn%3Aaws%3Ards%3Aus-east-1%3A123%3Asnapshot%3Ax', 'DescribeRecoveryPoint', false],
      ['backup', 'GET', '/resources/arn%3Aaws%3Ards%3Aus-east-1%3A123%3Adb%3Ax/recovery-points/', 'ListRecoveryPointsByResource', false],
      ['backup', 'PUT', '/backup-jobs', 'StartBackupJob', true],
      ['backup', 'GET', '/backup-jobs/', 'ListBackupJobs', false],
      ['backup', 'GET', '/backup-jobs/ABC', 'DescribeBackupJob', false],
      ['backup', 'PUT', '/restore-jobs', 'StartRestoreJob', true],
      ['backup', 'GET', '/restore-jobs/R1', 'DescribeRestoreJob', false],
      ['backup', 'PUT', '/backup/plans', 'CreateBackupPlan', true],
      ['backup', 'GET', '/backup/plans/', 'ListBackupPlans', false],
      ['backup', 'POST', '/backup-vaults/v1/mpaApprovalTeam?delete', 'DisassociateBackupVaultMpaApprovalTeam', true],
    ]
    for (const [service, method, url, operation, mutating] of cases) {
      expect(identifyOperation({method, url, headers: auth(service)}), `${method} ${url}`).toMatchObject({service, operation, mutating})
    }
    const described = identifyOperation({method: 'GET', url: '/backup-vaults/v1/recovery-points/arn%3Aaws%3Ards%3Aus-east-1%3A123%3Asnapshot%3Ax', headers: auth('backup')})
    expect(described.params).toEqual({BackupVaultName: 'v1', RecoveryPointArn: 'arn:aws:rds:us-east-1:123:snapshot:x'})
  })

  it('falls back to method + path, judging mutating by method, for REST calls it cannot name', () => {
    expect(identifyOperation({method: 'GET', url: '/2013-04-01/nosuchthing', headers: auth('route53')})).toMatchObject({operation: 'GET /2013-04-01/nosuchthing', mutating: false})
    expect(identifyOperation({method: 'PUT', url: '/some-bucket/key', headers: auth('s3')})).toMatchObject({service: 's3', operation: 'PUT /some-bucket/key', mutating: true})
  })

  it('guesses the service of unsigned REST calls from the path', () => {
    expect(identifyOperation({method: 'GET', url: '/2013-04-01/hostedzone', headers: {}})).toMatchObject({service: 'route53', operation: 'ListHostedZones'})
    const unsignedSts = Buffer.from('Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=x')
    expect(identifyOperation({method: 'POST', url: '/', headers: {'content-type': 'application/x-www-form-urlencoded'}, body: unsignedSts})).toMatchObject({
      service: 'sts',
      operation: 'AssumeRoleWithWebIdentity',
      mutating: false,
    })
  })

  it('classes operations as mutating unless they are plainly read-only', () => {
    for (const op of [
      'CreateDBInstance',
      'DeleteCluster',
      'UpdateNodegroupConfig',
      'PutMetricData',
      'ChangeResourceRecordSets',
      'StartBackupJob',
      'RestoreDBInstanceFromDBSnapshot',
      'ModifyDBInstance',
      'TagResource',
      'RebootDBInstance',
      'FailoverDBCluster',
      'BatchDeleteAttributes',
      'PromoteReadReplica',
      'TestFailover',
      'VerifyEmailIdentity',
    ]) {
      expect(isMutatingOperation(op), op).toBe(true)
    }
    for (const op of [
      'DescribeDBInstances',
      'ListClusters',
      'GetChange',
      'GetCallerIdentity',
      'ListRecoveryPointsByBackupVault',
      'TestDNSAnswer',
      'AssumeRole',
      'BatchGetItem',
      'GetMetricData',
    ]) {
      expect(isMutatingOperation(op), op).toBe(false)
    }
    // "Listen" does not start with the verb "List".
    expect(isMutatingOperation('Listen')).toBe(true)
  })

  it('takes every REST operation of the installed Route 53, EKS and Backup clients', () => {
    expect(restRoutes('route53').length).toBeGreaterThan(60)
    expect(restRoutes('eks').length).toBeGreaterThan(50)
    expect(restRoutes('backup').length).toBeGreaterThan(90)
  })
})

describe('request log through the front (SDK v3 and AWS CLI against moto)', () => {
  let sb: Sandbox
  beforeAll(async () => {
    sb = await startSandbox()
  })
  afterAll(async () => {
    await sb?.stop()
  })

  it('identifies Route 53 calls', async () => {
    const r53 = new Route53Client(sb.client)
    const from = sb.front.requestLog.length
    const zone = await r53.send(new CreateHostedZoneCommand({Name: 'log.example.com', CallerReference: `log-${Date.now()}`}))
    const zoneId = zone.HostedZone!.Id!
    await r53.send(new ListHostedZonesCommand({}))
    await r53.send(new GetHostedZoneCommand({Id: zoneId}))
    await r53.send(new ListHostedZonesByNameCommand({DNSName: 'log.example.com'}))
    const change = await r53.send(
      new ChangeResourceRecordSetsCommand({
        HostedZoneId: zoneId,
        ChangeBatch: {Changes: [{Action: 'CREATE', ResourceRecordSet: {Name: 'a.log.example.com', Type: 'A', TTL: 60, ResourceRecords: [{Value: '10.0.0.1'}]}}]},
      }),
    )
    await r53.send(new GetChangeCommand({Id: change.ChangeInfo!.Id!}))
    await r53.send(new ListResourceRecordSetsCommand({HostedZoneId: zoneId}))
    await r53.send(new CreateHealthCheckCommand({CallerReference: `hc-${Date.now()}`, HealthCheckConfig: {Type: 'HTTP', FullyQualifiedDomainName: 'a.log.example.com', Port: 80}}))
    await r53.send(new ListHealthChecksCommand({}))
    expect(logSince(sb.front, from)).toEqual([
      {service: 'route53', operation: 'CreateHostedZone', mutating: true, status: 201},
      {service: 'route53', operation: 'ListHostedZones', mutating: false, status: 200},
      {service: 'route53', operation: 'GetHostedZone', mutating: false, status: 200},
      {service: 'route53', operation: 'ListHostedZonesByName', mutating: false, status: 200},
      {service: 'route53', operation: 'ChangeResourceRecordSets', mutating: true, status: 200},
      {service: 'route53', operation: 'GetChange', mutating: false, status: 200},
      {service: 'route53', operation: 'ListResourceRecordSets', mutating: false, status: 200},
      {service: 'route53', operation: 'CreateHealthCheck', mutating: true, status: 201},
      {service: 'route53', operation: 'ListHealthChecks', mutating: false, status: 200},
    ])
  })

  it('identifies RDS, EKS, Backup, CloudWatch and STS calls', async () => {
    const from = sb.front.requestLog.length
    const rds = new RDSClient(sb.client)
    await rds.send(new DescribeDBInstancesCommand({}))
    await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: 'logdb',
        Engine: 'postgres',
        DBInstanceClass: 'db.t3.micro',
        MasterUsername: 'u',
        MasterUserPassword: 'password1',
        AllocatedStorage: 20,
      }),
    )
    const eks = new EKSClient(sb.client)
    await eks.send(new ListClustersCommand({}))
    await eks.send(new CreateClusterCommand({name: 'logc', roleArn: 'arn:aws:iam::123456789012:role/eks', resourcesVpcConfig: {subnetIds: ['subnet-1']}}))
    await eks.send(new DescribeClusterCommand({name: 'logc'}))
    const backup = new BackupClient(sb.client)
    await backup.send(new CreateBackupVaultCommand({BackupVaultName: 'logvault'}))
    await backup.send(new ListBackupVaultsCommand({}))
    await backup.send(new ListRecoveryPointsByBackupVaultCommand({BackupVaultName: 'logvault'}))
    const cw = new CloudWatchClient(sb.client)
    await cw.send(new PutMetricDataCommand({Namespace: 'Clipper', MetricData: [{MetricName: 'm', Value: 1}]}))
    await cw.send(new ListMetricsCommand({Namespace: 'Clipper'}))
    const sts = new STSClient(sb.client)
    await sts.send(new GetCallerIdentityCommand({}))
    expect(logSince(sb.front, from)).toEqual([
      {service: 'rds', operation: 'DescribeDBInstances', mutating: false, status: 200},
      {service: 'rds', operation: 'CreateDBInstance', mutating: true, status: 200},
      {service: 'eks', operation: 'ListClusters', mutating: false, status: 200},
      {service: 'eks', operation: 'CreateCluster', mutating: true, status: 200},
      {service: 'eks', operation: 'DescribeCluster', mutating: false, status: 200},
      {service: 'backup', operation: 'CreateBackupVault', mutating: true, status: 200},
      {service: 'backup', operation: 'ListBackupVaults', mutating: false, status: 200},
      {service: 'backup', operation: 'ListRecoveryPointsByBackupVault', mutating: false, status: 200},
      {service: 'monitoring', operation: 'PutMetricData', mutating: true, status: 200},
      {service: 'monitoring', operation: 'ListMetrics', mutating: false, status: 200},
      {service: 'sts', operation: 'GetCallerIdentity', mutating: false, status: 200},
    ])
  })

  it('identifies AWS CLI calls (query-protocol form bodies, Route 53 trailing slashes)', async () => {
    const zones = await new Route53Client(sb.client).send(new ListHostedZonesByNameCommand({DNSName: 'log.example.com'}))
    const from = sb.front.requestLog.length
    await awsCli(sb.front, ['rds', 'describe-db-instances'])
    await awsCli(sb.front, ['cloudwatch', 'put-metric-data', '--namespace', 'Clipper', '--metric-name', 'cli', '--value', '1'])
    await awsCli(sb.front, [
      'route53',
      'change-resource-record-sets',
      '--hosted-zone-id',
      zones.HostedZones![0]!.Id!,
      '--change-batch',
      JSON.stringify({Changes: [{Action: 'UPSERT', ResourceRecordSet: {Name: 'cli.log.example.com', Type: 'TXT', TTL: 60, ResourceRecords: [{Value: '"hi"'}]}}]}),
    ])
    expect(logSince(sb.front, from)).toEqual([
      {service: 'rds', operation: 'DescribeDBInstances', mutating: false, status: 200},
      {service: 'monitoring', operation: 'PutMetricData', mutating: true, status: 200},
      {service: 'route53', operation: 'ChangeResourceRecordSets', mutating: true, status: 200},
    ])
    // The CLI's form body and trailing-slash path were what was logged.
    expect(sb.front.requestLog.at(-1)?.path).toMatch(/\/rrset\/?$/)
  })

  it('serves the log over HTTP, filtered by time, service and mutating', async () => {
    const all = (await (await fetch(`${sb.front.url}/_sandbox/requests`)).json()) as {requests: Array<{service: string; mutating: boolean; time: string}>}
    expect(all.requests.length).toBe(sb.front.requestLog.length)
    const since = all.requests[5]!.time
    const later = (await (await fetch(`${sb.front.url}/_sandbox/requests?since=${encodeURIComponent(since)}`)).json()) as {requests: unknown[]}
    expect(later.requests.length).toBeGreaterThanOrEqual(all.requests.length - 5)
    expect(later.requests.length).toBeLessThan(all.requests.length)
    const mutatingRds = (await (await fetch(`${sb.front.url}/_sandbox/requests?service=rds&mutating=true`)).json()) as {requests: Array<{operation: string}>}
    expect(mutatingRds.requests.map((r) => r.operation)).toEqual(['CreateDBInstance'])
    const bad = await fetch(`${sb.front.url}/_sandbox/requests?since=yesterday`)
    expect(bad.status).toBe(400)
  })
})

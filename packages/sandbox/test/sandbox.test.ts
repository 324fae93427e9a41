/**
 * The sandbox as a user meets it: started by the CLI, every seeded resource read back through
 * the real SDK clients and the AWS CLI (v1 and, where installed, v2), faults set with `sandbox
 * fault` observed as AWS would return them, the Kubernetes stand-in read through client-node
 * and kubectl, helm and the docker compose stand-in changing the world, the public endpoint
 * following the live weights, and `sandbox reset` reseeding.
 */
import {existsSync} from 'node:fs'
import {execa} from 'execa'
import {describe, expect, test} from 'vitest'
import {useSandbox} from '../../../test/helpers/sandbox.js'

const sandbox = useSandbox({ttl: 1, changeDelayMs: 500})

async function clients() {
  const sb = sandbox()
  const {fromIni} = await import('@aws-sdk/credential-providers')
  const env = sb.toolEnv()
  // The profile files the sandbox wrote, read by the standard credential chain.
  const credentials = fromIni({profile: 'sandbox', filepath: env.AWS_SHARED_CREDENTIALS_FILE, configFilepath: env.AWS_CONFIG_FILE})
  return {region: sb.status.region, endpoint: sb.status.awsEndpoint, credentials}
}

describe('sandbox status', () => {
  test('--json names the endpoints and files to point tools at', async () => {
    const sb = sandbox()
    const r = await sb.cli(['sandbox', 'status', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const s = JSON.parse(r.stdout)
    expect(s).toMatchObject({running: true, environment: 'sandbox'})
    for (const k of ['awsEndpoint', 'kubeconfig', 'config']) expect(s[k]).toBeTruthy()
    expect(s.stacks.legacy).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(s.stacks.kubernetes).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(existsSync(s.kubeconfig) && existsSync(s.config)).toBe(true)
    const v = await sb.cli(['config', 'validate', '--env', 'sandbox'])
    expect(v.code, v.stderr).toBe(0)
  })
})

describe('seeded resources, read through the real SDK clients', () => {
  test('Route 53: the weighted pair (legacy 100, kubernetes 0), TTL, alias, health checks measured', async () => {
    const sb = sandbox()
    const m = await import('@aws-sdk/client-route-53')
    const r53 = new m.Route53Client(await clients())
    const rr = await r53.send(new m.ListResourceRecordSetsCommand({HostedZoneId: sb.status.hostedZoneId, StartRecordName: 'clpr.tv.', StartRecordType: 'A'}))
    const pair = (rr.ResourceRecordSets ?? []).filter((r) => r.Name === 'clpr.tv.' && r.Type === 'A')
    const legacy = pair.find((r) => r.SetIdentifier === 'compose')!
    const k8s = pair.find((r) => r.SetIdentifier === 'k8s')!
    expect(legacy).toMatchObject({Weight: 100, TTL: 1, ResourceRecords: [{Value: '127.0.0.1'}]})
    expect(k8s.Weight).toBe(0)
    expect(k8s.TTL).toBeUndefined()
    expect(k8s.AliasTarget).toMatchObject({HostedZoneId: 'Z35SXDOTRQ7X7K'})
    const status = await r53.send(new m.GetHealthCheckStatusCommand({HealthCheckId: legacy.HealthCheckId!}))
    expect(status.HealthCheckObservations![0]!.StatusReport!.Status).toMatch(/^Success: HTTP Status Code 200/)
    r53.destroy()
  })

  test('EKS cluster and node group, RDS PostgreSQL 16 with backups and a snapshot', async () => {
    const eksm = await import('@aws-sdk/client-eks')
    const eks = new eksm.EKSClient(await clients())
    const cluster = await eks.send(new eksm.DescribeClusterCommand({name: 'clipper-sandbox'}))
    expect(cluster.cluster?.status).toBe('ACTIVE')
    expect((await eks.send(new eksm.ListNodegroupsCommand({clusterName: 'clipper-sandbox'}))).nodegroups).toEqual(['clipper-nodes'])
    const rdsm = await import('@aws-sdk/client-rds')
    const rds = new rdsm.RDSClient(await clients())
    const db = (await rds.send(new rdsm.DescribeDBInstancesCommand({DBInstanceIdentifier: 'clipper-sandbox'}))).DBInstances![0]!
    expect(db).toMatchObject({Engine: 'postgres', BackupRetentionPeriod: 7})
    expect(db.EngineVersion).toMatch(/^16\./)
    const snaps = await rds.send(new rdsm.DescribeDBSnapshotsCommand({DBInstanceIdentifier: 'clipper-sandbox'}))
    expect(snaps.DBSnapshots!.map((s) => s.DBSnapshotIdentifier)).toContain('clipper-sandbox-before-cutover')
  })

  test('AWS Backup: vault, plan, recovery points (the newest inside the 15-minute RPO); CloudWatch alarms OK', async () => {
    const bm = await import('@aws-sdk/client-backup')
    const backup = new bm.BackupClient(await clients())
    expect((await backup.send(new bm.ListBackupVaultsCommand({}))).BackupVaultList!.map((v) => v.BackupVaultName)).toContain('clipper-sandbox-vault')
    expect((await backup.send(new bm.ListBackupPlansCommand({}))).BackupPlansList!.map((p) => p.BackupPlanName)).toContain('clipper-daily')
    const points = (await backup.send(new bm.ListRecoveryPointsByBackupVaultCommand({BackupVaultName: 'clipper-sandbox-vault'}))).RecoveryPoints!
    expect(points).toHaveLength(4)
    const newest = Math.max(...points.map((p) => p.CreationDate!.getTime()))
    expect(Date.now() - newest).toBeLessThan(15 * 60_000)
    const cwm = await import('@aws-sdk/client-cloudwatch')
    const cw = new cwm.CloudWatchClient(await clients())
    const alarms = (await cw.send(new cwm.DescribeAlarmsCommand({AlarmNames: ['clipper-sandbox-5xx-rate', 'clipper-sandbox-p95-latency']}))).MetricAlarms!
    expect(alarms.map((a) => [a.AlarmName, a.StateValue]).sort()).toEqual([
      ['clipper-sandbox-5xx-rate', 'OK'],
      ['clipper-sandbox-p95-latency', 'OK'],
    ])
  })
})

const awsClis = [
  ['v1 (pip)', 'aws'],
  ['v2 (Debian awscli)', '/usr/bin/aws'],
] as const

describe.each(awsClis)('the AWS CLI %s, unchanged, with --endpoint-url', (_label, bin) => {
  const present = bin === 'aws' || existsSync(bin)
  test.skipIf(!present)('reads every seeded resource', async () => {
    const sb = sandbox()
    const env = sb.toolEnv()
    delete env.AWS_ENDPOINT_URL // the flag alone must be enough
    const aws = async (...args: string[]) => {
      const r = await execa(bin, ['--endpoint-url', sb.status.awsEndpoint, '--output', 'json', ...args], {env, reject: false})
      expect(r.exitCode, `${args.join(' ')}: ${r.stderr}`).toBe(0)
      return JSON.parse(r.stdout || '{}')
    }
    const rr = await aws('route53', 'list-resource-record-sets', '--hosted-zone-id', sb.status.hostedZoneId)
    expect(rr.ResourceRecordSets.filter((r: {SetIdentifier?: string}) => r.SetIdentifier).map((r: {SetIdentifier: string; Weight: number}) => [r.SetIdentifier, r.Weight])).toEqual(
      [
        ['compose', 100],
        ['k8s', 0],
      ],
    )
    expect((await aws('eks', 'describe-cluster', '--name', 'clipper-sandbox')).cluster.name).toBe('clipper-sandbox')
    expect((await aws('rds', 'describe-db-instances', '--db-instance-identifier', 'clipper-sandbox')).DBInstances[0].Engine).toBe('postgres')
    expect((await aws('backup', 'list-recovery-points-by-backup-vault', '--backup-vault-name', 'clipper-sandbox-vault')).RecoveryPoints).toHaveLength(4)
    expect((await aws('cloudwatch', 'describe-alarms')).MetricAlarms.map((a: {AlarmName: string}) => a.AlarmName).sort()).toEqual([
      'clipper-sandbox-5xx-rate',
      'clipper-sandbox-p95-latency',
    ])
  })
})

describe('faults set with `sandbox fault`, seen by SDK clients as AWS returns them', () => {
  async function r53(maxAttempts = 1) {
    const m = await import('@aws-sdk/client-route-53')
    return {m, c: new m.Route53Client({...(await clients()), maxAttempts})}
  }
  async function caught(p: Promise<unknown>): Promise<{name: string; status?: number; code?: string}> {
    try {
      await p
    } catch (e) {
      const err = e as {name: string; $metadata?: {httpStatusCode?: number}; code?: string}
      return {name: err.name, status: err.$metadata?.httpStatusCode, code: err.code}
    }
    throw new Error('expected the call to fail')
  }

  test('Throttling and PriorRequestNotComplete are HTTP 400 with those codes; the SDK retries them', async () => {
    const sb = sandbox()
    const {m, c} = await r53()
    const list = () => c.send(new m.ListResourceRecordSetsCommand({HostedZoneId: sb.status.hostedZoneId}))
    expect((await sb.cli(['sandbox', 'fault', '--api', 'route53:ListResourceRecordSets', '--throttle', '1'])).code).toBe(0)
    expect(await caught(list())).toMatchObject({name: 'Throttling', status: 400})
    expect((await sb.cli(['sandbox', 'fault', '--api', 'route53:ListResourceRecordSets', '--prior-request-not-complete', '1'])).code).toBe(0)
    expect(await caught(list())).toMatchObject({name: 'PriorRequestNotComplete', status: 400})
    // With its standard retries the SDK gets through two throttles.
    await sb.cli(['sandbox', 'fault', '--api', 'route53:ListResourceRecordSets', '--throttle', '2'])
    const {c: patient} = await r53(3)
    await patient.send(new m.ListResourceRecordSetsCommand({HostedZoneId: sb.status.hostedZoneId}))
    const log = (await sb.requests()).filter((e) => e.operation === 'ListResourceRecordSets').slice(-3)
    expect(log.map((e) => e.status)).toEqual([400, 400, 200])
  })

  test('HTTP 500 and 503 are server errors; a dropped connection is a network error; latency is added', async () => {
    const sb = sandbox()
    const rdsm = await import('@aws-sdk/client-rds')
    const rds = new rdsm.RDSClient({...(await clients()), maxAttempts: 1})
    const describe = () => rds.send(new rdsm.DescribeDBInstancesCommand({}))
    await sb.cli(['sandbox', 'fault', '--api', 'rds:DescribeDBInstances', '--http503', '1'])
    expect((await caught(describe())).status).toBe(503)
    await sb.cli(['sandbox', 'fault', '--api', 'rds:DescribeDBInstances', '--http500', '1'])
    expect((await caught(describe())).status).toBe(500)
    await sb.cli(['sandbox', 'fault', '--api', 'rds:DescribeDBInstances', '--drop', '1'])
    const dropped = await caught(describe())
    expect(dropped.status).toBeUndefined()
    expect(`${dropped.name} ${dropped.code}`).toMatch(/ECONNRESET|socket hang up|TimeoutError|EPIPE/)
    await sb.cli(['sandbox', 'fault', '--api', 'rds:DescribeDBInstances', '--latency', '400ms', '--probability', '1'])
    const t = Date.now()
    await describe()
    expect(Date.now() - t).toBeGreaterThanOrEqual(390)
    const cleared = await sb.cli(['sandbox', 'fault', '--clear'])
    expect(cleared.code).toBe(0)
    const t2 = Date.now()
    await describe()
    expect(Date.now() - t2).toBeLessThan(390)
  })

  test('stack faults: error rate, latency, down and up; bad fault flags are usage errors', async () => {
    const sb = sandbox()
    const url = `${sb.status.stacks.kubernetes}/health`
    await sb.cli(['sandbox', 'fault', '--stack', 'kubernetes', '--error-rate', '1'])
    expect((await fetch(url)).status).toBe(503)
    await sb.cli(['sandbox', 'fault', '--stack', 'kubernetes', '--error-rate', '0', '--latency', '300ms'])
    const t = Date.now()
    expect((await fetch(url)).status).toBe(200)
    expect(Date.now() - t).toBeGreaterThanOrEqual(290)
    await sb.cli(['sandbox', 'fault', '--stack', 'kubernetes', '--down'])
    await expect(fetch(url)).rejects.toMatchObject({cause: {code: 'ECONNREFUSED'}})
    await sb.cli(['sandbox', 'fault', '--stack', 'kubernetes', '--up', '--latency', '0ms'])
    expect((await fetch(url)).status).toBe(200)
    const bad = await sb.cli(['sandbox', 'fault', '--stack', 'kubernetes', '--error-rate', '7'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--error-rate 7: expected a fraction from 0 to 1')
    const none = await sb.cli(['sandbox', 'fault', '--api', 'route53:GetChange'])
    expect(none.code).toBe(2)
  })
})

describe('the Kubernetes stand-in, through client-node and kubectl with the written kubeconfig', () => {
  test('deployments of the clipper namespace, and a deployment fault that the Kubernetes stack feels', async () => {
    const sb = sandbox()
    const k8s = await import('@kubernetes/client-node')
    const kc = new k8s.KubeConfig()
    kc.loadFromFile(sb.status.kubeconfig)
    const apps = kc.makeApiClient(k8s.AppsV1Api)
    const list = await apps.listNamespacedDeployment({namespace: 'clipper'})
    expect(list.items.map((d) => [d.metadata?.name, d.status?.availableReplicas]).sort()).toEqual([
      ['clipper-backend', 3],
      ['clipper-frontend', 2],
    ])
    const kubectl = await execa('kubectl', ['get', 'deploy,hpa,ingress', '-n', 'clipper', '-o', 'json'], {env: sb.toolEnv()})
    const kinds = JSON.parse(kubectl.stdout).items.map((i: {kind: string; metadata: {name: string}}) => `${i.kind}/${i.metadata.name}`)
    expect(kinds).toEqual(expect.arrayContaining(['Deployment/clipper-backend', 'HorizontalPodAutoscaler/clipper-backend', 'Ingress/clipper']))

    expect((await sb.cli(['sandbox', 'fault', '--deployment', 'clipper/clipper-backend', '--unready'])).code).toBe(0)
    const d = await apps.readNamespacedDeployment({name: 'clipper-backend', namespace: 'clipper'})
    expect(d.status?.availableReplicas ?? 0).toBe(0)
    expect((await fetch(`${sb.status.stacks.kubernetes}/health`)).status).toBe(503)
    await sb.cli(['sandbox', 'fault', '--deployment', 'clipper/clipper-backend', '--healthy'])
    expect((await fetch(`${sb.status.stacks.kubernetes}/health`)).status).toBe(200)
  })

  test('the real helm installs a chart into it through the sandbox bin/', async () => {
    const sb = sandbox()
    const env = sb.toolEnv()
    const {mkdirSync, writeFileSync} = await import('node:fs')
    const {join} = await import('node:path')
    const chart = join(sb.cwd, 'chart')
    mkdirSync(join(chart, 'templates'), {recursive: true})
    writeFileSync(join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: worker\nversion: 0.1.0\n')
    writeFileSync(
      join(chart, 'templates', 'deploy.yaml'),
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: clipper-worker}\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: worker}}\n  template:\n    metadata: {labels: {app: worker}}\n    spec: {containers: [{name: w, image: "worker:1"}]}\n',
    )
    const helm = await execa('helm', ['upgrade', '--install', 'worker', chart, '-n', 'clipper', '--wait', '--timeout', '60s'], {env, reject: false})
    expect(helm.exitCode, helm.stderr).toBe(0)
    const status = JSON.parse((await execa('helm', ['status', 'worker', '-n', 'clipper', '-o', 'json'], {env})).stdout)
    expect(status.info.status).toBe('deployed')
  })
})

describe('the docker compose stand-in and the public endpoint', () => {
  test('compose stop takes the legacy stack down (connection refused); up -d brings it back', async () => {
    const sb = sandbox()
    const env = {...sb.toolEnv(), DOCKER_HOST: 'ssh://deploy@legacy.clpr.tv'}
    const file = ['-f', `${sb.stateDir}/sandbox/compose/docker-compose.yml`, '-p', 'clipper']
    await execa('docker', ['compose', ...file, 'stop'], {env})
    await expect(fetch(`${sb.status.stacks.legacy}/health`)).rejects.toMatchObject({cause: {code: 'ECONNREFUSED'}})
    const ps = await execa('docker', ['compose', ...file, 'ps', '--format', 'json'], {env})
    expect(JSON.parse(ps.stdout.split('\n')[0]!)).toMatchObject({Service: 'backend', State: 'exited'})
    await execa('docker', ['compose', ...file, 'up', '-d'], {env})
    expect((await fetch(`${sb.status.stacks.legacy}/health`)).status).toBe(200)
    const unsupported = await execa('docker', ['run', 'alpine'], {env, reject: false})
    expect(unsupported.exitCode).toBe(2)
  })

  test('reset --traffic puts the records back as seeded, removes what runs added (a lock), clears faults and stack knobs, keeps the zone', async () => {
    const sb = sandbox()
    const m = await import('@aws-sdk/client-route-53')
    const r53 = new m.Route53Client(await clients())
    const zone = sb.status.hostedZoneId
    const records = async () => (await r53.send(new m.ListResourceRecordSetsCommand({HostedZoneId: zone}))).ResourceRecordSets!
    const seeded = await records()
    const [legacy, k8s] = [seeded.find((r) => r.SetIdentifier === 'compose')!, seeded.find((r) => r.SetIdentifier === 'k8s')!]
    await r53.send(
      new m.ChangeResourceRecordSetsCommand({
        HostedZoneId: zone,
        ChangeBatch: {
          Changes: [
            {Action: 'UPSERT', ResourceRecordSet: {...legacy, Weight: 0, TTL: 60}},
            {Action: 'UPSERT', ResourceRecordSet: {...k8s, Weight: 100}},
            {Action: 'CREATE', ResourceRecordSet: {Name: '_clipper-ops-lock.clpr.tv.', Type: 'TXT', TTL: 1, ResourceRecords: [{Value: '"left by a killed run"'}]}},
          ],
        },
      }),
    )
    expect((await sb.cli(['sandbox', 'fault', '--api', 'route53:GetChange', '--throttle', '5'])).code).toBe(0)
    expect((await fetch(`${sb.status.controlUrl}/stacks/kubernetes`, {method: 'POST', headers: {'content-type': 'application/json'}, body: '{"errorRate":1}'})).status).toBe(200)

    const reset = await sb.cli(['sandbox', 'reset', '--traffic'])
    expect(reset.code, reset.stderr).toBe(0)
    expect(reset.stdout).toContain('all traffic on legacy as seeded')
    expect(await records()).toEqual(seeded)
    const status = (await (await fetch(`${sb.status.controlUrl}/status`)).json()) as {faults: unknown[]; stacks: {kubernetes: {errorRate: number}}; info: {hostedZoneId: string}}
    expect(status.faults).toEqual([])
    expect(status.stacks.kubernetes.errorRate).toBe(0)
    expect(status.info.hostedZoneId).toBe(zone)
  })

  test('the public endpoint follows the live weights once INSYNC and the TTL have passed; reset puts them back', async () => {
    const sb = sandbox()
    const served = async (n: number) => {
      const by: Record<string, number> = {}
      for (let i = 0; i < n; i++) {
        const r = await fetch(sb.status.publicUrl)
        await r.arrayBuffer()
        const who = r.headers.get('x-served-by') ?? 'none'
        by[who] = (by[who] ?? 0) + 1
      }
      return by
    }
    expect(await served(10)).toEqual({legacy: 10})
    const m = await import('@aws-sdk/client-route-53')
    const r53 = new m.Route53Client(await clients())
    const pair = (
      await r53.send(new m.ListResourceRecordSetsCommand({HostedZoneId: sb.status.hostedZoneId, StartRecordName: 'clpr.tv.', StartRecordType: 'A'}))
    ).ResourceRecordSets!.filter((r) => r.Name === 'clpr.tv.' && r.Type === 'A')
    const [legacy, k8s] = [pair.find((r) => r.SetIdentifier === 'compose')!, pair.find((r) => r.SetIdentifier === 'k8s')!]
    await r53.send(
      new m.ChangeResourceRecordSetsCommand({
        HostedZoneId: sb.status.hostedZoneId,
        ChangeBatch: {
          Changes: [
            {Action: 'DELETE', ResourceRecordSet: legacy},
            {Action: 'CREATE', ResourceRecordSet: {...legacy, Weight: 0}},
            {Action: 'DELETE', ResourceRecordSet: k8s},
            {Action: 'CREATE', ResourceRecordSet: {...k8s, Weight: 100}},
          ],
        },
      }),
    )
    await new Promise((r) => setTimeout(r, 1200)) // the TTL (1 s): resolvers still hold the old answer until then
    expect(await served(10)).toEqual({kubernetes: 10})

    const reset = await sb.cli(['sandbox', 'reset'])
    expect(reset.code, reset.stderr).toBe(0)
    expect(await served(5)).toEqual({legacy: 5})
  })
})

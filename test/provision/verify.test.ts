/**
 * verify against the sandbox: a fresh sandbox is the platform as provisioned, so both checklists
 * pass; then each post check is broken on purpose — a node group degraded, a deployment
 * unavailable, RDS without Multi-AZ, an alarm in ALARM, a record TTL too high, an image tag
 * missing from ECR, an expiring certificate — and each fails with its own reason, in the table,
 * the JSON and the JUnit report.
 */
import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, test} from 'vitest'
import {useSandbox} from '../helpers/sandbox.js'

const sandbox = useSandbox()

interface Check {
  id: string
  status: 'pass' | 'warn' | 'fail'
  detail: string
}

async function verify(phase: 'pre' | 'post', extra: string[] = [], env = 'sandbox'): Promise<{code: number | null; checks: Check[]; stderr: string}> {
  const r = await sandbox().cli(['verify', '--env', env, '--phase', phase, '--json', ...extra])
  return {code: r.code, checks: JSON.parse(r.stdout).checks, stderr: r.stderr}
}

const byId = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.id, c]))

/** Clients of the sandbox's AWS, as an operator (or a broken deploy) would use them. */
async function aws() {
  const sb = sandbox()
  const common = {region: 'us-east-1', endpoint: sb.status.awsEndpoint, credentials: {accessKeyId: 'sandbox', secretAccessKey: 'sandbox'}}
  const [rds, cw, ecr, acm, r53] = await Promise.all([
    import('@aws-sdk/client-rds'),
    import('@aws-sdk/client-cloudwatch'),
    import('@aws-sdk/client-ecr'),
    import('@aws-sdk/client-acm'),
    import('@aws-sdk/client-route-53'),
  ])
  return {
    rds: {m: rds, c: new rds.RDSClient(common)},
    cw: {m: cw, c: new cw.CloudWatchClient(common)},
    ecr: {m: ecr, c: new ecr.ECRClient(common)},
    acm: {m: acm, c: new acm.ACMClient(common)},
    r53: {m: r53, c: new r53.Route53Client(common)},
  }
}

describe('verify', () => {
  test('on a fresh sandbox, the pre-deployment checklist and the post-deployment validation pass', async () => {
    const post = await verify('post')
    expect(post.code, JSON.stringify(post.checks.filter((c) => c.status === 'fail'))).toBe(0)
    const ids = post.checks.map((c) => c.id)
    expect(ids).toEqual(
      expect.arrayContaining([
        'vpc',
        'eks',
        'rds',
        'redis',
        's3',
        'acm',
        'load-balancer',
        'backup',
        'kube-nodes',
        'kube-workloads',
        'kube-hpas',
        'kube-ingress',
        'dns-weights',
        'health',
        'alarms',
      ]),
    )
    expect(post.checks.filter((c) => c.status === 'fail')).toEqual([])
    // No drill has run in this sandbox yet: a warning (dr.maxAge), not a failure.
    expect(byId(post.checks)['dr-drill']).toMatchObject({status: 'warn', detail: expect.stringContaining('no passing drill recorded')})
    expect(byId(post.checks).vpc!.detail).toMatch(/subnets in us-east-1a, us-east-1b, us-east-1c.*NAT gateways in us-east-1a, us-east-1b, us-east-1c/)

    const pre = await verify('pre')
    expect(pre.code, JSON.stringify(pre.checks)).toBe(0)
    expect(pre.checks.map((c) => c.id)).toEqual(expect.arrayContaining(['aws-identity', 'aws-region', 'kube-context', 'kube-permissions', 'images', 'dns-pair']))
    expect(byId(pre.checks).images!.detail).toContain('clipper-worker:5.0.0')
    expect(byId(pre.checks)['kube-context']!.detail).toContain('is EKS cluster clipper-sandbox')
  })

  test('each post check broken on purpose fails with its own reason, in the table, the JSON and the JUnit', {timeout: 120_000}, async () => {
    const sb = sandbox()
    const a = await aws()
    const ok = async (args: string[]) => expect((await sb.cli(args)).code).toBe(0)
    // A node group that lost its instances, and a deployment whose pods are not ready.
    await ok(['sandbox', 'fault', '--nodegroup', 'clipper-nodes', '--degraded'])
    await ok(['sandbox', 'fault', '--deployment', 'clipper/clipper-backend', '--unready'])
    // RDS moved off Multi-AZ; an alarm firing; the public record's TTL raised past maxTtl.
    await a.rds.c.send(new a.rds.m.ModifyDBInstanceCommand({DBInstanceIdentifier: 'clipper-sandbox', MultiAZ: false, ApplyImmediately: true}))
    await a.cw.c.send(new a.cw.m.SetAlarmStateCommand({AlarmName: 'clipper-sandbox-5xx-rate', StateValue: 'ALARM', StateReason: 'Threshold crossed: 42 5xx in 3 minutes (test)'}))
    const zone = sb.status.hostedZoneId
    const live = (await a.r53.c.send(new a.r53.m.ListResourceRecordSetsCommand({HostedZoneId: zone}))).ResourceRecordSets!.find((r) => r.SetIdentifier === 'compose')!
    await a.r53.c.send(new a.r53.m.ChangeResourceRecordSetsCommand({HostedZoneId: zone, ChangeBatch: {Changes: [{Action: 'UPSERT', ResourceRecordSet: {...live, TTL: 3600}}]}}))
    // The worker's image tag gone from ECR (pre), and the certificate replaced by one that expires in 5 days.
    await a.ecr.c.send(new a.ecr.m.BatchDeleteImageCommand({repositoryName: 'clipper-worker', imageIds: [{imageTag: '5.0.0'}]}))
    for (const c of (await a.acm.c.send(new a.acm.m.ListCertificatesCommand({}))).CertificateSummaryList ?? []) {
      await a.acm.c.send(new a.acm.m.DeleteCertificateCommand({CertificateArn: c.CertificateArn}))
    }
    const key = join(sb.cwd, 'short.key')
    const crt = join(sb.cwd, 'short.crt')
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '5', '-subj', '/CN=clpr.tv', '-keyout', key, '-out', crt], {stdio: 'ignore'})
    await a.acm.c.send(new a.acm.m.ImportCertificateCommand({Certificate: readFileSync(crt), PrivateKey: readFileSync(key)}))

    const junit = join(sb.cwd, 'verify-post.xml')
    const post = await verify('post', ['--junit', junit])
    expect(post.code).toBe(1)
    const c = byId(post.checks)
    const reasons: [string, RegExp][] = [
      ['eks', /node group clipper-nodes is DEGRADED \(Could not launch On-Demand Instances/],
      ['kube-workloads', /Deployment clipper-backend not fully available: 0\/3 replicas available/],
      ['rds', /clipper-sandbox is not Multi-AZ/],
      ['alarms', /clipper-sandbox-5xx-rate/],
      ['dns-weights', /TTL|3600/],
      ['acm', /certificate for clpr\.tv expires in [45] day\(s\)/],
    ]
    for (const [id, reason] of reasons) {
      expect(c[id]?.status, `${id}: ${c[id]?.detail}`).toBe('fail')
      expect(c[id]!.detail).toMatch(reason)
    }
    // Unbroken parts still pass: the reasons are each check's own.
    for (const id of ['vpc', 'redis', 's3', 'load-balancer', 'backup', 'kube-ingress']) expect(c[id]?.status, `${id}: ${c[id]?.detail}`).toBe('pass')

    const xml = readFileSync(junit, 'utf8')
    expect(xml).toMatch(/<testsuite name="verify post \(sandbox\)" tests="\d+" failures="(\d+)"/)
    expect(xml).toContain('<testcase classname="verify.post" name="rds: RDS: available, Multi-AZ, encrypted, backups kept and recent"')
    expect(xml).toMatch(/<failure message="[^"]*clipper-sandbox is not Multi-AZ/)
    expect(xml).toMatch(/<failure message="[^"]*node group clipper-nodes is DEGRADED/)

    const table = await sb.cli(['verify', '--env', 'sandbox', '--phase', 'post'])
    expect(table.code).toBe(1)
    expect(table.stdout).toMatch(/✖ rds +FAIL +clipper-sandbox is not Multi-AZ/)
    expect(table.stdout).toMatch(/✖ eks +FAIL +node group clipper-nodes is DEGRADED/)
    expect(table.stdout).toMatch(/✔ vpc +PASS/)
    expect(table.stdout).toMatch(/\d+ passed, \d+ warning\(s\), \d+ failed/)

    const pre = await verify('pre')
    expect(pre.code).toBe(1)
    expect(byId(pre.checks).images).toMatchObject({status: 'fail'})
    expect(byId(pre.checks).images!.detail).toContain('clipper-worker:5.0.0 is not in ECR')

    // Put it all back: a reset reseeds the sandbox, and the validation passes again.
    expect((await sb.cli(['sandbox', 'fault', '--clear'])).code).toBe(0)
    expect((await sb.cli(['sandbox', 'reset'])).code).toBe(0)
    expect((await verify('post')).code).toBe(0)
  })

  test('before a first provision, the missing state and cluster warn; a held Terraform state lock fails, naming its holder and the force-unlock command', async () => {
    const sb = sandbox()
    // sandbox-next: an environment that nothing has provisioned yet (test/provision/provision.test.ts does).
    const fresh = await verify('pre', [], 'sandbox-next')
    expect(fresh.code, JSON.stringify(fresh.checks)).toBe(0)
    expect(byId(fresh.checks)['terraform-state']).toMatchObject({
      status: 'warn',
      detail: expect.stringContaining('no state yet at s3://clipper-sandbox-tfstate/clipper/sandbox-next.tfstate'),
    })
    expect(byId(fresh.checks)['kube-context']).toMatchObject({status: 'warn', detail: expect.stringContaining('EKS cluster clipper-sandbox-next does not exist yet')})

    const ddbm = await import('@aws-sdk/client-dynamodb')
    const ddb = new ddbm.DynamoDBClient({region: 'us-east-1', endpoint: sb.status.awsEndpoint, credentials: {accessKeyId: 'sandbox', secretAccessKey: 'sandbox'}})
    // As terraform writes it: the lock's holder as JSON in the Info attribute.
    const lockId = 'clipper-sandbox-tfstate/clipper/sandbox-next.tfstate'
    const info = {
      ID: '4f1c9a2e-7b1d-4c55-9e2f-0a1b2c3d4e5f',
      Operation: 'OperationTypeApply',
      Who: 'alex@build-7',
      Version: '1.11.4',
      Created: '2026-12-01T03:04:05Z',
      Path: lockId,
    }
    await ddb.send(new ddbm.PutItemCommand({TableName: 'clipper-sandbox-tflock', Item: {LockID: {S: lockId}, Info: {S: JSON.stringify(info)}}}))
    const pre = await verify('pre', [], 'sandbox-next')
    expect(pre.code).toBe(1)
    const lock = byId(pre.checks)['terraform-state']!
    expect(lock.status).toBe('fail')
    expect(lock.detail).toContain('locked by alex@build-7 since 2026-12-01T03:04:05Z')
    expect(lock.detail).toContain(`force-unlock ${info.ID}`)
    await ddb.send(new ddbm.DeleteItemCommand({TableName: 'clipper-sandbox-tflock', Key: {LockID: {S: lockId}}}))
  })
})

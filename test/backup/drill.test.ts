/**
 * backup restore and dr drill against the sandbox, whose RDS instance is a real PostgreSQL with
 * WAL archiving and base backups (a writer adds a timestamped row every half second): a
 * point-in-time restore is PostgreSQL's own recovery, so what a restore holds is measured from
 * its rows, not assumed. The drill passes with its three reports and its RPO is the measured one;
 * it fails when the RPO target is tighter than the data allows and when a SQL check fails; its
 * scratch instance is deleted after a pass, a failure and Ctrl-C, and `dr cleanup` sweeps it
 * after a SIGKILL.
 */
import {execFileSync} from 'node:child_process'
import {mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, test} from 'vitest'
import {parse, stringify} from 'yaml'
import {ROOT, startCli, waitFor} from '../helpers/cli.js'
import {processesMentioning, useSandbox} from '../helpers/sandbox.js'

const sandbox = useSandbox()

async function rdsClient() {
  const m = await import('@aws-sdk/client-rds')
  const c = new m.RDSClient({region: 'us-east-1', endpoint: sandbox().status.awsEndpoint, credentials: {accessKeyId: 'sandbox', secretAccessKey: 'sandbox'}})
  return {m, c}
}

async function instances(): Promise<{id: string; tags: Record<string, string>; subnetGroup?: string; securityGroups: string[]; host?: string; port?: number}[]> {
  const {m, c} = await rdsClient()
  const all = (await c.send(new m.DescribeDBInstancesCommand({}))).DBInstances ?? []
  return all.map((d) => ({
    id: d.DBInstanceIdentifier!,
    tags: Object.fromEntries((d.TagList ?? []).map((t) => [t.Key!, t.Value!])),
    subnetGroup: d.DBSubnetGroup?.DBSubnetGroupName,
    securityGroups: (d.VpcSecurityGroups ?? []).map((g) => g.VpcSecurityGroupId!),
    host: d.Endpoint?.Address,
    port: d.Endpoint?.Port,
  }))
}

const drillInstances = async () => (await instances()).filter((i) => i.tags['clipper-ops:purpose'] === 'dr-drill')

/** The sandbox's database URL (from its config's tools.env), aimed at another host and port. */
function databaseUrl(host: string, port: number): string {
  const cfg = parse(readFileSync(sandbox().status.config, 'utf8'))
  const url = new URL(cfg.environments.sandbox.tools.env.CLIPPER_SANDBOX_DATABASE_URL as string)
  url.hostname = host
  url.port = String(port)
  return url.toString()
}

async function query(url: string, sql: string): Promise<unknown> {
  const {default: pg} = await import('pg')
  const client = new pg.Client({connectionString: url})
  await client.connect()
  try {
    return (await client.query({text: sql, rowMode: 'array'})).rows[0]?.[0]
  } finally {
    await client.end()
  }
}

describe('backup restore', () => {
  test('the dry run checks the restore and prints the exact request, with the network explicit, and creates nothing', {timeout: 60_000}, async () => {
    const sb = sandbox()
    const since = new Date().toISOString()
    const r = await sb.cli(['backup', 'restore', '--env', 'sandbox', '--latest', '--target', 'clipper-restore-dry', '--dry-run', '--output', 'json'])
    expect(r.code, r.stderr).toBe(0)
    const step = JSON.parse(r.stdout).steps[0]
    const request = JSON.parse(step.changes[0].detail.replace(/^RestoreDBInstanceToPointInTime /, ''))
    expect(request).toMatchObject({
      SourceDBInstanceIdentifier: 'clipper-sandbox',
      TargetDBInstanceIdentifier: 'clipper-restore-dry',
      DBSubnetGroupName: 'clipper-sandbox-db',
      PubliclyAccessible: false,
      MultiAZ: false,
    })
    expect(request.VpcSecurityGroupIds).toHaveLength(1)
    expect(request.DBParameterGroupName).toBe('clipper-sandbox-pg16')
    expect(Date.parse(request.RestoreTime)).toBeGreaterThan(Date.now() - 120_000)
    expect((await sb.requests(since, true)).filter((q) => q.service === 'rds')).toEqual([])

    const bad = await sb.cli([
      'backup',
      'restore',
      '--env',
      'sandbox',
      '--point-in-time',
      new Date(Date.now() + 3_600_000).toISOString(),
      '--target',
      'clipper-restore-late',
      '--dry-run',
    ])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/is after the latest restorable time/)
    // A KMS key that does not exist would fail the restore minutes in: the dry run says so now.
    const cfg = parse(readFileSync(sb.status.config, 'utf8'))
    cfg.environments.sandbox.database.restore = {kmsKeyId: 'alias/clipper-missing'}
    const kmsConfig = join(sb.cwd, 'kms.yaml')
    writeFileSync(kmsConfig, stringify(cfg))
    const kms = await sb.cli(['backup', 'restore', '--env', 'sandbox', '--latest', '--target', 'clipper-restore-kms', '--dry-run', '--config', kmsConfig])
    expect(kms.code).toBe(1)
    expect(kms.stderr).toMatch(/KMS key alias\/clipper-missing does not exist/)
    // Through AWS Backup: the role it would pass is checked, and the request printed with it.
    const bm = await import('@aws-sdk/client-backup')
    const backup = new bm.BackupClient({region: 'us-east-1', endpoint: sb.status.awsEndpoint, credentials: {accessKeyId: 'sandbox', secretAccessKey: 'sandbox'}})
    const point = (await backup.send(new bm.ListRecoveryPointsByBackupVaultCommand({BackupVaultName: 'clipper-sandbox-vault'}))).RecoveryPoints![0]!
    const viaBackup = await sb.cli([
      'backup',
      'restore',
      '--env',
      'sandbox',
      '--recovery-point',
      point.RecoveryPointArn!,
      '--target',
      'clipper-restore-rp',
      '--dry-run',
      '--output',
      'json',
    ])
    expect(viaBackup.code, viaBackup.stderr).toBe(0)
    expect(JSON.parse(viaBackup.stdout).steps[0].changes[0].detail).toMatch(
      /^StartRestoreJob .*"IamRoleArn":"arn:aws:iam::123456789012:role\/service-role\/AWSBackupDefaultServiceRole"/,
    )
    const live = await sb.cli(['backup', 'restore', '--env', 'sandbox', '--latest', '--target', 'clipper-sandbox', '--dry-run'])
    expect(live.code).toBe(2)
    expect(live.stderr).toContain('is the live instance (database.rdsInstance)')
  })

  test('a point-in-time restore holds the rows up to that time and none after, made with the subnet group and security groups', {timeout: 180_000}, async () => {
    const sb = sandbox()
    // A time the archive already covers, with rows written after it on the primary.
    await new Promise((r) => setTimeout(r, 12_000))
    const t = new Date(Date.now() - 8_000)
    const r = await sb.cli(['backup', 'restore', '--env', 'sandbox', '--point-in-time', t.toISOString(), '--target', 'clipper-restore-pitr', '--yes'], {timeoutMs: 170_000})
    expect(r.code, r.stderr.slice(-2000)).toBe(0)
    const made = (await instances()).find((i) => i.id === 'clipper-restore-pitr')!
    expect(made).toMatchObject({subnetGroup: 'clipper-sandbox-db', tags: expect.objectContaining({'clipper-ops:purpose': 'restore'})})
    expect(made.securityGroups).toHaveLength(1)
    const newest = (await query(databaseUrl(made.host!, made.port!), 'select max(viewed_at) from clip_views')) as Date
    expect(newest.getTime()).toBeLessThanOrEqual(t.getTime())
    expect(newest.getTime()).toBeGreaterThan(t.getTime() - 10_000)
    const primary = (await instances()).find((i) => i.id === 'clipper-sandbox')!
    expect(((await query(databaseUrl(primary.host!, primary.port!), 'select max(viewed_at) from clip_views')) as Date).getTime()).toBeGreaterThan(t.getTime())
    const {m, c} = await rdsClient()
    await c.send(new m.DeleteDBInstanceCommand({DBInstanceIdentifier: 'clipper-restore-pitr', SkipFinalSnapshot: true}))
  })
})

describe('dr drill', () => {
  test('passes with its three reports, its RPO the measured one, and leaves no scratch instance', {timeout: 180_000}, async () => {
    const sb = sandbox()
    // The dry run: the exact restore request; the validation's inputs come from the restore's results.
    const dry = await sb.cli(['dr', 'drill', '--env', 'sandbox', '--dry-run', '--output', 'json'])
    expect(dry.code, dry.stderr).toBe(0)
    const steps = JSON.parse(dry.stdout).steps as {id: string; summary: string; changes: {detail?: string}[]}[]
    expect(steps.find((st) => st.id === 'restore')!.changes[0]!.detail).toMatch(/^RestoreDBInstanceToPointInTime \{"SourceDBInstanceIdentifier":"clipper-sandbox"/)
    expect(steps.find((st) => st.id === 'validate')!.summary).toMatch(/exact inputs known at run time/)
    const dir = join(sb.cwd, 'drill-pass')
    const r = await sb.cli(['dr', 'drill', '--env', 'sandbox', '--yes', '--report-dir', dir], {timeoutMs: 170_000})
    expect(r.code, r.stderr.slice(-2000)).toBe(0)
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'))
    expect(report).toMatchObject({verdict: 'pass', environment: 'sandbox', cleanup: {result: 'deleted'}})
    // RPO is drill start − the newest row the restore holds, as measured over SQL.
    expect(report.rpo.ms).toBe(Math.max(0, Date.parse(report.startedAt) - Date.parse(report.newestRow)))
    expect(report.rpo.met).toBe(true)
    expect(report.rto.ms).toBeGreaterThan(0)
    expect(report.phases.map((p: {name: string}) => p.name)).toEqual(['request accepted', 'available', 'connectable', 'validated', 'deleted'])
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toMatch(/```mermaid\ngantt/)
    expect(readFileSync(join(dir, 'junit.xml'), 'utf8')).toMatch(/<testsuite name="dr drill \(sandbox\)" tests="\d+" failures="0"/)
    expect(await drillInstances()).toEqual([])
  })

  test('fails (exit 1, the reason in all three reports) when the RPO target is tighter than the data allows, and cleans up', {timeout: 180_000}, async () => {
    const sb = sandbox()
    const dir = join(sb.cwd, 'drill-rpo')
    const r = await sb.cli(['dr', 'drill', '--env', 'sandbox', '--yes', '--rpo', '1ms', '--report-dir', dir], {timeoutMs: 170_000})
    expect(r.code).toBe(1)
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'))
    expect(report.verdict).toBe('fail')
    expect(report.reason).toMatch(/RPO .* exceeds the target/)
    expect(report.rpo).toMatchObject({met: false, targetMs: 1})
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toMatch(/RPO .* exceeds the target/)
    expect(readFileSync(join(dir, 'junit.xml'), 'utf8')).toMatch(/<testcase classname="dr.drill" name="RPO within target"[^>]*><failure message="RPO/)
    expect(await drillInstances()).toEqual([])
  })

  test('fails when a SQL check fails, naming it', {timeout: 180_000}, async () => {
    const sb = sandbox()
    const cfg = parse(readFileSync(sb.status.config, 'utf8'))
    cfg.environments.sandbox.dr.checks.push({name: 'impossible', sql: 'select count(*) from clips', min: 1e9})
    const file = join(sb.cwd, 'strict.yaml')
    writeFileSync(file, stringify(cfg))
    const dir = join(sb.cwd, 'drill-sql')
    const r = await sb.cli(['dr', 'drill', '--env', 'sandbox', '--yes', '--config', file, '--report-dir', dir], {timeoutMs: 170_000})
    expect(r.code).toBe(1)
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'))
    expect(report.reason).toMatch(/check impossible: \d+ \(expected ≥ 1000000000\)/)
    expect(report.checks.find((c: {name: string}) => c.name === 'impossible')).toMatchObject({ok: false})
    expect(readFileSync(join(dir, 'junit.xml'), 'utf8')).toMatch(/name="check impossible"[^>]*><failure/)
    expect(await drillInstances()).toEqual([])
  })

  test('through AWS Backup: restores a recovery point and records the verdict on the restore job', {timeout: 180_000}, async () => {
    const sb = sandbox()
    const bm = await import('@aws-sdk/client-backup')
    const backup = new bm.BackupClient({region: 'us-east-1', endpoint: sb.status.awsEndpoint, credentials: {accessKeyId: 'sandbox', secretAccessKey: 'sandbox'}})
    const points = (await backup.send(new bm.ListRecoveryPointsByBackupVaultCommand({BackupVaultName: 'clipper-sandbox-vault'}))).RecoveryPoints ?? []
    const newest = points.filter((p) => p.Status === 'COMPLETED').sort((a, b) => b.CreationDate!.getTime() - a.CreationDate!.getTime())[0]!
    const dir = join(sb.cwd, 'drill-point')
    // The seeded points hold the data of the sandbox's start: judge against a generous RPO.
    const r = await sb.cli(['dr', 'drill', '--env', 'sandbox', '--yes', '--recovery-point', newest.RecoveryPointArn!, '--rpo', '1h', '--report-dir', dir], {timeoutMs: 170_000})
    expect(r.code, r.stderr.slice(-2000)).toBe(0)
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'))
    expect(report).toMatchObject({verdict: 'pass', restoreJob: {validationReported: 'SUCCESSFUL'}, request: {RecoveryPointArn: newest.RecoveryPointArn}})
    const job = await backup.send(new bm.DescribeRestoreJobCommand({RestoreJobId: report.restoreJob.id}))
    expect(job).toMatchObject({Status: 'COMPLETED', ValidationStatus: 'SUCCESSFUL'})
    expect(await drillInstances()).toEqual([])
  })

  test('--scope region restores the newest cross-region copy in the secondary region, judged against the region objectives', {timeout: 180_000}, async () => {
    const sb = sandbox()
    const dry = await sb.cli(['dr', 'drill', '--env', 'sandbox', '--scope', 'region', '--dry-run', '--output', 'json'])
    expect(dry.code, dry.stderr).toBe(0)
    const detail = JSON.parse(dry.stdout).steps.find((st: {id: string}) => st.id === 'restore').changes[0].detail as string
    expect(detail).toMatch(/^RestoreDBInstanceFromDBSnapshot .*"DBSnapshotIdentifier":"clipper-sandbox-[a-z0-9-]+-west".*"DBSubnetGroupName":"clipper-sandbox-db-west"/)

    const dir = join(sb.cwd, 'drill-region')
    const r = await sb.cli(['dr', 'drill', '--env', 'sandbox', '--scope', 'region', '--yes', '--report-dir', dir], {timeoutMs: 170_000})
    expect(r.code, r.stderr.slice(-2000)).toBe(0)
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'))
    expect(report).toMatchObject({verdict: 'pass', scope: 'region', region: 'us-west-2', rto: {targetMs: 4 * 3_600_000, met: true}, rpo: {targetMs: 3_600_000, met: true}})
    expect(report.rpo.ms).toBe(Math.max(0, Date.parse(report.startedAt) - Date.parse(report.newestRow)))
    const {m} = await rdsClient()
    const west = new m.RDSClient({region: 'us-west-2', endpoint: sb.status.awsEndpoint, credentials: {accessKeyId: 'sandbox', secretAccessKey: 'sandbox'}})
    const left = ((await west.send(new m.DescribeDBInstancesCommand({}))).DBInstances ?? []).filter((d) => (d.TagList ?? []).some((t) => t.Key === 'clipper-ops:purpose'))
    expect(left).toEqual([])
  })

  test('every drill is in the shared history (S3), which dr history shows, and verify post finds the last passing one', {timeout: 60_000}, async () => {
    const sb = sandbox()
    const h = await sb.cli(['dr', 'history', '--env', 'sandbox', '--json'])
    expect(h.code, h.stderr).toBe(0)
    const out = JSON.parse(h.stdout)
    expect(out.history).toBe('s3://clipper-sandbox-tfstate/dr-history/')
    const verdicts = out.drills.map((d: {verdict: string}) => d.verdict)
    expect(verdicts.filter((v: string) => v === 'pass').length).toBeGreaterThanOrEqual(2)
    expect(verdicts).toContain('fail')
    const md = await sb.cli(['dr', 'history', '--env', 'sandbox', '--output', 'markdown'])
    expect(md.stdout).toMatch(/```mermaid\nxychart-beta/)
    const table = await sb.cli(['dr', 'history', '--env', 'sandbox'])
    expect(table.stdout).toMatch(/\d+ of \d+ passed\./)

    const post = await sb.cli(['verify', '--env', 'sandbox', '--phase', 'post', '--json'])
    const check = JSON.parse(post.stdout).checks.find((c: {id: string}) => c.id === 'dr-drill')
    expect(check).toMatchObject({status: 'pass', detail: expect.stringMatching(/^last passing drill .* ago: \d{8}-\d{6}-dr-drill-/)})
  })

  test('dr schedule writes a GitHub workflow whose run: steps, run in order with its environment, drill the sandbox', {timeout: 180_000}, async () => {
    const sb = sandbox()
    const file = join(sb.cwd, '.github/workflows/dr-drill-sandbox.yml')
    const w = await sb.cli(['dr', 'schedule', '--ci', 'github', '--env', 'sandbox', '--role-arn', 'arn:aws:iam::123456789012:role/clipper-dr-drill'])
    expect(w.code, w.stderr).toBe(0)
    const wf = parse(readFileSync(file, 'utf8'))
    expect(wf.on).toMatchObject({schedule: [{cron: '17 4 * * 1'}], workflow_dispatch: {}})
    expect(wf.permissions['id-token']).toBe('write')
    expect(wf.concurrency).toEqual({group: 'dr-drill-sandbox', 'cancel-in-progress': false})
    const job = wf.jobs.drill
    const uses = job.steps.filter((st: {uses?: string}) => st.uses).map((st: {uses: string}) => st.uses)
    expect(uses).toEqual(['actions/checkout@v4', 'actions/setup-node@v4', 'aws-actions/configure-aws-credentials@v4', 'actions/upload-artifact@v4'])
    expect(job.steps.find((st: {uses?: string}) => st.uses?.startsWith('aws-actions/')).with['role-to-assume']).toBe('arn:aws:iam::123456789012:role/clipper-dr-drill')
    expect(job.steps.at(-1).with.path).toBe('dr-reports/')

    // As the runner would: the package installed where npx finds it (the pinned version, this
    // build), the job's environment, a step summary file; the uses: steps are GitHub's own.
    mkdirSync(join(sb.cwd, 'node_modules/.bin'), {recursive: true})
    symlinkSync(ROOT, join(sb.cwd, 'node_modules/clipper-ops'))
    symlinkSync('../clipper-ops/bin/run.js', join(sb.cwd, 'node_modules/.bin/clipper-ops'))
    const summary = join(sb.cwd, 'step-summary.md')
    writeFileSync(summary, '')
    const env = {...process.env, ...job.env, GITHUB_STEP_SUMMARY: summary}
    delete env.CLIPPER_OPS_CONFIG
    delete env.CLIPPER_OPS_STATE_DIR
    for (const st of job.steps.filter((x: {run?: string}) => x.run)) {
      execFileSync('bash', ['-eo', 'pipefail', '-c', st.run], {cwd: sb.cwd, env, stdio: 'pipe', timeout: 150_000})
    }
    expect(readdirSync(join(sb.cwd, 'dr-reports')).sort()).toEqual(['junit.xml', 'report.json', 'report.md'])
    const text = readFileSync(summary, 'utf8')
    expect(text).toContain('## DR drill on sandbox: ✅ passed')
    expect(text).toContain('## DR drills of sandbox')
    expect(await drillInstances()).toEqual([])
  })

  test('Ctrl-C during the wait deletes the scratch instance before exiting; after a SIGKILL, dr cleanup sweeps it', {timeout: 240_000}, async () => {
    const sb = sandbox()
    for (const [signal, dir] of [
      ['SIGINT', 'drill-int'],
      ['SIGKILL', 'drill-kill'],
    ] as const) {
      const run = startCli(['dr', 'drill', '--env', 'sandbox', '--yes', '--report-dir', join(sb.cwd, dir), '--state-dir', sb.stateDir], {cwd: sb.cwd, timeoutMs: 200_000})
      await waitFor(async () => (await drillInstances()).length > 0, 60_000, 'the scratch instance to be requested')
      run.child.kill(signal)
      const done = await run.done
      if (signal === 'SIGINT') {
        expect(done.code).toBe(130)
        expect(done.stderr).toMatch(/Deleting the scratch instance/)
        expect(await drillInstances()).toEqual([])
      } else {
        expect(await drillInstances()).toHaveLength(1)
        const swept = await sb.cli(['dr', 'cleanup', '--env', 'sandbox', '--older-than', '0s', '--yes'], {timeoutMs: 120_000})
        expect(swept.code, swept.stderr).toBe(0)
        expect(await drillInstances()).toEqual([])
      }
      // Nor any PostgreSQL of a restored copy: only the primary runs.
      const dataRoot = (sb.status as unknown as {postgres: {dataRoot: string}}).postgres.dataRoot
      expect(processesMentioning(join(dataRoot, 'instances'))).toEqual([])
    }
  })
})

/**
 * RDS backed by a real PostgreSQL: the seeded instance's endpoint answers SQL, a writer adds a
 * clip view every 500 ms, and restores — to a point in time, from a snapshot, from an AWS Backup
 * recovery point — make databases that PostgreSQL's own recovery brought to that point (judged
 * by the newest `viewed_at` they hold). Deleting a restored instance, and `sandbox down`, leave
 * no server and no data behind. All through the real SDK clients against the sandbox's front.
 */
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {
  BackupClient,
  DescribeBackupJobCommand,
  DescribeRestoreJobCommand,
  GetRecoveryPointRestoreMetadataCommand,
  ListRecoveryPointsByBackupVaultCommand,
  StartBackupJobCommand,
  StartRestoreJobCommand,
} from '@aws-sdk/client-backup'
import {
  CreateDBSnapshotCommand,
  DeleteDBInstanceCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  RDSClient,
  RestoreDBInstanceFromDBSnapshotCommand,
  RestoreDBInstanceToPointInTimeCommand,
  type DBInstance,
} from '@aws-sdk/client-rds'
import pg from 'pg'
import {parse} from 'yaml'
import {afterAll, beforeAll, describe, expect, test} from 'vitest'
import {processesMentioning, useSandbox} from '../../../test/helpers/sandbox.js'
import {until} from './aws-helpers.js'
import {PostgresFleet} from '../src/postgres/fleet.js'
import {tempDir, removeDir} from '../../../test/helpers/cli.js'

const sandbox = useSandbox()
const DB = 'clipper-sandbox'

let rds: RDSClient
let backup: BackupClient
let password: string
let dataRoot: string

beforeAll(() => {
  const sb = sandbox()
  const client = {region: sb.status.region, endpoint: sb.status.awsEndpoint, credentials: {accessKeyId: 'sandbox', secretAccessKey: 'sandbox'}}
  rds = new RDSClient(client)
  backup = new BackupClient(client)
  const cfg = parse(readFileSync(sb.status.config, 'utf8'))
  password = new URL(cfg.environments.sandbox.tools.env.CLIPPER_SANDBOX_DATABASE_URL).password
})
afterAll(() => {
  rds?.destroy()
  backup?.destroy()
})

const instance = async (id: string): Promise<DBInstance> => (await rds.send(new DescribeDBInstancesCommand({DBInstanceIdentifier: id}))).DBInstances![0]!

/** Waits while the instance is creating, and returns how it ended. */
async function settled(id: string): Promise<DBInstance> {
  return until(
    `${id} to leave creating`,
    () => instance(id),
    (d) => d.DBInstanceStatus !== 'creating',
  )
}

async function sql<T extends pg.QueryResultRow>(db: DBInstance, text: string): Promise<T[]> {
  const client = new pg.Client({host: db.Endpoint!.Address, port: db.Endpoint!.Port, user: db.MasterUsername, password, database: 'clipper'})
  await client.connect()
  try {
    return (await client.query<T>(text)).rows
  } finally {
    await client.end()
  }
}

const newestView = async (db: DBInstance) => (await sql<{t: Date}>(db, 'select max(viewed_at) as t from clip_views'))[0]!.t

describe('the seeded RDS instance is a real PostgreSQL', () => {
  test('its endpoint answers SQL with the password the config holds; the writer adds a row about every 500 ms', async () => {
    const sb = sandbox()
    const status = JSON.parse((await sb.cli(['sandbox', 'status', '--json'])).stdout)
    expect(status.postgres).toMatchObject({port: expect.any(Number), dataRoot: expect.any(String), archiveDir: expect.any(String)})
    // The first base backup, and the one behind the seeded snapshot.
    expect(status.postgres.baseBackups).toBeGreaterThanOrEqual(2)
    dataRoot = status.postgres.dataRoot
    const cfg = parse(readFileSync(sb.status.config, 'utf8'))
    expect(cfg.environments.sandbox.database).toEqual({rdsInstance: DB, urlEnv: 'CLIPPER_SANDBOX_DATABASE_URL'})

    const db = await instance(DB)
    expect(db.Endpoint).toEqual({Address: '127.0.0.1', Port: status.postgres.port})
    expect(db).toMatchObject({DBSubnetGroup: {DBSubnetGroupName: 'clipper-sandbox-db'}, DBParameterGroups: [{DBParameterGroupName: 'clipper-sandbox-pg16'}]})
    const [counts] = await sql<{users: number; clips: number}>(db, 'select (select count(*) from users)::int as users, (select count(*) from clips)::int as clips')
    expect(counts!.users).toBeGreaterThan(100)
    expect(counts!.clips).toBeGreaterThan(1000)
    const views = async () => (await sql<{n: number}>(db, 'select count(*)::int as n from clip_views'))[0]!.n
    const before = await views()
    await new Promise((r) => setTimeout(r, 1600))
    expect(await views()).toBeGreaterThanOrEqual(before + 2)
    // SCRAM over loopback: a wrong password is refused.
    const wrong = new pg.Client({host: '127.0.0.1', port: db.Endpoint!.Port, user: 'clipper', password: 'not-the-password', database: 'clipper'})
    await expect(wrong.connect()).rejects.toThrow(/password authentication failed/)
  })
})

describe('restores that PostgreSQL makes real', () => {
  const securityGroups: string[] = []

  test('to a point in time T: available, and the copy holds the data up to T and nothing after', async () => {
    const source = await instance(DB)
    securityGroups.push(...source.VpcSecurityGroups!.map((g) => g.VpcSecurityGroupId!))
    // The restorable window starts with the first base backup (behind the automated snapshot)
    // and moves with the archiver (a segment every 5 s while the writer writes).
    const automated = (await rds.send(new DescribeDBSnapshotsCommand({DBInstanceIdentifier: DB, SnapshotType: 'automated'}))).DBSnapshots![0]!
    const latest = await until(
      'a latest restorable time some seconds after the first base backup',
      async () => (await instance(DB)).LatestRestorableTime!,
      (t) => t.getTime() - automated.SnapshotCreateTime!.getTime() > 8_000,
    )
    const T = new Date(latest.getTime() - 3_000)
    const out = await rds.send(
      new RestoreDBInstanceToPointInTimeCommand({
        SourceDBInstanceIdentifier: DB,
        TargetDBInstanceIdentifier: 'pitr-copy',
        RestoreTime: T,
        DBSubnetGroupName: 'clipper-sandbox-db',
        VpcSecurityGroupIds: securityGroups,
        DBParameterGroupName: 'clipper-sandbox-pg16',
      }),
    )
    expect(out.DBInstance?.DBInstanceStatus).toBe('creating')
    expect(out.DBInstance?.Endpoint).toBeUndefined()
    const copy = await settled('pitr-copy')
    expect(copy.DBInstanceStatus).toBe('available')
    expect(copy.Endpoint?.Address).toBe('127.0.0.1')
    expect(copy.Endpoint?.Port).not.toBe(source.Endpoint!.Port)
    // Made with what the request passed, and the source's master user.
    expect(copy).toMatchObject({
      MasterUsername: source.MasterUsername,
      DBSubnetGroup: {DBSubnetGroupName: 'clipper-sandbox-db'},
      DBParameterGroups: [{DBParameterGroupName: 'clipper-sandbox-pg16'}],
      VpcSecurityGroups: securityGroups.map((id) => expect.objectContaining({VpcSecurityGroupId: id})),
    })

    // PostgreSQL's recovery stopped at T: the newest view is at or before it, and close to it
    // (the writer adds one every 500 ms) — while the primary went on writing after T.
    const newest = await newestView(copy)
    expect(newest.getTime()).toBeLessThanOrEqual(T.getTime())
    expect(newest.getTime()).toBeGreaterThan(T.getTime() - 10_000)
    expect((await newestView(source)).getTime()).toBeGreaterThan(T.getTime())
    expect(await sql(copy, 'select pg_is_in_recovery() as r')).toEqual([{r: false}])
  })

  test('a time after the latest restorable time, or before the oldest base backup, is refused as AWS does', async () => {
    const source = await instance(DB)
    const tooLate = new Date(source.LatestRestorableTime!.getTime() + 60_000)
    await expect(
      rds.send(new RestoreDBInstanceToPointInTimeCommand({SourceDBInstanceIdentifier: DB, TargetDBInstanceIdentifier: 'too-late', RestoreTime: tooLate})),
    ).rejects.toMatchObject({
      name: 'InvalidRestoreFault',
    })
    const tooEarly = new Date(source.InstanceCreateTime!.getTime() - 3_600_000)
    await expect(
      rds.send(new RestoreDBInstanceToPointInTimeCommand({SourceDBInstanceIdentifier: DB, TargetDBInstanceIdentifier: 'too-early', RestoreTime: tooEarly})),
    ).rejects.toMatchObject({
      name: 'InvalidRestoreFault',
    })
    // Nothing was made.
    await expect(instance('too-late')).rejects.toMatchObject({name: 'DBInstanceNotFoundFault'})
  })

  test('from a snapshot: the snapshot is a base backup (creating, then available), and the copy holds its data', async () => {
    const made = await rds.send(new CreateDBSnapshotCommand({DBInstanceIdentifier: DB, DBSnapshotIdentifier: 'drill-snapshot'}))
    expect(made.DBSnapshot?.Status).toBe('creating')
    const snap = await until(
      'the snapshot',
      async () => (await rds.send(new DescribeDBSnapshotsCommand({DBSnapshotIdentifier: 'drill-snapshot'}))).DBSnapshots![0]!,
      (s) => s.Status !== 'creating',
    )
    expect(snap.Status).toBe('available')
    const taken = snap.SnapshotCreateTime!
    await rds.send(
      new RestoreDBInstanceFromDBSnapshotCommand({DBSnapshotIdentifier: 'drill-snapshot', DBInstanceIdentifier: 'snapshot-copy', DBSubnetGroupName: 'clipper-sandbox-db'}),
    )
    const copy = await settled('snapshot-copy')
    expect(copy.DBInstanceStatus).toBe('available')
    // Recovered to the end of the backup: views up to about when it was taken, none from later.
    const newest = await newestView(copy)
    expect(newest.getTime()).toBeGreaterThan(taken.getTime() - 10_000)
    expect(newest.getTime()).toBeLessThan(taken.getTime() + 10_000)
    expect((await newestView(await instance(DB))).getTime()).toBeGreaterThan(newest.getTime())
  })

  test('AWS Backup: a restore job of a recovery point stays RUNNING until PostgreSQL is up; its snapshots are listed as awsbackup only when asked', async () => {
    const points = (await backup.send(new ListRecoveryPointsByBackupVaultCommand({BackupVaultName: 'clipper-sandbox-vault'}))).RecoveryPoints!
    const newestPoint = points[0]!
    const snapshotId = newestPoint.RecoveryPointArn!.split(':snapshot:')[1]!
    const typed = (await rds.send(new DescribeDBSnapshotsCommand({SnapshotType: 'awsbackup'}))).DBSnapshots!
    expect(typed.map((s) => s.DBSnapshotIdentifier).sort()).toEqual(points.map((p) => p.RecoveryPointArn!.split(':snapshot:')[1]).sort())
    expect(typed.every((s) => s.SnapshotType === 'awsbackup')).toBe(true)
    // (Leaving out the copy schedule's own snapshots, one a minute: postgres-cross-region.test.ts.)
    const plain = (await rds.send(new DescribeDBSnapshotsCommand({DBInstanceIdentifier: DB}))).DBSnapshots!.filter((s) => !/-copy-\d{8}-\d{6}$/.test(s.DBSnapshotIdentifier!))
    expect(plain.map((s) => s.DBSnapshotIdentifier)).not.toContain(snapshotId)
    expect(plain.map((s) => s.SnapshotType).sort()).toEqual(['automated', 'manual', 'manual'])

    const meta = await backup.send(new GetRecoveryPointRestoreMetadataCommand({BackupVaultName: 'clipper-sandbox-vault', RecoveryPointArn: newestPoint.RecoveryPointArn}))
    const job = await backup.send(
      new StartRestoreJobCommand({
        RecoveryPointArn: newestPoint.RecoveryPointArn,
        IamRoleArn: newestPoint.IamRoleArn,
        ResourceType: 'RDS',
        Metadata: {...meta.RestoreMetadata, DBInstanceIdentifier: 'backup-copy', DBSubnetGroupName: 'clipper-sandbox-db'},
      }),
    )
    const seen = new Set<string>()
    const done = await until(
      'the restore job',
      async () => {
        const j = await backup.send(new DescribeRestoreJobCommand({RestoreJobId: job.RestoreJobId}))
        seen.add(j.Status!)
        // While it runs, the instance may exist but is not available yet: once it is, the job is done.
        if (j.Status === 'RUNNING' && (await instance('backup-copy').catch(() => undefined))?.DBInstanceStatus === 'available') {
          const again = await backup.send(new DescribeRestoreJobCommand({RestoreJobId: job.RestoreJobId}))
          if (again.Status === 'RUNNING') seen.add('RUNNING while available')
        }
        return j
      },
      (j) => j.Status === 'COMPLETED' || j.Status === 'FAILED',
    )
    expect(done.Status, done.StatusMessage).toBe('COMPLETED')
    expect(seen.has('RUNNING')).toBe(true)
    expect(seen.has('RUNNING while available')).toBe(false)
    const copy = await instance('backup-copy')
    expect(copy.DBInstanceStatus).toBe('available')
    // A seeded point (dated minutes ago) holds the sandbox's first base backup: its data ends at the sandbox's start.
    const newest = await newestView(copy)
    expect(newest.getTime()).toBeLessThan((await instance(DB)).LatestRestorableTime!.getTime())
  })

  test('AWS Backup: a backup job of the instance takes a real base backup, and its recovery point restores the data of then', async () => {
    const source = await instance(DB)
    const role = 'arn:aws:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole'
    const started = await backup.send(new StartBackupJobCommand({BackupVaultName: 'clipper-sandbox-vault', ResourceArn: source.DBInstanceArn, IamRoleArn: role}))
    const job = await until(
      'the backup job',
      () => backup.send(new DescribeBackupJobCommand({BackupJobId: started.BackupJobId})),
      (j) => j.State === 'COMPLETED' || j.State === 'FAILED',
    )
    expect(job.State, job.StatusMessage).toBe('COMPLETED')
    const restore = await backup.send(
      new StartRestoreJobCommand({RecoveryPointArn: started.RecoveryPointArn, IamRoleArn: role, ResourceType: 'RDS', Metadata: {DBInstanceIdentifier: 'job-copy'}}),
    )
    const done = await until(
      'the restore job',
      () => backup.send(new DescribeRestoreJobCommand({RestoreJobId: restore.RestoreJobId})),
      (j) => j.Status === 'COMPLETED' || j.Status === 'FAILED',
    )
    expect(done.Status, done.StatusMessage).toBe('COMPLETED')
    const newest = await newestView(await instance('job-copy'))
    expect(newest.getTime()).toBeGreaterThan(job.CreationDate!.getTime() - 5_000)
    expect(newest.getTime()).toBeLessThanOrEqual(job.CompletionDate!.getTime())
  })

  test('DeleteDBInstance of a restored instance stops its server and removes its data', async () => {
    const dir = join(dataRoot, 'instances', 'pitr-copy')
    expect(existsSync(dir)).toBe(true)
    expect(processesMentioning(dir)).not.toEqual([])
    const port = (await instance('pitr-copy')).Endpoint!.Port!
    await rds.send(new DeleteDBInstanceCommand({DBInstanceIdentifier: 'pitr-copy', SkipFinalSnapshot: true}))
    expect(processesMentioning(dir)).toEqual([])
    expect(existsSync(dir)).toBe(false)
    const gone = new pg.Client({host: '127.0.0.1', port, user: 'clipper', password, database: 'clipper', connectionTimeoutMillis: 2000})
    await expect(gone.connect()).rejects.toThrow()
    await expect(instance('pitr-copy')).rejects.toMatchObject({name: 'DBInstanceNotFoundFault'})
  })

  test('sandbox reset stops every PostgreSQL server and removes the data, then starts a fresh primary with the same password', async () => {
    const sb = sandbox()
    const old = dataRoot
    expect(processesMentioning(old).length).toBeGreaterThanOrEqual(3) // the primary, snapshot-copy, backup-copy
    const reset = await sb.cli(['sandbox', 'reset'])
    expect(reset.code, reset.stderr).toBe(0)
    expect(processesMentioning(old)).toEqual([])
    expect(existsSync(old)).toBe(false)
    const status = JSON.parse((await sb.cli(['sandbox', 'status', '--json'])).stdout)
    dataRoot = status.postgres.dataRoot
    expect(dataRoot).not.toBe(old)
    const db = await instance(DB)
    expect(db.Endpoint).toEqual({Address: '127.0.0.1', Port: status.postgres.port})
    expect((await sql<{n: number}>(db, 'select count(*)::int as n from clips'))[0]!.n).toBeGreaterThan(1000)
    await expect(instance('snapshot-copy')).rejects.toMatchObject({name: 'DBInstanceNotFoundFault'})
  })

  test('sandbox down stops every PostgreSQL server (the primary and the restored copies) and removes the data', async () => {
    const sb = sandbox()
    await rds.send(new RestoreDBInstanceFromDBSnapshotCommand({DBSnapshotIdentifier: 'clipper-sandbox-before-cutover', DBInstanceIdentifier: 'left-running'}))
    expect((await settled('left-running')).DBInstanceStatus).toBe('available')
    expect(processesMentioning(dataRoot).length).toBeGreaterThanOrEqual(2) // the primary and left-running
    const down = await sb.cli(['sandbox', 'down'])
    expect(down.code, down.stderr).toBe(0)
    expect(processesMentioning(dataRoot)).toEqual([])
    expect(existsSync(dataRoot)).toBe(false)
  })
})

describe('without PostgreSQL', () => {
  test('the sandbox says so in a warning, and nothing runs', async () => {
    const dir = tempDir('clipper-ops-nopg-')
    try {
      const r = await PostgresFleet.start({sandboxDir: dir, log: () => undefined, env: {CLIPPER_OPS_SANDBOX_PG_BINDIR: join(dir, 'nowhere')}})
      expect('warning' in r && r.warning).toMatch(/No PostgreSQL: .*RDS instance keeps moto's fake endpoint/)
      expect(processesMentioning(dir)).toEqual([])
    } finally {
      removeDir(dir)
    }
  })
})

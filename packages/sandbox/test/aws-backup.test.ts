import {
  BackupClient,
  CreateBackupVaultCommand,
  DescribeBackupJobCommand,
  DescribeRecoveryPointCommand,
  DescribeRestoreJobCommand,
  GetRecoveryPointRestoreMetadataCommand,
  ListBackupJobsCommand,
  ListBackupVaultsCommand,
  ListRecoveryPointsByBackupVaultCommand,
  ListRecoveryPointsByResourceCommand,
  ListRestoreJobsCommand,
  StartBackupJobCommand,
  StartRestoreJobCommand,
} from '@aws-sdk/client-backup'
import {CreateDBInstanceCommand, DescribeDBInstancesCommand, DescribeDBSnapshotsCommand, RDSClient} from '@aws-sdk/client-rds'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {awsCli, startSandbox, until, type Sandbox} from './aws-helpers.js'

const VAULT = 'clipper-vault'
const ROLE = 'arn:aws:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole'

describe('AWS Backup served by the front (recovery points, backup and restore jobs)', () => {
  let sb: Sandbox
  let backup: BackupClient
  let rds: RDSClient
  let dbArn: string
  const seeded: string[] = []

  beforeAll(async () => {
    // Steps long enough that a loaded machine still sees RUNNING before COMPLETED.
    sb = await startSandbox({backupJobStepMs: 500})
    backup = new BackupClient(sb.client)
    rds = new RDSClient(sb.client)
    const db = await rds.send(
      new CreateDBInstanceCommand({
        DBInstanceIdentifier: 'orders-db',
        Engine: 'postgres',
        DBInstanceClass: 'db.t3.micro',
        MasterUsername: 'app',
        MasterUserPassword: 'password1',
        AllocatedStorage: 20,
      }),
    )
    dbArn = db.DBInstance!.DBInstanceArn!
    await backup.send(new CreateBackupVaultCommand({BackupVaultName: VAULT}))
    // Seed two points, a day apart, as the sandbox does at start.
    for (const daysAgo of [2, 1]) {
      const p = await sb.front.backup.seedRecoveryPoint({backupVaultName: VAULT, resourceArn: dbArn, creationDate: new Date(Date.now() - daysAgo * 86_400_000)})
      seeded.push(p.RecoveryPointArn)
    }
  })
  afterAll(async () => {
    await sb?.stop()
  })

  it('lists and describes recovery points; vaults still come from moto', async () => {
    const vaults = await backup.send(new ListBackupVaultsCommand({}))
    expect(vaults.BackupVaultList?.map((v) => v.BackupVaultName)).toContain(VAULT)

    const list = await backup.send(new ListRecoveryPointsByBackupVaultCommand({BackupVaultName: VAULT}))
    // Newest first.
    expect(list.RecoveryPoints?.map((p) => p.RecoveryPointArn)).toEqual([seeded[1], seeded[0]])
    const first = list.RecoveryPoints![0]!
    expect(first).toMatchObject({BackupVaultName: VAULT, ResourceArn: dbArn, ResourceType: 'RDS', Status: 'COMPLETED'})
    expect(first.CreationDate).toBeInstanceOf(Date)
    expect(first.RecoveryPointArn).toMatch(/^arn:aws:rds:us-east-1:123456789012:snapshot:awsbackup-job-/)

    const one = await backup.send(new DescribeRecoveryPointCommand({BackupVaultName: VAULT, RecoveryPointArn: seeded[0]}))
    expect(one).toMatchObject({RecoveryPointArn: seeded[0], Status: 'COMPLETED', ResourceArn: dbArn, BackupVaultArn: `arn:aws:backup:us-east-1:123456789012:backup-vault:${VAULT}`})

    const byResource = await backup.send(new ListRecoveryPointsByResourceCommand({ResourceArn: dbArn}))
    expect(byResource.RecoveryPoints?.map((p) => p.RecoveryPointArn)).toEqual([seeded[1], seeded[0]])

    const paged = await backup.send(new ListRecoveryPointsByBackupVaultCommand({BackupVaultName: VAULT, MaxResults: 1}))
    expect(paged.RecoveryPoints).toHaveLength(1)
    const rest = await backup.send(new ListRecoveryPointsByBackupVaultCommand({BackupVaultName: VAULT, MaxResults: 1, NextToken: paged.NextToken}))
    expect(rest.RecoveryPoints?.[0]?.RecoveryPointArn).toBe(seeded[0])
    expect(rest.NextToken).toBeUndefined()

    const meta = await backup.send(new GetRecoveryPointRestoreMetadataCommand({BackupVaultName: VAULT, RecoveryPointArn: seeded[0]}))
    expect(meta.RestoreMetadata).toMatchObject({DBInstanceIdentifier: 'orders-db', Engine: 'postgres'})
  })

  it('answers ResourceNotFoundException for a vault or point that does not exist', async () => {
    await expect(backup.send(new ListRecoveryPointsByBackupVaultCommand({BackupVaultName: 'no-such-vault'}))).rejects.toMatchObject({name: 'ResourceNotFoundException'})
    await expect(
      backup.send(new DescribeRecoveryPointCommand({BackupVaultName: VAULT, RecoveryPointArn: 'arn:aws:rds:us-east-1:123456789012:snapshot:nope'})),
    ).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      $metadata: {httpStatusCode: 400},
    })
  })

  it('the AWS CLI lists the recovery points too', async () => {
    const out = (await awsCli(sb.front, ['backup', 'list-recovery-points-by-backup-vault', '--backup-vault-name', VAULT])) as {
      RecoveryPoints: Array<{RecoveryPointArn: string; Status: string}>
    }
    expect(out.RecoveryPoints.map((p) => p.RecoveryPointArn)).toEqual([seeded[1], seeded[0]])
    expect(out.RecoveryPoints.every((p) => p.Status === 'COMPLETED')).toBe(true)
  })

  it('runs a backup job (CREATED -> RUNNING -> COMPLETED) that makes a real RDS snapshot, then restores it', async () => {
    const from = sb.front.requestLog.length
    const started = await backup.send(new StartBackupJobCommand({BackupVaultName: VAULT, ResourceArn: dbArn, IamRoleArn: ROLE}))
    expect(started.BackupJobId).toMatch(/^[0-9A-F-]{36}$/)
    const jobId = started.BackupJobId!
    const states = new Set<string>()
    const done = await until(
      'the backup job',
      async () => {
        const j = await backup.send(new DescribeBackupJobCommand({BackupJobId: jobId}))
        states.add(j.State!)
        return j
      },
      (j) => j.State === 'COMPLETED' || j.State === 'FAILED',
    )
    expect(done).toMatchObject({State: 'COMPLETED', RecoveryPointArn: started.RecoveryPointArn, ResourceArn: dbArn, BackupVaultName: VAULT, PercentDone: '100.0'})
    expect(states.has('CREATED') || states.has('RUNNING')).toBe(true)
    expect((await backup.send(new ListBackupJobsCommand({ByBackupVaultName: VAULT}))).BackupJobs?.map((j) => j.BackupJobId)).toContain(jobId)

    // The recovery point is the RDS snapshot's ARN, and the snapshot is real in moto: of type
    // awsbackup, which AWS lists only when asked for that type.
    const snaps = await rds.send(new DescribeDBSnapshotsCommand({DBInstanceIdentifier: 'orders-db', SnapshotType: 'awsbackup'}))
    expect(snaps.DBSnapshots?.map((s) => [s.DBSnapshotArn, s.SnapshotType])).toContainEqual([started.RecoveryPointArn, 'awsbackup'])
    const plain = await rds.send(new DescribeDBSnapshotsCommand({DBInstanceIdentifier: 'orders-db'}))
    expect(plain.DBSnapshots?.map((s) => s.DBSnapshotArn)).not.toContain(started.RecoveryPointArn)
    const point = await backup.send(new DescribeRecoveryPointCommand({BackupVaultName: VAULT, RecoveryPointArn: started.RecoveryPointArn}))
    expect(point.Status).toBe('COMPLETED')

    const restore = await backup.send(
      new StartRestoreJobCommand({
        RecoveryPointArn: started.RecoveryPointArn,
        IamRoleArn: ROLE,
        ResourceType: 'RDS',
        Metadata: {DBInstanceIdentifier: 'orders-db-restored', DBInstanceClass: 'db.t3.small', MultiAZ: 'false'},
      }),
    )
    const running = await backup.send(new DescribeRestoreJobCommand({RestoreJobId: restore.RestoreJobId}))
    expect(running.Status).toBe('RUNNING')
    const restored = await until(
      'the restore job',
      () => backup.send(new DescribeRestoreJobCommand({RestoreJobId: restore.RestoreJobId})),
      (j) => j.Status === 'COMPLETED' || j.Status === 'FAILED',
    )
    expect(restored).toMatchObject({
      Status: 'COMPLETED',
      RecoveryPointArn: started.RecoveryPointArn,
      CreatedResourceArn: 'arn:aws:rds:us-east-1:123456789012:db:orders-db-restored',
    })
    expect((await backup.send(new ListRestoreJobsCommand({}))).RestoreJobs?.map((j) => j.RestoreJobId)).toContain(restore.RestoreJobId)

    const db = await rds.send(new DescribeDBInstancesCommand({DBInstanceIdentifier: 'orders-db-restored'}))
    expect(db.DBInstances?.[0]).toMatchObject({DBInstanceIdentifier: 'orders-db-restored', DBInstanceClass: 'db.t3.small', Engine: 'postgres'})

    expect(
      sb.front.requestLog
        .slice(from)
        .filter((e) => e.mutating)
        .map((e) => e.operation),
    ).toEqual(['StartBackupJob', 'StartRestoreJob'])
  })

  it('fails a restore into an instance that already exists, as the job’s status', async () => {
    const restore = await backup.send(new StartRestoreJobCommand({RecoveryPointArn: seeded[0], IamRoleArn: ROLE, Metadata: {DBInstanceIdentifier: 'orders-db'}}))
    const job = await until(
      'the restore job',
      () => backup.send(new DescribeRestoreJobCommand({RestoreJobId: restore.RestoreJobId})),
      (j) => j.Status !== 'RUNNING',
    )
    expect(job.Status).toBe('FAILED')
    expect(job.StatusMessage).toMatch(/already exists/i)
  })

  it('refuses what it cannot do, in Backup’s error shapes', async () => {
    await expect(
      backup.send(new StartBackupJobCommand({BackupVaultName: VAULT, ResourceArn: 'arn:aws:ec2:us-east-1:123456789012:volume/vol-1', IamRoleArn: ROLE})),
    ).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
    })
    await expect(backup.send(new StartRestoreJobCommand({RecoveryPointArn: seeded[0], IamRoleArn: ROLE, Metadata: {}}))).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
    })
    await expect(backup.send(new DescribeBackupJobCommand({BackupJobId: 'NOPE'}))).rejects.toMatchObject({name: 'ResourceNotFoundException'})
  })

  it('seeds recovery points over HTTP for other processes', async () => {
    const res = await fetch(`${sb.front.url}/_sandbox/backup/recovery-points`, {
      method: 'POST',
      body: JSON.stringify({backupVaultName: 'seeded-vault', resourceArn: dbArn, creationDate: '2026-01-01T00:00:00Z'}),
    })
    expect(res.status).toBe(201)
    const {recoveryPoint} = (await res.json()) as {recoveryPoint: {RecoveryPointArn: string}}
    // The vault did not exist: seeding made it.
    const list = await backup.send(new ListRecoveryPointsByBackupVaultCommand({BackupVaultName: 'seeded-vault'}))
    expect(list.RecoveryPoints?.map((p) => [p.RecoveryPointArn, p.CreationDate?.toISOString()])).toEqual([[recoveryPoint.RecoveryPointArn, '2026-01-01T00:00:00.000Z']])
  })
})

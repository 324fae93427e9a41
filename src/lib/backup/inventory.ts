/**
 * What can be restored for an environment, read from AWS with read-only calls: the RDS instance's
 * point-in-time window, its snapshots (manual, automated, AWS Backup's) and the recovery points
 * of the environment's backup vault. The SDK modules load here, on first use only.
 */
import type {DBInstance, DBInstanceAutomatedBackup, DBSnapshot, RDSClient} from '@aws-sdk/client-rds'
import type {BackupClient, RecoveryPointByBackupVault} from '@aws-sdk/client-backup'
import {awsClient, awsErrorName} from '../aws/clients.js'
import type {Environment} from '../config/schema.js'
import {OpsError, UsageError} from '../errors.js'
import {inventoryNotes, newestFirst, pitrWindow, recoveryPoint, snapshotPoint, SNAPSHOT_TYPES, type BackupInventory, type SnapshotType} from './inventory-format.js'

export interface InventoryOptions {
  signal?: AbortSignal
  /** The clock ages are measured against (tests fix it). */
  now?: () => Date
}

/** The instance to list, or a usage error naming the field (nothing to list without it). */
export function inventoryTarget(name: string, env: Environment): {instance: string; vault: string | null} {
  const instance = env.database?.rdsInstance
  if (!instance) {
    throw new UsageError(
      `Environment "${name}" has no database.rdsInstance: backup list needs the RDS DB instance identifier whose backups to list. (backup.vault is optional: without it, AWS Backup recovery points are not listed.)`,
      {code: 'NO_DATABASE', suggestions: [`Add database: {rdsInstance: <DB instance identifier>} to environments.${name} in clipper-ops.yaml.`]},
    )
  }
  return {instance, vault: env.backup?.vault ?? null}
}

function failed(what: string, error: unknown): OpsError {
  return new OpsError(`Could not ${what}: ${awsErrorName(error)}: ${(error as Error).message}`, {code: 'AWS_ERROR', cause: error})
}

async function snapshotsOfType(rds: RDSClient, instance: string, type: SnapshotType, signal?: AbortSignal): Promise<DBSnapshot[]> {
  const {DescribeDBSnapshotsCommand} = await import('@aws-sdk/client-rds')
  const out: DBSnapshot[] = []
  const seen = new Set<string>()
  let marker: string | undefined
  do {
    const r = await rds.send(new DescribeDBSnapshotsCommand({DBInstanceIdentifier: instance, SnapshotType: type, MaxRecords: 100, Marker: marker}), {abortSignal: signal})
    out.push(...(r.DBSnapshots ?? []))
    marker = r.Marker
    // A marker that comes back again would loop forever.
    if (marker && seen.has(marker)) break
    if (marker) seen.add(marker)
  } while (marker)
  return out
}

async function recoveryPointsOf(backup: BackupClient, vault: string, resourceArn: string, signal?: AbortSignal): Promise<RecoveryPointByBackupVault[]> {
  const {ListRecoveryPointsByBackupVaultCommand} = await import('@aws-sdk/client-backup')
  const out: RecoveryPointByBackupVault[] = []
  const seen = new Set<string>()
  let token: string | undefined
  do {
    const r = await backup.send(new ListRecoveryPointsByBackupVaultCommand({BackupVaultName: vault, ByResourceArn: resourceArn, MaxResults: 1000, NextToken: token}), {
      abortSignal: signal,
    })
    out.push(...(r.RecoveryPoints ?? []))
    token = r.NextToken
    if (token && seen.has(token)) break
    if (token) seen.add(token)
  } while (token)
  return out
}

async function automatedBackups(rds: RDSClient, instance: string, signal?: AbortSignal): Promise<DBInstanceAutomatedBackup[]> {
  const {DescribeDBInstanceAutomatedBackupsCommand} = await import('@aws-sdk/client-rds')
  return (await rds.send(new DescribeDBInstanceAutomatedBackupsCommand({DBInstanceIdentifier: instance}), {abortSignal: signal})).DBInstanceAutomatedBackups ?? []
}

export async function backupInventory(name: string, env: Environment, opts: InventoryOptions = {}): Promise<BackupInventory> {
  const {instance, vault} = inventoryTarget(name, env)
  const {signal} = opts
  const rds = await awsClient('rds', env)
  const {DescribeDBInstancesCommand} = await import('@aws-sdk/client-rds')

  // Snapshots and automated backups do not need the instance: read them while it is described
  // (allSettled: they never reject, so a missing instance is reported as such, not as whichever
  // call failed first).
  const snapsP = Promise.allSettled(SNAPSHOT_TYPES.map((t) => snapshotsOfType(rds, instance, t, signal)))
  const autoP = Promise.allSettled([automatedBackups(rds, instance, signal)])
  let db: DBInstance | undefined
  let error: unknown
  try {
    db = (await rds.send(new DescribeDBInstancesCommand({DBInstanceIdentifier: instance}), {abortSignal: signal})).DBInstances?.[0]
  } catch (e) {
    error = e
  }
  if (!db) {
    await Promise.all([snapsP, autoP])
    throw new OpsError(
      `RDS instance ${instance} (database.rdsInstance of ${name}): ${error ? `${awsErrorName(error)}: ${(error as Error).message}` : 'DescribeDBInstances returned no instance.'}`,
      {
        code: (error as {name?: string} | undefined)?.name === 'DBInstanceNotFoundFault' ? 'NOT_FOUND' : 'AWS_ERROR',
        suggestions: [
          `Check database.rdsInstance in clipper-ops.yaml, and that the instance is in ${env.aws?.region ?? 'the configured region'} of the account the credentials are for.`,
        ],
        cause: error,
      },
    )
  }

  const arn = db.DBInstanceArn
  const [pointsR] = await Promise.allSettled([vault && arn ? awsClient('backup', env).then((backup) => recoveryPointsOf(backup, vault, arn, signal)) : []])
  const [snaps, [autoR]] = await Promise.all([snapsP, autoP])
  const failedSnap = snaps.findIndex((s) => s.status === 'rejected')
  if (failedSnap >= 0) throw failed(`list the ${SNAPSHOT_TYPES[failedSnap]} snapshots of RDS instance ${instance}`, (snaps[failedSnap] as PromiseRejectedResult).reason)
  if (pointsR.status === 'rejected') throw failed(`list the recovery points of ${instance} in backup vault ${vault} (backup.vault)`, pointsR.reason)

  const now = opts.now?.() ?? new Date()
  const snapshotPoints = snaps.flatMap((s, i) => (s as PromiseFulfilledResult<DBSnapshot[]>).value.map((x) => snapshotPoint(x, SNAPSHOT_TYPES[i]!, now)))
  const points = newestFirst([...snapshotPoints, ...pointsR.value.map((p) => recoveryPoint(p, now))])
  // The restore window only sharpens the earliest time: without the permission to read it, the
  // snapshots still tell. This very instance's (a deleted namesake's retained one has another DbiResourceId).
  const autos = autoR.status === 'fulfilled' ? autoR.value : []
  const auto = autos.find((x) => db.DbiResourceId && x.DbiResourceId === db.DbiResourceId) ?? autos.find((x) => x.Status === 'active')
  const pitr = pitrWindow(
    db,
    auto,
    points.filter((p) => p.kind === 'snapshot-automated'),
    now,
  )
  const inv = {environment: name, instance, instanceArn: db.DBInstanceArn ?? null, vault, generatedAt: now.toISOString(), pitr, points}
  const notes = inventoryNotes(inv, name)
  if (autoR.status === 'rejected')
    notes.push(`DescribeDBInstanceAutomatedBackups failed (${awsErrorName(autoR.reason)}): the earliest restorable time is taken from ${pitr.earliestSource ?? 'nothing'} instead.`)
  if (vault && !db.DBInstanceArn) notes.push('DescribeDBInstances gave no instance ARN: the recovery points of the vault could not be looked up.')
  return {...inv, notes}
}

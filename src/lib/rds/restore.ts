/**
 * Restoring an RDS instance to a new one, the way an operator can trust the result:
 *
 * - the point restored is always explicit: "latest" reads LatestRestorableTime and passes that
 *   time, so the report records which point was restored (UseLatestRestorableTime would not say);
 * - the network is always explicit: subnet group, security groups, parameter group, class,
 *   Multi-AZ, not public, tags — from the config, else copied from the source. Left out, RDS
 *   restores into the default VPC, security group and parameter group
 *   (terraform-provider-aws #16821, boto3 #3168);
 * - waits poll with a capped delay: the SDK waiter backs off to 1,800 s between polls, which
 *   would make every measured timestamp up to 30 minutes late.
 */
import type {DBInstance, RDSClient} from '@aws-sdk/client-rds'
import type {Environment} from '../config/schema.js'
import {awsClient, awsErrorName} from '../aws/clients.js'
import {RunFailedError, UsageError} from '../errors.js'
import {formatDuration} from '../util/duration.js'
import {sleep} from '../util/sleep.js'

export type RestoreSource =
  | {from: 'latest'}
  | {from: 'point-in-time'; time: string}
  | {from: 'snapshot'; snapshot: string}
  | {from: 'recovery-point'; recoveryPoint: string}
  /** The newest cross-region copy of the source's snapshots, restored in the secondary region (dr.region). */
  | {from: 'region-copy'}

/** The environment as seen from another region (the secondary region of dr.region). */
export function inRegion(env: Environment, region: string | undefined): Environment {
  return region && env.aws ? {...env, aws: {...env.aws, region}} : env
}

/** The settings a restore is made with, each from the config or the source instance. */
export interface RestoreSettings {
  subnetGroup?: string
  securityGroups: string[]
  parameterGroup?: string
  instanceClass?: string
  multiAz: boolean
  publiclyAccessible: false
  kmsKeyId?: string
  tags: Record<string, string>
  /** Where each setting came from, for the report. */
  origin: Record<string, 'config' | 'source'>
}

/** One request to AWS, exactly as it will be sent (the dry run prints it). */
export interface RestoreRequest {
  api: 'RestoreDBInstanceToPointInTime' | 'RestoreDBInstanceFromDBSnapshot' | 'StartRestoreJob'
  input: Record<string, unknown>
  /** The point in time restored (a PITR time, a snapshot's or recovery point's creation). */
  restoreTime?: string
}

/** RDS statuses from which an instance will not become available by itself. */
const FAILED_STATES = new Set([
  'failed',
  'incompatible-restore',
  'incompatible-parameters',
  'incompatible-network',
  'incompatible-option-group',
  'inaccessible-encryption-credentials',
  'storage-full',
  'restore-error',
])

export async function describeInstance(rds: RDSClient, id: string, signal?: AbortSignal): Promise<DBInstance | undefined> {
  const {DescribeDBInstancesCommand} = await import('@aws-sdk/client-rds')
  try {
    return (await rds.send(new DescribeDBInstancesCommand({DBInstanceIdentifier: id}), {abortSignal: signal})).DBInstances?.[0]
  } catch (error) {
    // moto answers DBInstanceNotFound; the SDK names AWS's DBInstanceNotFoundFault.
    if (/DBInstanceNotFound/.test(awsErrorName(error)) || /DBInstanceNotFound/.test((error as {name?: string}).name ?? '')) return undefined
    throw error
  }
}

/** The settings for a restore: the config's `database.restore`, the rest copied from the source. */
export function restoreSettings(env: Environment, source: DBInstance, extraTags: Record<string, string>): RestoreSettings {
  const cfg = env.database?.restore
  const origin: RestoreSettings['origin'] = {}
  const pick = <T>(name: string, fromConfig: T | undefined, fromSource: T | undefined): T | undefined => {
    if (fromConfig !== undefined) origin[name] = 'config'
    else if (fromSource !== undefined) origin[name] = 'source'
    return fromConfig ?? fromSource
  }
  return {
    subnetGroup: pick('subnetGroup', cfg?.subnetGroup, source.DBSubnetGroup?.DBSubnetGroupName),
    securityGroups: pick('securityGroups', cfg?.securityGroups, source.VpcSecurityGroups?.map((g) => g.VpcSecurityGroupId!).filter(Boolean)) ?? [],
    parameterGroup: pick('parameterGroup', cfg?.parameterGroup, source.DBParameterGroups?.[0]?.DBParameterGroupName),
    instanceClass: pick('instanceClass', cfg?.instanceClass, source.DBInstanceClass),
    multiAz: cfg?.multiAz ?? false,
    publiclyAccessible: false,
    kmsKeyId: cfg?.kmsKeyId,
    tags: {...cfg?.tags, ...extraTags},
    origin,
  }
}

const tagList = (tags: Record<string, string>) => Object.entries(tags).map(([Key, Value]) => ({Key, Value}))

/** The restore request for a source and a target, with the point it restores made explicit. */
export async function restoreRequest(
  o: {env: Environment; source: DBInstance; target: string; from: RestoreSource; settings: RestoreSettings; idempotencyToken: string},
  signal?: AbortSignal,
): Promise<RestoreRequest> {
  const s = o.settings
  const network = {
    DBInstanceIdentifier: o.target,
    DBSubnetGroupName: s.subnetGroup,
    VpcSecurityGroupIds: s.securityGroups,
    DBParameterGroupName: s.parameterGroup,
    DBInstanceClass: s.instanceClass,
    MultiAZ: s.multiAz,
    PubliclyAccessible: false,
    DeletionProtection: false,
    Tags: tagList(s.tags),
  }
  if (o.from.from === 'latest' || o.from.from === 'point-in-time') {
    const latest = o.source.LatestRestorableTime
    if (!latest)
      throw new RunFailedError(
        `${o.source.DBInstanceIdentifier} reports no latest restorable time: automated backups may be off (BackupRetentionPeriod ${o.source.BackupRetentionPeriod ?? 0}).`,
        {code: 'NO_PITR'},
      )
    const time = o.from.from === 'latest' ? latest : new Date(o.from.time)
    checkInWindow(o.source, time)
    return {
      api: 'RestoreDBInstanceToPointInTime',
      input: {
        SourceDBInstanceIdentifier: o.source.DBInstanceIdentifier,
        TargetDBInstanceIdentifier: o.target,
        RestoreTime: time.toISOString(),
        ...withoutId(network),
        ...(s.kmsKeyId ? {KmsKeyId: s.kmsKeyId} : {}),
      },
      restoreTime: time.toISOString(),
    }
  }
  if (o.from.from === 'region-copy') {
    const copy = await newestRegionCopy(o.env, o.source.DBInstanceIdentifier!, signal)
    return {api: 'RestoreDBInstanceFromDBSnapshot', input: {DBSnapshotIdentifier: copy.DBSnapshotIdentifier, ...network}, restoreTime: copy.SnapshotCreateTime?.toISOString()}
  }
  if (o.from.from === 'snapshot') {
    const rds = await awsClient('rds', o.env)
    const {DescribeDBSnapshotsCommand} = await import('@aws-sdk/client-rds')
    let snap
    try {
      snap = (await rds.send(new DescribeDBSnapshotsCommand({DBSnapshotIdentifier: o.from.snapshot}), {abortSignal: signal})).DBSnapshots?.[0]
    } catch (error) {
      throw new UsageError(`--snapshot ${o.from.snapshot}: ${awsErrorName(error)}; list what can be restored with: clipper-ops backup list --env <env>`, {code: 'NO_SNAPSHOT'})
    }
    if (snap?.Status !== 'available') throw new RunFailedError(`snapshot ${o.from.snapshot} is ${snap?.Status ?? 'missing'}, not available`, {code: 'SNAPSHOT_NOT_READY'})
    return {api: 'RestoreDBInstanceFromDBSnapshot', input: {DBSnapshotIdentifier: o.from.snapshot, ...network}, restoreTime: snap.SnapshotCreateTime?.toISOString()}
  }
  // AWS Backup: the recovery point's own restore metadata, with our target, network and token.
  const backup = await awsClient('backup', o.env)
  const bm = await import('@aws-sdk/client-backup')
  const vault = o.env.backup?.vault
  if (!vault) throw new UsageError('--recovery-point needs backup.vault in the environment config.', {code: 'NO_VAULT'})
  const [meta, point] = await Promise.all([
    backup.send(new bm.GetRecoveryPointRestoreMetadataCommand({BackupVaultName: vault, RecoveryPointArn: o.from.recoveryPoint}), {abortSignal: signal}),
    backup.send(new bm.DescribeRecoveryPointCommand({BackupVaultName: vault, RecoveryPointArn: o.from.recoveryPoint}), {abortSignal: signal}),
  ]).catch((error: unknown) => {
    throw new UsageError(`--recovery-point ${o.from.from === 'recovery-point' ? o.from.recoveryPoint : ''}: ${awsErrorName(error)} in vault ${vault}.`, {code: 'NO_RECOVERY_POINT'})
  })
  if (point.Status !== 'COMPLETED') throw new RunFailedError(`recovery point ${o.from.recoveryPoint} is ${point.Status}, not COMPLETED`, {code: 'POINT_NOT_READY'})
  const role = o.env.database?.restore?.backupRole ?? point.IamRoleArn
  const metadata: Record<string, string> = {
    ...meta.RestoreMetadata,
    DBInstanceIdentifier: o.target,
    MultiAZ: String(s.multiAz),
    PubliclyAccessible: 'false',
    ...(s.subnetGroup ? {DBSubnetGroupName: s.subnetGroup} : {}),
    ...(s.securityGroups.length ? {VpcSecurityGroupIds: JSON.stringify(s.securityGroups)} : {}),
    ...(s.parameterGroup ? {DBParameterGroupName: s.parameterGroup} : {}),
    ...(s.instanceClass ? {DBInstanceClass: s.instanceClass} : {}),
  }
  return {
    api: 'StartRestoreJob',
    input: {
      RecoveryPointArn: o.from.recoveryPoint,
      Metadata: metadata,
      IamRoleArn: role,
      IdempotencyToken: o.idempotencyToken,
      ResourceType: 'RDS',
      CopySourceTagsToRestoredResource: false,
    },
    restoreTime: point.CreationDate?.toISOString(),
  }
}

function withoutId<T extends {DBInstanceIdentifier: string}>(n: T): Omit<T, 'DBInstanceIdentifier'> {
  const {DBInstanceIdentifier: _, ...rest} = n
  return rest
}

/** A PITR time must lie between the instance's earliest and latest restorable times. */
function checkInWindow(source: DBInstance, time: Date): void {
  if (Number.isNaN(time.getTime())) throw new UsageError(`--point-in-time: not a time; expected ISO 8601, e.g. 2026-12-01T03:04:05Z.`, {code: 'BAD_FLAG'})
  const latest = source.LatestRestorableTime!
  const earliest = source.InstanceCreateTime
  if (time > latest) {
    throw new RunFailedError(
      `--point-in-time ${time.toISOString()} is after the latest restorable time ${latest.toISOString()} of ${source.DBInstanceIdentifier}; pick a time at or before it (or --latest).`,
      {
        code: 'OUTSIDE_WINDOW',
      },
    )
  }
  if (earliest && time < earliest) {
    throw new RunFailedError(`--point-in-time ${time.toISOString()} is before ${source.DBInstanceIdentifier} existed (${earliest.toISOString()}).`, {code: 'OUTSIDE_WINDOW'})
  }
}

/** Send the request; returns when AWS accepted it (the restore job id for AWS Backup). */
export async function sendRestore(env: Environment, req: RestoreRequest, signal?: AbortSignal): Promise<{restoreJobId?: string}> {
  if (req.api === 'StartRestoreJob') {
    const backup = await awsClient('backup', env)
    const {StartRestoreJobCommand} = await import('@aws-sdk/client-backup')
    const out = await backup.send(new StartRestoreJobCommand(req.input as never), {abortSignal: signal})
    return {restoreJobId: out.RestoreJobId}
  }
  const rds = await awsClient('rds', env)
  const m = await import('@aws-sdk/client-rds')
  if (req.api === 'RestoreDBInstanceToPointInTime') {
    // Shown and recorded as ISO text; the SDK serializes a Date.
    await rds.send(new m.RestoreDBInstanceToPointInTimeCommand({...req.input, RestoreTime: new Date(req.input.RestoreTime as string)} as never), {abortSignal: signal})
  } else await rds.send(new m.RestoreDBInstanceFromDBSnapshotCommand(req.input as never), {abortSignal: signal})
  return {}
}

export interface WaitOptions {
  /** First delay between polls; doubles up to capMs. */
  firstMs?: number
  capMs?: number
  timeoutMs: number
  signal: AbortSignal
  log(line: string): void
  /** How long not-found is taken as "not visible yet" after the request (eventual consistency). */
  notFoundGraceMs?: number
}

/** Poll with a doubling delay, capped, so the moment a state is reached is known to within capMs. */
async function poll<T>(o: WaitOptions, what: string, check: (elapsedMs: number) => Promise<T | undefined>): Promise<T> {
  const started = Date.now()
  let delay = o.firstMs ?? 1000
  for (;;) {
    const elapsed = Date.now() - started
    const done = await check(elapsed)
    if (done !== undefined) return done
    if (Date.now() - started > o.timeoutMs) throw new RunFailedError(`${what}: not done after ${formatDuration(o.timeoutMs)}.`, {code: 'RESTORE_TIMEOUT'})
    await sleep(delay, o.signal)
    delay = Math.min(delay * 2, o.capMs ?? 15_000)
  }
}

/** Wait for an AWS Backup restore job to complete; returns the ARN of the instance it created. */
export async function waitForRestoreJob(env: Environment, jobId: string, o: WaitOptions): Promise<string | undefined> {
  const backup = await awsClient('backup', env)
  const {DescribeRestoreJobCommand} = await import('@aws-sdk/client-backup')
  let last = ''
  return poll(o, `AWS Backup restore job ${jobId}`, async (elapsed) => {
    let job
    try {
      job = await backup.send(new DescribeRestoreJobCommand({RestoreJobId: jobId}), {abortSignal: o.signal})
    } catch (error) {
      if (/NotFound/.test(awsErrorName(error)) && elapsed < (o.notFoundGraceMs ?? 60_000)) return undefined
      throw error
    }
    if (job.Status !== last) o.log(`restore job ${jobId}: ${job.Status}${job.PercentDone ? ` (${job.PercentDone})` : ''}`)
    last = job.Status ?? ''
    if (job.Status === 'COMPLETED') return job.CreatedResourceArn ?? ''
    if (job.Status === 'FAILED' || job.Status === 'ABORTED')
      throw new RunFailedError(`AWS Backup restore job ${jobId} ${job.Status}: ${job.StatusMessage ?? 'no reason given'}`, {code: 'RESTORE_FAILED'})
    return undefined
  })
}

/** Wait until an instance is available; stops at once on a state it cannot leave by itself. */
export async function waitAvailable(env: Environment, id: string, o: WaitOptions): Promise<DBInstance> {
  const rds = await awsClient('rds', env)
  let last = ''
  return poll(o, `DB instance ${id}`, async (elapsed) => {
    const db = await describeInstance(rds, id, o.signal)
    if (!db) {
      // Right after a restore is accepted the new instance may not be visible yet.
      if (elapsed < (o.notFoundGraceMs ?? 60_000)) return undefined
      throw new RunFailedError(`DB instance ${id} does not exist (the restore request was accepted, but no instance appeared).`, {code: 'RESTORE_FAILED'})
    }
    const status = db.DBInstanceStatus ?? '?'
    if (status !== last) o.log(`${id}: ${status}`)
    last = status
    if (FAILED_STATES.has(status)) throw new RunFailedError(`DB instance ${id} is ${status}: the restore failed.`, {code: 'RESTORE_FAILED'})
    return status === 'available' && db.Endpoint?.Address ? db : undefined
  })
}

/** Delete a restored instance: deletion protection off, no final snapshot, automated backups gone, wait until it is. */
export async function deleteInstance(env: Environment, id: string, o: WaitOptions): Promise<'deleted' | 'absent'> {
  const rds = await awsClient('rds', env)
  const m = await import('@aws-sdk/client-rds')
  const db = await describeInstance(rds, id, o.signal)
  if (!db) return 'absent'
  if (db.DeletionProtection) await rds.send(new m.ModifyDBInstanceCommand({DBInstanceIdentifier: id, DeletionProtection: false, ApplyImmediately: true}), {abortSignal: o.signal})
  if (db.DBInstanceStatus !== 'deleting') {
    try {
      await rds.send(new m.DeleteDBInstanceCommand({DBInstanceIdentifier: id, SkipFinalSnapshot: true, DeleteAutomatedBackups: true}), {abortSignal: o.signal})
    } catch (error) {
      if (!/NotFound/.test(awsErrorName(error))) throw error
    }
  }
  await poll(o, `deleting DB instance ${id}`, async () => ((await describeInstance(rds, id, o.signal)) ? undefined : true))
  return 'deleted'
}

/** The tags that mark an instance as made by a run (what `dr cleanup` and a resumed run look for). */
export const OWNER_TAG = 'clipper-ops:run'
export const PURPOSE_TAG = 'clipper-ops:purpose'

export function tagsOf(db: DBInstance): Record<string, string> {
  return Object.fromEntries((db.TagList ?? []).map((t) => [t.Key ?? '', t.Value ?? '']))
}

/** The newest available snapshot of the source in the secondary region (o.env is already in that region). */
async function newestRegionCopy(env: Environment, sourceId: string, signal?: AbortSignal) {
  const rds = await awsClient('rds', env)
  const {DescribeDBSnapshotsCommand} = await import('@aws-sdk/client-rds')
  const found = []
  let Marker: string | undefined
  do {
    const page = await rds.send(new DescribeDBSnapshotsCommand({DBInstanceIdentifier: sourceId, Marker}), {abortSignal: signal})
    found.push(...(page.DBSnapshots ?? []))
    Marker = page.Marker
  } while (Marker)
  const newest = found.filter((s) => s.Status === 'available').sort((a, b) => (b.SnapshotCreateTime?.getTime() ?? 0) - (a.SnapshotCreateTime?.getTime() ?? 0))[0]
  if (!newest)
    throw new RunFailedError(`No available copy of ${sourceId}'s snapshots in ${env.aws?.region}: a region-wide recovery has nothing to restore.`, {code: 'NO_REGION_COPY'})
  return newest
}

/** Restore settings in the secondary region: only what dr.region gives (nothing can be copied across regions). */
export function regionSettings(env: Environment, extraTags: Record<string, string>): RestoreSettings {
  const r = env.dr!.region!
  return {
    subnetGroup: r.subnetGroup,
    securityGroups: r.securityGroups,
    parameterGroup: r.parameterGroup,
    instanceClass: r.instanceClass,
    multiAz: false,
    publiclyAccessible: false,
    tags: {...env.database?.restore?.tags, ...extraTags},
    origin: Object.fromEntries(
      ['subnetGroup', 'securityGroups', 'parameterGroup', 'instanceClass'].filter((k) => r[k as keyof typeof r] !== undefined).map((k) => [k, 'config' as const]),
    ),
  }
}

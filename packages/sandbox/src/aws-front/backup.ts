/**
 * The parts of AWS Backup that moto 5.2.1 lacks (it answers 404): recovery points, backup jobs and
 * restore jobs, served on Backup's REST-JSON wire protocol. Vaults and plans stay with moto.
 *
 * Only RDS DB instances are backed up: a backup job makes a real RDS snapshot in moto and the
 * recovery point's ARN is that snapshot's ARN; a restore job makes a real DB instance from it.
 */
import {randomUUID} from 'node:crypto'
import {CreateBackupVaultCommand, DescribeBackupVaultCommand} from '@aws-sdk/client-backup'
import {
  CreateDBSnapshotCommand,
  DeleteDBSnapshotCommand,
  DescribeDBInstancesCommand,
  DescribeDBSnapshotsCommand,
  RestoreDBInstanceFromDBSnapshotCommand,
  type RestoreDBInstanceFromDBSnapshotCommandInput,
} from '@aws-sdk/client-rds'
import {renderError, newRequestId, type HttpAnswer} from './wire-errors.js'
import type {MotoClients} from './moto-clients.js'
import type {OperationInfo} from './operation.js'
import type {RdsBacking} from './rds-postgres.js'

export const BACKUP_OPERATIONS = new Set([
  'ListRecoveryPointsByBackupVault',
  'DescribeRecoveryPoint',
  'ListRecoveryPointsByResource',
  'GetRecoveryPointRestoreMetadata',
  'DeleteRecoveryPoint',
  'StartBackupJob',
  'DescribeBackupJob',
  'ListBackupJobs',
  'StartRestoreJob',
  'DescribeRestoreJob',
  'ListRestoreJobs',
  'PutRestoreValidationResult',
])

export type RecoveryPointStatus = 'CREATING' | 'COMPLETED' | 'PARTIAL' | 'DELETING' | 'EXPIRED'

export interface RecoveryPoint {
  RecoveryPointArn: string
  BackupVaultName: string
  BackupVaultArn: string
  ResourceArn: string
  ResourceType: 'RDS'
  ResourceName: string
  IamRoleArn: string
  Status: RecoveryPointStatus
  CreationDate: Date
  InitiationDate: Date
  CompletionDate?: Date
  BackupSizeInBytes: number
  IsEncrypted: boolean
  StorageClass: 'WARM'
  VaultType: 'BACKUP_VAULT'
  /** Where it lives: the region and the moto snapshot behind it. */
  region: string
  snapshotIdentifier: string
}

export type BackupJobState = 'CREATED' | 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'ABORTED'

export interface BackupJob {
  AccountId: string
  BackupJobId: string
  BackupVaultName: string
  BackupVaultArn: string
  RecoveryPointArn: string
  ResourceArn: string
  ResourceType: 'RDS'
  ResourceName: string
  IamRoleArn: string
  CreationDate: Date
  InitiationDate?: Date
  CompletionDate?: Date
  StartBy: Date
  State: BackupJobState
  StatusMessage?: string
  PercentDone: string
  BackupSizeInBytes?: number
  IsParent: false
  VaultType: 'BACKUP_VAULT'
  region: string
}

export type RestoreJobStatus = 'PENDING' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'ABORTED'

export interface RestoreJob {
  AccountId: string
  RestoreJobId: string
  RecoveryPointArn: string
  SourceResourceArn: string
  BackupVaultArn: string
  CreationDate: Date
  CompletionDate?: Date
  Status: RestoreJobStatus
  StatusMessage?: string
  PercentDone: string
  BackupSizeInBytes: number
  IamRoleArn: string
  ExpectedCompletionTimeMinutes: number
  CreatedResourceArn?: string
  ResourceType: 'RDS'
  RecoveryPointCreationDate: Date
  IsParent: false
  /** What the restore's tester reported (PutRestoreValidationResult). */
  ValidationStatus?: 'FAILED' | 'SUCCESSFUL' | 'TIMED_OUT' | 'VALIDATING'
  ValidationStatusMessage?: string
  region: string
}

export interface SeedRecoveryPointOptions {
  backupVaultName: string
  /** The RDS DB instance the point is a backup of: arn:aws:rds:REGION:ACCOUNT:db:NAME */
  resourceArn: string
  /** When the point was taken; defaults to now. Backdate to seed history. */
  creationDate?: Date
  /** Use this existing moto snapshot instead of making one from the instance. */
  snapshotIdentifier?: string
  iamRoleArn?: string
}

class BackupApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message)
  }
}

const DEFAULT_ROLE = 'arn:aws:iam::123456789012:role/service-role/AWSBackupDefaultServiceRole'

function parseDbArn(arn: string): {region: string; account: string; instanceId: string} | undefined {
  const m = /^arn:aws[\w-]*:rds:([^:]+):(\d+):db:([^:]+)$/.exec(arn)
  return m ? {region: m[1]!, account: m[2]!, instanceId: m[3]!} : undefined
}

const epoch = (d?: Date): number | undefined => (d ? d.getTime() / 1000 : undefined)

/** Drops our bookkeeping fields and turns dates into epoch seconds, as Backup's JSON has them. */
function wire<T extends object>(obj: T, omit: string[] = ['region', 'snapshotIdentifier']): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(obj)) {
    if (omit.includes(k) || v === undefined) continue
    out[k] = v instanceof Date ? epoch(v) : v
  }
  return out
}

function parseTime(s: string | null): number | undefined {
  if (!s) return undefined
  const n = Number(s)
  if (Number.isFinite(n)) return n * 1000
  const t = Date.parse(s)
  return Number.isNaN(t) ? undefined : t
}

/** Simple offset paging: NextToken is the index of the next item. */
function page<T>(items: T[], query: URLSearchParams): {items: T[]; NextToken?: string} {
  const max = Math.max(1, Math.min(1000, Number(query.get('maxResults') ?? 1000) || 1000))
  const start = Number(Buffer.from(query.get('nextToken') ?? '', 'base64').toString('utf8') || 0) || 0
  const slice = items.slice(start, start + max)
  const next = start + max < items.length ? Buffer.from(String(start + max)).toString('base64') : undefined
  return next ? {items: slice, NextToken: next} : {items: slice}
}

export class BackupService {
  readonly recoveryPoints = new Map<string, RecoveryPoint>()
  readonly backupJobs = new Map<string, BackupJob>()
  readonly restoreJobs = new Map<string, RestoreJob>()
  private readonly timers = new Set<NodeJS.Timeout>()
  private closed = false
  /** The real database behind RDS, when there is one: backups and restores of it are made for real. */
  rds?: RdsBacking

  constructor(
    private readonly moto: MotoClients,
    /** Time between job states (CREATED -> RUNNING -> COMPLETED). */
    private readonly stepMs: number,
  ) {}

  handles(operation: string): boolean {
    return BACKUP_OPERATIONS.has(operation)
  }

  async handle(info: OperationInfo, body: Buffer): Promise<HttpAnswer> {
    try {
      const input = body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {}
      const out = await this.dispatch(info, input)
      return {status: 200, headers: {'content-type': 'application/json', 'x-amzn-requestid': newRequestId()}, body: out === undefined ? '' : JSON.stringify(out)}
    } catch (e) {
      if (e instanceof BackupApiError) return renderError('rest-json', 'backup', {status: e.status, code: e.code, message: e.message})
      if (e instanceof SyntaxError) return renderError('rest-json', 'backup', {status: 400, code: 'SerializationException', message: e.message})
      throw e
    }
  }

  private async dispatch(info: OperationInfo, input: Record<string, unknown>): Promise<unknown> {
    const {params, query, region} = info
    switch (info.operation) {
      case 'ListRecoveryPointsByBackupVault': {
        const vault = await this.vault(region, params.BackupVaultName!)
        const since = parseTime(query.get('createdAfter'))
        const before = parseTime(query.get('createdBefore'))
        const points = this.pointsNewestFirst().filter(
          (p) =>
            p.BackupVaultName === vault.name &&
            p.region === region &&
            (!query.get('resourceArn') || p.ResourceArn === query.get('resourceArn')) &&
            (!query.get('resourceType') || p.ResourceType === query.get('resourceType')) &&
            (since === undefined || p.CreationDate.getTime() >= since) &&
            (before === undefined || p.CreationDate.getTime() <= before),
        )
        const {items, NextToken} = page(points, query)
        return {RecoveryPoints: items.map((p) => wire(p)), ...(NextToken ? {NextToken} : {})}
      }
      case 'DescribeRecoveryPoint': {
        const vault = await this.vault(region, params.BackupVaultName!)
        return wire(this.point(params.RecoveryPointArn!, vault.name))
      }
      case 'ListRecoveryPointsByResource': {
        const points = this.pointsNewestFirst().filter((p) => p.ResourceArn === params.ResourceArn)
        const {items, NextToken} = page(points, query)
        const list = items.map((p) => ({
          RecoveryPointArn: p.RecoveryPointArn,
          CreationDate: epoch(p.CreationDate),
          Status: p.Status,
          BackupSizeBytes: p.BackupSizeInBytes,
          BackupVaultName: p.BackupVaultName,
          IsParent: false,
          ResourceName: p.ResourceName,
          VaultType: p.VaultType,
        }))
        return {RecoveryPoints: list, ...(NextToken ? {NextToken} : {})}
      }
      case 'GetRecoveryPointRestoreMetadata': {
        const vault = await this.vault(region, params.BackupVaultName!)
        const p = this.point(params.RecoveryPointArn!, vault.name)
        return {BackupVaultArn: p.BackupVaultArn, RecoveryPointArn: p.RecoveryPointArn, RestoreMetadata: await this.restoreMetadata(p), ResourceType: p.ResourceType}
      }
      case 'DeleteRecoveryPoint': {
        const vault = await this.vault(region, params.BackupVaultName!)
        const p = this.point(params.RecoveryPointArn!, vault.name)
        await this.moto
          .rds(p.region)
          .send(new DeleteDBSnapshotCommand({DBSnapshotIdentifier: p.snapshotIdentifier}))
          .catch(() => undefined)
        this.recoveryPoints.delete(p.RecoveryPointArn)
        return undefined
      }
      case 'StartBackupJob':
        return this.startBackupJob(region, input)
      case 'DescribeBackupJob':
        return wire(this.job(params.BackupJobId!), ['region'])
      case 'ListBackupJobs': {
        const since = parseTime(query.get('createdAfter'))
        const before = parseTime(query.get('createdBefore'))
        const jobs = [...this.backupJobs.values()]
          .filter(
            (j) =>
              (!query.get('resourceArn') || j.ResourceArn === query.get('resourceArn')) &&
              (!query.get('state') || j.State === query.get('state')) &&
              (!query.get('backupVaultName') || j.BackupVaultName === query.get('backupVaultName')) &&
              (!query.get('resourceType') || j.ResourceType === query.get('resourceType')) &&
              (since === undefined || j.CreationDate.getTime() >= since) &&
              (before === undefined || j.CreationDate.getTime() <= before),
          )
          .sort((a, b) => b.CreationDate.getTime() - a.CreationDate.getTime())
        const {items, NextToken} = page(jobs, query)
        return {BackupJobs: items.map((j) => wire(j, ['region'])), ...(NextToken ? {NextToken} : {})}
      }
      case 'StartRestoreJob':
        return this.startRestoreJob(input)
      case 'DescribeRestoreJob': {
        const job = this.restoreJobs.get(params.RestoreJobId!)
        if (!job) throw new BackupApiError('ResourceNotFoundException', `Restore job ${params.RestoreJobId} not found.`)
        return wire(job, ['region'])
      }
      case 'PutRestoreValidationResult': {
        // AWS Backup's restore testing: the tester reports its verdict on a completed restore.
        const job = this.restoreJobs.get(params.RestoreJobId!)
        if (!job) throw new BackupApiError('ResourceNotFoundException', `Restore job ${params.RestoreJobId} not found.`)
        const status = requireString(input, 'ValidationStatus')
        if (!['FAILED', 'SUCCESSFUL', 'TIMED_OUT', 'VALIDATING'].includes(status))
          throw new BackupApiError('InvalidParameterValueException', `ValidationStatus ${status} is not one of FAILED, SUCCESSFUL, TIMED_OUT, VALIDATING.`)
        if (job.Status !== 'COMPLETED')
          throw new BackupApiError('InvalidRequestException', `Restore job ${job.RestoreJobId} is ${job.Status}; only a completed restore can be validated.`)
        job.ValidationStatus = status as RestoreJob['ValidationStatus']
        job.ValidationStatusMessage = typeof input.ValidationStatusMessage === 'string' ? input.ValidationStatusMessage : undefined
        return undefined
      }
      case 'ListRestoreJobs': {
        const since = parseTime(query.get('createdAfter'))
        const before = parseTime(query.get('createdBefore'))
        const jobs = [...this.restoreJobs.values()]
          .filter(
            (j) =>
              (!query.get('status') || j.Status === query.get('status')) &&
              (!query.get('resourceType') || j.ResourceType === query.get('resourceType')) &&
              (since === undefined || j.CreationDate.getTime() >= since) &&
              (before === undefined || j.CreationDate.getTime() <= before),
          )
          .sort((a, b) => b.CreationDate.getTime() - a.CreationDate.getTime())
        const {items, NextToken} = page(jobs, query)
        return {RestoreJobs: items.map((j) => wire(j, ['region'])), ...(NextToken ? {NextToken} : {})}
      }
      default:
        throw new BackupApiError('InvalidRequestException', `${info.operation} is not served by the sandbox`)
    }
  }

  /**
   * Adds a completed recovery point for an RDS DB instance, backed by a real moto snapshot (made
   * from the instance unless `snapshotIdentifier` names one). Creates the vault if moto lacks it.
   */
  async seedRecoveryPoint(opts: SeedRecoveryPointOptions): Promise<RecoveryPoint> {
    const db = parseDbArn(opts.resourceArn)
    if (!db) throw new Error(`seedRecoveryPoint: only RDS DB instance ARNs (arn:aws:rds:REGION:ACCOUNT:db:NAME) are supported; got ${opts.resourceArn}`)
    const vault = await this.vault(db.region, opts.backupVaultName, {create: true})
    const rds = this.moto.rds(db.region)
    let snapshotIdentifier = opts.snapshotIdentifier
    if (!snapshotIdentifier) {
      snapshotIdentifier = `awsbackup-job-${randomUUID()}`
      await rds.send(new CreateDBSnapshotCommand({DBSnapshotIdentifier: snapshotIdentifier, DBInstanceIdentifier: db.instanceId}))
    }
    const snap = (await rds.send(new DescribeDBSnapshotsCommand({DBSnapshotIdentifier: snapshotIdentifier}))).DBSnapshots?.[0]
    if (!snap?.DBSnapshotArn) throw new Error(`seedRecoveryPoint: snapshot ${snapshotIdentifier} not found in moto`)
    const created = opts.creationDate ?? new Date()
    const point: RecoveryPoint = {
      RecoveryPointArn: snap.DBSnapshotArn,
      BackupVaultName: vault.name,
      BackupVaultArn: vault.arn,
      ResourceArn: opts.resourceArn,
      ResourceType: 'RDS',
      ResourceName: db.instanceId,
      IamRoleArn: opts.iamRoleArn ?? DEFAULT_ROLE,
      Status: 'COMPLETED',
      CreationDate: created,
      InitiationDate: created,
      CompletionDate: new Date(created.getTime() + 60_000),
      BackupSizeInBytes: (snap.AllocatedStorage ?? 20) * 1024 ** 3,
      IsEncrypted: Boolean(snap.Encrypted),
      StorageClass: 'WARM',
      VaultType: 'BACKUP_VAULT',
      region: db.region,
      snapshotIdentifier,
    }
    this.recoveryPoints.set(point.RecoveryPointArn, point)
    // The job that made it, as AWS Backup lists it.
    const jobId = randomUUID().toUpperCase()
    this.backupJobs.set(jobId, {
      AccountId: vault.account,
      BackupJobId: jobId,
      BackupVaultName: vault.name,
      BackupVaultArn: vault.arn,
      RecoveryPointArn: point.RecoveryPointArn,
      ResourceArn: opts.resourceArn,
      ResourceType: 'RDS',
      ResourceName: db.instanceId,
      IamRoleArn: point.IamRoleArn,
      CreationDate: created,
      InitiationDate: created,
      CompletionDate: point.CompletionDate,
      StartBy: new Date(created.getTime() + 8 * 3_600_000),
      State: 'COMPLETED',
      PercentDone: '100.0',
      BackupSizeInBytes: point.BackupSizeInBytes,
      IsParent: false,
      VaultType: 'BACKUP_VAULT',
      region: db.region,
    })
    return point
  }

  close(): void {
    this.closed = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }

  // --- jobs -------------------------------------------------------------------------------------

  private async startBackupJob(region: string, input: Record<string, unknown>): Promise<unknown> {
    const vaultName = requireString(input, 'BackupVaultName')
    const resourceArn = requireString(input, 'ResourceArn')
    const iamRoleArn = requireString(input, 'IamRoleArn')
    const vault = await this.vault(region, vaultName)
    const db = parseDbArn(resourceArn)
    if (!db) throw new BackupApiError('InvalidParameterValueException', `Invalid resource ARN ${resourceArn}: the sandbox backs up RDS DB instances only`)
    const rds = this.moto.rds(db.region)
    const instance = await rds.send(new DescribeDBInstancesCommand({DBInstanceIdentifier: db.instanceId})).catch(() => undefined)
    if (!instance?.DBInstances?.length) throw new BackupApiError('InvalidParameterValueException', `Resource ${resourceArn} does not exist`)

    const jobId = randomUUID().toUpperCase()
    const snapshotIdentifier = `awsbackup-job-${jobId.toLowerCase()}`
    const now = new Date()
    const pointArn = `arn:aws:rds:${db.region}:${db.account}:snapshot:${snapshotIdentifier}`
    const job: BackupJob = {
      AccountId: vault.account,
      BackupJobId: jobId,
      BackupVaultName: vault.name,
      BackupVaultArn: vault.arn,
      RecoveryPointArn: pointArn,
      ResourceArn: resourceArn,
      ResourceType: 'RDS',
      ResourceName: db.instanceId,
      IamRoleArn: iamRoleArn,
      CreationDate: now,
      StartBy: new Date(now.getTime() + Number(input.StartWindowMinutes ?? 480) * 60_000),
      State: 'CREATED',
      PercentDone: '0.0',
      IsParent: false,
      VaultType: 'BACKUP_VAULT',
      region,
    }
    this.backupJobs.set(jobId, job)
    const point: RecoveryPoint = {
      RecoveryPointArn: pointArn,
      BackupVaultName: vault.name,
      BackupVaultArn: vault.arn,
      ResourceArn: resourceArn,
      ResourceType: 'RDS',
      ResourceName: db.instanceId,
      IamRoleArn: iamRoleArn,
      Status: 'CREATING',
      CreationDate: now,
      InitiationDate: now,
      BackupSizeInBytes: 0,
      IsEncrypted: false,
      StorageClass: 'WARM',
      VaultType: 'BACKUP_VAULT',
      region,
      snapshotIdentifier,
    }
    this.recoveryPoints.set(pointArn, point)

    // CREATED -> RUNNING (the snapshot is taken) -> COMPLETED, one step apart.
    this.after(this.stepMs, async () => {
      job.State = 'RUNNING'
      job.InitiationDate = new Date()
      job.PercentDone = '50.0'
      try {
        const out = await rds.send(new CreateDBSnapshotCommand({DBSnapshotIdentifier: snapshotIdentifier, DBInstanceIdentifier: db.instanceId}))
        const size = (out.DBSnapshot?.AllocatedStorage ?? 20) * 1024 ** 3
        // A backed instance: RUNNING until the base backup behind the snapshot is taken.
        await this.rds?.snapshotTaken(db.instanceId, snapshotIdentifier, db.region)
        this.after(this.stepMs, () => {
          job.State = 'COMPLETED'
          job.PercentDone = '100.0'
          job.CompletionDate = new Date()
          job.BackupSizeInBytes = size
          point.Status = 'COMPLETED'
          point.CompletionDate = job.CompletionDate
          point.BackupSizeInBytes = size
        })
      } catch (e) {
        job.State = 'FAILED'
        job.StatusMessage = `Snapshot failed: ${(e as Error).message}`
        job.CompletionDate = new Date()
        this.recoveryPoints.delete(pointArn)
      }
    })
    return {BackupJobId: jobId, RecoveryPointArn: pointArn, CreationDate: epoch(now), IsParent: false}
  }

  private async startRestoreJob(input: Record<string, unknown>): Promise<unknown> {
    const pointArn = requireString(input, 'RecoveryPointArn')
    const metadata = (input.Metadata ?? {}) as Record<string, string>
    const point = this.recoveryPoints.get(pointArn)
    if (!point) throw new BackupApiError('ResourceNotFoundException', `Recovery point ${pointArn} not found.`)
    if (point.Status !== 'COMPLETED') throw new BackupApiError('InvalidRequestException', `Recovery point ${pointArn} is ${point.Status}, not COMPLETED.`)
    if (!metadata.DBInstanceIdentifier) throw new BackupApiError('InvalidParameterValueException', 'Restore metadata must include DBInstanceIdentifier')
    const restoreInput = rdsRestoreInput(point.snapshotIdentifier, metadata)
    const now = new Date()
    const job: RestoreJob = {
      AccountId: point.BackupVaultArn.split(':')[4] ?? '123456789012',
      RestoreJobId: randomUUID().toUpperCase(),
      RecoveryPointArn: pointArn,
      SourceResourceArn: point.ResourceArn,
      BackupVaultArn: point.BackupVaultArn,
      CreationDate: now,
      Status: 'RUNNING',
      PercentDone: '0.00%',
      BackupSizeInBytes: point.BackupSizeInBytes,
      IamRoleArn: typeof input.IamRoleArn === 'string' ? input.IamRoleArn : point.IamRoleArn,
      ExpectedCompletionTimeMinutes: 1,
      ResourceType: 'RDS',
      RecoveryPointCreationDate: point.CreationDate,
      IsParent: false,
      region: point.region,
    }
    this.restoreJobs.set(job.RestoreJobId, job)

    // RUNNING -> COMPLETED once moto has made the instance (or FAILED with moto's reason), and,
    // for a backed instance, once its database is restored and up (or FAILED with why not).
    this.after(this.stepMs, async () => {
      try {
        const out = await this.moto.rds(point.region).send(new RestoreDBInstanceFromDBSnapshotCommand(restoreInput))
        const real = this.rds?.restoreFromSnapshot(point.snapshotIdentifier, restoreInput.DBInstanceIdentifier!, point.region)
        if (real) {
          job.PercentDone = '50.00%'
          await real
        }
        job.Status = 'COMPLETED'
        job.PercentDone = '100.00%'
        if (out.DBInstance?.DBInstanceArn) job.CreatedResourceArn = out.DBInstance.DBInstanceArn
      } catch (e) {
        job.Status = 'FAILED'
        job.StatusMessage = (e as Error).message
      }
      job.CompletionDate = new Date()
    })
    return {RestoreJobId: job.RestoreJobId}
  }

  private async restoreMetadata(p: RecoveryPoint): Promise<Record<string, string>> {
    const snap = (
      await this.moto
        .rds(p.region)
        .send(new DescribeDBSnapshotsCommand({DBSnapshotIdentifier: p.snapshotIdentifier}))
        .catch(() => undefined)
    )?.DBSnapshots?.[0]
    const meta: Record<string, string> = {DBInstanceIdentifier: p.ResourceName}
    if (snap?.Engine) meta.Engine = snap.Engine
    if (snap?.Port !== undefined) meta.Port = String(snap.Port)
    if (snap?.AvailabilityZone) meta.AvailabilityZone = snap.AvailabilityZone
    if (snap?.StorageType) meta.StorageType = snap.StorageType
    if (snap?.LicenseModel) meta.LicenseModel = snap.LicenseModel
    return meta
  }

  // --- lookups ----------------------------------------------------------------------------------

  private async vault(region: string, name: string, opts: {create?: boolean} = {}): Promise<{name: string; arn: string; account: string}> {
    const client = this.moto.backup(region)
    let out = await client.send(new DescribeBackupVaultCommand({BackupVaultName: name})).catch((e: {name?: string}) => {
      if (e.name === 'ResourceNotFoundException') return undefined
      throw e
    })
    if (!out && opts.create) {
      await client.send(new CreateBackupVaultCommand({BackupVaultName: name}))
      out = await client.send(new DescribeBackupVaultCommand({BackupVaultName: name}))
    }
    if (!out?.BackupVaultArn) throw new BackupApiError('ResourceNotFoundException', `Backup vault ${name} does not exist.`)
    return {name: out.BackupVaultName ?? name, arn: out.BackupVaultArn, account: out.BackupVaultArn.split(':')[4] ?? '123456789012'}
  }

  private point(arn: string, vaultName: string): RecoveryPoint {
    const p = this.recoveryPoints.get(arn)
    if (!p || p.BackupVaultName !== vaultName) throw new BackupApiError('ResourceNotFoundException', `Recovery point ${arn} not found in backup vault ${vaultName}.`)
    return p
  }

  private job(id: string): BackupJob {
    const job = this.backupJobs.get(id)
    if (!job) throw new BackupApiError('ResourceNotFoundException', `Backup job ${id} not found.`)
    return job
  }

  private pointsNewestFirst(): RecoveryPoint[] {
    return [...this.recoveryPoints.values()].sort((a, b) => b.CreationDate.getTime() - a.CreationDate.getTime())
  }

  private after(ms: number, fn: () => unknown): void {
    if (this.closed) return
    const t = setTimeout(() => {
      this.timers.delete(t)
      if (!this.closed) void Promise.resolve(fn()).catch(() => undefined)
    }, ms)
    this.timers.add(t)
  }
}

function requireString(input: Record<string, unknown>, field: string): string {
  const v = input[field]
  if (typeof v !== 'string' || v === '') throw new BackupApiError('MissingParameterValueException', `${field} is required`)
  return v
}

/** Maps AWS Backup's RDS restore metadata onto RestoreDBInstanceFromDBSnapshot. */
export function rdsRestoreInput(snapshotIdentifier: string, meta: Record<string, string>): RestoreDBInstanceFromDBSnapshotCommandInput {
  const input: RestoreDBInstanceFromDBSnapshotCommandInput = {DBSnapshotIdentifier: snapshotIdentifier, DBInstanceIdentifier: meta.DBInstanceIdentifier!}
  const bool = (v: string): boolean => v.toLowerCase() === 'true'
  const strings = [
    'DBInstanceClass',
    'AvailabilityZone',
    'DBSubnetGroupName',
    'LicenseModel',
    'DBName',
    'Engine',
    'StorageType',
    'OptionGroupName',
    'DBParameterGroupName',
  ] as const
  for (const k of strings) if (meta[k]) input[k] = meta[k]
  const bools = ['MultiAZ', 'PubliclyAccessible', 'AutoMinorVersionUpgrade', 'DeletionProtection', 'CopyTagsToSnapshot', 'EnableIAMDatabaseAuthentication'] as const
  for (const k of bools) if (meta[k]) input[k] = bool(meta[k])
  if (meta.Port) input.Port = Number(meta.Port)
  if (meta.Iops) input.Iops = Number(meta.Iops)
  if (meta.VpcSecurityGroupIds) {
    const raw = meta.VpcSecurityGroupIds.trim()
    input.VpcSecurityGroupIds = raw.startsWith('[')
      ? (JSON.parse(raw) as string[])
      : raw
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
  }
  return input
}

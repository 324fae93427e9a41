/**
 * RDS backed by a real PostgreSQL (see ../postgres/). For the sandbox's instance the front
 * answers with the primary's endpoint and a LatestRestorableTime that is the archiver's own;
 * restores (to a point in time, from a snapshot, or an AWS Backup restore job) let moto make the
 * instance record and then make the database for real, by PostgreSQL's archive recovery, in the
 * background: `creating` until it has promoted, then `available` with its endpoint (`failed`
 * otherwise). Snapshots of the instance are base backups named for them. Every other instance
 * stays as moto has it.
 */
import type {BaseBackup} from '../postgres/base-backups.js'
import type {PostgresFleet} from '../postgres/fleet.js'
import type {BackupService} from './backup.js'
import type {OperationInfo} from './operation.js'
import {eachBlock, tagValue} from './rds-snapshot-types.js'
import {awsError, type HttpAnswer} from './wire-errors.js'

/** Sends a request body to moto as the client sent it, and returns moto's whole answer. */
export type Exchange = (body: Buffer) => Promise<HttpAnswer>

/** What AWS Backup's stand-in asks of RDS's backing (backup jobs and restore jobs). */
export interface RdsBacking {
  /** A snapshot moto just made: a promise that settles when its base backup is taken, or undefined when the instance is not backed. */
  snapshotTaken(instanceId: string, snapshotId: string): Promise<void> | undefined
  /** An instance moto just restored from a snapshot: a promise that settles when PostgreSQL is up (rejects with why not), or undefined. */
  restoreFromSnapshot(snapshotId: string, instanceId: string): Promise<void> | undefined
}

const HANDLED = new Set(['RestoreDBInstanceToPointInTime', 'RestoreDBInstanceFromDBSnapshot', 'CreateDBSnapshot', 'DeleteDBInstance'])

/**
 * moto keeps an instance's LatestRestorableTime at its creation; AWS moves it along, about five
 * minutes behind now, while the instance is backed up. The sandbox's other instances are.
 */
function latestRestorableNow(block: string): string {
  return setTag(block, 'LatestRestorableTime', new Date(Date.now() - 5 * 60_000).toISOString())
}

function setTag(block: string, tag: string, value: string): string {
  const re = new RegExp(`<${tag}>[^<]*</${tag}>`)
  return re.test(block) ? block.replace(re, `<${tag}>${value}</${tag}>`) : block
}

/** The endpoint a client connects to; none while an instance is not available (as RDS answers). */
function setEndpoint(block: string, port: number | undefined): string {
  const without = block.replace(/<Endpoint>[\s\S]*?<\/Endpoint>/, '')
  if (port === undefined) return without
  const endpoint = `<Endpoint><Address>127.0.0.1</Address><Port>${port}</Port></Endpoint>`
  const out = /<Endpoint>/.test(block) ? block.replace(/<Endpoint>[\s\S]*?<\/Endpoint>/, endpoint) : block.replace(/<\/DBInstanceStatus>/, `</DBInstanceStatus>${endpoint}`)
  return setTag(out, 'DbInstancePort', String(port))
}

/** The snapshot identifier of an identifier or ARN (arn:aws:rds:REGION:ACCOUNT:snapshot:ID). */
function snapshotId(idOrArn: string): string {
  const m = /^arn:aws[\w-]*:rds:[^:]*:\d*:snapshot:(.+)$/.exec(idOrArn)
  return m ? m[1]! : idOrArn
}

export class RdsPostgres implements RdsBacking {
  private fleet?: PostgresFleet
  private primary = ''

  constructor(private readonly backup: BackupService) {}

  /** Backs the instance `primary` by this PostgreSQL (undefined: nothing is backed). */
  attach(fleet: PostgresFleet | undefined, primary: string): void {
    this.fleet = fleet
    this.primary = primary
  }

  handles(operation: string): boolean {
    return HANDLED.has(operation)
  }

  /** An answer of its own for what it backs; undefined to let the request go to moto as it is. */
  async handle(info: OperationInfo, body: Buffer, exchange: Exchange): Promise<HttpAnswer | undefined> {
    const fleet = this.fleet
    if (!fleet) return undefined
    const form = new URLSearchParams(body.toString('utf8'))
    const refuse = (code: string, message: string): HttpAnswer => awsError(info, {status: 400, code, message})
    switch (info.operation) {
      case 'RestoreDBInstanceToPointInTime': {
        if (form.get('SourceDBInstanceIdentifier') !== this.primary) return undefined
        const target = form.get('TargetDBInstanceIdentifier') ?? ''
        const useLatest = form.get('UseLatestRestorableTime') === 'true'
        const requested = form.get('RestoreTime')
        if (useLatest && requested) return refuse('InvalidParameterCombination', 'Cannot specify both RestoreTime and UseLatestRestorableTime.')
        if (!useLatest && !requested) return refuse('InvalidParameterCombination', 'Specify RestoreTime or UseLatestRestorableTime.')
        const latest = await fleet.lastArchivedTime()
        const earliest = fleet.backups.earliestRestorable()
        const time = useLatest ? latest : new Date(requested!)
        if (!time || Number.isNaN(time.getTime())) {
          return useLatest
            ? refuse('InvalidRestoreFault', `DB instance ${this.primary} has no restorable time yet.`)
            : refuse('InvalidParameterValue', `Invalid RestoreTime: ${requested}`)
        }
        if (!latest || !earliest || time > latest || time < earliest) {
          return refuse(
            'InvalidRestoreFault',
            `Restore time ${time.toISOString()} is outside the restorable window of DB instance ${this.primary}: ${earliest?.toISOString() ?? 'none'} to ${latest?.toISOString() ?? 'none'}.`,
          )
        }
        const answer = await exchange(body)
        if (answer.status >= 300) return answer
        await this.forgetStale(target)
        fleet.restore(target, {time})
        return {...answer, body: this.rewrite(answer.body, latest)}
      }
      case 'RestoreDBInstanceFromDBSnapshot': {
        const snapshot = snapshotId(form.get('DBSnapshotIdentifier') ?? '')
        const backing = this.backingOf(snapshot)
        if (!backing) return undefined
        if (backing.status !== 'available') return refuse('InvalidDBSnapshotState', `DB snapshot ${snapshot} is ${backing.status}, not available.`)
        const answer = await exchange(body)
        if (answer.status >= 300) return answer
        const target = form.get('DBInstanceIdentifier') ?? ''
        await this.forgetStale(target)
        fleet.restore(target, {backup: backing})
        return {...answer, body: this.rewrite(answer.body)}
      }
      case 'CreateDBSnapshot': {
        if (form.get('DBInstanceIdentifier') !== this.primary) return undefined
        const answer = await exchange(body)
        if (answer.status >= 300) return answer
        fleet.takeBaseBackup(form.get('DBSnapshotIdentifier') ?? '')
        return {...answer, body: this.rewrite(answer.body)}
      }
      case 'DeleteDBInstance': {
        // The database goes first: moto's record may go, but no server may stay behind.
        await fleet.drop(form.get('DBInstanceIdentifier') ?? '')
        return undefined
      }
      default:
        return undefined
    }
  }

  /** The instance's latest restorable time now (read before an answer is rewritten). */
  async latestRestorable(): Promise<Date | undefined> {
    return this.fleet?.lastArchivedTime()
  }

  /** An RDS answer as the backing has it: endpoints, statuses, restorable times, snapshot states. */
  rewrite(xml: string, latest?: Date): string {
    const withInstances = eachBlock(xml, 'DBInstance', (block) => this.instance(block, latest))
    return eachBlock(withInstances, 'DBSnapshot', (block) => this.snapshot(block))
  }

  private instance(block: string, latest: Date | undefined): string {
    const id = tagValue(block, 'DBInstanceIdentifier') ?? ''
    const fleet = this.fleet
    if (fleet && id === this.primary) {
      // Nothing archived yet (just started): the end of the first base backup is restorable.
      const restorable = latest ?? fleet.backups.earliestRestorable()
      // The database was made before moto's record of it (they start side by side): its snapshots are not older than it.
      const created = setTag(block, 'InstanceCreateTime', fleet.createdAt.toISOString())
      return setEndpoint(restorable ? setTag(created, 'LatestRestorableTime', restorable.toISOString()) : created, fleet.port)
    }
    const inst = fleet?.instances.get(id)
    if (!inst) return latestRestorableNow(block)
    const status = setTag(block, 'DBInstanceStatus', inst.status)
    return latestRestorableNow(setEndpoint(status, inst.status === 'available' ? inst.port : undefined))
  }

  private snapshot(block: string): string {
    const id = tagValue(block, 'DBSnapshotIdentifier') ?? ''
    const backing = this.fleet?.backups.byLabel(id) ?? (id.startsWith(`rds:${this.primary}-`) ? this.fleet?.backups.first() : undefined)
    if (!backing) return block
    return setTag(
      setTag(setTag(block, 'Status', backing.status), 'SnapshotCreateTime', backing.startedAt.toISOString()),
      'OriginalSnapshotCreateTime',
      backing.startedAt.toISOString(),
    )
  }

  /** The base backup a snapshot of the backed instance restores from, if it is one. */
  private backingOf(snapshot: string): BaseBackup | undefined {
    const fleet = this.fleet
    if (!fleet) return undefined
    const named = fleet.backups.byLabel(snapshot)
    if (named) return named
    // The automated snapshot moto makes with the instance: the first base backup is that.
    if (snapshot.startsWith(`rds:${this.primary}-`)) return fleet.backups.first()
    // Recovery points seeded with dates days ago cannot hold data from then: they restore the
    // first base backup (the sandbox's start), so a drill's RPO, measured from the data, shows it.
    const point = [...this.backup.recoveryPoints.values()].find((p) => p.snapshotIdentifier === snapshot)
    if (point?.ResourceName === this.primary) return fleet.backups.first()
    return undefined
  }

  snapshotTaken(instanceId: string, snapshotId: string): Promise<void> | undefined {
    if (!this.fleet || instanceId !== this.primary) return undefined
    return this.fleet.takeBaseBackup(snapshotId).done.then(() => undefined)
  }

  restoreFromSnapshot(snapshotId: string, instanceId: string): Promise<void> | undefined {
    const fleet = this.fleet
    const backing = this.backingOf(snapshotId)
    if (!fleet || !backing) return undefined
    return (async () => {
      if (backing.status !== 'available') throw new Error(`the base backup behind ${snapshotId} is ${backing.status}${backing.reason ? `: ${backing.reason}` : ''}`)
      await this.forgetStale(instanceId)
      const inst = fleet.restore(instanceId, {backup: backing})
      await inst.settled
      if (inst.status !== 'available') throw new Error(inst.reason ?? `restoring ${instanceId} failed`)
    })()
  }

  /** moto just made this instance, so a database of that name is left from one deleted behind the front's back. */
  private async forgetStale(name: string): Promise<void> {
    if (this.fleet?.instances.has(name)) await this.fleet.drop(name)
  }
}

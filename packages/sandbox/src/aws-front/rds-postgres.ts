/**
 * RDS backed by a real PostgreSQL (see ../postgres/). For the sandbox's instance the front
 * answers with the primary's endpoint and a LatestRestorableTime that is the archiver's own;
 * restores (to a point in time, from a snapshot, or an AWS Backup restore job) let moto make the
 * instance record and then make the database for real, by PostgreSQL's archive recovery, in the
 * background: `creating` until it has promoted, then `available` with its endpoint (`failed`
 * otherwise). Snapshots of the instance are base backups named for them. Every other instance
 * stays as moto has it.
 *
 * Copies of its snapshots (CopyDBSnapshot, in its region or from it to another: see rds-copies.ts)
 * are backed by their source's base backup. Restored from in another region, a copy makes a
 * database there the same way, tracked by region and name (a name can be taken in both).
 */
import type {BaseBackup} from '../postgres/base-backups.js'
import type {PostgresFleet} from '../postgres/fleet.js'
import type {BackupService} from './backup.js'
import type {MotoClients} from './moto-clients.js'
import type {OperationInfo} from './operation.js'
import {CopySchedule, SnapshotCopies, snapshotRef, type CopyScheduleOptions, type SnapshotCopy} from './rds-copies.js'
import {eachBlock, tagValue} from './rds-snapshot-types.js'
import {awsError, type HttpAnswer} from './wire-errors.js'

/** Sends a request body to moto as the client sent it, and returns moto's whole answer. */
export type Exchange = (body: Buffer) => Promise<HttpAnswer>

/** What AWS Backup's stand-in asks of RDS's backing (backup jobs and restore jobs). */
export interface RdsBacking {
  /** A snapshot moto just made (in `region`): a promise that settles when its base backup is taken, or undefined when the instance is not backed. */
  snapshotTaken(instanceId: string, snapshotId: string, region?: string): Promise<void> | undefined
  /** An instance moto just restored from a snapshot (in `region`): a promise that settles when PostgreSQL is up (rejects with why not), or undefined. */
  restoreFromSnapshot(snapshotId: string, instanceId: string, region?: string): Promise<void> | undefined
}

const HANDLED = new Set(['RestoreDBInstanceToPointInTime', 'RestoreDBInstanceFromDBSnapshot', 'CreateDBSnapshot', 'DeleteDBInstance', 'CopyDBSnapshot', 'DeleteDBSnapshot'])

/** What a snapshot the front knows more of than moto is, now. */
interface SnapshotState {
  status: 'creating' | 'available' | 'failed'
  /** The base backup a restore from it starts from; none when the instance is not backed. */
  backing?: BaseBackup
  /** Its SnapshotCreateTime; unknown for a copy of a snapshot moto alone has (moto's own date is kept). */
  createTime?: Date
  /** When it became (or becomes) available. */
  readyAt?: Date
}

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

const escapeXml = (v: string) => v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** Sets a tag of a block, adding it (before the block's end) when moto left it out. */
function putTag(block: string, tag: string, value: string): string {
  const re = new RegExp(`<${tag}>[^<]*</${tag}>`)
  if (re.test(block)) return setTag(block, tag, escapeXml(value))
  return block.replace(/(<\/\w+>)$/, `<${tag}>${escapeXml(value)}</${tag}>$1`)
}

/**
 * moto makes an instance restored in another region from a copy with its source's availability
 * zone (us-east-1a in us-west-2): the first zone of its subnet group there, as RDS would pick.
 */
function zoneInRegion(block: string, region: string): string {
  const zone = tagValue(block, 'AvailabilityZone')
  if (!zone || zone.startsWith(region)) return block
  const inGroup = [...block.matchAll(/<SubnetAvailabilityZone>\s*<Name>([^<]+)<\/Name>/g)].map((m) => m[1]!).find((z) => z.startsWith(region))
  return setTag(block, 'AvailabilityZone', inGroup ?? `${region}a`)
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
  /** The primary's region: its snapshots, restores to a point in time and base backups are there. */
  private region = 'us-east-1'
  /** Every snapshot copy made through the front or recorded by the seed, in any region. */
  readonly copies = new SnapshotCopies()
  private schedule?: CopySchedule

  constructor(
    private readonly backup: BackupService,
    /** For the copy schedule's own calls (made straight to moto). */
    private readonly moto?: MotoClients,
    /** How long a copy stays `creating` once its source is available. */
    private readonly copyMs = 2000,
  ) {}

  /**
   * Backs the instance `primary` (in `region`, us-east-1 by default) by this PostgreSQL (undefined:
   * nothing is backed), and with `copies` keeps fresh copies of its snapshots in another region.
   */
  attach(fleet: PostgresFleet | undefined, primary: string, o: {region?: string; copies?: CopyScheduleOptions} = {}): void {
    this.schedule?.stop()
    this.schedule = undefined
    this.fleet = fleet
    this.primary = primary
    this.region = o.region ?? 'us-east-1'
    if (fleet && this.moto && o.copies && o.copies.everyMs > 0) {
      this.schedule = new CopySchedule({
        ...o.copies,
        fleet,
        moto: this.moto,
        instance: primary,
        region: this.region,
        copies: this.copies,
        needed: (b) => fleet.restoring(b) || this.copies.all().some((c) => this.state(c.region, c.id)?.backing === b),
      })
      this.schedule.start()
    }
  }

  /** The copy schedule's snapshots and copies, oldest first (none without one). */
  scheduledCopies(): {id: string; copyId: string}[] {
    return this.schedule?.kept() ?? []
  }

  /** Stops the copy schedule. */
  close(): void {
    this.schedule?.stop()
  }

  /** Records a copy made straight in moto (the seed's): the front answers for it as for one made through it. */
  recordCopy(copy: Omit<SnapshotCopy, 'startedAt' | 'sourceRegion' | 'sourceId'> & {startedAt?: Date}): void {
    const source = snapshotRef(copy.sourceArn, copy.region)
    this.copies.add({...copy, sourceRegion: source.region, sourceId: source.id, startedAt: copy.startedAt ?? new Date()})
  }

  /** The region argument the fleet takes: none for the primary's own. */
  private where(region: string): string | undefined {
    return region === this.region ? undefined : region
  }

  handles(operation: string): boolean {
    return HANDLED.has(operation)
  }

  /** An answer of its own for what it backs; undefined to let the request go to moto as it is. */
  async handle(info: OperationInfo, body: Buffer, exchange: Exchange): Promise<HttpAnswer | undefined> {
    const form = new URLSearchParams(body.toString('utf8'))
    const refuse = (code: string, message: string): HttpAnswer => awsError(info, {status: 400, code, message})
    const region = info.region
    // Copies are AWS's behaviour whether or not a database backs the instance.
    if (info.operation === 'CopyDBSnapshot') return this.copySnapshot(info, form, body, exchange)
    if (info.operation === 'DeleteDBSnapshot') {
      const answer = await exchange(body)
      if (answer.status >= 300) return answer
      this.copies.forget(region, form.get('DBSnapshotIdentifier') ?? '')
      return {...answer, body: this.rewrite(answer.body, undefined, region)}
    }
    const fleet = this.fleet
    if (!fleet) return undefined
    const home = region === this.region
    switch (info.operation) {
      case 'RestoreDBInstanceToPointInTime': {
        // The primary's WAL archive is in its region: elsewhere moto answers as it does.
        if (!home || form.get('SourceDBInstanceIdentifier') !== this.primary) return undefined
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
        // A snapshot of the region the request is sent to (an ARN names one there too).
        const snapshot = snapshotId(form.get('DBSnapshotIdentifier') ?? '')
        const state = this.state(region, snapshot)
        if (state && state.status !== 'available') return refuse('InvalidDBSnapshotState', `DB snapshot ${snapshot} is ${state.status}, not available.`)
        const backing = state?.backing
        if (!backing) return undefined
        const answer = await exchange(body)
        if (answer.status >= 300) return answer
        const target = form.get('DBInstanceIdentifier') ?? ''
        await this.forgetStale(target, region)
        fleet.restore(target, {backup: backing}, {region: this.where(region)})
        return {...answer, body: this.rewrite(answer.body, undefined, region)}
      }
      case 'CreateDBSnapshot': {
        if (!home || form.get('DBInstanceIdentifier') !== this.primary) return undefined
        const answer = await exchange(body)
        if (answer.status >= 300) return answer
        fleet.takeBaseBackup(form.get('DBSnapshotIdentifier') ?? '')
        return {...answer, body: this.rewrite(answer.body)}
      }
      case 'DeleteDBInstance': {
        // The database goes first: moto's record may go, but no server may stay behind.
        await fleet.drop(form.get('DBInstanceIdentifier') ?? '', this.where(region))
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

  /**
   * CopyDBSnapshot: moto makes the copy (it finds a source in another region by its ARN); the
   * front records it, so that it is `creating` for a while, dated as its source, says where it
   * came from, and restores from its source's base backup. A source that is not available yet
   * cannot be copied, as in AWS.
   */
  private async copySnapshot(info: OperationInfo, form: URLSearchParams, body: Buffer, exchange: Exchange): Promise<HttpAnswer> {
    const source = snapshotRef(form.get('SourceDBSnapshotIdentifier') ?? '', info.region)
    const state = this.state(source.region, source.id)
    if (state && state.status !== 'available') {
      return awsError(info, {status: 400, code: 'InvalidDBSnapshotState', message: `Snapshot ${source.id} is ${state.status}: only an available snapshot can be copied.`})
    }
    const answer = await exchange(body)
    if (answer.status >= 300) return answer
    const arn = /<DBSnapshotArn>arn:(aws[\w-]*):rds:[^:]*:(\d*):/.exec(answer.body)
    const partition = arn?.[1] ?? 'aws'
    const account = source.account ?? arn?.[2] ?? ''
    this.copies.add({
      region: info.region,
      id: form.get('TargetDBSnapshotIdentifier') ?? '',
      sourceRegion: source.region,
      sourceId: source.id,
      sourceArn: `arn:${partition}:rds:${source.region}:${account}:snapshot:${source.id}`,
      startedAt: new Date(),
    })
    return {...answer, body: this.rewrite(answer.body, undefined, info.region)}
  }

  /** An RDS answer (from `region`, the primary's by default) as the backing has it: endpoints, statuses, restorable times, snapshot states. */
  rewrite(xml: string, latest?: Date, region = this.region): string {
    const withInstances = eachBlock(xml, 'DBInstance', (block) => this.instance(block, latest, region))
    return eachBlock(withInstances, 'DBSnapshot', (block) => this.snapshot(block, region))
  }

  private instance(block: string, latest: Date | undefined, region: string): string {
    const id = tagValue(block, 'DBInstanceIdentifier') ?? ''
    const fleet = this.fleet
    if (region !== this.region) block = zoneInRegion(block, region)
    if (fleet && region === this.region && id === this.primary) {
      // Nothing archived yet (just started): the end of the first base backup is restorable.
      const restorable = latest ?? fleet.backups.earliestRestorable()
      // The database was made before moto's record of it (they start side by side): its snapshots are not older than it.
      const created = setTag(block, 'InstanceCreateTime', fleet.createdAt.toISOString())
      return setEndpoint(restorable ? setTag(created, 'LatestRestorableTime', restorable.toISOString()) : created, fleet.port)
    }
    const inst = fleet?.instance(id, this.where(region))
    if (!inst) return latestRestorableNow(block)
    const status = setTag(block, 'DBInstanceStatus', inst.status)
    return latestRestorableNow(setEndpoint(status, inst.status === 'available' ? inst.port : undefined))
  }

  private snapshot(block: string, region: string): string {
    const id = tagValue(block, 'DBSnapshotIdentifier') ?? ''
    const copy = this.copies.get(region, id)
    if (copy) return this.copyBlock(block, copy)
    if (region !== this.region) return block
    const backing = this.fleet?.backups.byLabel(id) ?? (id.startsWith(`rds:${this.primary}-`) ? this.fleet?.backups.first() : undefined)
    if (!backing) return block
    return setTag(
      setTag(setTag(block, 'Status', backing.status), 'SnapshotCreateTime', backing.startedAt.toISOString()),
      'OriginalSnapshotCreateTime',
      backing.startedAt.toISOString(),
    )
  }

  /** A copy as AWS lists it: its state, its source's creation time, where it came from. */
  private copyBlock(block: string, copy: SnapshotCopy): string {
    const state = this.state(copy.region, copy.id)
    let out = setTag(block, 'Status', state?.status ?? 'available')
    // A copy of a snapshot moto alone has: moto keeps the source's time as the original one.
    const created = state?.createTime?.toISOString() ?? tagValue(block, 'OriginalSnapshotCreateTime')
    if (created) out = setTag(setTag(out, 'SnapshotCreateTime', created), 'OriginalSnapshotCreateTime', created)
    out = setTag(out, 'SnapshotType', 'manual')
    if (copy.sourceRegion === copy.region) return out
    return putTag(putTag(out, 'SourceRegion', copy.sourceRegion), 'SourceDBSnapshotIdentifier', copy.sourceArn)
  }

  /**
   * What the front knows of a snapshot in a region: a copy (creating until its source is available
   * and the copy time has passed), or a snapshot of the backed instance (its base backup's state).
   * Undefined for one that moto alone has.
   */
  private state(region: string, snapshot: string, depth = 0): SnapshotState | undefined {
    const copy = this.copies.get(region, snapshot)
    if (copy && depth < 10) {
      const source = this.state(copy.sourceRegion, copy.sourceId, depth + 1)
      if (source && source.status !== 'available') return {...source, readyAt: undefined}
      const readyAt = new Date(Math.max(copy.startedAt.getTime(), source?.readyAt?.getTime() ?? 0) + this.copyMs)
      return {status: Date.now() >= readyAt.getTime() ? 'available' : 'creating', backing: source?.backing, createTime: source?.createTime, readyAt}
    }
    if (region !== this.region) return undefined
    const backing = this.backingOf(snapshot)
    return backing ? {status: backing.status, backing, createTime: backing.startedAt, readyAt: backing.finishedAt} : undefined
  }

  /** The base backup a snapshot of the backed instance (in its region) restores from, if it is one. */
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

  snapshotTaken(instanceId: string, snapshotId: string, region = this.region): Promise<void> | undefined {
    if (!this.fleet || instanceId !== this.primary || region !== this.region) return undefined
    return this.fleet.takeBaseBackup(snapshotId).done.then(() => undefined)
  }

  restoreFromSnapshot(snapshotId: string, instanceId: string, region = this.region): Promise<void> | undefined {
    const fleet = this.fleet
    const backing = this.state(region, snapshotId)?.backing
    if (!fleet || !backing) return undefined
    return (async () => {
      if (backing.status !== 'available') throw new Error(`the base backup behind ${snapshotId} is ${backing.status}${backing.reason ? `: ${backing.reason}` : ''}`)
      await this.forgetStale(instanceId, region)
      const inst = fleet.restore(instanceId, {backup: backing}, {region: this.where(region)})
      await inst.settled
      if (inst.status !== 'available') throw new Error(inst.reason ?? `restoring ${instanceId} failed`)
    })()
  }

  /** moto just made this instance, so a database of that name is left from one deleted behind the front's back. */
  private async forgetStale(name: string, region = this.region): Promise<void> {
    if (this.fleet?.instance(name, this.where(region))) await this.fleet.drop(name, this.where(region))
  }
}

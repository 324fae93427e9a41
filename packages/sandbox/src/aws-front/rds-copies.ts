/**
 * Copies of RDS snapshots, within a region or across regions, as AWS makes them. moto 5.2.1 copies
 * a snapshot named by an ARN of another region, but its copy is `available` at once, dated when it
 * was copied, and says nothing of where it came from. AWS's copy is `creating` until the data is
 * across, keeps its source's SnapshotCreateTime, and (from another region) names its source in
 * SourceRegion and SourceDBSnapshotIdentifier. The front records each copy here and answers so.
 *
 * The schedule keeps a fresh copy in a secondary region while the sandbox runs, as an AWS Backup
 * copy rule or a snapshot-copy schedule would: a new snapshot of the instance (a base backup of
 * its PostgreSQL) every interval, copied at once, the newest few of each kept.
 */
import {CopyDBSnapshotCommand, CreateDBSnapshotCommand, DeleteDBSnapshotCommand} from '@aws-sdk/client-rds'
import type {BaseBackup} from '../postgres/base-backups.js'
import type {PostgresFleet} from '../postgres/fleet.js'
import type {MotoClients} from './moto-clients.js'

export interface SnapshotCopy {
  /** Where the copy is, and its identifier (lower case, as RDS keeps it). */
  region: string
  id: string
  sourceRegion: string
  sourceId: string
  /** The source as AWS names it in SourceDBSnapshotIdentifier: its ARN. */
  sourceArn: string
  /** When it was asked for: the copy takes a while from then (or from when its source became available). */
  startedAt: Date
}

/** A snapshot named by identifier or ARN (arn:aws:rds:REGION:ACCOUNT:snapshot:ID), seen from `region`. */
export function snapshotRef(idOrArn: string, region: string): {region: string; id: string; account?: string} {
  const m = /^arn:aws[\w-]*:rds:([^:]*):(\d*):snapshot:(.+)$/.exec(idOrArn)
  return m ? {region: m[1] || region, id: m[3]!.toLowerCase(), account: m[2] || undefined} : {region, id: idOrArn.toLowerCase()}
}

export class SnapshotCopies {
  private readonly byKey = new Map<string, SnapshotCopy>()

  add(copy: SnapshotCopy): void {
    this.byKey.set(`${copy.region}/${copy.id.toLowerCase()}`, {...copy, id: copy.id.toLowerCase(), sourceId: copy.sourceId.toLowerCase()})
  }

  get(region: string, id: string): SnapshotCopy | undefined {
    return this.byKey.get(`${region}/${id.toLowerCase()}`)
  }

  forget(region: string, id: string): void {
    this.byKey.delete(`${region}/${id.toLowerCase()}`)
  }

  all(): SnapshotCopy[] {
    return [...this.byKey.values()]
  }
}

export interface CopyScheduleOptions {
  /** The region the copies go to. */
  to: string
  /** Time between one snapshot and the next (ms). */
  everyMs: number
  /** How many of the snapshots, and of their copies, are kept. Default 3. */
  keep?: number
  /** What a copy's identifier adds to its source's. Default: `-` and the region's second part (us-west-2: `-west`). */
  suffix?: string
  log?: (line: string) => void
}

interface Made {
  id: string
  copyId: string
  backup: BaseBackup
}

/** `clipper-sandbox-copy-20261202-021500`: RDS identifiers are lower case letters, digits and hyphens. */
function stamp(t: Date): string {
  const iso = t.toISOString()
  return `${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}`
}

/**
 * Every `everyMs`: a base backup of the primary exposed as a manual snapshot of the instance in its
 * region, then copied to `to`. The calls go to moto directly (not in the request log: they are
 * AWS's own doing, not a client's). Older snapshots and copies beyond `keep` are deleted, and their
 * base backups removed once nothing needs them.
 */
export class CopySchedule {
  private timer?: NodeJS.Timeout
  private stopped = false
  private readonly made: Made[] = []
  /** Base backups of deleted snapshots that a restore (or another copy) still needed: removed later. */
  private readonly leftover: BaseBackup[] = []

  constructor(
    private readonly o: CopyScheduleOptions & {
      fleet: PostgresFleet
      moto: MotoClients
      /** The instance and its region. */
      instance: string
      region: string
      copies: SnapshotCopies
      /** Whether a base backup must stay (a restore is copying it, or a copy made by someone else is of it). */
      needed(backup: BaseBackup): boolean
    },
  ) {}

  start(): void {
    this.next(Date.now() + this.o.everyMs)
  }

  /** No more snapshots; one being made stops at its next step. */
  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
  }

  /** The snapshots (and copies) the schedule made and still keeps, oldest first. */
  kept(): {id: string; copyId: string}[] {
    return this.made.map(({id, copyId}) => ({id, copyId}))
  }

  private next(at: number): void {
    if (this.stopped) return
    this.timer = setTimeout(
      () => {
        const started = Date.now()
        void this.tick()
          .catch((e: Error) => this.log(`snapshot copy failed: ${e.message}`))
          .finally(() => this.next(started + this.o.everyMs))
      },
      Math.max(0, at - Date.now()),
    )
    this.timer.unref()
  }

  private log(line: string): void {
    if (!this.stopped) this.o.log?.(line)
  }

  private async tick(): Promise<void> {
    const {fleet, moto, instance, region, to} = this.o
    const at = new Date()
    const id = `${instance}-copy-${stamp(at)}`.toLowerCase()
    const copyId = `${id}${this.o.suffix ?? `-${to.split('-')[1] ?? to}`}`.toLowerCase()
    if (this.stopped || this.made.some((m) => m.id === id)) return
    const taken = fleet.takeBaseBackup(id)
    const source = moto.rds(region)
    let arn: string
    try {
      arn = (await source.send(new CreateDBSnapshotCommand({DBInstanceIdentifier: instance, DBSnapshotIdentifier: id}))).DBSnapshot!.DBSnapshotArn!
    } catch (e) {
      await taken.done.catch(() => undefined)
      fleet.backups.remove(taken.backup)
      throw e
    }
    try {
      await taken.done
    } catch (e) {
      // A snapshot that failed is not kept, nor is what its backup left.
      await source.send(new DeleteDBSnapshotCommand({DBSnapshotIdentifier: id})).catch(() => undefined)
      fleet.backups.remove(taken.backup)
      throw e
    }
    if (this.stopped) return
    await moto.rds(to).send(new CopyDBSnapshotCommand({SourceDBSnapshotIdentifier: arn, TargetDBSnapshotIdentifier: copyId}))
    this.o.copies.add({region: to, id: copyId, sourceRegion: region, sourceId: id, sourceArn: arn, startedAt: new Date()})
    this.made.push({id, copyId, backup: taken.backup})
    const b = taken.backup
    this.log(`snapshot copy: ${id} (base backup ${b.id}, ${b.finishedAt!.getTime() - b.startedAt.getTime()}ms) copied to ${to} as ${copyId}`)
    await this.prune()
  }

  private async prune(): Promise<void> {
    const {moto, region, to, fleet} = this.o
    while (this.made.length > (this.o.keep ?? 3)) {
      const old = this.made.shift()!
      await Promise.all([
        moto
          .rds(region)
          .send(new DeleteDBSnapshotCommand({DBSnapshotIdentifier: old.id}))
          .catch(() => undefined),
        moto
          .rds(to)
          .send(new DeleteDBSnapshotCommand({DBSnapshotIdentifier: old.copyId}))
          .catch(() => undefined),
      ])
      this.o.copies.forget(to, old.copyId)
      this.leftover.push(old.backup)
    }
    for (const b of [...this.leftover]) {
      if (this.o.needed(b)) continue
      fleet.backups.remove(b)
      this.leftover.splice(this.leftover.indexOf(b), 1)
    }
  }
}

/**
 * Base backups of the primary (pg_basebackup, plain format, with the WAL it needs streamed in),
 * each a directory with a JSON sidecar beside it: {id, label, startedAt, finishedAt}. A base
 * backup plus the WAL archive is what every restore starts from; RDS snapshots are base backups
 * named for them.
 */
import {randomBytes} from 'node:crypto'
import {rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {runPg, type PgBinaries} from './binaries.js'

export type BaseBackupStatus = 'creating' | 'available' | 'failed'

export interface BaseBackup {
  id: string
  /** What it was taken for: "initial", or the RDS snapshot identifier it backs. */
  label: string
  dir: string
  status: BaseBackupStatus
  startedAt: Date
  finishedAt?: Date
  /** Why it failed. */
  reason?: string
}

export interface BaseBackupSidecar {
  id: string
  label: string
  startedAt: string
  finishedAt: string
}

export class BaseBackups {
  private readonly list: BaseBackup[] = []

  constructor(private readonly o: {pg: PgBinaries; root: string; port: number; superPassword: string; cwd: string}) {}

  /** Starts a base backup; it is listed (as creating) at once, and `done` settles when it finishes. */
  take(label: string): {backup: BaseBackup; done: Promise<BaseBackup>} {
    const id = `${new Date()
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z')}-${label.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 60)}-${randomBytes(2).toString('hex')}`
    const backup: BaseBackup = {id, label, dir: join(this.o.root, id), status: 'creating', startedAt: new Date()}
    this.list.push(backup)
    const done = runPg(
      this.o.pg,
      'pg_basebackup',
      ['-h', '127.0.0.1', '-p', String(this.o.port), '-U', 'postgres', '-D', backup.dir, '-Fp', '-X', 'stream', '-c', 'fast', '--no-sync', '-l', `clipper-ops sandbox ${label}`],
      {cwd: this.o.cwd, env: {PGPASSWORD: this.o.superPassword}},
    ).then(
      () => {
        backup.finishedAt = new Date()
        backup.status = 'available'
        const sidecar: BaseBackupSidecar = {id, label, startedAt: backup.startedAt.toISOString(), finishedAt: backup.finishedAt.toISOString()}
        writeFileSync(`${backup.dir}.json`, `${JSON.stringify(sidecar, null, 2)}\n`)
        return backup
      },
      (e: Error) => {
        backup.status = 'failed'
        backup.reason = e.message
        throw e
      },
    )
    // A failure is read from the backup's status by whoever did not await it.
    done.catch(() => undefined)
    return {backup, done}
  }

  /** Forgets a backup and removes its files (the RDS snapshots it backed are gone). */
  remove(backup: BaseBackup): void {
    const at = this.list.indexOf(backup)
    if (at >= 0) this.list.splice(at, 1)
    rmSync(backup.dir, {recursive: true, force: true})
    rmSync(`${backup.dir}.json`, {force: true})
  }

  all(): BaseBackup[] {
    return [...this.list]
  }

  available(): BaseBackup[] {
    return this.list.filter((b) => b.status === 'available')
  }

  /** The first backup taken: what backs history older than the sandbox (seeded recovery points, the automated snapshot). */
  first(): BaseBackup | undefined {
    return this.list[0]
  }

  byLabel(label: string): BaseBackup | undefined {
    return this.list.findLast((b) => b.label === label)
  }

  /** Restores begin at the end of a backup: the oldest one that finished bounds the restorable window. */
  earliestRestorable(): Date | undefined {
    const done = this.available().map((b) => b.finishedAt!.getTime())
    return done.length ? new Date(Math.min(...done)) : undefined
  }

  /** The newest backup that finished at or before `t`: the least WAL to replay. */
  newestFinishedBy(t: Date): BaseBackup | undefined {
    return this.available()
      .filter((b) => b.finishedAt!.getTime() <= t.getTime())
      .sort((a, b) => b.finishedAt!.getTime() - a.finishedAt!.getTime())[0]
  }
}

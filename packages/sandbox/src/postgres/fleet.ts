/**
 * The sandbox's PostgreSQL: the primary that backs the RDS instance (WAL archived every few
 * seconds, base backups, a writer adding clip views) and the copies restored from it. It owns
 * every server it starts, and `stop()` leaves none running and no data behind.
 */
import {randomBytes} from 'node:crypto'
import {chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {basename, join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import pg from 'pg'
import {freePort} from '../aws-front/moto.js'
import {findPostgres, runPg, type PgBinaries} from './binaries.js'
import {BaseBackups, type BaseBackup} from './base-backups.js'
import {cleanupPostgres, postgresStateFile, type PostgresState} from './cleanup.js'
import {CLIPPER_DB, CLIPPER_ROLE, CLIPPER_SCHEMA_AND_DATA, createRoleAndDatabase} from './clipper-data.js'
import {appendSettings, commonSettings, connect, connectionUrl, startCluster, stopCluster, writeHba, type Login} from './cluster.js'
import {restoreCluster, type RecoveryTarget} from './restore.js'
import {ViewWriter} from './writer.js'

export interface PostgresStatus {
  port: number
  dataRoot: string
  archiveDir: string
  baseBackups: number
}

export type InstanceStatus = 'creating' | 'available' | 'failed'

export interface RestoredInstance {
  name: string
  /** The AWS region it was restored in, when not the primary's own (a cross-region restore from a copy). */
  region?: string
  status: InstanceStatus
  port: number
  dataDir: string
  backup: BaseBackup
  target: RecoveryTarget
  startedAt: Date
  readyAt?: Date
  reason?: string
  /** Settles when the copy is up (or failed). Never rejects. */
  settled: Promise<void>
}

interface Secrets {
  clipperPassword: string
  superuserPassword: string
}

export interface FleetOptions {
  /** The sandbox's own directory (<state dir>/sandbox): secrets and the data root's record go there. */
  sandboxDir: string
  log(line: string): void
  env?: NodeJS.ProcessEnv
  writerEveryMs?: number
}

/** Passwords made once per sandbox and kept in its state dir (0600), so a restart keeps them. */
function secretsFor(sandboxDir: string): Secrets {
  const file = join(sandboxDir, 'postgres-secrets.json')
  try {
    const s = JSON.parse(readFileSync(file, 'utf8')) as Secrets
    if (s.clipperPassword && s.superuserPassword) return s
  } catch {
    /* made below */
  }
  const s: Secrets = {clipperPassword: randomBytes(18).toString('hex'), superuserPassword: randomBytes(18).toString('hex')}
  mkdirSync(sandboxDir, {recursive: true})
  writeFileSync(file, `${JSON.stringify(s)}\n`, {mode: 0o600})
  return s
}

/** What the clipper role's password will be (for seeding the RDS record before PostgreSQL is up). */
export function clipperPassword(sandboxDir: string): string {
  return secretsFor(sandboxDir).clipperPassword
}

/**
 * How restored instances are keyed: by name in the primary's own region, and by region and name
 * elsewhere (one name can be taken in two regions). RDS identifiers never hold two hyphens in a
 * row, so the key (and the data directory named for it) cannot be another instance's.
 */
export function instanceKey(name: string, region?: string): string {
  return region ? `${region}--${name}` : name
}

export class PostgresFleet {
  /** Restored instances by instanceKey(name, region). */
  readonly instances = new Map<string, RestoredInstance>()
  private readonly aborts = new Map<string, AbortController>()
  private admin: pg.Pool
  private writer: ViewWriter
  private lastArchived?: Date
  private stopped = false

  private constructor(
    readonly bin: PgBinaries,
    private readonly o: FleetOptions,
    readonly dataRoot: string,
    readonly port: number,
    private readonly secrets: Secrets,
    readonly backups: BaseBackups,
    /** When the primary was made (initdb): the database's own creation time. */
    readonly createdAt: Date,
  ) {
    this.admin = new pg.Pool({host: '127.0.0.1', port, user: 'postgres', password: secrets.superuserPassword, database: 'postgres', max: 2, connectionTimeoutMillis: 5000})
    this.admin.on('error', () => undefined) // an idle client whose server went away: the next query says so
    this.writer = new ViewWriter(this.login(), o.log, o.writerEveryMs ?? 500)
  }

  /**
   * Makes the primary: initdb, settings, start, the clipper role, database and data, the writer,
   * and the first base backup. Without PostgreSQL it returns why, and nothing runs.
   */
  static async start(o: FleetOptions): Promise<{fleet: PostgresFleet} | {warning: string}> {
    const found = findPostgres(o.env)
    if (!found.ok)
      return {
        warning: `No PostgreSQL: ${found.reason}. The sandbox's RDS instance keeps moto's fake endpoint, and restores make no database to query. Install PostgreSQL's server (apt-get install postgresql-15) and restart the sandbox.`,
      }
    const pgb = found.pg
    await cleanupPostgres(o.sandboxDir)
    const secrets = secretsFor(o.sandboxDir)
    // As root the servers run as postgres, which cannot enter the (0700, root's) state dir.
    const dataRoot = pgb.runAs ? join(tmpdir(), `clipper-ops-pg-${randomBytes(6).toString('hex')}`) : join(o.sandboxDir, 'postgres')
    rmSync(dataRoot, {recursive: true, force: true})
    mkdirSync(dataRoot, {recursive: true, mode: 0o700})
    const state: PostgresState = {version: 1, dataRoot, createdAt: new Date().toISOString()}
    writeFileSync(postgresStateFile(o.sandboxDir), `${JSON.stringify(state, null, 2)}\n`)
    // The servers' user owns it all; only the top is open (0755), for tools to find their way in.
    const own = (dir: string, mode: number) => {
      if (!pgb.runAs) return
      chmodSync(dir, mode)
      chownSync(dir, pgb.runAs.uid, pgb.runAs.gid)
    }
    own(dataRoot, 0o755)
    for (const d of ['archive', 'backups', 'instances', 'logs']) {
      mkdirSync(join(dataRoot, d), {recursive: true, mode: 0o700})
      own(join(dataRoot, d), 0o700)
    }
    try {
      return {fleet: await PostgresFleet.makePrimary(pgb, o, dataRoot, secrets)}
    } catch (e) {
      await cleanupPostgres(o.sandboxDir)
      return {
        warning: `PostgreSQL did not start (${(e as Error).message.split('\n')[0]}). The sandbox's RDS instance keeps moto's fake endpoint, and restores make no database to query.`,
      }
    }
  }

  private static async makePrimary(pgb: PgBinaries, o: FleetOptions, dataRoot: string, secrets: Secrets): Promise<PostgresFleet> {
    const createdAt = new Date()
    const took: string[] = []
    let lap = Date.now()
    const mark = (what: string) => {
      took.push(`${what} ${Date.now() - lap}ms`)
      lap = Date.now()
    }
    const primary = join(dataRoot, 'primary')
    const archive = join(dataRoot, 'archive')
    const pwfile = join(dataRoot, 'superuser-password')
    writeFileSync(pwfile, `${secrets.superuserPassword}\n`, {mode: 0o600})
    if (pgb.runAs) chownSync(pwfile, pgb.runAs.uid, pgb.runAs.gid)
    try {
      await runPg(pgb, 'initdb', ['-D', primary, '-U', 'postgres', `--pwfile=${pwfile}`, '--auth=scram-sha-256', '--wal-segsize=1', '-E', 'UTF8', '--locale=C', '--no-sync'], {
        cwd: dataRoot,
      })
    } finally {
      rmSync(pwfile, {force: true})
    }
    mark('initdb')
    writeHba(primary)
    const settingsFor = (port: number) => ({
      ...commonSettings(port),
      wal_level: 'replica',
      archive_mode: true,
      // Copied under a temporary name and renamed: a restore never reads a half-copied segment.
      archive_command: `test ! -f "${archive}/%f" && cp "%p" "${archive}/.%f.tmp" && mv "${archive}/.%f.tmp" "${archive}/%f"`,
      archive_timeout: '5s',
    })
    let port: number
    // A free port can be taken by someone else before the server binds it: try another.
    for (let attempt = 1; ; attempt++) {
      port = await freePort()
      appendSettings(primary, 'clipper-ops sandbox: the primary behind the RDS instance', settingsFor(port))
      try {
        await startCluster({pg: pgb, dataDir: primary, port, logFile: join(dataRoot, 'logs', 'primary.log'), cwd: dataRoot})
        break
      } catch (e) {
        if (attempt >= 3) throw e
      }
    }
    mark('start')
    const superuser: Login = {port, user: 'postgres', password: secrets.superuserPassword, database: 'postgres'}
    const admin = await connect(superuser)
    try {
      await createRoleAndDatabase(admin, secrets.clipperPassword)
    } finally {
      await admin.end()
    }
    const clipper = await connect({port, user: CLIPPER_ROLE, password: secrets.clipperPassword, database: CLIPPER_DB})
    try {
      await clipper.query(CLIPPER_SCHEMA_AND_DATA)
    } finally {
      await clipper.end()
    }
    mark('seed')
    const backups = new BaseBackups({pg: pgb, root: join(dataRoot, 'backups'), port, superPassword: secrets.superuserPassword, cwd: dataRoot})
    const fleet = new PostgresFleet(pgb, o, dataRoot, port, secrets, backups, createdAt)
    // Writing before the first backup: what it holds ends at the sandbox's start, not at the seed
    // (whose newest row is an hour old). The backup waits for the first row, else it could start
    // before the writer's first insert commits (it did on a loaded machine: a drill then measured
    // an RPO of 1h2m). A writer that cannot write within 10 s says so in the log, and the backup goes on.
    fleet.writer.start()
    await Promise.race([fleet.writer.firstRow, new Promise((resolve) => setTimeout(resolve, 10_000).unref())])
    try {
      await backups.take('initial').done
    } catch (e) {
      await fleet.stop()
      throw e
    }
    mark('first base backup')
    o.log(`postgres: ${took.join(', ')}`)
    return fleet
  }

  get archiveDir(): string {
    return join(this.dataRoot, 'archive')
  }

  /** The clipper role's login, on the primary or (port) on a restored copy: restores keep the source's users. */
  login(port = this.port): Login {
    return {port, user: CLIPPER_ROLE, password: this.secrets.clipperPassword, database: CLIPPER_DB}
  }

  databaseUrl(port = this.port): string {
    return connectionUrl(this.login(port))
  }

  status(): PostgresStatus {
    return {port: this.port, dataRoot: this.dataRoot, archiveDir: this.archiveDir, baseBackups: this.backups.available().length}
  }

  /**
   * When the archiver last copied a segment: everything committed before it is in the archive,
   * so restorable. The last known value when the primary does not answer.
   */
  async lastArchivedTime(): Promise<Date | undefined> {
    try {
      const {rows} = await this.admin.query<{t: Date | null}>('select last_archived_time as t from pg_stat_archiver')
      if (rows[0]?.t) this.lastArchived = rows[0].t
    } catch {
      /* the last known value */
    }
    return this.lastArchived
  }

  takeBaseBackup(label: string): {backup: BaseBackup; done: Promise<BaseBackup>} {
    // Stopping: no new pg_basebackup may write under a data root being removed.
    if (this.stopped) throw new Error(`PostgreSQL is stopping: no base backup for ${label}`)
    const taken = this.backups.take(label)
    taken.done.then(
      (b) => this.o.log(`postgres: base backup ${b.id} (${label}) taken in ${b.finishedAt!.getTime() - b.startedAt.getTime()}ms`),
      (e: Error) => this.o.log(`postgres: base backup for ${label} failed: ${e.message}`),
    )
    return taken
  }

  /**
   * Recovery to a time stops at the first commit after it, and fails if the archive ends first.
   * So: commit something now (after the target), switch to a new segment, and wait until the
   * archiver has copied the one with that commit in it.
   */
  private async archivePast(): Promise<void> {
    const client = await this.admin.connect()
    let segment: string
    try {
      await client.query('select txid_current()')
      segment = (await client.query<{s: string}>('select pg_walfile_name(pg_current_wal_lsn()) as s')).rows[0]!.s
      await client.query('select pg_switch_wal()')
    } finally {
      client.release()
    }
    const until = Date.now() + 60_000
    for (;;) {
      const {rows} = await this.admin.query<{w: string | null; f: string | null}>('select last_archived_wal as w, last_failed_wal as f from pg_stat_archiver')
      const last = rows[0]?.w ?? ''
      // Segment names sort in WAL order; a ".backup" file of the same segment does not count.
      if (last.slice(0, 24) > segment || last === segment) return
      if (Date.now() > until)
        throw new Error(`the archiver has not archived WAL segment ${segment} within 60s (last archived ${last || 'none'}, last failed ${rows[0]?.f ?? 'none'})`)
      await sleep(50)
    }
  }

  /** A restored instance, by its name and region (none: the primary's own). */
  instance(name: string, region?: string): RestoredInstance | undefined {
    return this.instances.get(instanceKey(name, region))
  }

  /**
   * Restores a new instance in the background: from the newest base backup that finished by the
   * target time (or from `backup` to its end). Listed as creating at once. In another region
   * (`region`) only a base backup can be restored, and only with the WAL it holds itself: the
   * primary's archive is in the primary's region, which a cross-region restore does without.
   */
  restore(name: string, from: {time: Date} | {backup: BaseBackup}, o: {region?: string} = {}): RestoredInstance {
    const key = instanceKey(name, o.region)
    const label = o.region ? `${name} (${o.region})` : name
    if (this.instances.has(key)) throw new Error(`a restored instance ${label} exists already`)
    if (o.region && 'time' in from) throw new Error(`a restore to a point in time cannot be made in ${o.region}: only the primary's region has its WAL archive`)
    const target: RecoveryTarget = 'time' in from ? {time: from.time} : 'immediate'
    const backup = 'backup' in from ? from.backup : this.backups.newestFinishedBy(from.time)
    if (!backup) throw new Error(`no base backup finished by ${'time' in from ? from.time.toISOString() : ''}`)
    const abort = new AbortController()
    // RDS identifiers are letters, digits and hyphens; anything else never becomes a path.
    const dataDir = join(this.dataRoot, 'instances', key.replace(/[^A-Za-z0-9-]/g, '_'))
    const inst: RestoredInstance = {
      name,
      ...(o.region ? {region: o.region} : {}),
      status: 'creating',
      port: 0,
      dataDir,
      backup,
      target,
      startedAt: new Date(),
      settled: Promise.resolve(),
    }
    // A backup taken with its WAL (pg_basebackup -X stream) recovers to its end from that WAL alone:
    // elsewhere than the primary's region, restore_command looks in an archive that is not there.
    const archiveDir = o.region ? join(this.dataRoot, 'no-archive-in', o.region) : this.archiveDir
    const what = target === 'immediate' ? `from base backup ${backup.id} (${backup.label}) to its end` : `to ${target.time.toISOString()} from base backup ${backup.id}`
    inst.settled = (async () => {
      try {
        inst.port = await freePort()
        if (target !== 'immediate') await this.archivePast()
        await restoreCluster({
          pg: this.bin,
          backup,
          target,
          dataDir,
          port: inst.port,
          logFile: `${join(this.dataRoot, 'logs', basename(dataDir))}.log`,
          archiveDir,
          cwd: this.dataRoot,
          login: {user: 'postgres', password: this.secrets.superuserPassword, database: 'postgres'},
          signal: abort.signal,
        })
        if (abort.signal.aborted) return
        inst.status = 'available'
        inst.readyAt = new Date()
        this.o.log(`postgres: ${label} restored ${what} in ${inst.readyAt.getTime() - inst.startedAt.getTime()}ms, on port ${inst.port}`)
      } catch (e) {
        if (abort.signal.aborted) return
        inst.status = 'failed'
        inst.reason = (e as Error).message
        this.o.log(`postgres: restoring ${label} ${what} failed: ${inst.reason}`)
        // A failed copy keeps no server running; its log stays in logs/.
        await stopCluster({pg: this.bin, dataDir, cwd: this.dataRoot}).catch(() => undefined)
      }
    })()
    this.instances.set(key, inst)
    this.aborts.set(key, abort)
    return inst
  }

  /** Stops a restored instance's server and removes its data. False when there is no such instance (in that region). */
  async drop(name: string, region?: string): Promise<boolean> {
    const key = instanceKey(name, region)
    const inst = this.instances.get(key)
    if (!inst) return false
    this.aborts.get(key)?.abort()
    await inst.settled
    await stopCluster({pg: this.bin, dataDir: inst.dataDir, cwd: this.dataRoot})
    rmSync(inst.dataDir, {recursive: true, force: true})
    this.instances.delete(key)
    this.aborts.delete(key)
    this.o.log(`postgres: ${region ? `${name} (${region})` : name} stopped and its data removed`)
    return true
  }

  /** Whether a restore from this backup is still copying it (so it must stay). */
  restoring(backup: BaseBackup): boolean {
    return [...this.instances.values()].some((i) => i.backup === backup && i.status === 'creating')
  }

  /** Every server stopped (pg_ctl stop -m fast), every directory removed. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    for (const a of this.aborts.values()) a.abort()
    // Restores in progress end at their next step (their programs are cancelled).
    await Promise.race([Promise.allSettled([...this.instances.values()].map((i) => i.settled)), sleep(3000)])
    await this.writer.stop()
    await this.admin.end().catch(() => undefined)
    const dirs = [join(this.dataRoot, 'primary'), ...[...this.instances.values()].map((i) => i.dataDir)]
    await Promise.allSettled(dirs.map((dataDir) => stopCluster({pg: this.bin, dataDir, cwd: this.dataRoot})))
    // Whatever did not stop (and the data): the same cleanup `sandbox down` does.
    await cleanupPostgres(this.o.sandboxDir)
    if (existsSync(this.dataRoot)) rmSync(this.dataRoot, {recursive: true, force: true})
  }
}

/**
 * One PostgreSQL cluster (a data directory and the server on it): its settings, start and stop
 * through pg_ctl, and a client to it. The primary and every restored instance are one each.
 */
import {appendFileSync, existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import pg from 'pg'
import {runPg, type PgBinaries} from './binaries.js'

export interface ClusterSpec {
  pg: PgBinaries
  dataDir: string
  port: number
  logFile: string
  /** Where pg_ctl and friends run from: a directory the server's user can reach. */
  cwd: string
  signal?: AbortSignal
}

/** A value in postgresql.conf's syntax. */
function confValue(v: string | number | boolean): string {
  if (typeof v === 'number') return String(v)
  if (typeof v === 'boolean') return v ? 'on' : 'off'
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`
}

/**
 * Appends settings to postgresql.conf: the last occurrence of a setting wins, so a restored copy
 * overrides what it inherited from the primary's file by appending.
 */
export function appendSettings(dataDir: string, why: string, settings: Record<string, string | number | boolean>): void {
  const lines = Object.entries(settings).map(([k, v]) => `${k} = ${confValue(v)}`)
  appendFileSync(join(dataDir, 'postgresql.conf'), `\n# ${why}\n${lines.join('\n')}\n`)
}

/** Only password (SCRAM) logins over 127.0.0.1; no Unix socket is opened at all. */
export function writeHba(dataDir: string): void {
  writeFileSync(
    join(dataDir, 'pg_hba.conf'),
    '# clipper-ops sandbox: SCRAM passwords over loopback only.\nhost all all 127.0.0.1/32 scram-sha-256\nhost replication all 127.0.0.1/32 scram-sha-256\n',
  )
}

/** The settings every sandbox cluster shares: small, loopback only, no fsync (disposable data). */
export function commonSettings(port: number): Record<string, string | number | boolean> {
  return {
    listen_addresses: '127.0.0.1',
    port,
    unix_socket_directories: '',
    max_connections: 40,
    shared_buffers: '16MB',
    // Disposable data: crash safety is not worth the sandbox's disk time. WAL, archiving and
    // recovery work the same.
    fsync: false,
    // 1 MB segments: keep few of them around rather than PostgreSQL's default 80 MB.
    min_wal_size: '4MB',
    max_wal_size: '64MB',
    log_line_prefix: '%m [%p] ',
  }
}

export async function startCluster(c: ClusterSpec): Promise<void> {
  await runPg(c.pg, 'pg_ctl', ['-D', c.dataDir, '-l', c.logFile, '-w', '-t', '60', 'start'], {cwd: c.cwd, cancelSignal: c.signal})
}

/** pg_ctl stop -m fast; a cluster that is not running is already stopped. */
export async function stopCluster(c: Pick<ClusterSpec, 'pg' | 'dataDir' | 'cwd'>): Promise<void> {
  if (!postmasterPid(c.dataDir)) return
  await runPg(c.pg, 'pg_ctl', ['-D', c.dataDir, '-m', 'fast', '-w', '-t', '15', 'stop'], {cwd: c.cwd}).catch((e: Error) => {
    // Gone meanwhile: nothing to stop.
    if (postmasterPid(c.dataDir)) throw e
  })
}

/** The postmaster's pid from its lock file, when one is there. */
export function postmasterPid(dataDir: string): number | undefined {
  const file = join(dataDir, 'postmaster.pid')
  if (!existsSync(file)) return undefined
  try {
    const pid = Number(readFileSync(file, 'utf8').split('\n')[0])
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

export interface Login {
  port: number
  user: string
  password: string
  database: string
}

export function connectionUrl(l: Login): string {
  return `postgres://${encodeURIComponent(l.user)}:${encodeURIComponent(l.password)}@127.0.0.1:${l.port}/${encodeURIComponent(l.database)}`
}

/** A connected client; errors after connecting (the server going away) are reported, never thrown. */
export async function connect(l: Login, onError: (e: Error) => void = () => undefined): Promise<pg.Client> {
  const client = new pg.Client({host: '127.0.0.1', port: l.port, user: l.user, password: l.password, database: l.database, connectionTimeoutMillis: 5000})
  client.on('error', onError)
  try {
    await client.connect()
  } catch (e) {
    await client.end().catch(() => undefined)
    throw e
  }
  return client
}

/** One query on a connection of its own. */
export async function queryOnce<T extends pg.QueryResultRow = Record<string, unknown>>(l: Login, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = await connect(l)
  try {
    return (await client.query<T>(sql, params)).rows
  } finally {
    await client.end().catch(() => undefined)
  }
}

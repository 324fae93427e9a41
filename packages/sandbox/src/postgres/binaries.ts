/**
 * Where the PostgreSQL server programs are, and how to run them. PostgreSQL refuses to run as
 * root, and the sandbox runs as root in CI: then every server program runs as the `postgres`
 * system user (through runuser, or setpriv where runuser is missing), always from an argument
 * array, never a shell string.
 */
import {execFileSync} from 'node:child_process'
import {existsSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {execa, type Options} from 'execa'

export const PG_TOOLS = ['initdb', 'pg_ctl', 'postgres', 'pg_basebackup'] as const
export type PgTool = (typeof PG_TOOLS)[number]

export interface PgBinaries {
  bindir: string
  /** The server's major version, e.g. 15. */
  major: number
  /** Set when we are root: the user the server programs run as. */
  runAs?: {user: string; uid: number; gid: number; via: 'runuser' | 'setpriv'}
}

export type PgLookup = {ok: true; pg: PgBinaries} | {ok: false; reason: string}

function hasTools(dir: string): boolean {
  return PG_TOOLS.every((t) => existsSync(join(dir, t)))
}

/** Newest first: /usr/lib/postgresql/16/bin before 15/bin. */
function debianBindirs(): string[] {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return []
  return readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => join(root, v, 'bin'))
}

function pgConfigBindir(): string | undefined {
  try {
    return execFileSync('pg_config', ['--bindir'], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).trim() || undefined
  } catch {
    return undefined
  }
}

function which(name: string): string | undefined {
  return ['/usr/sbin', '/usr/bin', '/sbin', '/bin'].map((d) => join(d, name)).find((p) => existsSync(p))
}

function idOf(user: string): {uid: number; gid: number} | undefined {
  try {
    const [uid, gid] = ['-u', '-g'].map((f) => Number(execFileSync('id', [f, user], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']}).trim()))
    return Number.isInteger(uid) && Number.isInteger(gid) ? {uid: uid!, gid: gid!} : undefined
  } catch {
    return undefined
  }
}

/**
 * Finds the server programs: CLIPPER_OPS_SANDBOX_PG_BINDIR when set (a directory without them
 * means "no PostgreSQL", which tests use), else `pg_config --bindir`, else /usr/lib/postgresql/N/bin.
 */
export function findPostgres(env: NodeJS.ProcessEnv = process.env): PgLookup {
  const explicit = env.CLIPPER_OPS_SANDBOX_PG_BINDIR
  const candidates = explicit !== undefined ? [explicit] : [pgConfigBindir(), ...debianBindirs()].filter((d): d is string => !!d)
  const bindir = candidates.find((d) => d && hasTools(d))
  if (!bindir) {
    const where = explicit !== undefined ? `CLIPPER_OPS_SANDBOX_PG_BINDIR=${explicit}` : 'pg_config --bindir and /usr/lib/postgresql/*/bin'
    return {ok: false, reason: `no PostgreSQL server (${PG_TOOLS.join(', ')}) in ${where}`}
  }
  let major: number
  try {
    major = Number(/(\d+)/.exec(execFileSync(join(bindir, 'postgres'), ['--version'], {encoding: 'utf8'}))?.[1] ?? 0)
  } catch {
    return {ok: false, reason: `${join(bindir, 'postgres')} --version failed`}
  }
  if (process.getuid?.() !== 0) return {ok: true, pg: {bindir, major}}
  const ids = idOf('postgres')
  if (!ids) return {ok: false, reason: 'running as root, and there is no postgres system user to run PostgreSQL as (it refuses to run as root)'}
  const runuser = which('runuser')
  const setpriv = which('setpriv')
  if (!runuser && !setpriv) return {ok: false, reason: 'running as root, and neither runuser nor setpriv is there to run PostgreSQL as the postgres user'}
  return {ok: true, pg: {bindir, major, runAs: {user: 'postgres', ...ids, via: runuser ? 'runuser' : 'setpriv'}}}
}

/** The argument vector that runs `file args` as the server's user. */
export function asServerUser(pg: PgBinaries, file: string, args: string[]): [string, string[]] {
  if (!pg.runAs) return [file, args]
  if (pg.runAs.via === 'runuser') return ['runuser', ['-u', pg.runAs.user, '--', file, ...args]]
  return ['setpriv', ['--reuid', String(pg.runAs.uid), '--regid', String(pg.runAs.gid), '--init-groups', '--', file, ...args]]
}

/** Runs a server program (or any other, like cp) as the server's user; throws with its output on failure. */
export async function runPg(pg: PgBinaries, tool: PgTool | {path: string}, args: string[], opts: Options = {}): Promise<string> {
  const file = typeof tool === 'string' ? join(pg.bindir, tool) : tool.path
  const [cmd, argv] = asServerUser(pg, file, args)
  const r = await execa(cmd, argv, {reject: false, all: true, stdin: 'ignore', ...opts})
  if (r.exitCode !== 0) {
    const out = String(r.all ?? '')
      .trim()
      .split('\n')
      .slice(-8)
      .join('\n')
    throw new Error(`${typeof tool === 'string' ? tool : tool.path} ${args[0] ?? ''} failed (exit ${r.exitCode ?? r.signal}): ${out}`)
  }
  return String(r.stdout ?? '')
}

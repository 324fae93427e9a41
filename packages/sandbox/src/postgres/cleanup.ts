/**
 * Where a sandbox's PostgreSQL data is (recorded in its state dir, as the data may live outside
 * it), and how to be rid of it: every server stopped, every directory removed. The daemon stops
 * its servers itself; `sandbox down` calls this afterwards too, for a daemon that died without
 * doing so. Node built-ins only: the CLI's `sandbox` commands load it.
 */
import {existsSync, readFileSync, readdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

export interface PostgresState {
  version: 1
  /** Everything: the primary, the WAL archive, base backups, restored copies, logs. */
  dataRoot: string
  createdAt: string
}

/** The record of a sandbox's PostgreSQL data, in its sandbox/ directory. */
export function postgresStateFile(sandboxDir: string): string {
  return join(sandboxDir, 'postgres.json')
}

export function readPostgresState(sandboxDir: string): PostgresState | undefined {
  try {
    const s = JSON.parse(readFileSync(postgresStateFile(sandboxDir), 'utf8')) as PostgresState
    return typeof s.dataRoot === 'string' && s.dataRoot.length > 1 ? s : undefined
  } catch {
    return undefined
  }
}

/** The data directories servers may run on: the primary and each restored copy. */
export function clusterDirs(dataRoot: string): string[] {
  const instances = join(dataRoot, 'instances')
  const restored = existsSync(instances) ? readdirSync(instances).map((d) => join(instances, d)) : []
  return [join(dataRoot, 'primary'), ...restored]
}

/** Alive and not a zombie (an exited server whose parent has not reaped it yet is gone). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    try {
      process.kill(pid, 0)
      return true
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'EPERM'
    }
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')
  } catch {
    return ''
  }
}

/** Processes whose command line names a path under `dir` (a server's -D, a pg_basebackup's target). */
function processesUnder(dir: string): number[] {
  if (!existsSync('/proc')) return []
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid)
    .map(Number)
    .filter((pid) => cmdline(pid).includes(dir) && running(pid))
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig)
  } catch {
    /* gone */
  }
}

/**
 * Stops every server under the data root (SIGINT is PostgreSQL's fast shutdown; SIGQUIT then
 * SIGKILL for one that does not), kills what else works there, and removes the data and the
 * record. Returns the pids it had to stop.
 */
export async function cleanupPostgres(sandboxDir: string): Promise<number[]> {
  const state = readPostgresState(sandboxDir)
  if (!state) return []
  const postmasters = clusterDirs(state.dataRoot).flatMap((dir) => {
    let pid: number | undefined
    try {
      pid = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0])
    } catch {
      return []
    }
    // A stale lock file's pid may be someone else's process now: only a server on this directory.
    return pid && running(pid) && cmdline(pid).includes(dir) ? [pid] : []
  })
  const stopped = [...postmasters]
  for (const pid of postmasters) signal(pid, 'SIGINT')
  const waitGone = async (pids: number[], ms: number) => {
    const until = Date.now() + ms
    while (Date.now() < until && pids.some(running)) await sleep(50)
  }
  await waitGone(postmasters, 5000)
  for (const pid of postmasters.filter(running)) signal(pid, 'SIGQUIT')
  await waitGone(postmasters, 2000)
  for (const pid of postmasters.filter(running)) signal(pid, 'SIGKILL')
  const others = processesUnder(state.dataRoot)
  for (const pid of others) signal(pid, 'SIGKILL')
  await waitGone([...postmasters, ...others], 2000)
  stopped.push(...others)
  rmSync(state.dataRoot, {recursive: true, force: true})
  rmSync(postgresStateFile(sandboxDir), {force: true})
  return stopped
}

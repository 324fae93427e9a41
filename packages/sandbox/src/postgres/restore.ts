/**
 * A new cluster made from a base backup by PostgreSQL's own archive recovery: the backup is
 * copied into a fresh data directory, given `restore_command` (the WAL archive), a recovery target
 * (a time, or "immediate": the end of the backup) and `recovery.signal`, and started; it replays
 * WAL up to the target and promotes itself. No row is copied by us.
 */
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {runPg, type PgBinaries} from './binaries.js'
import {appendSettings, postmasterPid, queryOnce, startCluster, type Login} from './cluster.js'
import type {BaseBackup} from './base-backups.js'

export type RecoveryTarget = {time: Date} | 'immediate'

export interface RestoreSpec {
  pg: PgBinaries
  backup: BaseBackup
  target: RecoveryTarget
  dataDir: string
  port: number
  logFile: string
  archiveDir: string
  cwd: string
  /** A login that works on the restored copy (the primary's superuser: its roles come along). */
  login: Omit<Login, 'port'>
  /** Stops waiting early (the instance is being deleted). */
  signal?: AbortSignal
  timeoutMs?: number
}

/** The archive's copy of each segment, as restore_command fetches it ("not there" is a non-zero exit). */
export function restoreCommand(archiveDir: string): string {
  return `cp "${archiveDir}/%f" "%p"`
}

/** A time as PostgreSQL's settings take it (they refuse ISO 8601's "T" and "Z"), to the millisecond. */
export function pgTimestamp(t: Date): string {
  return t.toISOString().replace('T', ' ').replace('Z', '+00')
}

function tail(file: string, lines = 6): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

/** Copies the backup, configures recovery, starts the server and returns once it has promoted. */
export async function restoreCluster(s: RestoreSpec): Promise<void> {
  // cp -a as the server's user: the copy is the server's own, with the backup's 0700 modes.
  await runPg(s.pg, {path: 'cp'}, ['-a', s.backup.dir, s.dataDir], {cwd: s.cwd, cancelSignal: s.signal})
  const target: Record<string, string> = s.target === 'immediate' ? {recovery_target: 'immediate'} : {recovery_target_time: pgTimestamp(s.target.time)}
  appendSettings(s.dataDir, 'clipper-ops sandbox: a restored copy (archive recovery to a target, then promote)', {
    port: s.port,
    // Never archive into the primary's archive: a restored copy's timeline history there would
    // be picked up by later restores.
    archive_mode: false,
    restore_command: restoreCommand(s.archiveDir),
    ...target,
    recovery_target_action: 'promote',
    recovery_target_timeline: 'current',
  })
  writeFileSync(join(s.dataDir, 'recovery.signal'), '')
  await startCluster({pg: s.pg, dataDir: s.dataDir, port: s.port, logFile: s.logFile, cwd: s.cwd, signal: s.signal}).catch((e: Error) => {
    throw new Error(`PostgreSQL did not start on the restored copy: ${e.message}\n${tail(s.logFile)}`)
  })
  const until = Date.now() + (s.timeoutMs ?? 300_000)
  for (;;) {
    if (s.signal?.aborted) throw new Error('restore cancelled')
    const inRecovery = await queryOnce<{r: boolean}>({...s.login, port: s.port}, 'select pg_is_in_recovery() as r').then(
      (rows) => rows[0]!.r,
      () => undefined,
    )
    if (inRecovery === false) return
    // Recovery that cannot reach its target stops the server (FATAL): say what the log says.
    if (!postmasterPid(s.dataDir) || !existsSync(s.dataDir)) throw new Error(`PostgreSQL stopped during recovery:\n${tail(s.logFile)}`)
    if (Date.now() > until) throw new Error(`still recovering after ${Math.round((s.timeoutMs ?? 300_000) / 1000)}s:\n${tail(s.logFile)}`)
    await sleep(100)
  }
}

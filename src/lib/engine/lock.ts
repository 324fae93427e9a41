/**
 * One operator at a time: a lock per environment (or per runbook, for runs without one), naming
 * its holder, run id and age, with an expiry that the living run keeps renewing. A dead run's
 * lock is recognisable as dead (expired, or its process gone on this host); breaking one is
 * explicit (runs unlock --force) and recorded in the audit trail.
 *
 * Backends: a local file (this machine) and, for environments that touch the cloud, a TXT record
 * in Route 53 (across machines; see ../aws/route53-lock.ts).
 */
import {closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync} from 'node:fs'
import {join} from 'node:path'
import {randomBytes} from 'node:crypto'
import {OpsError, EXIT} from '../errors.js'
import {formatDuration, parseDuration} from '../util/duration.js'
import {atomicWriteFile, type Who} from './state.js'

export interface LockInfo {
  scope: string
  runId: string
  runbook: string
  holder: Who
  acquiredAt: string
  renewedAt: string
  expiresAt: string
  /** Random per acquisition: tells our lock from a later one with the same run id. */
  token: string
  /** 1 when first taken, one more at each takeover: the lease's generation, recorded in the journal. */
  generation?: number
}

export interface LockBackend {
  /** Where the lock lives, for messages: "file .clipper-ops/locks/production.json". */
  where(scope: string): string
  read(scope: string): Promise<LockInfo | undefined>
  /** Create the lock if there is none; never overwrites. */
  create(info: LockInfo): Promise<{ok: true} | {ok: false; holder?: LockInfo}>
  /** Replace `expected` with `next` only if the live lock is still exactly `expected`. */
  replace(expected: LockInfo, next: LockInfo): Promise<boolean>
  /** Remove `expected` only if it is still the live lock. */
  remove(expected: LockInfo): Promise<boolean>
  /**
   * Where the lock lives beside what a step changes (Route 53: the same hosted zone), the changes
   * that replace `expected` by `next`, for the step to send in its own batch: the change and the
   * lease's renewal then succeed or fail together.
   */
  inBatch?(expected: LockInfo, next: LockInfo): LeaseInBatch
}

/** A lease renewal that rides in a step's own change batch (see LockBackend.inBatch). */
export interface LeaseInBatch {
  /** The Route 53 hosted zone both live in. */
  zoneId: string
  /** Route 53 changes (DELETE the lock as we hold it, CREATE it renewed), to add to the batch. */
  changes: unknown[]
}

export class LockHeldError extends OpsError {
  constructor(
    message: string,
    readonly holder: LockInfo,
    code = 'LOCKED',
  ) {
    super(message, {code, exitCode: EXIT.failed, details: holder})
  }
}

/** The run no longer holds its lease: it must not act again (it stops, resumable). */
export class LockLostError extends OpsError {
  constructor(reason: string) {
    super(`lock lost: ${reason}`, {code: 'LOCK_LOST', exitCode: EXIT.failed})
  }
}

export function lockTtlMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.CLIPPER_OPS_LOCK_TTL
  return (v ? parseDuration(v) : undefined) ?? 120_000
}

export function describeLock(l: LockInfo, now = Date.now()): string {
  const age = formatDuration(now - Date.parse(l.acquiredAt))
  const renewed = formatDuration(now - Date.parse(l.renewedAt))
  const left = Date.parse(l.expiresAt) - now
  const expiry = left > 0 ? `expires in ${formatDuration(left)} (at ${l.expiresAt}) unless renewed` : `EXPIRED ${formatDuration(-left)} ago`
  return `held by ${l.holder.user}@${l.holder.host} (pid ${l.holder.pid}${l.holder.aws ? `, ${l.holder.aws}` : ''}) for run ${l.runId} (${l.runbook}), taken ${age} ago, renewed ${renewed} ago, ${expiry}`
}

/** A dead lease in the words a handover needs: holder, host, last renewal and how long ago. */
export function describeLease(l: LockInfo, now = Date.now()): string {
  return `held by ${l.holder.user}@${l.holder.host} (pid ${l.holder.pid}), last renewed at ${l.renewedAt} (${formatDuration(now - Date.parse(l.renewedAt))} ago), expired ${formatDuration(Math.max(0, now - Date.parse(l.expiresAt)))} ago${l.generation ? `, generation ${l.generation}` : ''}`
}

export function isExpired(l: LockInfo, now = Date.now()): boolean {
  return Date.parse(l.expiresAt) <= now
}

/** On this host, is the holder's process gone? (Unknown for other hosts.) */
export function holderIsGone(l: LockInfo, host: string): boolean {
  if (l.holder.host !== host) return false
  try {
    process.kill(l.holder.pid, 0)
    return false
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

export class FileLockBackend implements LockBackend {
  constructor(private readonly dir: string) {}

  private file(scope: string): string {
    return join(this.dir, `${scope.replace(/[^a-zA-Z0-9_.-]/g, '_')}.json`)
  }

  where(scope: string): string {
    return `file ${this.file(scope)}`
  }

  async read(scope: string): Promise<LockInfo | undefined> {
    try {
      return JSON.parse(readFileSync(this.file(scope), 'utf8')) as LockInfo
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      // A torn write cannot happen (we rename into place), so this is someone's hand edit.
      throw new OpsError(`Lock file ${this.file(scope)} is not readable: ${(error as Error).message}`, {code: 'LOCK_UNREADABLE'})
    }
  }

  async create(info: LockInfo): Promise<{ok: true} | {ok: false; holder?: LockInfo}> {
    mkdirSync(this.dir, {recursive: true, mode: 0o700})
    // Write the content first, then link it into place: O_EXCL on the final name would leave an
    // empty file visible to readers between open and write.
    const tmp = `${this.file(info.scope)}.new-${randomBytes(4).toString('hex')}`
    const fd = openSync(tmp, 'wx', 0o600)
    writeSync(fd, JSON.stringify(info, null, 2))
    fsyncSync(fd)
    closeSync(fd)
    try {
      linkSync(tmp, this.file(info.scope)) // fails with EEXIST when a lock is there: atomic create
      return {ok: true}
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return {ok: false, holder: await this.read(info.scope)}
      throw error
    } finally {
      rmSync(tmp, {force: true})
    }
  }

  async replace(expected: LockInfo, next: LockInfo): Promise<boolean> {
    const file = this.file(expected.scope)
    // Move the live lock aside (only one process can), check it is the one we expected, then
    // put the new one in place; if it was not ours, put it back.
    const aside = `${file}.cas-${randomBytes(4).toString('hex')}`
    try {
      renameSync(file, aside)
    } catch {
      return false
    }
    let live: LockInfo | undefined
    try {
      live = JSON.parse(readFileSync(aside, 'utf8')) as LockInfo
    } catch {
      live = undefined
    }
    if (!live || live.token !== expected.token || live.renewedAt !== expected.renewedAt) {
      renameSync(aside, file)
      return false
    }
    atomicWriteFile(file, JSON.stringify(next, null, 2))
    rmSync(aside, {force: true})
    return true
  }

  async remove(expected: LockInfo): Promise<boolean> {
    const file = this.file(expected.scope)
    const aside = `${file}.rm-${randomBytes(4).toString('hex')}`
    try {
      renameSync(file, aside)
    } catch {
      return false
    }
    const live = JSON.parse(readFileSync(aside, 'utf8')) as LockInfo
    if (live.token !== expected.token) {
      renameSync(aside, file)
      return false
    }
    rmSync(aside, {force: true})
    return true
  }

  exists(scope: string): boolean {
    return existsSync(this.file(scope))
  }
}

/** A lock this process holds, kept alive by a heartbeat until released. */
export class HeldLock {
  private timer: NodeJS.Timeout | undefined
  private lostReason: string | undefined
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly backend: LockBackend,
    public info: LockInfo,
    private readonly ttlMs: number,
    private readonly onLost: (reason: string) => void,
  ) {}

  startHeartbeat(): void {
    const every = Math.max(250, Math.floor(this.ttlMs / 3))
    this.timer = setInterval(() => void this.renew(), every)
    this.timer.unref()
  }

  get lost(): string | undefined {
    return this.lostReason
  }

  async renew(): Promise<void> {
    return this.exclusive(async () => {
      if (this.lostReason) return
      const next = this.renewed()
      try {
        if (await this.backend.replace(this.info, next)) this.info = next
        else {
          const live = await this.backend.read(this.info.scope)
          // Still ours, written by one of our own batches whose answer we did not see: adopt it.
          if (live && live.token === this.info.token) this.info = live
          else this.lose(live ? `the lock was taken over: ${describeLock(live)}` : 'the lock was removed (runs unlock --force?)')
        }
      } catch {
        // A failed renewal is retried at the next beat; the lock only dies at expiry.
      }
    })
  }

  private renewed(): LockInfo {
    const now = new Date()
    return {...this.info, renewedAt: now.toISOString(), expiresAt: new Date(now.getTime() + this.ttlMs).toISOString()}
  }

  /** Renewals and fenced changes one at a time: each replaces the lock as the previous left it. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => undefined)
    return run
  }

  /**
   * A change made holding the lease, right after verify(): where the backend can (Route 53), the
   * lease is renewed in the change's own batch — a lease broken since the check makes the whole
   * batch fail, so no change goes out after the lease was lost, however short the window.
   */
  async fenced<T>(send: (lease: LeaseInBatch | undefined) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      if (this.lostReason) throw new LockLostError(this.lostReason)
      const next = this.renewed()
      const lease = this.backend.inBatch?.(this.info, next)
      const result = await send(lease)
      if (lease) this.info = next
      return result
    })
  }

  /**
   * Fencing: prove, now, that the lease is still ours — the live lock has our token and has not
   * expired (an expired one is renewed first: nobody else holds it yet). Called right before
   * every change; throws LockLostError, and reports the loss once, when it is not.
   */
  async verify(): Promise<void> {
    if (!this.lostReason) {
      const live = await this.backend.read(this.info.scope)
      if (!live || live.token !== this.info.token) {
        this.lose(live ? `the lock was taken over: ${describeLock(live)}` : 'the lock was removed (runs unlock --force?)')
      } else if (isExpired(this.info)) {
        await this.renew()
        if (!this.lostReason && isExpired(this.info)) this.lose('the lease expired and could not be renewed')
      }
    }
    if (this.lostReason) throw new LockLostError(this.lostReason)
  }

  private lose(reason: string): void {
    if (this.lostReason) return
    this.lostReason = reason
    this.stop()
    this.onLost(reason)
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  async release(): Promise<boolean> {
    this.stop()
    // After a renewal in flight, never beside it: it replaces the record this would delete (found by the chaos sweep).
    return this.exclusive(async () => {
      if (this.lostReason) return false
      if (await this.backend.remove(this.info)) return true
      // Route 53 deletes only the exact record: one of our own batches whose answer was lost may have
      // renewed it since. Still our token: remove it as it is.
      const live = await this.backend.read(this.info.scope)
      return live?.token === this.info.token ? this.backend.remove(live) : false
    })
  }
}

export interface AcquireOptions {
  backend: LockBackend
  scope: string
  runId: string
  runbook: string
  who: Who
  ttlMs: number
  /** Take a dead lease held by another operator (runs resume --take-over --reason). */
  takeOver?: {reason: string}
  onLost: (reason: string) => void
}

/** Is the lease another operator's (another machine or user), not an earlier attempt of ours here? */
export function heldByOther(l: LockInfo, who: Who): boolean {
  return l.holder.host !== who.host || l.holder.user !== who.user
}

/**
 * Take the lock for a run. A resume of the same run may take over its own dead lock (expired,
 * or its process gone on this host); anything else held is refused with the holder's details.
 */
export async function acquireLock(o: AcquireOptions): Promise<{lock: HeldLock; tookOver?: LockInfo}> {
  const now = new Date()
  const info: LockInfo = {
    scope: o.scope,
    runId: o.runId,
    runbook: o.runbook,
    holder: o.who,
    acquiredAt: now.toISOString(),
    renewedAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + o.ttlMs).toISOString(),
    token: randomBytes(8).toString('hex'),
    generation: 1,
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    let created: Awaited<ReturnType<LockBackend['create']>>
    try {
      created = await o.backend.create(info)
    } catch (error) {
      // The create may have gone through with only its answers lost: remove it as made (a DELETE
      // of exactly our record, refused when it is not there), so a run that never started leaves no lock.
      await o.backend.remove(info).catch(() => false)
      throw error
    }
    if (created.ok) {
      const lock = new HeldLock(o.backend, info, o.ttlMs, o.onLost)
      lock.startHeartbeat()
      return {lock}
    }
    const holder = created.holder
    if (!holder) continue // released between our create and read: try again
    // Our own create went through and only its answer was lost (the retry found the record): ours.
    if (holder.token === info.token) {
      const lock = new HeldLock(o.backend, holder, o.ttlMs, o.onLost)
      lock.startHeartbeat()
      return {lock}
    }
    const dead = isExpired(holder) || holderIsGone(holder, o.who.host)
    // Another operator's run is taken over only on purpose (--take-over --reason): a handover is
    // recorded with both names, never done silently.
    const mayTake = !heldByOther(holder, o.who) || o.takeOver !== undefined
    if (holder.runId === o.runId && dead && mayTake) {
      const next = {...info, generation: (holder.generation ?? 1) + 1}
      if (await o.backend.replace(holder, next)) {
        const lock = new HeldLock(o.backend, next, o.ttlMs, o.onLost)
        lock.startHeartbeat()
        return {lock, tookOver: holder}
      }
      continue
    }
    const where = o.backend.where(o.scope)
    if (holder.runId === o.runId && dead) {
      throw new LockHeldError(
        `The lease of run ${o.runId} is dead: ${describeLease(holder)}. It is another operator's (${holder.holder.user}@${holder.holder.host}); make sure that run is really gone, then take it over — recorded in the audit trail with your reason — with:\n  clipper-ops runs resume ${o.runId} --take-over --reason "<why>"`,
        holder,
        'LEASE_DEAD',
      )
    }
    const hint =
      holder.runId === o.runId
        ? `That run is still alive (pid ${holder.holder.pid} on ${holder.holder.host}, its lease runs until ${holder.expiresAt} and is being renewed); wait for it, or stop it first.${o.takeOver ? ' --take-over takes only a dead lease.' : ''}`
        : dead
          ? `The holder looks dead (${isExpired(holder) ? 'its lock expired' : 'its process is gone'}). If you are sure, take the lock over with: clipper-ops runs unlock ${o.scope} --force --reason "<why>"; then continue that run with: clipper-ops runs resume ${holder.runId}`
          : `Wait for that run to finish, or ask ${holder.holder.user}. See it with: clipper-ops runs show ${holder.runId}`
    throw new LockHeldError(`${o.scope} is locked (${where}): ${describeLock(holder)}.\n${hint}`, holder)
  }
  throw new OpsError(`Could not take the lock for ${o.scope}: it changed hands repeatedly while we tried.`, {code: 'LOCK_CONTENDED'})
}

/**
 * Durable run state. Every transition is first appended to the run's journal (one JSON line,
 * fsynced), then folded into state.json, which is replaced atomically (temp file, fsync, rename).
 * state.json is a snapshot of the journal: on load, journal events newer than the snapshot are
 * folded in again, so a crash between the two writes loses nothing.
 */
import {appendFileSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, truncateSync, writeSync} from 'node:fs'
import {join} from 'node:path'
import {hostname, userInfo} from 'node:os'
import {randomBytes} from 'node:crypto'
import type {Environment} from '../config/schema.js'
import type {Change} from '../steps/types.js'
import {OpsError, UsageError} from '../errors.js'

export type StepStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped'
export type RunStatus = 'running' | 'succeeded' | 'failed' | 'interrupted'

export interface StepRecord {
  /** Unique in the run; steps expanded from a group read `group[item].child`. */
  id: string
  /** Where the step's spec is in the runbook, e.g. steps[2].steps[0] or steps[1].onFailure[0]. */
  specPath: string
  kind: string
  title: string
  /** The group instance a step belongs to (for display), e.g. shift[50]. */
  group?: {id: string; title: string; item: unknown; index: number}
  /** Set on compensating steps: the failed step they answer. */
  compensationFor?: string
  status: StepStatus
  attempts: number
  startedAt?: string
  endedAt?: string
  durationMs?: number
  inputs?: unknown
  outputs?: Record<string, unknown>
  changes?: Change[]
  notes: Record<string, unknown>
  summary?: string
  error?: {message: string; code?: string}
  /** How an in-doubt step was settled on resume. */
  reconciled?: string
  /** Skipped, and people should know (e.g. no database sync before a rollback). */
  warning?: boolean
}

export interface Who {
  user: string
  host: string
  pid: number
  aws?: string
}

export interface RunState {
  schema: 1
  id: string
  seq: number
  status: RunStatus
  runbook: {name: string; file: string; sha256: string; builtin: boolean; description?: string; recovery?: boolean}
  environment?: string
  lockScope: string
  params: Record<string, unknown>
  /** The environment's config as it was when the run started; a resume uses this, not today's file. */
  environmentConfig?: Environment
  protected: boolean
  who: Who
  createdAt: string
  updatedAt: string
  endedAt?: string
  deadline?: {budgetMs: number; at: string; policy: 'continue' | 'fail'; exceededAt?: string}
  undo?: string
  steps: StepRecord[]
  attempts: {startedAt: string; pid: number; user: string; host: string; resumed: boolean; endedAt?: string; outcome?: string}[]
  failure?: {stepId?: string; message: string; code?: string; compensated?: boolean}
  /** Why an interrupted run stopped (a signal, a lost lock, an approval not given). */
  stopped?: {reason: string; stepId?: string}
  /** The world as read back when the run ended (e.g. the live weights), by the kinds it used. */
  world?: WorldAtEnd[]
  /** Whole-run time from start to end (the time to recovery for a rollback). */
  durationMs?: number
}

/** One kind's reading of the world at the end of a run; `error` when it could not be read. */
export interface WorldAtEnd {
  kind: string
  at: string
  summary: string
  data?: Record<string, unknown>
  error?: string
}

export type RunEvent =
  | {type: 'run.created'; state: RunState}
  | {type: 'run.attempt'; pid: number; user: string; host: string; resumed: boolean; lease?: number}
  | {type: 'step.intent'; stepId: string; attempt: number; inputs?: unknown; title?: string}
  | {type: 'step.note'; stepId: string; detail: Record<string, unknown>}
  | {type: 'step.succeeded'; stepId: string; outputs?: Record<string, unknown>; changes?: Change[]; summary?: string; durationMs: number; reconciled?: string}
  | {type: 'step.failed'; stepId: string; error: {message: string; code?: string}; durationMs?: number}
  | {type: 'step.skipped'; stepId: string; reason: string; warning?: boolean}
  /** The step stopped the run without failing (an approval not given): it is to do again on resume. */
  | {type: 'step.paused'; stepId: string; reason: string}
  | {type: 'step.retry'; stepId: string; attempt: number; error: string; delayMs: number}
  | {type: 'step.reconciling'; stepId: string; decision: string}
  | {type: 'steps.added'; steps: StepRecord[]}
  | {type: 'deadline.exceeded'; budgetMs: number}
  | {type: 'approval'; stepId: string; approved: boolean; by: string; how: 'prompt' | 'yes-flag'}
  | {type: 'run.interrupted'; reason: string; paused?: boolean; world?: WorldAtEnd[]}
  | {type: 'run.finished'; status: 'succeeded' | 'failed'; failure?: RunState['failure']; world?: WorldAtEnd[]}
  | {type: 'lock'; action: string; detail: Record<string, unknown>}

export type JournalEntry = RunEvent & {seq: number; at: string}

export function whoAmI(): Who {
  let user = process.env.USER ?? process.env.LOGNAME ?? 'unknown'
  try {
    user = userInfo().username || user
  } catch {
    /* no passwd entry (containers) */
  }
  // CLIPPER_OPS_HOST: the name this machine goes by in leases and the audit trail, where the host
  // name says nothing (a container's random one).
  return {user, host: process.env.CLIPPER_OPS_HOST || hostname(), pid: process.pid}
}

export function newRunId(runbookName: string, now = new Date()): string {
  const ts = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-')
  return `${ts}-${runbookName}-${randomBytes(2).toString('hex')}`
}

/** Fold one event into the state. Pure; used both live and when replaying a journal. */
export function applyEvent(state: RunState, e: JournalEntry): RunState {
  const s: RunState = e.type === 'run.created' ? structuredClone(e.state) : state
  s.seq = e.seq
  s.updatedAt = e.at
  const step = 'stepId' in e ? s.steps.find((x) => x.id === e.stepId) : undefined
  switch (e.type) {
    case 'run.created':
      break
    case 'run.attempt':
      if (s.attempts.length > 0) {
        const last = s.attempts.at(-1)!
        if (!last.endedAt) {
          last.endedAt = e.at
          last.outcome = 'died'
        }
      }
      s.attempts.push({startedAt: e.at, pid: e.pid, user: e.user, host: e.host, resumed: e.resumed})
      s.status = 'running'
      s.endedAt = undefined
      s.stopped = undefined
      break
    case 'step.intent':
      if (step) {
        step.status = 'running'
        step.attempts = e.attempt
        step.startedAt ??= e.at
        step.inputs = e.inputs
        step.notes = {} // notes describe the latest attempt (its child pid, its change id)
        if (e.title) step.title = e.title
        step.error = undefined
      }
      break
    case 'step.note':
      if (step) Object.assign(step.notes, e.detail)
      break
    case 'step.succeeded':
      if (step) {
        step.status = 'succeeded'
        step.endedAt = e.at
        step.durationMs = e.durationMs
        step.outputs = e.outputs
        step.changes = e.changes
        step.summary = e.summary
        step.error = undefined
        if (e.reconciled) step.reconciled = e.reconciled
      }
      break
    case 'step.failed':
      if (step) {
        step.status = 'failed'
        step.endedAt = e.at
        step.durationMs = e.durationMs
        step.error = e.error
      }
      break
    case 'step.skipped':
      if (step) {
        step.status = 'skipped'
        step.endedAt = e.at
        step.summary = e.reason
        if (e.warning) step.warning = true
      }
      break
    case 'step.reconciling':
      if (step) step.reconciled = e.decision
      break
    case 'step.paused':
      if (step) {
        step.status = 'pending'
        step.summary = e.reason
        s.stopped = {reason: e.reason, stepId: e.stepId}
      }
      break
    case 'steps.added': {
      // Compensating steps go right after the step they answer (and its earlier compensations).
      const anchor = e.steps[0]?.compensationFor
      let at = s.steps.findIndex((x) => x.id === anchor)
      if (at < 0) at = s.steps.length - 1
      while (at + 1 < s.steps.length && s.steps[at + 1]!.compensationFor === anchor) at++
      s.steps.splice(at + 1, 0, ...structuredClone(e.steps))
      break
    }
    case 'deadline.exceeded':
      if (s.deadline) s.deadline.exceededAt = e.at
      break
    case 'run.interrupted':
      s.status = 'interrupted'
      s.endedAt = e.at
      if (s.stopped?.reason !== e.reason) s.stopped = {reason: e.reason}
      s.world = e.world
      closeAttempt(s, e.at, 'interrupted')
      break
    case 'run.finished':
      s.status = e.status
      s.endedAt = e.at
      s.failure = e.failure
      s.world = e.world
      s.durationMs = Date.parse(e.at) - Date.parse(s.createdAt)
      closeAttempt(s, e.at, e.status)
      break
    case 'step.retry':
    case 'approval':
    case 'lock':
      break
  }
  return s
}

function closeAttempt(s: RunState, at: string, outcome: string): void {
  const last = s.attempts.at(-1)
  if (last && !last.endedAt) {
    last.endedAt = at
    last.outcome = outcome
  }
}

function writeFileDurably(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`
  const fd = openSync(tmp, 'w', 0o600)
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, file)
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {
    /* not supported on every filesystem */
  }
}

export function atomicWriteFile(file: string, text: string): void {
  writeFileDurably(file, text)
  fsyncDir(join(file, '..'))
}

const MAX_JOURNAL_LINE = 16 * 1024 * 1024

/** Read a journal, ignoring a last line cut short by a crash. */
export function readJournal(file: string): JournalEntry[] {
  if (!existsSync(file)) return []
  const lines = readFileSync(file, 'utf8').split('\n')
  const out: JournalEntry[] = []
  for (const [i, line] of lines.entries()) {
    if (!line.trim()) continue
    try {
      // No entry clipper-ops writes comes near this: a line that long was not written by it.
      if (line.length > MAX_JOURNAL_LINE) throw new Error(`the line is ${(line.length / 1024 / 1024).toFixed(1)} MB, longer than any entry clipper-ops writes`)
      out.push(JSON.parse(line) as JournalEntry)
    } catch (error) {
      if (i >= lines.length - 2) break // a torn final write
      throw new OpsError(
        `The journal ${file} is damaged at line ${i + 1} (${(error as Error).message.slice(0, 120)}): this run's record cannot be trusted, so it is not resumed. Look at the world (clipper-ops dns status, runs show of other runs), then start a new run; keep the file for the post-mortem.`,
        {code: 'STATE_DAMAGED', cause: error},
      )
    }
  }
  return out
}

/** A run id from a unique prefix or suffix, or "latest", among the ids of a store (`where` names it). */
export function resolveRunRef(ids: string[], ref: string, where: string): string {
  if (ref === 'latest' || ref === 'last') {
    const last = ids.at(-1)
    if (!last) throw new UsageError(`There are no runs in ${where}.`, {code: 'UNKNOWN_RUN'})
    return last
  }
  if (ids.includes(ref)) return ref
  const matches = ids.filter((x) => x.startsWith(ref) || x.endsWith(ref))
  if (matches.length === 1) return matches[0]!
  if (matches.length > 1) throw new UsageError(`"${ref}" matches ${matches.length} runs: ${matches.slice(0, 5).join(', ')}; give more of the id.`, {code: 'AMBIGUOUS_RUN'})
  return ref
}

/** The on-disk layout under the state directory. */
export class StateDir {
  constructor(readonly root: string) {}

  runsDir(): string {
    return join(this.root, 'runs')
  }

  runDir(id: string): string {
    return join(this.root, 'runs', id)
  }

  locksDir(): string {
    return join(this.root, 'locks')
  }

  auditFile(): string {
    return join(this.root, 'audit.jsonl')
  }

  listRunIds(): string[] {
    const dir = this.runsDir()
    if (!existsSync(dir)) return []
    return readdirSync(dir, {withFileTypes: true})
      .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'state.json')))
      .map((d) => d.name)
      .sort()
  }

  /** Fast read of the snapshot only (for listings). */
  readSnapshot(id: string): RunState | undefined {
    try {
      return JSON.parse(readFileSync(join(this.runDir(id), 'state.json'), 'utf8')) as RunState
    } catch {
      return undefined
    }
  }

  /** The exact state: the snapshot with any newer journal events folded in. */
  load(id: string): RunState {
    const dir = this.runDir(id)
    if (!existsSync(join(dir, 'state.json')) && !existsSync(join(dir, 'journal.jsonl'))) {
      const ids = this.listRunIds()
      const near = ids.filter((x) => x.includes(id)).slice(0, 3)
      throw new UsageError(`No run "${id}" in ${this.runsDir()}.${near.length ? ` Did you mean ${near.join(', ')}?` : ''} List runs with "clipper-ops runs list".`, {
        code: 'UNKNOWN_RUN',
      })
    }
    let state = this.readSnapshot(id)
    for (const e of readJournal(join(dir, 'journal.jsonl'))) {
      if (!state || e.seq > state.seq) state = applyEvent(state as RunState, e)
    }
    if (!state) throw new UsageError(`Run ${id} has no readable state in ${dir}.`, {code: 'UNKNOWN_RUN'})
    return state
  }

  /** Resolve a unique prefix or "latest" to a run id. */
  resolveId(ref: string): string {
    return resolveRunRef(this.listRunIds(), ref, this.runsDir())
  }
}

/**
 * A crash mid-write can leave the journal's last line without its newline. Before anything is
 * appended after it: a whole entry gets its newline; half of one is cut off (it never counted), so
 * that it does not become a damaged line in the middle (found by the chaos campaign).
 */
function endTornTail(file: string): void {
  if (!existsSync(file)) return
  const text = readFileSync(file, 'utf8')
  if (text === '' || text.endsWith('\n')) return
  const last = text.slice(text.lastIndexOf('\n') + 1)
  try {
    JSON.parse(last)
    appendFileSync(file, '\n')
  } catch {
    truncateSync(file, Buffer.byteLength(text) - Buffer.byteLength(last))
  }
}

/**
 * The chaos campaign's kill point (npm run chaos): with CLIPPER_OPS_CHAOS_KILL_AT=<seq>, the
 * process SIGKILLs itself right after that journal entry is durable and before state.json has
 * caught up — the moment that tests a resume hardest. Unset, it costs one comparison.
 */
const CHAOS_KILL_AT = Number(process.env.CLIPPER_OPS_CHAOS_KILL_AT) || undefined

/** The writer for one run, held by the process that runs it. */
export class RunJournal {
  private fd: number | undefined
  private listeners: ((e: JournalEntry) => void)[] = []

  private constructor(
    readonly dir: string,
    public state: RunState,
  ) {}

  static create(stateDir: StateDir, state: RunState, runbookSource: string): RunJournal {
    const dir = stateDir.runDir(state.id)
    mkdirSync(dir, {recursive: true, mode: 0o700})
    // The runbook as it was at the start: a resume runs this copy, not a file edited since.
    atomicWriteFile(join(dir, 'runbook.yaml'), runbookSource)
    const j = new RunJournal(dir, state)
    j.append({type: 'run.created', state})
    return j
  }

  static open(stateDir: StateDir, id: string): RunJournal {
    const state = stateDir.load(id)
    endTornTail(join(stateDir.runDir(id), 'journal.jsonl'))
    return new RunJournal(stateDir.runDir(id), state)
  }

  onEvent(fn: (e: JournalEntry) => void): void {
    this.listeners.push(fn)
  }

  /** Append, fsync, fold, snapshot. Synchronous on purpose: nothing else may interleave. */
  append(event: RunEvent): JournalEntry {
    const entry = {...event, seq: this.state.seq + 1, at: new Date().toISOString()} as JournalEntry
    if (event.type === 'run.created') entry.seq = 1
    this.fd ??= openSync(join(this.dir, 'journal.jsonl'), 'a', 0o600)
    writeSync(this.fd, `${JSON.stringify(entry)}\n`)
    fsyncSync(this.fd)
    if (entry.seq === CHAOS_KILL_AT) process.kill(process.pid, 'SIGKILL')
    this.state = applyEvent(this.state, entry)
    writeFileDurably(join(this.dir, 'state.json'), `${JSON.stringify(this.state, null, 2)}\n`)
    for (const fn of this.listeners) fn(entry)
    return entry
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
  }
}

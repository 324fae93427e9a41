/**
 * Where runs live: the engine's state store. The executor writes a run through a RunWriter and
 * never asks where it goes; commands read runs and the audit trail through a RunStore.
 *
 * Two implementations: LocalRunStore (files under the state dir, the default, ./state.ts) and
 * S3RunStore (team state, `state: s3://bucket/prefix`, ./s3-store.ts), whose writes are S3
 * conditional writes so that two writers of one run can never both win.
 */
import {EXIT, OpsError} from '../errors.js'
import {readAudit, audit, type AuditDamage, type AuditEntry} from './audit.js'
import {readJournal, RunJournal, type JournalEntry, type RunEvent, type RunState, type StateDir} from './state.js'
import {writeRunReports} from '../report/run-report.js'
import {readTextFile} from '../util/text-file.js'
import {join} from 'node:path'

/** The writer of one run, held by the process that runs it. */
export interface RunWriter {
  state: RunState
  /** A directory on this machine for the run's scratch files (plans, output.log, reports). */
  readonly dir: string
  /** Why this writer may no longer write (someone else wrote the run): set after a refused write. */
  readonly fenced: string | undefined
  onEvent(fn: (e: JournalEntry) => void): void
  /** Append to the journal and fold into the state, in order; rejects with StateConflictError when fenced. */
  append(event: RunEvent): Promise<JournalEntry>
  /** Re-read entries others wrote since this writer loaded the run (a takeover reads them). */
  refresh(): Promise<void>
  close(): Promise<void>
}

export interface RunStore {
  /** Where runs live, for messages: a directory, or s3://bucket/prefix. */
  readonly where: string
  /** Shared by a team (other machines read and write it). */
  readonly shared: boolean
  /** The state dir of this machine: locks, the fallback config, scratch files. */
  readonly local: StateDir
  listRunIds(): Promise<string[]>
  /** The snapshot only (fast, for listings); undefined when missing or unreadable. */
  readSnapshot(id: string): Promise<RunState | undefined>
  /** The exact state: the snapshot with any newer journal entries folded in. */
  load(id: string): Promise<RunState>
  /** A unique prefix or suffix, or "latest", to a run id. */
  resolveId(ref: string): Promise<string>
  readJournal(id: string): Promise<JournalEntry[]>
  /** The runbook as it was when the run started, and where it is kept (for messages). */
  runbookSource(id: string): Promise<{text: string; where: string}>
  create(state: RunState, runbookSource: string): Promise<RunWriter>
  open(id: string): Promise<RunWriter>
  audit(entry: Omit<AuditEntry, 'at'>): Promise<void>
  /** The audit trail, oldest first; undefined when there is none yet. */
  readAudit(onDamage?: (d: AuditDamage) => void): Promise<AuditEntry[] | undefined>
  /** Write the run's reports (and share them, for a team store); returns the local files. */
  saveReports(writer: RunWriter): Promise<{markdown: string; junit: string; json: string}>
  /** Where a run's record is, for messages. */
  runWhere(id: string): string
}

/**
 * Another writer got to the run's state first (a conditional write was refused): this process
 * must not write, or act, again. Exit 1: nothing is lost, the other writer holds the run.
 */
export class StateConflictError extends OpsError {
  constructor(message: string) {
    super(message, {code: 'STATE_CONFLICT', exitCode: EXIT.failed})
  }
}

/** Files under the state dir: what every run used before team state, and still the default. */
export class LocalRunStore implements RunStore {
  readonly shared = false

  constructor(readonly local: StateDir) {}

  get where(): string {
    return this.local.runsDir()
  }

  async listRunIds(): Promise<string[]> {
    return this.local.listRunIds()
  }

  async readSnapshot(id: string): Promise<RunState | undefined> {
    return this.local.readSnapshot(id)
  }

  async load(id: string): Promise<RunState> {
    return this.local.load(id)
  }

  async resolveId(ref: string): Promise<string> {
    return this.local.resolveId(ref)
  }

  async readJournal(id: string): Promise<JournalEntry[]> {
    return readJournal(join(this.local.runDir(id), 'journal.jsonl'))
  }

  async runbookSource(id: string): Promise<{text: string; where: string}> {
    const file = join(this.local.runDir(id), 'runbook.yaml')
    return {text: readTextFile(file, 'Runbook copy'), where: file}
  }

  async create(state: RunState, runbookSource: string): Promise<RunWriter> {
    return new LocalRunWriter(RunJournal.create(this.local, state, runbookSource))
  }

  async open(id: string): Promise<RunWriter> {
    return new LocalRunWriter(RunJournal.open(this.local, id))
  }

  async audit(entry: Omit<AuditEntry, 'at'>): Promise<void> {
    audit(this.local.auditFile(), entry)
  }

  async readAudit(onDamage?: (d: AuditDamage) => void): Promise<AuditEntry[] | undefined> {
    return readAudit(this.local.auditFile(), onDamage)
  }

  async saveReports(writer: RunWriter): Promise<{markdown: string; junit: string; json: string}> {
    return writeRunReports(writer.dir, writer.state)
  }

  runWhere(id: string): string {
    return `${this.local.runDir(id)}/`
  }
}

/** The local journal, as a RunWriter: its writes are synchronous (done when append returns). */
class LocalRunWriter implements RunWriter {
  readonly fenced = undefined

  constructor(private readonly journal: RunJournal) {}

  get state(): RunState {
    return this.journal.state
  }

  get dir(): string {
    return this.journal.dir
  }

  onEvent(fn: (e: JournalEntry) => void): void {
    this.journal.onEvent(fn)
  }

  async append(event: RunEvent): Promise<JournalEntry> {
    return this.journal.append(event)
  }

  async refresh(): Promise<void> {}

  async close(): Promise<void> {
    this.journal.close()
  }
}

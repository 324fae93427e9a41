/**
 * Runs (and resumes) a runbook, keeping the engine's promises: every transition journaled before
 * and after its side effect, in-doubt steps reconciled against the world on resume, one lock per
 * environment with a heartbeat, a deadline, compensating steps on failure, and no secrets in
 * anything written.
 *
 * The engine renders nothing and owns no process: it emits events to the host it is given
 * (./events.ts), asks people only through that host, and stops when the signal it is given
 * aborts (the command turns Ctrl-C into that). It never writes to stdout or stderr, never
 * installs signal handlers and never exits.
 */
import {appendFileSync} from 'node:fs'
import {createHash} from 'node:crypto'
import {join} from 'node:path'
import {EXIT, OpsError, RunFailedError, RunPausedError, UsageError, errorMessage} from '../errors.js'
import {parseRunbook} from '../runbook/load.js'
import {evaluateCondition, resolveDeep, type Contexts} from '../runbook/expressions.js'
import type {Runbook} from '../runbook/schema.js'
import {loadKind, stepKinds} from '../steps/registry.js'
import {changesWorld, kindMutates, type Change, type Reconciled, type StepContext, type StepKind, type StepNeed} from '../steps/types.js'
import {formatDuration, parseDuration} from '../util/duration.js'
import {Redactor} from '../util/redact.js'
import {childEnvFor} from '../config/tools.js'
import {baseContexts, draftRun, stepContexts, type RunInput} from './draft.js'
import type {AgendaItem, AgendaStep, EngineEvent, EngineHost} from './events.js'
import {compensationFor, skipNote, specAt, stepTitle} from './expand.js'
import {acquireLock, LockLostError, lockTtlMs, type HeldLock, type LeaseInBatch, type LockBackend} from './lock.js'
import {lockBackendForEnvironment} from './lock-backends.js'
import type {Environment} from '../config/schema.js'
import {sleep} from '../util/sleep.js'
import {newRunId, StateDir, whoAmI, type RunEvent, type RunState, type StepRecord, type Who, type WorldAtEnd} from './state.js'
import {LocalRunStore, StateConflictError, type RunStore, type RunWriter} from './store.js'
import {storeForEnvironment} from './stores.js'
import {writeRunReports} from '../report/run-report.js'
import type {AuditEntry} from './audit.js'

export interface EngineOptions {
  stateDir: StateDir
  /** Where runs live (default: as the environment's config says, else the state dir); a resume passes the store it found the run in. */
  store?: RunStore
  /** runs resume --take-over --reason: take a dead lease held by another operator, recorded with the reason. */
  takeOver?: {reason: string}
  /** The planned worst case of each step (runbooks with a budget section): checked against the time left at each step. */
  budget?: {worstCaseMs: Record<string, number>; hint?: string}
  /** Where events go, and who is asked (approvals). */
  host: EngineHost
  /** --yes: confirmations and approvals are answered yes (and recorded as such). */
  yes: boolean
  /** Aborting it stops the run where it is, resumable (Ctrl-C, SIGTERM). Its reason says why. */
  signal?: AbortSignal
  /** Lock backend for this environment (default: as the environment's config says). */
  lockBackend?: LockBackend
  /** Environment for child processes. */
  childEnv?: NodeJS.ProcessEnv
  /** Who is running, when more is known than the local user (e.g. the AWS caller identity). */
  who?: Who
  /** Operator decisions for in-doubt steps on resume. */
  assumeDone?: string[]
  rerun?: string[]
  /** --plan: each step's artifacts from the reviewed plan, by name (see StepContext.saved). */
  saved?: Record<string, Record<string, string>>
  /**
   * The environment's config as loaded, secrets and all: what steps use. The run's state keeps a
   * redacted copy (it is written to disk); a resume passes the config read again.
   */
  environment?: Environment
}

export interface RunOutcome {
  state: RunState
  exitCode: number
  reports: {markdown: string; junit: string; json: string}
}

/** An event as the executor emits it; the run id is added for every host. */
type Emitted = EngineEvent extends infer E ? (E extends {runId: string} ? Omit<E, 'runId'> : never) : never

class Interrupted extends Error {}

/** A resume found the world moved by someone else since the run last acted: it stops, exit 1, resumable once it is put back. */
class WorldMovedError extends RunFailedError {
  constructor(message: string) {
    super(message, {code: 'WORLD_MOVED'})
  }
}

/** The needs (aws, kubernetes) of every step kind a runbook uses, its compensations included. */
export async function runbookNeeds(rb: Runbook): Promise<Set<StepNeed>> {
  const needs = new Set<StepNeed>()
  for (const kind of await stepKinds(rb)) for (const n of kind.needs ?? []) needs.add(n)
  return needs
}

/** Whether any step of the runbook (compensations included) changes the world. */
export async function runbookMutates(rb: Runbook): Promise<boolean> {
  const specs = [...rb.steps, ...(rb.onFailure ?? [])]
  while (specs.length > 0) {
    const s = specs.pop()!
    if (s.steps) specs.push(...s.steps)
    if (Array.isArray(s.onFailure)) specs.push(...s.onFailure)
    if (s.uses && kindMutates(await loadKind(s.uses), s.with ?? {})) return true
  }
  return false
}

/**
 * Settle a step an earlier attempt left in doubt: read the world and say whether its effect is
 * in place. A kind may know how (reconcile); otherwise one that changes nothing is simply run
 * again, and one that does is re-planned — "no changes" means its effect is in place.
 */
export async function reconcileStep(kind: StepKind, ctx: StepContext, inputs: unknown): Promise<Reconciled> {
  if (kind.reconcile) return kind.reconcile(ctx, inputs)
  if (!kindMutates(kind, inputs)) return {done: false}
  const plan = await kind.plan(ctx, inputs)
  return plan.changes.every((c) => c.action === 'none') ? {done: true, outputs: plan.outputs as Record<string, unknown>, summary: 'already in place'} : {done: false}
}

export async function startRun(input: RunInput, opts: EngineOptions): Promise<RunOutcome> {
  const who = opts.who ?? whoAmI()
  const redactor = new Redactor()
  redactor.addFromConfig(input.env?.environment)
  const {state} = draftRun(input, {id: newRunId(input.loaded.runbook.name), who, redactor, dryRun: false})
  const backend = opts.lockBackend ?? (await lockBackendForEnvironment(input.env?.environment, opts.stateDir))
  const store = opts.store ?? (await storeForEnvironment(input.env?.environment, opts.stateDir))
  const exec = new RunExecutor({...opts, environment: input.env?.environment}, redactor, store)
  // The lock comes first: a refused run leaves no run directory behind.
  await exec.lock(backend, state)
  let journal: RunWriter
  try {
    journal = await store.create(redactor.deep(state), input.loaded.source)
  } catch (error) {
    await exec.unlock()
    throw error
  }
  return exec.execute(journal, input.loaded.runbook, false)
}

/**
 * A run that ended but whose process died before letting go of its lock (killed right after its
 * last journal entry) still holds the environment: the resume lets go of it, and says how it ended.
 */
async function releaseLockLeftByEndedRun(journal: RunWriter, store: RunStore, opts: EngineOptions): Promise<RunOutcome | undefined> {
  const state = journal.state
  const backend = opts.lockBackend ?? (await lockBackendForEnvironment(opts.environment ?? state.environmentConfig, opts.stateDir))
  const live = await backend.read(state.lockScope)
  if (!live || live.runId !== state.id || !(await backend.remove(live))) return undefined
  await store.audit({
    who: opts.who ?? whoAmI(),
    action: 'lock.released',
    scope: state.lockScope,
    runId: state.id,
    detail: {reason: `run ${state.id} had ${state.status}; its process ended before letting go of the lock`},
  })
  const reports = await store.saveReports(journal)
  await journal.close()
  return {state, exitCode: state.status === 'succeeded' ? EXIT.ok : EXIT.failed, reports}
}

export async function resumeRun(runId: string, opts: EngineOptions): Promise<RunOutcome> {
  const store = opts.store ?? new LocalRunStore(opts.stateDir)
  const journal = await store.open(runId)
  const state = journal.state
  const ended = state.status === 'succeeded' || (state.status === 'failed' && state.failure?.compensated)
  const released = ended ? await releaseLockLeftByEndedRun(journal, store, opts) : undefined
  if (released) return released
  if (state.status === 'succeeded') {
    await journal.close()
    throw new UsageError(`Run ${runId} already succeeded; there is nothing to resume. Start a new run instead.`, {code: 'NOTHING_TO_RESUME'})
  }
  if (state.status === 'failed' && state.failure?.compensated) {
    await journal.close()
    throw new UsageError(
      `Run ${runId} failed at ${state.failure.stepId} and its compensating steps ran (${state.failure.message}); resuming would act on a world those steps changed. Start a new run instead.`,
      {code: 'COMPENSATED'},
    )
  }
  const rb = await loadRunbookCopy(store, state)
  const redactor = new Redactor()
  redactor.addFromConfig(opts.environment ?? state.environmentConfig)
  // The config read again must be the one the run started with (compared as written: redacted).
  if (opts.environment && JSON.stringify(redactor.deep(opts.environment)) !== JSON.stringify(state.environmentConfig)) {
    await journal.close()
    throw new UsageError(
      `The config of ${state.environment} changed since run ${runId} started; resuming would act with other settings than it planned. Restore the config, or start a new run.`,
      {
        code: 'CONFIG_CHANGED',
      },
    )
  }
  const exec = new RunExecutor(opts, redactor, store)
  const backend = opts.lockBackend ?? (await lockBackendForEnvironment(state.environmentConfig, opts.stateDir))
  try {
    await exec.lock(backend, state)
    // What the previous holder wrote between our read and our lock (team state) is read now.
    await journal.refresh()
  } catch (error) {
    await journal.close()
    await exec.unlock()
    throw error
  }
  return exec.execute(journal, rb, true)
}

/** The runbook as it was when the run started: a resume runs this copy, not a file edited since. */
export async function loadRunbookCopy(store: RunStore, state: RunState): Promise<Runbook> {
  const {text: source, where: file} = await store.runbookSource(state.id)
  // The copy must be what the run started with: an edited copy would resume other steps than it planned.
  if (createHash('sha256').update(source).digest('hex') !== state.runbook.sha256) {
    throw new OpsError(
      `The run's copy of its runbook, ${file}, was changed since the run started (its sha256 no longer matches the one recorded). Resuming would run other steps than it planned; restore the file, or start a new run.`,
      {code: 'STATE_DAMAGED'},
    )
  }
  return (await parseRunbook(state.runbook.file, source, state.runbook.builtin)).runbook
}

class RunExecutor {
  private heldLock: HeldLock | undefined
  private readonly abort = new AbortController()
  private stopReason: string | undefined
  private journal!: RunWriter
  /** Audit entries on their way (a team store writes them to S3): awaited before the run ends. */
  private readonly auditing: Promise<unknown>[] = []
  private rb!: Runbook
  private base!: Contexts
  private deadlineWatch: NodeJS.Timeout | undefined
  private deadlineNoted = false
  private budgetSaid = false
  private failure: RunState['failure']
  private readonly who: Who

  constructor(
    private readonly opts: EngineOptions,
    private readonly redactor: Redactor,
    private readonly store: RunStore,
  ) {
    this.who = opts.who ?? whoAmI()
  }

  /** A run refused after its lock was taken (its record could not be made) leaves no lock behind. */
  async unlock(): Promise<void> {
    await this.heldLock?.release().catch(() => false)
  }

  /** Add to the audit trail; the run does not wait for it, but waits for all before it ends. */
  private audit(entry: Omit<AuditEntry, 'at' | 'who'>): void {
    this.auditing.push(this.store.audit({who: this.who, ...entry}).catch(() => undefined))
  }

  /**
   * Journal an event. A refused write (someone else wrote this run: it was taken over) fences
   * this process: it stops where it is, acting no more.
   */
  private async record(event: RunEvent): Promise<void> {
    try {
      await this.journal.append(event)
    } catch (error) {
      if (error instanceof StateConflictError) {
        this.stop(error.message)
        throw this.interrupted()
      }
      throw error
    }
  }

  async lock(backend: LockBackend, state: RunState): Promise<void> {
    const {lock, tookOver} = await acquireLock({
      backend,
      scope: state.lockScope,
      runId: state.id,
      runbook: state.runbook.name,
      who: this.who,
      ttlMs: lockTtlMs(),
      takeOver: this.opts.takeOver,
      onLost: (reason) => this.stop(`lock lost: ${reason}`),
    })
    this.heldLock = lock
    // A takeover names both operators: who takes (who), whose dead lease it was (from), and why.
    const from = tookOver ? `${tookOver.holder.user}@${tookOver.holder.host}` : undefined
    await this.store
      .audit({
        who: this.who,
        action: tookOver ? 'lock.taken-over' : 'lock.acquired',
        scope: state.lockScope,
        runId: state.id,
        detail: {
          where: backend.where(state.lockScope),
          generation: lock.info.generation,
          ...(tookOver ? {previous: tookOver, from, by: `${this.who.user}@${this.who.host}`, ...(this.opts.takeOver ? {reason: this.opts.takeOver.reason} : {})} : {}),
        },
      })
      .catch(async (error) => {
        await lock.release().catch(() => false)
        throw error
      })
  }

  private stop(reason: string): void {
    if (this.stopReason) return
    this.stopReason = reason
    this.abort.abort(new Interrupted(reason))
  }

  private get state(): RunState {
    return this.journal.state
  }

  /** Hand an event to the host; a host that fails must not fail the run. */
  private emit(e: Emitted): void {
    try {
      this.opts.host.notify({...e, runId: this.state.id} as EngineEvent)
    } catch {
      /* a display problem is not a run problem */
    }
  }

  async execute(journal: RunWriter, rb: Runbook, resumed: boolean): Promise<RunOutcome> {
    this.journal = journal
    this.rb = rb
    // Expressions read the real config (${{ env.x }}); the journal's copy is redacted for writing only.
    this.base = baseContexts({...journal.state, environmentConfig: this.opts.environment ?? journal.state.environmentConfig}, this.redactor, false)
    const external = this.opts.signal
    const onAbort = () => this.stop(external?.reason instanceof Error ? external.reason.message : String(external?.reason ?? 'interrupted'))
    external?.addEventListener('abort', onAbort, {once: true})
    if (external?.aborted) onAbort()

    let caught: unknown
    try {
      await this.record({
        type: 'run.attempt',
        pid: process.pid,
        user: this.who.user,
        host: this.who.host,
        resumed,
        ...(this.heldLock ? {lease: this.heldLock.info.generation} : {}),
      })
    } catch (error) {
      return this.finish(error)
    }
    this.audit({
      action: resumed ? 'run.resumed' : 'run.started',
      scope: this.state.lockScope,
      runId: this.state.id,
      detail: {runbook: this.state.runbook.name, params: this.redactor.deep(this.state.params)},
    })

    try {
      if (resumed) await this.refuseIfWorldMoved()
      await this.applyOperatorDecisions()
      const {agenda, compensating} = this.agenda()
      this.emit({
        type: 'run.started',
        runbook: this.state.runbook.name,
        environment: this.state.environment,
        resumed,
        runDir: journal.dir,
        startedAt: this.state.createdAt,
        agenda: agenda.map((a) => this.agendaItem(a)),
        compensating: compensating ? {failedStepId: compensating.id} : undefined,
        deadline: this.state.deadline ? {budgetMs: this.state.deadline.budgetMs, at: this.state.deadline.at, policy: this.state.deadline.policy} : undefined,
      })
      this.watchDeadline()
      for (const item of agenda) for (const rec of item) await this.runStep(rec.id)
      if (compensating) this.failAfterCompensation(compensating)
    } catch (error) {
      caught = error
    } finally {
      if (this.deadlineWatch) clearInterval(this.deadlineWatch)
      external?.removeEventListener('abort', onAbort)
    }
    return this.finish(caught)
  }

  /**
   * A resume first compares the world with what this run last left (the weights it set): if
   * someone has moved it since, continuing would act over their change, so the run stops here.
   */
  private async refuseIfWorldMoved(): Promise<void> {
    const byKind = new Map<string, StepRecord[]>()
    for (const rec of this.state.steps) byKind.set(rec.kind, [...(byKind.get(rec.kind) ?? []), rec])
    const moved: string[] = []
    for (const [name, recs] of byKind) {
      const kind = await loadKind(name).catch(() => undefined)
      if (!kind?.checkUnmoved || !recs.some((r) => r.status === 'succeeded' || r.status === 'running')) continue
      try {
        const what = await kind.checkUnmoved(this.stepContext(recs[0]!, this.abort.signal), recs)
        if (what) moved.push(what)
      } catch (error) {
        if (this.abort.signal.aborted) throw this.interrupted()
        moved.push(`the world could not be read to compare (${name}: ${errorMessage(error)})`)
      }
    }
    if (moved.length === 0) return
    throw new WorldMovedError(
      this.redactor.text(
        `Not resuming run ${this.state.id}: the world is not where it left it — ${moved.join('; ')}. Nothing was changed. See who acted with "clipper-ops audit --env ${this.state.environment ?? ''}"; to go on from the world as it is, start a new run.`,
      ),
    )
  }

  /**
   * Between two changes of a live run, too: a shift begins from where the previous one left the
   * world. Someone who moved it meanwhile (a colleague's rollback during the bake) is not
   * overruled; the run stops, nothing compensated, and says what it found.
   */
  private async refuseIfMovedSinceLastStep(kind: StepKind, rec: StepRecord, title: string): Promise<void> {
    const earlier = this.state.steps.filter((r) => r.kind === rec.kind && r.id !== rec.id && !r.compensationFor && r.status === 'succeeded')
    if (!kind.checkUnmoved || earlier.length === 0) return
    let what: string | undefined
    for (let attempt = 1; ; attempt++) {
      try {
        what = await kind.checkUnmoved(this.stepContext(rec, this.abort.signal), earlier)
        break
      } catch (error) {
        if (this.abort.signal.aborted) throw this.interrupted()
        // Acting without having compared is what this check exists to prevent.
        if (attempt >= 3) {
          what = `the world could not be read to compare (${rec.kind}: ${errorMessage(error)})`
          break
        }
        await sleep(1000, this.abort.signal).catch(() => undefined)
      }
    }
    if (what) {
      throw new WorldMovedError(
        this.redactor.text(
          `Stopped before "${title}": the world is not where this run left it — ${what}. Nothing was changed, nothing rolled back. See who acted with "clipper-ops audit --env ${this.state.environment ?? ''}".`,
        ),
      )
    }
  }

  /**
   * What this attempt walks through: the steps in order, a group's members together. A run
   * stopped during compensation resumes with just the compensating steps left to do.
   */
  private agenda(): {agenda: StepRecord[][]; compensating?: StepRecord} {
    const steps = this.state.steps
    const compensating = steps.find(
      (s) => s.status === 'failed' && !s.compensationFor && steps.some((c) => c.compensationFor === s.id && c.status !== 'succeeded' && c.status !== 'skipped'),
    )
    const list = compensating ? steps.filter((s) => s.compensationFor === compensating.id) : steps.filter((s) => !s.compensationFor)
    const agenda: StepRecord[][] = []
    for (const rec of list) {
      const last = agenda.at(-1)
      if (rec.group && last?.[0]?.group?.id === rec.group.id) last.push(rec)
      else agenda.push([rec])
    }
    return {agenda, compensating}
  }

  private agendaStep(rec: StepRecord): AgendaStep {
    return {id: rec.id, title: this.redactor.text(rec.title), kind: rec.kind, ...(this.continuesOnFailure(rec) ? {continues: true} : {})}
  }

  private agendaItem(members: StepRecord[]): AgendaItem {
    const first = members[0]!
    if (!first.group) return {type: 'step', ...this.agendaStep(first)}
    return {type: 'group', id: first.group.id, title: this.redactor.text(first.group.title), steps: members.map((m) => this.agendaStep(m))}
  }

  private continuesOnFailure(rec: StepRecord): boolean {
    if (rec.compensationFor) return false
    try {
      return specAt(this.rb, rec.specPath).onFailure === 'continue'
    } catch {
      return false
    }
  }

  /** `runs resume --assume-done X` / `--rerun X`: the operator settles an in-doubt step. */
  private async applyOperatorDecisions(): Promise<void> {
    for (const [list, decision] of [
      [this.opts.assumeDone ?? [], 'operator: assume done'],
      [this.opts.rerun ?? [], 'operator: run again'],
    ] as const) {
      for (const id of list) {
        const rec = this.state.steps.find((s) => s.id === id)
        if (!rec) throw new UsageError(`No step "${id}" in run ${this.state.id}; its steps: ${this.state.steps.map((s) => s.id).join(', ')}.`, {code: 'UNKNOWN_STEP'})
        if (rec.status !== 'running' && rec.status !== 'failed') {
          throw new UsageError(`Step ${id} is ${rec.status}, not in doubt or failed; there is nothing to decide.`, {code: 'NOT_IN_DOUBT'})
        }
        await this.record({type: 'step.reconciling', stepId: id, decision})
        if (decision === 'operator: assume done') {
          await this.record({type: 'step.succeeded', stepId: id, durationMs: 0, summary: 'marked done by the operator on resume', reconciled: decision})
        }
      }
    }
  }

  private rec(id: string): StepRecord {
    return this.state.steps.find((s) => s.id === id)!
  }

  private interrupted(): Interrupted {
    return new Interrupted(this.stopReason ?? 'interrupted')
  }

  /** Run one step. Returns when the run goes on after it; throws when the run stops. */
  private async runStep(id: string): Promise<void> {
    const rec = this.rec(id)
    if (this.stopReason) throw this.interrupted()
    if (rec.status === 'succeeded' || rec.status === 'skipped') {
      this.emit({type: 'step.skipped', stepId: id, title: this.redactor.text(rec.title), reason: `${rec.status === 'succeeded' ? 'done' : 'skipped'} in an earlier attempt`})
      return
    }
    const spec = specAt(this.rb, rec.specPath)
    const ctx = stepContexts(this.base, this.rb, this.state.steps, rec)
    if (spec.if !== undefined) {
      let enabled: boolean
      try {
        enabled = evaluateCondition(spec.if, ctx)
      } catch (error) {
        return this.failStep(rec, new RunFailedError(`step ${rec.id}: its "if" condition cannot be evaluated: ${errorMessage(error)}`))
      }
      if (!enabled) {
        const {reason, warning} = skipNote(spec, ctx)
        const text = this.redactor.text(reason)
        await this.record({type: 'step.skipped', stepId: id, reason: text, ...(warning ? {warning} : {})})
        this.emit({type: 'step.skipped', stepId: id, title: this.redactor.text(stepTitle(rec, spec, await loadKind(rec.kind), ctx)), reason: text, ...(warning ? {warning} : {})})
        return
      }
    }
    const kind = await loadKind(rec.kind)
    let inputs: unknown
    try {
      inputs = this.resolveInputs(kind, spec.with ?? {}, ctx, rec)
    } catch (error) {
      return this.failStep(rec, error)
    }
    const title = this.redactor.text(spec.name === undefined && kind.title ? kind.title(inputs) : rec.title)
    this.emit({
      type: 'step.started',
      stepId: id,
      title,
      kind: rec.kind,
      attempt: rec.attempts + 1,
      group: rec.group ? {id: rec.group.id, title: this.redactor.text(rec.group.title)} : undefined,
    })
    this.checkBudget(rec)

    if (rec.status === 'running' && (await this.reconcile(kind, rec, inputs, title)) === 'done') return
    if (kindMutates(kind, inputs)) {
      // The lease first: a run that lost it stops as such (130), whatever else moved.
      await this.fence()
      if (!rec.compensationFor) await this.refuseIfMovedSinceLastStep(kind, rec, title)
    }

    const maxAttempts = spec.retry?.attempts ?? 1
    let delay = parseDuration(spec.retry?.delay ?? '2s') ?? 2000
    for (let attempt = 1; ; attempt++) {
      const started = Date.now()
      await this.record({type: 'step.intent', stepId: id, attempt: rec.attempts + 1, inputs: this.redactor.deep(inputs), title})
      try {
        const result = await this.withTimeout(spec.timeout, (signal) => kind.run(this.stepContext(rec, signal), inputs))
        const summary = result.summary ? this.redactor.text(result.summary) : undefined
        const changes = this.redactor.deep(result.changes)
        await this.record({type: 'step.succeeded', stepId: id, outputs: this.redactor.deep(result.outputs ?? {}), changes, summary, durationMs: Date.now() - started})
        this.auditChanges(id, changes)
        this.emit({type: 'step.succeeded', stepId: id, title, summary, changes, durationMs: Date.now() - started})
        return
      } catch (error) {
        if (this.abort.signal.aborted) throw this.interrupted()
        if (error instanceof RunPausedError) return this.pause(rec, title, error)
        if (attempt < maxAttempts && !(error instanceof UsageError)) {
          const message = this.redactor.text(errorMessage(error))
          await this.record({type: 'step.retry', stepId: id, attempt, error: message, delayMs: delay})
          this.emit({type: 'step.retrying', stepId: id, attempt, of: maxAttempts, error: message, delayMs: delay})
          await sleep(delay, this.abort.signal).catch(() => undefined)
          if (this.abort.signal.aborted) throw this.interrupted()
          delay = Math.round(delay * (spec.retry?.backoff ?? 2))
          continue
        }
        return this.failStep(rec, error, Date.now() - started)
      }
    }
  }

  private resolveInputs(kind: StepKind, raw: Record<string, unknown>, ctx: Contexts, rec: StepRecord): unknown {
    let resolved: unknown
    try {
      resolved = resolveDeep(raw, ctx)
    } catch (error) {
      throw new RunFailedError(`step ${rec.id}: an input expression failed: ${errorMessage(error)}`, {code: 'BAD_INPUT'})
    }
    const parsed = kind.inputs.safeParse(resolved)
    if (!parsed.success) {
      const msg = parsed.error.issues.map((i) => `with.${i.path.join('.')}: ${i.message}`).join('; ')
      throw new RunFailedError(`step ${rec.id} (${kind.kind}): inputs are not valid once resolved: ${this.redactor.text(msg)}`, {code: 'BAD_INPUT'})
    }
    return parsed.data
  }

  /** The audit trail gets every step that changed the world (reads, waits and questions are not changes). */
  private auditChanges(stepId: string, changes: Change[] | undefined): void {
    if (!changes?.some(changesWorld)) return
    this.audit({action: 'step.changed', scope: this.state.lockScope, runId: this.state.id, detail: {step: stepId, changes}})
  }

  /**
   * The budget at each step: do the steps left still fit the time left? Said once (on the step's
   * output and in the audit trail), when they stop fitting; the run goes on — its deadline policy decides.
   */
  private checkBudget(rec: StepRecord): void {
    const b = this.opts.budget
    const d = this.state.deadline
    if (!b || !d || this.budgetSaid) return
    const left = this.state.steps.filter((s) => !s.compensationFor && s.status !== 'succeeded' && s.status !== 'skipped').reduce((a, s) => a + (b.worstCaseMs[s.id] ?? 0), 0)
    const timeLeft = Date.parse(d.at) - Date.now()
    if (left <= timeLeft) return
    this.budgetSaid = true
    const line = `budget: the steps left could take ${formatDuration(left)} at worst, and ${timeLeft > 0 ? `${formatDuration(timeLeft)} is left` : 'nothing is left'} of the ${formatDuration(d.budgetMs)} budget${b.hint ? ` (${b.hint}: --fast)` : ''}`
    this.emit({type: 'step.output', stepId: rec.id, line})
    this.audit({action: 'budget.over', scope: this.state.lockScope, runId: this.state.id, detail: {step: rec.id, worstCaseLeftMs: left, timeLeftMs: timeLeft}})
  }

  /** Settle a step left in doubt by a dead run: read the world, then record it done or act again. */
  private async reconcile(kind: StepKind, rec: StepRecord, inputs: unknown, title: string): Promise<'done' | 'redo'> {
    if (rec.reconciled === 'operator: run again') return 'redo'
    this.emit({type: 'step.in-doubt', stepId: rec.id, verdict: 'checking', detail: `${rec.id} was interrupted before its result was recorded; checking the world before going on`})
    let verdict: Reconciled
    try {
      verdict = await reconcileStep(kind, this.stepContext(rec, this.abort.signal), inputs)
    } catch (error) {
      if (this.abort.signal.aborted) throw this.interrupted()
      verdict = {unknown: `checking the world failed: ${errorMessage(error)}`}
    }
    if ('unknown' in verdict) {
      await this.record({type: 'step.reconciling', stepId: rec.id, decision: `unknown: ${verdict.unknown}`})
      this.emit({type: 'step.in-doubt', stepId: rec.id, verdict: 'unknown', detail: this.redactor.text(verdict.unknown)})
      // The step stays in doubt (running, no result) for the operator to settle; nothing is compensated.
      const error = new RunFailedError(
        this.redactor.text(
          `Step ${rec.id} was interrupted and clipper-ops cannot tell whether it took effect: ${verdict.unknown}. Look at the world, then continue with one of:\n` +
            `  clipper-ops runs resume ${this.state.id} --assume-done ${rec.id}   (it did take effect)\n` +
            `  clipper-ops runs resume ${this.state.id} --rerun ${rec.id}         (run it again)`,
        ),
        {code: 'IN_DOUBT'},
      )
      this.emit({type: 'step.failed', stepId: rec.id, title, error: {message: error.message, code: error.code}, continues: false})
      throw error
    }
    if (verdict.done) {
      const summary = verdict.summary ?? 'found in place after the interruption'
      const changes = this.redactor.deep(verdict.changes)
      await this.record({type: 'step.reconciling', stepId: rec.id, decision: 'done'})
      await this.record({
        type: 'step.succeeded',
        stepId: rec.id,
        outputs: this.redactor.deep((verdict.outputs ?? {}) as Record<string, unknown>),
        changes,
        summary,
        durationMs: 0,
        reconciled: 'done',
      })
      this.auditChanges(rec.id, changes)
      this.emit({type: 'step.in-doubt', stepId: rec.id, verdict: 'done'})
      this.emit({type: 'step.succeeded', stepId: rec.id, title, summary: 'already in place (found after the interruption)', changes, durationMs: 0, reconciled: true})
      return 'done'
    }
    await this.record({type: 'step.reconciling', stepId: rec.id, decision: 'redo'})
    this.emit({type: 'step.in-doubt', stepId: rec.id, verdict: 'redo', detail: `${rec.id} had not taken effect; running it again`})
    return 'redo'
  }

  /**
   * Fencing: before a change, prove the lease is still ours. A lost lease (broken, taken over)
   * stops the run where it is; a lease that cannot be read is retried, then treated as lost —
   * acting without proof is what fencing forbids.
   */
  private async fence(): Promise<void> {
    if (!this.heldLock) return
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.heldLock.verify()
      } catch (error) {
        if (error instanceof LockLostError || attempt >= 3) {
          this.stop(error instanceof LockLostError ? error.message : `lock lost: the lease could not be read to prove it is still ours (${errorMessage(error)})`)
          throw this.interrupted()
        }
        await sleep(1000, this.abort.signal).catch(() => undefined)
        if (this.abort.signal.aborted) throw this.interrupted()
      }
    }
  }

  /** A change sent holding the lease (HeldLock.fenced); a lost lease stops the run as fence() does. */
  private async fenced<T>(send: (lease: LeaseInBatch | undefined) => Promise<T>): Promise<T> {
    if (!this.heldLock) return send(undefined)
    await this.fence()
    try {
      return await this.heldLock.fenced(send)
    } catch (error) {
      if (error instanceof LockLostError) {
        this.stop(error.message)
        throw this.interrupted()
      }
      throw error
    }
  }

  /** A step paused the run ("no" at an approval): it stops here, resumable, and nothing is compensated. */
  private async pause(rec: StepRecord, title: string, error: RunPausedError): Promise<never> {
    const reason = this.redactor.text(error.message)
    await this.record({type: 'step.paused', stepId: rec.id, reason})
    this.emit({type: 'step.paused', stepId: rec.id, title, reason})
    this.stop(reason)
    throw this.interrupted()
  }

  /**
   * A step failed. The run goes on (onFailure: continue), or stops — after running the
   * compensating steps, when there are any. Returns only when the run goes on.
   */
  private async failStep(rec: StepRecord, error: unknown, durationMs?: number): Promise<void> {
    const message = this.redactor.text(errorMessage(error))
    const code = error instanceof OpsError ? error.code : undefined
    await this.record({type: 'step.failed', stepId: rec.id, error: {message, code}, durationMs})
    const title = this.redactor.text(rec.title)
    if (this.continuesOnFailure(rec)) {
      this.emit({type: 'step.failed', stepId: rec.id, title, error: {message, code}, durationMs, continues: true})
      return
    }
    this.failure ??= {stepId: rec.id, message, code}
    // Someone else's concurrent edit made the step fail: compensating would overrule them too.
    const overrules = error instanceof OpsError && error.code === 'CONCURRENT_EDIT'
    const comp = rec.compensationFor || overrules ? [] : compensationFor(this.rb, rec, stepContexts(this.base, this.rb, this.state.steps, rec))
    if (comp.length) await this.record({type: 'steps.added', steps: comp})
    this.emit({
      type: 'step.failed',
      stepId: rec.id,
      title,
      error: {message, code},
      durationMs,
      continues: false,
      ...(comp.length ? {compensation: comp.map((c) => this.agendaStep(c))} : {}),
    })
    if (comp.length === 0) throw new RunFailedError(message, {code})
    for (const c of comp) await this.runStep(c.id)
    this.failAfterCompensation(rec)
  }

  private failAfterCompensation(failed: StepRecord): never {
    const f = this.rec(failed.id)
    this.failure = {stepId: f.id, message: f.error?.message ?? 'failed', code: f.error?.code, compensated: true}
    throw new RunFailedError(`${f.id} failed (${f.error?.message ?? 'failed'}); its compensating steps ran.`, {code: 'COMPENSATED'})
  }

  private stepContext(rec: StepRecord, signal: AbortSignal): StepContext {
    const logFile = join(this.journal.dir, 'output.log')
    const state = this.state
    const host = this.opts.host
    return {
      runId: state.id,
      stepId: rec.id,
      envName: state.environment,
      environment: this.opts.environment ?? state.environmentConfig,
      dryRun: false,
      signal,
      prompt: {
        interactive: Boolean(host.confirm),
        yes: this.opts.yes,
        confirm: async (message, o = {}) => {
          if (!host.confirm) throw new Error('cannot ask: no terminal (or --no-input)')
          return host.confirm({runId: state.id, stepId: rec.id, message, default: o.default ?? false, timeoutMs: o.timeoutMs, signal})
        },
      },
      run: {
        runbook: state.runbook.name,
        step: (id) => this.state.steps.find((s) => s.id === id),
        lastOfKind: (alsoKinds = []) =>
          rec.compensationFor
            ? undefined
            : this.state.steps.filter((s) => (s.kind === rec.kind || alsoKinds.includes(s.kind)) && s.id !== rec.id && !s.compensationFor && s.status === 'succeeded').at(-1),
      },
      runDir: this.journal.dir,
      stateDir: this.opts.stateDir.root,
      log: (line) => {
        const clean = this.redactor.text(line)
        this.emit({type: 'step.output', stepId: rec.id, line: clean})
        appendFileSync(logFile, `${new Date().toISOString()} [${rec.id}] ${clean}\n`, {mode: 0o600})
      },
      fence: () => this.fence(),
      fenced: (send) => this.fenced(send),
      note: async (detail) => {
        await this.record({type: 'step.note', stepId: rec.id, detail: this.redactor.deep(detail)})
      },
      previous: {notes: {...rec.notes}, startedAt: rec.startedAt, attempts: rec.attempts},
      remainingMs: () => (state.deadline ? Date.parse(state.deadline.at) - Date.now() : undefined),
      secret: (v) => this.redactor.add(v),
      redact: (t) => this.redactor.text(t),
      childEnv: childEnvFor(this.opts.environment ?? state.environmentConfig, this.opts.childEnv),
      projected: new Map(),
      saved: this.opts.saved?.[rec.id],
      kinds: {load: loadKind},
      audit: (action, detail) => this.audit({action, scope: state.lockScope, runId: state.id, detail: {step: rec.id, ...this.redactor.deep(detail)}}),
    }
  }

  private async withTimeout<T>(timeout: string | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const ms = timeout ? parseDuration(timeout) : undefined
    if (!ms) return fn(this.abort.signal)
    const local = new AbortController()
    const signal = AbortSignal.any([this.abort.signal, local.signal])
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new RunFailedError(`timed out after ${formatDuration(ms)}`, {code: 'TIMEOUT'})
        local.abort(err)
        reject(err)
      }, ms)
    })
    try {
      return await Promise.race([fn(signal), timedOut])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Once a second: notice a passed deadline, record it, and stop the run if its policy says so. */
  private watchDeadline(): void {
    const d = this.state.deadline
    if (!d || d.exceededAt) return
    this.deadlineWatch = setInterval(() => void this.checkDeadline().catch(() => undefined), 1000)
    this.deadlineWatch.unref()
  }

  private async checkDeadline(): Promise<void> {
    {
      const deadline = this.state.deadline
      if (!deadline || deadline.exceededAt || this.deadlineNoted || Date.now() <= Date.parse(deadline.at)) return
      this.deadlineNoted = true // once, even while the write is on its way
      await this.record({type: 'deadline.exceeded', budgetMs: deadline.budgetMs})
      this.emit({type: 'deadline.exceeded', runbook: this.state.runbook.name, budgetMs: deadline.budgetMs, policy: deadline.policy})
      if (deadline.policy === 'fail') {
        this.failure ??= {message: `deadline of ${formatDuration(deadline.budgetMs)} passed`, code: 'DEADLINE'}
        this.stop('deadline passed')
      }
    }
  }

  /**
   * Every ending says where the world is: each kind the run used that can read its part back
   * (the live weights) does so now, on a signal of its own — the run's may be aborted already.
   */
  private async readBackWorld(): Promise<WorldAtEnd[] | undefined> {
    const out: WorldAtEnd[] = []
    const seen = new Set<string>()
    for (const rec of this.state.steps) {
      if (seen.has(rec.kind)) continue
      seen.add(rec.kind)
      const kind = await loadKind(rec.kind).catch(() => undefined)
      if (!kind?.readBack) continue
      const at = new Date().toISOString()
      try {
        const r = await kind.readBack(this.stepContext(rec, AbortSignal.timeout(15_000)))
        out.push({kind: rec.kind, at, summary: this.redactor.text(r.summary), ...(r.data ? {data: this.redactor.deep(r.data)} : {})})
      } catch (error) {
        out.push({kind: rec.kind, at, summary: `could not be read back (${rec.kind})`, error: this.redactor.text(errorMessage(error))})
      }
    }
    return out.length ? out : undefined
  }

  /** A write at the end of a run: one refused (fenced) or failed must not hide how the run ended. */
  private async recordEnd(event: RunEvent): Promise<void> {
    if (this.journal.fenced) return
    await this.record(event).catch(() => undefined)
  }

  private async finish(caught: unknown): Promise<RunOutcome> {
    const interrupted = this.abort.signal.aborted && !(this.failure?.code === 'DEADLINE')
    const world = await this.readBackWorld()
    let exitCode: number
    if (caught instanceof WorldMovedError) {
      // Refused before any step: the run stays as it was (stopped, resumable), and says why.
      await this.recordEnd({type: 'run.interrupted', reason: caught.message, world})
      exitCode = EXIT.failed
    } else if (interrupted) {
      await this.recordEnd({type: 'run.interrupted', reason: this.stopReason ?? 'interrupted', ...(this.state.stopped ? {paused: true} : {}), world})
      exitCode = EXIT.interrupted
    } else if (caught || this.failure) {
      const failure = this.failure ?? {message: this.redactor.text(errorMessage(caught)), code: caught instanceof OpsError ? caught.code : undefined}
      if (this.failure?.code === 'DEADLINE') {
        for (const s of this.state.steps.filter((x) => x.status === 'running')) {
          await this.recordEnd({type: 'step.failed', stepId: s.id, error: {message: 'stopped: the deadline passed', code: 'DEADLINE'}})
        }
      }
      await this.recordEnd({type: 'run.finished', status: 'failed', failure, world})
      exitCode = EXIT.failed
    } else {
      await this.recordEnd({type: 'run.finished', status: 'succeeded', world})
      exitCode = EXIT.ok
    }
    const released = this.heldLock ? await this.heldLock.release().catch(() => false) : false
    const fenced = this.journal.fenced
    this.audit({
      action: fenced ? 'run.fenced' : `run.${this.state.status}`,
      scope: this.state.lockScope,
      runId: this.state.id,
      detail: fenced ? {reason: fenced} : {failure: this.state.failure, lockReleased: released},
    })
    await Promise.all(this.auditing)
    await this.journal.close()
    // Fenced: the run is another operator's now. Its record is theirs to write; this process
    // says how it stopped, and its reports stay on this machine.
    const state: RunState = fenced ? {...this.state, status: 'interrupted', stopped: {reason: fenced}, world} : this.state
    if (fenced) exitCode = EXIT.interrupted
    const reports = fenced ? writeRunReports(this.journal.dir, state) : await this.store.saveReports(this.journal)
    this.emit({
      type: 'run.finished',
      status: state.status,
      exitCode,
      durationMs: state.durationMs,
      failure: state.failure,
      ...(interrupted || fenced ? {reason: fenced ?? this.stopReason} : {}),
      reports,
    })
    return {state, exitCode, reports}
  }
}

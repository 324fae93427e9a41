/**
 * Runs (and resumes) a runbook as a listr2 task list, keeping the engine's promises: every
 * transition journaled before and after its side effect, in-doubt steps reconciled against the
 * world on resume, one lock per environment with a heartbeat, a deadline with elapsed and
 * remaining time, compensating steps on failure, and no secrets in anything written.
 */
import {appendFileSync} from 'node:fs'
import {join} from 'node:path'
import type {ListrTask, ListrTaskWrapper} from 'listr2'
import type {Environment} from '../config/schema.js'
import {EXIT, OpsError, RunFailedError, UsageError, errorMessage} from '../errors.js'
import {parseRunbook, type LoadedRunbook} from '../runbook/load.js'
import {evaluateCondition, evaluateTemplate, hasExpression, resolveDeep, type Contexts} from '../runbook/expressions.js'
import type {Runbook} from '../runbook/schema.js'
import {loadKind} from '../steps/registry.js'
import type {Reconciled, StepContext, StepKind} from '../steps/types.js'
import {formatDuration, parseDuration} from '../util/duration.js'
import {Redactor} from '../util/redact.js'
import {childEnvFor} from '../config/tools.js'
import {readTextFile} from '../util/yaml-file.js'
import {audit} from './audit.js'
import {compensationFor, expandSteps, specAt} from './expand.js'
import {acquireLock, lockTtlMs, type HeldLock, type LockBackend} from './lock.js'
import {lockBackendForEnvironment} from './lock-backends.js'
import {promptApi} from './prompt.js'
import {newRunId, RunJournal, StateDir, whoAmI, type JournalEntry, type RunState, type StepRecord, type Who} from './state.js'
import {writeRunReports} from '../report/run-report.js'

export type OutputMode = 'tty' | 'plain' | 'json' | 'quiet'

export interface EngineOptions {
  stateDir: StateDir
  yes: boolean
  interactive: boolean
  output: OutputMode
  /** Lock backend for this environment (default: a file under the state dir). */
  lockBackend?: LockBackend
  /** Environment for child processes (the sandbox adds its tool stand-ins here). */
  childEnv?: NodeJS.ProcessEnv
  /** Who is running, when more is known than the local user (e.g. the AWS caller identity). */
  who?: Who
  /** Operator decisions for in-doubt steps on resume. */
  assumeDone?: string[]
  rerun?: string[]
}

export interface RunOutcome {
  state: RunState
  exitCode: number
  reports: {markdown: string; junit: string; json: string}
}

export interface StartInput {
  loaded: LoadedRunbook
  params: Record<string, unknown>
  env?: {name: string; environment: Environment}
}

class Interrupted extends Error {}

/** Contexts that expressions read; `steps` is filled from the run's records. */
export function baseContexts(state: Pick<RunState, 'params' | 'environmentConfig' | 'environment' | 'id' | 'createdAt'>, redactor: Redactor, dryRun: boolean): Contexts {
  const secrets = new Proxy(
    {},
    {
      get: (_t, name) => {
        if (typeof name !== 'string') return undefined
        const v = process.env[name]
        redactor.add(v)
        return v
      },
      has: () => true,
    },
  )
  return {
    params: state.params,
    env: state.environmentConfig ?? {},
    envName: state.environment ?? '',
    run: {id: state.id, startedAt: state.createdAt, dryRun},
    secrets,
    steps: {},
  }
}

/** The contexts a step sees: the run's, its group's item, and the outputs of steps before it. */
export function stepContexts(base: Contexts, rb: Runbook, steps: StepRecord[], rec: StepRecord): Contexts {
  const view: Record<string, {outputs: Record<string, unknown>; status: string}> = {}
  for (const s of steps) view[s.id] = {outputs: s.outputs ?? {}, status: s.status}
  const ctx: Contexts = {...base, steps: view}
  // Inside a group (a forEach iteration, or the compensating steps of one failure), siblings
  // are reachable by their short id.
  if (rec.group) for (const s of steps) if (s.group?.id === rec.group.id) view[s.id.slice(rec.group.id.length + 1)] = view[s.id]!
  if (rec.group && !rec.compensationFor) {
    const groupSpec = specAt(rb, rec.specPath.replace(/\.steps\[\d+\]$/, ''))
    ctx[groupSpec.as ?? 'item'] = rec.group.item
    ctx.index = rec.group.index
  }
  if (rec.compensationFor) {
    const failed = steps.find((s) => s.id === rec.compensationFor)
    // A runbook-level onFailure may read a group's item; outside a group it is simply undefined.
    for (const g of rb.steps.filter((x) => x.forEach !== undefined)) {
      ctx[g.as ?? 'item'] = undefined
      ctx.index = undefined
    }
    if (failed?.group && !failed.compensationFor) {
      const groupSpec = specAt(rb, failed.specPath.replace(/\.steps\[\d+\]$/, ''))
      ctx[groupSpec.as ?? 'item'] = failed.group.item
      ctx.index = failed.group.index
    }
    ctx.failed = {id: failed?.id, title: failed?.title, error: failed?.error?.message}
  }
  return ctx
}

export function resolveDeadline(rb: Runbook, ctx: Contexts): number | undefined {
  if (!rb.deadline) return undefined
  const raw = hasExpression(rb.deadline) ? evaluateTemplate(rb.deadline, ctx) : rb.deadline
  const ms = typeof raw === 'number' || typeof raw === 'string' ? parseDuration(raw) : undefined
  if (ms === undefined) throw new UsageError(`Runbook "${rb.name}": deadline "${rb.deadline}" gave ${JSON.stringify(raw)}, not a duration such as 30m.`, {code: 'BAD_DEADLINE'})
  return ms
}

export function lockScopeFor(rb: Runbook, envName?: string): string {
  return envName ?? `runbook-${rb.name}`
}

/** Whether any step of the runbook (compensations included) changes the world. */
export async function runbookMutates(rb: Runbook): Promise<boolean> {
  const specs = [...rb.steps, ...(rb.onFailure ?? [])]
  while (specs.length > 0) {
    const s = specs.pop()!
    if (s.steps) specs.push(...s.steps)
    if (Array.isArray(s.onFailure)) specs.push(...s.onFailure)
    if (s.uses) {
      const kind = await loadKind(s.uses)
      try {
        if (kind.mutates(s.with ?? {})) return true
      } catch {
        return true
      }
    }
  }
  return false
}

export async function startRun(input: StartInput, opts: EngineOptions): Promise<RunOutcome> {
  const {loaded, params, env} = input
  const rb = loaded.runbook
  const who = opts.who ?? whoAmI()
  const id = newRunId(rb.name)
  const now = new Date().toISOString()
  const redactor = new Redactor()
  const draft: RunState = {
    schema: 1,
    id,
    seq: 0,
    status: 'running',
    runbook: {name: rb.name, file: loaded.file, sha256: loaded.sha256, builtin: loaded.builtin, description: rb.description, recovery: rb.recovery},
    environment: env?.name,
    lockScope: lockScopeFor(rb, env?.name),
    params,
    environmentConfig: env?.environment,
    protected: env?.environment.protected ?? false,
    who,
    createdAt: now,
    updatedAt: now,
    steps: [],
    attempts: [],
  }
  const ctx = baseContexts(draft, redactor, false)
  draft.steps = expandSteps(rb, ctx)
  const budget = resolveDeadline(rb, ctx)
  if (budget !== undefined) draft.deadline = {budgetMs: budget, at: new Date(Date.parse(now) + budget).toISOString(), policy: rb.onDeadline}
  if (rb.undo) {
    try {
      draft.undo = String(evaluateTemplate(rb.undo, ctx))
    } catch {
      draft.undo = rb.undo
    }
  }
  const backend = opts.lockBackend ?? (await lockBackendForEnvironment(env?.environment, opts.stateDir))
  const exec = new RunExecutor(opts, redactor)
  // The lock comes first: a refused run leaves no run directory behind.
  await exec.lock(backend, draft)
  const journal = RunJournal.create(opts.stateDir, redactor.deep(draft), loaded.source)
  return exec.execute(journal, rb, false)
}

export async function resumeRun(runId: string, opts: EngineOptions): Promise<RunOutcome> {
  const journal = RunJournal.open(opts.stateDir, runId)
  const state = journal.state
  if (state.status === 'succeeded') {
    journal.close()
    throw new UsageError(`Run ${runId} already succeeded; there is nothing to resume. Start a new run instead.`, {code: 'NOTHING_TO_RESUME'})
  }
  if (state.status === 'failed' && state.failure?.compensated) {
    journal.close()
    throw new UsageError(
      `Run ${runId} failed at ${state.failure.stepId} and its compensating steps ran (${state.failure.message}); resuming would act on a world those steps changed. Start a new run instead.`,
      {code: 'COMPENSATED'},
    )
  }
  const source = readTextFile(join(journal.dir, 'runbook.yaml'), 'Runbook copy')
  const loaded = await parseRunbook(state.runbook.file, source, state.runbook.builtin)
  const redactor = new Redactor()
  const exec = new RunExecutor(opts, redactor)
  const backend = opts.lockBackend ?? (await lockBackendForEnvironment(state.environmentConfig, opts.stateDir))
  try {
    await exec.lock(backend, state)
  } catch (error) {
    journal.close()
    throw error
  }
  return exec.execute(journal, loaded.runbook, true)
}

class RunExecutor {
  private heldLock: HeldLock | undefined
  private readonly abort = new AbortController()
  private stopReason: string | undefined
  private journal!: RunJournal
  private rb!: Runbook
  private base!: Contexts
  private ticker: NodeJS.Timeout | undefined
  private currentTask: ListrTaskWrapper<any, any, any> | undefined
  private currentTitle = ''
  private failure: RunState['failure']
  private readonly who: Who

  constructor(
    private readonly opts: EngineOptions,
    private readonly redactor: Redactor,
  ) {
    this.who = opts.who ?? whoAmI()
  }

  async lock(backend: LockBackend, state: RunState): Promise<void> {
    const {lock, tookOver} = await acquireLock({
      backend,
      scope: state.lockScope,
      runId: state.id,
      runbook: state.runbook.name,
      who: this.who,
      ttlMs: lockTtlMs(),
      onLost: (reason) => this.stop(`lock lost: ${reason}`),
    })
    this.heldLock = lock
    audit(this.opts.stateDir.auditFile(), {
      who: this.who,
      action: tookOver ? 'lock.taken-over' : 'lock.acquired',
      scope: state.lockScope,
      runId: state.id,
      detail: {where: backend.where(state.lockScope), ...(tookOver ? {previous: tookOver} : {})},
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

  async execute(journal: RunJournal, rb: Runbook, resumed: boolean): Promise<RunOutcome> {
    this.journal = journal
    this.rb = rb
    this.base = baseContexts(journal.state, this.redactor, false)
    if (this.opts.output === 'json') journal.onEvent((e) => process.stdout.write(`${JSON.stringify(e)}\n`))
    const onSignal = (sig: NodeJS.Signals) => {
      if (this.stopReason) process.exit(EXIT.interrupted) // a second Ctrl-C: leave now
      this.stop(`received ${sig}`)
    }
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']
    for (const s of signals) process.on(s, onSignal)

    journal.append({type: 'run.attempt', pid: process.pid, user: this.who.user, host: this.who.host, resumed})
    audit(this.opts.stateDir.auditFile(), {
      who: this.who,
      action: resumed ? 'run.resumed' : 'run.started',
      scope: this.state.lockScope,
      runId: this.state.id,
      detail: {runbook: this.state.runbook.name, params: this.redactor.deep(this.state.params)},
    })
    this.applyOperatorDecisions()
    this.startTicker()

    let caught: unknown
    try {
      const {Listr} = await import('listr2')
      const list = new Listr(this.buildTasks(), await this.listrOptions())
      await list.run()
    } catch (error) {
      caught = error
    } finally {
      if (this.ticker) clearInterval(this.ticker)
      for (const s of signals) process.off(s, onSignal)
    }
    return this.finish(caught)
  }

  /** `runs resume --assume-done X` / `--rerun X`: the operator settles an in-doubt step. */
  private applyOperatorDecisions(): void {
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
        this.journal.append({type: 'step.reconciling', stepId: id, decision})
        if (decision === 'operator: assume done') {
          this.journal.append({type: 'step.succeeded', stepId: id, durationMs: 0, summary: 'marked done by the operator on resume', reconciled: decision})
        }
      }
    }
  }

  private async listrOptions(): Promise<Record<string, unknown>> {
    const {ListrLogger, ProcessOutput} = await import('listr2')
    // Progress is a message, not data: it goes to stderr, leaving stdout for --json.
    const logger = new ListrLogger({processOutput: new ProcessOutput(process.stderr, process.stderr)})
    const mode = this.opts.output
    return {
      renderer: mode === 'tty' ? 'default' : mode === 'plain' ? 'simple' : 'silent',
      fallbackRenderer: 'simple',
      fallbackRendererCondition: mode !== 'tty',
      silentRendererCondition: mode === 'json' || mode === 'quiet',
      registerSignalListeners: false,
      exitOnError: true,
      collectErrors: false,
      rendererOptions: {logger, collapseSubtasks: false, showErrorMessage: true, collapseErrors: false, suffixSkips: true, timer: undefined, formatOutput: 'wrap'},
      fallbackRendererOptions: {logger, timestamp: undefined},
    }
  }

  private buildTasks(): ListrTask[] {
    const steps = this.state.steps
    // A run stopped during compensation resumes with just the compensating steps left to do.
    const compensating = this.state.steps.find((s) => s.status === 'failed' && !s.compensationFor && steps.some((c) => c.compensationFor === s.id && c.status !== 'succeeded' && c.status !== 'skipped'))
    const agenda = compensating ? steps.filter((s) => s.compensationFor === compensating.id) : steps.filter((s) => !s.compensationFor)
    const tasks: ListrTask[] = []
    for (let i = 0; i < agenda.length; i++) {
      const rec = agenda[i]!
      if (rec.group) {
        const members = [rec]
        while (i + 1 < agenda.length && agenda[i + 1]!.group?.id === rec.group.id) members.push(agenda[++i]!)
        tasks.push({
          title: rec.group.title,
          task: (_ctx, task) => task.newListr(members.map((m) => this.stepTask(m.id)), {exitOnError: true}),
        })
      } else tasks.push(this.stepTask(rec.id))
    }
    if (compensating) {
      const failed = compensating
      tasks.push({title: 'stop', task: () => this.failAfterCompensation(failed)})
    }
    return tasks
  }

  private stepTask(id: string): ListrTask {
    const rec = this.state.steps.find((s) => s.id === id)!
    let exitOnError = true
    try {
      exitOnError = specAt(this.rb, rec.specPath).onFailure !== 'continue'
    } catch {
      /* compensations use the default */
    }
    return {title: rec.title, exitOnError, task: async (_ctx, task) => this.runStep(id, task)}
  }

  /**
   * Show a skipped step with its title and the reason. The default renderer shows a skip message
   * instead of the title, the plain one beside it: so the message carries the title on a TTY only.
   */
  private skip(task: ListrTaskWrapper<any, any, any>, title: string, reason: string): void {
    if (this.opts.output === 'tty') {
      task.title = `${title} — ${reason}`
      task.skip()
    } else task.skip(reason)
  }

  private rec(id: string): StepRecord {
    return this.state.steps.find((s) => s.id === id)!
  }

  private async runStep(id: string, task: ListrTaskWrapper<any, any, any>): Promise<unknown> {
    const rec = this.rec(id)
    if (this.stopReason) throw new Interrupted(this.stopReason)
    if (rec.status === 'succeeded' || rec.status === 'skipped') {
      this.skip(task, rec.title, `${rec.status === 'succeeded' ? 'done' : 'skipped'} in an earlier attempt`)
      return
    }
    const spec = specAt(this.rb, rec.specPath)
    const ctx = stepContexts(this.base, this.rb, this.state.steps, rec)
    if (spec.if !== undefined) {
      let enabled: boolean
      try {
        enabled = evaluateCondition(spec.if, ctx)
      } catch (error) {
        return this.failStep(rec, task, new RunFailedError(`step ${rec.id}: its "if" condition cannot be evaluated: ${errorMessage(error)}`))
      }
      if (!enabled) {
        this.journal.append({type: 'step.skipped', stepId: id, reason: `condition is false: ${String(spec.if)}`})
        this.skip(task, rec.title, 'condition is false')
        return
      }
    }
    const kind = await loadKind(rec.kind)
    let inputs: unknown
    try {
      inputs = this.resolveInputs(kind, spec.with ?? {}, ctx, rec)
    } catch (error) {
      return this.failStep(rec, task, error)
    }
    const title = kind.title ? kind.title(inputs) : rec.title
    const shownTitle = this.redactor.text(rec.title !== rec.id ? rec.title : title)
    task.title = shownTitle
    this.currentTask = task
    this.currentTitle = shownTitle
    this.showDeadline(task)

    if (rec.status === 'running') {
      const decision = await this.reconcile(kind, rec, inputs, task)
      if (decision === 'done') return
    }

    const maxAttempts = spec.retry?.attempts ?? 1
    let delay = parseDuration(spec.retry?.delay ?? '2s') ?? 2000
    for (let attempt = 1; ; attempt++) {
      const started = Date.now()
      this.journal.append({type: 'step.intent', stepId: id, attempt: rec.attempts + 1, inputs: this.redactor.deep(inputs), title: shownTitle})
      try {
        const result = await this.withTimeout(spec.timeout, (signal) => kind.run(this.stepContext(rec, task, signal), inputs))
        this.journal.append({
          type: 'step.succeeded',
          stepId: id,
          outputs: this.redactor.deep(result.outputs ?? {}),
          changes: this.redactor.deep(result.changes),
          summary: result.summary ? this.redactor.text(result.summary) : undefined,
          durationMs: Date.now() - started,
        })
        if (result.changes?.some((c) => c.action !== 'none' && c.action !== 'check' && c.action !== 'wait')) {
          audit(this.opts.stateDir.auditFile(), {who: this.who, action: 'step.changed', scope: this.state.lockScope, runId: this.state.id, detail: {step: id, changes: this.redactor.deep(result.changes)}})
        }
        if (result.summary) task.title = `${shownTitle} — ${this.redactor.text(result.summary)}`
        return
      } catch (error) {
        if (this.abort.signal.aborted) throw new Interrupted(this.stopReason ?? 'interrupted')
        if (attempt < maxAttempts && !(error instanceof UsageError)) {
          this.journal.append({type: 'step.retry', stepId: id, attempt, error: this.redactor.text(errorMessage(error)), delayMs: delay})
          task.output = `attempt ${attempt} of ${maxAttempts} failed: ${this.redactor.text(errorMessage(error))}; retrying in ${formatDuration(delay)}`
          await sleep(delay, this.abort.signal).catch(() => undefined)
          if (this.abort.signal.aborted) throw new Interrupted(this.stopReason ?? 'interrupted')
          delay = Math.round(delay * (spec.retry?.backoff ?? 2))
          continue
        }
        return this.failStep(rec, task, error, Date.now() - started)
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

  /** Settle a step left in doubt by a dead run: read the world, then record it done or act again. */
  private async reconcile(kind: StepKind, rec: StepRecord, inputs: unknown, task: ListrTaskWrapper<any, any, any>): Promise<'done' | 'redo'> {
    if (rec.reconciled === 'operator: run again') return 'redo'
    task.output = `${rec.id} was interrupted before its result was recorded; checking the world before going on`
    const ctx = this.stepContext(rec, task, this.abort.signal)
    let verdict: Reconciled
    try {
      if (kind.reconcile) verdict = await kind.reconcile(ctx, inputs)
      else if (!kind.mutates(inputs)) verdict = {done: false}
      else {
        const plan = await kind.plan(ctx, inputs)
        verdict = plan.changes.every((c) => c.action === 'none') ? {done: true, outputs: plan.outputs as Record<string, unknown>, summary: 'already in place'} : {done: false}
      }
    } catch (error) {
      if (this.abort.signal.aborted) throw new Interrupted(this.stopReason ?? 'interrupted')
      verdict = {unknown: `checking the world failed: ${errorMessage(error)}`}
    }
    if ('unknown' in verdict) {
      this.journal.append({type: 'step.reconciling', stepId: rec.id, decision: `unknown: ${verdict.unknown}`})
      throw new RunFailedError(
        `Step ${rec.id} was interrupted and clipper-ops cannot tell whether it took effect: ${verdict.unknown}. Look at the world, then continue with one of:\n` +
          `  clipper-ops runs resume ${this.state.id} --assume-done ${rec.id}   (it did take effect)\n` +
          `  clipper-ops runs resume ${this.state.id} --rerun ${rec.id}         (run it again)`,
        {code: 'IN_DOUBT'},
      )
    }
    if (verdict.done) {
      this.journal.append({type: 'step.reconciling', stepId: rec.id, decision: 'done'})
      this.journal.append({
        type: 'step.succeeded',
        stepId: rec.id,
        outputs: this.redactor.deep((verdict.outputs ?? {}) as Record<string, unknown>),
        summary: verdict.summary ?? 'found in place after the interruption',
        durationMs: 0,
        reconciled: 'done',
      })
      task.title = `${this.currentTitle} — already in place (found after the interruption)`
      return 'done'
    }
    this.journal.append({type: 'step.reconciling', stepId: rec.id, decision: 'redo'})
    task.output = `${rec.id} had not taken effect; running it again`
    return 'redo'
  }

  private async failStep(rec: StepRecord, task: ListrTaskWrapper<any, any, any>, error: unknown, durationMs?: number): Promise<unknown> {
    const message = this.redactor.text(errorMessage(error))
    const code = error instanceof OpsError ? error.code : undefined
    this.journal.append({type: 'step.failed', stepId: rec.id, error: {message, code}, durationMs})
    let continues = false
    try {
      continues = specAt(this.rb, rec.specPath).onFailure === 'continue'
    } catch {
      /* compensation steps stop */
    }
    if (continues) throw new RunFailedError(message, {code})
    this.failure ??= {stepId: rec.id, message, code}
    if (rec.compensationFor) throw new RunFailedError(message, {code})
    const comp = compensationFor(this.rb, rec, stepContexts(this.base, this.rb, this.state.steps, rec))
    if (comp.length === 0) throw new RunFailedError(message, {code})
    this.journal.append({type: 'steps.added', steps: comp})
    task.output = `${message}\nrunning ${comp.length} compensating step(s): ${comp.map((c) => c.title).join(', ')}`
    return task.newListr([...comp.map((c) => this.stepTask(c.id)), {title: 'stop', task: () => this.failAfterCompensation(rec)}], {exitOnError: true})
  }

  private failAfterCompensation(failed: StepRecord): never {
    const f = this.rec(failed.id)
    this.failure = {stepId: f.id, message: f.error?.message ?? 'failed', code: f.error?.code, compensated: true}
    throw new RunFailedError(`${f.id} failed (${f.error?.message ?? 'failed'}); its compensating steps ran.`, {code: 'COMPENSATED'})
  }

  private stepContext(rec: StepRecord, task: ListrTaskWrapper<any, any, any>, signal: AbortSignal): StepContext {
    const logFile = join(this.journal.dir, 'output.log')
    const state = this.state
    return {
      runId: state.id,
      stepId: rec.id,
      envName: state.environment,
      environment: state.environmentConfig,
      dryRun: false,
      signal,
      prompt: promptApi({interactive: this.opts.interactive, yes: this.opts.yes}, this.opts.output === 'tty' ? (task as any) : undefined),
      runDir: this.journal.dir,
      stateDir: this.opts.stateDir.root,
      log: (line) => {
        const clean = this.redactor.text(line)
        task.output = clean
        appendFileSync(logFile, `${new Date().toISOString()} [${rec.id}] ${clean}\n`, {mode: 0o600})
      },
      note: async (detail) => {
        this.journal.append({type: 'step.note', stepId: rec.id, detail: this.redactor.deep(detail)})
      },
      previous: {notes: {...rec.notes}, startedAt: rec.startedAt, attempts: rec.attempts},
      remainingMs: () => (state.deadline ? Date.parse(state.deadline.at) - Date.now() : undefined),
      secret: (v) => this.redactor.add(v),
      redact: (t) => this.redactor.text(t),
      childEnv: childEnvFor(state.environmentConfig, this.opts.childEnv),
      projected: new Map(),
      audit: (action, detail) =>
        audit(this.opts.stateDir.auditFile(), {who: this.who, action, scope: state.lockScope, runId: state.id, detail: {step: rec.id, ...this.redactor.deep(detail)}}),
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

  private deadlineText(): string | undefined {
    const d = this.state.deadline
    if (!d) return undefined
    const elapsed = Date.now() - Date.parse(this.state.createdAt)
    const left = Date.parse(d.at) - Date.now()
    return left >= 0
      ? `${formatDuration(elapsed)} elapsed, ${formatDuration(left)} left of ${formatDuration(d.budgetMs)}`
      : `${formatDuration(elapsed)} elapsed — OVER the ${formatDuration(d.budgetMs)} deadline by ${formatDuration(-left)}`
  }

  private showDeadline(task: ListrTaskWrapper<any, any, any>): void {
    const text = this.deadlineText()
    if (text) task.output = `⏱ ${text}`
  }

  /** Once a second: keep the time on screen and notice a passed deadline. */
  private startTicker(): void {
    const d = this.state.deadline
    if (!d) return
    this.ticker = setInterval(() => {
      if (!this.state.deadline) return
      if (this.opts.output === 'tty' && this.currentTask) this.showDeadline(this.currentTask)
      if (!this.state.deadline.exceededAt && Date.now() > Date.parse(this.state.deadline.at)) {
        this.journal.append({type: 'deadline.exceeded', budgetMs: this.state.deadline.budgetMs})
        const msg = `DEADLINE PASSED: ${this.state.runbook.name} has run longer than its ${formatDuration(this.state.deadline.budgetMs)} budget`
        if (this.currentTask) this.currentTask.output = `⚠ ${msg}${this.state.deadline.policy === 'continue' ? ' — continuing' : ' — stopping'}`
        if (this.opts.output !== 'json') process.stderr.write(`\n⚠ ${msg}${this.state.deadline.policy === 'continue' ? '; the run goes on.' : '; stopping the run.'}\n`)
        if (this.state.deadline.policy === 'fail') {
          this.failure ??= {message: `deadline of ${formatDuration(this.state.deadline.budgetMs)} passed`, code: 'DEADLINE'}
          this.stop('deadline passed')
        }
      }
    }, 1000)
    this.ticker.unref()
  }

  private async finish(caught: unknown): Promise<RunOutcome> {
    const interrupted = this.abort.signal.aborted && !(this.failure?.code === 'DEADLINE')
    let exitCode: number
    if (interrupted) {
      this.journal.append({type: 'run.interrupted', reason: this.stopReason ?? 'interrupted'})
      exitCode = EXIT.interrupted
    } else if (caught || this.failure) {
      const failure = this.failure ?? {message: this.redactor.text(errorMessage(caught)), code: caught instanceof OpsError ? caught.code : undefined}
      if (this.failure?.code === 'DEADLINE') {
        for (const s of this.state.steps.filter((x) => x.status === 'running')) {
          this.journal.append({type: 'step.failed', stepId: s.id, error: {message: 'stopped: the deadline passed', code: 'DEADLINE'}})
        }
      }
      this.journal.append({type: 'run.finished', status: 'failed', failure})
      exitCode = EXIT.failed
    } else {
      this.journal.append({type: 'run.finished', status: 'succeeded'})
      exitCode = EXIT.ok
    }
    const released = this.heldLock ? await this.heldLock.release().catch(() => false) : false
    audit(this.opts.stateDir.auditFile(), {
      who: this.who,
      action: `run.${this.state.status}`,
      scope: this.state.lockScope,
      runId: this.state.id,
      detail: {failure: this.state.failure, lockReleased: released},
    })
    this.journal.close()
    const reports = writeRunReports(this.journal.dir, this.state)
    return {state: this.state, exitCode, reports}
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms)
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t)
        reject(signal.reason)
      },
      {once: true},
    )
  })
}

export type {JournalEntry}

/**
 * The base of every command that runs a runbook (run, rollout, rollback, and runs resume): a
 * command is a runbook with flags. Once the flags are parsed it loads the runbook and the
 * environment, says who is acting, and then either plans (--dry-run: a table, Markdown or JSON)
 * or asks (protected environments), checks a saved plan, and hands the run to the engine with
 * a host that shows it. It owns the process's side of a run: Ctrl-C and SIGTERM stop the run
 * resumably (a second one leaves at once), the summary is printed, the exit code is the run's.
 */
import {rmSync, writeFileSync} from 'node:fs'
import {basename, resolve} from 'node:path'
import {styleText} from 'node:util'
import type {Command} from '@oclif/core'
import {OpsCommand} from './command.js'
import {EXIT, OpsError, UsageError} from './errors.js'
import {budgetVerdict, type BudgetVerdict} from './engine/budget.js'
import type {Plan} from './engine/planner.js'
import type {RunInput} from './engine/draft.js'
import type {EngineHost} from './engine/events.js'
import {resumeRun, runbookMutates, runbookNeeds, startRun, type EngineOptions, type RunOutcome} from './engine/executor.js'
import {checkSavedPlan, planRun} from './engine/planner.js'
import {loadEnvironment} from './config/load.js'
import {resolveTarget} from './engine/target.js'
import {whoAmI, type Who} from './engine/state.js'
import type {Runbook} from './runbook/schema.js'
import {createHost, hostMode} from './hosts/index.js'
import {confirmByTyping, isInteractive} from './hosts/terminal.js'
import {planMarkdown, planTable} from './report/plan-report.js'
import {runMarkdown} from './report/run-report.js'
import {runSummary, summaryLines} from './report/run-summary.js'
import {identify} from './aws/identity.js'

/** The flags a runbook command may have (see runFlags in ./flags.ts); `runs resume` has a subset. */
interface RunbookFlags {
  env?: string
  config?: string
  'dry-run'?: boolean
  output?: 'table' | 'markdown' | 'json' | 'plain'
  'save-plan'?: string
  plan?: string
  yes?: boolean
  'no-input'?: boolean
  'state-dir'?: string
  fast?: boolean
  'over-budget'?: boolean
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

/** The plan table's width: the terminal's, or COLUMNS; unbounded into a pipe or file (no path cut in two). */
function tableWidth(): number {
  return process.stdout.columns || Number(process.env.COLUMNS) || Number.POSITIVE_INFINITY
}

/** How a run ended, in colour on a terminal (styleText honours NO_COLOR and a pipe): red failed, yellow stopped or warned. */
function paintSummary(lines: string[]): string[] {
  const paint = (color: 'red' | 'yellow' | 'green', text: string) => styleText(color, text, {stream: process.stderr})
  return lines.map((l, i) => {
    if (i === 0) return paint(l.startsWith('✖') ? 'red' : l.startsWith('⏸') ? 'yellow' : 'green', l)
    return l.trimStart().startsWith('⚠') ? paint('yellow', l) : l
  })
}

export abstract class RunbookCommand<T extends typeof Command> extends OpsCommand<T> {
  private get runFlags(): RunbookFlags {
    return this.flags as RunbookFlags
  }

  /** Run (or with --dry-run, plan) a runbook by file or built-in name, with these parameters. */
  protected async runRunbook(ref: string, params: Record<string, unknown>): Promise<unknown> {
    const f = this.runFlags
    const stateDir = this.stateDir(f['state-dir'])
    const target = {env: f.env, config: f.config, stateRoot: stateDir.root}
    let input = await resolveTarget(ref, params, target)
    const fastPath = input.loaded.runbook.budget?.fastPath
    if (f.fast) {
      if (!fastPath) throw new UsageError(`--fast: runbook "${input.loaded.runbook.name}" declares no faster path (budget.fastPath).`, {code: 'NO_FAST_PATH'})
      input = await resolveTarget(ref, {...params, ...fastPath.params}, target)
    }
    // The budget's verdict, planned from the world as it is: a dry run shows it, a run starts only if it fits.
    const verdict = async (plan?: Plan): Promise<BudgetVerdict | undefined> => {
      if (!input.loaded.runbook.budget) return undefined
      plan ??= await planRun({...input, stateDir: stateDir.root})
      const over = plan.deadlineMs !== undefined && plan.worstCaseMs > plan.deadlineMs
      const fastPlan = over && fastPath && !f.fast ? await planRun({...(await resolveTarget(ref, {...params, ...fastPath.params}, target)), stateDir: stateDir.root}) : undefined
      return budgetVerdict(plan, {fast: Boolean(f.fast), fastPath, fastPlan})
    }
    const who = await this.identify(input.env, input.loaded.runbook)
    if (f['dry-run']) return this.dryRun(input, verdict)
    let budget: EngineOptions['budget']
    if (input.loaded.runbook.budget) {
      const plan = await planRun({...input, stateDir: stateDir.root})
      const v = await verdict(plan)
      if (v && !v.fits && !f['over-budget']) {
        throw new OpsError(`Not starting ${input.loaded.runbook.name}: nothing was changed. ${v.message}`, {code: 'OVER_BUDGET', exitCode: EXIT.failed, details: v})
      }
      // The run checks the steps left against the time left at each step, with the plan's worst cases.
      budget = {worstCaseMs: Object.fromEntries(plan.steps.map((s) => [s.id, s.worstCaseMs])), ...(fastPath && !f.fast ? {hint: `its faster path: ${fastPath.description}`} : {})}
    }
    await this.confirmProtected(input, `running ${input.loaded.runbook.name}`)
    // --plan: the reviewed plan, applied as it is — its steps get back the files it was made of.
    const saved = f.plan ? (await checkSavedPlan(f.plan, {...input, stateDir: stateDir.root})).artifacts : undefined
    return this.withEngine({who, saved, budget}, (opts) => startRun(input, opts))
  }

  /** What a command does once its run has ended, however it ended (the drill cleans up and writes its reports). */
  protected async afterRun(_outcome: RunOutcome): Promise<void> {}

  /** Continue a run that stopped, with the operator's decisions on in-doubt steps (and a takeover, when it is another operator's). */
  protected async resumeRunbook(id: string, decisions: {assumeDone?: string[]; rerun?: string[]; takeOver?: {reason: string}}): Promise<unknown> {
    const stateDir = this.stateDir(this.runFlags['state-dir'])
    const store = await this.runStore({env: this.runFlags.env, config: this.runFlags.config, stateDir})
    const runId = await store.resolveId(id)
    const state = await store.load(runId)
    if (state.protected && state.status !== 'succeeded') await this.askForProtected(state.environment!, `resuming ${state.runbook.name} (${runId})`)
    const {loadRunbookCopy} = await import('./engine/executor.js')
    // Steps need the real config (the state holds a redacted copy): read it again; the engine checks it is unchanged.
    // Without a config to read (moved away), the run goes on with its recorded copy, as before.
    let environment
    try {
      environment = state.environment ? (await loadEnvironment({env: state.environment, config: this.runFlags.config, stateRoot: stateDir.root})).environment : undefined
    } catch {
      environment = undefined
    }
    const config = environment ?? state.environmentConfig
    const env = state.environment && config ? {name: state.environment, environment: config} : undefined
    const who = await this.identify(env, await loadRunbookCopy(store, state))
    return this.withEngine({who, environment, store, ...decisions}, (opts) => resumeRun(runId, opts))
  }

  /** Who is acting: the local user, and for environments on AWS the caller identity (for the audit trail). */
  private async identify(env: RunInput['env'], rb: Runbook): Promise<Who> {
    const who = whoAmI()
    if (!env?.environment.aws) return who
    return identify(who, env, (await runbookNeeds(rb)).has('aws'))
  }

  private async dryRun(input: RunInput, verdict: (plan: Plan) => Promise<BudgetVerdict | undefined>): Promise<unknown> {
    const f = this.runFlags
    // --save-plan keeps what the plan is made of (a Terraform plan file, rendered manifests) beside it.
    const file = f['save-plan'] ? resolve(f['save-plan']) : undefined
    const artifactsDir = file ? `${file}.artifacts` : undefined
    if (artifactsDir) rmSync(artifactsDir, {recursive: true, force: true})
    const plan = await planRun({...input, stateDir: this.stateDir(f['state-dir']).root, artifactsDir})
    const budget = await verdict(plan)
    if (budget) plan.budget = budget
    if (file && artifactsDir) {
      if (plan.steps.some((s) => s.artifacts)) plan.artifactsDir = basename(artifactsDir)
      else rmSync(artifactsDir, {recursive: true, force: true})
      writeFileSync(file, `${JSON.stringify(plan, null, 2)}\n`, {mode: 0o600})
    }
    if (!this.jsonEnabled()) {
      this.log(f.output === 'markdown' ? planMarkdown(plan) : f.output === 'json' ? JSON.stringify(plan, null, 2) : planTable(plan, tableWidth()))
      if (f['save-plan']) this.note(`Plan saved to ${f['save-plan']}; apply it with --plan ${f['save-plan']}`)
    }
    return plan
  }

  /** A protected environment asks before a run that changes it; without a TTY only --yes will do. */
  private async confirmProtected(input: RunInput, verb: string): Promise<void> {
    if (!input.env?.environment.protected) return
    if (!(await runbookMutates(input.loaded.runbook))) return
    await this.askForProtected(input.env.name, verb)
  }

  /** Typed confirmation (heroku-style) for a protected environment, or --yes; never a prompt without a TTY. */
  private async askForProtected(envName: string, verb: string): Promise<void> {
    const f = this.runFlags
    if (f.yes) return
    if (!isInteractive(Boolean(f['no-input']))) {
      throw new UsageError(
        `${envName} is a protected environment and ${verb} changes it. There is no terminal to ask on${f['no-input'] ? ' (--no-input)' : ''}; pass --yes to confirm.`,
        {code: 'CONFIRMATION_REQUIRED'},
      )
    }
    const ok = await confirmByTyping(envName, `${verb} will change the protected environment ${envName}.`)
    if (!ok) throw new UsageError('Not confirmed; nothing was changed.', {code: 'NOT_CONFIRMED'})
  }

  /**
   * Hand a run to the engine: with the host that shows it, and a signal that Ctrl-C, SIGTERM or
   * SIGHUP abort (the run stops where it is, resumable; a second one leaves at once). Then print
   * how it ended, and end with its exit code.
   */
  private async withEngine(extra: Partial<EngineOptions>, go: (opts: EngineOptions) => Promise<RunOutcome>): Promise<unknown> {
    const f = this.runFlags
    const interactive = isInteractive(Boolean(f['no-input']))
    const host: EngineHost = await createHost(hostMode({output: f.output, json: this.jsonEnabled()}), {interactive})
    const interrupt = new AbortController()
    const onSignal = (sig: NodeJS.Signals) => {
      if (interrupt.signal.aborted) process.exit(EXIT.interrupted) // a second Ctrl-C: leave now
      interrupt.abort(new Error(`received ${sig}`))
    }
    for (const s of SIGNALS) process.on(s, onSignal)
    let outcome: RunOutcome
    try {
      outcome = await go({stateDir: this.stateDir(f['state-dir']), host, yes: Boolean(f.yes), signal: interrupt.signal, ...extra})
    } finally {
      await host.close?.()
      for (const s of SIGNALS) process.off(s, onSignal)
    }
    await this.afterRun(outcome)
    const s = outcome.state
    if (!this.jsonEnabled() && f.output !== 'json') {
      if (f.output === 'markdown') this.log(runMarkdown(s))
      process.stderr.write(`\n${paintSummary(summaryLines(s, outcome.reports)).join('\n')}\n`)
    }
    return this.finishRun({exitCode: outcome.exitCode, json: runSummary(s, outcome.reports)})
  }
}

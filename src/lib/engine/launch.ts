/**
 * What `run`, `rollout`, `rollback` and friends share once their flags are parsed: load the
 * runbook and the environment, bind parameters, then either plan (dry run) or confirm, lock and
 * run; and afterwards say what happened and how to go on.
 */
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {resolve} from 'node:path'
import {fallbackConfigFile, requireConfig, selectEnvironment, findConfigFile, loadConfig} from '../config/load.js'
import type {Environment} from '../config/schema.js'
import {EXIT, RunFailedError, UsageError} from '../errors.js'
import {bindParameters, loadRunbook, type LoadedRunbook} from '../runbook/load.js'
import {planMarkdown, planTable} from '../report/plan-report.js'
import {continueHint, runMarkdown} from '../report/run-report.js'
import {formatDuration} from '../util/duration.js'
import {audit} from './audit.js'
import {resumeRun, runbookMutates, startRun, type EngineOptions, type OutputMode, type RunOutcome} from './executor.js'
import {planRun, staleSteps, type Plan} from './planner.js'
import {confirmByTyping, isInteractive} from './prompt.js'
import {StateDir, whoAmI, type RunState, type Who} from './state.js'

export type OutputFlag = 'table' | 'markdown' | 'json' | 'plain' | undefined

export interface LaunchFlags {
  env?: string
  config?: string
  dryRun?: boolean
  output?: OutputFlag
  yes?: boolean
  noInput?: boolean
  stateDir: StateDir
  /** Write the dry-run plan (JSON) here, to apply later with `plan`. */
  savePlan?: string
  /** Apply a saved plan: refused if the runbook, inputs or live state changed since. */
  plan?: string
  json?: boolean
}

export interface LaunchResult {
  exitCode: number
  /** What --json prints. */
  json: unknown
}

/** LaunchFlags from the parsed runFlags of a command (they are named alike on purpose). */
export function launchFlags(
  f: {env?: string; config?: string; 'dry-run'?: boolean; output?: OutputFlag; yes?: boolean; 'no-input'?: boolean; 'save-plan'?: string; plan?: string},
  stateDir: StateDir,
  json: boolean,
): LaunchFlags {
  return {env: f.env, config: f.config, dryRun: f['dry-run'], output: f.output, yes: f.yes, noInput: f['no-input'], savePlan: f['save-plan'], plan: f.plan, stateDir, json}
}

export interface Target {
  loaded: LoadedRunbook
  env?: {name: string; environment: Environment}
  params: Record<string, unknown>
}

/** Load a runbook and the environment it runs against, and bind its parameters. */
export async function resolveTarget(ref: string, given: Record<string, unknown>, flags: Pick<LaunchFlags, 'env' | 'config' | 'stateDir'>): Promise<Target> {
  const loaded = await loadRunbook(ref)
  const rb = loaded.runbook
  let env: Target['env']
  if (rb.environment === 'none') {
    if (flags.env) throw new UsageError(`--env ${flags.env}: runbook "${rb.name}" does not act on an environment; drop --env.`, {code: 'NO_ENV_NEEDED'})
  } else if (flags.env || rb.environment === 'required' || flags.config) {
    env = selectEnvironment(requireConfig({flag: flags.config, env: flags.env, stateRoot: flags.stateDir.root}), flags.env)
  } else {
    const file = findConfigFile({flag: flags.config}) ?? existing(fallbackConfigFile(flags.stateDir.root))
    if (file) {
      const cfg = loadConfig(file)
      if (cfg.config.defaultEnvironment) env = selectEnvironment(cfg, undefined)
    }
  }
  const params = bindParameters(rb, given)
  return {loaded, env, params}
}

function existing(file: string): string | undefined {
  return existsSync(file) ? file : undefined
}

/** The environment a command acts on, with the sandbox fallback for --env sandbox. */
export function loadEnvironment(env: string | undefined, config: string | undefined, stateDir: StateDir): {name: string; environment: Environment} {
  return selectEnvironment(requireConfig({flag: config, env, stateRoot: stateDir.root}), env)
}

export function parseParamFlags(values: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const v of values ?? []) {
    const eq = v.indexOf('=')
    if (eq <= 0) throw new UsageError(`--param ${v}: expected key=value, e.g. --param bake=5m.`, {code: 'BAD_PARAM'})
    out[v.slice(0, eq)] = v.slice(eq + 1)
  }
  return out
}

function outputMode(flags: LaunchFlags): OutputMode {
  if (flags.output === 'json') return 'json'
  if (flags.json) return 'quiet'
  if (flags.output === 'plain') return 'plain'
  return process.stderr.isTTY && !process.env.CI ? 'tty' : 'plain'
}

export function engineOptions(flags: LaunchFlags, extra: Partial<EngineOptions> = {}): EngineOptions {
  return {
    stateDir: flags.stateDir,
    yes: Boolean(flags.yes),
    interactive: isInteractive(Boolean(flags.noInput)),
    output: outputMode(flags),
    ...extra,
  }
}

/** A protected environment asks before a run that changes it; without a TTY only --yes will do. */
export async function confirmProtected(target: Target, flags: LaunchFlags, verb: string): Promise<void> {
  const env = target.env
  if (!env?.environment.protected) return
  if (!(await runbookMutates(target.loaded.runbook))) return
  await askForProtected(env.name, verb, flags)
}

/** Typed confirmation (heroku-style) for a protected environment, or --yes; never a prompt without a TTY. */
async function askForProtected(envName: string, verb: string, flags: Pick<LaunchFlags, 'yes' | 'noInput'>): Promise<void> {
  if (flags.yes) return
  if (!isInteractive(Boolean(flags.noInput))) {
    throw new UsageError(
      `${envName} is a protected environment and ${verb} changes it. There is no terminal to ask on${flags.noInput ? ' (--no-input)' : ''}; pass --yes to confirm.`,
      {code: 'CONFIRMATION_REQUIRED'},
    )
  }
  const ok = await confirmByTyping(envName, `${verb} will change the protected environment ${envName}.`)
  if (!ok) throw new UsageError('Not confirmed; nothing was changed.', {code: 'NOT_CONFIRMED'})
}

const AWS_KINDS = new Set(['dns-weights', 'dns-check', 'gates', 'gate-cloudwatch-alarms'])

export function usesAws(rb: LoadedRunbook['runbook']): boolean {
  const specs = [...rb.steps, ...(rb.onFailure ?? [])]
  while (specs.length) {
    const s = specs.pop()!
    if (s.uses && AWS_KINDS.has(s.uses)) return true
    if (s.steps) specs.push(...s.steps)
    if (Array.isArray(s.onFailure)) specs.push(...s.onFailure)
  }
  return false
}

/**
 * Who is acting: the local user, and for environments on AWS the caller identity (for the
 * audit trail). Credentials for another account than the environment's are refused before
 * anything is read or changed.
 */
export async function identify(env: Target['env'], required: boolean): Promise<Who> {
  const who = whoAmI()
  if (!env?.environment.aws) return who
  try {
    const {callerIdentity} = await import('../aws/clients.js')
    const id = await callerIdentity(env.environment)
    if (!id) return who
    const want = env.environment.aws.accountId
    if (want && id.account !== want) {
      throw new UsageError(`Your AWS credentials are for account ${id.account} (${id.arn}), but environment ${env.name} is in account ${want}. Nothing was read or changed.`, {code: 'WRONG_ACCOUNT'})
    }
    return {...who, aws: id.arn}
  } catch (error) {
    if (error instanceof UsageError || required) {
      if (error instanceof UsageError) throw error
      const {awsErrorName} = await import('../aws/clients.js')
      const how = env.environment.aws.profile ? `profile ${env.environment.aws.profile}` : 'the standard credential chain (AWS_PROFILE, environment variables, SSO, instance role)'
      throw new RunFailedError(`Could not tell who you are in AWS for ${env.name} (${awsErrorName(error)}: ${(error as Error).message}). Check the credentials of ${how}. Nothing was changed.`, {code: 'NO_CREDENTIALS'})
    }
    return who
  }
}

export async function launch(target: Target, flags: LaunchFlags, extra: Partial<EngineOptions> = {}): Promise<LaunchResult> {
  const who = await identify(target.env, usesAws(target.loaded.runbook))
  if (flags.dryRun) return dryRun(target, flags, extra)
  const verb = `running ${target.loaded.runbook.name}`
  await confirmProtected(target, flags, verb)
  if (flags.plan) await checkSavedPlan(target, flags, extra)
  const outcome = await startRun(target, engineOptions(flags, {who, ...extra}))
  return afterRun(outcome, flags)
}

export async function resume(runId: string, flags: LaunchFlags, decisions: {assumeDone?: string[]; rerun?: string[]}, extra: Partial<EngineOptions> = {}): Promise<LaunchResult> {
  const state = flags.stateDir.load(runId)
  if (state.protected && state.status !== 'succeeded') await askForProtected(state.environment!, `resuming ${state.runbook.name} (${runId})`, flags)
  const env = state.environment && state.environmentConfig ? {name: state.environment, environment: state.environmentConfig} : undefined
  const who = await identify(env, state.steps.some((x) => AWS_KINDS.has(x.kind)))
  const outcome = await resumeRun(runId, {...engineOptions(flags, {who, ...extra}), ...decisions})
  return afterRun(outcome, flags)
}

async function dryRun(target: Target, flags: LaunchFlags, extra: Partial<EngineOptions>): Promise<LaunchResult> {
  const plan = await planRun({...target, stateDir: flags.stateDir.root, childEnv: extra.childEnv})
  if (flags.savePlan) {
    writeFileSync(resolve(flags.savePlan), `${JSON.stringify(plan, null, 2)}\n`, {mode: 0o600})
  }
  if (!flags.json) {
    const out = flags.output === 'markdown' ? planMarkdown(plan) : flags.output === 'json' ? JSON.stringify(plan, null, 2) : planTable(plan)
    process.stdout.write(`${out}\n`)
    if (flags.savePlan) process.stderr.write(`Plan saved to ${flags.savePlan}; apply it with --plan ${flags.savePlan}\n`)
  }
  return {exitCode: EXIT.ok, json: plan}
}

async function checkSavedPlan(target: Target, flags: LaunchFlags, extra: Partial<EngineOptions>): Promise<void> {
  let saved: Plan
  try {
    saved = JSON.parse(readFileSync(resolve(flags.plan!), 'utf8')) as Plan
  } catch (error) {
    throw new UsageError(`--plan ${flags.plan}: cannot read it as a saved plan: ${(error as Error).message}`, {code: 'BAD_PLAN'})
  }
  if (saved.kind !== 'clipper-ops-plan') throw new UsageError(`--plan ${flags.plan}: not a clipper-ops plan (make one with --dry-run --save-plan).`, {code: 'BAD_PLAN'})
  const problems: string[] = []
  if (saved.runbook.sha256 !== target.loaded.sha256) problems.push(`the runbook ${target.loaded.runbook.name} changed since the plan was made`)
  if ((saved.environment ?? '') !== (target.env?.name ?? '')) problems.push(`the plan is for environment ${saved.environment ?? '(none)'}, not ${target.env?.name ?? '(none)'}`)
  if (JSON.stringify(saved.params) !== JSON.stringify(target.params)) problems.push(`the parameters differ: plan ${JSON.stringify(saved.params)}, now ${JSON.stringify(target.params)}`)
  if (problems.length === 0) {
    const fresh = await planRun({...target, stateDir: flags.stateDir.root, childEnv: extra.childEnv})
    if (fresh.fingerprint !== saved.fingerprint) {
      problems.push(`the live state has changed since the plan was made (steps ${staleSteps(saved, fresh).join(', ')} read something different)`)
    }
  }
  if (problems.length) {
    throw new RunFailedError(`The saved plan ${flags.plan} is stale: ${problems.join('; ')}. Nothing was changed. Make a new plan with --dry-run and review it again.`, {code: 'STALE_PLAN'})
  }
}

function afterRun(outcome: RunOutcome, flags: LaunchFlags): LaunchResult {
  const s = outcome.state
  if (!flags.json && flags.output !== 'json') {
    if (flags.output === 'markdown') process.stdout.write(`${runMarkdown(s)}\n`)
    process.stderr.write(`\n${summaryLines(s, outcome.reports).join('\n')}\n`)
  }
  return {exitCode: outcome.exitCode, json: runSummary(s, outcome.reports)}
}

export function summaryLines(s: RunState, reports?: RunOutcome['reports']): string[] {
  const lines: string[] = []
  const dur = s.durationMs !== undefined ? ` in ${formatDuration(s.durationMs)}` : ''
  const icon = s.status === 'succeeded' ? '✔' : s.status === 'interrupted' ? '⏸' : '✖'
  lines.push(`${icon} ${s.runbook.name}${s.environment ? ` on ${s.environment}` : ''}: ${s.status}${dur} (run ${s.id})`)
  if (s.failure) lines.push(`  ${s.failure.stepId ? `${s.failure.stepId}: ` : ''}${s.failure.message}`)
  if (s.deadline && s.durationMs !== undefined) {
    const over = s.deadline.exceededAt ? ` — ⚠ OVER the budget by ${formatDuration(s.durationMs - s.deadline.budgetMs)}` : ''
    const what = s.runbook.recovery && s.status === 'succeeded' ? 'time to recovery' : 'took'
    lines.push(`  ${what}: ${formatDuration(s.durationMs)} of the ${formatDuration(s.deadline.budgetMs)} budget${over}`)
  }
  const inDoubt = s.steps.filter((x) => x.status === 'running').map((x) => x.id)
  if (s.status === 'interrupted' && inDoubt.length) lines.push(`  interrupted during ${inDoubt.join(', ')}; a resume checks the world before going on`)
  for (const h of continueHint(s)) lines.push(`  ${h}`)
  if (reports) lines.push(`  Report: ${reports.markdown}  JUnit: ${reports.junit}`)
  return lines
}

export function runSummary(s: RunState, reports?: RunOutcome['reports']): Record<string, unknown> {
  return {
    id: s.id,
    runbook: s.runbook.name,
    environment: s.environment,
    status: s.status,
    createdAt: s.createdAt,
    endedAt: s.endedAt,
    durationMs: s.durationMs,
    ...(s.runbook.recovery && s.status === 'succeeded' ? {timeToRecoveryMs: s.durationMs} : {}),
    deadline: s.deadline,
    failure: s.failure,
    steps: s.steps.map((x) => ({id: x.id, title: x.title, kind: x.kind, status: x.status, durationMs: x.durationMs, summary: x.summary, error: x.error, outputs: x.outputs, reconciled: x.reconciled})),
    reports,
    next: continueHint(s),
  }
}

/** `runs unlock`: break a lock on purpose, and say so in the audit trail. */
export function recordUnlock(stateDir: StateDir, scope: string, holder: unknown, reason: string): void {
  audit(stateDir.auditFile(), {who: whoAmI(), action: 'lock.broken', scope, detail: {reason, holder}})
}

/**
 * Dry runs. Every step plans against live state (read-only calls only) and against what the
 * steps before it would leave behind, and says exactly what it would change. The plan keeps a
 * fingerprint of the live state it read, so that a reviewed plan can later be applied as it is
 * and refused when the world has moved on.
 */
import type {BudgetVerdict} from './budget.js'
import {createHash} from 'node:crypto'
import {sha256File} from '../util/files.js'
import {readFileSync} from 'node:fs'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, relative, resolve} from 'node:path'
import {errorMessage, RunFailedError, UsageError} from '../errors.js'
import {evaluateCondition, resolveDeep, UNKNOWN, UnknownValueError, type Contexts} from '../runbook/expressions.js'
import {loadKind} from '../steps/registry.js'
import {kindMutates, type Change} from '../steps/types.js'
import {Redactor} from '../util/redact.js'
import {draftRun, stepContexts, type RunInput} from './draft.js'
import {readOnlyContext} from './read-context.js'
import {compensationFor, skipNote, specAt, stepTitle} from './expand.js'
import type {StepRecord} from './state.js'

export interface PlannedStep {
  id: string
  title: string
  kind: string
  group?: string
  /** false: its condition is false; 'unknown': it depends on what earlier steps find at run time. */
  runs: boolean | 'unknown'
  mutates: boolean
  summary: string
  changes: Change[]
  estimateMs: number
  worstCaseMs: number
  review?: string
  /** Why the step could not be planned exactly (e.g. inputs known only at run time). */
  note?: string
  observed?: unknown
  /** Files the reviewed change is made of (a Terraform plan, rendered manifests): path relative to the plan's artifactsDir, and sha256. */
  artifacts?: Record<string, {file: string; sha256: string}>
}

export interface Plan {
  schema: 1
  kind: 'clipper-ops-plan'
  runbook: {name: string; file: string; sha256: string; description?: string}
  environment?: string
  params: Record<string, unknown>
  createdAt: string
  steps: PlannedStep[]
  /** What runs if a step fails (the rollback path), for each run of steps that would do the same. */
  onFailure: {for: string[]; steps: PlannedStep[]}[]
  estimateMs: number
  worstCaseMs: number
  /** The worst case of the whole run plus the worst failure path. */
  worstCaseWithRollbackMs: number
  deadlineMs?: number
  /** For a runbook with a budget section: whether its worst case fits the deadline (the same verdict a run starts with). */
  budget?: BudgetVerdict
  fingerprint: string
  /** With --save-plan: the directory (relative to the plan file) holding the steps' artifacts. */
  artifactsDir?: string
}

export interface PlanInput extends RunInput {
  stateDir: string
  /** Where steps keep their artifacts (--save-plan); a step makes a temporary one when absent. */
  artifactsDir?: string
  childEnv?: NodeJS.ProcessEnv
}

export async function planRun(input: PlanInput): Promise<Plan> {
  // Steps always get a place for their artifacts; without --save-plan it is thrown away after.
  if (!input.artifactsDir) {
    const temp = mkdtempSync(join(tmpdir(), 'clipper-ops-plan-'))
    try {
      const plan = await planRun({...input, artifactsDir: temp})
      for (const s of plan.steps) delete s.artifacts
      return plan
    } finally {
      rmSync(temp, {recursive: true, force: true})
    }
  }
  const {loaded, params, env} = input
  const rb = loaded.runbook
  const redactor = new Redactor()
  redactor.addFromConfig(env?.environment)
  const {state: pseudo, contexts: base} = draftRun(input, {id: 'dry-run', who: {user: '', host: '', pid: process.pid}, redactor, dryRun: true})
  const now = pseudo.createdAt
  let projected = new Map<string, unknown>()
  const artifactsDirFor = (stepId: string) => (input.artifactsDir ? join(input.artifactsDir, stepId.replace(/[^A-Za-z0-9_.-]/g, '_')) : undefined)
  const signal = AbortSignal.timeout(10 * 60_000)

  const planOne = async (rec: StepRecord, steps: StepRecord[]): Promise<PlannedStep> => {
    const spec = specAt(rb, rec.specPath)
    const ctx = withUnknownOutputs(stepContexts(base, rb, steps, rec), steps)
    const kind = await loadKind(rec.kind)
    const out: PlannedStep = {
      id: rec.id,
      title: rec.title,
      kind: rec.kind,
      group: rec.group?.title,
      runs: true,
      mutates: true,
      summary: '',
      changes: [],
      estimateMs: 0,
      worstCaseMs: 0,
    }
    if (spec.if !== undefined) {
      try {
        out.runs = evaluateCondition(spec.if, ctx)
      } catch (error) {
        if (!(error instanceof UnknownValueError)) throw planError(rec, error)
        out.runs = 'unknown'
      }
      if (out.runs === false) {
        const note = skipNote(spec, ctx)
        out.title = stepTitle(rec, spec, kind, ctx)
        out.summary = `skipped: ${note.warning ? '⚠ ' : ''}${note.reason}`
        out.mutates = false
        return out
      }
    }
    let inputs: unknown
    try {
      const parsed = kind.inputs.safeParse(resolveDeep(spec.with ?? {}, ctx))
      if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `with.${i.path.join('.')}: ${i.message}`).join('; '))
      inputs = parsed.data
    } catch (error) {
      if (!(error instanceof UnknownValueError)) throw planError(rec, error)
      out.note = `inputs depend on earlier steps' results (${error.message})`
      out.summary = `${kind.description} — exact inputs known at run time`
      out.changes = [{action: 'run', target: rec.id, detail: 'inputs known at run time'}]
      out.mutates = kindMutates(kind, spec.with ?? {})
      return out
    }
    out.mutates = kind.mutates(inputs)
    if (kind.title && spec.name === undefined) out.title = kind.title(inputs)
    const ctxStep = readOnlyContext({
      stepId: rec.id,
      runbook: rb.name,
      env,
      stateDir: input.stateDir,
      signal,
      redactor,
      childEnv: input.childEnv,
      projected,
      artifactsDir: artifactsDirFor(rec.id),
    })
    try {
      const plan = await kind.plan(ctxStep, inputs)
      out.summary = redactor.text(plan.summary)
      out.changes = redactor.deep(plan.changes)
      out.estimateMs = plan.estimateMs ?? 0
      out.worstCaseMs = plan.worstCaseMs ?? plan.estimateMs ?? 0
      out.review = plan.review ? redactor.text(plan.review) : undefined
      out.observed = redactor.deep(plan.observed)
      if (plan.artifacts && input.artifactsDir) {
        out.artifacts = {}
        for (const [name, file] of Object.entries(plan.artifacts)) out.artifacts[name] = {file: relative(input.artifactsDir, file), sha256: await sha256File(file)}
      }
      // A plan that gives no outputs leaves them to the run: later steps reading them are "known at run time".
      rec.outputs = (plan.outputs ?? UNKNOWN) as Record<string, unknown>
      rec.status = 'succeeded'
    } catch (error) {
      throw planError(rec, error)
    }
    return out
  }

  // Each step plans against the world as the steps before it would leave it; keep that world
  // as it was before each step, to plan that step's failure path against.
  const steps: PlannedStep[] = []
  const before = new Map<string, Map<string, unknown>>()
  for (const rec of pseudo.steps) {
    before.set(rec.id, new Map(projected))
    steps.push(await planOne(rec, pseudo.steps))
  }

  // The failure paths. A failed step leaves the world as it found it (a change batch is all or
  // nothing; a gate changes nothing), so its compensation is planned from there. Steps whose
  // failure would lead to the same changes are listed together.
  const onFailure: Plan['onFailure'] = []
  const cache = new Map<string, PlannedStep[]>()
  for (const rec of pseudo.steps) {
    const comp = compensationFor(rb, rec, stepContexts(base, rb, pseudo.steps, rec))
    if (comp.length === 0) continue
    const world = before.get(rec.id)!
    const key = JSON.stringify([comp.map((c) => c.specPath), rec.group?.index ?? null, [...world.entries()]])
    let planned = cache.get(key)
    if (!planned) {
      projected = new Map(world)
      planned = []
      for (const c of comp) planned.push(await planOne(c, [...pseudo.steps, ...comp]))
      cache.set(key, planned)
    }
    const same = onFailure.at(-1)
    const changes = (xs: PlannedStep[]) => JSON.stringify(xs.map((x) => [x.title, x.summary, x.changes]))
    if (same && changes(same.steps) === changes(planned)) same.for.push(rec.id)
    else onFailure.push({for: [rec.id], steps: planned})
  }

  const sum = (xs: PlannedStep[], k: 'estimateMs' | 'worstCaseMs') => xs.filter((s) => s.runs !== false).reduce((a, s) => a + s[k], 0)
  const worstRollback = Math.max(0, ...onFailure.map((f) => sum(f.steps, 'worstCaseMs')))
  // A step as the plan writes it: masked, but its artifacts' paths as they are (--plan opens them).
  const written = (st: PlannedStep): PlannedStep => ({...redactor.deep(st), artifacts: st.artifacts})
  const fingerprint = createHash('sha256')
    .update(JSON.stringify(steps.map((s) => [s.id, s.observed ?? null])))
    .digest('hex')
  const deadlineMs = pseudo.deadline?.budgetMs
  return {
    schema: 1,
    kind: 'clipper-ops-plan',
    runbook: {name: rb.name, file: loaded.file, sha256: loaded.sha256, description: rb.description},
    environment: env?.name,
    params: redactor.deep(params),
    createdAt: now,
    // A plan is written (table, Markdown, --save-plan): secrets out of titles, changes and reviews.
    steps: steps.map(written),
    onFailure: onFailure.map((f) => ({for: f.for, steps: f.steps.map(written)})),
    estimateMs: sum(steps, 'estimateMs'),
    worstCaseMs: sum(steps, 'worstCaseMs'),
    worstCaseWithRollbackMs: sum(steps, 'worstCaseMs') + worstRollback,
    deadlineMs,
    fingerprint,
  }
}

function planError(rec: StepRecord, error: unknown): RunFailedError {
  return new RunFailedError(`Planning step ${rec.id} failed: ${errorMessage(error)}`, {code: 'PLAN_FAILED', cause: error})
}

/** Outputs of steps not yet planned are unknown: reading them marks a value as "known at run time". */
function withUnknownOutputs(ctx: Contexts, steps: StepRecord[]): Contexts {
  const view = ctx.steps as Record<string, {outputs: unknown; status: string}>
  for (const [id, v] of Object.entries(view)) {
    const rec = steps.find((s) => s.id === id || s.id.endsWith(`.${id}`))
    if (rec && rec.status !== 'succeeded') view[id] = {outputs: UNKNOWN, status: 'pending'}
    else view[id] = v
  }
  return ctx
}

/** Compare a saved plan with the world now: each step whose observed state differs, with what it read then and now. */
export function staleSteps(saved: Plan, fresh: Plan): string[] {
  const before = new Map(saved.steps.map((s) => [s.id, s]))
  return fresh.steps
    .filter((s) => JSON.stringify(before.get(s.id)?.observed ?? null) !== JSON.stringify(s.observed ?? null))
    .map((s) => `${s.id} (planned: ${before.get(s.id)?.summary ?? 'not in the plan'}; now: ${s.summary})`)
}

/**
 * Apply a reviewed plan as it is, or not at all: refused (exit 2, nothing changed) when the
 * runbook, the environment, the parameters or the live state differ from when it was made, or
 * when a file it is made of (a Terraform plan, a rendered manifest) is not the one reviewed.
 * Returns the saved plan, and each step's artifacts by name (absolute paths), for the run.
 */
export async function checkSavedPlan(file: string, input: PlanInput): Promise<{plan: Plan; artifacts: Record<string, Record<string, string>>}> {
  let saved: Plan
  try {
    saved = JSON.parse(readFileSync(resolve(file), 'utf8')) as Plan
  } catch (error) {
    throw new UsageError(`--plan ${file}: cannot read it as a saved plan: ${(error as Error).message}`, {code: 'BAD_PLAN'})
  }
  if (saved.kind !== 'clipper-ops-plan') throw new UsageError(`--plan ${file}: not a clipper-ops plan (make one with --dry-run --save-plan).`, {code: 'BAD_PLAN'})
  const problems: string[] = []
  if (saved.runbook.sha256 !== input.loaded.sha256) problems.push(`the runbook ${input.loaded.runbook.name} changed since the plan was made`)
  if ((saved.environment ?? '') !== (input.env?.name ?? '')) problems.push(`the plan is for environment ${saved.environment ?? '(none)'}, not ${input.env?.name ?? '(none)'}`)
  if (JSON.stringify(saved.params) !== JSON.stringify(input.params))
    problems.push(`the parameters differ: plan ${JSON.stringify(saved.params)}, now ${JSON.stringify(input.params)}`)
  const artifacts: Record<string, Record<string, string>> = {}
  for (const step of saved.steps) {
    for (const [name, a] of Object.entries(step.artifacts ?? {})) {
      const path = resolve(dirname(resolve(file)), saved.artifactsDir ?? '.', a.file)
      const sha = await sha256File(path).catch(() => undefined)
      if (sha !== a.sha256) problems.push(`${step.id}'s ${name} ${path} is ${sha ? 'not the file that was reviewed (its sha256 differs)' : 'missing'}`)
      ;(artifacts[step.id] ??= {})[name] = path
    }
  }
  if (problems.length === 0) {
    const fresh = await planRun({...input, artifactsDir: undefined})
    if (fresh.fingerprint !== saved.fingerprint) {
      problems.push(`the live state has changed since the plan was made, as these steps read it: ${staleSteps(saved, fresh).join('; ')}`)
    }
  }
  if (problems.length) {
    throw new UsageError(`The saved plan ${file} is stale: ${problems.join('; ')}. Nothing was changed. Make a new plan with --dry-run and review it again.`, {code: 'STALE_PLAN'})
  }
  return {plan: saved, artifacts}
}

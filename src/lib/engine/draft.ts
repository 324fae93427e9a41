/**
 * A run before its first step: the state a run starts from (and a dry run plans from), and the
 * contexts its expressions read. Built here, once, for both the executor and the planner.
 */
import type {Environment} from '../config/schema.js'
import {UsageError} from '../errors.js'
import type {LoadedRunbook} from '../runbook/load.js'
import {evaluateTemplate, hasExpression, type Contexts} from '../runbook/expressions.js'
import type {Runbook} from '../runbook/schema.js'
import {parseDuration} from '../util/duration.js'
import type {Redactor} from '../util/redact.js'
import {expandSteps, specAt} from './expand.js'
import type {RunState, StepRecord, Who} from './state.js'

/** What a run is made of: a loaded runbook, its bound parameters and the environment it acts on. */
export interface RunInput {
  loaded: LoadedRunbook
  params: Record<string, unknown>
  env?: {name: string; environment: Environment}
}

const MIN_SECRET_LENGTH = 4

/** Contexts that expressions read; `steps` is filled from the run's records. */
export function baseContexts(state: Pick<RunState, 'params' | 'environmentConfig' | 'environment' | 'id' | 'createdAt'>, redactor: Redactor, dryRun: boolean): Contexts {
  // secrets.X reads the variable X of the process's environment, and registers its value with the
  // redactor as it is read. Expressions read own members only (see expressions.ts): say which.
  const read = (name: string | symbol) => {
    if (typeof name !== 'string' || !Object.hasOwn(process.env, name)) return undefined
    const v = process.env[name]
    // A secret of a few characters cannot be masked without masking ordinary text ("abc" in
    // every word): refused, never used unmasked.
    if (v && v.length < MIN_SECRET_LENGTH) {
      throw new Error(
        `secrets.${name} is ${v.length} character(s) long; a secret that short cannot be masked in logs and reports without masking ordinary text — use one of at least ${MIN_SECRET_LENGTH} characters`,
      )
    }
    redactor.add(v)
    return v
  }
  const secrets = new Proxy(
    {},
    {
      get: (_t, name) => read(name),
      has: () => true,
      getOwnPropertyDescriptor: (_t, name) => {
        const value = read(name)
        return value === undefined ? undefined : {value, configurable: true, enumerable: true, writable: false}
      },
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

/**
 * The state a run starts from: its steps expanded (forEach unrolled once, so a resume walks the
 * same steps), its deadline and undo command resolved. A dry run drafts the same state under the
 * id "dry-run". Returns the base contexts the draft was expanded with.
 */
export function draftRun(input: RunInput, o: {id: string; who: Who; redactor: Redactor; dryRun: boolean; now?: Date}): {state: RunState; contexts: Contexts} {
  const {loaded, params, env} = input
  const rb = loaded.runbook
  const now = (o.now ?? new Date()).toISOString()
  const state: RunState = {
    schema: 1,
    id: o.id,
    seq: 0,
    status: 'running',
    runbook: {name: rb.name, file: loaded.file, sha256: loaded.sha256, builtin: loaded.builtin, description: rb.description, recovery: rb.recovery},
    environment: env?.name,
    lockScope: lockScopeFor(rb, env?.name),
    params,
    environmentConfig: env?.environment,
    protected: env?.environment.protected ?? false,
    who: o.who,
    createdAt: now,
    updatedAt: now,
    steps: [],
    attempts: [],
  }
  const contexts = baseContexts(state, o.redactor, o.dryRun)
  state.steps = expandSteps(rb, contexts)
  const budget = resolveDeadline(rb, contexts)
  if (budget !== undefined) state.deadline = {budgetMs: budget, at: new Date(Date.parse(now) + budget).toISOString(), policy: rb.onDeadline}
  if (rb.undo) {
    try {
      state.undo = String(evaluateTemplate(rb.undo, contexts))
    } catch {
      state.undo = rb.undo
    }
  }
  return {state, contexts}
}
